/*
 * tests/unit/test_pred.c — what the translator guesses and checks at run
 * time, through the real engine (tests/unit/bt_harness.h) at CPL 3 with
 * paging on: predicted addends of user-mode accesses (bt/emit_mem.c,
 * bt/groups.c, bt_pred_spent in bt/runtime.c), inlined PIC thunk calls and
 * the inline caches of indirect jumps (bt/emit_ctrl.c).
 *
 * Two linear pages map to guest-physical pages far apart, so their
 * addends differ. A load, a store and an access group alternate between
 * them: every access misses its prediction, the values must still come
 * from (and go to) the right page, and the sites must be made direct.
 * A site that stays on one page must keep its prediction.
 *
 * The test ends with HLT, which at CPL 3 raises #GP(0); the CPL-0 handler
 * (reached through a 32-bit TSS) halts.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt/bt.h"
#include "bt/runtime.h"
#include "shadowmmu/smmu.h"
#include "tests/unit/bt_harness.h"

#define TSS    0x3000u
#define ESP0   0x90000u
#define HANDLR (BTH_CODE + 0x400u)
#define PD     0x100000u
#define PT     0x101000u
#define LIN_A  0x200000u  /* → PHYS_A */
#define LIN_B  0x201000u  /* → PHYS_B */
#define PHYS_A 0x300000u
#define PHYS_B 0x250000u

static struct bth H;

static void setup_with(bool memfd)
{
    bth_init_with(&H, 0, memfd);
    bth_outer_ring(&H, TSS, ESP0, HANDLR);
    H.bt->count = true;      /* emitted code counts misses (--stats) */

    /* The first 4 MiB identity-mapped, user, writable; then LIN_A/LIN_B. */
    bth_wr32(&H, PD, PT | 7);
    for (uint32_t p = 0; p < 1024; p++)
        bth_wr32(&H, PT + 4 * p, (p << 12) | 7);
    bth_wr32(&H, PT + 4 * (LIN_A >> 12), PHYS_A | 7);
    bth_wr32(&H, PT + 4 * (LIN_B >> 12), PHYS_B | 7);
    bth_wr32(&H, PHYS_A, 5);
    bth_wr32(&H, PHYS_A + 8, 1000);
    bth_wr32(&H, PHYS_B, 7);
    bth_wr32(&H, PHYS_B + 8, 3000);
    H.c->cr0 |= CPU_CR0_PG;
    H.c->cr3 = PD;
    ck_assert_int_eq(smmu_cr_write(&H.bt->mmu), 0);
    H.c->cpl = 3;
}

static void setup(void)
{
    setup_with(false);
}

/* The same machine with guest RAM in a memfd, and a user window made for
 * its address space (as SMMU_WIN_TICKS warm ticks at CPL 3 make one). */
static void setup_window(void)
{
    setup_with(true);
    for (int i = 0; i < SMMU_WIN_TICKS; i++)
        smmu_window_tick(&H.bt->mmu, true);
    ck_assert(smmu_window_on(&H.bt->mmu));
}

static void teardown(void)
{
    bth_destroy(&H);
}

static uint64_t entry(int t, uint32_t lin)
{
    return H.bt->mmu.tlb[(size_t)t * SMMU_TLB_ENTRIES + (lin >> 12)];
}

/*
 *    mov ecx, 1000 ; xor eax, eax
 * l: mov ebx, ecx ; and ebx, MASK ; shl ebx, 12 ; mov edx, ebx ; mov esi, ebx
 *    add eax, [ebx + LIN_A]                       ; a single load   (+19)
 *    mov [edx + LIN_A + 4], ecx                   ; a single store  (+25)
 *    add eax, [esi + LIN_A] ; add eax, [esi + LIN_A + 8]   ; a group (+31)
 *    dec ecx ; jnz l ; hlt
 * MASK 1 alternates between the pages, MASK 0 stays on LIN_A.
 */
#define SITE_LOAD  (BTH_CODE + 19)
#define SITE_STORE (BTH_CODE + 25)
#define SITE_GROUP (BTH_CODE + 31)

static void run_loop(uint8_t mask)
{
    const uint8_t code[] = {
        0xB9, 0xE8, 0x03, 0x00, 0x00, 0x31, 0xC0,
        0x89, 0xCB, 0x83, 0xE3, mask, 0xC1, 0xE3, 0x0C, 0x89, 0xDA, 0x89, 0xDE,
        0x03, 0x83, 0x00, 0x00, 0x20, 0x00,
        0x89, 0x8A, 0x04, 0x00, 0x20, 0x00,
        0x03, 0x86, 0x00, 0x00, 0x20, 0x00,
        0x03, 0x86, 0x08, 0x00, 0x20, 0x00,
        0x49, 0x75, 0xD9, 0xF4,
    };
    bth_put(&H, BTH_CODE, code, sizeof(code));
    bth_run_hlt(&H);
    /* It ended at the HLT (the #GP frame's EIP), not somewhere else. */
    ck_assert_uint_eq(bth_rd32(&H, ESP0 - 20), BTH_CODE + sizeof(code) - 1);
}

START_TEST(alternating_pages_made_direct)
{
    run_loop(1);
    ck_assert_uint_eq(H.c->regs[CPU_EAX], 500 * (7 + 7 + 3000) + 500 * (5 + 5 + 1000));
    ck_assert_uint_eq(bth_rd32(&H, PHYS_B + 4), 1); /* last odd ECX */
    ck_assert_uint_eq(bth_rd32(&H, PHYS_A + 4), 2); /* last even ECX */
    ck_assert_uint_eq(bth_rd32(&H, LIN_A + 4), 0);  /* the identity page untouched */
    ck_assert_uint_ge(H.bt->st.pred_misses, 3 * 2 * BT_PRED_BUDGET);
    ck_assert_uint_eq(H.bt->st.pred_direct, 3);
    ck_assert(bt_pred_is_direct(H.bt, SITE_LOAD));
    ck_assert(bt_pred_is_direct(H.bt, SITE_STORE));
    ck_assert(bt_pred_is_direct(H.bt, SITE_GROUP));
}
END_TEST

START_TEST(one_page_keeps_prediction)
{
    run_loop(0);
    ck_assert_uint_eq(H.c->regs[CPU_EAX], 1000 * (5 + 5 + 1000));
    ck_assert_uint_eq(bth_rd32(&H, PHYS_A + 4), 1);
    /* One first miss per site, at most. */
    ck_assert_uint_ge(H.bt->st.pred_sites, 3);
    ck_assert_uint_le(H.bt->st.pred_misses, H.bt->st.pred_sites);
    ck_assert_uint_eq(H.bt->st.pred_direct, 0);
    ck_assert(!bt_pred_is_direct(H.bt, SITE_LOAD));
}
END_TEST

/*
 * A call to "mov ebx, [esp] ; ret" (i386 PIC code's get_pc_thunk) runs as
 * "push ; pop ; mov ebx, next" once the thunk's page is known executable
 * (bt/emit_ctrl.c). The thunk T sits in the next page. The first call is
 * translated before T ran (a real call); the second after, so inlined.
 * Then the guest rewrites T to load ESI and runs the block of the second
 * call again: the inlined form must notice and call the new T.
 *   +0  call T ; mov edi, ebx
 *   +7  call T ; mov eax, ebx
 *   +14 test ecx, ecx ; jnz +30 ; inc ecx ; xor ebx, ebx
 *   +21 mov byte [T + 1], 0x34 ; jmp +5
 *   +30 hlt
 *   T:  mov ebx, [esp] ; ret
 */
#define THUNK (BTH_CODE + 0x1000u)

START_TEST(pc_thunk_inlined)
{
    const uint8_t code[] = {
        0xE8, 0xFB, 0x0F, 0x00, 0x00, 0x89, 0xDF,
        0xE8, 0xF4, 0x0F, 0x00, 0x00, 0x89, 0xD8,
        0x85, 0xC9, 0x75, 0x0C, 0x41, 0x31, 0xDB,
        0xC6, 0x05, (THUNK + 1) & 0xFF, (THUNK + 1) >> 8 & 0xFF, (THUNK + 1) >> 16 & 0xFF, 0x00, 0x34,
        0xEB, 0xE7,
        0xF4,
    };
    bth_put(&H, BTH_CODE, code, sizeof(code));
    bth_put(&H, THUNK, (const uint8_t[]){ 0x8B, 0x1C, 0x24, 0xC3 }, 4);
    H.c->regs[CPU_ECX] = 0;
    H.c->regs[CPU_ESI] = 0;
    bth_run_hlt(&H);
    ck_assert_uint_eq(bth_rd32(&H, ESP0 - 20), BTH_CODE + 30); /* ended at the HLT */
    ck_assert_uint_eq(H.c->regs[CPU_EDI], 0);               /* EBX, zeroed, on the second pass */
    ck_assert_uint_eq(H.c->regs[CPU_ESI], BTH_CODE + 12);  /* the rewritten thunk ran */
    ck_assert_uint_eq(H.c->regs[CPU_EAX], 0);
    ck_assert_uint_eq(bth_rd32(&H, ESP0 - 8), BTH_STACK);  /* the #GP frame's ESP: balanced */
    ck_assert_uint_eq(bth_rd32(&H, BTH_STACK - 4), BTH_CODE + 12); /* the return address below it */
    ck_assert_uint_ge(H.bt->st.pc_thunks, 1);
}
END_TEST

/*
 * An indirect jump's inline cache (bt/emit_ctrl.c, filled by engine.c):
 * F's RET is first met returning to +12, which it then jumps to directly;
 * returns to +20 must still take the table.
 *   +0  mov ecx, 100 ; xor eax, eax
 *   +7  call F ; add eax, 1
 *   +15 call F ; add eax, 0x100
 *   +25 dec ecx ; jnz +7 ; hlt ; nop
 *   +30 F: add eax, 0x10000 ; ret
 */
/*
 * A stack group's check compares its page's entry with R14, the stack
 * page's addend as of the last entry from C (bt/groups.c). Here a loop
 * switches between two stacks on different pages (LIN_B, another
 * guest-physical page, and the identity-mapped one) without leaving the
 * code cache:
 *      mov esp, LIN_B + 0x800 ; mov esi, 0x7FF00 ; mov ecx, 100
 *   l: push ecx ; push ecx ; pop eax ; pop edx ; add ebx, eax
 *      xchg esp, esi ; dec ecx ; jnz l ; hlt
 * Each group's page is mapped, so it moves R14 there and goes on (before,
 * every other pass failed over to the safe translation). The first touch
 * of each page still does (its entry is empty).
 */
START_TEST(stack_group_follows_esp)
{
    const uint8_t code[] = {
        0xBC, 0x00, 0x18, 0x20, 0x00, 0xBE, 0x00, 0xFF, 0x07, 0x00, 0xB9, 0x64, 0x00, 0x00, 0x00,
        0x51, 0x51, 0x58, 0x5A, 0x01, 0xC3, 0x87, 0xF4, 0x49, 0x75, 0xF5, 0xF4,
    };
    bth_put(&H, BTH_CODE, code, sizeof(code));
    H.c->regs[CPU_EBX] = 0;
    bth_run_hlt(&H);
    ck_assert_uint_eq(bth_rd32(&H, ESP0 - 20), BTH_CODE + sizeof(code) - 1);
    ck_assert_uint_eq(H.c->regs[CPU_EBX], 5050);
    ck_assert_uint_ge(H.bt->st.stack_rebases, 90);
    ck_assert_uint_eq(bth_rd32(&H, PHYS_B + 0x7FC), 2);   /* LIN_B's stack took the even passes */
    ck_assert_uint_eq(bth_rd32(&H, 0x7FF00 - 4), 1);      /* the identity page's the odd ones */
}
END_TEST

/*
 * In a window (BT_KEY_UWIN) every group compares with R14 and uses it, so a
 * stack group must not move R14 (bt/groups.c rebase_ok). The block enters
 * with ESP on LIN_B (R14 = the window's base), checks an EBP group on LIN_A
 * against it, moves ESP to the identity page (below 1 MiB: never in a
 * window, an addend of its own) and pushes twice (a stack group), then
 * reads the EBP group's second word. Had the stack group moved R14 to the
 * identity page's addend, that read would come from guest-physical LIN_A + 4
 * (0x2222) instead of PHYS_A + 4 (0x1111).
 *      mov ebx, [ebp] ; mov esp, 0x7F800 ; push ebx ; push ebx
 *      mov ecx, [ebp+4] ; hlt
 */
START_TEST(window_stack_group_keeps_r14)
{
    const uint8_t code[] = {
        0x8B, 0x5D, 0x00, 0xBC, 0x00, 0xF8, 0x07, 0x00, 0x53, 0x53, 0x8B, 0x4D, 0x04, 0xF4,
    };
    bool f;
    bth_wr32(&H, PHYS_A + 4, 0x1111);
    bth_wr32(&H, LIN_A + 4, 0x2222);
    ck_assert_ptr_nonnull(smmu_fill(&H.bt->mmu, LIN_A, SMMU_ACC_U, &f));
    ck_assert_ptr_nonnull(smmu_fill(&H.bt->mmu, LIN_B + 0x7FC, SMMU_ACC_U | SMMU_ACC_W, &f));
    ck_assert_ptr_nonnull(smmu_fill(&H.bt->mmu, 0x7F7FC, SMMU_ACC_U | SMMU_ACC_W, &f));
    uint64_t win = entry(SMMU_T_UR, LIN_A);
    ck_assert_uint_eq(entry(SMMU_T_UR, LIN_B), win);
    ck_assert_uint_ne(entry(SMMU_T_UW, 0x7F000), win); /* the identity page: its own addend */
    bth_put(&H, BTH_CODE, code, sizeof(code));
    H.c->regs[CPU_EBP] = LIN_A;
    H.c->regs[CPU_ESP] = LIN_B + 0x800;
    bth_run_hlt(&H);
    ck_assert_uint_eq(bth_rd32(&H, ESP0 - 20), BTH_CODE + sizeof(code) - 1);
    ck_assert_uint_eq(H.c->regs[CPU_ECX], 0x1111);
    ck_assert_uint_eq(bth_rd32(&H, 0x7F7F8), 5);
    ck_assert_uint_eq(bth_rd32(&H, 0x7F7FC), 5);
}
END_TEST

/*
 * A frame across a page boundary (bt/groups.c split_by_page): f pushes
 * eight words from ESP = 0x20100C, three on LIN_B and five on LIN_A, reads
 * two back and returns — one stack group whose check fails on every
 * call, the two ends being on different pages. The SAFE translation it
 * leaves for groups the accesses by the page each touched: two groups that
 * pass, each moving R14 to its page (two stack rebases a call), where an
 * unsplit SAFE translation would have none and check every access.
 *      mov esp, 0x201010 ; mov ecx, 100 ; xor ebx, ebx
 *   l: call f ; dec ecx ; jnz l ; hlt
 *   f: push ecx (x8) ; mov eax, [esp+28] ; add ebx, eax ; mov eax, [esp]
 *      add ebx, eax ; add esp, 32 ; ret
 */
START_TEST(safe_splits_stack_by_page)
{
    uint8_t code[64] = {
        0xBC, 0x10, 0x10, 0x20, 0x00, 0xB9, 0x64, 0x00, 0x00, 0x00, 0x31, 0xDB,
        0xE8, 0x04, 0x00, 0x00, 0x00, 0x49, 0x75, 0xF8, 0xF4,
        0x51, 0x51, 0x51, 0x51, 0x51, 0x51, 0x51, 0x51,
        0x8B, 0x44, 0x24, 0x1C, 0x01, 0xC3, 0x8B, 0x04, 0x24, 0x01, 0xC3, 0x83, 0xC4, 0x20, 0xC3,
    };
    bth_put(&H, BTH_CODE, code, sizeof(code));
    bth_run_hlt(&H);
    ck_assert_uint_eq(bth_rd32(&H, ESP0 - 20), BTH_CODE + 20); /* ended at the HLT */
    ck_assert_uint_eq(H.c->regs[CPU_EBX], 2u * 5050u);
    ck_assert_uint_eq(bth_rd32(&H, PHYS_B + 0x000), 1);  /* the last call's third push, on LIN_B */
    ck_assert_uint_eq(bth_rd32(&H, PHYS_A + 0xFEC), 1);  /* its eighth, on LIN_A */
    /* The first call meets empty entries (SAFE, then SAFE2 fills them,
     * once for each part);
     * every later one goes from the failed check to the split groups. */
    ck_assert_uint_ge(H.bt->st.exits[BT_EXIT_SAFE], 1);
    ck_assert_uint_le(H.bt->st.exits[BT_EXIT_SAFE2], 2);
    ck_assert_uint_ge(H.bt->st.stack_rebases, 2 * 98);
}
END_TEST

/*
 * The same f called at two depths whose frames cross the boundary at
 * different places: the SAFE translation split for the first depth fails
 * its first check at the second and is split again for it (engine.c
 * safe2_or_resplit) rather than given up for one without groups.
 *      mov esp, 0x201010 ; mov ecx, 50 ; xor ebx, ebx
 *  l1: call f ; dec ecx ; jnz l1
 *      mov esp, 0x201008 ; mov ecx, 50
 *  l2: call f ; dec ecx ; jnz l2 ; hlt
 */
START_TEST(safe_split_again_for_new_esp)
{
    uint8_t code[96] = {
        0xBC, 0x10, 0x10, 0x20, 0x00, 0xB9, 0x32, 0x00, 0x00, 0x00, 0x31, 0xDB,
        0xE8, 0x13, 0x00, 0x00, 0x00, 0x49, 0x75, 0xF8,
        0xBC, 0x08, 0x10, 0x20, 0x00, 0xB9, 0x32, 0x00, 0x00, 0x00,
        0xE8, 0x01, 0x00, 0x00, 0x00, 0x49, 0x75, 0xF8, 0xF4,
    };
    /* f at BTH_CODE + 36 (l1's call: rel from +17; l2's from +35). */
    const uint8_t f[] = {
        0x51, 0x51, 0x51, 0x51, 0x51, 0x51, 0x51, 0x51,
        0x8B, 0x44, 0x24, 0x1C, 0x01, 0xC3, 0x8B, 0x04, 0x24, 0x01, 0xC3, 0x83, 0xC4, 0x20, 0xC3,
    };
    memcpy(code + 40, f, sizeof(f));
    uint32_t r1 = 40 - 17, r2 = 40 - 35;
    memcpy(code + 13, &r1, 4);
    memcpy(code + 31, &r2, 4);
    bth_put(&H, BTH_CODE, code, sizeof(code));
    bth_run_hlt(&H);
    ck_assert_uint_eq(bth_rd32(&H, ESP0 - 20), BTH_CODE + 38); /* ended at the HLT */
    ck_assert_uint_eq(H.c->regs[CPU_EBX], 4u * 1275u);
    ck_assert_uint_ge(H.bt->st.resplits, 1);
    ck_assert_uint_le(H.bt->st.exits[BT_EXIT_SAFE2], 3);
}
END_TEST

START_TEST(ret_inline_cache)
{
    const uint8_t code[] = {
        0xB9, 0x64, 0x00, 0x00, 0x00, 0x31, 0xC0,
        0xE8, 0x12, 0x00, 0x00, 0x00, 0x83, 0xC0, 0x01,
        0xE8, 0x0A, 0x00, 0x00, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00,
        0x49, 0x75, 0xEB, 0xF4, 0x90,
        0x05, 0x00, 0x00, 0x01, 0x00, 0xC3,
    };
    bth_put(&H, BTH_CODE, code, sizeof(code));
    bth_run_hlt(&H);
    ck_assert_uint_eq(bth_rd32(&H, ESP0 - 20), BTH_CODE + 28); /* ended at the HLT */
    ck_assert_uint_eq(H.c->regs[CPU_EAX], 100u * (2u * 0x10000u + 1u + 0x100u));
    ck_assert_uint_eq(bth_rd32(&H, ESP0 - 8), BTH_STACK);
    ck_assert_uint_ge(H.bt->st.icache_fills, 1);
}
END_TEST

/*
 * Accesses through the same base and index registers form one group
 * (bt/groups.c): one check, then each access at [R10 + addend] with its
 * 32-bit address in R10D. The address wraps at 4 GiB like the guest's:
 * 0xF0200100 + 0x10000000 is LIN_A + 0x100.
 *      mov ecx, 3
 *   l: mov ebx, 0xF0200100 ; mov esi, 0x10000000
 *      mov eax, [ebx+esi] ; add eax, [ebx+esi+8] ; mov [ebx+esi+4], eax
 *      dec ecx ; jnz l ; hlt
 * The first block's group check meets an empty entry and leaves for the
 * safe translation (three sites of its own), which fills it; the loop's
 * block then runs its group with the entry learned: 1 + 3 + 1 sites.
 * Without indexed groups it would be 3 + 3 and no safe exit.
 */
START_TEST(indexed_group_wraps)
{
    bth_wr32(&H, PHYS_A + 0x100, 11);
    bth_wr32(&H, PHYS_A + 0x108, 22);
    const uint8_t code[] = {
        0xB9, 0x03, 0x00, 0x00, 0x00,
        0xBB, 0x00, 0x01, 0x20, 0xF0, 0xBE, 0x00, 0x00, 0x00, 0x10,
        0x8B, 0x04, 0x33, 0x03, 0x44, 0x33, 0x08, 0x89, 0x44, 0x33, 0x04,
        0x49, 0x75, 0xE8, 0xF4,
    };
    static uint8_t nops[128];
    memset(nops, 0x90, sizeof(nops)); /* what the block goes on to decode after HLT: no accesses */
    bth_put(&H, BTH_CODE + sizeof(code), nops, sizeof(nops));
    bth_put(&H, BTH_CODE, code, sizeof(code));
    bth_run_hlt(&H);
    ck_assert_uint_eq(bth_rd32(&H, ESP0 - 20), BTH_CODE + sizeof(code) - 1);
    ck_assert_uint_eq(H.c->regs[CPU_EAX], 33);
    ck_assert_uint_eq(bth_rd32(&H, PHYS_A + 0x104), 33);
    ck_assert_uint_eq(H.bt->st.exits[BT_EXIT_SAFE], 1);
    ck_assert_uint_eq(H.bt->st.pred_sites, 5);
}
END_TEST

/*
 * An indexed group whose range crosses from LIN_A into LIN_B (pages with
 * different addends): its check fails and the safe translation reads each
 * word from its own page.
 *   mov ebx, LIN_A + 0xFFC ; xor esi, esi
 *   mov edx, [ebx+esi] ; add edx, [ebx+esi+4] ; mov [ebx+esi+4], edx ; hlt
 */
START_TEST(indexed_group_crosses)
{
    bth_wr32(&H, PHYS_A + 0xFFC, 100);
    const uint8_t code[] = {
        0xBB, 0xFC, 0x0F, 0x20, 0x00, 0x31, 0xF6,
        0x8B, 0x14, 0x33, 0x03, 0x54, 0x33, 0x04, 0x89, 0x54, 0x33, 0x04,
        0xF4,
    };
    bth_put(&H, BTH_CODE, code, sizeof(code));
    bth_run_hlt(&H);
    ck_assert_uint_eq(bth_rd32(&H, ESP0 - 20), BTH_CODE + sizeof(code) - 1);
    ck_assert_uint_eq(H.c->regs[CPU_EDX], 107);     /* PHYS_B holds 7 */
    ck_assert_uint_eq(bth_rd32(&H, PHYS_B), 107);
    ck_assert_uint_eq(bth_rd32(&H, PHYS_A + 0x1000), 0); /* not the physical neighbour */
    ck_assert_uint_ge(H.bt->st.exits[BT_EXIT_SAFE], 1);
}
END_TEST

/*
 * A group through a plain base (no index) is checked with the low end in
 * 32 bits and the high end in 64 (bt/groups.c): a range that wraps past 0
 * or 4 GiB cannot pass, so the covered accesses ([base + addend + d], no
 * 32-bit wrap) never meet one. Both go to the safe translation, whose
 * accesses wrap like the guest's:
 *   mov ebx, 0x10 ; mov eax, [ebx-0x20] ; add eax, [ebx-0x1c] ; mov [ebx-0x18], eax
 *   mov ebx, 0xFFFFFFF0 ; mov edx, [ebx+0x10] ; add edx, [ebx+0x14] ; mov [ebx+0x18], edx ; hlt
 * The first three reach the top page (LIN 0xFFFFF000 → PHYS_T), the last
 * three page 0 (identity).
 */
START_TEST(group_wraps_at_4gib)
{
    const uint32_t pt2 = 0x102000u, phys_t = 0x280000u;
    bth_wr32(&H, PD + 4 * 1023, pt2 | 7);
    bth_wr32(&H, pt2 + 4 * 1023, phys_t | 7);
    bth_wr32(&H, phys_t + 0xFF0, 30);
    bth_wr32(&H, phys_t + 0xFF4, 12);
    bth_wr32(&H, 0x0, 500);
    bth_wr32(&H, 0x4, 55);
    const uint8_t code[] = {
        0xB9, 0x03, 0x00, 0x00, 0x00,
        0xBB, 0x10, 0x00, 0x00, 0x00, 0x8B, 0x43, 0xE0, 0x03, 0x43, 0xE4, 0x89, 0x43, 0xE8,
        0xBB, 0xF0, 0xFF, 0xFF, 0xFF, 0x8B, 0x53, 0x10, 0x03, 0x53, 0x14, 0x89, 0x53, 0x18,
        0x49, 0x75, 0xE1, 0xF4,
    };
    static uint8_t nops[128];
    memset(nops, 0x90, sizeof(nops));
    bth_put(&H, BTH_CODE + sizeof(code), nops, sizeof(nops));
    bth_put(&H, BTH_CODE, code, sizeof(code));
    bth_run_hlt(&H);
    ck_assert_uint_eq(bth_rd32(&H, ESP0 - 20), BTH_CODE + sizeof(code) - 1);
    ck_assert_uint_eq(H.c->regs[CPU_EAX], 42);
    ck_assert_uint_eq(bth_rd32(&H, phys_t + 0xFF8), 42);
    ck_assert_uint_eq(H.c->regs[CPU_EDX], 555);
    ck_assert_uint_eq(bth_rd32(&H, 0x8), 555);
    ck_assert_uint_ge(H.bt->st.exits[BT_EXIT_SAFE], 1);
}
END_TEST

/*
 * A user-mode group's addend stays in R11 from one covered access to the
 * next while nothing writes R11, and is loaded again after something did:
 * here a single access on LIN_B, whose predicted addend goes through R11.
 * Three turns: the first learns the pages (its group check meets an empty
 * entry and leaves for the safe translation), the others run the group.
 *   mov ebp, 3 ; xor esi, esi
 * l: mov edi, LIN_A ; mov ebx, LIN_B
 *    mov eax, [edi] ; mov ecx, [edi+8]   ; the group, R11 from its check
 *    mov edx, [ebx]                      ; R11 = LIN_B's addend
 *    add eax, [edi+8]                    ; LIN_A's again
 *    add esi, eax ; dec ebp ; jnz l ; hlt
 */
START_TEST(group_addend_reloaded_after_r11_written)
{
    const uint8_t code[] = {
        0xBD, 0x03, 0x00, 0x00, 0x00, 0x31, 0xF6,
        0xBF, 0x00, 0x00, 0x20, 0x00, 0xBB, 0x00, 0x10, 0x20, 0x00,
        0x8B, 0x07, 0x8B, 0x4F, 0x08, 0x8B, 0x13, 0x03, 0x47, 0x08,
        0x01, 0xC6, 0x4D, 0x75, 0xE7, 0xF4,
    };
    bth_put(&H, BTH_CODE, code, sizeof(code));
    bth_run_hlt(&H);
    ck_assert_uint_eq(bth_rd32(&H, ESP0 - 20), BTH_CODE + sizeof(code) - 1);
    ck_assert_uint_eq(H.c->regs[CPU_ECX], 1000);
    ck_assert_uint_eq(H.c->regs[CPU_EDX], 7);
    ck_assert_uint_eq(H.c->regs[CPU_ESI], 3 * (5 + 1000));
}
END_TEST

/*
 * A forward jump is chained past its target's async check (translate.c,
 * engine.c); when the target is invalidated, that entry must lead to the
 * new translation too (the tombstone covers it, bt/blocks.c).
 *   +0  mov ecx, 3 ; xor ebx, ebx
 *   +7  l: jmp T                          (forward)
 *   +16 T: mov eax, 1 ; jmp W
 *   +26 W: add ebx, eax ; inc byte [T + 1] ; dec ecx ; jnz l ; hlt
 * T's immediate goes 1, 2, 3: EBX = 6. The jump at l is chained on the
 * second pass (to T as rewritten once) and must not run that T on the
 * third (EBX = 5).
 */
START_TEST(forward_entry_after_rewrite)
{
    const uint32_t imm = BTH_CODE + 17;
    const uint8_t code[] = {
        0xB9, 0x03, 0x00, 0x00, 0x00, 0x31, 0xDB,
        0xEB, 0x07, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90,
        0xB8, 0x01, 0x00, 0x00, 0x00, 0xEB, 0x03, 0x90, 0x90, 0x90,
        0x01, 0xC3,
        0xFE, 0x05, imm & 0xFF, imm >> 8 & 0xFF, imm >> 16 & 0xFF, imm >> 24,
        0x49, 0x75, 0xE2, 0xF4,
    };
    bth_put(&H, BTH_CODE, code, sizeof(code));
    bth_run_hlt(&H);
    ck_assert_uint_eq(bth_rd32(&H, ESP0 - 20), BTH_CODE + sizeof(code) - 1);
    ck_assert_uint_eq(H.c->regs[CPU_EBX], 6);
    ck_assert_uint_ge(H.bt->st.exits[BT_EXIT_STALE], 1); /* an old T was reached, and left */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pred");
    TCase *tc = tcase_create("pred");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, alternating_pages_made_direct);
    tcase_add_test(tc, one_page_keeps_prediction);
    tcase_add_test(tc, pc_thunk_inlined);
    tcase_add_test(tc, ret_inline_cache);
    tcase_add_test(tc, stack_group_follows_esp);
    tcase_add_test(tc, safe_splits_stack_by_page);
    tcase_add_test(tc, safe_split_again_for_new_esp);
    tcase_add_test(tc, indexed_group_wraps);
    tcase_add_test(tc, indexed_group_crosses);
    tcase_add_test(tc, group_wraps_at_4gib);
    tcase_add_test(tc, forward_entry_after_rewrite);
    tcase_add_test(tc, group_addend_reloaded_after_r11_written);
    suite_add_tcase(s, tc);
    TCase *tw = tcase_create("window");
    tcase_add_checked_fixture(tw, setup_window, teardown);
    tcase_add_test(tw, window_stack_group_keeps_r14);
    suite_add_tcase(s, tw);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
