/*
 * tests/unit/test_ioapic.c — the I/O APIC through the bus: IOREGSEL/IOWIN,
 * ID/version/arbitration, redirection entries and their read-only bits,
 * edge and level delivery, Remote IRR and EOI (function and +0x40
 * register), masking, polarity, odd access widths and hostile values.
 */
#include <check.h>
#include <stdlib.h>

#include "devices/bus.h"
#include "devices/ioapic.h"

#define BASE DEV_IOAPIC_BASE

static struct dev_bus *bus;
static struct dev_ioapic *io;
static struct dev_apic_msg msgs[64];
static int nmsg;

static void sink_deliver(void *ctx, const struct dev_apic_msg *m)
{
    (void)ctx;
    if (nmsg < 64)
        msgs[nmsg] = *m;
    nmsg++;
}

static void w(uint64_t off, unsigned size, uint64_t v)
{
    ck_assert(dev_bus_mmio(bus, BASE + off, size, true, &v));
}

static uint64_t r(uint64_t off, unsigned size)
{
    uint64_t v = 0xdeadbeef;
    ck_assert(dev_bus_mmio(bus, BASE + off, size, false, &v));
    return v;
}

static void reg_w(uint8_t reg, uint32_t v)
{
    w(DEV_IOAPIC_IOREGSEL, 4, reg);
    w(DEV_IOAPIC_IOWIN, 4, v);
}

static uint32_t reg_r(uint8_t reg)
{
    w(DEV_IOAPIC_IOREGSEL, 4, reg);
    return (uint32_t)r(DEV_IOAPIC_IOWIN, 4);
}

static void rte_w(int pin, uint32_t lo, uint32_t hi)
{
    reg_w((uint8_t)(0x11 + 2 * pin), hi);
    reg_w((uint8_t)(0x10 + 2 * pin), lo);
}

static uint32_t rte_lo(int pin)
{
    return reg_r((uint8_t)(0x10 + 2 * pin));
}

static void line(int pin, int level)
{
    struct dev_irq_line l = dev_ioapic_line(io, pin);
    dev_irq_set(&l, level);
}

static void setup(void)
{
    bus = dev_bus_new();
    io = dev_ioapic_new(bus, BASE, (struct dev_apic_sink){ .deliver = sink_deliver });
    ck_assert_ptr_nonnull(io);
    nmsg = 0;
}

static void teardown(void)
{
    dev_ioapic_free(io);
    dev_bus_free(bus);
}

#define LEVEL DEV_IOAPIC_RTE_LEVEL
#define MASK  DEV_IOAPIC_RTE_MASK
#define RIRR  DEV_IOAPIC_RTE_REMOTE_IRR
#define POL   DEV_IOAPIC_RTE_POLARITY

START_TEST(id_version_arb)
{
    ck_assert_uint_eq(reg_r(0x00), 0);
    ck_assert_uint_eq(reg_r(0x01), 0x00170020);
    ck_assert_uint_eq(reg_r(0x02), 0);
    reg_w(0x00, 0xffffffff);
    ck_assert_uint_eq(reg_r(0x00), 0x0f000000);
    ck_assert_uint_eq(reg_r(0x02), 0x0f000000);     /* loaded from the ID */
    reg_w(0x00, 0x05000000);
    ck_assert_uint_eq(reg_r(0x00), 0x05000000);
    reg_w(0x01, 0);                                 /* read-only */
    reg_w(0x02, 0x0a000000);
    ck_assert_uint_eq(reg_r(0x01), 0x00170020);
    ck_assert_uint_eq(reg_r(0x02), 0x05000000);
    /* IOREGSEL keeps bits 0-7 only. */
    w(DEV_IOAPIC_IOREGSEL, 4, 0x12345601);
    ck_assert_uint_eq(r(DEV_IOAPIC_IOREGSEL, 4), 0x01);
    ck_assert_uint_eq(r(DEV_IOAPIC_IOWIN, 4), 0x00170020);
    /* Unknown registers and offsets read 0. */
    ck_assert_uint_eq(reg_r(0x03), 0);
    ck_assert_uint_eq(reg_r(0x40), 0);
    ck_assert_uint_eq(reg_r(0xff), 0);
    ck_assert_uint_eq(r(0x20, 4), 0);
    ck_assert_uint_eq(r(DEV_IOAPIC_EOIR, 4), 0);
    ck_assert_uint_eq(r(0xffc, 4), 0);
    ck_assert_int_eq(nmsg, 0);
}
END_TEST

START_TEST(rte_reset_and_readonly_bits)
{
    for (int pin = 0; pin < 24; pin++) {
        ck_assert_uint_eq(rte_lo(pin), MASK);
        ck_assert_uint_eq(reg_r((uint8_t)(0x11 + 2 * pin)), 0);
    }
    /* Writable bits only; delivery status and Remote IRR read 0. */
    reg_w(0x10, 0xffffffff);
    ck_assert_uint_eq(rte_lo(0), 0x0001afff);
    reg_w(0x11, 0xffffffff);
    ck_assert_uint_eq(reg_r(0x11), 0xff000000);
    /* Remote IRR set by a level delivery survives a rewrite that clears
     * bit 14, and bit 12 cannot be set. */
    rte_w(3, LEVEL | 0x33, 0);
    line(3, 1);
    ck_assert_int_eq(nmsg, 1);
    ck_assert_uint_eq(rte_lo(3), LEVEL | RIRR | 0x33);
    reg_w(0x16, LEVEL | DEV_IOAPIC_RTE_DELIVS | 0x34);
    ck_assert_uint_eq(rte_lo(3), LEVEL | RIRR | 0x34);
    ck_assert_int_eq(nmsg, 1);
    /* Another pin's entry is untouched. */
    ck_assert_uint_eq(rte_lo(4), MASK);
}
END_TEST

START_TEST(edge_once_per_edge)
{
    rte_w(5, 0x45, 0x01000000);
    line(5, 1);
    ck_assert_int_eq(nmsg, 1);
    ck_assert_uint_eq(msgs[0].vector, 0x45);
    ck_assert_uint_eq(msgs[0].mode, DEV_APIC_DM_FIXED);
    ck_assert_uint_eq(msgs[0].dest, 1);
    ck_assert(!msgs[0].dest_logical);
    ck_assert(!msgs[0].level);
    line(5, 1);                         /* no edge */
    ck_assert_int_eq(nmsg, 1);
    line(5, 0);
    ck_assert_int_eq(nmsg, 1);
    line(5, 1);
    ck_assert_int_eq(nmsg, 2);
    ck_assert_uint_eq(rte_lo(5) & RIRR, 0);          /* never for edge */
    dev_ioapic_eoi(io, 0x45);           /* EOI does not resend edges */
    ck_assert_int_eq(nmsg, 2);
    line(5, 0);
    /* Logical destination. */
    rte_w(5, DEV_IOAPIC_RTE_DESTMODE | 0x46, 0xab000000);
    line(5, 1);
    ck_assert_int_eq(nmsg, 3);
    ck_assert(msgs[2].dest_logical);
    ck_assert_uint_eq(msgs[2].dest, 0xab);
}
END_TEST

START_TEST(masked_edge_is_lost)
{
    rte_w(6, MASK | 0x46, 0);
    line(6, 1);
    line(6, 0);
    rte_w(6, 0x46, 0);                  /* unmask: the edge is gone */
    ck_assert_int_eq(nmsg, 0);
    line(6, 1);                         /* unmasking an edge pin held high: nothing */
    ck_assert_int_eq(nmsg, 1);
    line(6, 0);
    rte_w(6, MASK | 0x46, 0);
    line(6, 1);
    rte_w(6, 0x46, 0);
    ck_assert_int_eq(nmsg, 1);
}
END_TEST

START_TEST(level_remote_irr_and_eoi)
{
    rte_w(9, LEVEL | 0x49, 0);
    line(9, 1);
    ck_assert_int_eq(nmsg, 1);
    ck_assert(msgs[0].level);
    ck_assert_uint_eq(msgs[0].vector, 0x49);
    ck_assert_uint_eq(rte_lo(9), LEVEL | RIRR | 0x49);
    line(9, 0);
    line(9, 1);                         /* Remote IRR holds it back */
    ck_assert_int_eq(nmsg, 1);
    dev_ioapic_eoi(io, 0x48);           /* another vector */
    ck_assert_int_eq(nmsg, 1);
    ck_assert_uint_eq(rte_lo(9) & RIRR, RIRR);
    dev_ioapic_eoi(io, 0x49);           /* still asserted: sent again */
    ck_assert_int_eq(nmsg, 2);
    ck_assert_uint_eq(rte_lo(9) & RIRR, RIRR);
    line(9, 0);
    dev_ioapic_eoi(io, 0x49);
    ck_assert_int_eq(nmsg, 2);
    ck_assert_uint_eq(rte_lo(9) & RIRR, 0);
    line(9, 1);
    ck_assert_int_eq(nmsg, 3);
    /* The struct dev_apic_eoi form does the same. */
    line(9, 0);
    struct dev_apic_eoi e = dev_ioapic_eoi_target(io);
    e.eoi(e.ctx, 0x49);
    ck_assert_uint_eq(rte_lo(9) & RIRR, 0);
}
END_TEST

START_TEST(eoi_register)
{
    rte_w(10, LEVEL | 0x4a, 0);
    rte_w(11, LEVEL | 0x4a, 0);         /* two entries, one vector */
    line(10, 1);
    line(11, 1);
    ck_assert_int_eq(nmsg, 2);
    w(DEV_IOAPIC_EOIR, 4, 0x4b);
    ck_assert_int_eq(nmsg, 2);
    w(DEV_IOAPIC_EOIR, 4, 0x4a);        /* both still asserted */
    ck_assert_int_eq(nmsg, 4);
    line(10, 0);
    line(11, 0);
    w(DEV_IOAPIC_EOIR, 1, 0x4a);        /* a byte write works too */
    ck_assert_uint_eq(rte_lo(10) & RIRR, 0);
    ck_assert_uint_eq(rte_lo(11) & RIRR, 0);
    ck_assert_int_eq(nmsg, 4);
    /* Writing EOIR's upper bytes alone is not an EOI. */
    line(10, 1);
    line(10, 0);
    w(DEV_IOAPIC_EOIR + 1, 1, 0x4a);
    ck_assert_uint_eq(rte_lo(10) & RIRR, RIRR);
}
END_TEST

START_TEST(mask_and_unmask_level)
{
    rte_w(12, MASK | LEVEL | 0x4c, 0);
    line(12, 1);
    ck_assert_int_eq(nmsg, 0);
    rte_w(12, LEVEL | 0x4c, 0);         /* unmask while asserted */
    ck_assert_int_eq(nmsg, 1);
    /* Masked while in service: the EOI clears Remote IRR, sends nothing;
     * unmasking with the line still high sends. */
    rte_w(12, MASK | LEVEL | 0x4c, 0);
    dev_ioapic_eoi(io, 0x4c);
    ck_assert_uint_eq(rte_lo(12) & RIRR, 0);
    ck_assert_int_eq(nmsg, 1);
    rte_w(12, LEVEL | 0x4c, 0);
    ck_assert_int_eq(nmsg, 2);
    /* Unmasking a deasserted line sends nothing. */
    line(12, 0);
    dev_ioapic_eoi(io, 0x4c);
    rte_w(12, MASK | LEVEL | 0x4c, 0);
    rte_w(12, LEVEL | 0x4c, 0);
    ck_assert_int_eq(nmsg, 2);
}
END_TEST

START_TEST(polarity)
{
    /* Level, active low, wire low: asserted as soon as it is unmasked. */
    rte_w(13, LEVEL | POL | 0x4d, 0);
    ck_assert_int_eq(nmsg, 1);
    line(13, 1);                        /* deasserted */
    dev_ioapic_eoi(io, 0x4d);
    ck_assert_int_eq(nmsg, 1);
    line(13, 0);
    ck_assert_int_eq(nmsg, 2);
    line(13, 1);
    dev_ioapic_eoi(io, 0x4d);
    /* Edge, active low: the falling edge of the wire triggers. */
    rte_w(14, POL | 0x4e, 0);
    line(14, 1);
    ck_assert_int_eq(nmsg, 2);
    line(14, 0);
    ck_assert_int_eq(nmsg, 3);
    ck_assert_uint_eq(msgs[2].vector, 0x4e);
    line(14, 1);
    ck_assert_int_eq(nmsg, 3);
    /* Active high level with the wire low: nothing. */
    rte_w(15, LEVEL | 0x4f, 0);
    ck_assert_int_eq(nmsg, 3);
}
END_TEST

START_TEST(level_to_edge_clears_remote_irr)
{
    rte_w(7, LEVEL | 0x47, 0);
    line(7, 1);
    ck_assert_uint_eq(rte_lo(7) & RIRR, RIRR);
    line(7, 0);
    rte_w(7, 0x47, 0);                  /* Linux's stale Remote IRR fix */
    ck_assert_uint_eq(rte_lo(7) & RIRR, 0);
    rte_w(7, LEVEL | 0x47, 0);
    ck_assert_uint_eq(rte_lo(7) & RIRR, 0);
    ck_assert_int_eq(nmsg, 1);
}
END_TEST

START_TEST(hostile_and_special_modes)
{
    /* Reserved delivery modes: nothing sent, no Remote IRR. */
    rte_w(1, LEVEL | (3u << 8) | 0x41, 0);
    rte_w(2, (6u << 8) | 0x42, 0);
    line(1, 1);
    line(2, 1);
    ck_assert_int_eq(nmsg, 0);
    ck_assert_uint_eq(rte_lo(1), LEVEL | (3u << 8) | 0x41);
    /* An illegal vector is sent as it is. */
    rte_w(3, 0x05, 0);
    line(3, 1);
    ck_assert_int_eq(nmsg, 1);
    ck_assert_uint_eq(msgs[0].vector, 0x05);
    /* NMI programmed level: treated as edge, no Remote IRR. */
    rte_w(4, LEVEL | (DEV_APIC_DM_NMI << 8), 0);
    line(4, 1);
    ck_assert_int_eq(nmsg, 2);
    ck_assert_uint_eq(msgs[1].mode, DEV_APIC_DM_NMI);
    ck_assert(!msgs[1].level);
    ck_assert_uint_eq(rte_lo(4) & RIRR, 0);
    line(4, 1);
    ck_assert_int_eq(nmsg, 2);
    line(4, 0);
    line(4, 1);
    ck_assert_int_eq(nmsg, 3);
    /* ExtINT. */
    rte_w(0, DEV_APIC_DM_EXTINT << 8, 0);
    line(0, 1);
    ck_assert_int_eq(nmsg, 4);
    ck_assert_uint_eq(msgs[3].mode, DEV_APIC_DM_EXTINT);
    ck_assert(!msgs[3].level);
    /* Pins out of range and a junk line number do nothing. */
    line(24, 1);
    line(-1, 1);
    line(1000, 1);
    ck_assert_int_eq(nmsg, 4);
    /* Random writes everywhere: no crash, version intact. */
    uint32_t x = 12345;
    for (int i = 0; i < 20000; i++) {
        x = x * 1103515245u + 12345u;
        unsigned size = 1u << ((x >> 8) & 3);
        uint64_t off = (x >> 12) & 0xfff;
        w(off, size, (uint64_t)x * 0x9e3779b97f4a7c15ull);
        if (i % 7 == 0)
            line((int)((x >> 3) % 24), (x >> 5) & 1);
        if (i % 11 == 0)
            dev_ioapic_eoi(io, (uint8_t)(x >> 16));
    }
    ck_assert_uint_eq(reg_r(0x01), 0x00170020);
}
END_TEST

START_TEST(access_widths)
{
    w(DEV_IOAPIC_IOREGSEL, 1, 0x01);                /* byte IOREGSEL */
    ck_assert_uint_eq(r(DEV_IOAPIC_IOWIN, 4), 0x00170020);
    ck_assert_uint_eq(r(DEV_IOAPIC_IOWIN + 2, 2), 0x0017);
    ck_assert_uint_eq(r(DEV_IOAPIC_IOWIN, 1), 0x20);
    ck_assert_uint_eq(r(DEV_IOAPIC_IOREGSEL, 8), 0x01);   /* IOREGSEL + 0x04 */
    /* 8 bytes at 0x10: IOWIN and the (empty) dword above it. */
    ck_assert_uint_eq(r(DEV_IOAPIC_IOWIN, 8), 0x00170020);
    /* A byte write to IOWIN merges into the selected register. */
    w(DEV_IOAPIC_IOREGSEL, 4, 0x10);
    w(DEV_IOAPIC_IOWIN, 1, 0x55);
    ck_assert_uint_eq(rte_lo(0), MASK | 0x55);
    w(DEV_IOAPIC_IOREGSEL, 4, 0x10);
    w(DEV_IOAPIC_IOWIN + 2, 1, 0x00);                /* bits 16-23: unmask */
    ck_assert_uint_eq(rte_lo(0), 0x55);
    /* IOREGSEL bytes 1-3 are reserved. */
    w(DEV_IOAPIC_IOREGSEL + 1, 1, 0xff);
    ck_assert_uint_eq(r(DEV_IOAPIC_IOREGSEL, 4), 0x10);
}
END_TEST

START_TEST(reset_state)
{
    reg_w(0x00, 0x03000000);
    rte_w(8, LEVEL | 0x48, 0x02000000);
    line(8, 1);
    ck_assert_int_eq(nmsg, 1);
    dev_ioapic_reset(io);
    ck_assert_uint_eq(reg_r(0x00), 0);
    ck_assert_uint_eq(rte_lo(8), MASK);
    ck_assert_uint_eq(reg_r(0x11 + 16), 0);
    /* The wire is still high: a new level entry sends at once. */
    rte_w(8, LEVEL | 0x48, 0);
    ck_assert_int_eq(nmsg, 2);
}
END_TEST

START_TEST(range_taken)
{
    /* A second I/O APIC on the same page is refused cleanly. */
    ck_assert_ptr_null(dev_ioapic_new(bus, BASE, (struct dev_apic_sink){ 0 }));
    /* One without a sink works and sends nowhere. */
    struct dev_ioapic *io2 = dev_ioapic_new(bus, BASE + 0x1000, (struct dev_apic_sink){ 0 });
    ck_assert_ptr_nonnull(io2);
    struct dev_irq_line l = dev_ioapic_line(io2, 1);
    uint64_t v = 0x12;
    dev_bus_mmio(bus, BASE + 0x1000, 4, true, &v);
    v = 0x31;
    dev_bus_mmio(bus, BASE + 0x1010, 4, true, &v);
    dev_irq_set(&l, 1);
    ck_assert_int_eq(nmsg, 0);
    dev_ioapic_free(io2);
}
END_TEST

static Suite *ioapic_suite(void)
{
    Suite *s = suite_create("ioapic");
    TCase *tc = tcase_create("ioapic");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, id_version_arb);
    tcase_add_test(tc, rte_reset_and_readonly_bits);
    tcase_add_test(tc, edge_once_per_edge);
    tcase_add_test(tc, masked_edge_is_lost);
    tcase_add_test(tc, level_remote_irr_and_eoi);
    tcase_add_test(tc, eoi_register);
    tcase_add_test(tc, mask_and_unmask_level);
    tcase_add_test(tc, polarity);
    tcase_add_test(tc, level_to_edge_clears_remote_irr);
    tcase_add_test(tc, hostile_and_special_modes);
    tcase_add_test(tc, access_widths);
    tcase_add_test(tc, reset_state);
    tcase_add_test(tc, range_taken);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ioapic_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
