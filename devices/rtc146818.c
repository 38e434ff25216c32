/*
 * devices/rtc146818.c — the Motorola MC146818 real-time clock and its
 * 128 bytes of CMOS RAM (index port 0x70, data port 0x71, IRQ 8).
 *
 * Time is not counted in registers: the guest's wall clock is
 * dev_clock_ns() + delta, with delta starting at CLOCK_REALTIME minus
 * CLOCK_MONOTONIC (UTC, like QEMU's default -rtc base=utc). Reads of the
 * time registers format that clock per register B (BCD or binary, 12 or
 * 24 hours); a guest that sets the time (writing with B.SET, or writing a
 * time register while running, as QEMU allows) moves delta. While SET is 1
 * the time registers are plain storage and no update happens.
 *
 * Flags in register C are computed lazily from the clock (period index,
 * second number) whenever C is read or the timer fires; the timer is armed
 * only while an interrupt is enabled (PIE, UIE, AIE), so an idle guest
 * costs nothing. UIP reads 1 for the 244 us before each second boundary;
 * the update itself is instantaneous. A divider held in reset (A bits 6-5
 * = 11) stops UIP, updates and periodic flags but does not stop the clock.
 * Used from the run-loop thread only, so there is no lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devices/bus_own.h"
#include "devices/clock_own.h"
#include "devices/rtc146818.h"

#define NS 1000000000ull
#define UIP_NS 244141ull

enum {
    R_SEC = 0, R_SEC_ALM = 1, R_MIN = 2, R_MIN_ALM = 3, R_HOUR = 4, R_HOUR_ALM = 5,
    R_WDAY = 6, R_MDAY = 7, R_MON = 8, R_YEAR = 9, R_A = 10, R_B = 11, R_C = 12, R_D = 13,
    R_CENTURY = 0x32,
};

#define A_UIP  0x80
#define B_SET  0x80
#define B_PIE  0x40
#define B_AIE  0x20
#define B_UIE  0x10
#define B_DM   0x04    /* 1 = binary */
#define B_24H  0x02
#define C_IRQF 0x80
#define C_PF   0x40
#define C_AF   0x20
#define C_UF   0x10

struct dev_rtc {
    uint8_t cmos[128];
    uint8_t index;
    uint64_t delta;          /* guest UTC ns = monotonic ns + delta (mod 2^64) */
    uint64_t last_sec;       /* second number of the last update seen */
    uint64_t last_pidx;      /* periodic index last seen */
    struct dev_irq_line irq;
    struct dev_timers *timers;
    struct dev_timer timer;
};

static uint8_t to_bcd(unsigned v) { return (uint8_t)((v / 10 % 10) << 4 | v % 10); }
static unsigned from_bcd(uint8_t v) { return (v >> 4) * 10 + (v & 0xf); }

static uint8_t enc(const struct dev_rtc *r, unsigned v)
{
    return (r->cmos[R_B] & B_DM) ? (uint8_t)v : to_bcd(v);
}

static unsigned dec(const struct dev_rtc *r, uint8_t v)
{
    return (r->cmos[R_B] & B_DM) ? v : from_bcd(v);
}

static uint8_t enc_hour(const struct dev_rtc *r, unsigned h)
{
    if (r->cmos[R_B] & B_24H)
        return enc(r, h);
    return enc(r, h % 12 ? h % 12 : 12) | (h >= 12 ? 0x80 : 0);
}

static unsigned dec_hour(const struct dev_rtc *r, uint8_t v)
{
    if (r->cmos[R_B] & B_24H)
        return dec(r, v);
    return dec(r, v & 0x7f) % 12 + ((v & 0x80) ? 12 : 0);
}

static bool running(const struct dev_rtc *r)
{
    return !(r->cmos[R_B] & B_SET) && (r->cmos[R_A] & 0x60) != 0x60;
}

static uint64_t guest_ns(const struct dev_rtc *r, uint64_t now)
{
    return now + r->delta;
}

/* Formats the guest time into the time registers and century byte. */
static void rtc_snapshot(struct dev_rtc *r, uint64_t now)
{
    time_t t = (time_t)(guest_ns(r, now) / NS);
    struct tm tm;
    gmtime_r(&t, &tm);
    r->cmos[R_SEC] = enc(r, (unsigned)tm.tm_sec);
    r->cmos[R_MIN] = enc(r, (unsigned)tm.tm_min);
    r->cmos[R_HOUR] = enc_hour(r, (unsigned)tm.tm_hour);
    r->cmos[R_WDAY] = enc(r, (unsigned)tm.tm_wday + 1);
    r->cmos[R_MDAY] = enc(r, (unsigned)tm.tm_mday);
    r->cmos[R_MON] = enc(r, (unsigned)tm.tm_mon + 1);
    r->cmos[R_YEAR] = enc(r, (unsigned)(tm.tm_year + 1900) % 100);
    r->cmos[R_CENTURY] = enc(r, (unsigned)(tm.tm_year + 1900) / 100);
}

/* Seconds since the epoch held in the time registers. */
static uint64_t rtc_parse(const struct dev_rtc *r)
{
    struct tm tm = {
        .tm_sec = (int)dec(r, r->cmos[R_SEC]),
        .tm_min = (int)dec(r, r->cmos[R_MIN]),
        .tm_hour = (int)dec_hour(r, r->cmos[R_HOUR]),
        .tm_mday = (int)dec(r, r->cmos[R_MDAY]),
        .tm_mon = (int)dec(r, r->cmos[R_MON]) - 1,
        .tm_year = (int)(dec(r, r->cmos[R_CENTURY]) * 100 + dec(r, r->cmos[R_YEAR])) - 1900,
    };
    time_t t = timegm(&tm);
    return t < 0 ? 0 : (uint64_t)t;
}

/* Periodic rate: RS 1-2 alias 8-9 (datasheet table); 0 = off. The index
 * counts periods of the 32.768 kHz divider chain since the epoch. */
static int rate_shift(const struct dev_rtc *r)
{
    int rs = r->cmos[R_A] & 0x0f;
    if (!rs)
        return -1;
    return rs < 3 ? rs + 6 : rs - 1;
}

static uint64_t period_index(uint64_t g, int shift)
{
    return (uint64_t)(((unsigned __int128)g * 32768 / NS) >> shift);
}

static void rtc_resync(struct dev_rtc *r, uint64_t now)
{
    uint64_t g = guest_ns(r, now);
    r->last_sec = g / NS;
    int sh = rate_shift(r);
    r->last_pidx = sh < 0 ? 0 : period_index(g, sh);
}

static bool alarm_match(const struct dev_rtc *r, uint64_t now)
{
    struct dev_rtc tmp = *r;
    rtc_snapshot(&tmp, now);
    static const int pair[3][2] = { { R_SEC, R_SEC_ALM }, { R_MIN, R_MIN_ALM }, { R_HOUR, R_HOUR_ALM } };
    for (int i = 0; i < 3; i++) {
        uint8_t a = r->cmos[pair[i][1]];
        if ((a & 0xc0) != 0xc0 && a != tmp.cmos[pair[i][0]])
            return false;
    }
    return true;
}

/* Brings register C up to date with the clock and drives IRQ 8. */
static void rtc_update_flags(struct dev_rtc *r, uint64_t now)
{
    uint8_t *c = &r->cmos[R_C];
    if (running(r)) {
        uint64_t g = guest_ns(r, now), sec = g / NS;
        if (sec != r->last_sec) {
            *c |= C_UF;
            if (alarm_match(r, now))
                *c |= C_AF;
            r->last_sec = sec;
        }
        int sh = rate_shift(r);
        if (sh >= 0) {
            uint64_t idx = period_index(g, sh);
            if (idx != r->last_pidx)
                *c |= C_PF;
            r->last_pidx = idx;
        }
    }
    if ((*c & r->cmos[R_B] & (B_PIE | B_AIE | B_UIE)) && !(*c & C_IRQF)) {
        *c |= C_IRQF;
        dev_irq_set(&r->irq, 1);
    }
}

static void rtc_arm(struct dev_rtc *r, uint64_t now)
{
    uint64_t d = UINT64_MAX, g = guest_ns(r, now);
    uint8_t b = r->cmos[R_B];
    if (running(r)) {
        int sh = rate_shift(r);
        if ((b & B_PIE) && sh >= 0) {
            unsigned __int128 next = (unsigned __int128)(period_index(g, sh) + 1) << sh;
            uint64_t gn = (uint64_t)((next * NS + 32767) / 32768);
            d = now + (gn - g);
        }
        if (b & (B_UIE | B_AIE)) {
            uint64_t dn = now + ((g / NS + 1) * NS - g);
            if (dn < d)
                d = dn;
        }
    }
    dev_timer_set(&r->timer, d);
}

static void rtc_fire(void *ctx, uint64_t now)
{
    struct dev_rtc *r = ctx;
    rtc_update_flags(r, now);
    rtc_arm(r, now);
}

/* Sets the clock from the time registers, keeping the sub-second phase
 * unless restart (leaving SET starts a fresh second, as the datasheet's
 * first update comes one second later). */
static void rtc_set_clock(struct dev_rtc *r, uint64_t now, bool restart)
{
    uint64_t frac = restart ? 0 : guest_ns(r, now) % NS;
    r->delta = rtc_parse(r) * NS + frac - now;
    rtc_resync(r, now);
}

static uint8_t rtc_read(struct dev_rtc *r, uint64_t now)
{
    unsigned i = r->index;
    switch (i) {
    case R_SEC: case R_MIN: case R_HOUR: case R_WDAY: case R_MDAY: case R_MON: case R_YEAR:
    case R_CENTURY:
        if (!(r->cmos[R_B] & B_SET))
            rtc_snapshot(r, now);
        return r->cmos[i];
    case R_A: {
        uint8_t v = r->cmos[R_A] & 0x7f;
        if (running(r) && guest_ns(r, now) % NS >= NS - UIP_NS)
            v |= A_UIP;
        return v;
    }
    case R_C: {
        rtc_update_flags(r, now);
        uint8_t v = r->cmos[R_C];
        r->cmos[R_C] = 0;
        if (v & C_IRQF)
            dev_irq_set(&r->irq, 0);
        rtc_arm(r, now);
        return v;
    }
    case R_D:
        return 0x80;                    /* VRT: the battery is fine */
    default:
        return r->cmos[i];
    }
}

static void rtc_write(struct dev_rtc *r, uint8_t v, uint64_t now)
{
    unsigned i = r->index;
    switch (i) {
    case R_SEC: case R_MIN: case R_HOUR: case R_WDAY: case R_MDAY: case R_MON: case R_YEAR:
    case R_CENTURY:
        if (r->cmos[R_B] & B_SET) {
            r->cmos[i] = v;
        } else {
            rtc_snapshot(r, now);
            r->cmos[i] = v;
            rtc_set_clock(r, now, false);
        }
        break;
    case R_A:
        rtc_update_flags(r, now);
        r->cmos[R_A] = v & 0x7f;
        rtc_resync(r, now);
        break;
    case R_B: {
        uint8_t old = r->cmos[R_B];
        rtc_update_flags(r, now);
        if ((v & B_SET) && !(old & B_SET)) {
            rtc_snapshot(r, now);       /* freeze, in the old format */
            v &= ~B_UIE;                /* datasheet: SET clears UIE */
        }
        /* Leaving SET: the registers hold the time in the format they
         * were written in, so parse before the new format applies. */
        if (!(v & B_SET) && (old & B_SET))
            rtc_set_clock(r, now, true);
        r->cmos[R_B] = v;
        rtc_update_flags(r, now);       /* a newly enabled flag interrupts at once */
        break;
    }
    case R_C: case R_D:
        break;                          /* read-only */
    default:
        r->cmos[i] = v;
        break;
    }
    rtc_arm(r, now);
}

static void rtc_io(void *opaque, uint64_t offset, unsigned size, bool is_write, uint64_t *data)
{
    struct dev_rtc *r = opaque;
    uint64_t now = dev_clock_ns(), out = 0;
    for (unsigned k = 0; k < size; k++) {
        uint64_t port = offset + k;
        uint8_t b = 0xff;
        if (is_write) {
            uint8_t v = (uint8_t)(*data >> (8 * k));
            if (port == 0)
                r->index = v & 0x7f;    /* bit 7 is the NMI mask: no NMIs here */
            else if (port == 1)
                rtc_write(r, v, now);
        } else if (port == 1) {
            b = rtc_read(r, now);
        }
        out |= (uint64_t)b << (8 * k);
    }
    if (!is_write)
        *data = out;
}

/* The PC BIOS's CMOS layout for what a guest without a BIOS still reads. */
static void cmos_init(struct dev_rtc *r, uint64_t mem)
{
    uint8_t *c = r->cmos;
    if (mem > (4ull << 30))
        mem = 4ull << 30;               /* a 32-bit guest; no above-4G bytes */
    c[R_A] = 0x26;                      /* 32.768 kHz divider, 1024 Hz rate */
    c[R_B] = B_24H;                     /* BCD, 24 hours */
    c[0x10] = 0x00;                     /* no floppy drives */
    c[0x14] = 0x02;                     /* FPU present, no floppy, EGA/VGA */
    c[0x15] = 0x80;                     /* 640 KiB base memory */
    c[0x16] = 0x02;
    uint64_t ext = mem > (1u << 20) ? (mem >> 10) - 1024 : 0;
    if (ext > 0xffff)
        ext = 0xffff;
    c[0x17] = c[0x30] = (uint8_t)ext;
    c[0x18] = c[0x31] = (uint8_t)(ext >> 8);
    uint64_t hi = mem > (16u << 20) ? (mem - (16u << 20)) >> 16 : 0;
    if (hi > 0xffff)
        hi = 0xffff;
    c[0x34] = (uint8_t)hi;
    c[0x35] = (uint8_t)(hi >> 8);
    unsigned sum = 0;                   /* standard checksum over 0x10-0x2D */
    for (int i = 0x10; i <= 0x2d; i++)
        sum += c[i];
    c[0x2e] = (uint8_t)(sum >> 8);
    c[0x2f] = (uint8_t)sum;
}

struct dev_rtc *dev_rtc_new(struct dev_bus *bus, struct dev_timers *timers, struct dev_irq_line irq8,
                            uint64_t mem_bytes)
{
    struct dev_rtc *r = calloc(1, sizeof(*r));
    if (!r) {
        fprintf(stderr, "btvm: rtc: out of memory\n");
        return NULL;
    }
    r->irq = irq8;
    r->timers = timers;
    cmos_init(r, mem_bytes);
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    uint64_t now = dev_clock_ns();
    r->delta = (uint64_t)rt.tv_sec * NS + (uint64_t)rt.tv_nsec - now;
    rtc_snapshot(r, now);               /* century byte */
    rtc_resync(r, now);
    r->timer = (struct dev_timer){ .deadline_ns = UINT64_MAX, .fire = rtc_fire, .ctx = r };
    int err = dev_bus_register_pio(bus, 0x70, 2, "rtc146818", rtc_io, r);
    if (err) {
        fprintf(stderr, "btvm: rtc: cannot claim ports: %s\n", strerror(-err));
        free(r);
        return NULL;
    }
    dev_timers_add(timers, &r->timer);
    return r;
}

void dev_rtc_free(struct dev_rtc *r)
{
    if (!r)
        return;
    dev_timers_remove(r->timers, &r->timer);
    free(r);
}
