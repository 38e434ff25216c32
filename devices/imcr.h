/*
 * devices/imcr.h — the IMCR (Interrupt Mode Configuration Register, MP
 * specification 1.4, 3.6.2.1): port 0x22 takes the register index, port
 * 0x23 the data; register 0x70 bit 0 = 1 sends the 8259A's INTR and NMI to
 * the local APIC ("symmetric I/O mode"), 0 connects them straight to the
 * CPU ("PIC mode", the reset state).
 *
 * With the local APIC's LINT0 programmed as ExtINT the 8259A reaches the
 * CPU through the local APIC in either state (virtual wire mode), which is
 * how ACPI and MP "virtual wire" guests run; the IMCR matters only to
 * guests whose MP table sets the IMCRP bit ("PIC mode"), which write 1
 * before they enable the APIC. The machine decides what the state changes.
 */
#ifndef BTVM_DEV_IMCR_H
#define BTVM_DEV_IMCR_H

#include <stdbool.h>
#include "devices/bus.h"

#define DEV_IMCR_PORT_INDEX 0x22
#define DEV_IMCR_PORT_DATA  0x23
#define DEV_IMCR_INDEX      0x70

struct dev_imcr;

/* Claims ports 0x22-0x23. notify (may be NULL) is called with the new
 * mode whenever a write changes bit 0 of register 0x70. */
struct dev_imcr *dev_imcr_new(struct dev_bus *bus, void (*notify)(void *ctx, bool apic_mode),
                              void *ctx);
void dev_imcr_free(struct dev_imcr *m);

/* True in symmetric I/O mode (INTR/NMI through the local APIC). */
bool dev_imcr_apic_mode(const struct dev_imcr *m);

#endif
