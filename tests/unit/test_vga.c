/*
 * tests/unit/test_vga.c — the VGA through its bus (ports and the
 * 0xA0000 window, as a guest sees it): register files, the attribute
 * flip-flop and retrace toggle, the DAC, write modes 0-3 with set/reset,
 * rotate, logical ops and bit mask, read modes 0/1 and latches, odd/even
 * and chain-4 addressing; the fast window (RAM while it behaves as memory,
 * trapped when not, bytes carried across each switch, the change
 * reported); Bochs VBE (ID, caps, enable/clear, bank window, LFB BAR);
 * the PCI function and its ROM BAR; the text snapshot and the renderer.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "devices/bus.h"
#include "devices/pci_host.h"
#include "devices/vga.h"

static struct dev_bus *bus;
static struct dev_vga *vga;
static uint8_t *ram;
static int changes;

static void on_change(void *ctx, uint64_t base, uint64_t len)
{
    (void)ctx;
    ck_assert_uint_eq(base, 0xA0000);
    ck_assert_uint_eq(len, 0x20000);
    changes++;
}

static void make(bool with_ram)
{
    bus = dev_bus_new();
    ck_assert_ptr_nonnull(bus);
    ram = with_ram ? calloc(1, 1 << 20) : NULL;
    changes = 0;
    struct dev_vga_config c = { .bus = bus, .ram = ram, .window_changed = on_change };
    vga = dev_vga_new(&c);
    ck_assert_ptr_nonnull(vga);
}

static void setup(void) { make(false); }
static void setup_ram(void) { make(true); }

static void teardown(void)
{
    dev_vga_free(vga);
    dev_bus_free(bus);
    free(ram);
}

static void outb(uint16_t port, uint8_t v)
{
    uint32_t d = v;
    dev_bus_pio(bus, port, 1, true, &d);
}
static void outw(uint16_t port, uint16_t v)
{
    uint32_t d = v;
    dev_bus_pio(bus, port, 2, true, &d);
}
static uint8_t inb(uint16_t port)
{
    uint32_t d = 0;
    dev_bus_pio(bus, port, 1, false, &d);
    return (uint8_t)d;
}
static uint16_t inw(uint16_t port)
{
    uint32_t d = 0;
    dev_bus_pio(bus, port, 2, false, &d);
    return (uint16_t)d;
}
static void wr(uint32_t addr, uint8_t v)
{
    uint64_t d = v;
    ck_assert(dev_bus_mmio(bus, addr, 1, true, &d));
}
static uint8_t rd(uint32_t addr)
{
    uint64_t d = 0;
    ck_assert(dev_bus_mmio(bus, addr, 1, false, &d));
    return (uint8_t)d;
}
static void sr(unsigned i, uint8_t v) { outb(0x3C4, (uint8_t)i); outb(0x3C5, v); }
static void gr(unsigned i, uint8_t v) { outb(0x3CE, (uint8_t)i); outb(0x3CF, v); }

/* Planar 64K at 0xA0000: no odd/even, no chain-4, all planes. */
static void planar(void)
{
    sr(4, 0x06);
    sr(2, 0x0F);
    gr(5, 0x00);
    gr(6, 0x05);
    gr(8, 0xFF);
}

/* Put b in plane p at offset off, through map mask (write mode 0). */
static void plane_put(unsigned p, uint32_t off, uint8_t b)
{
    sr(2, (uint8_t)(1u << p));
    wr(0xA0000 + off, b);
    sr(2, 0x0F);
}

static uint8_t plane_get(unsigned p, uint32_t off)
{
    gr(4, (uint8_t)p);
    return rd(0xA0000 + off);
}

START_TEST(registers_read_back)
{
    outb(0x3C2, 0x67);
    ck_assert_uint_eq(inb(0x3CC), 0x67);
    outw(0x3C4, 0x0F02);                /* index + data in one word write */
    ck_assert_uint_eq(inb(0x3C4), 2);
    ck_assert_uint_eq(inb(0x3C5), 0x0F);
    outw(0x3CE, 0x5508);
    ck_assert_uint_eq(inb(0x3CF), 0x55);
    outw(0x3D4, 0x280E);                /* colour CRTC (misc bit 0 set) */
    ck_assert_uint_eq(inb(0x3D5), 0x28);
    ck_assert_uint_eq(inb(0x3B5), 0xFF); /* the mono CRTC does not decode */
    /* CR11 bit 7 protects CR0-7 except CR7 bit 4. */
    outw(0x3D4, 0x8011);
    outw(0x3D4, 0x5501);
    outb(0x3D4, 1);
    ck_assert_uint_eq(inb(0x3D5), 0x00);
    outw(0x3D4, 0xFF07);
    outb(0x3D4, 7);
    ck_assert_uint_eq(inb(0x3D5), 0x10);
}
END_TEST

START_TEST(attribute_flip_flop_and_retrace)
{
    outb(0x3C2, 0x01);
    inb(0x3DA);                         /* reset the flip-flop: next is an index */
    outb(0x3C0, 0x10);
    outb(0x3C0, 0x41);
    ck_assert_uint_eq(inb(0x3C1), 0x41);
    outb(0x3C0, 0x22);                  /* index again, with palette address source */
    ck_assert_uint_eq(inb(0x3C0), 0x22);
    inb(0x3DA);
    outb(0x3C0, 0x03);
    outb(0x3C0, 0xFF);                  /* palette entries keep 6 bits */
    outb(0x3C0, 0x03);
    ck_assert_uint_eq(inb(0x3C1), 0x3F);
    uint8_t a = inb(0x3DA), b = inb(0x3DA);
    ck_assert_uint_eq((a ^ b) & 0x08, 0x08);   /* vertical retrace toggles */
}
END_TEST

START_TEST(dac_autoincrement)
{
    outb(0x3C8, 5);
    for (int i = 0; i < 6; i++)
        outb(0x3C9, (uint8_t)(0x10 + i));
    outb(0x3C7, 5);
    ck_assert_uint_eq(inb(0x3C7), 3);
    for (int i = 0; i < 6; i++)
        ck_assert_uint_eq(inb(0x3C9), 0x10 + i);
    outb(0x3C8, 0);
    outb(0x3C9, 0xFF);                  /* 6-bit DAC */
    outb(0x3C7, 0);
    ck_assert_uint_eq(inb(0x3C9), 0x3F);
}
END_TEST

START_TEST(write_mode_0_setreset_rotate_logic_mask)
{
    planar();
    for (unsigned p = 0; p < 4; p++)
        plane_put(p, 10, 0xF0);
    /* Set/reset on planes 0 and 1 (value 1 for plane 0), rotate by 4,
     * XOR with the latches, bit mask 0x3C. */
    rd(0xA0000 + 10);                   /* load latches */
    gr(0, 0x01);
    gr(1, 0x03);
    gr(3, 0x18 | 4);
    gr(8, 0x3C);
    wr(0xA0000 + 10, 0x0F);
    gr(0, 0); gr(1, 0); gr(3, 0); gr(8, 0xFF);
    /* plane 0: 0xFF ^ 0xF0 = 0x0F, masked: (0x0F & 0x3C) | (0xF0 & ~0x3C) = 0xCC */
    ck_assert_uint_eq(plane_get(0, 10), 0xCC);
    /* plane 1: 0x00 ^ 0xF0 = 0xF0 -> (0xF0 & 0x3C) | 0xC0 = 0xF0 */
    ck_assert_uint_eq(plane_get(1, 10), 0xF0);
    /* planes 2, 3: ror(0x0F, 4) = 0xF0 ^ 0xF0 = 0 -> 0xC0 */
    ck_assert_uint_eq(plane_get(2, 10), 0xC0);
    ck_assert_uint_eq(plane_get(3, 10), 0xC0);
}
END_TEST

START_TEST(write_modes_1_2_3)
{
    planar();
    plane_put(0, 0, 0x11);
    plane_put(1, 0, 0x22);
    plane_put(2, 0, 0x33);
    plane_put(3, 0, 0x44);
    /* Mode 1 copies the latches (bit mask ignored). */
    gr(5, 0x01);
    gr(8, 0x00);
    rd(0xA0000);
    wr(0xA0000 + 1, 0xAB);
    gr(8, 0xFF);
    gr(5, 0x00);
    ck_assert_uint_eq(plane_get(0, 1), 0x11);
    ck_assert_uint_eq(plane_get(3, 1), 0x44);
    /* Mode 2: CPU bits 0-3 fill the planes, under the bit mask. */
    rd(0xA0000 + 2);
    gr(5, 0x02);
    gr(8, 0x0F);
    wr(0xA0000 + 2, 0x05);
    gr(5, 0x00);
    gr(8, 0xFF);
    ck_assert_uint_eq(plane_get(0, 2), 0x0F);
    ck_assert_uint_eq(plane_get(1, 2), 0x00);
    ck_assert_uint_eq(plane_get(2, 2), 0x0F);
    ck_assert_uint_eq(plane_get(3, 2), 0x00);
    /* Mode 3: set/reset value, bit mask ANDed with the rotated CPU byte. */
    rd(0xA0000 + 3);                    /* latches all 0 */
    gr(0, 0x0A);
    gr(5, 0x03);
    gr(8, 0xF0);
    wr(0xA0000 + 3, 0x3C);
    gr(5, 0x00);
    gr(8, 0xFF);
    gr(0, 0x00);
    ck_assert_uint_eq(plane_get(0, 3), 0x00);
    ck_assert_uint_eq(plane_get(1, 3), 0x30);
    ck_assert_uint_eq(plane_get(3, 3), 0x30);
}
END_TEST

START_TEST(read_mode_1_color_compare)
{
    planar();
    plane_put(0, 5, 0xFF);
    plane_put(1, 5, 0x0F);
    plane_put(2, 5, 0x00);
    plane_put(3, 5, 0xAA);
    gr(5, 0x08);
    gr(2, 0x03);                        /* colour 3 */
    gr(7, 0x07);                        /* plane 3 does not care */
    ck_assert_uint_eq(rd(0xA0000 + 5), 0x0F);
    gr(7, 0x0F);
    gr(2, 0x0B);
    ck_assert_uint_eq(rd(0xA0000 + 5), 0x0A);
}
END_TEST

START_TEST(odd_even_and_chain4_trapped)
{
    /* Without guest RAM every mode traps: check the addressing itself. */
    sr(4, 0x02);                        /* odd/even */
    sr(2, 0x03);
    gr(5, 0x10);
    gr(6, 0x0E);                        /* 0xB8000 */
    gr(8, 0xFF);
    wr(0xB8000, 'A');
    wr(0xB8001, 0x1E);
    wr(0xB8002, 'B');
    ck_assert_uint_eq(rd(0xB8000), 'A');
    ck_assert_uint_eq(rd(0xB8001), 0x1E);
    uint64_t d = 0;
    dev_bus_mmio(bus, 0xA0000, 1, false, &d);   /* outside the 32K window */
    ck_assert_uint_eq(d, 0xFF);
    planar();
    ck_assert_uint_eq(plane_get(0, 0), 'A');
    ck_assert_uint_eq(plane_get(1, 0), 0x1E);
    ck_assert_uint_eq(plane_get(0, 2), 'B');
    ck_assert_uint_eq(plane_get(2, 0), 0);  /* map mask 3: plane 2 untouched */
    /* Chain-4: A1:0 select the plane, offset A & ~3. */
    sr(4, 0x0E);
    wr(0xA0000 + 4 * 7 + 2, 0x99);
    sr(4, 0x06);
    ck_assert_uint_eq(plane_get(2, 28), 0x99);
    ck_assert_uint_eq(plane_get(0, 28), 0x00);
}
END_TEST

START_TEST(fast_window_follows_mode)
{
    ck_assert(!dev_vga_window_is_ram(vga));
    dev_vga_bios_text_mode(vga);
    ck_assert(dev_vga_window_is_ram(vga));
    ck_assert_int_ge(changes, 1);
    ck_assert(!dev_bus_mmio_page(bus, 0xB8000));   /* RAM now */
    ck_assert(dev_bus_mmio_page(bus, 0xA0000));    /* outside the window: not */
    ck_assert_uint_eq(ram[0xB8000], ' ');
    ck_assert_uint_eq(ram[0xB8001], 0x07);
    /* The guest writes text as plain RAM. */
    memcpy(ram + 0xB8000, "H\x1fi\x2f", 4);
    /* A font load (planar, plane 2) traps; the text moved into the planes. */
    int before = changes;
    sr(2, 0x04);
    sr(4, 0x06);
    gr(4, 0x02);
    gr(5, 0x00);
    gr(6, 0x04);
    ck_assert(!dev_vga_window_is_ram(vga));
    ck_assert_int_gt(changes, before);
    ck_assert(dev_bus_mmio_page(bus, 0xB8000));
    wr(0xA0000 + 'H' * 32, 0x81);       /* glyph row 0 of 'H' */
    ck_assert_uint_eq(plane_get(0, 0), 'H');
    ck_assert_uint_eq(plane_get(1, 0), 0x1F);
    ck_assert_uint_eq(plane_get(0, 2), 'i');
    /* Back to text: RAM holds the cells again, the font stays in plane 2. */
    sr(2, 0x03);
    sr(4, 0x02);
    gr(4, 0x00);
    gr(5, 0x10);
    gr(6, 0x0E);
    ck_assert(dev_vga_window_is_ram(vga));
    ck_assert_uint_eq(ram[0xB8000], 'H');
    ck_assert_uint_eq(ram[0xB8003], 0x2F);
    uint8_t g[32];
    dev_vga_glyph(vga, 'H', 0x1F, g);
    ck_assert_uint_eq(g[0], 0x81);
    /* Write mode 1 on the text window cannot be RAM. */
    gr(5, 0x11);
    ck_assert(!dev_vga_window_is_ram(vga));
    gr(5, 0x10);
    ck_assert(dev_vga_window_is_ram(vga));
}
END_TEST

START_TEST(fast_window_chain4)
{
    sr(4, 0x0E);
    sr(2, 0x0F);
    gr(5, 0x40);
    gr(6, 0x05);
    gr(8, 0xFF);
    ck_assert(dev_vga_window_is_ram(vga));
    for (int i = 0; i < 8; i++)
        ram[0xA0000 + i] = (uint8_t)(0x40 + i);
    sr(4, 0x06);                        /* unchain (mode X) */
    ck_assert(!dev_vga_window_is_ram(vga));
    ck_assert_uint_eq(plane_get(1, 0), 0x41);
    ck_assert_uint_eq(plane_get(3, 4), 0x47);
}
END_TEST

START_TEST(text_snapshot)
{
    dev_vga_bios_text_mode(vga);
    memcpy(ram + 0xB8000 + 160, "O\x1eK\x1e", 4);
    outw(0x3D4, 0x000E);
    outw(0x3D4, 0x510F);                /* cursor at 81: row 1, col 1 */
    static struct dev_vga_text t;
    ck_assert(dev_vga_text(vga, &t));
    ck_assert_uint_eq(t.cols, 80);
    ck_assert_uint_eq(t.rows, 25);
    ck_assert_uint_eq(t.cell_w, 9);
    ck_assert_uint_eq(t.cell_h, 16);
    ck_assert_uint_eq(t.cell[80], 'O' | 0x1E00);
    ck_assert_uint_eq(t.cell[81], 'K' | 0x1E00);
    ck_assert_int_eq(t.cursor_row, 1);
    ck_assert_int_eq(t.cursor_col, 1);
    ck_assert_uint_eq(t.palette[1], 0x0000AA);
    ck_assert_uint_eq(t.palette[14], 0xFFFF55);
    /* 80x50: 8-line cells. */
    outw(0x3D4, 0x4709);
    ck_assert(dev_vga_text(vga, &t));
    ck_assert_uint_eq(t.rows, 50);
}
END_TEST

START_TEST(render_text_uses_font)
{
    dev_vga_bios_text_mode(vga);
    ram[0xB8000] = 'X';
    ram[0xB8001] = 0x1F;                /* white on blue */
    sr(2, 0x04); sr(4, 0x06); gr(4, 0x02); gr(5, 0x00); gr(6, 0x04);
    wr(0xA0000 + 'X' * 32 + 3, 0x80);   /* one dot, row 3, column 0 */
    sr(2, 0x03); sr(4, 0x02); gr(4, 0x00); gr(5, 0x10); gr(6, 0x0E);
    outw(0x3D4, 0x200A);                /* cursor off */
    uint32_t *px = NULL;
    size_t cap = 0;
    unsigned w, h;
    ck_assert_int_eq(dev_vga_render(vga, &px, &cap, &w, &h), 0);
    ck_assert_uint_eq(w, 720);
    ck_assert_uint_eq(h, 400);
    ck_assert_uint_eq(px[3 * w + 0], 0xFFFFFF);
    ck_assert_uint_eq(px[3 * w + 1], 0x0000AA);
    ck_assert_uint_eq(px[0], 0x0000AA);
    ck_assert_uint_eq(px[9], 0x000000);  /* next cell: blank, black */
    free(px);
}
END_TEST

START_TEST(render_mode13_and_12)
{
    /* Mode 13h's CRTC/sequencer essentials: 320x200, chain-4, dword mode. */
    outb(0x3C2, 0x63);
    sr(1, 0x01); sr(2, 0x0F); sr(4, 0x0E);
    gr(5, 0x40); gr(6, 0x05); gr(8, 0xFF);
    outw(0x3D4, 0x0011);
    outw(0x3D4, 0x4F01); outw(0x3D4, 0x8F12); outw(0x3D4, 0x1F07); outw(0x3D4, 0x4109);
    outw(0x3D4, 0x2813); outw(0x3D4, 0x4014); outw(0x3D4, 0xA317);
    inb(0x3DA);
    outb(0x3C0, 0x10); outb(0x3C0, 0x41);
    outb(0x3C0, 0x20);
    outb(0x3C8, 7);
    outb(0x3C9, 63); outb(0x3C9, 0); outb(0x3C9, 0);
    ram[0xA0000 + 320 * 2 + 5] = 7;    /* fast window: plain RAM */
    uint32_t *px = NULL;
    size_t cap = 0;
    unsigned w, h;
    ck_assert_int_eq(dev_vga_render(vga, &px, &cap, &w, &h), 0);
    /* The scanned raster: 640x400, each pixel 2x2. */
    ck_assert_uint_eq(w, 640);
    ck_assert_uint_eq(h, 400);
    ck_assert_uint_eq(px[4 * 640 + 10], 0xFF0000);
    ck_assert_uint_eq(px[5 * 640 + 11], 0xFF0000);
    ck_assert_uint_eq(px[4 * 640 + 12], 0x000000);
    ck_assert_uint_eq(px[6 * 640 + 10], 0x000000);
    /* Mode 12h-like: planar 640x480, byte mode, 16 colours. */
    sr(4, 0x06); gr(5, 0x00);
    outw(0x3D4, 0xDF12); outw(0x3D4, 0x3E07); outw(0x3D4, 0x4009);
    outw(0x3D4, 0x0014); outw(0x3D4, 0xE317);
    inb(0x3DA);
    outb(0x3C0, 0x10); outb(0x3C0, 0x01);
    outb(0x3C0, 0x12); outb(0x3C0, 0x0F);
    outb(0x3C0, 0x05); outb(0x3C0, 0x07);   /* colour 5 -> DAC 7 */
    outb(0x3C0, 0x20);
    plane_put(0, 80 * 3, 0x80);
    plane_put(2, 80 * 3, 0x80);
    ck_assert_int_eq(dev_vga_render(vga, &px, &cap, &w, &h), 0);
    ck_assert_uint_eq(w, 640);
    ck_assert_uint_eq(h, 480);
    ck_assert_uint_eq(px[3 * 640], 0xFF0000);
    free(px);
}
END_TEST

START_TEST(vbe_registers_and_lfb)
{
    outw(0x1CE, 0);
    ck_assert_uint_eq(inw(0x1CF), 0xB0C5);
    outw(0x1CF, 0xB0C2);
    ck_assert_uint_eq(inw(0x1CF), 0xB0C2);
    outw(0x1CF, 0x1234);                /* not an ID: ignored */
    ck_assert_uint_eq(inw(0x1CF), 0xB0C2);
    outw(0x1CE, 4);
    outw(0x1CF, 0x02);                  /* GETCAPS */
    outw(0x1CE, 1);
    ck_assert_uint_ge(inw(0x1CF), 1024);
    outw(0x1CE, 4);
    outw(0x1CF, 0);
    outw(0x1CE, 0xA);
    ck_assert_uint_eq(inw(0x1CF), 256);  /* 16 MiB in 64K units */
    outw(0x1CE, 1); outw(0x1CF, 800);
    outw(0x1CE, 2); outw(0x1CF, 600);
    outw(0x1CE, 3); outw(0x1CF, 33);     /* invalid bpp: kept at 8 */
    outw(0x1CE, 3); ck_assert_uint_eq(inw(0x1CF), 8);
    outw(0x1CF, 32);
    outw(0x1CE, 4); outw(0x1CF, 0x41);   /* enable, LFB */
    outw(0x1CE, 1); outw(0x1CF, 640);    /* geometry fixed while enabled */
    ck_assert_uint_eq(inw(0x1CF), 800);
    outw(0x1CE, 6); ck_assert_uint_eq(inw(0x1CF), 800);
    outw(0x1CE, 7); ck_assert_uint_eq(inw(0x1CF), (16u << 20) / 3200);
    /* Banked window: bank 1 is VRAM 0x10000. */
    outw(0x1CE, 5); outw(0x1CF, 1);
    wr(0xA0000 + 4, 0x5A);
    /* PCI: BAR0 at 0xE0000000 with memory decode. */
    struct dev_pci_host *h = dev_pci_host_new(bus, NULL, NULL);
    ck_assert_ptr_nonnull(h);
    static const uint8_t rom[3000] = { 0x55, 0xAA, 6 };
    ck_assert_int_eq(dev_vga_pci_register(vga, h, DEV_PCI_DEVFN(2, 0), rom, sizeof(rom)), 0);
    unsigned devfn = DEV_PCI_DEVFN(2, 0);
    ck_assert_uint_eq(dev_pci_config_read(h, 0, devfn, 0, 4), 0x11111234);
    ck_assert_uint_eq(dev_pci_config_read(h, 0, devfn, 0x08, 4) >> 8, 0x030000);
    dev_pci_config_write(h, 0, devfn, 0x10, 4, 0xFFFFFFFF);
    ck_assert_uint_eq(dev_pci_config_read(h, 0, devfn, 0x10, 4), 0xFF000000);
    dev_pci_config_write(h, 0, devfn, 0x10, 4, 0xE0000000);
    dev_pci_config_write(h, 0, devfn, 0x30, 4, 0xFFFFFFFF);
    ck_assert_uint_eq(dev_pci_config_read(h, 0, devfn, 0x30, 4), 0xFFFFF001);  /* 4 KiB ROM */
    dev_pci_config_write(h, 0, devfn, 0x30, 4, 0xFEB00001);
    dev_pci_config_write(h, 0, devfn, 0x04, 2, DEV_PCI_CMD_MEM);
    uint64_t d = 0;
    ck_assert(dev_bus_mmio(bus, 0xE0010004, 1, false, &d));
    ck_assert_uint_eq(d, 0x5A);
    d = 0xDDCCBBAA;
    ck_assert(dev_bus_mmio(bus, 0xE0000000, 4, true, &d));
    ck_assert(dev_bus_mmio(bus, 0xFEB00000, 2, false, &d));
    ck_assert_uint_eq(d, 0xAA55);
    /* The LFB pixel renders: 32 bpp is B, G, R, X in memory. */
    uint32_t *px = NULL;
    size_t cap = 0;
    unsigned w, hh;
    ck_assert_int_eq(dev_vga_render(vga, &px, &cap, &w, &hh), 0);
    ck_assert_uint_eq(w, 800);
    ck_assert_uint_eq(hh, 600);
    ck_assert_uint_eq(px[0], 0xCCBBAA);
    free(px);
    /* Enabling again without NOCLEARMEM clears the frame. */
    outw(0x1CE, 4); outw(0x1CF, 0x00); outw(0x1CF, 0x41);
    d = 1;
    dev_bus_mmio(bus, 0xE0000000, 4, false, &d);
    ck_assert_uint_eq(d, 0);
    dev_vga_free(vga);                  /* unregisters from the host first */
    vga = NULL;
    dev_pci_host_free(h);
}
END_TEST

static Suite *vga_suite(void)
{
    Suite *s = suite_create("vga");
    TCase *t = tcase_create("trapped");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, registers_read_back);
    tcase_add_test(t, attribute_flip_flop_and_retrace);
    tcase_add_test(t, dac_autoincrement);
    tcase_add_test(t, write_mode_0_setreset_rotate_logic_mask);
    tcase_add_test(t, write_modes_1_2_3);
    tcase_add_test(t, read_mode_1_color_compare);
    tcase_add_test(t, odd_even_and_chain4_trapped);
    tcase_add_test(t, vbe_registers_and_lfb);
    suite_add_tcase(s, t);
    TCase *f = tcase_create("fast");
    tcase_add_checked_fixture(f, setup_ram, teardown);
    tcase_add_test(f, fast_window_follows_mode);
    tcase_add_test(f, fast_window_chain4);
    tcase_add_test(f, text_snapshot);
    tcase_add_test(f, render_text_uses_font);
    tcase_add_test(f, render_mode13_and_12);
    suite_add_tcase(s, f);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(vga_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
