/*
 * tests/unit/test_vif.c — CLI, STI and POPF translated inline
 * (bt/emit_vif.c) at CPL 1, 2 and 3 for every IOPL, through the real
 * engine (tests/unit/bt_harness.h): CPL > IOPL makes CLI/STI raise #GP(0)
 * at the instruction; otherwise they change IF without a callout. POPF
 * never changes IOPL above CPL 0 and changes IF only when CPL <= IOPL.
 *
 * The guest runs at the CPL set by hand; the test ends with HLT, which at
 * CPL > 0 raises #GP(0) too: the CPL-0 handler (reached through a 32-bit
 * TSS) halts, and the exception frame says which instruction faulted and
 * what EFLAGS was.
 */
#include <check.h>
#include <stdlib.h>

#include "tests/unit/bt_harness.h"

#define TSS    0x3000u
#define ESP0   0x90000u
#define HANDLR (BTH_CODE + 0x200u)
/* The #GP frame from CPL > 0: error, EIP, CS, EFLAGS, ESP, SS. */
#define F_ERR  (ESP0 - 24)
#define F_EIP  (ESP0 - 20)
#define F_FL   (ESP0 - 12)

static struct bth H;

static void setup(void)
{
    bth_init(&H, 0);
    bth_outer_ring(&H, TSS, ESP0, HANDLR);
    /* Count callouts per mnemonic (what --stats does). */
    H.bt->count = true;
    H.bt->callout_counts = calloc(ZYDIS_MNEMONIC_MAX_VALUE + 1, sizeof(uint64_t));
    ck_assert_ptr_nonnull(H.bt->callout_counts);
}

static void teardown(void)
{
    bth_destroy(&H);
}

/* Run code at cpl with EFLAGS fl; HLT ends it (#GP at CPL > 0). */
static void run_at(unsigned cpl, uint32_t fl, const uint8_t *code, size_t n)
{
    bth_put(&H, BTH_CODE, code, n);
    H.c->cpl = cpl;
    H.c->eflags = fl | CPU_FL_FIX1;
    H.c->regs[CPU_EBX] = 0xdead;
    bth_run_hlt(&H);
}

/* Loop index → CPL 1..3 and IOPL 0..3. */
#define CPL_OF(i)  (1u + (unsigned)(i) / 4)
#define IOPL_OF(i) ((unsigned)(i) % 4)

START_TEST(cli_outer)
{
    unsigned cpl = CPL_OF(_i), iopl = IOPL_OF(_i);
    run_at(cpl, CPU_FL_IF | iopl << 12, BTH_BYTES(0xFA, 0x9C, 0x5B, 0xF4)); /* cli; pushfd; pop ebx; hlt */
    ck_assert_uint_eq(bth_rd32(&H, F_ERR), 0);
    if (cpl <= iopl) {
        ck_assert_uint_eq(bth_rd32(&H, F_EIP), BTH_CODE + 3);     /* the HLT */
        ck_assert_uint_eq(H.c->regs[CPU_EBX] & CPU_FL_IF, 0);
        ck_assert_uint_eq(bth_rd32(&H, F_FL) & CPU_FL_IF, 0);
        ck_assert_uint_eq(H.bt->callout_counts[ZYDIS_MNEMONIC_CLI], 0);
    } else {
        ck_assert_uint_eq(bth_rd32(&H, F_EIP), BTH_CODE);         /* the CLI */
        ck_assert_uint_eq(H.c->regs[CPU_EBX], 0xdead);
        ck_assert_uint_eq(bth_rd32(&H, F_FL) & CPU_FL_IF, CPU_FL_IF);
    }
}
END_TEST

START_TEST(sti_outer)
{
    unsigned cpl = CPL_OF(_i), iopl = IOPL_OF(_i);
    run_at(cpl, iopl << 12, BTH_BYTES(0xFB, 0x9C, 0x5B, 0xF4)); /* sti; pushfd; pop ebx; hlt */
    ck_assert_uint_eq(bth_rd32(&H, F_ERR), 0);
    if (cpl <= iopl) {
        ck_assert_uint_eq(bth_rd32(&H, F_EIP), BTH_CODE + 3);
        ck_assert_uint_eq(H.c->regs[CPU_EBX] & CPU_FL_IF, CPU_FL_IF);
        ck_assert_uint_eq(H.bt->callout_counts[ZYDIS_MNEMONIC_STI], 0);
    } else {
        ck_assert_uint_eq(bth_rd32(&H, F_EIP), BTH_CODE);
        ck_assert_uint_eq(H.c->regs[CPU_EBX], 0xdead);
        ck_assert_uint_eq(bth_rd32(&H, F_FL) & CPU_FL_IF, 0);
    }
}
END_TEST

/* Every bit POPF may touch set, IF clear, IOPL the complement, plus RF,
 * VM, VIF, VIP (never taken from the stack). */
#define POPF_IMG(iopl) (CPU_FL_ARITH | CPU_FL_DF | CPU_FL_NT | CPU_FL_AC | CPU_FL_ID | CPU_FL_RF | \
                        CPU_FL_VM | CPU_FL_VIF | CPU_FL_VIP | (~(iopl) & 3u) << 12)

static void popf_code(uint8_t *b, uint32_t img)
{
    b[0] = 0x68; /* push imm32 */
    memcpy(b + 1, &img, 4);
    b[5] = 0x9D; /* popfd */
    b[6] = 0x9C; /* pushfd */
    b[7] = 0x5B; /* pop ebx */
    b[8] = 0xF4; /* hlt */
}

START_TEST(popf_outer)
{
    unsigned cpl = CPL_OF(_i), iopl = IOPL_OF(_i);
    uint8_t b[9];
    popf_code(b, POPF_IMG(iopl));
    run_at(cpl, CPU_FL_IF | iopl << 12, b, sizeof(b));
    uint32_t want = CPU_FL_FIX1 | CPU_FL_ARITH | CPU_FL_DF | CPU_FL_NT | CPU_FL_AC | CPU_FL_ID |
                    iopl << 12 | (cpl <= iopl ? 0 : CPU_FL_IF);
    ck_assert_uint_eq(bth_rd32(&H, F_EIP), BTH_CODE + 8);
    ck_assert_uint_eq(H.c->regs[CPU_EBX], want);
    ck_assert_uint_eq(bth_rd32(&H, F_FL), want);   /* VM, VIF, VIP, RF stayed clear */
    ck_assert_uint_eq(H.bt->callout_counts[ZYDIS_MNEMONIC_POPFD], 0);
    ck_assert_uint_eq(H.c->regs[CPU_ESP], ESP0 - 24);
}
END_TEST

/* CPL 0: IOPL and IF both come from the stack. */
START_TEST(popf_cpl0)
{
    uint8_t b[9];
    popf_code(b, POPF_IMG(1u));
    run_at(0, CPU_FL_IF | 1u << 12, b, sizeof(b));
    ck_assert_uint_eq(H.c->regs[CPU_EBX], CPU_FL_FIX1 | CPU_FL_ARITH | CPU_FL_DF | CPU_FL_NT |
                                          CPU_FL_AC | CPU_FL_ID | 2u << 12);
    ck_assert_uint_eq(H.c->regs[CPU_ESP], BTH_STACK);
    ck_assert_uint_eq(H.bt->callout_counts[ZYDIS_MNEMONIC_POPFD], 0);
}
END_TEST

/* Guest flags computed before an inline IOPL check survive it. */
START_TEST(cli_keeps_flags)
{
    /* xor eax,eax (ZF=1); cli; setz bl; hlt */
    run_at(3, CPU_FL_IF | 3u << 12, BTH_BYTES(0x31, 0xC0, 0xFA, 0x0F, 0x94, 0xC3, 0xF4));
    ck_assert_uint_eq(bth_rd32(&H, F_EIP), BTH_CODE + 6);
    ck_assert_uint_eq(H.c->regs[CPU_EBX] & 0xFF, 1);
}
END_TEST

static Suite *vif_suite(void)
{
    Suite *s = suite_create("vif");
    TCase *tc = tcase_create("inline");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, cli_outer, 0, 12);
    tcase_add_loop_test(tc, sti_outer, 0, 12);
    tcase_add_loop_test(tc, popf_outer, 0, 12);
    tcase_add_test(tc, popf_cpl0);
    tcase_add_test(tc, cli_keeps_flags);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(vif_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
