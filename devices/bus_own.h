/*
 * devices/bus_own.h — devices-internal: hand a heap block to the bus so it is
 * freed with the bus. For devices whose public API has only an _init (no
 * _free), e.g. debug-exit, whose state must live as long as its handler.
 */
#ifndef BTVM_DEV_BUS_OWN_H
#define BTVM_DEV_BUS_OWN_H

#include "devices/bus.h"

/* free(ptr) in dev_bus_free(). 0 or -ENOMEM (ptr is then not adopted). */
int dev_bus_own(struct dev_bus *bus, void *ptr);

#endif
