/*
 * tests/unit/test_clock.c — device timers (devices/clock.c, devices/irq.h):
 * firing due timers, the nearest deadline, and the "moved" flag that tells
 * the run loop a device set a deadline earlier than the ticker is armed for
 * (vm_timers_moved reads it after every guest I/O write).
 */
#include <check.h>
#include <stdlib.h>

#include "devices/clock_own.h"
#include "devices/irq.h"

static int fired[2];

static void fire(void *ctx, uint64_t now)
{
    (void)now;
    struct dev_timer *t = ctx;
    fired[t->deadline_ns == 100 ? 0 : 1]++;
    dev_timer_set(t, UINT64_MAX);
}

START_TEST(moved_flag)
{
    struct dev_timers ts = { 0 };
    struct dev_timer a = { .deadline_ns = UINT64_MAX, .fire = fire }, b = a;
    a.ctx = &a;
    b.ctx = &b;
    dev_timers_add(&ts, &a);
    ck_assert(ts.moved);                       /* a new timer: the next run must see it */
    dev_timers_add(&ts, &b);
    ck_assert_uint_eq(dev_timers_run(&ts, 0), UINT64_MAX);
    ck_assert(!ts.moved);
    dev_timer_set(&a, 500);
    ck_assert(ts.moved);                       /* earlier than "nothing" */
    ck_assert_uint_eq(dev_timers_run(&ts, 0), 500);
    ck_assert(!ts.moved);
    dev_timer_set(&b, 800);                    /* later than what the ticker waits for */
    ck_assert(!ts.moved);
    dev_timer_set(&b, 100);
    ck_assert(ts.moved);
    ck_assert_uint_eq(dev_timers_run(&ts, 200), 500);  /* b fires, a stays */
    ck_assert_int_eq(fired[0], 1);
    ck_assert(!ts.moved);
    dev_timers_remove(&ts, &a);
    ck_assert_ptr_null(a.set);
    dev_timer_set(&a, 1);                      /* no longer in a set */
    ck_assert(!ts.moved);
    ck_assert_uint_eq(dev_timers_run(&ts, 1000), UINT64_MAX);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("clock");
    TCase *tc = tcase_create("timers");
    tcase_add_test(tc, moved_flag);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
