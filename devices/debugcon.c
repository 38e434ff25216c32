/*
 * devices/debugcon.c — the Bochs/QEMU debug console (port 0xE9 on a PC):
 * each byte written goes to the chardev; a read returns 0xE9 so a guest can
 * probe for the port. A wider write sends its low byte only, as QEMU does.
 */
#include <errno.h>

#include "devices/debugcon.h"

static void debugcon_io(void *opaque, uint64_t offset, unsigned size, bool is_write,
                        uint64_t *data)
{
    const struct dev_chardev *chr = opaque;
    (void)offset;
    (void)size;
    if (is_write) {
        uint8_t b = (uint8_t)*data;
        if (chr->write)
            chr->write(chr->ctx, &b, 1);
    } else {
        *data = 0xE9;
    }
}

int dev_debugcon_init(struct dev_bus *bus, uint16_t port, const struct dev_chardev *chr)
{
    if (!chr)
        return -EINVAL;
    /* The chardev is the handler's opaque: it must outlive the bus. */
    return dev_bus_register_pio(bus, port, 1, "debugcon", debugcon_io, (void *)chr);
}
