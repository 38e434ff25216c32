/*
 * vm/memmap.h — the machine's physical memory map as every boot path
 * reports it (Linux's e820 in the zero page, QEMU's fw_cfg etc/e820): RAM
 * below the EBDA, the EBDA, the BIOS area holding the ACPI and MP tables,
 * and RAM from 1 MiB up. Devices sit above RAM (below 4 GiB) and are not
 * listed, as on a PC.
 */
#ifndef BTVM_VM_MEMMAP_H
#define BTVM_VM_MEMMAP_H

#include <stdint.h>

enum vm_mem_type { VM_MEM_RAM = 1, VM_MEM_RESERVED = 2 }; /* e820 type numbers */
struct vm_mem_range {
    uint64_t base, end;
    uint32_t type;
};
#define VM_MEMMAP_MAX 4

/* Fill out[] for ram_size bytes of RAM; returns the number of ranges. */
unsigned vm_memmap(uint64_t ram_size, struct vm_mem_range out[VM_MEMMAP_MAX]);

#endif
