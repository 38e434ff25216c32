/*
 * devices/pit8254.h — the 8254 PIT (0x40-0x43) and port 0x61 (channel 2
 * gate, speaker data, channel 2 output, refresh toggle).
 */
#ifndef BTVM_DEV_PIT8254_H
#define BTVM_DEV_PIT8254_H

#include "devices/bus.h"
#include "devices/irq.h"

struct dev_pit;

/* Channel 0 drives irq0. Registers a dev_timer in timers. */
struct dev_pit *dev_pit_new(struct dev_bus *bus, struct dev_timers *timers, struct dev_irq_line irq0);
void dev_pit_free(struct dev_pit *p);

#endif
