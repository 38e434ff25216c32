/*
 * devices/vga_own.h — the VGA's state, shared by its files: vga.c (ports,
 * planar memory, the window), vga_vbe.c (Bochs VBE, PCI function, ROM
 * BAR) and vga_render.c (what displays read). Not for other devices.
 */
#ifndef BTVM_DEV_VGA_OWN_H
#define BTVM_DEV_VGA_OWN_H

#include "devices/pci_host.h"
#include "devices/vga.h"

#define VGA_PLANE_SIZE 0x10000u

/* Bochs VBE registers (index written to 0x1CE). */
enum {
    VBE_ID, VBE_XRES, VBE_YRES, VBE_BPP, VBE_ENABLE, VBE_BANK, VBE_VIRT_WIDTH,
    VBE_VIRT_HEIGHT, VBE_X_OFFSET, VBE_Y_OFFSET, VBE_VIDEO_MEMORY_64K, VBE_NREGS
};
#define VBE_ID0 0xB0C0u
#define VBE_ID5 0xB0C5u
#define VBE_EN_ENABLED   0x01u
#define VBE_EN_GETCAPS   0x02u
#define VBE_EN_8BIT_DAC  0x20u
#define VBE_EN_LFB       0x40u
#define VBE_EN_NOCLEAR   0x80u
#define VBE_MAX_XRES 2560u
#define VBE_MAX_YRES 1600u
#define VBE_MAX_BPP  32u

struct dev_vga {
    struct dev_bus *bus;
    uint8_t *ram;
    void (*window_changed)(void *ctx, uint64_t base, uint64_t len);
    void *ctx;

    uint8_t plane[4][VGA_PLANE_SIZE];
    uint8_t latch[4];

    uint8_t misc;
    uint8_t sr_idx, sr[8];
    uint8_t gr_idx, gr[16];
    uint8_t cr_idx, cr[0x19];
    uint8_t ar_idx, ar[0x15];
    bool ar_data;                 /* the 0x3C0 flip-flop: next write is data */
    uint8_t st1;                  /* input status 1 (its retrace bits toggle) */
    uint8_t fcr;
    uint8_t pel_mask, dac_widx, dac_ridx, dac_sub, dac_state;
    uint8_t dac[256][3];          /* 6-bit (or 8-bit with VBE_EN_8BIT_DAC) */

    /* The 0xA0000-0xBFFFF window: what is registered on the bus now. */
    bool fast;                    /* the decoded window is RAM */
    uint32_t win_base, win_len;   /* the decoded window (GR6 memory map) */
    unsigned group;               /* fast: 2 (odd/even) or 4 (chain-4) */
    uint64_t mmio_base[2];        /* ranges registered (0: none) */

    /* Bochs VBE. */
    uint16_t vbe_idx, vbe[VBE_NREGS];
    uint8_t *vram;
    uint32_t vram_size;
    uint32_t vbe_start;           /* byte offset of the displayed frame */
    uint32_t vbe_line;            /* bytes per virtual line */

    /* PCI. */
    struct dev_pci_fn pci;
    bool pci_registered;
    uint8_t *rom;
    uint32_t rom_size;            /* power of two, 0: none */
    uint32_t rom_mapped;          /* base while decoded, 0: not */
};

/* vga.c */
void vga_update_window(struct dev_vga *v);
/* A byte of plane p at offset off, wherever it lives now (RAM or planes). */
uint8_t vga_plane_byte(const struct dev_vga *v, unsigned p, uint32_t off);
/* vga_vbe.c */
int vga_vbe_init(struct dev_vga *v, uint32_t vram_size);
void vga_vbe_free(struct dev_vga *v);
bool vga_vbe_enabled(const struct dev_vga *v);
/* The 0xA0000 window while VBE is on: the bank of VRAM. */
void vga_vbe_window(struct dev_vga *v, uint32_t off, bool is_write, uint8_t *val);
/* DAC entry i as 0xRRGGBB. */
uint32_t vga_dac_rgb(const struct dev_vga *v, unsigned i);

#endif
