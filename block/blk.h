/*
 * block/blk.h — the host side of a disk: a raw image file (or block device)
 * read and written in 512-byte sectors.
 *
 * A low layer like devices/: it knows nothing of CPUs, engines or the
 * machine, and devices/ does not include it either. A device model sees a
 * disk only through struct dev_blkdev (devices/blkdev.h); vm/ opens the image
 * here and hands the device a dev_blkdev whose callbacks call blk_read,
 * blk_write and blk_flush.
 *
 * Locking: an image opened writable holds an OFD write lock on the whole
 * file, a read-only one an OFD read lock, so a second btvm (or a second open
 * in this process: OFD locks belong to the open file description, not the
 * process) cannot open it writable while anyone has it, nor read it while
 * someone writes it. The lock goes with blk_close.
 */
#ifndef BTVM_BLK_H
#define BTVM_BLK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BLK_SECTOR_SIZE 512u

struct blk;

/* Open path as a raw image. 0 and *out, or -errno with a one-line message
 * in err (which names the path): -EBUSY when another open file holds a
 * conflicting lock ("... is in use by another process"), -EISDIR, -EINVAL
 * for something that is neither a regular file nor a block device, and the
 * errors of open(2). A size that is not a multiple of 512 loses its tail. */
int blk_open(const char *path, bool readonly, struct blk **out, char *err, size_t errlen);

/* Size in 512-byte sectors. */
uint64_t blk_sectors(const struct blk *b);
bool blk_readonly(const struct blk *b);

/* Transfer count sectors at sector. 0 or -errno: -EINVAL if the range is
 * not inside the image (nothing is transferred), -EROFS for a write to a
 * read-only image, -EIO if the file ended early. Short transfers and EINTR
 * are retried. */
int blk_read(struct blk *b, uint64_t sector, uint32_t count, void *buf);
int blk_write(struct blk *b, uint64_t sector, uint32_t count, const void *buf);

/* fdatasync: 0 or -errno (0 for a read-only image). */
int blk_flush(struct blk *b);

/* Close and drop the lock; NULL is ignored. */
void blk_close(struct blk *b);

#endif
