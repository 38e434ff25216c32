/*
 * guests/pagetest/modes.c — large pages and PAE: pse (CR4.PSE, a 4 MiB
 * PDE: data through it agrees with 4 KiB aliases of the same frame, A/D
 * land in the PDE, an INVLPG anywhere in the page drops it), pae (PDPT +
 * 64-bit directory and table, CR4.PAE: a 4 KiB and a 2 MiB mapping, A/D
 * in 64-bit entries) and nx (EFER.NXE: a fetch from a page or a 2 MiB page
 * with XD set faults with I/D in the error code; reading it is fine).
 * CPUID decides what runs; a missing feature prints "skipped".
 */
#include "pagetest.h"

#define EFER     0xc0000080u
#define EFER_NXE (1ull << 11)
#define PAE_XD   (1ull << 63)

void test_pse(void)
{
    uint32_t r[4], n0;
    cpuid(1, r);
    if (!(r[3] & (1u << 3))) {
        skip("pse", "no PSE");
        return;
    }
    begin("pse");
    set_cr4(get_cr4() | CR4_PSE);
    uint32_t big = va_alloc_pde(), a = va_alloc(1), e = va_alloc(1);
    uint32_t *pde = &kpd[big >> 22];
    *pde = BIG4M_PHYS | PG_P | PG_W | PG_PS;     /* was not present: no INVLPG needed */
    map(kpd, a, BIG4M_PHYS + 0x123000, PG_P | PG_W);
    map(kpd, e, BIG4M_PHYS + 0x3ff000, PG_P | PG_W);
    poke(a + 8, 0x4d4d0001);
    expect("4 MiB page reads what the 4 KiB alias wrote", 0x4d4d0001, peek(big + 0x123008));
    expect("PDE.A after a read", PG_A, *pde & PG_A);
    expect("PDE.D after a read", 0, *pde & PG_D);
    poke(big + 0x123010, 0x4d4d0002);
    expect("4 KiB alias reads what the 4 MiB page wrote", 0x4d4d0002, peek(a + 0x10));
    expect("PDE.D after a write", PG_D, *pde & PG_D);
    poke(big + 0x3ffffc, 0x4d4d0003);
    expect("last word of the 4 MiB page", 0x4d4d0003, peek(e + 0xffc));

    *pde &= ~PG_W;
    invlpg(big + 0x1000);                /* any address inside drops the whole page */
    n0 = last.count;
    k_write(big + 0x200000, 0xbad);
    expect_pf("write after clearing W in the 4 MiB PDE", n0, PF_P | PF_W, big + 0x200000, t_fip);
    *pde = 0;
    invlpg(big);
    n0 = last.count;
    k_read(big + 0x300004, 0);
    expect_pf("read after clearing the 4 MiB PDE", n0, 0, big + 0x300004, t_fip);
    set_cr4(get_cr4() & ~CR4_PSE);
    end();
}

/* mov $imm, %eax; jmp *t_resume — for code that must come back whether or
 * not its fetch faults (no ret: a wrong "no fault" must not unwind C). */
static void put_mov_jmp(uint32_t at, uint32_t imm)
{
    volatile uint8_t *p = (volatile uint8_t *)(uintptr_t)at;
    p[0] = 0xb8;
    *(volatile uint32_t *)(p + 1) = imm;
    p[5] = 0xff, p[6] = 0x25;           /* jmp *abs32 */
    *(volatile uint32_t *)(p + 7) = (uint32_t)(uintptr_t)&t_resume;
}

/* Jumps to va; returns EAX at the way back (poison if the fetch faulted). */
static uint32_t jump_to(uint32_t va)
{
    uint32_t v = 0xdead;
    __asm__ volatile("movl $2f, t_resume\n\tjmp *%1\n2:" : "+a"(v) : "c"(va) : "memory");
    t_resume = 0;
    return v;
}

static void test_nx(uint64_t *pt, uint64_t *pd1, uint32_t base)
{
    uint32_t r[4], n0, f = frame_alloc();
    cpuid(0x80000000, r);
    uint32_t max = r[0];
    cpuid(0x80000001, r);
    if (max < 0x80000001 || !(r[3] & (1u << 20))) {
        skip("nx", "no NX");
        return;
    }
    begin("nx");
    wrmsr(EFER, rdmsr(EFER) | EFER_NXE);
    put_mov_jmp(f, 0x4e580001);
    put_mov_jmp(BIG2M_PHYS + 0x40, 0x4e580002);
    pt[1] = f | PG_P | PG_W;
    pt[2] = f | PG_P | PG_W | PAE_XD;
    expect("fetch from a page without XD", 0x4e580001, jump_to(base + 0x1000));
    n0 = last.count;
    expect("fetch from an XD page", 0xdead, jump_to(base + 0x2000));
    expect_pf("fetch from an XD page", n0, PF_P | PF_ID, base + 0x2000, base + 0x2000);
    expect("reading an XD page", 0x580001b8, peek(base + 0x2000));
    n0 = last.count;
    expect("fetch from the 2 MiB page without XD", 0x4e580002, jump_to(base + 0x200040));
    expect_no_trap("fetch from the 2 MiB page without XD", n0);
    pd1[1] |= PAE_XD;
    invlpg(base + 0x200040);
    n0 = last.count;
    jump_to(base + 0x200040);
    expect_pf("fetch from a 2 MiB page with XD", n0, PF_P | PF_ID, base + 0x200040, base + 0x200040);
    pd1[1] &= ~PAE_XD;
    pt[2] = 0;
    invlpg(base + 0x200000);
    invlpg(base + 0x2000);
    wrmsr(EFER, rdmsr(EFER) & ~EFER_NXE);
    end();
}

void test_pae(void)
{
    uint32_t r[4], n0;
    cpuid(1, r);
    if (!(r[3] & (1u << 6))) {
        skip("pae", "no PAE");
        skip("nx", "no PAE");
        return;
    }
    begin("pae");
    uint64_t *pdpt = (uint64_t *)(uintptr_t)frame_alloc(), *pd0 = (uint64_t *)(uintptr_t)frame_alloc();
    uint64_t *pd1 = (uint64_t *)(uintptr_t)frame_alloc(), *pt = (uint64_t *)(uintptr_t)frame_alloc();
    uint32_t base = 0x40000000u, f = frame_alloc();
    for (uint32_t i = 0; i < MEM_NEEDED >> 21; i++)    /* identity, 2 MiB pages */
        pd0[i] = (uint64_t)i << 21 | PG_P | PG_W | PG_U | PG_PS;
    pdpt[0] = (uint32_t)(uintptr_t)pd0 | PG_P;        /* PDPTEs: no R/W, U/S (reserved) */
    pdpt[1] = (uint32_t)(uintptr_t)pd1 | PG_P;
    pd1[0] = (uint32_t)(uintptr_t)pt | PG_P | PG_W | PG_U;
    pd1[1] = BIG2M_PHYS | PG_P | PG_W | PG_PS;
    pt[0] = f | PG_P | PG_W;
    poke(f + 8, 0xbae00001);

    uint32_t cr0 = get_cr0(), cr4 = get_cr4();
    set_cr0(cr0 & ~CR0_PG);
    set_cr4(cr4 | CR4_PAE);
    set_cr3((uint32_t)(uintptr_t)pdpt);
    set_cr0(cr0);

    expect("CR4.PAE", CR4_PAE, get_cr4() & CR4_PAE);
    expect("4 KiB page", 0xbae00001, peek(base + 8));
    expect("PTE.A (64-bit entry)", PG_A, (uint32_t)pt[0] & PG_A);
    expect("PTE.D after a read", 0, (uint32_t)pt[0] & PG_D);
    poke(base + 12, 0xbae00002);
    expect("4 KiB page write lands in its frame", 0xbae00002, peek(f + 12));
    expect("PTE.D after a write", PG_D, (uint32_t)pt[0] & PG_D);
    expect("PTE high half untouched", 0, (uint32_t)(pt[0] >> 32));
    poke(base + 0x200000 + 0x12344, 0xbae00003);
    expect("2 MiB page write lands in its frame", 0xbae00003, peek(BIG2M_PHYS + 0x12344));
    poke(BIG2M_PHYS + 0x1ffffc, 0xbae00004);
    expect("last word of the 2 MiB page", 0xbae00004, peek(base + 0x3ffffc));
    expect("2 MiB PDE.A|D", PG_A | PG_D, (uint32_t)pd1[1] & (PG_A | PG_D));
    n0 = last.count;
    k_read(base + 0x5000, 0);
    expect_pf("not-present PAE PTE", n0, 0, base + 0x5000, t_fip);
    n0 = last.count;
    k_read(0x80000010u, 0);
    expect_pf("not-present PDPTE", n0, 0, 0x80000010u, t_fip);
    end();

    test_nx(pt, pd1, base);

    set_cr0(cr0 & ~CR0_PG);
    set_cr4(cr4);
    set_cr3((uint32_t)(uintptr_t)kpd);
    set_cr0(cr0);
}
