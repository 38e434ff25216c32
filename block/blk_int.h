/*
 * block/blk_int.h — inside block/: the backend contract behind struct blk,
 * and the host-file layer (block/file.c) every backend reads and writes
 * through. Not for use outside block/.
 */
#ifndef BTVM_BLK_INT_H
#define BTVM_BLK_INT_H

#include <pthread.h>
#include <sys/types.h>

#include "block/blk.h"

/* A backend's calls; blk.c has checked the range and read-only-ness. */
struct blk_ops {
    int (*read)(struct blk *b, uint64_t sector, uint32_t count, void *buf);
    int (*write)(struct blk *b, uint64_t sector, uint32_t count, const void *buf);
    int (*discard)(struct blk *b, uint64_t sector, uint32_t count);
    int (*write_zeroes)(struct blk *b, uint64_t sector, uint32_t count, bool unmap);
    int (*flush)(struct blk *b);
    void (*destroy)(struct blk *b);
};

/* Each backend's state begins with this. */
struct blk {
    const struct blk_ops *ops;
    uint64_t sectors;
    bool readonly;
};

/* An open host file: a lock, and O_DIRECT with its alignment when asked. */
struct blk_file {
    int fd;
    bool direct;
    size_t align;             /* O_DIRECT's buffer/offset/length unit, else 1 */
    pthread_mutex_t rmw;      /* one unaligned O_DIRECT write at a time */
};

/* Open (and lock) a host file; err names the path. */
int blk_file_open(const char *path, bool readonly, bool direct, struct blk_file *f, char *err,
                  size_t errlen);
void blk_file_close(struct blk_file *f);
/* Byte-granular transfers at any alignment (bounce buffers under O_DIRECT).
 * A read past the end of the file fills zeroes. 0 or -errno. */
int blk_file_pread(struct blk_file *f, void *buf, size_t len, uint64_t off);
int blk_file_pwrite(struct blk_file *f, const void *buf, size_t len, uint64_t off);
/* Size in bytes, or -errno. */
int64_t blk_file_size(struct blk_file *f);
/* fdatasync. */
int blk_file_sync(struct blk_file *f);
/* Free the range's space (it reads as zeroes after): -EOPNOTSUPP where the
 * file system cannot. */
int blk_file_punch(struct blk_file *f, uint64_t off, uint64_t len);
/* Make the range read as zeroes, keeping it allocated: FALLOC_FL_ZERO_RANGE,
 * else by writing zeroes. */
int blk_file_zero(struct blk_file *f, uint64_t off, uint64_t len);

/* The backends' openers; o->snapshot is blk.c's business. */
int blk_raw_open(const char *path, const struct blk_opts *o, struct blk **out, char *err,
                 size_t errlen);
int blk_qcow2_open(const char *path, const struct blk_opts *o, struct blk **out, char *err,
                   size_t errlen);
/* An in-memory overlay over base (which it owns from then on). */
int blk_overlay_open(struct blk *base, struct blk **out);

#endif
