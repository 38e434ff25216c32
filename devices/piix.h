/*
 * devices/piix.h — the PCI functions of QEMU's `pc` south bridge, at QEMU's
 * numbers: 00:01.0 PIIX3 PCI-to-ISA bridge (8086:7000, PIRQ routing
 * 0x60-0x63), 00:01.1 PIIX3 IDE (8086:7010, IDE timing/decode enables,
 * bus-master BAR4), 00:01.3 PIIX4 power management (8086:7113 rev 3: PMBA,
 * PMREGMISC, SCI on IRQ 9), which places devices/acpi_pm's registers.
 * The 440FX at 00:00.0 is devices/pci_host's. docs/devices.md.
 *
 * The devices behind these functions (interrupt routing, the IDE channels)
 * belong to others: they hear about changes through dev_piix_ops.
 */
#ifndef BTVM_DEV_PIIX_H
#define BTVM_DEV_PIIX_H

#include <stdbool.h>
#include <stdint.h>
#include "devices/acpi_pm.h"
#include "devices/pci_host.h"

#define DEV_PIIX_DEVFN_ISA  DEV_PCI_DEVFN(1, 0)
#define DEV_PIIX_DEVFN_IDE  DEV_PCI_DEVFN(1, 1)
#define DEV_PIIX_DEVFN_ACPI DEV_PCI_DEVFN(1, 3)

/* PIIX3 ISA bridge: PIRQA-D route control (bit 7 set: not routed; bits
 * 3:0: the ISA IRQ), reset 0x80 each. */
#define DEV_PIIX_PIRQC        0x60u
#define DEV_PIIX_PIRQ_DISABLE 0x80u
/* PIIX3 IDE: IDETIM primary (0x40) and secondary (0x42), 16 bits each;
 * bit 15 enables the channel's legacy ports. BAR4: bus-master IDE, 16 ports. */
#define DEV_PIIX_IDETIM       0x40u
#define DEV_PIIX_IDETIM_IDE   0x8000u
#define DEV_PIIX_BM_LEN       16u
/* PIIX4 PM: PMBA (64 ports, bits 15:6), PMREGMISC bit 0 = decode them. */
#define DEV_PIIX_PMBA         0x40u
#define DEV_PIIX_PMREGMISC    0x80u
#define DEV_PIIX_SMBBA        0x90u

/* Every hook may be NULL; each is called when its state changes (not for
 * the state at creation, given below), from inside a configuration write. */
struct dev_piix_ops {
    /* PIRQ n (0-3 = A-D) route control is now value. */
    void (*pirq_changed)(void *ctx, unsigned n, uint8_t value);
    /* IDE channel (0: 0x1F0-0x1F7/0x3F6, IRQ 14; 1: 0x170-0x177/0x376,
     * IRQ 15) is decoded or not: IDETIM.IDE and the command register's I/O
     * enable both set (PIIX3 datasheet: IOSE gates the legacy ports too). */
    void (*ide_decode)(void *ctx, unsigned channel, bool enabled);
    /* The bus-master IDE registers are at ports port..port+15; 0: not decoded. */
    void (*bm_base)(void *ctx, uint16_t port);
    /* The IDE function's Bus Master Enable (command bit 2): without it the
     * bus-master engine cannot reach memory. */
    void (*bm_enable)(void *ctx, bool enabled);
    void *ctx;
};

struct dev_piix;

/* Register the three functions on h in their power-on state: PIRQs 0x80
 * (not routed), IDE decode off and BAR4 unprogrammed, PM not decoded —
 * which unmaps pm's registers (pm may be NULL: no 00:01.3). A firmware-less
 * boot calls dev_piix_firmware_setup() next. NULL on error (printed). */
/* PIIX4 APM control (0xB2) and status (0xB3) ports; SMI_CMD in the FADT. */
#define DEV_PIIX_APM_PORT 0xB2u
#define DEV_PIIX_APM_ACPI_ENABLE  0xF1u
#define DEV_PIIX_APM_ACPI_DISABLE 0xF0u

struct dev_piix *dev_piix_new(struct dev_pci_host *h, struct dev_acpi_pm *pm,
                              const struct dev_piix_ops *ops);
/* Unregisters the functions (no hooks called). Before dev_pci_host_free
 * and dev_acpi_pm_free. */
void dev_piix_free(struct dev_piix *p);

/* What SeaBIOS leaves for an OS, done through configuration writes (so the
 * hooks fire): PIRQA-D = IRQ 10, 10, 11, 11; IDE: both channels decoded,
 * BAR4 = 0xC000, I/O enable; PM: PMBA = 0x600 (DEV_ACPI_PM_BASE, where the
 * FADT looks), PMREGMISC = 1, interrupt line 9. 0, or the error moving the
 * PM registers (-EEXIST). */
int dev_piix_firmware_setup(struct dev_piix *p);

/* Current state, for the devices behind the functions and tests. */
uint8_t dev_piix_pirq(const struct dev_piix *p, unsigned n);
bool dev_piix_ide_decoding(const struct dev_piix *p, unsigned channel);
uint16_t dev_piix_bm_base(const struct dev_piix *p);
/* The IDE function's bus-master enable: may the IDE model do DMA. */
bool dev_piix_ide_bus_master(const struct dev_piix *p);

#endif
