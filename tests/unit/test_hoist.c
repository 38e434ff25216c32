/*
 * tests/unit/test_hoist.c — loops whose access checks run once per entry
 * (bt/groups.c hoist, bt/translate.c): a block that jumps back to its own
 * start, whose group registers do not change in it, checks its groups
 * before the loop and then only asks, at each turn, whether an interrupt
 * waits or C ran (the bt_vcpu loop_dirty word, set by every C call out of
 * translated code). Through the real engine with paging on
 * (tests/unit/bt_harness.h), at CPL 0 (groups compared with R14) and at
 * CPL 3 (groups with a predicted addend of their own).
 */
#include <check.h>
#include <stdlib.h>

#include "bt/bt.h"
#include "tests/unit/bt_harness.h"

#define TSS    0x3000u
#define ESP0   0x90000u
#define HANDLR (BTH_CODE + 0x400u)
#define PD     0x100000u
#define PT     0x101000u
#define LIN    0x200000u  /* identity-mapped at first */
#define PHYS_B 0x300000u
#define NEXT_B 0x360000u  /* where LIN + 4 KiB goes in moving_base_checked_by_window */
#define STACK_B 0x350000u /* where linear page 0x7F goes in own_addend_hoisted_beside_stack */

static struct bth H;

static void setup(void)
{
    bth_init(&H, 0);
    bth_outer_ring(&H, TSS, ESP0, HANDLR); /* for the CPL 3 test */
    H.bt->count = true;
    bth_wr32(&H, PD, PT | 7);
    for (uint32_t p = 0; p < 1024; p++)
        bth_wr32(&H, PT + 4 * p, (p << 12) | 7);
    bth_wr32(&H, LIN, 3);
    bth_wr32(&H, LIN + 8, 4);
    bth_wr32(&H, PHYS_B, 10);
    bth_wr32(&H, PHYS_B + 8, 20);
    H.c->cr0 |= CPU_CR0_PG;
    H.c->cr3 = PD;
    ck_assert_int_eq(smmu_cr_write(&H.bt->mmu), 0);
}

static void teardown(void)
{
    bth_destroy(&H);
}

/* Runs code at CPL 3 up to its last byte, a HLT, which raises #GP there. */
static void run_user(const uint8_t *code, size_t n)
{
    bth_put(&H, BTH_CODE, code, n);
    H.c->cpl = 3;
    bth_run_hlt(&H);
    ck_assert_uint_eq(bth_rd32(&H, ESP0 - 20), BTH_CODE + n - 1); /* the #GP frame's EIP */
}

/*
 *    mov ebp, LIN ; mov ecx, 100 ; xor eax, eax
 * l: add eax, [ebp] ; add eax, [ebp + 8] ; dec ecx ; jnz l ; hlt
 */
START_TEST(invariant_base_hoisted)
{
    static const uint8_t code[] = {
        0xBD, 0x00, 0x00, 0x20, 0x00, 0xB9, 0x64, 0x00, 0x00, 0x00, 0x31, 0xC0,
        0x03, 0x45, 0x00, 0x03, 0x45, 0x08, 0x49, 0x75, 0xF7, 0xF4,
    };
    bth_put(&H, BTH_CODE, code, sizeof(code));
    bth_run_hlt(&H);
    ck_assert_uint_eq(H.c->regs[CPU_EAX], 100 * (3 + 4));
    ck_assert_uint_eq(H.bt->st.hoisted_loops, 1);
}
END_TEST

/*
 * The base walks an array, 4 bytes a turn, from one page onto the next,
 * which (at CPL 3) maps elsewhere: the check runs before the loop, each
 * turn compares EBP with the window that keeps [EBP, EBP + 12) on the
 * page checked, and the turn that leaves it goes back through the check.
 *    mov ebp, LIN + 0xF80 ; mov ecx, 100 ; xor eax, eax
 * l: add eax, [ebp] ; add eax, [ebp + 8] ; add ebp, 4 ; dec ecx ; jnz l ; hlt
 */
START_TEST(moving_base_checked_by_window)
{
    static const uint8_t code[] = {
        0xBD, 0x80, 0x0F, 0x20, 0x00, 0xB9, 0x64, 0x00, 0x00, 0x00, 0x31, 0xC0,
        0x03, 0x45, 0x00, 0x03, 0x45, 0x08, 0x83, 0xC5, 0x04, 0x49, 0x75, 0xF4, 0xF4,
    };
    bth_wr32(&H, PT + 4 * ((LIN >> 12) + 1), NEXT_B | 7);
    for (uint32_t i = 0; i < 102; i++) {
        uint32_t lin = LIN + 0xF80 + 4 * i;
        bth_wr32(&H, lin < LIN + 0x1000 ? lin : NEXT_B + (lin & 0xFFF), i);
    }
    run_user(code, sizeof(code));
    /* sum over i < 100 of (i + (i + 2)) */
    ck_assert_uint_eq(H.c->regs[CPU_EAX], 2 * (99 * 100 / 2) + 2 * 100);
    ck_assert_uint_eq(H.bt->st.hoisted_loops, 1);
}
END_TEST

/*
 * A list walk: the base is loaded at each turn, so its group is checked at
 * each turn. Two nodes on two pages, the second mapped elsewhere (CPL 3).
 *    mov ebx, LIN ; mov ecx, 10 ; xor eax, eax
 * l: add eax, [ebx] ; add eax, [ebx + 8] ; mov ebx, [ebx + 4] ; dec ecx ; jnz l
 *    hlt
 */
START_TEST(loaded_base_not_hoisted)
{
    static const uint8_t code[] = {
        0xBB, 0x00, 0x00, 0x20, 0x00, 0xB9, 0x0A, 0x00, 0x00, 0x00, 0x31, 0xC0,
        0x03, 0x03, 0x03, 0x43, 0x08, 0x8B, 0x5B, 0x04, 0x49, 0x75, 0xF5, 0xF4,
    };
    bth_wr32(&H, PT + 4 * ((LIN >> 12) + 1), NEXT_B | 7);
    bth_wr32(&H, LIN, 1);
    bth_wr32(&H, LIN + 4, LIN + 0x1000);
    bth_wr32(&H, LIN + 8, 2);
    bth_wr32(&H, NEXT_B, 10);
    bth_wr32(&H, NEXT_B + 4, LIN);
    bth_wr32(&H, NEXT_B + 8, 20);
    run_user(code, sizeof(code));
    ck_assert_uint_eq(H.c->regs[CPU_EAX], 5 * (1 + 2) + 5 * (10 + 20));
    ck_assert_uint_eq(H.bt->st.hoisted_loops, 0);
}
END_TEST

/*
 * Not a loop: a constant added to a register is followed for its use as
 * a base (one group before and after), never as an index — the two
 * accesses through [ESI + EAX] are two values, here on two pages (the
 * second mapped elsewhere, CPL 3). The first block fills LIN's entry, so
 * that the group's check passes.
 *    mov edi, [LIN] ; jmp l
 * l: mov esi, LIN ; mov eax, 0xFFF
 *    movzx ecx, byte [esi + eax] ; inc eax ; movzx edx, byte [esi + eax] ; hlt
 */
START_TEST(moved_index_is_a_new_value)
{
    static const uint8_t code[] = {
        0x8B, 0x3D, 0x00, 0x00, 0x20, 0x00, 0xEB, 0x00,
        0xBE, 0x00, 0x00, 0x20, 0x00, 0xB8, 0xFF, 0x0F, 0x00, 0x00,
        0x0F, 0xB6, 0x0C, 0x06, 0x40, 0x0F, 0xB6, 0x14, 0x06, 0xF4,
    };
    bth_wr32(&H, PT + 4 * ((LIN >> 12) + 1), NEXT_B | 7);
    bth_wr32(&H, LIN + 0xFFC, 0x11000000);
    bth_wr32(&H, NEXT_B, 0x22);
    run_user(code, sizeof(code));
    ck_assert_uint_eq(H.c->regs[CPU_ECX], 0x11);
    ck_assert_uint_eq(H.c->regs[CPU_EDX], 0x22);
}
END_TEST

/*
 * At CPL 3 a group other than the stack's has an addend of its own: it
 * moves out of the loop even while the stack group, whose ESP falls by 8
 * at each turn, stays in it (its check may move R14, and here does, as
 * the stack crosses onto a page mapped elsewhere).
 *    mov ebx, LIN ; mov ecx, 100 ; xor eax, eax
 * l: add eax, [ebx] ; add eax, [ebx + 8] ; push ecx ; push ecx ; dec ecx ; jnz l
 *    hlt
 */
START_TEST(own_addend_hoisted_beside_stack)
{
    static const uint8_t code[] = {
        0xBB, 0x00, 0x00, 0x20, 0x00, 0xB9, 0x64, 0x00, 0x00, 0x00, 0x31, 0xC0,
        0x03, 0x03, 0x03, 0x43, 0x08, 0x51, 0x51, 0x49, 0x75, 0xF6, 0xF4,
    };
    /* The stack falls from page 0x80 (identity) into page 0x7F, mapped
     * elsewhere: the stack group, checked at each turn, must follow. */
    bth_wr32(&H, PT + 4 * 0x7F, STACK_B | 7);
    H.c->regs[CPU_ESP] = 0x80100;
    run_user(code, sizeof(code));
    ck_assert_uint_eq(H.c->regs[CPU_EAX], 100 * (3 + 4));
    ck_assert_uint_eq(bth_rd32(&H, ESP0 - 8), 0x80100 - 800); /* ESP in the #GP frame */
    ck_assert_uint_eq(bth_rd32(&H, 0x80100 - 4), 100);
    ck_assert_uint_eq(bth_rd32(&H, STACK_B + 0xDE0), 1);       /* the last push */
    ck_assert_uint_eq(bth_rd32(&H, 0x7FDE0), 0);               /* not the identity page */
    ck_assert_uint_eq(H.bt->st.hoisted_loops, 1);
}
END_TEST

/*
 * C runs inside the loop and drops what the hoisted check checked: at
 * CPL 3, a store to the page table (a traced page: the store's slow path)
 * remaps LIN between its identity page and PHYS_B every second turn, and
 * the next turn must read the new page (a traced write drops the shadow
 * entry at once). That turn must check again: the group's predicted
 * addend, which the hoisted check left, would still read the old page.
 * The PTEs it writes have A set, as the walk left it: rewriting the same
 * value drops nothing, so the loop runs on between remaps. (After a few
 * such stores the store itself becomes a callout, bt_adaptive; the first
 * ones come through the loop.) HLT at CPL 3 ends it through #GP.
 *    mov ebp, LIN ; mov ecx, 10 ; xor eax, eax
 * l: add eax, [ebp] ; add eax, [ebp + 8] ; dec ecx
 *    mov edx, ecx ; shr edx, 1 ; and edx, 1 ; neg edx
 *    and edx, PHYS_B ^ LIN ; xor edx, LIN | 0x27
 *    mov [PT + 4 * (LIN >> 12)], edx ; test ecx, ecx ; jnz l ; hlt
 */
START_TEST(remap_in_loop_seen)
{
    static const uint8_t code[] = {
        0xBD, 0x00, 0x00, 0x20, 0x00, 0xB9, 0x0A, 0x00, 0x00, 0x00, 0x31, 0xC0,
        0x03, 0x45, 0x00, 0x03, 0x45, 0x08, 0x49,
        0x89, 0xCA, 0xD1, 0xEA, 0x83, 0xE2, 0x01, 0xF7, 0xDA, 0x81, 0xE2, 0x00, 0x00, 0x10, 0x00,
        0x81, 0xF2, 0x27, 0x00, 0x20, 0x00, 0x89, 0x15, 0x00, 0x18, 0x10, 0x00,
        0x85, 0xC9, 0x75, 0xDA, 0xF4,
    };
    run_user(code, sizeof(code));
    /* Turns with ECX (at their start) 7, 6, 3, 2 read PHYS_B, the other
     * six the identity page. */
    ck_assert_uint_eq(H.c->regs[CPU_EAX], 6 * (3 + 4) + 4 * (10 + 20));
    ck_assert_uint_eq(bth_rd32(&H, PT + 4 * (LIN >> 12)), LIN | 0x27);
    ck_assert_uint_ge(H.bt->st.hoisted_loops, 1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("hoist");
    TCase *tc = tcase_create("loops");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, invariant_base_hoisted);
    tcase_add_test(tc, moving_base_checked_by_window);
    tcase_add_test(tc, loaded_base_not_hoisted);
    tcase_add_test(tc, moved_index_is_a_new_value);
    tcase_add_test(tc, own_addend_hoisted_beside_stack);
    tcase_add_test(tc, remap_in_loop_seen);
    suite_add_tcase(s, tc);
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
