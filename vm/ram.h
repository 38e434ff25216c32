/*
 * vm/ram.h — guest RAM: one memfd mapped shared, so every engine (and a
 * KVM memslot) sees the same bytes; vm->ram is the CPU's view of the whole
 * 4 GiB guest-physical space, vm->dram RAM alone (vm/ram.c).
 */
#ifndef BTVM_VM_RAM_H
#define BTVM_VM_RAM_H

#include <stddef.h>
#include <stdint.h>
#include "vm/vm.h"

/* The guest-physical space vm->ram reserves: 4 GiB (no PAE above it). */
#define VM_PHYS_SPACE (1ull << 32)

/* Create vm->ram_fd/ram/dram/ram_size for size bytes. 0 or -errno; on failure
 * err holds one line. */
int vm_ram_create(struct vm *vm, uint64_t size, char *err, size_t errlen);
/* Unmap and close; safe on a vm whose RAM was never created. */
void vm_ram_destroy(struct vm *vm);

#endif
