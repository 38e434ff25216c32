/*
 * devices/ioapic.h — the I/O APIC (Intel 82093AA register interface, version
 * 0x20 as in ICH-era chipsets and QEMU: 24 pins and the EOI register).
 *
 * The I/O APIC turns its input pins into interrupt messages (devices/
 * apicbus.h) for the local APICs, and takes back the EOI of level-triggered
 * vectors. It knows nothing of CPUs: vm/ hands it a dev_apic_sink and calls
 * dev_ioapic_eoi() from the local APIC's EOI broadcast.
 */
#ifndef BTVM_DEV_IOAPIC_H
#define BTVM_DEV_IOAPIC_H

#include <stdint.h>
#include "devices/apicbus.h"
#include "devices/bus.h"
#include "devices/irq.h"

#define DEV_IOAPIC_BASE     0xfec00000u  /* default MMIO base (MADT, MP table) */
#define DEV_IOAPIC_SIZE     0x1000u      /* claimed window (one page) */
#define DEV_IOAPIC_PINS     24
#define DEV_IOAPIC_VERSION  0x00170020u  /* max redirection entry 23, version 0x20 */

/* MMIO offsets inside the window. */
#define DEV_IOAPIC_IOREGSEL 0x00
#define DEV_IOAPIC_IOWIN    0x10
#define DEV_IOAPIC_EOIR     0x40

/* Indirect registers (IOREGSEL values). */
#define DEV_IOAPIC_REG_ID   0x00
#define DEV_IOAPIC_REG_VER  0x01
#define DEV_IOAPIC_REG_ARB  0x02
#define DEV_IOAPIC_REG_REDTBL 0x10       /* entry n: low dword 0x10+2n, high 0x11+2n */

/* Redirection entry bits (low dword). */
#define DEV_IOAPIC_RTE_VECTOR    0x000000ffu
#define DEV_IOAPIC_RTE_DM_SHIFT  8
#define DEV_IOAPIC_RTE_DESTMODE  (1u << 11)  /* 1 = logical */
#define DEV_IOAPIC_RTE_DELIVS    (1u << 12)  /* read-only */
#define DEV_IOAPIC_RTE_POLARITY  (1u << 13)  /* 1 = active low */
#define DEV_IOAPIC_RTE_REMOTE_IRR (1u << 14) /* read-only */
#define DEV_IOAPIC_RTE_LEVEL     (1u << 15)  /* trigger mode: 1 = level */
#define DEV_IOAPIC_RTE_MASK      (1u << 16)

struct dev_ioapic;

/* Claims [base, base + DEV_IOAPIC_SIZE) on bus; messages go to sink.
 * NULL (with a message on stderr) if the range is taken or memory is out.
 * State at creation is the reset state: ID 0, every entry masked. */
struct dev_ioapic *dev_ioapic_new(struct dev_bus *bus, uint64_t base, struct dev_apic_sink sink);
void dev_ioapic_free(struct dev_ioapic *io);

struct dev_lock;
/* As dev_pic_use_lock: guard the state with lock (NULL: its own). */
void dev_ioapic_use_lock(struct dev_ioapic *io, struct dev_lock *lock);

/* The input line of pin 0..23 (level 1 = the wire is high; the entry's
 * polarity decides whether high means asserted). */
struct dev_irq_line dev_ioapic_line(struct dev_ioapic *io, int pin);

/* An EOI for vector from a local APIC: clears Remote IRR of the
 * level-triggered entries with that vector and sends again those whose pin
 * is still asserted and unmasked. Fits struct dev_apic_eoi. */
void dev_ioapic_eoi(struct dev_ioapic *io, uint8_t vector);

/* dev_ioapic_eoi as a struct dev_apic_eoi, to hand to the local APIC. */
struct dev_apic_eoi dev_ioapic_eoi_target(struct dev_ioapic *io);

/* Back to the reset state (ID 0, all entries masked, IOREGSEL 0); pin
 * levels are kept (they belong to the devices). */
void dev_ioapic_reset(struct dev_ioapic *io);

#endif
