/*
 * tests/unit/test_cpu_string.c — the string-instruction callouts
 * (cpu/string.c): REP MOVS forward/backward/overlapping, REP STOS across
 * pages, LODS, REPE CMPS and REPNE SCAS with flags, 16-bit address size,
 * a source segment override, and the per-callout work budget.
 * Instructions are decoded from bytes and run through cpu_callout_for().
 */
#include "tests/unit/cpu_harness.h"


START_TEST(rep_movsb_forward)
{
    for (int i = 0; i < 5000; i++)
        vm.ram[0x10000 + i] = (uint8_t)(i * 7);
    c->regs[CPU_ESI] = 0x10000; c->regs[CPU_EDI] = 0x20ffd; c->regs[CPU_ECX] = 5000;
    ck_assert_int_eq(RUN(0xF3, 0xA4), CPU_CO_CONTINUE);
    ck_assert_mem_eq(vm.ram + 0x20ffd, vm.ram + 0x10000, 5000);
    ck_assert_uint_eq(c->regs[CPU_ESI], 0x10000 + 5000);
    ck_assert_uint_eq(c->regs[CPU_EDI], 0x20ffd + 5000);
    ck_assert_uint_eq(c->regs[CPU_ECX], 0);
    ck_assert_uint_eq(vm.ram[0x20ffd + 5000], 0); /* nothing past the end */
}
END_TEST

START_TEST(rep_movsd_backward)
{
    uint32_t src[4] = { 0x11111111, 0x22222222, 0x33333333, 0x44444444 };
    memcpy(vm.ram + 0x10000, src, 16);
    c->eflags |= CPU_FL_DF;
    c->regs[CPU_ESI] = 0x1000c; c->regs[CPU_EDI] = 0x2000c; c->regs[CPU_ECX] = 4;
    ck_assert_int_eq(RUN(0xF3, 0xA5), CPU_CO_CONTINUE);
    ck_assert_mem_eq(vm.ram + 0x20000, src, 16);
    ck_assert_uint_eq(c->regs[CPU_ESI], 0x10000 - 4);
    ck_assert_uint_eq(c->regs[CPU_EDI], 0x20000 - 4);
    ck_assert_uint_eq(c->regs[CPU_ECX], 0);
}
END_TEST

/* The CPU's result for REP MOVS going down, element by element. */
static void movs_down_ref(uint8_t *m, uint32_t si, uint32_t di, uint32_t cnt, unsigned size)
{
    for (uint32_t k = 0; k < cnt; k++, si -= size, di -= size)
        memmove(m + di, m + si, size);
}

START_TEST(rep_movs_backward_bulk)
{
    /* Runs of whole pages going down, across page boundaries, on both
     * sides of each overlap: dst above src (Linux's startup_32 copies its
     * compressed image up that way), dst below src (replicates), apart,
     * and byte elements at an odd offset. */
    static const struct { uint32_t si, di, cnt; unsigned size; uint8_t op; } cs[] = {
        { 0x52ffc, 0x54ffc, 3000, 4, 0xA5 },   /* apart */
        { 0x52ffc, 0x530fc, 3000, 4, 0xA5 },   /* dst above, overlapping */
        { 0x53ffc, 0x53f00, 3000, 4, 0xA5 },   /* dst below, overlapping */
        { 0x53ffe, 0x53ff9, 9000, 1, 0xA4 },   /* bytes, dst below */
        { 0x52ffd, 0x53003, 9000, 1, 0xA4 },   /* bytes, dst above */
    };
    static uint8_t want[0x10000];
    for (unsigned i = 0; i < sizeof(cs) / sizeof(cs[0]); i++) {
        for (uint32_t j = 0; j < 0x10000; j++)
            vm.ram[0x48000 + j] = (uint8_t)(j * 13 + i);
        memcpy(want, vm.ram + 0x48000, sizeof(want));
        movs_down_ref(want, cs[i].si - 0x48000, cs[i].di - 0x48000, cs[i].cnt, cs[i].size);
        uint64_t slow = mmu.stats.slow_reads;
        c->eflags |= CPU_FL_DF;
        c->regs[CPU_ESI] = cs[i].si; c->regs[CPU_EDI] = cs[i].di; c->regs[CPU_ECX] = cs[i].cnt;
        ck_assert_int_eq(RUN(0xF3, cs[i].op), CPU_CO_CONTINUE);
        ck_assert_msg(memcmp(vm.ram + 0x48000, want, sizeof(want)) == 0, "case %u: memory differs", i);
        ck_assert_uint_eq(c->regs[CPU_ESI], cs[i].si - cs[i].cnt * cs[i].size);
        ck_assert_uint_eq(c->regs[CPU_EDI], cs[i].di - cs[i].cnt * cs[i].size);
        ck_assert_uint_eq(c->regs[CPU_ECX], 0);
        /* In runs, not element by element (only byte elements overlapping
         * dst below src go one by one, and they do it in place). */
        ck_assert_uint_lt(mmu.stats.slow_reads - slow, 8);
    }
}
END_TEST

START_TEST(movsb_overlap_replicates)
{
    /* Forward byte copy onto src+1 smears the first byte (not memmove). */
    memcpy(vm.ram + 0x30000, "abcdefghijk", 11);
    c->regs[CPU_ESI] = 0x30000; c->regs[CPU_EDI] = 0x30001; c->regs[CPU_ECX] = 10;
    ck_assert_int_eq(RUN(0xF3, 0xA4), CPU_CO_CONTINUE);
    ck_assert_mem_eq(vm.ram + 0x30000, "aaaaaaaaaaa", 11);
    /* Dword elements overlapping by 2 bytes: element-wise semantics. */
    memcpy(vm.ram + 0x31000, "ABCDEFGHIJKL", 12);
    c->regs[CPU_ESI] = 0x31000; c->regs[CPU_EDI] = 0x31002; c->regs[CPU_ECX] = 2;
    ck_assert_int_eq(RUN(0xF3, 0xA5), CPU_CO_CONTINUE);
    /* elem0 copies "ABCD" to [2..5] -> "ABABCDGH..."; elem1 then reads
     * [4..7] = "CDGH" (written by elem0) into [6..9]. */
    ck_assert_mem_eq(vm.ram + 0x31000, "ABABCDCDGHKL", 12);
}
END_TEST

START_TEST(rep_stosd_across_pages)
{
    c->regs[CPU_EAX] = 0xdeadbeef; c->regs[CPU_EDI] = 0x40002; c->regs[CPU_ECX] = 2000;
    ck_assert_int_eq(RUN(0xF3, 0xAB), CPU_CO_CONTINUE);
    for (int i = 0; i < 2000; i++) {
        uint32_t v;
        memcpy(&v, vm.ram + 0x40002 + 4 * i, 4);
        ck_assert_uint_eq(v, 0xdeadbeef);
    }
    ck_assert_uint_eq(vm.ram[0x40002 + 8000], 0);
    ck_assert_uint_eq(c->regs[CPU_EDI], 0x40002 + 8000);
    ck_assert_uint_eq(c->regs[CPU_ECX], 0);
}
END_TEST

START_TEST(stos_budget_restarts)
{
    /* Beyond RAM every element takes the slow path: the callout stops
     * after its budget and asks to re-run the same instruction. */
    c->regs[CPU_EAX] = 0; c->regs[CPU_EDI] = 0x10000000; c->regs[CPU_ECX] = 200000;
    ck_assert_int_eq(RUN(0xF3, 0xAA), CPU_CO_EXIT);
    ck_assert_uint_eq(c->eip, 0x1000);
    uint32_t done = 200000 - c->regs[CPU_ECX];
    ck_assert_uint_gt(done, 0);
    ck_assert_uint_lt(done, 200000);
    ck_assert_uint_eq(c->regs[CPU_EDI], 0x10000000 + done);
    ck_assert_int_eq(c->pending_vector, -1);
    int r;
    while ((r = RUN(0xF3, 0xAA)) == CPU_CO_EXIT)
        ;
    ck_assert_int_eq(r, CPU_CO_CONTINUE);
    ck_assert_uint_eq(c->regs[CPU_ECX], 0);
    ck_assert_uint_eq(c->regs[CPU_EDI], 0x10000000 + 200000);
}
END_TEST

START_TEST(lodsb_and_lodsd)
{
    memcpy(vm.ram + 0x5000, "XYZW", 4);
    c->regs[CPU_EAX] = 0x12345678; c->regs[CPU_ESI] = 0x5000; c->regs[CPU_ECX] = 77;
    ck_assert_int_eq(RUN(0xAC), CPU_CO_CONTINUE);
    ck_assert_uint_eq(c->regs[CPU_EAX], 0x12345600 | 'X');
    ck_assert_uint_eq(c->regs[CPU_ESI], 0x5001);
    ck_assert_uint_eq(c->regs[CPU_ECX], 77); /* no REP: ECX untouched */
    c->eflags |= CPU_FL_DF;
    c->regs[CPU_ESI] = 0x5000;
    ck_assert_int_eq(RUN(0xAD), CPU_CO_CONTINUE);
    ck_assert_uint_eq(c->regs[CPU_EAX], 0x575a5958);
    ck_assert_uint_eq(c->regs[CPU_ESI], 0x4ffc);
}
END_TEST

START_TEST(repe_cmpsb_stops_at_difference)
{
    memcpy(vm.ram + 0x6000, "abcdef", 6);
    memcpy(vm.ram + 0x7000, "abcxef", 6);
    c->regs[CPU_ESI] = 0x6000; c->regs[CPU_EDI] = 0x7000; c->regs[CPU_ECX] = 6;
    ck_assert_int_eq(RUN(0xF3, 0xA6), CPU_CO_CONTINUE);
    ck_assert_uint_eq(c->regs[CPU_ECX], 2);
    ck_assert_uint_eq(c->regs[CPU_ESI], 0x6004);
    ck_assert_uint_eq(c->regs[CPU_EDI], 0x7004);
    /* 'd' - 'x' = 0x64 - 0x78 = 0xEC: CF SF AF set, ZF OF PF clear. */
    ck_assert_uint_eq(c->eflags & CPU_FL_ARITH, CPU_FL_CF | CPU_FL_SF | CPU_FL_AF);
    /* Equal buffers: runs out with ZF=1. */
    c->regs[CPU_ESI] = 0x6000; c->regs[CPU_EDI] = 0x6000; c->regs[CPU_ECX] = 6;
    ck_assert_int_eq(RUN(0xF3, 0xA6), CPU_CO_CONTINUE);
    ck_assert_uint_eq(c->regs[CPU_ECX], 0);
    ck_assert_uint_eq(c->eflags & CPU_FL_ARITH, CPU_FL_ZF | CPU_FL_PF);
}
END_TEST

START_TEST(repne_scasb_finds_byte)
{
    memcpy(vm.ram + 0x8000, "hello", 6);
    c->regs[CPU_EAX] = 0; c->regs[CPU_EDI] = 0x8000; c->regs[CPU_ECX] = 100;
    ck_assert_int_eq(RUN(0xF2, 0xAE), CPU_CO_CONTINUE);
    ck_assert_uint_eq(c->regs[CPU_ECX], 94);
    ck_assert_uint_eq(c->regs[CPU_EDI], 0x8006);
    ck_assert(c->eflags & CPU_FL_ZF);
    /* Not found within the count: ZF=0, ECX=0. */
    c->regs[CPU_EAX] = 'q'; c->regs[CPU_EDI] = 0x8000; c->regs[CPU_ECX] = 5;
    ck_assert_int_eq(RUN(0xF2, 0xAE), CPU_CO_CONTINUE);
    ck_assert_uint_eq(c->regs[CPU_ECX], 0);
    ck_assert(!(c->eflags & CPU_FL_ZF));
}
END_TEST

START_TEST(addr16_wraps_si_di_cx)
{
    vm.ram[0xFFFE] = 1; vm.ram[0xFFFF] = 2; vm.ram[0x0000] = 3;
    c->regs[CPU_ESI] = 0x1234FFFE; c->regs[CPU_EDI] = 0x55550100; c->regs[CPU_ECX] = 0xABCD0003;
    ck_assert_int_eq(RUN(0x67, 0xF3, 0xA4), CPU_CO_CONTINUE);
    ck_assert_uint_eq(vm.ram[0x100], 1);
    ck_assert_uint_eq(vm.ram[0x101], 2);
    ck_assert_uint_eq(vm.ram[0x102], 3);
    ck_assert_uint_eq(c->regs[CPU_ESI], 0x12340001);
    ck_assert_uint_eq(c->regs[CPU_EDI], 0x55550103);
    ck_assert_uint_eq(c->regs[CPU_ECX], 0xABCD0000);
}
END_TEST

START_TEST(source_segment_override)
{
    /* FS base 0x9000: fs movsb reads FS:ESI, writes ES:EDI. */
    c->segs[CPU_FS].base = 0x9000; c->seg_base[CPU_FS] = 0x9000;
    c->segs[CPU_ES].base = 0xA000; c->seg_base[CPU_ES] = 0xA000;
    vm.ram[0x9010] = 0x77;
    vm.ram[0x0010] = 0x11;
    c->regs[CPU_ESI] = 0x10; c->regs[CPU_EDI] = 0x20;
    ck_assert_int_eq(RUN(0x64, 0xA4), CPU_CO_CONTINUE);
    ck_assert_uint_eq(vm.ram[0xA020], 0x77);
    ck_assert_uint_eq(c->regs[CPU_ESI], 0x11);
    /* Without override the source is DS (base 0). */
    c->regs[CPU_ESI] = 0x10; c->regs[CPU_EDI] = 0x21;
    ck_assert_int_eq(RUN(0xA4), CPU_CO_CONTINUE);
    ck_assert_uint_eq(vm.ram[0xA021], 0x11);
}
END_TEST

START_TEST(rep_zero_count_noop)
{
    c->regs[CPU_ESI] = 0x100; c->regs[CPU_EDI] = 0x200; c->regs[CPU_ECX] = 0;
    uint32_t fl = c->eflags;
    ck_assert_int_eq(RUN(0xF3, 0xA6), CPU_CO_CONTINUE);
    ck_assert_uint_eq(c->regs[CPU_ESI], 0x100);
    ck_assert_uint_eq(c->eflags, fl);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cpu_string");
    TCase *t = tcase_create("string");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, rep_movsb_forward);
    tcase_add_test(t, rep_movsd_backward);
    tcase_add_test(t, rep_movs_backward_bulk);
    tcase_add_test(t, movsb_overlap_replicates);
    tcase_add_test(t, rep_stosd_across_pages);
    tcase_add_test(t, stos_budget_restarts);
    tcase_add_test(t, lodsb_and_lodsd);
    tcase_add_test(t, repe_cmpsb_stops_at_difference);
    tcase_add_test(t, repne_scasb_finds_byte);
    tcase_add_test(t, addr16_wraps_si_di_cx);
    tcase_add_test(t, source_segment_override);
    tcase_add_test(t, rep_zero_count_noop);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
