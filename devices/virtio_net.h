/*
 * devices/virtio_net.h — virtio-net (virtio 1.x, 5.1) on the virtio PCI
 * transport (QEMU's transitional 1AF4:1000): one receive and one transmit
 * queue, MAC, link status and mergeable receive buffers. The network
 * behind it is the machine's (vm/net_machine.c): frames go out through
 * peer.send; frames come in through dev_virtio_net_receive, on the vcpu
 * thread. docs/network.md.
 */
#ifndef BTVM_DEV_VIRTIO_NET_H
#define BTVM_DEV_VIRTIO_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "devices/dma.h"
#include "devices/irq.h"
#include "devices/pci_host.h"

#define DEV_VIRTIO_NET_QUEUE_SIZE 256u
#define DEV_VIRTIO_NET_FRAME_MAX  65535u   /* largest frame the guest may send */
/* The checksum offloads the machine offers: only GUEST_CSUM (received
 * frames marked DATA_VALID); docs/network.md has the measurements. */
#define DEV_VIRTIO_NET_OFFLOADS (1ull << VIRTIO_NET_F_GUEST_CSUM)

/* Feature bits (5.1.3). */
#define VIRTIO_NET_F_CSUM        0
#define VIRTIO_NET_F_GUEST_CSUM  1
#define VIRTIO_NET_F_MAC         5
#define VIRTIO_NET_F_MRG_RXBUF   15
#define VIRTIO_NET_F_STATUS      16
#define VIRTIO_NET_S_LINK_UP     1u

/* struct virtio_net_hdr (5.1.6): 10 bytes, 12 with num_buffers (mergeable
 * buffers or VERSION_1). */
#define VIRTIO_NET_HDR_LEN        10u
#define VIRTIO_NET_HDR_MRG_LEN    12u
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1u
#define VIRTIO_NET_HDR_F_DATA_VALID 2u
#define VIRTIO_NET_HDR_GSO_NONE   0u

struct dev_virtio_net;

/* The network side, called on the vcpu thread. */
struct dev_virtio_net_peer {
    void (*send)(void *ctx, const uint8_t *frame, size_t len);
    /* The driver posted receive buffers: frames that waited may go now. */
    void (*rx_ready)(void *ctx);
    void *ctx;
};

struct dev_virtio_net_stats {
    uint64_t tx_frames, tx_bytes, rx_frames, rx_bytes;
    uint64_t rx_dropped;        /* the driver was not running, or a frame fit no buffer */
    uint64_t tx_dropped;        /* runts, checksum offsets outside the frame */
};

/* A virtio-net function at 00:devfn with that MAC, offering the offloads
 * in the mask (VIRTIO_NET_F_CSUM and/or GUEST_CSUM bits). NULL on failure. */
struct dev_virtio_net *dev_virtio_net_new(struct dev_pci_host *h, unsigned devfn,
                                          const uint8_t mac[6], uint64_t offloads,
                                          struct dev_virtio_net_peer peer,
                                          struct dev_dma dma, struct dev_irq_line irq);
void dev_virtio_net_free(struct dev_virtio_net *n);

/* Hand a frame to the guest. true: taken (or dropped for good and
 * counted: no driver, or it cannot fit); false: no receive buffer now —
 * keep it and try again after peer.rx_ready. */
bool dev_virtio_net_receive(struct dev_virtio_net *n, const uint8_t *frame, size_t len);

void dev_virtio_net_get_stats(const struct dev_virtio_net *n, struct dev_virtio_net_stats *st);
/* The transport (tests). */
struct dev_virtio *dev_virtio_net_transport(struct dev_virtio_net *n);

#endif
