/*
 * vm/fwcfg.h — fills QEMU's firmware configuration device (devices/fw_cfg.c)
 * with what this machine is: RAM size, CPU count, the e820 map.
 */
#ifndef BTVM_VM_FWCFG_H
#define BTVM_VM_FWCFG_H

#include "vm/vm.h"

struct dev_fw_cfg;

/* Create it on vm->bus with DMA over guest RAM; 0 or the exit status to
 * end with (message printed). */
int vm_fw_cfg_setup(struct vm *vm, struct dev_fw_cfg **out);

#endif
