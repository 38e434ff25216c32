/*
 * devices/bus.c — the port-I/O and MMIO bus: range registration, dispatch
 * to device handlers, the all-ones answer for unclaimed accesses, counters.
 *
 * Port lookup is one load from a 64K table of range indices (the guest hits
 * ports often: UART polling, PIT, PIC). MMIO ranges are few and kept sorted
 * by base; lookup is a binary search behind a one-entry cache of the last
 * range hit (guests hammer one device at a time).
 *
 * An access is dispatched to the range holding its first byte and the size
 * is passed through unchanged; a device that cares about wider accesses
 * splits them itself. Registration is not thread-safe: it happens before the
 * machine runs, or (PCI BARs moving, decode switched) from a device handler
 * on the dispatching thread; dispatch touches the range only before it calls
 * the handler, so a handler may change the ranges.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/bus.h"
#include "devices/bus_own.h"

struct bus_range {
    uint64_t base, len;
    const char *name;
    dev_io_fn fn;
    void *opaque;
};

struct range_vec {
    struct bus_range *v;
    size_t n, cap;
};

struct dev_bus {
    /* pio_index[port] = 1 + index into pio.v, or 0 if nobody claims it. */
    uint16_t pio_index[65536];
    struct range_vec pio, mmio;   /* mmio sorted by base, non-overlapping */
    size_t mmio_last;             /* index of the last MMIO range hit */
    /* dev_bus_mmio_page's last two answers, the most recent first: the
     * shadow MMU asks it for every emulated access, mostly about the same
     * page or two (a page table and the page a fault is about). Each is
     * one word, page | 2 | answer (0: none), so a reader on another
     * thread (the gdb stub) never pairs a page with another's answer. */
    uint64_t mmio_page_memo[2];
    void **owned;
    size_t n_owned;
    struct dev_bus_stats stats;
    uint32_t *port_count;         /* [port * 2 + is_write], when counting */
};

static uint64_t ones(unsigned size)
{
    return size >= 8 ? UINT64_MAX : (UINT64_C(1) << (size * 8)) - 1;
}

struct dev_bus *dev_bus_new(void)
{
    return calloc(1, sizeof(struct dev_bus));
}

void dev_bus_free(struct dev_bus *bus)
{
    if (!bus)
        return;
    for (size_t i = 0; i < bus->n_owned; i++)
        free(bus->owned[i]);
    free(bus->owned);
    free(bus->pio.v);
    free(bus->mmio.v);
    free(bus->port_count);
    free(bus);
}

int dev_bus_own(struct dev_bus *bus, void *ptr)
{
    void **n = realloc(bus->owned, (bus->n_owned + 1) * sizeof(*n));
    if (!n)
        return -ENOMEM;
    bus->owned = n;
    bus->owned[bus->n_owned++] = ptr;
    return 0;
}

/* Inserts r at position at; 0 or -ENOMEM. */
static int vec_insert(struct range_vec *rv, size_t at, const struct bus_range *r)
{
    if (rv->n == rv->cap) {
        size_t cap = rv->cap ? rv->cap * 2 : 8;
        struct bus_range *v = realloc(rv->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        rv->v = v;
        rv->cap = cap;
    }
    memmove(&rv->v[at + 1], &rv->v[at], (rv->n - at) * sizeof(*r));
    rv->v[at] = *r;
    rv->n++;
    return 0;
}

int dev_bus_register_pio(struct dev_bus *bus, uint16_t base, uint32_t len, const char *name,
                         dev_io_fn fn, void *opaque)
{
    if (len == 0 || (uint32_t)base + len > 0x10000 || !fn)
        return -EINVAL;
    if (bus->pio.n >= UINT16_MAX)
        return -ENOMEM;
    for (uint32_t p = base; p < (uint32_t)base + len; p++)
        if (bus->pio_index[p])
            return -EEXIST;
    struct bus_range r = { base, len, name, fn, opaque };
    int err = vec_insert(&bus->pio, bus->pio.n, &r);
    if (err)
        return err;
    for (uint32_t p = base; p < (uint32_t)base + len; p++)
        bus->pio_index[p] = (uint16_t)bus->pio.n;
    return 0;
}

int dev_bus_unregister_pio(struct dev_bus *bus, uint16_t base)
{
    uint16_t idx = bus->pio_index[base];
    if (!idx || bus->pio.v[idx - 1].base != base)
        return -ENOENT;
    struct bus_range *r = &bus->pio.v[idx - 1];
    for (uint64_t p = r->base; p < r->base + r->len; p++)
        bus->pio_index[p] = 0;
    /* Fill the hole with the last range and repoint its ports. */
    size_t last = bus->pio.n - 1;
    if ((size_t)(idx - 1) != last) {
        *r = bus->pio.v[last];
        for (uint64_t p = r->base; p < r->base + r->len; p++)
            bus->pio_index[p] = idx;
    }
    bus->pio.n--;
    return 0;
}

/* Index of the first MMIO range whose end is above addr (n if none). */
static size_t mmio_first_ending_after(const struct dev_bus *bus, uint64_t addr)
{
    size_t lo = 0, hi = bus->mmio.n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct bus_range *r = &bus->mmio.v[mid];
        if (r->base + (r->len - 1) < addr)   /* last byte below addr; no overflow */
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int dev_bus_register_mmio(struct dev_bus *bus, uint64_t base, uint64_t len, const char *name,
                          dev_io_fn fn, void *opaque)
{
    if (len == 0 || base + (len - 1) < base || !fn)
        return -EINVAL;
    size_t at = mmio_first_ending_after(bus, base);
    if (at < bus->mmio.n && bus->mmio.v[at].base <= base + (len - 1))
        return -EEXIST;
    struct bus_range r = { base, len, name, fn, opaque };
    __atomic_store_n(&bus->mmio_page_memo[0], 0, __ATOMIC_RELAXED);
    __atomic_store_n(&bus->mmio_page_memo[1], 0, __ATOMIC_RELAXED);
    return vec_insert(&bus->mmio, at, &r);
}

int dev_bus_unregister_mmio(struct dev_bus *bus, uint64_t base)
{
    size_t at = mmio_first_ending_after(bus, base);
    if (at >= bus->mmio.n || bus->mmio.v[at].base != base)
        return -ENOENT;
    memmove(&bus->mmio.v[at], &bus->mmio.v[at + 1], (bus->mmio.n - at - 1) * sizeof(struct bus_range));
    bus->mmio.n--;
    bus->mmio_last = 0; /* checked against n before use */
    __atomic_store_n(&bus->mmio_page_memo[0], 0, __ATOMIC_RELAXED);
    __atomic_store_n(&bus->mmio_page_memo[1], 0, __ATOMIC_RELAXED);
    return 0;
}

void dev_bus_pio(struct dev_bus *bus, uint16_t port, unsigned size, bool is_write, uint32_t *data)
{
    bus->stats.pio++;
    if (bus->port_count)
        bus->port_count[port * 2u + is_write]++;
    uint16_t idx = bus->pio_index[port];
    if (!idx) {
        if (is_write)
            bus->stats.unclaimed_pio_writes++;
        else {
            bus->stats.unclaimed_pio_reads++;
            *data = (uint32_t)ones(size);
        }
        return;
    }
    const struct bus_range *r = &bus->pio.v[idx - 1];
    uint64_t v = is_write ? *data : 0;
    r->fn(r->opaque, port - r->base, size, is_write, &v);
    if (!is_write)
        *data = (uint32_t)(v & ones(size));
}

static const struct bus_range *mmio_find(struct dev_bus *bus, uint64_t addr)
{
    if (bus->mmio_last < bus->mmio.n) {
        const struct bus_range *r = &bus->mmio.v[bus->mmio_last];
        if (addr - r->base < r->len)
            return r;
    }
    size_t i = mmio_first_ending_after(bus, addr);
    if (i < bus->mmio.n && bus->mmio.v[i].base <= addr) {
        bus->mmio_last = i;
        return &bus->mmio.v[i];
    }
    return NULL;
}

bool dev_bus_mmio(struct dev_bus *bus, uint64_t addr, unsigned size, bool is_write, uint64_t *data)
{
    bus->stats.mmio++;
    const struct bus_range *r = mmio_find(bus, addr);
    if (!r) {
        if (is_write)
            bus->stats.unclaimed_mmio_writes++;
        else {
            bus->stats.unclaimed_mmio_reads++;
            *data = ones(size);
        }
        return false;
    }
    uint64_t v = is_write ? *data : 0;
    r->fn(r->opaque, addr - r->base, size, is_write, &v);
    if (!is_write)
        *data = v & ones(size);
    return true;
}

bool dev_bus_mmio_page(struct dev_bus *bus, uint64_t page_addr)
{
    uint64_t page = page_addr & ~UINT64_C(0xfff);
    uint64_t m0 = __atomic_load_n(&bus->mmio_page_memo[0], __ATOMIC_RELAXED);
    if (m0 && (m0 & ~UINT64_C(3)) == page)
        return m0 & 1;
    uint64_t m1 = __atomic_load_n(&bus->mmio_page_memo[1], __ATOMIC_RELAXED);
    bool a;
    if (m1 && (m1 & ~UINT64_C(3)) == page) {
        a = m1 & 1;
    } else {
        size_t i = mmio_first_ending_after(bus, page);
        a = i < bus->mmio.n && bus->mmio.v[i].base <= page + 0xfff;
    }
    __atomic_store_n(&bus->mmio_page_memo[1], m0, __ATOMIC_RELAXED);
    __atomic_store_n(&bus->mmio_page_memo[0], page | 2 | (a ? 1 : 0), __ATOMIC_RELAXED);
    return a;
}

void dev_bus_get_stats(const struct dev_bus *bus, struct dev_bus_stats *out)
{
    *out = bus->stats;
}

int dev_bus_count_ports(struct dev_bus *bus)
{
    if (!bus->port_count)
        bus->port_count = calloc(65536 * 2, sizeof(*bus->port_count));
    return bus->port_count ? 0 : -ENOMEM;
}

size_t dev_bus_top_ports(const struct dev_bus *bus, struct dev_bus_port_count *out, size_t n)
{
    size_t k = 0;
    if (!bus->port_count)
        return 0;
    for (uint32_t i = 0; i < 65536 * 2; i++) {
        uint32_t c = bus->port_count[i];
        if (!c || (k == n && c <= out[k - 1].count))
            continue;
        size_t j = k < n ? k++ : k - 1;   /* the last slot gives way */
        while (j > 0 && out[j - 1].count < c) {
            out[j] = out[j - 1];
            j--;
        }
        const uint16_t idx = bus->pio_index[i / 2];
        out[j] = (struct dev_bus_port_count){
            .port = (uint16_t)(i / 2), .write = i & 1, .count = c,
            .name = idx ? bus->pio.v[idx - 1].name : NULL,
        };
    }
    return k;
}
