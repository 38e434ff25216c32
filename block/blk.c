/*
 * block/blk.c — raw image files: pread/pwrite in 512-byte sectors, fdatasync,
 * and an OFD lock against a second user of the same image.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block/blk.h"

struct blk {
    int fd;
    bool readonly;
    uint64_t sectors;
};

/* Lock the whole file: a read lock for a read-only image, a write lock
 * otherwise. 0, -EBUSY on a conflict, or 0 as well when the file system
 * has no OFD locks (nothing better can be done there). */
static int lock_image(int fd, bool readonly)
{
    struct flock fl = {
        .l_type = readonly ? F_RDLCK : F_WRLCK,
        .l_whence = SEEK_SET,
        .l_start = 0,
        .l_len = 0,       /* to the end, however the file grows */
    };
    if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
        return 0;
    if (errno == EAGAIN || errno == EACCES)
        return -EBUSY;
    if (errno == EINVAL || errno == ENOLCK || errno == EOPNOTSUPP)
        return 0;
    return -errno;
}

int blk_open(const char *path, bool readonly, struct blk **out, char *err, size_t errlen)
{
    *out = NULL;
    int fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "%s: cannot open disk image%s: %s", path,
                 readonly ? "" : " for writing", strerror(e));
        return -e;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        close(fd);
        return -e;
    }
    if (S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: is a directory, not a disk image", path);
        close(fd);
        return -EISDIR;
    }
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file or block device", path);
        close(fd);
        return -EINVAL;
    }
    int rc = lock_image(fd, readonly);
    if (rc) {
        if (rc == -EBUSY)
            snprintf(err, errlen, "%s: disk image is in use by another process "
                     "(it holds a %s lock on the file)", path, readonly ? "write" : "conflicting");
        else
            snprintf(err, errlen, "%s: cannot lock disk image: %s", path, strerror(-rc));
        close(fd);
        return rc;
    }
    off_t size = lseek(fd, 0, SEEK_END);
    if (size < 0) {
        int e = errno;
        snprintf(err, errlen, "%s: cannot find its size: %s", path, strerror(e));
        close(fd);
        return -e;
    }
    struct blk *b = calloc(1, sizeof(*b));
    if (!b) {
        snprintf(err, errlen, "%s: out of memory", path);
        close(fd);
        return -ENOMEM;
    }
    b->fd = fd;
    b->readonly = readonly;
    b->sectors = (uint64_t)size / BLK_SECTOR_SIZE;
    *out = b;
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
    uint8_t *p = buf;
    size_t left = (size_t)count * BLK_SECTOR_SIZE;
    off_t off = (off_t)(sector * BLK_SECTOR_SIZE);
    while (left) {
        ssize_t n = pread(b->fd, p, left, off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -EIO;    /* the file shrank under us */
        p += n;
        off += n;
        left -= (size_t)n;
    }
    return 0;
}

int blk_write(struct blk *b, uint64_t sector, uint32_t count, const void *buf)
{
    if (b->readonly)
        return -EROFS;
    if (!in_range(b, sector, count))
        return -EINVAL;
    const uint8_t *p = buf;
    size_t left = (size_t)count * BLK_SECTOR_SIZE;
    off_t off = (off_t)(sector * BLK_SECTOR_SIZE);
    while (left) {
        ssize_t n = pwrite(b->fd, p, left, off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -EIO;
        p += n;
        off += n;
        left -= (size_t)n;
    }
    return 0;
}

int blk_flush(struct blk *b)
{
    if (b->readonly)
        return 0;
    while (fdatasync(b->fd) != 0) {
        if (errno != EINTR)
            return -errno;
    }
    return 0;
}

void blk_close(struct blk *b)
{
    if (!b)
        return;
    close(b->fd);
    free(b);
}
