/*
 * vm/wake.c — getting the vcpu's attention, and letting it sleep.
 *
 * Devices, the console input thread and the ticker thread call vm_kick():
 * it makes translated code leave at its next block entry
 * (cpu->async_pending) and wakes a vcpu sleeping in HLT. The ticker thread
 * blocks on a timerfd armed for the nearest device deadline, so a guest
 * spinning in chained code still sees its timer interrupt on time, and an
 * idle guest costs no CPU: the vcpu sleeps in vm_wait() until a deadline or
 * input.
 */
#include "vm/vm.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include "cpu/cpu.h"
#include "devices/irq.h"

struct vm_wake {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool kicked;
    int tfd;
    uint64_t armed;
    pthread_t ticker;
    bool ticker_running;
    bool dead;
};

void vm_wake_stop(struct vm *vm)
{
    struct vm_wake *w = vm->wake;
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->dead = true;
    pthread_mutex_unlock(&w->lock);
}

void vm_kick(struct vm *vm)
{
    struct vm_wake *w = vm->wake;
    if (!w) {
        if (vm->cpu)
            __atomic_store_n(&vm->cpu->async_pending, 1, __ATOMIC_RELEASE);
        return;
    }
    /* Under the lock: vm_wake_stop() guarantees no kick touches the vcpu
     * once the engine starts tearing it down. */
    pthread_mutex_lock(&w->lock);
    if (!w->dead && vm->cpu)
        __atomic_store_n(&vm->cpu->async_pending, 1, __ATOMIC_RELEASE);
    w->kicked = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static void arm(struct vm_wake *w, uint64_t deadline_ns);

void vm_wait(struct vm *vm, uint64_t deadline_ns)
{
    struct vm_wake *w = vm->wake;
    /* If the ticker is armed for this deadline it will kick us: sleep
     * without a timeout of our own (every host timer armed costs a
     * hypervisor exit on these machines). */
    if (w->armed <= deadline_ns)
        deadline_ns = UINT64_MAX;
    pthread_mutex_lock(&w->lock);
    while (!w->kicked && !vm->stop_requested) {
        if (deadline_ns == UINT64_MAX) {
            pthread_cond_wait(&w->cond, &w->lock);
            continue;
        }
        if (dev_clock_ns() >= deadline_ns)
            break;
        struct timespec ts = { (time_t)(deadline_ns / 1000000000u), (long)(deadline_ns % 1000000000u) };
        pthread_cond_timedwait(&w->cond, &w->lock, &ts);
    }
    w->kicked = false;
    pthread_mutex_unlock(&w->lock);
}

static void *ticker_main(void *arg)
{
    struct vm *vm = arg;
    uint64_t n;
    for (;;) {
        ssize_t r = read(vm->wake->tfd, &n, sizeof(n));
        if (r < 0 && errno != EINTR && errno != EAGAIN)
            return NULL;
        if (r == (ssize_t)sizeof(n))
            vm_kick(vm);
    }
}

int vm_wake_init(struct vm *vm)
{
    struct vm_wake *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cond, &ca);
    pthread_condattr_destroy(&ca);
    w->armed = UINT64_MAX;
    w->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    if (w->tfd < 0) {
        free(w);
        return -errno;
    }
    vm->wake = w;
    if (pthread_create(&w->ticker, NULL, ticker_main, vm) != 0) {
        close(w->tfd);
        free(w);
        vm->wake = NULL;
        return -EAGAIN;
    }
    /* The ticker only sleeps and kicks: a real-time priority (when the
     * host allows it) keeps timer interrupts on time under load. */
    struct sched_param sp = { .sched_priority = 1 };
    pthread_setschedparam(w->ticker, SCHED_FIFO, &sp);
    pthread_detach(w->ticker);
    w->ticker_running = true;
    return 0;
}

/* Arm the ticker for the nearest device deadline (UINT64_MAX: none). */
static void arm(struct vm_wake *w, uint64_t deadline_ns)
{
    if (deadline_ns == w->armed)
        return;
    w->armed = deadline_ns;
    struct itimerspec its;
    memset(&its, 0, sizeof(its));
    if (deadline_ns != UINT64_MAX) {
        if (deadline_ns == 0)
            deadline_ns = 1;
        its.it_value.tv_sec = (time_t)(deadline_ns / 1000000000u);
        its.it_value.tv_nsec = (long)(deadline_ns % 1000000000u);
    }
    timerfd_settime(w->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

uint64_t vm_run_timers(struct vm *vm)
{
    uint64_t now = dev_clock_ns();
    uint64_t next = dev_timers_run(&vm->timers, now);
    vm->next_deadline = next;
    if (vm->wake)
        arm(vm->wake, next);
    return next;
}

bool vm_timers_moved(const struct vm *vm)
{
    for (const struct dev_timer *t = vm->timers.head; t; t = t->next)
        if (t->deadline_ns < vm->next_deadline)
            return true;
    return false;
}
