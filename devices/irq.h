/*
 * devices/irq.h — interrupt lines and time for device models.
 *
 * A device raises and lowers an ISA IRQ line through a dev_irq_line given to
 * it at creation; the 8259A pair (devices/pic8259.c) implements the lines and
 * tells the CPU engine which vector to take. Devices that keep time use
 * CLOCK_MONOTONIC through dev_clock_ns() and register a dev_timer so that the
 * run loop can call them at their deadline and can sleep until the nearest
 * one when the guest halts.
 */
#ifndef BTVM_DEV_IRQ_H
#define BTVM_DEV_IRQ_H

#include <stdbool.h>
#include <stdint.h>

struct dev_irq_line {
    void (*set)(void *ctx, int line, int level);
    void *ctx;
    int line;
};

static inline void dev_irq_set(const struct dev_irq_line *l, int level)
{
    if (l && l->set)
        l->set(l->ctx, l->line, level);
}

/* Host CLOCK_MONOTONIC in nanoseconds. */
uint64_t dev_clock_ns(void);
/* Wait until gap_ns of host time have passed since *last_ns, then set it to
 * now: a register that real hardware cannot read faster than that. Not
 * with a fake clock (tests). */
void dev_clock_min_gap(uint64_t *last_ns, uint32_t gap_ns);

/* A timer callback: called with the current time once now >= deadline.
 * It sets the next deadline itself (UINT64_MAX = none) with dev_timer_set. */
struct dev_timer {
    uint64_t deadline_ns;   /* read freely; written only through dev_timer_set */
    void (*fire)(void *ctx, uint64_t now_ns);
    void *ctx;
    struct dev_timer *next;
    struct dev_timers *set; /* set by dev_timers_add */
};

struct dev_timers {
    struct dev_timer *head;
    /* The nearest deadline as of the last dev_timers_run, and whether a
     * timer was set earlier than that since: the run loop's ticker must be
     * re-armed (checked after every guest I/O write, so a flag, not a walk). */
    uint64_t armed_ns;
    bool moved;
};

static inline void dev_timer_set(struct dev_timer *t, uint64_t deadline_ns)
{
    t->deadline_ns = deadline_ns;
    if (t->set && deadline_ns < t->set->armed_ns)
        t->set->moved = true;
}

void dev_timers_add(struct dev_timers *ts, struct dev_timer *t);
/* Fire every due timer; return the nearest remaining deadline (UINT64_MAX if none). */
uint64_t dev_timers_run(struct dev_timers *ts, uint64_t now_ns);

#endif
