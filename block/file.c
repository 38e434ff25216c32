/*
 * block/file.c — the host file under every image: open with an OFD lock,
 * byte-granular pread/pwrite (bounced through aligned buffers when the file
 * is open with O_DIRECT and the caller's buffer, offset or length is not
 * aligned), fdatasync, hole punching and zeroing (docs/storage.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block/blk_int.h"

/* Lock the whole file: a read lock for a read-only open, a write lock
 * otherwise. 0, -EBUSY on a conflict, or 0 as well when the file system
 * has no OFD locks (nothing better can be done there). */
static int lock_file(int fd, bool readonly)
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

/* O_DIRECT's unit: 512 bytes when a 512-byte aligned read works, else the
 * 4 KiB that covers every common device. */
static size_t direct_align(int fd)
{
    void *p;
    if (posix_memalign(&p, 4096, 4096))
        return 4096;
    ssize_t n = pread(fd, (char *)p + 512, 512, 512);
    free(p);
    return n >= 0 ? 512 : 4096;
}

int blk_file_open(const char *path, bool readonly, bool direct, struct blk_file *f, char *err,
                  size_t errlen)
{
    int fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | (direct ? O_DIRECT : 0));
    if (fd < 0) {
        int e = errno;
        if (direct && e == EINVAL)
            snprintf(err, errlen, "%s: cache=none: the file system does not take O_DIRECT",
                     path);
        else
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
    int rc = lock_file(fd, readonly);
    if (rc) {
        if (rc == -EBUSY)
            snprintf(err, errlen, "%s: disk image is in use by another process "
                     "(it holds a %s lock on the file)", path, readonly ? "write" : "conflicting");
        else
            snprintf(err, errlen, "%s: cannot lock disk image: %s", path, strerror(-rc));
        close(fd);
        return rc;
    }
    f->fd = fd;
    f->direct = direct;
    f->align = direct ? direct_align(fd) : 1;
    pthread_mutex_init(&f->rmw, NULL);
    return 0;
}

void blk_file_close(struct blk_file *f)
{
    close(f->fd);
    pthread_mutex_destroy(&f->rmw);
}

/* Whole transfers: EINTR and short counts retried; a read that meets the
 * end of the file zero-fills the rest. */
static int full_pread(int fd, uint8_t *p, size_t left, uint64_t off)
{
    while (left) {
        ssize_t n = pread(fd, p, left, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0) {
            memset(p, 0, left);
            return 0;
        }
        p += n;
        off += (uint64_t)n;
        left -= (size_t)n;
    }
    return 0;
}

static int full_pwrite(int fd, const uint8_t *p, size_t left, uint64_t off)
{
    while (left) {
        ssize_t n = pwrite(fd, p, left, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -EIO;
        p += n;
        off += (uint64_t)n;
        left -= (size_t)n;
    }
    return 0;
}

static bool aligned(const struct blk_file *f, const void *buf, size_t len, uint64_t off)
{
    size_t a = f->align;
    return ((uintptr_t)buf % a) == 0 && len % a == 0 && off % a == 0;
}

int blk_file_pread(struct blk_file *f, void *buf, size_t len, uint64_t off)
{
    if (!f->direct || aligned(f, buf, len, off))
        return full_pread(f->fd, buf, len, off);
    uint64_t a0 = off - off % f->align;
    uint64_t a1 = (off + len + f->align - 1) / f->align * f->align;
    void *bounce;
    if (posix_memalign(&bounce, f->align < 4096 ? 4096 : f->align, a1 - a0))
        return -ENOMEM;
    int rc = full_pread(f->fd, bounce, a1 - a0, a0);
    if (!rc)
        memcpy(buf, (uint8_t *)bounce + (off - a0), len);
    free(bounce);
    return rc;
}

int blk_file_pwrite(struct blk_file *f, const void *buf, size_t len, uint64_t off)
{
    if (!f->direct || aligned(f, buf, len, off))
        return full_pwrite(f->fd, buf, len, off);
    uint64_t a0 = off - off % f->align;
    uint64_t a1 = (off + len + f->align - 1) / f->align * f->align;
    size_t blen = a1 - a0;
    void *bounce;
    if (posix_memalign(&bounce, f->align < 4096 ? 4096 : f->align, blen))
        return -ENOMEM;
    uint8_t *bb = bounce;
    bool partial = off != a0 || off + len != a1;
    int rc = 0;
    /* Only a write that shares a unit with its neighbours reads them back
     * first; the lock keeps two such writes from undoing each other. */
    if (partial) {
        pthread_mutex_lock(&f->rmw);
        if (off != a0)
            rc = full_pread(f->fd, bb, f->align, a0);
        if (!rc && off + len != a1)
            rc = full_pread(f->fd, bb + blen - f->align, f->align, a1 - f->align);
    }
    if (!rc) {
        memcpy(bb + (off - a0), buf, len);
        rc = full_pwrite(f->fd, bb, blen, a0);
    }
    if (partial)
        pthread_mutex_unlock(&f->rmw);
    free(bounce);
    return rc;
}

int64_t blk_file_size(struct blk_file *f)
{
    off_t size = lseek(f->fd, 0, SEEK_END);
    return size < 0 ? -errno : (int64_t)size;
}

int blk_file_sync(struct blk_file *f)
{
    while (fdatasync(f->fd) != 0) {
        if (errno != EINTR)
            return -errno;
    }
    return 0;
}

int blk_file_punch(struct blk_file *f, uint64_t off, uint64_t len)
{
    if (fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
        return 0;
    return errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL ? -EOPNOTSUPP : -errno;
}

int blk_file_zero(struct blk_file *f, uint64_t off, uint64_t len)
{
    if (fallocate(f->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
        return 0;
    if (errno != EOPNOTSUPP && errno != ENOSYS && errno != EINVAL)
        return -errno;
    /* No ZERO_RANGE here: write the zeroes, 64 KiB at a time. */
    size_t chunk = 64 * 1024;
    void *z;
    if (posix_memalign(&z, 4096, chunk))
        return -ENOMEM;
    memset(z, 0, chunk);
    int rc = 0;
    while (len && !rc) {
        size_t n = len < chunk ? (size_t)len : chunk;
        rc = blk_file_pwrite(f, z, n, off);
        off += n;
        len -= n;
    }
    free(z);
    return rc;
}
