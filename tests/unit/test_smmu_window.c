/*
 * tests/unit/test_smmu_window.c — user windows (shadowmmu/window.c): an
 * address space that took SMMU_WIN_TICKS interrupts at CPL 3 gets its user
 * pages mapped at window + linear, and its user entries all hold the
 * window's base. Guest RAM is a real memfd (vm_ram_create), as a window
 * maps it; the tables are inspected entry by entry and every window page
 * is checked to be the same memory as the guest-physical page the guest's
 * tables name.
 */
#define RAM (8u << 20)
#include "smmu_memfd_harness.h"

#include <stdio.h>

#define PD_A  0x110000u
#define PT_A  0x111000u
#define PD_B  0x130000u
#define PT_B  0x131000u
#define DATA  0x200000u
#define DATA2 0x210000u
#define DATA3 0x250000u
#define LOW   0x0009F000u /* below 1 MiB: never in a window */
#define LIN   0x00405000u
#define LIN2  0x00406000u

#define ON 0x12345678ull

static uint64_t flag;

static void setup(void)
{
    harness_setup();
    flag = 0xdead;
    smmu_window_enable(&m, vm.ram_fd, &flag, ON);
}

#define ENT(t, lin) tables[(size_t)(t) * SMMU_TLB_ENTRIES + ((uint32_t)(lin) >> 12)]
static uint64_t addend(uint32_t phys, uint32_t lin)
{
    return (uint64_t)(uintptr_t)(vm.ram + phys) - lin;
}

static void map32(uint32_t pd, uint32_t pt, uint32_t lin, uint32_t phys)
{
    wr32(pde_at(pd, lin), pt | P | W | U);
    wr32(pte_at(pt, lin), phys | P | W | U);
}

static void load_cr3(uint32_t cr3)
{
    c->cr0 = CPU_CR0_PE | CPU_CR0_PG | CPU_CR0_WP;
    c->cr3 = cr3;
    ck_assert_int_eq(smmu_cr_write(&m), 0);
}

static void fill_user(uint32_t lin, bool write)
{
    bool fault = false;
    ck_assert_ptr_nonnull(smmu_fill(&m, lin, SMMU_ACC_U | (write ? SMMU_ACC_W : 0), &fault));
    ck_assert(!fault);
}

static void ticks(unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        smmu_window_tick(&m, true);
}

/* The host page an entry leads to is guest-physical page phys: a write
 * through one shows in the other, both ways. */
static void assert_aliases(uint64_t e, uint32_t lin, uint32_t phys)
{
    volatile uint32_t *h = (volatile uint32_t *)(uintptr_t)(e + lin + 0x40);
    uint32_t v;
    *h = 0xA5A50000u ^ lin;
    memcpy(&v, vm.ram + phys + 0x40, 4);
    ck_assert_uint_eq(v, 0xA5A50000u ^ lin);
    wr32(phys + 0x44, 0x5A5A0000u ^ phys);
    ck_assert_uint_eq(h[1], 0x5A5A0000u ^ phys);
}

START_TEST(window_after_ticks)
{
    map32(PD_A, PT_A, LIN, DATA);
    load_cr3(PD_A);
    ck_assert_uint_eq(flag, 0);
    fill_user(LIN, true);
    ck_assert_uint_eq(ENT(SMMU_T_UR, LIN), addend(DATA, LIN));
    ticks(SMMU_WIN_TICKS - 1);
    ck_assert(!smmu_window_on(&m));
    ck_assert_uint_eq(flag, 0);
    ck_assert_uint_eq(ENT(SMMU_T_UW, LIN), addend(DATA, LIN));
    ticks(1);
    ck_assert(smmu_window_on(&m));
    ck_assert_uint_eq(flag, ON);
    ck_assert_uint_eq(m.stats.win_made, 1);
    /* Its loaded user entries moved to the window; supervisor ones stay. */
    uint64_t w = ENT(SMMU_T_UR, LIN);
    ck_assert_uint_ne(w, addend(DATA, LIN));
    ck_assert_uint_eq(ENT(SMMU_T_UW, LIN), w);
    ck_assert_uint_eq(ENT(SMMU_T_SR, LIN), addend(DATA, LIN));
    ck_assert_uint_eq(ENT(SMMU_T_SW, LIN), addend(DATA, LIN));
    assert_aliases(w, LIN, DATA);
    /* A new page of the space: same addend, its own page behind it. */
    map32(PD_A, PT_A, LIN2, DATA2);
    fill_user(LIN2, false);
    ck_assert_uint_eq(ENT(SMMU_T_UR, LIN2), w);
    assert_aliases(w, LIN2, DATA2);
    uint64_t phys = 0;
    ck_assert(smmu_translate(&m, LIN2 + 0x123, SMMU_ACC_U, &phys));
    ck_assert_uint_eq(phys, DATA2 + 0x123);
    ck_assert_uint_eq(smmu_audit(&m, 0, SMMU_TLB_ENTRIES), 0);
    ck_assert_uint_eq(m.stats.win_maps, 2);
}
END_TEST

/* The guest points the page elsewhere: the next entry for it maps the new
 * guest-physical page at the same place in the window. */
START_TEST(window_follows_a_changed_pte)
{
    map32(PD_A, PT_A, LIN, DATA);
    load_cr3(PD_A);
    fill_user(LIN, false);
    ticks(SMMU_WIN_TICKS);
    uint64_t w = ENT(SMMU_T_UR, LIN);
    assert_aliases(w, LIN, DATA);
    /* (PT_A is not mapped linearly here: the PTE written behind the
     * MMU's back, then INVLPG, as a kernel does.) */
    wr32(pte_at(PT_A, LIN), DATA3 | P | W | U);
    smmu_invlpg(&m, LIN);
    ck_assert_uint_eq(ENT(SMMU_T_UR, LIN), 0);
    fill_user(LIN, true);
    ck_assert_uint_eq(ENT(SMMU_T_UR, LIN), w);
    ck_assert_uint_eq(ENT(SMMU_T_UW, LIN), w);
    assert_aliases(w, LIN, DATA3);
    uint64_t phys = 0;
    ck_assert(smmu_translate(&m, LIN + 8, SMMU_ACC_U | SMMU_ACC_W, &phys));
    ck_assert_uint_eq(phys, DATA3 + 8);
    /* Back to DATA: mapped again, and DATA3 is not what it shows. */
    wr32(pte_at(PT_A, LIN), DATA | P | W | U);
    smmu_invlpg(&m, LIN);
    fill_user(LIN, false);
    assert_aliases(w, LIN, DATA);
    ck_assert_uint_eq(m.stats.win_maps, 3);
}
END_TEST

/* A switch away and back: the other space has no window (ordinary
 * addends, flag 0); coming back needs no host call. */
START_TEST(window_per_space)
{
    map32(PD_A, PT_A, LIN, DATA);
    map32(PD_B, PT_B, LIN, DATA2);
    load_cr3(PD_A);
    fill_user(LIN, true);
    ticks(SMMU_WIN_TICKS);
    uint64_t w = ENT(SMMU_T_UW, LIN);
    uint64_t maps = m.stats.win_maps;
    load_cr3(PD_B);
    ck_assert_uint_eq(flag, 0);
    fill_user(LIN, true);
    ck_assert_uint_eq(ENT(SMMU_T_UW, LIN), addend(DATA2, LIN));
    load_cr3(PD_A);
    ck_assert_uint_eq(flag, ON);
    ck_assert_uint_eq(ENT(SMMU_T_UW, LIN), w);
    ck_assert_uint_eq(m.stats.win_maps, maps);
    assert_aliases(w, LIN, DATA);
    /* Ticks taken in B count for B alone. */
    load_cr3(PD_B);
    ticks(SMMU_WIN_TICKS - 1);
    ck_assert(!smmu_window_on(&m));
}
END_TEST

START_TEST(window_leaves_low_pages_out)
{
    map32(PD_A, PT_A, LIN, LOW);
    load_cr3(PD_A);
    fill_user(LIN, false);
    ticks(SMMU_WIN_TICKS);
    ck_assert(smmu_window_on(&m));
    ck_assert_uint_eq(ENT(SMMU_T_UR, LIN), addend(LOW, LIN));
    ck_assert_uint_eq(m.stats.win_maps, 0);
}
END_TEST

/* More long-running spaces than windows: the one used least recently
 * gives its window up, and its entries go back to ordinary addends. */
START_TEST(window_taken_from_the_oldest)
{
    map32(PD_A, PT_A, LIN, DATA);
    for (unsigned i = 0; i <= SMMU_WIN_MAX; i++)
        wr32(pde_at(0x140000 + i * 0x1000, LIN), PT_A | P | W | U);
    for (unsigned i = 0; i <= SMMU_WIN_MAX; i++) {
        load_cr3(0x140000 + i * 0x1000);
        fill_user(LIN, false);
        ticks(SMMU_WIN_TICKS);
        ck_assert(smmu_window_on(&m));
        assert_aliases(ENT(SMMU_T_UR, LIN), LIN, DATA);
    }
    ck_assert_uint_eq(m.stats.win_made, SMMU_WIN_MAX + 1);
    ck_assert_uint_eq(m.stats.win_dropped, 1);
    ck_assert_uint_eq(m.win_count, SMMU_WIN_MAX);
    load_cr3(0x140000);
    ck_assert_uint_eq(flag, 0);
    ck_assert_uint_eq(ENT(SMMU_T_UR, LIN), addend(DATA, LIN));
    load_cr3(0x141000);
    ck_assert_uint_eq(flag, ON);
}
END_TEST

/* A global page's entries belong to no one space (they stay loaded
 * across CR3 loads): never the window's addend, or they would lead into a
 * window after its space is switched away, or dropped. */
START_TEST(window_not_for_global_pages)
{
    wr32(pde_at(PD_A, LIN), PT_A | P | W | U);
    wr32(pte_at(PT_A, LIN), DATA | P | W | U | 0x100u /* G */);
    wr32(pde_at(PD_B, LIN), PT_A | P | W | U);
    c->cr4 = 0x80; /* PGE */
    load_cr3(PD_A);
    ticks(SMMU_WIN_TICKS);
    ck_assert(smmu_window_on(&m));
    fill_user(LIN, true);
    ck_assert_uint_eq(ENT(SMMU_T_UR, LIN), addend(DATA, LIN));
    ck_assert_uint_eq(ENT(SMMU_T_UW, LIN), addend(DATA, LIN));
    load_cr3(PD_B);
    ck_assert_uint_eq(ENT(SMMU_T_UR, LIN), addend(DATA, LIN));
}
END_TEST

/* A space whose pages keep moving (a parent whose pages each fork copies)
 * spends its remap budget: at its next tick the window goes, its entries
 * take ordinary addends again, and it waits SMMU_WIN_HOLD ticks. */
START_TEST(window_dropped_for_churn)
{
    map32(PD_A, PT_A, LIN, DATA);
    load_cr3(PD_A);
    fill_user(LIN, true);
    ticks(SMMU_WIN_TICKS);
    uint64_t w = ENT(SMMU_T_UW, LIN);
    ck_assert_uint_ne(w, addend(DATA, LIN));
    uint32_t pte = pte_at(PT_A, LIN);
    for (int i = 0; i <= SMMU_WIN_REMAPS; i++) {
        uint32_t p = i & 1 ? DATA : DATA3;
        wr32(pte, p | P | W | U);
        smmu_invlpg(&m, LIN);
        fill_user(LIN, true);
        if (i < SMMU_WIN_REMAPS) {
            ck_assert_uint_eq(ENT(SMMU_T_UW, LIN), w);
            if (i % 64 == 0)
                assert_aliases(w, LIN, p);
        } else {
            ck_assert_uint_eq(ENT(SMMU_T_UW, LIN), addend(p, LIN)); /* budget spent */
        }
    }
    ck_assert_uint_eq(flag, ON);
    ticks(1);
    ck_assert_uint_eq(flag, 0);
    ck_assert(!smmu_window_on(&m));
    ck_assert_uint_eq(m.stats.win_churn, 1);
    uint32_t last = SMMU_WIN_REMAPS & 1 ? DATA : DATA3;
    ck_assert_uint_eq(ENT(SMMU_T_UW, LIN), addend(last, LIN));
    ticks(SMMU_WIN_HOLD + SMMU_WIN_TICKS - 1);
    ck_assert(!smmu_window_on(&m));
    ticks(1);
    ck_assert(smmu_window_on(&m));
    ck_assert_uint_eq(ENT(SMMU_T_UW, LIN), ENT(SMMU_T_UR, LIN));
    assert_aliases(ENT(SMMU_T_UW, LIN), LIN, last);
}
END_TEST

/* A paging-mode change drops every space, and their windows with them. */
START_TEST(window_dropped_with_the_space)
{
    map32(PD_A, PT_A, LIN, DATA);
    load_cr3(PD_A);
    fill_user(LIN, false);
    ticks(SMMU_WIN_TICKS);
    ck_assert_uint_eq(flag, ON);
    c->cr4 = 0x10; /* PSE: another mode */
    ck_assert_int_eq(smmu_cr_write(&m), 0);
    ck_assert_uint_eq(flag, 0);
    ck_assert_uint_eq(m.win_count, 0);
    ck_assert_uint_eq(m.win_pages, 0);
    ck_assert_uint_eq(m.stats.win_dropped, 1);
    fill_user(LIN, false);
    ck_assert_uint_eq(ENT(SMMU_T_UR, LIN), addend(DATA, LIN));
}
END_TEST

/* Ticks the engine spent translating (not warm) are no user time: they
 * promote nothing and break a run of warm ones. */
START_TEST(window_not_for_cold_ticks)
{
    map32(PD_A, PT_A, LIN, DATA);
    load_cr3(PD_A);
    fill_user(LIN, false);
    for (int i = 0; i < 10 * SMMU_WIN_TICKS; i++)
        smmu_window_tick(&m, false);
    ck_assert(!smmu_window_on(&m));
    ticks(SMMU_WIN_TICKS - 1);
    smmu_window_tick(&m, false);
    ticks(SMMU_WIN_TICKS - 1);
    ck_assert(!smmu_window_on(&m));
    ticks(1);
    ck_assert(smmu_window_on(&m));
}
END_TEST

/* No memfd: no windows, however long user code runs. */
START_TEST(window_needs_the_memfd)
{
    smmu_window_enable(&m, -1, &flag, ON);
    map32(PD_A, PT_A, LIN, DATA);
    load_cr3(PD_A);
    fill_user(LIN, false);
    ticks(10 * SMMU_WIN_TICKS);
    ck_assert(!smmu_window_on(&m));
    ck_assert_uint_eq(ENT(SMMU_T_UR, LIN), addend(DATA, LIN));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("smmu_window");
    TCase *t = tcase_create("window");
    tcase_add_checked_fixture(t, setup, harness_teardown);
    tcase_add_test(t, window_after_ticks);
    tcase_add_test(t, window_follows_a_changed_pte);
    tcase_add_test(t, window_per_space);
    tcase_add_test(t, window_leaves_low_pages_out);
    tcase_add_test(t, window_taken_from_the_oldest);
    tcase_add_test(t, window_not_for_global_pages);
    tcase_add_test(t, window_dropped_for_churn);
    tcase_add_test(t, window_dropped_with_the_space);
    tcase_add_test(t, window_not_for_cold_ticks);
    tcase_add_test(t, window_needs_the_memfd);
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
