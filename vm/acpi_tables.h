/*
 * vm/acpi_tables.h — the ACPI 2.0 tables btvm's firmware would leave in
 * memory for an OS: RSDP, RSDT, XSDT, FADT, FACS, MADT, HPET and a DSDT
 * holding \_S5, the PCI host bridge and its interrupt routing (_PRT, link
 * devices LNKA-LNKD on the PIIX3 route registers, LNKS for the SCI).
 * docs/linux.md ("ACPI").
 */
#ifndef BTVM_VM_ACPI_TABLES_H
#define BTVM_VM_ACPI_TABLES_H

#include <stdbool.h>
#include <stdint.h>

/* The tables live in the BIOS area, which the e820 map (vm/linuxboot.c)
 * and the Multiboot map already report reserved; the RSDP is at its start,
 * where an OS scanning 0xE0000-0xFFFFF on 16-byte boundaries finds it. */
#define VM_ACPI_BASE 0xF0000u
#define VM_ACPI_END  0x100000u

/* Write the tables into guest RAM (which must reach VM_ACPI_END). Returns
 * the RSDP's guest-physical address, or 0 if RAM is too small. */
uint32_t vm_acpi_build(uint8_t *ram, uint64_t ram_size);

/* Where each table went (addresses), and the end of the last. */
struct vm_acpi_layout {
    uint32_t rsdp, facs, rsdt, xsdt, fadt, dsdt, madt, hpet, end;
};
/* The same tables built at area (VM_ACPI_END - VM_ACPI_BASE bytes) as if
 * it were at address base; base 0 gives offsets, for a loader that places
 * and relocates them (vm/firmware.c: QEMU's table loader). smi_cmd: the
 * FADT names the APM port (SMI_CMD, ACPI_ENABLE/DISABLE), for firmware
 * that starts the machine outside ACPI mode. */
void vm_acpi_build_at(uint8_t *area, uint32_t base, bool smi_cmd, struct vm_acpi_layout *l);

#endif
