/*
 * vm/net_machine.c — the network card as part of the machine: a
 * virtio-net PCI function (first free slot from 3, after the virtio disks)
 * on the libslirp user network, and the hand-over of received frames from
 * the network's I/O thread to the vcpu thread: the backend queues them and
 * calls on_frame, which raises input_pending and kicks the vcpu (as the
 * console reader does); the vcpu, in vm_poll_input, moves them into the
 * guest's receive buffers. docs/network.md.
 */
#include "vm/machine.h"

#include <stdio.h>
#include <stdlib.h>

#include "devices/irqroute.h"
#include "devices/pci_host.h"
#include "devices/virtio_net.h"
#include "vm/dma.h"
#include "vm/net.h"

#define FIRST_SLOT 3

struct vm_net_card {
    struct vm *vm;
    struct vm_net *backend;
    struct dev_virtio_net *dev;
    int pending;                 /* frames arrived since the vcpu last drained */
};

/* Any thread: a frame is waiting. One kick until the vcpu drains. */
static void on_frame(void *ctx)
{
    struct vm_net_card *c = ctx;
    if (__atomic_exchange_n(&c->pending, 1, __ATOMIC_ACQ_REL))
        return;
    __atomic_store_n(&c->vm->input_pending, 1, __ATOMIC_RELEASE);
    vm_kick(c->vm);
}

/* vcpu thread: waiting frames into the guest while it has buffers. */
static void drain(struct vm_net_card *c)
{
    size_t len;
    const uint8_t *f;
    while ((f = vm_net_rx_peek(c->backend, &len))) {
        if (!dev_virtio_net_receive(c->dev, f, len))
            return;              /* no buffers: rx_ready brings us back */
        vm_net_rx_pop(c->backend);
    }
}

void vm_net_machine_poll(struct vm_net_card *c)
{
    /* Cleared before draining: a frame queued meanwhile kicks again. */
    if (__atomic_exchange_n(&c->pending, 0, __ATOMIC_ACQ_REL))
        drain(c);
}

static void card_send(void *ctx, const uint8_t *frame, size_t len)
{
    struct vm_net_card *c = ctx;
    vm_net_send(c->backend, frame, len);
}

static void card_rx_ready(void *ctx)
{
    drain(ctx);
}

int vm_machine_net_setup(struct vm_machine *m)
{
    struct vm *vm = &m->vm;
    if (!vm->opt.net.enabled)
        return 0;
    struct vm_net_card *c = calloc(1, sizeof(*c));
    if (!c) {
        fprintf(stderr, "btvm: out of memory for the network card\n");
        return VM_STATUS_HOST_ERROR;
    }
    c->vm = vm;
    m->net = c;
    char err[256];
    c->backend = vm_net_slirp_new(&vm->opt.net, on_frame, c, err, sizeof(err));
    if (!c->backend) {
        fprintf(stderr, "btvm: %s\n", err);
        return VM_STATUS_BAD_INPUT;
    }
    int slot = FIRST_SLOT;
    while (slot < 32 && dev_pci_fn_at(m->pci, DEV_PCI_DEVFN(slot, 0)))
        slot++;
    if (slot == 32) {
        fprintf(stderr, "btvm: no free PCI slot for the network card\n");
        return VM_STATUS_BAD_INPUT;
    }
    struct dev_virtio_net_peer peer = { .send = card_send, .rx_ready = card_rx_ready, .ctx = c };
    /* INTA# through the PIIX3 swizzle: slot s, pin A -> PIRQ (s + 3) % 4. */
    c->dev = dev_virtio_net_new(m->pci, DEV_PCI_DEVFN(slot, 0), vm->opt.net.mac,
                                DEV_VIRTIO_NET_OFFLOADS, peer,
                                vm_dma(vm), dev_irqroute_pirq_line(m->irq, (slot + 3) % 4));
    if (!c->dev) {
        fprintf(stderr, "btvm: cannot create the virtio-net device\n");
        return VM_STATUS_HOST_ERROR;
    }
    vm->net = c;
    return 0;
}

void vm_machine_net_free(struct vm_machine *m)
{
    struct vm_net_card *c = m->net;
    if (!c)
        return;
    m->vm.net = NULL;
    dev_virtio_net_free(c->dev);     /* no more sends */
    vm_net_free(c->backend);         /* joins the I/O thread: no more on_frame */
    free(c);
    m->net = NULL;
}
