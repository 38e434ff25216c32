/*
 * devices/lock.h — the lock of the interrupt-path devices (PIC, I/O APIC,
 * ISA/PIRQ routing).
 *
 * Their state is touched from the vcpu thread on almost every interrupt and
 * only now and then from another thread (the ticker, the console reader), so
 * the lock is nearly never contended. A pthread mutex costs an atomic
 * read-modify-write on both lock and unlock; this lock's unlock is a plain
 * release store. It is recursive, so the routing can hand its own lock to
 * the PIC and the I/O APIC (dev_pic_use_lock, dev_ioapic_use_lock): a line
 * change then takes one atomic operation instead of three nested lock pairs,
 * while the controllers' own entry points still lock. Contention spins
 * briefly, then yields: a holder that was preempted gets the CPU back
 * instead of being spun against.
 */
#ifndef BTVM_DEVICES_LOCK_H
#define BTVM_DEVICES_LOCK_H

#include <sched.h>

struct dev_lock {
    int held;
    int depth;           /* owner's nesting, owner's thread only */
    const void *owner;   /* the owning thread's token, NULL when free */
};

/* Its address tells threads apart (one per thread, cheap to take). */
extern __thread char dev_lock_token;

static inline void dev_lock_init(struct dev_lock *l)
{
    l->depth = 0;
    __atomic_store_n(&l->owner, NULL, __ATOMIC_RELAXED);
    __atomic_store_n(&l->held, 0, __ATOMIC_RELAXED);
}

static inline void dev_lock(struct dev_lock *l)
{
    const void *me = &dev_lock_token;
    /* Only this thread ever stores its own token, and clears it before
     * releasing: a match means this thread holds the lock. */
    if (__atomic_load_n(&l->owner, __ATOMIC_RELAXED) == me) {
        l->depth++;
        return;
    }
    if (__builtin_expect(__atomic_exchange_n(&l->held, 1, __ATOMIC_ACQUIRE), 0)) {
        for (;;) {
            int i = 0;
            for (; i < 256; i++) {
                if (!__atomic_load_n(&l->held, __ATOMIC_RELAXED) &&
                    !__atomic_exchange_n(&l->held, 1, __ATOMIC_ACQUIRE))
                    break;
                __builtin_ia32_pause();
            }
            if (i < 256)
                break;
            sched_yield();
        }
    }
    __atomic_store_n(&l->owner, me, __ATOMIC_RELAXED);
    l->depth = 1;
}

static inline void dev_unlock(struct dev_lock *l)
{
    if (--l->depth)
        return;
    __atomic_store_n(&l->owner, NULL, __ATOMIC_RELAXED);
    __atomic_store_n(&l->held, 0, __ATOMIC_RELEASE);
}

#endif
