/*
 * fuzz/loaders.c — the kernel loaders on hostile files: Multiboot ELF and
 * a.out-kludge kernels with modules (vm/multiboot.c), Linux bzImages with
 * an initrd (vm/linuxboot.c), either from memory or through the files
 * path a command line takes (vm/loadutil.c, the -initrd "FILE ARGS,..."
 * list), into guest RAM buffers of exactly the machine's size so ASan sees
 * a store past its end. A successful load must also describe a layout
 * that lies inside RAM.
 *
 * Input: a mode byte (loader, memory or files, RAM size), the command
 * line, the modules or initrd, then the kernel file (the rest).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz/fz.h"
#include "vm/linuxboot.h"
#include "vm/multiboot.h"

static const uint64_t ram_sizes[4] = { 2u << 20, (2u << 20) + 0x1234, 5u << 20, 16u << 20 };
static uint8_t *rams[4];

static void check_in_ram(const char *what, uint64_t a, uint64_t b, uint64_t ram_size)
{
    if (a > b || b > ram_size)
        fz_bug("%s 0x%llx..0x%llx reported outside RAM of 0x%llx", what, (unsigned long long)a,
               (unsigned long long)b, (unsigned long long)ram_size);
}

static const char *put_file(const char *name, const uint8_t *p, size_t len)
{
    static char paths[8][128];
    static unsigned n;
    char *path = paths[n++ & 7];
    snprintf(path, 128, "%s/%s", fz_scratch_dir(), name);
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, p, len) != (ssize_t)len)
        fz_bug("cannot write %s", path);
    close(fd);
    return path;
}

static void check_mb(const struct vm_mb_result *r, uint64_t ram_size)
{
    check_in_ram("kernel", r->kernel_start, r->kernel_end, ram_size);
    check_in_ram("boot information", r->info_addr, r->info_end, ram_size);
    check_in_ram("modules", 0, r->mods_end, ram_size);
    if (r->entry >= ram_size)
        fz_bug("entry 0x%x outside RAM", r->entry);
    /* multiboot.h: the boot information overlaps nothing loaded. */
    if (r->info_addr < r->kernel_end && r->kernel_start < r->info_end)
        fz_bug("boot information 0x%x..0x%x overlaps the kernel 0x%x..0x%x", r->info_addr,
               r->info_end, r->kernel_start, r->kernel_end);
    uint32_t mods_start = r->kernel_end > 0x100000 ? r->kernel_end : 0x100000;
    if (r->mods_end > mods_start && r->info_addr < r->mods_end && r->info_end > mods_start)
        fz_bug("boot information 0x%x..0x%x overlaps the modules up to 0x%x", r->info_addr,
               r->info_end, r->mods_end);
}

static void check_linux(const struct vm_linux_result *r, uint64_t ram_size)
{
    check_in_ram("kernel", VM_LINUX_KERNEL, r->kernel_end, ram_size);
    check_in_ram("initrd", r->initrd_addr, (uint64_t)r->initrd_addr + r->initrd_size, ram_size);
    if (r->initrd_size && r->initrd_addr < r->kernel_end)
        fz_bug("initrd at 0x%x overlaps the kernel up to 0x%x", r->initrd_addr, r->kernel_end);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_in in = { data, size };
    uint8_t mode = fz_u8(&in);
    unsigned rs = mode >> 4 & 3;
    if (!rams[rs] && !(rams[rs] = malloc(ram_sizes[rs])))
        fz_bug("no memory for RAM");
    uint8_t *ram = rams[rs];
    uint64_t ram_size = ram_sizes[rs];
    bool linux = mode & 1, files = mode & 2;
    char err[512];

    /* Command line (NUL-free copy; absent when its length byte is 0xFF). */
    uint8_t cl_len = fz_u8(&in);
    const uint8_t *p;
    char cmdline[256];
    size_t n = fz_take(&in, cl_len == 0xff ? 0 : cl_len, &p);
    memcpy(cmdline, p, n);
    cmdline[n] = 0;
    const char *cl = cl_len == 0xff ? NULL : cmdline;

    /* Modules (Multiboot: count, then each: length, string, bytes) or the
     * initrd (Linux: length, bytes). */
    struct vm_mb_module mods[6];
    char mstr[6][64];
    unsigned nmods = linux ? 1 : fz_u8(&in) % 6;
    for (unsigned i = 0; i < nmods; i++) {
        uint32_t len = fz_u32(&in) % (1u << 20);
        size_t sl = fz_take(&in, fz_u8(&in) % 48, &p);
        memcpy(mstr[i], p, sl);
        mstr[i][sl] = 0;
        /* The module's bytes: what the input has, the rest of len zeroes. */
        const uint8_t *mp;
        size_t have = fz_take(&in, len < 4096 ? len : 4096, &mp);
        uint8_t *buf = calloc(1, len ? len : 1);
        if (!buf)
            fz_bug("no memory");
        memcpy(buf, mp, have);
        mods[i] = (struct vm_mb_module){ buf, len, mstr[i] };
    }
    const uint8_t *kernel;
    size_t klen = fz_take(&in, SIZE_MAX, &kernel);

    if (!files) {
        if (linux) {
            struct vm_linux_result r;
            /* Mode bit 2: the caller copies the initrd itself (load_files). */
            if (vm_linux_load(kernel, klen, ram, ram_size, cl, mode & 4 ? NULL : mods[0].data,
                              mods[0].len, &r, err, sizeof(err)) == 0)
                check_linux(&r, ram_size);
        } else {
            struct vm_mb_result r;
            if (vm_multiboot_load(kernel, klen, ram, ram_size, cl, mods, nmods, &r, err,
                                  sizeof(err)) == 0)
                check_mb(&r, ram_size);
        }
    } else {
        int fd0 = fz_lowest_fd();
        const char *kpath = put_file("kernel", kernel, klen);
        char list[6 * 256] = "";
        const char *first = NULL;
        for (unsigned i = 0; i < nmods; i++) {
            char name[16];
            snprintf(name, sizeof(name), "m%u", i);
            const char *mpath = put_file(name, mods[i].data, mods[i].len);
            if (!i)
                first = mpath;
            /* The module string after the name: its arguments as given. */
            size_t at = strlen(list);
            snprintf(list + at, sizeof(list) - at, "%s%s%s%s", i ? "," : "", mpath,
                     mstr[i][0] ? " " : "", mstr[i]);
        }
        if (linux) {
            struct vm_linux_result r;
            if (vm_linux_load_files(ram, ram_size, kpath, cl, mods[0].len ? first : NULL,
                                    &r, err, sizeof(err)) == 0)
                check_linux(&r, ram_size);
        } else {
            struct vm_mb_result r;
            if (vm_multiboot_load_files(ram, ram_size, kpath, cl, nmods ? list : NULL, &r, err,
                                        sizeof(err)) == 0)
                check_mb(&r, ram_size);
        }
        fz_check_fds(fd0, "a loader");
    }
    for (unsigned i = 0; i < nmods; i++)
        free((void *)mods[i].data);
    return 0;
}
