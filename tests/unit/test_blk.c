/*
 * tests/unit/test_blk.c — block/ on raw images: sparse files stay sparse,
 * discard punches holes (SEEK_HOLE sees them), write-zeroes, cache=none
 * (O_DIRECT) with unaligned buffers, read-only, the snapshot overlay (the
 * image stays byte-identical), locking, and durability: a child that
 * flushes and is SIGKILLed loses nothing it flushed.
 */
#include <pthread.h>
#include <signal.h>

#include "tests/unit/blk_harness.h"
#include "vm/drive_open.h"

#define MIB (1024 * 1024)

static void make_sparse(const char *name, off_t size)
{
    int fd = open(in_dir(name), O_RDWR | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, size), 0);
    close(fd);
}

static int open_expect(const char *name, off_t size)
{
    int fd = open(in_dir(name), O_RDWR | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, size), 0);
    return fd;
}

static blkcnt_t allocated_kib(const char *name)
{
    struct stat st;
    ck_assert_int_eq(stat(in_dir(name), &st), 0);
    return st.st_blocks / 2;
}

START_TEST(raw_sparse_and_holes)
{
    make_sparse("d.img", 16 * MIB);
    int ex = open_expect("want", 16 * MIB);
    struct blk *b = open_img("d.img", BLK_FMT_RAW, false, false, BLK_CACHE_WRITEBACK);
    ck_assert_uint_eq(blk_sectors(b), 16 * MIB / 512);
    write_both(b, ex, 2048, 2048, 1);                   /* 1 MiB at 1 MiB */
    write_both(b, ex, 30000, 3, 2);
    ck_assert_int_eq(blk_flush(b), 0);
    /* Only what was written takes space. */
    ck_assert_int_le(allocated_kib("d.img"), 1024 + 64);

    /* Discard 256 KiB in the middle: a hole, reading as zeroes. */
    int rc = blk_discard(b, 2048 + 512, 512);
    ck_assert_int_eq(rc, 0);
    {
        uint8_t *zz = calloc(512, 512);
        ck_assert_int_eq(pwrite(ex, zz, 512 * 512, (2048 + 512) * 512), 512 * 512);
        free(zz);
    }
    write_both(b, ex, 0, 1, 3);                          /* sector 0 back to data */
    int fd = open(in_dir("d.img"), O_RDONLY);
    ck_assert_int_eq(lseek(fd, (2048 + 512) * 512, SEEK_HOLE), (2048 + 512) * 512);
    ck_assert_int_eq(lseek(fd, (2048 + 512) * 512, SEEK_DATA), (2048 + 1024) * 512);
    close(fd);
    ck_assert_int_le(allocated_kib("d.img"), 1024 - 256 + 64);

    /* Write-zeroes with unmap: a hole as well; without: zeroes, kept. */
    ck_assert_int_eq(blk_write_zeroes(b, 2048 + 1024, 256, true), 0);
    ck_assert_int_eq(blk_write_zeroes(b, 2048 + 1536, 8, false), 0);
    uint8_t *zz = calloc(256, 512);
    ck_assert_int_eq(pwrite(ex, zz, 256 * 512, (2048 + 1024) * 512), 256 * 512);
    ck_assert_int_eq(pwrite(ex, zz, 8 * 512, (2048 + 1536) * 512), 8 * 512);
    free(zz);
    fd = open(in_dir("d.img"), O_RDONLY);
    ck_assert_int_eq(lseek(fd, (2048 + 1024) * 512, SEEK_HOLE), (2048 + 1024) * 512);
    close(fd);
    assert_same(b, ex);
    /* Ranges are checked. */
    ck_assert_int_eq(blk_discard(b, 16 * MIB / 512 - 1, 2), -EINVAL);
    ck_assert_int_eq(blk_write_zeroes(b, 16 * MIB / 512, 1, false), -EINVAL);
    blk_close(b);
    close(ex);
}
END_TEST

START_TEST(raw_readonly)
{
    make_sparse("r.img", MIB);
    struct blk *b = open_img("r.img", BLK_FMT_RAW, true, false, BLK_CACHE_WRITEBACK);
    uint8_t p[512] = { 1 };
    ck_assert(blk_readonly(b));
    ck_assert_int_eq(blk_write(b, 0, 1, p), -EROFS);
    ck_assert_int_eq(blk_discard(b, 0, 1), -EROFS);
    ck_assert_int_eq(blk_write_zeroes(b, 0, 1, true), -EROFS);
    ck_assert_int_eq(blk_read(b, 0, 1, p), 0);
    ck_assert_int_eq(p[0], 0);
    blk_close(b);
}
END_TEST

struct dw { struct blk *b; uint64_t s; unsigned g; };

static void *direct_writer(void *arg)
{
    struct dw *w = arg;
    uint8_t *raw = malloc(512 + 1);
    for (int i = 0; i < 200; i++) {
        pattern(raw + 1, w->s, w->g + (unsigned)i, 1);     /* deliberately unaligned */
        if (blk_write(w->b, w->s, 1, raw + 1))
            return (void *)1;
    }
    free(raw);
    return NULL;
}

/* cache=none: O_DIRECT, and buffers, offsets and lengths of any alignment
 * still land where they should (the bounce path); neighbours written at
 * once in the same 4 KiB unit do not undo each other. */
START_TEST(raw_cache_none_alignment)
{
    make_sparse("o.img", 4 * MIB);
    int ex = open_expect("want", 4 * MIB);
    struct blk *b = open_img("o.img", BLK_FMT_RAW, false, false, BLK_CACHE_NONE);
    uint8_t *buf = malloc(64 * 512 + 1);
    for (unsigned k = 0; k < 20; k++) {
        uint64_t s = k * 37 + 1;                         /* not 4 KiB aligned */
        uint32_t c = 1 + k % 9;
        pattern(buf + (k & 1), s, k, c);
        ck_assert_int_eq(blk_write(b, s, c, buf + (k & 1)), 0);
        ck_assert_int_eq(pwrite(ex, buf + (k & 1), c * 512, (off_t)s * 512), c * 512);
    }
    /* Eight threads, each on one sector of the same 4 KiB unit. */
    pthread_t t[8];
    struct dw w[8];
    for (int i = 0; i < 8; i++) {
        w[i] = (struct dw){ b, 4096 + (uint64_t)i, 100u * (unsigned)i };
        pthread_create(&t[i], NULL, direct_writer, &w[i]);
    }
    for (int i = 0; i < 8; i++) {
        void *r;
        pthread_join(t[i], &r);
        ck_assert_ptr_null(r);
        pattern(buf, w[i].s, w[i].g + 199, 1);
        ck_assert_int_eq(pwrite(ex, buf, 512, (off_t)w[i].s * 512), 512);
    }
    /* Unaligned reads through O_DIRECT too. */
    ck_assert_int_eq(blk_read(b, 38, 9, buf + 1), 0);
    uint8_t want[9 * 512];
    ck_assert_int_eq(pread(ex, want, sizeof(want), 38 * 512), (ssize_t)sizeof(want));
    ck_assert(!memcmp(buf + 1, want, sizeof(want)));
    ck_assert_int_eq(blk_flush(b), 0);
    assert_same(b, ex);
    blk_close(b);
    /* And the file itself, through the page cache. */
    b = open_img("o.img", BLK_FMT_RAW, true, false, BLK_CACHE_WRITEBACK);
    assert_same(b, ex);
    blk_close(b);
    free(buf);
    close(ex);
}
END_TEST

static void file_digest(const char *name, char *out, size_t len)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "sha256sum < '%s'", in_dir(name));
    FILE *f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(out, (int)len, f));
    pclose(f);
}

/* snapshot: the guest sees its writes; the image does not change. */
START_TEST(raw_snapshot_leaves_image)
{
    make_sparse("s.img", 2 * MIB);
    struct blk *b = open_img("s.img", BLK_FMT_RAW, false, false, BLK_CACHE_WRITEBACK);
    int ex = open_expect("want", 2 * MIB);
    write_both(b, ex, 0, 300, 1);
    blk_close(b);
    char before[100], after[100];
    file_digest("s.img", before, sizeof(before));

    b = open_img("s.img", BLK_FMT_RAW, false, true, BLK_CACHE_WRITEBACK);
    ck_assert(!blk_readonly(b));
    write_both(b, ex, 100, 200, 2);      /* over old data, across chunk edges */
    write_both(b, ex, 4000, 1, 3);       /* beyond it */
    ck_assert_int_eq(blk_write_zeroes(b, 10, 5, true), 0);
    uint8_t z[5 * 512] = { 0 };
    ck_assert_int_eq(pwrite(ex, z, sizeof(z), 10 * 512), (ssize_t)sizeof(z));
    ck_assert_int_eq(blk_discard(b, 0, 64), 0);   /* may keep the data: it does */
    ck_assert_int_eq(blk_flush(b), 0);
    assert_same(b, ex);
    /* The image is only read: another reader is welcome, a writer not. */
    struct blk *r = open_img("s.img", BLK_FMT_RAW, true, false, BLK_CACHE_WRITEBACK);
    blk_close(r);
    char msg[512];
    ck_assert_int_eq(open_fails("s.img", BLK_FMT_RAW, false, false, msg, sizeof(msg)), -EBUSY);
    blk_close(b);
    file_digest("s.img", after, sizeof(after));
    ck_assert_str_eq(before, after);
    close(ex);
}
END_TEST

START_TEST(raw_lock_second_writer)
{
    make_sparse("l.img", MIB);
    struct blk *a = open_img("l.img", BLK_FMT_RAW, false, false, BLK_CACHE_NONE);
    char msg[512];
    ck_assert_int_eq(open_fails("l.img", BLK_FMT_RAW, false, false, msg, sizeof(msg)), -EBUSY);
    ck_assert_ptr_nonnull(strstr(msg, "in use by another process"));
    ck_assert_int_eq(open_fails("l.img", BLK_FMT_RAW, false, true, msg, sizeof(msg)), -EBUSY);
    blk_close(a);
    a = open_img("l.img", BLK_FMT_RAW, false, true, BLK_CACHE_WRITEBACK);
    struct blk *c = open_img("l.img", BLK_FMT_RAW, false, true, BLK_CACHE_WRITEBACK);
    blk_close(c);
    blk_close(a);
}
END_TEST

START_TEST(probe_format)
{
    make_sparse("p.img", MIB);
    ck_assert_int_eq(sh("qemu-img create -q -f qcow2 p.qcow2 1M"), 0);
    enum blk_format f = BLK_FMT_QCOW2;
    ck_assert_int_eq(blk_probe_format(in_dir("p.img"), &f), 0);
    ck_assert_int_eq(f, BLK_FMT_RAW);
    ck_assert_int_eq(blk_probe_format(in_dir("p.qcow2"), &f), 0);
    ck_assert_int_eq(f, BLK_FMT_QCOW2);
    ck_assert_int_eq(blk_probe_format(in_dir("none"), &f), -ENOENT);
}
END_TEST

/* A command-line drive: without format= the qcow2 magic decides (QEMU's
 * probing), format=raw shows the qcow2 file itself; cdrom is read-only. */
START_TEST(drive_open_probes)
{
    ck_assert_int_eq(sh("qemu-img create -q -f qcow2 d.qcow2 3M"), 0);
    struct vm_drive d = { .used = true, .file = in_dir("d.qcow2") };
    struct blk *b;
    char err[512];
    ck_assert_int_eq(vm_drive_open(&d, &b, err, sizeof(err)), 0);
    ck_assert_uint_eq(blk_sectors(b), 3 * 2048);
    ck_assert(!blk_readonly(b));
    blk_close(b);
    d.format_given = true;             /* format=raw: the file as it is */
    ck_assert_int_eq(vm_drive_open(&d, &b, err, sizeof(err)), 0);
    ck_assert_uint_lt(blk_sectors(b), 3 * 2048);
    blk_close(b);
    d.format_given = false;
    d.media = VM_MEDIA_CDROM;
    ck_assert_int_eq(vm_drive_open(&d, &b, err, sizeof(err)), 0);
    ck_assert(blk_readonly(b));
    blk_close(b);
    d.file = in_dir("missing");
    ck_assert_int_eq(vm_drive_open(&d, &b, err, sizeof(err)), -ENOENT);
    ck_assert_ptr_nonnull(strstr(err, "missing"));
}
END_TEST

/* Durability: a child writes generation after generation, flushing after
 * each and telling the parent; the parent SIGKILLs it in the middle of the
 * next one. Every flushed generation must be there. */
static void durability(enum blk_format fmt, const char *name)
{
    enum { SECTORS = 64, STRIDE = 1000, FLUSHED = 6 };
    int pfd[2];
    ck_assert_int_eq(pipe(pfd), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(pfd[0]);
        struct blk *b;
        char err[512];
        struct blk_opts o = { .format = fmt };
        if (blk_open_opts(in_dir(name), &o, &b, err, sizeof(err)))
            _exit(1);
        uint8_t *p = malloc(SECTORS * 512);
        for (unsigned g = 1;; g++) {
            /* Generation g: a fresh place (allocating in qcow2) and an
             * overwrite of sector 0 .. SECTORS. */
            uint64_t at = (g <= FLUSHED ? g : FLUSHED + 1 + g % 100) * STRIDE;
            pattern(p, at, g, SECTORS);
            if (blk_write(b, at, SECTORS, p))
                _exit(2);
            pattern(p, 0, g, SECTORS);
            if (blk_write(b, 0, SECTORS, p))
                _exit(2);
            if (g > FLUSHED)
                continue;           /* unflushed from here on, until killed */
            if (blk_flush(b))
                _exit(3);
            if (write(pfd[1], &g, sizeof(g)) != sizeof(g))
                _exit(4);
        }
    }
    close(pfd[1]);
    unsigned g = 0, got;
    while (g < FLUSHED && read(pfd[0], &got, sizeof(got)) == sizeof(got))
        g = got;
    usleep(20000);
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    close(pfd[0]);
    ck_assert_msg(WIFSIGNALED(st), "the child ended on its own: %d", WEXITSTATUS(st));
    ck_assert_uint_eq(g, FLUSHED);

    struct blk *b = open_img(name, fmt, true, false, BLK_CACHE_WRITEBACK);
    uint8_t *p = malloc(SECTORS * 512), *w = malloc(SECTORS * 512);
    for (unsigned k = 1; k <= FLUSHED; k++) {
        pattern(w, k * STRIDE, k, SECTORS);
        ck_assert_int_eq(blk_read(b, k * STRIDE, SECTORS, p), 0);
        ck_assert_msg(!memcmp(p, w, SECTORS * 512), "generation %u lost", k);
    }
    /* Sector 0..: generation FLUSHED or a later one, whole sectors. */
    ck_assert_int_eq(blk_read(b, 0, 1, p), 0);
    bool ok = false;
    for (unsigned k = FLUSHED; k < FLUSHED + 100000 && !ok; k++) {
        pattern(w, 0, k, 1);
        ok = !memcmp(p, w, 512);
    }
    ck_assert_msg(ok, "sector 0 holds neither the flushed nor a later generation");
    blk_close(b);
    free(p);
    free(w);
}

START_TEST(raw_durability_sigkill)
{
    make_sparse("k.img", 64 * MIB);
    durability(BLK_FMT_RAW, "k.img");
}
END_TEST

START_TEST(qcow2_durability_sigkill)
{
    ck_assert_int_eq(sh("qemu-img create -q -f qcow2 -o cluster_size=4096 k.qcow2 64M"), 0);
    durability(BLK_FMT_QCOW2, "k.qcow2");
    /* Repairable: no errors (leaked clusters, exit status 3, are allowed). */
    int rc = sh("qemu-img check k.qcow2 >/dev/null 2>&1");
    ck_assert_msg(rc == 0 || rc == 3, "qemu-img check: status %d", rc);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("blk");
    TCase *tc = tcase_create("raw");
    tcase_add_checked_fixture(tc, dir_setup, dir_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, raw_sparse_and_holes);
    tcase_add_test(tc, raw_readonly);
    tcase_add_test(tc, raw_cache_none_alignment);
    tcase_add_test(tc, raw_snapshot_leaves_image);
    tcase_add_test(tc, raw_lock_second_writer);
    tcase_add_test(tc, probe_format);
    tcase_add_test(tc, drive_open_probes);
    tcase_add_test(tc, raw_durability_sigkill);
    tcase_add_test(tc, qcow2_durability_sigkill);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
