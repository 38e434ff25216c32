/*
 * guests/insntest/stackcases.c — the few insntest checks that cannot run
 * on the x86-64 build host (push/pop/pusha/enter/leave/call/ret change
 * their size or do not exist in 64-bit mode) or whose results are not
 * fixed (cpuid, rdtsc). Their expectations are computed here in plain C
 * from the ESP/EBP values observed around each sequence; see
 * docs/guests.md. All scratch values live in static globals so that the
 * asm can address them absolutely while ESP and EBP are moving.
 */
#include "guest.h"
#include "insntest.h"

static int *s_ncases, *s_fails;
/* Global (not static) so the asm can name them; the ss_ prefix keeps them apart. */
uint32_t ss_e0, ss_e1, ss_e2, ss_b0, ss_b1, ss_b2, ss_v0, ss_v1, ss_v2, ss_v3, ss_exp0;
uint32_t ss_frame[8];
uint32_t ss_memsrc = 0xfeedbeef, ss_memdst;

static void expect(const char *name, const char *what, uint32_t exp, uint32_t got)
{
    (*s_ncases)++;
    if (exp != got) {
        gprintf("FAIL %s: %s expected %08x got %08x\n", name, what, exp, got);
        (*s_fails)++;
    }
}

static void check_push_pop(void)
{
    __asm__ volatile("movl %%esp, ss_e0\n\tpushl $0x12345678\n\tmovl %%esp, ss_e1\n\t"
                     "popl %%eax\n\tmovl %%eax, ss_v0\n\tmovl %%esp, ss_e2"
                     : : : "eax", "memory");
    expect("push_imm32", "esp after push", ss_e0 - 4, ss_e1);
    expect("push_imm32", "popped", 0x12345678, ss_v0);
    expect("push_imm32", "esp after pop", ss_e0, ss_e2);

    __asm__ volatile("pushl $-2\n\tpopl ss_v0" : : : "memory");
    expect("push_imm8", "sign-extended", 0xfffffffe, ss_v0);

    __asm__ volatile("movl $0xabcd0123, %%ebx\n\tpushl %%ebx\n\tmovl (%%esp), %%eax\n\tmovl %%eax, ss_v0\n\t"
                     "popl %%ecx\n\tmovl %%ecx, ss_v1" : : : "eax", "ebx", "ecx", "memory");
    expect("push_reg", "stack word", 0xabcd0123, ss_v0);
    expect("pop_reg", "popped", 0xabcd0123, ss_v1);

    __asm__ volatile("pushl ss_memsrc\n\tpopl ss_memdst" : : : "memory");
    expect("push_pop_mem", "copied", ss_memsrc, ss_memdst);

    __asm__ volatile("movl %%esp, ss_e0\n\tpushw $0x1234\n\tmovl %%esp, ss_e1\n\tmovl $0xffffffff, %%eax\n\t"
                     "popw %%ax\n\tmovl %%eax, ss_v0\n\tmovl %%esp, ss_e2" : : : "eax", "memory");
    expect("pushw", "esp after push", ss_e0 - 2, ss_e1);
    expect("popw", "eax", 0xffff1234, ss_v0);
    expect("popw", "esp after pop", ss_e0, ss_e2);

    /* push %esp pushes the value from before the decrement. */
    __asm__ volatile("movl %%esp, ss_e0\n\tpushl %%esp\n\tpopl ss_v0" : : : "memory");
    expect("push_esp", "pushed", ss_e0, ss_v0);

    /* pop to an ESP-based address uses ESP after the increment. */
    __asm__ volatile("movl %%esp, ss_e0\n\tpushl $0x5555\n\tpushl $0x7777\n\tpopl (%%esp)\n\t"
                     "popl ss_v0\n\tmovl %%esp, ss_e1" : : : "memory");
    expect("pop_esp_mem", "popped", 0x7777, ss_v0);
    expect("pop_esp_mem", "esp", ss_e0, ss_e1);

    /* pushf/popf round trip of the arithmetic flags (IF stays 0). */
    __asm__ volatile("pushfl\n\tpushl $0x8d7\n\tpopfl\n\tpushfl\n\tpopl ss_v0\n\tpopfl" : : : "memory", "cc");
    expect("pushf_popf", "eflags", 0x8d7, ss_v0 & 0xfd7);
    /* DF alone, then OF alone, then nothing: each flag is set and cleared
     * on its own (POPF is not one host POPF under btvm). */
    __asm__ volatile("pushfl\n\tpushl $0x402\n\tpopfl\n\tpushfl\n\tpopl ss_v0\n\tpopfl" : : : "memory", "cc");
    expect("popf_df", "eflags", 0x402, ss_v0 & 0xfd7);
    __asm__ volatile("pushfl\n\tpushl $0x802\n\tpopfl\n\tpushfl\n\tpopl ss_v0\n\tpopfl" : : : "memory", "cc");
    expect("popf_of", "eflags", 0x802, ss_v0 & 0xfd7);
    __asm__ volatile("pushfl\n\tpushl $0xcd7\n\tpopfl\n\tpushl $0x2\n\tpopfl\n\tpushfl\n\tpopl ss_v0\n\tpopfl"
                     : : : "memory", "cc");
    expect("popf_clear", "eflags", 0x2, ss_v0 & 0xfd7);
    /* PUSHF with the flags still read after it (ADC takes CF): btvm keeps
     * them intact only then (bt/emit_vif.c). */
    uint32_t sum = 0;
    __asm__ volatile("stc\n\tpushfl\n\tadcl $0, %0\n\tpopl ss_v0" : "+r"(sum) : : "memory", "cc");
    expect("pushf_cf_live", "adc", 1, sum);
    expect("pushf_cf_live", "eflags.cf", 1, ss_v0 & 1);
}

static void check_pusha(void)
{
    __asm__ volatile("pushl %%ebp\n\tmovl $0x77777777, %%ebp\n\t"
                     "movl $0x11111111, %%eax\n\tmovl $0x22222222, %%ebx\n\tmovl $0x33333333, %%ecx\n\t"
                     "movl $0x44444444, %%edx\n\tmovl $0x55555555, %%esi\n\tmovl $0x66666666, %%edi\n\t"
                     "movl %%esp, ss_e0\n\tpushal\n\t"
                     "movl %%esp, %%esi\n\tmovl $ss_frame, %%edi\n\tmovl $8, %%ecx\n\tcld\n\trep movsl\n\t"
                     "xorl %%eax, %%eax\n\txorl %%ebx, %%ebx\n\txorl %%edx, %%edx\n\txorl %%ebp, %%ebp\n\t"
                     "movl $0xdead, 12(%%esp)\n\t"           /* popa must skip the saved ESP */
                     "popal\n\tmovl %%esp, ss_e1\n\t"
                     "movl %%eax, ss_v0\n\tmovl %%ebx, ss_v1\n\tmovl %%edi, ss_v2\n\tmovl %%ebp, ss_v3\n\t"
                     "popl %%ebp"
                     : : : "eax", "ebx", "ecx", "edx", "esi", "edi", "memory");
    static const uint32_t want[8] = { 0x66666666, 0x55555555, 0x77777777, 0, 0x22222222,
                                      0x44444444, 0x33333333, 0x11111111 };
    for (int i = 0; i < 8; i++)
        expect("pushal", "ss_frame word", i == 3 ? ss_e0 : want[i], ss_frame[i]);
    expect("popal", "esp", ss_e0, ss_e1);
    expect("popal", "eax", 0x11111111, ss_v0);
    expect("popal", "ebx", 0x22222222, ss_v1);
    expect("popal", "edi", 0x66666666, ss_v2);
    expect("popal", "ebp", 0x77777777, ss_v3);
}

static void check_enter_leave(void)
{
    __asm__ volatile("movl %%esp, ss_e0\n\tmovl %%ebp, ss_b0\n\tenter $16, $0\n\t"
                     "movl %%esp, ss_e1\n\tmovl %%ebp, ss_b1\n\tmovl (%%ebp), %%eax\n\tmovl %%eax, ss_v0\n\t"
                     "leave\n\tmovl %%esp, ss_e2\n\tmovl %%ebp, ss_b2" : : : "eax", "memory");
    expect("enter_16_0", "ebp", ss_e0 - 4, ss_b1);
    expect("enter_16_0", "esp", ss_e0 - 4 - 16, ss_e1);
    expect("enter_16_0", "saved ebp", ss_b0, ss_v0);
    expect("leave", "esp", ss_e0, ss_e2);
    expect("leave", "ebp", ss_b0, ss_b2);

    __asm__ volatile("movl %%esp, ss_e0\n\tmovl %%ebp, ss_b0\n\tenter $8, $1\n\t"
                     "movl %%esp, ss_e1\n\tmovl %%ebp, ss_b1\n\tmovl -4(%%ebp), %%eax\n\tmovl %%eax, ss_v0\n\t"
                     "leave\n\tmovl %%esp, ss_e2\n\tmovl %%ebp, ss_b2" : : : "eax", "memory");
    expect("enter_8_1", "ebp", ss_e0 - 4, ss_b1);
    expect("enter_8_1", "esp", ss_e0 - 4 - 4 - 8, ss_e1);
    expect("enter_8_1", "ss_frame pointer copy", ss_e0 - 4, ss_v0);
    expect("enter_8_1/leave", "esp", ss_e0, ss_e2);
    expect("enter_8_1/leave", "ebp", ss_b0, ss_b2);
}

static void check_call_ret(void)
{
    __asm__ volatile("movl %%esp, ss_e0\n\tmovl $3f, ss_exp0\n\tcall 1f\n3:\n\tjmp 2f\n"
                     "1:\n\tmovl (%%esp), %%eax\n\tmovl %%eax, ss_v0\n\tmovl %%esp, ss_e1\n\tret\n"
                     "2:\n\tmovl %%esp, ss_e2" : : : "eax", "memory");
    expect("call_rel32", "return address", ss_exp0, ss_v0);
    expect("call_rel32", "esp in callee", ss_e0 - 4, ss_e1);
    expect("ret", "esp after", ss_e0, ss_e2);

    __asm__ volatile("movl %%esp, ss_e0\n\tpushl $0xaaaa\n\tpushl $0xbbbb\n\tcall 1f\n\tjmp 2f\n"
                     "1:\n\tret $8\n"
                     "2:\n\tmovl %%esp, ss_e1" : : : "memory");
    expect("ret_imm16", "esp after", ss_e0, ss_e1);

    __asm__ volatile("movl $0, ss_v0\n\tmovl $1f, %%eax\n\tcall *%%eax\n\tjmp 2f\n"
                     "1:\n\tmovl $0x1111, ss_v0\n\tret\n2:" : : : "eax", "memory");
    expect("call_reg", "callee ran", 0x1111, ss_v0);

    __asm__ volatile("movl $0, ss_v0\n\tmovl $1f, ss_v1\n\tcall *ss_v1\n\tjmp 2f\n"
                     "1:\n\tmovl $0x2222, ss_v0\n\tret\n2:" : : : "memory");
    expect("call_mem", "callee ran", 0x2222, ss_v0);

    __asm__ volatile("movl $0, ss_v0\n\tmovl $1f, %%eax\n\tjmp *%%eax\n\tmovl $0xbad, ss_v0\n"
                     "1:\n\taddl $0x3333, ss_v0" : : : "eax", "memory");
    expect("jmp_reg", "target ran", 0x3333, ss_v0);
}

static void check_cpuid_rdtsc(void)
{
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
    (*s_ncases)++;
    if (a < 1) {
        gprintf("FAIL cpuid_0: max leaf %u < 1\n", a);
        (*s_fails)++;
    }

    uint32_t lo1, hi1, lo2, hi2;
    __asm__ volatile("rdtsc" : "=a"(lo1), "=d"(hi1));
    for (volatile int i = 0; i < 1000; i++)
        ;
    __asm__ volatile("rdtsc" : "=a"(lo2), "=d"(hi2));
    uint64_t t1 = (uint64_t)hi1 << 32 | lo1, t2 = (uint64_t)hi2 << 32 | lo2;
    (*s_ncases)++;
    if (t2 <= t1) {
        gprintf("FAIL rdtsc: not increasing: %08x%08x then %08x%08x\n", hi1, lo1, hi2, lo2);
        (*s_fails)++;
    }
}

/* Found by difftest: a block's flag liveness looked ahead into its jump
 * target on another page; once that code was rewritten to read the flags,
 * the old block still dropped their save. Each caller runs twice: first
 * into code that overwrites the flags, then into code that reads CF. */
uint8_t ss_code[4096] __attribute__((aligned(4096)));

static void __attribute__((noinline)) ss_call_stc(void)
{
    __asm__ volatile("xorl %%eax, %%eax\n\tstc\n\tcall ss_code\n\tmovl %%eax, ss_v0" : : : "eax", "memory", "cc");
}

static void __attribute__((noinline)) ss_call_clc(void)
{
    __asm__ volatile("movl $7, %%eax\n\tclc\n\tcall ss_code\n\tmovl %%eax, ss_v1" : : : "eax", "memory", "cc");
}

static void check_rewritten_successor(void)
{
    static const uint8_t kill[] = { 0x31, 0xc0, 0xc3 };                         /* xor eax,eax; ret */
    static const uint8_t read[] = { 0x0f, 0x92, 0xc0, 0x0f, 0xb6, 0xc0, 0xc3 }; /* setc al; movzx eax,al; ret */
    memcpy(ss_code, kill, sizeof kill);
    ss_call_stc();
    ss_call_clc();
    memcpy(ss_code, read, sizeof read);
    ss_call_stc();
    ss_call_clc();
    expect("flags_into_rewritten_code", "CF after stc", 1, ss_v0);
    expect("flags_into_rewritten_code", "CF after clc", 0, ss_v1);
}

/* Found by difftest: LAR's 32-bit result holds bits 19:16 of the segment
 * limit (Intel's mask 00FxFF00h; AMD documents 00FFFF00h; the build host
 * returns 00CFF300h for Linux's flat DPL-3 data segment). Multiboot leaves
 * no usable GDT, so the check loads its own for the two instructions. */
uint64_t ss_gdt[4] __attribute__((aligned(8))) = {
    0, 0, 0x00cf93000000ffffull, /* 0x10: flat data, 4 GiB */
    0x0041930000002345ull,       /* 0x18: data, byte-granular limit 0x12345 */
};
struct { uint16_t limit; uint32_t base; } __attribute__((packed)) ss_gdtr_old, ss_gdtr_new;

/* QEMU TCG masks LAR with 00F0FF00h: there the limit bits are not checked.
 * QEMU is known by its brand string: "QEMU Virtual CPU" (qemu32), or the
 * Core 2 Duo model tests/guest/insntest.sh runs it as (-cpu core2duo). */
static int on_qemu(void)
{
    uint32_t r[12];
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(0x80000000u), "c"(0));
    if (r[0] < 0x80000004u)
        return 0;
    for (uint32_t i = 0; i < 3; i++)
        __asm__ volatile("cpuid" : "=a"(r[4 * i]), "=b"(r[4 * i + 1]), "=c"(r[4 * i + 2]), "=d"(r[4 * i + 3])
                         : "a"(0x80000002u + i), "c"(0));
    const char *b = (const char *)r;
    if (b[0] == 'Q' && b[1] == 'E' && b[2] == 'M' && b[3] == 'U')
        return 1;
    for (int i = 0; i + 13 <= 48; i++)
        if (!__builtin_memcmp(b + i, "Core(TM)2 Duo", 13))
            return 1;
    return 0;
}

extern int ist_lar_masked;

static void check_lar_limit_bits(void)
{
    uint32_t m = on_qemu() || ist_lar_masked ? 0xfff0ffffu : 0xffffffffu;
    ss_gdtr_new.limit = sizeof ss_gdt - 1;
    ss_gdtr_new.base = (uint32_t)(uintptr_t)ss_gdt;
    __asm__ volatile("sgdt ss_gdtr_old\n\tlgdt ss_gdtr_new\n\t"
                     "movl $0x10, %%eax\n\tlarl %%eax, %%ecx\n\tmovl %%ecx, ss_v0\n\tlsll %%eax, %%ecx\n\tmovl %%ecx, ss_v1\n\t"
                     "movl $0x18, %%eax\n\tlarl %%eax, %%ecx\n\tmovl %%ecx, ss_v2\n\tlsll %%eax, %%ecx\n\tmovl %%ecx, ss_v3\n\t"
                     "lgdt ss_gdtr_old" : : : "eax", "ecx", "memory", "cc");
    expect("lar_limit_bits", "LAR flat", 0x00cf9300 & m, ss_v0 & m);
    expect("lar_limit_bits", "LSL flat", 0xffffffff, ss_v1);
    expect("lar_limit_bits", "LAR 0x12345", 0x00419300 & m, ss_v2 & m);
    expect("lar_limit_bits", "LSL 0x12345", 0x12345, ss_v3);
}

/* Found by difftest: a #DE that the host raises (DIV overflowing in
 * translated code) with the guest's DF set left DF set in btvm's own C code, which then ran
 * memset backwards (a decoder assertion when the handler was translated).
 * Vector 0 gets a temporary IDT, and a GDT holding the code segment the
 * gate names (Multiboot leaves none); the handler notes the pushed EFLAGS. */
uint64_t ss_idt[1] __attribute__((aligned(8))), ss_gdt2[8] __attribute__((aligned(8)));
struct { uint16_t limit; uint32_t base; } __attribute__((packed)) ss_idtr_old, ss_idtr_new, ss_gdtr2;
void ss_de_handler(void);
__asm__(".text\n\t.globl ss_de_handler\nss_de_handler:\n\t"
        "movl 8(%esp), %eax\n\tmovl %eax, ss_v0\n\tincl ss_v1\n\tmovl $ss_de_resume, (%esp)\n\tiret\n");

static void check_de_with_df(void)
{
    uint32_t cs, h = (uint32_t)(uintptr_t)ss_de_handler;
    __asm__ volatile("movl %%cs, %0" : "=r"(cs));
    ss_idt[0] = (h & 0xffff) | (uint64_t)(cs & 0xffff) << 16 | (uint64_t)0x8e << 40 | (uint64_t)(h >> 16) << 48;
    ss_gdt2[(cs >> 3) & 7] = 0x00cf9b000000ffffull; /* flat 32-bit code, DPL 0 */
    ss_gdtr2.limit = sizeof ss_gdt2 - 1;
    ss_gdtr2.base = (uint32_t)(uintptr_t)ss_gdt2;
    ss_idtr_new.limit = sizeof ss_idt - 1;
    ss_idtr_new.base = (uint32_t)(uintptr_t)ss_idt;
    ss_v0 = 0;
    ss_v1 = 0;
    __asm__ volatile("sgdt ss_gdtr_old\n\tlgdt ss_gdtr2\n\tsidt ss_idtr_old\n\tlidt ss_idtr_new\n\t"
                     "pushl $0xcd7\n\tpopfl\n\tmovl $0x1234, %%eax\n\tmovl $5, %%edx\n\tmovl $1, %%ecx\n\tdivl %%ecx\n"
                     "ss_de_resume:\n\tcld\n\tlidt ss_idtr_old\n\tlgdt ss_gdtr_old"
                     : : : "eax", "ecx", "edx", "memory", "cc");
    expect("de_with_df", "#DE taken", 1, ss_v1);
    expect("de_with_df", "DF in the pushed EFLAGS", 0x400, ss_v0 & 0x400);
    /* The pushed EFLAGS are those before the DIV (SDM: a fault leaves the
     * state as before the instruction); btvm's inline zero test had
     * overwritten them when they looked dead. */
    expect("de_with_df", "OF SF ZF AF PF CF in the pushed EFLAGS", 0x8d5, ss_v0 & 0x8d5);
}

/* Found by difftest: MOVAPS from a misaligned address faults on the host
 * too (#GP), which btvm did not map back: the host SIGSEGV killed btvm.
 * Across a page boundary btvm's bounce buffer made the access aligned and
 * it did not fault at all. The guest must see #GP(0) at the MOVAPS. */
uint64_t ss_idt13[14] __attribute__((aligned(8)));
uint8_t ss_page[8192] __attribute__((aligned(4096)));
uint32_t ss_resume_at;
void ss_gp_handler(void);
__asm__(".text\n\t.globl ss_gp_handler\nss_gp_handler:\n\t"
        "popl ss_v2\n\tmovl (%esp), %eax\n\tmovl %eax, ss_v3\n\tincl ss_v1\n\t"
        "movl ss_resume_at, %eax\n\tmovl %eax, (%esp)\n\tiret\n");
extern uint8_t ss_gp_at[], ss_gp_resume[];

static void movaps_at(const char *what, uint32_t addr)
{
    ss_v1 = 0;
    ss_v2 = 0xffff;
    ss_v3 = 0;
    ss_resume_at = (uint32_t)(uintptr_t)ss_gp_resume;
    /* xmm1 is not named as clobbered: the guest is built without SSE. */
    __asm__ volatile("sgdt ss_gdtr_old\n\tlgdt ss_gdtr2\n\tsidt ss_idtr_old\n\tlidt ss_idtr_new\n\t"
                     ".globl ss_gp_at\nss_gp_at:\n\tmovaps (%0), %%xmm1\n"
                     ".globl ss_gp_resume\nss_gp_resume:\n\tlidt ss_idtr_old\n\tlgdt ss_gdtr_old"
                     : : "r"(addr) : "eax", "memory", "cc");
    expect(what, "#GP taken", 1, ss_v1);
    expect(what, "error code", 0, ss_v2);
    expect(what, "EIP of the MOVAPS", (uint32_t)(uintptr_t)ss_gp_at, ss_v3);
}

static void check_movaps_misaligned(void)
{
    uint32_t cs, h = (uint32_t)(uintptr_t)ss_gp_handler;
    __asm__ volatile("movl %%cs, %0" : "=r"(cs));
    ss_idt13[13] = (h & 0xffff) | (uint64_t)(cs & 0xffff) << 16 | (uint64_t)0x8e << 40 | (uint64_t)(h >> 16) << 48;
    ss_gdt2[(cs >> 3) & 7] = 0x00cf9b000000ffffull;
    ss_gdtr2.limit = sizeof ss_gdt2 - 1;
    ss_gdtr2.base = (uint32_t)(uintptr_t)ss_gdt2;
    ss_idtr_new.limit = sizeof ss_idt13 - 1;
    ss_idtr_new.base = (uint32_t)(uintptr_t)ss_idt13;
    movaps_at("movaps_misaligned", (uint32_t)(uintptr_t)ss_page + 17);
    movaps_at("movaps_across_pages", (uint32_t)(uintptr_t)ss_page + 4096 - 7);
}

void ist_guest_only_checks(int *ncases, int *fails)
{
    s_ncases = ncases;
    s_fails = fails;
    check_push_pop();
    check_pusha();
    check_enter_leave();
    check_call_ret();
    check_cpuid_rdtsc();
    check_rewritten_successor();
    check_lar_limit_bits();
    check_de_with_df();
    check_movaps_misaligned();
}
