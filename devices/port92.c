/*
 * devices/port92.c — system control port A (see port92.h). The register
 * reads back as written except bit 0, which a reset clears (it is only
 * ever seen set between the write and the reset it causes).
 */
#include <errno.h>
#include <stdlib.h>

#include "devices/bus_own.h"
#include "devices/port92.h"

#define P92_RESET 0x01u
#define P92_A20   0x02u

struct port92 {
    struct dev_port92_ops ops;
    uint8_t value;
};

static void port92_io(void *opaque, uint64_t offset, unsigned size, bool is_write,
                      uint64_t *data)
{
    struct port92 *p = opaque;
    (void)offset;
    (void)size; /* one byte wide: the bus splits wider accesses */
    if (!is_write) {
        *data = p->value;
        return;
    }
    uint8_t old = p->value, v = (uint8_t)*data;
    p->value = v;
    if (p->ops.a20)
        p->ops.a20(p->ops.ctx, (v & P92_A20) != 0);
    if ((v & P92_RESET) && !(old & P92_RESET) && p->ops.reset)
        p->ops.reset(p->ops.ctx);
}

int dev_port92_init(struct dev_bus *bus, const struct dev_port92_ops *ops)
{
    struct port92 *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    if (ops)
        p->ops = *ops;
    int err = dev_bus_own(bus, p);
    if (err) {
        free(p);
        return err;
    }
    return dev_bus_register_pio(bus, DEV_PORT92, 1, "port92", port92_io, p);
}
