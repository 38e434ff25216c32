/*
 * devices/virtio_ring.c — split virtqueues (virtio 1.x, 2.7) over struct
 * dev_dma. Every index and length the driver wrote is checked before use;
 * see docs/virtio.md for the list of what a chain may not do.
 *
 * Ordering: the ring is touched only on the vcpu thread, the same thread
 * that runs the guest, so the driver's stores are visible in program order.
 */
#include "devices/virtio_ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Little-endian guest structures read and written whole; the host is x86. */
struct vring_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};

void dev_vq_reset(struct dev_vq *vq, const struct dev_dma *dma)
{
    memset(vq, 0, sizeof(*vq));
    vq->dma = dma;
}

static bool ram_ok(const struct dev_vq *vq, uint64_t gpa, uint64_t len)
{
    if (len == 0)
        return true;   /* nothing will be transferred */
    if (gpa + len < gpa)
        return false;
    if (vq->dma->map)
        return dev_dma_map(vq->dma, gpa, (size_t)len) != NULL;
    uint8_t b;   /* no map: RAM is one range, so its two ends decide */
    return dev_dma_read(vq->dma, gpa, &b, 1) == 0 && dev_dma_read(vq->dma, gpa + len - 1, &b, 1) == 0;
}

int dev_vq_check(const struct dev_vq *vq)
{
    unsigned n = vq->size;
    if (n == 0 || n > DEV_VQ_MAX_SIZE || (n & (n - 1)))
        return -EINVAL;
    if (!ram_ok(vq, vq->desc, 16ull * n) || !ram_ok(vq, vq->avail, 6ull + 2 * n) ||
        !ram_ok(vq, vq->used, 6ull + 8ull * n))
        return -EINVAL;
    return 0;
}

void dev_vq_set_legacy(struct dev_vq *vq, uint32_t pfn)
{
    uint64_t base = (uint64_t)pfn << 12;
    vq->desc = base;
    vq->avail = base + 16ull * vq->size;
    vq->used = (vq->avail + 6 + 2ull * vq->size + 4095) & ~4095ull;
}

static int rd16(const struct dev_vq *vq, uint64_t gpa, uint16_t *v)
{
    return dev_dma_read(vq->dma, gpa, v, 2) ? -EIO : 0;
}

static int wr16(const struct dev_vq *vq, uint64_t gpa, uint16_t v)
{
    return dev_dma_write(vq->dma, gpa, &v, 2) ? -EIO : 0;
}

static int add_seg(struct dev_vq_elem *e, unsigned *cap, const struct vring_desc *d, bool write)
{
    if (!write && e->nin)
        return -EIO;   /* readable after writable (spec 2.7.4.2) */
    if (e->nseg == *cap) {
        unsigned ncap = *cap ? *cap * 2 : 8;
        struct dev_vq_seg *s = realloc(e->seg, ncap * sizeof(*s));
        if (!s)
            return -EIO;
        e->seg = s;
        *cap = ncap;
    }
    e->seg[e->nseg++] = (struct dev_vq_seg){ .gpa = d->addr, .len = d->len, .write = write };
    if (write) {
        e->nin++;
        e->in_len += d->len;
    } else {
        e->nout++;
        e->out_len += d->len;
    }
    return 0;
}

/* Walk an indirect table: at most len/16 entries, no nesting, no loops. */
static int walk_indirect(const struct dev_vq *vq, const struct vring_desc *id,
                         struct dev_vq_elem *e, unsigned *cap)
{
    if (id->len == 0 || id->len % 16 || id->len / 16 > DEV_VQ_MAX_SIZE ||
        (id->flags & VIRTQ_DESC_F_NEXT) || !ram_ok(vq, id->addr, id->len))
        return -EIO;
    unsigned n = id->len / 16, i = 0, seen = 0;
    for (;;) {
        struct vring_desc d;
        if (++seen > n || dev_dma_read(vq->dma, id->addr + 16ull * i, &d, sizeof(d)))
            return -EIO;
        if ((d.flags & VIRTQ_DESC_F_INDIRECT) || !ram_ok(vq, d.addr, d.len))
            return -EIO;
        if (add_seg(e, cap, &d, d.flags & VIRTQ_DESC_F_WRITE))
            return -EIO;
        if (!(d.flags & VIRTQ_DESC_F_NEXT))
            return 0;
        if (d.next >= n)
            return -EIO;
        i = d.next;
    }
}

int dev_vq_pop(struct dev_vq *vq, struct dev_vq_elem *e)
{
    memset(e, 0, sizeof(*e));
    if (!vq->ready || !vq->size)
        return 0;
    uint16_t avail_idx;
    if (rd16(vq, vq->avail + 2, &avail_idx))
        return -EIO;
    uint16_t pending = (uint16_t)(avail_idx - vq->last_avail);
    if (pending == 0)
        return 0;
    if (pending > vq->size)
        return -EIO;   /* the driver claims more entries than the ring holds */
    uint16_t head;
    if (rd16(vq, vq->avail + 4 + 2ull * (vq->last_avail & (vq->size - 1)), &head) ||
        head >= vq->size)
        return -EIO;
    unsigned cap = 0, seen = 0, i = head;
    int r = 0;
    for (;;) {
        struct vring_desc d;
        if (++seen > vq->size || dev_dma_read(vq->dma, vq->desc + 16ull * i, &d, sizeof(d))) {
            r = -EIO;
            break;
        }
        if (d.flags & VIRTQ_DESC_F_INDIRECT) {
            /* Only with the feature, and as the chain's only descriptor
             * (spec 2.7.5.3.1: not together with NEXT, never nested). */
            r = vq->indirect && seen == 1 ? walk_indirect(vq, &d, e, &cap) : -EIO;
            break;
        }
        if (!ram_ok(vq, d.addr, d.len) || add_seg(e, &cap, &d, d.flags & VIRTQ_DESC_F_WRITE)) {
            r = -EIO;
            break;
        }
        if (!(d.flags & VIRTQ_DESC_F_NEXT))
            break;
        if (d.next >= vq->size) {
            r = -EIO;
            break;
        }
        i = d.next;
    }
    if (r) {
        dev_vq_elem_free(e);
        return r;
    }
    e->head = head;
    vq->last_avail++;
    /* Tell the driver how far we have read: it notifies again only when it
     * adds past this (avail_event, after the used ring). */
    if (vq->event_idx && wr16(vq, vq->used + 4 + 8ull * vq->size, vq->last_avail)) {
        dev_vq_elem_free(e);
        return -EIO;
    }
    return 1;
}

void dev_vq_elem_free(struct dev_vq_elem *e)
{
    free(e->seg);
    e->seg = NULL;
    e->nseg = e->nin = e->nout = 0;
}

int dev_vq_push(struct dev_vq *vq, uint16_t head, uint32_t len)
{
    if (!vq->size)
        return -EIO;
    uint32_t el[2] = { head, len };
    uint64_t slot = vq->used + 4 + 8ull * (vq->used_idx & (vq->size - 1));
    if (dev_dma_write(vq->dma, slot, el, sizeof(el)))
        return -EIO;
    vq->used_idx++;
    return wr16(vq, vq->used + 2, vq->used_idx);
}

bool dev_vq_should_notify(struct dev_vq *vq)
{
    if (!vq->event_idx) {
        uint16_t flags = 0;
        return rd16(vq, vq->avail, &flags) || !(flags & VIRTQ_AVAIL_F_NO_INTERRUPT);
    }
    uint16_t old = vq->signalled_used, now = vq->used_idx, used_event;
    bool valid = vq->signalled_valid;
    vq->signalled_used = now;
    vq->signalled_valid = true;
    if (!valid || rd16(vq, vq->avail + 4 + 2ull * vq->size, &used_event))
        return true;
    /* vring_need_event (spec 2.7.10): did used_idx step over used_event? */
    return (uint16_t)(now - used_event - 1) < (uint16_t)(now - old);
}

static int copy(const struct dev_vq *vq, const struct dev_vq_elem *e, bool write, uint64_t off,
                void *buf, uint64_t len)
{
    uint8_t *p = buf;
    for (unsigned i = 0; i < e->nseg && len; i++) {
        const struct dev_vq_seg *s = &e->seg[i];
        if (s->write != write)
            continue;
        if (off >= s->len) {
            off -= s->len;
            continue;
        }
        uint64_t n = s->len - off < len ? s->len - off : len;
        int r = write ? dev_dma_write(vq->dma, s->gpa + off, p, n)
                      : dev_dma_read(vq->dma, s->gpa + off, p, n);
        if (r)
            return -EIO;
        p += n;
        len -= n;
        off = 0;
    }
    return len ? -EIO : 0;
}

int dev_vq_copy_from(const struct dev_vq *vq, const struct dev_vq_elem *e, uint64_t off,
                     void *buf, uint64_t len)
{
    return copy(vq, e, false, off, buf, len);
}

int dev_vq_copy_to(const struct dev_vq *vq, const struct dev_vq_elem *e, uint64_t off,
                   const void *buf, uint64_t len)
{
    return copy(vq, e, true, off, (void *)buf, len);
}
