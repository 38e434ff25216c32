/*
 * tests/unit/test_ide.c — the raw image backend (block/blk.c) and the IDE
 * model (devices/ide.c) driven through the bus as a guest driver would,
 * on temporary image files, with a fake dev_dma over a 1 MiB "RAM" buffer.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block/blk.h"
#include "devices/bus.h"
#include "devices/ide.h"

#define P0 0x1f0
#define C0 0x3f6
#define P1 0x170
#define C1 0x376
#define BM 0xc000
enum { DATA = 0, ERRFEAT = 1, NSECT = 2, LBAL = 3, LBAM = 4, LBAH = 5, DEV = 6, CMD = 7 };

/* ------------------------------------------------------------ fixtures */

static char tmpdir[64];
static struct dev_bus *bus;
static struct dev_ide *ide;
static struct blk *blks[4];
static int nblks;
static int flushes;

static struct { int level[16], rises[16]; } irq;
static void irq_set(void *ctx, int line, int level)
{
    (void)ctx;
    if (level && !irq.level[line])
        irq.rises[line]++;
    irq.level[line] = level;
}

#define RAM_SIZE (1u << 20)
static uint8_t *ram;
static int ram_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    (void)ctx;
    if (gpa > RAM_SIZE || len > RAM_SIZE - gpa)
        return -EFAULT;
    memcpy(buf, ram + gpa, len);
    return 0;
}
static int ram_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
    (void)ctx;
    if (gpa > RAM_SIZE || len > RAM_SIZE - gpa)
        return -EFAULT;
    memcpy(ram + gpa, buf, len);
    return 0;
}

/* The glue vm/ writes: a dev_blkdev over a struct blk. */
static int bd_read(void *ctx, uint64_t s, uint32_t n, void *buf) { return blk_read(ctx, s, n, buf); }
static int bd_write(void *ctx, uint64_t s, uint32_t n, const void *buf) { return blk_write(ctx, s, n, buf); }
static int bd_flush(void *ctx) { flushes++; return blk_flush(ctx); }

static struct dev_blkdev blkdev_of(struct blk *b)
{
    return (struct dev_blkdev){ .read = bd_read, .write = bd_write, .flush = bd_flush, .ctx = b,
                                .sectors = blk_sectors(b), .readonly = blk_readonly(b) };
}

static void pattern(uint8_t *p, uint64_t sector, unsigned size)
{
    for (unsigned i = 0; i < size; i++)
        p[i] = (uint8_t)(sector * 7 + i * 13 + (i >> 8));
    memcpy(p, &sector, 8);
}

/* A file of `sectors` 512-byte sectors, the first `filled` with pattern(). */
static char *make_image(const char *name, uint64_t sectors, uint64_t filled)
{
    static char paths[8][128];
    static int n;
    char *path = paths[n++ & 7];
    snprintf(path, 128, "%s/%s", tmpdir, name);
    int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, (off_t)(sectors * 512)), 0);
    uint8_t s[512];
    for (uint64_t i = 0; i < filled; i++) {
        pattern(s, i, 512);
        ck_assert_int_eq(pwrite(fd, s, 512, (off_t)(i * 512)), 512);
    }
    close(fd);
    return path;
}

static struct blk *open_image(const char *path, bool ro)
{
    struct blk *b;
    char err[256];
    int rc = blk_open(path, ro, &b, err, sizeof(err));
    ck_assert_msg(rc == 0, "%s", err);
    blks[nblks++] = b;
    return b;
}

static void attach(int ch, int unit, const char *path, bool ro, enum dev_ide_media m)
{
    struct dev_blkdev bd = blkdev_of(open_image(path, ro));
    ck_assert_int_eq(dev_ide_attach(ide, ch, unit, &bd, m), 0);
}

static void setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/btvm-ide-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    memset(&irq, 0, sizeof(irq));
    flushes = 0;
    nblks = 0;
    ram = calloc(1, RAM_SIZE);
    bus = dev_bus_new();
    struct dev_irq_line l14 = { irq_set, NULL, 14 }, l15 = { irq_set, NULL, 15 };
    struct dev_dma dma = { .read = ram_read, .write = ram_write };
    ide = dev_ide_new(bus, l14, l15, dma);
    ck_assert_ptr_nonnull(ide);
    dev_ide_set_bus_master(ide, true);   /* what an OS's driver sets (pci_set_master) */
}

static void teardown(void)
{
    dev_ide_free(ide);
    dev_bus_free(bus);
    for (int i = 0; i < nblks; i++)
        blk_close(blks[i]);
    free(ram);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

/* ------------------------------------------------------------ port helpers */

static uint32_t in(uint16_t port, unsigned size)
{
    uint32_t v = 0;
    dev_bus_pio(bus, port, size, false, &v);
    return v;
}
static void out(uint16_t port, unsigned size, uint32_t v)
{
    dev_bus_pio(bus, port, size, true, &v);
}
static uint8_t inb(uint16_t p) { return (uint8_t)in(p, 1); }
static void outb(uint16_t p, uint8_t v) { out(p, 1, v); }

/* LBA28 (or LBA48 with the high bytes first) task file, then the command. */
static void ata_cmd(uint16_t base, int unit, uint8_t cmd, uint64_t lba, uint32_t count, bool lba48)
{
    outb(base + DEV, (uint8_t)(0xe0 | unit << 4 | (lba48 ? 0 : (lba >> 24) & 0xf)));
    if (lba48) {
        outb(base + NSECT, (uint8_t)(count >> 8));
        outb(base + LBAL, (uint8_t)(lba >> 24));
        outb(base + LBAM, (uint8_t)(lba >> 32));
        outb(base + LBAH, (uint8_t)(lba >> 40));
    }
    outb(base + NSECT, (uint8_t)count);
    outb(base + LBAL, (uint8_t)lba);
    outb(base + LBAM, (uint8_t)(lba >> 8));
    outb(base + LBAH, (uint8_t)(lba >> 16));
    outb(base + CMD, cmd);
}

/* Read n bytes of PIO data with accesses of `size`. */
static void pio_in(uint16_t base, uint8_t *buf, unsigned n, unsigned size)
{
    for (unsigned i = 0; i < n; i += size) {
        uint32_t v = in(base, size);
        memcpy(buf + i, &v, size);
    }
}
static void pio_out(uint16_t base, const uint8_t *buf, unsigned n, unsigned size)
{
    for (unsigned i = 0; i < n; i += size) {
        uint32_t v = 0;
        memcpy(&v, buf + i, size);
        out(base, size, v);
    }
}

static uint16_t id_word(const uint8_t *id, unsigned w)
{
    return (uint16_t)(id[2 * w] | id[2 * w + 1] << 8);
}

/* ------------------------------------------------------------ block backend */

START_TEST(blk_lock_refuses_second_writer)
{
    char *path = make_image("disk.img", 16, 16);
    struct blk *a, *b;
    char err[256] = "";
    ck_assert_int_eq(blk_open(path, false, &a, err, sizeof(err)), 0);
    ck_assert_int_eq(blk_sectors(a), 16);
    ck_assert_int_eq(blk_open(path, false, &b, err, sizeof(err)), -EBUSY);
    ck_assert_ptr_null(b);
    ck_assert_ptr_nonnull(strstr(err, "is in use by another process"));
    ck_assert_ptr_nonnull(strstr(err, path));
    ck_assert_int_eq(blk_open(path, true, &b, err, sizeof(err)), -EBUSY);   /* a writer excludes readers */
    blk_close(a);
    ck_assert_int_eq(blk_open(path, true, &a, err, sizeof(err)), 0);
    ck_assert_int_eq(blk_open(path, true, &b, err, sizeof(err)), 0);        /* readers share */
    ck_assert_int_eq(blk_open(path, false, &blks[nblks], err, sizeof(err)), -EBUSY);
    uint8_t s[512];
    ck_assert_int_eq(blk_write(a, 0, 1, s), -EROFS);
    ck_assert_int_eq(blk_read(a, 15, 2, s), -EINVAL);                      /* past the end */
    ck_assert_int_eq(blk_read(a, 15, 1, s), 0);
    uint64_t lba;
    memcpy(&lba, s, 8);
    ck_assert_int_eq(lba, 15);
    blk_close(a);
    blk_close(b);
    ck_assert_int_eq(blk_open(tmpdir, true, &a, err, sizeof(err)), -EISDIR);
    ck_assert_int_eq(blk_open("/nonexistent/x.img", true, &a, err, sizeof(err)), -ENOENT);
}
END_TEST

START_TEST(blk_write_reaches_file)
{
    char *path = make_image("disk.img", 8, 0);
    struct blk *b = open_image(path, false);
    uint8_t s[1024];
    pattern(s, 99, 1024);
    ck_assert_int_eq(blk_write(b, 3, 2, s), 0);
    ck_assert_int_eq(blk_flush(b), 0);
    int fd = open(path, O_RDONLY);
    uint8_t t[1024];
    ck_assert_int_eq(pread(fd, t, 1024, 3 * 512), 1024);
    close(fd);
    ck_assert_mem_eq(s, t, 1024);
}
END_TEST

/* ------------------------------------------------------------ ATA */

START_TEST(identify_capacity_words)
{
    /* Sparse and past LBA28: words 60-61 saturate, 100-103 hold the size. */
    uint64_t sectors = (1ull << 28) + 8;
    attach(0, 0, make_image("big.img", sectors, 0), false, DEV_IDE_DISK);
    ata_cmd(P0, 0, 0xec, 0, 0, false);
    ck_assert_uint_eq(inb(C0) & 0x89, 0x08);              /* DRQ, not BSY, no ERR */
    ck_assert_int_eq(irq.rises[14], 1);
    ck_assert_int_eq(irq.level[14], 1);
    inb(P0 + CMD);                                         /* status read acks INTRQ */
    ck_assert_int_eq(irq.level[14], 0);
    uint8_t id[512];
    pio_in(P0, id, 512, 2);
    ck_assert_uint_eq(inb(P0 + CMD), 0x50);                /* DRDY DSC, DRQ gone */
    ck_assert_uint_eq(id_word(id, 0), 0x0040);
    ck_assert_uint_eq(id_word(id, 60), 0xffff);
    ck_assert_uint_eq(id_word(id, 61), 0x0fff);
    ck_assert_uint_eq(id_word(id, 100), 8);
    ck_assert_uint_eq(id_word(id, 101), 0x1000);
    ck_assert_uint_eq(id_word(id, 102), 0);
    ck_assert_uint_eq(id_word(id, 103), 0);
    ck_assert_uint_eq(id_word(id, 47), 0x8010);            /* multiple max 16 */
    ck_assert_uint_eq(id_word(id, 48), 1);                 /* 32-bit PIO */
    ck_assert_uint_eq(id_word(id, 49) & 0x300, 0x300);     /* LBA, DMA */
    ck_assert_uint_eq(id_word(id, 83) & (1 << 10), 1 << 10);   /* LBA48 */
    ck_assert_uint_eq(id_word(id, 63) & 0x7, 0x7);         /* MWDMA 0-2 */
    ck_assert_uint_eq(id_word(id, 88) & 0x3f, 0x3f);       /* UDMA 0-5 */
    char model[41];
    for (int i = 0; i < 40; i++)
        model[i] = (char)id[54 + (i ^ 1)];
    model[40] = 0;
    ck_assert_str_eq(model, "BTVM HARDDISK                           ");
    ck_assert_uint_eq(id[20 + 1], 'B');                    /* serial "BT..." byte-swapped */
    ck_assert_uint_eq(id[20], 'T');

    /* SET FEATURES: MWDMA2 shows as selected in word 63, UDMA none in 88. */
    outb(P0 + ERRFEAT, 0x03);
    outb(P0 + NSECT, 0x22);
    outb(P0 + CMD, 0xef);
    ck_assert_uint_eq(inb(P0 + CMD), 0x50);
    outb(P0 + CMD, 0xec);
    pio_in(P0, id, 512, 4);
    ck_assert_uint_eq(id_word(id, 63), 0x0407);
    ck_assert_uint_eq(id_word(id, 88), 0x003f);
    outb(P0 + ERRFEAT, 0x03);
    outb(P0 + NSECT, 0x47);                                /* UDMA7: not offered */
    outb(P0 + CMD, 0xef);
    ck_assert_uint_eq(inb(P0 + CMD), 0x41);
    ck_assert_uint_eq(inb(P0 + ERRFEAT), 0x04);
}
END_TEST

START_TEST(pio_read_lba28_and_48)
{
    uint64_t sectors = (1ull << 28) + 8;
    attach(0, 0, make_image("big.img", sectors, 20), false, DEV_IDE_DISK);
    ata_cmd(P0, 0, 0x20, 5, 2, false);
    uint8_t got[1024], want[512];
    ck_assert_int_eq(irq.rises[14], 1);
    inb(P0 + CMD);
    pio_in(P0, got, 512, 2);
    ck_assert_int_eq(irq.rises[14], 2);                    /* one INTRQ per DRQ block */
    ck_assert_uint_eq(inb(P0 + CMD), 0x58);
    pio_in(P0, got + 512, 512, 2);
    ck_assert_uint_eq(inb(P0 + CMD), 0x50);
    ck_assert_int_eq(irq.rises[14], 2);                    /* none after the last block */
    pattern(want, 5, 512);
    ck_assert_mem_eq(got, want, 512);
    pattern(want, 6, 512);
    ck_assert_mem_eq(got + 512, want, 512);

    /* LBA48 above 2^28: write a sector there, read it back. */
    uint64_t hi = (1ull << 28) + 3;
    uint8_t s[512];
    pattern(s, hi, 512);
    ata_cmd(P0, 0, 0x34, hi, 1, true);
    ck_assert_uint_eq(inb(P0 + CMD), 0x58);
    pio_out(P0, s, 512, 4);
    ck_assert_uint_eq(inb(P0 + CMD), 0x50);
    ata_cmd(P0, 0, 0x24, hi, 1, true);
    pio_in(P0, got, 512, 4);
    ck_assert_mem_eq(got, s, 512);
    /* HOB readback of the LBA48 registers */
    outb(C0, 0x80);
    ck_assert_uint_eq(inb(P0 + LBAL), (hi >> 24) & 0xff);
    outb(C0, 0x00);
    ck_assert_uint_eq(inb(P0 + LBAL), hi & 0xff);
}
END_TEST

/* LBA48 past 2 TiB (bits 32..39 from the HOB LBA mid register): the
 * sector is planted in a sparse file behind the device's back and read
 * through it, so a wrong address cannot read back its own write. */
START_TEST(pio_read_lba48_above_2tib)
{
    uint64_t hi = (2ull << 32) + (5ull << 24) + (3ull << 8) + 7;
    char *path = make_image("huge.img", hi + 16, 0);
    uint8_t s[512], got[512];
    pattern(s, hi, 512);
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, s, 512, (off_t)(hi * 512)), 512);
    close(fd);
    attach(0, 0, path, false, DEV_IDE_DISK);
    ata_cmd(P0, 0, 0x24, hi, 1, true);
    ck_assert_uint_eq(inb(P0 + CMD), 0x58);
    pio_in(P0, got, 512, 2);
    ck_assert_mem_eq(got, s, 512);
}
END_TEST

START_TEST(count_zero_means_256_and_65536)
{
    attach(0, 0, make_image("d.img", 70000, 300), false, DEV_IDE_DISK);
    ata_cmd(P0, 0, 0x20, 10, 0, false);                   /* 256 sectors */
    uint8_t got[512], want[512];
    for (int i = 0; i < 256; i++) {
        ck_assert_uint_eq(inb(P0 + CMD) & 0x08, 0x08);
        pio_in(P0, got, 512, 2);
    }
    ck_assert_uint_eq(inb(P0 + CMD), 0x50);
    pattern(want, 265, 512);
    ck_assert_mem_eq(got, want, 512);
    ck_assert_int_eq(irq.rises[14], 256);

    ata_cmd(P0, 0, 0x42, 0, 0, true);                     /* VERIFY EXT 65536 from 0: fits */
    ck_assert_uint_eq(inb(P0 + CMD), 0x50);
    ata_cmd(P0, 0, 0x42, 5000, 0, true);                  /* 5000 + 65536 > 70000 */
    ck_assert_uint_eq(inb(P0 + CMD), 0x41);
    ck_assert_uint_eq(inb(P0 + ERRFEAT), 0x10);           /* IDNF */
    ata_cmd(P0, 0, 0x40, 69900, 0, false);                /* VERIFY 256 from 69900: past the end */
    ck_assert_uint_eq(inb(P0 + CMD), 0x41);
    ata_cmd(P0, 0, 0x40, 69900, 100, false);
    ck_assert_uint_eq(inb(P0 + CMD), 0x50);
}
END_TEST

START_TEST(pio_write_32bit_reaches_file_and_flush)
{
    char *path = make_image("d.img", 64, 64);
    attach(0, 1, path, false, DEV_IDE_DISK);               /* the slave, master absent */
    uint8_t data[1024];
    pattern(data, 1234, 1024);
    ata_cmd(P0, 1, 0x30, 40, 2, false);
    ck_assert_int_eq(irq.rises[14], 0);                    /* first block: DRQ without INTRQ */
    ck_assert_uint_eq(inb(P0 + CMD), 0x58);
    pio_out(P0, data, 512, 4);
    ck_assert_int_eq(irq.rises[14], 1);
    ck_assert_uint_eq(inb(P0 + CMD), 0x58);
    pio_out(P0, data + 512, 512, 4);
    ck_assert_int_eq(irq.rises[14], 2);
    ck_assert_uint_eq(inb(P0 + CMD), 0x50);
    int fd = open(path, O_RDONLY);
    uint8_t f[1024];
    ck_assert_int_eq(pread(fd, f, 1024, 40 * 512), 1024);
    close(fd);
    ck_assert_mem_eq(f, data, 1024);
    ck_assert_int_eq(flushes, 0);
    outb(P0 + CMD, 0xe7);                                  /* FLUSH CACHE */
    ck_assert_uint_eq(inb(P0 + CMD), 0x50);
    ck_assert_int_eq(flushes, 1);
    outb(P0 + CMD, 0xea);                                  /* FLUSH CACHE EXT */
    ck_assert_int_eq(flushes, 2);
    /* Read back through the device, 32-bit accesses. */
    ata_cmd(P0, 1, 0x20, 41, 1, false);
    pio_in(P0, f, 512, 4);
    ck_assert_mem_eq(f, data + 512, 512);
}
END_TEST

START_TEST(read_write_multiple)
{
    attach(1, 0, make_image("d.img", 64, 64), false, DEV_IDE_DISK);
    ata_cmd(P1, 0, 0xc4, 0, 1, false);                     /* default multiple is 16 (QEMU) */
    pio_in(P1, (uint8_t[512]){0}, 512, 2);
    outb(P1 + NSECT, 3);
    outb(P1 + CMD, 0xc6);                                  /* not a power of two */
    ck_assert_uint_eq(inb(P1 + CMD), 0x41);
    outb(P1 + NSECT, 4);
    outb(P1 + CMD, 0xc6);
    ck_assert_uint_eq(inb(P1 + CMD), 0x50);
    irq.rises[15] = 0;
    ata_cmd(P1, 0, 0xc4, 3, 10, false);                    /* blocks of 4, 4, 2 */
    ck_assert_uint_eq(inb(P1 + CMD), 0x58);                /* ack, as a driver's handler does */
    uint8_t got[10 * 512], want[512];
    pio_in(P1, got, 4 * 512, 2);
    ck_assert_uint_eq(inb(P1 + CMD), 0x58);
    pio_in(P1, got + 2048, 4 * 512, 4);
    ck_assert_uint_eq(inb(P1 + CMD), 0x58);
    pio_in(P1, got + 4096, 2 * 512, 2);
    ck_assert_uint_eq(inb(P1 + CMD), 0x50);
    ck_assert_int_eq(irq.rises[15], 3);
    for (int i = 0; i < 10; i++) {
        pattern(want, 3 + i, 512);
        ck_assert_mem_eq(got + i * 512, want, 512);
    }
    /* WRITE MULTIPLE EXT of 6: a block of 4, then 2. */
    uint8_t data[6 * 512];
    pattern(data, 777, sizeof(data));
    irq.rises[15] = 0;
    ata_cmd(P1, 0, 0x39, 50, 6, true);
    pio_out(P1, data, 4 * 512, 2);
    ck_assert_int_eq(irq.rises[15], 1);
    ck_assert_uint_eq(inb(P1 + CMD), 0x58);
    pio_out(P1, data + 2048, 2 * 512, 2);
    ck_assert_int_eq(irq.rises[15], 2);
    ck_assert_uint_eq(inb(P1 + CMD), 0x50);
    ata_cmd(P1, 0, 0x29, 50, 6, true);                     /* READ MULTIPLE EXT */
    pio_in(P1, got, 6 * 512, 2);
    ck_assert_mem_eq(got, data, sizeof(data));
    /* Multiple mode off: READ MULTIPLE aborts. */
    outb(P1 + NSECT, 0);
    outb(P1 + CMD, 0xc6);
    ata_cmd(P1, 0, 0xc4, 0, 1, false);
    ck_assert_uint_eq(inb(P1 + CMD), 0x41);
    ck_assert_uint_eq(inb(P1 + ERRFEAT), 0x04);
}
END_TEST

START_TEST(out_of_range_and_readonly_and_unknown)
{
    attach(0, 0, make_image("d.img", 64, 64), false, DEV_IDE_DISK);
    attach(0, 1, make_image("r.img", 64, 64), true, DEV_IDE_DISK);
    ata_cmd(P0, 0, 0x20, 63, 2, false);                    /* last sector + 1 */
    ck_assert_uint_eq(inb(P0 + CMD), 0x41);
    ck_assert_uint_eq(inb(P0 + ERRFEAT), 0x10);
    ata_cmd(P0, 0, 0x24, 1ull << 40, 1, true);
    ck_assert_uint_eq(inb(P0 + CMD), 0x41);
    ck_assert_uint_eq(inb(P0 + ERRFEAT), 0x10);
    ata_cmd(P0, 0, 0xc8, 64, 1, false);                    /* DMA too */
    ck_assert_uint_eq(inb(P0 + CMD), 0x41);
    ata_cmd(P0, 0, 0x20, 63, 1, false);
    ck_assert_uint_eq(inb(P0 + CMD), 0x58);
    pio_in(P0, (uint8_t[512]){0}, 512, 2);
    ata_cmd(P0, 1, 0x30, 0, 1, false);                     /* read-only image */
    ck_assert_uint_eq(inb(P0 + CMD), 0x41);
    ck_assert_uint_eq(inb(P0 + ERRFEAT), 0x04);
    outb(P0 + CMD, 0xff);                                  /* unknown */
    ck_assert_uint_eq(inb(P0 + CMD), 0x41);
    ck_assert_uint_eq(inb(P0 + ERRFEAT), 0x04);
    outb(P0 + CMD, 0xa0);                                  /* PACKET to a disk */
    ck_assert_uint_eq(inb(P0 + CMD), 0x41);
    outb(P0 + NSECT, 0);
    outb(P0 + CMD, 0xe5);                                  /* CHECK POWER MODE */
    ck_assert_uint_eq(inb(P0 + CMD), 0x50);
    ck_assert_uint_eq(inb(P0 + NSECT), 0xff);
}
END_TEST

START_TEST(srst_signatures_and_absent_devices)
{
    attach(0, 0, make_image("d.img", 64, 0), false, DEV_IDE_DISK);
    attach(1, 1, make_image("cd.iso", 64, 0), true, DEV_IDE_CDROM);
    /* Secondary master absent behind a present slave, primary slave absent. */
    outb(C0, 0x04);
    ck_assert_uint_eq(inb(C0) & 0x80, 0x80);               /* BSY during reset */
    outb(C0, 0x00);
    outb(C1, 0x04);
    outb(C1, 0x00);
    outb(P0 + DEV, 0xa0);
    ck_assert_uint_eq(inb(P0 + NSECT), 1);
    ck_assert_uint_eq(inb(P0 + LBAL), 1);
    ck_assert_uint_eq(inb(P0 + LBAM), 0x00);
    ck_assert_uint_eq(inb(P0 + LBAH), 0x00);
    ck_assert_uint_eq(inb(P0 + ERRFEAT), 0x01);
    ck_assert_uint_eq(inb(P0 + CMD), 0x50);
    outb(P0 + DEV, 0xb0);                                  /* absent slave */
    ck_assert_uint_eq(inb(P0 + CMD), 0x00);
    ck_assert_uint_eq(inb(C0), 0x00);
    ck_assert_uint_eq(inb(P0 + ERRFEAT), 0x00);
    ck_assert_uint_eq(inb(P0 + LBAM), 0xff);
    ck_assert_uint_eq(inb(P0 + LBAH), 0xff);
    outb(P0 + NSECT, 0x55);                                /* registers echo (shared) */
    ck_assert_uint_eq(inb(P0 + NSECT), 0x55);
    outb(P0 + CMD, 0xec);                                  /* ignored */
    ck_assert_uint_eq(inb(P0 + CMD), 0x00);
    outb(P1 + DEV, 0xb0);
    ck_assert_uint_eq(inb(P1 + NSECT), 1);
    ck_assert_uint_eq(inb(P1 + LBAL), 1);
    ck_assert_uint_eq(inb(P1 + LBAM), 0x14);
    ck_assert_uint_eq(inb(P1 + LBAH), 0xeb);
    ck_assert_uint_eq(inb(P1 + CMD), 0x00);                /* ATAPI: DRDY clear after reset */
    /* IDENTIFY DEVICE on ATAPI aborts and shows the signature. */
    outb(P1 + LBAM, 0);
    outb(P1 + LBAH, 0);
    outb(P1 + CMD, 0xec);
    ck_assert_uint_eq(inb(P1 + CMD) & 0x01, 0x01);
    ck_assert_uint_eq(inb(P1 + LBAM), 0x14);
    ck_assert_uint_eq(inb(P1 + LBAH), 0xeb);
    /* A channel with nothing: 0x7F status, 0xFF elsewhere, no echo. */
    dev_ide_free(ide);
    ide = dev_ide_new(bus, (struct dev_irq_line){ irq_set, NULL, 14 },
                      (struct dev_irq_line){ irq_set, NULL, 15 },
                      (struct dev_dma){ .read = ram_read, .write = ram_write });
    ck_assert_uint_eq(inb(P0 + CMD), 0x7f);
    ck_assert_uint_eq(inb(C0), 0x7f);
    outb(P0 + NSECT, 0x55);
    ck_assert_uint_eq(inb(P0 + NSECT), 0xff);
    ck_assert_uint_eq(in(P0, 2), 0xffff);
}
END_TEST

/* Linux 6.1 ata_piix's probe of each channel (ata_sff_softreset: ata_devchk
 * of both units, SRST, ata_sff_dev_classify of both, then IDENTIFY to the
 * absent slave and to the master), as QEMU 7.2 answered it with -hda and
 * -cdrom: captured with -trace ide_ioport_read,ide_ioport_write,
 * ide_status_read,ide_ctrl_write, the channel's own accesses in order.
 * Every read must give QEMU's value. The absent slave echoes the shared
 * registers (so ata_devchk finds it), reads error 0 (libata's "diagnostic
 * failed") and signature FF/FF after SRST, so libata prints "found unknown
 * device (class 0)" on QEMU as on btvm and tries IDENTIFY, which status 0
 * (no BSY, no DRQ) answers as "no device". CTL is the control block port:
 * written as Device Control, read as Alternate Status. X: a read whose
 * value is the firmware's doing, not compared: the CD-ROM's status before
 * the SRST (QEMU's shows SeaBIOS's last ATAPI command, 0x50; btvm boots
 * without touching the drives, and a packet device leaves power-on reset
 * with DRDY clear, 0x00). */
enum { CTL = 8 };
struct step { char op; uint8_t reg, val; };
#define W(r, v) { 'w', r, v }
#define R(r, v) { 'r', r, v }
#define X(r) { 'x', r, 0 }
static const struct step probe_disk_ch[] = {
    W(6, 0xa0), R(CTL, 0x50), W(2, 0x55), W(3, 0xaa), W(2, 0xaa), W(3, 0x55), W(2, 0x55),
    W(3, 0xaa), R(2, 0x55), R(3, 0xaa), W(6, 0xb0), R(CTL, 0x00), W(2, 0x55), W(3, 0xaa),
    W(2, 0xaa), W(3, 0x55), W(2, 0x55), W(3, 0xaa), R(2, 0x55), R(3, 0xaa), W(6, 0xa0),
    R(CTL, 0x50), W(CTL, 0x0a), W(CTL, 0x0e), W(CTL, 0x0a), R(7, 0x50), W(6, 0xb0),
    R(CTL, 0x00), R(2, 0x01), R(3, 0x01), R(7, 0x00), W(6, 0xa0), R(CTL, 0x50), W(6, 0xb0),
    R(CTL, 0x00), W(6, 0xa0), R(CTL, 0x50), W(6, 0xa0), R(CTL, 0x50), R(7, 0x50),
    R(1, 0x01), R(2, 0x01), R(3, 0x01), R(4, 0x00), R(5, 0x00), R(6, 0xa0), R(7, 0x50),
    W(6, 0xb0), R(CTL, 0x00), R(7, 0x00), R(1, 0x00), R(2, 0x01), R(3, 0x01), R(4, 0xff),
    R(5, 0xff), R(6, 0xb0), R(7, 0x00), W(CTL, 0x08), R(7, 0x00), W(6, 0xb0), R(CTL, 0x00),
    W(6, 0xa0), R(CTL, 0x50), W(CTL, 0x08), R(7, 0x50), W(6, 0xb0), R(CTL, 0x00),
    R(7, 0x00), W(CTL, 0x0a), R(7, 0x00), W(1, 0x00), W(2, 0x00), W(3, 0x00), W(4, 0x00),
    W(5, 0x00), W(6, 0xb0), R(7, 0x00), W(7, 0xec), R(CTL, 0x00), R(7, 0x00), W(CTL, 0x0a),
    R(7, 0x00), R(7, 0x00), R(1, 0x00), R(2, 0x00), R(3, 0x00), R(4, 0x00), R(5, 0x00),
    R(6, 0xb0), R(7, 0x00), W(CTL, 0x08), R(7, 0x00), R(7, 0x00), W(6, 0xa0), R(CTL, 0x50),
    R(7, 0x50), W(CTL, 0x0a), R(7, 0x50), W(1, 0x00), W(2, 0x00), W(3, 0x00), W(4, 0x00),
    W(5, 0x00), W(6, 0xa0), R(7, 0x50), W(7, 0xec), R(CTL, 0x58), R(7, 0x58),
};
static const struct step probe_cdrom_ch[] = {
    W(6, 0xa0), X(CTL), W(2, 0x55), W(3, 0xaa), W(2, 0xaa), W(3, 0x55), W(2, 0x55),
    W(3, 0xaa), R(2, 0x55), R(3, 0xaa), W(6, 0xb0), R(CTL, 0x00), W(2, 0x55), W(3, 0xaa),
    W(2, 0xaa), W(3, 0x55), W(2, 0x55), W(3, 0xaa), R(2, 0x55), R(3, 0xaa), W(6, 0xa0),
    X(CTL), W(CTL, 0x0a), W(CTL, 0x0e), W(CTL, 0x0a), R(7, 0x00), W(6, 0xb0),
    R(CTL, 0x00), R(2, 0x01), R(3, 0x01), R(7, 0x00), W(6, 0xa0), R(CTL, 0x00), W(6, 0xb0),
    R(CTL, 0x00), W(6, 0xa0), R(CTL, 0x00), W(6, 0xa0), R(CTL, 0x00), R(7, 0x00),
    R(1, 0x01), R(2, 0x01), R(3, 0x01), R(4, 0x14), R(5, 0xeb), R(6, 0xa0), W(6, 0xb0),
    R(CTL, 0x00), R(7, 0x00), R(1, 0x00), R(2, 0x01), R(3, 0x01), R(4, 0xff), R(5, 0xff),
    R(6, 0xb0), R(7, 0x00), W(CTL, 0x08), R(7, 0x00), W(6, 0xb0), R(CTL, 0x00), W(6, 0xa0),
    R(CTL, 0x00), W(CTL, 0x08), R(7, 0x00), W(6, 0xb0), R(CTL, 0x00), R(7, 0x00),
    W(CTL, 0x0a), R(7, 0x00), W(1, 0x00), W(2, 0x00), W(3, 0x00), W(4, 0x00), W(5, 0x00),
    W(6, 0xb0), R(7, 0x00), W(7, 0xec), R(CTL, 0x00), R(7, 0x00), W(CTL, 0x0a), R(7, 0x00),
    R(7, 0x00), R(1, 0x00), R(2, 0x00), R(3, 0x00), R(4, 0x00), R(5, 0x00), R(6, 0xb0),
    R(7, 0x00), W(CTL, 0x08), R(7, 0x00), R(7, 0x00), W(6, 0xa0), R(CTL, 0x00), R(7, 0x00),
    W(CTL, 0x0a), R(7, 0x00), W(1, 0x00), W(2, 0x00), W(3, 0x00), W(4, 0x00), W(5, 0x00),
    W(6, 0xa0), R(7, 0x00), W(7, 0xa1), R(CTL, 0x58), R(7, 0x58),
};
#undef W
#undef R
#undef X

static void replay(uint16_t base, uint16_t ctl, const struct step *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint16_t port = s[i].reg == CTL ? ctl : (uint16_t)(base + s[i].reg);
        if (s[i].op == 'w') {
            outb(port, s[i].val);
            continue;
        }
        uint8_t got = inb(port);
        if (s[i].op == 'x')
            continue;
        ck_assert_msg(got == s[i].val, "step %zu: read %#x gave %#04x, QEMU %#04x",
                      i, port, got, s[i].val);
    }
}

START_TEST(linux_probe_reads_as_on_qemu)
{
    attach(0, 0, make_image("d.img", 32768, 0), false, DEV_IDE_DISK);
    attach(1, 0, make_image("cd.iso", 736, 0), true, DEV_IDE_CDROM);
    replay(P0, C0, probe_disk_ch, sizeof(probe_disk_ch) / sizeof(probe_disk_ch[0]));
    replay(P1, C1, probe_cdrom_ch, sizeof(probe_cdrom_ch) / sizeof(probe_cdrom_ch[0]));
}
END_TEST

START_TEST(nien_masks_line_and_decode_and_bm_base)
{
    attach(0, 0, make_image("d.img", 64, 64), false, DEV_IDE_DISK);
    outb(C0, 0x02);                                        /* nIEN */
    ata_cmd(P0, 0, 0x20, 0, 1, false);
    ck_assert_int_eq(irq.rises[14], 0);
    ck_assert_uint_eq(inb(C0), 0x58);
    outb(C0, 0x00);                                        /* pending INTRQ shows on the line */
    ck_assert_int_eq(irq.level[14], 1);
    inb(P0 + CMD);
    ck_assert_int_eq(irq.level[14], 0);
    pio_in(P0, (uint8_t[512]){0}, 512, 2);

    ck_assert_int_eq(dev_ide_set_decode(ide, 0, false), 0);
    ck_assert_uint_eq(inb(P0 + CMD), 0xff);                /* unclaimed now */
    ck_assert_uint_eq(inb(C0), 0xff);
    ck_assert_int_eq(dev_ide_set_decode(ide, 0, true), 0);
    ck_assert_uint_eq(inb(P0 + CMD), 0x50);

    ck_assert_uint_eq(inb(BM + 2), 0xff);                  /* bus master unmapped */
    ck_assert_int_eq(dev_ide_set_bm_base(ide, BM), 0);
    ck_assert_uint_eq(inb(BM + 2), 0x04);                  /* the drive's INTRQ latched */
    outb(BM + 2, 0x64);                                    /* INT is RW1C, DMA capable bits RW */
    ck_assert_uint_eq(inb(BM + 2), 0x60);
    out(BM + 4, 4, 0x12345677);                            /* BMIDTP is dword aligned */
    ck_assert_uint_eq(in(BM + 4, 4), 0x12345674);
    ck_assert_int_eq(dev_ide_set_bm_base(ide, 0xd000), 0);
    ck_assert_uint_eq(inb(BM + 2), 0xff);
    ck_assert_uint_eq(inb(0xd000 + 2), 0x60);
    ck_assert_uint_eq(in(0xd000 + 4, 4), 0x12345674);
    ck_assert_int_eq(dev_bus_unregister_pio(bus, 0x1234), -ENOENT);
}
END_TEST

/* ------------------------------------------------------------ ATAPI */

#define CD_BLOCKS 20

static char *make_iso(void)
{
    char *path = make_image("cd.iso", CD_BLOCKS * 4, 0);
    int fd = open(path, O_RDWR);
    uint8_t b[2048];
    for (int i = 0; i < CD_BLOCKS; i++) {
        pattern(b, 1000 + i, 2048);
        ck_assert_int_eq(pwrite(fd, b, 2048, i * 2048), 2048);
    }
    close(fd);
    return path;
}

/* Send a PACKET command on the secondary master; PIO data into buf.
 * Returns the byte count received; *st is the final status. */
static unsigned packet(const uint8_t cdb[12], uint16_t bcl, uint8_t *buf, unsigned max, uint8_t *st)
{
    outb(P1 + DEV, 0xa0);
    outb(P1 + ERRFEAT, 0);
    outb(P1 + LBAM, (uint8_t)bcl);
    outb(P1 + LBAH, (uint8_t)(bcl >> 8));
    outb(P1 + CMD, 0xa0);
    ck_assert_uint_eq(inb(C1) & 0x88, 0x08);
    ck_assert_uint_eq(inb(P1 + NSECT) & 3, 1);             /* CoD, to device */
    pio_out(P1, cdb, 12, 2);
    unsigned got = 0;
    for (;;) {
        uint8_t s = inb(P1 + CMD);
        if (!(s & 0x08)) {
            *st = s;
            ck_assert_uint_eq(inb(P1 + NSECT) & 3, 3);     /* IO|CoD: completion */
            return got;
        }
        ck_assert_uint_eq(inb(P1 + NSECT) & 3, 2);         /* IO, data to host */
        unsigned n = inb(P1 + LBAM) | inb(P1 + LBAH) << 8;
        ck_assert_uint_le(n, bcl);
        ck_assert_uint_le(got + n, max);
        uint8_t tmp[65536 + 2];
        pio_in(P1, tmp, (n + 1) & ~1u, 2);
        memcpy(buf + got, tmp, n);
        got += n;
    }
}

START_TEST(atapi_inquiry_capacity_read_toc_sense)
{
    attach(1, 0, make_iso(), true, DEV_IDE_CDROM);
    uint8_t id[512], r[65536], st;
    outb(P1 + DEV, 0xa0);
    outb(P1 + CMD, 0xa1);                                  /* IDENTIFY PACKET DEVICE */
    pio_in(P1, id, 512, 2);
    ck_assert_uint_eq(id_word(id, 0), 0x85c0);
    ck_assert_uint_eq(id_word(id, 49) & 0x300, 0x300);

    uint8_t inq[12] = { 0x12, 0, 0, 0, 36 };
    ck_assert_uint_eq(packet(inq, 0xfffe, r, sizeof(r), &st), 36);
    ck_assert_uint_eq(st & 0x01, 0);
    ck_assert_uint_eq(r[0], 0x05);
    ck_assert_uint_eq(r[1], 0x80);
    ck_assert_mem_eq(r + 8, "BTVM    ", 8);
    ck_assert_mem_eq(r + 16, "CD-ROM", 6);

    uint8_t tur[12] = { 0x00 };
    ck_assert_uint_eq(packet(tur, 0xfffe, r, sizeof(r), &st), 0);
    ck_assert_uint_eq(st & 0x01, 0);

    uint8_t cap[12] = { 0x25 };
    ck_assert_uint_eq(packet(cap, 0xfffe, r, sizeof(r), &st), 8);
    ck_assert_mem_eq(r, ((uint8_t[]){ 0, 0, 0, CD_BLOCKS - 1, 0, 0, 0x08, 0 }), 8);

    /* READ(10) of blocks 3..6, one DRQ block, then with a byte count limit
     * of 3000 that cuts blocks apart. */
    uint8_t rd[12] = { 0x28, 0, 0, 0, 0, 3, 0, 0, 4 };
    uint8_t want[2048];
    ck_assert_uint_eq(packet(rd, 0xfffe, r, sizeof(r), &st), 4 * 2048);
    for (int i = 0; i < 4; i++) {
        pattern(want, 1003 + i, 2048);
        ck_assert_mem_eq(r + i * 2048, want, 2048);
    }
    memset(r, 0, sizeof(r));
    ck_assert_uint_eq(packet(rd, 3000, r, sizeof(r), &st), 4 * 2048);
    for (int i = 0; i < 4; i++) {
        pattern(want, 1003 + i, 2048);
        ck_assert_mem_eq(r + i * 2048, want, 2048);
    }
    uint8_t rd12[12] = { 0xa8, 0, 0, 0, 0, CD_BLOCKS - 1, 0, 0, 0, 1 };
    ck_assert_uint_eq(packet(rd12, 0xfffe, r, sizeof(r), &st), 2048);
    pattern(want, 1000 + CD_BLOCKS - 1, 2048);
    ck_assert_mem_eq(r, want, 2048);

    /* Past the end: CHECK CONDITION, ILLEGAL REQUEST / LBA OUT OF RANGE. */
    uint8_t bad[12] = { 0x28, 0, 0, 0, 0, CD_BLOCKS - 1, 0, 0, 2 };
    ck_assert_uint_eq(packet(bad, 0xfffe, r, sizeof(r), &st), 0);
    ck_assert_uint_eq(st & 0x01, 0x01);
    ck_assert_uint_eq(inb(P1 + ERRFEAT) >> 4, 0x05);
    uint8_t rs[12] = { 0x03, 0, 0, 0, 18 };
    ck_assert_uint_eq(packet(rs, 0xfffe, r, sizeof(r), &st), 18);
    ck_assert_uint_eq(r[2], 0x05);
    ck_assert_uint_eq(r[12], 0x21);

    /* Unknown opcode, then REQUEST SENSE says why; a second one is clean. */
    uint8_t unk[12] = { 0x55 };
    packet(unk, 0xfffe, r, sizeof(r), &st);
    ck_assert_uint_eq(st & 0x01, 0x01);
    ck_assert_uint_eq(packet(rs, 0xfffe, r, sizeof(r), &st), 18);
    ck_assert_uint_eq(st & 0x01, 0);
    ck_assert_uint_eq(r[0], 0x70);
    ck_assert_uint_eq(r[2], 0x05);
    ck_assert_uint_eq(r[12], 0x20);
    packet(rs, 0xfffe, r, sizeof(r), &st);
    ck_assert_uint_eq(r[2], 0x00);

    /* READ TOC format 0, LBA then MSF: track 1 at 0, lead-out at 20. */
    uint8_t toc[12] = { 0x43, 0, 0, 0, 0, 0, 0, 0x03, 0x24 };
    ck_assert_uint_eq(packet(toc, 0xfffe, r, sizeof(r), &st), 20);
    ck_assert_mem_eq(r, ((uint8_t[]){ 0, 18, 1, 1 }), 4);
    ck_assert_mem_eq(r + 4, ((uint8_t[]){ 0, 0x14, 1, 0, 0, 0, 0, 0 }), 8);
    ck_assert_mem_eq(r + 12, ((uint8_t[]){ 0, 0x14, 0xaa, 0, 0, 0, 0, CD_BLOCKS }), 8);
    toc[1] = 0x02;
    ck_assert_uint_eq(packet(toc, 0xfffe, r, sizeof(r), &st), 20);
    ck_assert_mem_eq(r + 8, ((uint8_t[]){ 0, 0, 2, 0 }), 4);               /* 00:02:00 */
    ck_assert_mem_eq(r + 16, ((uint8_t[]){ 0, 0, 2, CD_BLOCKS }), 4);      /* 170 frames */
    toc[7] = 0;
    toc[8] = 12;                                           /* allocation length truncates */
    ck_assert_uint_eq(packet(toc, 0xfffe, r, sizeof(r), &st), 12);

    /* MODE SENSE(10) page 2A, GET CONFIGURATION, GET EVENT STATUS. */
    uint8_t ms[12] = { 0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 0xff };
    ck_assert_uint_eq(packet(ms, 0xfffe, r, sizeof(r), &st), 28);
    ck_assert_uint_eq(r[8], 0x2a);
    ck_assert_uint_eq(r[9], 0x12);
    uint8_t gc[12] = { 0x46, 0, 0, 0, 0, 0, 0, 0, 0xff };
    unsigned n = packet(gc, 0xfffe, r, sizeof(r), &st);
    ck_assert_uint_ge(n, 16);
    ck_assert_uint_eq(r[6] << 8 | r[7], 0x0008);
    ck_assert_uint_eq((unsigned)(r[0] << 24 | r[1] << 16 | r[2] << 8 | r[3]), n - 4);
    uint8_t ge[12] = { 0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8 };
    ck_assert_uint_eq(packet(ge, 0xfffe, r, sizeof(r), &st), 8);
    ck_assert_uint_eq(r[4], 0);                            /* no event */
    ck_assert_uint_eq(r[5], 0x02);                         /* medium present */
}
END_TEST

START_TEST(atapi_empty_drive_not_ready)
{
    ck_assert_int_eq(dev_ide_attach(ide, 1, 0, NULL, DEV_IDE_CDROM), 0);
    uint8_t r[64], st;
    uint8_t tur[12] = { 0x00 };
    packet(tur, 0xfffe, r, sizeof(r), &st);
    ck_assert_uint_eq(st & 0x01, 0x01);
    ck_assert_uint_eq(inb(P1 + ERRFEAT) >> 4, 0x02);
    uint8_t rs[12] = { 0x03, 0, 0, 0, 18 };
    packet(rs, 0xfffe, r, sizeof(r), &st);
    ck_assert_uint_eq(r[12], 0x3a);
    ck_assert_int_eq(dev_ide_attach(ide, 0, 0, NULL, DEV_IDE_DISK), -EINVAL);
    ck_assert_int_eq(dev_ide_attach(ide, 1, 0, NULL, DEV_IDE_CDROM), -EEXIST);
}
END_TEST

/* ------------------------------------------------------------ DMA */

static void prd(uint32_t table, int i, uint32_t addr, uint32_t len, bool eot)
{
    uint8_t *e = ram + table + 8 * i;
    memcpy(e, &addr, 4);
    e[4] = (uint8_t)len;
    e[5] = (uint8_t)(len >> 8);
    e[6] = 0;
    e[7] = eot ? 0x80 : 0;
}

static void bm_setup(int ch, uint32_t table, bool to_mem)
{
    uint16_t b = (uint16_t)(BM + 8 * ch);
    outb(b, 0);
    outb(b + 2, 0x06);                                     /* clear INT and ERR */
    out(b + 4, 4, table);
    outb(b, to_mem ? 0x08 : 0x00);
}

/* Bus Master Enable off: a started engine waits without touching memory or
 * raising the interrupt; setting it runs the transfer. */
START_TEST(dma_waits_for_bus_master_enable)
{
    char *path = make_image("d.img", 256, 256);
    attach(0, 0, path, false, DEV_IDE_DISK);
    ck_assert_int_eq(dev_ide_set_bm_base(ide, BM), 0);
    dev_ide_set_bus_master(ide, false);
    prd(0x1000, 0, 0x10000, 1024, true);
    bm_setup(0, 0x1000, true);
    ata_cmd(P0, 0, 0xc8, 7, 2, false);
    outb(BM, 0x09);                                        /* start, to memory */
    ck_assert_uint_eq(inb(BM + 2) & 0x07, 0x01);           /* active, no INT */
    ck_assert_int_eq(irq.rises[14], 0);
    uint8_t zero[1024] = { 0 }, want[512];
    ck_assert_mem_eq(ram + 0x10000, zero, sizeof(zero));
    dev_ide_set_bus_master(ide, true);
    ck_assert_uint_eq(inb(BM + 2) & 0x07, 0x04);           /* done: INT, not active */
    ck_assert_int_eq(irq.rises[14], 1);
    for (int i = 0; i < 2; i++) {
        pattern(want, 7 + i, 512);
        ck_assert_mem_eq(ram + 0x10000 + i * 512, want, 512);
    }
}
END_TEST

START_TEST(dma_read_and_write)
{
    char *path = make_image("d.img", 256, 256);
    attach(0, 0, path, false, DEV_IDE_DISK);
    ck_assert_int_eq(dev_ide_set_bm_base(ide, BM), 0);
    /* READ DMA of 10 sectors into two regions: 1 KiB and 4 KiB. */
    prd(0x1000, 0, 0x10000, 1024, false);
    prd(0x1000, 1, 0x20000, 4096, true);
    bm_setup(0, 0x1000, true);
    ata_cmd(P0, 0, 0xc8, 7, 10, false);
    ck_assert_int_eq(irq.rises[14], 0);                    /* waits for the engine */
    ck_assert_uint_eq(inb(BM + 2) & 0x05, 0);
    outb(BM, 0x09);                                        /* start, to memory */
    ck_assert_uint_eq(inb(BM + 2) & 0x07, 0x04);           /* INT, not active, no error */
    ck_assert_int_eq(irq.rises[14], 1);
    ck_assert_uint_eq(inb(P0 + CMD), 0x50);
    outb(BM, 0x08);
    uint8_t want[512];
    for (int i = 0; i < 10; i++) {
        pattern(want, 7 + i, 512);
        const uint8_t *got = i < 2 ? ram + 0x10000 + i * 512 : ram + 0x20000 + (i - 2) * 512;
        ck_assert_mem_eq(got, want, 512);
    }

    /* WRITE DMA EXT of 3 sectors from one region; engine started first. */
    uint8_t data[1536];
    pattern(data, 4242, sizeof(data));
    memcpy(ram + 0x30000, data, sizeof(data));
    prd(0x2000, 0, 0x30000, 1536, true);
    bm_setup(0, 0x2000, false);
    outb(BM, 0x01);
    ck_assert_uint_eq(inb(BM + 2) & 0x01, 0x01);           /* active, waiting for the drive */
    ata_cmd(P0, 0, 0x35, 100, 3, true);
    ck_assert_uint_eq(inb(BM + 2) & 0x07, 0x04);
    ck_assert_uint_eq(inb(P0 + CMD), 0x50);
    outb(BM, 0x00);
    int fd = open(path, O_RDONLY);
    uint8_t f[1536];
    ck_assert_int_eq(pread(fd, f, sizeof(f), 100 * 512), (ssize_t)sizeof(f));
    close(fd);
    ck_assert_mem_eq(f, data, sizeof(f));

    /* PRD count 0 means 64 KiB: 128 sectors in one entry. */
    prd(0x3000, 0, 0x40000, 0, true);
    bm_setup(0, 0x3000, true);
    ata_cmd(P0, 0, 0x25, 0, 128, true);
    outb(BM, 0x09);
    ck_assert_uint_eq(inb(BM + 2) & 0x07, 0x04);
    ck_assert_uint_eq(inb(P0 + CMD), 0x50);
    pattern(want, 127, 512);
    ck_assert_mem_eq(ram + 0x40000 + 127 * 512, want, 512);
}
END_TEST

START_TEST(dma_bad_prd_tables)
{
    attach(0, 0, make_image("d.img", 256, 256), false, DEV_IDE_DISK);
    ck_assert_int_eq(dev_ide_set_bm_base(ide, BM), 0);
    struct { uint32_t table; } cases[4] = { { 0x1000 }, { 0x2000 }, { 0xfffff000u }, { 0x10000 } };
    prd(0x1000, 0, 0xfff00000u, 4096, true);               /* region outside RAM */
    prd(0x2000, 0, 0x8000, 1024, true);                    /* shorter than 4 KiB */
    for (int i = 0; i < 8192; i++)                         /* 64 KiB of 2-byte entries, no EOT */
        prd(0x10000, i, 0x80000, 2, false);
    for (int c = 0; c < 4; c++) {
        irq.rises[14] = 0;
        inb(P0 + CMD);
        bm_setup(0, cases[c].table, true);
        ata_cmd(P0, 0, 0xc8, 0, c == 3 ? 64 : 8, false);
        outb(BM, 0x09);
        ck_assert_msg((inb(BM + 2) & 0x07) == 0x06, "case %d: BMIS %#x", c, inb(BM + 2));
        uint8_t st = inb(P0 + CMD);
        ck_assert_msg(st == 0x41, "case %d: status %#x", c, st);
        ck_assert_int_eq(irq.rises[14], 1);
        outb(BM, 0x08);
    }
    /* The drive is usable afterwards. */
    bm_setup(0, 0x2000, true);
    ata_cmd(P0, 0, 0xc8, 0, 2, false);
    outb(BM, 0x09);
    ck_assert_uint_eq(inb(BM + 2) & 0x07, 0x04);
    ck_assert_uint_eq(inb(P0 + CMD), 0x50);
}
END_TEST

START_TEST(atapi_dma_read)
{
    attach(1, 0, make_iso(), true, DEV_IDE_CDROM);
    ck_assert_int_eq(dev_ide_set_bm_base(ide, BM), 0);
    prd(0x1000, 0, 0x50000, 3 * 2048, true);
    bm_setup(1, 0x1000, true);
    outb(P1 + DEV, 0xa0);
    outb(P1 + ERRFEAT, 0x01);                              /* DMA */
    outb(P1 + CMD, 0xa0);
    uint8_t rd[12] = { 0x28, 0, 0, 0, 0, 10, 0, 0, 3 };
    pio_out(P1, rd, 12, 2);
    ck_assert_int_eq(irq.rises[15], 0);
    outb(BM + 8, 0x09);
    ck_assert_uint_eq(inb(BM + 10) & 0x07, 0x04);
    ck_assert_int_eq(irq.rises[15], 1);
    ck_assert_uint_eq(inb(P1 + CMD) & 0x89, 0x00);
    ck_assert_uint_eq(inb(P1 + NSECT) & 3, 3);
    uint8_t want[2048];
    for (int i = 0; i < 3; i++) {
        pattern(want, 1010 + i, 2048);
        ck_assert_mem_eq(ram + 0x50000 + i * 2048, want, 2048);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("ide");
    TCase *t = tcase_create("core");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 60);
    tcase_add_test(t, blk_lock_refuses_second_writer);
    tcase_add_test(t, blk_write_reaches_file);
    tcase_add_test(t, identify_capacity_words);
    tcase_add_test(t, pio_read_lba28_and_48);
    tcase_add_test(t, pio_read_lba48_above_2tib);
    tcase_add_test(t, count_zero_means_256_and_65536);
    tcase_add_test(t, pio_write_32bit_reaches_file_and_flush);
    tcase_add_test(t, read_write_multiple);
    tcase_add_test(t, out_of_range_and_readonly_and_unknown);
    tcase_add_test(t, srst_signatures_and_absent_devices);
    tcase_add_test(t, linux_probe_reads_as_on_qemu);
    tcase_add_test(t, nien_masks_line_and_decode_and_bm_base);
    tcase_add_test(t, dma_waits_for_bus_master_enable);
    tcase_add_test(t, atapi_inquiry_capacity_read_toc_sense);
    tcase_add_test(t, atapi_empty_drive_not_ready);
    tcase_add_test(t, dma_read_and_write);
    tcase_add_test(t, dma_bad_prd_tables);
    tcase_add_test(t, atapi_dma_read);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
