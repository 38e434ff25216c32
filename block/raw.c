/*
 * block/raw.c — a raw image: sector n is bytes n*512.. of the file. Holes
 * stay holes (nothing here writes what the guest did not); discard punches
 * them; cache=none is O_DIRECT through block/file.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "block/blk_int.h"

struct raw {
    struct blk b;
    struct blk_file f;
};

static int raw_read(struct blk *b, uint64_t sector, uint32_t count, void *buf)
{
    struct raw *r = (struct raw *)b;
    return blk_file_pread(&r->f, buf, (size_t)count * BLK_SECTOR_SIZE, sector * BLK_SECTOR_SIZE);
}

static int raw_write(struct blk *b, uint64_t sector, uint32_t count, const void *buf)
{
    struct raw *r = (struct raw *)b;
    return blk_file_pwrite(&r->f, buf, (size_t)count * BLK_SECTOR_SIZE,
                           sector * BLK_SECTOR_SIZE);
}

static int raw_discard(struct blk *b, uint64_t sector, uint32_t count)
{
    struct raw *r = (struct raw *)b;
    return blk_file_punch(&r->f, sector * BLK_SECTOR_SIZE, (uint64_t)count * BLK_SECTOR_SIZE);
}

static int raw_write_zeroes(struct blk *b, uint64_t sector, uint32_t count, bool unmap)
{
    struct raw *r = (struct raw *)b;
    uint64_t off = sector * BLK_SECTOR_SIZE, len = (uint64_t)count * BLK_SECTOR_SIZE;
    if (unmap) {
        int rc = blk_file_punch(&r->f, off, len);
        if (rc != -EOPNOTSUPP)
            return rc;
    }
    return blk_file_zero(&r->f, off, len);
}

static int raw_flush(struct blk *b)
{
    return blk_file_sync(&((struct raw *)b)->f);
}

static void raw_destroy(struct blk *b)
{
    struct raw *r = (struct raw *)b;
    blk_file_close(&r->f);
    free(r);
}

static const struct blk_ops raw_ops = {
    .read = raw_read, .write = raw_write, .discard = raw_discard,
    .write_zeroes = raw_write_zeroes, .flush = raw_flush, .destroy = raw_destroy,
};

int blk_raw_open(const char *path, const struct blk_opts *o, struct blk **out, char *err,
                 size_t errlen)
{
    struct raw *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -ENOMEM;
    }
    int rc = blk_file_open(path, o->readonly, o->cache == BLK_CACHE_NONE, &r->f, err, errlen);
    if (rc) {
        free(r);
        return rc;
    }
    int64_t size = blk_file_size(&r->f);
    if (size < 0) {
        snprintf(err, errlen, "%s: cannot find its size", path);
        raw_destroy(&r->b);
        return (int)size;
    }
    r->b.ops = &raw_ops;
    r->b.sectors = (uint64_t)size / BLK_SECTOR_SIZE;
    r->b.readonly = o->readonly;
    *out = &r->b;
    return 0;
}
