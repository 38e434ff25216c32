/*
 * devices/pci_host.c — PCI configuration mechanism #1 (PCI Local Bus 3.0,
 * section 3.2.2.3.2) and the one function behind it: an Intel 82441FX
 * (440FX) host bridge at 00:00.0, 8086:1237, class 0x060000, header type 0,
 * no BARs. Every other bus/device/function is absent: reads all-ones,
 * writes dropped, so a scan of bus 0 finds the bridge alone. None of the
 * 440FX's own registers (PAM, SMRAM, DRAM control at 0x50 and up) is
 * modelled: they read 0 and ignore writes.
 *
 * Ports: 0xCF8 as a dword is CONFIG_ADDRESS (enable bit 31, bus 23:16,
 * device 15:11, function 10:8, register 7:2); other widths there are not
 * CONFIG_ADDRESS (the spec says so), and a byte at 0xCF9 is the PIIX3
 * reset control register: RST_CPU (bit 2) set resets the machine.
 * 0xCFC-0xCFF is CONFIG_DATA: byte, word or dword at the register
 * CONFIG_ADDRESS selects plus the port's offset, while bit 31 is set.
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

struct dev_pci_host {
    uint32_t config_address;
    uint8_t rcr;
    uint8_t cfg[256];        /* the host bridge's configuration header */
    uint8_t wmask[256];      /* its writable bits */
    void (*reset)(void *ctx);
    void *ctx;
};

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }

/* The 82441FX's header as at power-on (datasheet defaults, QEMU's values). */
static void bridge_init(struct dev_pci_host *h)
{
    memset(h->cfg, 0, sizeof(h->cfg));
    memset(h->wmask, 0, sizeof(h->wmask));
    put16(h->cfg + 0x00, 0x8086);        /* vendor: Intel */
    put16(h->cfg + 0x02, 0x1237);        /* device: 82441FX PMC */
    put16(h->cfg + 0x04, 0x0006);        /* command: memory space, bus master */
    put16(h->cfg + 0x06, 0x0280);        /* status: fast back-to-back, DEVSEL medium */
    h->cfg[0x08] = 0x02;                 /* revision */
    h->cfg[0x0B] = 0x06;                 /* class: bridge, */
    h->cfg[0x0A] = 0x00;                 /*   host bridge, */
    h->cfg[0x09] = 0x00;                 /*   no programming interface */
    h->cfg[0x0E] = 0x00;                 /* header type 0, single function */
    put16(h->wmask + 0x04, 0x0147);      /* I/O, memory, master, parity, SERR enables */
    h->wmask[0x0D] = 0xFF;               /* latency timer */
    h->wmask[0x3C] = 0xFF;               /* interrupt line: scratch for the OS */
}

static bool present(unsigned bus, unsigned devfn)
{
    return bus == 0 && devfn == 0;
}

uint32_t dev_pci_config_read(struct dev_pci_host *h, unsigned bus, unsigned devfn,
                             unsigned reg, unsigned size)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++) {
        unsigned r = reg + i;
        uint8_t b = present(bus, devfn) && r < 256 ? h->cfg[r] : 0xFF;
        v |= (uint32_t)b << (8 * i);
    }
    return v;
}

void dev_pci_config_write(struct dev_pci_host *h, unsigned bus, unsigned devfn, unsigned reg,
                          unsigned size, uint32_t v)
{
    if (!present(bus, devfn))
        return;
    for (unsigned i = 0; i < size && reg + i < 256; i++) {
        unsigned r = reg + i;
        uint8_t b = (uint8_t)(v >> (8 * i));
        h->cfg[r] = (uint8_t)((h->cfg[r] & ~h->wmask[r]) | (b & h->wmask[r]));
    }
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
