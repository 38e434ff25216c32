/*
 * devices/virtio_net.c — virtio-net (virtio 1.x, 5.1): queue 0 receives,
 * queue 1 transmits; no control queue, no offloads (docs/network.md says
 * why). Every frame carries a struct virtio_net_hdr in front: 12 bytes
 * when VERSION_1 or MRG_RXBUF was negotiated, else 10.
 *
 * Receive: with mergeable buffers a frame may span several available
 * chains; num_buffers in the first one's header says how many. When the
 * driver has not posted enough buffers yet, the chains taken are given
 * back (last_avail moves back) and the caller keeps the frame. Without
 * mergeable buffers one chain must hold header and frame (Linux then posts
 * 64 KiB chains). A malformed ring or a transmit chain shorter than the
 * header breaks the device (NEEDS_RESET), as QEMU's virtio_error does.
 */
#include "devices/virtio_net.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "devices/virtio_pci.h"

#define RXQ 0u
#define TXQ 1u
#define CONFIG_LEN 8u            /* mac[6], status (no MQ, MTU, speed fields) */
#define RX_MAX_CHAINS 64u        /* a 64 KiB frame in 1 KiB buffers */

struct dev_virtio_net {
    struct dev_virtio *t;
    struct dev_virtio_net_peer peer;
    struct dev_dma dma;
    uint8_t mac[6];
    uint8_t *frame;              /* DEV_VIRTIO_NET_FRAME_MAX bytes: a frame being sent */
    struct dev_vq_elem rx[RX_MAX_CHAINS];
    struct dev_virtio_net_stats st;
};

static unsigned hdr_len(const struct dev_virtio_net *n)
{
    uint64_t f = dev_virtio_features(n->t);
    return (f >> VIRTIO_F_VERSION_1 & 1) || (f >> VIRTIO_NET_F_MRG_RXBUF & 1)
               ? VIRTIO_NET_HDR_MRG_LEN : VIRTIO_NET_HDR_LEN;
}

static void config_read(void *ctx, unsigned off, unsigned size, uint64_t *val)
{
    struct dev_virtio_net *n = ctx;
    uint8_t cfg[CONFIG_LEN];
    memcpy(cfg, n->mac, 6);
    cfg[6] = VIRTIO_NET_S_LINK_UP;   /* status, little-endian u16 */
    cfg[7] = 0;
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)cfg[off + i] << (8 * i);
    *val = v;
}

/* A legacy driver may set the MAC by writing it (QEMU allows that without
 * CTRL_MAC_ADDR and VERSION_1); status is read-only. */
static void config_write(void *ctx, unsigned off, unsigned size, uint64_t val)
{
    struct dev_virtio_net *n = ctx;
    if (dev_virtio_features(n->t) >> VIRTIO_F_VERSION_1 & 1)
        return;
    for (unsigned i = 0; i < size; i++)
        if (off + i < 6)
            n->mac[off + i] = (uint8_t)(val >> (8 * i));
}

/* VIRTIO_NET_F_CSUM: the driver left the TCP/UDP checksum to us (5.1.6.2):
 * the ones' complement sum from csum_start to the end, stored at
 * csum_start + csum_offset (which holds the pseudo-header's sum). false:
 * the offsets point outside the frame. */
static bool complete_csum(uint8_t *f, size_t len, const uint8_t *hdr)
{
    size_t start = (size_t)(hdr[6] | hdr[7] << 8), off = (size_t)(hdr[8] | hdr[9] << 8);
    if (start > len || off > len - start || len - start - off < 2)
        return false;
    uint64_t sum = 0;
    size_t i = start;
    for (; i + 1 < len; i += 2)
        sum += (uint32_t)(f[i] << 8 | f[i + 1]);
    if (i < len)
        sum += (uint32_t)f[i] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    uint16_t c = (uint16_t)~sum;
    f[start + off] = (uint8_t)(c >> 8);
    f[start + off + 1] = (uint8_t)c;
    return true;
}

static void tx(struct dev_virtio_net *n)
{
    struct dev_vq *vq = dev_virtio_queue(n->t, TXQ);
    unsigned hl = hdr_len(n);
    bool csum = dev_virtio_features(n->t) >> VIRTIO_NET_F_CSUM & 1;
    bool pushed = false;
    /* Until the ring is empty: the guest does not run meanwhile (this is
     * its vcpu thread), so the loop ends. */
    while (dev_virtio_running(n->t)) {
        struct dev_vq_elem e;
        int r = dev_vq_pop(vq, &e);
        if (r == 0)
            break;
        if (r < 0) {
            dev_virtio_broken(n->t);
            return;
        }
        /* A chain too short for the header, or a frame past 64 KiB, is
         * a broken driver. GSO was not offered: gso_type is ignored. */
        uint8_t hdr[VIRTIO_NET_HDR_MRG_LEN];
        uint64_t flen = e.out_len - hl;
        if (e.out_len < hl || flen > DEV_VIRTIO_NET_FRAME_MAX ||
            dev_vq_copy_from(vq, &e, 0, hdr, hl) ||
            dev_vq_copy_from(vq, &e, hl, n->frame, flen)) {
            dev_vq_elem_free(&e);
            dev_virtio_broken(n->t);
            return;
        }
        uint16_t head = e.head;
        dev_vq_elem_free(&e);
        bool ok = flen >= 14;    /* shorter than an Ethernet header: nothing to send */
        if (ok && csum && (hdr[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM))
            ok = complete_csum(n->frame, (size_t)flen, hdr);
        if (!ok) {
            n->st.tx_dropped++;
        } else {
            n->st.tx_frames++;
            n->st.tx_bytes += flen;
            n->peer.send(n->peer.ctx, n->frame, (size_t)flen);
        }
        if (dev_vq_push(vq, head, 0)) {
            dev_virtio_broken(n->t);
            return;
        }
        pushed = true;
    }
    if (pushed)
        dev_virtio_used(n->t, TXQ);
}

static void notify(void *ctx, unsigned q)
{
    struct dev_virtio_net *n = ctx;
    if (q == TXQ) {
        tx(n);
    } else if (q == RXQ && n->peer.rx_ready) {
        n->peer.rx_ready(n->peer.ctx);
    }
}

static void reset(void *ctx)
{
    (void)ctx;   /* nothing in flight: rx and tx complete within a call */
}

static void put_chains_back(struct dev_vq *vq, struct dev_vq_elem *e, unsigned k)
{
    for (unsigned i = 0; i < k; i++)
        dev_vq_elem_free(&e[i]);
    vq->last_avail = (uint16_t)(vq->last_avail - k);
}

bool dev_virtio_net_receive(struct dev_virtio_net *n, const uint8_t *frame, size_t len)
{
    struct dev_vq *vq = dev_virtio_queue(n->t, RXQ);
    if (!dev_virtio_running(n->t) || !vq->ready) {
        n->st.rx_dropped++;      /* no driver: the wire is unplugged */
        return true;
    }
    uint64_t f = dev_virtio_features(n->t);
    bool mrg = f >> VIRTIO_NET_F_MRG_RXBUF & 1;
    unsigned hl = hdr_len(n);
    uint64_t total = hl + len;
    unsigned k = 0;
    uint64_t room = 0;
    while (room < total) {
        if (k == (mrg ? RX_MAX_CHAINS : 1u)) {
            /* Even all the buffers it may use cannot hold this frame. */
            put_chains_back(vq, n->rx, k);
            n->st.rx_dropped++;
            return true;
        }
        int r = dev_vq_pop(vq, &n->rx[k]);
        if (r == 0) {
            put_chains_back(vq, n->rx, k);
            return false;
        }
        if (r < 0) {
            put_chains_back(vq, n->rx, k);
            dev_virtio_broken(n->t);
            return true;
        }
        room += n->rx[k].in_len;
        k++;
    }
    uint8_t hdr[VIRTIO_NET_HDR_MRG_LEN];
    memset(hdr, 0, sizeof(hdr));
    /* GUEST_CSUM: every frame comes from libslirp, which wrote correct
     * checksums, over a wire that cannot corrupt: the driver need not check
     * them again (DATA_VALID, 5.1.6.4). */
    if (f >> VIRTIO_NET_F_GUEST_CSUM & 1)
        hdr[0] = VIRTIO_NET_HDR_F_DATA_VALID;
    hdr[10] = (uint8_t)k;        /* num_buffers (le16), read only with mrg */
    hdr[11] = (uint8_t)(k >> 8);
    uint64_t done = 0;           /* bytes of header + frame written */
    bool ok = true;
    for (unsigned i = 0; i < k && ok; i++) {
        uint64_t cap = n->rx[i].in_len, put = 0;
        if (done < hl) {
            uint64_t h = hl - done < cap ? hl - done : cap;
            ok = !dev_vq_copy_to(vq, &n->rx[i], 0, hdr + done, h);
            put = h;
            done += h;
        }
        if (ok && done < total && put < cap) {
            uint64_t d = total - done < cap - put ? total - done : cap - put;
            ok = !dev_vq_copy_to(vq, &n->rx[i], put, frame + (done - hl), d);
            put += d;
            done += d;
        }
        ok = ok && !dev_vq_push(vq, n->rx[i].head, (uint32_t)put);
    }
    for (unsigned i = 0; i < k; i++)
        dev_vq_elem_free(&n->rx[i]);
    if (!ok) {
        dev_virtio_broken(n->t);
        return true;
    }
    n->st.rx_frames++;
    n->st.rx_bytes += len;
    dev_virtio_used(n->t, RXQ);
    return true;
}

struct dev_virtio_net *dev_virtio_net_new(struct dev_pci_host *h, unsigned devfn,
                                          const uint8_t mac[6], uint64_t offloads,
                                          struct dev_virtio_net_peer peer,
                                          struct dev_dma dma, struct dev_irq_line irq)
{
    struct dev_virtio_net *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->frame = malloc(DEV_VIRTIO_NET_FRAME_MAX);
    if (!n->frame) {
        free(n);
        return NULL;
    }
    memcpy(n->mac, mac, 6);
    n->peer = peer;
    n->dma = dma;
    uint64_t f = 1ull << VIRTIO_NET_F_MAC | 1ull << VIRTIO_NET_F_STATUS |
                 1ull << VIRTIO_NET_F_MRG_RXBUF |
                 (offloads & (1ull << VIRTIO_NET_F_CSUM | 1ull << VIRTIO_NET_F_GUEST_CSUM));
    struct dev_virtio_config vc = {
        .device_id = 0x1000, .virtio_type = 1, .class_code = 0x020000,
        .nqueues = 2, .queue_size = DEV_VIRTIO_NET_QUEUE_SIZE, .config_len = CONFIG_LEN,
        .ops = { .features = f, .config_read = config_read, .config_write = config_write,
                 .notify = notify, .reset = reset },
        .ctx = n, .dma = dma, .irq = irq,
    };
    n->t = dev_virtio_pci_new(h, devfn, &vc);
    if (!n->t) {
        free(n->frame);
        free(n);
        return NULL;
    }
    return n;
}

void dev_virtio_net_free(struct dev_virtio_net *n)
{
    if (!n)
        return;
    dev_virtio_pci_free(n->t);
    free(n->frame);
    free(n);
}

void dev_virtio_net_get_stats(const struct dev_virtio_net *n, struct dev_virtio_net_stats *st)
{
    *st = n->st;
}

struct dev_virtio *dev_virtio_net_transport(struct dev_virtio_net *n)
{
    return n->t;
}
