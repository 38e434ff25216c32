/*
 * devices/pic8259.h — the PC's cascaded 8259A pair (master 0x20/0x21,
 * slave 0xA0/0xA1 on master IR2, ELCR at 0x4D0/0x4D1).
 */
#ifndef BTVM_DEV_PIC8259_H
#define BTVM_DEV_PIC8259_H

#include <stdbool.h>
#include <stdint.h>
#include "devices/bus.h"
#include "devices/irq.h"

struct dev_pic;

struct dev_pic *dev_pic_new(struct dev_bus *bus);
void dev_pic_free(struct dev_pic *p);

/* The line for ISA IRQ n (0..15), to hand to a device. */
struct dev_irq_line dev_pic_line(struct dev_pic *p, int irq);

/* INTR: an unmasked request is waiting for the CPU. */
bool dev_pic_intr(const struct dev_pic *p);
/* The INTR level as a byte emitted code may read directly (0 or 1). */
const volatile uint8_t *dev_pic_intr_byte(const struct dev_pic *p);

/* INTA: the CPU takes the interrupt; returns the vector (spurious IRQ 7/15
 * vectors when the request went away). Call only when dev_pic_intr(). */
int dev_pic_ack(struct dev_pic *p);

struct dev_lock;
/* Guard the PIC's state with lock (recursive, devices/lock.h) instead of its
 * own: the interrupt routing shares its lock so a line change locks once.
 * NULL: its own again. Before the machine runs. */
void dev_pic_use_lock(struct dev_pic *p, struct dev_lock *lock);

/* Called (from any thread) whenever INTR may have gone high, so the engine
 * can leave translated code / wake from HLT. */
void dev_pic_set_notify(struct dev_pic *p, void (*fn)(void *ctx), void *ctx);

#endif
