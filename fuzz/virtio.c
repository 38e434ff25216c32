/*
 * fuzz/virtio.c — virtio descriptor chains (devices/virtio_ring.c) through
 * the PCI transport (virtio_pci.c, legacy I/O BAR0 and modern BAR4) of a
 * virtio-blk over an in-memory disk whose requests complete when the input
 * says, and a virtio-net whose peer takes frames and which receives frames
 * the input injects. The input is played as a guest (fuzz/fz.h).
 */
#include <stdlib.h>
#include <string.h>

#include "devices/pci_host.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_net.h"
#include "devices/virtio_pci.h"
#include "fuzz/fz.h"

#define RAM_SIZE (256u << 10)
#define BLK_DEVFN DEV_PCI_DEVFN(3, 0)
#define NET_DEVFN DEV_PCI_DEVFN(4, 0)
#define BLK_IO 0xc000u
#define NET_IO 0xc100u
#define BLK_MEM 0xfe000000u
#define NET_MEM 0xfe004000u

static struct fz_ram ram;
static struct fz_disk disk, rodisk;
static struct dev_virtio_net *net;

static void irq_set(void *ctx, int line, int level) { (void)ctx, (void)line, (void)level; }

static void peer_send(void *ctx, const uint8_t *frame, size_t len)
{
    (void)ctx;
    if (len > DEV_VIRTIO_NET_FRAME_MAX)
        fz_bug("virtio-net sent a frame of %zu bytes", len);
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < len; i++)   /* every byte must be readable */
        sink ^= frame[i];
    (void)sink;
}

static void peer_rx_ready(void *ctx) { (void)ctx; }

/* Opcode 7: 0-1 complete a waiting request of disk, 2-3 of rodisk (the
 * next byte picks which), 4-5 inject a received frame, 6-7 make the n-th
 * request from now of either disk fail (a host I/O error). */
static void extra(void *ctx, struct fz_in *in)
{
    (void)ctx;
    uint8_t sub = fz_u8(in);
    switch (sub & 7) {
    case 0: case 1:
        fz_disk_complete(&disk, fz_u8(in));
        break;
    case 2: case 3:
        fz_disk_complete(&rodisk, fz_u8(in));
        break;
    case 6: case 7:
        (sub & 8 ? &rodisk : &disk)->fail_in = 1 + fz_u8(in) % 8;
        break;
    default: {
        const uint8_t *p;
        size_t len = fz_take(in, fz_u16(in) % 2048, &p);
        dev_virtio_net_receive(net, p, len);
        break;
    }
    }
}

static const struct fz_pio_range pio[] = {
    { BLK_IO, 0x40 }, { NET_IO, 0x40 }, { 0xc200, 0x40 }, { 0xcf8, 8 },
};
static const struct fz_mmio_range mmio[] = {
    { BLK_MEM, DEV_VIRTIO_MODERN_SIZE }, { NET_MEM, DEV_VIRTIO_MODERN_SIZE },
    { 0xfe008000u, DEV_VIRTIO_MODERN_SIZE },
};

static void bars(struct dev_pci_host *pci, unsigned devfn, uint32_t io, uint32_t mem)
{
    dev_pci_config_write(pci, 0, devfn, 0x10, 4, io | 1);
    dev_pci_config_write(pci, 0, devfn, 0x20, 4, mem);
    dev_pci_config_write(pci, 0, devfn, DEV_PCI_COMMAND, 2,
                         DEV_PCI_CMD_IO | DEV_PCI_CMD_MEM | DEV_PCI_CMD_MASTER);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
    if (!ram.mem) {
        fz_ram_init(&ram, RAM_SIZE);
        fz_disk_init(&disk, "vda", 64, false);
        fz_disk_init(&rodisk, "vdb", 8, true);
    }
    fz_ram_clear(&ram);
    fz_disk_fill(&disk);
    fz_disk_fill(&rodisk);
    struct fz_in in = { data, size };
    /* First byte: which of the two disks sits at 03.0 (the other at 05.0). */
    bool swap = fz_u8(&in) & 1;

    struct dev_bus *bus = dev_bus_new();
    struct dev_pci_host *pci = dev_pci_host_new(bus, NULL, NULL);
    if (!bus || !pci)
        fz_bug("cannot build the PCI host");
    struct dev_dma dma = fz_ram_dma(&ram);
    struct dev_irq_line irq = { irq_set, NULL, 11 };
    struct dev_blkdev bd = fz_disk_blkdev(swap ? &rodisk : &disk, true);
    struct dev_blkdev rd = fz_disk_blkdev(swap ? &disk : &rodisk, true);
    struct dev_virtio_blk *blk = dev_virtio_blk_new(pci, BLK_DEVFN, &bd, "fuzz-serial", dma, irq);
    struct dev_virtio_blk *blk2 = dev_virtio_blk_new(pci, DEV_PCI_DEVFN(5, 0), &rd, NULL, dma, irq);
    struct dev_virtio_net_peer peer = { .send = peer_send, .rx_ready = peer_rx_ready };
    net = dev_virtio_net_new(pci, NET_DEVFN, mac,
                             1ull << VIRTIO_NET_F_CSUM | 1ull << VIRTIO_NET_F_GUEST_CSUM, peer,
                             dma, irq);
    if (!blk || !blk2 || !net)
        fz_bug("cannot build the virtio devices");
    bars(pci, BLK_DEVFN, BLK_IO, BLK_MEM);
    bars(pci, NET_DEVFN, NET_IO, NET_MEM);
    bars(pci, DEV_PCI_DEVFN(5, 0), 0xc200, 0xfe008000u);

    struct fz_guest g = { .bus = bus, .ram = &ram, .pio = pio,
                          .npio = sizeof(pio) / sizeof(pio[0]), .mmio = mmio,
                          .nmmio = sizeof(mmio) / sizeof(mmio[0]), .extra = extra };
    fz_guest_play(&g, &in, 4096);

    /* The machine's end: requests still with the disk are drained by the reset. */
    dev_virtio_net_free(net);
    net = NULL;
    dev_virtio_blk_free(blk2);
    dev_virtio_blk_free(blk);
    if (disk.npend || rodisk.npend)
        fz_bug("virtio-blk freed with %u requests still at the disk", disk.npend + rodisk.npend);
    dev_pci_host_free(pci);
    dev_bus_free(bus);
    return 0;
}
