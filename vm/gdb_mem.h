/*
 * vm/gdb_mem.h — guest memory as a debugger sees it: by linear address,
 * through the guest's page tables as they are now, without permission
 * checks and without touching accessed/dirty bits (a debugger must not
 * change what the guest sees). docs/gdb.md.
 */
#ifndef BTVM_VM_GDB_MEM_H
#define BTVM_VM_GDB_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "vm/vm.h"

/* Guest-physical address of linear lin under c's paging registers; false
 * when a page-table entry on the way is not present (or reserved bits make
 * it invalid). Paging off: the identity. */
bool vm_gdb_lin2phys(const struct cpu *c, const uint8_t *ram, uint64_t ram_size, uint32_t lin,
                     uint64_t *phys);

/* Read or write len bytes at linear lin (vcpu parked); 0, or -EFAULT when
 * a page is unmapped, not RAM, or claimed by a device. A write drops what the engine translated
 * from those bytes (engine->ram_written, the DMA path). */
int vm_gdb_mem_read(struct vm *vm, uint32_t lin, void *buf, size_t len);
int vm_gdb_mem_write(struct vm *vm, uint32_t lin, const void *buf, size_t len);

#endif
