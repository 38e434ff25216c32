/*
 * tests/unit/test_pit.c — the 8254 through the bus on a fake clock: counts
 * read back with latch commands in modes 2 and 3, read-back status, mode 0
 * OUT, port 0x61 with the channel 2 gate, and IRQ0 pulses from the timer.
 */
#include <check.h>
#include <stdlib.h>

#include "devices/bus.h"
#include "devices/clock_own.h"
#include "devices/pit8254.h"

static struct dev_bus *bus;
static struct dev_pit *pit;
static struct dev_timers timers;
static uint64_t fake_now;
static int rises, level;

static uint64_t fake_clock(void) { return fake_now; }

/* Time after n ticks of 1.193182 MHz, rounded up. */
static uint64_t ticks_ns(uint64_t n) { return (n * 1000000000ull + 1193181) / 1193182; }

static void irq_set(void *ctx, int line, int l)
{
    (void)ctx;
    ck_assert_int_eq(line, 0);
    if (l && !level)
        rises++;
    level = l;
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

static unsigned latch_read(int ch)
{
    out8(0x43, (uint8_t)(ch << 6));     /* counter latch */
    unsigned lo = in8(0x40 + ch);
    return lo | in8(0x40 + ch) << 8;
}

static void setup(void)
{
    fake_now = 1000000000ull;
    dev_clock_set_fake(fake_clock);
    bus = dev_bus_new();
    timers.head = NULL;
    rises = level = 0;
    pit = dev_pit_new(bus, &timers, (struct dev_irq_line){ .set = irq_set, .line = 0 });
    ck_assert_ptr_nonnull(pit);
}

static void teardown(void)
{
    dev_pit_free(pit);
    ck_assert_ptr_null(timers.head);
    dev_bus_free(bus);
    dev_clock_set_fake(NULL);
}

START_TEST(mode2_count)
{
    out8(0x43, 0x34);                   /* ch0, LSB/MSB, mode 2 */
    out8(0x40, 0x00); out8(0x40, 0x10); /* 4096 */
    uint64_t t0 = fake_now;
    ck_assert_uint_eq(latch_read(0), 4096);
    fake_now = t0 + ticks_ns(100);
    ck_assert_uint_eq(latch_read(0), 3996);
    fake_now = t0 + ticks_ns(4096 + 10);
    ck_assert_uint_eq(latch_read(0), 4086);  /* reloaded */
    /* A latch holds its value while time moves on. */
    out8(0x43, 0x00);
    fake_now += ticks_ns(50);
    unsigned lo = in8(0x40);
    ck_assert_uint_eq(lo | in8(0x40) << 8, 4086);
}
END_TEST

/* A count of 0 is 65536 (SDM-era 8254 datasheet): the counter reads 0
 * then 65535, and the mode 2 period is 65536 ticks. */
START_TEST(count_zero_is_65536)
{
    out8(0x43, 0x34);
    out8(0x40, 0x00); out8(0x40, 0x00);
    uint64_t t0 = fake_now;
    ck_assert_uint_eq(latch_read(0), 0);
    fake_now = t0 + ticks_ns(1);
    ck_assert_uint_eq(latch_read(0), 65535);
    fake_now = t0;
    ck_assert_uint_eq(dev_timers_run(&timers, fake_now), t0 + ticks_ns(65536));
}
END_TEST

START_TEST(mode3_count_and_out)
{
    out8(0x43, 0x36);                   /* ch0 mode 3 */
    out8(0x40, 100); out8(0x40, 0);
    uint64_t t0 = fake_now;
    fake_now = t0 + ticks_ns(10);
    ck_assert_uint_eq(latch_read(0), 80);   /* down by two */
    out8(0x43, 0xe2);                   /* read-back status ch0 */
    ck_assert_uint_eq(in8(0x40), 0x80 | 0x30 | 0x06);
    fake_now = t0 + ticks_ns(60);       /* second half: OUT low */
    out8(0x43, 0xe2);
    ck_assert_uint_eq(in8(0x40) & 0x80, 0);
}
END_TEST

START_TEST(readback)
{
    out8(0x43, 0xb0);                   /* ch2, LSB/MSB, mode 0 */
    out8(0x43, 0xe8);                   /* status ch2: null count, OUT low */
    ck_assert_uint_eq(in8(0x42), 0x40 | 0x30);
    out8(0x42, 0x34); out8(0x42, 0x12);
    out8(0x61, 0x01);                   /* gate on */
    fake_now += ticks_ns(0x10);
    out8(0x43, 0xc8);                   /* latch count and status ch2 */
    ck_assert_uint_eq(in8(0x42), 0x30); /* status first */
    unsigned lo = in8(0x42);
    ck_assert_uint_eq(lo | in8(0x42) << 8, 0x1224);
}
END_TEST

START_TEST(mode0_port61)
{
    /* Linux's pit_calibrate_tsc: gate on, ch2 mode 0, poll bit 5. */
    out8(0x61, (in8(0x61) & ~0x02) | 0x01);
    out8(0x43, 0xb0);
    out8(0x42, 0xff); out8(0x42, 0xff);
    uint64_t t0 = fake_now;
    ck_assert_uint_eq(in8(0x61) & 0x21, 0x01);
    fake_now = t0 + ticks_ns(65534);
    ck_assert_uint_eq(in8(0x61) & 0x20, 0);
    fake_now = t0 + ticks_ns(65535);
    ck_assert_uint_eq(in8(0x61) & 0x20, 0x20);
    /* The gate pauses mode 0. */
    out8(0x43, 0xb0);
    out8(0x42, 100); out8(0x42, 0);
    t0 = fake_now;
    fake_now += ticks_ns(50);
    out8(0x61, 0x00);
    fake_now += ticks_ns(1000);
    ck_assert_uint_eq(in8(0x61) & 0x20, 0);
    out8(0x61, 0x01);
    fake_now += ticks_ns(49);
    ck_assert_uint_eq(in8(0x61) & 0x20, 0);
    fake_now += ticks_ns(2);
    ck_assert_uint_eq(in8(0x61) & 0x20, 0x20);
    /* Refresh toggle flips with time; speaker bit reads back. */
    out8(0x61, 0x03);
    uint8_t a = in8(0x61);
    fake_now += 15085;
    uint8_t b = in8(0x61);
    ck_assert_uint_eq((a ^ b) & 0x10, 0x10);
    ck_assert_uint_eq(b & 0x03, 0x03);
}
END_TEST

START_TEST(irq0_pulses)
{
    out8(0x43, 0x34);                   /* Linux's periodic tick: mode 2 */
    out8(0x40, 0x9c); out8(0x40, 0x2e); /* 11932 = 100 Hz */
    uint64_t t0 = fake_now;
    uint64_t dl = dev_timers_run(&timers, fake_now);
    ck_assert_uint_eq(dl, t0 + ticks_ns(11932));
    ck_assert_int_eq(rises, 0);
    fake_now = dl;
    dl = dev_timers_run(&timers, fake_now);
    ck_assert_int_eq(rises, 1);
    ck_assert_int_eq(level, 0);         /* a pulse, for the edge-triggered PIC */
    ck_assert_uint_eq(dl, t0 + ticks_ns(2 * 11932));
    /* Late by five periods: one tick, next deadline after now. */
    fake_now = t0 + ticks_ns(7 * 11932) + 10;
    dl = dev_timers_run(&timers, fake_now);
    ck_assert_int_eq(rises, 2);
    ck_assert_uint_eq(dl, t0 + ticks_ns(8 * 11932));
    /* One-shot mode 4 (Linux's oneshot clockevent): one pulse. */
    out8(0x43, 0x38);
    out8(0x40, 100); out8(0x40, 0);
    t0 = fake_now;
    dl = dev_timers_run(&timers, fake_now);
    ck_assert_uint_eq(dl, t0 + ticks_ns(101));
    fake_now = dl;
    dl = dev_timers_run(&timers, fake_now);
    ck_assert_int_eq(rises, 3);
    ck_assert_uint_eq(dl, UINT64_MAX);
}
END_TEST

static Suite *pit_suite(void)
{
    Suite *s = suite_create("pit8254");
    TCase *tc = tcase_create("pit");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, mode2_count);
    tcase_add_test(tc, count_zero_is_65536);
    tcase_add_test(tc, mode3_count_and_out);
    tcase_add_test(tc, readback);
    tcase_add_test(tc, mode0_port61);
    tcase_add_test(tc, irq0_pulses);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(pit_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
