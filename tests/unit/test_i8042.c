/*
 * tests/unit/test_i8042.c — the keyboard controller through the bus:
 * self-test, command byte, reset pulses, keyboard replies, aux loopback
 * and IRQ 1/12, port 0x80.
 */
#include <check.h>
#include <stdlib.h>

#include "devices/bus.h"
#include "devices/i8042.h"

static struct dev_bus *bus;
static struct dev_i8042 *kbc;
static int resets, irq1, irq12;

static void on_reset(void *ctx) { (void)ctx; resets++; }

static void irq_set(void *ctx, int line, int l)
{
    (void)ctx;
    if (line == 1) irq1 = l;
    else irq12 = l;
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

static void setup(void)
{
    bus = dev_bus_new();
    resets = irq1 = irq12 = 0;
    kbc = dev_i8042_new(bus, on_reset, NULL, (struct dev_irq_line){ .set = irq_set, .line = 1 },
                        (struct dev_irq_line){ .set = irq_set, .line = 12 });
    ck_assert_ptr_nonnull(kbc);
    ck_assert_int_eq(dev_port80_init(bus), 0);
}

static void teardown(void)
{
    dev_i8042_free(kbc);
    dev_bus_free(bus);
}

START_TEST(self_test)
{
    ck_assert_uint_eq(in8(0x64) & 0x01, 0);
    out8(0x64, 0xaa);
    ck_assert_uint_eq(in8(0x64) & 0x0d, 0x0d);   /* OBF, SYS, A2 */
    ck_assert_uint_eq(in8(0x60), 0x55);
    ck_assert_uint_eq(in8(0x64) & 0x01, 0);
    out8(0x64, 0xab);
    ck_assert_uint_eq(in8(0x60), 0x00);
}
END_TEST

START_TEST(command_byte)
{
    out8(0x64, 0x60);
    out8(0x60, 0x20);                   /* interrupts off, aux disabled */
    ck_assert_uint_eq(in8(0x64) & 0x08, 0);     /* last write was data */
    out8(0x64, 0x20);
    ck_assert_uint_eq(in8(0x60), 0x20);
    out8(0x64, 0xa8);                   /* enable aux */
    out8(0x64, 0xad);                   /* disable kbd */
    out8(0x64, 0x20);
    ck_assert_uint_eq(in8(0x60), 0x10);
    ck_assert_int_eq(irq1, 0);          /* KBD_INT off: no IRQ */
}
END_TEST

START_TEST(reset_pulse)
{
    out8(0x64, 0xfe);
    ck_assert_int_eq(resets, 1);
    out8(0x64, 0xff);                   /* pulse nothing */
    ck_assert_int_eq(resets, 1);
    out8(0x64, 0xd1);
    out8(0x60, 0xdf);                   /* reset high, A20 on */
    ck_assert_int_eq(resets, 1);
    out8(0x64, 0xd0);
    ck_assert_uint_eq(in8(0x60) & 0x03, 0x03);
    out8(0x64, 0xd1);
    out8(0x60, 0xde);                   /* reset low */
    ck_assert_int_eq(resets, 2);
}
END_TEST

START_TEST(keyboard_replies)
{
    out8(0x60, 0xff);
    ck_assert_int_eq(irq1, 1);          /* default command byte enables IRQ 1 */
    ck_assert_uint_eq(in8(0x60), 0xfa);
    ck_assert_int_eq(irq1, 1);          /* next byte, new edge */
    ck_assert_uint_eq(in8(0x60), 0xaa);
    ck_assert_int_eq(irq1, 0);
    out8(0x60, 0xf2);
    ck_assert_uint_eq(in8(0x60), 0xfa);
    ck_assert_uint_eq(in8(0x60), 0xab);
    ck_assert_uint_eq(in8(0x60), 0x41);   /* 0x83 through the translation */
    out8(0x60, 0xed);
    ck_assert_uint_eq(in8(0x60), 0xfa);
    out8(0x60, 0x07);
    ck_assert_uint_eq(in8(0x60), 0xfa);
    out8(0x60, 0x12);                   /* not a command */
    ck_assert_uint_eq(in8(0x60), 0xfe);
    ck_assert_uint_eq(in8(0x64) & 0x01, 0);
}
END_TEST

START_TEST(aux_loop)
{
    out8(0x64, 0x60);
    out8(0x60, 0x02);                   /* aux interrupt only */
    out8(0x64, 0xd3);
    out8(0x60, 0x5a);
    ck_assert_uint_eq(in8(0x64) & 0x21, 0x21);
    ck_assert_int_eq(irq12, 1);
    ck_assert_uint_eq(in8(0x60), 0x5a);
    ck_assert_int_eq(irq12, 0);
    out8(0x64, 0xd4);                   /* to the mouse: reset */
    out8(0x60, 0xff);
    ck_assert_uint_eq(in8(0x60), 0xfa);
    ck_assert_uint_eq(in8(0x60), 0xaa);
    ck_assert_uint_eq(in8(0x60), 0x00);
    uint32_t d = 0;
    dev_bus_pio(bus, 0x80, 1, false, &d);
    ck_assert_uint_eq(d, 0xff);
}
END_TEST

static Suite *kbc_suite(void)
{
    Suite *s = suite_create("i8042");
    TCase *tc = tcase_create("i8042");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, self_test);
    tcase_add_test(tc, command_byte);
    tcase_add_test(tc, reset_pulse);
    tcase_add_test(tc, keyboard_replies);
    tcase_add_test(tc, aux_loop);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(kbc_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
