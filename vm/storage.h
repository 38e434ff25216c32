/*
 * vm/storage.h — the drives of -hda..-hdd, -cdrom and -drive: image files
 * (block/) behind the IDE controller (devices/ide.c) and virtio-blk
 * (devices/virtio_blk.c).
 */
#ifndef BTVM_VM_STORAGE_H
#define BTVM_VM_STORAGE_H

#include "vm/vm.h"

struct dev_ide;
struct blk;

/* Open every drive of vm->opt (a writable image is locked against a
 * second btvm) and attach it at its IDE index; blk[] receives the open
 * images. 0, or the exit status to end with, its message printed. */
int vm_storage_attach(struct vm *vm, struct dev_ide *ide, struct blk *blk[VM_MAX_DRIVES]);
/* Flush and close what vm_storage_attach opened (after the IDE is freed). */
void vm_storage_close(struct blk *blk[VM_MAX_DRIVES]);

/* A virtio drive: open d's image and fill bd with the synchronous
 * callbacks and the asynchronous path over the I/O threads io (submit,
 * drain). 0, or the exit status to end with, its message printed. */
struct vm_vdisk;
struct vm_iothreads;
struct dev_blkdev;
int vm_storage_open_virtio(const struct vm_drive *d, struct vm_iothreads *io,
                           struct vm_vdisk **out, struct dev_blkdev *bd);
/* Flush and close it (after its device, which drains its requests). */
void vm_storage_close_virtio(struct vm_vdisk *v);

#endif
