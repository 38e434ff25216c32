/*
 * devices/pit8254.c — the Intel 8254 programmable interval timer (ports
 * 0x40-0x43) and system control port B (0x61): channel 2 gate, speaker
 * data, refresh toggle and channel 2 OUT.
 *
 * Counters are not stepped: each channel remembers when its count was
 * loaded (host CLOCK_MONOTONIC via dev_clock_ns) and derives the current
 * count and OUT level from the elapsed 1.193182 MHz ticks, for all six
 * modes. A gate held low in modes 0/2/3/4 pauses counting (the pause is
 * added to the load time); a rising gate triggers modes 1/5 and restarts
 * modes 2/3. A new count in modes 2/3 restarts the period at once rather
 * than at the end of the current one (QEMU does the same).
 *
 * IRQ0: channel 0's OUT edges become a dev_timer. At each event (end of a
 * period in modes 2/3, terminal count in 0/1, end of the strobe in 4/5)
 * IRQ0 gets a pulse (1 then 0), which the edge-triggered PIC latches. A
 * late run loop gets one pulse, not one per missed period.
 * Used from the run-loop thread only, so there is no lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/bus_own.h"
#include "devices/clock_own.h"
#include "devices/pit8254.h"

#define PIT_HZ 1193182u
#define NS 1000000000u

enum { RW_LATCH = 0, RW_LSB = 1, RW_MSB = 2, RW_WORD = 3 };

struct pit_ch {
    uint32_t count;          /* reload value in ticks (0 written = 65536 / 10000 BCD) */
    uint64_t load_ns;        /* when counting (re)started */
    uint64_t gate_low_ns;    /* when the gate fell, while it is low */
    uint8_t mode, rw, bcd;
    bool gate;
    bool loaded;             /* a count was written since the control word */
    bool started;            /* counting: loaded, and triggered in modes 1/5 */
    bool wr_msb;             /* write flip-flop: next byte is the MSB */
    bool rd_msb;             /* read flip-flop for live reads */
    uint8_t wr_lsb;
    uint16_t latch;          /* latched count */
    int latch_bytes;         /* 0 none; else 1 or 2 bytes left (see latch_msb) */
    bool latch_msb;          /* next latched byte is the MSB */
    uint8_t status;
    bool status_latched;
};

struct dev_pit {
    struct pit_ch ch[3];
    struct dev_timers *timers;
    struct dev_timer timer;
    struct dev_irq_line irq0;
    uint64_t irq_next;       /* channel 0: tick (from load_ns) of the next IRQ event */
    uint8_t port61;          /* bits 0-3 as written */
};

/* "now" as seen by a channel: frozen while a pausing gate is low. */
static uint64_t ch_now(const struct pit_ch *c, uint64_t now)
{
    bool pauses = c->mode == 0 || c->mode == 2 || c->mode == 3 || c->mode == 4;
    return (!c->gate && pauses) ? c->gate_low_ns : now;
}

static uint64_t ch_ticks(const struct pit_ch *c, uint64_t now)
{
    uint64_t t = ch_now(c, now);
    if (t <= c->load_ns)
        return 0;
    return (uint64_t)((unsigned __int128)(t - c->load_ns) * PIT_HZ / NS);
}

/* First host time at which ticks >= t. */
static uint64_t ticks_to_ns(const struct pit_ch *c, uint64_t t)
{
    return c->load_ns + (uint64_t)(((unsigned __int128)t * NS + PIT_HZ - 1) / PIT_HZ);
}

static int ch_out(const struct pit_ch *c, uint64_t now)
{
    if (!c->loaded)
        return c->mode != 0;
    if (!c->started)
        return 1;                       /* modes 1/5 waiting for a trigger */
    uint64_t d = ch_ticks(c, now), n = c->count;
    switch (c->mode) {
    case 0: return d >= n;
    case 1: return d >= n;
    case 2: return !c->gate || d % n != n - 1;
    case 3: return !c->gate || d % n < (n + 1) / 2;
    default: return d != n;             /* 4, 5: one-tick low strobe */
    }
}

/* Current counting element value, binary. */
static uint32_t ch_count(const struct pit_ch *c, uint64_t now)
{
    if (!c->started)
        return c->count & 0xffff;
    uint64_t d = ch_ticks(c, now), n = c->count;
    uint32_t wrap = c->bcd ? 10000 : 65536;
    switch (c->mode) {
    case 2: return (uint32_t)(n - d % n) % wrap;
    case 3: return (uint32_t)(n - (2 * d) % n) % wrap;   /* counts down by two */
    default: return (uint32_t)((n + wrap - d % wrap) % wrap);
    }
}

static uint16_t to_bcd16(uint32_t v)
{
    return (uint16_t)((v % 10) | (v / 10 % 10) << 4 | (v / 100 % 10) << 8 | (v / 1000 % 10) << 12);
}

static uint16_t ch_count_reg(const struct pit_ch *c, uint64_t now)
{
    uint32_t v = ch_count(c, now);
    return c->bcd ? to_bcd16(v) : (uint16_t)v;
}

/* --- channel 0 -> IRQ0 --- */

static uint64_t irq_first_event(const struct pit_ch *c)
{
    if (!c->started)
        return UINT64_MAX;
    switch (c->mode) {
    case 2: case 3: return c->count;
    case 4: case 5: return (uint64_t)c->count + 1;   /* end of the low strobe */
    default: return c->count;                        /* 0, 1: OUT rises */
    }
}

static void pit_arm(struct dev_pit *p)
{
    const struct pit_ch *c = &p->ch[0];
    dev_timer_set(&p->timer, p->irq_next == UINT64_MAX ? UINT64_MAX : ticks_to_ns(c, p->irq_next));
}

static void pit_irq_reset(struct dev_pit *p)
{
    p->irq_next = irq_first_event(&p->ch[0]);
    pit_arm(p);
}

static void pit_fire(void *ctx, uint64_t now)
{
    struct dev_pit *p = ctx;
    const struct pit_ch *c = &p->ch[0];
    if (p->irq_next == UINT64_MAX) {
        dev_timer_set(&p->timer, UINT64_MAX);
        return;
    }
    uint64_t d = ch_ticks(c, now);
    if (d >= p->irq_next) {
        dev_irq_set(&p->irq0, 1);
        dev_irq_set(&p->irq0, 0);
        if (c->mode == 2 || c->mode == 3)
            p->irq_next = (d / c->count + 1) * c->count;     /* coalesce missed periods */
        else
            p->irq_next = UINT64_MAX;
    }
    pit_arm(p);
}

/* --- registers --- */

static void ch_load(struct dev_pit *p, int i, uint32_t v, uint64_t now)
{
    struct pit_ch *c = &p->ch[i];
    if (c->bcd) {
        v = (v & 0xf) + (v >> 4 & 0xf) * 10 + (v >> 8 & 0xf) * 100 + (v >> 12 & 0xf) * 1000;
        if (v == 0)
            v = 10000;
    } else if (v == 0) {
        v = 65536;
    }
    if (v == 1 && (c->mode == 2 || c->mode == 3))
        v = 2;                          /* count 1 is illegal in modes 2/3 */
    c->count = v;
    c->load_ns = now;
    c->loaded = true;
    c->started = !(c->mode == 1 || c->mode == 5);
    if (!c->gate)
        c->gate_low_ns = now;
    if (i == 0)
        pit_irq_reset(p);
}

static void ch_write(struct dev_pit *p, int i, uint8_t v, uint64_t now)
{
    struct pit_ch *c = &p->ch[i];
    switch (c->rw) {
    case RW_LSB: ch_load(p, i, v, now); break;
    case RW_MSB: ch_load(p, i, (uint32_t)v << 8, now); break;
    default:
        if (!c->wr_msb) {
            c->wr_lsb = v;
            c->wr_msb = true;
            if (c->mode == 0) {         /* first byte stops counting in mode 0 */
                c->loaded = c->started = false;
                if (i == 0)
                    pit_irq_reset(p);
            }
        } else {
            c->wr_msb = false;
            ch_load(p, i, c->wr_lsb | (uint32_t)v << 8, now);
        }
        break;
    }
}

static uint8_t ch_read(struct pit_ch *c, uint64_t now)
{
    if (c->status_latched) {
        c->status_latched = false;
        return c->status;
    }
    if (c->latch_bytes) {
        c->latch_bytes--;
        uint8_t b = c->latch_msb ? c->latch >> 8 : c->latch & 0xff;
        c->latch_msb = !c->latch_msb;
        return b;
    }
    uint16_t v = ch_count_reg(c, now);
    switch (c->rw) {
    case RW_LSB: return v & 0xff;
    case RW_MSB: return v >> 8;
    default:
        c->rd_msb = !c->rd_msb;
        return c->rd_msb ? v & 0xff : v >> 8;
    }
}

static void ch_latch_count(struct pit_ch *c, uint64_t now)
{
    if (c->latch_bytes)
        return;                         /* a second latch before reading is ignored */
    c->latch = ch_count_reg(c, now);
    c->latch_bytes = c->rw == RW_WORD ? 2 : 1;
    c->latch_msb = c->rw == RW_MSB;
}

static void ch_latch_status(struct pit_ch *c, uint64_t now)
{
    if (c->status_latched)
        return;
    bool null_count = !c->started || ch_ticks(c, now) == 0;
    c->status = (uint8_t)(ch_out(c, now) << 7 | null_count << 6 | c->rw << 4 | c->mode << 1 | c->bcd);
    c->status_latched = true;
}

static void pit_control(struct dev_pit *p, uint8_t v, uint64_t now)
{
    int sel = v >> 6;
    if (sel == 3) {                     /* read-back: bits 1-3 select channels */
        for (int i = 0; i < 3; i++) {
            if (!(v & (2 << i)))
                continue;
            if (!(v & 0x10))
                ch_latch_status(&p->ch[i], now);
            if (!(v & 0x20))
                ch_latch_count(&p->ch[i], now);
        }
        return;
    }
    struct pit_ch *c = &p->ch[sel];
    int rw = (v >> 4) & 3;
    if (rw == RW_LATCH) {
        ch_latch_count(c, now);
        return;
    }
    c->rw = (uint8_t)rw;
    c->mode = (v >> 1) & 7;
    if (c->mode > 5)
        c->mode -= 4;                   /* 6, 7 are 2, 3 */
    c->bcd = v & 1;
    c->wr_msb = c->rd_msb = false;
    c->latch_bytes = 0;
    c->status_latched = false;
    c->loaded = c->started = false;     /* OUT to its initial level, await a count */
    if (sel == 0)
        pit_irq_reset(p);
}

static void ch_set_gate(struct dev_pit *p, int i, bool g, uint64_t now)
{
    struct pit_ch *c = &p->ch[i];
    if (g == c->gate)
        return;
    if (!g) {
        c->gate_low_ns = now;
    } else if (c->loaded && (c->mode == 1 || c->mode == 5 || c->mode == 2 || c->mode == 3)) {
        c->load_ns = now;               /* trigger: reload and start */
        c->started = true;
    } else if (c->loaded) {
        c->load_ns += now - c->gate_low_ns;   /* modes 0/4: resume */
    }
    c->gate = g;
}

static void pit_io(void *opaque, uint64_t offset, unsigned size, bool is_write, uint64_t *data)
{
    struct dev_pit *p = opaque;
    uint64_t now = dev_clock_ns(), out = 0;
    for (unsigned i = 0; i < size; i++) {
        uint64_t reg = offset + i;
        uint8_t b = 0xff;
        if (is_write) {
            uint8_t v = (uint8_t)(*data >> (8 * i));
            if (reg < 3)
                ch_write(p, (int)reg, v, now);
            else if (reg == 3)
                pit_control(p, v, now);
        } else if (reg < 3) {
            b = ch_read(&p->ch[reg], now);
        }
        out |= (uint64_t)b << (8 * i);
    }
    if (!is_write)
        *data = out;
}

/* Port 0x61. Bit 4 toggles with the DRAM refresh request, every 15.085 us
 * (QEMU's period); delay loops calibrate on it. */
static void port61_io(void *opaque, uint64_t offset, unsigned size, bool is_write, uint64_t *data)
{
    struct dev_pit *p = opaque;
    uint64_t now = dev_clock_ns();
    (void)offset;
    if (is_write) {
        p->port61 = *data & 0x0f;
        ch_set_gate(p, 2, p->port61 & 1, now);
        return;
    }
    uint8_t v = p->port61 | (uint8_t)((now / 15085 & 1) << 4) |
                (uint8_t)(ch_out(&p->ch[2], now) << 5);
    *data = size == 1 ? v : (v | (~UINT64_C(0) << 8));
}

struct dev_pit *dev_pit_new(struct dev_bus *bus, struct dev_timers *timers, struct dev_irq_line irq0)
{
    struct dev_pit *p = calloc(1, sizeof(*p));
    if (!p) {
        fprintf(stderr, "btvm: pit: out of memory\n");
        return NULL;
    }
    p->irq0 = irq0;
    p->timers = timers;
    for (int i = 0; i < 3; i++) {
        p->ch[i].gate = i < 2;          /* channels 0/1 gates are tied high */
        p->ch[i].rw = RW_WORD;
        p->ch[i].mode = 3;
        p->ch[i].count = 65536;
    }
    p->irq_next = UINT64_MAX;
    p->timer = (struct dev_timer){ .deadline_ns = UINT64_MAX, .fire = pit_fire, .ctx = p };
    int err = dev_bus_register_pio(bus, 0x40, 4, "pit8254", pit_io, p);
    if (!err)
        err = dev_bus_register_pio(bus, 0x61, 1, "port61", port61_io, p);
    if (err) {
        fprintf(stderr, "btvm: pit: cannot claim ports: %s\n", strerror(-err));
        dev_bus_own(bus, p);            /* a claimed range may point at p */
        return NULL;
    }
    dev_timers_add(timers, &p->timer);
    return p;
}

void dev_pit_free(struct dev_pit *p)
{
    if (!p)
        return;
    dev_timers_remove(p->timers, &p->timer);
    free(p);
}
