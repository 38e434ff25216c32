/*
 * devices/vga.h — a VGA (IBM VGA register set and planar memory) with the
 * Bochs VBE extensions and a linear framebuffer, as QEMU's `-vga std`:
 * PCI 1234:1111 with VRAM behind BAR0 and the VGA BIOS in its expansion
 * ROM BAR. docs/display.md describes the model and its fast path.
 */
#ifndef BTVM_DEV_VGA_H
#define BTVM_DEV_VGA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "devices/bus.h"

#define DEV_VGA_WINDOW_BASE 0xA0000u
#define DEV_VGA_WINDOW_LEN  0x20000u
#define DEV_VGA_VBE_INDEX   0x1CEu   /* data at 0x1CF */
#define DEV_VGA_VRAM_DEFAULT (16u << 20)
#define DEV_VGA_PCI_VENDOR  0x1234u
#define DEV_VGA_PCI_DEVICE  0x1111u

struct dev_vga;
struct dev_pci_host;

struct dev_vga_config {
    struct dev_bus *bus;
    /* Guest RAM from physical 0 (covering 0xA0000-0xBFFFF), or NULL. With
     * it, text (odd/even) and chain-4 windows become plain RAM while their
     * writes behave as memory (the fast path); without, every access traps. */
    uint8_t *ram;
    uint32_t vram_size;          /* linear VRAM (VBE); 0: DEV_VGA_VRAM_DEFAULT */
    /* The guest-physical range [base, base + len) changed between RAM and
     * device: whoever cached translations of it must drop them. Called
     * from the vcpu thread (during a port write), may be NULL. */
    void (*window_changed)(void *ctx, uint64_t base, uint64_t len);
    void *ctx;
};

/* Registers ports 0x3B0-0x3DF, 0x1CE/0x1CF and the 0xA0000 window; NULL
 * on failure (allocation, ports taken). Starts as after power-on: all
 * registers 0, no display until software (the VGA BIOS) programs a mode. */
struct dev_vga *dev_vga_new(const struct dev_vga_config *cfg);
void dev_vga_free(struct dev_vga *v);

/* Put the PCI function (display controller, VRAM at BAR0) at devfn;
 * rom/rom_len (copied; may be NULL) is served by the expansion ROM BAR.
 * 0 or -errno. Unregister before freeing the host. */
int dev_vga_pci_register(struct dev_vga *v, struct dev_pci_host *h, unsigned devfn,
                         const void *rom, size_t rom_len);

/* What the VGA BIOS leaves after INT 10h mode 3 (80x25 colour text, the
 * window at 0xB8000, cleared), less the font it would load into plane 2:
 * for guests started without firmware. */
void dev_vga_bios_text_mode(struct dev_vga *v);

/* ---- What a display sees (call from the thread that runs the vcpu) ---- */

enum dev_vga_kind { DEV_VGA_BLANK, DEV_VGA_TEXT, DEV_VGA_GRAPHICS };

#define DEV_VGA_TEXT_MAX_COLS 132
#define DEV_VGA_TEXT_MAX_ROWS 60

struct dev_vga_text {
    unsigned cols, rows;
    unsigned cell_w, cell_h;       /* 8 or 9 by 1..32 pixels */
    int cursor_col, cursor_row;    /* -1: off or off screen */
    /* char | attribute << 8, row-major. */
    uint16_t cell[DEV_VGA_TEXT_MAX_ROWS * DEV_VGA_TEXT_MAX_COLS];
    uint32_t palette[16];          /* attribute colour index -> 0xRRGGBB */
    bool blink;                    /* attribute bit 7 blinks (else: bright background) */
};

/* The kind of picture the registers describe now. */
enum dev_vga_kind dev_vga_kind(struct dev_vga *v);
/* Text-mode contents; false when not in a text mode. */
bool dev_vga_text(struct dev_vga *v, struct dev_vga_text *out);
/* The 8..32 glyph rows of character ch in the font the attribute selects
 * (plane 2): row r's bits, MSB = leftmost dot. */
void dev_vga_glyph(struct dev_vga *v, uint8_t ch, uint8_t attr, uint8_t rows[32]);
/* Render the screen as 0xRRGGBB pixels into *buf (resized with realloc;
 * *cap in pixels), setting *w and *h. Text modes are drawn with the font.
 * 0, or -ENOMEM; a blank screen is 0 with *w = *h = 0. */
int dev_vga_render(struct dev_vga *v, uint32_t **buf, size_t *cap, unsigned *w, unsigned *h);

/* For tests: whether the window is plain RAM now. */
bool dev_vga_window_is_ram(const struct dev_vga *v);

#endif
