/*
 * devices/blkdev.h — a disk as a device model sees it: 512-byte sectors
 * read, written and flushed through callbacks. vm/ fills one in over a
 * host image (block/blk.h); a unit test can use a buffer. Devices never
 * touch file descriptors.
 *
 * Two ways in: the synchronous callbacks (IDE: the vcpu waits), and
 * submit, which queues a request for another thread and calls its done
 * callback later on the vcpu thread (virtio-blk: the guest runs on while
 * the host does the I/O). docs/virtio.md.
 */
#ifndef BTVM_DEV_BLKDEV_H
#define BTVM_DEV_BLKDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum dev_blk_op {
    DEV_BLK_READ, DEV_BLK_WRITE, DEV_BLK_FLUSH, DEV_BLK_DISCARD, DEV_BLK_WRITE_ZEROES,
};

/* A piece of guest RAM as a host pointer, obtained through dev_dma_map
 * (checked to lie in RAM; RAM stays mapped for the machine's life). */
struct dev_blk_iov {
    void *base;
    size_t len;
};

/* An asynchronous request. The device fills op..iov and done; the
 * backend owns it from submit until done runs (on the vcpu thread, never
 * inside submit). The iov bytes total count * 512 for READ and WRITE; the
 * device checked the range. */
struct dev_blk_req {
    enum dev_blk_op op;
    uint64_t sector;
    uint32_t count;           /* sectors (READ, WRITE, DISCARD, WRITE_ZEROES) */
    bool unmap;               /* WRITE_ZEROES: the range may be deallocated */
    struct dev_blk_iov *iov;
    unsigned niov;
    /* result: 0 or -errno (-EOPNOTSUPP: the image cannot do op). */
    void (*done)(struct dev_blk_req *req, int result);
    void *opaque;             /* the device's */
};

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
    /* Asynchronous path (NULL: synchronous only). submit: 0 (done will
     * run) or -errno (it will not). drain: vcpu thread; waits until every
     * submitted request finished and has run its done callback. */
    int (*submit)(void *ctx, struct dev_blk_req *req);
    void (*drain)(void *ctx);
    bool can_discard;         /* DISCARD can succeed (else -EOPNOTSUPP) */
    bool can_write_zeroes;    /* WRITE_ZEROES can succeed */
};

#endif
