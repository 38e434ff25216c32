/*
 * devices/acpi_pm.c — ACPI fixed hardware (ACPI 2.0 section 4.7): the PM1a
 * event block (PM1_STS, PM1_EN at 0x600), the PM1a control block (PM1_CNT
 * at 0x604) and the PM timer (PM_TMR at 0x608), as the FADT describes them.
 *
 * PM1_STS bits are set by hardware and cleared by writing 1 (WAK_STS,
 * TMR_STS, ...); PM1_EN enables them as SCI sources; the SCI (IRQ 9, level)
 * is high while an enabled status bit is set. PM1_CNT: SCI_EN starts at 1
 * without firmware (no SMI_CMD: the machine is always in ACPI mode), at 0
 * with it, until the OS asks the APM port (dev_acpi_pm_set_sci_en); it is
 * also writable, as on the PIIX4; SLP_EN is write-only
 * and, with SLP_TYP = the \_S5 value, powers the machine off. The PM timer
 * counts at 3.579545 MHz from the host clock, 24 bits wide; TMR_STS is set
 * each time its bit 23 changes (and raises the SCI when TMR_EN is set).
 * The power button (dev_acpi_pm_power_button) sets PWRBTN_STS only while
 * PWRBTN_EN is set, as QEMU's PIIX4 PM does: a press the OS does not
 * listen for is lost, not latched for later.
 * Reads of PM_TMR are spaced DEV_ACPI_PM_TMR_GAP_NS apart: on chipsets the
 * register sits behind the LPC bus and a read takes about a microsecond,
 * and guests bound calibration loops by that (memtest86+ takes at most a
 * million reads for 50 ms of PM timer; btvm's ~30 ns reads ended its loop
 * after ~37 ms, and its clock ran 1.35x fast). Time-bounded loops, such as
 * Linux's, only read it fewer times.
 * Registers may be read or written with any width at any byte (the bus
 * hands us offset and size); each byte goes to its register. The block
 * starts at 0x600 and moves with dev_acpi_pm_set_base() (the PIIX4's PMBA).
 * Used from the run-loop thread only, so there is no lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/acpi_pm.h"
#include "devices/bus_own.h"
#include "devices/clock_own.h"

#define NS 1000000000u

/* PM1_STS / PM1_EN bits (ACPI 2.0 tables 4-12, 4-13). */
enum {
    PM1_TMR = 1u << 0, PM1_BM = 1u << 4, PM1_GBL = 1u << 5, PM1_PWRBTN = 1u << 8,
    PM1_SLPBTN = 1u << 9, PM1_RTC = 1u << 10, PM1_WAK = 1u << 15,
};
#define STS_BITS (PM1_TMR | PM1_BM | PM1_GBL | PM1_PWRBTN | PM1_SLPBTN | PM1_RTC | PM1_WAK)
#define EN_BITS  (PM1_TMR | PM1_GBL | PM1_PWRBTN | PM1_SLPBTN | PM1_RTC)

/* PM1_CNT bits (table 4-14). */
enum {
    CNT_SCI_EN = 1u << 0, CNT_BM_RLD = 1u << 1, CNT_GBL_RLS = 1u << 2,
    CNT_SLP_TYP_SHIFT = 10, CNT_SLP_TYP = 7u << 10, CNT_SLP_EN = 1u << 13,
};
#define CNT_RW (CNT_BM_RLD | CNT_SLP_TYP)

/* Offsets in the range. */
enum { R_STS = 0, R_EN = 2, R_CNT = 4, R_TMR = 8 };

#define TMR_FLIP_SHIFT 23 /* TMR_STS: bit 23 of the counter changed */

struct dev_acpi_pm {
    uint16_t sts, en, cnt;
    uint64_t t0_ns;          /* the PM timer counts from here */
    uint64_t tmr_read_ns;    /* host time of the last PM_TMR read */
    uint64_t flips;          /* ticks >> 23 when TMR_STS was last brought up to date */
    struct dev_bus *bus;
    uint16_t base;           /* where the block is decoded; 0: nowhere */
    struct dev_timers *timers;
    struct dev_timer timer;  /* next bit-23 change while TMR_EN is set */
    struct dev_irq_line sci;
    int sci_level;
    bool sci_en;   /* PM1_CNT.SCI_EN (also dev_acpi_pm_set_sci_en: the APM port) */
    void (*power_off)(void *ctx);
    void *ctx;
};

static uint64_t ticks_at(const struct dev_acpi_pm *pm, uint64_t now)
{
    uint64_t d = now > pm->t0_ns ? now - pm->t0_ns : 0;
    return (uint64_t)((unsigned __int128)d * DEV_ACPI_PM_TMR_HZ / NS);
}

/* First host time at which ticks >= t. */
static uint64_t tick_ns(const struct dev_acpi_pm *pm, uint64_t t)
{
    return pm->t0_ns +
           (uint64_t)(((unsigned __int128)t * NS + DEV_ACPI_PM_TMR_HZ - 1) / DEV_ACPI_PM_TMR_HZ);
}

uint32_t dev_acpi_pm_timer(const struct dev_acpi_pm *pm)
{
    return (uint32_t)(ticks_at(pm, dev_clock_ns()) & 0xFFFFFFu);
}

/* Bring TMR_STS up to date, drive the SCI, and arm the timer for the next
 * bit-23 change only while it could raise the SCI. */
static void update(struct dev_acpi_pm *pm, uint64_t now)
{
    uint64_t f = ticks_at(pm, now) >> TMR_FLIP_SHIFT;
    if (f != pm->flips) {
        pm->sts |= PM1_TMR;
        pm->flips = f;
    }
    int level = (pm->sts & pm->en & EN_BITS) != 0;
    if (level != pm->sci_level) {
        pm->sci_level = level;
        dev_irq_set(&pm->sci, level);
    }
    bool want = (pm->en & PM1_TMR) && !(pm->sts & PM1_TMR);
    dev_timer_set(&pm->timer, want ? tick_ns(pm, (pm->flips + 1) << TMR_FLIP_SHIFT) : UINT64_MAX);
}

static void pm_fire(void *ctx, uint64_t now)
{
    update(ctx, now);
}

static uint8_t reg_byte(const struct dev_acpi_pm *pm, unsigned off, uint32_t tmr)
{
    uint32_t v;
    switch (off & ~1u) {
    case R_STS: v = pm->sts; break;
    case R_EN:  v = pm->en; break;
    case R_CNT: v = (pm->cnt & CNT_RW) | (pm->sci_en ? CNT_SCI_EN : 0); break;
    case R_TMR: v = tmr & 0xFFFF; break;
    case R_TMR + 2: v = tmr >> 16; break;
    default: v = 0; break;  /* offsets 6-7: nothing there */
    }
    return (uint8_t)(v >> (8 * (off & 1)));
}

static void write_cnt(struct dev_acpi_pm *pm, uint16_t v, uint16_t mask)
{
    pm->cnt = (uint16_t)((pm->cnt & ~(mask & CNT_RW)) | (v & mask & CNT_RW));
    /* SCI_EN is read/write on the PIIX4 (PMCNTRL bit 0) and in QEMU. */
    if (mask & CNT_SCI_EN)
        pm->sci_en = v & CNT_SCI_EN;
    /* GBL_RLS would tell a BIOS the OS released the global lock: no BIOS. */
    if ((mask & CNT_SLP_EN) && (v & CNT_SLP_EN)) {
        unsigned typ = (pm->cnt & CNT_SLP_TYP) >> CNT_SLP_TYP_SHIFT;
        if (typ == DEV_ACPI_SLP_TYP_S5 && pm->power_off)
            pm->power_off(pm->ctx);
    }
}

static void pm_io(void *opaque, uint64_t offset, unsigned size, bool is_write, uint64_t *data)
{
    struct dev_acpi_pm *pm = opaque;
    uint64_t now = dev_clock_ns();
    update(pm, now);
    if (!is_write) {
        if (offset + size > R_TMR && offset < R_TMR + 4) {
            dev_clock_min_gap(&pm->tmr_read_ns, DEV_ACPI_PM_TMR_GAP_NS);
            now = dev_clock_ns();
        }
        uint32_t tmr = (uint32_t)(ticks_at(pm, now) & 0xFFFFFFu);
        uint64_t v = 0;
        for (unsigned i = 0; i < size; i++)
            if (offset + i < DEV_ACPI_PM_LEN)
                v |= (uint64_t)reg_byte(pm, (unsigned)offset + i, tmr) << (8 * i);
            else
                v |= (uint64_t)0xFF << (8 * i);
        *data = v;
        return;
    }
    /* Gather each 16-bit register's written bytes, then apply them once. */
    uint16_t val[DEV_ACPI_PM_LEN / 2] = { 0 }, mask[DEV_ACPI_PM_LEN / 2] = { 0 };
    for (unsigned i = 0; i < size && offset + i < DEV_ACPI_PM_LEN; i++) {
        unsigned o = (unsigned)offset + i, sh = 8 * (o & 1);
        val[o / 2] |= (uint16_t)(((*data >> (8 * i)) & 0xFF) << sh);
        mask[o / 2] |= (uint16_t)(0xFF << sh);
    }
    pm->sts &= (uint16_t)~(val[R_STS / 2] & mask[R_STS / 2] & STS_BITS); /* write 1 to clear */
    pm->en = (uint16_t)((pm->en & ~mask[R_EN / 2]) | (val[R_EN / 2] & mask[R_EN / 2] & EN_BITS));
    if (mask[R_CNT / 2])
        write_cnt(pm, val[R_CNT / 2], mask[R_CNT / 2]);
    /* PM_TMR is read-only. */
    update(pm, now);
}

int dev_acpi_pm_set_base(struct dev_acpi_pm *pm, uint16_t base)
{
    if ((uint32_t)base + DEV_ACPI_PM_LEN > 0x10000)
        return -EINVAL;
    if (base == pm->base)
        return 0;
    if (pm->base)
        dev_bus_unregister_pio(pm->bus, pm->base);
    pm->base = 0;
    if (!base)
        return 0;
    int err = dev_bus_register_pio(pm->bus, base, DEV_ACPI_PM_LEN, "acpi-pm", pm_io, pm);
    if (!err)
        pm->base = base;
    return err;
}

uint16_t dev_acpi_pm_base(const struct dev_acpi_pm *pm)
{
    return pm->base;
}

struct dev_acpi_pm *dev_acpi_pm_new(struct dev_bus *bus, struct dev_timers *timers,
                                    struct dev_irq_line sci, void (*power_off)(void *ctx),
                                    void *ctx)
{
    struct dev_acpi_pm *pm = calloc(1, sizeof(*pm));
    if (!pm) {
        fprintf(stderr, "btvm: acpi-pm: out of memory\n");
        return NULL;
    }
    pm->sci_en = true;
    pm->t0_ns = dev_clock_ns();
    pm->timers = timers;
    pm->sci = sci;
    pm->power_off = power_off;
    pm->ctx = ctx;
    pm->timer = (struct dev_timer){ .deadline_ns = UINT64_MAX, .fire = pm_fire, .ctx = pm };
    pm->bus = bus;
    int err = dev_acpi_pm_set_base(pm, DEV_ACPI_PM_BASE);
    if (err) {
        fprintf(stderr, "btvm: acpi-pm: cannot claim ports 0x%x-0x%x: %s\n", DEV_ACPI_PM_BASE,
                DEV_ACPI_PM_BASE + DEV_ACPI_PM_LEN - 1, strerror(-err));
        dev_bus_own(bus, pm); /* a claimed range may point at pm */
        return NULL;
    }
    if (timers)
        dev_timers_add(timers, &pm->timer);
    return pm;
}

void dev_acpi_pm_free(struct dev_acpi_pm *pm)
{
    if (!pm)
        return;
    dev_timers_remove(pm->timers, &pm->timer);
    free(pm);
}

bool dev_acpi_pm_power_button(struct dev_acpi_pm *pm)
{
    if (!(pm->en & PM1_PWRBTN))
        return false;
    pm->sts |= PM1_PWRBTN;
    update(pm, dev_clock_ns());
    return true;
}

void dev_acpi_pm_set_sci_en(struct dev_acpi_pm *pm, bool on)
{
    pm->sci_en = on;
}

bool dev_acpi_pm_sci_en(const struct dev_acpi_pm *pm)
{
    return pm->sci_en;
}
