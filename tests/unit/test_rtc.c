/*
 * tests/unit/test_rtc.c — the MC146818 through the bus on a fake clock:
 * setting the time, BCD/binary and 12/24 h formats, the UIP window,
 * register C and IRQ 8, the periodic rate, CMOS memory-size bytes.
 */
#include <check.h>
#include <stdlib.h>

#include "devices/bus.h"
#include "devices/clock_own.h"
#include "devices/rtc146818.h"

static struct dev_bus *bus;
static struct dev_rtc *rtc;
static struct dev_timers timers;
static uint64_t fake_now;
static int level, rises;

static uint64_t fake_clock(void) { return fake_now; }

static void irq_set(void *ctx, int line, int l)
{
    (void)ctx;
    ck_assert_int_eq(line, 8);
    if (l && !level)
        rises++;
    level = l;
}

static uint8_t rd(uint8_t i)
{
    uint32_t d = i;
    dev_bus_pio(bus, 0x70, 1, true, &d);
    dev_bus_pio(bus, 0x71, 1, false, &d);
    return (uint8_t)d;
}

static void wr(uint8_t i, uint8_t v)
{
    uint32_t d = i;
    dev_bus_pio(bus, 0x70, 1, true, &d);
    d = v;
    dev_bus_pio(bus, 0x71, 1, true, &d);
}

static void make(uint64_t mem)
{
    bus = dev_bus_new();
    timers.head = NULL;
    level = rises = 0;
    rtc = dev_rtc_new(bus, &timers, (struct dev_irq_line){ .set = irq_set, .line = 8 }, mem);
    ck_assert_ptr_nonnull(rtc);
}

static void setup(void)
{
    fake_now = 5000000000ull;
    dev_clock_set_fake(fake_clock);
    make(128u << 20);
    /* 2024-02-29 13:45:50 UTC, BCD 24 h, set at fake_now. */
    wr(11, 0x82);
    wr(0, 0x50); wr(2, 0x45); wr(4, 0x13); wr(7, 0x29); wr(8, 0x02); wr(9, 0x24);
    wr(0x32, 0x20);
    wr(11, 0x02);
}

static void teardown(void)
{
    dev_rtc_free(rtc);
    dev_bus_free(bus);
    dev_clock_set_fake(NULL);
}

START_TEST(formats)
{
    ck_assert_uint_eq(rd(0), 0x50);
    ck_assert_uint_eq(rd(4), 0x13);
    ck_assert_uint_eq(rd(6), 0x05);     /* Thursday */
    ck_assert_uint_eq(rd(0x32), 0x20);
    fake_now += 12000000000ull;         /* 13:46:02 */
    ck_assert_uint_eq(rd(0), 0x02);
    ck_assert_uint_eq(rd(2), 0x46);
    wr(11, 0x06);                       /* binary, 24 h */
    ck_assert_uint_eq(rd(0), 2);
    ck_assert_uint_eq(rd(2), 46);
    ck_assert_uint_eq(rd(9), 24);
    wr(11, 0x04);                       /* binary, 12 h */
    ck_assert_uint_eq(rd(4), 0x81);     /* 1 PM */
    wr(11, 0x00);                       /* BCD, 12 h */
    ck_assert_uint_eq(rd(4), 0x81);
    /* Set 12 AM in BCD 12 h mode: hour 0 in 24 h. */
    wr(11, 0x80);
    wr(4, 0x12);
    wr(11, 0x02);
    ck_assert_uint_eq(rd(4), 0x00);
}
END_TEST

START_TEST(uip_window)
{
    ck_assert_uint_eq(rd(10), 0x26);
    fake_now += 999000000ull;           /* 1 ms before the update */
    ck_assert_uint_eq(rd(10) & 0x80, 0);
    fake_now += 800000ull;              /* 200 us before */
    ck_assert_uint_eq(rd(10) & 0x80, 0x80);
    ck_assert_uint_eq(rd(0), 0x50);
    fake_now += 200000ull;              /* updated */
    ck_assert_uint_eq(rd(10) & 0x80, 0);
    ck_assert_uint_eq(rd(0), 0x51);
    ck_assert_uint_eq(rd(13), 0x80);
}
END_TEST

START_TEST(regc_and_irq8)
{
    ck_assert_uint_eq(rd(12), 0x00);
    wr(11, 0x12);                       /* UIE */
    uint64_t dl = dev_timers_run(&timers, fake_now);
    ck_assert_uint_eq(dl, fake_now + 1000000000ull);
    fake_now = dl;
    dev_timers_run(&timers, fake_now);
    ck_assert_int_eq(level, 1);
    ck_assert_int_eq(rises, 1);
    ck_assert_uint_eq(rd(12) & 0xb0, 0x90);   /* IRQF | UF (PF runs too) */
    ck_assert_int_eq(level, 0);
    ck_assert_uint_eq(rd(12) & 0x90, 0x00);   /* read clears */
    /* Alarm at 13:45:55 with don't-care hours. */
    wr(11, 0x22);
    wr(1, 0x55); wr(3, 0x45); wr(5, 0xc0);
    fake_now += 3000000000ull;          /* :54 */
    dev_timers_run(&timers, fake_now);
    ck_assert_int_eq(level, 0);
    fake_now += 1000000000ull;          /* :55 */
    dev_timers_run(&timers, fake_now);
    ck_assert_int_eq(level, 1);
    ck_assert_uint_eq(rd(12) & 0xa0, 0xa0);
}
END_TEST

START_TEST(periodic_rate)
{
    rd(12);
    wr(10, 0x26);                       /* 1024 Hz */
    wr(11, 0x42);                       /* PIE */
    rd(12);
    int n = 0;
    uint64_t end = fake_now + 1000000000ull;
    while (1) {
        uint64_t dl = dev_timers_run(&timers, fake_now);
        if (dl > end)
            break;
        fake_now = dl;
        dev_timers_run(&timers, fake_now);
        if (rd(12) & 0x40)
            n++;
    }
    ck_assert_int_eq(n, 1024);
    wr(10, 0x2f);                       /* 2 Hz */
    rd(12);
    uint64_t dl = dev_timers_run(&timers, fake_now);
    ck_assert_uint_le(dl - fake_now, 500000000ull);
    ck_assert_uint_gt(dl - fake_now, 0);
}
END_TEST

START_TEST(cmos_memory)
{
    ck_assert_uint_eq(rd(0x15), 0x80);
    ck_assert_uint_eq(rd(0x16), 0x02);
    /* 128 MiB: 130048 KiB above 1 MiB saturates at 0xFFFF. */
    ck_assert_uint_eq(rd(0x17) | rd(0x18) << 8, 0xffff);
    ck_assert_uint_eq(rd(0x30) | rd(0x31) << 8, 0xffff);
    ck_assert_uint_eq(rd(0x34) | rd(0x35) << 8, 0x0700);
    ck_assert_uint_eq(rd(0x14) & 0x02, 0x02);
    ck_assert_uint_eq(rd(0x10), 0x00);
    wr(0x40, 0x5a);                     /* plain CMOS RAM */
    ck_assert_uint_eq(rd(0x40), 0x5a);
    dev_rtc_free(rtc);
    dev_bus_free(bus);
    make(1u << 30);
    ck_assert_uint_eq(rd(0x17) | rd(0x18) << 8, 0xffff);
    ck_assert_uint_eq(rd(0x34) | rd(0x35) << 8, 0x3f00);
    dev_rtc_free(rtc);
    dev_bus_free(bus);
    make(32u << 20);
    ck_assert_uint_eq(rd(0x17) | rd(0x18) << 8, 0x7c00);
    ck_assert_uint_eq(rd(0x30) | rd(0x31) << 8, 0x7c00);
    ck_assert_uint_eq(rd(0x34) | rd(0x35) << 8, 0x0100);
}
END_TEST

static Suite *rtc_suite(void)
{
    Suite *s = suite_create("rtc146818");
    TCase *tc = tcase_create("rtc");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, formats);
    tcase_add_test(tc, uip_window);
    tcase_add_test(tc, regc_and_irq8);
    tcase_add_test(tc, periodic_rate);
    tcase_add_test(tc, cmos_memory);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(rtc_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
