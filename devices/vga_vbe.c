/*
 * devices/vga_vbe.c — the Bochs VBE ("DISPI") interface of QEMU's standard
 * VGA: index at port 0x1CE, data at 0x1CF; linear VRAM behind PCI BAR0
 * (function 1234:1111, class 0x0300) and banked through the 0xA0000
 * window; the VGA BIOS in the PCI expansion ROM BAR (SeaBIOS maps and
 * runs it from there, as on QEMU). docs/display.md.
 */
#include "devices/vga_own.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ROM_BAR 0x30u

bool vga_vbe_enabled(const struct dev_vga *v)
{
    return v->vbe[VBE_ENABLE] & VBE_EN_ENABLED;
}

static unsigned bytes_pp(const struct dev_vga *v)
{
    return (v->vbe[VBE_BPP] + 7u) / 8u;
}

void vga_vbe_window(struct dev_vga *v, uint32_t off, bool is_write, uint8_t *val)
{
    uint64_t o = (uint64_t)v->vbe[VBE_BANK] * 0x10000u + off;
    if (o >= v->vram_size) {
        if (!is_write)
            *val = 0xFF;
        return;
    }
    if (is_write)
        v->vram[o] = *val;
    else
        *val = v->vram[o];
}

uint32_t vga_dac_rgb(const struct dev_vga *v, unsigned i)
{
    const uint8_t *c = v->dac[i & 0xFF];
    if (v->vbe[VBE_ENABLE] & VBE_EN_8BIT_DAC)
        return (uint32_t)c[0] << 16 | (uint32_t)c[1] << 8 | c[2];
    /* 6 bits to 8: replicate the top bits so 63 becomes 255. */
    uint32_t r = (uint32_t)(c[0] << 2 | c[0] >> 4), g = (uint32_t)(c[1] << 2 | c[1] >> 4),
             b = (uint32_t)(c[2] << 2 | c[2] >> 4);
    return (r & 0xFF) << 16 | (g & 0xFF) << 8 | (b & 0xFF);
}

static void recompute_layout(struct dev_vga *v)
{
    unsigned bpp = bytes_pp(v);
    if (!bpp)
        bpp = 1;
    v->vbe_line = v->vbe[VBE_VIRT_WIDTH] * bpp;
    if (v->vbe_line)
        v->vbe[VBE_VIRT_HEIGHT] = (uint16_t)(v->vram_size / v->vbe_line > 0xFFFF
                                                 ? 0xFFFF : v->vram_size / v->vbe_line);
    v->vbe_start = v->vbe[VBE_Y_OFFSET] * v->vbe_line + v->vbe[VBE_X_OFFSET] * bpp;
}

static void vbe_write(struct dev_vga *v, unsigned i, uint16_t val)
{
    bool on = vga_vbe_enabled(v);
    switch (i) {
    case VBE_ID:
        if (val >= VBE_ID0 && val <= VBE_ID5)
            v->vbe[VBE_ID] = val;
        break;
    case VBE_XRES:   /* the geometry is fixed while enabled, as in Bochs */
        if (!on && val <= VBE_MAX_XRES && !(val & 7))
            v->vbe[VBE_XRES] = val;
        break;
    case VBE_YRES:
        if (!on && val <= VBE_MAX_YRES)
            v->vbe[VBE_YRES] = val;
        break;
    case VBE_BPP:
        if (val == 0)
            val = 8;
        if (!on && (val == 8 || val == 15 || val == 16 || val == 24 || val == 32))
            v->vbe[VBE_BPP] = val;
        break;
    case VBE_BANK:
        if ((uint32_t)val * 0x10000u < v->vram_size)
            v->vbe[VBE_BANK] = val;
        break;
    case VBE_ENABLE: {
        val &= VBE_EN_ENABLED | VBE_EN_GETCAPS | VBE_EN_8BIT_DAC | VBE_EN_LFB | VBE_EN_NOCLEAR;
        if ((val & VBE_EN_ENABLED) && !on) {
            v->vbe[VBE_VIRT_WIDTH] = v->vbe[VBE_XRES];
            v->vbe[VBE_X_OFFSET] = v->vbe[VBE_Y_OFFSET] = 0;
            v->vbe[VBE_BANK] = 0;
            v->vbe[VBE_ENABLE] = val;
            recompute_layout(v);
            if (!(val & VBE_EN_NOCLEAR)) {
                uint64_t n = (uint64_t)v->vbe_line * v->vbe[VBE_YRES];
                memset(v->vram, 0, n < v->vram_size ? n : v->vram_size);
            }
        }
        /* NOCLEARMEM only matters at the enabling write; it reads back. */
        v->vbe[VBE_ENABLE] = val;
        vga_update_window(v);
        break;
    }
    case VBE_VIRT_WIDTH:
        if (val >= v->vbe[VBE_XRES] && val <= 0x4000) {
            v->vbe[VBE_VIRT_WIDTH] = val;
            recompute_layout(v);
        }
        break;
    case VBE_X_OFFSET:
    case VBE_Y_OFFSET:
        v->vbe[i] = val;
        recompute_layout(v);
        break;
    default:
        break;   /* VIRT_HEIGHT and VIDEO_MEMORY_64K are read-only */
    }
}

static uint16_t vbe_read(struct dev_vga *v, unsigned i)
{
    if (v->vbe[VBE_ENABLE] & VBE_EN_GETCAPS) {
        if (i == VBE_XRES)
            return VBE_MAX_XRES;
        if (i == VBE_YRES)
            return VBE_MAX_YRES;
        if (i == VBE_BPP)
            return VBE_MAX_BPP;
    }
    if (i == VBE_VIDEO_MEMORY_64K)
        return (uint16_t)(v->vram_size >> 16);
    return i < VBE_NREGS ? v->vbe[i] : 0;
}

static void vbe_ports(void *opaque, uint64_t offset, unsigned size, bool is_write,
                      uint64_t *data)
{
    struct dev_vga *v = opaque;
    (void)size;
    if (offset == 0) {
        if (is_write)
            v->vbe_idx = (uint16_t)*data;
        else
            *data = v->vbe_idx;
        return;
    }
    if (is_write)
        vbe_write(v, v->vbe_idx, (uint16_t)*data);
    else
        *data = vbe_read(v, v->vbe_idx);
}

/* BAR0: the linear framebuffer, plain bytes. */
static void lfb_io(void *opaque, uint64_t offset, unsigned size, bool is_write, uint64_t *data)
{
    struct dev_vga *v = opaque;
    if (offset + size > v->vram_size) {
        if (!is_write)
            *data = ~0ull;
        return;
    }
    if (is_write) {
        memcpy(v->vram + offset, data, size);   /* x86 host: little-endian */
    } else {
        uint64_t r = 0;
        memcpy(&r, v->vram + offset, size);
        *data = r;
    }
}

static void rom_io(void *opaque, uint64_t offset, unsigned size, bool is_write, uint64_t *data)
{
    struct dev_vga *v = opaque;
    if (is_write)
        return;   /* ROM */
    uint64_t r = 0;
    for (unsigned i = 0; i < size; i++)
        if (offset + i < v->rom_size)
            r |= (uint64_t)v->rom[offset + i] << (8 * i);
    *data = r;
}

/* The expansion ROM decodes while memory space and its own enable bit are
 * on (PCI 3.0, 6.2.5.2). */
static void rom_remap(struct dev_vga *v)
{
    const uint8_t *cfg = v->pci.cfg;
    uint32_t bar = dev_pci_get32(cfg, ROM_BAR);
    uint32_t base = bar & ~(v->rom_size - 1) & 0xFFFFF800u;
    bool on = v->rom_size && (dev_pci_get16(cfg, DEV_PCI_COMMAND) & DEV_PCI_CMD_MEM) &&
              (bar & 1) && base;
    uint32_t want = on ? base : 0;
    if (want == v->rom_mapped)
        return;
    if (v->rom_mapped)
        dev_bus_unregister_mmio(v->bus, v->rom_mapped);
    v->rom_mapped = 0;
    if (want && dev_bus_register_mmio(v->bus, want, v->rom_size, "vga-rom", rom_io, v) == 0)
        v->rom_mapped = want;
}

static void pci_config_write(struct dev_pci_fn *fn, unsigned reg, unsigned size, uint32_t value)
{
    (void)reg; (void)size; (void)value;
    rom_remap(fn->opaque);
}

int vga_vbe_init(struct dev_vga *v, uint32_t vram_size)
{
    if (vram_size < (1u << 20) || (vram_size & (vram_size - 1)))
        return -EINVAL;
    v->vram = calloc(1, vram_size);
    if (!v->vram)
        return -ENOMEM;
    v->vram_size = vram_size;
    v->vbe[VBE_ID] = VBE_ID5;
    v->vbe[VBE_XRES] = 640;
    v->vbe[VBE_YRES] = 480;
    v->vbe[VBE_BPP] = 8;
    if (dev_bus_register_pio(v->bus, DEV_VGA_VBE_INDEX, 2, "vga-vbe", vbe_ports, v) != 0) {
        free(v->vram);
        v->vram = NULL;
        return -EEXIST;
    }
    return 0;
}

void vga_vbe_free(struct dev_vga *v)
{
    if (!v->vram)
        return;
    if (v->rom_mapped)
        dev_bus_unregister_mmio(v->bus, v->rom_mapped);
    v->rom_mapped = 0;
    dev_bus_unregister_pio(v->bus, DEV_VGA_VBE_INDEX);
    free(v->vram);
    free(v->rom);
    v->vram = NULL;
    v->rom = NULL;
}

int dev_vga_pci_register(struct dev_vga *v, struct dev_pci_host *h, unsigned devfn,
                         const void *rom, size_t rom_len)
{
    struct dev_pci_fn *fn = &v->pci;
    dev_pci_fn_init(fn, "vga", DEV_VGA_PCI_VENDOR, DEV_VGA_PCI_DEVICE, 2, 0x030000, 0);
    /* QEMU's subsystem IDs for its own devices (Red Hat, QEMU). */
    dev_pci_set16(fn->cfg, 0x2C, 0x1AF4);
    dev_pci_set16(fn->cfg, 0x2E, 0x1100);
    int r = dev_pci_fn_set_bar(fn, 0, DEV_PCI_BAR_MEM32, v->vram_size, "vga-lfb", lfb_io, v);
    if (r)
        return r;
    if (rom && rom_len) {
        uint32_t sz = 2048;
        while (sz < rom_len)
            sz <<= 1;
        v->rom = calloc(1, sz);
        if (!v->rom)
            return -ENOMEM;
        memcpy(v->rom, rom, rom_len);
        v->rom_size = sz;
        uint32_t m = ~(sz - 1) | 1u;
        for (unsigned i = 0; i < 4; i++)
            fn->wmask[ROM_BAR + i] = (uint8_t)(m >> (8 * i));
    }
    fn->config_write = pci_config_write;
    fn->opaque = v;
    r = dev_pci_register(h, devfn, fn);
    if (r == 0)
        v->pci_registered = true;
    return r;
}
