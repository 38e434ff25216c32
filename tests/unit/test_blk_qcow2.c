/*
 * tests/unit/test_blk_qcow2.c — block/qcow2.c against QEMU's own tools:
 * images made by `qemu-img create`, written through blk_*, then
 * `qemu-img check` (no errors, no leaks) and `qemu-img compare` with the
 * raw content the writes should have produced. Covers versions 2 and 3,
 * several cluster sizes and refcount widths, L2 / refcount-block /
 * refcount-table boundaries, backing files (raw and qcow2, left
 * unchanged), discard and write-zeroes, threads writing at once, snapshot
 * mode, cache=none, and the images btvm refuses.
 */
#include <pthread.h>

#include "tests/unit/blk_harness.h"

static int expect_file(const char *name, uint64_t size)
{
    int fd = open(in_dir(name), O_RDWR | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, (off_t)size), 0);
    return fd;
}

/* Clean by qemu-img check, and equal to the expected raw file. */
static void assert_qemu_agrees(const char *img, const char *want)
{
    int rc = sh("qemu-img check '%s' >check.out 2>&1", img);
    if (rc)
        sh("cat check.out >&2");
    ck_assert_msg(rc == 0, "qemu-img check %s: status %d", img, rc);
    rc = sh("qemu-img compare -q -f qcow2 -F raw '%s' '%s'", img, want);
    ck_assert_msg(rc == 0, "qemu-img compare %s %s: status %d", img, want, rc);
}

/* A spread of writes: partial clusters, whole ones, runs across cluster
 * and L2 boundaries, overwrites. */
static void scribble(struct blk *b, int ex, unsigned seed, int n)
{
    uint64_t sectors = blk_sectors(b);
    srand(seed);
    for (int i = 0; i < n; i++) {
        uint32_t c = 1 + (uint32_t)rand() % 300;
        uint64_t s = ((uint64_t)rand() * 7919u) % (sectors - c);
        write_both(b, ex, s, c, seed * 1000 + (unsigned)i);
    }
}

static void roundtrip(const char *create_opts, uint64_t mib, int writes)
{
    ck_assert_int_eq(sh("qemu-img create -q -f qcow2 %s img.qcow2 %lluM", create_opts,
                        (unsigned long long)mib), 0);
    int ex = expect_file("want.raw", mib << 20);
    struct blk *b = open_img("img.qcow2", BLK_FMT_QCOW2, false, false, BLK_CACHE_WRITEBACK);
    ck_assert_uint_eq(blk_sectors(b), mib << 11);
    write_both(b, ex, 0, 1, 7);
    write_both(b, ex, blk_sectors(b) - 1, 1, 8);
    scribble(b, ex, 1, writes);
    assert_same(b, ex);
    ck_assert_int_eq(blk_flush(b), 0);
    blk_close(b);
    assert_qemu_agrees("img.qcow2", "want.raw");
    /* Reopened, it reads the same, and takes more writes. */
    b = open_img("img.qcow2", BLK_FMT_QCOW2, false, false, BLK_CACHE_WRITEBACK);
    assert_same(b, ex);
    scribble(b, ex, 2, writes / 2);
    blk_close(b);
    assert_qemu_agrees("img.qcow2", "want.raw");
    close(ex);
}

START_TEST(v3_64k_clusters)
{
    roundtrip("", 256, 400);
}
END_TEST

START_TEST(v2_compat)
{
    roundtrip("-o compat=0.10", 64, 300);
}
END_TEST

/* 512-byte clusters: an L2 table covers 32 KiB, a refcount block 128 KiB,
 * the first refcount table 8 MiB of file: writing ~20 MiB crosses all
 * three, the last one by growing the table. */
START_TEST(small_clusters_cross_every_boundary)
{
    ck_assert_int_eq(sh("qemu-img create -q -f qcow2 -o cluster_size=512 img.qcow2 48M"), 0);
    int ex = expect_file("want.raw", 48 << 20);
    struct blk *b = open_img("img.qcow2", BLK_FMT_QCOW2, false, false, BLK_CACHE_WRITEBACK);
    for (uint64_t s = 0; s < (40u << 11); s += 256)
        write_both(b, ex, s + (s / 256) % 50, 100, (unsigned)s);
    blk_close(b);
    struct stat st;
    ck_assert_int_eq(stat(in_dir("img.qcow2"), &st), 0);
    ck_assert_int_gt(st.st_size, 9 << 20);        /* past the first refcount table's reach */
    assert_qemu_agrees("img.qcow2", "want.raw");
    b = open_img("img.qcow2", BLK_FMT_QCOW2, true, false, BLK_CACHE_WRITEBACK);
    assert_same(b, ex);
    blk_close(b);
    close(ex);
}
END_TEST

START_TEST(refcount_widths)
{
    static const char *const opts[] = {
        "-o refcount_bits=1,cluster_size=4096", "-o refcount_bits=4,cluster_size=1024",
        "-o refcount_bits=8", "-o refcount_bits=32,cluster_size=2048",
        "-o refcount_bits=64,cluster_size=4096",
    };
    for (unsigned i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        sh("rm -f img.qcow2");
        roundtrip(opts[i], 32, 150);
    }
}
END_TEST

/* Copy-on-write over a raw backing file and a qcow2 one (a chain of two),
 * the backing file shorter than the image; the backing files stay as they
 * were and are only read-locked. */
START_TEST(backing_files)
{
    int base = expect_file("base.raw", 8 << 20);
    for (uint64_t s = 0; s < (8u << 11); s += 64) {
        uint8_t p[64 * 512];
        pattern(p, s, 99, 64);
        ck_assert_int_eq(pwrite(base, p, sizeof(p), (off_t)s * 512), (ssize_t)sizeof(p));
    }
    ck_assert_int_eq(sh("cp base.raw want.raw && sha256sum base.raw >base.sum"), 0);
    ck_assert_int_eq(sh("qemu-img create -q -f qcow2 -b base.raw -F raw mid.qcow2 12M"), 0);
    int ex = open(in_dir("want.raw"), O_RDWR);
    ck_assert_int_eq(ftruncate(ex, 12 << 20), 0);
    struct blk *b = open_img("mid.qcow2", BLK_FMT_QCOW2, false, false, BLK_CACHE_WRITEBACK);
    assert_same(b, ex);                 /* all from the backing file, zeroes past it */
    /* The backing file is read-locked: no writer, readers welcome. */
    char msg[512];
    ck_assert_int_eq(open_fails("base.raw", BLK_FMT_RAW, false, false, msg, sizeof(msg)), -EBUSY);
    blk_close(open_img("base.raw", BLK_FMT_RAW, true, false, BLK_CACHE_WRITEBACK));
    write_both(b, ex, 3, 5, 1);         /* partial clusters: the rest copied */
    write_both(b, ex, 200, 300, 2);
    write_both(b, ex, (8u << 11) - 10, 20, 3);   /* across the backing file's end */
    scribble(b, ex, 3, 60);
    assert_same(b, ex);
    blk_close(b);
    assert_qemu_agrees("mid.qcow2", "want.raw");

    /* A qcow2 over it: a chain of two. */
    ck_assert_int_eq(sh("qemu-img create -q -f qcow2 -b mid.qcow2 -F qcow2 top.qcow2 12M"), 0);
    b = open_img("top.qcow2", BLK_FMT_QCOW2, false, false, BLK_CACHE_WRITEBACK);
    assert_same(b, ex);
    scribble(b, ex, 4, 60);
    ck_assert_int_eq(blk_discard(b, 0, 1024), 0);    /* zero clusters hide the backing */
    uint8_t *z = calloc(1024, 512);
    ck_assert_int_eq(pwrite(ex, z, 1024 * 512, 0), 1024 * 512);
    free(z);
    assert_same(b, ex);
    blk_close(b);
    assert_qemu_agrees("top.qcow2", "want.raw");
    ck_assert_int_eq(sh("sha256sum -c --quiet base.sum"), 0);
    ck_assert_int_eq(sh("qemu-img check -q mid.qcow2"), 0);
    close(ex);
    close(base);
}
END_TEST

/* Hide an image's backing format extension (its type becomes one nobody
 * knows, which readers skip), so the backing file's format is probed. */
static void hide_backing_format(const char *name)
{
    int fd = open(in_dir(name), O_RDWR);
    uint8_t h[4096];
    ck_assert_int_eq(pread(fd, h, sizeof(h), 0), (ssize_t)sizeof(h));
    uint32_t p = (uint32_t)h[100] << 24 | h[101] << 16 | h[102] << 8 | h[103];
    bool found = false;
    while (p + 8 <= sizeof(h)) {
        uint32_t type = (uint32_t)h[p] << 24 | h[p + 1] << 16 | h[p + 2] << 8 | h[p + 3];
        uint32_t len = (uint32_t)h[p + 4] << 24 | h[p + 5] << 16 | h[p + 6] << 8 | h[p + 7];
        if (type == 0)
            break;
        if (type == 0xe2792acau) {
            static const uint8_t unknown[4] = { 0x7b, 0x7b, 0x7b, 0x7b };
            ck_assert_int_eq(pwrite(fd, unknown, 4, p), 4);
            found = true;
        }
        p += 8 + ((len + 7) & ~7u);
    }
    close(fd);
    ck_assert_msg(found, "%s has no backing format extension", name);
}

/* Without a backing format in the header, the backing file's own first
 * bytes decide: qcow2 under qcow2, raw under that. */
START_TEST(backing_format_probed)
{
    int ex = expect_file("want.raw", 4 << 20);
    ck_assert_int_eq(sh("qemu-img create -q -f raw base.raw 4M && "
                        "qemu-img create -q -f qcow2 -b base.raw -F raw mid.qcow2 4M && "
                        "qemu-img create -q -f qcow2 -b mid.qcow2 -F qcow2 top.qcow2 4M"), 0);
    struct blk *b = open_img("base.raw", BLK_FMT_RAW, false, false, BLK_CACHE_WRITEBACK);
    write_both(b, ex, 0, 2048, 1);
    blk_close(b);
    b = open_img("mid.qcow2", BLK_FMT_QCOW2, false, false, BLK_CACHE_WRITEBACK);
    write_both(b, ex, 1000, 3000, 2);
    blk_close(b);
    hide_backing_format("mid.qcow2");
    hide_backing_format("top.qcow2");
    b = open_img("top.qcow2", BLK_FMT_QCOW2, false, false, BLK_CACHE_WRITEBACK);
    write_both(b, ex, 5000, 100, 3);
    assert_same(b, ex);
    blk_close(b);
    ck_assert_int_eq(sh("qemu-img check -q top.qcow2"), 0);
    close(ex);
}
END_TEST

START_TEST(discard_and_write_zeroes)
{
    ck_assert_int_eq(sh("qemu-img create -q -f qcow2 -o cluster_size=4096 img.qcow2 16M"), 0);
    int ex = expect_file("want.raw", 16 << 20);
    struct blk *b = open_img("img.qcow2", BLK_FMT_QCOW2, false, false, BLK_CACHE_WRITEBACK);
    write_both(b, ex, 0, 4096, 1);
    ck_assert_int_eq(blk_flush(b), 0);
    uint8_t *z = calloc(2048, 512);
    /* Whole clusters 8..: zero clusters, host space punched. */
    ck_assert_int_eq(blk_discard(b, 64, 1024), 0);
    ck_assert_int_eq(pwrite(ex, z, 1024 * 512, 64 * 512), 1024 * 512);
    /* Partial clusters at both ends are written as zeroes. */
    ck_assert_int_eq(blk_write_zeroes(b, 2001, 300, false), 0);
    ck_assert_int_eq(pwrite(ex, z, 300 * 512, 2001 * 512), 300 * 512);
    ck_assert_int_eq(blk_write_zeroes(b, 6000, 900, true), 0);   /* unallocated too */
    ck_assert_int_eq(pwrite(ex, z, 900 * 512, 6000 * 512), 900 * 512);
    /* Writing into a zero cluster again. */
    write_both(b, ex, 100, 3, 2);
    write_both(b, ex, 6100, 16, 3);
    assert_same(b, ex);
    blk_close(b);
    assert_qemu_agrees("img.qcow2", "want.raw");
    /* v2: no zero clusters, so no discard; write-zeroes writes. */
    sh("rm -f img.qcow2");
    close(ex);
    ex = expect_file("want.raw", 16 << 20);
    ck_assert_int_eq(sh("qemu-img create -q -f qcow2 -o compat=0.10 img.qcow2 16M"), 0);
    b = open_img("img.qcow2", BLK_FMT_QCOW2, false, false, BLK_CACHE_WRITEBACK);
    write_both(b, ex, 0, 4096, 4);
    ck_assert_int_eq(blk_discard(b, 0, 128), -EOPNOTSUPP);
    ck_assert_int_eq(blk_write_zeroes(b, 64, 1024, true), 0);
    ck_assert_int_eq(pwrite(ex, z, 1024 * 512, 64 * 512), 1024 * 512);
    assert_same(b, ex);
    blk_close(b);
    assert_qemu_agrees("img.qcow2", "want.raw");
    free(z);
    close(ex);
}
END_TEST

struct writer { struct blk *b; unsigned id; int rc; };

/* Thread id writes the clusters c with c % 4 == id, in a shuffled order,
 * so allocations, L2 tables and refcount blocks are shared and raced. */
static void *writer(void *arg)
{
    struct writer *w = arg;
    uint8_t p[8 * 512];
    for (uint64_t k = 0; k < 3000; k++) {
        uint64_t c = ((k * 2654435761u) % 3000) * 4 + w->id;     /* 1 KiB clusters */
        pattern(p, c * 2, w->id, 2);
        if ((w->rc = blk_write(w->b, c * 2, 2, p)))
            return NULL;
        if (k % 500 == 0 && (w->rc = blk_flush(w->b)))
            return NULL;
        if ((w->rc = blk_read(w->b, c * 2, 2, p + 1024)))
            return NULL;
        if (memcmp(p, p + 1024, 1024)) {
            w->rc = -1000;
            return NULL;
        }
    }
    return NULL;
}

START_TEST(threads_write_at_once)
{
    ck_assert_int_eq(sh("qemu-img create -q -f qcow2 -o cluster_size=1024 img.qcow2 16M"), 0);
    struct blk *b = open_img("img.qcow2", BLK_FMT_QCOW2, false, false, BLK_CACHE_WRITEBACK);
    pthread_t t[4];
    struct writer w[4];
    for (unsigned i = 0; i < 4; i++) {
        w[i] = (struct writer){ b, i, 0 };
        pthread_create(&t[i], NULL, writer, &w[i]);
    }
    for (unsigned i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ck_assert_msg(w[i].rc == 0, "thread %u: %d", i, w[i].rc);
    }
    blk_close(b);
    int ex = expect_file("want.raw", 16 << 20);
    uint8_t p[1024];
    for (uint64_t c = 0; c < 12000; c++) {
        pattern(p, c * 2, (unsigned)(c % 4), 2);
        ck_assert_int_eq(pwrite(ex, p, 1024, (off_t)c * 1024), 1024);
    }
    assert_qemu_agrees("img.qcow2", "want.raw");
    close(ex);
}
END_TEST

START_TEST(cache_none)
{
    ck_assert_int_eq(sh("qemu-img create -q -f qcow2 -o cluster_size=4096 img.qcow2 32M"), 0);
    int ex = expect_file("want.raw", 32 << 20);
    struct blk *b = open_img("img.qcow2", BLK_FMT_QCOW2, false, false, BLK_CACHE_NONE);
    scribble(b, ex, 5, 200);
    assert_same(b, ex);
    blk_close(b);
    assert_qemu_agrees("img.qcow2", "want.raw");
    close(ex);
}
END_TEST

/* snapshot=on over qcow2 with a backing file: neither file changes. */
START_TEST(snapshot_leaves_images)
{
    ck_assert_int_eq(sh("qemu-img create -q -f raw base.raw 4M && "
                        "qemu-img create -q -f qcow2 -b base.raw -F raw img.qcow2 4M"), 0);
    int ex = expect_file("want.raw", 4 << 20);
    struct blk *b = open_img("img.qcow2", BLK_FMT_QCOW2, false, false, BLK_CACHE_WRITEBACK);
    scribble(b, ex, 6, 50);
    blk_close(b);
    ck_assert_int_eq(sh("sha256sum base.raw img.qcow2 >sums"), 0);
    b = open_img("img.qcow2", BLK_FMT_QCOW2, false, true, BLK_CACHE_WRITEBACK);
    scribble(b, ex, 7, 50);
    ck_assert_int_eq(blk_write_zeroes(b, 0, 100, true), 0);
    uint8_t z[100 * 512] = { 0 };
    ck_assert_int_eq(pwrite(ex, z, sizeof(z), 0), (ssize_t)sizeof(z));
    ck_assert_int_eq(blk_flush(b), 0);
    assert_same(b, ex);
    blk_close(b);
    ck_assert_int_eq(sh("sha256sum -c --quiet sums"), 0);
    close(ex);
}
END_TEST

START_TEST(readonly_refuses_writes)
{
    ck_assert_int_eq(sh("qemu-img create -q -f qcow2 img.qcow2 4M && sha256sum img.qcow2 >sums"),
                     0);
    struct blk *b = open_img("img.qcow2", BLK_FMT_QCOW2, true, false, BLK_CACHE_WRITEBACK);
    uint8_t p[512] = { 0 };
    ck_assert_int_eq(blk_write(b, 0, 1, p), -EROFS);
    ck_assert_int_eq(blk_write_zeroes(b, 0, 1, false), -EROFS);
    ck_assert_int_eq(blk_discard(b, 0, 1), -EROFS);
    ck_assert_int_eq(blk_read(b, 0, 1, p), 0);
    blk_close(b);
    ck_assert_int_eq(sh("sha256sum -c --quiet sums"), 0);
}
END_TEST

/* What btvm does not implement is refused at open with a clear line. */
START_TEST(refused_images)
{
    char msg[512];
    ck_assert_int_eq(sh("qemu-img create -q -f raw src.raw 1M && "
                        "printf data | dd of=src.raw conv=notrunc status=none && "
                        "qemu-img convert -c -O qcow2 src.raw comp.qcow2"), 0);
    ck_assert_int_eq(open_fails("comp.qcow2", BLK_FMT_QCOW2, true, false, msg, sizeof(msg)),
                     -ENOTSUP);
    ck_assert_ptr_nonnull(strstr(msg, "compressed clusters"));

    ck_assert_int_eq(sh("qemu-img create -q --object secret,id=s0,data=123456 -f qcow2 "
                        "-o encrypt.format=aes,encrypt.key-secret=s0 enc.qcow2 1M 2>/dev/null"),
                     0);
    ck_assert_int_eq(open_fails("enc.qcow2", BLK_FMT_QCOW2, true, false, msg, sizeof(msg)),
                     -ENOTSUP);
    ck_assert_ptr_nonnull(strstr(msg, "encrypted"));

    ck_assert_int_eq(sh("qemu-img create -q -f qcow2 snap.qcow2 1M && "
                        "qemu-img snapshot -c s1 snap.qcow2"), 0);
    ck_assert_int_eq(open_fails("snap.qcow2", BLK_FMT_QCOW2, false, false, msg, sizeof(msg)),
                     -ENOTSUP);
    ck_assert_ptr_nonnull(strstr(msg, "internal snapshots"));
    blk_close(open_img("snap.qcow2", BLK_FMT_QCOW2, true, false, BLK_CACHE_WRITEBACK));
    blk_close(open_img("snap.qcow2", BLK_FMT_QCOW2, false, true, BLK_CACHE_WRITEBACK));

    ck_assert_int_eq(sh("qemu-img create -q -f raw r.raw 1M"), 0);
    ck_assert_int_eq(open_fails("r.raw", BLK_FMT_QCOW2, true, false, msg, sizeof(msg)), -EINVAL);
    ck_assert_ptr_nonnull(strstr(msg, "not a qcow2 image"));
    ck_assert_int_eq(sh("qemu-img create -q -f qcow2 -o extended_l2=on ext.qcow2 1M"), 0);
    ck_assert_int_eq(open_fails("ext.qcow2", BLK_FMT_QCOW2, true, false, msg, sizeof(msg)),
                     -ENOTSUP);
    ck_assert_ptr_nonnull(strstr(msg, "extended L2"));
    /* A backing file that is missing. */
    ck_assert_int_eq(sh("qemu-img create -q -f qcow2 -b gone.raw -F raw -u orphan.qcow2 1M"), 0);
    ck_assert_int_eq(open_fails("orphan.qcow2", BLK_FMT_QCOW2, true, false, msg, sizeof(msg)),
                     -ENOENT);
    ck_assert_ptr_nonnull(strstr(msg, "gone.raw"));
    /* A truncated header. */
    ck_assert_int_eq(sh("head -c 40 snap.qcow2 >short.qcow2"), 0);
    ck_assert_int_lt(open_fails("short.qcow2", BLK_FMT_QCOW2, true, false, msg, sizeof(msg)), 0);
}
END_TEST

/* A damaged image is the host's file, not the guest's doing, but it must
 * still end in errors, never a crash or a hang: bytes of the header and
 * tables overwritten at random, then opened, read and written (under
 * ASan in the sanitized build). */
START_TEST(damaged_images_do_not_crash)
{
    ck_assert_int_eq(sh("qemu-img create -q -f qcow2 -o cluster_size=4096 good.qcow2 8M"), 0);
    struct blk *b = open_img("good.qcow2", BLK_FMT_QCOW2, false, false, BLK_CACHE_WRITEBACK);
    int ex = expect_file("want.raw", 8 << 20);
    scribble(b, ex, 8, 40);
    blk_close(b);
    close(ex);
    struct stat st;
    ck_assert_int_eq(stat(in_dir("good.qcow2"), &st), 0);
    srand(42);
    uint8_t buf[64 * 512];
    int opened = 0;
    for (int it = 0; it < 150; it++) {
        ck_assert_int_eq(sh("cp good.qcow2 bad.qcow2"), 0);
        int fd = open(in_dir("bad.qcow2"), O_RDWR);
        for (int k = 0; k < 1 + it % 8; k++) {
            /* Mostly the header and the first tables (the first 5
             * clusters), sometimes anywhere. */
            off_t at = k % 3 ? rand() % (5 * 4096) : rand() % st.st_size;
            uint8_t v = (uint8_t)rand();
            ck_assert_int_eq(pwrite(fd, &v, 1, at), 1);
        }
        close(fd);
        struct blk_opts o = { .format = BLK_FMT_QCOW2, .readonly = it % 4 == 3 };
        char err[512];
        if (blk_open_opts(in_dir("bad.qcow2"), &o, &b, err, sizeof(err)))
            continue;
        opened++;
        uint64_t n = blk_sectors(b);
        for (int k = 0; k < 20 && n > 64; k++) {
            uint64_t s = (uint64_t)rand() % (n - 64);
            blk_read(b, s, 64, buf);
            if (k % 2)
                blk_write(b, s, 1 + (uint32_t)rand() % 64, buf);
            if (k % 5 == 0)
                blk_discard(b, s, 64);
        }
        blk_flush(b);
        blk_close(b);
    }
    ck_assert_int_gt(opened, 10);     /* the damage did not only stop the open */
}
END_TEST

/* A second writer of a qcow2 image is refused, as of a raw one. */
START_TEST(lock_second_writer)
{
    ck_assert_int_eq(sh("qemu-img create -q -f qcow2 img.qcow2 4M"), 0);
    struct blk *b = open_img("img.qcow2", BLK_FMT_QCOW2, false, false, BLK_CACHE_WRITEBACK);
    char msg[512];
    ck_assert_int_eq(open_fails("img.qcow2", BLK_FMT_QCOW2, false, false, msg, sizeof(msg)),
                     -EBUSY);
    ck_assert_int_eq(open_fails("img.qcow2", BLK_FMT_QCOW2, true, false, msg, sizeof(msg)),
                     -EBUSY);
    blk_close(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("blk_qcow2");
    TCase *tc = tcase_create("qcow2");
    tcase_add_checked_fixture(tc, dir_setup, dir_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, v3_64k_clusters);
    tcase_add_test(tc, v2_compat);
    tcase_add_test(tc, small_clusters_cross_every_boundary);
    tcase_add_test(tc, refcount_widths);
    tcase_add_test(tc, backing_files);
    tcase_add_test(tc, backing_format_probed);
    tcase_add_test(tc, discard_and_write_zeroes);
    tcase_add_test(tc, threads_write_at_once);
    tcase_add_test(tc, cache_none);
    tcase_add_test(tc, snapshot_leaves_images);
    tcase_add_test(tc, readonly_refuses_writes);
    tcase_add_test(tc, refused_images);
    tcase_add_test(tc, lock_second_writer);
    tcase_add_test(tc, damaged_images_do_not_crash);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
