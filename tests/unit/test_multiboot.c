/*
 * tests/unit/test_multiboot.c — the Multiboot v1 loader on images built
 * here in memory: ELF32 (plain and higher-half), the a.out kludge, modules,
 * the boot information (memory sizes, memory map, cmdline, loader name,
 * module list) and where it goes (0x9000, or above everything loaded when
 * the kernel is in the way), and every way a file is refused.
 */
#include <check.h>
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vm/multiboot.h"

#define RAM_SIZE (4u << 20)
#define FILL 0xAA

static uint8_t *ram;
static uint8_t img[16384];
static char err[512];
static struct vm_mb_result res;
static size_t seg0_off; /* file offset of the first segment (and its header) */

static void setup(void)
{
    ram = malloc(RAM_SIZE);
    memset(ram, FILL, RAM_SIZE);
    memset(img, 0, sizeof(img));
    memset(err, 0, sizeof(err));
}

static void teardown(void) { free(ram); }

static uint32_t r32(uint32_t gpa)
{
    uint32_t v;
    memcpy(&v, ram + gpa, 4);
    return v;
}

static uint64_t r64(uint32_t gpa)
{
    uint64_t v;
    memcpy(&v, ram + gpa, 8);
    return v;
}

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

/* [gpa, gpa+n) lies inside the boot information the last load reported. */
static void assert_in_info(uint32_t gpa, uint32_t n)
{
    ck_assert_uint_lt(res.info_addr, res.info_end);
    ck_assert_msg(gpa >= res.info_addr && gpa + n <= res.info_end,
                  "0x%x+%u outside the boot information 0x%x..0x%x", gpa, n, res.info_addr,
                  res.info_end);
}

/* The boot information overlaps nothing in [a, b). */
static void assert_info_clear_of(uint32_t a, uint32_t b)
{
    ck_assert_msg(res.info_end <= a || res.info_addr >= b,
                  "boot information 0x%x..0x%x overlaps 0x%x..0x%x", res.info_addr,
                  res.info_end, a, b);
}

/* A Multiboot header (magic, flags, checksum) at p. */
static void mb_header(uint8_t *p, uint32_t flags)
{
    put32(p, VM_MB_HEADER_MAGIC);
    put32(p + 4, flags);
    put32(p + 8, -(VM_MB_HEADER_MAGIC + flags));
}

struct seg {
    uint32_t vaddr, paddr, filesz, memsz;
};

/* ELF32 i386 executable: header, phdrs, then each segment's bytes in turn
 * (segment i's bytes are 0x10+i, the first segment starts with a Multiboot
 * header). Returns the file size. */
static size_t build_elf(uint32_t entry, const struct seg *segs, unsigned n, uint32_t mbflags)
{
    Elf32_Ehdr eh;
    memset(&eh, 0, sizeof(eh));
    memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS32;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_type = ET_EXEC;
    eh.e_machine = EM_386;
    eh.e_version = EV_CURRENT;
    eh.e_entry = entry;
    eh.e_phoff = sizeof(eh);
    eh.e_ehsize = sizeof(eh);
    eh.e_phentsize = sizeof(Elf32_Phdr);
    eh.e_phnum = (uint16_t)n;
    memcpy(img, &eh, sizeof(eh));
    size_t off = sizeof(eh) + n * sizeof(Elf32_Phdr);
    off = (off + 15) & ~(size_t)15;
    for (unsigned i = 0; i < n; i++) {
        Elf32_Phdr ph = { PT_LOAD, (uint32_t)off, segs[i].vaddr, segs[i].paddr, segs[i].filesz,
                          segs[i].memsz, PF_R | PF_X, 4096 };
        memcpy(img + sizeof(eh) + i * sizeof(ph), &ph, sizeof(ph));
        memset(img + off, 0x10 + (int)i, segs[i].filesz);
        if (i == 0) {
            mb_header(img + off, mbflags);
            seg0_off = off;
        }
        off += segs[i].filesz;
    }
    return off;
}

static int load(size_t len, const char *cmdline, const struct vm_mb_module *mods, unsigned n)
{
    int r = vm_multiboot_load(img, len, ram, RAM_SIZE, cmdline, mods, n, &res, err, sizeof(err));
    if (r)
        ck_assert_msg(err[0] && !strchr(err, '\n'), "error must be one line: '%s'", err);
    return r;
}

static void assert_refused(size_t len, const char *needle)
{
    ck_assert_int_eq(load(len, NULL, NULL, 0), -1);
    ck_assert_msg(strstr(err, needle) != NULL, "error '%s' lacks '%s'", err, needle);
}

START_TEST(test_elf_load)
{
    struct seg s[] = { { 0x100000, 0x100000, 64, 256 }, { 0x102000, 0x102000, 32, 32 } };
    size_t len = build_elf(0x10000c, s, 2, 3);
    ck_assert_int_eq(load(len, "k.elf a=1", NULL, 0), 0);
    ck_assert_uint_eq(res.entry, 0x10000c);
    ck_assert_uint_eq(res.info_addr, VM_MB_INFO_LOW); /* kernel above 1 MiB: the low place */
    ck_assert_uint_eq(res.kernel_start, 0x100000);
    ck_assert_uint_eq(res.kernel_end, 0x102020);
    ck_assert(!res.aout_kludge);
    /* Header, file bytes, bss zeroed, RAM around untouched. */
    ck_assert_uint_eq(r32(0x100000), VM_MB_HEADER_MAGIC);
    ck_assert_uint_eq(ram[0x100000 + 63], 0x10);
    for (uint32_t a = 0x100000 + 64; a < 0x100000 + 256; a++)
        ck_assert_uint_eq(ram[a], 0);
    ck_assert_uint_eq(ram[0x100000 + 256], FILL);
    ck_assert_uint_eq(ram[0x102000], 0x11);
    ck_assert_uint_eq(ram[0x10201f], 0x11);
    ck_assert_uint_eq(ram[0x102020], FILL);
}
END_TEST

START_TEST(test_info_fields)
{
    struct seg s[] = { { 0x100000, 0x100000, 64, 64 } };
    size_t len = build_elf(0x100000, s, 1, 2);
    ck_assert_int_eq(load(len, "k.elf console=ttyS0", NULL, 0), 0);
    uint32_t mbi = res.info_addr;
    ck_assert_uint_eq(r32(mbi + VM_MBI_FLAGS),
                      VM_MB_INFO_MEMORY | VM_MB_INFO_CMDLINE | VM_MB_INFO_MODS |
                          VM_MB_INFO_MMAP | VM_MB_INFO_LOADER);
    ck_assert_uint_eq(r32(mbi + VM_MBI_MEM_LOWER), 639);
    ck_assert_uint_eq(r32(mbi + VM_MBI_MEM_UPPER), (RAM_SIZE - 0x100000) / 1024);
    ck_assert_str_eq((char *)ram + r32(mbi + VM_MBI_CMDLINE), "k.elf console=ttyS0");
    ck_assert_str_eq((char *)ram + r32(mbi + VM_MBI_LOADER_NAME), "btvm");
    ck_assert_uint_eq(r32(mbi + VM_MBI_MODS_COUNT), 0);
    /* Unused fields are zero (boot_device, syms, drives, vbe...). */
    ck_assert_uint_eq(r32(mbi + 12), 0);
    ck_assert_uint_eq(r32(mbi + 28), 0);
    ck_assert_uint_eq(r32(mbi + 72), 0);

    /* Memory map: size field, base, length, type; four entries. */
    static const uint64_t want[4][3] = {
        { 0, 0x9FC00, 1 }, { 0x9FC00, 0x400, 2 }, { 0xF0000, 0x10000, 2 },
        { 0x100000, RAM_SIZE - 0x100000, 1 },
    };
    uint32_t mm = r32(mbi + VM_MBI_MMAP_ADDR);
    ck_assert_uint_eq(r32(mbi + VM_MBI_MMAP_LENGTH), 4 * 24);
    for (unsigned i = 0; i < 4; i++) {
        uint32_t e = mm + 24 * i;
        ck_assert_uint_eq(r32(e), 20);
        ck_assert_uint_eq(r64(e + 4), want[i][0]);
        ck_assert_uint_eq(r64(e + 12), want[i][1]);
        ck_assert_uint_eq(r32(e + 20), want[i][2]);
    }
    /* Everything btvm wrote lies inside [info_addr, info_end), and nothing
     * around it was touched. */
    ck_assert_uint_eq(mbi, VM_MB_INFO_LOW);
    assert_in_info(mm, 96);
    assert_in_info(r32(mbi + VM_MBI_CMDLINE), sizeof("k.elf console=ttyS0"));
    assert_in_info(r32(mbi + VM_MBI_LOADER_NAME), 5);
    assert_in_info(r32(mbi + VM_MBI_MODS_ADDR), 16);
    ck_assert_uint_eq(ram[res.info_addr - 1], FILL);
    ck_assert_uint_eq(ram[res.info_end], FILL);
}
END_TEST

START_TEST(test_no_cmdline)
{
    struct seg s[] = { { 0x100000, 0x100000, 64, 64 } };
    size_t len = build_elf(0x100000, s, 1, 0);
    ck_assert_int_eq(load(len, NULL, NULL, 0), 0);
    ck_assert_uint_eq(r32(res.info_addr) & VM_MB_INFO_CMDLINE, 0);
}
END_TEST

/* Command lines of any length that RAM can hold: one that fits below
 * 0x9FC00 stays low, a longer one goes above the kernel, one larger than
 * RAM is refused. */
START_TEST(test_long_cmdline)
{
    struct seg s[] = { { 0x100000, 0x100000, 64, 64 } };
    size_t len = build_elf(0x100000, s, 1, 0);
    char *lng = malloc(5u << 20);
    memset(lng, 'x', 40000);
    lng[39999] = 0;
    ck_assert_msg(load(len, lng, NULL, 0) == 0, "%s", err);
    ck_assert_uint_eq(res.info_addr, VM_MB_INFO_LOW);
    ck_assert_str_eq((char *)ram + r32(res.info_addr + VM_MBI_CMDLINE), lng);
    assert_in_info(r32(res.info_addr + VM_MBI_CMDLINE), 40000);

    memset(lng, 'y', 700000);
    lng[699999] = 0;
    ck_assert_msg(load(len, lng, NULL, 0) == 0, "%s", err);
    ck_assert_uint_eq(res.info_addr, 0x101000); /* the page after the kernel */
    ck_assert_str_eq((char *)ram + r32(res.info_addr + VM_MBI_CMDLINE), lng);
    assert_in_info(r32(res.info_addr + VM_MBI_CMDLINE), 700000);
    ck_assert_str_eq((char *)ram + r32(res.info_addr + VM_MBI_LOADER_NAME), "btvm");
    ck_assert_uint_eq(ram[0x100000 + 63], 0x10); /* the kernel is intact */

    /* The low place ends at the EBDA (0x9FC00): a block of exactly
     * 0x9FC00 - 0x9000 bytes (the struct, map, name, this command line and
     * an empty module list, each 16-byte aligned) still fits, 16 more not. */
    memset(lng, 'w', 617215);
    lng[617215] = 0;
    ck_assert_msg(load(len, lng, NULL, 0) == 0, "%s", err);
    ck_assert_uint_eq(res.info_addr, VM_MB_INFO_LOW);
    ck_assert_uint_eq(res.info_end, VM_MB_INFO_LOW_END);
    ck_assert_str_eq((char *)ram + r32(res.info_addr + VM_MBI_CMDLINE), lng);
    lng[617215] = 'w';
    lng[617216] = 0;
    ck_assert_msg(load(len, lng, NULL, 0) == 0, "%s", err);
    ck_assert_uint_eq(res.info_addr, 0x101000);
    ck_assert_str_eq((char *)ram + r32(res.info_addr + VM_MBI_CMDLINE), lng);

    memset(lng, 'z', 5u << 20);
    lng[(5u << 20) - 1] = 0;
    ck_assert_int_eq(load(len, lng, NULL, 0), -1);
    ck_assert_ptr_nonnull(strstr(err, "no room in guest RAM for the boot information"));
    free(lng);
}
END_TEST

START_TEST(test_elf_higher_half)
{
    struct seg s[] = { { 0xC0100000, 0x100000, 64, 128 } };
    size_t len = build_elf(0xC0100010, s, 1, 0);
    ck_assert_int_eq(load(len, NULL, NULL, 0), 0);
    ck_assert_uint_eq(res.entry, 0x100010);
    ck_assert_uint_eq(ram[0x100020], 0x10);
}
END_TEST

START_TEST(test_video_flag_ignored)
{
    struct seg s[] = { { 0x100000, 0x100000, 64, 64 } };
    size_t len = build_elf(0x100000, s, 1, 1u << 2);
    ck_assert_int_eq(load(len, NULL, NULL, 0), 0);
    ck_assert_uint_eq(r32(res.info_addr) & (1u << 11 | 1u << 12), 0);
}
END_TEST

/* Flat image: 32 bytes of padding, header at offset 32 claiming address
 * 0x200020, so the file loads at 0x200000. */
static size_t build_aout(uint32_t load_end, uint32_t bss_end, uint32_t entry, size_t len)
{
    memset(img, 0x5A, len);
    mb_header(img + 32, (1u << 16) | 3);
    put32(img + 32 + 12, 0x200020);
    put32(img + 32 + 16, 0x200000);
    put32(img + 32 + 20, load_end);
    put32(img + 32 + 24, bss_end);
    put32(img + 32 + 28, entry);
    return len;
}

START_TEST(test_aout_kludge)
{
    size_t len = build_aout(0x200100, 0x200400, 0x200040, 0x180);
    ck_assert_int_eq(load(len, NULL, NULL, 0), 0);
    ck_assert(res.aout_kludge);
    ck_assert_uint_eq(res.entry, 0x200040);
    ck_assert_uint_eq(res.kernel_start, 0x200000);
    ck_assert_uint_eq(res.kernel_end, 0x200400);
    ck_assert_uint_eq(ram[0x200000], 0x5A);
    ck_assert_uint_eq(r32(0x200020), VM_MB_HEADER_MAGIC);
    ck_assert_uint_eq(ram[0x2000ff], 0x5A);
    for (uint32_t a = 0x200100; a < 0x200400; a++) /* file bytes past load_end not loaded */
        ck_assert_uint_eq(ram[a], 0);
    ck_assert_uint_eq(ram[0x200400], FILL);
}
END_TEST

START_TEST(test_aout_whole_file)
{
    size_t len = build_aout(0, 0, 0x200040, 0x300);
    ck_assert_int_eq(load(len, NULL, NULL, 0), 0);
    ck_assert_uint_eq(res.kernel_end, 0x200300);
    ck_assert_uint_eq(ram[0x2002ff], 0x5A);
    ck_assert_uint_eq(ram[0x200300], FILL);
}
END_TEST

START_TEST(test_aout_kludge_in_elf64)
{
    /* 64-bit ELF kernels that start in 32-bit code use the kludge: the
     * ELF class must not matter then. */
    size_t len = build_aout(0, 0, 0x200040, 0x200);
    memcpy(img, ELFMAG, SELFMAG);
    img[EI_CLASS] = ELFCLASS64;
    ck_assert_int_eq(load(len, NULL, NULL, 0), 0);
    ck_assert_uint_eq(res.entry, 0x200040);
}
END_TEST

START_TEST(test_modules)
{
    struct seg s[] = { { 0x100000, 0x100000, 64, 0x1800 } };
    size_t len = build_elf(0x100000, s, 1, 1);
    static const uint8_t a[5000] = { 1, 2, 3 };
    static const uint8_t b[3] = { 7, 8, 9 };
    struct vm_mb_module mods[2] = { { a, sizeof(a), "initrd.img arg" }, { b, sizeof(b), "b" } };
    ck_assert_int_eq(load(len, "k", mods, 2), 0);
    uint32_t mbi = res.info_addr;
    ck_assert(r32(mbi + VM_MBI_FLAGS) & VM_MB_INFO_MODS);
    ck_assert_uint_eq(r32(mbi + VM_MBI_MODS_COUNT), 2);
    uint32_t ml = r32(mbi + VM_MBI_MODS_ADDR);
    ck_assert_uint_eq(r32(ml), 0x102000);            /* page after the kernel's bss */
    ck_assert_uint_eq(r32(ml + 4), 0x102000 + 5000);
    ck_assert_str_eq((char *)ram + r32(ml + 8), "initrd.img arg");
    ck_assert_uint_eq(r32(ml + 16), 0x104000);       /* page-aligned */
    ck_assert_uint_eq(r32(ml + 20), 0x104003);
    ck_assert_str_eq((char *)ram + r32(ml + 24), "b");
    ck_assert_int_eq(memcmp(ram + 0x102000, a, sizeof(a)), 0);
    ck_assert_int_eq(memcmp(ram + 0x104000, b, sizeof(b)), 0);
    ck_assert_uint_eq(res.mods_end, 0x104003);
}
END_TEST

START_TEST(test_modules_above_1mib)
{
    /* A kernel loaded low still gets its modules above 1 MiB. */
    struct seg s[] = { { 0x20000, 0x20000, 64, 64 } };
    size_t len = build_elf(0x20000, s, 1, 0);
    static const uint8_t a[10] = { 0 };
    struct vm_mb_module mods[1] = { { a, sizeof(a), "a" } };
    ck_assert_msg(load(len, NULL, mods, 1) == 0, "%s", err);
    ck_assert_uint_eq(r32(r32(res.info_addr + VM_MBI_MODS_ADDR)), 0x100000);
}
END_TEST

START_TEST(test_modules_too_big)
{
    struct seg s[] = { { 0x100000, 0x100000, 64, 64 } };
    size_t len = build_elf(0x100000, s, 1, 0);
    uint8_t *big = calloc(1, RAM_SIZE);
    struct vm_mb_module mods[1] = { { big, RAM_SIZE - 0x100000, "big" } };
    ck_assert_int_eq(load(len, NULL, mods, 1), -1);
    ck_assert_ptr_nonnull(strstr(err, "modules do not fit"));
    free(big);
}
END_TEST

START_TEST(test_refuse_not_elf)
{
    memcpy(img, "#!/bin/sh\necho hi\n", 18);
    assert_refused(18, "not an ELF file and no Multiboot header");
    assert_refused(0, "empty");
}
END_TEST

START_TEST(test_refuse_elf64)
{
    struct seg s[] = { { 0x100000, 0x100000, 64, 64 } };
    size_t len = build_elf(0x100000, s, 1, 0);
    img[EI_CLASS] = ELFCLASS64;
    assert_refused(len, "64-bit ELF");
}
END_TEST

START_TEST(test_refuse_machine_and_type)
{
    struct seg s[] = { { 0x100000, 0x100000, 64, 64 } };
    size_t len = build_elf(0x100000, s, 1, 0);
    uint16_t m = EM_X86_64;
    memcpy(img + offsetof(Elf32_Ehdr, e_machine), &m, 2);
    assert_refused(len, "x86-64");
    m = EM_386;
    memcpy(img + offsetof(Elf32_Ehdr, e_machine), &m, 2);
    uint16_t t = ET_DYN;
    memcpy(img + offsetof(Elf32_Ehdr, e_type), &t, 2);
    assert_refused(len, "ET_EXEC");
    t = ET_EXEC;
    memcpy(img + offsetof(Elf32_Ehdr, e_type), &t, 2);
    img[EI_DATA] = ELFDATA2MSB;
    assert_refused(len, "big-endian");
}
END_TEST

START_TEST(test_refuse_no_header)
{
    struct seg s[] = { { 0x100000, 0x100000, 64, 64 } };
    size_t len = build_elf(0x100000, s, 1, 0);
    memset(img + seg0_off, 0, 12); /* wipe the header in segment 0 */
    assert_refused(len, "no Multiboot header");
    /* A header past the first 8192 bytes does not count. */
    memset(img, 0, sizeof(img));
    mb_header(img + 8192, 0);
    assert_refused(8192 + 64, "no Multiboot header");
}
END_TEST

START_TEST(test_refuse_bad_checksum)
{
    struct seg s[] = { { 0x100000, 0x100000, 64, 64 } };
    size_t len = build_elf(0x100000, s, 1, 0);
    put32(img + seg0_off + 8, 0x12345678);
    assert_refused(len, "bad checksum");
}
END_TEST

START_TEST(test_refuse_unknown_required_flag)
{
    struct seg s[] = { { 0x100000, 0x100000, 64, 64 } };
    size_t len = build_elf(0x100000, s, 1, 1u << 5);
    assert_refused(len, "requires features");
}
END_TEST

START_TEST(test_refuse_outside_ram)
{
    struct seg s[] = { { 0x100000, 0x100000, 64, 64 }, { 0x400000, 0x3ff000, 64, 0x2000 } };
    size_t len = build_elf(0x100000, s, 2, 0);
    assert_refused(len, "outside guest RAM");
    /* Checked before anything is copied. */
    ck_assert_uint_eq(ram[0x100000], FILL);
    struct seg s2[] = { { 0x40000000, 0x40000000, 64, 64 } };
    len = build_elf(0x40000000, s2, 1, 0);
    assert_refused(len, "outside guest RAM");
}
END_TEST

/* Check the boot information of a load with cmdline "k low" and no modules. */
static void assert_info_intact(void)
{
    uint32_t mbi = res.info_addr;
    ck_assert_uint_eq(r32(mbi + VM_MBI_FLAGS),
                      VM_MB_INFO_MEMORY | VM_MB_INFO_CMDLINE | VM_MB_INFO_MODS |
                          VM_MB_INFO_MMAP | VM_MB_INFO_LOADER);
    ck_assert_uint_eq(r32(mbi + VM_MBI_MEM_LOWER), 639);
    ck_assert_uint_eq(r32(mbi + VM_MBI_MEM_UPPER), (RAM_SIZE - 0x100000) / 1024);
    ck_assert_str_eq((char *)ram + r32(mbi + VM_MBI_CMDLINE), "k low");
    ck_assert_str_eq((char *)ram + r32(mbi + VM_MBI_LOADER_NAME), "btvm");
    uint32_t mm = r32(mbi + VM_MBI_MMAP_ADDR);
    ck_assert_uint_eq(r32(mbi + VM_MBI_MMAP_LENGTH), 96);
    ck_assert_uint_eq(r64(mm + 4), 0);
    ck_assert_uint_eq(r64(mm + 12), 0x9FC00);
    ck_assert_uint_eq(r64(mm + 72 + 4), 0x100000);
    ck_assert_uint_eq(r64(mm + 72 + 12), RAM_SIZE - 0x100000);
    ck_assert_uint_eq(r32(mm + 72 + 20), 1);
    assert_in_info(mm, 96);
    assert_in_info(r32(mbi + VM_MBI_CMDLINE), 6);
    assert_in_info(r32(mbi + VM_MBI_LOADER_NAME), 5);
}

/* A kernel linked at 0x8000, across 0x9000: it used to be refused
 * ("overlaps btvm's boot information area"); now it loads and the boot
 * information goes above 1 MiB. */
START_TEST(test_kernel_at_0x8000)
{
    struct seg s[] = { { 0x8000, 0x8000, 0x1800, 0x2000 } };
    size_t len = build_elf(0x8000, s, 1, 3);
    ck_assert_msg(load(len, "k low", NULL, 0) == 0, "refused: %s", err);
    ck_assert_str_eq(err, "");
    ck_assert_uint_eq(res.entry, 0x8000);
    ck_assert_uint_eq(res.kernel_start, 0x8000);
    ck_assert_uint_eq(res.kernel_end, 0xA000);
    ck_assert_uint_eq(res.info_addr, 0x100000); /* max(kernel end, 1 MiB), page-aligned */
    assert_info_clear_of(0x8000, 0xA000);
    assert_info_intact();
    /* The kernel is whole: header, file bytes across 0x9000, zeroed bss. */
    ck_assert_uint_eq(r32(0x8000), VM_MB_HEADER_MAGIC);
    for (uint32_t a = 0x8000 + 12; a < 0x9800; a++)
        ck_assert_uint_eq(ram[a], 0x10);
    for (uint32_t a = 0x9800; a < 0xA000; a++)
        ck_assert_uint_eq(ram[a], 0);
    ck_assert_uint_eq(ram[0xA000], FILL);

    /* The same through the a.out kludge. */
    memset(ram, FILL, RAM_SIZE);
    memset(img, 0x5A, 0x3000);
    mb_header(img, (1u << 16) | 3);
    put32(img + 12, 0x8000);
    put32(img + 16, 0x8000);
    put32(img + 20, 0xB000);
    put32(img + 24, 0xC000);
    put32(img + 28, 0x8020);
    ck_assert_msg(load(0x3000, "k low", NULL, 0) == 0, "refused: %s", err);
    ck_assert_uint_eq(res.info_addr, 0x100000);
    assert_info_intact();
    ck_assert_uint_eq(ram[0x9000], 0x5A);
    ck_assert_uint_eq(ram[0xAFFF], 0x5A);
    ck_assert_uint_eq(ram[0xB000], 0);
}
END_TEST

/* The low place is used when the kernel's extent stays clear of it, even
 * right next to it; the whole block must fit, not just its start. */
START_TEST(test_low_place_rules)
{
    struct seg s[] = { { 0x8000, 0x8000, 64, 0x1000 } }; /* ends at 0x9000 */
    size_t len = build_elf(0x8000, s, 1, 0);
    ck_assert_int_eq(load(len, "k low", NULL, 0), 0);
    ck_assert_uint_eq(res.info_addr, VM_MB_INFO_LOW);
    assert_info_intact();
    ck_assert_uint_eq(ram[0x8fff], 0);

    /* A kernel at 0x10000: a short block fits below it, a long one not. */
    memset(ram, FILL, RAM_SIZE);
    struct seg s2[] = { { 0x10000, 0x10000, 64, 0x10000 } };
    len = build_elf(0x10000, s2, 1, 0);
    ck_assert_int_eq(load(len, "k low", NULL, 0), 0);
    ck_assert_uint_eq(res.info_addr, VM_MB_INFO_LOW);
    assert_info_clear_of(0x10000, 0x20000);
    char lng[40000];
    memset(lng, 'c', sizeof(lng) - 1);
    lng[sizeof(lng) - 1] = 0;
    ck_assert_int_eq(load(len, lng, NULL, 0), 0);
    ck_assert_uint_eq(res.info_addr, 0x100000);
    assert_info_clear_of(0x10000, 0x20000);
    ck_assert_str_eq((char *)ram + r32(res.info_addr + VM_MBI_CMDLINE), lng);

    /* Two segments, one below 0x9000 and one above 1 MiB: their extent
     * covers the low place, so the block goes above the second. */
    memset(ram, FILL, RAM_SIZE);
    struct seg s3[] = { { 0x7000, 0x7000, 64, 64 }, { 0x200000, 0x200000, 64, 0x100 } };
    len = build_elf(0x7000, s3, 2, 0);
    ck_assert_int_eq(load(len, "k low", NULL, 0), 0);
    ck_assert_uint_eq(res.info_addr, 0x201000);
    assert_info_intact();
    ck_assert_uint_eq(ram[0x9000], FILL); /* the low place is left alone */
}
END_TEST

/* Modules and their strings with a low kernel: modules from 1 MiB, the
 * boot information after the last one. */
START_TEST(test_low_kernel_modules)
{
    struct seg s[] = { { 0x8000, 0x8000, 64, 0x2000 } };
    size_t len = build_elf(0x8000, s, 1, 1);
    static const uint8_t a[5000] = { 1, 2, 3 };
    static const uint8_t b[3] = { 7, 8, 9 };
    struct vm_mb_module mods[2] = { { a, sizeof(a), "initrd.img arg" }, { b, sizeof(b), "b" } };
    ck_assert_msg(load(len, "k low", mods, 2) == 0, "%s", err);
    uint32_t mbi = res.info_addr;
    ck_assert_uint_eq(res.mods_end, 0x102003);
    ck_assert_uint_eq(mbi, 0x103000); /* the page after the last module */
    assert_info_clear_of(0x8000, 0xA000);
    assert_info_clear_of(0x100000, 0x102003);
    ck_assert_str_eq((char *)ram + r32(mbi + VM_MBI_CMDLINE), "k low");
    ck_assert_uint_eq(r32(mbi + VM_MBI_MODS_COUNT), 2);
    uint32_t ml = r32(mbi + VM_MBI_MODS_ADDR);
    assert_in_info(ml, 32);
    ck_assert_uint_eq(r32(ml), 0x100000);
    ck_assert_uint_eq(r32(ml + 4), 0x100000 + 5000);
    ck_assert_str_eq((char *)ram + r32(ml + 8), "initrd.img arg");
    assert_in_info(r32(ml + 8), 15);
    ck_assert_uint_eq(r32(ml + 16), 0x102000);
    ck_assert_uint_eq(r32(ml + 20), 0x102003);
    ck_assert_str_eq((char *)ram + r32(ml + 24), "b");
    assert_in_info(r32(ml + 24), 2);
    ck_assert_int_eq(memcmp(ram + 0x100000, a, sizeof(a)), 0);
    ck_assert_int_eq(memcmp(ram + 0x102000, b, sizeof(b)), 0);
    ck_assert_uint_eq(r32(0x8000), VM_MB_HEADER_MAGIC);
}
END_TEST

/* A kernel (or kernel and modules) that leaves no page for the boot
 * information is refused with a clear message; one page is enough. */
START_TEST(test_no_room_for_info)
{
    struct seg s[] = { { 0x8000, 0x8000, 64, RAM_SIZE - 0x8000 } };
    size_t len = build_elf(0x8000, s, 1, 0);
    ck_assert_int_eq(load(len, NULL, NULL, 0), -1);
    ck_assert_str_eq(err, "no room in guest RAM for the boot information (256 bytes at "
                          "0x00400000, above the kernel and modules; RAM ends at 0x00400000, "
                          "try a larger -m)");
    /* Ends 0x80 short of the end of RAM: the next page boundary is the end. */
    struct seg s2[] = { { 0x8000, 0x8000, 64, RAM_SIZE - 0x8000 - 0x80 } };
    len = build_elf(0x8000, s2, 1, 0);
    ck_assert_int_eq(load(len, NULL, NULL, 0), -1);
    ck_assert_ptr_nonnull(strstr(err, "no room in guest RAM for the boot information"));
    /* One page left: the boot information takes it. */
    struct seg s3[] = { { 0x8000, 0x8000, 64, RAM_SIZE - 0x8000 - 0x1000 } };
    len = build_elf(0x8000, s3, 1, 0);
    ck_assert_msg(load(len, "k low", NULL, 0) == 0, "%s", err);
    ck_assert_uint_eq(res.info_addr, RAM_SIZE - 0x1000);
    ck_assert_uint_le(res.info_end, RAM_SIZE);
    assert_info_intact();
    /* Modules that fit, leaving no room after them. */
    struct seg s4[] = { { 0x8000, 0x8000, 64, 0x2000 } };
    len = build_elf(0x8000, s4, 1, 0);
    uint8_t *big = calloc(1, RAM_SIZE);
    struct vm_mb_module mods[1] = { { big, RAM_SIZE - 0x100000 - 0x10, "big" } };
    ck_assert_int_eq(load(len, NULL, mods, 1), -1);
    ck_assert_ptr_nonnull(strstr(err, "no room in guest RAM for the boot information"));
    /* With the kernel above 1 MiB the same modules leave the low place. */
    struct seg s5[] = { { 0x100000, 0x100000, 64, 64 } };
    len = build_elf(0x100000, s5, 1, 0);
    mods[0].len = RAM_SIZE - 0x101000;
    ck_assert_msg(load(len, NULL, mods, 1) == 0, "%s", err);
    ck_assert_uint_eq(res.info_addr, VM_MB_INFO_LOW);
    free(big);
}
END_TEST

START_TEST(test_refuse_bad_segments)
{
    struct seg s[] = { { 0x100000, 0x100000, 64, 32 } };
    size_t len = build_elf(0x100000, s, 1, 0);
    assert_refused(len, "p_filesz > p_memsz");
    struct seg s2[] = { { 0x100000, 0x100000, 64, 64 } };
    len = build_elf(0x100000, s2, 1, 0);
    assert_refused(len - 1, "beyond the end of the file");
    len = build_elf(0x100000, s2, 1, 0);
    put32(img + offsetof(Elf32_Ehdr, e_phoff), 0x10000);
    assert_refused(len, "program headers lie beyond");
}
END_TEST

START_TEST(test_refuse_bad_aout)
{
    size_t len = build_aout(0x200400, 0, 0x200040, 0x100);
    assert_refused(len, "shorter than");
    len = build_aout(0x200100, 0x200080, 0x200040, 0x200);
    assert_refused(len, "bss_end_addr");
    len = build_aout(0x200100, 0, 0x300000, 0x200);
    assert_refused(len, "entry_addr");
    len = build_aout(0, 0, 0x200040, 0x200);
    put32(img + 32 + 16, 0x1f0000); /* load_addr before the file start */
    assert_refused(len, "before the start of the file");
    len = build_aout(0, 0, 0x200040, 0x200);
    put32(img + 32 + 12, 0x500020); /* beyond 4 MiB of RAM */
    put32(img + 32 + 16, 0x500000);
    put32(img + 32 + 28, 0x500040);
    assert_refused(len, "outside guest RAM");
    /* Not ELF, header without address fields. */
    memset(img, 0, 64);
    mb_header(img, 3);
    assert_refused(64, "no address fields");
}
END_TEST

/* The file-reading wrapper: names the file, reads modules, builds cmdline. */
START_TEST(test_load_files)
{
    char dir[] = "/tmp/btvm-mb-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char kpath[64], mpath[64], missing[64];
    snprintf(kpath, sizeof(kpath), "%s/k.elf", dir);
    snprintf(mpath, sizeof(mpath), "%s/m.img", dir);
    snprintf(missing, sizeof(missing), "%s/nope.elf", dir);
    struct seg s[] = { { 0x100000, 0x100000, 64, 64 } };
    size_t len = build_elf(0x100000, s, 1, 0);
    FILE *f = fopen(kpath, "wb");
    fwrite(img, 1, len, f);
    fclose(f);
    f = fopen(mpath, "wb");
    fputs("module!", f);
    fclose(f);

    char list[160];
    snprintf(list, sizeof(list), "%s one two,%s", mpath, mpath);
    ck_assert_int_eq(vm_multiboot_load_files(ram, RAM_SIZE, kpath, "quiet", list, &res, err,
                                             sizeof(err)), 0);
    char want[128];
    snprintf(want, sizeof(want), "%s quiet", kpath);
    ck_assert_str_eq((char *)ram + r32(res.info_addr + VM_MBI_CMDLINE), want);
    ck_assert_uint_eq(r32(res.info_addr + VM_MBI_MODS_COUNT), 2);
    uint32_t ml = r32(res.info_addr + VM_MBI_MODS_ADDR);
    snprintf(want, sizeof(want), "%s one two", mpath);
    ck_assert_str_eq((char *)ram + r32(ml + 8), want);
    ck_assert_str_eq((char *)ram + r32(ml + 24), mpath);
    ck_assert_int_eq(memcmp(ram + r32(ml), "module!", 7), 0);
    ck_assert_uint_eq(r32(ml + 4) - r32(ml), 7);

    ck_assert_int_eq(vm_multiboot_load_files(ram, RAM_SIZE, kpath, NULL, NULL, &res, err,
                                             sizeof(err)), 0);
    ck_assert_str_eq((char *)ram + r32(res.info_addr + VM_MBI_CMDLINE), kpath);

    ck_assert_int_eq(vm_multiboot_load_files(ram, RAM_SIZE, missing, NULL, NULL, &res, err,
                                             sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "cannot open kernel"));
    ck_assert_ptr_nonnull(strstr(err, "nope.elf"));
    ck_assert_int_eq(vm_multiboot_load_files(ram, RAM_SIZE, dir, NULL, NULL, &res, err,
                                             sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "is a directory"));
    ck_assert_int_eq(vm_multiboot_load_files(ram, RAM_SIZE, kpath, NULL, missing, &res, err,
                                             sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "cannot open module"));

    /* Errors from the image name the kernel file. */
    f = fopen(mpath, "wb");
    fputs("plain text", f);
    fclose(f);
    ck_assert_int_eq(vm_multiboot_load_files(ram, RAM_SIZE, mpath, NULL, NULL, &res, err,
                                             sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "m.img"));
    ck_assert_ptr_nonnull(strstr(err, "not an ELF file"));
    ck_assert(!strncmp(err, "btvm: ", 6));

    unlink(kpath);
    unlink(mpath);
    rmdir(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("multiboot");
    TCase *tc = tcase_create("load");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_elf_load);
    tcase_add_test(tc, test_info_fields);
    tcase_add_test(tc, test_no_cmdline);
    tcase_add_test(tc, test_long_cmdline);
    tcase_add_test(tc, test_elf_higher_half);
    tcase_add_test(tc, test_video_flag_ignored);
    tcase_add_test(tc, test_aout_kludge);
    tcase_add_test(tc, test_aout_whole_file);
    tcase_add_test(tc, test_aout_kludge_in_elf64);
    tcase_add_test(tc, test_modules);
    tcase_add_test(tc, test_modules_above_1mib);
    tcase_add_test(tc, test_modules_too_big);
    tcase_add_test(tc, test_refuse_not_elf);
    tcase_add_test(tc, test_refuse_elf64);
    tcase_add_test(tc, test_refuse_machine_and_type);
    tcase_add_test(tc, test_refuse_no_header);
    tcase_add_test(tc, test_refuse_bad_checksum);
    tcase_add_test(tc, test_refuse_unknown_required_flag);
    tcase_add_test(tc, test_refuse_outside_ram);
    tcase_add_test(tc, test_kernel_at_0x8000);
    tcase_add_test(tc, test_low_place_rules);
    tcase_add_test(tc, test_low_kernel_modules);
    tcase_add_test(tc, test_no_room_for_info);
    tcase_add_test(tc, test_refuse_bad_segments);
    tcase_add_test(tc, test_refuse_bad_aout);
    tcase_add_test(tc, test_load_files);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
