/*
 * devices/virtio_ring.h — the split virtqueue of virtio 1.x (spec 2.7):
 * a descriptor table, the driver's available ring and the device's used
 * ring, all in guest RAM and reached only through struct dev_dma. Popping
 * an available chain walks its descriptors (direct and indirect) into a
 * list of guest-physical segments and refuses every malformed chain (loops,
 * indexes past the table, indirect inside indirect, a readable segment
 * after a writable one, ...) with -EIO: the transport then marks the device
 * NEEDS_RESET. docs/virtio.md.
 */
#ifndef BTVM_DEV_VIRTIO_RING_H
#define BTVM_DEV_VIRTIO_RING_H

#include <stdbool.h>
#include <stdint.h>
#include "devices/dma.h"

#define DEV_VQ_MAX_SIZE 1024u     /* largest queue and longest chain (the spec's limit for indirect) */

#define VIRTQ_DESC_F_NEXT     1u
#define VIRTQ_DESC_F_WRITE    2u
#define VIRTQ_DESC_F_INDIRECT 4u
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1u
#define VIRTQ_USED_F_NO_NOTIFY     1u

/* One descriptor's buffer: guest-physical, checked to be RAM. */
struct dev_vq_seg {
    uint64_t gpa;
    uint32_t len;
    bool write;      /* device-writable */
};

/* A popped chain: its head index (the id returned in the used ring), its
 * segments (the device-readable ones first), and their byte totals. */
struct dev_vq_elem {
    uint16_t head;
    unsigned nseg, nout, nin;
    uint64_t out_len, in_len;
    struct dev_vq_seg *seg;   /* owned: dev_vq_elem_free */
};

struct dev_vq {
    const struct dev_dma *dma;
    uint16_t size;            /* entries, a power of two; 0 until set up */
    bool ready;               /* enabled by the driver */
    bool event_idx;           /* VIRTIO_RING_F_EVENT_IDX negotiated */
    bool indirect;            /* VIRTIO_RING_F_INDIRECT_DESC negotiated */
    uint64_t desc, avail, used;   /* guest-physical addresses of the three parts */
    uint16_t last_avail;      /* next available entry the device will take */
    uint16_t used_idx;        /* the device's copy of used->idx */
    uint16_t signalled_used;  /* used_idx when the driver was last interrupted */
    bool signalled_valid;
};

/* Forget everything (the queue's part of a device reset). */
void dev_vq_reset(struct dev_vq *vq, const struct dev_dma *dma);
/* Does the ring of size (entries) fit in RAM at desc/avail/used? And size a
 * power of two in 1..DEV_VQ_MAX_SIZE? 0 or -EINVAL. */
int dev_vq_check(const struct dev_vq *vq);
/* Legacy layout (virtio 0.9.5): the three parts contiguous from pfn << 12,
 * the used ring aligned to 4096. */
void dev_vq_set_legacy(struct dev_vq *vq, uint32_t pfn);

/* Take the next available chain: 1 (elem filled), 0 (none), -EIO (the
 * driver broke the ring: the device must not touch it again until reset). */
int dev_vq_pop(struct dev_vq *vq, struct dev_vq_elem *elem);
void dev_vq_elem_free(struct dev_vq_elem *elem);
/* Return a chain to the driver, len bytes written into its buffers. 0, or
 * -EIO if the used ring is not in RAM. */
int dev_vq_push(struct dev_vq *vq, uint16_t head, uint32_t len);
/* After pushes: must the driver be interrupted (its flag or used_event)? */
bool dev_vq_should_notify(struct dev_vq *vq);

/* Gather bytes [off, off + len) of the chain's readable (write=false) or
 * writable (write=true) segments from/to buf. 0, or -EIO (past the end or
 * not RAM). */
int dev_vq_copy_from(const struct dev_vq *vq, const struct dev_vq_elem *e, uint64_t off,
                     void *buf, uint64_t len);
int dev_vq_copy_to(const struct dev_vq *vq, const struct dev_vq_elem *e, uint64_t off,
                   const void *buf, uint64_t len);

#endif
