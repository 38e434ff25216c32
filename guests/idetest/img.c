/*
 * guests/idetest/img.c — host side of idetest (tests/guest/idetest.sh):
 *   idetest-img disk FILE      make the sparse scratch disk (pattern.h)
 *   idetest-img check FILE     verify it after a run: every filled sector
 *                              holds its host pattern or the guest's write
 *   idetest-img cdfile         print the CD's HELLO.TXT to stdout
 *   idetest-img sectors        print the disk's size in sectors
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pattern.h"

static const struct pat_range filled[] = PAT_FILLED;
static const struct pat_range writes[] = PAT_WRITES;
#define N(a) (sizeof(a) / sizeof((a)[0]))

static uint32_t tag_of(uint64_t lba)
{
    for (size_t i = 0; i < N(writes); i++)
        if (lba >= writes[i].lba && lba < writes[i].lba + writes[i].count)
            return writes[i].tag;
    return PAT_IMG;
}

static int make_disk(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, (off_t)(PAT_DISK_SECTORS * PAT_SECTOR)) < 0) {
        fprintf(stderr, "idetest-img: %s: %s\n", path, strerror(errno));
        return 1;
    }
    uint8_t b[PAT_SECTOR];
    for (size_t r = 0; r < N(filled); r++)
        for (uint64_t l = filled[r].lba; l < filled[r].lba + filled[r].count; l++) {
            pat_fill(b, l, PAT_IMG);
            if (pwrite(fd, b, sizeof(b), (off_t)(l * PAT_SECTOR)) != (ssize_t)sizeof(b)) {
                fprintf(stderr, "idetest-img: %s: write: %s\n", path, strerror(errno));
                return 1;
            }
        }
    return close(fd) ? 1 : 0;
}

static int check_disk(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, "idetest-img: %s: %s\n", path, strerror(errno));
        return 1;
    }
    int bad = 0;
    off_t size = lseek(fd, 0, SEEK_END);
    if (size != (off_t)(PAT_DISK_SECTORS * PAT_SECTOR)) {
        printf("idetest-img: image is %lld bytes, want %llu\n", (long long)size,
               (unsigned long long)(PAT_DISK_SECTORS * PAT_SECTOR));
        bad++;
    }
    uint8_t b[PAT_SECTOR];
    for (size_t r = 0; r < N(filled); r++)
        for (uint64_t l = filled[r].lba; l < filled[r].lba + filled[r].count; l++) {
            uint32_t tag = tag_of(l), at;
            if (pread(fd, b, sizeof(b), (off_t)(l * PAT_SECTOR)) != (ssize_t)sizeof(b))
                at = 1;
            else
                at = pat_check(b, l, tag);
            if (at && bad++ < 20)
                printf("idetest-img: sector %llu: not the %.4s pattern (byte %u differs)\n",
                       (unsigned long long)l, (const char *)&tag, at - 1);
        }
    close(fd);
    if (!bad)
        printf("idetest-img: host image ok\n");
    return bad != 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "disk"))
        return make_disk(argv[2]);
    if (argc == 3 && !strcmp(argv[1], "check"))
        return check_disk(argv[2]);
    if (argc == 2 && !strcmp(argv[1], "cdfile")) {
        for (uint32_t i = 0; i < PAT_FILE_SIZE; i++)
            putchar(pat_file_byte(i));
        return fflush(stdout) ? 1 : 0;
    }
    if (argc == 2 && !strcmp(argv[1], "sectors")) {
        printf("%llu\n", (unsigned long long)PAT_DISK_SECTORS);
        return 0;
    }
    fprintf(stderr, "usage: idetest-img disk FILE | check FILE | cdfile | sectors\n");
    return 2;
}
