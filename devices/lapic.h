/*
 * devices/lapic.h — the local APIC of the one CPU (xAPIC, Intel SDM vol. 3
 * ch. 10): its 4 KiB register window (0xFEE00000, moved through
 * IA32_APIC_BASE), IRR/ISR/TMR with priority classes, TPR/PPR, EOI (with
 * the broadcast for level-triggered vectors), the LVT, ESR, the self-IPIs
 * of the ICR, and the timer (one-shot, periodic, TSC-deadline). The 8259A
 * reaches the CPU through it: LINT0 programmed as ExtINT, or the whole APIC
 * globally disabled, passes the PIC's INTR/INTA through.
 *
 * The model knows no CPU: the engine asks dev_lapic_pending()/_ack() at
 * instruction boundaries, as it asks the PIC today, and routes RDMSR/WRMSR
 * of IA32_APIC_BASE (0x1B) and IA32_TSC_DEADLINE (0x6E0) here.
 *
 * Threading: dev_lapic_deliver() (the I/O APIC, raised by a device line
 * from any thread — the console thread drives the UART's IRQ) and
 * dev_lapic_extint_changed() (the PIC's notify) may run on any thread at
 * any time; they touch only atomic state. Everything else — MMIO, the
 * timer (dev_timers_run), pending/ack, MSRs, reset — runs on the vcpu
 * thread, one call at a time.
 */
#ifndef BTVM_DEV_LAPIC_H
#define BTVM_DEV_LAPIC_H

#include <stdbool.h>
#include <stdint.h>
#include "devices/apicbus.h"
#include "devices/bus.h"
#include "devices/irq.h"

#define DEV_LAPIC_DEFAULT_BASE  0xFEE00000u
#define DEV_LAPIC_VERSION       0x00050014u   /* version 0x14, max LVT entry 5 */
/* IA32_APIC_BASE bits. */
#define DEV_LAPIC_BASE_BSP      (1u << 8)
#define DEV_LAPIC_BASE_ENABLE   (1u << 11)
/* The timer's input: a 1 GHz bus clock (as QEMU and KVM), before the divider. */
#define DEV_LAPIC_BUS_HZ        1000000000u
/* Periodic timer interrupts come at most this often (the count registers
 * stay exact): a guest programming a 1-tick period must not make the run
 * loop spin. KVM bounds it likewise (200 us). */
#define DEV_LAPIC_MIN_PERIOD_NS 50000u
/* What dev_lapic_pending() returns for the PIC's request through LINT0. */
#define DEV_LAPIC_PENDING_EXTINT 0x100

/* The 8259A as seen from LINT0: its INTR level and its INTA cycle. */
struct dev_lapic_extint {
    bool (*intr)(void *ctx);
    int (*ack)(void *ctx);
    void *ctx;
};

struct dev_lapic_config {
    struct dev_bus *bus;            /* the MMIO window goes here (NULL: none) */
    struct dev_timers *timers;      /* the timer's dev_timer is added here */
    struct dev_lapic_extint extint; /* optional (intr NULL: nothing on LINT0) */
    struct dev_apic_eoi eoi;        /* optional: EOI of level-triggered vectors */
    /* Guest TSC for TSC-deadline mode; tsc_now NULL or neither tsc_hz nor
     * tsc_hz_fn = no TSC-deadline mode (LVT timer bit 18 then stays 0).
     * tsc_hz_fn is asked once, the first time a deadline is armed (the
     * host's rate may take a calibration to learn). */
    uint64_t (*tsc_now)(void *ctx);
    void *tsc_ctx;
    uint64_t tsc_hz;
    uint64_t (*tsc_hz_fn)(void);
    uint8_t apic_id;                /* 0 for the BSP */
    bool bsp;
};

struct dev_lapic;

/* Power-on state (all LVTs masked, software-disabled, window at the default
 * base and registered). NULL on allocation failure. */
struct dev_lapic *dev_lapic_new(const struct dev_lapic_config *cfg);
/* Unregisters the window and the timer; the bus and timers must still exist. */
void dev_lapic_free(struct dev_lapic *l);

/* RESET. virtual_wire: leave it as firmware does before booting a kernel
 * (SeaBIOS): software-enabled, spurious vector 0xFF, LINT0 = ExtINT
 * (0x8700), LINT1 = NMI (0x8400), so the PIC works through the APIC. */
void dev_lapic_reset(struct dev_lapic *l, bool virtual_wire);

/* IA32_APIC_BASE. set: <0 (-EINVAL) for reserved bits (the caller raises
 * #GP), 0 if the window did not change, 1 if it moved, appeared or
 * vanished (the caller drops cached mappings of the old and new page).
 * Clearing the enable bit returns the APIC to its power-on state. */
int dev_lapic_set_base(struct dev_lapic *l, uint64_t msr);
uint64_t dev_lapic_get_base(const struct dev_lapic *l);
/* Where the register window is now; false if it is absent (globally
 * disabled, no bus, or the new base collided with another device). */
bool dev_lapic_window(const struct dev_lapic *l, uint64_t *base);

/* IA32_TSC_DEADLINE: used only in TSC-deadline timer mode (other modes:
 * writes ignored, reads 0). A past deadline fires at once; 0 disarms. */
void dev_lapic_set_tsc_deadline(struct dev_lapic *l, uint64_t tsc);
uint64_t dev_lapic_get_tsc_deadline(const struct dev_lapic *l);

/* Register access by offset (0x000..0x3F0, 16-byte aligned), no bus: what
 * the MMIO window calls, and what an engine may call directly on its fast
 * path (ID read, TPR and EOI writes cost no lock and no allocation). */
uint32_t dev_lapic_read(struct dev_lapic *l, uint32_t offset);
void dev_lapic_write(struct dev_lapic *l, uint32_t offset, uint32_t value);
/* Direct forms of the hottest writes. */
void dev_lapic_eoi(struct dev_lapic *l);
void dev_lapic_set_tpr(struct dev_lapic *l, uint8_t tpr);
uint8_t dev_lapic_get_tpr(const struct dev_lapic *l);

/* An interrupt message for this APIC (from the I/O APIC; fits
 * struct dev_apic_sink through dev_lapic_sink()). Any thread. */
void dev_lapic_deliver(struct dev_lapic *l, const struct dev_apic_msg *m);
struct dev_apic_sink dev_lapic_sink(struct dev_lapic *l);
/* True if a message with this destination is for this APIC. */
bool dev_lapic_match_dest(const struct dev_lapic *l, uint8_t dest, bool logical);
/* The PIC's INTR may have changed (connect the PIC's notify here). Any thread. */
void dev_lapic_extint_changed(struct dev_lapic *l);
/* Where EOIs of level-triggered vectors go (if not given at creation). */
void dev_lapic_set_eoi(struct dev_lapic *l, const struct dev_apic_eoi *eoi);

/* The CPU side (vcpu thread). pending: the interrupt the CPU would take if
 * IF=1 — an APIC vector (0..255) whose class beats the PPR,
 * DEV_LAPIC_PENDING_EXTINT for the PIC's request through LINT0, or -1.
 * It also refreshes the intr byte. ack: the INTA cycle; returns the vector
 * and moves it from IRR to ISR, or the PIC's vector, or the spurious
 * vector if the request went away. */
int dev_lapic_pending(struct dev_lapic *l);
int dev_lapic_ack(struct dev_lapic *l);
/* Both at once (vcpu thread): the vector taken, or -1 when nothing is
 * deliverable; one priority computation instead of two. */
int dev_lapic_take(struct dev_lapic *l);
/* NMI requested (ICR, an NMI message, LINT1): pending reads it, take
 * clears it and says whether there was one. */
bool dev_lapic_nmi_pending(const struct dev_lapic *l);
bool dev_lapic_take_nmi(struct dev_lapic *l);

/* A byte emitted code may test: 1 when dev_lapic_pending() >= 0 or an NMI
 * is pending, as of the last state change. Other threads only ever set it
 * (a "maybe"); the vcpu thread lowers it when it recomputes. */
const volatile uint8_t *dev_lapic_intr_byte(const struct dev_lapic *l);

/*
 * The register page: 4 KiB holding every register at its offset (in the
 * first dword of its 16-byte slot, zeros after it), kept current after
 * each change, so an engine can serve guest reads of the window from it
 * (as VMX's APIC-access page) without calling the model. IRR/TMR words may
 * lag a delivery from another thread by an instant — a CPU's read races
 * the delivery the same way. Only while dev_lapic_direct() says so: then
 * no readable register changes without the model changing the page
 * (TMCCT does while the timer counts, so not then).
 */
const void *dev_lapic_regs_page(const struct dev_lapic *l);
/* The 16-byte slots a read may be served from the page for (readable[g]
 * != 0 for the slot at g * 16): the implemented registers. Reads of the
 * others log ESR bit 7 and must reach the model. writable: the slots an
 * engine may hand a dword store to dev_lapic_write() for directly, from
 * inside guest code (TPR and EOI: they change no timer and no mapping,
 * and at most call the notify callback). */
void dev_lapic_readable(uint8_t readable[256], uint8_t writable[256]);
/* Whether reads may be served from the page now, and the window's base. */
bool dev_lapic_direct(const struct dev_lapic *l, uint64_t *base);
/* Called (vcpu thread) when dev_lapic_direct's answer changes. */
void dev_lapic_set_direct_notify(struct dev_lapic *l, void (*fn)(void *ctx), void *ctx);

/* Called (from any thread) when an interrupt or NMI may have become
 * deliverable, so the engine leaves translated code or wakes from HLT. */
void dev_lapic_set_notify(struct dev_lapic *l, void (*fn)(void *ctx), void *ctx);

#endif
