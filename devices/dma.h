/*
 * devices/dma.h — how a device reads and writes guest-physical memory
 * (bus-master DMA, fw_cfg DMA, descriptor rings). Devices never hold a
 * pointer into guest RAM: vm/ implements these so that a DMA write also
 * invalidates translated code on the pages it touches, and an address
 * outside RAM is refused rather than followed.
 */
#ifndef BTVM_DEV_DMA_H
#define BTVM_DEV_DMA_H

#include <stddef.h>
#include <stdint.h>

struct dev_dma {
    /* 0, or -EFAULT when [gpa, gpa + len) is not all guest RAM (nothing is
     * transferred then). */
    int (*read)(void *ctx, uint64_t gpa, void *buf, size_t len);
    int (*write)(void *ctx, uint64_t gpa, const void *buf, size_t len);
    void *ctx;
    /* For transfers that happen off the vcpu thread (virtio-blk's I/O
     * threads): the host address of [gpa, gpa + len), or NULL when that is
     * not all guest RAM. Valid for the machine's life (RAM is one mapping).
     * NULL map: the device must copy through read/write. */
    void *(*map)(void *ctx, uint64_t gpa, size_t len);
    /* vcpu thread, after bytes were stored through a mapping: what a write
     * above would have done besides the copy (drop translated code). */
    void (*written)(void *ctx, uint64_t gpa, size_t len);
};

static inline int dev_dma_read(const struct dev_dma *d, uint64_t gpa, void *buf, size_t len)
{
    return d->read(d->ctx, gpa, buf, len);
}

static inline int dev_dma_write(const struct dev_dma *d, uint64_t gpa, const void *buf, size_t len)
{
    return d->write(d->ctx, gpa, buf, len);
}

static inline void *dev_dma_map(const struct dev_dma *d, uint64_t gpa, size_t len)
{
    return d->map ? d->map(d->ctx, gpa, len) : NULL;
}

static inline void dev_dma_written(const struct dev_dma *d, uint64_t gpa, size_t len)
{
    if (d->written)
        d->written(d->ctx, gpa, len);
}

#endif
