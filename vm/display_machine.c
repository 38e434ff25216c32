/*
 * vm/display_machine.c — the VGA and the display as parts of the machine:
 * the standard VGA at PCI 00:02.0 (QEMU's place for -vga std on `pc`)
 * with SeaBIOS's VGA BIOS in its expansion ROM BAR, the shadow MMU told
 * when the VGA window turns between RAM and MMIO, the mode a VGA BIOS
 * leaves for kernels booted without firmware, and the display backend.
 * docs/display.md.
 */
#include "vm/machine.h"

#include <stdio.h>
#include <stdlib.h>

#include "cpu/cpu.h"
#include "devices/pci_host.h"
#include "devices/vga.h"
#include "shadowmmu/smmu.h"
#include "vm/display.h"

#define VGA_BIOS_FILE "/usr/share/seabios/vgabios-stdvga.bin"
#define VGA_DEVFN DEV_PCI_DEVFN(2, 0)

/* Pages of [base, base + len) that were RAM may now be MMIO (or hold new
 * bytes): drop the shadow entries mapping them and what was derived from
 * their contents (translations), as after DMA. */
static void on_vga_window(void *ctx, uint64_t base, uint64_t len)
{
    struct vm_machine *m = ctx;
    struct vm *vm = &m->vm;
    if (!vm->cpu)
        return;
    if (vm->cpu->mmu)
        for (uint64_t p = base >> 12; p < (base + len + 0xFFF) >> 12; p++)
            smmu_drop_page(vm->cpu->mmu, p);
    if (vm->engine && vm->engine->ram_written)
        vm->engine->ram_written(vm, base, len);
}

static void *read_rom(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = malloc(256 * 1024);
    size_t n = buf ? fread(buf, 1, 256 * 1024, f) : 0;
    fclose(f);
    if (!n) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

int vm_machine_vga_setup(struct vm_machine *m)
{
    struct vm *vm = &m->vm;
    if (!vm->opt.no_vga) {
        struct dev_vga_config vc = {
            .bus = vm->bus,
            /* The fast window needs RAM under 0xA0000-0xBFFFF. */
            .ram = vm->ram_size >= DEV_VGA_WINDOW_BASE + DEV_VGA_WINDOW_LEN ? vm->ram : NULL,
            .window_changed = on_vga_window,
            .ctx = m,
        };
        m->vga = dev_vga_new(&vc);
        if (!m->vga) {
            fprintf(stderr, "btvm: cannot create the VGA\n");
            return VM_STATUS_HOST_ERROR;
        }
        /* Without its BIOS file the VGA still works for kernels booted
         * directly; only firmware would miss the option ROM. */
        size_t rom_len = 0;
        void *rom = read_rom(VGA_BIOS_FILE, &rom_len);
        int r = dev_vga_pci_register(m->vga, m->pci, VGA_DEVFN, rom, rom_len);
        free(rom);
        if (r) {
            fprintf(stderr, "btvm: cannot put the VGA at PCI 00:02.0\n");
            return VM_STATUS_HOST_ERROR;
        }
        /* A kernel loaded directly finds the screen as a BIOS leaves it. */
        if (vm->opt.kernel)
            dev_vga_bios_text_mode(m->vga);
    }
    return vm_display_open(&m->display, vm, m->vga, m->kbc);
}

void vm_machine_vga_close_display(struct vm_machine *m)
{
    vm_display_close(m->display);
    m->display = NULL;
}

void vm_machine_vga_free(struct vm_machine *m)
{
    dev_vga_free(m->vga);
    m->vga = NULL;
}
