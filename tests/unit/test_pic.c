/*
 * tests/unit/test_pic.c — the 8259A pair through the bus: init sequence,
 * masking, priority, cascade, EOI, IRR/ISR reads, auto-EOI, spurious IRQ 7,
 * ELCR level/edge, poll mode, and the notify callback.
 */
#include <check.h>
#include <stdlib.h>

#include "devices/bus.h"
#include "devices/pic8259.h"

static struct dev_bus *bus;
static struct dev_pic *pic;
static int notified;

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

static void on_notify(void *ctx)
{
    (void)ctx;
    notified++;
}

static void irq(int n, int level)
{
    struct dev_irq_line l = dev_pic_line(pic, n);
    dev_irq_set(&l, level);
}

static void pulse(int n)
{
    irq(n, 1);
    irq(n, 0);
}

/* Linux's init_8259A: master at 0x30, slave at 0x38 here. */
static void init_pair(uint8_t icw4)
{
    out8(0x20, 0x11); out8(0x21, 0x30); out8(0x21, 0x04); out8(0x21, icw4);
    out8(0xa0, 0x11); out8(0xa1, 0x38); out8(0xa1, 0x02); out8(0xa1, icw4);
    out8(0x21, 0x00); out8(0xa1, 0x00);
}

static void setup(void)
{
    bus = dev_bus_new();
    pic = dev_pic_new(bus);
    ck_assert_ptr_nonnull(pic);
    notified = 0;
    dev_pic_set_notify(pic, on_notify, NULL);
    init_pair(0x01);
}

static void teardown(void)
{
    dev_pic_free(pic);
    dev_bus_free(bus);
}

START_TEST(init_and_vector)
{
    ck_assert(!dev_pic_intr(pic));
    pulse(3);
    ck_assert(dev_pic_intr(pic));
    ck_assert_int_ge(notified, 1);
    ck_assert_int_eq(dev_pic_ack(pic), 0x33);
    ck_assert(!dev_pic_intr(pic));
    out8(0x20, 0x0b);                   /* OCW3: read ISR */
    ck_assert_uint_eq(in8(0x20), 0x08);
    out8(0x20, 0x20);                   /* non-specific EOI */
    ck_assert_uint_eq(in8(0x20), 0x00);
}
END_TEST

START_TEST(masking)
{
    out8(0x21, 0x10);                   /* mask IRQ 4 */
    ck_assert_uint_eq(in8(0x21), 0x10);
    pulse(4);
    ck_assert(!dev_pic_intr(pic));
    out8(0x20, 0x0a);                   /* read IRR */
    ck_assert_uint_eq(in8(0x20), 0x10);
    out8(0x21, 0x00);
    ck_assert(dev_pic_intr(pic));
    ck_assert_int_eq(dev_pic_ack(pic), 0x34);
}
END_TEST

START_TEST(priority_order)
{
    pulse(5);
    pulse(1);
    ck_assert_int_eq(dev_pic_ack(pic), 0x31);
    /* IRQ 5 is lower priority than in-service IRQ 1: held back. */
    ck_assert(!dev_pic_intr(pic));
    pulse(0);                           /* higher: nests */
    ck_assert_int_eq(dev_pic_ack(pic), 0x30);
    out8(0x20, 0x20);                   /* EOI IRQ 0 */
    ck_assert(!dev_pic_intr(pic));
    out8(0x20, 0x61);                   /* specific EOI IRQ 1 */
    ck_assert_int_eq(dev_pic_ack(pic), 0x35);
    /* Rotate: set priority so IRQ 5 is lowest, then 6 beats 0. */
    out8(0x20, 0x20);
    out8(0x20, 0xc5);
    pulse(0);
    pulse(6);
    ck_assert_int_eq(dev_pic_ack(pic), 0x36);
}
END_TEST

START_TEST(cascade)
{
    irq(12, 1);
    ck_assert(dev_pic_intr(pic));
    ck_assert_int_eq(dev_pic_ack(pic), 0x3c);
    out8(0xa0, 0x0b);
    ck_assert_uint_eq(in8(0xa0), 0x10); /* slave ISR bit 4 */
    out8(0x20, 0x0b);
    ck_assert_uint_eq(in8(0x20), 0x04); /* master ISR IR2 */
    irq(12, 0);
    out8(0xa0, 0x20);
    out8(0x20, 0x20);
    ck_assert_uint_eq(in8(0xa0), 0);
    ck_assert_uint_eq(in8(0x20), 0);
    /* A masked slave line does not reach the master. */
    out8(0xa1, 0x01);
    pulse(8);
    ck_assert(!dev_pic_intr(pic));
    out8(0xa1, 0x00);
    ck_assert_int_eq(dev_pic_ack(pic), 0x38);
}
END_TEST

START_TEST(auto_eoi)
{
    init_pair(0x03);
    pulse(6);
    ck_assert_int_eq(dev_pic_ack(pic), 0x36);
    out8(0x20, 0x0b);
    ck_assert_uint_eq(in8(0x20), 0x00); /* no ISR bit */
    pulse(7);
    ck_assert_int_eq(dev_pic_ack(pic), 0x37);   /* not blocked */
}
END_TEST

START_TEST(spurious)
{
    out8(0x4d0, 0x20);                  /* IRQ 5 level-triggered */
    ck_assert_uint_eq(in8(0x4d0), 0x20);
    irq(5, 1);
    ck_assert(dev_pic_intr(pic));
    irq(5, 0);                          /* gone before INTA */
    ck_assert_int_eq(dev_pic_ack(pic), 0x37);
    out8(0x20, 0x0b);
    ck_assert_uint_eq(in8(0x20), 0x00);
    /* Slave spurious: IRQ 15 vector, master still takes IR2. */
    out8(0x4d1, 0x02);                  /* IRQ 9 level */
    irq(9, 1);
    out8(0xa1, 0x02);                   /* masked after INTR rose... */
    out8(0xa1, 0x00);
    irq(9, 0);
    ck_assert_int_eq(dev_pic_ack(pic), 0x3f);
    ck_assert_uint_eq(in8(0x20), 0x04);
}
END_TEST

START_TEST(level_vs_edge)
{
    /* Edge: a held line does not re-trigger after EOI. */
    irq(3, 1);
    ck_assert_int_eq(dev_pic_ack(pic), 0x33);
    out8(0x20, 0x20);
    ck_assert(!dev_pic_intr(pic));
    irq(3, 0);
    irq(3, 1);
    ck_assert(dev_pic_intr(pic));
    ck_assert_int_eq(dev_pic_ack(pic), 0x33);
    out8(0x20, 0x20);
    irq(3, 0);
    /* Level via ELCR: re-requests after EOI while held. */
    out8(0x4d0, 0x08);
    irq(3, 1);
    ck_assert_int_eq(dev_pic_ack(pic), 0x33);
    ck_assert(!dev_pic_intr(pic));
    out8(0x20, 0x20);
    ck_assert(dev_pic_intr(pic));
    irq(3, 0);
    ck_assert(!dev_pic_intr(pic));
    /* IRQ 0-2 cannot be made level. */
    out8(0x4d0, 0xff);
    ck_assert_uint_eq(in8(0x4d0), 0xf8);
}
END_TEST

START_TEST(poll_mode)
{
    out8(0x20, 0x0c);                   /* poll, nothing pending */
    ck_assert_uint_eq(in8(0x20), 0x00);
    pulse(4);
    out8(0x20, 0x0c);
    ck_assert_uint_eq(in8(0x20), 0x84);
    ck_assert(!dev_pic_intr(pic));      /* acknowledged by the poll */
    out8(0x20, 0x0b);
    ck_assert_uint_eq(in8(0x20), 0x10);
}
END_TEST

static Suite *pic_suite(void)
{
    Suite *s = suite_create("pic8259");
    TCase *tc = tcase_create("pic");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, init_and_vector);
    tcase_add_test(tc, masking);
    tcase_add_test(tc, priority_order);
    tcase_add_test(tc, cascade);
    tcase_add_test(tc, auto_eoi);
    tcase_add_test(tc, spurious);
    tcase_add_test(tc, level_vs_edge);
    tcase_add_test(tc, poll_mode);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(pic_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
