/*
 * vm/wake.c — getting the vcpu's attention, and letting it sleep.
 *
 * Devices, the console input thread and the ticker thread call vm_kick():
 * it makes translated code leave at its next block entry
 * (cpu->async_pending) and wakes a vcpu sleeping in HLT.
 *
 * Two ways to meet a device deadline, chosen so an idle guest costs one
 * host wakeup per tick (host syscalls, timer programming and cross-core
 * wakeups are expensive on these machines):
 *  - halted: the vcpu sleeps on a futex with the deadline as its timeout
 *    (vm_wait), and wakes itself;
 *  - running translated code: the ticker thread blocks on a timerfd armed
 *    for the deadline and kicks the vcpu, so a guest spinning in chained
 *    code still sees its timer interrupt on time.
 * After a halt the ticker is armed HALT_GRACE_NS late ("lazy"): the vcpu
 * normally halts and wakes itself before that, so the ticker never fires
 * and its timerfd is pushed once per sleep instead of disarmed and
 * re-armed. Only if it does fire (the guest kept running) do deadlines
 * become exact again; the first interrupt after idle->busy is then at most
 * the grace late. While exact, a periodic deadline sequence arms the
 * timerfd periodic once.
 *
 * A host wakeup costs 12-45 us of CPU here whatever the mechanism, so a
 * halted guest with a fast periodic timer (period <= IDLE_BATCH_NS, e.g.
 * a 1 kHz PIT) sleeps through up to IDLE_BATCH_NS of periods and then gets
 * the missed ticks back to back, each fired at its own deadline
 * ("catch-up"): no tick is lost, each is at most IDLE_BATCH_NS late, and
 * only while the guest waits in HLT. Input and stop requests still wake
 * it at once. Slower timers (Linux's 250 Hz, one-shot deadlines) are not
 * delayed. A guest that runs again (an interrupt woke it first) gets its
 * due ticks at once: it may never halt again (Linux polling for entropy
 * spins with interrupts on), and a tick kept for the next HLT would never
 * come (tests/unit/test_wake.c).
 */
#include "vm/vm.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include "cpu/cpu.h"
#include "devices/irq.h"

#define HALT_GRACE_NS 200000u
/* How long a halted guest's periodic timer ticks may be held back (0: never).
 * Off: holding ticks back (bursts up to this late) would change the timing
 * a guest sees; a 1 kHz periodic guest costs ~2.5% of a core instead. */
#define IDLE_BATCH_NS 0u
/* A periodic timerfd may fire this much after the deadline it stands for
 * (its interval is rounded up) before it is re-armed. */
#define PERIOD_SLACK_NS 20000u

struct vm_wake {
    pthread_mutex_t lock;   /* dead vs. kicks touching vm->cpu */
    int kicked;             /* futex word: a kick since the vcpu last slept */
    int sleeping;           /* the vcpu is in (or entering) vm_wait */
    int lazy;               /* ticker armed HALT_GRACE_NS late (see above) */
    int tfd;
    uint64_t armed;         /* next ticker expiry (UINT64_MAX: disarmed) */
    uint64_t period;        /* timerfd interval, 0 if one-shot */
    uint64_t last_target;   /* previous exact deadline asked for */
    uint64_t cur, step;     /* nearest deadline, and how far it last moved on */
    unsigned same_steps;    /* times in a row step stayed the same: periodic */
    uint64_t catchup;       /* fire timers at their own deadlines up to here */
    pthread_t ticker;
    pthread_t vcpu;         /* the thread that runs the guest (and calls vm_wake_init) */
    bool ticker_running;
    bool dead;
    int quit;               /* vm_wake_destroy: the ticker thread ends */
};

static long futex(int *uaddr, int op, int val, const struct timespec *ts)
{
    return syscall(SYS_futex, uaddr, op | FUTEX_PRIVATE_FLAG, val, ts, NULL, FUTEX_BITSET_MATCH_ANY);
}

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
    /* From the vcpu's own thread (a device it just drove raised an
     * interrupt): it is awake and tears the machine down itself, so
     * neither the lock nor a futex wake is needed. */
    if (!w || pthread_equal(pthread_self(), w->vcpu)) {
        if (vm->cpu)
            __atomic_store_n(&vm->cpu->async_pending, 1, __ATOMIC_RELEASE);
        if (w) {
            /* A timer fired in vm_run_timers just before vm_wait: it must
             * not sleep past this interrupt (same thread: relaxed). */
            __atomic_store_n(&w->kicked, 1, __ATOMIC_RELAXED);
            if (vm->kick_hook && vm->cpu)
                vm->kick_hook(vm);
        }
        return;
    }
    /* Under the lock: vm_wake_stop() guarantees no kick touches the vcpu
     * once the engine starts tearing it down. */
    pthread_mutex_lock(&w->lock);
    if (!w->dead && vm->cpu) {
        __atomic_store_n(&vm->cpu->async_pending, 1, __ATOMIC_RELEASE);
        if (vm->kick_hook)
            vm->kick_hook(vm); /* hav/: get the vcpu out of KVM_RUN */
    }
    pthread_mutex_unlock(&w->lock);
    /* Pairs with vm_wait (both seq_cst): either it sees kicked, or we see
     * sleeping. A futex wake only when someone can be asleep. */
    if (!__atomic_exchange_n(&w->kicked, 1, __ATOMIC_SEQ_CST) &&
        __atomic_load_n(&w->sleeping, __ATOMIC_SEQ_CST))
        futex(&w->kicked, FUTEX_WAKE, 1, NULL);
}

static void arm(struct vm_wake *w, uint64_t expiry_ns, uint64_t period_ns);

/* The last tick of a periodic deadline sequence that a halted guest may
 * wait for before it gets the ticks from deadline on (see the top). */
static uint64_t batch_end(const struct vm_wake *w, uint64_t deadline)
{
    /* Only a timer the device repeats by itself (one-shot deadlines follow
     * the guest's clock reads and jitter), and only if at least two more
     * periods fit: a 250 Hz tick is never held back. */
    if (w->same_steps < 3 || !w->step || w->step > IDLE_BATCH_NS / 2)
        return deadline;
    /* + 1 us: the periods jitter by a ns (the PIT's rounding). */
    return deadline + IDLE_BATCH_NS / w->step * w->step + 1000;
}

void vm_wait(struct vm *vm, uint64_t deadline_ns)
{
    struct vm_wake *w = vm->wake;
    /* Nothing to sleep for (a kick, often our own from the PIC, or a
     * deadline already due): no timer to touch either. */
    if (__atomic_load_n(&w->kicked, __ATOMIC_SEQ_CST) ||
        (deadline_ns != UINT64_MAX && dev_clock_ns() >= deadline_ns)) {
        __atomic_store_n(&w->kicked, 0, __ATOMIC_SEQ_CST);
        return;
    }
    __atomic_store_n(&w->lazy, 1, __ATOMIC_RELAXED);
    /* Only engines whose HLT is cpu->halted (bt/) get ticks held back. */
    if (deadline_ns != UINT64_MAX && deadline_ns == w->cur && vm->cpu && vm->cpu->halted) {
        deadline_ns = batch_end(w, deadline_ns);
        w->catchup = deadline_ns;
    }
    /* We wake ourselves at the deadline: keep the ticker from firing too
     * (a second host wakeup). Usually it is already armed late. */
    if (deadline_ns == UINT64_MAX) {
        if (w->armed != UINT64_MAX)
            arm(w, UINT64_MAX, 0);
    } else if (w->period || w->armed < deadline_ns + HALT_GRACE_NS) {
        arm(w, deadline_ns + HALT_GRACE_NS, 0);
    }

    __atomic_store_n(&w->sleeping, 1, __ATOMIC_SEQ_CST);
    while (!__atomic_load_n(&w->kicked, __ATOMIC_SEQ_CST) &&
           !__atomic_load_n(&vm->stop_requested, __ATOMIC_ACQUIRE)) {
        if (deadline_ns == UINT64_MAX) {
            futex(&w->kicked, FUTEX_WAIT_BITSET, 0, NULL);
            continue;
        }
        if (dev_clock_ns() >= deadline_ns)
            break;
        /* FUTEX_WAIT_BITSET: absolute CLOCK_MONOTONIC timeout. */
        struct timespec ts = { (time_t)(deadline_ns / 1000000000u), (long)(deadline_ns % 1000000000u) };
        if (futex(&w->kicked, FUTEX_WAIT_BITSET, 0, &ts) < 0 && errno == ETIMEDOUT)
            break;
    }
    __atomic_store_n(&w->sleeping, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&w->kicked, 0, __ATOMIC_SEQ_CST);
}

static void *ticker_main(void *arg)
{
    struct vm *vm = arg;
    struct vm_wake *w = vm->wake;
    uint64_t n;
    for (;;) {
        ssize_t r = read(w->tfd, &n, sizeof(n));
        if (__atomic_load_n(&w->quit, __ATOMIC_ACQUIRE))
            return NULL;
        if (r < 0 && errno != EINTR && errno != EAGAIN)
            return NULL;
        if (r == (ssize_t)sizeof(n)) {
            /* The guest ran through a deadline without halting: give it
             * exact deadlines from now on. (A vcpu still asleep only woke
             * late: the host is busy, not the guest.) */
            if (!__atomic_load_n(&w->sleeping, __ATOMIC_SEQ_CST))
                __atomic_store_n(&w->lazy, 0, __ATOMIC_RELAXED);
            __atomic_store_n(&vm->timer_kicked, 1, __ATOMIC_RELEASE);
            vm_kick(vm);
        }
    }
}

void vm_wake_destroy(struct vm *vm)
{
    struct vm_wake *w = vm->wake;
    if (!w)
        return;
    vm_wake_stop(vm);
    if (w->ticker_running) {
        /* Wake the ticker out of its read: it sees quit and ends. */
        __atomic_store_n(&w->quit, 1, __ATOMIC_RELEASE);
        struct itimerspec its;
        memset(&its, 0, sizeof(its));
        its.it_value.tv_nsec = 1;
        timerfd_settime(w->tfd, 0, &its, NULL);
        pthread_join(w->ticker, NULL);
    }
    close(w->tfd);
    pthread_mutex_destroy(&w->lock);
    free(w);
    vm->wake = NULL;
}

int vm_wake_init(struct vm *vm)
{
    struct vm_wake *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    pthread_mutex_init(&w->lock, NULL);
    w->armed = UINT64_MAX;
    w->vcpu = pthread_self();
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
    w->ticker_running = true;
    /* The vcpu (this thread) sleeps to deadlines in vm_wait: the default
     * 50 us slack would delay every idle timer interrupt. */
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
    return 0;
}

/* Program the ticker: first expiry at expiry_ns (UINT64_MAX: disarm),
 * then every period_ns (0: once). */
static void arm(struct vm_wake *w, uint64_t expiry_ns, uint64_t period_ns)
{
    w->armed = expiry_ns;
    w->period = expiry_ns == UINT64_MAX ? 0 : period_ns;
    struct itimerspec its;
    memset(&its, 0, sizeof(its));
    if (expiry_ns != UINT64_MAX) {
        if (expiry_ns == 0)
            expiry_ns = 1;
        its.it_value.tv_sec = (time_t)(expiry_ns / 1000000000u);
        its.it_value.tv_nsec = (long)(expiry_ns % 1000000000u);
        its.it_interval.tv_sec = (time_t)(period_ns / 1000000000u);
        its.it_interval.tv_nsec = (long)(period_ns % 1000000000u);
    }
    timerfd_settime(w->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* Make sure the ticker fires at target (or, lazily, a grace after it),
 * reprogramming the timerfd only when its own schedule does not already
 * do that. now: the clock when the timers ran. */
static void arm_for(struct vm_wake *w, uint64_t target, uint64_t now)
{
    if (target == UINT64_MAX) {
        if (w->armed != UINT64_MAX)
            arm(w, UINT64_MAX, 0);
        return;
    }
    if (__atomic_load_n(&w->lazy, __ATOMIC_RELAXED)) {
        /* Late is the point; not early, and not later than a halted
         * guest's sleep would make it anyway. */
        uint64_t want = batch_end(w, target) + HALT_GRACE_NS;
        /* armed <= now: that one-shot has fired (or is firing) already. */
        if (w->period || w->armed < target || w->armed > want || w->armed <= now)
            arm(w, want, 0);
        return;
    }
    uint64_t prev = w->last_target;
    w->last_target = target;
    /* Where the timerfd fires next (a periodic one moves on by itself). */
    uint64_t next = w->armed;
    if (w->period && next <= now)
        next += ((now - next) / w->period + 1) * w->period;
    if (next >= target && next - target <= (w->period ? PERIOD_SLACK_NS : 0))
        return;
    /* A second deadline one period after the first: go periodic, the
     * interval rounded up so it drifts late, never early. */
    uint64_t period = 0;
    if (prev && target > prev && target - prev <= 1000000000u)
        period = target - prev + 1;
    arm(w, target, period);
}

uint64_t vm_run_timers(struct vm *vm)
{
    struct vm_wake *w = vm->wake;
    __atomic_store_n(&vm->timer_kicked, 0, __ATOMIC_RELAXED);
    uint64_t now = dev_clock_ns();
    if (w && w->catchup) {
        /* Ticks held back while halted: fire the oldest one as of its own
         * deadline, the next one when the guest halts again having taken
         * it (one tick per HLT, as if they had come on time; an edge into
         * a busy PIC would be lost). A guest that got busy (the ticker had
         * to fire) is back on real time: missed periods coalesce. */
        uint64_t first = UINT64_MAX;
        for (const struct dev_timer *t = vm->timers ? vm->timers->head : NULL; t; t = t->next)
            if (t->deadline_ns < first)
                first = t->deadline_ns;
        /* A guest that is running again (an interrupt woke it) gets the
         * held-back ticks now too: it may never halt again, and waiting
         * for a halt would starve its timer for good. */
        if (!__atomic_load_n(&w->lazy, __ATOMIC_RELAXED) || first >= now ||
            first > w->catchup || !vm->cpu->halted) {
            w->catchup = 0;
        } else if (vm_intr_pending(vm)) {
            /* Halted with an interrupt about to wake it: its tick after
             * that one, by the ticker, whatever the guest does next. */
            arm(w, now + HALT_GRACE_NS, 0);
            return vm->next_deadline;
        } else {
            now = first;
        }
    }
    uint64_t next = vm->timers ? dev_timers_run(vm->timers, now) : UINT64_MAX;
    vm->next_deadline = next;
    if (w) {
        if (next != w->cur) {
            /* The PIT's rounding moves a periodic deadline by +-1 ns. */
            uint64_t step = next > w->cur && w->cur && next != UINT64_MAX ? next - w->cur : 0;
            if (step && step - w->step + 2 <= 4)
                w->same_steps += w->same_steps < 64;
            else
                w->same_steps = 0;
            w->step = step;
            w->cur = next;
        }
        arm_for(w, next, now);
    }
    return next;
}

bool vm_timers_due(struct vm *vm)
{
    /* Look before the locked exchange: most kicks are not the ticker's. */
    if (__atomic_load_n(&vm->timer_kicked, __ATOMIC_ACQUIRE) &&
        __atomic_exchange_n(&vm->timer_kicked, 0, __ATOMIC_ACQ_REL))
        return true;
    return vm_timers_moved(vm);
}

bool vm_timers_moved(const struct vm *vm)
{
    return vm->timers && vm->timers->moved;
}
