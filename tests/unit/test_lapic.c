/*
 * tests/unit/test_lapic.c — the local APIC through its MMIO window on a
 * bus, a fake clock, a fake TSC and a fake 8259A: reset values, ID and
 * version, TPR/PPR, priority classes and nesting, EOI order and the EOI
 * broadcast of level vectors, spurious vector, software disable, ESR,
 * self-IPIs, the timer in all three modes, ExtINT through LINT0, the base
 * MSR (global disable, relocation), the intr byte and notify.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "devices/bus.h"
#include "devices/clock_own.h"
#include "devices/lapic.h"

#define BASE 0xFEE00000u

static struct dev_bus *bus;
static struct dev_timers timers;
static struct dev_lapic *lapic;
static uint64_t fake_now, fake_tsc;
static int notified;
static uint8_t eois[16];
static int n_eois;

static struct {
    bool intr;
    int vector;
    int acks;
} pic;

static uint64_t fake_clock(void) { return fake_now; }
static uint64_t tsc_now(void *ctx) { (void)ctx; return fake_tsc; }
static void on_notify(void *ctx) { (void)ctx; __atomic_add_fetch(&notified, 1, __ATOMIC_SEQ_CST); }
static bool pic_intr(void *ctx) { (void)ctx; return pic.intr; }

static int pic_ack(void *ctx)
{
    (void)ctx;
    pic.acks++;
    if (!pic.intr)
        return 0x37;                    /* spurious IRQ 7 */
    pic.intr = false;
    return pic.vector;
}

static void on_eoi(void *ctx, uint8_t v)
{
    (void)ctx;
    if (n_eois < 16)
        eois[n_eois++] = v;
}

static uint32_t rd(uint32_t off)
{
    uint64_t d = 0;
    ck_assert(dev_bus_mmio(bus, BASE + off, 4, false, &d));
    return (uint32_t)d;
}

static void wr(uint32_t off, uint32_t v)
{
    uint64_t d = v;
    ck_assert(dev_bus_mmio(bus, BASE + off, 4, true, &d));
}

/* Fixed, edge or level, to our physical ID. */
static void send(uint8_t vec, bool level)
{
    struct dev_apic_msg m = { .vector = vec, .mode = DEV_APIC_DM_FIXED, .dest = 0, .level = level };
    dev_lapic_deliver(lapic, &m);
}

static uint32_t reg_bit(uint32_t base_off, int vec)
{
    return (rd(base_off + 0x10 * (uint32_t)(vec >> 5)) >> (vec & 31)) & 1;
}

static void make(bool with_pic)
{
    bus = dev_bus_new();
    timers.head = NULL;
    fake_now = 1000000;
    fake_tsc = 5000000;
    dev_clock_set_fake(fake_clock);
    pic.intr = false;
    pic.vector = 0x30;
    pic.acks = 0;
    notified = 0;
    n_eois = 0;
    struct dev_lapic_config cfg = {
        .bus = bus, .timers = &timers,
        .eoi = { .eoi = on_eoi },
        .tsc_now = tsc_now, .tsc_hz = 2000000000u,   /* 2 GHz: 2 ticks per ns */
        .apic_id = 0, .bsp = true,
    };
    if (with_pic)
        cfg.extint = (struct dev_lapic_extint){ .intr = pic_intr, .ack = pic_ack };
    lapic = dev_lapic_new(&cfg);
    ck_assert_ptr_nonnull(lapic);
    dev_lapic_set_notify(lapic, on_notify, NULL);
}

static void setup(void)
{
    make(true);
}

static void teardown(void)
{
    dev_lapic_free(lapic);
    ck_assert_ptr_null(timers.head);
    dev_bus_free(bus);
    dev_clock_set_fake(NULL);
}

/* Software-enable with spurious vector 0xEF (what Linux uses is 0xFF). */
static void enable(void)
{
    wr(0xF0, 0x1EF);
}

START_TEST(reset_values)
{
    ck_assert_uint_eq(dev_lapic_get_base(lapic), 0xFEE00900u);
    uint64_t b;
    ck_assert(dev_lapic_window(lapic, &b));
    ck_assert_uint_eq(b, BASE);
    ck_assert_uint_eq(rd(0x20), 0);
    ck_assert_uint_eq(rd(0x30), 0x00050014u);
    ck_assert_uint_eq(rd(0x80), 0);
    ck_assert_uint_eq(rd(0xA0), 0);
    ck_assert_uint_eq(rd(0xD0), 0);
    ck_assert_uint_eq(rd(0xE0), 0xFFFFFFFFu);
    ck_assert_uint_eq(rd(0xF0), 0xFF);
    for (uint32_t o = 0x100; o < 0x280; o += 0x10)
        ck_assert_uint_eq(rd(o), 0);          /* ISR, TMR, IRR */
    for (uint32_t o = 0x320; o <= 0x370; o += 0x10)
        ck_assert_uint_eq(rd(o), 0x10000);    /* LVTs masked */
    ck_assert_uint_eq(rd(0x300), 0);
    ck_assert_uint_eq(rd(0x310), 0);
    ck_assert_uint_eq(rd(0x380), 0);
    ck_assert_uint_eq(rd(0x390), 0);
    ck_assert_uint_eq(rd(0x3E0), 0);
    ck_assert_int_eq(dev_lapic_pending(lapic), -1);
    ck_assert_uint_eq(*dev_lapic_intr_byte(lapic), 0);

    /* Firmware's virtual wire. */
    dev_lapic_reset(lapic, true);
    ck_assert_uint_eq(rd(0xF0), 0x1FF);
    ck_assert_uint_eq(rd(0x350), 0x8700);
    ck_assert_uint_eq(rd(0x360), 0x8400);
    ck_assert_uint_eq(rd(0x320), 0x10000);
}
END_TEST

START_TEST(id_and_sizes)
{
    /* Sub-dword and qword reads give the register's bytes. */
    uint64_t d = 0;
    ck_assert(dev_bus_mmio(bus, BASE + 0x30, 1, false, &d));
    ck_assert_uint_eq(d, 0x14);
    ck_assert(dev_bus_mmio(bus, BASE + 0x32, 1, false, &d));
    ck_assert_uint_eq(d, 0x05);
    ck_assert(dev_bus_mmio(bus, BASE + 0x32, 2, false, &d));
    ck_assert_uint_eq(d, 0x0005);
    ck_assert(dev_bus_mmio(bus, BASE + 0x30, 8, false, &d));
    ck_assert_uint_eq(d, 0x00050014u);
    ck_assert(dev_bus_mmio(bus, BASE + 0x34, 4, false, &d));
    ck_assert_uint_eq(d, 0);
    /* The ID is writable (bits 24-31); narrow or misaligned writes are dropped. */
    wr(0x20, 0x05000000);
    ck_assert_uint_eq(rd(0x20), 0x05000000u);
    ck_assert_uint_eq(dev_lapic_read(lapic, 0x20), 0x05000000u);
    d = 0x07;
    ck_assert(dev_bus_mmio(bus, BASE + 0x23, 1, true, &d));
    d = 0x07000000;
    ck_assert(dev_bus_mmio(bus, BASE + 0x24, 4, true, &d));
    ck_assert_uint_eq(rd(0x20), 0x05000000u);
    /* Messages now match ID 5, not 0. */
    enable();
    send(0x40, false);
    ck_assert_int_eq(dev_lapic_pending(lapic), -1);
    struct dev_apic_msg m = { .vector = 0x41, .dest = 5 };
    dev_lapic_deliver(lapic, &m);
    ck_assert_int_eq(dev_lapic_pending(lapic), 0x41);
    /* Read-only registers ignore writes. */
    wr(0x30, 0);
    ck_assert_uint_eq(rd(0x30), 0x00050014u);
    wr(0x200, 0xFFFFFFFF);
    ck_assert_uint_eq(rd(0x200), 0);
}
END_TEST

START_TEST(tpr_ppr)
{
    enable();
    wr(0x80, 0x25);
    ck_assert_uint_eq(rd(0x80), 0x25);
    ck_assert_uint_eq(rd(0xA0), 0x25);        /* ISR empty: PPR = TPR */
    send(0x45, false);
    ck_assert_int_eq(dev_lapic_ack(lapic), 0x45);
    ck_assert_uint_eq(rd(0xA0), 0x40);        /* ISR class 4 > TPR class 2 */
    wr(0x80, 0x51);
    ck_assert_uint_eq(rd(0xA0), 0x51);
    wr(0x80, 0x4F);                           /* same class as ISRV: TPR wins */
    ck_assert_uint_eq(rd(0xA0), 0x4F);
    wr(0xB0, 0);
    ck_assert_uint_eq(rd(0xA0), 0x4F);
    dev_lapic_set_tpr(lapic, 0);
    ck_assert_uint_eq(dev_lapic_get_tpr(lapic), 0);
    ck_assert_uint_eq(rd(0xA0), 0);
    send(0x6A, false);                        /* sub-class 0xA: the ISR gives its class only */
    ck_assert_int_eq(dev_lapic_ack(lapic), 0x6A);
    ck_assert_uint_eq(rd(0xA0), 0x60);
}
END_TEST

START_TEST(priority_nesting)
{
    enable();
    send(0x31, false);
    send(0x35, false);
    ck_assert_uint_eq(reg_bit(0x200, 0x31), 1);
    ck_assert_int_eq(dev_lapic_pending(lapic), 0x35);
    ck_assert_int_eq(dev_lapic_ack(lapic), 0x35);
    ck_assert_uint_eq(reg_bit(0x100, 0x35), 1);
    ck_assert_uint_eq(reg_bit(0x200, 0x35), 0);
    /* 0x31 is in the same class as the in-service 0x35: held. */
    ck_assert_int_eq(dev_lapic_pending(lapic), -1);
    send(0x41, false);                        /* a higher class nests */
    ck_assert_int_eq(dev_lapic_pending(lapic), 0x41);
    ck_assert_int_eq(dev_lapic_ack(lapic), 0x41);
    ck_assert_int_eq(dev_lapic_pending(lapic), -1);
    wr(0xB0, 0);                              /* EOI 0x41 */
    ck_assert_uint_eq(reg_bit(0x100, 0x41), 0);
    ck_assert_uint_eq(reg_bit(0x100, 0x35), 1);
    ck_assert_int_eq(dev_lapic_pending(lapic), -1);
    wr(0xB0, 0);                              /* EOI 0x35 */
    ck_assert_int_eq(dev_lapic_pending(lapic), 0x31);
    /* TPR: class 3 blocks class 3, class 2 lets it through. */
    wr(0x80, 0x30);
    ck_assert_int_eq(dev_lapic_pending(lapic), -1);
    ck_assert_uint_eq(*dev_lapic_intr_byte(lapic), 0);
    wr(0x80, 0x2F);
    ck_assert_int_eq(dev_lapic_pending(lapic), 0x31);
    ck_assert_uint_eq(*dev_lapic_intr_byte(lapic), 1);
    ck_assert_int_eq(dev_lapic_ack(lapic), 0x31);
    wr(0xB0, 0);
    for (uint32_t o = 0x100; o < 0x180; o += 0x10)
        ck_assert_uint_eq(rd(o), 0);
    wr(0xB0, 0);                              /* EOI with nothing in service: harmless */
    ck_assert_int_eq(n_eois, 0);              /* all edge: no broadcast */
}
END_TEST

START_TEST(eoi_order_and_broadcast)
{
    enable();
    send(0x50, true);                         /* level */
    send(0x60, false);                        /* edge */
    ck_assert_uint_eq(reg_bit(0x180, 0x50), 1);
    ck_assert_uint_eq(reg_bit(0x180, 0x60), 0);
    ck_assert_int_eq(dev_lapic_ack(lapic), 0x60);
    send(0x70, true);
    ck_assert_int_eq(dev_lapic_ack(lapic), 0x70);
    ck_assert_int_eq(dev_lapic_pending(lapic), -1);
    dev_lapic_eoi(lapic);                     /* the highest: 0x70, level */
    ck_assert_int_eq(n_eois, 1);
    ck_assert_uint_eq(eois[0], 0x70);
    ck_assert_uint_eq(reg_bit(0x100, 0x60), 1);
    ck_assert_int_eq(dev_lapic_pending(lapic), -1);
    wr(0xB0, 0);                              /* 0x60, edge: no broadcast */
    ck_assert_int_eq(n_eois, 1);
    ck_assert_int_eq(dev_lapic_ack(lapic), 0x50);
    wr(0xB0, 0);
    ck_assert_int_eq(n_eois, 2);
    ck_assert_uint_eq(eois[1], 0x50);
    /* An edge acceptance of the same vector clears its TMR bit. */
    send(0x50, false);
    ck_assert_uint_eq(reg_bit(0x180, 0x50), 0);
}
END_TEST

START_TEST(spurious)
{
    enable();
    send(0x40, false);
    ck_assert_int_eq(dev_lapic_pending(lapic), 0x40);
    wr(0x80, 0x40);                           /* the request is masked before INTA */
    ck_assert_int_eq(dev_lapic_ack(lapic), 0xEF);
    for (uint32_t o = 0x100; o < 0x180; o += 0x10)
        ck_assert_uint_eq(rd(o), 0);          /* no ISR bit */
    ck_assert_uint_eq(reg_bit(0x200, 0x40), 1);   /* still requested */
    wr(0x80, 0);
    ck_assert_int_eq(dev_lapic_ack(lapic), 0x40);
    /* Nothing at all: spurious too. */
    ck_assert_int_eq(dev_lapic_ack(lapic), 0xEF);
}
END_TEST

START_TEST(software_disable)
{
    /* Disabled at reset: LVT masks cannot be cleared, fixed messages are
     * not accepted. */
    wr(0x350, 0x700);
    ck_assert_uint_eq(rd(0x350), 0x10700);
    send(0x40, false);
    ck_assert_uint_eq(reg_bit(0x200, 0x40), 0);
    enable();
    wr(0x350, 0x700);
    wr(0x370, 0xFE);
    wr(0x320, 0x20030);
    ck_assert_uint_eq(rd(0x350), 0x700);
    ck_assert_uint_eq(rd(0x370), 0xFE);
    ck_assert_uint_eq(rd(0x320), 0x20030);
    send(0x40, false);
    wr(0xF0, 0x0EF);                          /* software disable */
    for (uint32_t o = 0x320; o <= 0x370; o += 0x10)
        ck_assert_uint_eq(rd(o) & 0x10000, 0x10000);
    ck_assert_uint_eq(rd(0x320), 0x30030);
    /* Held IRR is still delivered; new fixed messages are not taken; NMI is. */
    send(0x41, false);
    ck_assert_uint_eq(reg_bit(0x200, 0x41), 0);
    ck_assert_int_eq(dev_lapic_ack(lapic), 0x40);
    struct dev_apic_msg nmi = { .mode = DEV_APIC_DM_NMI, .dest = 0 };
    dev_lapic_deliver(lapic, &nmi);
    ck_assert(dev_lapic_nmi_pending(lapic));
    ck_assert_uint_eq(*dev_lapic_intr_byte(lapic), 1);
    ck_assert(dev_lapic_take_nmi(lapic));
    ck_assert(!dev_lapic_take_nmi(lapic));
    ck_assert_uint_eq(*dev_lapic_intr_byte(lapic), 0);
    /* Re-enabling leaves the masks set. */
    enable();
    ck_assert_uint_eq(rd(0x350), 0x10700);
}
END_TEST

START_TEST(esr)
{
    enable();
    wr(0x280, 0);
    ck_assert_uint_eq(rd(0x280), 0);
    /* Reserved register: reads 0, logged; visible only after an ESR write. */
    ck_assert_uint_eq(rd(0x40), 0);
    ck_assert_uint_eq(rd(0x280), 0);
    wr(0x280, 0);
    ck_assert_uint_eq(rd(0x280), 0x80);
    wr(0x280, 0);
    ck_assert_uint_eq(rd(0x280), 0);
    wr(0x3F0, 1);                             /* reserved write */
    wr(0x2F0, 1);                             /* LVT CMCI: absent with 6 LVTs */
    wr(0x280, 0);
    ck_assert_uint_eq(rd(0x280), 0x80);
    /* Received illegal vector, with the error LVT armed. */
    wr(0x370, 0xFE);
    send(0x05, false);
    ck_assert_uint_eq(reg_bit(0x200, 0x05), 0);
    ck_assert_int_eq(dev_lapic_pending(lapic), 0xFE);
    wr(0x280, 0);
    ck_assert_uint_eq(rd(0x280), 0x40);
    ck_assert_int_eq(dev_lapic_ack(lapic), 0xFE);
    wr(0xB0, 0);
    /* Send illegal vector: fixed IPI with vector 3 is not sent. */
    wr(0x310, 0);
    wr(0x300, 0x4003);
    ck_assert_uint_eq(reg_bit(0x200, 0x03), 0);
    wr(0x280, 0);
    ck_assert_uint_eq(rd(0x280), 0x20);
    ck_assert_int_eq(dev_lapic_ack(lapic), 0xFE);   /* it raised the error LVT too */
    wr(0xB0, 0);
    /* Timer with an illegal vector: receive illegal. */
    wr(0x370, 0x10000);                       /* error LVT masked: no interrupt */
    wr(0x320, 0x0A);
    wr(0x3E0, 0xB);
    wr(0x380, 10);
    fake_now += 10;
    dev_timers_run(&timers, fake_now);
    wr(0x280, 0);
    ck_assert_uint_eq(rd(0x280), 0x40);
    ck_assert_int_eq(dev_lapic_pending(lapic), -1);
    /* The error LVT's own vector illegal: logged, nothing raised, no loop. */
    wr(0x370, 0x02);
    ck_assert_uint_eq(rd(0x50), 0);
    wr(0x280, 0);
    ck_assert_uint_eq(rd(0x280), 0xC0);
    ck_assert_int_eq(dev_lapic_pending(lapic), -1);
}
END_TEST

START_TEST(self_ipi)
{
    enable();
    wr(0x310, 0x00000000);
    wr(0x300, 0x00004061);                    /* fixed, physical, dest 0 = us */
    ck_assert_uint_eq(reg_bit(0x200, 0x61), 1);
    ck_assert_uint_eq(rd(0x300), 0x00004061); /* delivery status idle */
    wr(0x300, 0x0004C062);                    /* self; level: sent as edge */
    ck_assert_uint_eq(reg_bit(0x200, 0x62), 1);
    ck_assert_uint_eq(reg_bit(0x180, 0x62), 0);
    wr(0x300, 0x00084063);                    /* all including self */
    ck_assert_uint_eq(reg_bit(0x200, 0x63), 1);
    wr(0x300, 0x000C4064);                    /* all excluding self: nobody */
    ck_assert_uint_eq(reg_bit(0x200, 0x64), 0);
    wr(0x310, 0x05000000);
    wr(0x300, 0x00004065);                    /* an absent APIC */
    ck_assert_uint_eq(reg_bit(0x200, 0x65), 0);
    wr(0x300, 0x00004500);                    /* INIT to it: ignored */
    wr(0x300, 0x00004608);                    /* SIPI: ignored */
    wr(0x300, 0x00044400);                    /* NMI with "self": invalid, dropped */
    ck_assert(!dev_lapic_nmi_pending(lapic));
    wr(0x310, 0x00000000);
    wr(0x300, 0x00004400);                    /* NMI to our ID */
    ck_assert(dev_lapic_nmi_pending(lapic));
    /* Logical flat: LDR bit 0 set, destination mask 0x01. */
    wr(0xD0, 0x01000000);
    ck_assert_uint_eq(rd(0xD0), 0x01000000);
    wr(0x310, 0x01000000);
    wr(0x300, 0x00004866);
    ck_assert_uint_eq(reg_bit(0x200, 0x66), 1);
    wr(0x310, 0x02000000);
    wr(0x300, 0x00004867);
    ck_assert_uint_eq(reg_bit(0x200, 0x67), 0);
    /* Cluster model: cluster 1, member bit 0. */
    wr(0xE0, 0x0FFFFFFF);
    ck_assert_uint_eq(rd(0xE0), 0x0FFFFFFF);
    wr(0xD0, 0x11000000);
    ck_assert(dev_lapic_match_dest(lapic, 0x11, true));
    ck_assert(dev_lapic_match_dest(lapic, 0xF1, true));
    ck_assert(!dev_lapic_match_dest(lapic, 0x21, true));
    ck_assert(!dev_lapic_match_dest(lapic, 0x12, true));
    ck_assert_int_eq(dev_lapic_ack(lapic), 0x66);
}
END_TEST

START_TEST(timer_oneshot)
{
    enable();
    wr(0x3E0, 0x1);                           /* divide by 4 */
    wr(0x320, 0x40);                          /* one-shot, vector 0x40 */
    uint64_t t0 = fake_now;
    wr(0x380, 1000);
    ck_assert_uint_eq(rd(0x380), 1000);
    ck_assert_uint_eq(rd(0x390), 1000);
    fake_now = t0 + 400;
    ck_assert_uint_eq(rd(0x390), 900);
    ck_assert_uint_eq(dev_timers_run(&timers, fake_now), t0 + 4000);
    fake_now = t0 + 3999;
    ck_assert_uint_eq(rd(0x390), 1);
    dev_timers_run(&timers, fake_now);
    ck_assert_int_eq(dev_lapic_pending(lapic), -1);
    fake_now = t0 + 4000;
    int before = notified;
    ck_assert_uint_eq(dev_timers_run(&timers, fake_now), UINT64_MAX);
    ck_assert_int_gt(notified, before);
    ck_assert_int_eq(dev_lapic_pending(lapic), 0x40);
    ck_assert_uint_eq(*dev_lapic_intr_byte(lapic), 1);
    ck_assert_uint_eq(rd(0x390), 0);
    fake_now += 100000;
    ck_assert_uint_eq(rd(0x390), 0);          /* stays at 0 */
    wr(0x320, 0x20040);                       /* spent one-shot made periodic: stays spent */
    ck_assert_uint_eq(rd(0x390), 0);
    ck_assert_uint_eq(dev_timers_run(&timers, fake_now), UINT64_MAX);
    wr(0x320, 0x40);
    /* Divide by 128 (0xA) and by 1 (0xB). */
    wr(0x3E0, 0xA);
    t0 = fake_now;
    wr(0x380, 10);
    ck_assert_uint_eq(dev_timers_run(&timers, fake_now), t0 + 1280);
    wr(0x3E0, 0xB);                           /* at once: count 10 from here at /1 */
    ck_assert_uint_eq(dev_timers_run(&timers, fake_now), t0 + 10);
    fake_now = t0 + 5;
    ck_assert_uint_eq(rd(0x390), 5);
    /* A masked timer counts but raises nothing; count 0 stops it. */
    ck_assert_int_eq(dev_lapic_ack(lapic), 0x40);
    wr(0x320, 0x10040);
    fake_now = t0 + 10;
    dev_timers_run(&timers, fake_now);
    ck_assert_int_eq(dev_lapic_pending(lapic), -1);
    wr(0x380, 0);
    ck_assert_uint_eq(rd(0x390), 0);
    ck_assert_uint_eq(dev_timers_run(&timers, fake_now), UINT64_MAX);
}
END_TEST

START_TEST(timer_periodic)
{
    enable();
    wr(0x3E0, 0xB);                           /* divide by 1: 1 tick per ns */
    wr(0x320, 0x20050);                       /* periodic, vector 0x50 */
    uint64_t t0 = fake_now;
    wr(0x380, 100000);                        /* 100 us */
    ck_assert_uint_eq(dev_timers_run(&timers, fake_now), t0 + 100000);
    fake_now = t0 + 100000;
    ck_assert_uint_eq(rd(0x390), 100000);     /* reloaded */
    ck_assert_uint_eq(dev_timers_run(&timers, fake_now), t0 + 200000);
    ck_assert_int_eq(dev_lapic_ack(lapic), 0x50);
    wr(0xB0, 0);
    fake_now = t0 + 130000;
    ck_assert_uint_eq(rd(0x390), 70000);
    /* Late by 2.5 periods: one interrupt, the next deadline stays on the grid. */
    fake_now = t0 + 450000;
    ck_assert_uint_eq(dev_timers_run(&timers, fake_now), t0 + 500000);
    ck_assert_int_eq(dev_lapic_ack(lapic), 0x50);
    ck_assert_int_eq(dev_lapic_pending(lapic), -1);
    wr(0xB0, 0);
    /* Divide by 2 in mid-period: the remaining 50000 ticks take 100 us. */
    wr(0x3E0, 0x0);
    ck_assert_uint_eq(rd(0x390), 50000);
    ck_assert_uint_eq(dev_timers_run(&timers, fake_now), t0 + 550000);
    fake_now = t0 + 550000;
    ck_assert_uint_eq(dev_timers_run(&timers, fake_now), t0 + 750000);  /* then 200 us periods */
    ck_assert_int_eq(dev_lapic_ack(lapic), 0x50);
    wr(0xB0, 0);
    /* Back to one-shot mid-period: counts down and stops. */
    fake_now = t0 + 650000;
    wr(0x320, 0x00050);
    ck_assert_uint_eq(rd(0x390), 50000);
    fake_now = t0 + 750000;
    ck_assert_uint_eq(dev_timers_run(&timers, fake_now), UINT64_MAX);
    ck_assert_int_eq(dev_lapic_ack(lapic), 0x50);
    /* A tiny period is held to the minimum interrupt spacing. */
    wr(0xB0, 0);
    wr(0x320, 0x20050);
    wr(0x3E0, 0xB);
    t0 = fake_now;
    wr(0x380, 1);
    ck_assert_uint_eq(dev_timers_run(&timers, fake_now), t0 + 1);
    fake_now = t0 + 1;
    ck_assert_uint_eq(dev_timers_run(&timers, fake_now), t0 + 1 + DEV_LAPIC_MIN_PERIOD_NS);
}
END_TEST

START_TEST(timer_tsc_deadline)
{
    enable();
    /* Not in TSC-deadline mode: the MSR ignores writes and reads 0. */
    dev_lapic_set_tsc_deadline(lapic, fake_tsc + 100);
    ck_assert_uint_eq(dev_lapic_get_tsc_deadline(lapic), 0);
    ck_assert_uint_eq(dev_timers_run(&timers, fake_now), UINT64_MAX);
    wr(0x320, 0x40060);                       /* TSC-deadline, vector 0x60 */
    ck_assert_uint_eq(rd(0x320), 0x40060);
    wr(0x380, 1000);                          /* initial count ignored */
    ck_assert_uint_eq(rd(0x380), 0);
    ck_assert_uint_eq(rd(0x390), 0);
    uint64_t t0 = fake_now;
    dev_lapic_set_tsc_deadline(lapic, fake_tsc + 2000);   /* 1000 ns at 2 GHz */
    ck_assert_uint_eq(dev_lapic_get_tsc_deadline(lapic), fake_tsc + 2000);
    ck_assert_uint_eq(dev_timers_run(&timers, fake_now), t0 + 1000);
    /* The TSC lags the clock: the timer waits for it. */
    fake_now = t0 + 1000;
    fake_tsc += 1999;
    ck_assert_uint_eq(dev_timers_run(&timers, fake_now), t0 + 1001);
    ck_assert_int_eq(dev_lapic_pending(lapic), -1);
    fake_now = t0 + 1001;
    fake_tsc += 1;
    ck_assert_uint_eq(dev_timers_run(&timers, fake_now), UINT64_MAX);
    ck_assert_int_eq(dev_lapic_pending(lapic), 0x60);
    ck_assert_uint_eq(dev_lapic_get_tsc_deadline(lapic), 0);   /* cleared on expiry */
    ck_assert_int_eq(dev_lapic_ack(lapic), 0x60);
    wr(0xB0, 0);
    /* A past deadline fires at once. */
    dev_lapic_set_tsc_deadline(lapic, fake_tsc - 1);
    ck_assert_int_eq(dev_lapic_pending(lapic), 0x60);
    ck_assert_int_eq(dev_lapic_ack(lapic), 0x60);
    wr(0xB0, 0);
    /* 0 disarms. */
    dev_lapic_set_tsc_deadline(lapic, fake_tsc + 100);
    ck_assert_uint_ne(dev_timers_run(&timers, fake_now), UINT64_MAX);
    dev_lapic_set_tsc_deadline(lapic, 0);
    ck_assert_uint_eq(dev_timers_run(&timers, fake_now), UINT64_MAX);
    /* Leaving TSC-deadline mode disarms and clears the deadline. */
    dev_lapic_set_tsc_deadline(lapic, fake_tsc + 100);
    wr(0x320, 0x00060);
    ck_assert_uint_eq(dev_timers_run(&timers, fake_now), UINT64_MAX);
    wr(0x320, 0x40060);
    ck_assert_uint_eq(dev_lapic_get_tsc_deadline(lapic), 0);
}
END_TEST

START_TEST(no_tsc_deadline_without_tsc)
{
    dev_lapic_free(lapic);
    dev_bus_free(bus);
    bus = dev_bus_new();
    struct dev_lapic_config cfg = { .bus = bus, .timers = &timers, .bsp = true };
    lapic = dev_lapic_new(&cfg);
    enable();
    wr(0x320, 0x40060);
    ck_assert_uint_eq(rd(0x320), 0x00060);    /* bit 18 not writable */
    dev_lapic_set_tsc_deadline(lapic, 5);
    ck_assert_uint_eq(dev_lapic_get_tsc_deadline(lapic), 0);
}
END_TEST

/* dev_lapic_take: pending and ack in one, as the engines call it. */
START_TEST(take)
{
    enable();
    ck_assert_int_eq(dev_lapic_take(lapic), -1);      /* nothing: no spurious vector */
    ck_assert_uint_eq(*dev_lapic_intr_byte(lapic), 0);
    send(0x45, false);
    send(0x52, false);
    ck_assert_uint_eq(*dev_lapic_intr_byte(lapic), 1);
    ck_assert_int_eq(dev_lapic_take(lapic), 0x52);
    ck_assert_uint_eq(reg_bit(0x100, 0x52), 1);
    ck_assert_uint_eq(reg_bit(0x200, 0x52), 0);
    ck_assert_int_eq(dev_lapic_take(lapic), -1);      /* 0x45: a lower class, held */
    ck_assert_uint_eq(*dev_lapic_intr_byte(lapic), 0);
    wr(0xB0, 0);
    ck_assert_uint_eq(*dev_lapic_intr_byte(lapic), 1);
    ck_assert_int_eq(dev_lapic_take(lapic), 0x45);
    wr(0xB0, 0);
    /* The PIC through LINT0 (virtual wire). */
    dev_lapic_reset(lapic, true);
    pic.intr = true;
    pic.vector = 0x33;
    dev_lapic_extint_changed(lapic);
    ck_assert_int_eq(dev_lapic_take(lapic), 0x33);
    ck_assert_int_eq(pic.acks, 1);
    ck_assert_int_eq(dev_lapic_take(lapic), -1);
    ck_assert_int_eq(pic.acks, 1);                    /* no INTA without a request */
}
END_TEST

START_TEST(extint_lint0)
{
    /* Power-on: LINT0 masked, the PIC's request does not get through. */
    pic.intr = true;
    dev_lapic_extint_changed(lapic);
    ck_assert_int_eq(dev_lapic_pending(lapic), -1);
    ck_assert_uint_eq(*dev_lapic_intr_byte(lapic), 0);
    /* Virtual wire: it does, with the PIC's vector. */
    dev_lapic_reset(lapic, true);
    ck_assert_int_eq(dev_lapic_pending(lapic), DEV_LAPIC_PENDING_EXTINT);
    ck_assert_uint_eq(*dev_lapic_intr_byte(lapic), 1);
    ck_assert_int_eq(dev_lapic_ack(lapic), 0x30);
    ck_assert_int_eq(pic.acks, 1);
    ck_assert_int_eq(dev_lapic_pending(lapic), -1);
    ck_assert_uint_eq(*dev_lapic_intr_byte(lapic), 0);
    for (uint32_t o = 0x100; o < 0x180; o += 0x10)
        ck_assert_uint_eq(rd(o), 0);          /* ExtINT bypasses ISR */
    /* ExtINT goes before APIC vectors and ignores the PPR. */
    send(0x80, false);
    wr(0x80, 0xF0);
    pic.intr = true;
    pic.vector = 0x31;
    int before = notified;
    dev_lapic_extint_changed(lapic);
    ck_assert_int_gt(notified, before);
    ck_assert_uint_eq(*dev_lapic_intr_byte(lapic), 1);
    ck_assert_int_eq(dev_lapic_ack(lapic), 0x31);
    wr(0x80, 0);
    ck_assert_int_eq(dev_lapic_ack(lapic), 0x80);
    /* Masking LINT0 cuts the PIC off. */
    wr(0x350, 0x18700);
    pic.intr = true;
    dev_lapic_extint_changed(lapic);
    ck_assert_uint_eq(*dev_lapic_intr_byte(lapic), 1);   /* a "maybe" ... */
    ck_assert_int_eq(dev_lapic_pending(lapic), -1);      /* ... that pending settles */
    ck_assert_uint_eq(*dev_lapic_intr_byte(lapic), 0);
    /* Unmasking passes it again. */
    wr(0x350, 0x8700);
    ck_assert_int_eq(dev_lapic_pending(lapic), DEV_LAPIC_PENDING_EXTINT);
}
END_TEST

START_TEST(global_disable)
{
    enable();
    send(0x40, false);
    uint64_t base = dev_lapic_get_base(lapic);
    ck_assert_int_eq(dev_lapic_set_base(lapic, base & ~(uint64_t)DEV_LAPIC_BASE_ENABLE), 1);
    ck_assert_uint_eq(dev_lapic_get_base(lapic), 0xFEE00100u);
    ck_assert(!dev_lapic_window(lapic, NULL));
    uint64_t d = 0;
    ck_assert(!dev_bus_mmio(bus, BASE + 0x30, 4, false, &d));   /* window gone */
    ck_assert_int_eq(dev_lapic_pending(lapic), -1);
    send(0x41, false);                        /* not accepted */
    ck_assert_int_eq(dev_lapic_pending(lapic), -1);
    /* Without the APIC the PIC reaches the CPU directly. */
    pic.intr = true;
    dev_lapic_extint_changed(lapic);
    ck_assert_int_eq(dev_lapic_pending(lapic), DEV_LAPIC_PENDING_EXTINT);
    ck_assert_int_eq(dev_lapic_ack(lapic), 0x30);
    ck_assert_int_eq(dev_lapic_ack(lapic), 0x37);   /* gone: the PIC's spurious */
    /* Same again: no change. Re-enable: back, in the power-on state. */
    ck_assert_int_eq(dev_lapic_set_base(lapic, 0xFEE00000u), 0);
    ck_assert_int_eq(dev_lapic_set_base(lapic, 0xFEE00800u), 1);
    ck_assert_uint_eq(dev_lapic_get_base(lapic), 0xFEE00900u);   /* BSP kept */
    ck_assert_uint_eq(rd(0xF0), 0xFF);
    ck_assert_uint_eq(reg_bit(0x200, 0x40), 0);
    ck_assert_uint_eq(rd(0x350), 0x10000);
    pic.intr = true;
    ck_assert_int_eq(dev_lapic_pending(lapic), -1);  /* LINT0 masked again */
}
END_TEST

static void nop_io(void *o, uint64_t off, unsigned size, bool w, uint64_t *data)
{
    (void)o; (void)off; (void)size;
    if (!w)
        *data = 0x1234;
}

START_TEST(relocation)
{
    enable();
    ck_assert_int_eq(dev_lapic_set_base(lapic, 0x80000000u | DEV_LAPIC_BASE_ENABLE), 1);
    ck_assert_uint_eq(dev_lapic_get_base(lapic), 0x80000900u);
    uint64_t b, d = 0;
    ck_assert(dev_lapic_window(lapic, &b));
    ck_assert_uint_eq(b, 0x80000000u);
    ck_assert(!dev_bus_mmio(bus, BASE + 0x30, 4, false, &d));
    ck_assert(dev_bus_mmio(bus, 0x80000030u, 4, false, &d));
    ck_assert_uint_eq(d, 0x00050014u);
    ck_assert(dev_bus_mmio(bus, 0x800000F0u, 4, false, &d));
    ck_assert_uint_eq(d, 0x1EF);              /* moving keeps the state */
    ck_assert_int_eq(dev_lapic_set_base(lapic, 0x80000900u), 0);
    /* Reserved bits: refused (#GP), nothing changes. */
    ck_assert_int_eq(dev_lapic_set_base(lapic, 0x80000000u | DEV_LAPIC_BASE_ENABLE | (1u << 10)), -EINVAL);
    ck_assert_int_eq(dev_lapic_set_base(lapic, (UINT64_C(1) << 36) | DEV_LAPIC_BASE_ENABLE), -EINVAL);
    ck_assert_int_eq(dev_lapic_set_base(lapic, 0x80000001u | DEV_LAPIC_BASE_ENABLE), -EINVAL);
    ck_assert_uint_eq(dev_lapic_get_base(lapic), 0x80000900u);
    /* Above 4 GiB (bits 32..35) is allowed. */
    ck_assert_int_eq(dev_lapic_set_base(lapic, UINT64_C(0xF00000000) | DEV_LAPIC_BASE_ENABLE), 1);
    ck_assert(dev_bus_mmio(bus, UINT64_C(0xF00000030), 4, false, &d));
    ck_assert_uint_eq(d, 0x00050014u);
    /* Onto another device: the window is absent until moved away. */
    ck_assert_int_eq(dev_bus_register_mmio(bus, 0xFEC00000u, 0x1000, "other", nop_io, NULL), 0);
    ck_assert_int_eq(dev_lapic_set_base(lapic, 0xFEC00900u), 1);
    ck_assert(!dev_lapic_window(lapic, NULL));
    ck_assert(dev_bus_mmio(bus, 0xFEC00030u, 4, false, &d));
    ck_assert_uint_eq(d, 0x1234);
    ck_assert_int_eq(dev_lapic_set_base(lapic, 0xFEE00900u), 1);
    ck_assert_uint_eq(rd(0x30), 0x00050014u);
    /* Reset brings the window home. */
    dev_lapic_set_base(lapic, 0x80000900u);
    dev_lapic_reset(lapic, false);
    ck_assert_uint_eq(rd(0x30), 0x00050014u);
}
END_TEST

/* A deliver from another thread (the console thread through the I/O APIC)
 * raises the byte and calls notify. */
static void *remote(void *arg)
{
    (void)arg;
    for (int v = 0x40; v < 0x80; v++)
        send((uint8_t)v, false);
    return NULL;
}

START_TEST(intr_byte_and_notify)
{
    enable();
    ck_assert_uint_eq(*dev_lapic_intr_byte(lapic), 0);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, remote, NULL), 0);
    /* Meanwhile the vcpu raises and drops TPR. */
    for (int i = 0; i < 1000; i++)
        dev_lapic_set_tpr(lapic, (uint8_t)(i & 0xF0));
    pthread_join(th, NULL);
    ck_assert_int_ge(__atomic_load_n(&notified, __ATOMIC_SEQ_CST), 64);
    dev_lapic_set_tpr(lapic, 0xF0);
    ck_assert_uint_eq(*dev_lapic_intr_byte(lapic), 0);
    dev_lapic_set_tpr(lapic, 0);
    ck_assert_uint_eq(*dev_lapic_intr_byte(lapic), 1);
    for (int v = 0x7F; v >= 0x40; v--) {
        ck_assert_int_eq(dev_lapic_ack(lapic), v);
        dev_lapic_eoi(lapic);
    }
    ck_assert_uint_eq(*dev_lapic_intr_byte(lapic), 0);
    /* The sink wrapper. */
    struct dev_apic_sink s = dev_lapic_sink(lapic);
    struct dev_apic_msg m = { .vector = 0x90, .mode = DEV_APIC_DM_LOWEST, .dest = 0xFF };
    s.deliver(s.ctx, &m);
    ck_assert_int_eq(dev_lapic_pending(lapic), 0x90);
    /* INIT/SIPI/SMI messages are ignored. */
    m.mode = DEV_APIC_DM_INIT;
    s.deliver(s.ctx, &m);
    m.mode = DEV_APIC_DM_STARTUP;
    s.deliver(s.ctx, &m);
    ck_assert_int_eq(dev_lapic_ack(lapic), 0x90);
    ck_assert_int_eq(dev_lapic_pending(lapic), -1);
}
END_TEST

/* ---- the register page ---- */

static int direct_notes;
static void on_direct(void *ctx) { (void)ctx; direct_notes++; }

/* Every readable slot of the register page holds what a read through the
 * window returns (TMCCT only while reads may be served from the page), and
 * the rest of each slot is zero. */
static void check_page(const char *when)
{
    uint8_t readable[256], writable[256];
    dev_lapic_readable(readable, writable);
    const uint32_t *pg = dev_lapic_regs_page(lapic);
    bool direct = dev_lapic_direct(lapic, NULL);
    for (unsigned g = 0; g < 256; g++) {
        if (!readable[g])
            continue;
        if (g == 0x39 && !direct)
            continue;
        uint32_t want = rd(g * 16);
        ck_assert_msg(pg[g * 4] == want, "%s: register %#x: page %#x, model %#x", when, g * 16,
                      pg[g * 4], want);
        for (unsigned k = 1; k < 4; k++)
            ck_assert_msg(pg[g * 4 + k] == 0, "%s: slot %#x dword %u", when, g * 16, k);
    }
}

START_TEST(regs_page_mirrors)
{
    uint8_t readable[256], writable[256];
    dev_lapic_readable(readable, writable);
    for (unsigned g = 0; g < 256; g++)
        ck_assert_uint_eq(writable[g], g == 0x08 || g == 0x0B);
    ck_assert(readable[0x02] && readable[0x03] && readable[0x08] && readable[0x0B]);
    ck_assert(readable[0x10] && readable[0x27] && readable[0x28] && readable[0x30]);
    ck_assert(readable[0x37] && readable[0x39] && readable[0x3E]);
    ck_assert(!readable[0x00] && !readable[0x01] && !readable[0x04] && !readable[0x07]);
    ck_assert(!readable[0x29] && !readable[0x2F] && !readable[0x3A] && !readable[0x3F]);
    ck_assert(!readable[0x40] && !readable[0xFF]);
    direct_notes = 0;
    dev_lapic_set_direct_notify(lapic, on_direct, NULL);
    uint64_t b;
    ck_assert(dev_lapic_direct(lapic, &b));
    ck_assert_uint_eq(b, BASE);
    check_page("reset");
    enable();
    check_page("SVR");
    wr(0x20, 0x05000000); check_page("ID");
    wr(0x20, 0); check_page("ID 0");
    wr(0xD0, 0x01000000); check_page("LDR");
    wr(0xE0, 0x0FFFFFFF); check_page("DFR");
    wr(0x80, 0x20); check_page("TPR");
    wr(0x310, 0x05000000); check_page("ICR high");
    wr(0x350, 0x700); wr(0x360, 0x400); wr(0x370, 0xFE); check_page("LVTs");
    /* Deliveries (IRR/TMR), acceptance, EOI. */
    send(0x51, true); send(0x62, false); check_page("deliver");
    ck_assert_int_eq(dev_lapic_ack(lapic), 0x62); check_page("ack");
    wr(0xB0, 0); check_page("EOI");
    ck_assert_int_eq(dev_lapic_ack(lapic), 0x51); check_page("ack 2");
    dev_lapic_eoi(lapic); check_page("EOI direct (level: broadcast)");
    dev_lapic_set_tpr(lapic, 0x30); check_page("TPR direct");
    wr(0x80, 0); check_page("TPR 0");
    /* Self-IPI through the ICR; an error latched into ESR. */
    wr(0x300, 0x40000 | 0x45); check_page("self-IPI");
    (void)rd(0x40); wr(0x280, 0); check_page("ESR");
    /* One-shot timer: not direct while it counts, direct again once fired. */
    int notes = direct_notes;
    wr(0x3E0, 0xB);
    wr(0x320, 0x40);
    wr(0x380, 100);
    ck_assert(!dev_lapic_direct(lapic, NULL));
    ck_assert_int_gt(direct_notes, notes);
    check_page("one-shot counting");
    fake_now += 100;
    dev_timers_run(&timers, fake_now);
    ck_assert(dev_lapic_direct(lapic, NULL));
    check_page("one-shot fired");
    /* Periodic: never constant. */
    wr(0x320, 0x20040);
    wr(0x380, 1000);
    ck_assert(!dev_lapic_direct(lapic, NULL));
    fake_now += 1000;
    dev_timers_run(&timers, fake_now);
    ck_assert(!dev_lapic_direct(lapic, NULL));
    check_page("periodic fired");
    wr(0x380, 0);
    ck_assert(dev_lapic_direct(lapic, NULL));
    check_page("stopped");
    /* TSC-deadline mode: TMCCT reads 0, direct while armed. */
    wr(0x320, 0x40040);
    dev_lapic_set_tsc_deadline(lapic, fake_tsc + 1000);
    ck_assert(dev_lapic_direct(lapic, NULL));
    check_page("TSC deadline armed");
    /* Moved: direct at the new base (told); globally disabled: not. */
    notes = direct_notes;
    ck_assert_int_eq(dev_lapic_set_base(lapic, 0xFEE10000u | DEV_LAPIC_BASE_ENABLE), 1);
    ck_assert_int_gt(direct_notes, notes);
    ck_assert(dev_lapic_direct(lapic, &b));
    ck_assert_uint_eq(b, 0xFEE10000u);
    ck_assert_int_eq(dev_lapic_set_base(lapic, 0xFEE00000u | DEV_LAPIC_BASE_ENABLE), 1);
    check_page("moved back");
    ck_assert_int_eq(dev_lapic_set_base(lapic, 0xFEE00000u), 1);
    ck_assert(!dev_lapic_direct(lapic, NULL));
    ck_assert_int_eq(dev_lapic_set_base(lapic, 0xFEE00000u | DEV_LAPIC_BASE_ENABLE), 1);
    ck_assert(dev_lapic_direct(lapic, NULL));
    check_page("re-enabled (power-on state)");
    dev_lapic_reset(lapic, true);
    check_page("reset to virtual wire");
    dev_lapic_set_direct_notify(lapic, NULL, NULL);
}
END_TEST

static Suite *lapic_suite(void)
{
    Suite *s = suite_create("lapic");
    TCase *tc = tcase_create("lapic");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, reset_values);
    tcase_add_test(tc, id_and_sizes);
    tcase_add_test(tc, tpr_ppr);
    tcase_add_test(tc, take);
    tcase_add_test(tc, priority_nesting);
    tcase_add_test(tc, eoi_order_and_broadcast);
    tcase_add_test(tc, spurious);
    tcase_add_test(tc, software_disable);
    tcase_add_test(tc, esr);
    tcase_add_test(tc, self_ipi);
    tcase_add_test(tc, timer_oneshot);
    tcase_add_test(tc, timer_periodic);
    tcase_add_test(tc, timer_tsc_deadline);
    tcase_add_test(tc, no_tsc_deadline_without_tsc);
    tcase_add_test(tc, extint_lint0);
    tcase_add_test(tc, global_disable);
    tcase_add_test(tc, relocation);
    tcase_add_test(tc, intr_byte_and_notify);
    tcase_add_test(tc, regs_page_mirrors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(lapic_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
