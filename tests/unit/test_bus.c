/*
 * tests/unit/test_bus.c — the port-I/O and MMIO bus: registration rules,
 * dispatch with offsets and sizes, all-ones for unclaimed reads, counters,
 * MMIO page lookup, unregistering (and so moving) ranges; plus the two trivial devices on it (debug-exit, debugcon).
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/bus.h"
#include "devices/debugcon.h"
#include "devices/debugexit.h"

struct rec {
    int calls;
    uint64_t offset;
    unsigned size;
    bool is_write;
    uint64_t wdata;
    uint64_t rdata;   /* what a read returns */
};

static void rec_io(void *opaque, uint64_t offset, unsigned size, bool is_write, uint64_t *data)
{
    struct rec *r = opaque;
    r->calls++;
    r->offset = offset;
    r->size = size;
    r->is_write = is_write;
    if (is_write)
        r->wdata = *data;
    else
        *data = r->rdata;
}

static struct dev_bus *bus;

static void setup(void)
{
    bus = dev_bus_new();
    ck_assert_ptr_nonnull(bus);
}

static void teardown(void)
{
    dev_bus_free(bus);
}

START_TEST(pio_register_rules)
{
    struct rec a = { 0 };
    ck_assert_int_eq(dev_bus_register_pio(bus, 0x3f8, 8, "a", rec_io, &a), 0);
    ck_assert_int_eq(dev_bus_register_pio(bus, 0x3f8, 8, "b", rec_io, &a), -EEXIST);
    ck_assert_int_eq(dev_bus_register_pio(bus, 0x3ff, 1, "b", rec_io, &a), -EEXIST);
    ck_assert_int_eq(dev_bus_register_pio(bus, 0x3f0, 9, "b", rec_io, &a), -EEXIST);
    ck_assert_int_eq(dev_bus_register_pio(bus, 0x3f0, 8, "b", rec_io, &a), 0);   /* adjacent below */
    ck_assert_int_eq(dev_bus_register_pio(bus, 0x400, 1, "c", rec_io, &a), 0);   /* adjacent above */
    ck_assert_int_eq(dev_bus_register_pio(bus, 0x500, 0, "d", rec_io, &a), -EINVAL);
    ck_assert_int_eq(dev_bus_register_pio(bus, 0xffff, 2, "d", rec_io, &a), -EINVAL);
    ck_assert_int_eq(dev_bus_register_pio(bus, 0xffff, 1, "d", rec_io, &a), 0);
}
END_TEST

START_TEST(pio_dispatch_offsets)
{
    struct rec a = { .rdata = 0x12345678 }, b = { .rdata = 0xab };
    ck_assert_int_eq(dev_bus_register_pio(bus, 0x3f8, 8, "a", rec_io, &a), 0);
    ck_assert_int_eq(dev_bus_register_pio(bus, 0x60, 1, "b", rec_io, &b), 0);

    uint32_t v = 0x41;
    dev_bus_pio(bus, 0x3fd, 1, true, &v);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_uint_eq(a.offset, 5);
    ck_assert_uint_eq(a.size, 1);
    ck_assert(a.is_write);
    ck_assert_uint_eq(a.wdata, 0x41);

    v = 0;
    dev_bus_pio(bus, 0x3f8, 4, false, &v);
    ck_assert_uint_eq(a.offset, 0);
    ck_assert_uint_eq(a.size, 4);
    ck_assert_uint_eq(v, 0x12345678);

    /* A read result is truncated to the access size. */
    dev_bus_pio(bus, 0x3f9, 2, false, &v);
    ck_assert_uint_eq(v, 0x5678);
    ck_assert_uint_eq(a.offset, 1);

    dev_bus_pio(bus, 0x60, 1, false, &v);
    ck_assert_uint_eq(v, 0xab);
    ck_assert_int_eq(b.calls, 1);
    ck_assert_int_eq(a.calls, 3);
}
END_TEST

START_TEST(pio_unclaimed)
{
    uint32_t v = 0;
    dev_bus_pio(bus, 0x80, 1, false, &v);
    ck_assert_uint_eq(v, 0xff);
    dev_bus_pio(bus, 0x80, 2, false, &v);
    ck_assert_uint_eq(v, 0xffff);
    dev_bus_pio(bus, 0x80, 4, false, &v);
    ck_assert_uint_eq(v, 0xffffffff);
    v = 7;
    dev_bus_pio(bus, 0x80, 1, true, &v);
    dev_bus_pio(bus, 0x81, 4, true, &v);

    struct dev_bus_stats s;
    dev_bus_get_stats(bus, &s);
    ck_assert_uint_eq(s.pio, 5);
    ck_assert_uint_eq(s.unclaimed_pio_reads, 3);
    ck_assert_uint_eq(s.unclaimed_pio_writes, 2);
    ck_assert_uint_eq(s.mmio, 0);
}
END_TEST

START_TEST(port_counts)
{
    struct rec a = { 0 };
    struct dev_bus_port_count top[3];
    ck_assert_int_eq(dev_bus_register_pio(bus, 0x60, 1, "kbd", rec_io, &a), 0);
    uint32_t v = 0;
    dev_bus_pio(bus, 0x60, 1, false, &v);       /* not counted yet */
    ck_assert_uint_eq(dev_bus_top_ports(bus, top, 3), 0);
    ck_assert_int_eq(dev_bus_count_ports(bus), 0);
    for (int i = 0; i < 5; i++)
        dev_bus_pio(bus, 0x60, 1, false, &v);
    for (int i = 0; i < 3; i++)
        dev_bus_pio(bus, 0x60, 1, true, &v);
    for (int i = 0; i < 7; i++)
        dev_bus_pio(bus, 0x80, 1, true, &v);
    dev_bus_pio(bus, 0x61, 1, false, &v);
    dev_bus_pio(bus, 0x62, 1, false, &v);
    ck_assert_uint_eq(dev_bus_top_ports(bus, top, 3), 3);
    ck_assert_uint_eq(top[0].port, 0x80);
    ck_assert(top[0].write);
    ck_assert_uint_eq(top[0].count, 7);
    ck_assert_ptr_null(top[0].name);              /* unclaimed */
    ck_assert_uint_eq(top[1].port, 0x60);
    ck_assert(!top[1].write);
    ck_assert_uint_eq(top[1].count, 5);
    ck_assert_str_eq(top[1].name, "kbd");
    ck_assert_uint_eq(top[2].port, 0x60);
    ck_assert(top[2].write);
    ck_assert_uint_eq(top[2].count, 3);
}
END_TEST

START_TEST(mmio_register_rules)
{
    struct rec a = { 0 };
    ck_assert_int_eq(dev_bus_register_mmio(bus, 0xfee00000, 0x1000, "apic", rec_io, &a), 0);
    ck_assert_int_eq(dev_bus_register_mmio(bus, 0xfee00fff, 1, "x", rec_io, &a), -EEXIST);
    ck_assert_int_eq(dev_bus_register_mmio(bus, 0xfedff000, 0x1001, "x", rec_io, &a), -EEXIST);
    ck_assert_int_eq(dev_bus_register_mmio(bus, 0xfed00000, 0x200000, "x", rec_io, &a), -EEXIST);
    ck_assert_int_eq(dev_bus_register_mmio(bus, 0xfec00000, 0x1000, "ioapic", rec_io, &a), 0);
    ck_assert_int_eq(dev_bus_register_mmio(bus, 0xfee01000, 0x10, "after", rec_io, &a), 0);
    ck_assert_int_eq(dev_bus_register_mmio(bus, 0x1000, 0, "x", rec_io, &a), -EINVAL);
    ck_assert_int_eq(dev_bus_register_mmio(bus, UINT64_MAX, 2, "x", rec_io, &a), -EINVAL);
    ck_assert_int_eq(dev_bus_register_mmio(bus, UINT64_MAX - 0xfff, 0x1000, "top", rec_io, &a), 0);
}
END_TEST

START_TEST(mmio_dispatch_and_unclaimed)
{
    struct rec a = { .rdata = 0x1122334455667788ull }, b = { .rdata = 0xdeadbeef };
    ck_assert_int_eq(dev_bus_register_mmio(bus, 0xfee00000, 0x1000, "a", rec_io, &a), 0);
    ck_assert_int_eq(dev_bus_register_mmio(bus, 0xfec00000, 0x20, "b", rec_io, &b), 0);

    uint64_t v = 0;
    ck_assert(dev_bus_mmio(bus, 0xfee00030, 8, false, &v));
    ck_assert_uint_eq(v, 0x1122334455667788ull);
    ck_assert_uint_eq(a.offset, 0x30);
    ck_assert_uint_eq(a.size, 8);
    ck_assert(dev_bus_mmio(bus, 0xfee00300, 4, false, &v));
    ck_assert_uint_eq(v, 0x55667788);
    v = 0x99;
    ck_assert(dev_bus_mmio(bus, 0xfec00010, 4, true, &v));
    ck_assert_uint_eq(b.offset, 0x10);
    ck_assert_uint_eq(b.wdata, 0x99);
    ck_assert_uint_eq(b.size, 4);

    /* Just past b, and between the ranges: unclaimed. */
    ck_assert(!dev_bus_mmio(bus, 0xfec00020, 1, false, &v));
    ck_assert_uint_eq(v, 0xff);
    ck_assert(!dev_bus_mmio(bus, 0xfed00000, 2, false, &v));
    ck_assert_uint_eq(v, 0xffff);
    ck_assert(!dev_bus_mmio(bus, 0x0, 4, false, &v));
    ck_assert_uint_eq(v, 0xffffffffu);
    ck_assert(!dev_bus_mmio(bus, 0xfee01000, 8, false, &v));
    ck_assert_uint_eq(v, UINT64_MAX);
    v = 1;
    ck_assert(!dev_bus_mmio(bus, 0x1234, 4, true, &v));

    struct dev_bus_stats s;
    dev_bus_get_stats(bus, &s);
    ck_assert_uint_eq(s.mmio, 8);
    ck_assert_uint_eq(s.unclaimed_mmio_reads, 4);
    ck_assert_uint_eq(s.unclaimed_mmio_writes, 1);
    ck_assert_uint_eq(s.pio, 0);
    ck_assert_int_eq(a.calls, 2);
    ck_assert_int_eq(b.calls, 1);
}
END_TEST

START_TEST(mmio_unregister)
{
    struct rec a = { .rdata = 0xaa }, b = { .rdata = 0xbb }, c = { .rdata = 0xcc };
    uint64_t v = 0;
    ck_assert_int_eq(dev_bus_register_mmio(bus, 0xfec00000, 0x1000, "a", rec_io, &a), 0);
    ck_assert_int_eq(dev_bus_register_mmio(bus, 0xfee00000, 0x1000, "b", rec_io, &b), 0);
    ck_assert_int_eq(dev_bus_register_mmio(bus, 0xfef00000, 0x1000, "c", rec_io, &c), 0);
    ck_assert(dev_bus_mmio(bus, 0xfee00020, 4, false, &v));   /* caches b */
    ck_assert_uint_eq(v, 0xbb);
    ck_assert_int_eq(dev_bus_unregister_mmio(bus, 0xfee00010), -ENOENT);   /* not a base */
    ck_assert_int_eq(dev_bus_unregister_mmio(bus, 0x1000), -ENOENT);
    ck_assert_int_eq(dev_bus_unregister_mmio(bus, 0xfee00000), 0);
    ck_assert_int_eq(dev_bus_unregister_mmio(bus, 0xfee00000), -ENOENT);
    ck_assert(!dev_bus_mmio(bus, 0xfee00020, 4, false, &v));  /* the cache does not keep it */
    ck_assert(!dev_bus_mmio_page(bus, 0xfee00000));
    ck_assert_int_eq(b.calls, 1);
    ck_assert(dev_bus_mmio(bus, 0xfef00000, 4, false, &v));   /* neighbours still there */
    ck_assert_uint_eq(v, 0xcc);
    ck_assert(dev_bus_mmio(bus, 0xfec00000, 4, false, &v));
    ck_assert_uint_eq(v, 0xaa);
    /* The freed range can be claimed again, elsewhere too. */
    ck_assert_int_eq(dev_bus_register_mmio(bus, 0xfed00000, 0x1000, "b", rec_io, &b), 0);
    ck_assert(dev_bus_mmio(bus, 0xfed00004, 4, false, &v));
    ck_assert_uint_eq(v, 0xbb);
    ck_assert_uint_eq(b.offset, 4);
}
END_TEST

START_TEST(mmio_page)
{
    struct rec a = { 0 };
    ck_assert(!dev_bus_mmio_page(bus, 0));
    ck_assert_int_eq(dev_bus_register_mmio(bus, 0xfec00010, 0x20, "small", rec_io, &a), 0);
    ck_assert_int_eq(dev_bus_register_mmio(bus, 0x10000ff0, 0x20, "straddle", rec_io, &a), 0);
    ck_assert(dev_bus_mmio_page(bus, 0xfec00000));
    ck_assert(dev_bus_mmio_page(bus, 0xfec00abc));     /* any address within the page */
    ck_assert(!dev_bus_mmio_page(bus, 0xfec01000));
    ck_assert(!dev_bus_mmio_page(bus, 0xfebff000));
    ck_assert(dev_bus_mmio_page(bus, 0x10000000));
    ck_assert(dev_bus_mmio_page(bus, 0x10001000));
    ck_assert(!dev_bus_mmio_page(bus, 0x10002000));
    ck_assert(!dev_bus_mmio_page(bus, 0x0fff0000));
    /* The last answer is remembered, and forgotten when the map changes. */
    ck_assert(!dev_bus_mmio_page(bus, 0x000a0000));
    ck_assert(!dev_bus_mmio_page(bus, 0x000a0004));
    ck_assert_int_eq(dev_bus_register_mmio(bus, 0x000a0000, 0x20000, "vga", rec_io, &a), 0);
    ck_assert(dev_bus_mmio_page(bus, 0x000a0004));
    ck_assert_int_eq(dev_bus_unregister_mmio(bus, 0x000a0000), 0);
    ck_assert(!dev_bus_mmio_page(bus, 0x000a0004));
    /* Two answers are remembered (a page table and a data page
     * alternate); both are forgotten when the map changes. */
    ck_assert(!dev_bus_mmio_page(bus, 0x000b0000));
    ck_assert(dev_bus_mmio_page(bus, 0xfec00000));
    ck_assert(!dev_bus_mmio_page(bus, 0x000b0000));   /* the older answer */
    ck_assert(dev_bus_mmio_page(bus, 0xfec00000));
    ck_assert_int_eq(dev_bus_register_mmio(bus, 0x000b0000, 0x1000, "late", rec_io, &a), 0);
    ck_assert(dev_bus_mmio_page(bus, 0x000b0000));    /* the older answer, forgotten */
    ck_assert(dev_bus_mmio_page(bus, 0xfec00000));
    ck_assert(dev_bus_mmio_page(bus, 0x000b0000));
    ck_assert_int_eq(dev_bus_unregister_mmio(bus, 0xfec00010), 0);
    ck_assert(!dev_bus_mmio_page(bus, 0xfec00000));   /* the older one, forgotten too */
}
END_TEST

START_TEST(pio_unregister)
{
    struct rec a = { .rdata = 0xa }, b = { .rdata = 0xb }, c = { .rdata = 0xc };
    ck_assert_int_eq(dev_bus_register_pio(bus, 0x1f0, 8, "a", rec_io, &a), 0);
    ck_assert_int_eq(dev_bus_register_pio(bus, 0xc000, 16, "b", rec_io, &b), 0);
    ck_assert_int_eq(dev_bus_register_pio(bus, 0x600, 12, "c", rec_io, &c), 0);
    ck_assert_int_eq(dev_bus_unregister_pio(bus, 0xc001), -ENOENT);   /* not a base */
    ck_assert_int_eq(dev_bus_unregister_pio(bus, 0x1234), -ENOENT);
    /* Remove a middle range: the others still dispatch to their own handler. */
    ck_assert_int_eq(dev_bus_unregister_pio(bus, 0xc000), 0);
    ck_assert_int_eq(dev_bus_unregister_pio(bus, 0xc000), -ENOENT);
    uint32_t v = 0;
    dev_bus_pio(bus, 0xc00f, 1, false, &v);
    ck_assert_uint_eq(v, 0xff);
    ck_assert_int_eq(b.calls, 0);
    dev_bus_pio(bus, 0x1f7, 1, false, &v);
    ck_assert_uint_eq(v, 0xa);
    dev_bus_pio(bus, 0x60b, 1, false, &v);
    ck_assert_uint_eq(v, 0xc);
    ck_assert_uint_eq(c.offset, 0xb);
    /* Move c: unregister + register elsewhere; the old ports are free. */
    ck_assert_int_eq(dev_bus_unregister_pio(bus, 0x600), 0);
    ck_assert_int_eq(dev_bus_register_pio(bus, 0xb000, 12, "c", rec_io, &c), 0);
    dev_bus_pio(bus, 0x600, 1, false, &v);
    ck_assert_uint_eq(v, 0xff);
    dev_bus_pio(bus, 0xb004, 1, false, &v);
    ck_assert_uint_eq(v, 0xc);
    ck_assert_uint_eq(c.offset, 4);
    ck_assert_int_eq(dev_bus_register_pio(bus, 0x600, 1, "d", rec_io, &b), 0);
    ck_assert_int_eq(dev_bus_unregister_pio(bus, 0x1f0), 0);
    ck_assert_int_eq(dev_bus_unregister_pio(bus, 0xb000), 0);
    dev_bus_pio(bus, 0x600, 1, false, &v);
    ck_assert_uint_eq(v, 0xb);
    ck_assert_int_eq(dev_bus_unregister_pio(bus, 0x600), 0);
    dev_bus_pio(bus, 0x600, 1, false, &v);
    ck_assert_uint_eq(v, 0xff);
    ck_assert_int_eq(a.calls, 1);
}
END_TEST

START_TEST(mmio_unregister_move)
{
    struct rec a = { .rdata = 0xa }, b = { .rdata = 0xb }, c = { .rdata = 0xc };
    ck_assert_int_eq(dev_bus_register_mmio(bus, 0xfec00000, 0x1000, "a", rec_io, &a), 0);
    ck_assert_int_eq(dev_bus_register_mmio(bus, 0xfebf0000, 0x1000, "b", rec_io, &b), 0);
    ck_assert_int_eq(dev_bus_register_mmio(bus, 0xfee00000, 0x1000, "c", rec_io, &c), 0);
    uint64_t v = 0;
    ck_assert(dev_bus_mmio(bus, 0xfebf0010, 4, false, &v));   /* caches b */
    ck_assert_uint_eq(v, 0xb);
    ck_assert_int_eq(dev_bus_unregister_mmio(bus, 0xfebf0010), -ENOENT);
    ck_assert_int_eq(dev_bus_unregister_mmio(bus, 0x1000), -ENOENT);
    ck_assert_int_eq(dev_bus_unregister_mmio(bus, 0xfebf0000), 0);
    ck_assert(!dev_bus_mmio(bus, 0xfebf0010, 4, false, &v));
    ck_assert(!dev_bus_mmio_page(bus, 0xfebf0000));
    ck_assert(dev_bus_mmio(bus, 0xfec00000, 4, false, &v));
    ck_assert_uint_eq(v, 0xa);
    ck_assert(dev_bus_mmio(bus, 0xfee00000, 4, false, &v));
    ck_assert_uint_eq(v, 0xc);
    /* Move b above c. */
    ck_assert_int_eq(dev_bus_register_mmio(bus, 0xfef00000, 0x1000, "b", rec_io, &b), 0);
    ck_assert(dev_bus_mmio(bus, 0xfef00ffc, 4, false, &v));
    ck_assert_uint_eq(v, 0xb);
    ck_assert_uint_eq(b.offset, 0xffc);
    ck_assert_int_eq(dev_bus_unregister_mmio(bus, 0xfee00000), 0);
    ck_assert(!dev_bus_mmio(bus, 0xfee00000, 4, false, &v));
    ck_assert(dev_bus_mmio(bus, 0xfec00004, 4, false, &v));
    ck_assert_uint_eq(v, 0xa);
    ck_assert(dev_bus_mmio(bus, 0xfef00000, 4, false, &v));
    ck_assert_uint_eq(v, 0xb);
}
END_TEST

/* ---- debug-exit and debugcon ---- */

struct exit_rec { int calls; uint32_t value; };

static void on_exit_fn(void *ctx, uint32_t value)
{
    struct exit_rec *e = ctx;
    e->calls++;
    e->value = value;
}

START_TEST(debugexit_values)
{
    struct exit_rec e = { 0 };
    ck_assert_int_eq(dev_debugexit_init(bus, 0x501, on_exit_fn, &e), 0);
    ck_assert_int_eq(dev_debugexit_init(bus, 0x501, on_exit_fn, &e), -EEXIST);
    uint32_t v = 0x31;
    dev_bus_pio(bus, 0x501, 1, true, &v);
    ck_assert_int_eq(e.calls, 1);
    ck_assert_uint_eq(e.value, 0x31);
    v = 0xabcd1234;
    dev_bus_pio(bus, 0x501, 2, true, &v);
    ck_assert_uint_eq(e.value, 0x1234);
    dev_bus_pio(bus, 0x501, 4, true, &v);
    ck_assert_uint_eq(e.value, 0xabcd1234);
    dev_bus_pio(bus, 0x501, 1, false, &v);
    ck_assert_uint_eq(v, 0xff);
    dev_bus_pio(bus, 0x501, 4, false, &v);
    ck_assert_uint_eq(v, 0xffffffff);
    ck_assert_int_eq(e.calls, 3);
}
END_TEST

struct buf { uint8_t b[64]; size_t n; };

static void buf_write(void *ctx, const uint8_t *p, size_t n)
{
    struct buf *b = ctx;
    ck_assert_uint_le(b->n + n, sizeof(b->b));
    memcpy(b->b + b->n, p, n);
    b->n += n;
}

START_TEST(debugcon_bytes)
{
    struct buf out = { .n = 0 };
    struct dev_chardev chr = { .write = buf_write, .read = NULL, .ctx = &out };
    ck_assert_int_eq(dev_debugcon_init(bus, 0xe9, &chr), 0);
    uint32_t v = 'h';
    dev_bus_pio(bus, 0xe9, 1, true, &v);
    v = 0x4269;   /* a wide write sends its low byte */
    dev_bus_pio(bus, 0xe9, 2, true, &v);
    ck_assert_uint_eq(out.n, 2);
    ck_assert_mem_eq(out.b, "hi", 2);
    dev_bus_pio(bus, 0xe9, 1, false, &v);
    ck_assert_uint_eq(v, 0xe9);
}
END_TEST

static Suite *bus_suite(void)
{
    Suite *s = suite_create("bus");
    TCase *tc = tcase_create("bus");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, pio_register_rules);
    tcase_add_test(tc, port_counts);
    tcase_add_test(tc, pio_dispatch_offsets);
    tcase_add_test(tc, pio_unclaimed);
    tcase_add_test(tc, mmio_register_rules);
    tcase_add_test(tc, mmio_dispatch_and_unclaimed);
    tcase_add_test(tc, mmio_unregister);
    tcase_add_test(tc, mmio_page);
    tcase_add_test(tc, pio_unregister);
    tcase_add_test(tc, mmio_unregister_move);
    tcase_add_test(tc, debugexit_values);
    tcase_add_test(tc, debugcon_bytes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bus_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
