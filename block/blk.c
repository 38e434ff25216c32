/*
 * block/blk.c — the front of every image: opens the backend the options
 * name (block/raw.c, block/qcow2.c), puts the snapshot overlay on top
 * (block/overlay.c), and checks ranges and read-only-ness once for all.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "block/blk_int.h"

int blk_open(const char *path, bool readonly, struct blk **out, char *err, size_t errlen)
{
    struct blk_opts o = { .format = BLK_FMT_RAW, .readonly = readonly,
                          .cache = BLK_CACHE_WRITEBACK };
    return blk_open_opts(path, &o, out, err, errlen);
}

int blk_open_opts(const char *path, const struct blk_opts *o, struct blk **out, char *err,
                  size_t errlen)
{
    *out = NULL;
    /* A snapshot never writes the image: open it read-only (and so with a
     * read lock, which lets others read it too). */
    struct blk_opts bo = *o;
    if (o->snapshot)
        bo.readonly = true;
    struct blk *b;
    int rc = o->format == BLK_FMT_QCOW2 ? blk_qcow2_open(path, &bo, &b, err, errlen)
                                        : blk_raw_open(path, &bo, &b, err, errlen);
    if (rc)
        return rc;
    if (o->snapshot && !o->readonly) {
        rc = blk_overlay_open(b, &b);
        if (rc) {
            snprintf(err, errlen, "%s: cannot make the snapshot overlay: %s", path,
                     strerror(-rc));
            return rc;
        }
    }
    *out = b;
    return 0;
}

int blk_probe_format(const char *path, enum blk_format *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    uint8_t m[4];
    ssize_t n = pread(fd, m, 4, 0);
    int e = errno;
    close(fd);
    if (n < 0)
        return -e;
    *out = n == 4 && !memcmp(m, "QFI\xfb", 4) ? BLK_FMT_QCOW2 : BLK_FMT_RAW;
    return 0;
}

uint64_t blk_sectors(const struct blk *b)
{
    return b->sectors;
}

bool blk_readonly(const struct blk *b)
{
    return b->readonly;
}

static bool in_range(const struct blk *b, uint64_t sector, uint32_t count)
{
    return sector <= b->sectors && count <= b->sectors - sector;
}

int blk_read(struct blk *b, uint64_t sector, uint32_t count, void *buf)
{
    if (!in_range(b, sector, count))
        return -EINVAL;
    return count ? b->ops->read(b, sector, count, buf) : 0;
}

int blk_write(struct blk *b, uint64_t sector, uint32_t count, const void *buf)
{
    if (b->readonly)
        return -EROFS;
    if (!in_range(b, sector, count))
        return -EINVAL;
    return count ? b->ops->write(b, sector, count, buf) : 0;
}

int blk_discard(struct blk *b, uint64_t sector, uint32_t count)
{
    if (b->readonly)
        return -EROFS;
    if (!in_range(b, sector, count))
        return -EINVAL;
    if (!b->ops->discard)
        return -EOPNOTSUPP;
    return count ? b->ops->discard(b, sector, count) : 0;
}

int blk_write_zeroes(struct blk *b, uint64_t sector, uint32_t count, bool unmap)
{
    if (b->readonly)
        return -EROFS;
    if (!in_range(b, sector, count))
        return -EINVAL;
    if (!b->ops->write_zeroes)
        return -EOPNOTSUPP;
    return count ? b->ops->write_zeroes(b, sector, count, unmap) : 0;
}

int blk_flush(struct blk *b)
{
    if (b->readonly)
        return 0;
    return b->ops->flush(b);
}

void blk_close(struct blk *b)
{
    if (b)
        b->ops->destroy(b);
}
