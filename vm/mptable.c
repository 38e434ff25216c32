/*
 * vm/mptable.c — MP floating pointer + configuration table (Intel MP spec
 * 1.4, chapter 4), as SeaBIOS builds them for QEMU's pc machine: processor
 * 0 (the BSP, APIC ID 0), bus 0 PCI and bus 1 ISA, I/O APIC 0 at
 * 0xFEC00000, ISA IRQ n on I/O APIC pin n except IRQ 0 on pin 2 (as the
 * MADT's override says) and IRQ 2 (the cascade) nowhere, IRQ 9 (the ACPI
 * SCI) level-triggered, and the local interrupts: ExtINT on LINT0 (the
 * virtual wire the local APIC starts in), NMI on LINT1. Feature byte 2 bit
 * 7 is clear: the machine starts in virtual-wire mode, not PIC mode.
 */
#include "vm/mptable.h"

#include <string.h>

#include "devices/acpi_pm.h"
#include "devices/ioapic.h"
#include "devices/lapic.h"

static void w16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void w32(uint8_t *p, uint32_t v) { w16(p, (uint16_t)v); w16(p + 2, (uint16_t)(v >> 16)); }

static uint8_t checksum(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    for (size_t i = 0; i < n; i++)
        s = (uint8_t)(s + p[i]);
    return (uint8_t)-s;
}

enum { BUS_PCI = 0, BUS_ISA = 1, IOAPIC_ID = 0 };

/* I/O interrupt (type 3) or local interrupt (type 4) assignment entry. */
static uint8_t *intr_entry(uint8_t *e, uint8_t type, uint8_t itype, uint16_t flags, uint8_t bus,
                           uint8_t irq, uint8_t dest, uint8_t pin)
{
    e[0] = type; e[1] = itype;
    w16(e + 2, flags);
    e[4] = bus; e[5] = irq; e[6] = dest; e[7] = pin;
    return e + 8;
}

uint32_t vm_mptable_build(uint8_t *ram, uint64_t ram_size, uint32_t cpuid1_eax, uint32_t cpuid1_edx)
{
    if (ram_size < VM_MP_END)
        return 0;
    uint8_t *fp = ram + VM_MP_BASE;
    uint32_t cfg_addr = VM_MP_BASE + 16;
    uint8_t *c = ram + cfg_addr;
    memset(fp, 0, VM_MP_END - VM_MP_BASE);

    uint8_t *e = c + 44;
    uint16_t count = 0;
    /* Processor: enabled, bootstrap. */
    e[0] = 0; e[1] = 0; e[2] = DEV_LAPIC_VERSION & 0xFF; e[3] = 3;
    w32(e + 4, cpuid1_eax & 0xFFF);
    w32(e + 8, cpuid1_edx);
    e += 20; count++;
    /* Buses. */
    e[0] = 1; e[1] = BUS_PCI; memcpy(e + 2, "PCI   ", 6); e += 8; count++;
    e[0] = 1; e[1] = BUS_ISA; memcpy(e + 2, "ISA   ", 6); e += 8; count++;
    /* The I/O APIC, enabled. */
    e[0] = 2; e[1] = IOAPIC_ID; e[2] = DEV_IOAPIC_VERSION & 0xFF; e[3] = 1;
    w32(e + 4, DEV_IOAPIC_BASE);
    e += 8; count++;
    /* ISA IRQs: conforming (edge, active high) but the SCI, level/high. */
    for (unsigned irq = 0; irq < 16; irq++) {
        if (irq == 2)
            continue;
        uint16_t flags = irq == DEV_ACPI_SCI_IRQ ? 0x000D : 0;
        e = intr_entry(e, 3, 0, flags, BUS_ISA, (uint8_t)irq, IOAPIC_ID, irq == 0 ? 2 : (uint8_t)irq);
        count++;
    }
    /* Local interrupts of every local APIC (0xFF): ExtINT on LINT0, NMI on LINT1. */
    e = intr_entry(e, 4, 3, 0, BUS_ISA, 0, 0xFF, 0); count++;
    e = intr_entry(e, 4, 1, 0, BUS_ISA, 0, 0xFF, 1); count++;

    uint16_t len = (uint16_t)(e - c);
    memcpy(c, "PCMP", 4);
    w16(c + 4, len);
    c[6] = 4;                                   /* spec revision 1.4 */
    memcpy(c + 8, "BTVM    ", 8);
    memcpy(c + 16, "PC          ", 12);
    w16(c + 34, count);
    w32(c + 36, DEV_LAPIC_DEFAULT_BASE);
    c[7] = checksum(c, len);

    memcpy(fp, "_MP_", 4);
    w32(fp + 4, cfg_addr);
    fp[8] = 1;                                  /* length in 16-byte units */
    fp[9] = 4;
    fp[11] = 0;                                 /* feature 1: a table is present */
    fp[12] = 0;                                 /* feature 2: virtual-wire mode */
    fp[10] = checksum(fp, 16);
    return VM_MP_BASE;
}
