/*
 * block/blk.h — the host side of a disk: an image file (raw or qcow2, or a
 * block device) read and written in 512-byte sectors.
 *
 * A low layer like devices/: it knows nothing of CPUs, engines or the
 * machine, and devices/ does not include it either. A device model sees a
 * disk only through struct dev_blkdev (devices/blkdev.h); vm/ opens the image
 * here and hands the device a dev_blkdev whose callbacks call blk_read,
 * blk_write and blk_flush.
 *
 * Every blk_* call on one struct blk may come from several threads at once
 * (I/O threads); the backends serialize what needs it (docs/storage.md).
 *
 * Locking: an image opened writable holds an OFD write lock on the whole
 * file, a read-only one (and every backing file) an OFD read lock, so a
 * second btvm (or a second open in this process: OFD locks belong to the
 * open file description, not the process) cannot open it writable while
 * anyone has it, nor read it while someone writes it. The lock goes with
 * blk_close.
 */
#ifndef BTVM_BLK_H
#define BTVM_BLK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BLK_SECTOR_SIZE 512u

enum blk_format { BLK_FMT_RAW, BLK_FMT_QCOW2 };

/* writeback: through the host page cache, durable at blk_flush.
 * none: O_DIRECT (no host page cache), still durable only at blk_flush. */
enum blk_cache { BLK_CACHE_WRITEBACK, BLK_CACHE_NONE };

struct blk_opts {
    enum blk_format format;
    bool readonly;      /* writes fail with -EROFS */
    bool snapshot;      /* writes go to a temporary overlay, gone at close */
    enum blk_cache cache;
};

struct blk;

/* Open path as a raw image (blk_open_opts with format raw, cache
 * writeback, no snapshot). */
int blk_open(const char *path, bool readonly, struct blk **out, char *err, size_t errlen);

/* Open path as o says. 0 and *out, or -errno with a one-line message in err
 * (which names the path): -EBUSY when another open file holds a conflicting
 * lock ("... is in use by another process"), -EISDIR, -EINVAL for something
 * that is neither a regular file nor a block device or a malformed image,
 * -ENOTSUP for an image feature btvm does not implement (qcow2 compression,
 * encryption, ...), and the errors of open(2). A raw size that is not a
 * multiple of 512 loses its tail. */
int blk_open_opts(const char *path, const struct blk_opts *o, struct blk **out, char *err,
                  size_t errlen);

/* Guess an image's format from its first bytes: qcow2 by its magic, raw
 * otherwise. 0 or -errno from open/read. */
int blk_probe_format(const char *path, enum blk_format *out);

/* Size in 512-byte sectors. */
uint64_t blk_sectors(const struct blk *b);
bool blk_readonly(const struct blk *b);

/* Transfer count sectors at sector. 0 or -errno: -EINVAL if the range is
 * not inside the image (nothing is transferred), -EROFS for a write to a
 * read-only image, -EIO if the file ended early or its metadata is bad.
 * Short transfers and EINTR are retried. Any buffer alignment works. */
int blk_read(struct blk *b, uint64_t sector, uint32_t count, void *buf);
int blk_write(struct blk *b, uint64_t sector, uint32_t count, const void *buf);

/* The range need not keep its data: it reads back as zeroes or as what it
 * held (raw: holes punched; qcow2: clusters wholly inside it become zero
 * clusters). 0, -EROFS, -EINVAL (range), or -EOPNOTSUPP where the file
 * system or format cannot. */
int blk_discard(struct blk *b, uint64_t sector, uint32_t count);

/* The range reads back as zeroes afterwards. unmap: its space may be freed
 * (holes). 0, -EROFS, -EINVAL, or -EOPNOTSUPP where a backend cannot (the
 * caller then writes zeroes itself); raw, qcow2 and the snapshot overlay
 * always can: where nothing better works they write the zeroes. */
int blk_write_zeroes(struct blk *b, uint64_t sector, uint32_t count, bool unmap);

/* Everything written before it is on the host's disk when it returns
 * (fdatasync of the image and its metadata): 0 or -errno (0 for a
 * read-only or snapshot image). */
int blk_flush(struct blk *b);

/* Close and drop the lock; NULL is ignored. */
void blk_close(struct blk *b);

#endif
