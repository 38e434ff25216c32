/*
 * devices/bus.h — the port-I/O and MMIO bus.
 *
 * Devices register address ranges with one handler each; a handler sees the
 * offset from the start of its range and the access size (1, 2, 4, or 8 for
 * MMIO). Overlapping ranges are rejected. Accesses nobody claims read as
 * all-ones and writes are dropped, as on a PC; they are counted.
 * Both CPU engines dispatch guest I/O here.
 */
#ifndef BTVM_DEV_BUS_H
#define BTVM_DEV_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Handler: on read fill *data, on write consume *data. */
typedef void (*dev_io_fn)(void *opaque, uint64_t offset, unsigned size, bool is_write, uint64_t *data);

struct dev_bus;

struct dev_bus *dev_bus_new(void);
void dev_bus_free(struct dev_bus *bus);

/* 0 on success, -EEXIST if the range overlaps one already registered,
 * -EINVAL for an empty or wrapping range, -ENOMEM. */
int dev_bus_register_pio(struct dev_bus *bus, uint16_t base, uint32_t len, const char *name,
                         dev_io_fn fn, void *opaque);
int dev_bus_register_mmio(struct dev_bus *bus, uint64_t base, uint64_t len, const char *name,
                          dev_io_fn fn, void *opaque);
/* Remove the range registered at exactly base (e.g. a PCI BAR that moved or
 * whose decode was turned off). 0, or -ENOENT if no range starts there.
 * May be called from a device handler during dispatch (e.g. a PCI
 * configuration write), from the thread that dispatches. Moving a range is
 * unregister + register. */
int dev_bus_unregister_pio(struct dev_bus *bus, uint16_t base);
int dev_bus_unregister_mmio(struct dev_bus *bus, uint64_t base);

/* Port I/O of size 1, 2 or 4. Unclaimed reads give all-ones. */
void dev_bus_pio(struct dev_bus *bus, uint16_t port, unsigned size, bool is_write, uint32_t *data);

/* MMIO of size 1, 2, 4 or 8. Returns false if no device claims addr
 * (then reads gave all-ones and writes were dropped). */
bool dev_bus_mmio(struct dev_bus *bus, uint64_t addr, unsigned size, bool is_write, uint64_t *data);

/* True if some MMIO device claims this guest-physical page. */
bool dev_bus_mmio_page(struct dev_bus *bus, uint64_t page_addr);

struct dev_bus_stats {
    uint64_t pio, mmio, unclaimed_pio_reads, unclaimed_pio_writes,
             unclaimed_mmio_reads, unclaimed_mmio_writes;
};
void dev_bus_get_stats(const struct dev_bus *bus, struct dev_bus_stats *out);

/* Count accesses per port and direction from now on (--stats): 0 or
 * -ENOMEM. */
int dev_bus_count_ports(struct dev_bus *bus);
struct dev_bus_port_count {
    uint16_t port;
    bool write;
    uint32_t count;
    const char *name;   /* the claiming device's range, NULL: unclaimed */
};
/* The n most used (port, direction) pairs, most first; how many there are. */
size_t dev_bus_top_ports(const struct dev_bus *bus, struct dev_bus_port_count *out, size_t n);

#endif
