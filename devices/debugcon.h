/*
 * devices/debugcon.h — Bochs/QEMU debug console: bytes written to the port
 * go to the character device; reads return 0xE9 (the port's signature).
 */
#ifndef BTVM_DEV_DEBUGCON_H
#define BTVM_DEV_DEBUGCON_H

#include <stdint.h>
#include "devices/bus.h"
#include "devices/chardev.h"

/* 0 or -errno. The chardev must outlive the bus. */
int dev_debugcon_init(struct dev_bus *bus, uint16_t port, const struct dev_chardev *chr);

#endif
