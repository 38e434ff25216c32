/*
 * vm/mptable.h — the Intel MultiProcessor Specification 1.4 tables a PC BIOS
 * leaves for kernels that find the APICs without ACPI.
 */
#ifndef BTVM_VM_MPTABLE_H
#define BTVM_VM_MPTABLE_H

#include <stdint.h>

/* In the BIOS area after the ACPI tables (vm/acpi_tables.h): reserved in
 * every memory map btvm hands out, and inside 0xF0000-0xFFFFF where
 * kernels search for the floating pointer on 16-byte boundaries. */
#define VM_MP_BASE 0xF8000u
#define VM_MP_END  0xF9000u

/* Write the floating pointer and the configuration table (one CPU, its
 * local APIC, the ISA and PCI buses, the I/O APIC, the ISA interrupt
 * assignments). cpuid1 = CPUID leaf 1's EAX and EDX for the processor
 * entry. Returns the floating pointer's address, or 0 if RAM is too small. */
uint32_t vm_mptable_build(uint8_t *ram, uint64_t ram_size, uint32_t cpuid1_eax, uint32_t cpuid1_edx);

#endif
