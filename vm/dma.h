/*
 * vm/dma.h — the machine's struct dev_dma (devices/dma.h) over guest RAM.
 */
#ifndef BTVM_VM_DMA_H
#define BTVM_VM_DMA_H

#include "devices/dma.h"
#include "vm/vm.h"

struct dev_dma vm_dma(struct vm *vm);

#endif
