/*
 * devices/virtio_pci.c — the virtio PCI transport of a transitional device:
 * legacy registers in I/O BAR0, virtio 1.0 structures in memory BAR4 found
 * through vendor-specific capabilities, INTx with the ISR register.
 * docs/virtio.md.
 */
#include "devices/virtio_pci.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Vendor-specific capability types (virtio 1.0, 4.1.4). */
enum { CAP_COMMON = 1, CAP_NOTIFY = 2, CAP_ISR = 3, CAP_DEVICE = 4 };
#define CAP_BASE 0x40u
#define ISR_QUEUE  1u
#define ISR_CONFIG 2u

struct dev_virtio {
    struct dev_pci_fn fn;
    struct dev_virtio_config c;
    uint64_t host_features;
    uint64_t guest_features;
    uint32_t dfselect, gfselect;
    uint8_t status, isr;
    uint16_t qsel;
    bool broken;
    bool registered;
    struct dev_vq vq[DEV_VIRTIO_MAX_QUEUES];
};

struct dev_vq *dev_virtio_queue(struct dev_virtio *v, unsigned q)
{
    return q < v->c.nqueues ? &v->vq[q] : NULL;
}

uint64_t dev_virtio_features(const struct dev_virtio *v)
{
    return v->guest_features;
}

bool dev_virtio_running(const struct dev_virtio *v)
{
    return !v->broken && (v->status & VIRTIO_STATUS_DRIVER_OK);
}

struct dev_pci_fn *dev_virtio_pci_fn(struct dev_virtio *v)
{
    return &v->fn;
}

static void update_irq(struct dev_virtio *v)
{
    dev_irq_set(&v->c.irq, v->isr != 0);
}

void dev_virtio_used(struct dev_virtio *v, unsigned q)
{
    if (q >= v->c.nqueues || !dev_vq_should_notify(&v->vq[q]))
        return;
    v->isr |= ISR_QUEUE;
    update_irq(v);
}

void dev_virtio_broken(struct dev_virtio *v)
{
    if (v->broken)
        return;
    v->broken = true;
    v->status |= VIRTIO_STATUS_NEEDS_RESET;
    if (v->status & VIRTIO_STATUS_DRIVER_OK) {
        v->isr |= ISR_CONFIG;
        update_irq(v);
    }
}

void dev_virtio_reset(struct dev_virtio *v)
{
    if (v->c.ops.reset)
        v->c.ops.reset(v->c.ctx);
    for (unsigned q = 0; q < v->c.nqueues; q++) {
        dev_vq_reset(&v->vq[q], &v->c.dma);
        v->vq[q].size = v->c.queue_size;
    }
    v->guest_features = 0;
    v->dfselect = v->gfselect = 0;
    v->status = 0;
    v->isr = 0;
    v->qsel = 0;
    v->broken = false;
    update_irq(v);
}

/* The ring features, copied into each queue when the driver sets them. */
static void set_guest_features(struct dev_virtio *v, uint64_t f)
{
    v->guest_features = f & v->host_features;
    for (unsigned q = 0; q < v->c.nqueues; q++) {
        v->vq[q].event_idx = v->guest_features >> VIRTIO_RING_F_EVENT_IDX & 1;
        v->vq[q].indirect = v->guest_features >> VIRTIO_RING_F_INDIRECT_DESC & 1;
    }
}

static void notify(struct dev_virtio *v, unsigned q)
{
    /* Before setup or after the driver broke the device: nothing to do
     * (QEMU ignores these too). */
    if (v->broken || q >= v->c.nqueues || !v->vq[q].ready)
        return;
    v->c.ops.notify(v->c.ctx, q);
}

static void set_status(struct dev_virtio *v, uint8_t s, bool modern)
{
    if (s == 0) {
        dev_virtio_reset(v);
        return;
    }
    /* FEATURES_OK sticks only for a subset of what we offered, with
     * VERSION_1 (4.1.2: a modern driver must accept it). */
    if (modern && (s & VIRTIO_STATUS_FEATURES_OK) && !(v->status & VIRTIO_STATUS_FEATURES_OK) &&
        !(v->guest_features >> VIRTIO_F_VERSION_1 & 1))
        s &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
    v->status = (uint8_t)(s | (v->status & VIRTIO_STATUS_NEEDS_RESET));
}

static uint8_t read_isr(struct dev_virtio *v)
{
    uint8_t r = v->isr;
    v->isr = 0;   /* reading acknowledges (and lowers INTx) */
    update_irq(v);
    return r;
}

static void config_access(struct dev_virtio *v, uint64_t off, unsigned size, bool w, uint64_t *d)
{
    if (off + size > v->c.config_len) {
        if (!w)
            *d = 0;
        return;
    }
    if (w) {
        if (v->c.ops.config_write)
            v->c.ops.config_write(v->c.ctx, (unsigned)off, size, *d);
    } else {
        *d = 0;
        if (v->c.ops.config_read)
            v->c.ops.config_read(v->c.ctx, (unsigned)off, size, d);
    }
}

/* ---- legacy: I/O BAR0 ---- */

static void legacy_io(void *opaque, uint64_t off, unsigned size, bool w, uint64_t *d)
{
    struct dev_virtio *v = opaque;
    if (off >= VIRTIO_PCI_CONFIG) {
        config_access(v, off - VIRTIO_PCI_CONFIG, size, w, d);
        return;
    }
    struct dev_vq *vq = v->qsel < v->c.nqueues ? &v->vq[v->qsel] : NULL;
    uint64_t val = 0;
    switch (off) {
    case VIRTIO_PCI_HOST_FEATURES:
        val = (uint32_t)v->host_features & ~0u;   /* bit 32 (VERSION_1) is out of reach */
        break;
    case VIRTIO_PCI_GUEST_FEATURES:
        if (w)
            set_guest_features(v, (uint32_t)*d);
        val = (uint32_t)v->guest_features;
        break;
    case VIRTIO_PCI_QUEUE_PFN:
        if (w && vq) {
            vq->size = v->c.queue_size;
            if (*d == 0) {
                vq->ready = false;
            } else {
                dev_vq_set_legacy(vq, (uint32_t)*d);
                vq->last_avail = vq->used_idx = 0;
                vq->signalled_valid = false;
                vq->ready = dev_vq_check(vq) == 0;
                if (!vq->ready)
                    dev_virtio_broken(v);
            }
        }
        val = vq && vq->ready ? (uint32_t)(vq->desc >> 12) : 0;
        break;
    case VIRTIO_PCI_QUEUE_NUM:
        val = vq ? v->c.queue_size : 0;
        break;
    case VIRTIO_PCI_QUEUE_SEL:
        if (w)
            v->qsel = (uint16_t)*d;
        val = v->qsel;
        break;
    case VIRTIO_PCI_QUEUE_NOTIFY:
        if (w)
            notify(v, (uint16_t)*d);
        break;
    case VIRTIO_PCI_STATUS:
        if (w)
            set_status(v, (uint8_t)*d, false);
        val = v->status;
        break;
    case VIRTIO_PCI_ISR:
        if (!w)
            val = read_isr(v);
        break;
    default:
        break;
    }
    if (!w)
        *d = val;
}

/* ---- modern: memory BAR4 ---- */

static void common_access(struct dev_virtio *v, uint64_t off, unsigned size, bool w, uint64_t *d)
{
    struct dev_vq *vq = v->qsel < v->c.nqueues ? &v->vq[v->qsel] : NULL;
    uint32_t in = (uint32_t)*d, val = 0;
    uint64_t *addr = NULL;
    (void)size;
    switch (off) {
    case VIRTIO_PCI_COMMON_DFSELECT:
        if (w)
            v->dfselect = in;
        val = v->dfselect;
        break;
    case VIRTIO_PCI_COMMON_DF:
        val = v->dfselect < 2 ? (uint32_t)(v->host_features >> (32 * v->dfselect)) : 0;
        break;
    case VIRTIO_PCI_COMMON_GFSELECT:
        if (w)
            v->gfselect = in;
        val = v->gfselect;
        break;
    case VIRTIO_PCI_COMMON_GF:
        if (w && v->gfselect < 2 && !(v->status & VIRTIO_STATUS_FEATURES_OK)) {
            unsigned sh = 32 * v->gfselect;
            uint64_t f = (v->guest_features & ~(0xFFFFFFFFull << sh)) | (uint64_t)in << sh;
            set_guest_features(v, f);
        }
        val = v->gfselect < 2 ? (uint32_t)(v->guest_features >> (32 * v->gfselect)) : 0;
        break;
    case VIRTIO_PCI_COMMON_MSIX:
    case VIRTIO_PCI_COMMON_Q_MSIX:
        val = 0xFFFF;   /* VIRTIO_MSI_NO_VECTOR: no MSI-X */
        break;
    case VIRTIO_PCI_COMMON_NUMQ:
        val = v->c.nqueues;
        break;
    case VIRTIO_PCI_COMMON_STATUS:
        if (w)
            set_status(v, (uint8_t)in, true);
        val = v->status;
        break;
    case VIRTIO_PCI_COMMON_CFGGENERATION:
        val = 0;   /* the configuration never changes under the driver */
        break;
    case VIRTIO_PCI_COMMON_Q_SELECT:
        if (w)
            v->qsel = (uint16_t)in;
        val = v->qsel;
        break;
    case VIRTIO_PCI_COMMON_Q_SIZE:
        if (w && vq && !vq->ready)
            vq->size = (uint16_t)in;   /* checked when enabled */
        val = vq ? vq->size : 0;
        break;
    case VIRTIO_PCI_COMMON_Q_ENABLE:
        if (w && vq && in == 1 && !vq->ready) {
            vq->last_avail = vq->used_idx = 0;
            vq->signalled_valid = false;
            /* A size above the maximum or not a power of two, or a ring
             * outside RAM: the driver broke the rules (4.1.4.3.2). */
            if (vq->size > v->c.queue_size || dev_vq_check(vq))
                dev_virtio_broken(v);
            else
                vq->ready = true;
        }
        val = vq && vq->ready;
        break;
    case VIRTIO_PCI_COMMON_Q_NOFF:
        val = v->qsel;   /* notify address = notify BAR offset + qsel * multiplier */
        break;
    case VIRTIO_PCI_COMMON_Q_DESCLO: case VIRTIO_PCI_COMMON_Q_DESCHI: addr = vq ? &vq->desc : NULL; break;
    case VIRTIO_PCI_COMMON_Q_AVAILLO: case VIRTIO_PCI_COMMON_Q_AVAILHI: addr = vq ? &vq->avail : NULL; break;
    case VIRTIO_PCI_COMMON_Q_USEDLO: case VIRTIO_PCI_COMMON_Q_USEDHI: addr = vq ? &vq->used : NULL; break;
    default:
        break;
    }
    if (addr) {
        unsigned sh = off & 4 ? 32 : 0;
        if (w && !vq->ready)
            *addr = (*addr & ~(0xFFFFFFFFull << sh)) | (uint64_t)in << sh;
        val = (uint32_t)(*addr >> sh);
    }
    if (!w)
        *d = val;
}

static void modern_mem(void *opaque, uint64_t off, unsigned size, bool w, uint64_t *d)
{
    struct dev_virtio *v = opaque;
    if (off < DEV_VIRTIO_ISR_OFF) {
        common_access(v, off, size, w, d);
    } else if (off < DEV_VIRTIO_DEVICE_OFF) {
        if (!w)
            *d = off == DEV_VIRTIO_ISR_OFF ? read_isr(v) : 0;
    } else if (off < DEV_VIRTIO_NOTIFY_OFF) {
        config_access(v, off - DEV_VIRTIO_DEVICE_OFF, size, w, d);
    } else {
        if (w)
            notify(v, (unsigned)((off - DEV_VIRTIO_NOTIFY_OFF) / DEV_VIRTIO_NOTIFY_MULT));
        else
            *d = 0;
    }
}

/* struct virtio_pci_cap (and virtio_pci_notify_cap's multiplier). */
static unsigned add_cap(uint8_t *cfg, unsigned at, unsigned next, uint8_t type, uint32_t off,
                        uint32_t len)
{
    unsigned clen = type == CAP_NOTIFY ? 20 : 16;
    cfg[at] = 0x09;          /* vendor-specific */
    cfg[at + 1] = (uint8_t)next;
    cfg[at + 2] = (uint8_t)clen;
    cfg[at + 3] = type;
    cfg[at + 4] = DEV_VIRTIO_MODERN_BAR;
    memcpy(&cfg[at + 8], &off, 4);
    memcpy(&cfg[at + 12], &len, 4);
    if (type == CAP_NOTIFY) {
        uint32_t mult = DEV_VIRTIO_NOTIFY_MULT;
        memcpy(&cfg[at + 16], &mult, 4);
    }
    return clen;
}

struct dev_virtio *dev_virtio_pci_new(struct dev_pci_host *h, unsigned devfn,
                                      const struct dev_virtio_config *cfg)
{
    if (cfg->nqueues == 0 || cfg->nqueues > DEV_VIRTIO_MAX_QUEUES || !cfg->queue_size ||
        cfg->queue_size > DEV_VQ_MAX_SIZE || (cfg->queue_size & (cfg->queue_size - 1)) ||
        cfg->config_len > DEV_VIRTIO_NOTIFY_OFF - DEV_VIRTIO_DEVICE_OFF)
        return NULL;
    struct dev_virtio *v = calloc(1, sizeof(*v));
    if (!v)
        return NULL;
    v->c = *cfg;
    v->host_features = cfg->ops.features | 1ull << VIRTIO_RING_F_INDIRECT_DESC |
                       1ull << VIRTIO_RING_F_EVENT_IDX | 1ull << VIRTIO_F_ANY_LAYOUT |
                       1ull << VIRTIO_F_VERSION_1;
    dev_virtio_reset(v);

    struct dev_pci_fn *fn = &v->fn;
    dev_pci_fn_init(fn, "virtio", DEV_VIRTIO_VENDOR, cfg->device_id, 0, cfg->class_code, 0);
    dev_pci_set16(fn->cfg, 0x2C, DEV_VIRTIO_VENDOR);   /* subsystem vendor */
    dev_pci_set16(fn->cfg, 0x2E, cfg->virtio_type);    /* subsystem: the virtio type */
    fn->cfg[DEV_PCI_INT_PIN] = 1;                      /* INTA# */
    fn->cfg[DEV_PCI_STATUS] |= 0x10;                   /* capability list */
    fn->cfg[0x34] = CAP_BASE;
    unsigned at = CAP_BASE;
    at += add_cap(fn->cfg, at, at + 16, CAP_COMMON, DEV_VIRTIO_COMMON_OFF, 0x38);
    at += add_cap(fn->cfg, at, at + 16, CAP_ISR, DEV_VIRTIO_ISR_OFF, 1);
    at += add_cap(fn->cfg, at, at + 16, CAP_DEVICE, DEV_VIRTIO_DEVICE_OFF,
                  cfg->config_len ? cfg->config_len : 4);
    add_cap(fn->cfg, at, 0, CAP_NOTIFY, DEV_VIRTIO_NOTIFY_OFF,
            DEV_VIRTIO_NOTIFY_MULT * cfg->nqueues);
    uint32_t iosize = 32;
    while (iosize < VIRTIO_PCI_CONFIG + cfg->config_len)
        iosize <<= 1;
    if (dev_pci_fn_set_bar(fn, 0, DEV_PCI_BAR_IO, iosize, "virtio-legacy", legacy_io, v) ||
        dev_pci_fn_set_bar(fn, DEV_VIRTIO_MODERN_BAR, DEV_PCI_BAR_MEM32, DEV_VIRTIO_MODERN_SIZE,
                           "virtio-modern", modern_mem, v) ||
        dev_pci_register(h, devfn, fn)) {
        free(v);
        return NULL;
    }
    v->registered = true;
    return v;
}

void dev_virtio_pci_free(struct dev_virtio *v)
{
    if (!v)
        return;
    dev_virtio_reset(v);
    if (v->registered)
        dev_pci_unregister(v->fn.host, v->fn.devfn);
    free(v);
}
