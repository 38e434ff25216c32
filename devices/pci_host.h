/*
 * devices/pci_host.h — PCI bus 0 behind configuration mechanism #1 (ports
 * 0xCF8-0xCFF): a registry of functions, each a 256-byte configuration
 * space with per-byte write masks, up to 6 BARs that the host maps on the
 * device bus while decode is enabled, and a hook for device-specific
 * registers. The Intel 440FX host bridge sits at 00:00.0 (PAM and SMRAM
 * registers). Also the PIIX3 reset control register at 0xCF9 (byte).
 * docs/devices.md.
 */
#ifndef BTVM_DEV_PCI_HOST_H
#define BTVM_DEV_PCI_HOST_H

#include <stdbool.h>
#include <stdint.h>
#include "devices/bus.h"

#define DEV_PCI_CONFIG_PORT 0xCF8u   /* CONFIG_ADDRESS, dword; CONFIG_DATA at 0xCFC */
#define DEV_PCI_RESET_PORT  0xCF9u   /* reset control register (byte) */
#define DEV_PCI_RESET_VALUE 0x06u    /* SRST | RST_CPU: a hard reset, the FADT's RESET_VALUE */

#define DEV_PCI_DEVFN(dev, fn) ((unsigned)(dev) << 3 | (unsigned)(fn))

/* Configuration header registers (PCI 3.0, 6.1). */
enum {
    DEV_PCI_VENDOR = 0x00, DEV_PCI_DEVICE = 0x02, DEV_PCI_COMMAND = 0x04, DEV_PCI_STATUS = 0x06,
    DEV_PCI_REVISION = 0x08, DEV_PCI_PROG_IF = 0x09, DEV_PCI_CLASS = 0x0A,
    DEV_PCI_LATENCY = 0x0D, DEV_PCI_HEADER_TYPE = 0x0E, DEV_PCI_BAR0 = 0x10,
    DEV_PCI_SUBSYS_VENDOR = 0x2C, DEV_PCI_SUBSYS_ID = 0x2E,
    DEV_PCI_INT_LINE = 0x3C, DEV_PCI_INT_PIN = 0x3D,
};
#define DEV_PCI_CMD_IO     0x0001u
#define DEV_PCI_CMD_MEM    0x0002u
#define DEV_PCI_CMD_MASTER 0x0004u
#define DEV_PCI_HEADER_MULTIFUNCTION 0x80u

enum dev_pci_bar_type { DEV_PCI_BAR_UNUSED = 0, DEV_PCI_BAR_IO, DEV_PCI_BAR_MEM32 };

struct dev_pci_fn;

/* One BAR. Set up with dev_pci_fn_set_bar(); the host keeps mapped/base. */
struct dev_pci_bar {
    enum dev_pci_bar_type type;
    uint32_t size;           /* power of two: I/O 4..256, memory >= 16 */
    const char *name;
    dev_io_fn io;            /* handler the host registers at the BAR's address; may be NULL */
    void *opaque;
    bool mapped;             /* decoded now, at base */
    uint32_t base;
};

/* A function. Embed it in the device's state, fill it with dev_pci_fn_init()
 * and dev_pci_fn_set_bar(), adjust cfg/wmask/w1c for device-specific
 * registers, then dev_pci_register() it. Configuration writes go through
 * the masks (a bit set in w1c is cleared by writing 1 to it; a bit set in
 * wmask takes the written value; other bits are read-only), then the BARs
 * are remapped if the command register or a BAR changed, then config_write
 * sees the access (after the standard handling: fn->cfg holds the new
 * bytes). bar_map is told each time a BAR's decoding changes (mapped at
 * base, or not) — whether or not the host registered an io handler for it. */
struct dev_pci_fn {
    uint8_t cfg[256];
    uint8_t wmask[256];
    uint8_t w1c[256];
    struct dev_pci_bar bar[6];
    void (*config_write)(struct dev_pci_fn *fn, unsigned reg, unsigned size, uint32_t value);
    void (*bar_map)(struct dev_pci_fn *fn, unsigned bar, bool mapped, uint32_t base);
    void *opaque;            /* for the device's hooks */
    const char *name;
    struct dev_pci_host *host;   /* set by dev_pci_register */
    unsigned devfn;
};

/* IDs, class (class << 16 | subclass << 8 | prog-if), header type; command
 * and status 0; writable: command I/O, memory, master, parity and SERR
 * enables, latency timer, interrupt line; status bits 8 and 11-15 are
 * write-1-to-clear. No BARs, no hooks. */
void dev_pci_fn_init(struct dev_pci_fn *fn, const char *name, uint16_t vendor, uint16_t device,
                     uint8_t revision, uint32_t class_code, uint8_t header_type);

/* BAR i (0-5) of type and size; io/opaque is registered on the device bus at
 * the BAR's address while it is decoded (NULL io: only bar_map is told).
 * The BAR reads 0 (I/O: 1) until software programs it. An I/O BAR decodes
 * 16 address bits (bits 31:16 read 0, as the PIIX's). 0 or -EINVAL. Call
 * before dev_pci_register(). */
int dev_pci_fn_set_bar(struct dev_pci_fn *fn, unsigned i, enum dev_pci_bar_type type,
                       uint32_t size, const char *name, dev_io_fn io, void *opaque);

/* Little-endian helpers on a configuration space. */
static inline void dev_pci_set16(uint8_t *cfg, unsigned reg, uint16_t v)
{
    cfg[reg] = (uint8_t)v;
    cfg[reg + 1] = (uint8_t)(v >> 8);
}
static inline uint16_t dev_pci_get16(const uint8_t *cfg, unsigned reg)
{
    return (uint16_t)(cfg[reg] | cfg[reg + 1] << 8);
}
static inline uint32_t dev_pci_get32(const uint8_t *cfg, unsigned reg)
{
    return (uint32_t)dev_pci_get16(cfg, reg) | (uint32_t)dev_pci_get16(cfg, reg + 2) << 16;
}

struct dev_pci_host;

/* The host with the 440FX at 00:00.0. reset(ctx) is called when the guest
 * resets the machine through 0xCF9. */
struct dev_pci_host *dev_pci_host_new(struct dev_bus *bus, void (*reset)(void *ctx), void *ctx);
/* Unmaps nothing: free the functions' owners (dev_piix_free) first. */
void dev_pci_host_free(struct dev_pci_host *h);

/* Put fn at 00:devfn (devfn = device << 3 | function, < 256). Any BAR
 * already enabled by fn->cfg is mapped. If the device then has a function
 * other than 0, function 0's header type gets the multi-function bit.
 * 0, -EINVAL (devfn out of range), -EEXIST (taken). */
int dev_pci_register(struct dev_pci_host *h, unsigned devfn, struct dev_pci_fn *fn);
/* Remove it, unmapping its BARs (bar_map is told). 0 or -ENOENT. */
int dev_pci_unregister(struct dev_pci_host *h, unsigned devfn);
/* The function at 00:devfn, or NULL. */
struct dev_pci_fn *dev_pci_fn_at(struct dev_pci_host *h, unsigned devfn);
/* The device bus the host maps BARs on. */
struct dev_bus *dev_pci_host_bus(struct dev_pci_host *h);

/* 440FX: PAM0-6 are configuration bytes 0x59-0x5F (datasheet 3.2.18; the
 * 0xC0000-0xFFFFF shadow areas' read/write enables). pam_changed(ctx, reg,
 * value) is called for each PAM byte whose value a write changed, with the
 * new value. SMRAM (0x72) is stored only: no SMM. */
#define DEV_I440FX_PAM0   0x59u
#define DEV_I440FX_NPAM   7u
#define DEV_I440FX_SMRAM  0x72u
void dev_pci_host_set_pam_notify(struct dev_pci_host *h,
                                 void (*pam_changed)(void *ctx, unsigned reg, uint8_t value),
                                 void *ctx);

/* Configuration space access of size 1, 2 or 4 at a bus/device/function
 * and register (what CONFIG_ADDRESS selects); absent functions read
 * all-ones and ignore writes. Exposed for tests and firmware-like presets. */
uint32_t dev_pci_config_read(struct dev_pci_host *h, unsigned bus, unsigned devfn,
                             unsigned reg, unsigned size);
void dev_pci_config_write(struct dev_pci_host *h, unsigned bus, unsigned devfn, unsigned reg,
                          unsigned size, uint32_t v);

#endif
