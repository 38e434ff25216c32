/*
 * devices/irqroute.h — the interrupt wiring of QEMU's `pc` machine between
 * the devices and the two interrupt controllers.
 *
 * ISA IRQ n (0..15) goes to 8259A input n and to I/O APIC pin n, except
 * IRQ 0 (the PIT), which reaches I/O APIC pin 2: the interrupt source
 * override "bus IRQ 0 -> GSI 2" that the MADT and the MP table must carry.
 * IRQ 2 is the cascade: its line reaches neither controller. I/O APIC pin 0
 * is not connected (the 8259A's INTR is not wired to it).
 *
 * The PCI interrupt lines PIRQA-D follow the PIIX3 PIRQ route control
 * registers (PCI config 0x60-0x63 of the ISA bridge: bit 7 = routing
 * disabled, bits 0-3 = ISA IRQ; reset value 0x80): a routed PIRQ drives
 * ISA IRQ k, i.e. 8259A input k *and* I/O APIC pin k, as QEMU's `pc`
 * machine does (its PIIX3 drives its "GSI" k; the DSDT's LNKA-D link
 * devices then report IRQ k, level, active high). Route values naming IRQ
 * 0, 1, 2, 8 or 13 are reserved in the PIIX3 datasheet and route nowhere.
 * Independently of the route registers, PIRQA-D are also wired to I/O APIC
 * pins 16-19 (DEV_IRQROUTE_PIRQ_GSI), the usual board wiring for MP-table
 * guests; QEMU's `pc` machine leaves those pins unconnected (only its q35
 * machine, with the ICH9, wires PIRQs to GSI 16 and up), so a QEMU-like
 * DSDT simply never uses them.
 *
 * Sharing: every dev_irqroute_isa_line()/dev_irqroute_pirq_line() call
 * returns a line for a new source (call it once per device). The level a
 * controller sees is the OR of the levels of every source on that input,
 * PIRQs routed there included; controllers are told only of changes of
 * that OR. All lines are active high here: a level of 1 is "interrupt
 * requested" whatever the wire polarity on a real board, so tables must
 * describe PCI interrupts as active high (see docs/devices.md).
 *
 * Lines may be set from any thread. The controllers are called under this
 * module's lock, so an I/O APIC sink must not set one of these lines from
 * within its deliver callback.
 */
#ifndef BTVM_DEV_IRQROUTE_H
#define BTVM_DEV_IRQROUTE_H

#include <stdint.h>
#include "devices/ioapic.h"
#include "devices/irq.h"
#include "devices/pic8259.h"

#define DEV_IRQROUTE_PIRQS 4              /* PIRQA..PIRQD */
#define DEV_IRQROUTE_PIRQ_GSI(n) (16 + (n))
#define DEV_IRQROUTE_PIRQ_DISABLED 0x80   /* route register: bit 7 */

struct dev_irqroute;

/* pic and/or io may be NULL (a machine without an I/O APIC). The routing
 * hands its lock to both controllers (dev_pic_use_lock); free it before
 * them (it gives them their own locks back). */
struct dev_irqroute *dev_irqroute_new(struct dev_pic *pic, struct dev_ioapic *io);
void dev_irqroute_free(struct dev_irqroute *r);

/* A new source on ISA IRQ irq (0..15), for one ISA device. Up to 28
 * sources per IRQ; more share the last one (with a warning). */
struct dev_irq_line dev_irqroute_isa_line(struct dev_irqroute *r, int irq);

/* A new source on PIRQ n (0..3 = A..D), for one PCI device's INTx pin
 * (after the PCI swizzle, which is the PCI model's business). */
struct dev_irq_line dev_irqroute_pirq_line(struct dev_irqroute *r, int n);

/* The PIIX3 ISA bridge's config register 0x60 + n was written with value. */
void dev_irqroute_set_pirq(struct dev_irqroute *r, int n, uint8_t value);

/* The global system interrupt (I/O APIC pin) of ISA IRQ irq: 2 for IRQ 0,
 * -1 for IRQ 2 (cascade) and out-of-range IRQs, irq otherwise. */
int dev_irqroute_isa_gsi(int irq);

#endif
