/*
 * tests/unit/test_repscan.c — REPE/REPNE CMPSB and SCASB run inline a page
 * at a time (bt/emit_string.c emit_rep_scan): each chunk stops at the end
 * of EDI's page (and ESI's), so a scan that crosses a page boundary must
 * read the next page through its own mapping. Here the next page of every
 * crossing maps elsewhere, and the bytes at the identity-mapped place
 * differ from the ones the guest must see. Through the real engine with
 * paging on, at CPL 0 (tests/unit/bt_harness.h).
 */
#include <check.h>
#include <stdlib.h>

#include "bt/bt.h"
#include "tests/unit/bt_harness.h"

#define PD     0x100000u
#define PT     0x101000u
#define LIN    0x200000u  /* its next page maps to NEXT_B */
#define NEXT_B 0x360000u
#define LIN2   0x240000u  /* the other operand of CMPSB, identity-mapped */
#define PFH    (BTH_CODE + 0x400u)

#define FL_ARITH 0x8D5u   /* CF PF AF ZF SF OF */

static struct bth H;

static void setup(void)
{
    bth_init(&H, 0);
    H.bt->count = true;
    H.bt->callout_counts = calloc(ZYDIS_MNEMONIC_MAX_VALUE + 1, sizeof(uint64_t)); /* the engine frees it */
    ck_assert_ptr_nonnull(H.bt->callout_counts);
    bth_wr32(&H, PD, PT | 3);
    for (uint32_t p = 0; p < 1024; p++)
        bth_wr32(&H, PT + 4 * p, (p << 12) | 3);
    bth_wr32(&H, PT + 4 * ((LIN >> 12) + 1), NEXT_B | 3);
    H.c->cr0 |= CPU_CR0_PG;
    H.c->cr3 = PD;
    ck_assert_int_eq(smmu_cr_write(&H.bt->mmu), 0);
    bth_gate(&H, CPU_VEC_PF, PFH);
    H.vm.ram[PFH] = 0xF4; /* hlt */
}

static void teardown(void)
{
    bth_destroy(&H);
}

/* Guest byte at linear lin (LIN's page and the next one, as mapped). */
static void put_lin(uint32_t lin, uint8_t v)
{
    uint32_t page = lin >> 12;
    uint32_t phys = page == (LIN >> 12) + 1 ? NEXT_B + (lin & 0xFFF) : lin;
    H.vm.ram[phys] = v;
}

/* Runs code that ends in HLT (the tests read EFLAGS as the guest's PUSHFD
 * saw them right after the string instruction from EDX). */
static void run(const uint8_t *code, size_t n)
{
    bth_put(&H, BTH_CODE, code, n);
    bth_run_hlt(&H);
}

/*
 * strlen across a page boundary: 0x2E bytes then a 0 on the next page; at
 * the identity-mapped place of that page the bytes are not 0. Both pages
 * are read first (MOV BL), which fills their read entries: the scan runs
 * inline, not in the callout an empty entry sends it to.
 *    mov bl, [LIN] ; mov bl, [LIN + 0x1000]
 *    mov edi, LIN + 0xFF0 ; mov ecx, -1 ; xor eax, eax
 *    repne scasb ; pushfd ; pop edx ; hlt
 */
START_TEST(repne_scasb_crosses_page)
{
    static const uint8_t code[] = {
        0x8A, 0x1D, 0x00, 0x00, 0x20, 0x00, 0x8A, 0x1D, 0x00, 0x10, 0x20, 0x00,
        0xBF, 0xF0, 0x0F, 0x20, 0x00, 0xB9, 0xFF, 0xFF, 0xFF, 0xFF, 0x31, 0xC0,
        0xF2, 0xAE, 0x9C, 0x5A, 0xF4,
    };
    for (uint32_t i = 0; i < 0x2E; i++)
        put_lin(LIN + 0xFF0 + i, 'a');
    put_lin(LIN + 0xFF0 + 0x2E, 0);
    memset(H.vm.ram + LIN + 0x1000, 'b', 0x100); /* the wrong page: no 0 */
    run(code, sizeof(code));
    ck_assert_uint_eq(H.c->regs[CPU_ECX], 0xFFFFFFFFu - 0x2F);
    ck_assert_uint_eq(H.c->regs[CPU_EDI], LIN + 0xFF0 + 0x2F);
    ck_assert_uint_eq(H.c->regs[CPU_EDX] & 0x40, 0x40); /* ZF: found */
    ck_assert_uint_eq(H.bt->callout_counts[ZYDIS_MNEMONIC_SCASB], 0); /* inline */
}
END_TEST

/*
 * REPE CMPSB whose first difference is on ESI's next page: 0x20 equal
 * bytes, then 0x10 vs 0x20 (below: CF = 1). The three pages read first.
 *    mov bl, [LIN] ; mov bl, [LIN + 0x1000] ; mov bl, [LIN2]
 *    mov esi, LIN + 0xFF8 ; mov edi, LIN2 ; mov ecx, 0x40
 *    repe cmpsb ; pushfd ; pop edx ; hlt
 */
START_TEST(repe_cmpsb_difference_on_next_page)
{
    static const uint8_t code[] = {
        0x8A, 0x1D, 0x00, 0x00, 0x20, 0x00, 0x8A, 0x1D, 0x00, 0x10, 0x20, 0x00,
        0x8A, 0x1D, 0x00, 0x00, 0x24, 0x00,
        0xBE, 0xF8, 0x0F, 0x20, 0x00, 0xBF, 0x00, 0x00, 0x24, 0x00, 0xB9, 0x40, 0x00, 0x00, 0x00,
        0xF3, 0xA6, 0x9C, 0x5A, 0xF4,
    };
    for (uint32_t i = 0; i < 0x40; i++) {
        put_lin(LIN + 0xFF8 + i, (uint8_t)(i == 0x20 ? 0x10 : i));
        H.vm.ram[LIN2 + i] = (uint8_t)(i == 0x20 ? 0x20 : i);
    }
    memset(H.vm.ram + LIN + 0x1000, 0xEE, 0x100); /* the wrong page differs at once */
    run(code, sizeof(code));
    ck_assert_uint_eq(H.c->regs[CPU_ECX], 0x40 - 0x21);
    ck_assert_uint_eq(H.c->regs[CPU_ESI], LIN + 0xFF8 + 0x21);
    ck_assert_uint_eq(H.c->regs[CPU_EDI], LIN2 + 0x21);
    /* 0x10 - 0x20 = 0xF0: CF SF PF set; ZF OF AF clear. */
    ck_assert_uint_eq(H.c->regs[CPU_EDX] & FL_ARITH, 0x01 | 0x80 | 0x04);
    ck_assert_uint_eq(H.bt->callout_counts[ZYDIS_MNEMONIC_CMPSB], 0);
}
END_TEST

/*
 * REPNE SCASB whose count ends exactly at the end of EDI's page, no match:
 * the chunk runs out with ECX 0, and the flags are the last compare's
 * (0 - 0x3F: CF AF SF), not those of the inline code's own test of ECX.
 *    mov bl, [LIN]
 *    mov edi, LIN + 0xFF0 ; mov ecx, 0x10 ; xor eax, eax ; stc
 *    repne scasb ; pushfd ; pop edx ; hlt
 */
START_TEST(repne_scasb_ends_at_page_end)
{
    static const uint8_t code[] = {
        0x8A, 0x1D, 0x00, 0x00, 0x20, 0x00,
        0xBF, 0xF0, 0x0F, 0x20, 0x00, 0xB9, 0x10, 0x00, 0x00, 0x00, 0x31, 0xC0,
        0xF9, 0xF2, 0xAE, 0x9C, 0x5A, 0xF4,
    };
    for (uint32_t i = 0; i < 0x10; i++)
        put_lin(LIN + 0xFF0 + i, (uint8_t)(0x30 + i));
    put_lin(LIN + 0x1000, 0); /* a match just past the count */
    run(code, sizeof(code));
    ck_assert_uint_eq(H.c->regs[CPU_ECX], 0);
    ck_assert_uint_eq(H.c->regs[CPU_EDI], LIN + 0x1000);
    ck_assert_uint_eq(H.c->regs[CPU_EDX] & FL_ARITH, 0x01 | 0x10 | 0x80);
    ck_assert_uint_eq(H.bt->callout_counts[ZYDIS_MNEMONIC_SCASB], 0);
}
END_TEST

/*
 * ECX = 0: nothing compared, every flag as before (CF from STC, the rest
 * from CMP); and with DF = 1 the callout scans downwards.
 *    mov eax, 1 ; cmp eax, 2 ; stc ; xor ecx, ecx ; repne scasb
 *    pushfd ; pop edx
 *    std ; mov edi, LIN + 0x1008 ; mov ecx, 0x20 ; mov al, 0x5A ; repne scasb ; cld ; hlt
 */
START_TEST(zero_count_keeps_flags_and_df_scans_down)
{
    static const uint8_t code[] = {
        0xB8, 0x01, 0x00, 0x00, 0x00, 0x83, 0xF8, 0x02, 0xF9, 0x31, 0xC9, 0xF2, 0xAE,
        0x9C, 0x5A,
        0xFD, 0xBF, 0x08, 0x10, 0x20, 0x00, 0xB9, 0x20, 0x00, 0x00, 0x00, 0xB0, 0x5A,
        0xF2, 0xAE, 0xFC, 0xF4,
    };
    /* XOR ECX,ECX sets ZF PF and clears CF: the flags before the scan are
     * those of the XOR. */
    for (uint32_t i = 0; i < 0x20; i++)
        put_lin(LIN + 0x1008 - i, 0x11);
    put_lin(LIN + 0xFF0, 0x5A); /* 0x18 below the start, on the first page */
    run(code, sizeof(code));
    ck_assert_uint_eq(H.c->regs[CPU_EDX] & FL_ARITH & ~0x10u, 0x40 | 0x04); /* XOR: AF undefined */
    ck_assert_uint_eq(H.c->regs[CPU_EDI], LIN + 0xFF0 - 1);
    ck_assert_uint_eq(H.c->regs[CPU_ECX], 0x20 - 0x19);
}
END_TEST

/*
 * A scan that runs into a page that is not present: #PF with CR2 at the
 * page, and ECX/EDI saying how far it got (REP is restartable there).
 *    mov bl, [LIN2] ; mov edi, LIN2 + 0xFFC ; mov ecx, 0x100 ; xor eax, eax
 *    repne scasb ; hlt
 */
START_TEST(scan_faults_at_missing_page)
{
    static const uint8_t code[] = {
        0x8A, 0x1D, 0x00, 0x00, 0x24, 0x00,
        0xBF, 0xFC, 0x0F, 0x24, 0x00, 0xB9, 0x00, 0x01, 0x00, 0x00, 0x31, 0xC0,
        0xF2, 0xAE, 0xF4,
    };
    bth_wr32(&H, PT + 4 * ((LIN2 >> 12) + 1), 0);
    memset(H.vm.ram + LIN2 + 0xFFC, 0x77, 4);
    run(code, sizeof(code));
    ck_assert_uint_eq(bth_rd32(&H, BTH_STACK - 12), BTH_CODE + 18); /* the frame's EIP */
    ck_assert_uint_eq(H.c->cr2, LIN2 + 0x1000);
    ck_assert_uint_eq(H.c->regs[CPU_EDI], LIN2 + 0x1000);
    ck_assert_uint_eq(H.c->regs[CPU_ECX], 0x100 - 4);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("repscan");
    TCase *t = tcase_create("core");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, repne_scasb_crosses_page);
    tcase_add_test(t, repe_cmpsb_difference_on_next_page);
    tcase_add_test(t, repne_scasb_ends_at_page_end);
    tcase_add_test(t, zero_count_keeps_flags_and_df_scans_down);
    tcase_add_test(t, scan_faults_at_missing_page);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
