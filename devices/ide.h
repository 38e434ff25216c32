/*
 * devices/ide.h — the PC's two IDE channels with ATA disks and ATAPI
 * CD-ROMs, and the PIIX bus-master DMA engine behind them.
 *
 * Primary channel: ports 0x1F0-0x1F7, control/alternate status 0x3F6,
 * IRQ 14; secondary: 0x170-0x177, 0x376, IRQ 15 (legacy/compatibility
 * mode, as the PIIX IDE function always is). Each channel has a master
 * (unit 0) and a slave (unit 1).
 *
 * The bus-master registers (BMIC, BMIS, BMIDTP for each channel, 16 ports)
 * live where the PIIX IDE PCI function's BAR4 puts them: that function calls
 * dev_ide_set_bm_base() when the guest programs the BAR or toggles I/O
 * decoding, and dev_ide_set_decode() when the IDE timing registers' decode
 * enable bit (0x41/0x43 bit 7) changes.
 *
 * Guest memory is reached only through the struct dev_dma given at creation;
 * disks through struct dev_blkdev. All calls come from the thread that runs
 * the bus (no locking); a DMA transfer runs to completion inside the port
 * write that starts it, in bounded chunks.
 */
#ifndef BTVM_DEV_IDE_H
#define BTVM_DEV_IDE_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/blkdev.h"
#include "devices/bus.h"
#include "devices/dma.h"
#include "devices/irq.h"

#define DEV_IDE_PRIMARY_BASE   0x1F0
#define DEV_IDE_PRIMARY_CTL    0x3F6
#define DEV_IDE_SECONDARY_BASE 0x170
#define DEV_IDE_SECONDARY_CTL  0x376

enum dev_ide_media { DEV_IDE_DISK, DEV_IDE_CDROM };

struct dev_ide;

/* Both channels, decoding at their legacy ports, no drives, bus master
 * unmapped. NULL on failure (message printed). */
struct dev_ide *dev_ide_new(struct dev_bus *bus, struct dev_irq_line irq14,
                            struct dev_irq_line irq15, struct dev_dma dma);
/* Unregisters every port range and frees; NULL is ignored. Does not close
 * the blkdevs. */
void dev_ide_free(struct dev_ide *ide);

/* Put a drive at channel 0/1, unit 0 (master) / 1 (slave). The blkdev is
 * copied; its ctx must live as long as the device. A DISK needs one; a
 * CDROM may have blk NULL (an empty drive: NOT READY, MEDIUM NOT PRESENT),
 * and reads its image in 2048-byte blocks (a short tail is not visible).
 * 0, -EINVAL (bad slot, disk without image), -EEXIST (slot taken). */
int dev_ide_attach(struct dev_ide *ide, int channel, int unit,
                   const struct dev_blkdev *blk, enum dev_ide_media media);

/* Bus-master registers at port..port+15 (primary 0-7, secondary 8-15);
 * port 0 unmaps them; low 4 bits ignored. 0 or the bus's -errno. */
int dev_ide_set_bm_base(struct dev_ide *ide, uint16_t port);
/* The PCI function's Bus Master Enable (power-on: off). While off, a
 * started bus-master engine waits (BMIS active, no memory access, no
 * interrupt); setting it lets the waiting transfer run. */
void dev_ide_set_bus_master(struct dev_ide *ide, bool enabled);
/* Claim (on) or release (off) channel 0/1's command block and control
 * port. While off the ports read all-ones as unclaimed; drive state stays.
 * 0, -EINVAL, or the bus's -errno. */
int dev_ide_set_decode(struct dev_ide *ide, int channel, bool on);

/* Machine reset: drives as at power-on (signatures, modes), bus master
 * idle, IRQ lines lowered. Attachments, decoding and bm_base stay. */
void dev_ide_reset(struct dev_ide *ide);

#endif
