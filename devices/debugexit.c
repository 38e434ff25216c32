/*
 * devices/debugexit.c — QEMU's isa-debug-exit: a guest write to the port
 * hands the written value (1, 2 or 4 bytes) to the machine's callback,
 * which stops the guest. Reads return all-ones, like an empty port.
 */
#include <errno.h>
#include <stdlib.h>

#include "devices/bus_own.h"
#include "devices/debugexit.h"

struct debugexit {
    dev_debugexit_fn fn;
    void *ctx;
};

static void debugexit_io(void *opaque, uint64_t offset, unsigned size, bool is_write,
                         uint64_t *data)
{
    struct debugexit *d = opaque;
    (void)offset;
    uint64_t mask = size >= 8 ? UINT64_MAX : (UINT64_C(1) << (size * 8)) - 1;
    if (is_write)
        d->fn(d->ctx, (uint32_t)(*data & mask));
    else
        *data = mask;
}

int dev_debugexit_init(struct dev_bus *bus, uint16_t port, dev_debugexit_fn fn, void *ctx)
{
    if (!fn)
        return -EINVAL;
    struct debugexit *d = malloc(sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->fn = fn;
    d->ctx = ctx;
    /* The bus owns d from here on, even if registration fails, so no
     * range can ever point at freed memory. */
    int err = dev_bus_own(bus, d);
    if (err) {
        free(d);
        return err;
    }
    return dev_bus_register_pio(bus, port, 1, "isa-debug-exit", debugexit_io, d);
}
