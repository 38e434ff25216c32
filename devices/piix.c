/*
 * devices/piix.c — the PIIX functions of QEMU's `pc` machine on PCI bus 0
 * (devices/pci_host.c holds the configuration spaces and maps BARs):
 *
 * 00:01.0 PIIX3 PCI-to-ISA bridge, 8086:7000 revision 0, class 0x060100,
 *   header type 0x80 (the device has other functions). Register values at
 *   reset as QEMU's piix_reset (which follows the 82371SB datasheet):
 *   command 0x0007, status 0x0200, IORT 0x4C = 0x4D, XBCS 0x4E = 0x03,
 *   PIRQRC[A-D] 0x60-0x63 = 0x80, TOM 0x69 = 0x02, MBIRQ0 0x70 = 0x80,
 *   MBDMA 0x76/0x77 = 0x0C, PCSC 0x78 = 0x02, SMICNTL 0xA0 = 0x08,
 *   0xA8 = 0x0F. These are stored only, except PIRQRC (bits 7 and 3:0
 *   writable), whose changes go to ops.pirq_changed. DLC 0x82 bits 3:0 are
 *   writable: Linux turns on passive release there.
 * 00:01.1 PIIX3 IDE, 8086:7010 revision 0, class 0x010180 (legacy mode on
 *   both channels, bus-master capable), command 0, status 0x0280, no
 *   interrupt pin (the legacy channels use IRQ 14/15). Command: I/O enable
 *   and bus master only. BAR4 (BMIBA) = 16 I/O ports, reads 0x00000001
 *   until programmed; BARs 0-3 read 0 (legacy mode). IDETIM 0x40/0x42
 *   (bits 15:12, 9:0 writable) and SIDETIM 0x44 are stored; IDETIM bit 15
 *   and the I/O enable decide whether a channel's legacy ports decode.
 * 00:01.3 PIIX4 power management, 8086:7113 revision 3, class 0x068000,
 *   status 0x0280, interrupt pin A, line 9 (the SCI). PMBA 0x40 bits 15:6
 *   writable, bit 0 reads 1; PMREGMISC 0x80 bit 0 makes the ACPI registers
 *   decode at PMBA. DEVACTB 0x58-0x5B is stored, 0x5B = 0x02 (APMC_EN: as
 *   QEMU with SMM off, it tells SeaBIOS SMM is set up). SMBus (SMBBA 0x90)
 *   is not modelled: reads 0.
 *   The APM ports (PIIX4 datasheet 7.2): APMC 0xB2, whose writes of 0xF1
 *   (ACPI_ENABLE) and 0xF0 (ACPI_DISABLE) set and clear PM1_CNT.SCI_EN —
 *   what QEMU's piix4 does; with SMM off no SMI is raised — and APMS 0xB3,
 *   a scratch byte.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/piix.h"

struct dev_piix {
    struct dev_pci_host *host;
    struct dev_acpi_pm *pm;
    struct dev_piix_ops ops;
    struct dev_pci_fn isa, ide, acpi;
    uint8_t pirq[4];          /* as last reported */
    bool ide_on[2];
    bool ide_master;      /* the IDE function's Bus Master Enable, as last reported */
    uint16_t bm_port;
    int pm_err;               /* last dev_acpi_pm_set_base result */
    uint8_t apmc, apms;       /* APM control and status ports */
    bool apm_on;              /* registered on the bus */
};

/* ---- APM ports 0xB2/0xB3 ---- */

static void apm_io(void *opaque, uint64_t offset, unsigned size, bool is_write, uint64_t *data)
{
    struct dev_piix *p = opaque;
    for (unsigned i = 0; i < size && offset + i < 2; i++) {
        uint8_t *r = offset + i == 0 ? &p->apmc : &p->apms;
        if (!is_write) {
            if (i == 0)
                *data = 0;
            *data |= (uint64_t)*r << (8 * i);
            continue;
        }
        *r = (uint8_t)(*data >> (8 * i));
        if (r == &p->apmc && *r == DEV_PIIX_APM_ACPI_ENABLE)
            dev_acpi_pm_set_sci_en(p->pm, true);
        else if (r == &p->apmc && *r == DEV_PIIX_APM_ACPI_DISABLE)
            dev_acpi_pm_set_sci_en(p->pm, false);
    }
}

/* ---- 00:01.0 ISA bridge ---- */

static void isa_write(struct dev_pci_fn *fn, unsigned reg, unsigned size, uint32_t value)
{
    (void)reg; (void)size; (void)value;
    struct dev_piix *p = fn->opaque;
    for (unsigned n = 0; n < 4; n++) {
        uint8_t v = fn->cfg[DEV_PIIX_PIRQC + n];
        if (v != p->pirq[n]) {
            p->pirq[n] = v;
            if (p->ops.pirq_changed)
                p->ops.pirq_changed(p->ops.ctx, n, v);
        }
    }
}

static void isa_init(struct dev_piix *p)
{
    static const struct { uint8_t reg, val; } stored[] = {
        { 0x4C, 0x4D }, { 0x4E, 0x03 }, { 0x4F, 0x00 }, { 0x69, 0x02 }, { 0x70, 0x80 },
        { 0x76, 0x0C }, { 0x77, 0x0C }, { 0x78, 0x02 }, { 0x79, 0x00 }, { 0x80, 0x00 },
        { 0xA0, 0x08 }, { 0xA2, 0 }, { 0xA3, 0 }, { 0xA4, 0 }, { 0xA5, 0 }, { 0xA6, 0 },
        { 0xA7, 0 }, { 0xA8, 0x0F }, { 0xAA, 0 }, { 0xAB, 0 }, { 0xAC, 0 }, { 0xAE, 0 },
    };
    struct dev_pci_fn *fn = &p->isa;
    dev_pci_fn_init(fn, "piix3-isa", 0x8086, 0x7000, 0x00, 0x060100,
                    DEV_PCI_HEADER_MULTIFUNCTION);
    dev_pci_set16(fn->cfg, DEV_PCI_COMMAND, 0x0007);   /* I/O and memory hardwired on */
    dev_pci_set16(fn->wmask, DEV_PCI_COMMAND, 0x014C); /* master, special cycles, parity, SERR */
    dev_pci_set16(fn->cfg, DEV_PCI_STATUS, 0x0200);    /* DEVSEL medium */
    fn->wmask[DEV_PCI_INT_LINE] = 0;                   /* no interrupt pin */
    for (size_t i = 0; i < sizeof(stored) / sizeof(stored[0]); i++) {
        fn->cfg[stored[i].reg] = stored[i].val;
        fn->wmask[stored[i].reg] = 0xFF;
    }
    for (unsigned n = 0; n < 4; n++) {
        fn->cfg[DEV_PIIX_PIRQC + n] = DEV_PIIX_PIRQ_DISABLE;
        fn->wmask[DEV_PIIX_PIRQC + n] = 0x8F;
        p->pirq[n] = DEV_PIIX_PIRQ_DISABLE;
    }
    fn->wmask[0x82] = 0x0F;                            /* DLC */
    fn->config_write = isa_write;
    fn->opaque = p;
}

/* ---- 00:01.1 IDE ---- */

static void ide_write(struct dev_pci_fn *fn, unsigned reg, unsigned size, uint32_t value)
{
    (void)reg; (void)size; (void)value;
    struct dev_piix *p = fn->opaque;
    bool io = dev_pci_get16(fn->cfg, DEV_PCI_COMMAND) & DEV_PCI_CMD_IO;
    bool master = dev_pci_get16(fn->cfg, DEV_PCI_COMMAND) & DEV_PCI_CMD_MASTER;
    if (master != p->ide_master) {
        p->ide_master = master;
        if (p->ops.bm_enable)
            p->ops.bm_enable(p->ops.ctx, master);
    }
    for (unsigned ch = 0; ch < 2; ch++) {
        bool on = io && (dev_pci_get16(fn->cfg, DEV_PIIX_IDETIM + 2 * ch) & DEV_PIIX_IDETIM_IDE);
        if (on != p->ide_on[ch]) {
            p->ide_on[ch] = on;
            if (p->ops.ide_decode)
                p->ops.ide_decode(p->ops.ctx, ch, on);
        }
    }
}

static void ide_bar_map(struct dev_pci_fn *fn, unsigned bar, bool mapped, uint32_t base)
{
    struct dev_piix *p = fn->opaque;
    if (bar != 4)
        return;
    p->bm_port = mapped ? (uint16_t)base : 0;
    if (p->ops.bm_base)
        p->ops.bm_base(p->ops.ctx, p->bm_port);
}

static void ide_init(struct dev_piix *p)
{
    struct dev_pci_fn *fn = &p->ide;
    dev_pci_fn_init(fn, "piix3-ide", 0x8086, 0x7010, 0x00, 0x010180, 0x00);
    dev_pci_set16(fn->wmask, DEV_PCI_COMMAND, DEV_PCI_CMD_IO | DEV_PCI_CMD_MASTER);
    dev_pci_set16(fn->cfg, DEV_PCI_STATUS, 0x0280);    /* fast back-to-back, DEVSEL medium */
    fn->wmask[DEV_PCI_INT_LINE] = 0;                   /* no interrupt pin */
    dev_pci_fn_set_bar(fn, 4, DEV_PCI_BAR_IO, DEV_PIIX_BM_LEN, "piix-bmdma", NULL, NULL);
    for (unsigned ch = 0; ch < 2; ch++) {
        fn->wmask[DEV_PIIX_IDETIM + 2 * ch] = 0xFF;
        fn->wmask[DEV_PIIX_IDETIM + 2 * ch + 1] = 0xF3;  /* bits 11:10 reserved */
    }
    fn->wmask[0x44] = 0xFF;                            /* SIDETIM */
    fn->config_write = ide_write;
    fn->bar_map = ide_bar_map;
    fn->opaque = p;
}

/* ---- 00:01.3 power management ---- */

static void acpi_write(struct dev_pci_fn *fn, unsigned reg, unsigned size, uint32_t value)
{
    (void)value;
    struct dev_piix *p = fn->opaque;
    bool pmba = reg < DEV_PIIX_PMBA + 4 && reg + size > DEV_PIIX_PMBA;
    bool misc = reg <= DEV_PIIX_PMREGMISC && reg + size > DEV_PIIX_PMREGMISC;
    if (!pmba && !misc)
        return;
    uint16_t base = 0;
    if (fn->cfg[DEV_PIIX_PMREGMISC] & 1)
        base = dev_pci_get16(fn->cfg, DEV_PIIX_PMBA) & 0xFFC0u;
    p->pm_err = dev_acpi_pm_set_base(p->pm, base);
}

static void acpi_init(struct dev_piix *p)
{
    struct dev_pci_fn *fn = &p->acpi;
    dev_pci_fn_init(fn, "piix4-pm", 0x8086, 0x7113, 0x03, 0x068000, 0x00);
    dev_pci_set16(fn->wmask, DEV_PCI_COMMAND, DEV_PCI_CMD_IO);  /* IOSE (for SMBus) */
    dev_pci_set16(fn->cfg, DEV_PCI_STATUS, 0x0280);
    fn->cfg[DEV_PCI_INT_PIN] = 1;                      /* INTA: the SCI */
    fn->cfg[DEV_PCI_INT_LINE] = DEV_ACPI_SCI_IRQ;
    fn->cfg[DEV_PIIX_PMBA] = 0x01;                     /* I/O space indicator */
    fn->wmask[DEV_PIIX_PMBA] = 0xC0;
    fn->wmask[DEV_PIIX_PMBA + 1] = 0xFF;
    fn->wmask[DEV_PIIX_PMREGMISC] = 0x01;
    for (unsigned r = 0x58; r < 0x5C; r++)
        fn->wmask[r] = 0xFF;                           /* DEVACTB, stored */
    fn->cfg[0x5B] = 0x02;                              /* APMC_EN: no SMM to set up */
    fn->config_write = acpi_write;
    fn->opaque = p;
}

/* ---- creation ---- */

struct dev_piix *dev_piix_new(struct dev_pci_host *h, struct dev_acpi_pm *pm,
                              const struct dev_piix_ops *ops)
{
    struct dev_piix *p = calloc(1, sizeof(*p));
    if (!p) {
        fprintf(stderr, "btvm: piix: out of memory\n");
        return NULL;
    }
    p->host = h;
    p->pm = pm;
    if (ops)
        p->ops = *ops;
    isa_init(p);
    ide_init(p);
    acpi_init(p);
    int err = dev_pci_register(h, DEV_PIIX_DEVFN_ISA, &p->isa);
    if (!err)
        err = dev_pci_register(h, DEV_PIIX_DEVFN_IDE, &p->ide);
    if (!err && pm) {
        err = dev_pci_register(h, DEV_PIIX_DEVFN_ACPI, &p->acpi);
        if (!err)
            err = dev_acpi_pm_set_base(pm, 0);   /* PMREGMISC = 0 */
        if (!err)
            err = dev_bus_register_pio(dev_pci_host_bus(h), DEV_PIIX_APM_PORT, 2, "apm", apm_io, p);
        p->apm_on = !err;
    }
    if (err) {
        fprintf(stderr, "btvm: piix: cannot add the functions at 00:01: %s\n", strerror(-err));
        dev_piix_free(p);
        return NULL;
    }
    return p;
}

void dev_piix_free(struct dev_piix *p)
{
    if (!p)
        return;
    memset(&p->ops, 0, sizeof(p->ops));
    if (p->apm_on)
        dev_bus_unregister_pio(dev_pci_host_bus(p->host), DEV_PIIX_APM_PORT);
    struct dev_pci_fn *fns[] = { &p->isa, &p->ide, &p->acpi };
    for (size_t i = 0; i < 3; i++)
        if (fns[i]->host == p->host && dev_pci_fn_at(p->host, fns[i]->devfn) == fns[i])
            dev_pci_unregister(p->host, fns[i]->devfn);
    free(p);
}

static void cfg_write(struct dev_piix *p, unsigned devfn, unsigned reg, unsigned size, uint32_t v)
{
    dev_pci_config_write(p->host, 0, devfn, reg, size, v);
}

int dev_piix_firmware_setup(struct dev_piix *p)
{
    static const uint8_t pirq_irq[4] = { 10, 10, 11, 11 };   /* SeaBIOS's choice */
    for (unsigned n = 0; n < 4; n++)
        cfg_write(p, DEV_PIIX_DEVFN_ISA, DEV_PIIX_PIRQC + n, 1, pirq_irq[n]);
    cfg_write(p, DEV_PIIX_DEVFN_IDE, DEV_PIIX_IDETIM, 2, DEV_PIIX_IDETIM_IDE);
    cfg_write(p, DEV_PIIX_DEVFN_IDE, DEV_PIIX_IDETIM + 2, 2, DEV_PIIX_IDETIM_IDE);
    cfg_write(p, DEV_PIIX_DEVFN_IDE, DEV_PCI_BAR0 + 4 * 4, 4, 0xC000);
    cfg_write(p, DEV_PIIX_DEVFN_IDE, DEV_PCI_COMMAND, 2, DEV_PCI_CMD_IO);
    if (!p->pm)
        return 0;
    cfg_write(p, DEV_PIIX_DEVFN_ACPI, DEV_PCI_INT_LINE, 1, DEV_ACPI_SCI_IRQ);
    cfg_write(p, DEV_PIIX_DEVFN_ACPI, DEV_PIIX_PMBA, 4, DEV_ACPI_PM_BASE | 1);
    cfg_write(p, DEV_PIIX_DEVFN_ACPI, DEV_PIIX_PMREGMISC, 1, 1);
    return p->pm_err;
}

uint8_t dev_piix_pirq(const struct dev_piix *p, unsigned n)
{
    return n < 4 ? p->isa.cfg[DEV_PIIX_PIRQC + n] : DEV_PIIX_PIRQ_DISABLE;
}

bool dev_piix_ide_decoding(const struct dev_piix *p, unsigned channel)
{
    return channel < 2 && p->ide_on[channel];
}

uint16_t dev_piix_bm_base(const struct dev_piix *p)
{
    return p->bm_port;
}

bool dev_piix_ide_bus_master(const struct dev_piix *p)
{
    return dev_pci_get16(p->ide.cfg, DEV_PCI_COMMAND) & DEV_PCI_CMD_MASTER;
}
