/*
 * guests/vgatest/vgatest.c — the standard VGA as a guest programs it
 * directly (no BIOS calls): self-checked cases reported as "vgatest: <case>
 * ok", then a screen left for the harness to compare (tests/guest/vgatest.sh).
 *
 * Cases: the PCI function (1234:1111, class 0300, BAR0 prefetchable
 * memory), the Bochs VBE ID and memory size, the retrace bit, text written
 * at 0xB8000 surviving a font-load style switch to planar mode and back,
 * write modes 0-3 / read mode 1 / latches in planar mode, chain-4
 * plane selection.
 *
 * Command line: screen=text|text50|13h|12h|vbe picks the final screen; "wait"
 * halts instead of exiting (QEMU stays up for its monitor's screendump).
 */
#include <stdbool.h>

#include "guest.h"

static unsigned failures;
static const char *cur;

static void begin(const char *name)
{
    cur = name;
}

static void check(const char *what, uint32_t want, uint32_t got)
{
    if (want != got) {
        gprintf("vgatest: %s FAIL %s: want %x got %x\n", cur, what, want, got);
        failures++;
    }
}

static void end(unsigned before)
{
    if (failures == before)
        gprintf("vgatest: %s ok\n", cur);
}

static volatile uint8_t *const vmem = (volatile uint8_t *)0xA0000;

static void sr(unsigned i, uint8_t v) { outb(0x3C4, (uint8_t)i); outb(0x3C5, v); }
static void gr(unsigned i, uint8_t v) { outb(0x3CE, (uint8_t)i); outb(0x3CF, v); }
static uint8_t gr_get(unsigned i) { outb(0x3CE, (uint8_t)i); return inb(0x3CF); }
static uint8_t sr_get(unsigned i) { outb(0x3C4, (uint8_t)i); return inb(0x3C5); }

static void cr(unsigned i, uint8_t v)
{
    outb(0x3D4, (uint8_t)i);
    outb(0x3D5, v);
}

static void ar(unsigned i, uint8_t v)
{
    inb(0x3DA);
    outb(0x3C0, (uint8_t)i);
    outb(0x3C0, v);
}

static uint32_t pci_read(unsigned dev, unsigned reg)
{
    outl(0xCF8, 0x80000000u | dev << 11 | reg);
    return inl(0xCFC);
}

static void test_pci(void)
{
    unsigned f = failures;
    begin("pci");
    check("00:02.0 IDs", 0x11111234, pci_read(2, 0));
    check("class", 0x030000, pci_read(2, 8) >> 8);
    end(f);
}

static void test_vbe(void)
{
    unsigned f = failures;
    begin("vbe");
    outw(0x1CE, 0);
    check("ID", 0xB0C5, inw(0x1CF));
    outw(0x1CE, 0xA);
    check("video memory 64K units", 256, inw(0x1CF));
    outw(0x1CE, 4);
    check("disabled", 0, inw(0x1CF) & 1);
    end(f);
}

static void test_retrace(void)
{
    unsigned f = failures;
    begin("retrace");
    int seen_on = 0, seen_off = 0;
    for (int i = 0; i < 1000000 && !(seen_on && seen_off); i++) {
        if (inb(0x3DA) & 8)
            seen_on = 1;
        else
            seen_off = 1;
    }
    check("vertical retrace seen set", 1, seen_on);
    check("vertical retrace seen clear", 1, seen_off);
    end(f);
}

/* What VGA BIOSes do around a font load: plane 2 alone, planar, 0xA0000. */
static void font_access_on(void)
{
    sr(2, 0x04);
    sr(4, 0x06);
    gr(4, 0x02);
    gr(5, 0x00);
    gr(6, 0x04);
}

static void font_access_off(void)
{
    sr(2, 0x03);
    sr(4, 0x02);
    gr(4, 0x00);
    gr(5, 0x10);
    gr(6, 0x0E);
}

static volatile uint16_t *const text = (volatile uint16_t *)0xB8000;

static void put_text(unsigned row, unsigned col, uint8_t attr, const char *s)
{
    for (; *s; s++, col++)
        text[row * 80 + col] = (uint16_t)(attr << 8 | (uint8_t)*s);
}

static void test_text_roundtrip(void)
{
    unsigned f = failures;
    begin("text_roundtrip");
    put_text(0, 0, 0x1E, "vgatest text");
    check("cell read back", 0x1E76, text[0]);
    font_access_on();
    /* Rows 16-31 of a glyph are unused by 8x16 fonts: safe to scribble. */
    vmem[0xFE * 32 + 20] = 0x5A;
    check("plane 2 byte", 0x5A, vmem[0xFE * 32 + 20]);
    font_access_off();
    check("text after the switch", 0x1E76, text[0]);
    check("text cell 11", 0x1E74, text[11]);
    text[1] = 0x2F47;   /* written after returning: plain text path */
    font_access_on();
    check("plane 2 kept", 0x5A, vmem[0xFE * 32 + 20]);
    font_access_off();
    check("cell 1", 0x2F47, text[1]);
    text[1] = 0x1E67;
    end(f);
}

/* Planar access at 0xA0000 (64K), all planes; returns to text after. */
static void planar_on(void)
{
    sr(2, 0x0F);
    sr(4, 0x06);
    gr(5, 0x00);
    gr(6, 0x05);
    gr(8, 0xFF);
}

static uint8_t plane_read(unsigned p, unsigned off)
{
    gr(4, (uint8_t)p);
    return vmem[off];
}

static void plane_write(unsigned p, unsigned off, uint8_t v)
{
    sr(2, (uint8_t)(1u << p));
    vmem[off] = v;
    sr(2, 0x0F);
}

static void test_write_modes(void)
{
    unsigned f = failures;
    begin("write_modes");
    uint8_t sr2 = sr_get(2), sr4 = sr_get(4), g4 = gr_get(4), g5 = gr_get(5), g6 = gr_get(6);
    planar_on();
    const unsigned o = 0xC000;   /* far above the text and font areas */
    plane_write(0, o, 0x11);
    plane_write(1, o, 0x22);
    plane_write(2, o, 0x33);
    plane_write(3, o, 0x44);
    /* Write mode 1: a latch copy moves all four planes at once. */
    (void)vmem[o];
    gr(5, 0x01);
    vmem[o + 1] = 0;
    gr(5, 0x00);
    check("mode 1 plane 0", 0x11, plane_read(0, o + 1));
    check("mode 1 plane 3", 0x44, plane_read(3, o + 1));
    /* Write mode 2 with a bit mask. */
    (void)vmem[o + 2];
    gr(5, 0x02);
    gr(8, 0x0F);
    vmem[o + 2] = 0x05;
    gr(8, 0xFF);
    gr(5, 0x00);
    check("mode 2 plane 0", 0x0F, plane_read(0, o + 2));
    check("mode 2 plane 1", 0x00, plane_read(1, o + 2));
    /* Write mode 0: set/reset on plane 0, rotate 4, XOR, bit mask. */
    plane_write(0, o + 3, 0xF0);
    plane_write(1, o + 3, 0xF0);
    (void)vmem[o + 3];
    gr(0, 0x01);
    gr(1, 0x01);
    gr(3, 0x18 | 4);
    gr(8, 0x3C);
    vmem[o + 3] = 0x0F;
    gr(0, 0);
    gr(1, 0);
    gr(3, 0);
    gr(8, 0xFF);
    check("mode 0 set/reset xor", 0xCC, plane_read(0, o + 3));
    check("mode 0 rotate xor", 0xC0, plane_read(1, o + 3));
    /* Write mode 3: set/reset colour under (rotated CPU byte & bit mask). */
    (void)vmem[o + 4];
    gr(0, 0x0A);
    gr(5, 0x03);
    gr(8, 0xF0);
    vmem[o + 4] = 0x3C;
    gr(5, 0x00);
    gr(8, 0xFF);
    gr(0, 0x00);
    check("mode 3 plane 1", 0x30, plane_read(1, o + 4));
    check("mode 3 plane 0", 0x00, plane_read(0, o + 4));
    /* Read mode 1: colour compare. */
    plane_write(0, o + 5, 0xFF);
    plane_write(1, o + 5, 0x0F);
    plane_write(2, o + 5, 0x00);
    plane_write(3, o + 5, 0xAA);
    gr(5, 0x08);
    gr(2, 0x0B);
    gr(7, 0x0F);
    check("read mode 1", 0x0A, vmem[o + 5]);
    gr(5, 0x00);
    /* Chain-4: A1:0 pick the plane. (Which plane offset the rest of A
     * becomes differs between QEMU, A >> 2, and the VGA, A & ~3:
     * docs/display.md; tests/unit/test_vga.c checks btvm's.) */
    sr(4, 0x0E);
    vmem[o + 8 + 2] = 0x99;
    vmem[o + 8 + 1] = 0x66;
    check("chain-4 read back", 0x99, vmem[o + 8 + 2]);
    check("chain-4 neighbour", 0x66, vmem[o + 8 + 1]);
    sr(4, 0x06);
    sr(2, sr2); sr(4, sr4); gr(4, g4); gr(5, g5); gr(6, g6);
    end(f);
}

static void set_regs(uint8_t misc, const uint8_t *s, const uint8_t *c, const uint8_t *g,
                     const uint8_t *a)
{
    outb(0x3C2, misc);
    for (unsigned i = 0; i < 5; i++)
        sr(i, s[i]);
    cr(0x11, 0x00);
    for (unsigned i = 0; i < 25; i++)
        cr(i, c[i]);
    for (unsigned i = 0; i < 9; i++)
        gr(i, g[i]);
    for (unsigned i = 0; i < 21; i++)
        ar(i, a[i]);
    inb(0x3DA);
    outb(0x3C0, 0x20);
}

static void screen_13h(void)
{
    static const uint8_t s[5] = { 0x03, 0x01, 0x0F, 0x00, 0x0E };
    static const uint8_t c[25] = { 0x5F, 0x4F, 0x50, 0x82, 0x54, 0x80, 0xBF, 0x1F, 0x00,
                                   0x41, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x9C, 0x8E,
                                   0x8F, 0x28, 0x40, 0x96, 0xB9, 0xA3, 0xFF };
    static const uint8_t g[9] = { 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x05, 0x0F, 0xFF };
    static const uint8_t a[21] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                   0x41, 0x00, 0x0F, 0x00, 0x00 };
    set_regs(0x63, s, c, g, a);
    outb(0x3C8, 0);
    for (unsigned i = 0; i < 256; i++) {
        outb(0x3C9, (uint8_t)(i & 0x3F));
        outb(0x3C9, (uint8_t)((i >> 2) & 0x3F));
        outb(0x3C9, (uint8_t)((i * 7) & 0x3F));
    }
    for (unsigned y = 0; y < 200; y++)
        for (unsigned x = 0; x < 320; x++)
            vmem[y * 320 + x] = (uint8_t)((x ^ y) + (y >> 3));
}

static void screen_12h(void)
{
    static const uint8_t s[5] = { 0x03, 0x01, 0x0F, 0x00, 0x06 };
    static const uint8_t c[25] = { 0x5F, 0x4F, 0x50, 0x82, 0x54, 0x80, 0x0B, 0x3E, 0x00,
                                   0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xEA, 0x8C,
                                   0xDF, 0x28, 0x00, 0xE7, 0x04, 0xE3, 0xFF };
    static const uint8_t g[9] = { 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x0F, 0xFF };
    static const uint8_t a[21] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                   0x01, 0x00, 0x0F, 0x00, 0x00 };
    set_regs(0xE3, s, c, g, a);
    outb(0x3C8, 0);
    for (unsigned i = 0; i < 16; i++) {
        outb(0x3C9, (uint8_t)(i * 4));
        outb(0x3C9, (uint8_t)(63 - i * 4));
        outb(0x3C9, (uint8_t)((i & 3) * 21));
    }
    /* Clear with set/reset, then colour bands in write mode 2 with a
     * sliding bit mask, and a box through map mask in write mode 0. */
    gr(1, 0x0F);
    gr(0, 0x00);
    for (unsigned i = 0; i < 80 * 480; i++)
        vmem[i] = 0;
    gr(1, 0x00);
    gr(5, 0x02);
    for (unsigned y = 0; y < 480; y++)
        for (unsigned xb = 0; xb < 80; xb++) {
            gr(8, (uint8_t)(0x80 >> ((xb + y / 16) & 7)));
            (void)vmem[y * 80 + xb];
            vmem[y * 80 + xb] = (uint8_t)((xb / 5 + y / 30) & 15);
        }
    gr(8, 0xFF);
    gr(5, 0x00);
    sr(2, 0x05);
    for (unsigned y = 100; y < 200; y++)
        for (unsigned xb = 20; xb < 40; xb++)
            vmem[y * 80 + xb] = 0xF0;
    sr(2, 0x0F);
}

static void screen_text(bool fifty)
{
    for (unsigned i = 0; i < 80 * 50; i++)
        text[i] = 0x0720;
    if (fifty) {
        outb(0x3D4, 0x09);
        cr(0x09, (uint8_t)((inb(0x3D5) & 0xE0) | 0x07));   /* 8-line cells: 50 rows */
    }
    put_text(0, 0, 0x1E, "vgatest: text screen");
    put_text(1, 2, 0x4F, "white on red");
    put_text(fifty ? 49 : 24, 70, 0x07, "last row");
    /* Cursor at row 2, column 5. */
    unsigned pos = 2 * 80 + 5;
    cr(0x0E, (uint8_t)(pos >> 8));
    cr(0x0F, (uint8_t)pos);
}

static void vbe(unsigned idx, uint16_t v)
{
    outw(0x1CE, (uint16_t)idx);
    outw(0x1CF, v);
}

/* Bochs VBE 800x600x32 through the LFB (BAR0, assigned here when no
 * firmware did), the top rows also through the banked 0xA0000 window. */
static void screen_vbe(void)
{
    uint32_t bar = pci_read(2, 0x10) & ~0xFu;
    if (!bar) {
        outl(0xCF8, 0x80000000u | 2 << 11 | 0x10);
        outl(0xCFC, 0xE0000000u);
        bar = 0xE0000000u;
    }
    outl(0xCF8, 0x80000000u | 2 << 11 | 0x04);
    outl(0xCFC, inl(0xCFC) | 2);                 /* memory decode on */
    vbe(4, 0);
    vbe(1, 800);
    vbe(2, 600);
    vbe(3, 32);
    vbe(4, 0x41);                                /* enabled, LFB */
    volatile uint32_t *lfb = (volatile uint32_t *)(uintptr_t)bar;
    for (unsigned y = 16; y < 600; y++)
        for (unsigned x = 0; x < 800; x++)
            lfb[y * 800 + x] = (x * 255 / 799) << 16 | (y * 255 / 599) << 8 | ((x ^ y) & 0xFF);
    /* Rows 0-15 (800 * 16 * 4 = 51200 bytes) through bank 0 at 0xA0000. */
    vbe(5, 0);
    volatile uint32_t *win = (volatile uint32_t *)0xA0000;
    for (unsigned i = 0; i < 800 * 16; i++)
        win[i] = 0x00FF8000u | (i & 0xFF);
    unsigned f = failures;
    begin("vbe_lfb");
    check("LFB reads what the window wrote", 0x00FF8005u, lfb[5]);
    vbe(5, 1);                                   /* bank 1: VRAM 64K.. */
    check("bank 1 sees the LFB", lfb[0x10000 / 4 + 3], win[3]);
    end(f);
}

static bool has(const char *s, const char *w)
{
    size_t n = strlen(w);
    for (; s && *s; s++)
        if (!memcmp(s, w, n))
            return true;
    return false;
}

int guest_main(uint32_t magic, uint32_t mbi)
{
    const char *cmdline = 0;
    if (magic == 0x2BADB002 && (((const uint32_t *)(uintptr_t)mbi)[0] & 4))
        cmdline = (const char *)(uintptr_t)((const uint32_t *)(uintptr_t)mbi)[4];
    outb(0x3C2, inb(0x3CC) | 1);   /* colour I/O addresses */
    test_pci();
    test_vbe();
    test_retrace();
    test_text_roundtrip();
    test_write_modes();
    gprintf("vgatest: %u failures\n", failures);
    if (has(cmdline, "screen=13h"))
        screen_13h();
    else if (has(cmdline, "screen=vbe"))
        screen_vbe();
    else if (has(cmdline, "screen=12h"))
        screen_12h();
    else
        screen_text(has(cmdline, "screen=text50"));
    serial_puts("vgatest: drawn\n");
    /* "keys": show the scancodes the keyboard sends (polled), on the
     * screen's row 3 and on COM1, until Escape (make code 0x01). */
    if (has(cmdline, "keys")) {
        unsigned col = 0;
        for (;;) {
            if (!(inb(0x64) & 1))
                continue;
            bool aux = inb(0x64) & 0x20;
            uint8_t sc = inb(0x60);
            if (aux)
                continue;
            gprintf("vgatest: key %x\n", sc);
            static const char hex[] = "0123456789abcdef";
            text[3 * 80 + col] = (uint16_t)(0x0A00 | hex[sc >> 4]);
            text[3 * 80 + col + 1] = (uint16_t)(0x0A00 | hex[sc & 15]);
            col = (col + 3) % 78;
            if (sc == 0x01)
                break;
        }
    }
    if (has(cmdline, "wait"))
        for (;;)
            __asm__ volatile("cli; hlt");   /* no IDT: no interrupts */
    return failures ? 1 : 0;
}
