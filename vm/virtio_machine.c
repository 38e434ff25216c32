/*
 * vm/virtio_machine.c — the virtio devices as parts of the machine: one
 * virtio-blk PCI function per `-drive if=virtio`, in command-line order
 * from slot 3 on (QEMU's `pc` puts the VGA at 00:02.0 and the next devices
 * after it), INTA# on the PIRQ the PIIX3 swizzle gives the slot, and the
 * I/O threads that do their disk transfers. docs/virtio.md.
 */
#include "vm/machine.h"

#include <stdio.h>

#include "devices/blkdev.h"
#include "devices/irqroute.h"
#include "devices/pci_host.h"
#include "devices/virtio_blk.h"
#include "vm/dma.h"
#include "vm/iothread.h"
#include "vm/storage.h"

#define FIRST_SLOT 3
#define IO_THREADS 2   /* the host's cores; more only queue behind them */

/* An I/O thread finished jobs: the vcpu collects them with its input. */
static void on_io_done(void *ctx)
{
    struct vm *vm = ctx;
    __atomic_store_n(&vm->input_pending, 1, __ATOMIC_RELEASE);
    vm_kick(vm);
}

/* The first free slot from `from` on, or -1. */
static int free_slot(struct dev_pci_host *h, int from)
{
    for (int s = from; s < 32; s++)
        if (!dev_pci_fn_at(h, DEV_PCI_DEVFN(s, 0)))
            return s;
    return -1;
}

int vm_machine_virtio_setup(struct vm_machine *m)
{
    struct vm *vm = &m->vm;
    int slot = FIRST_SLOT;
    for (int i = 0; i < VM_MAX_VIRTIO_DRIVES; i++) {
        const struct vm_drive *d = &vm->opt.virtio_drives[i];
        if (!d->used)
            continue;
        if (!m->iothreads) {
            m->iothreads = vm_iothreads_new(IO_THREADS, on_io_done, vm);
            if (!m->iothreads) {
                fprintf(stderr, "btvm: cannot start the I/O threads\n");
                return VM_STATUS_HOST_ERROR;
            }
            vm->iothreads = m->iothreads;
        }
        struct dev_blkdev bd;
        int r = vm_storage_open_virtio(d, m->iothreads, &m->vdisk[i], &bd);
        if (r)
            return r;
        slot = free_slot(m->pci, slot);
        if (slot < 0) {
            fprintf(stderr, "btvm: no free PCI slot for virtio drive %s\n", d->file);
            return VM_STATUS_BAD_INPUT;
        }
        struct dev_irq_line irq = dev_irqroute_pirq_line(m->irq, (slot + 3) % 4);
        m->virtio_blk[i] = dev_virtio_blk_new(m->pci, DEV_PCI_DEVFN(slot, 0), &bd, NULL,
                                              vm_dma(vm), irq);
        if (!m->virtio_blk[i]) {
            fprintf(stderr, "btvm: cannot create the virtio-blk device for %s\n", d->file);
            return VM_STATUS_HOST_ERROR;
        }
        slot++;
    }
    return 0;
}

void vm_machine_virtio_free(struct vm_machine *m)
{
    /* Devices first: freeing one resets it, which waits for its requests
     * (they point into guest RAM), then the images, then the threads. */
    for (int i = 0; i < VM_MAX_VIRTIO_DRIVES; i++) {
        dev_virtio_blk_free(m->virtio_blk[i]);
        m->virtio_blk[i] = NULL;
    }
    if (m->iothreads)
        vm_iothreads_drain(m->iothreads);
    for (int i = 0; i < VM_MAX_VIRTIO_DRIVES; i++) {
        vm_storage_close_virtio(m->vdisk[i]);
        m->vdisk[i] = NULL;
    }
    vm_iothreads_free(m->iothreads);
    m->iothreads = NULL;
    m->vm.iothreads = NULL;
}
