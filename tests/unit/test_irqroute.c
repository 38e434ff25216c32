/*
 * tests/unit/test_irqroute.c — ISA IRQs reaching both the 8259A pair and
 * the I/O APIC (IRQ 0 on pin 2), PCI PIRQ routing through the PIIX3 route
 * registers (disabled and reserved routes, re-routing, pins 16-19), line
 * sharing as an OR, the PIIX ELCR rules, and the IMCR.
 */
#include <check.h>
#include <stdlib.h>

#include "devices/bus.h"
#include "devices/imcr.h"
#include "devices/ioapic.h"
#include "devices/irqroute.h"
#include "devices/pic8259.h"

static struct dev_bus *bus;
static struct dev_pic *pic;
static struct dev_ioapic *io;
static struct dev_irqroute *rt;
static struct dev_apic_msg msgs[64];
static int nmsg;

static void sink_deliver(void *ctx, const struct dev_apic_msg *m)
{
    (void)ctx;
    if (nmsg < 64)
        msgs[nmsg] = *m;
    nmsg++;
}

static void out8(uint16_t port, uint8_t v)
{
    uint32_t d = v;
    dev_bus_pio(bus, port, 1, true, &d);
}

static uint8_t in8(uint16_t port)
{
    uint32_t d = 0;
    dev_bus_pio(bus, port, 1, false, &d);
    return (uint8_t)d;
}

/* IRR of both 8259As as IRQ bits 0-15, without the master's IR2 (the
 * cascade, set whenever the slave has a request). */
static unsigned pic_irr(void)
{
    out8(0x20, 0x0a);
    out8(0xa0, 0x0a);
    return (in8(0x20) & ~4u) | (unsigned)in8(0xa0) << 8;
}

static void rte_w(int pin, uint32_t lo)
{
    uint64_t v = (uint64_t)(0x10 + 2 * pin);
    dev_bus_mmio(bus, DEV_IOAPIC_BASE + DEV_IOAPIC_IOREGSEL, 4, true, &v);
    v = lo;
    dev_bus_mmio(bus, DEV_IOAPIC_BASE + DEV_IOAPIC_IOWIN, 4, true, &v);
}

static uint32_t rte_lo(int pin)
{
    uint64_t v = (uint64_t)(0x10 + 2 * pin);
    dev_bus_mmio(bus, DEV_IOAPIC_BASE + DEV_IOAPIC_IOREGSEL, 4, true, &v);
    dev_bus_mmio(bus, DEV_IOAPIC_BASE + DEV_IOAPIC_IOWIN, 4, false, &v);
    return (uint32_t)v;
}

static void set(struct dev_irq_line l, int level)
{
    dev_irq_set(&l, level);
}

static void init_pics(uint8_t icw1)
{
    out8(0x20, icw1); out8(0x21, 0x30); out8(0x21, 0x04); out8(0x21, 0x01);
    out8(0xa0, icw1); out8(0xa1, 0x38); out8(0xa1, 0x02); out8(0xa1, 0x01);
    out8(0x21, 0x00); out8(0xa1, 0x00);
}

static void setup(void)
{
    bus = dev_bus_new();
    pic = dev_pic_new(bus);
    io = dev_ioapic_new(bus, DEV_IOAPIC_BASE, (struct dev_apic_sink){ .deliver = sink_deliver });
    rt = dev_irqroute_new(pic, io);
    ck_assert_ptr_nonnull(pic);
    ck_assert_ptr_nonnull(io);
    ck_assert_ptr_nonnull(rt);
    init_pics(0x11);
    nmsg = 0;
}

static void teardown(void)
{
    dev_irqroute_free(rt);
    dev_ioapic_free(io);
    dev_pic_free(pic);
    dev_bus_free(bus);
}

#define LEVEL DEV_IOAPIC_RTE_LEVEL
#define RIRR  DEV_IOAPIC_RTE_REMOTE_IRR

START_TEST(gsi_map)
{
    ck_assert_int_eq(dev_irqroute_isa_gsi(0), 2);
    ck_assert_int_eq(dev_irqroute_isa_gsi(1), 1);
    ck_assert_int_eq(dev_irqroute_isa_gsi(2), -1);
    ck_assert_int_eq(dev_irqroute_isa_gsi(9), 9);
    ck_assert_int_eq(dev_irqroute_isa_gsi(15), 15);
    ck_assert_int_eq(dev_irqroute_isa_gsi(16), -1);
    ck_assert_int_eq(dev_irqroute_isa_gsi(-1), -1);
    ck_assert_int_eq(DEV_IRQROUTE_PIRQ_GSI(0), 16);
    ck_assert_int_eq(DEV_IRQROUTE_PIRQ_GSI(3), 19);
}
END_TEST

START_TEST(isa_reaches_both)
{
    struct dev_irq_line com1 = dev_irqroute_isa_line(rt, 4);
    rte_w(4, 0x64);
    set(com1, 1);
    ck_assert(dev_pic_intr(pic));
    ck_assert_int_eq(nmsg, 1);
    ck_assert_uint_eq(msgs[0].vector, 0x64);
    ck_assert_int_eq(dev_pic_ack(pic), 0x34);
    set(com1, 0);
    /* A slave IRQ too. */
    struct dev_irq_line rtc = dev_irqroute_isa_line(rt, 8);
    rte_w(8, 0x68);
    set(rtc, 1);
    ck_assert_int_eq(nmsg, 2);
    ck_assert_uint_eq(msgs[1].vector, 0x68);
    ck_assert_uint_eq(pic_irr() & (1u << 8), 1u << 8);
}
END_TEST

START_TEST(irq0_on_pin2)
{
    struct dev_irq_line pit = dev_irqroute_isa_line(rt, 0);
    rte_w(0, 0x60);
    rte_w(2, 0x62);
    set(pit, 1);
    set(pit, 0);
    ck_assert_int_eq(nmsg, 1);
    ck_assert_uint_eq(msgs[0].vector, 0x62);
    ck_assert_int_eq(dev_pic_ack(pic), 0x30);
    /* IRQ 2 (the cascade) reaches neither controller. */
    struct dev_irq_line two = dev_irqroute_isa_line(rt, 2);
    set(two, 1);
    ck_assert_int_eq(nmsg, 1);
    ck_assert(!dev_pic_intr(pic));
    set(two, 0);
    /* Out-of-range lines are inert. */
    struct dev_irq_line bad = dev_irqroute_isa_line(rt, 16);
    set(bad, 1);
    bad = dev_irqroute_pirq_line(rt, 4);
    set(bad, 1);
    ck_assert_int_eq(nmsg, 1);
}
END_TEST

START_TEST(isa_sharing_is_or)
{
    out8(0x4d1, 0x02);                  /* IRQ 9 level in the PIC */
    rte_w(9, LEVEL | 0x69);
    struct dev_irq_line a = dev_irqroute_isa_line(rt, 9);
    struct dev_irq_line b = dev_irqroute_isa_line(rt, 9);
    set(a, 1);
    set(b, 1);
    ck_assert_int_eq(nmsg, 1);
    set(a, 0);                          /* b still holds it */
    ck_assert_uint_eq(pic_irr() & (1u << 9), 1u << 9);
    dev_ioapic_eoi(io, 0x69);
    ck_assert_int_eq(nmsg, 2);          /* still asserted: re-sent */
    set(b, 0);
    ck_assert_uint_eq(pic_irr() & (1u << 9), 0);
    dev_ioapic_eoi(io, 0x69);
    ck_assert_int_eq(nmsg, 2);
    ck_assert_uint_eq(rte_lo(9) & RIRR, 0);
    /* Repeated levels from one source count once. */
    set(a, 1);
    set(a, 1);
    set(a, 0);
    ck_assert_uint_eq(pic_irr() & (1u << 9), 0);
}
END_TEST

START_TEST(pirq_routing)
{
    out8(0x4d0, 0x00);
    out8(0x4d1, 0x0c);                  /* IRQ 10, 11 level */
    rte_w(10, LEVEL | 0x6a);
    rte_w(11, LEVEL | 0x6b);
    rte_w(16, LEVEL | 0x70);
    struct dev_irq_line inta = dev_irqroute_pirq_line(rt, 0);
    /* Reset: routing disabled. Only the direct pin 16 sees it. */
    set(inta, 1);
    ck_assert_uint_eq(pic_irr(), 0);
    ck_assert_int_eq(nmsg, 1);
    ck_assert_uint_eq(msgs[0].vector, 0x70);
    /* Route PIRQA to IRQ 11 while asserted. */
    dev_irqroute_set_pirq(rt, 0, 11);
    ck_assert_uint_eq(pic_irr(), 1u << 11);
    ck_assert_int_eq(nmsg, 2);
    ck_assert_uint_eq(msgs[1].vector, 0x6b);
    /* Re-route to IRQ 10: 11 drops, 10 rises. */
    dev_irqroute_set_pirq(rt, 0, 10);
    ck_assert_uint_eq(pic_irr(), 1u << 10);
    ck_assert_int_eq(nmsg, 3);
    ck_assert_uint_eq(msgs[2].vector, 0x6a);
    /* Disable (bit 7) keeps the IRQ bits but routes nowhere. */
    dev_irqroute_set_pirq(rt, 0, 0x80 | 10);
    ck_assert_uint_eq(pic_irr(), 0);
    /* Reserved targets 0, 1, 2, 8, 13 route nowhere. */
    static const uint8_t reserved[] = { 0, 1, 2, 8, 13 };
    for (unsigned i = 0; i < sizeof(reserved); i++) {
        dev_irqroute_set_pirq(rt, 0, reserved[i]);
        ck_assert_uint_eq(pic_irr(), 0);
    }
    ck_assert_int_eq(nmsg, 3);
    /* Routed again, then the device drops its line. */
    dev_irqroute_set_pirq(rt, 0, 11);
    ck_assert_uint_eq(pic_irr(), 1u << 11);
    set(inta, 0);
    ck_assert_uint_eq(pic_irr(), 0);
    /* Junk route numbers are ignored. */
    dev_irqroute_set_pirq(rt, 4, 11);
    dev_irqroute_set_pirq(rt, -1, 11);
}
END_TEST

START_TEST(pirq_sharing)
{
    out8(0x4d1, 0x08);                  /* IRQ 11 level */
    rte_w(11, LEVEL | 0x6b);
    struct dev_irq_line b1 = dev_irqroute_pirq_line(rt, 1);
    struct dev_irq_line b2 = dev_irqroute_pirq_line(rt, 1);
    struct dev_irq_line c = dev_irqroute_pirq_line(rt, 2);
    struct dev_irq_line isa = dev_irqroute_isa_line(rt, 11);
    dev_irqroute_set_pirq(rt, 1, 11);
    dev_irqroute_set_pirq(rt, 2, 11);   /* PIRQB and PIRQC share IRQ 11 */
    set(b1, 1);
    set(b2, 1);
    set(c, 1);
    set(isa, 1);
    ck_assert_int_eq(nmsg, 1);
    set(b1, 0);
    set(c, 0);
    set(isa, 0);
    ck_assert_uint_eq(pic_irr(), 1u << 11);    /* b2 still high */
    set(b2, 0);
    ck_assert_uint_eq(pic_irr(), 0);
    set(c, 1);
    ck_assert_uint_eq(pic_irr(), 1u << 11);
    /* PIRQC moved away: IRQ 11 falls although C is high. */
    dev_irqroute_set_pirq(rt, 2, 0x80);
    ck_assert_uint_eq(pic_irr(), 0);
    /* The ISA source alone. */
    set(isa, 1);
    ck_assert_uint_eq(pic_irr(), 1u << 11);
}
END_TEST

START_TEST(no_ioapic)
{
    struct dev_irqroute *r2 = dev_irqroute_new(pic, NULL);
    ck_assert_ptr_nonnull(r2);
    struct dev_irq_line l = dev_irqroute_isa_line(r2, 3);
    set(l, 1);
    ck_assert_int_eq(dev_pic_ack(pic), 0x33);
    struct dev_irq_line p = dev_irqroute_pirq_line(r2, 3);
    set(p, 1);
    dev_irqroute_free(r2);
}
END_TEST

START_TEST(elcr_rules)
{
    /* IRQ 0, 1, 2, 8, 13 cannot be level: their bits read 0. */
    out8(0x4d0, 0xff);
    out8(0x4d1, 0xff);
    ck_assert_uint_eq(in8(0x4d0), 0xf8);
    ck_assert_uint_eq(in8(0x4d1), 0xde);
    /* Word access covers both registers. */
    uint32_t d = 0;
    dev_bus_pio(bus, 0x4d0, 2, false, &d);
    ck_assert_uint_eq(d, 0xdef8);
    d = 0x0000;
    dev_bus_pio(bus, 0x4d0, 2, true, &d);
    ck_assert_uint_eq(in8(0x4d0), 0);
    ck_assert_uint_eq(in8(0x4d1), 0);
    /* A level IRQ 13 through the ELCR is impossible: a held line does not
     * re-request after EOI. */
    struct dev_irq_line fpu = dev_irqroute_isa_line(rt, 13);
    out8(0x4d1, 0x20);
    set(fpu, 1);
    ck_assert_int_eq(dev_pic_ack(pic), 0x3d);
    out8(0xa0, 0x20);
    out8(0x20, 0x20);
    ck_assert(!dev_pic_intr(pic));
}
END_TEST

START_TEST(ltim_ignored)
{
    /* ICW1 with LTIM: the PIIX ignores it, IRQ 0 stays edge. */
    init_pics(0x19);
    struct dev_irq_line pit = dev_irqroute_isa_line(rt, 0);
    set(pit, 1);
    ck_assert_int_eq(dev_pic_ack(pic), 0x30);
    out8(0x20, 0x20);
    ck_assert(!dev_pic_intr(pic));      /* held high, but edge: no repeat */
    set(pit, 0);
    /* And IRQ 3 without an ELCR bit is edge too. */
    struct dev_irq_line l3 = dev_irqroute_isa_line(rt, 3);
    set(l3, 1);
    ck_assert_int_eq(dev_pic_ack(pic), 0x33);
    out8(0x20, 0x20);
    ck_assert(!dev_pic_intr(pic));
}
END_TEST

START_TEST(elcr_write_follows_line)
{
    struct dev_irq_line l5 = dev_irqroute_isa_line(rt, 5);
    /* Line raised while edge, request acknowledged; then made level while
     * still high: the level request appears. */
    set(l5, 1);
    ck_assert_int_eq(dev_pic_ack(pic), 0x35);
    out8(0x20, 0x20);
    ck_assert(!dev_pic_intr(pic));
    out8(0x4d0, 0x20);
    ck_assert(dev_pic_intr(pic));
    /* Re-initialising the PICs keeps a held level request... */
    init_pics(0x11);
    ck_assert_uint_eq(pic_irr() & (1u << 5), 1u << 5);
    /* ...and rewriting the ELCR does not lose it. */
    out8(0x4d0, 0x20);
    ck_assert_uint_eq(pic_irr() & (1u << 5), 1u << 5);
    set(l5, 0);
    ck_assert_uint_eq(pic_irr() & (1u << 5), 0);
    /* An edge latched with the line low is dropped when made level. */
    out8(0x4d0, 0x00);
    out8(0x21, 0x20);                   /* mask IRQ 5 to keep it latched */
    set(l5, 1);
    set(l5, 0);
    ck_assert_uint_eq(pic_irr() & (1u << 5), 1u << 5);
    out8(0x4d0, 0x20);
    ck_assert_uint_eq(pic_irr() & (1u << 5), 0);
}
END_TEST

static int imcr_calls;
static bool imcr_last;

static void on_imcr(void *ctx, bool apic_mode)
{
    ck_assert_ptr_eq(ctx, &imcr_calls);
    imcr_calls++;
    imcr_last = apic_mode;
}

START_TEST(imcr)
{
    imcr_calls = 0;
    struct dev_imcr *m = dev_imcr_new(bus, on_imcr, &imcr_calls);
    ck_assert_ptr_nonnull(m);
    ck_assert(!dev_imcr_apic_mode(m));
    out8(0x22, 0x70);
    ck_assert_uint_eq(in8(0x23), 0x00);
    ck_assert_uint_eq(in8(0x22), 0xff);         /* index is write-only */
    out8(0x23, 0x01);                           /* symmetric I/O mode */
    ck_assert(dev_imcr_apic_mode(m));
    ck_assert_int_eq(imcr_calls, 1);
    ck_assert(imcr_last);
    ck_assert_uint_eq(in8(0x23), 0x01);
    out8(0x23, 0xff);                           /* same mode: no call, bits 1-7 read 0 */
    ck_assert_int_eq(imcr_calls, 1);
    ck_assert_uint_eq(in8(0x23), 0x01);
    /* Another index (e.g. a Cyrix register probe): inert. */
    out8(0x22, 0xc0);
    ck_assert_uint_eq(in8(0x23), 0xff);
    out8(0x23, 0x00);
    ck_assert(dev_imcr_apic_mode(m));
    /* Back to PIC mode with one word write: index 0x70, data 0x00. */
    uint32_t d = 0x0070;
    dev_bus_pio(bus, 0x22, 2, true, &d);
    ck_assert(!dev_imcr_apic_mode(m));
    ck_assert_int_eq(imcr_calls, 2);
    ck_assert(!imcr_last);
    /* The ports are taken once. */
    ck_assert_ptr_null(dev_imcr_new(bus, NULL, NULL));
    dev_imcr_free(m);
}
END_TEST

static Suite *irqroute_suite(void)
{
    Suite *s = suite_create("irqroute");
    TCase *tc = tcase_create("irqroute");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, gsi_map);
    tcase_add_test(tc, isa_reaches_both);
    tcase_add_test(tc, irq0_on_pin2);
    tcase_add_test(tc, isa_sharing_is_or);
    tcase_add_test(tc, pirq_routing);
    tcase_add_test(tc, pirq_sharing);
    tcase_add_test(tc, no_ioapic);
    tcase_add_test(tc, elcr_rules);
    tcase_add_test(tc, ltim_ignored);
    tcase_add_test(tc, elcr_write_follows_line);
    tcase_add_test(tc, imcr);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(irqroute_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
