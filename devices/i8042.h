/*
 * devices/i8042.h — a minimal i8042 keyboard controller (0x60/0x64):
 * status, self-test, command byte, pulse-reset (0xFE) and A20 via the
 * output port. No keyboard or mouse is attached.
 */
#ifndef BTVM_DEV_I8042_H
#define BTVM_DEV_I8042_H

#include "devices/bus.h"
#include "devices/irq.h"

struct dev_i8042;

/* reset(ctx) is called when the guest pulses the CPU reset line. */
struct dev_i8042 *dev_i8042_new(struct dev_bus *bus, void (*reset)(void *ctx), void *ctx,
                                struct dev_irq_line irq1, struct dev_irq_line irq12);
void dev_i8042_free(struct dev_i8042 *k);

/* Port 0x80 (POST codes): writes are accepted and ignored, reads give 0xFF...
 * 0 or -errno. */
int dev_port80_init(struct dev_bus *bus);

#endif
