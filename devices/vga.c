/*
 * devices/vga.c — the VGA's registers (0x3B0-0x3DF) and its memory window
 * (0xA0000-0xBFFFF): four 64 KiB planes behind the sequencer's and the
 * graphics controller's addressing (planar, odd/even, chain-4), latches,
 * write modes 0-3, read modes 0-1.
 *
 * The window is trapped MMIO only while it must be: when odd/even (text)
 * or chain-4 (mode 13h) writes and reads behave as plain memory, the
 * decoded window is left to guest RAM, which holds the planes' bytes
 * interleaved exactly as the CPU addresses them, and the renderer reads
 * them there. docs/display.md ("the fast window").
 */
#include "devices/vga_own.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- memory ---- */

/* The window GR6's memory map selects (IBM VGA: 128K, 64K, 32K, 32K). */
static void decoded_window(const struct dev_vga *v, uint32_t *base, uint32_t *len)
{
    if (vga_vbe_enabled(v)) {
        *base = DEV_VGA_WINDOW_BASE;
        *len = 0x10000;
        return;
    }
    static const uint32_t b[4] = { 0xA0000, 0xA0000, 0xB0000, 0xB8000 };
    static const uint32_t l[4] = { 0x20000, 0x10000, 0x8000, 0x8000 };
    unsigned m = (v->gr[6] >> 2) & 3;
    *base = b[m];
    *len = l[m];
}

uint8_t vga_plane_byte(const struct dev_vga *v, unsigned p, uint32_t off)
{
    off &= VGA_PLANE_SIZE - 1;
    if (v->fast && p < v->group && off % v->group == 0 && off + p < v->win_len)
        return v->ram[v->win_base + off + p];
    return v->plane[p][off];
}

static void load_latches(struct dev_vga *v, uint32_t off)
{
    for (unsigned p = 0; p < 4; p++)
        v->latch[p] = v->plane[p][off];
}

static uint8_t mem_read(struct dev_vga *v, uint32_t addr)
{
    if (addr < v->win_base || addr - v->win_base >= v->win_len)
        return 0xFF;
    uint32_t a = addr - v->win_base;
    if (vga_vbe_enabled(v)) {
        uint8_t val = 0;
        vga_vbe_window(v, a, false, &val);
        return val;
    }
    uint32_t off;
    unsigned p;
    if (v->sr[4] & 0x08) {              /* chain-4: A1:0 pick the plane */
        p = a & 3;
        off = (a & ~3u) & (VGA_PLANE_SIZE - 1);
        load_latches(v, off);
        return v->plane[p][off];
    }
    if (v->gr[5] & 0x10) {              /* odd/even: A0 picks the plane of a pair */
        p = (v->gr[4] & 2) | (a & 1);
        off = (a & ~1u) & (VGA_PLANE_SIZE - 1);
        load_latches(v, off);
        return v->plane[p][off];
    }
    off = a & (VGA_PLANE_SIZE - 1);
    load_latches(v, off);
    if (!(v->gr[5] & 0x08))              /* read mode 0: the plane GR4 selects */
        return v->latch[v->gr[4] & 3];
    /* Read mode 1: 1 where every plane that counts (GR7) matches GR2. */
    uint8_t r = 0xFF;
    for (p = 0; p < 4; p++)
        if (v->gr[7] >> p & 1)
            r &= (uint8_t)~(v->latch[p] ^ ((v->gr[2] >> p & 1) ? 0xFF : 0x00));
    return r;
}

static uint8_t ror8(uint8_t x, unsigned n)
{
    n &= 7;
    return n ? (uint8_t)(x >> n | x << (8 - n)) : x;
}

/* The graphics controller's data path for one CPU byte (write modes 0-3,
 * set/reset, rotate, logical op, bit mask). */
static void write_logic(const struct dev_vga *v, uint8_t val, uint8_t out[4])
{
    unsigned wm = v->gr[5] & 3;
    if (wm == 1) {
        memcpy(out, v->latch, 4);
        return;
    }
    uint8_t bm = v->gr[8], d[4];
    for (unsigned p = 0; p < 4; p++) {
        bool sr = v->gr[0] >> p & 1;
        switch (wm) {
        case 0:
            d[p] = (v->gr[1] >> p & 1) ? (sr ? 0xFF : 0) : ror8(val, v->gr[3]);
            break;
        case 2:
            d[p] = (val >> p & 1) ? 0xFF : 0;
            break;
        default: /* 3 */
            d[p] = sr ? 0xFF : 0;
            break;
        }
    }
    if (wm == 3)
        bm &= ror8(val, v->gr[3]);
    for (unsigned p = 0; p < 4; p++) {
        switch ((v->gr[3] >> 3) & 3) {
        case 1: d[p] &= v->latch[p]; break;
        case 2: d[p] |= v->latch[p]; break;
        case 3: d[p] ^= v->latch[p]; break;
        default: break;
        }
        out[p] = (uint8_t)((d[p] & bm) | (v->latch[p] & ~bm));
    }
}

static void mem_write(struct dev_vga *v, uint32_t addr, uint8_t val)
{
    if (addr < v->win_base || addr - v->win_base >= v->win_len)
        return;
    uint32_t a = addr - v->win_base;
    if (vga_vbe_enabled(v)) {
        vga_vbe_window(v, a, true, &val);
        return;
    }
    unsigned mask = v->sr[2] & 0xF;
    uint32_t off;
    if (v->sr[4] & 0x08) {
        mask &= 1u << (a & 3);
        off = a & ~3u;
    } else if (!(v->sr[4] & 0x04)) {    /* odd/even: even bytes to planes 0/2 */
        mask &= (a & 1) ? 0xA : 0x5;
        off = a & ~1u;
    } else {
        off = a;
    }
    off &= VGA_PLANE_SIZE - 1;
    uint8_t d[4];
    write_logic(v, val, d);
    for (unsigned p = 0; p < 4; p++)
        if (mask >> p & 1)
            v->plane[p][off] = d[p];
}

static void mem_access(struct dev_vga *v, uint32_t addr, unsigned size, bool is_write,
                       uint64_t *data)
{
    if (is_write) {
        for (unsigned i = 0; i < size; i++)
            mem_write(v, addr + i, (uint8_t)(*data >> (8 * i)));
        return;
    }
    uint64_t r = 0;
    for (unsigned i = 0; i < size; i++)
        r |= (uint64_t)mem_read(v, addr + i) << (8 * i);
    *data = r;
}

static void mem_lo(void *opaque, uint64_t offset, unsigned size, bool is_write, uint64_t *data)
{
    struct dev_vga *v = opaque;
    mem_access(v, (uint32_t)(v->mmio_base[0] + offset), size, is_write, data);
}

static void mem_hi(void *opaque, uint64_t offset, unsigned size, bool is_write, uint64_t *data)
{
    struct dev_vga *v = opaque;
    mem_access(v, (uint32_t)(v->mmio_base[1] + offset), size, is_write, data);
}

/* Whether CPU accesses to the decoded window behave as plain memory, and
 * with which interleave: every written plane takes the CPU byte unchanged
 * (write mode 0, no set/reset, rotate, logical op; bit mask 0xFF), reads
 * return the addressed plane (read mode 0), and the map mask covers
 * exactly the planes the interleave reaches. A window larger than a plane
 * aliases, which RAM cannot. */
static unsigned fast_group(const struct dev_vga *v, uint32_t len)
{
    if (!v->ram || vga_vbe_enabled(v) || len > VGA_PLANE_SIZE)
        return 0;
    if ((v->gr[5] & 0x0B) || v->gr[3] || v->gr[8] != 0xFF || (v->gr[1] & 0xF))
        return 0;
    unsigned mm = v->sr[2] & 0xF;
    if (v->sr[4] & 0x08)
        return mm == 0xF ? 4 : 0;
    if (!(v->sr[4] & 0x04) && (v->gr[5] & 0x10) && !(v->gr[4] & 2))
        return mm == 0x3 ? 2 : 0;
    return 0;
}

static void ram_to_planes(struct dev_vga *v)
{
    for (uint32_t a = 0; a < v->win_len; a++) {
        unsigned p = a % v->group;
        v->plane[p][(a - p) & (VGA_PLANE_SIZE - 1)] = v->ram[v->win_base + a];
    }
}

static void planes_to_ram(struct dev_vga *v)
{
    for (uint32_t a = 0; a < v->win_len; a++) {
        unsigned p = a % v->group;
        v->ram[v->win_base + a] = v->plane[p][(a - p) & (VGA_PLANE_SIZE - 1)];
    }
}

static void unmap_window(struct dev_vga *v)
{
    for (int i = 0; i < 2; i++)
        if (v->mmio_base[i]) {
            dev_bus_unregister_mmio(v->bus, v->mmio_base[i]);
            v->mmio_base[i] = 0;
        }
}

void vga_update_window(struct dev_vga *v)
{
    uint32_t base, len;
    decoded_window(v, &base, &len);
    unsigned g = fast_group(v, len);
    bool f = g != 0;
    if (v->mmio_base[0] || v->mmio_base[1] || v->fast) {
        if (f == v->fast && base == v->win_base && len == v->win_len && g == v->group)
            return;
    }
    if (v->fast)
        ram_to_planes(v);
    bool was_fast = v->fast;
    unmap_window(v);
    v->fast = f;
    v->win_base = base;
    v->win_len = len;
    v->group = g;
    /* Trapped: the whole 128 KiB. Fast: only what lies outside the window
     * (it reads all-ones, as nothing decodes it). */
    uint64_t lo = DEV_VGA_WINDOW_BASE, end = DEV_VGA_WINDOW_BASE + DEV_VGA_WINDOW_LEN;
    if (!f) {
        if (dev_bus_register_mmio(v->bus, lo, end - lo, "vga-window", mem_lo, v) == 0)
            v->mmio_base[0] = lo;
    } else {
        if (base > lo &&
            dev_bus_register_mmio(v->bus, lo, base - lo, "vga-window", mem_lo, v) == 0)
            v->mmio_base[0] = lo;
        if (base + len < end &&
            dev_bus_register_mmio(v->bus, base + len, end - (base + len), "vga-window", mem_hi,
                                  v) == 0)
            v->mmio_base[1] = base + len;
        planes_to_ram(v);
    }
    /* Pages that were RAM may now trap: cached translations must go. */
    if (v->window_changed && (was_fast || f))
        v->window_changed(v->ctx, DEV_VGA_WINDOW_BASE, DEV_VGA_WINDOW_LEN);
}

bool dev_vga_window_is_ram(const struct dev_vga *v)
{
    return v->fast;
}

/* ---- registers ---- */

static bool color_io(const struct dev_vga *v)
{
    return v->misc & 1;   /* I/O address select: CRTC at 0x3D4, else 0x3B4 */
}

static void crtc_write(struct dev_vga *v, uint8_t val)
{
    unsigned i = v->cr_idx;
    if (i >= sizeof(v->cr))
        return;
    if ((v->cr[0x11] & 0x80) && i <= 7) {   /* CR0-7 write-protected but CR7 bit 4 */
        if (i == 7)
            v->cr[7] = (uint8_t)((v->cr[7] & ~0x10) | (val & 0x10));
        return;
    }
    v->cr[i] = val;
}

static void dac_write(struct dev_vga *v, uint8_t val)
{
    v->dac[v->dac_widx][v->dac_sub] = val;
    if (++v->dac_sub == 3) {
        v->dac_sub = 0;
        v->dac_widx++;
    }
}

static uint8_t dac_read(struct dev_vga *v)
{
    uint8_t val = v->dac[v->dac_ridx][v->dac_sub];
    if (++v->dac_sub == 3) {
        v->dac_sub = 0;
        v->dac_ridx++;
    }
    return val;
}

static void port_write(struct dev_vga *v, unsigned port, uint8_t val)
{
    if ((port >= 0x3B0 && port < 0x3C0 && color_io(v)) ||
        (port >= 0x3D0 && port < 0x3E0 && !color_io(v)))
        return;
    switch (port) {
    case 0x3C0:
        if (!v->ar_data) {
            v->ar_idx = val & 0x3F;
        } else {
            unsigned i = v->ar_idx & 0x1F;
            if (i < 0x10)
                v->ar[i] = val & 0x3F;
            else if (i < sizeof(v->ar))
                v->ar[i] = val;
        }
        v->ar_data = !v->ar_data;
        break;
    case 0x3C2:
        v->misc = val;
        break;
    case 0x3C4:
        v->sr_idx = val & 7;
        break;
    case 0x3C5:
        v->sr[v->sr_idx] = val;
        if (v->sr_idx == 2 || v->sr_idx == 4)
            vga_update_window(v);
        break;
    case 0x3C6:
        v->pel_mask = val;
        break;
    case 0x3C7:
        v->dac_ridx = val;
        v->dac_sub = 0;
        v->dac_state = 3;
        break;
    case 0x3C8:
        v->dac_widx = val;
        v->dac_sub = 0;
        v->dac_state = 0;
        break;
    case 0x3C9:
        dac_write(v, (v->vbe[VBE_ENABLE] & VBE_EN_8BIT_DAC) ? val : (val & 0x3F));
        break;
    case 0x3CE:
        v->gr_idx = val & 0xF;
        break;
    case 0x3CF:
        v->gr[v->gr_idx] = val;
        if (v->gr_idx <= 8)
            vga_update_window(v);
        break;
    case 0x3B4: case 0x3D4:
        v->cr_idx = val;
        break;
    case 0x3B5: case 0x3D5:
        crtc_write(v, val);
        break;
    case 0x3BA: case 0x3DA:
        v->fcr = val;
        break;
    default:
        break;   /* 0x3C3 video subsystem enable, 0x3CA/0x3CC read-only, ... */
    }
}

static uint8_t port_read(struct dev_vga *v, unsigned port)
{
    if ((port >= 0x3B0 && port < 0x3C0 && color_io(v)) ||
        (port >= 0x3D0 && port < 0x3E0 && !color_io(v)))
        return 0xFF;
    switch (port) {
    case 0x3C0:
        return v->ar_idx;
    case 0x3C1: {
        unsigned i = v->ar_idx & 0x1F;
        return i < sizeof(v->ar) ? v->ar[i] : 0;
    }
    case 0x3C2:
        return 0;            /* input status 0: no switch sense, no CRT interrupt */
    case 0x3C4:
        return v->sr_idx;
    case 0x3C5:
        return v->sr[v->sr_idx];
    case 0x3C6:
        return v->pel_mask;
    case 0x3C7:
        return v->dac_state;
    case 0x3C8:
        return v->dac_widx;
    case 0x3C9:
        return dac_read(v);
    case 0x3CA:
        return v->fcr;
    case 0x3CC:
        return v->misc;
    case 0x3CE:
        return v->gr_idx;
    case 0x3CF:
        return v->gr[v->gr_idx];
    case 0x3B4: case 0x3D4:
        return v->cr_idx;
    case 0x3B5: case 0x3D5:
        return v->cr_idx < sizeof(v->cr) ? v->cr[v->cr_idx] : 0xFF;
    case 0x3BA: case 0x3DA:
        /* Input status 1: each read flips display-enable and vertical
         * retrace, so both "wait for retrace" and "wait for its end"
         * loops finish without tying the guest to host time. */
        v->ar_data = false;
        v->st1 ^= 0x09;
        return v->st1;
    default:
        return 0xFF;
    }
}

static void vga_ports(void *opaque, uint64_t offset, unsigned size, bool is_write,
                      uint64_t *data)
{
    struct dev_vga *v = opaque;
    unsigned port = 0x3B0 + (unsigned)offset;
    if (is_write) {
        for (unsigned i = 0; i < size; i++)   /* outw 0x3C4: index, then data */
            port_write(v, port + i, (uint8_t)(*data >> (8 * i)));
        return;
    }
    uint64_t r = 0;
    for (unsigned i = 0; i < size; i++)
        r |= (uint64_t)port_read(v, port + i) << (8 * i);
    *data = r;
}

void dev_vga_bios_text_mode(struct dev_vga *v)
{
    /* IBM VGA BIOS parameter table, mode 3 (80x25, 9x16 cells, 720x400). */
    static const uint8_t sr[5] = { 0x03, 0x00, 0x03, 0x00, 0x02 };
    static const uint8_t cr[25] = { 0x5F, 0x4F, 0x50, 0x82, 0x55, 0x81, 0xBF, 0x1F, 0x00,
                                    0x4F, 0x0D, 0x0E, 0x00, 0x00, 0x00, 0x00, 0x9C, 0x8E,
                                    0x8F, 0x28, 0x1F, 0x96, 0xB9, 0xA3, 0xFF };
    static const uint8_t gr[9] = { 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0E, 0x00, 0xFF };
    static const uint8_t ar[21] = { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38,
                                    0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F, 0x0C, 0x00,
                                    0x0F, 0x08, 0x00 };
    port_write(v, 0x3C2, 0x67);
    for (unsigned i = 0; i < sizeof(sr); i++) {
        port_write(v, 0x3C4, (uint8_t)i);
        port_write(v, 0x3C5, sr[i]);
    }
    port_write(v, 0x3D4, 0x11);
    port_write(v, 0x3D5, 0x00);   /* unprotect CR0-7 */
    for (unsigned i = 0; i < sizeof(cr); i++) {
        port_write(v, 0x3D4, (uint8_t)i);
        port_write(v, 0x3D5, cr[i]);
    }
    for (unsigned i = 0; i < sizeof(gr); i++) {
        port_write(v, 0x3CE, (uint8_t)i);
        port_write(v, 0x3CF, gr[i]);
    }
    port_read(v, 0x3DA);
    for (unsigned i = 0; i < sizeof(ar); i++) {
        port_write(v, 0x3C0, (uint8_t)i);
        port_write(v, 0x3C0, ar[i]);
    }
    port_write(v, 0x3C0, 0x20);   /* palette address source: display on */
    /* The EGA-compatible 64-colour DAC table: bits 2/1/0 are R/G/B at
     * 2/3 intensity, bits 5/4/3 add 1/3. */
    port_write(v, 0x3C8, 0);
    for (unsigned i = 0; i < 256; i++) {
        unsigned r = (i >> 2 & 1) * 0x2A + (i >> 5 & 1) * 0x15;
        unsigned g = (i >> 1 & 1) * 0x2A + (i >> 4 & 1) * 0x15;
        unsigned b = (i & 1) * 0x2A + (i >> 3 & 1) * 0x15;
        port_write(v, 0x3C9, (uint8_t)(i < 64 ? r : 0));
        port_write(v, 0x3C9, (uint8_t)(i < 64 ? g : 0));
        port_write(v, 0x3C9, (uint8_t)(i < 64 ? b : 0));
    }
    /* Blank cells, light grey on black, as INT 10h AH=00 leaves them. */
    for (uint32_t a = 0; a < 0x8000; a += 2) {
        uint64_t cell = 0x0720;
        mem_access(v, 0xB8000 + a, 2, true, &cell);
        if (v->fast) {
            v->ram[0xB8000 + a] = 0x20;
            v->ram[0xB8000 + a + 1] = 0x07;
        }
    }
}

struct dev_vga *dev_vga_new(const struct dev_vga_config *cfg)
{
    struct dev_vga *v = calloc(1, sizeof(*v));
    if (!v)
        return NULL;
    v->bus = cfg->bus;
    v->ram = cfg->ram;
    v->window_changed = cfg->window_changed;
    v->ctx = cfg->ctx;
    v->pel_mask = 0xFF;
    if (vga_vbe_init(v, cfg->vram_size ? cfg->vram_size : DEV_VGA_VRAM_DEFAULT) ||
        dev_bus_register_pio(v->bus, 0x3B0, 0x30, "vga", vga_ports, v) != 0) {
        vga_vbe_free(v);
        free(v);
        return NULL;
    }
    vga_update_window(v);
    if (!v->mmio_base[0]) {
        dev_bus_unregister_pio(v->bus, 0x3B0);
        vga_vbe_free(v);
        free(v);
        return NULL;
    }
    return v;
}

void dev_vga_free(struct dev_vga *v)
{
    if (!v)
        return;
    if (v->pci_registered)
        dev_pci_unregister(v->pci.host, v->pci.devfn);   /* unmaps its BARs */
    unmap_window(v);
    dev_bus_unregister_pio(v->bus, 0x3B0);
    vga_vbe_free(v);
    free(v);
}
