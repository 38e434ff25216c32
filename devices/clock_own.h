/*
 * devices/clock_own.h — devices-internal additions to devices/irq.h:
 * unlinking a timer when its device is freed, and a fake clock for unit
 * tests (the PIT and RTC read time only through dev_clock_ns()).
 */
#ifndef BTVM_DEV_CLOCK_OWN_H
#define BTVM_DEV_CLOCK_OWN_H

#include <stdint.h>
#include "devices/irq.h"

/* Unlink t from ts if it is there (a device's _free calls this). */
void dev_timers_remove(struct dev_timers *ts, struct dev_timer *t);

/* Tests only: dev_clock_ns() returns fn() while fn is set; NULL restores
 * CLOCK_MONOTONIC. Not thread-safe; set it before devices run. */
void dev_clock_set_fake(uint64_t (*fn)(void));

#endif
