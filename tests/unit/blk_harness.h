/*
 * tests/unit/blk_harness.h — shared by the block/ tests: a scratch folder
 * on a disk-backed file system (O_DIRECT and holes), shell commands
 * (qemu-img), deterministic sector patterns, and opening images.
 */
#ifndef BTVM_TEST_BLK_HARNESS_H
#define BTVM_TEST_BLK_HARNESS_H

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "block/blk.h"

static char dir[256];

static void dir_setup(void)
{
    /* /var/tmp rather than /tmp: a tmpfs /tmp may refuse O_DIRECT. */
    snprintf(dir, sizeof(dir), "/var/tmp/btvm-blk-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void dir_teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* dir/name */
static const char *in_dir(const char *name)
{
    static char p[4][512];
    static int n;
    char *s = p[n++ % 4];
    snprintf(s, 512, "%s/%s", dir, name);
    return s;
}

/* Run a shell command in dir; its exit status. */
__attribute__((format(printf, 1, 2))) static int sh(const char *fmt, ...)
{
    char cmd[2048];
    int n = snprintf(cmd, sizeof(cmd), "cd '%s' && ", dir);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* Sector s's bytes for generation g: no two sectors or generations alike. */
static void pattern(uint8_t *p, uint64_t s, unsigned g, uint32_t count)
{
    for (uint32_t k = 0; k < count; k++, s++)
        for (unsigned i = 0; i < BLK_SECTOR_SIZE; i += 8) {
            uint64_t v = (s * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)g << 48) ^ i;
            memcpy(p + (size_t)k * BLK_SECTOR_SIZE + i, &v, 8);
        }
}

static struct blk *open_img(const char *name, enum blk_format f, bool ro, bool snap,
                            enum blk_cache c)
{
    struct blk *b;
    char err[512];
    struct blk_opts o = { .format = f, .readonly = ro, .snapshot = snap, .cache = c };
    int rc = blk_open_opts(in_dir(name), &o, &b, err, sizeof(err));
    ck_assert_msg(rc == 0, "open %s: %d %s", name, rc, err);
    return b;
}

/* Open expecting failure: the error, with its message in msg. */
static int open_fails(const char *name, enum blk_format f, bool ro, bool snap, char *msg,
                      size_t len)
{
    struct blk *b = NULL;
    struct blk_opts o = { .format = f, .readonly = ro, .snapshot = snap };
    int rc = blk_open_opts(in_dir(name), &o, &b, msg, len);
    ck_assert_msg(rc < 0 && !b, "open %s unexpectedly worked", name);
    return rc;
}

/* Write count sectors of generation g at s, to the image and to the
 * expected raw content (an fd). */
static void write_both(struct blk *b, int expect_fd, uint64_t s, uint32_t count, unsigned g)
{
    uint8_t *p = malloc((size_t)count * BLK_SECTOR_SIZE);
    pattern(p, s, g, count);
    ck_assert_int_eq(blk_write(b, s, count, p), 0);
    ck_assert_int_eq(pwrite(expect_fd, p, (size_t)count * BLK_SECTOR_SIZE,
                            (off_t)(s * BLK_SECTOR_SIZE)),
                     (ssize_t)count * BLK_SECTOR_SIZE);
    free(p);
}

/* The image reads back exactly as the expected file, sector by sector
 * in 64-sector reads. */
static void assert_same(struct blk *b, int expect_fd)
{
    uint64_t n = blk_sectors(b);
    uint8_t *p = malloc(64 * BLK_SECTOR_SIZE), *q = malloc(64 * BLK_SECTOR_SIZE);
    for (uint64_t s = 0; s < n; s += 64) {
        uint32_t c = n - s < 64 ? (uint32_t)(n - s) : 64;
        ck_assert_int_eq(blk_read(b, s, c, p), 0);
        memset(q, 0, (size_t)c * BLK_SECTOR_SIZE);
        ck_assert_int_ge(pread(expect_fd, q, (size_t)c * BLK_SECTOR_SIZE,
                               (off_t)(s * BLK_SECTOR_SIZE)), 0);
        ck_assert_msg(!memcmp(p, q, (size_t)c * BLK_SECTOR_SIZE), "sectors %llu.. differ",
                      (unsigned long long)s);
    }
    free(p);
    free(q);
}

#endif
