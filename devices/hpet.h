/*
 * devices/hpet.h — the HPET (IA-PC HPET specification 1.0a) as QEMU's `pc`
 * machine has it: 1 KiB of MMIO at 0xFED00000, a 64-bit main counter at
 * 100 MHz, three timers (all periodic-capable, 64-bit, no FSB delivery) and
 * the legacy replacement route.
 *
 * Interrupt outputs: timer n in normal routing drives gsi[Tn_INT_ROUTE_CNF]
 * (an I/O APIC pin). With LEG_RT_CNF set, timer 0 drives legacy_irq0 and
 * timer 1 drives legacy_irq8 instead; the machine wires those to ISA IRQ 0
 * (PIC IRQ 0 and I/O APIC pin 2) and ISA IRQ 8 (PIC IRQ 8, pin 8), and
 * legacy_changed tells it to cut the PIT's and RTC's own outputs off.
 * dev_hpet_legacy_input() offers that gate ready-made.
 */
#ifndef BTVM_DEV_HPET_H
#define BTVM_DEV_HPET_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/irq.h"

#define DEV_HPET_BASE 0xFED00000u
#define DEV_HPET_LEN 0x400u
#define DEV_HPET_TIMERS 3
#define DEV_HPET_GSI_PINS 24
/* Tn_INT_ROUTE_CAP as QEMU's machines set it: pc (i440FX) allows I/O APIC
 * pin 2 only; q35 allows pins 2, 8 and 16-23. */
#define DEV_HPET_INTCAP_PC 0x00000004u
#define DEV_HPET_INTCAP_Q35 0x00ff0104u

struct dev_hpet;

struct dev_hpet_config {
    uint64_t base;                                  /* DEV_HPET_BASE */
    uint32_t intcap;                                /* bit n: I/O APIC pin n may be chosen */
    struct dev_irq_line gsi[DEV_HPET_GSI_PINS];     /* index = I/O APIC pin */
    struct dev_irq_line legacy_irq0, legacy_irq8;   /* legacy replacement route */
    /* Called when LEG_RT_CNF changes: on = the PIT's IRQ 0 and the RTC's
     * IRQ 8 must no longer reach the interrupt controllers. May be NULL. */
    void (*legacy_changed)(void *ctx, bool on);
    void *legacy_ctx;
};

/* Claims [base, base + 1 KiB) and registers one dev_timer in timers.
 * NULL on failure (message on stderr). */
struct dev_hpet *dev_hpet_new(struct dev_bus *bus, struct dev_timers *timers,
                              const struct dev_hpet_config *cfg);
void dev_hpet_free(struct dev_hpet *h);

/* Machine reset: counter halted at 0, timers as after power-on, legacy
 * route off (legacy_changed(ctx, false) if it was on). */
void dev_hpet_reset(struct dev_hpet *h);

/* A line to give the PIT (which = 0) or the RTC (which = 8) as their IRQ
 * output instead of the controller's: it forwards to legacy_irq0 / legacy_irq8
 * while the legacy route is off and is cut while it is on; when the route
 * goes off again, IRQ 8 gets the RTC's current level back (QEMU's
 * hpet_handle_legacy_irq). Using it is optional: legacy_changed is enough
 * for a machine that gates the lines itself. */
struct dev_irq_line dev_hpet_legacy_input(struct dev_hpet *h, int which);

bool dev_hpet_legacy_on(const struct dev_hpet *h);

#endif
