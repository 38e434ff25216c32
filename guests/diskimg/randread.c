/* guests/diskimg/randread.c — btvm-randread, the benchmark's 4 KiB random
 * read helper inside the guest (bench/virtio.sh): N reads of 4 KiB at
 * random 4 KiB-aligned offsets of a block device opened with O_DIRECT (so
 * every read is a request to the disk, none comes from the page cache),
 * timed with CLOCK_MONOTONIC. Prints "randread <reads> <seconds> <iops>".
 * With CHECK ("check"), every block read must begin with its tag, the
 * 8-byte little-endian block number times 0x9E3779B97F4A7C15, which
 * bench/virtio.sh writes into each 4 KiB block of the scratch disks: a
 * read that returns another block, or nothing, fails.
 * Built static for i386 (gcc -m32 -static) and put into the image as
 * /usr/bin/btvm-randread. Usage: btvm-randread DEVICE COUNT [SEED [check]] */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: btvm-randread DEVICE COUNT [SEED [check]]\n");
        return 2;
    }
    long count = strtol(argv[2], NULL, 0);
    uint64_t x = argc > 3 ? strtoull(argv[3], NULL, 0) : 1;
    if (x == 0)
        x = 1; /* xorshift stays at 0 */
    int check = argc > 4 && !strcmp(argv[4], "check");
    int fd = open(argv[1], O_RDONLY | O_DIRECT);
    if (fd < 0) {
        fprintf(stderr, "btvm-randread: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    uint64_t bytes = 0;
    if (ioctl(fd, BLKGETSIZE64, &bytes) != 0 || bytes < 4096) {
        fprintf(stderr, "btvm-randread: %s: no size\n", argv[1]);
        return 1;
    }
    uint64_t blocks = bytes / 4096;
    /* O_DIRECT wants the buffer aligned to the logical block size. */
    void *buf;
    if (posix_memalign(&buf, 4096, 4096) != 0)
        return 1;
    double t0 = now();
    for (long i = 0; i < count; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17; /* xorshift64 */
        off_t off = (off_t)(x % blocks) * 4096;
        if (pread(fd, buf, 4096, off) != 4096) {
            fprintf(stderr, "btvm-randread: read at %lld: %s\n", (long long)off, strerror(errno));
            return 1;
        }
        uint64_t tag, want = (uint64_t)(off / 4096) * 0x9E3779B97F4A7C15ull;
        memcpy(&tag, buf, 8); /* i386: little-endian, as the host wrote it */
        if (check && tag != want) {
            fprintf(stderr, "btvm-randread: block %lld reads tag %016llx, want %016llx\n", (long long)(off / 4096),
                    (unsigned long long)tag, (unsigned long long)want);
            return 1;
        }
    }
    double t = now() - t0;
    printf("randread %ld %.6f %.1f\n", count, t, count / t);
    return 0;
}
