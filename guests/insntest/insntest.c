/*
 * guests/insntest/insntest.c — the i686 guest that runs every case of
 * cases.h (same asm text as the host generator) and compares registers,
 * defined EFLAGS and the scratch buffer with build/guests/insntest_expected.h,
 * then runs the guest-only stack checks (stackcases.c) and cpuid/rdtsc.
 * Prints one line per difference and "insntest: N cases, F failures";
 * exits with F through debug-exit.
 */
#include "guest.h"
#include "runner.h"
#include "insntest.h"
#include "insntest_expected.h"

struct ist_state ist_in, ist_out;
uint8_t ist_buf[IST_BUF_SIZE] __attribute__((aligned(16)));

#define CASE(name, text, ...) IST_DEFINE_RUNNER(name, text)
#include "cases.h"
#undef CASE

static const struct ist_case cases[] = {
#define CASE IST_CASE_ENTRY
#include "cases.h"
#undef CASE
};

_Static_assert(sizeof(cases) / sizeof(cases[0]) == IST_EXPECTED_COUNT,
               "insntest_expected.h is stale: rebuild it from cases.h");

#define CPUID1_FPU  (1u << 0)
#define CPUID1_CMOV (1u << 15)
#define CPUID1_MMX  (1u << 23)
#define CPUID1_FXSR (1u << 24)
#define CPUID1_SSE  (1u << 25)
#define CPUID1_SSE2 (1u << 26)

static uint32_t have;          /* N_* bits this CPU supports */

static void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

/* The loader leaves CR0/CR4 as reset left them: x87 usable only after
 * fninit, SSE only once CR4.OSFXSR is set. */
static void setup_fpu_sse(void)
{
    uint32_t a, b, c, d, cr0, cr4;
    cpuid(1, &a, &b, &c, &d);
    __asm__ volatile("movl %%cr0, %0" : "=r"(cr0));
    cr0 &= ~((1u << 2) | (1u << 3));       /* EM, TS off */
    cr0 |= (1u << 1) | (1u << 5);          /* MP, NE on */
    __asm__ volatile("movl %0, %%cr0" : : "r"(cr0));
    if (d & CPUID1_FPU) {
        __asm__ volatile("fninit");
        have |= N_FPU;
    }
    if (d & CPUID1_CMOV)
        have |= N_CMOV;
    if (d & CPUID1_MMX)
        have |= N_MMX;
    if ((d & CPUID1_FXSR) && (d & CPUID1_SSE)) {
        __asm__ volatile("movl %%cr4, %0" : "=r"(cr4));
        cr4 |= (1u << 9) | (1u << 10);     /* OSFXSR, OSXMMEXCPT */
        __asm__ volatile("movl %0, %%cr4" : : "r"(cr4));
        have |= N_SSE;
        if (d & CPUID1_SSE2)
            have |= N_SSE2;
    }
}

static void flag_names(uint32_t f, char *out)
{
    static const struct { uint32_t bit; char c; } fl[] = {
        { F_OF, 'O' }, { F_DF, 'D' }, { F_SF, 'S' }, { F_ZF, 'Z' },
        { F_AF, 'A' }, { F_PF, 'P' }, { F_CF, 'C' },
    };
    for (unsigned i = 0; i < sizeof(fl) / sizeof(fl[0]); i++)
        *out++ = (f & fl[i].bit) ? fl[i].c : '-';
    *out = 0;
}

/* Returns 1 when the case failed, after printing every difference. */
static int check_case(const struct ist_case *c, const struct ist_expect *e, const struct ist_result *r)
{
    int bad = 0;
    uint32_t expmem[IST_BUF_WORDS];

    for (int i = 0; i < IST_NREGS; i++) {
        if (r->r[i] != e->r[i]) {
            gprintf("FAIL %s: %s expected %08x got %08x\n", c->name, ist_reg_names[i], e->r[i], r->r[i]);
            bad = 1;
        }
    }
    if ((r->flags ^ e->flags) & c->mask) {
        char ef[8], gf[8], mf[8];
        flag_names(e->flags & c->mask, ef);
        flag_names(r->flags & c->mask, gf);
        flag_names(c->mask, mf);
        gprintf("FAIL %s: eflags expected %03x (%s) got %03x (%s), compared %s\n", c->name,
                e->flags & c->mask, ef, r->flags & c->mask, gf, mf);
        bad = 1;
    }
    for (unsigned w = 0; w < IST_BUF_WORDS; w++)
        expmem[w] = ist_pattern_word(w);
    for (unsigned k = 0; k < e->mem_count; k++)
        expmem[ist_mem_expected[e->mem_first + k].word] = ist_mem_expected[e->mem_first + k].val;
    for (unsigned w = 0; w < IST_BUF_WORDS; w++) {
        if (r->mem[w] != expmem[w]) {
            int off = (int)(4 * w) - IST_M_OFF;
            gprintf("FAIL %s: mem[M%c%d] expected %08x got %08x\n", c->name, off < 0 ? '-' : '+',
                    off < 0 ? -off : off, expmem[w], r->mem[w]);
            bad = 1;
        }
    }
    return bad;
}

/* "lar-masked" on the command line: the CPU below masks LAR's limit bits
 * 19:16 (QEMU TCG, also under KVM nested on it; tests/hav/nested.sh). */
int ist_lar_masked;

int guest_main(uint32_t magic, uint32_t mbi)
{
    ist_lar_masked = cmdline_has(magic, mbi, "lar-masked");
    int ncases = 0, fails = 0, skipped = 0;
    struct ist_result r;

    if (magic != MULTIBOOT_BOOTLOADER_MAGIC)
        gprintf("insntest: warning: multiboot magic %08x\n", magic);
    setup_fpu_sse();

    for (unsigned i = 0; i < IST_EXPECTED_COUNT; i++) {
        const struct ist_case *c = &cases[i];
        if ((c->needs & have) != c->needs) {
            skipped++;
            continue;
        }
        ist_exec(c, &r);
        ncases++;
        fails += check_case(c, &ist_expected[i], &r);
    }
    int table_run = ncases;
    ist_guest_only_checks(&ncases, &fails);
    ist_smc_checks(&ncases, &fails);

    /* tests/guest/insntest.sh checks these counts against the host's
     * table size and QEMU's run: a skip must be the CPU model's, not a bug. */
    gprintf("insntest: table %u, run %d, skipped %d (lacking:%s%s%s%s%s)\n", IST_EXPECTED_COUNT,
            table_run, skipped, have & N_FPU ? "" : " fpu", have & N_CMOV ? "" : " cmov",
            have & N_MMX ? "" : " mmx", have & N_SSE ? "" : " sse", have & N_SSE2 ? "" : " sse2");
    gprintf("insntest: %d cases, %d failures\n", ncases, fails);
    return fails;
}
