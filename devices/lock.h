/*
 * devices/lock.h — the lock of the interrupt-path devices (PIC, I/O APIC,
 * ISA/PIRQ routing).
 *
 * Their state is touched from the vcpu thread on almost every interrupt and
 * only now and then from another thread (the ticker, the console reader), so
 * the lock is nearly never contended and is taken two or three times, nested,
 * per line change. A pthread mutex costs an atomic read-modify-write on both
 * lock and unlock; this lock's unlock is a plain release store, which takes
 * ~25 cycles off each pair. Contention spins briefly, then yields: a holder
 * that was preempted gets the CPU back instead of being spun against.
 */
#ifndef BTVM_DEVICES_LOCK_H
#define BTVM_DEVICES_LOCK_H

#include <sched.h>

struct dev_lock {
    int held;
};

static inline void dev_lock_init(struct dev_lock *l)
{
    __atomic_store_n(&l->held, 0, __ATOMIC_RELAXED);
}

static inline void dev_lock(struct dev_lock *l)
{
    if (__builtin_expect(!__atomic_exchange_n(&l->held, 1, __ATOMIC_ACQUIRE), 1))
        return;
    for (;;) {
        for (int i = 0; i < 256; i++) {
            if (!__atomic_load_n(&l->held, __ATOMIC_RELAXED) &&
                !__atomic_exchange_n(&l->held, 1, __ATOMIC_ACQUIRE))
                return;
            __builtin_ia32_pause();
        }
        sched_yield();
    }
}

static inline void dev_unlock(struct dev_lock *l)
{
    __atomic_store_n(&l->held, 0, __ATOMIC_RELEASE);
}

#endif
