/*
 * tests/unit/test_hpet.c — the HPET through the bus on a fake clock:
 * capability and ID values, the main counter (runs only while enabled, at
 * 100 MHz, halves, writes while halted), one-shot and periodic fire times
 * (accumulator with VAL_SET, late host timer, writes to a running periodic
 * timer), level vs edge outputs and the status register, 32-bit mode (wrap
 * and periodic), the legacy replacement route with its callback and the
 * PIT/RTC gate, and routing to a chosen I/O APIC pin.
 */
#include <check.h>
#include <stdlib.h>

#include "devices/bus.h"
#include "devices/clock_own.h"
#include "devices/hpet.h"

#define B DEV_HPET_BASE
#define T0 1000000000ull                /* fake time when each test starts */

/* Lines: 0-23 I/O APIC pins, 24 legacy IRQ0, 25 legacy IRQ8. */
enum { L0 = 24, L8 = 25, NLINES = 26 };

static struct dev_bus *bus;
static struct dev_hpet *hpet;
static struct dev_timers timers;
static uint64_t fake_now;
static int level[NLINES], rises[NLINES];
static int legacy_calls, legacy_last = -1;

static uint64_t fake_clock(void) { return fake_now; }

static void line_set(void *ctx, int line, int l)
{
    (void)ctx;
    ck_assert_int_ge(line, 0);
    ck_assert_int_lt(line, NLINES);
    if (l && !level[line])
        rises[line]++;
    level[line] = l;
}

static void legacy_cb(void *ctx, bool on)
{
    ck_assert_ptr_eq(ctx, &legacy_calls);
    legacy_calls++;
    legacy_last = on;
}

static void make(uint32_t intcap)
{
    struct dev_hpet_config cfg = { .base = B, .intcap = intcap, .legacy_changed = legacy_cb,
                                   .legacy_ctx = &legacy_calls };
    for (int i = 0; i < DEV_HPET_GSI_PINS; i++)
        cfg.gsi[i] = (struct dev_irq_line){ .set = line_set, .line = i };
    cfg.legacy_irq0 = (struct dev_irq_line){ .set = line_set, .line = L0 };
    cfg.legacy_irq8 = (struct dev_irq_line){ .set = line_set, .line = L8 };
    hpet = dev_hpet_new(bus, &timers, &cfg);
    ck_assert_ptr_nonnull(hpet);
}

static void setup(void)
{
    fake_now = T0;
    dev_clock_set_fake(fake_clock);
    bus = dev_bus_new();
    timers.head = NULL;
    for (int i = 0; i < NLINES; i++)
        level[i] = rises[i] = 0;
    legacy_calls = 0;
    legacy_last = -1;
    make(DEV_HPET_INTCAP_PC);
}

static void teardown(void)
{
    dev_hpet_free(hpet);
    ck_assert_ptr_null(timers.head);
    dev_bus_free(bus);
    dev_clock_set_fake(NULL);
}

static uint32_t rd32(uint32_t off)
{
    uint64_t d = 0;
    ck_assert(dev_bus_mmio(bus, B + off, 4, false, &d));
    return (uint32_t)d;
}

static uint64_t rd64(uint32_t off)
{
    uint64_t d = 0;
    ck_assert(dev_bus_mmio(bus, B + off, 8, false, &d));
    return d;
}

static void wr32(uint32_t off, uint32_t v)
{
    uint64_t d = v;
    ck_assert(dev_bus_mmio(bus, B + off, 4, true, &d));
}

static void wr64(uint32_t off, uint64_t v)
{
    ck_assert(dev_bus_mmio(bus, B + off, 8, true, &v));
}

/* Registers. */
#define CAP 0x000
#define CFG 0x010
#define ISR 0x020
#define CNT 0x0f0
#define TCFG(n) (0x100 + 0x20 * (n))
#define TCMP(n) (0x108 + 0x20 * (n))

#define ENABLE 1u
#define LEGACY 2u
#define LEVEL (1u << 1)
#define INT_ENB (1u << 2)
#define PERIODIC (1u << 3)
#define VAL_SET (1u << 6)
#define MODE32 (1u << 8)
#define ROUTE(p) ((uint32_t)(p) << 9)

static uint64_t tick_ns(uint64_t ticks) { return ticks * 10; }

/* Run the timers at fake_now; return the next deadline. */
static uint64_t run(void) { return dev_timers_run(&timers, fake_now); }

START_TEST(capabilities)
{
    ck_assert_uint_eq(rd32(CAP), 0x8086a201);     /* vendor, LEG_RT, 64-bit, 3 timers, rev 1 */
    ck_assert_uint_eq(rd32(CAP + 4), 10000000);   /* 10 ns in fs: 100 MHz */
    ck_assert_uint_eq(rd64(CAP), 0x009896808086a201ull);
    wr32(CAP, 0);                                 /* read-only */
    ck_assert_uint_eq(rd32(CAP), 0x8086a201);
    ck_assert_uint_eq(rd64(CFG), 0);
    ck_assert_uint_eq(rd64(ISR), 0);
    for (int n = 0; n < 3; n++) {
        /* Periodic-capable, 64-bit capable, no FSB; route cap = pin 2 (QEMU pc). */
        ck_assert_uint_eq(rd32(TCFG(n)), 0x30);
        ck_assert_uint_eq(rd32(TCFG(n) + 4), DEV_HPET_INTCAP_PC);
        ck_assert_uint_eq(rd64(TCMP(n)), ~0ull);
    }
    /* Caps and FSB enable are not writable; reserved bits stay 0. */
    wr32(TCFG(0), 0xffffffff);
    ck_assert_uint_eq(rd32(TCFG(0)) & ~(uint32_t)(LEVEL | INT_ENB | PERIODIC | VAL_SET | MODE32 |
                                                  ROUTE(0x1f)), 0x30);
    ck_assert_uint_eq(rd32(TCFG(0)) & 0xc000, 0);
    /* A 4th timer does not exist. */
    ck_assert_uint_eq(rd64(TCFG(3)), 0);
    /* Byte reads see the register's bytes. */
    uint64_t d = 0;
    dev_bus_mmio(bus, B + 2, 2, false, &d);
    ck_assert_uint_eq(d, 0x8086);
}
END_TEST

START_TEST(counter)
{
    fake_now += 5000000;
    ck_assert_uint_eq(rd64(CNT), 0);              /* halted */
    wr32(CFG, ENABLE);
    fake_now += 1000000;                          /* 1 ms = 100 000 ticks */
    ck_assert_uint_eq(rd64(CNT), 100000);
    ck_assert_uint_eq(rd32(CNT), 100000);
    fake_now += 15;
    ck_assert_uint_eq(rd32(CNT), 100001);
    wr32(CNT, 5);                                 /* lost while running */
    ck_assert_uint_eq(rd32(CNT), 100001);
    wr32(CFG, 0);
    fake_now += 1000000;
    ck_assert_uint_eq(rd64(CNT), 100001);         /* frozen */
    /* Halted writes, halves. */
    wr32(CNT + 4, 0x12);
    wr32(CNT, 0xfffffff0);
    ck_assert_uint_eq(rd64(CNT), 0x12fffffff0ull);
    wr32(CFG, ENABLE);
    fake_now += tick_ns(0x20);
    ck_assert_uint_eq(rd32(CNT), 0x10);
    ck_assert_uint_eq(rd32(CNT + 4), 0x13);
    wr32(CFG, 0);
    wr64(CNT, 0x123456789abcull);
    ck_assert_uint_eq(rd64(CNT), 0x123456789abcull);
}
END_TEST

START_TEST(oneshot_edge)
{
    wr32(TCFG(0), INT_ENB | ROUTE(2));
    wr64(TCMP(0), 1000);
    ck_assert_uint_eq(run(), UINT64_MAX);         /* HPET halted: nothing armed */
    wr32(CFG, ENABLE);
    uint64_t dl = run();
    ck_assert_uint_eq(dl, T0 + tick_ns(1000));
    fake_now = dl - 1;
    run();
    ck_assert_int_eq(rises[2], 0);
    fake_now = dl;
    ck_assert_uint_eq(run(), UINT64_MAX);         /* one-shot: done */
    ck_assert_int_eq(rises[2], 1);
    ck_assert_int_eq(level[2], 0);                /* a pulse */
    ck_assert_uint_eq(rd32(ISR), 0);              /* edge: no status */
    /* A new comparator re-arms; one already passed fires at once. */
    wr64(TCMP(0), 500);
    fake_now += 1;
    run();
    ck_assert_int_eq(rises[2], 2);
    /* Tn_INT_ENB clear: the timer runs but no interrupt. */
    wr32(TCFG(0), ROUTE(2));
    wr64(TCMP(0), rd64(CNT) + 100);
    fake_now += tick_ns(100);
    run();
    ck_assert_int_eq(rises[2], 2);
}
END_TEST

START_TEST(oneshot_level)
{
    wr32(TCFG(1), LEVEL | INT_ENB | ROUTE(2));
    wr64(TCMP(1), 200);                           /* 64-bit mode: both halves */
    wr32(CFG, ENABLE);
    fake_now += tick_ns(200);
    run();
    ck_assert_int_eq(level[2], 1);
    ck_assert_uint_eq(rd32(ISR), 2);
    wr32(ISR, 1);                                 /* other bits: no effect */
    ck_assert_int_eq(level[2], 1);
    wr32(ISR, 2);                                 /* write 1 to clear */
    ck_assert_int_eq(level[2], 0);
    ck_assert_uint_eq(rd32(ISR), 0);
    /* Interrupt disabled: status still set, line stays low until enabled. */
    wr32(TCFG(1), LEVEL | ROUTE(2));
    wr64(TCMP(1), rd64(CNT) + 50);
    fake_now += tick_ns(50);
    run();
    ck_assert_uint_eq(rd32(ISR), 2);
    ck_assert_int_eq(level[2], 0);
    wr32(TCFG(1), LEVEL | INT_ENB | ROUTE(2));
    ck_assert_int_eq(level[2], 1);
    /* Halting the HPET drops the line but keeps the status. */
    wr32(CFG, 0);
    ck_assert_int_eq(level[2], 0);
    ck_assert_uint_eq(rd32(ISR), 2);
    wr32(CFG, ENABLE);
    ck_assert_int_eq(level[2], 1);
    /* Switching to edge clears status and line. */
    wr32(TCFG(1), INT_ENB | ROUTE(2));
    ck_assert_int_eq(level[2], 0);
    ck_assert_uint_eq(rd32(ISR), 0);
}
END_TEST

START_TEST(periodic)
{
    /* Linux's sequence: periodic + VAL_SET, accumulator, then period. */
    wr32(TCFG(0), INT_ENB | PERIODIC | VAL_SET | ROUTE(2));
    wr64(TCMP(0), 1000);
    ck_assert_uint_eq(rd32(TCFG(0)) & VAL_SET, 0); /* cleared by the write */
    wr64(TCMP(0), 500);
    ck_assert_uint_eq(rd64(TCMP(0)), 1000);
    wr32(CFG, ENABLE);
    uint64_t dl = run();
    ck_assert_uint_eq(dl, T0 + tick_ns(1000));
    fake_now = dl;
    dl = run();
    ck_assert_int_eq(rises[2], 1);
    ck_assert_uint_eq(rd64(TCMP(0)), 1500);       /* the accumulator moved on */
    ck_assert_uint_eq(dl, T0 + tick_ns(1500));
    fake_now = dl;
    dl = run();
    ck_assert_int_eq(rises[2], 2);
    ck_assert_uint_eq(dl, T0 + tick_ns(2000));
    /* Host timer late by several periods: one interrupt, phase kept. */
    fake_now = T0 + tick_ns(4321);
    dl = run();
    ck_assert_int_eq(rises[2], 3);
    ck_assert_uint_eq(rd64(TCMP(0)), 4500);
    ck_assert_uint_eq(dl, T0 + tick_ns(4500));
    /* A write without VAL_SET changes only the period: 4500, then 4800. */
    wr64(TCMP(0), 300);
    ck_assert_uint_eq(rd64(TCMP(0)), 4500);
    fake_now = dl;
    dl = run();
    ck_assert_int_eq(rises[2], 4);
    ck_assert_uint_eq(dl, T0 + tick_ns(4800));
    /* With VAL_SET the accumulator moves: next at 6000, then every 300. */
    wr32(TCFG(0), INT_ENB | PERIODIC | VAL_SET | ROUTE(2));
    wr64(TCMP(0), 6000);
    wr64(TCMP(0), 300);
    dl = run();
    ck_assert_uint_eq(dl, T0 + tick_ns(6000));
    fake_now = dl;
    ck_assert_uint_eq(run(), T0 + tick_ns(6300));
    ck_assert_int_eq(rises[2], 5);
    /* Halt and resume: the counter resumes, the timer goes on from it. */
    wr32(CFG, 0);
    ck_assert_uint_eq(run(), UINT64_MAX);
    fake_now += 1000000;
    wr32(CFG, ENABLE);
    ck_assert_uint_eq(run(), fake_now + tick_ns(300));
    /* A 1-tick period: at most one interrupt per microsecond of host time,
     * the comparator still advancing by whole periods. */
    wr32(TCFG(0), INT_ENB | PERIODIC | VAL_SET | ROUTE(2));
    uint64_t c = rd64(CNT);
    wr64(TCMP(0), c + 1);
    wr64(TCMP(0), 1);
    fake_now += tick_ns(1);
    int r = rises[2];
    dl = run();
    ck_assert_int_eq(rises[2], r + 1);
    ck_assert_uint_eq(dl, fake_now + 1000);
    ck_assert_uint_eq(rd64(TCMP(0)), c + 2);
}
END_TEST

START_TEST(mode32)
{
    wr32(CNT, 0xffffff00);                        /* halted counter near the 32-bit wrap */
    wr32(TCFG(0), INT_ENB | MODE32 | ROUTE(2));
    wr64(TCMP(0), 0xaa00000100ull);               /* only the low half is taken */
    ck_assert_uint_eq(rd64(TCMP(0)), 0x100);
    wr32(TCMP(0) + 4, 0x55);                      /* high half ignored */
    ck_assert_uint_eq(rd32(TCMP(0) + 4), 0);
    /* One-shot 32-bit: an interrupt at the wrap, then at the match. */
    wr32(CFG, ENABLE);
    uint64_t dl = run();
    ck_assert_uint_eq(dl, T0 + tick_ns(0x100));
    fake_now = dl;
    dl = run();
    ck_assert_int_eq(rises[2], 1);
    ck_assert_uint_eq(dl, T0 + tick_ns(0x200));
    fake_now = dl;
    ck_assert_uint_eq(run(), UINT64_MAX);
    ck_assert_int_eq(rises[2], 2);
    ck_assert_uint_eq(rd64(CNT), 0x100000100ull);
    /* Periodic 32-bit across the wrap: the comparator reads back 32 bits. */
    wr32(CFG, 0);
    wr64(CNT, 0xffffff00);
    wr32(TCFG(0), INT_ENB | MODE32 | PERIODIC | VAL_SET | ROUTE(2));
    wr32(TCMP(0), 0xffffff80);
    wr32(TCMP(0), 0x100);
    uint64_t t1 = fake_now;
    wr32(CFG, ENABLE);
    fake_now = t1 + tick_ns(0x80);
    dl = run();
    ck_assert_int_eq(rises[2], 3);
    ck_assert_uint_eq(rd64(TCMP(0)), 0x80);
    ck_assert_uint_eq(dl, t1 + tick_ns(0x180));
    /* Switching to 32-bit mode truncates a 64-bit comparator. */
    wr32(TCFG(1), 0);
    wr64(TCMP(1), 0x123456789ull);
    wr32(TCFG(1), MODE32);
    ck_assert_uint_eq(rd64(TCMP(1)), 0x23456789);
}
END_TEST

START_TEST(legacy_route)
{
    struct dev_irq_line pit = dev_hpet_legacy_input(hpet, 0);
    struct dev_irq_line rtc = dev_hpet_legacy_input(hpet, 8);
    /* Route off: the PIT and RTC go straight through. */
    dev_irq_set(&pit, 1);
    dev_irq_set(&pit, 0);
    ck_assert_int_eq(rises[L0], 1);
    dev_irq_set(&rtc, 1);
    ck_assert_int_eq(level[L8], 1);
    /* Route on: callback, legacy outputs dropped, inputs cut. */
    wr32(TCFG(0), INT_ENB | PERIODIC | VAL_SET | ROUTE(2));
    wr64(TCMP(0), 1000);
    wr64(TCMP(0), 1000);
    wr32(TCFG(1), LEVEL | INT_ENB | ROUTE(2));
    wr64(TCMP(1), 1500);
    wr32(CFG, ENABLE | LEGACY);
    ck_assert_int_eq(legacy_calls, 1);
    ck_assert_int_eq(legacy_last, 1);
    ck_assert(dev_hpet_legacy_on(hpet));
    ck_assert_int_eq(level[L8], 0);
    dev_irq_set(&pit, 1);
    dev_irq_set(&pit, 0);
    ck_assert_int_eq(rises[L0], 1);
    /* Timer 0 -> IRQ0, timer 1 -> IRQ8, whatever their route says. */
    fake_now = T0 + tick_ns(1000);
    run();
    ck_assert_int_eq(rises[L0], 2);
    ck_assert_int_eq(rises[2], 0);
    fake_now = T0 + tick_ns(1500);
    run();
    ck_assert_int_eq(level[L8], 1);
    ck_assert_int_eq(level[2], 0);
    ck_assert_uint_eq(rd32(ISR), 2);
    /* Route off: timer 1's level moves to pin 2, IRQ8 gets the RTC back. */
    dev_irq_set(&rtc, 0);
    wr32(CFG, ENABLE);
    ck_assert_int_eq(legacy_calls, 2);
    ck_assert_int_eq(legacy_last, 0);
    ck_assert_int_eq(level[2], 1);
    ck_assert_int_eq(level[L8], 0);
    wr32(ISR, 2);
    ck_assert_int_eq(level[2], 0);
    dev_irq_set(&rtc, 1);
    wr32(CFG, ENABLE | LEGACY);
    ck_assert_int_eq(level[L8], 0);
    wr32(CFG, ENABLE);
    ck_assert_int_eq(level[L8], 1);               /* QEMU: the RTC's level is restored */
    /* Reset turns the route off through the callback. */
    wr32(CFG, LEGACY);
    ck_assert_int_eq(legacy_calls, 5);
    dev_hpet_reset(hpet);
    ck_assert_int_eq(legacy_calls, 6);
    ck_assert_int_eq(legacy_last, 0);
    ck_assert_uint_eq(rd64(CFG), 0);
}
END_TEST

START_TEST(route_pin)
{
    dev_hpet_free(hpet);
    dev_bus_free(bus);
    bus = dev_bus_new();
    make(DEV_HPET_INTCAP_Q35);                    /* pins 2, 8, 16-23 */
    ck_assert_uint_eq(rd32(TCFG(2) + 4), 0x00ff0104);
    wr32(TCFG(2), LEVEL | INT_ENB | ROUTE(20));
    ck_assert_uint_eq(rd32(TCFG(2)) & ROUTE(0x1f), ROUTE(20));
    wr32(TCFG(2), LEVEL | INT_ENB | ROUTE(5));    /* not offered: ignored */
    ck_assert_uint_eq(rd32(TCFG(2)) & ROUTE(0x1f), ROUTE(20));
    wr64(TCMP(2), 10);
    wr32(CFG, ENABLE);
    fake_now += tick_ns(10);
    run();
    ck_assert_int_eq(level[20], 1);
    /* Re-routing a raised level moves it. */
    wr32(TCFG(2), LEVEL | INT_ENB | ROUTE(16));
    ck_assert_int_eq(level[20], 0);
    ck_assert_int_eq(level[16], 1);
    /* Two level timers on one pin: the pin stays up until both are clear. */
    wr32(TCFG(1), LEVEL | INT_ENB | ROUTE(16));
    wr64(TCMP(1), rd64(CNT) + 10);
    fake_now += tick_ns(10);
    run();
    ck_assert_uint_eq(rd32(ISR), 6);
    wr32(ISR, 4);
    ck_assert_int_eq(level[16], 1);
    wr32(ISR, 2);
    ck_assert_int_eq(level[16], 0);
    ck_assert_int_eq(rises[16], 1);
}
END_TEST

static Suite *hpet_suite(void)
{
    Suite *s = suite_create("hpet");
    TCase *tc = tcase_create("hpet");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, capabilities);
    tcase_add_test(tc, counter);
    tcase_add_test(tc, oneshot_edge);
    tcase_add_test(tc, oneshot_level);
    tcase_add_test(tc, periodic);
    tcase_add_test(tc, mode32);
    tcase_add_test(tc, legacy_route);
    tcase_add_test(tc, route_pin);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(hpet_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
