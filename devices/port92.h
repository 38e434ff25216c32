/*
 * devices/port92.h — system control port A (port 0x92, "fast A20"), as the
 * PIIX3 and QEMU's port92 have it: bit 1 is ALT_A20 (the A20 gate, ORed on
 * the chipset with the keyboard controller's A20 output), bit 0 a fast
 * reset (a 0 -> 1 transition resets the CPU). docs/machine.md, "A20".
 */
#ifndef BTVM_DEV_PORT92_H
#define BTVM_DEV_PORT92_H

#include <stdbool.h>
#include <stdint.h>
#include "devices/bus.h"

#define DEV_PORT92 0x92u

struct dev_port92_ops {
    void (*a20)(void *ctx, bool on); /* bit 1 written (every write) */
    void (*reset)(void *ctx);        /* bit 0 went from 0 to 1 */
    void *ctx;
};

/* 0 or -errno; the bus owns the device. */
int dev_port92_init(struct dev_bus *bus, const struct dev_port92_ops *ops);

#endif
