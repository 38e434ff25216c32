/*
 * devices/imcr.c — the IMCR at ports 0x22/0x23 (see imcr.h).
 *
 * Port 0x22 (index) is write-only: reads give 0xFF. Port 0x23 reads the
 * IMCR (0x00 or 0x01) while the index is 0x70, 0xFF otherwise, and writes
 * with another index are ignored: these ports also select Cyrix CPU
 * configuration registers, and a guest probing for those must see nothing,
 * as on a machine without an IMCR (QEMU has none at all). Bits 1-7 of the
 * IMCR read 0. Wider accesses are split into bytes to consecutive ports.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/imcr.h"

struct dev_imcr {
    uint8_t index;
    atomic_bool apic_mode;
    void (*notify)(void *ctx, bool apic_mode);
    void *ctx;
};

bool dev_imcr_apic_mode(const struct dev_imcr *m)
{
    return atomic_load(&m->apic_mode);
}

static uint8_t imcr_byte(struct dev_imcr *m, unsigned port, bool wr, uint8_t v)
{
    if (port == 0) {
        if (wr)
            m->index = v;
        return 0xff;
    }
    if (port != 1 || m->index != DEV_IMCR_INDEX)
        return 0xff;
    if (!wr)
        return atomic_load(&m->apic_mode) ? 1 : 0;
    bool on = v & 1;
    if (atomic_exchange(&m->apic_mode, on) != on && m->notify)
        m->notify(m->ctx, on);
    return 0xff;
}

static void imcr_io(void *opaque, uint64_t off, unsigned size, bool wr, uint64_t *data)
{
    uint64_t out = 0;
    for (unsigned i = 0; i < size; i++) {
        uint8_t b = imcr_byte(opaque, (unsigned)(off + i), wr, (uint8_t)(*data >> (8 * i)));
        out |= (uint64_t)b << (8 * i);
    }
    if (!wr)
        *data = out;
}

struct dev_imcr *dev_imcr_new(struct dev_bus *bus, void (*notify)(void *ctx, bool apic_mode),
                              void *ctx)
{
    struct dev_imcr *m = calloc(1, sizeof(*m));
    if (!m) {
        fprintf(stderr, "btvm: imcr: out of memory\n");
        return NULL;
    }
    atomic_init(&m->apic_mode, false);
    m->notify = notify;
    m->ctx = ctx;
    int err = dev_bus_register_pio(bus, DEV_IMCR_PORT_INDEX, 2, "imcr", imcr_io, m);
    if (err) {
        fprintf(stderr, "btvm: imcr: cannot claim ports 0x22-0x23: %s\n", strerror(-err));
        free(m);
        return NULL;
    }
    return m;
}

void dev_imcr_free(struct dev_imcr *m)
{
    free(m);
}
