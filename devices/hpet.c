/*
 * devices/hpet.c — High Precision Event Timer (IA-PC HPET specification
 * 1.0a), register-compatible with QEMU's hw/timer/hpet.c on its `pc`
 * machine.
 *
 * Main counter: 64 bits at 100 MHz (period 10 000 000 fs). While halted it
 * is a stored value; while ENABLE_CNF is set it is derived from
 * dev_clock_ns(): counter + (now - enabled_ns) / 10. Nothing ticks.
 *
 * Timers: each enabled comparator is turned into the host time at which
 * the counter reaches it (`deadline_ns`); one dev_timer is armed for the
 * nearest. When it fires, each due timer matches once whatever the delay:
 * a one-shot timer disarms, a periodic one moves its comparator on by
 * whole periods past the current count (so a late host timer costs
 * interrupts, not phase), as QEMU's. In 32-bit mode the comparator matches
 * the low 32 bits of the counter (the next time they are equal); a 32-bit
 * one-shot timer also fires when the counter's low half wraps (QEMU's
 * reading of the spec). A comparator written at or behind the counter in
 * 64-bit mode fires at once (QEMU does the same; real hardware would wait
 * for the 64-bit counter to wrap).
 *
 * Register writes follow QEMU: in periodic mode a comparator write sets
 * the period, and also the accumulator (the comparator) when Tn_VAL_SET_CNF
 * was set; Tn_VAL_SET_CNF clears after any comparator write. The main
 * counter can be written only while halted (writes while running are lost,
 * as in QEMU). Deviation from QEMU, following the spec: a Tn_INT_ROUTE_CNF
 * value whose bit is clear in Tn_INT_ROUTE_CAP is not taken (the old route
 * reads back); Tn_FSB_EN_CNF is read-only 0 since FSB delivery is absent.
 *
 * Interrupts: a level-triggered timer sets its status bit when it matches
 * (even with Tn_INT_ENB_CNF clear, as the spec says) and holds its output
 * high while the bit is set, the timer's interrupt is enabled and the HPET
 * is enabled; writing 1 to the bit clears it. An edge-triggered timer
 * pulses its output (1 then 0) and leaves status alone. Output levels are
 * recomputed after every change, so timers sharing a pin OR together.
 * Used from the run-loop thread only, so there is no lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/bus_own.h"
#include "devices/clock_own.h"
#include "devices/hpet.h"

#define NS_PER_TICK 10u                 /* 100 MHz */
#define PERIOD_FS 10000000ull           /* 10 ns in femtoseconds */
#define PERIODIC_MIN_NS 1000u           /* QEMU's clamp on periodic re-arm */

/* General capabilities and ID: rev 1, NUM_TIM_CAP, COUNT_SIZE_CAP,
 * LEG_RT_CAP, vendor 0x8086, period. */
#define CAP_REV 0x01u
#define CAP_COUNT_SIZE (1u << 13)
#define CAP_LEG_RT (1u << 15)
#define CAP_VENDOR (0x8086u << 16)

#define CFG_ENABLE 0x1u
#define CFG_LEGACY 0x2u

#define TN_INT_TYPE_LEVEL (1u << 1)
#define TN_INT_ENB (1u << 2)
#define TN_TYPE_PERIODIC (1u << 3)
#define TN_PER_INT_CAP (1u << 4)
#define TN_SIZE_CAP (1u << 5)
#define TN_VAL_SET (1u << 6)
#define TN_32MODE (1u << 8)
#define TN_ROUTE_SHIFT 9
#define TN_ROUTE_MASK (0x1fu << TN_ROUTE_SHIFT)
#define TN_WRITABLE (TN_INT_TYPE_LEVEL | TN_INT_ENB | TN_TYPE_PERIODIC | TN_VAL_SET | \
                     TN_32MODE | TN_ROUTE_MASK)

enum { OUT_LEGACY0 = DEV_HPET_GSI_PINS, OUT_LEGACY8, OUT_N };

struct hpet_timer {
    uint64_t config;        /* low half: Tn_*_CNF and caps; high half: INT_ROUTE_CAP */
    uint64_t cmp;           /* comparator register (the accumulator when periodic) */
    uint64_t period;        /* periodic increment */
    uint64_t fsb;           /* FSB route register: stored only */
    uint64_t cmp64;         /* next match, in 64-bit counter space */
    uint64_t deadline_ns;   /* host time of the next match or wrap; UINT64_MAX = none */
    bool wrap;              /* deadline is the 32-bit wrap, cmp64 comes after */
};

struct dev_hpet {
    uint64_t base;
    uint32_t intcap;
    uint64_t capability;
    uint64_t config;
    uint64_t isr;
    uint64_t counter;       /* halted: the value; running: value at enabled_ns */
    uint64_t enabled_ns;
    struct hpet_timer t[DEV_HPET_TIMERS];
    struct dev_irq_line out[OUT_N];
    int out_level[OUT_N];
    int in_level[2];        /* PIT and RTC through dev_hpet_legacy_input() */
    void (*legacy_changed)(void *ctx, bool on);
    void *legacy_ctx;
    struct dev_timers *timers;
    struct dev_timer timer;
};

static bool hpet_enabled(const struct dev_hpet *h) { return h->config & CFG_ENABLE; }
static bool hpet_legacy(const struct dev_hpet *h) { return h->config & CFG_LEGACY; }

static uint64_t hpet_ticks(const struct dev_hpet *h, uint64_t now)
{
    if (!hpet_enabled(h) || now <= h->enabled_ns)
        return h->counter;
    return h->counter + (now - h->enabled_ns) / NS_PER_TICK;
}

/* Host time at which the counter reaches tick (now if it already has). */
static uint64_t tick_ns(const struct dev_hpet *h, uint64_t tick, uint64_t now)
{
    if (tick <= hpet_ticks(h, now))
        return now;
    uint64_t delta = tick - h->counter;
    if (delta > (UINT64_MAX - 1 - h->enabled_ns) / NS_PER_TICK)
        return UINT64_MAX;              /* centuries away: not armed */
    return h->enabled_ns + delta * NS_PER_TICK;
}

static uint64_t deposit64(uint64_t old, unsigned shift, unsigned len, uint64_t v)
{
    uint64_t mask = len >= 64 ? ~0ull : ((1ull << len) - 1) << shift;
    return (old & ~mask) | ((v << shift) & mask);
}

/* --- interrupt outputs --- */

static int timer_out(const struct dev_hpet *h, int n)
{
    if (n <= 1 && hpet_legacy(h))
        return n == 0 ? OUT_LEGACY0 : OUT_LEGACY8;
    unsigned route = (unsigned)(h->t[n].config & TN_ROUTE_MASK) >> TN_ROUTE_SHIFT;
    return route < DEV_HPET_GSI_PINS ? (int)route : -1;
}

static void out_drive(struct dev_hpet *h, int o, int level)
{
    if (h->out_level[o] == level)
        return;
    h->out_level[o] = level;
    dev_irq_set(&h->out[o], level);
}

/* Recompute every output's level from the level-triggered timers (and the
 * forwarded PIT/RTC lines while the legacy route is off). */
static void hpet_update_lines(struct dev_hpet *h)
{
    int want[OUT_N] = { 0 };
    if (!hpet_legacy(h)) {
        want[OUT_LEGACY0] = h->in_level[0];
        want[OUT_LEGACY8] = h->in_level[1];
    }
    for (int n = 0; n < DEV_HPET_TIMERS; n++) {
        const struct hpet_timer *t = &h->t[n];
        int o = timer_out(h, n);
        if (o >= 0 && (t->config & TN_INT_TYPE_LEVEL) && (t->config & TN_INT_ENB) &&
            (h->isr & (1u << n)) && hpet_enabled(h))
            want[o] = 1;
    }
    for (int o = 0; o < OUT_N; o++)
        out_drive(h, o, want[o]);
}

/* Timer n matched. */
static void hpet_raise(struct dev_hpet *h, int n)
{
    const struct hpet_timer *t = &h->t[n];
    if (t->config & TN_INT_TYPE_LEVEL) {
        h->isr |= 1u << n;
        hpet_update_lines(h);
        return;
    }
    h->isr &= ~(1ull << n);
    int o = timer_out(h, n);
    if (o >= 0 && (t->config & TN_INT_ENB) && hpet_enabled(h) && !h->out_level[o]) {
        dev_irq_set(&h->out[o], 1);     /* an edge for the controller to latch */
        dev_irq_set(&h->out[o], 0);
    }
}

/* --- comparators and the host timer --- */

static void hpet_rearm(struct dev_hpet *h)
{
    uint64_t d = UINT64_MAX;
    for (int n = 0; n < DEV_HPET_TIMERS; n++)
        if (h->t[n].deadline_ns < d)
            d = h->t[n].deadline_ns;
    dev_timer_set(&h->timer, d);
}

static void timer_arm(struct dev_hpet *h, struct hpet_timer *t, uint64_t tick, uint64_t now)
{
    t->deadline_ns = tick_ns(h, tick, now);
}

/* The comparator as a count: itself in 64-bit mode; in 32-bit mode the next
 * count (from cur on) whose low half equals it. */
static uint64_t timer_cmp64(const struct hpet_timer *t, uint64_t cur)
{
    if (!(t->config & TN_32MODE))
        return t->cmp;
    uint64_t r = (cur & ~0xffffffffull) | (uint32_t)t->cmp;
    return r < cur ? r + 0x100000000ull : r;
}

/* (Re)start timer t from its comparator; the HPET is enabled. */
static void timer_set(struct dev_hpet *h, struct hpet_timer *t, uint64_t now)
{
    uint64_t cur = hpet_ticks(h, now);
    t->wrap = false;
    t->cmp64 = timer_cmp64(t, cur);
    if ((t->config & TN_32MODE) && !(t->config & TN_TYPE_PERIODIC)) {
        uint64_t wrap = (cur | 0xffffffffull) + 1;
        if (t->cmp64 > wrap) {
            t->wrap = true;
            timer_arm(h, t, wrap, now);
            return;
        }
    }
    timer_arm(h, t, t->cmp64, now);
}

static void timer_match(struct dev_hpet *h, int n, uint64_t now)
{
    struct hpet_timer *t = &h->t[n];
    uint64_t cur = hpet_ticks(h, now);
    if ((t->config & TN_TYPE_PERIODIC) && t->period) {
        if (t->cmp64 <= cur)            /* whole periods past now: no drift, no burst */
            t->cmp64 += ((cur - t->cmp64) / t->period + 1) * t->period;
        t->cmp = (t->config & TN_32MODE) ? (uint32_t)t->cmp64 : t->cmp64;
        uint64_t fired = t->deadline_ns;
        timer_arm(h, t, t->cmp64, now);
        /* A tiny period must not flood the run loop (QEMU: at most one
         * interrupt per microsecond); the comparator keeps its phase. */
        if (fired < UINT64_MAX - PERIODIC_MIN_NS && t->deadline_ns < fired + PERIODIC_MIN_NS)
            t->deadline_ns = fired + PERIODIC_MIN_NS;
    } else if (t->wrap) {
        t->wrap = false;
        timer_arm(h, t, t->cmp64, now);
    } else {
        t->deadline_ns = UINT64_MAX;
    }
    hpet_raise(h, n);
}

static void hpet_fire(void *ctx, uint64_t now)
{
    struct dev_hpet *h = ctx;
    if (hpet_enabled(h))
        for (int n = 0; n < DEV_HPET_TIMERS; n++)
            if (h->t[n].deadline_ns <= now)
                timer_match(h, n, now);
    hpet_rearm(h);
}

/* --- registers --- */

static uint64_t reg_read(struct dev_hpet *h, uint64_t reg, uint64_t now)
{
    if (reg >= 0x100) {
        uint64_t n = (reg - 0x100) / 0x20;
        if (n >= DEV_HPET_TIMERS)
            return 0;
        const struct hpet_timer *t = &h->t[n];
        switch (reg & 0x18) {
        case 0x00: return t->config;
        case 0x08: return t->cmp;
        case 0x10: return t->fsb;
        default: return 0;
        }
    }
    switch (reg) {
    case 0x000: return h->capability;
    case 0x010: return h->config;
    case 0x020: return h->isr;
    case 0x0f0: return hpet_ticks(h, now);
    default: return 0;
    }
}

static void set_legacy(struct dev_hpet *h, bool on)
{
    if (h->legacy_changed)
        h->legacy_changed(h->legacy_ctx, on);
}

static void write_general_config(struct dev_hpet *h, uint64_t v, uint64_t now)
{
    uint64_t old = h->config, cur = hpet_ticks(h, now);
    h->config = v & (CFG_ENABLE | CFG_LEGACY);
    if (!(old & CFG_ENABLE) && (h->config & CFG_ENABLE)) {
        h->enabled_ns = now;            /* counter runs on from its halted value */
        for (int n = 0; n < DEV_HPET_TIMERS; n++)
            timer_set(h, &h->t[n], now);
    } else if ((old & CFG_ENABLE) && !(h->config & CFG_ENABLE)) {
        h->counter = cur;               /* halt where it stands */
        for (int n = 0; n < DEV_HPET_TIMERS; n++)
            h->t[n].deadline_ns = UINT64_MAX;
    }
    if ((old ^ h->config) & CFG_LEGACY)
        set_legacy(h, h->config & CFG_LEGACY);
    hpet_update_lines(h);
    hpet_rearm(h);
}

static void write_timer_config(struct dev_hpet *h, int n, uint64_t v, uint64_t now)
{
    struct hpet_timer *t = &h->t[n];
    uint64_t old = t->config;
    uint64_t nw = (old & ~(uint64_t)TN_WRITABLE) | (v & TN_WRITABLE);
    unsigned route = (unsigned)(nw & TN_ROUTE_MASK) >> TN_ROUTE_SHIFT;
    if (!(h->intcap & (1u << route)))   /* not offered: the old route stays */
        nw = (nw & ~(uint64_t)TN_ROUTE_MASK) | (old & TN_ROUTE_MASK);
    if ((old & TN_INT_TYPE_LEVEL) && !(nw & TN_INT_TYPE_LEVEL))
        h->isr &= ~(1ull << n);         /* status is meaningless for edge */
    t->config = nw;
    if (nw & TN_32MODE) {
        t->cmp = (uint32_t)t->cmp;
        t->period = (uint32_t)t->period;
    }
    uint64_t restart = TN_TYPE_PERIODIC | TN_32MODE;
    if (hpet_enabled(h) && (((old ^ nw) & restart) || (!(old & TN_INT_ENB) && (nw & TN_INT_ENB))))
        timer_set(h, t, now);
    hpet_update_lines(h);
    hpet_rearm(h);
}

static void write_timer_cmp(struct dev_hpet *h, int n, unsigned shift, unsigned len, uint64_t v,
                            uint64_t now)
{
    struct hpet_timer *t = &h->t[n];
    if (t->config & TN_32MODE) {
        if (shift)
            return;                     /* the high half is 0 in 32-bit mode */
        v = (uint32_t)v;
        len = 64;
    }
    bool periodic = t->config & TN_TYPE_PERIODIC;
    if (!periodic || (t->config & TN_VAL_SET))
        t->cmp = deposit64(t->cmp, shift, len, v);
    if (periodic)
        t->period = deposit64(t->period, shift, len, v);
    t->config &= ~(uint64_t)TN_VAL_SET;
    if (hpet_enabled(h)) {
        timer_set(h, t, now);
        hpet_rearm(h);
    }
}

static void reg_write(struct dev_hpet *h, uint64_t offset, unsigned size, uint64_t v, uint64_t now)
{
    uint64_t reg = offset & ~7ull;
    unsigned shift = (unsigned)(offset & 4) * 8, len = size * 8;
    if (reg >= 0x100) {
        uint64_t n = (reg - 0x100) / 0x20;
        if (n >= DEV_HPET_TIMERS)
            return;
        struct hpet_timer *t = &h->t[n];
        switch (reg & 0x18) {
        case 0x00:
            write_timer_config(h, (int)n, deposit64(t->config, shift, len, v), now);
            break;
        case 0x08:
            write_timer_cmp(h, (int)n, shift, len, v, now);
            break;
        case 0x10:
            t->fsb = deposit64(t->fsb, shift, len, v);
            break;
        }
        return;
    }
    switch (reg) {
    case 0x010:
        write_general_config(h, deposit64(h->config, shift, len, v), now);
        break;
    case 0x020: {
        uint64_t clr = deposit64(0, shift, len, v) & h->isr;
        if (clr) {
            h->isr &= ~clr;
            hpet_update_lines(h);
        }
        break;
    }
    case 0x0f0:
        if (!hpet_enabled(h))
            h->counter = deposit64(h->counter, shift, len, v);
        break;
    }
}

/* 32- and 64-bit accesses, naturally aligned. Narrower reads return the
 * bytes they cover; narrower or misaligned writes are dropped. */
static void hpet_mmio(void *opaque, uint64_t offset, unsigned size, bool is_write, uint64_t *data)
{
    struct dev_hpet *h = opaque;
    uint64_t now = dev_clock_ns();
    if (is_write) {
        if ((size == 4 || size == 8) && offset % size == 0)
            reg_write(h, offset, size, size == 4 ? (uint32_t)*data : *data, now);
        return;
    }
    uint64_t v = reg_read(h, offset & ~7ull, now) >> ((offset & 7) * 8);
    if (size < 8)
        v &= (1ull << (size * 8)) - 1;
    *data = v;
}

/* --- PIT/RTC gate --- */

static void legacy_in_set(void *ctx, int line, int level)
{
    struct dev_hpet *h = ctx;
    int i = line == 8;
    h->in_level[i] = level != 0;
    if (!hpet_legacy(h)) {
        /* Straight through: the PIT pulses 1 then 0, the RTC holds a level. */
        h->out_level[OUT_LEGACY0 + i] = level != 0;
        dev_irq_set(&h->out[OUT_LEGACY0 + i], level);
    }
}

struct dev_irq_line dev_hpet_legacy_input(struct dev_hpet *h, int which)
{
    return (struct dev_irq_line){ .set = legacy_in_set, .ctx = h, .line = which == 8 ? 8 : 0 };
}

bool dev_hpet_legacy_on(const struct dev_hpet *h)
{
    return hpet_legacy(h);
}

/* --- life cycle --- */

void dev_hpet_reset(struct dev_hpet *h)
{
    bool was_legacy = hpet_legacy(h);
    h->config = 0;
    h->isr = 0;
    h->counter = 0;
    h->enabled_ns = 0;
    for (int n = 0; n < DEV_HPET_TIMERS; n++) {
        struct hpet_timer *t = &h->t[n];
        t->config = TN_PER_INT_CAP | TN_SIZE_CAP | (uint64_t)h->intcap << 32;
        t->cmp = ~0ull;
        t->period = 0;
        t->fsb = 0;
        t->cmp64 = ~0ull;
        t->deadline_ns = UINT64_MAX;
        t->wrap = false;
    }
    if (was_legacy)
        set_legacy(h, false);
    hpet_update_lines(h);
    hpet_rearm(h);
}

struct dev_hpet *dev_hpet_new(struct dev_bus *bus, struct dev_timers *timers,
                              const struct dev_hpet_config *cfg)
{
    struct dev_hpet *h = calloc(1, sizeof(*h));
    if (!h) {
        fprintf(stderr, "btvm: hpet: out of memory\n");
        return NULL;
    }
    h->base = cfg->base;
    h->intcap = cfg->intcap;
    h->capability = CAP_REV | (DEV_HPET_TIMERS - 1) << 8 | CAP_COUNT_SIZE | CAP_LEG_RT |
                    CAP_VENDOR | PERIOD_FS << 32;
    for (int i = 0; i < DEV_HPET_GSI_PINS; i++)
        h->out[i] = cfg->gsi[i];
    h->out[OUT_LEGACY0] = cfg->legacy_irq0;
    h->out[OUT_LEGACY8] = cfg->legacy_irq8;
    h->legacy_changed = cfg->legacy_changed;
    h->legacy_ctx = cfg->legacy_ctx;
    h->timers = timers;
    h->timer = (struct dev_timer){ .deadline_ns = UINT64_MAX, .fire = hpet_fire, .ctx = h };
    dev_hpet_reset(h);
    int err = dev_bus_register_mmio(bus, cfg->base, DEV_HPET_LEN, "hpet", hpet_mmio, h);
    if (err) {
        fprintf(stderr, "btvm: hpet: cannot claim 0x%llx: %s\n", (unsigned long long)cfg->base,
                strerror(-err));
        free(h);                        /* nothing was registered */
        return NULL;
    }
    dev_timers_add(timers, &h->timer);
    return h;
}

void dev_hpet_free(struct dev_hpet *h)
{
    if (!h)
        return;
    dev_timers_remove(h->timers, &h->timer);
    free(h);
}
