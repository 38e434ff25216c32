/*
 * vm/linuxboot.c — loads a Linux bzImage by the 32-bit boot protocol
 * (Documentation/x86/boot.rst, protocol 2.06 or later), as a boot loader
 * that skips the kernel's real-mode setup code would.
 *
 * Owns: recognising a bzImage, checking its setup header, loading the
 * protected-mode part at 1 MiB, placing the initrd, and writing the zero
 * page (struct boot_params: setup header copy, loader fields, command line
 * pointer, e820 map), the boot GDT and the command line into low RAM; and
 * the vcpu's entry state. The e820 map describes btvm's machine: RAM
 * everywhere (one memfd from 0), with the PC's conventional holes
 * (EBDA, VGA/option ROM window, BIOS) kept out of the RAM entries so the
 * kernel treats them as a PC's. docs/linux.md explains the fields.
 */
#include "vm/loadutil.h"
#include "vm/linuxboot.h"
#include "vm/memmap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpu/cpu.h"

#define PAGE 4096u
#define MIB  0x100000ull



static uint64_t align_up(uint64_t v, uint64_t a) { return a ? (v + a - 1) / a * a : v; }

bool vm_linux_is_bzimage(const uint8_t *file, size_t len)
{
    return len >= VM_LBP_VERSION + 2 && vm_rd16(file + VM_LBP_BOOT_FLAG) == 0xAA55 &&
           !memcmp(file + VM_LBP_HEADER, "HdrS", 4);
}

bool vm_linux_probe_file(const char *path)
{
    uint8_t hdr[VM_LBP_VERSION + 2];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return false;
    struct stat st;
    ssize_t n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? pread(fd, hdr, sizeof(hdr), 0) : -1;
    close(fd);
    return n == (ssize_t)sizeof(hdr) && vm_linux_is_bzimage(hdr, sizeof(hdr));
}

/* e820: what btvm's machine has (see the file comment). */
static unsigned build_e820(uint8_t *bp, uint64_t ram_size)
{
    struct vm_mem_range map[VM_MEMMAP_MAX];
    unsigned nmap = vm_memmap(ram_size, map);
    unsigned n = 0;
    for (unsigned i = 0; i < nmap; i++) {
        uint8_t *e = bp + VM_LBP_E820_TABLE + 20 * n++;
        vm_wr64(e, map[i].base);
        vm_wr64(e + 8, map[i].end - map[i].base);
        vm_wr32(e + 16, map[i].type);
    }
    bp[VM_LBP_E820_ENTRIES] = (uint8_t)n;
    return n;
}

/* Flat 4 GiB code (execute/read) and data (read/write), both accessed so
 * nothing writes the table back; granularity 4 KiB, 32-bit. */
static void build_gdt(uint8_t *gdt)
{
    memset(gdt, 0, VM_LINUX_GDT_LIMIT + 1);
    vm_wr64(gdt + VM_LINUX_BOOT_CS, 0x00CF9B000000FFFFull);
    vm_wr64(gdt + VM_LINUX_BOOT_DS, 0x00CF93000000FFFFull);
}

/* Where the kernel lives while it boots: the image as loaded at 1 MiB,
 * and the buffer the decompressor moves itself to and unpacks into
 * (arch/x86/boot/compressed/head_32.S: the load address aligned to
 * kernel_alignment, at least pref_address (LOAD_PHYSICAL_ADDR), plus
 * init_size). Protocols before 2.10 have no init_size: assume 4x. */
static uint64_t kernel_extent(const uint8_t *file, uint16_t ver, uint64_t pm_len,
                              uint64_t *run_at, bool *reloc)
{
    uint64_t run = VM_LINUX_KERNEL, init_size = 4 * pm_len;
    *reloc = ver >= 0x0205 && file[VM_LBP_RELOCATABLE];
    if (ver >= 0x020A) {
        uint64_t pref = vm_rd64(file + VM_LBP_PREF_ADDRESS);
        init_size = vm_rd32(file + VM_LBP_INIT_SIZE);
        run = *reloc ? align_up(VM_LINUX_KERNEL, vm_rd32(file + VM_LBP_KERNEL_ALIGNMENT)) : pref;
        if (run < pref)
            run = pref;
    }
    *run_at = run;
    /* Saturating: a pref_address near 2^64 must not wrap back into RAM. */
    uint64_t end = init_size > UINT64_MAX - run ? UINT64_MAX : run + init_size;
    return end > VM_LINUX_KERNEL + pm_len ? end : VM_LINUX_KERNEL + pm_len;
}

int vm_linux_load(const uint8_t *file, size_t len, uint8_t *ram, uint64_t ram_size,
                  const char *cmdline, const uint8_t *initrd, uint64_t initrd_size,
                  struct vm_linux_result *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (ram_size < 2 * MIB || ram_size > 0xC0000000ull)
        return vm_ld_fail(err, errlen, "guest RAM size %llu is outside 2 MiB..3 GiB",
                    (unsigned long long)ram_size);
    if (!vm_linux_is_bzimage(file, len))
        return vm_ld_fail(err, errlen, "not a Linux bzImage (no \"HdrS\" setup header)");
    uint16_t ver = vm_rd16(file + VM_LBP_VERSION);
    if (ver < VM_LINUX_MIN_VERSION)
        return vm_ld_fail(err, errlen,
                    "Linux boot protocol %u.%02u is too old; btvm needs 2.06 or later",
                    ver >> 8, ver & 0xff);
    /* The whole setup (at least 5 sectors) before any field past the
     * version: vm_linux_is_bzimage saw only the first 0x208 bytes. */
    unsigned setup_sects = file[VM_LBP_SETUP_SECTS] ? file[VM_LBP_SETUP_SECTS] : 4;
    size_t pm_off = ((size_t)setup_sects + 1) * 512;
    if (len <= pm_off)
        return vm_ld_fail(err, errlen, "bzImage is truncated (%zu bytes, setup alone is %zu)", len,
                    pm_off);
    uint8_t loadflags = file[VM_LBP_LOADFLAGS];
    if (!(loadflags & VM_LINUX_LF_LOADED_HIGH))
        return vm_ld_fail(err, errlen, "zImage (loaded below 1 MiB) is not supported; use a bzImage");

    uint64_t pm_len = len - pm_off, run;
    bool reloc;
    uint64_t kend = kernel_extent(file, ver, pm_len, &run, &reloc);
    if (kend > ram_size)
        return vm_ld_fail(err, errlen,
                    "kernel needs %llu MiB of RAM to boot (%s at 0x%llx, up to 0x%llx); "
                    "guest RAM is %llu MiB (try a larger -m)",
                    (unsigned long long)((kend >> 20) + ((kend & (MIB - 1)) != 0)),
                    reloc ? "relocatable, unpacks" : "not relocatable, runs",
                    (unsigned long long)run, (unsigned long long)kend,
                    (unsigned long long)(ram_size >> 20));

    /* The command line's limit is the kernel's (cmdline_size, 2.06+). */
    const char *cl = cmdline ? cmdline : "";
    size_t cl_len = strlen(cl);
    uint32_t cl_max = vm_rd32(file + VM_LBP_CMDLINE_SIZE);
    if (cl_max > VM_LINUX_CMDLINE_END - VM_LINUX_CMDLINE - 1)
        cl_max = VM_LINUX_CMDLINE_END - VM_LINUX_CMDLINE - 1;
    if (cl_len > cl_max)
        return vm_ld_fail(err, errlen, "kernel command line is %zu bytes; this kernel takes at most %u",
                    cl_len, cl_max);

    /* The initrd: highest page-aligned spot the kernel can reach. */
    uint64_t rd_addr = 0;
    if (initrd_size) {
        uint64_t top = (uint64_t)vm_rd32(file + VM_LBP_INITRD_ADDR_MAX) + 1;
        if (top > ram_size)
            top = ram_size;
        uint64_t floor = align_up(kend, PAGE);
        if (initrd_size > top || ((top - initrd_size) & ~(uint64_t)(PAGE - 1)) < floor)
            return vm_ld_fail(err, errlen,
                        "initrd of %llu MiB does not fit in guest RAM between the kernel "
                        "(up to 0x%llx) and 0x%llx (try a larger -m)",
                        (unsigned long long)align_up(initrd_size, MIB) >> 20,
                        (unsigned long long)floor, (unsigned long long)top);
        rd_addr = (top - initrd_size) & ~(uint64_t)(PAGE - 1);
    }

    /* Checked; now write RAM. */
    memcpy(ram + VM_LINUX_KERNEL, file + pm_off, pm_len);
    if (initrd_size && initrd)
        memcpy(ram + rd_addr, initrd, initrd_size);

    uint8_t *bp = ram + VM_LINUX_ZERO_PAGE;
    memset(bp, 0, VM_LBP_SIZE);
    /* The setup header runs from 0x1F1 to the target of the jump at 0x200. */
    size_t hdr_end = VM_LBP_HEADER + file[VM_LBP_JUMP + 1];
    if (hdr_end > VM_LBP_E820_TABLE)
        hdr_end = VM_LBP_E820_TABLE;
    memcpy(bp + VM_LBP_SETUP_SECTS, file + VM_LBP_SETUP_SECTS, hdr_end - VM_LBP_SETUP_SECTS);
    bp[VM_LBP_TYPE_OF_LOADER] = 0xFF; /* undefined loader */
    bp[VM_LBP_LOADFLAGS] = (uint8_t)((loadflags | VM_LINUX_LF_CAN_USE_HEAP) &
                                     ~VM_LINUX_LF_KEEP_SEGMENTS);
    vm_wr16(bp + VM_LBP_HEAP_END_PTR, 0xE000 - 0x200); /* boot.rst's usual heap end */
    vm_wr32(bp + VM_LBP_CMD_LINE_PTR, VM_LINUX_CMDLINE);
    vm_wr32(bp + VM_LBP_RAMDISK_IMAGE, (uint32_t)rd_addr);
    vm_wr32(bp + VM_LBP_RAMDISK_SIZE, (uint32_t)initrd_size);
    vm_wr32(bp + VM_LBP_ALT_MEM_K, (uint32_t)((ram_size - MIB) >> 10));
    build_e820(bp, ram_size);

    memset(ram + VM_LINUX_CMDLINE, 0, VM_LINUX_CMDLINE_END - VM_LINUX_CMDLINE);
    memcpy(ram + VM_LINUX_CMDLINE, cl, cl_len);
    build_gdt(ram + VM_LINUX_GDT);

    /* code32_start is where the loader put the kernel (boot.rst). */
    vm_wr32(bp + VM_LBP_CODE32_START, VM_LINUX_KERNEL);
    out->entry = VM_LINUX_KERNEL;
    out->boot_params = VM_LINUX_ZERO_PAGE;
    out->gdt = VM_LINUX_GDT;
    out->version = ver;
    out->kernel_end = (uint32_t)kend;
    out->initrd_addr = (uint32_t)rd_addr;
    out->initrd_size = (uint32_t)initrd_size;
    return 0;
}

static int read_all(int fd, uint8_t *dst, uint64_t size, const char *what, const char *path,
                    char *err, size_t errlen)
{
    uint64_t got = 0;
    while (got < size) {
        ssize_t n = pread(fd, dst + got, size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return vm_ld_fail(err, errlen, "btvm: cannot read %s '%s': %s", what, path,
                        n < 0 ? strerror(errno) : "file shrank while reading");
        got += (uint64_t)n;
    }
    return 0;
}

int vm_linux_load_files(uint8_t *ram, uint64_t ram_size, const char *kernel,
                        const char *append, const char *initrd, struct vm_linux_result *out,
                        char *err, size_t errlen)
{
    uint64_t klen, ilen = 0;
    int kfd = -1, ifd = -1, r = -1;
    uint8_t *kbuf = NULL;
    char msg[256];

    memset(out, 0, sizeof(*out));
    if ((kfd = vm_ld_open("kernel", kernel, &klen, err, errlen)) < 0)
        return -1;
    if (klen > ram_size) {
        vm_ld_fail(err, errlen, "btvm: kernel '%s' is larger than guest RAM (try a larger -m)", kernel);
        goto out;
    }
    kbuf = malloc(klen ? klen : 1);
    if (!kbuf) {
        vm_ld_fail(err, errlen, "btvm: out of memory reading kernel '%s'", kernel);
        goto out;
    }
    if (read_all(kfd, kbuf, klen, "kernel", kernel, err, errlen))
        goto out;
    if (initrd && (ifd = vm_ld_open("initrd", initrd, &ilen, err, errlen)) < 0)
        goto out;
    if (initrd && ilen == 0) {
        vm_ld_fail(err, errlen, "btvm: initrd '%s' is empty", initrd);
        goto out;
    }
    if (ilen > ram_size) {
        vm_ld_fail(err, errlen, "btvm: initrd '%s' is larger than guest RAM (try a larger -m)", initrd);
        goto out;
    }
    /* The initrd goes straight from the file into guest RAM: it can be
     * hundreds of MiB and a bounce copy would double the host's share. */
    if (vm_linux_load(kbuf, klen, ram, ram_size, append, NULL, ilen, out, msg, sizeof(msg))) {
        if (initrd && strstr(msg, "initrd"))
            vm_ld_fail(err, errlen, "btvm: initrd '%s': %s", initrd, msg);
        else
            vm_ld_fail(err, errlen, "btvm: kernel '%s': %s", kernel, msg);
        goto out;
    }
    if (ilen && read_all(ifd, ram + out->initrd_addr, ilen, "initrd", initrd, err, errlen))
        goto out;
    r = 0;
out:
    free(kbuf);
    if (kfd >= 0)
        close(kfd);
    if (ifd >= 0)
        close(ifd);
    return r;
}

void vm_linux_cpu_entry(struct cpu *c, const struct vm_linux_result *r)
{
    /* Flat 32-bit protected mode, CPL 0, IF=0, registers 0; then the
     * selectors the protocol names, backed by the loader's GDT so a
     * reload of the same selector gives the same segment. */
    cpu_reset_flat32(c);
    c->segs[CPU_CS].sel = VM_LINUX_BOOT_CS;
    for (int i = 0; i < CPU_NSEG; i++)
        if (i != CPU_CS)
            c->segs[i].sel = VM_LINUX_BOOT_DS;
    c->gdtr.base = r->gdt;
    c->gdtr.limit = VM_LINUX_GDT_LIMIT;
    /* No IDT: a fault before the kernel sets up its own is a clean
     * triple fault rather than a jump through zeros. */
    c->idtr.base = 0;
    c->idtr.limit = 0;
    c->regs[CPU_ESI] = r->boot_params;
    c->eip = r->entry;
}
