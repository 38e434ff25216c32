/*
 * vm/fwcfg.c — what firmware and test kernels written for QEMU ask fw_cfg:
 * the RAM size (key 0x03), the CPU count (0x05, 1: one vcpu), that ISA
 * IRQ 0 is I/O APIC pin 2 (0x8002), and etc/e820 (vm/memmap.c; with
 * firmware, QEMU's single RAM entry). The firmware's own items are added by
 * vm/firmware.c.
 */
#include "vm/fwcfg.h"

#include <stdio.h>
#include <string.h>

#include "devices/fw_cfg.h"
#include "vm/dma.h"
#include "vm/machine.h"
#include "vm/memmap.h"

int vm_fw_cfg_setup(struct vm *vm, struct dev_fw_cfg **out)
{
    struct dev_dma dma = vm_dma(vm);
    struct dev_fw_cfg *fc = dev_fw_cfg_new(vm->bus, &dma);
    *out = fc;
    if (!fc) {
        fprintf(stderr, "btvm: cannot create the fw_cfg device\n");
        return VM_STATUS_HOST_ERROR;
    }
    struct vm_mem_range map[VM_MEMMAP_MAX];
    unsigned n = vm_memmap(vm->ram_size, map);
    if (vm->opt.firmware) {
        /* QEMU's etc/e820 for the BIOS: all RAM below 4 GiB in one entry;
         * SeaBIOS reserves its own areas (EBDA, 0xF0000) itself. */
        map[0] = (struct vm_mem_range){ 0, vm->ram_size, VM_MEM_RAM };
        n = 1;
    }
    struct dev_e820_entry e820[VM_MEMMAP_MAX];
    for (unsigned i = 0; i < n; i++)
        e820[i] = (struct dev_e820_entry){ map[i].base, map[i].end - map[i].base, map[i].type };
    if (dev_fw_cfg_add_i64(fc, DEV_FW_CFG_RAM_SIZE, vm->ram_size) ||
        dev_fw_cfg_add_i16(fc, DEV_FW_CFG_NB_CPUS, 1) ||
        dev_fw_cfg_add_i32(fc, DEV_FW_CFG_IRQ0_OVERRIDE, 1) ||
        dev_fw_cfg_add_e820(fc, e820, n)) {
        fprintf(stderr, "btvm: cannot fill the fw_cfg device\n");
        return VM_STATUS_HOST_ERROR;
    }
    return 0;
}
