/*
 * vm/storage.c — opens the user's disk and CD-ROM images and connects them
 * to the IDE controller and the virtio-blk devices. Devices see a disk only
 * as a struct dev_blkdev (devices/blkdev.h); the callbacks here turn it
 * into block/ calls: synchronously for IDE, and for virtio-blk as jobs on
 * the I/O threads (vm/iothread.c) whose completion runs on the vcpu thread.
 * docs/virtio.md.
 */
#include "vm/storage.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block/blk.h"
#include "devices/blkdev.h"
#include "devices/ide.h"
#include "vm/drive_open.h"
#include "vm/iothread.h"
#include "vm/machine.h"

static int bd_read(void *ctx, uint64_t sector, uint32_t count, void *buf)
{
    return blk_read(ctx, sector, count, buf);
}

static int bd_write(void *ctx, uint64_t sector, uint32_t count, const void *buf)
{
    return blk_write(ctx, sector, count, buf);
}

static int bd_flush(void *ctx)
{
    return blk_flush(ctx);
}

int vm_storage_attach(struct vm *vm, struct dev_ide *ide, struct blk *blk[VM_MAX_DRIVES])
{
    for (int i = 0; i < VM_MAX_DRIVES; i++) {
        const struct vm_drive *d = &vm->opt.drives[i];
        blk[i] = NULL;
        if (!d->used)
            continue;
        bool cd = d->media == VM_MEDIA_CDROM;
        char err[512];
        if (vm_drive_open(d, &blk[i], err, sizeof(err))) {
            fprintf(stderr, "btvm: %s\n", err);
            return VM_STATUS_BAD_INPUT;
        }
        struct dev_blkdev bd = {
            .read = bd_read, .write = bd_write, .flush = bd_flush, .ctx = blk[i],
            .sectors = blk_sectors(blk[i]), .readonly = blk_readonly(blk[i]),
        };
        if (dev_ide_attach(ide, i / 2, i % 2, &bd, cd ? DEV_IDE_CDROM : DEV_IDE_DISK)) {
            fprintf(stderr, "btvm: cannot attach %s as IDE drive %d\n", d->file, i);
            return VM_STATUS_BAD_INPUT;
        }
    }
    return 0;
}

void vm_storage_close(struct blk *blk[VM_MAX_DRIVES])
{
    for (int i = 0; i < VM_MAX_DRIVES; i++) {
        if (!blk[i])
            continue;
        blk_flush(blk[i]);
        blk_close(blk[i]);
        blk[i] = NULL;
    }
}

/* ---- the asynchronous path (virtio-blk) ---- */

struct vm_vdisk {
    struct blk *blk;
    struct vm_iothreads *io;
};

struct disk_job {
    struct vm_io_job j;
    struct blk *blk;
    struct dev_blk_req *req;
    int result;
};

/* READ/WRITE over the scatter list: straight into each piece when every
 * piece is whole sectors (what drivers send), else through one bounce
 * buffer. */
static int transfer(struct blk *b, const struct dev_blk_req *r, bool write)
{
    bool whole = true;
    for (unsigned i = 0; i < r->niov; i++)
        whole &= r->iov[i].len % BLK_SECTOR_SIZE == 0;
    uint64_t sector = r->sector;
    if (whole) {
        for (unsigned i = 0; i < r->niov; i++) {
            uint32_t n = (uint32_t)(r->iov[i].len / BLK_SECTOR_SIZE);
            int rc = write ? blk_write(b, sector, n, r->iov[i].base)
                           : blk_read(b, sector, n, r->iov[i].base);
            if (rc)
                return rc;
            sector += n;
        }
        return 0;
    }
    size_t total = (size_t)r->count * BLK_SECTOR_SIZE, off = 0;
    uint8_t *buf = malloc(total);
    if (!buf)
        return -ENOMEM;
    int rc = 0;
    if (write)
        for (unsigned i = 0; i < r->niov; off += r->iov[i].len, i++)
            memcpy(buf + off, r->iov[i].base, r->iov[i].len);
    rc = write ? blk_write(b, sector, r->count, buf) : blk_read(b, sector, r->count, buf);
    if (!rc && !write)
        for (unsigned i = 0; i < r->niov; off += r->iov[i].len, i++)
            memcpy(r->iov[i].base, buf + off, r->iov[i].len);
    free(buf);
    return rc;
}

/* WRITE_ZEROES the format cannot do natively: write zero sectors. */
static int write_zeroes(struct blk *b, uint64_t sector, uint32_t count, bool unmap)
{
    int rc = blk_write_zeroes(b, sector, count, unmap);
    if (rc != -EOPNOTSUPP)
        return rc;
    enum { CHUNK = 256 };
    static const uint8_t zero[CHUNK * BLK_SECTOR_SIZE];
    while (count) {
        uint32_t n = count < CHUNK ? count : CHUNK;
        rc = blk_write(b, sector, n, zero);
        if (rc)
            return rc;
        sector += n;
        count -= n;
    }
    return 0;
}

static void job_run(struct vm_io_job *j)
{
    struct disk_job *d = (struct disk_job *)j;
    const struct dev_blk_req *r = d->req;
    switch (r->op) {
    case DEV_BLK_READ: d->result = transfer(d->blk, r, false); break;
    case DEV_BLK_WRITE: d->result = transfer(d->blk, r, true); break;
    case DEV_BLK_FLUSH: d->result = blk_flush(d->blk); break;   /* fdatasync */
    case DEV_BLK_DISCARD: d->result = blk_discard(d->blk, r->sector, r->count); break;
    case DEV_BLK_WRITE_ZEROES:
        d->result = write_zeroes(d->blk, r->sector, r->count, r->unmap);
        break;
    default: d->result = -EINVAL; break;
    }
}

static void job_complete(struct vm_io_job *j)
{
    struct disk_job *d = (struct disk_job *)j;
    struct dev_blk_req *r = d->req;
    int result = d->result;
    free(d);
    r->done(r, result);
}

static int vd_submit(void *ctx, struct dev_blk_req *req)
{
    struct vm_vdisk *v = ctx;
    struct disk_job *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->j.run = job_run;
    d->j.complete = job_complete;
    d->blk = v->blk;
    d->req = req;
    vm_iothreads_submit(v->io, &d->j);
    return 0;
}

static int vd_read(void *ctx, uint64_t sector, uint32_t count, void *buf)
{
    return blk_read(((struct vm_vdisk *)ctx)->blk, sector, count, buf);
}

static int vd_write(void *ctx, uint64_t sector, uint32_t count, const void *buf)
{
    return blk_write(((struct vm_vdisk *)ctx)->blk, sector, count, buf);
}

static int vd_flush(void *ctx)
{
    return blk_flush(((struct vm_vdisk *)ctx)->blk);
}

static void vd_drain(void *ctx)
{
    struct vm_vdisk *v = ctx;
    vm_iothreads_drain(v->io);
}

int vm_storage_open_virtio(const struct vm_drive *d, struct vm_iothreads *io,
                           struct vm_vdisk **out, struct dev_blkdev *bd)
{
    char err[512];
    struct vm_vdisk *v = calloc(1, sizeof(*v));
    if (!v) {
        fprintf(stderr, "btvm: out of memory\n");
        return VM_STATUS_HOST_ERROR;
    }
    if (vm_drive_open(d, &v->blk, err, sizeof(err))) {
        fprintf(stderr, "btvm: %s\n", err);
        free(v);
        return VM_STATUS_BAD_INPUT;
    }
    v->io = io;
    *out = v;
    *bd = (struct dev_blkdev){
        .read = vd_read, .write = vd_write, .flush = vd_flush, .ctx = v,
        .sectors = blk_sectors(v->blk), .readonly = blk_readonly(v->blk),
        .submit = vd_submit, .drain = vd_drain, .can_discard = true, .can_write_zeroes = true,
    };
    return 0;
}

void vm_storage_close_virtio(struct vm_vdisk *v)
{
    if (!v)
        return;
    blk_flush(v->blk);
    blk_close(v->blk);
    free(v);
}
