/*
 * devices/virtio_blk.h — virtio-blk (virtio 1.x, 5.2) on the virtio PCI
 * transport (QEMU's transitional 1AF4:1001): read, write, flush, discard,
 * write-zeroes and GET_ID, several requests in flight through the disk's
 * asynchronous path (devices/blkdev.h submit). docs/virtio.md.
 */
#ifndef BTVM_DEV_VIRTIO_BLK_H
#define BTVM_DEV_VIRTIO_BLK_H

#include "devices/blkdev.h"
#include "devices/dma.h"
#include "devices/irq.h"
#include "devices/pci_host.h"

#define DEV_VIRTIO_BLK_QUEUE_SIZE 256u
#define DEV_VIRTIO_BLK_SIZE_MAX   (1u << 20)   /* bytes per segment */
#define DEV_VIRTIO_BLK_MAX_DISCARD (1u << 22)  /* sectors per discard/write-zeroes */

/* Feature bits (5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX     1
#define VIRTIO_BLK_F_SEG_MAX      2
#define VIRTIO_BLK_F_RO           5
#define VIRTIO_BLK_F_BLK_SIZE     6
#define VIRTIO_BLK_F_FLUSH        9
#define VIRTIO_BLK_F_DISCARD      13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* Request types and status (5.2.6). */
#define VIRTIO_BLK_T_IN           0
#define VIRTIO_BLK_T_OUT          1
#define VIRTIO_BLK_T_FLUSH        4
#define VIRTIO_BLK_T_GET_ID       8
#define VIRTIO_BLK_T_DISCARD      11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_S_OK     0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2
#define VIRTIO_BLK_ID_BYTES 20

struct dev_virtio_blk;

/* A virtio-blk function at 00:devfn over disk (which must have submit and
 * drain), serial (up to 20 bytes, may be NULL) for GET_ID. NULL on failure. */
struct dev_virtio_blk *dev_virtio_blk_new(struct dev_pci_host *h, unsigned devfn,
                                          const struct dev_blkdev *disk, const char *serial,
                                          struct dev_dma dma, struct dev_irq_line irq);
/* Drains the disk's requests, unregisters the function. NULL is ignored. */
void dev_virtio_blk_free(struct dev_virtio_blk *b);

#endif
