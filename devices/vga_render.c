/*
 * devices/vga_render.c — what a display reads from the VGA: the mode the
 * CRTC, sequencer and attribute controller describe, text cells (plane 0
 * characters, plane 1 attributes, plane 2 fonts), and pixels for planar
 * 16-colour, 256-colour (chain-4 and unchained) and VBE modes. Reads go
 * through vga_plane_byte, so they find the bytes wherever the fast window
 * keeps them. docs/display.md.
 */
#include "devices/vga_own.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum dev_vga_kind dev_vga_kind(struct dev_vga *v)
{
    if (vga_vbe_enabled(v))
        return v->vbe[VBE_XRES] && v->vbe[VBE_YRES] ? DEV_VGA_GRAPHICS : DEV_VGA_BLANK;
    /* Palette address source off (the BIOS programming the palette) or
     * screen off (SR1 bit 5): nothing is shown. */
    if (!(v->ar_idx & 0x20) || (v->sr[1] & 0x20) || v->cr[1] == 0)
        return DEV_VGA_BLANK;
    return (v->ar[0x10] & 1) ? DEV_VGA_GRAPHICS : DEV_VGA_TEXT;
}

static unsigned vert_display(const struct dev_vga *v)
{
    return (unsigned)(v->cr[0x12] | (v->cr[7] & 0x02) << 7 | (v->cr[7] & 0x40) << 3) + 1;
}

/* CRTC address counter units to plane offsets: dword, word or byte mode. */
static unsigned addr_mult(const struct dev_vga *v)
{
    if (v->cr[0x14] & 0x40)
        return 4;
    return (v->cr[0x17] & 0x40) ? 1 : 2;
}

static unsigned start_addr(const struct dev_vga *v)
{
    return (unsigned)(v->cr[0x0C] << 8 | v->cr[0x0D]);
}

/* A 4-bit pixel value through the attribute controller's palette. */
static unsigned ar_index(const struct dev_vga *v, unsigned c)
{
    unsigned pal = v->ar[c & 0xF] & 0x3F, i;
    if (v->ar[0x10] & 0x80)
        i = (pal & 0x0F) | (v->ar[0x14] & 0x0F) << 4;
    else
        i = pal | (v->ar[0x14] & 0x0C) << 4;
    return i & v->pel_mask;
}

bool dev_vga_text(struct dev_vga *v, struct dev_vga_text *t)
{
    if (dev_vga_kind(v) != DEV_VGA_TEXT)
        return false;
    unsigned cols = v->cr[1] + 1u;
    unsigned ch = (v->cr[9] & 0x1F) + 1u;
    unsigned lines = vert_display(v) / ((v->cr[9] & 0x80) ? 2 : 1);
    unsigned rows = lines / ch;
    if (cols > DEV_VGA_TEXT_MAX_COLS)
        cols = DEV_VGA_TEXT_MAX_COLS;
    if (rows > DEV_VGA_TEXT_MAX_ROWS)
        rows = DEV_VGA_TEXT_MAX_ROWS;
    t->cols = cols;
    t->rows = rows;
    t->cell_w = (v->sr[1] & 1) ? 8 : 9;
    t->cell_h = ch;
    t->blink = v->ar[0x10] & 0x08;
    unsigned stride = v->cr[0x13] * 2u, start = start_addr(v), mult = addr_mult(v);
    for (unsigned r = 0; r < rows; r++)
        for (unsigned c = 0; c < cols; c++) {
            uint32_t off = (start + r * stride + c) * mult;
            t->cell[r * cols + c] =
                (uint16_t)(vga_plane_byte(v, 0, off) | vga_plane_byte(v, 1, off) << 8);
        }
    t->cursor_col = t->cursor_row = -1;
    unsigned cur = (unsigned)(v->cr[0x0E] << 8 | v->cr[0x0F]);
    if (!(v->cr[0x0A] & 0x20) && cur >= start && stride) {
        unsigned rel = cur - start;
        if (rel / stride < rows && rel % stride < cols) {
            t->cursor_row = (int)(rel / stride);
            t->cursor_col = (int)(rel % stride);
        }
    }
    for (unsigned i = 0; i < 16; i++)
        t->palette[i] = vga_dac_rgb(v, ar_index(v, i));
    return true;
}

void dev_vga_glyph(struct dev_vga *v, uint8_t ch, uint8_t attr, uint8_t rows[32])
{
    uint8_t s = v->sr[3];
    unsigned map_a = (s >> 5 & 1) << 2 | (s >> 2 & 3), map_b = (s >> 4 & 1) << 2 | (s & 3);
    unsigned map = (attr & 8) ? map_a : map_b;
    /* Maps 0-3 at 16 KiB steps, 4-7 in the 8 KiB between them. */
    uint32_t base = (map & 3) * 0x4000u + (map >> 2) * 0x2000u + ch * 32u;
    for (unsigned r = 0; r < 32; r++)
        rows[r] = vga_plane_byte(v, 2, base + r);
}

static int ensure(uint32_t **buf, size_t *cap, size_t n)
{
    if (n <= *cap)
        return 0;
    uint32_t *p = realloc(*buf, n * sizeof(uint32_t));
    if (!p)
        return -ENOMEM;
    *buf = p;
    *cap = n;
    return 0;
}

static int render_text(struct dev_vga *v, uint32_t **buf, size_t *cap, unsigned *w, unsigned *h)
{
    static struct dev_vga_text t;   /* vcpu thread only; 16 KiB off the stack */
    dev_vga_text(v, &t);
    *w = t.cols * t.cell_w;
    *h = t.rows * t.cell_h;
    if (ensure(buf, cap, (size_t)*w * *h))
        return -ENOMEM;
    bool line_gfx = v->ar[0x10] & 0x04;
    unsigned cs = v->cr[0x0A] & 0x1F, ce = v->cr[0x0B] & 0x1F;
    for (unsigned r = 0; r < t.rows; r++)
        for (unsigned c = 0; c < t.cols; c++) {
            uint16_t cell = t.cell[r * t.cols + c];
            uint8_t chr = (uint8_t)cell, at = (uint8_t)(cell >> 8), g[32];
            dev_vga_glyph(v, chr, at, g);
            uint32_t fg = t.palette[at & 0xF];
            uint32_t bg = t.palette[(at >> 4) & (t.blink ? 7 : 15)];
            bool cur = (int)r == t.cursor_row && (int)c == t.cursor_col;
            for (unsigned y = 0; y < t.cell_h; y++) {
                unsigned bits = g[y] << 1;
                /* The ninth dot repeats the eighth for line-drawing characters. */
                if (t.cell_w == 9 && line_gfx && chr >= 0xC0 && chr <= 0xDF)
                    bits |= g[y] & 1;
                if (cur && y >= cs && y <= ce)
                    bits = 0x1FF;
                uint32_t *px = *buf + (size_t)(r * t.cell_h + y) * *w + c * t.cell_w;
                for (unsigned x = 0; x < t.cell_w; x++)
                    px[x] = (bits >> (8 - x) & 1) ? fg : bg;
            }
        }
    return 0;
}

static int render_vbe(struct dev_vga *v, uint32_t **buf, size_t *cap, unsigned *w, unsigned *h)
{
    unsigned bpp = v->vbe[VBE_BPP], bytes = (bpp + 7) / 8;
    *w = v->vbe[VBE_XRES];
    *h = v->vbe[VBE_YRES];
    if (ensure(buf, cap, (size_t)*w * *h))
        return -ENOMEM;
    for (unsigned y = 0; y < *h; y++)
        for (unsigned x = 0; x < *w; x++) {
            uint64_t o = v->vbe_start + (uint64_t)y * v->vbe_line + (uint64_t)x * bytes;
            uint32_t px = 0, rgb;
            if (o + bytes <= v->vram_size)
                memcpy(&px, v->vram + o, bytes);
            switch (bpp) {
            case 8:
                rgb = vga_dac_rgb(v, px & v->pel_mask);
                break;
            case 15:
                rgb = (px >> 10 & 31) * 255 / 31 << 16 | (px >> 5 & 31) * 255 / 31 << 8 |
                      (px & 31) * 255 / 31;
                break;
            case 16:
                rgb = (px >> 11 & 31) * 255 / 31 << 16 | (px >> 5 & 63) * 255 / 63 << 8 |
                      (px & 31) * 255 / 31;
                break;
            default:   /* 24, 32: B, G, R(, X) in memory */
                rgb = px & 0xFFFFFF;
                break;
            }
            (*buf)[(size_t)y * *w + x] = rgb;
        }
    return 0;
}

/* The raster the CRTC scans out, as QEMU shows it: every scan line (a
 * row repeated per CR9's scan count and double-scan bit), and in 256-colour
 * mode each pixel two dots wide (one pixel per two dot clocks), as is
 * every pixel when SR1 halves the dot clock. */
static int render_vga(struct dev_vga *v, uint32_t **buf, size_t *cap, unsigned *w, unsigned *h)
{
    bool c256 = v->ar[0x10] & 0x40;
    unsigned dots = (v->cr[1] + 1u) * 8;
    unsigned scan = ((v->cr[9] & 0x1F) + 1u) * ((v->cr[9] & 0x80) ? 2 : 1);
    unsigned wide = (c256 || (v->sr[1] & 0x08)) ? 2 : 1;
    unsigned pixels = c256 ? dots / 2 : dots;
    *w = pixels * wide;
    *h = vert_display(v);
    if (ensure(buf, cap, (size_t)*w * *h))
        return -ENOMEM;
    unsigned stride = v->cr[0x13] * 2u, start = start_addr(v), mult = addr_mult(v);
    uint32_t pal16[16];
    for (unsigned i = 0; i < 16; i++)
        pal16[i] = vga_dac_rgb(v, ar_index(v, i));
    unsigned plane_en = v->ar[0x12] & 0xF;
    for (unsigned y = 0; y < *h; y++) {
        unsigned line = start + (y / scan) * stride;
        uint32_t *px = *buf + (size_t)y * *w;
        if (c256) {
            for (unsigned x = 0; x < *w; x++) {
                unsigned p = x / wide;
                uint8_t b = vga_plane_byte(v, p & 3, (line + p / 4) * mult);
                px[x] = vga_dac_rgb(v, b & v->pel_mask);
            }
            continue;
        }
        /* Planar: the four plane bytes of 8 pixels at a time. */
        for (unsigned xb = 0; xb < pixels / 8; xb++) {
            uint32_t off = (line + xb) * mult;
            uint8_t b[4];
            for (unsigned q = 0; q < 4; q++)
                b[q] = vga_plane_byte(v, q, off);
            for (unsigned i = 0; i < 8; i++) {
                unsigned bit = 7 - i, c = 0;
                for (unsigned q = 0; q < 4; q++)
                    c |= (unsigned)(b[q] >> bit & 1) << q;
                uint32_t rgb = pal16[c & plane_en];
                for (unsigned k = 0; k < wide; k++)
                    px[(xb * 8 + i) * wide + k] = rgb;
            }
        }
    }
    return 0;
}

int dev_vga_render(struct dev_vga *v, uint32_t **buf, size_t *cap, unsigned *w, unsigned *h)
{
    *w = *h = 0;
    switch (dev_vga_kind(v)) {
    case DEV_VGA_TEXT:
        return render_text(v, buf, cap, w, h);
    case DEV_VGA_GRAPHICS:
        return vga_vbe_enabled(v) ? render_vbe(v, buf, cap, w, h) : render_vga(v, buf, cap, w, h);
    default:
        return 0;
    }
}
