/*
 * tests/unit/test_wake.c — vm/wake.c's timer bookkeeping on the real clock:
 * a tick held back while the vcpu was halted (the "catch-up" of
 * vm_run_timers) must still fire once the guest runs again, even if it
 * never halts again. The stall this guards against: the vcpu woke late
 * from HLT together with a device interrupt, the held-back tick waited for
 * the next halt, the ticker had already fired, and a guest spinning in
 * Linux's try_to_generate_entropy() never saw another timer interrupt.
 */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu/cpu.h"
#include "devices/irq.h"
#include "vm/vm.h"

static int fired;
static void on_fire(void *ctx, uint64_t now)
{
    (void)now;
    fired++;
    dev_timer_set(ctx, UINT64_MAX);
}

static void sleep_us(long us)
{
    struct timespec ts = { 0, us * 1000 };
    nanosleep(&ts, NULL);
}

/* A host that runs the vcpu late: a signal keeps it busy for 1.5 ms right
 * before its deadline, so it wakes long after the ticker fired. */
static void on_usr1(int sig)
{
    (void)sig;
    struct timespec ts = { 0, 1500000 };
    nanosleep(&ts, NULL);
}

struct late { pthread_t vcpu; uint64_t at; };
static void *make_late(void *arg)
{
    struct late *l = arg;
    struct timespec ts = { (time_t)(l->at / 1000000000u), (long)(l->at % 1000000000u) };
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
    pthread_kill(l->vcpu, SIGUSR1);
    return NULL;
}

/* A machine of one timer and an INTR byte, its wake-up machinery running
 * on this thread (the vcpu's). Each test gets its own, fresh. */
static struct vm vm;
static struct cpu cpu;
static struct dev_timers ts;
static struct dev_timer t;
static volatile uint8_t level;

static void machine(void)
{
    memset(&vm, 0, sizeof(vm));
    memset(&cpu, 0, sizeof(cpu));
    memset(&ts, 0, sizeof(ts));
    memset(&t, 0, sizeof(t));
    level = 0;
    vm.cpu = &cpu;
    vm.intr_level = &level;
    vm.timers = &ts;
    t.fire = on_fire;
    t.ctx = &t;
    fired = 0;
    dev_timers_add(&ts, &t);
    ck_assert_int_eq(vm_wake_init(&vm), 0);
}

START_TEST(held_back_tick_fires_when_guest_runs)
{
    machine();

    /* Halted, one deadline 2 ms out: the vcpu sleeps to it (catch-up on). */
    cpu.halted = true;
    dev_timer_set(&t, dev_clock_ns() + 2000000);
    uint64_t next = vm_run_timers(&vm);
    ck_assert_uint_eq(next, t.deadline_ns);
    struct sigaction sa = { .sa_handler = on_usr1 };
    sigaction(SIGUSR1, &sa, NULL);
    struct late late = { pthread_self(), next - 300000 };
    pthread_t th;
    pthread_create(&th, NULL, make_late, &late);
    vm_wait(&vm, next);
    pthread_join(th, NULL);
    ck_assert_uint_ge(dev_clock_ns(), next);
    /* It woke late, with a device interrupt pending: the tick may wait... */
    level = 1;
    vm_run_timers(&vm);
    /* ...the interrupt is taken, the guest runs on and never halts. The
     * engine runs the timers only when the ticker kicks (vm_timers_due):
     * the tick must come within 200 ms (it is due now), and only once.
     * (On a loaded host the vcpu may not have woken late after all; then
     * the tick fired at once, which is right too.) */
    cpu.halted = false;
    level = 0;
    for (int k = 0; k < 2000 && fired == 0; k++) {
        if (__atomic_exchange_n(&vm.timer_kicked, 0, __ATOMIC_ACQ_REL))
            vm_run_timers(&vm);
        sleep_us(100);
    }
    ck_assert_int_eq(fired, 1);
    vm_wake_destroy(&vm);
}
END_TEST

START_TEST(running_guest_gets_exact_ticks)
{
    machine();
    /* Never halted: the ticker kicks at the deadline, the timer fires. */
    for (int i = 0; i < 3; i++) {
        __atomic_store_n(&vm.timer_kicked, 0, __ATOMIC_RELEASE);
        dev_timer_set(&t, dev_clock_ns() + 1000000);
        vm_run_timers(&vm);
        for (int k = 0; k < 2000 && !__atomic_load_n(&vm.timer_kicked, __ATOMIC_ACQUIRE); k++)
            sleep_us(100);
        ck_assert(__atomic_load_n(&vm.timer_kicked, __ATOMIC_ACQUIRE));
        vm_run_timers(&vm);
        ck_assert_int_eq(fired, i + 1);
    }
    vm_wake_destroy(&vm);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("wake");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, held_back_tick_fires_when_guest_runs);
    tcase_add_test(tc, running_guest_gets_exact_ticks);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
