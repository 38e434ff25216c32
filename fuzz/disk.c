/*
 * fuzz/disk.c — disk image formats (block/: raw.c, qcow2.c, the snapshot
 * overlay overlay.c) on hostile image files: open one (raw, qcow2, or as
 * its first bytes say; read-only, -snapshot), optionally over a backing
 * file "b" in the same folder, then read, write, discard, write zeroes and
 * flush through the format as the input says.
 *
 * Input: a flags byte, the image (u32 length, bytes), the backing file
 * when flagged (u32 length, bytes), then operations of 6 bytes each (op,
 * u32 sector, u8 count). Files live in a folder under /dev/shm (/tmp if
 * that is missing), rewritten each run.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block/blk.h"
#include "fuzz/fz.h"

#define IMG_MAX (512u << 10)
#define MAX_OPS 64
#define MAX_COUNT 128u          /* sectors per operation */

static char img_path[96], back_path[96];
static uint8_t *buf;

static void put_file(const char *path, const uint8_t *p, size_t len)
{
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, p, len) != (ssize_t)len)
        fz_bug("cannot write %s", path);
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!img_path[0]) {
        const char *dir = fz_scratch_dir();
        snprintf(img_path, sizeof(img_path), "%s/img", dir);
        snprintf(back_path, sizeof(back_path), "%s/b", dir);
        if (!(buf = malloc(MAX_COUNT * 512)))
            fz_bug("no memory");
    }
    struct fz_in in = { data, size };
    uint8_t flags = fz_u8(&in);
    const uint8_t *p;
    size_t n = fz_take(&in, fz_u32(&in) % IMG_MAX, &p);
    put_file(img_path, p, n);
    unlink(back_path);
    if (flags & 0x10) {
        n = fz_take(&in, fz_u32(&in) % IMG_MAX, &p);
        put_file(back_path, p, n);
    }

    struct blk_opts o = { .format = flags & 1 ? BLK_FMT_QCOW2 : BLK_FMT_RAW,
                          .readonly = flags & 4, .snapshot = flags & 8,
                          .cache = BLK_CACHE_WRITEBACK };
    if ((flags & 2) && blk_probe_format(img_path, &o.format))
        fz_bug("cannot probe %s", img_path);
    struct blk *b;
    char err[512];
    int fd0 = fz_lowest_fd();
    if (blk_open_opts(img_path, &o, &b, err, sizeof(err))) {
        fz_check_fds(fd0, "a failed blk_open_opts");
        return 0;
    }
    uint64_t sectors = blk_sectors(b);

    for (unsigned i = 0; i < MAX_OPS && fz_left(&in); i++) {
        uint8_t op = fz_u8(&in);
        /* Mostly inside the disk, sometimes just past its end. */
        uint64_t sector = fz_u32(&in) % (sectors + 16);
        uint32_t count = fz_u8(&in) % (MAX_COUNT + 1);
        int rc = 0;
        switch (op % 5) {
        case 0:
            memset(buf, 0xA5, (size_t)count * 512);
            rc = blk_read(b, sector, count, buf);
            break;
        case 1:
            memset(buf, op, (size_t)count * 512);
            rc = blk_write(b, sector, count, buf);
            break;
        case 2:
            rc = blk_discard(b, sector, count);
            break;
        case 3:
            rc = blk_write_zeroes(b, sector, count, op & 0x80);
            break;
        case 4:
            rc = blk_flush(b);
            break;
        }
        /* blk.h: a range inside the image is never -EINVAL, one past it always. */
        bool inside = sector <= sectors && count <= sectors - sector;
        if (op % 5 != 4 && !inside && rc != -EINVAL && rc != -EROFS)
            fz_bug("op %u of %u sectors at %llu past the end (%llu) gave %d", op % 5, count,
                   (unsigned long long)sector, (unsigned long long)sectors, rc);
        if (op % 5 != 4 && inside && rc == -EINVAL)
            fz_bug("op %u of %u sectors at %llu inside the image (%llu) gave -EINVAL", op % 5,
                   count, (unsigned long long)sector, (unsigned long long)sectors);
    }
    blk_close(b);
    fz_check_fds(fd0, "blk_close");
    return 0;
}
