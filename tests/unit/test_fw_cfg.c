/*
 * tests/unit/test_fw_cfg.c — QEMU's fw_cfg through the bus, with 64 KiB of
 * fake guest RAM behind a struct dev_dma: signature and ID through the data
 * port, the CPU count, the file directory (content, sorting, keys), files
 * by selector, the etc/e820 layout, the DMA signature, DMA READ with
 * SELECT, SKIP, reads past the end, descriptors and buffers outside RAM,
 * refused writes.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/bus.h"
#include "devices/fw_cfg.h"

#define RAM_SIZE 0x10000u

static struct dev_bus *bus;
static struct dev_fw_cfg *fc;
static uint8_t ram[RAM_SIZE];
static int dma_refused;

static int ram_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    ck_assert_ptr_eq(ctx, ram);
    if (gpa > RAM_SIZE || len > RAM_SIZE - gpa) {
        dma_refused++;
        return -EFAULT;
    }
    memcpy(buf, ram + gpa, len);
    return 0;
}

static int ram_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
    ck_assert_ptr_eq(ctx, ram);
    if (gpa > RAM_SIZE || len > RAM_SIZE - gpa) {
        dma_refused++;
        return -EFAULT;
    }
    memcpy(ram + gpa, buf, len);
    return 0;
}

static const struct dev_dma dma = { .read = ram_read, .write = ram_write, .ctx = ram };

static void setup(void)
{
    memset(ram, 0, sizeof(ram));
    dma_refused = 0;
    bus = dev_bus_new();
    fc = dev_fw_cfg_new(bus, &dma);
    ck_assert_ptr_nonnull(fc);
}

static void teardown(void)
{
    dev_fw_cfg_free(fc);
    dev_bus_free(bus);
}

static void out16(uint16_t port, uint16_t v)
{
    uint32_t d = v;
    dev_bus_pio(bus, port, 2, true, &d);
}

static void out32(uint16_t port, uint32_t v)
{
    dev_bus_pio(bus, port, 4, true, &v);
}

static uint8_t in8(uint16_t port)
{
    uint32_t d = 0;
    dev_bus_pio(bus, port, 1, false, &d);
    return (uint8_t)d;
}

static uint32_t in32(uint16_t port)
{
    uint32_t d = 0;
    dev_bus_pio(bus, port, 4, false, &d);
    return d;
}

static void read_item(uint16_t key, void *buf, size_t len)
{
    out16(0x510, key);
    for (size_t i = 0; i < len; i++)
        ((uint8_t *)buf)[i] = in8(0x511);
}

static uint64_t read_le(uint16_t key, int n)
{
    uint8_t b[8] = { 0 };
    read_item(key, b, (size_t)n);
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* Write an FWCfgDmaAccess at desc and start it as Linux does
 * (iowrite32be of the high half, then of the low half). */
static void dma_run(uint64_t desc, uint32_t control, uint32_t length, uint64_t addr)
{
    if (desc + 16 <= RAM_SIZE) {
        put_be32(ram + desc, control);
        put_be32(ram + desc + 4, length);
        put_be32(ram + desc + 8, (uint32_t)(addr >> 32));
        put_be32(ram + desc + 12, (uint32_t)addr);
    }
    out32(0x514, __builtin_bswap32((uint32_t)(desc >> 32)));
    out32(0x518, __builtin_bswap32((uint32_t)desc));
}

START_TEST(signature_and_id)
{
    char sig[6] = { 0 };
    read_item(0x0000, sig, 5);
    ck_assert_str_eq(sig, "QEMU");              /* 5th byte: past the end reads 0 */
    out16(0x510, 0x4000);                       /* the write-channel bit is ignored */
    ck_assert_uint_eq(in8(0x510), 'Q');         /* a byte read at 0x510 reads data too */
    ck_assert_uint_eq(in8(0x511), 'E');
    ck_assert_uint_eq(read_le(0x0001, 4), 3);   /* traditional + DMA */
    ck_assert_uint_eq(read_le(0x0005, 2), 1);   /* NB_CPUS: one, not 0xFFFF */
    ck_assert_uint_eq(read_le(0x000f, 2), 1);   /* MAX_CPUS */
    ck_assert_uint_eq(read_le(0x0004, 2), 1);   /* NOGRAPHIC */
    ck_assert_uint_eq(read_le(0x0003, 8), 0);
    ck_assert_int_eq(dev_fw_cfg_add_i64(fc, 0x0003, 128ull << 20), 0);   /* replaces */
    ck_assert_uint_eq(read_le(0x0003, 8), 128ull << 20);
    uint8_t uuid[16];
    memset(uuid, 0xaa, sizeof(uuid));
    read_item(0x0002, uuid, sizeof(uuid));
    for (int i = 0; i < 16; i++)
        ck_assert_uint_eq(uuid[i], 0);
    /* An unknown key reads 0; so do kernel keys until vm/ fills them. */
    ck_assert_uint_eq(read_le(0x0123, 4), 0);
    ck_assert_uint_eq(read_le(0x0008, 4), 0);
    ck_assert_int_eq(dev_fw_cfg_add_i32(fc, DEV_FW_CFG_KERNEL_SIZE, 0x123456), 0);
    ck_assert_uint_eq(read_le(0x0008, 4), 0x123456);
    ck_assert_int_eq(dev_fw_cfg_add_string(fc, DEV_FW_CFG_CMDLINE_DATA, "ro"), 0);
    ck_assert_uint_eq(read_le(0x0015, 3), 'r' | 'o' << 8);
    /* Arch-local keys (bit 15). */
    ck_assert_int_eq(dev_fw_cfg_add_i32(fc, DEV_FW_CFG_IRQ0_OVERRIDE, 1), 0);
    ck_assert_uint_eq(read_le(0x8002, 4), 1);
    ck_assert_uint_eq(read_le(0xc002, 4), 1);
    /* Keys that cannot be set as plain items. */
    ck_assert_int_eq(dev_fw_cfg_add_i32(fc, DEV_FW_CFG_FILE_DIR, 1), -EINVAL);
    ck_assert_int_eq(dev_fw_cfg_add_i32(fc, 0x0020, 1), -EINVAL);
    ck_assert_int_eq(dev_fw_cfg_add_i32(fc, 0x4001, 1), -EINVAL);
    /* Data writes are ignored. */
    out16(0x510, 0x0000);
    uint32_t d = 'X';
    dev_bus_pio(bus, 0x511, 1, true, &d);
    ck_assert_uint_eq(in8(0x511), 'Q');
}
END_TEST

START_TEST(no_dma)
{
    struct dev_bus *b2 = dev_bus_new();
    struct dev_fw_cfg *f2 = dev_fw_cfg_new(b2, NULL);
    ck_assert_ptr_nonnull(f2);
    uint32_t d = 1;
    dev_bus_pio(b2, 0x510, 2, true, &d);
    uint32_t id = 0;
    for (int i = 0; i < 4; i++) {
        d = 0;
        dev_bus_pio(b2, 0x511, 1, false, &d);
        id |= d << (8 * i);
    }
    ck_assert_uint_eq(id, 1);                   /* no DMA bit */
    d = 0;
    dev_bus_pio(b2, 0x514, 4, false, &d);
    ck_assert_uint_eq(d, 0xffffffff);           /* nothing there */
    dev_fw_cfg_free(f2);
    dev_bus_free(b2);
}
END_TEST

START_TEST(file_dir)
{
    ck_assert_uint_eq(read_le(0x0019, 4), 0);   /* empty directory: count 0 */
    ck_assert_int_eq(dev_fw_cfg_add_file(fc, "opt/x", "hello", 5), 0);
    ck_assert_int_eq(dev_fw_cfg_add_file(fc, "etc/e820", "\1\2\3", 3), 0);
    ck_assert_int_eq(dev_fw_cfg_add_file(fc, "bootorder", "", 0), 0);
    ck_assert_int_eq(dev_fw_cfg_add_file(fc, "opt/x", "again", 5), -EEXIST);
    char longname[80];
    memset(longname, 'a', sizeof(longname));
    longname[56] = 0;
    ck_assert_int_eq(dev_fw_cfg_add_file(fc, longname, "", 0), -ENAMETOOLONG);
    longname[55] = 0;                           /* 55 bytes + NUL fits */
    ck_assert_int_eq(dev_fw_cfg_add_file(fc, longname, "z", 1), 0);
    ck_assert_int_eq(dev_fw_cfg_add_file(fc, "", "", 0), -EINVAL);

    uint8_t dir[4 + 4 * 64];
    read_item(0x0019, dir, sizeof(dir));
    ck_assert_uint_eq(be32(dir), 4);
    static const char *const names[] = { "aaaaaaa", "bootorder", "etc/e820", "opt/x" };
    static const uint32_t sizes[] = { 1, 0, 3, 5 };
    for (int i = 0; i < 4; i++) {
        const uint8_t *e = dir + 4 + 64 * i;
        ck_assert_uint_eq(be32(e), sizes[i]);
        ck_assert_uint_eq((unsigned)(e[4] << 8 | e[5]), 0x20u + (unsigned)i);   /* be16 select */
        ck_assert_uint_eq((unsigned)(e[6] | e[7]), 0);                          /* reserved */
        ck_assert_int_eq(strncmp((const char *)e + 8, names[i], strlen(names[i])), 0);
        ck_assert_uint_eq(e[8 + 55], 0);        /* NUL-terminated, zero-padded */
        ck_assert_int_eq(dev_fw_cfg_file_key(fc, i ? names[i] : longname), 0x20 + i);
    }
    ck_assert_int_eq(dev_fw_cfg_file_key(fc, "nope"), -ENOENT);
    /* A file by its selector. */
    char buf[7] = { 0 };
    read_item((uint16_t)dev_fw_cfg_file_key(fc, "opt/x"), buf, 6);
    ck_assert_str_eq(buf, "hello");
    ck_assert_uint_eq(read_le(0x0024, 4), 0);   /* no 5th file */
}
END_TEST

START_TEST(e820)
{
    static const struct dev_e820_entry map[] = {
        { 0x0, 0x9fc00, DEV_E820_RAM },
        { 0xfeffc000, 0x4000, DEV_E820_RESERVED },
        { 0x100000, 0x7f00000, DEV_E820_RAM },
    };
    ck_assert_uint_eq(dev_fw_cfg_e820_build(map, 3, NULL), 60);
    ck_assert_int_eq(dev_fw_cfg_add_e820(fc, map, 3), 0);
    uint8_t b[60];
    read_item((uint16_t)dev_fw_cfg_file_key(fc, "etc/e820"), b, sizeof(b));
    static const uint8_t first[20] = { 0, 0, 0, 0, 0, 0, 0, 0,
                                       0x00, 0xfc, 0x09, 0, 0, 0, 0, 0,
                                       1, 0, 0, 0 };
    ck_assert_int_eq(memcmp(b, first, 20), 0);
    static const uint8_t second[20] = { 0x00, 0xc0, 0xff, 0xfe, 0, 0, 0, 0,
                                        0x00, 0x40, 0, 0, 0, 0, 0, 0,
                                        2, 0, 0, 0 };
    ck_assert_int_eq(memcmp(b + 20, second, 20), 0);
    ck_assert_uint_eq(b[40 + 10], 0xf0);        /* 0x7f00000, little-endian */
    ck_assert_uint_eq(b[40 + 11], 0x07);
}
END_TEST

START_TEST(dma_signature)
{
    uint32_t lo = in32(0x514), hi = in32(0x518);
    ck_assert_uint_eq(lo, 0x554d4551);           /* bytes "QEMU" */
    ck_assert_uint_eq(__builtin_bswap32(lo), 0x51454d55);   /* ioread32be */
    ck_assert_uint_eq(__builtin_bswap32(hi), 0x20434647);   /* " CFG" */
    const char *sig = "QEMU CFG";
    for (int i = 0; i < 8; i++)
        ck_assert_uint_eq(in8((uint16_t)(0x514 + i)), (uint8_t)sig[i]);
}
END_TEST

START_TEST(dma_read_select_skip)
{
    ck_assert_int_eq(dev_fw_cfg_add_file(fc, "opt/data", "0123456789", 10), 0);
    uint16_t key = (uint16_t)dev_fw_cfg_file_key(fc, "opt/data");
    /* SELECT + READ of the signature, 8 bytes: 4 of data then zeros. */
    memset(ram + 0x2000, 0xaa, 16);
    dma_run(0x1000, 0x0000u << 16 | DEV_FW_CFG_DMA_SELECT | DEV_FW_CFG_DMA_READ, 8, 0x2000);
    ck_assert_uint_eq(be32(ram + 0x1000), 0);    /* done, no error */
    ck_assert_int_eq(memcmp(ram + 0x2000, "QEMU\0\0\0\0", 8), 0);
    ck_assert_uint_eq(ram[0x2008], 0xaa);
    /* SELECT + SKIP 3, then READ 4 continues from the offset. */
    dma_run(0x1000, (uint32_t)key << 16 | DEV_FW_CFG_DMA_SELECT | DEV_FW_CFG_DMA_SKIP, 3, 0);
    ck_assert_uint_eq(be32(ram + 0x1000), 0);
    dma_run(0x1000, DEV_FW_CFG_DMA_READ, 4, 0x3000);
    ck_assert_uint_eq(be32(ram + 0x1000), 0);
    ck_assert_int_eq(memcmp(ram + 0x3000, "3456", 4), 0);
    /* The data port shares the offset. */
    ck_assert_uint_eq(in8(0x511), '7');
    /* SELECT alone: selects, transfers nothing. */
    dma_run(0x1000, 0x0001u << 16 | DEV_FW_CFG_DMA_SELECT, 100, 0x3000);
    ck_assert_uint_eq(be32(ram + 0x1000), 0);
    ck_assert_uint_eq(in8(0x511), 3);           /* FW_CFG_ID, first byte */
    /* The address register is clear after an operation: a low-half write
     * alone uses a 32-bit address. */
    put_be32(ram + 0x1100, DEV_FW_CFG_DMA_SELECT | DEV_FW_CFG_DMA_READ);
    put_be32(ram + 0x1104, 2);
    put_be32(ram + 0x1108, 0);
    put_be32(ram + 0x110c, 0x3100);
    out32(0x518, __builtin_bswap32(0x1100));
    ck_assert_uint_eq(be32(ram + 0x1100), 0);
    ck_assert_int_eq(memcmp(ram + 0x3100, "QE", 2), 0);
    ck_assert_int_eq(dma_refused, 0);
}
END_TEST

START_TEST(dma_hostile)
{
    /* Buffer outside RAM: error bit, nothing written. */
    dma_run(0x1000, DEV_FW_CFG_DMA_SELECT | DEV_FW_CFG_DMA_READ, 4, 0x100000000ull);
    ck_assert_uint_eq(be32(ram + 0x1000), DEV_FW_CFG_DMA_ERROR);
    /* Buffer running off the end of RAM with a huge length: error, and the
     * bytes before the end are all the device wrote. */
    dma_run(0x1000, DEV_FW_CFG_DMA_SELECT | DEV_FW_CFG_DMA_READ, 0xffffffff, RAM_SIZE - 0x100);
    ck_assert_uint_eq(be32(ram + 0x1000), DEV_FW_CFG_DMA_ERROR);
    /* Descriptor itself outside RAM (64-bit address): dropped, no crash. */
    int before = dma_refused;
    dma_run(0x100000000ull, 0, 0, 0);
    ck_assert_int_gt(dma_refused, before);
    /* Descriptor straddling the end of RAM. */
    dma_run(RAM_SIZE - 8, 0, 0, 0);
    /* Zero length READ: success. */
    dma_run(0x1000, DEV_FW_CFG_DMA_SELECT | DEV_FW_CFG_DMA_READ, 0, 0x100000000ull);
    ck_assert_uint_eq(be32(ram + 0x1000), 0);
    /* A byte-wide write to the DMA register does nothing. */
    uint32_t d = 0x10;
    dev_bus_pio(bus, 0x518, 1, true, &d);
}
END_TEST

START_TEST(dma_write_refused)
{
    ck_assert_int_eq(dev_fw_cfg_add_file(fc, "opt/ro", "abcd", 4), 0);
    uint16_t key = (uint16_t)dev_fw_cfg_file_key(fc, "opt/ro");
    memcpy(ram + 0x2000, "WXYZ", 4);
    dma_run(0x1000, (uint32_t)key << 16 | DEV_FW_CFG_DMA_SELECT | DEV_FW_CFG_DMA_WRITE, 4, 0x2000);
    ck_assert_uint_eq(be32(ram + 0x1000), DEV_FW_CFG_DMA_ERROR);
    char buf[5] = { 0 };
    read_item(key, buf, 4);
    ck_assert_str_eq(buf, "abcd");
    /* Writing to nothing is refused too. */
    dma_run(0x1000, 0x0300u << 16 | DEV_FW_CFG_DMA_SELECT | DEV_FW_CFG_DMA_WRITE, 4, 0x2000);
    ck_assert_uint_eq(be32(ram + 0x1000), DEV_FW_CFG_DMA_ERROR);
    /* READ wins over WRITE when both are set (QEMU). */
    dma_run(0x1000, (uint32_t)key << 16 | DEV_FW_CFG_DMA_SELECT | DEV_FW_CFG_DMA_READ |
                    DEV_FW_CFG_DMA_WRITE, 4, 0x2000);
    ck_assert_uint_eq(be32(ram + 0x1000), 0);
    ck_assert_int_eq(memcmp(ram + 0x2000, "abcd", 4), 0);
}
END_TEST

static Suite *fw_cfg_suite(void)
{
    Suite *s = suite_create("fw_cfg");
    TCase *tc = tcase_create("fw_cfg");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, signature_and_id);
    tcase_add_test(tc, no_dma);
    tcase_add_test(tc, file_dir);
    tcase_add_test(tc, e820);
    tcase_add_test(tc, dma_signature);
    tcase_add_test(tc, dma_read_select_skip);
    tcase_add_test(tc, dma_hostile);
    tcase_add_test(tc, dma_write_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(fw_cfg_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
