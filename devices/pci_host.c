/*
 * devices/pci_host.c — PCI configuration mechanism #1 (PCI Local Bus 3.0,
 * section 3.2.2.3.2), bus 0 as a registry of functions (configuration
 * space with write masks, BARs mapped on the device bus while decoded), and
 * the function at 00:00.0: an Intel 82441FX (440FX) host bridge, 8086:1237
 * revision 2, class 0x060000, with its PAM (0x59-0x5F) and SMRAM (0x72)
 * registers. Every other bus/device/function nobody registered is absent:
 * reads all-ones, writes dropped.
 *
 * Ports: 0xCF8 as a dword is CONFIG_ADDRESS (enable bit 31, bus 23:16,
 * device 15:11, function 10:8, register 7:2); other widths there are not
 * CONFIG_ADDRESS (the spec says so), and a byte at 0xCF9 is the PIIX3
 * reset control register: RST_CPU (bit 2) set resets the machine.
 * 0xCFC-0xCFF is CONFIG_DATA: byte, word or dword at the register
 * CONFIG_ADDRESS selects plus the port's offset, while bit 31 is set.
 *
 * BARs (PCI 3.0, 6.2.5.1): the writable bits are the address bits above
 * the size, so writing all-ones reads back the size mask. A BAR is decoded
 * while the command register's I/O (I/O BAR) or memory (memory BAR) enable
 * is set and its address is neither 0 nor reaching the top of its space
 * (QEMU's rule too; keeps a BAR being sized from being mapped); a change
 * of either moves or removes its range on the device bus.
 * Used from the run-loop thread only, so there is no lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/bus_own.h"
#include "devices/pci_host.h"

#define CFG_ENABLE   0x80000000u
#define CFG_ADDR_RW  0x80FFFFFCu  /* reserved bits 30:24 and 1:0 read 0 */
#define RCR_SRST     0x02u
#define RCR_RST_CPU  0x04u

/* 440FX SMRAM bits (datasheet 3.2.23). */
#define SMRAM_D_OPEN   0x40u
#define SMRAM_D_CLS    0x20u
#define SMRAM_D_LCK    0x10u
#define SMRAM_G_SMRAME 0x08u
#define SMRAM_C_BASE   0x02u   /* C_BASE_SEG = 010: SMRAM at 0xA0000, read-only */

struct dev_pci_host {
    uint32_t config_address;
    uint8_t rcr;
    struct dev_bus *bus;
    struct dev_pci_fn *fn[256];   /* bus 0 */
    struct dev_pci_fn bridge;     /* 00:00.0 */
    void (*reset)(void *ctx);
    void *ctx;
    void (*pam_changed)(void *ctx, unsigned reg, uint8_t value);
    void *pam_ctx;
    uint8_t pam[DEV_I440FX_NPAM]; /* as last reported */
};

void dev_pci_fn_init(struct dev_pci_fn *fn, const char *name, uint16_t vendor, uint16_t device,
                     uint8_t revision, uint32_t class_code, uint8_t header_type)
{
    memset(fn, 0, sizeof(*fn));
    fn->name = name;
    dev_pci_set16(fn->cfg, DEV_PCI_VENDOR, vendor);
    dev_pci_set16(fn->cfg, DEV_PCI_DEVICE, device);
    fn->cfg[DEV_PCI_REVISION] = revision;
    fn->cfg[DEV_PCI_PROG_IF] = (uint8_t)class_code;
    fn->cfg[DEV_PCI_CLASS] = (uint8_t)(class_code >> 8);
    fn->cfg[DEV_PCI_CLASS + 1] = (uint8_t)(class_code >> 16);
    fn->cfg[DEV_PCI_HEADER_TYPE] = header_type;
    if (!(header_type & 0x7F)) {
        /* QEMU gives every function its subsystem ID (Red Hat, QEMU);
         * SeaBIOS recognizes QEMU by the host bridge's. */
        dev_pci_set16(fn->cfg, DEV_PCI_SUBSYS_VENDOR, 0x1AF4);
        dev_pci_set16(fn->cfg, DEV_PCI_SUBSYS_ID, 0x1100);
    }
    dev_pci_set16(fn->wmask, DEV_PCI_COMMAND, 0x0147); /* I/O, memory, master, parity, SERR */
    fn->wmask[DEV_PCI_LATENCY] = 0xFF;
    fn->wmask[DEV_PCI_INT_LINE] = 0xFF;                /* scratch for the OS */
    fn->w1c[DEV_PCI_STATUS + 1] = 0xF9;                /* status 15:11 and 8 */
}

int dev_pci_fn_set_bar(struct dev_pci_fn *fn, unsigned i, enum dev_pci_bar_type type,
                       uint32_t size, const char *name, dev_io_fn io, void *opaque)
{
    if (i >= 6 || !size || (size & (size - 1)))
        return -EINVAL;
    uint32_t mask;
    /* I/O BARs keep all 32 address bits writable, as QEMU's do: SeaBIOS
     * sizes a BAR over 32 bits, and one set past 64 KiB decodes nowhere. */
    if (type == DEV_PCI_BAR_IO && size >= 4 && size <= 256)
        mask = ~(size - 1);
    else if (type == DEV_PCI_BAR_MEM32 && size >= 16)
        mask = ~(size - 1);
    else
        return -EINVAL;
    unsigned reg = DEV_PCI_BAR0 + 4 * i;
    fn->bar[i] = (struct dev_pci_bar){ .type = type, .size = size, .name = name, .io = io,
                                       .opaque = opaque };
    for (unsigned k = 0; k < 4; k++) {
        fn->wmask[reg + k] = (uint8_t)(mask >> (8 * k));
        fn->cfg[reg + k] = 0;
    }
    if (type == DEV_PCI_BAR_IO)
        fn->cfg[reg] = 0x01;   /* I/O space indicator, read-only */
    return 0;
}

/* Where BAR i should be decoded now; false if nowhere. */
static bool bar_target(const struct dev_pci_fn *fn, unsigned i, uint32_t *base)
{
    const struct dev_pci_bar *b = &fn->bar[i];
    uint16_t cmd = dev_pci_get16(fn->cfg, DEV_PCI_COMMAND);
    uint32_t v = dev_pci_get32(fn->cfg, DEV_PCI_BAR0 + 4 * i);
    uint64_t top;
    switch (b->type) {
    case DEV_PCI_BAR_IO:
        if (!(cmd & DEV_PCI_CMD_IO))
            return false;
        *base = v & ~3u & ~(b->size - 1);
        top = 0xFFFF;
        break;
    case DEV_PCI_BAR_MEM32:
        if (!(cmd & DEV_PCI_CMD_MEM))
            return false;
        *base = v & ~(b->size - 1);
        top = 0xFFFFFFFF;
        break;
    default:
        return false;
    }
    return *base != 0 && (uint64_t)*base + b->size - 1 < top;
}

static void bar_unmap(struct dev_pci_host *h, struct dev_pci_fn *fn, unsigned i)
{
    struct dev_pci_bar *b = &fn->bar[i];
    if (!b->mapped)
        return;
    if (b->io) {
        if (b->type == DEV_PCI_BAR_IO)
            dev_bus_unregister_pio(h->bus, (uint16_t)b->base);
        else
            dev_bus_unregister_mmio(h->bus, b->base);
    }
    b->mapped = false;
}

/* Bring every BAR's decoding in line with the configuration space. */
static void bars_update(struct dev_pci_host *h, struct dev_pci_fn *fn)
{
    for (unsigned i = 0; i < 6; i++) {
        struct dev_pci_bar *b = &fn->bar[i];
        uint32_t base = 0;
        bool want = bar_target(fn, i, &base);
        if (want == b->mapped && (!want || base == b->base))
            continue;
        bool was = b->mapped;
        uint32_t old = b->base;
        bar_unmap(h, fn, i);
        if (want && b->io) {
            int err = b->type == DEV_PCI_BAR_IO
                ? dev_bus_register_pio(h->bus, (uint16_t)base, b->size, b->name, b->io, b->opaque)
                : dev_bus_register_mmio(h->bus, base, b->size, b->name, b->io, b->opaque);
            want = err == 0;   /* over another device: not decoded (a guest error) */
        }
        b->mapped = want;
        b->base = want ? base : 0;
        if (fn->bar_map && (was != b->mapped || old != b->base))
            fn->bar_map(fn, i, b->mapped, b->base);
    }
}

/* Function 0 of a device with other functions says so in its header type. */
static void mark_multifunction(struct dev_pci_host *h, unsigned devfn)
{
    unsigned dev0 = devfn & ~7u;
    for (unsigned f = 1; f < 8; f++)
        if (h->fn[dev0 | f] && h->fn[dev0])
            h->fn[dev0]->cfg[DEV_PCI_HEADER_TYPE] |= DEV_PCI_HEADER_MULTIFUNCTION;
}

int dev_pci_register(struct dev_pci_host *h, unsigned devfn, struct dev_pci_fn *fn)
{
    if (devfn > 255 || !fn)
        return -EINVAL;
    if (h->fn[devfn])
        return -EEXIST;
    fn->host = h;
    fn->devfn = devfn;
    h->fn[devfn] = fn;
    mark_multifunction(h, devfn);
    bars_update(h, fn);
    return 0;
}

int dev_pci_unregister(struct dev_pci_host *h, unsigned devfn)
{
    if (devfn > 255 || !h->fn[devfn])
        return -ENOENT;
    struct dev_pci_fn *fn = h->fn[devfn];
    for (unsigned i = 0; i < 6; i++) {
        if (fn->bar[i].mapped) {
            bar_unmap(h, fn, i);
            fn->bar[i].base = 0;
            if (fn->bar_map)
                fn->bar_map(fn, i, false, 0);
        }
    }
    h->fn[devfn] = NULL;
    fn->host = NULL;
    return 0;
}

struct dev_pci_fn *dev_pci_fn_at(struct dev_pci_host *h, unsigned devfn)
{
    return devfn < 256 ? h->fn[devfn] : NULL;
}

struct dev_bus *dev_pci_host_bus(struct dev_pci_host *h)
{
    return h->bus;
}

/* ---- the 440FX ---- */

static void i440fx_write(struct dev_pci_fn *fn, unsigned reg, unsigned size, uint32_t value)
{
    (void)value;
    struct dev_pci_host *h = fn->opaque;
    if (reg <= DEV_I440FX_SMRAM && reg + size > DEV_I440FX_SMRAM &&
        (fn->cfg[DEV_I440FX_SMRAM] & SMRAM_D_LCK)) {
        /* D_LCK clears D_OPEN; both stay so until reset (datasheet 3.2.23). */
        fn->cfg[DEV_I440FX_SMRAM] &= (uint8_t)~SMRAM_D_OPEN;
        fn->wmask[DEV_I440FX_SMRAM] = SMRAM_D_CLS | SMRAM_G_SMRAME;
    }
    for (unsigned i = 0; i < DEV_I440FX_NPAM; i++) {
        uint8_t v = fn->cfg[DEV_I440FX_PAM0 + i];
        if (v != h->pam[i]) {
            h->pam[i] = v;
            if (h->pam_changed)
                h->pam_changed(h->pam_ctx, DEV_I440FX_PAM0 + i, v);
        }
    }
}

/* The 82441FX's header as at power-on (datasheet defaults, QEMU's values). */
static void bridge_init(struct dev_pci_host *h)
{
    struct dev_pci_fn *fn = &h->bridge;
    dev_pci_fn_init(fn, "i440fx", 0x8086, 0x1237, 0x02, 0x060000, 0x00);
    dev_pci_set16(fn->cfg, DEV_PCI_COMMAND, 0x0006);   /* memory space, bus master */
    dev_pci_set16(fn->cfg, DEV_PCI_STATUS, 0x0280);    /* fast back-to-back, DEVSEL medium */
    fn->wmask[DEV_I440FX_PAM0] = 0x30;                 /* PAM0: 0xF0000-0xFFFFF only */
    for (unsigned i = 1; i < DEV_I440FX_NPAM; i++)
        fn->wmask[DEV_I440FX_PAM0 + i] = 0x33;         /* RE, WE of each half */
    fn->cfg[DEV_I440FX_SMRAM] = SMRAM_C_BASE;
    fn->wmask[DEV_I440FX_SMRAM] = SMRAM_D_OPEN | SMRAM_D_CLS | SMRAM_D_LCK | SMRAM_G_SMRAME;
    fn->config_write = i440fx_write;
    fn->opaque = h;
    h->fn[0] = fn;
    fn->host = h;
}

void dev_pci_host_set_pam_notify(struct dev_pci_host *h,
                                 void (*pam_changed)(void *ctx, unsigned reg, uint8_t value),
                                 void *ctx)
{
    h->pam_changed = pam_changed;
    h->pam_ctx = ctx;
}

/* ---- configuration cycles ---- */

uint32_t dev_pci_config_read(struct dev_pci_host *h, unsigned bus, unsigned devfn,
                             unsigned reg, unsigned size)
{
    const struct dev_pci_fn *fn = bus == 0 && devfn < 256 ? h->fn[devfn] : NULL;
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++) {
        unsigned r = reg + i;
        uint8_t b = fn && r < 256 ? fn->cfg[r] : 0xFF;
        v |= (uint32_t)b << (8 * i);
    }
    return v;
}

void dev_pci_config_write(struct dev_pci_host *h, unsigned bus, unsigned devfn, unsigned reg,
                          unsigned size, uint32_t v)
{
    struct dev_pci_fn *fn = bus == 0 && devfn < 256 ? h->fn[devfn] : NULL;
    if (!fn || reg >= 256)
        return;
    if (reg + size > 256)
        size = 256 - reg;
    bool remap = false;
    for (unsigned i = 0; i < size; i++) {
        unsigned r = reg + i;
        uint8_t b = (uint8_t)(v >> (8 * i)), old = fn->cfg[r];
        uint8_t n = (uint8_t)((old & ~fn->wmask[r]) | (b & fn->wmask[r]));
        n &= (uint8_t)~(b & fn->w1c[r]);
        fn->cfg[r] = n;
        if (n != old && (r == DEV_PCI_COMMAND || (r >= DEV_PCI_BAR0 && r < DEV_PCI_BAR0 + 24)))
            remap = true;
    }
    if (remap)
        bars_update(h, fn);
    if (fn->config_write)
        fn->config_write(fn, reg, size, v);
}

static uint64_t ones(unsigned size)
{
    return size >= 8 ? UINT64_MAX : (UINT64_C(1) << (8 * size)) - 1;
}

/* 0xCF8-0xCFB: CONFIG_ADDRESS as a dword, the reset control byte at 0xCF9. */
static void addr_io(struct dev_pci_host *h, unsigned off, unsigned size, bool wr, uint64_t *d)
{
    if (off == 0 && size == 4) {
        if (wr)
            h->config_address = (uint32_t)*d & CFG_ADDR_RW;
        else
            *d = h->config_address;
        return;
    }
    if (off == 1 && size == 1) {
        if (!wr) {
            *d = h->rcr;
        } else if (*d & RCR_RST_CPU) {
            if (h->reset)
                h->reset(h->ctx);
        } else {
            h->rcr = (uint8_t)(*d & RCR_SRST); /* only the reset type is kept */
        }
        return;
    }
    if (!wr)
        *d = ones(size); /* e.g. Linux's "outb 0x01, 0xCFB" probe: nothing here */
}

static void pci_io(void *opaque, uint64_t offset, unsigned size, bool is_write, uint64_t *data)
{
    struct dev_pci_host *h = opaque;
    if (offset < 4) {
        addr_io(h, (unsigned)offset, size, is_write, data);
        return;
    }
    unsigned k = (unsigned)offset - 4;
    unsigned n = k + size > 4 ? 4 - k : size; /* bytes past 0xCFF are not ours */
    uint32_t a = h->config_address;
    if (!(a & CFG_ENABLE)) {
        if (!is_write)
            *data = ones(size);
        return;
    }
    unsigned bus = (a >> 16) & 0xFF, devfn = (a >> 8) & 0xFF, reg = (a & 0xFC) + k;
    if (is_write) {
        dev_pci_config_write(h, bus, devfn, reg, n, (uint32_t)*data);
    } else {
        *data = dev_pci_config_read(h, bus, devfn, reg, n) | (ones(size) & ~ones(n));
    }
}

struct dev_pci_host *dev_pci_host_new(struct dev_bus *bus, void (*reset)(void *ctx), void *ctx)
{
    struct dev_pci_host *h = calloc(1, sizeof(*h));
    if (!h) {
        fprintf(stderr, "btvm: pci-host: out of memory\n");
        return NULL;
    }
    h->reset = reset;
    h->ctx = ctx;
    h->bus = bus;
    bridge_init(h);
    int err = dev_bus_register_pio(bus, DEV_PCI_CONFIG_PORT, 8, "pci-conf1", pci_io, h);
    if (err) {
        fprintf(stderr, "btvm: pci-host: cannot claim ports 0xcf8-0xcff: %s\n", strerror(-err));
        dev_bus_own(bus, h); /* a claimed range may point at h */
        return NULL;
    }
    return h;
}

void dev_pci_host_free(struct dev_pci_host *h)
{
    free(h);
}
