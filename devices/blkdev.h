/*
 * devices/blkdev.h — a disk as a device model sees it: 512-byte sectors
 * read, written and flushed through callbacks. vm/ fills one in over a
 * host image (block/blk.h); a unit test can use a buffer. Devices never
 * touch file descriptors.
 */
#ifndef BTVM_DEV_BLKDEV_H
#define BTVM_DEV_BLKDEV_H

#include <stdbool.h>
#include <stdint.h>

struct dev_blkdev {
    /* Transfer count 512-byte sectors at sector: 0 or -errno. The device
     * checks the range against `sectors` before calling. */
    int (*read)(void *ctx, uint64_t sector, uint32_t count, void *buf);
    int (*write)(void *ctx, uint64_t sector, uint32_t count, const void *buf);
    /* Make completed writes durable: 0 or -errno. */
    int (*flush)(void *ctx);
    void *ctx;
    uint64_t sectors;     /* size in 512-byte sectors */
    bool readonly;        /* writes are refused by the device (write may be NULL) */
};

#endif
