/*
 * vm/storage.c — opens the user's disk and CD-ROM images and connects them
 * to the IDE controller. The controller sees a disk only as a struct
 * dev_blkdev (devices/blkdev.h); the callbacks here turn it into the raw
 * image backend's calls (block/blk.c).
 */
#include "vm/storage.h"

#include <stdio.h>

#include "block/blk.h"
#include "devices/ide.h"
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
        if (blk_open(d->file, d->readonly || cd, &blk[i], err, sizeof(err))) {
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
