/*
 * guests/hostile/virtio.c — the virtio-blk mode of the hostile guest: a
 * seeded driver that sets the device up wrongly (legacy and modern, queue
 * sizes that are not powers of two, rings past RAM), fills rings with
 * garbage chains (loops, indexes past the table, lengths past RAM, buffers
 * at 0xFFFFF000 or on MMIO, nested and chained indirect tables, readable
 * after writable, zero lengths, available indexes that jump), writes
 * random values to every register of both BARs, resets the device with
 * requests in flight and moves its BARs. In-RAM buffers and rings lie only
 * in the upper half of RAM. Afterwards a clean setup must still write a
 * sector and read it back. docs/guests.md ("virtio-blk").
 */
#include "hostile.h"

#define FAIL 97                     /* as devices.c */

#define VDEVFN (3u << 3)            /* 00:03.0: the first -drive if=virtio */
#define VIO 0xc100u                 /* BAR0 */
#define VMEM 0xfe000000u            /* BAR4 */
#define QSIZE 256u

static uint32_t arena_lo, arena_hi;
static uint32_t ops_setup, ops_reqs, seen_reset;

static uint32_t rnd(void) { return hostile_rnd(); }

static uint32_t pci_rd(unsigned reg)
{
    outl(0xcf8, 0x80000000u | VDEVFN << 8 | (reg & 0xfc));
    return inl(0xcfc);
}

static void pci_wr(unsigned reg, uint32_t v)
{
    outl(0xcf8, 0x80000000u | VDEVFN << 8 | (reg & 0xfc));
    outl(0xcfc, v);
}

static volatile uint8_t *mem8(uint32_t off) { return (volatile uint8_t *)(uintptr_t)(VMEM + off); }
static void mw32(uint32_t off, uint32_t v) { *(volatile uint32_t *)mem8(off) = v; }
static void mw16(uint32_t off, uint16_t v) { *(volatile uint16_t *)mem8(off) = v; }
static uint32_t mr32(uint32_t off) { return *(volatile uint32_t *)mem8(off); }

/* An address for a buffer or ring: mostly in the arena, else somewhere a
 * device must refuse. */
static uint32_t addr(uint32_t ram_top, uint32_t len)
{
    switch (rnd() & 15) {
    case 0: return ram_top - (rnd() & 0xfff);          /* running off the end of RAM */
    case 1: return ram_top + (rnd() & 0xffff);         /* just past RAM */
    case 2: return 0xfffff000u + (rnd() & 0xfff);      /* wraps */
    case 3: return VMEM + (rnd() & 0x3fff);            /* its own registers */
    case 4: return 0xfec00000u;                        /* the I/O APIC */
    case 5: return rnd();
    default: {
        uint32_t span = arena_hi - arena_lo;
        uint32_t a = arena_lo + rnd() % span;
        if (len < span && a + len > arena_hi)
            a = arena_hi - len;
        return a;
    }
    }
}

static uint32_t rlen(void)
{
    switch (rnd() & 7) {
    case 0: return 0;
    case 1: return rnd();
    case 2: return 1;
    case 3: return 16;
    default: return (rnd() & 15) * 512 + (rnd() & 1 ? 0 : rnd() & 511);
    }
}

struct desc { uint32_t addr_lo, addr_hi, len; uint16_t flags, next; };

static void garbage_desc(struct desc *d, uint32_t ram_top, unsigned n)
{
    d->len = rlen();
    d->addr_lo = addr(ram_top, d->len);
    d->addr_hi = (rnd() & 31) == 0 ? rnd() : 0;
    d->flags = (uint16_t)(rnd() & 7 ? rnd() & 7 : rnd());
    d->next = (uint16_t)(rnd() & 7 ? rnd() % (n ? n : 1) : rnd());
}

/* A plausible request header in the arena: any type, often a real one. */
static uint32_t header(uint32_t ram_top)
{
    static const uint32_t types[] = { 0, 1, 4, 8, 11, 13 };
    uint32_t h = addr(ram_top, 16);
    if (h >= arena_lo && h + 16 <= arena_hi) {
        volatile uint32_t *p = (volatile uint32_t *)(uintptr_t)h;
        p[0] = rnd() & 3 ? types[rnd() % 6] : rnd();
        p[1] = 0;
        p[2] = rnd() & 1 ? rnd() & 0x7ff : rnd();       /* sector: in range or not */
        p[3] = rnd() & 3 ? 0 : rnd();
    }
    return h;
}

/* Fill n descriptors of the table at t (in the arena) with chains, some of
 * them sane, then publish k heads. */
static void garbage_ring(uint32_t desc, uint32_t avail, uint32_t n, uint32_t ram_top, uint16_t *idx)
{
    if (desc < arena_lo || avail < arena_lo || desc + 16 * n > arena_hi || avail + 6 + 2 * n > arena_hi)
        return;   /* a ring outside the arena: the device must refuse it, we don't write it */
    volatile struct desc *t = (volatile struct desc *)(uintptr_t)desc;
    for (uint32_t i = 0; i < n; i++) {
        struct desc d;
        garbage_desc(&d, ram_top, n);
        if ((rnd() & 3) == 0) {                         /* a sane 3-part chain */
            d.addr_lo = header(ram_top); d.addr_hi = 0; d.len = 16;
            d.flags = 1; d.next = (uint16_t)((i + 1) % n);
        } else if ((rnd() & 7) == 0) {                  /* an indirect table of garbage */
            uint32_t m = 1 + (rnd() & 15);
            uint32_t it = addr(ram_top, 16 * m);
            if (it >= arena_lo && it + 16 * m <= arena_hi)
                for (uint32_t j = 0; j < m; j++) {
                    struct desc e;
                    garbage_desc(&e, ram_top, m);
                    if (j == 0 && (rnd() & 1)) {
                        e.addr_lo = header(ram_top); e.len = 16; e.flags = 1; e.next = 1;
                    }
                    *(volatile struct desc *)(uintptr_t)(it + 16 * j) = e;
                }
            d.addr_lo = it; d.addr_hi = 0;
            d.len = rnd() & 3 ? 16 * m : rlen();
            d.flags = (uint16_t)(4 | (rnd() & 3));
        }
        t[i] = d;
    }
    volatile uint16_t *av = (volatile uint16_t *)(uintptr_t)avail;
    uint32_t k = rnd() & 3 ? 1 + (rnd() & 7) : rnd() & 0xffff;
    for (uint32_t j = 0; j < k && j < n; j++)
        av[2 + (*idx + j) % n] = (uint16_t)(rnd() & 7 ? rnd() % n : rnd());
    *idx = (uint16_t)(*idx + k);
    av[0] = (uint16_t)(rnd() & 3 ? 0 : rnd());
    av[1] = *idx;
    if (rnd() & 1)
        av[2 + n] = (uint16_t)rnd();                     /* used_event */
}

static void legacy_abuse(uint32_t ram_top)
{
    static uint16_t idx;
    outb(VIO + 0x12, 0);
    outb(VIO + 0x12, 3);
    outl(VIO + 0x04, rnd());
    outw(VIO + 0x0e, (uint16_t)(rnd() & 7 ? 0 : rnd()));
    uint32_t base = (addr(ram_top, 3 * 4096 + QSIZE * 16) + 4095) & ~4095u;
    outl(VIO + 0x08, rnd() & 15 ? base >> 12 : rnd());
    idx = 0;
    if (rnd() & 1)
        outb(VIO + 0x12, 7);
    garbage_ring(base, base + 16 * QSIZE, QSIZE, ram_top, &idx);
    outw(VIO + 0x10, (uint16_t)(rnd() & 7 ? 0 : rnd()));
    ops_reqs++;
}

static void modern_abuse(uint32_t ram_top)
{
    static uint16_t idx;
    mw32(0x14, 0);                                       /* status (byte at 0x14) */
    *mem8(0x14) = 3;
    mw32(0x08, 0); mw32(0x0c, rnd());
    mw32(0x08, 1); mw32(0x0c, rnd() & 3 ? 1 : rnd());
    *mem8(0x14) = (uint8_t)(rnd() & 3 ? 11 : rnd());
    mw16(0x16, (uint16_t)(rnd() & 7 ? 0 : rnd()));
    uint32_t n = rnd() & 3 ? 1u << (rnd() % 9) : rnd() & 0xffff;
    mw16(0x18, (uint16_t)n);
    uint32_t d = addr(ram_top, 16 * n), a = addr(ram_top, 6 + 2 * n), u = addr(ram_top, 6 + 8 * n);
    mw32(0x20, d); mw32(0x24, rnd() & 15 ? 0 : rnd());
    mw32(0x28, a); mw32(0x2c, 0);
    mw32(0x30, u); mw32(0x34, 0);
    mw16(0x1c, (uint16_t)(rnd() & 7 ? 1 : rnd()));
    *mem8(0x14) = (uint8_t)(rnd() & 3 ? 15 : rnd());
    idx = 0;
    if (n && n <= 1024)
        garbage_ring(d, a, n, ram_top, &idx);
    mw16(0x3000 + (rnd() & 3 ? 0 : rnd() & 0xffc), (uint16_t)(rnd() & 7 ? 0 : rnd()));
    ops_reqs++;
}

/* A clean modern setup, a write of a pattern to sector 7 and its read back. */
static int sanity(void)
{
    uint32_t q = arena_lo, hdr = q + 0x3000, data = q + 0x4000, st = q + 0x5000;
    volatile uint8_t *s = (volatile uint8_t *)(uintptr_t)st;
    *mem8(0x14) = 0;
    if (*mem8(0x14) != 0) {
        gprintf("hostile: FAIL virtio status %x after reset\n", *mem8(0x14));
        return FAIL;
    }
    *mem8(0x14) = 3;
    mw32(0x08, 0); mw32(0x0c, 0);
    mw32(0x08, 1); mw32(0x0c, 1);                        /* VERSION_1 only */
    *mem8(0x14) = 11;
    if (!(*mem8(0x14) & 8)) {
        gprintf("hostile: FAIL virtio FEATURES_OK refused\n");
        return FAIL;
    }
    memset((void *)(uintptr_t)q, 0, 0x6000);
    mw16(0x16, 0);
    mw16(0x18, 8);
    mw32(0x20, q); mw32(0x24, 0);
    mw32(0x28, q + 0x1000); mw32(0x2c, 0);
    mw32(0x30, q + 0x2000); mw32(0x34, 0);
    mw16(0x1c, 1);
    *mem8(0x14) = 15;
    volatile struct desc *t = (volatile struct desc *)(uintptr_t)q;
    volatile uint16_t *av = (volatile uint16_t *)(uintptr_t)(q + 0x1000);
    volatile uint16_t *used = (volatile uint16_t *)(uintptr_t)(q + 0x2000);
    volatile uint32_t *h = (volatile uint32_t *)(uintptr_t)hdr;
    uint32_t *dw = (uint32_t *)(uintptr_t)data;
    for (int pass = 0; pass < 2; pass++) {
        h[0] = pass ? 0 : 1;                             /* OUT, then IN */
        h[1] = 0; h[2] = 7; h[3] = 0;
        for (unsigned i = 0; i < 128; i++)
            dw[i] = pass ? 0 : 0x5a5a0000u + i;
        *s = 0xee;
        t[0] = (struct desc){ hdr, 0, 16, 1, 1 };
        t[1] = (struct desc){ data, 0, 512, (uint16_t)(1 | (pass ? 2 : 0)), 2 };
        t[2] = (struct desc){ st, 0, 1, 2, 0 };
        av[2 + pass] = 0;
        av[1] = (uint16_t)(pass + 1);
        mw16(0x3000, 0);
        for (uint32_t spin = 0; used[1] != pass + 1 && spin < 100000000u; spin++)
            (void)mr32(0x1000);                          /* completions arrive by kick */
        if (used[1] != pass + 1 || *s != 0) {
            gprintf("hostile: FAIL virtio %s: used idx %u, status %x, device status %x\n",
                    pass ? "read" : "write", used[1], *s, *mem8(0x14));
            return FAIL;
        }
    }
    for (unsigned i = 0; i < 128; i++)
        if (dw[i] != 0x5a5a0000u + i) {
            gprintf("hostile: FAIL virtio read back: word %u is %x\n", i, dw[i]);
            return FAIL;
        }
    *mem8(0x14) = 0;
    return 0;
}

int hostile_virtio_blk(uint32_t ram_top)
{
    if (pci_rd(0) != 0x10011af4u) {
        gprintf("hostile: FAIL virtio-blk: 00:03.0 is %x (run with -drive file=F,if=virtio)\n",
                pci_rd(0));
        return FAIL;
    }
    arena_lo = ram_top / 2;
    arena_hi = ram_top;
    if (arena_lo < 0x400000) {
        gprintf("hostile: FAIL virtio-blk wants at least 8 MiB of RAM\n");
        return FAIL;
    }
    pci_wr(0x10, VIO);
    pci_wr(0x20, VMEM);
    pci_wr(0x04, 7);
    unsigned ops = 1500;
    for (unsigned i = 0; i < ops; i++) {
        switch (rnd() % 12) {
        case 0: case 1: case 2:
            legacy_abuse(ram_top);
            break;
        case 3: case 4: case 5:
            modern_abuse(ram_top);
            break;
        case 6: {                                        /* legacy registers, raw */
            uint16_t port = (uint16_t)(VIO + (rnd() & 0x7f));
            switch (rnd() % 3) {
            case 0: outb(port, (uint8_t)rnd()); (void)inb(port); break;
            case 1: outw(port & ~1, (uint16_t)rnd()); (void)inw(port & ~1); break;
            default: outl(port & ~3, rnd()); (void)inl(port & ~3); break;
            }
            break;
        }
        case 7: {                                        /* modern BAR, raw */
            uint32_t off = rnd() & 0x3ffc;
            if (rnd() & 1)
                mw32(off, rnd());
            else
                *mem8(off + (rnd() & 3)) = (uint8_t)rnd();
            (void)mr32(rnd() & 0x3ffc);
            break;
        }
        case 8:                                          /* reset, maybe with requests in flight */
            if (rnd() & 1)
                outb(VIO + 0x12, 0);
            else
                *mem8(0x14) = 0;
            ops_setup++;
            break;
        case 9:
            if ((rnd() & 7) == 0) {                      /* BARs moved or decode cut a moment */
                if (rnd() & 1)
                    pci_wr(0x20, rnd() & 1 ? 0 : rnd());
                else
                    pci_wr(0x04, 0);
                (void)inb(VIO + 0x13);
                pci_wr(0x10, VIO);
                pci_wr(0x20, VMEM);
                pci_wr(0x04, 7);
            }
            break;
        default:                                         /* let completions arrive */
            for (uint32_t s = rnd() & 0xffff; s; s--)
                __asm__ volatile("pause");
            if ((inb(VIO + 0x12) & 0x40) || (*mem8(0x14) & 0x40))
                seen_reset++;
            (void)inb(VIO + 0x13);
            break;
        }
    }
    int rc = sanity();
    if (rc)
        return rc;
    gprintf("hostile: virtio-blk ok: %u ops (%u ring setups, %u resets, NEEDS_RESET seen %u times)\n",
            ops, ops_reqs, ops_setup, seen_reset);
    return 0;
}
