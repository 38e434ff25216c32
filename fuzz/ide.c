/*
 * fuzz/ide.c — IDE/ATAPI commands and bus-master PRD tables (devices/ide.c)
 * with the PIIX IDE function in front (devices/piix.c: decode enables,
 * BAR4, Bus Master Enable), wired as vm/machine.c wires them, over
 * in-memory disks: a disk and a CD-ROM on the primary channel, an empty
 * CD-ROM and a read-only disk on the secondary. The input is played as a
 * guest (fuzz/fz.h); the disks abort on any request outside them.
 */
#include <stdlib.h>

#include "devices/ide.h"
#include "devices/pci_host.h"
#include "devices/piix.h"
#include "fuzz/fz.h"

#define RAM_SIZE (256u << 10)

static struct fz_ram ram;
static struct fz_disk hd0, cd0, hd1;

static void on_decode(void *ctx, unsigned ch, bool on) { dev_ide_set_decode(ctx, (int)ch, on); }
static void on_bm_base(void *ctx, uint16_t port) { dev_ide_set_bm_base(ctx, port); }
static void on_bm_enable(void *ctx, bool on) { dev_ide_set_bus_master(ctx, on); }
static void irq_set(void *ctx, int line, int level) { (void)ctx, (void)line, (void)level; }

/* Opcode 7: reset the controller, or make the n-th request from now of
 * one of the disks fail as a host I/O error would. */
static void extra(void *ctx, struct fz_in *in)
{
    uint8_t sub = fz_u8(in);
    struct fz_disk *disks[3] = { &hd0, &cd0, &hd1 };
    if (sub & 1)
        dev_ide_reset(ctx);
    else
        disks[sub / 2 % 3]->fail_in = 1 + fz_u8(in) % 8;
}

static const struct fz_pio_range pio[] = {
    { 0x1f0, 8 }, { 0x3f6, 1 }, { 0x170, 8 }, { 0x376, 1 }, { 0xc000, 16 }, { 0xcf8, 8 },
    { 0, 0xffff },   /* anywhere: a bus-master block the guest moved */
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ram.mem) {
        fz_ram_init(&ram, RAM_SIZE);
        fz_disk_init(&hd0, "hd0", 64, false);
        fz_disk_init(&cd0, "cd0", 41, true);   /* 20 blocks of 2048 and a tail */
        fz_disk_init(&hd1, "hd1", 16, true);
    }
    fz_ram_clear(&ram);
    fz_disk_fill(&hd0);
    fz_disk_fill(&cd0);
    fz_disk_fill(&hd1);

    struct dev_bus *bus = dev_bus_new();
    struct dev_pci_host *pci = dev_pci_host_new(bus, NULL, NULL);
    struct dev_irq_line l14 = { irq_set, NULL, 14 }, l15 = { irq_set, NULL, 15 };
    struct dev_ide *ide = dev_ide_new(bus, l14, l15, fz_ram_dma(&ram));
    if (!bus || !pci || !ide)
        fz_bug("cannot build the IDE controller");
    struct dev_blkdev b0 = fz_disk_blkdev(&hd0, false), c0 = fz_disk_blkdev(&cd0, false),
                      b1 = fz_disk_blkdev(&hd1, false);
    if (dev_ide_attach(ide, 0, 0, &b0, DEV_IDE_DISK) || dev_ide_attach(ide, 0, 1, &c0, DEV_IDE_CDROM) ||
        dev_ide_attach(ide, 1, 0, NULL, DEV_IDE_CDROM) || dev_ide_attach(ide, 1, 1, &b1, DEV_IDE_DISK))
        fz_bug("cannot attach the drives");
    struct dev_piix_ops po = { .ide_decode = on_decode, .bm_base = on_bm_base,
                               .bm_enable = on_bm_enable, .ctx = ide };
    struct dev_piix *piix = dev_piix_new(pci, NULL, &po);
    /* What SeaBIOS leaves (as a firmware-less btvm boot): decode on, BAR4 at
     * 0xC000; the guest turns Bus Master Enable on itself. */
    if (!piix || dev_piix_firmware_setup(piix))
        fz_bug("cannot build the PIIX functions");

    struct fz_guest g = { .bus = bus, .ram = &ram, .pio = pio,
                          .npio = sizeof(pio) / sizeof(pio[0]), .extra = extra, .ctx = ide };
    struct fz_in in = { data, size };
    fz_guest_play(&g, &in, 4096);

    dev_piix_free(piix);
    dev_ide_free(ide);
    dev_pci_host_free(pci);
    dev_bus_free(bus);
    return 0;
}
