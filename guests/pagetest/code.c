/*
 * guests/pagetest/code.c — code-page coherence through paging: smc
 * (rewrite instructions in a page that already ran, through the same
 * linear address, then run them; also an instruction that patches the
 * very next one) and xmc (write through a second linear alias of the
 * frame, or through the identity map, execute through the first). The
 * SDM (vol. 3 8.1.3, 11.6) ties the check to the physical address, so a
 * jump to the modified code must see it, whichever alias wrote it.
 */
#include "pagetest.h"

typedef uint32_t (*fn_t)(void);

static void put_mov_ret(uint32_t at, uint32_t imm)
{
    volatile uint8_t *p = (volatile uint8_t *)(uintptr_t)at;
    p[0] = 0xb8;                         /* mov $imm, %eax */
    p[1] = (uint8_t)imm;
    p[2] = (uint8_t)(imm >> 8);
    p[3] = (uint8_t)(imm >> 16);
    p[4] = (uint8_t)(imm >> 24);
    p[5] = 0xc3;                         /* ret */
}

static uint32_t call_at(uint32_t va)
{
    return ((fn_t)(uintptr_t)va)();
}

void test_smc(void)
{
    uint32_t c = va_alloc(1), f = frame_alloc();
    begin("smc");
    map(kpd, c, f, PG_P | PG_W);
    put_mov_ret(c + 0x100, 0x11111111);
    expect("first run", 0x11111111, call_at(c + 0x100));
    for (uint32_t k = 0; k < 64; k++) {
        uint32_t want = 0x01010101u * k + 7;
        *(volatile uint32_t *)(uintptr_t)(c + 0x101) = want;   /* the imm32 only */
        uint32_t got = call_at(c + 0x100);
        if (got != want) {
            fail("patched imm32, round %u: got %x want %x", k, got, want);
            break;
        }
    }
    /* Replace the opcode: xor %eax,%eax; inc %eax; ret. */
    volatile uint8_t *p = (volatile uint8_t *)(uintptr_t)(c + 0x100);
    p[0] = 0x31, p[1] = 0xc0, p[2] = 0x40, p[3] = 0xc3;
    expect("new opcodes", 1, call_at(c + 0x100));
    /* movb $0x5a, (imm byte of the next mov); mov $0, %eax; ret — the store
     * hits an instruction already fetched behind it (handled since P6). */
    uint32_t at = c + 0x200;
    p = (volatile uint8_t *)(uintptr_t)at;
    p[0] = 0xc6, p[1] = 0x05;
    poke(at + 2, at + 8);
    p[6] = 0x5a;
    put_mov_ret(at + 7, 0);
    expect("store into the next instruction", 0x5a, call_at(at));
    expect("store into the next instruction, second run", 0x5a, call_at(at));
    p[6] = 0x3c;
    expect("patcher patched", 0x3c, call_at(at));
    end();
}

void test_xmc(void)
{
    uint32_t x = va_alloc(1), w = va_alloc(1), f = frame_alloc();
    begin("xmc");
    map(kpd, x, f, PG_P);                /* executed here (read-only) */
    map(kpd, w, f, PG_P | PG_W);         /* written here */
    put_mov_ret(w + 0x40, 0x22222222);
    expect("first run", 0x22222222, call_at(x + 0x40));
    for (uint32_t k = 0; k < 64; k++) {
        uint32_t want = 0x00100001u * k + 3;
        poke((k & 1 ? w : f) + 0x41, want);   /* alternate: alias and identity map */
        uint32_t got = call_at(x + 0x40);
        if (got != want) {
            fail("round %u (written via %s): got %x want %x", k, k & 1 ? "alias" : "identity",
                 got, want);
            break;
        }
    }
    put_mov_ret(w + 0x80, 0x33333333);
    expect("new code at a new offset", 0x33333333, call_at(x + 0x80));
    end();
}

/* A fault in ordinary code right after code that ran translated shared
 * (user code at or above 0x40000000 is, docs/translation.md §8b) must
 * report its own EIP, not one offset by the shared code's page. */
static volatile uint32_t s_fn, s_eax;

static void __attribute__((noinline, used)) u_shared_de(void)
{
    uint32_t eax = ((fn_t)(uintptr_t)s_fn)(), edx = 1;
    /* A quotient that does not fit (2^32 + eax over 1): #DE from the host's
     * own DIV (a zero divisor is tested inline), resumed after it. */
    __asm__ volatile(ARM "1:\tdivl %2\n2:" : "+a"(eax), "+d"(edx) : "r"(1u) : "memory");
    s_eax = eax;
    __asm__ volatile(USER_EXIT : : : "eax", "memory");
    for (;;)
        ;
}

void test_shared_fault(void)
{
    uint32_t c = va_alloc(1), f = frame_alloc();
    begin("shared_fault");
    map(kpd, c, f, PG_P | PG_W | PG_U);
    put_mov_ret(c + 0x100, 0x51515151);
    s_fn = c + 0x100;
    for (uint32_t k = 0; k < 4; k++) {
        uint32_t n0 = last.count;
        s_eax = 0;
        run_user(u_shared_de);
        if (s_eax != 0x51515151 || last.count != n0 + 1 || last.vec != 0 || last.eip != t_fip) {
            fail("round %u: returned %x, %u traps, vector %u at %x, expected #DE at %x", k, s_eax,
                 last.count - n0, last.vec, last.eip, t_fip);
            break;
        }
    }
    end();
}
