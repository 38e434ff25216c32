/*
 * vm/net.h — the user-mode network backend (libslirp) a network card sits
 * on. docs/network.md tells the threading story.
 *
 * Guest -> network: vm_net_send (the vcpu thread, or a test's thread).
 * Network -> guest: frames wait in a bounded queue; notify(ctx) is called
 * (from the backend's I/O thread or from inside vm_net_send) for each frame
 * queued (coalescing is the caller's: a flag it clears before it drains
 * the queue); the consumer (one thread) takes
 * frames with vm_net_rx_peek / vm_net_rx_pop. A full queue drops the new
 * frame and counts it (TCP retransmits, as on a real wire).
 */
#ifndef BTVM_VM_NET_H
#define BTVM_VM_NET_H

#include <stddef.h>
#include <stdint.h>
#include "vm/vm.h"

#define VM_NET_FRAME_MAX 1536u   /* an Ethernet frame without FCS, MTU 1500 */
#define VM_NET_RXQ_LEN   256u    /* frames waiting for the guest (power of two) */

/* The user network QEMU gives: 10.0.2.0/24, host 10.0.2.2, DNS 10.0.2.3,
 * DHCP from 10.0.2.15 (host byte order). */
#define VM_NET_NETWORK   0x0a000200u
#define VM_NET_HOST      0x0a000202u
#define VM_NET_DNS       0x0a000203u
#define VM_NET_DHCP      0x0a00020fu

struct vm_net;

struct vm_net_stats {
    uint64_t tx_frames, tx_bytes;     /* guest -> network */
    uint64_t rx_frames, rx_bytes;     /* network -> guest queue */
    uint64_t rx_dropped;              /* the queue was full */
};

/* Starts the backend and its I/O thread; NULL with a one-line reason in
 * err (no "btvm: " prefix) on failure, e.g. a hostfwd port in use. */
struct vm_net *vm_net_slirp_new(const struct vm_net_options *o, void (*notify)(void *ctx),
                                void *ctx, char *err, size_t errlen);
/* Ends the I/O thread, closes every socket, frees n (NULL is fine). */
void vm_net_free(struct vm_net *n);

/* A frame from the guest (len <= 65535; larger is dropped). */
void vm_net_send(struct vm_net *n, const uint8_t *frame, size_t len);

/* The oldest waiting frame, or NULL; stays until vm_net_rx_pop. */
const uint8_t *vm_net_rx_peek(struct vm_net *n, size_t *len);
void vm_net_rx_pop(struct vm_net *n);

void vm_net_get_stats(struct vm_net *n, struct vm_net_stats *st);

/* vcpu thread (vm_poll_input): frames that came from the network, into
 * the card (vm/net_machine.c). */
struct vm_net_card;
void vm_net_machine_poll(struct vm_net_card *c);

#endif
