/*
 * devices/apicbus.h — the messages between interrupt controllers: what an
 * I/O APIC (or an MSI, later) sends to the local APICs, and the EOI the
 * local APIC broadcasts back for level-triggered interrupts. The I/O APIC
 * and the local APIC each know only these types, not each other; vm/
 * connects them.
 */
#ifndef BTVM_DEV_APICBUS_H
#define BTVM_DEV_APICBUS_H

#include <stdbool.h>
#include <stdint.h>

/* Delivery modes (SDM vol. 3, 10.6.1 ICR and 10.12 redirection entries). */
enum dev_apic_dm {
    DEV_APIC_DM_FIXED = 0,
    DEV_APIC_DM_LOWEST = 1,
    DEV_APIC_DM_SMI = 2,
    DEV_APIC_DM_NMI = 4,
    DEV_APIC_DM_INIT = 5,
    DEV_APIC_DM_STARTUP = 6,
    DEV_APIC_DM_EXTINT = 7,
};

/* One interrupt message on the APIC bus. */
struct dev_apic_msg {
    uint8_t vector;
    uint8_t mode;        /* enum dev_apic_dm */
    uint8_t dest;        /* APIC ID (physical) or logical mask */
    bool dest_logical;
    bool level;          /* level-triggered: the target sets TMR and broadcasts EOI */
};

/* Where an interrupt source sends its messages (the local APICs). */
struct dev_apic_sink {
    void (*deliver)(void *ctx, const struct dev_apic_msg *m);
    void *ctx;
};

/* Where a local APIC sends the EOI of a level-triggered vector (the I/O
 * APICs, which clear Remote IRR of the entries with that vector). */
struct dev_apic_eoi {
    void (*eoi)(void *ctx, uint8_t vector);
    void *ctx;
};

#endif
