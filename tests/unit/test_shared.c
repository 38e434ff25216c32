/*
 * tests/unit/test_shared.c — translations found by guest-physical address
 * and run at any linear address (bt_key_shared, docs/translation.md §8b):
 * user-mode code run at one linear address keeps plain translations; run
 * at a second, its pages are translated shared, and those serve every
 * address after; re-mapped between runs; rewritten while inline caches
 * still lead to its old translation.
 * Through the real engine (tests/unit/bt_harness.h) at CPL 3 with paging.
 * Each run ends with HLT, which at CPL 3 raises #GP(0): the frame on the
 * ring-0 stack gives the EIP the guest saw.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt/bt.h"
#include "tests/unit/bt_harness.h"

#define TSS    0x3000u
#define ESP0   0x90000u
#define HANDLR (BTH_CODE + 0x400u)
#define PD     0x100000u
#define PT     0x101000u
#define CODEP  0x300000u /* two pages of code */
#define CODEQ  0x308000u /* other code for the same linear page */
#define LIN_X  0x200000u /* → CODEP */
#define LIN_Y  0x2A5000u /* → CODEP as well */

static struct bth H;
static struct cpu saved;

static void map(uint32_t lin, uint32_t phys)
{
    bth_wr32(&H, PT + 4 * (lin >> 12), phys | 7);
}

static void setup(void)
{
    bth_init(&H, 0);
    bth_outer_ring(&H, TSS, ESP0, HANDLR);
    H.bt->count = true; /* emitted code counts indirect table hits */
    bth_wr32(&H, PD, PT | 7);
    for (uint32_t p = 0; p < 1024; p++)
        bth_wr32(&H, PT + 4 * p, (p << 12) | 7);
    map(LIN_X, CODEP);
    map(LIN_X + 0x1000, CODEP + 0x1000);
    map(LIN_Y, CODEP);
    map(LIN_Y + 0x1000, CODEP + 0x1000);
    H.c->cr0 |= CPU_CR0_PG;
    H.c->cr3 = PD;
    ck_assert_int_eq(smmu_cr_write(&H.bt->mmu), 0);
    H.c->cpl = 3;
    saved = *H.c;
}

static void teardown(void)
{
    bth_destroy(&H);
}

/* Run at CPL 3 from eip until the HLT's #GP; returns the EIP it saw. */
static uint32_t run_at(uint32_t eip)
{
    memcpy(H.c->segs, saved.segs, sizeof(saved.segs));
    memcpy(H.c->seg_base, saved.seg_base, sizeof(saved.seg_base));
    H.c->cpl = 3;
    H.c->eflags = saved.eflags;
    H.c->halted = false;
    H.c->regs[CPU_ESP] = BTH_STACK;
    H.c->eip = eip;
    bth_run_hlt(&H);
    return bth_rd32(&H, ESP0 - 20);
}

/*
 * Page 1:                              Page 2:
 *   +0x00 call +0x40                     +0x1000 call +0x1005
 *   +0x05 mov ebx, eax                   +0x1005 pop edx
 *   +0x07 test ebx, ebx                  +0x1006 lea esi, [edx + 0x10]
 *   +0x09 jnz +0x1000  (to page 2)       +0x1009 jmp esi
 *   +0x0F hlt                            +0x1015 jmp +0x50 (back to page 1)
 *   +0x40 mov eax, [esp + 0] ; ret   (not a PC thunk: disp8)
 *   +0x50 hlt
 * EBX, EDX and ESI hold EIPs the CALLs pushed; the #GP frame the HLT's.
 */
static void put_two_pages(void)
{
    static const uint8_t p1[] = {
        0xE8, 0x3B, 0x00, 0x00, 0x00, 0x89, 0xC3, 0x85, 0xDB,
        0x0F, 0x85, 0xF1, 0x0F, 0x00, 0x00, 0xF4,
    };
    static const uint8_t f[] = { 0x8B, 0x44, 0x24, 0x00, 0xC3 };
    static const uint8_t p2[] = {
        0xE8, 0x00, 0x00, 0x00, 0x00, 0x5A, 0x8D, 0x72, 0x10, 0xFF, 0xE6,
    };
    static const uint8_t back[] = { 0xE9, 0x36, 0xF0, 0xFF, 0xFF };
    bth_put(&H, CODEP, p1, sizeof(p1));
    bth_put(&H, CODEP + 0x40, f, sizeof(f));
    H.vm.ram[CODEP + 0x50] = 0xF4;
    bth_put(&H, CODEP + 0x1000, p2, sizeof(p2));
    bth_put(&H, CODEP + 0x1015, back, sizeof(back));
}

static void check_run(uint32_t base)
{
    ck_assert_uint_eq(run_at(base), base + 0x50);
    ck_assert_uint_eq(H.c->regs[CPU_EBX], base + 5);
    ck_assert_uint_eq(H.c->regs[CPU_EDX], base + 0x1005);
    ck_assert_uint_eq(H.c->regs[CPU_ESI], base + 0x1015);
}

#define LIN_Z 0x3F0000u /* a third address */

START_TEST(one_address_stays_plain)
{
    put_two_pages();
    check_run(LIN_X);
    uint64_t blocks = H.bt->st.blocks;
    ck_assert_uint_ge(blocks, 6);
    check_run(LIN_X);
    ck_assert_uint_eq(H.bt->st.blocks, blocks);
    ck_assert_uint_eq(H.bt->st.shared_pages, 0);
    ck_assert_uint_eq(H.bt->st.shared_blocks, 0);
}
END_TEST

START_TEST(two_addresses_one_translation)
{
    put_two_pages();
    map(LIN_Z, CODEP);
    map(LIN_Z + 0x1000, CODEP + 0x1000);
    check_run(LIN_X);
    /* The same pages at another address: both pages become shared and
     * their code is translated once more, for every address after. */
    check_run(LIN_Y);
    ck_assert_uint_eq(H.bt->st.shared_pages, 2);
    ck_assert_uint_ge(H.bt->st.shared_blocks, 5);
    uint64_t blocks = H.bt->st.blocks;
    /* Every EIP is the run's own, and nothing is translated again. */
    check_run(LIN_X);
    check_run(LIN_Z);
    check_run(LIN_Y);
    ck_assert_uint_eq(H.bt->st.blocks, blocks);
}
END_TEST

/* Linear page 1 of X re-mapped to other code between runs: the new code
 * runs (the old translation is not used for it), and mapped back, the old
 * translation serves again. */
START_TEST(remapped_between_runs)
{
    put_two_pages();
    check_run(LIN_X);
    check_run(LIN_Y);
    /* CODEQ: mov ebx, 0x77 ; hlt */
    static const uint8_t q[] = { 0xBB, 0x77, 0x00, 0x00, 0x00, 0xF4 };
    bth_put(&H, CODEQ, q, sizeof(q));
    map(LIN_X, CODEQ);
    smmu_invlpg(&H.bt->mmu, LIN_X); /* as the guest's INVLPG after its PTE write */
    ck_assert_uint_eq(run_at(LIN_X), LIN_X + 5);
    ck_assert_uint_eq(H.c->regs[CPU_EBX], 0x77);
    map(LIN_X, CODEP);
    smmu_invlpg(&H.bt->mmu, LIN_X);
    uint64_t blocks = H.bt->st.blocks;
    check_run(LIN_X);
    check_run(LIN_Y);
    ck_assert_uint_eq(H.bt->st.blocks, blocks);
}
END_TEST

/*
 *   +0x00 call +0x40 ; +0x05 mov ebx, eax ; +0x07 hlt
 *   +0x40 mov eax, 0x11 ; ret
 * The RET's inline cache leads to the block at +5 through its indirect
 * entry. That block is then rewritten (mov ebx, ecx): the next run meets
 * its tombstone through the indirect entry and the dispatcher forwards
 * the tombstone's jump to the new translation; the run after that must go
 * the same way without leaving again (the forwarded jump is the entry's,
 * not a byte of the indirect entry before it).
 */
START_TEST(tombstone_behind_indirect_entry)
{
    static const uint8_t code[] = { 0xE8, 0x3B, 0x00, 0x00, 0x00, 0x89, 0xC3, 0xF4 };
    static const uint8_t f[] = { 0xB8, 0x11, 0x00, 0x00, 0x00, 0xC3 };
    bth_put(&H, CODEP, code, sizeof(code));
    bth_put(&H, CODEP + 0x40, f, sizeof(f));
    ck_assert_uint_eq(run_at(LIN_Y), LIN_Y + 7); /* plain */
    ck_assert_uint_eq(run_at(LIN_X), LIN_X + 7); /* shared from here */
    ck_assert_uint_ge(H.bt->st.shared_blocks, 2);
    ck_assert_uint_eq(H.c->regs[CPU_EBX], 0x11);
    ck_assert_uint_eq(run_at(LIN_X), LIN_X + 7); /* fills the RET's inline cache */
    ck_assert_uint_ge(H.bt->st.icache_fills, 1);
    H.vm.ram[CODEP + 6] = 0xCB; /* mov ebx, ecx */
    bt_invalidate_phys(H.bt, CODEP + 6, 1);
    H.c->regs[CPU_ECX] = 0x22;
    ck_assert_uint_eq(run_at(LIN_X), LIN_X + 7);
    ck_assert_uint_eq(H.c->regs[CPU_EBX], 0x22);
    uint64_t stale = H.bt->st.exits[BT_EXIT_STALE];
    ck_assert_uint_ge(stale, 1);
    H.c->regs[CPU_ECX] = 0x33;
    ck_assert_uint_eq(run_at(LIN_X), LIN_X + 7);
    ck_assert_uint_eq(H.c->regs[CPU_EBX], 0x33);
    ck_assert_uint_eq(H.bt->st.exits[BT_EXIT_STALE], stale);
}
END_TEST

/*
 *   +0x00   jmp +0x1000                 +0x1000 call +0x1040
 *                                       +0x1005 hlt
 *                                       +0x1040 mov ebx, [esp] ; ret
 * Page 2 runs at Y and X first (shared), page 1 at X only (plain). The
 * second run from X takes page 1's chained jump into page 2's shared
 * block, through a stub that sets vbase (a plain block does not keep it):
 * EBX is the return address of that run's CALL. Then a shared block that
 * jumps back to page 1 (+0x1005: jmp +0x50 ; +0x50: hlt) makes page 1
 * shared: what shared code chains to must run at any address too.
 */
START_TEST(plain_into_shared_and_back)
{
    static const uint8_t p1[] = { 0xE9, 0xFB, 0x0F, 0x00, 0x00 };
    static const uint8_t p2[] = { 0xE8, 0x3B, 0x00, 0x00, 0x00, 0xF4 };
    static const uint8_t thunk[] = { 0x8B, 0x1C, 0x24, 0xC3 };
    static const uint8_t back[] = { 0xE9, 0x46, 0xF0, 0xFF, 0xFF };
    bth_put(&H, CODEP, p1, sizeof(p1));
    H.vm.ram[CODEP + 0x50] = 0xF4;
    bth_put(&H, CODEP + 0x1000, p2, sizeof(p2));
    bth_put(&H, CODEP + 0x1040, thunk, sizeof(thunk));
    ck_assert_uint_eq(run_at(LIN_Y + 0x1000), LIN_Y + 0x1005);
    ck_assert_uint_eq(run_at(LIN_X + 0x1000), LIN_X + 0x1005);
    ck_assert_uint_eq(H.bt->st.shared_pages, 1);
    ck_assert_uint_eq(run_at(LIN_X), LIN_X + 0x1005);
    ck_assert_uint_eq(H.c->regs[CPU_EBX], LIN_X + 0x1005);
    ck_assert_uint_eq(H.bt->st.shared_pages, 1);
    ck_assert_uint_ge(H.bt->st.shared_blocks, 1);
    uint64_t blocks = H.bt->st.blocks;
    H.c->regs[CPU_EBX] = 0;
    ck_assert_uint_eq(run_at(LIN_X), LIN_X + 0x1005);
    ck_assert_uint_eq(H.c->regs[CPU_EBX], LIN_X + 0x1005);
    ck_assert_uint_ge(H.bt->st.vbase_stubs, 1);
    ck_assert_uint_eq(H.bt->st.blocks, blocks);

    bth_put(&H, CODEP + 0x1005, back, sizeof(back));
    bt_invalidate_phys(H.bt, CODEP + 0x1005, sizeof(back));
    ck_assert_uint_eq(run_at(LIN_X), LIN_X + 0x50);
    ck_assert_uint_eq(H.bt->st.shared_pages, 2);
    ck_assert_uint_eq(run_at(LIN_Y), LIN_Y + 0x50);
    ck_assert_uint_eq(H.c->regs[CPU_EBX], LIN_Y + 0x1005);
}
END_TEST

/*
 *   +0x00 call +0x1010 ; +0x05 mov ebx, eax ; +0x07 hlt
 *   +0x1000 hlt ; +0x1010 mov eax, 5 ; ret
 * Page 2 is shared (run at Y and X), page 1 plain at X: the RET in page 2
 * goes back to a plain block, which its inline cache must compare by
 * EIP, not by distance from vbase: from Y the same distance is Y + 5,
 * which the plain block for X + 5 is not.
 */
START_TEST(shared_return_to_plain)
{
    static const uint8_t p1[] = { 0xE8, 0x0B, 0x10, 0x00, 0x00, 0x89, 0xC3, 0xF4 };
    static const uint8_t f[] = { 0xB8, 0x05, 0x00, 0x00, 0x00, 0xC3 };
    bth_put(&H, CODEP, p1, sizeof(p1));
    H.vm.ram[CODEP + 0x1000] = 0xF4;
    bth_put(&H, CODEP + 0x1010, f, sizeof(f));
    ck_assert_uint_eq(run_at(LIN_Y + 0x1000), LIN_Y + 0x1000);
    ck_assert_uint_eq(run_at(LIN_X + 0x1000), LIN_X + 0x1000);
    ck_assert_uint_eq(H.bt->st.shared_pages, 1);
    uint64_t table_hits = 0;
    for (int i = 0; i < 3; i++) {
        H.c->regs[CPU_EBX] = 0;
        ck_assert_uint_eq(run_at(LIN_X), LIN_X + 7);
        ck_assert_uint_eq(H.c->regs[CPU_EBX], 5);
        if (i == 1)
            table_hits = H.bt->st.ibtc_hits;
    }
    /* Filled by then, the RET's cache serves X without the table. */
    ck_assert_uint_ge(H.bt->st.icache_fills, 1);
    ck_assert_uint_eq(H.bt->st.ibtc_hits, table_hits);
    H.c->regs[CPU_EBX] = 0;
    ck_assert_uint_eq(run_at(LIN_Y), LIN_Y + 7);
    ck_assert_uint_eq(H.c->regs[CPU_EBX], 5);
}
END_TEST

/*
 * Code high in the address space (BT_SHARE_FROM and up, where Linux puts
 * shared libraries and the vDSO) is translated shared from its first run:
 * the same two pages at 0x40200000 (a second page table), then at X.
 */
#define PT_HIGH 0x102000u
#define LIN_H   0x40200000u

START_TEST(high_code_shared_at_once)
{
    put_two_pages();
    bth_wr32(&H, PD + 4 * (LIN_H >> 22), PT_HIGH | 7);
    bth_wr32(&H, PT_HIGH + 4 * ((LIN_H >> 12) & 0x3FF), CODEP | 7);
    bth_wr32(&H, PT_HIGH + 4 * (((LIN_H >> 12) + 1) & 0x3FF), (CODEP + 0x1000) | 7);
    check_run(LIN_H);
    ck_assert_uint_eq(H.bt->st.shared_pages, 2);
    uint64_t blocks = H.bt->st.blocks;
    check_run(LIN_X);
    ck_assert_uint_eq(H.bt->st.blocks, blocks);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("shared");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, one_address_stays_plain);
    tcase_add_test(tc, two_addresses_one_translation);
    tcase_add_test(tc, remapped_between_runs);
    tcase_add_test(tc, tombstone_behind_indirect_entry);
    tcase_add_test(tc, plain_into_shared_and_back);
    tcase_add_test(tc, shared_return_to_plain);
    tcase_add_test(tc, high_code_shared_at_once);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
