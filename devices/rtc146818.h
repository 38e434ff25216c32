/*
 * devices/rtc146818.h — MC146818 CMOS RTC at 0x70/0x71 (IRQ 8).
 */
#ifndef BTVM_DEV_RTC146818_H
#define BTVM_DEV_RTC146818_H

#include <stdint.h>
#include "devices/bus.h"
#include "devices/irq.h"

struct dev_rtc;

/* mem_bytes: guest RAM size, reported in the CMOS memory-size bytes. */
struct dev_rtc *dev_rtc_new(struct dev_bus *bus, struct dev_timers *timers, struct dev_irq_line irq8,
                            uint64_t mem_bytes);
void dev_rtc_free(struct dev_rtc *r);

#endif
