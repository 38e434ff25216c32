/*
 * tests/unit/test_linuxboot.c — the Linux boot protocol loader on a
 * synthetic bzImage built here in memory: detection, the zero page (setup
 * header copy, loader fields, command line, e820), initrd placement, the
 * vcpu entry state, and every way an image or file is refused.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpu/cpu.h"
#include "vm/linuxboot.h"

#define RAM_SIZE   (64u << 20)
#define FILL       0xAA
#define SETUP_SECTS 4u
#define PM_OFF     ((SETUP_SECTS + 1) * 512)
#define PM_LEN     8192u
#define INIT_SIZE  0x800000u   /* the kernel runs at 16 MiB and needs 8 MiB */
#define PREF       0x1000000u

static uint8_t *ram;
static uint8_t img[PM_OFF + PM_LEN];
static char err[512];
static struct vm_linux_result res;

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint16_t r16(uint32_t gpa) { uint16_t v; memcpy(&v, ram + gpa, 2); return v; }
static uint32_t r32(uint32_t gpa) { uint32_t v; memcpy(&v, ram + gpa, 4); return v; }
static uint64_t r64(uint32_t gpa) { uint64_t v; memcpy(&v, ram + gpa, 8); return v; }

/* A bzImage like Debian's 686 kernel: protocol 2.15, relocatable, loaded
 * high, runs at 16 MiB; the protected-mode bytes count up from 0. */
static void build_bzimage(void)
{
    memset(img, 0, sizeof(img));
    img[VM_LBP_SETUP_SECTS] = SETUP_SECTS;
    put16(img + VM_LBP_BOOT_FLAG, 0xAA55);
    img[VM_LBP_JUMP] = 0xEB;
    img[VM_LBP_JUMP + 1] = 0x6A;           /* header ends at 0x26C */
    memcpy(img + VM_LBP_HEADER, "HdrS", 4);
    put16(img + VM_LBP_VERSION, 0x020F);
    img[VM_LBP_LOADFLAGS] = VM_LINUX_LF_LOADED_HIGH | VM_LINUX_LF_KEEP_SEGMENTS;
    put32(img + VM_LBP_CODE32_START, 0x100000);
    put32(img + VM_LBP_INITRD_ADDR_MAX, 0x7FFFFFFF);
    put32(img + VM_LBP_KERNEL_ALIGNMENT, 0x1000000);
    img[VM_LBP_RELOCATABLE] = 1;
    put32(img + VM_LBP_CMDLINE_SIZE, 2047);
    put64(img + VM_LBP_PREF_ADDRESS, PREF);
    put32(img + VM_LBP_INIT_SIZE, INIT_SIZE);
    img[0x26B] = 0x5A;                     /* last header byte: copied */
    img[0x26C] = 0x77;                     /* past the header: not copied */
    for (unsigned i = 0; i < PM_LEN; i++)
        img[PM_OFF + i] = (uint8_t)i;
}

static void setup(void)
{
    ram = malloc(RAM_SIZE);
    memset(ram, FILL, RAM_SIZE);
    memset(err, 0, sizeof(err));
    build_bzimage();
}

static void teardown(void) { free(ram); }

static int load(const char *cmdline, const uint8_t *rd, uint64_t rdlen, uint64_t ram_size)
{
    return vm_linux_load(img, sizeof(img), ram, ram_size, cmdline, rd, rdlen, &res, err,
                         sizeof(err));
}

START_TEST(test_detect)
{
    ck_assert(vm_linux_is_bzimage(img, sizeof(img)));
    ck_assert(!vm_linux_is_bzimage(img, 0x200));
    uint8_t elf[0x300] = { 0x7F, 'E', 'L', 'F' };
    ck_assert(!vm_linux_is_bzimage(elf, sizeof(elf)));
    img[VM_LBP_BOOT_FLAG] = 0;
    ck_assert(!vm_linux_is_bzimage(img, sizeof(img)));
    ck_assert(!vm_linux_probe_file("/nonexistent/bzImage"));
}
END_TEST

START_TEST(test_kernel_and_zero_page)
{
    ck_assert_msg(load("console=ttyS0 quiet", NULL, 0, RAM_SIZE) == 0, "%s", err);
    for (unsigned i = 0; i < PM_LEN; i++)
        ck_assert_uint_eq(ram[0x100000 + i], (uint8_t)i);
    ck_assert_uint_eq(res.entry, 0x100000);
    ck_assert_uint_eq(res.boot_params, VM_LINUX_ZERO_PAGE);
    ck_assert_uint_eq(res.version, 0x020F);
    ck_assert_uint_eq(res.kernel_end, PREF + INIT_SIZE);
    uint32_t bp = res.boot_params;
    /* The setup header is copied from 0x1F1 up to the jump's target. */
    ck_assert_uint_eq(ram[bp + VM_LBP_SETUP_SECTS], SETUP_SECTS);
    ck_assert_uint_eq(r16(bp + VM_LBP_BOOT_FLAG), 0xAA55);
    ck_assert(!memcmp(ram + bp + VM_LBP_HEADER, "HdrS", 4));
    ck_assert_uint_eq(r16(bp + VM_LBP_VERSION), 0x020F);
    ck_assert_uint_eq(r32(bp + VM_LBP_INIT_SIZE), INIT_SIZE);
    ck_assert_uint_eq(ram[bp + 0x26B], 0x5A);
    ck_assert_uint_eq(ram[bp + 0x26C], 0);
    /* Everything outside the header and the loader's fields is zero. */
    for (unsigned i = 0; i < VM_LBP_ALT_MEM_K; i++)
        ck_assert_uint_eq(ram[bp + i], 0);
    /* Loader fields. */
    ck_assert_uint_eq(ram[bp + VM_LBP_TYPE_OF_LOADER], 0xFF);
    ck_assert_uint_eq(ram[bp + VM_LBP_LOADFLAGS],
                      VM_LINUX_LF_LOADED_HIGH | VM_LINUX_LF_CAN_USE_HEAP);
    ck_assert_uint_eq(r16(bp + VM_LBP_HEAP_END_PTR), 0xDE00);
    ck_assert_uint_eq(r32(bp + VM_LBP_CODE32_START), 0x100000);
    ck_assert_uint_eq(r32(bp + VM_LBP_RAMDISK_IMAGE), 0);
    ck_assert_uint_eq(r32(bp + VM_LBP_RAMDISK_SIZE), 0);
    ck_assert_uint_eq(r32(bp + VM_LBP_ALT_MEM_K), (RAM_SIZE - 0x100000) / 1024);
    uint32_t cl = r32(bp + VM_LBP_CMD_LINE_PTR);
    ck_assert_uint_eq(cl, VM_LINUX_CMDLINE);
    ck_assert_str_eq((char *)ram + cl, "console=ttyS0 quiet");
}
END_TEST

START_TEST(test_e820)
{
    ck_assert_msg(load(NULL, NULL, 0, RAM_SIZE) == 0, "%s", err);
    uint32_t bp = res.boot_params;
    static const uint64_t want[4][3] = {
        { 0, 0x9FC00, 1 },
        { 0x9FC00, 0x400, 2 },
        { 0xF0000, 0x10000, 2 },
        { 0x100000, RAM_SIZE - 0x100000, 1 },
    };
    ck_assert_uint_eq(ram[bp + VM_LBP_E820_ENTRIES], 4);
    for (unsigned i = 0; i < 4; i++) {
        uint32_t e = bp + VM_LBP_E820_TABLE + 20 * i;
        ck_assert_uint_eq(r64(e), want[i][0]);
        ck_assert_uint_eq(r64(e + 8), want[i][1]);
        ck_assert_uint_eq(r32(e + 16), want[i][2]);
    }
    ck_assert_uint_eq(r64(bp + VM_LBP_E820_TABLE + 20 * 4), 0);
    /* No command line: a pointer to an empty string. */
    ck_assert_uint_eq(ram[r32(bp + VM_LBP_CMD_LINE_PTR)], 0);
}
END_TEST

START_TEST(test_initrd_high)
{
    uint64_t n = (1u << 20) + 123;
    uint8_t *rd = malloc(n);
    for (uint64_t i = 0; i < n; i++)
        rd[i] = (uint8_t)(i * 7);
    ck_assert_msg(load("", rd, n, RAM_SIZE) == 0, "%s", err);
    uint64_t want = (RAM_SIZE - n) & ~0xFFFull;
    ck_assert_uint_eq(res.initrd_addr, want);
    ck_assert_uint_eq(res.initrd_size, n);
    ck_assert_uint_eq(r32(res.boot_params + VM_LBP_RAMDISK_IMAGE), want);
    ck_assert_uint_eq(r32(res.boot_params + VM_LBP_RAMDISK_SIZE), n);
    ck_assert(!memcmp(ram + want, rd, n));
    ck_assert_uint_ge(res.initrd_addr, res.kernel_end);
    free(rd);
}
END_TEST

START_TEST(test_initrd_addr_max)
{
    put32(img + VM_LBP_INITRD_ADDR_MAX, 0x02FFFFFF); /* the kernel reaches 48 MiB */
    ck_assert_msg(load("", NULL, 5000, RAM_SIZE) == 0, "%s", err);
    ck_assert_uint_eq(res.initrd_addr, (0x3000000 - 5000) & ~0xFFFu);
    /* With NULL data the caller copies: RAM is left alone there. */
    ck_assert_uint_eq(ram[res.initrd_addr], FILL);
}
END_TEST

START_TEST(test_setup_sects_zero_means_4)
{
    img[VM_LBP_SETUP_SECTS] = 0; /* same layout as 4 */
    ck_assert_msg(load("", NULL, 0, RAM_SIZE) == 0, "%s", err);
    ck_assert_uint_eq(ram[0x100000 + 1], 1);
    ck_assert_uint_eq(ram[0x100000 + PM_LEN - 1], (uint8_t)(PM_LEN - 1));
}
END_TEST

START_TEST(test_not_relocatable)
{
    img[VM_LBP_RELOCATABLE] = 0;
    ck_assert_msg(load("", NULL, 0, RAM_SIZE) == 0, "%s", err);
    ck_assert_uint_eq(res.kernel_end, PREF + INIT_SIZE);
    ck_assert_int_eq(load("", NULL, 0, 16u << 20), -1);
    ck_assert_ptr_nonnull(strstr(err, "not relocatable"));
}
END_TEST

START_TEST(test_refuse)
{
    put16(img + VM_LBP_VERSION, 0x0205);
    ck_assert_int_eq(load("", NULL, 0, RAM_SIZE), -1);
    ck_assert_str_eq(err, "Linux boot protocol 2.05 is too old; btvm needs 2.06 or later");

    build_bzimage();
    img[VM_LBP_LOADFLAGS] = 0;
    ck_assert_int_eq(load("", NULL, 0, RAM_SIZE), -1);
    ck_assert_ptr_nonnull(strstr(err, "zImage"));

    build_bzimage();
    ck_assert_int_eq(load("", NULL, 0, 16u << 20), -1);
    ck_assert_ptr_nonnull(strstr(err, "kernel needs 24 MiB of RAM"));

    ck_assert_int_eq(load("", NULL, 41u << 20, RAM_SIZE), -1);
    ck_assert_ptr_nonnull(strstr(err, "initrd of 41 MiB does not fit"));

    ck_assert_int_eq(load("", NULL, 128u << 20, RAM_SIZE), -1);
    ck_assert_ptr_nonnull(strstr(err, "initrd"));

    char *big = malloc(3000);
    memset(big, 'x', 2999);
    big[2999] = 0;
    ck_assert_int_eq(load(big, NULL, 0, RAM_SIZE), -1);
    ck_assert_str_eq(err, "kernel command line is 2999 bytes; this kernel takes at most 2047");
    big[2047] = 0;
    ck_assert_msg(load(big, NULL, 0, RAM_SIZE) == 0, "%s", err);
    free(big);

    ck_assert_int_eq(vm_linux_load(img, PM_OFF, ram, RAM_SIZE, "", NULL, 0, &res, err,
                                   sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "truncated"));
    ck_assert_int_eq(vm_linux_load(img, 0x100, ram, RAM_SIZE, "", NULL, 0, &res, err,
                                   sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "not a Linux bzImage"));
}
END_TEST

/* A kernel that must run near the top of the 64-bit space: pref_address +
 * init_size wraps, which must not make it fit in RAM. */
START_TEST(test_extent_no_wrap)
{
    img[VM_LBP_RELOCATABLE] = 0;
    put64(img + VM_LBP_PREF_ADDRESS, 0xFFFFFFFFFFFFF000ull);
    put32(img + VM_LBP_INIT_SIZE, 0x2000);
    ck_assert_int_eq(load("", NULL, 0, RAM_SIZE), -1);
    ck_assert_msg(strstr(err, "kernel needs 17592186044416 MiB of RAM") != NULL, "%s", err);
}
END_TEST

START_TEST(test_cpu_entry)
{
    ck_assert_msg(load("", NULL, 0, RAM_SIZE) == 0, "%s", err);
    struct cpu *c = calloc(1, sizeof(*c));
    memset(c->regs, 0x55, sizeof(c->regs));
    vm_linux_cpu_entry(c, &res);
    ck_assert_uint_eq(c->eip, 0x100000);
    ck_assert_uint_eq(c->regs[CPU_ESI], VM_LINUX_ZERO_PAGE);
    for (int r = 0; r < 8; r++)
        if (r != CPU_ESI)
            ck_assert_uint_eq(c->regs[r], 0);
    ck_assert_uint_eq(c->eflags & CPU_FL_IF, 0);
    ck_assert_uint_eq(c->cpl, 0);
    ck_assert(c->cr0 & CPU_CR0_PE);
    ck_assert(!(c->cr0 & CPU_CR0_PG));
    ck_assert_uint_eq(c->segs[CPU_CS].sel, 0x10);
    for (int s = 0; s < CPU_NSEG; s++)
        if (s != CPU_CS)
            ck_assert_uint_eq(c->segs[s].sel, 0x18);
    ck_assert_uint_eq(c->gdtr.base, VM_LINUX_GDT);
    ck_assert_uint_eq(c->gdtr.limit, 31);
    /* The GDT entries behind the selectors describe the loaded segments. */
    for (int s = 0; s < CPU_NSEG; s++) {
        uint64_t d = r64(VM_LINUX_GDT + c->segs[s].sel);
        ck_assert_uint_eq(c->segs[s].base, 0);
        ck_assert_uint_eq(c->segs[s].limit, 0xFFFFFFFFu);
        ck_assert_uint_eq(c->segs[s].flags, (uint32_t)(d >> 40) & 0xF0FF);
    }
    ck_assert_uint_eq(r64(VM_LINUX_GDT), 0);
    free(c);
}
END_TEST

START_TEST(test_load_files)
{
    char dir[] = "/tmp/btvm-lb-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char kpath[64], rpath[64], missing[64];
    snprintf(kpath, sizeof(kpath), "%s/vmlinuz", dir);
    snprintf(rpath, sizeof(rpath), "%s/initrd", dir);
    snprintf(missing, sizeof(missing), "%s/nope", dir);
    FILE *f = fopen(kpath, "wb");
    fwrite(img, 1, sizeof(img), f);
    fclose(f);
    f = fopen(rpath, "wb");
    for (int i = 0; i < 10000; i++)
        fputc(i & 0xFF, f);
    fclose(f);

    ck_assert(vm_linux_probe_file(kpath));
    ck_assert(!vm_linux_probe_file(rpath));
    ck_assert(!vm_linux_probe_file(dir));

    ck_assert_int_eq(vm_linux_load_files(ram, RAM_SIZE, kpath, "a b", rpath, &res, err,
                                         sizeof(err)), 0);
    ck_assert_uint_eq(res.initrd_size, 10000);
    ck_assert_uint_eq(res.initrd_addr, (RAM_SIZE - 10000) & ~0xFFFu);
    for (int i = 0; i < 10000; i++)
        ck_assert_uint_eq(ram[res.initrd_addr + i], i & 0xFF);
    ck_assert_str_eq((char *)ram + VM_LINUX_CMDLINE, "a b");

    ck_assert_int_eq(vm_linux_load_files(ram, RAM_SIZE, kpath, NULL, missing, &res, err,
                                         sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "btvm: cannot open initrd"));
    ck_assert_int_eq(vm_linux_load_files(ram, RAM_SIZE, missing, NULL, NULL, &res, err,
                                         sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "btvm: cannot open kernel"));
    ck_assert_int_eq(vm_linux_load_files(ram, RAM_SIZE, kpath, NULL, dir, &res, err,
                                         sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "is a directory"));
    ck_assert_int_eq(vm_linux_load_files(ram, 16u << 20, kpath, NULL, rpath, &res, err,
                                         sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "btvm: kernel '"));
    ck_assert_ptr_nonnull(strstr(err, "needs 24 MiB"));
    ck_assert(!strchr(err, '\n'));

    unlink(kpath);
    unlink(rpath);
    rmdir(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("linuxboot");
    TCase *tc = tcase_create("load");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_detect);
    tcase_add_test(tc, test_kernel_and_zero_page);
    tcase_add_test(tc, test_e820);
    tcase_add_test(tc, test_initrd_high);
    tcase_add_test(tc, test_initrd_addr_max);
    tcase_add_test(tc, test_setup_sects_zero_means_4);
    tcase_add_test(tc, test_not_relocatable);
    tcase_add_test(tc, test_refuse);
    tcase_add_test(tc, test_extent_no_wrap);
    tcase_add_test(tc, test_cpu_entry);
    tcase_add_test(tc, test_load_files);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
