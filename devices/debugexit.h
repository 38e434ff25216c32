/*
 * devices/debugexit.h — QEMU's isa-debug-exit: a guest write of v to the
 * port stops the machine; the caller maps v to btvm's exit status.
 */
#ifndef BTVM_DEV_DEBUGEXIT_H
#define BTVM_DEV_DEBUGEXIT_H

#include <stdint.h>
#include "devices/bus.h"

typedef void (*dev_debugexit_fn)(void *ctx, uint32_t value);

/* 0 or -errno. */
int dev_debugexit_init(struct dev_bus *bus, uint16_t port, dev_debugexit_fn fn, void *ctx);

#endif
