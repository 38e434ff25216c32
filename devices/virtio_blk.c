/*
 * devices/virtio_blk.c — virtio-blk: each available chain is a request
 * (16-byte header, data, a status byte at the very end of the writable
 * part). Reads and writes go to the disk's submit with host pointers into
 * guest RAM, so the vcpu runs on while an I/O thread transfers; the
 * completion (vcpu thread) writes the status, returns the chain and
 * interrupts. docs/virtio.md.
 */
#include "devices/virtio_blk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "devices/virtio_pci.h"

#define CONFIG_LEN 0x3C
#define SUBMITTED  (-1)   /* start(): the disk will call on_done */   /* struct virtio_blk_config up to write_zeroes_may_unmap */

struct dev_virtio_blk {
    struct dev_virtio *t;
    struct dev_blkdev disk;
    struct dev_dma dma;
    char serial[VIRTIO_BLK_ID_BYTES];
    uint8_t config[CONFIG_LEN];
    unsigned generation;     /* bumped by reset: older completions are dropped */
    unsigned inflight;
};

struct vblk_req {
    struct dev_blk_req r;
    struct dev_virtio_blk *b;
    struct dev_vq_elem e;
    unsigned generation;
    uint64_t status_gpa;     /* the status byte */
    uint32_t in_len;         /* bytes of writable buffers used (data + status) */
};

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

static void config_read(void *ctx, unsigned off, unsigned size, uint64_t *val)
{
    struct dev_virtio_blk *b = ctx;
    memcpy(val, b->config + off, size);
}

static void req_free(struct vblk_req *q)
{
    dev_vq_elem_free(&q->e);
    free(q->r.iov);
    free(q);
}

/* Write the status, hand the chain back, interrupt if the driver wants. */
static void finish(struct vblk_req *q, uint8_t status)
{
    struct dev_virtio_blk *b = q->b;
    struct dev_vq *vq = dev_virtio_queue(b->t, 0);
    if (dev_dma_write(&b->dma, q->status_gpa, &status, 1) || dev_vq_push(vq, q->e.head, q->in_len))
        dev_virtio_broken(b->t);
    else
        dev_virtio_used(b->t, 0);
    req_free(q);
}

static void on_done(struct dev_blk_req *r, int result)
{
    struct vblk_req *q = (struct vblk_req *)r;
    struct dev_virtio_blk *b = q->b;
    b->inflight--;
    if (q->generation != b->generation || !dev_virtio_running(b->t)) {
        /* Reset or broken meanwhile: the ring is not ours to write. */
        req_free(q);
        return;
    }
    if (result == 0 && r->op == DEV_BLK_READ) {
        /* The I/O thread stored into guest RAM: what a DMA write does
         * besides the copy (translated code on those pages goes). */
        for (unsigned i = 0; i < q->e.nseg; i++)
            /* A zero-length segment was never mapped, so never checked:
             * its address may lie anywhere (fuzz/regress/virtio). */
            if (q->e.seg[i].write && q->e.seg[i].len)
                dev_dma_written(&b->dma, q->e.seg[i].gpa, q->e.seg[i].len);
    }
    finish(q, result == 0 ? VIRTIO_BLK_S_OK
              : result == -EOPNOTSUPP ? VIRTIO_BLK_S_UNSUPP : VIRTIO_BLK_S_IOERR);
}

/* The host pointers of bytes [off, off + len) of the readable (write =
 * false) or writable segments; each piece at most size_max. */
static int map_data(struct vblk_req *q, bool write, uint64_t off, uint64_t len)
{
    struct dev_blk_iov *iov = calloc(q->e.nseg ? q->e.nseg : 1, sizeof(*iov));
    if (!iov)
        return -ENOMEM;
    q->r.iov = iov;
    for (unsigned i = 0; i < q->e.nseg && len; i++) {
        const struct dev_vq_seg *s = &q->e.seg[i];
        if (s->write != write)
            continue;
        if (off >= s->len) {
            off -= s->len;
            continue;
        }
        uint64_t n = s->len - off < len ? s->len - off : len;
        if (n > DEV_VIRTIO_BLK_SIZE_MAX)
            return -EINVAL;
        void *p = dev_dma_map(&q->b->dma, s->gpa + off, (size_t)n);
        if (!p)
            return -EFAULT;
        iov[q->r.niov++] = (struct dev_blk_iov){ .base = p, .len = (size_t)n };
        len -= n;
        off = 0;
    }
    return len ? -EINVAL : 0;
}

static bool in_range(const struct dev_virtio_blk *b, uint64_t sector, uint64_t count)
{
    return sector <= b->disk.sectors && count <= b->disk.sectors - sector;
}

/* Build the request for the header's type: SUBMITTED, or the status to
 * finish with at once. */
static int start(struct vblk_req *q, uint32_t type, uint64_t sector)
{
    struct dev_virtio_blk *b = q->b;
    uint64_t feat = dev_virtio_features(b->t);
    uint64_t data_in = q->e.in_len - 1, data_out = q->e.out_len - 16;
    switch (type) {
    case VIRTIO_BLK_T_IN:
    case VIRTIO_BLK_T_OUT: {
        bool rd = type == VIRTIO_BLK_T_IN;
        uint64_t len = rd ? data_in : data_out;
        if (len % 512 || !in_range(b, sector, len / 512) || len / 512 > UINT32_MAX)
            return VIRTIO_BLK_S_IOERR;
        if (!rd && b->disk.readonly)
            return VIRTIO_BLK_S_IOERR;
        if (len == 0)
            return VIRTIO_BLK_S_OK;
        if (map_data(q, rd, rd ? 0 : 16, len))
            return VIRTIO_BLK_S_IOERR;
        q->r.op = rd ? DEV_BLK_READ : DEV_BLK_WRITE;
        q->r.sector = sector;
        q->r.count = (uint32_t)(len / 512);
        if (rd)
            q->in_len = (uint32_t)len + 1;
        break;
    }
    case VIRTIO_BLK_T_FLUSH:
        q->r.op = DEV_BLK_FLUSH;
        break;
    case VIRTIO_BLK_T_GET_ID: {
        uint64_t n = data_in < VIRTIO_BLK_ID_BYTES ? data_in : VIRTIO_BLK_ID_BYTES;
        if (dev_vq_copy_to(dev_virtio_queue(b->t, 0), &q->e, 0, b->serial, n))
            return VIRTIO_BLK_S_IOERR;
        q->in_len = (uint32_t)n + 1;
        return VIRTIO_BLK_S_OK;
    }
    case VIRTIO_BLK_T_DISCARD:
    case VIRTIO_BLK_T_WRITE_ZEROES: {
        bool dis = type == VIRTIO_BLK_T_DISCARD;
        if (!(feat >> (dis ? VIRTIO_BLK_F_DISCARD : VIRTIO_BLK_F_WRITE_ZEROES) & 1))
            return VIRTIO_BLK_S_UNSUPP;
        /* One segment (max_*_seg = 1): sector, num_sectors, flags. */
        struct { uint64_t sector; uint32_t num, flags; } seg;
        if (data_out != sizeof(seg) ||
            dev_vq_copy_from(dev_virtio_queue(b->t, 0), &q->e, 16, &seg, sizeof(seg)))
            return VIRTIO_BLK_S_IOERR;
        /* Discard with the unmap flag, or any reserved flag: 5.2.6.2. */
        if ((dis && seg.flags) || (seg.flags & ~1u))
            return VIRTIO_BLK_S_UNSUPP;
        if (b->disk.readonly || seg.num > DEV_VIRTIO_BLK_MAX_DISCARD ||
            !in_range(b, seg.sector, seg.num))
            return VIRTIO_BLK_S_IOERR;
        q->r.op = dis ? DEV_BLK_DISCARD : DEV_BLK_WRITE_ZEROES;
        q->r.sector = seg.sector;
        q->r.count = seg.num;
        q->r.unmap = seg.flags & 1;
        break;
    }
    default:
        return VIRTIO_BLK_S_UNSUPP;
    }
    q->r.done = on_done;
    q->generation = b->generation;
    b->inflight++;
    int r = b->disk.submit(b->disk.ctx, &q->r);
    if (r) {
        b->inflight--;
        return VIRTIO_BLK_S_IOERR;
    }
    return SUBMITTED;
}

static void notify(void *ctx, unsigned qi)
{
    struct dev_virtio_blk *b = ctx;
    struct dev_vq *vq = dev_virtio_queue(b->t, qi);
    while (dev_virtio_running(b->t)) {
        struct vblk_req *q = calloc(1, sizeof(*q));
        if (!q)
            return;
        q->b = b;
        int r = dev_vq_pop(vq, &q->e);
        if (r <= 0) {
            free(q);
            if (r < 0)
                dev_virtio_broken(b->t);
            return;
        }
        struct { uint32_t type, reserved; uint64_t sector; } hdr;
        if (q->e.out_len < 16 || q->e.in_len < 1 ||
            dev_vq_copy_from(vq, &q->e, 0, &hdr, sizeof(hdr))) {
            req_free(q);   /* no header or no status byte: not a request */
            dev_virtio_broken(b->t);
            return;
        }
        /* The status byte: the last byte of the last writable segment. */
        for (unsigned i = q->e.nseg; i-- > 0;)
            if (q->e.seg[i].write && q->e.seg[i].len) {
                q->status_gpa = q->e.seg[i].gpa + q->e.seg[i].len - 1;
                break;
            }
        q->in_len = 1;
        int st = start(q, hdr.type, hdr.sector);
        if (st != SUBMITTED)
            finish(q, (uint8_t)st);
    }
}

static void reset(void *ctx)
{
    struct dev_virtio_blk *b = ctx;
    b->generation++;   /* first: the completions drained below are dropped */
    if (b->inflight)
        b->disk.drain(b->disk.ctx);
}

struct dev_virtio_blk *dev_virtio_blk_new(struct dev_pci_host *h, unsigned devfn,
                                          const struct dev_blkdev *disk, const char *serial,
                                          struct dev_dma dma, struct dev_irq_line irq)
{
    if (!disk->submit || !disk->drain || !dma.map)
        return NULL;
    struct dev_virtio_blk *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->disk = *disk;
    b->dma = dma;
    /* GET_ID: up to 20 bytes, NUL-padded, no terminator when 20 long. */
    if (serial)
        memcpy(b->serial, serial, strnlen(serial, sizeof(b->serial)));
    uint64_t f = 1ull << VIRTIO_BLK_F_SIZE_MAX | 1ull << VIRTIO_BLK_F_SEG_MAX |
                 1ull << VIRTIO_BLK_F_BLK_SIZE | 1ull << VIRTIO_BLK_F_FLUSH;
    if (disk->readonly)
        f |= 1ull << VIRTIO_BLK_F_RO;
    if (disk->can_discard && !disk->readonly)
        f |= 1ull << VIRTIO_BLK_F_DISCARD;
    if (disk->can_write_zeroes && !disk->readonly)
        f |= 1ull << VIRTIO_BLK_F_WRITE_ZEROES;
    memcpy(b->config, &disk->sectors, 8);                       /* capacity */
    put32(b->config + 0x08, DEV_VIRTIO_BLK_SIZE_MAX);             /* size_max */
    put32(b->config + 0x0C, DEV_VIRTIO_BLK_QUEUE_SIZE - 2);       /* seg_max, as QEMU */
    put32(b->config + 0x14, 512);                                 /* blk_size */
    put32(b->config + 0x24, DEV_VIRTIO_BLK_MAX_DISCARD);          /* max_discard_sectors */
    put32(b->config + 0x28, 1);                                   /* max_discard_seg */
    put32(b->config + 0x2C, 1);                                   /* discard_sector_alignment */
    put32(b->config + 0x30, DEV_VIRTIO_BLK_MAX_DISCARD);          /* max_write_zeroes_sectors */
    put32(b->config + 0x34, 1);                                   /* max_write_zeroes_seg */
    b->config[0x38] = disk->can_discard;                          /* write_zeroes_may_unmap */
    struct dev_virtio_config vc = {
        .device_id = 0x1001, .virtio_type = 2, .class_code = 0x010000,
        .nqueues = 1, .queue_size = DEV_VIRTIO_BLK_QUEUE_SIZE, .config_len = CONFIG_LEN,
        .ops = { .features = f, .config_read = config_read, .notify = notify, .reset = reset },
        .ctx = b, .dma = dma, .irq = irq,
    };
    b->t = dev_virtio_pci_new(h, devfn, &vc);
    if (!b->t) {
        free(b);
        return NULL;
    }
    return b;
}

void dev_virtio_blk_free(struct dev_virtio_blk *b)
{
    if (!b)
        return;
    dev_virtio_pci_free(b->t);   /* resets: drains the disk */
    free(b);
}
