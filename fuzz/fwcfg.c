/*
 * fuzz/fwcfg.c — fw_cfg's selector, data port and DMA descriptors
 * (devices/fw_cfg.c) on a device set up by the machine's own code
 * (vm/fwcfg.c: RAM size, CPUs, etc/e820) with DMA over guest RAM through
 * vm/dma.c, plus items and files of the sizes firmware adds (empty, one
 * byte, larger than a page). The input is played as a guest (fuzz/fz.h).
 */
#include <stdlib.h>
#include <string.h>

#include "devices/fw_cfg.h"
#include "fuzz/fz.h"
#include "vm/fwcfg.h"
#include "vm/vm.h"

#define RAM_SIZE (2u << 20)

static struct fz_ram ram;
static struct vm *vm;
static uint8_t big[70000];

static const struct fz_pio_range pio[] = { { DEV_FW_CFG_PORT_SEL, 2 }, { DEV_FW_CFG_PORT_DMA, 8 } };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ram.mem) {
        fz_ram_init(&ram, RAM_SIZE);
        vm = calloc(1, sizeof(*vm));
        if (!vm)
            fz_bug("no memory");
        for (size_t i = 0; i < sizeof(big); i++)
            big[i] = (uint8_t)(i * 13 + i / 4096);
    }
    fz_ram_clear(&ram);
    struct fz_in in = { data, size };
    memset(vm, 0, sizeof(*vm));
    vm->ram = ram.mem;
    vm->ram_size = ram.size;
    vm->opt.firmware = fz_u8(&in) & 1;   /* the e820 a BIOS is given, or btvm's own */
    vm->bus = dev_bus_new();
    if (!vm->bus)
        fz_bug("no bus");
    struct dev_fw_cfg *fc;
    if (vm_fw_cfg_setup(vm, &fc))
        fz_bug("vm_fw_cfg_setup failed");
    if (dev_fw_cfg_add_string(fc, DEV_FW_CFG_KERNEL_CMDLINE, "console=ttyS0") ||
        dev_fw_cfg_add_bytes(fc, DEV_FW_CFG_SETUP_DATA, big, 0) ||
        dev_fw_cfg_add_file(fc, "bootorder", "/pci@i0cf8/ide@1,1/drive@0/disk@0\n", 35) ||
        dev_fw_cfg_add_file(fc, "etc/big", big, sizeof(big)) ||
        dev_fw_cfg_add_file(fc, "etc/empty", big, 0) ||
        dev_fw_cfg_add_file(fc, "genroms/one", big, 1))
        fz_bug("cannot fill fw_cfg");

    struct fz_guest g = { .bus = vm->bus, .ram = &ram, .pio = pio,
                          .npio = sizeof(pio) / sizeof(pio[0]) };
    fz_guest_play(&g, &in, 4096);

    dev_fw_cfg_free(fc);
    dev_bus_free(vm->bus);
    return 0;
}
