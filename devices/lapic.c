/*
 * devices/lapic.c — the local APIC (xAPIC) of the one CPU, after the Intel
 * SDM vol. 3 ch. 10. See devices/lapic.h for the interface and threading.
 *
 * State that other threads change (IRR, TMR, new errors, NMI, the intr
 * byte) is atomic; the registers they only read (base, ID, LDR, DFR, SVR,
 * LVT) are atomics written by the vcpu thread with relaxed stores, which
 * cost a plain mov on x86. ISR, TPR and the timer belong to the vcpu
 * thread alone, so the hot paths (ID read, TPR and EOI writes) take no
 * lock: an EOI is two 8-word scans and a few atomic operations.
 *
 * The intr byte: other threads only raise it (after setting IRR, and after
 * bumping `gen`); the vcpu thread recomputes it and retries if `gen`
 * moved meanwhile, so a remote raise is never overwritten with a stale 0.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "devices/clock_own.h"
#include "devices/lapic.h"

enum { LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR, LVT_N };

#define LVT_MASKED          (1u << 16)
#define LVT_DM(v)           (((v) >> 8) & 7)
#define SVR_ENABLE          (1u << 8)
#define SVR_WMASK           0x3FFu     /* vector, enable, focus-check (read back only) */
#define ESR_SEND_ILLEGAL    (1u << 5)
#define ESR_RECV_ILLEGAL    (1u << 6)
#define ESR_ILLEGAL_REG     (1u << 7)
#define ICR_WMASK           0x000CCFFFu /* vector, mode, dest mode, level, trigger, shorthand */
#define BASE_ADDR_MASK      UINT64_C(0xFFFFFF000)   /* bits 12..35 (MAXPHYADDR 36) */

enum { TM_ONESHOT, TM_PERIODIC, TM_TSC };

#define LD(x)    atomic_load_explicit(&(x), memory_order_relaxed)
#define ST(x, v) atomic_store_explicit(&(x), (v), memory_order_relaxed)

struct dev_lapic {
    /*
     * The register page (dev_lapic_regs_page): every register at its
     * offset, as the guest reads it, for an engine to serve reads from
     * (docs/devices.md). IRR and TMR live only there (any thread changes
     * them, with atomic operations); the other registers are copied in by
     * the vcpu thread after each change (page_sync and the hot paths).
     */
    _Atomic uint32_t *page;
    /* Changed by any thread. */
    _Atomic uint32_t esr_new;       /* errors detected since the last ESR write */
    _Atomic bool nmi;
    _Atomic uint8_t intr;
    _Atomic uint32_t gen;
    /* Written by the vcpu thread, read by any. */
    _Atomic uint64_t base;          /* IA32_APIC_BASE */
    _Atomic uint32_t id, ldr, dfr, svr;
    _Atomic uint32_t lvt[LVT_N];
    /* vcpu thread only. */
    uint32_t isr[8];
    int isr_top;                    /* highest vector in isr[], -1: none (PPR reads it) */
    uint32_t tpr, esr, icr_lo, icr_hi;
    uint32_t tmict, tdcr;
    unsigned shift;                 /* log2 of the divider */
    bool counting;                  /* one-shot/periodic count loaded (tmict != 0) */
    uint64_t start_ns;              /* the count was c0 at start_ns */
    uint32_t c0;
    uint64_t tsc_deadline;
    struct dev_timer timer;
    bool mapped;
    uint64_t mapped_base;
    /* Configuration, set before the machine runs. */
    struct dev_bus *bus;
    struct dev_timers *timers;
    struct dev_lapic_extint extint;
    struct dev_apic_eoi eoi;
    uint64_t (*tsc_now)(void *ctx);
    void *tsc_ctx;
    uint64_t tsc_hz;                /* 0 until known (tsc_hz_fn) */
    uint64_t (*tsc_hz_fn)(void);
    bool has_tsc;                   /* TSC-deadline mode offered */
    uint8_t reset_id;
    bool bsp;
    void (*notify)(void *ctx);
    void *notify_ctx;
    /* Reads may be served from the page (dev_lapic_direct) as of the last
     * direct_update, for this window base; who to tell when that changes. */
    bool direct_ok;
    uint64_t direct_base;
    void (*direct_notify)(void *ctx);
    void *direct_ctx;
};

/* A register of the page by offset; IRR and TMR words. */
#define REG(l, off) ((l)->page[(off) >> 2])
#define IRR(l, i)   REG(l, 0x200u + 0x10u * (unsigned)(i))
#define TMR(l, i)   REG(l, 0x180u + 0x10u * (unsigned)(i))

_Static_assert(sizeof(_Atomic uint8_t) == 1, "intr must be one byte");

/* ---- bitmaps and priorities ---- */

static int fls32(uint32_t v)
{
    return 31 - __builtin_clz(v);
}

static int scan_isr(const struct dev_lapic *l)
{
    for (int i = 7; i >= 0; i--)
        if (l->isr[i])
            return i * 32 + fls32(l->isr[i]);
    return -1;
}

static int highest_irr(struct dev_lapic *l)
{
    for (int i = 7; i >= 0; i--) {
        uint32_t w = LD(IRR(l, i));
        if (w)
            return i * 32 + fls32(w);
    }
    return -1;
}

/* PPR (SDM 10.8.3.1): TPR if its class is at least the in-service class,
 * else the in-service class with sub-class 0. */
static uint32_t lapic_ppr(const struct dev_lapic *l)
{
    int isrv = l->isr_top;
    uint32_t cls = isrv < 0 ? 0 : (uint32_t)isrv & 0xF0;
    return (l->tpr & 0xF0) >= cls ? l->tpr : cls;
}

static bool hw_enabled(struct dev_lapic *l)
{
    return LD(l->base) & DEV_LAPIC_BASE_ENABLE;
}

static bool sw_enabled(struct dev_lapic *l)
{
    return LD(l->svr) & SVR_ENABLE;
}

/* The highest IRR vector whose class beats the PPR's, or -1. A
 * software-disabled APIC still delivers what IRR holds (SDM 10.4.7.2:
 * pending interrupts "are held and require masking or handling by the
 * CPU"); it just accepts no new ones. */
static int vector_pending(struct dev_lapic *l)
{
    if (!hw_enabled(l))
        return -1;
    int v = highest_irr(l);
    if (v < 0 || ((uint32_t)v & 0xF0) <= (lapic_ppr(l) & 0xF0))
        return -1;
    return v;
}

/* Does the PIC's INTR reach the CPU? Through LINT0 programmed as unmasked
 * ExtINT, or directly when the APIC is globally disabled (the CPU then
 * behaves as one without an APIC). Software disable masks LINT0. */
static bool extint_open(struct dev_lapic *l)
{
    if (!l->extint.intr)
        return false;
    if (!hw_enabled(l))
        return true;
    uint32_t lvt0 = LD(l->lvt[LVT_LINT0]);
    return !(lvt0 & LVT_MASKED) && LVT_DM(lvt0) == DEV_APIC_DM_EXTINT;
}

/* ExtINT goes first: it bypasses IRR/ISR and the PPR (SDM 10.5.1), so the
 * APIC has no priority to compare it with; QEMU orders them the same way. */
static int pending_calc(struct dev_lapic *l)
{
    if (extint_open(l) && l->extint.intr(l->extint.ctx))
        return DEV_LAPIC_PENDING_EXTINT;
    return vector_pending(l);
}

/* vcpu thread: recompute the intr byte; returns what pending_calc said. */
static int refresh(struct dev_lapic *l, bool notify)
{
    for (;;) {
        uint32_t g = atomic_load(&l->gen);
        int p = pending_calc(l);
        bool on = p >= 0 || atomic_load(&l->nmi);
        /* Only a store of 0 can hide a remote's 1: that one needs the full
         * barrier before gen is read again; an unchanged byte needs no
         * store at all (the common case on the interrupt path). */
        if (atomic_load_explicit(&l->intr, memory_order_relaxed) != on) {
            if (on)
                atomic_store_explicit(&l->intr, 1, memory_order_release);
            else
                atomic_store(&l->intr, 0);
        }
        if (atomic_load(&l->gen) == g) {
            if (on && notify && l->notify)
                l->notify(l->notify_ctx);
            return p;
        }
    }
}

/* Any thread, after it changed IRR/NMI/the PIC: raise the byte, wake the engine. */
static void signal_remote(struct dev_lapic *l)
{
    /* A release store is enough here: the vcpu's refresh() stores with a
     * full barrier before it re-reads gen, so if its 0 lands after this 1
     * it sees gen moved (bumped before this store) and computes again. */
    atomic_fetch_add(&l->gen, 1);
    atomic_store_explicit(&l->intr, 1, memory_order_release);
    if (l->notify)
        l->notify(l->notify_ctx);
}

/* ---- acceptance ---- */

/* Into IRR; TMR set for level, cleared for edge (SDM 10.8.4). */
static void accept(struct dev_lapic *l, uint8_t vec, bool level)
{
    uint32_t bit = 1u << (vec & 31);
    /* Most interrupts keep their trigger mode: skip the locked RMW then. */
    if (!(LD(TMR(l, vec >> 5)) & bit) != !level) {
        if (level)
            atomic_fetch_or(&TMR(l, vec >> 5), bit);
        else
            atomic_fetch_and(&TMR(l, vec >> 5), ~bit);
    }
    atomic_fetch_or(&IRR(l, vec >> 5), bit);
}

/* Log errors and raise the error LVT. An illegal vector in the error LVT
 * itself is logged too but raises nothing more (no loop). */
static void lapic_error(struct dev_lapic *l, uint32_t bits)
{
    atomic_fetch_or(&l->esr_new, bits);
    uint32_t lvt = LD(l->lvt[LVT_ERROR]);
    if (lvt & LVT_MASKED)
        return;
    uint8_t vec = lvt & 0xFF;
    if (vec < 16)
        atomic_fetch_or(&l->esr_new, ESR_RECV_ILLEGAL);
    else
        accept(l, vec, false);
}

/* A local interrupt from an LVT entry with fixed delivery (timer). */
static void lvt_fire(struct dev_lapic *l, int which)
{
    uint32_t lvt = LD(l->lvt[which]);
    if (lvt & LVT_MASKED)
        return;
    uint8_t vec = lvt & 0xFF;
    if (vec < 16)
        lapic_error(l, ESR_RECV_ILLEGAL);
    else
        accept(l, vec, false);
}

bool dev_lapic_match_dest(const struct dev_lapic *l, uint8_t dest, bool logical)
{
    struct dev_lapic *m = (struct dev_lapic *)l;   /* relaxed loads only */
    if (!logical)
        return dest == 0xFF || dest == LD(m->id);
    uint8_t lid = LD(m->ldr) >> 24;
    if ((LD(m->dfr) >> 28) == 0xF)              /* flat model: a bit mask */
        return (lid & dest) != 0;
    /* cluster model: cluster in the high nibble (0xF = all), bit mask below */
    return ((dest >> 4) == 0xF || (dest >> 4) == (lid >> 4)) && (dest & lid & 0x0F);
}

/* A message known to target us; true if it changed IRR/NMI. */
static bool receive(struct dev_lapic *l, const struct dev_apic_msg *m)
{
    switch (m->mode) {
    case DEV_APIC_DM_FIXED:
    case DEV_APIC_DM_LOWEST:      /* one CPU: it wins every arbitration */
        if (!sw_enabled(l))       /* 10.4.7.2: only INIT/NMI/SMI/SIPI answered */
            return false;
        if (m->vector < 16)
            lapic_error(l, ESR_RECV_ILLEGAL);
        else
            accept(l, m->vector, m->level);
        return true;
    case DEV_APIC_DM_NMI:
        atomic_store(&l->nmi, true);
        return true;
    default:
        /* SMI (no SMM), INIT and SIPI (this is the BSP, running; INIT of
         * the BSP is a machine reset btvm does not model through the APIC),
         * ExtINT messages (virtual wire through the I/O APIC: not yet). */
        return false;
    }
}

void dev_lapic_deliver(struct dev_lapic *l, const struct dev_apic_msg *m)
{
    if (!hw_enabled(l) || !dev_lapic_match_dest(l, m->dest, m->dest_logical))
        return;
    if (receive(l, m))
        signal_remote(l);
}

static void sink_deliver(void *ctx, const struct dev_apic_msg *m)
{
    dev_lapic_deliver(ctx, m);
}

struct dev_apic_sink dev_lapic_sink(struct dev_lapic *l)
{
    return (struct dev_apic_sink){ .deliver = sink_deliver, .ctx = l };
}

void dev_lapic_extint_changed(struct dev_lapic *l)
{
    signal_remote(l);
}

/* ---- timer ---- */

static void page_sync(struct dev_lapic *l);

static int timer_mode(struct dev_lapic *l)
{
    unsigned m = (LD(l->lvt[LVT_TIMER]) >> 17) & 3;
    return m == 2 ? TM_TSC : m == 1 ? TM_PERIODIC : TM_ONESHOT;  /* 3 reserved: one-shot */
}

static uint32_t timer_count(struct dev_lapic *l, uint64_t now)
{
    if (!l->counting || timer_mode(l) == TM_TSC)
        return 0;
    uint64_t t = now > l->start_ns ? (now - l->start_ns) >> l->shift : 0;
    if (t < l->c0)
        return l->c0 - (uint32_t)t;
    if (timer_mode(l) != TM_PERIODIC)
        return 0;
    return l->tmict - (uint32_t)((t - l->c0) % l->tmict);
}

/* Next time the count reaches zero after now (the clock ticks at
 * start_ns + k << shift), or UINT64_MAX. */
static void timer_arm(struct dev_lapic *l, uint64_t now)
{
    dev_timer_set(&l->timer, UINT64_MAX);
    if (!l->counting || timer_mode(l) == TM_TSC)
        return;
    uint64_t t = now > l->start_ns ? (now - l->start_ns) >> l->shift : 0;
    uint64_t n;
    if (t < l->c0)
        n = l->c0;
    else if (timer_mode(l) != TM_PERIODIC)
        return;                                   /* one-shot: spent */
    else
        n = l->c0 + ((t - l->c0) / l->tmict + 1) * l->tmict;
    dev_timer_set(&l->timer, l->start_ns + (n << l->shift));
}

/* TSC ticks to ns, rounded up so a re-arm always makes progress. */
static uint64_t tsc_to_ns(struct dev_lapic *l, uint64_t delta)
{
    if (!l->tsc_hz)
        l->tsc_hz = l->tsc_hz_fn();
    uint64_t whole = delta / l->tsc_hz, rest = delta % l->tsc_hz;
    if (whole > UINT64_MAX / 2 / 1000000000u)
        return UINT64_MAX / 2;
    return whole * 1000000000u + (rest * 1000000000u + l->tsc_hz - 1) / l->tsc_hz;
}

static void tsc_arm(struct dev_lapic *l, uint64_t now)
{
    uint64_t tsc = l->tsc_now(l->tsc_ctx);
    if (tsc >= l->tsc_deadline) {
        /* Due: the timer disarms itself and clears the MSR (SDM 10.5.4.1). */
        l->tsc_deadline = 0;
        dev_timer_set(&l->timer, UINT64_MAX);
        lvt_fire(l, LVT_TIMER);
        return;
    }
    uint64_t ns = tsc_to_ns(l, l->tsc_deadline - tsc);
    dev_timer_set(&l->timer, now > UINT64_MAX - ns ? UINT64_MAX - 1 : now + ns);
}

static void timer_fire(void *ctx, uint64_t now)
{
    struct dev_lapic *l = ctx;
    if (timer_mode(l) == TM_TSC) {
        if (l->tsc_deadline)
            tsc_arm(l, now);
        else
            dev_timer_set(&l->timer, UINT64_MAX);
    } else {
        lvt_fire(l, LVT_TIMER);                   /* only called once due */
        /* A late run loop gets one interrupt, not one per missed period. */
        timer_arm(l, now);
        if (timer_mode(l) == TM_PERIODIC && l->timer.deadline_ns != UINT64_MAX &&
            l->timer.deadline_ns - now < DEV_LAPIC_MIN_PERIOD_NS)
            dev_timer_set(&l->timer, now + DEV_LAPIC_MIN_PERIOD_NS);
    }
    page_sync(l);
    refresh(l, true);
}

/* Before changing timer state: an expiry the run loop has not reached yet
 * happened first. */
static uint64_t timer_catch_up(struct dev_lapic *l)
{
    uint64_t now = dev_clock_ns();
    if (l->timer.deadline_ns <= now)
        timer_fire(l, now);
    return now;
}

/* Restart counting from the current count at the last tick, so that a new
 * divider or mode applies from here on. */
static void timer_rebase(struct dev_lapic *l, uint64_t now)
{
    if (!l->counting)
        return;
    uint32_t cur = timer_count(l, now);
    uint64_t t = now > l->start_ns ? (now - l->start_ns) >> l->shift : 0;
    l->start_ns += t << l->shift;
    l->c0 = cur;
    l->counting = cur != 0;                       /* a spent one-shot stays spent */
}

static void write_tmict(struct dev_lapic *l, uint32_t v)
{
    if (timer_mode(l) == TM_TSC)
        return;                                   /* ignored in TSC-deadline mode */
    uint64_t now = timer_catch_up(l);
    l->tmict = v;
    l->counting = v != 0;
    l->start_ns = now;
    l->c0 = v;
    timer_arm(l, now);
}

static void write_tdcr(struct dev_lapic *l, uint32_t v)
{
    uint64_t now = timer_catch_up(l);
    timer_rebase(l, now);
    l->tdcr = v & 0xB;
    unsigned d = (l->tdcr & 3) | ((l->tdcr >> 1) & 4);
    l->shift = (d + 1) & 7;                       /* 0 → /2 ... 6 → /128, 7 → /1 */
    timer_arm(l, now);
}

void dev_lapic_set_tsc_deadline(struct dev_lapic *l, uint64_t tsc)
{
    if (!l->has_tsc || timer_mode(l) != TM_TSC)
        return;
    l->tsc_deadline = tsc;
    if (!tsc)
        dev_timer_set(&l->timer, UINT64_MAX);
    else
        tsc_arm(l, dev_clock_ns());
    refresh(l, true);
}

uint64_t dev_lapic_get_tsc_deadline(const struct dev_lapic *l)
{
    return timer_mode((struct dev_lapic *)l) == TM_TSC ? l->tsc_deadline : 0;
}

/* ---- the register page ---- */

static void put(struct dev_lapic *l, uint32_t off, uint32_t v)
{
    ST(REG(l, off), v);
}

/* TMCCT does not change with time: no count loaded, TSC-deadline mode
 * (reads 0), or a one-shot count that ran out and was fired (reads 0). A
 * one-shot that ran out but was not fired yet still counts here: its
 * reads take the model, which says 0 too. Constant means 0. */
static bool tmcct_constant(struct dev_lapic *l)
{
    int mode = timer_mode(l);
    return !l->counting || mode == TM_TSC ||
           (mode != TM_PERIODIC && l->timer.deadline_ns == UINT64_MAX);
}

/* Reads may be served from the page while the window is there and no
 * register reads differently from one moment to the next (TMCCT while
 * counting). xAPIC reads have no side effects except on unimplemented
 * registers (ESR bit 7), which dev_lapic_readable() leaves out. */
static void direct_update(struct dev_lapic *l)
{
    bool ok = l->mapped && tmcct_constant(l);
    uint64_t base = ok ? l->mapped_base : 0;
    if (ok == l->direct_ok && base == l->direct_base)
        return;
    l->direct_ok = ok;
    l->direct_base = base;
    if (l->direct_notify)
        l->direct_notify(l->direct_ctx);
}

static void put_ppr(struct dev_lapic *l)
{
    put(l, 0xA0, lapic_ppr(l));
}

/* vcpu thread, after a change: every register but IRR/TMR (which live in
 * the page) copied in, then whether the page may be read directly. */
static void page_sync(struct dev_lapic *l)
{
    put(l, 0x20, LD(l->id) << 24);
    put(l, 0x30, DEV_LAPIC_VERSION);
    put(l, 0x80, l->tpr);
    put_ppr(l);
    put(l, 0xD0, LD(l->ldr));
    put(l, 0xE0, LD(l->dfr));
    put(l, 0xF0, LD(l->svr));
    for (unsigned i = 0; i < 8; i++)
        put(l, 0x100 + 0x10 * i, l->isr[i]);
    put(l, 0x280, l->esr);
    put(l, 0x300, l->icr_lo);
    put(l, 0x310, l->icr_hi);
    for (unsigned i = 0; i < LVT_N; i++)
        put(l, 0x320 + 0x10 * i, LD(l->lvt[i]));
    put(l, 0x380, l->tmict);
    put(l, 0x390, 0);                             /* TMCCT: read here only while constant */
    put(l, 0x3E0, l->tdcr);
    direct_update(l);
}

/* ---- registers ---- */

static const uint32_t lvt_wmask[LVT_N] = {
    [LVT_TIMER] = 0x300FF,     /* vector, mask, periodic (+ bit 18 with TSC-deadline) */
    [LVT_THERMAL] = 0x107FF,   /* vector, delivery mode, mask */
    [LVT_PERF] = 0x107FF,
    [LVT_LINT0] = 0x1A7FF,     /* + polarity, trigger mode */
    [LVT_LINT1] = 0x1A7FF,
    [LVT_ERROR] = 0x100FF,
};

static void write_lvt(struct dev_lapic *l, int n, uint32_t v)
{
    uint32_t mask = lvt_wmask[n];
    if (n == LVT_TIMER && l->has_tsc)
        mask |= 1u << 18;
    v &= mask;
    if (!sw_enabled(l))
        v |= LVT_MASKED;                          /* 10.4.7.2: masks cannot be cleared */
    if (n != LVT_TIMER) {
        ST(l->lvt[n], v);
        return;
    }
    uint64_t now = timer_catch_up(l);
    int old = timer_mode(l);
    timer_rebase(l, now);
    ST(l->lvt[n], v);
    int mode = timer_mode(l);
    if ((old == TM_TSC) != (mode == TM_TSC)) {
        /* Switching to or from TSC-deadline disarms the timer (10.5.4.1). */
        l->counting = false;
        l->tmict = 0;
        l->tsc_deadline = 0;
    }
    timer_arm(l, now);
}

static void write_svr(struct dev_lapic *l, uint32_t v)
{
    v &= SVR_WMASK;
    ST(l->svr, v);
    if (!(v & SVR_ENABLE))
        for (int i = 0; i < LVT_N; i++)
            ST(l->lvt[i], LD(l->lvt[i]) | LVT_MASKED);
}

void dev_lapic_eoi(struct dev_lapic *l)
{
    int v = l->isr_top;
    if (v < 0)
        return;                                   /* nothing in service: nothing changes */
    uint32_t bit = 1u << (v & 31);
    l->isr[v >> 5] &= ~bit;
    l->isr_top = scan_isr(l);
    put(l, 0x100 + 0x10 * (unsigned)(v >> 5), l->isr[v >> 5]);
    put_ppr(l);
    /* Level-triggered: tell the I/O APIC (clears its Remote IRR). */
    if ((LD(TMR(l, v >> 5)) & bit) && l->eoi.eoi)
        l->eoi.eoi(l->eoi.ctx, (uint8_t)v);
    refresh(l, true);
}

void dev_lapic_set_tpr(struct dev_lapic *l, uint8_t tpr)
{
    l->tpr = tpr;
    put(l, 0x80, tpr);
    put_ppr(l);
    refresh(l, true);
}

uint8_t dev_lapic_get_tpr(const struct dev_lapic *l)
{
    return (uint8_t)l->tpr;
}

/* ICR low write: send. One CPU, so only what targets us arrives anywhere;
 * IPIs to absent APICs go unanswered, as on a board with empty sockets.
 * Combinations SDM table 10-3 calls invalid are dropped. */
static void send_ipi(struct dev_lapic *l)
{
    uint32_t v = l->icr_lo;
    uint8_t vec = v & 0xFF, dm = LVT_DM(v);
    bool logical = v & (1u << 11), assert_ = v & (1u << 14), trig = v & (1u << 15);
    unsigned sh = (v >> 18) & 3;
    if (dm == DEV_APIC_DM_INIT && trig && !assert_)
        return;                                   /* INIT level de-assert: arbitration only */
    if ((dm == DEV_APIC_DM_FIXED || dm == DEV_APIC_DM_LOWEST) && vec < 16) {
        lapic_error(l, ESR_SEND_ILLEGAL);         /* not sent */
        return;
    }
    bool to_self;
    switch (sh) {
    case 0: to_self = dev_lapic_match_dest(l, l->icr_hi >> 24, logical); break;
    case 1:                                       /* self */
    case 2: to_self = dm == DEV_APIC_DM_FIXED; break;   /* all including self */
    default: to_self = false; break;              /* all excluding self: nobody */
    }
    if (!to_self)
        return;
    /* xAPIC IPIs are edge-triggered whatever the trigger bit (table 10-3 note 2). */
    struct dev_apic_msg m = { .vector = vec, .mode = dm, .dest = (uint8_t)LD(l->id) };
    receive(l, &m);
}

static void illegal_reg(struct dev_lapic *l)
{
    lapic_error(l, ESR_ILLEGAL_REG);
    refresh(l, true);
}

uint32_t dev_lapic_read(struct dev_lapic *l, uint32_t offset)
{
    if (offset == 0x20)                           /* the ID: the hottest read */
        return LD(l->id) << 24;
    if ((offset & 0xF) || offset > 0x3F0) {
        illegal_reg(l);
        return 0;
    }
    unsigned r = offset >> 4;
    if (r >= 0x10 && r <= 0x17)
        return l->isr[r - 0x10];
    if (r >= 0x18 && r <= 0x1F)
        return LD(TMR(l, r - 0x18));
    if (r >= 0x20 && r <= 0x27)
        return LD(IRR(l, r - 0x20));
    if (r >= 0x32 && r <= 0x37)
        return LD(l->lvt[r - 0x32]);   /* delivery status and remote IRR read 0 */
    switch (r) {
    case 0x03: return DEV_LAPIC_VERSION;
    case 0x08: return l->tpr;
    case 0x09: return 0;                          /* APR */
    case 0x0A: return lapic_ppr(l);
    case 0x0B: return 0;                          /* EOI is write-only */
    case 0x0C: return 0;                          /* remote read */
    case 0x0D: return LD(l->ldr);
    case 0x0E: return LD(l->dfr);
    case 0x0F: return LD(l->svr);
    case 0x28: return l->esr;
    case 0x30: return l->icr_lo;                  /* delivery status: always idle */
    case 0x31: return l->icr_hi;
    case 0x38: return l->tmict;
    case 0x39: return timer_count(l, dev_clock_ns());
    case 0x3E: return l->tdcr;
    default:
        illegal_reg(l);
        return 0;
    }
}

static void write_reg(struct dev_lapic *l, uint32_t offset, uint32_t v)
{
    if ((offset & 0xF) || offset > 0x3F0) {
        illegal_reg(l);
        return;
    }
    unsigned r = offset >> 4;
    if (r >= 0x32 && r <= 0x37) {
        write_lvt(l, (int)r - 0x32, v);
        refresh(l, true);
        return;
    }
    if (r >= 0x10 && r <= 0x27)
        return;                                   /* ISR/TMR/IRR: read-only */
    switch (r) {
    case 0x02: ST(l->id, v >> 24); return;
    case 0x0D: ST(l->ldr, v & 0xFF000000u); return;
    case 0x0E: ST(l->dfr, v | 0x0FFFFFFFu); return;
    case 0x0F: write_svr(l, v); break;
    case 0x28: l->esr = atomic_exchange(&l->esr_new, 0); return;  /* latch */
    case 0x30: l->icr_lo = v & ICR_WMASK; send_ipi(l); break;
    case 0x31: l->icr_hi = v & 0xFF000000u; return;
    case 0x38: write_tmict(l, v); break;
    case 0x3E: write_tdcr(l, v); break;
    case 0x03: case 0x09: case 0x0A: case 0x0C: case 0x39:
        return;                                   /* read-only */
    default:
        illegal_reg(l);
        return;
    }
    refresh(l, true);
}

void dev_lapic_write(struct dev_lapic *l, uint32_t offset, uint32_t v)
{
    if (offset == 0xB0) {                         /* EOI and TPR first: the hot ones */
        dev_lapic_eoi(l);
        return;
    }
    if (offset == 0x80) {
        dev_lapic_set_tpr(l, (uint8_t)v);
        return;
    }
    write_reg(l, offset, v);
    page_sync(l);
}

/* The 4 KiB window: each register is the first dword of a 16-byte slot.
 * Reads of any size return the bytes at that address (the rest of a slot
 * reads 0); writes count only as a dword (or the low dword of a qword) at
 * the start of a slot — the SDM asks for aligned 32-bit accesses and KVM
 * drops the others too. */
static void lapic_mmio(void *opaque, uint64_t offset, unsigned size, bool is_write, uint64_t *data)
{
    struct dev_lapic *l = opaque;
    uint32_t slot = (uint32_t)offset & ~0xFu;
    unsigned in = offset & 0xF;
    if (is_write) {
        if (in == 0 && size >= 4)
            dev_lapic_write(l, slot, (uint32_t)*data);
        return;
    }
    *data = in < 4 ? (uint64_t)dev_lapic_read(l, slot) >> (in * 8) : 0;
}

/* ---- base MSR, window, reset ---- */

/* Register/unregister the window to match the base MSR; true if it changed. */
static bool window_sync(struct dev_lapic *l)
{
    uint64_t b = LD(l->base);
    bool want = l->bus && (b & DEV_LAPIC_BASE_ENABLE);
    uint64_t at = b & BASE_ADDR_MASK;
    if (l->mapped && want && l->mapped_base == at)
        return false;
    bool was = l->mapped;
    if (l->mapped)
        dev_bus_unregister_mmio(l->bus, l->mapped_base);
    l->mapped = want && dev_bus_register_mmio(l->bus, at, 0x1000, "lapic", lapic_mmio, l) == 0;
    l->mapped_base = at;
    return was || l->mapped;
}

/* Power-on register state (SDM 10.4.7.1); base and window untouched. */
static void regs_reset(struct dev_lapic *l)
{
    for (int i = 0; i < 8; i++) {
        ST(IRR(l, i), 0);
        ST(TMR(l, i), 0);
        l->isr[i] = 0;
    }
    l->isr_top = -1;
    ST(l->id, l->reset_id);
    ST(l->ldr, 0);
    ST(l->dfr, 0xFFFFFFFFu);
    ST(l->svr, 0xFFu);
    for (int i = 0; i < LVT_N; i++)
        ST(l->lvt[i], LVT_MASKED);
    atomic_store(&l->esr_new, 0);
    atomic_store(&l->nmi, false);
    l->tpr = l->esr = l->icr_lo = l->icr_hi = 0;
    l->tmict = l->tdcr = 0;
    l->shift = 1;
    l->counting = false;
    l->c0 = 0;
    l->start_ns = 0;
    l->tsc_deadline = 0;
    dev_timer_set(&l->timer, UINT64_MAX);
}

void dev_lapic_reset(struct dev_lapic *l, bool virtual_wire)
{
    regs_reset(l);
    ST(l->base, DEV_LAPIC_DEFAULT_BASE | DEV_LAPIC_BASE_ENABLE | (l->bsp ? DEV_LAPIC_BASE_BSP : 0));
    window_sync(l);
    if (virtual_wire) {
        ST(l->svr, SVR_ENABLE | 0xFF);
        ST(l->lvt[LVT_LINT0], 0x8700u);           /* ExtINT, level */
        ST(l->lvt[LVT_LINT1], 0x8400u);           /* NMI */
    }
    page_sync(l);
    refresh(l, false);
}

int dev_lapic_set_base(struct dev_lapic *l, uint64_t msr)
{
    if (msr & ~(BASE_ADDR_MASK | DEV_LAPIC_BASE_ENABLE | DEV_LAPIC_BASE_BSP))
        return -EINVAL;                           /* incl. bit 10: no x2APIC */
    bool was_on = hw_enabled(l);
    uint64_t b = (msr & (BASE_ADDR_MASK | DEV_LAPIC_BASE_ENABLE)) |
                 (l->bsp ? DEV_LAPIC_BASE_BSP : 0);   /* BSP is the hardware's to say */
    if (was_on && !(b & DEV_LAPIC_BASE_ENABLE)) {
        /* 10.4.3: the APIC "may return to the power-up state"; we do. */
        timer_catch_up(l);
        regs_reset(l);
    }
    ST(l->base, b);
    int moved = window_sync(l);
    page_sync(l);
    refresh(l, true);
    return moved;
}

uint64_t dev_lapic_get_base(const struct dev_lapic *l)
{
    return LD(((struct dev_lapic *)l)->base);
}

bool dev_lapic_window(const struct dev_lapic *l, uint64_t *base)
{
    if (base)
        *base = l->mapped_base;
    return l->mapped;
}

/* ---- CPU side ---- */

int dev_lapic_pending(struct dev_lapic *l)
{
    return refresh(l, false);
}

/* INTA with p what pending_calc said just now. */
static int ack(struct dev_lapic *l, int p)
{
    int v = p;
    if (p == DEV_LAPIC_PENDING_EXTINT) {
        v = l->extint.ack(l->extint.ctx);         /* the PIC's INTA */
    } else if (v >= 0) {
        uint32_t bit = 1u << (v & 31);
        atomic_fetch_and(&IRR(l, v >> 5), ~bit);
        l->isr[v >> 5] |= bit;
        if (v > l->isr_top)
            l->isr_top = v;
        put(l, 0x100 + 0x10 * (unsigned)(v >> 5), l->isr[v >> 5]);
        put_ppr(l);
    } else if (!hw_enabled(l) && l->extint.ack) {
        v = l->extint.ack(l->extint.ctx);         /* no APIC: the PIC answers (IRQ 7) */
    } else {
        v = LD(l->svr) & 0xFF;                    /* spurious: no ISR bit */
    }
    refresh(l, false);
    return v;
}

int dev_lapic_ack(struct dev_lapic *l)
{
    return ack(l, pending_calc(l));
}

int dev_lapic_take(struct dev_lapic *l)
{
    int p = refresh(l, false);
    return p < 0 ? -1 : ack(l, p);
}

bool dev_lapic_nmi_pending(const struct dev_lapic *l)
{
    return atomic_load(&((struct dev_lapic *)l)->nmi);
}

bool dev_lapic_take_nmi(struct dev_lapic *l)
{
    bool had = atomic_exchange(&l->nmi, false);
    refresh(l, false);
    return had;
}

const volatile uint8_t *dev_lapic_intr_byte(const struct dev_lapic *l)
{
    return (const volatile uint8_t *)&l->intr;
}

void dev_lapic_set_notify(struct dev_lapic *l, void (*fn)(void *ctx), void *ctx)
{
    l->notify = fn;
    l->notify_ctx = ctx;
}

void dev_lapic_set_eoi(struct dev_lapic *l, const struct dev_apic_eoi *eoi)
{
    l->eoi = *eoi;
}

/* ---- the register page, for engines ---- */

const void *dev_lapic_regs_page(const struct dev_lapic *l)
{
    return (const void *)l->page;
}

/* What dev_lapic_read answers without logging an error: the page holds
 * each one in the first dword of its 16-byte slot, zeros after it, as
 * lapic_mmio reads them. */
static bool reg_readable(unsigned r)
{
    return (r >= 0x02 && r <= 0x03) || (r >= 0x08 && r <= 0x28) || (r >= 0x30 && r <= 0x39) ||
           r == 0x3E;
}

void dev_lapic_readable(uint8_t readable[256], uint8_t writable[256])
{
    for (unsigned g = 0; g < 256; g++) {
        readable[g] = reg_readable(g);
        writable[g] = g == 0x08 || g == 0x0B;     /* TPR, EOI */
    }
}

bool dev_lapic_direct(const struct dev_lapic *l, uint64_t *base)
{
    if (base)
        *base = l->direct_base;
    return l->direct_ok;
}

void dev_lapic_set_direct_notify(struct dev_lapic *l, void (*fn)(void *ctx), void *ctx)
{
    l->direct_notify = fn;
    l->direct_ctx = ctx;
}

/* ---- life cycle ---- */

struct dev_lapic *dev_lapic_new(const struct dev_lapic_config *cfg)
{
    struct dev_lapic *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->page = aligned_alloc(4096, 4096);
    if (!l->page) {
        free(l);
        return NULL;
    }
    memset((void *)l->page, 0, 4096);
    l->bus = cfg->bus;
    l->timers = cfg->timers;
    l->extint = cfg->extint;
    l->eoi = cfg->eoi;
    l->tsc_now = cfg->tsc_now;
    l->tsc_ctx = cfg->tsc_ctx;
    l->tsc_hz = cfg->tsc_now ? cfg->tsc_hz : 0;
    l->tsc_hz_fn = cfg->tsc_now ? cfg->tsc_hz_fn : NULL;
    l->has_tsc = cfg->tsc_now && (cfg->tsc_hz || cfg->tsc_hz_fn);
    l->reset_id = cfg->apic_id;
    l->bsp = cfg->bsp;
    l->timer.fire = timer_fire;
    l->timer.ctx = l;
    dev_timer_set(&l->timer, UINT64_MAX);
    if (l->timers)
        dev_timers_add(l->timers, &l->timer);
    dev_lapic_reset(l, false);
    return l;
}

void dev_lapic_free(struct dev_lapic *l)
{
    if (!l)
        return;
    if (l->mapped)
        dev_bus_unregister_mmio(l->bus, l->mapped_base);
    dev_timers_remove(l->timers, &l->timer);
    free((void *)l->page);
    free(l);
}
