/*
 * devices/clock.c — device time: the host's CLOCK_MONOTONIC in nanoseconds
 * and the list of device timers (PIT channel 0, RTC interrupts) that the
 * run loop fires and sleeps on.
 *
 * The list is short (a handful of devices), so it is a plain singly linked
 * list scanned on every run; it is used from the run-loop thread only.
 */
#include <time.h>

#include "devices/clock_own.h"
#include "devices/irq.h"

static uint64_t (*fake_clock)(void);

void dev_clock_set_fake(uint64_t (*fn)(void))
{
    fake_clock = fn;
}

uint64_t dev_clock_ns(void)
{
    if (fake_clock)
        return fake_clock();
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void dev_clock_min_gap(uint64_t *last_ns, uint32_t gap_ns)
{
    if (fake_clock)
        return; /* tests: fake time does not move while we wait */
    struct timespec ts;
    uint64_t t;
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        t = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        if (t >= *last_ns + gap_ns)
            break;
        __builtin_ia32_pause();
    }
    *last_ns = t;
}

void dev_timers_add(struct dev_timers *ts, struct dev_timer *t)
{
    struct dev_timer **pp = &ts->head;
    while (*pp)
        pp = &(*pp)->next;
    t->next = NULL;
    t->set = ts;
    *pp = t;
    ts->moved = true; /* until the next run has seen it */
}

void dev_timers_remove(struct dev_timers *ts, struct dev_timer *t)
{
    if (!ts)
        return;
    for (struct dev_timer **pp = &ts->head; *pp; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            t->next = NULL;
            t->set = NULL;
            return;
        }
    }
}

/* Each due timer fires once per call even if it re-arms in the past; the
 * returned deadline then lies at or before now and the caller runs again,
 * so one misbehaving timer cannot starve the run loop. */
uint64_t dev_timers_run(struct dev_timers *ts, uint64_t now_ns)
{
    uint64_t nearest = UINT64_MAX;
    for (struct dev_timer *t = ts->head; t; t = t->next) {
        if (t->deadline_ns <= now_ns)
            t->fire(t->ctx, now_ns);
        if (t->deadline_ns < nearest)
            nearest = t->deadline_ns;
    }
    ts->armed_ns = nearest;
    ts->moved = false;
    return nearest;
}
