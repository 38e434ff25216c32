/*
 * vm/multiboot.c — loads a Multiboot v1 kernel (spec 0.6.96) into guest RAM.
 *
 * Owns: finding and checking the Multiboot header, loading either through
 * the header's address fields (the "a.out kludge", flags bit 16) or from
 * ELF32 PT_LOAD segments, placing modules, and writing the boot information
 * (memory sizes, memory map, command line, modules, loader name). Every way
 * a file can be wrong ends in one line that names the problem; nothing here
 * touches the CPU or the devices.
 *
 * Where the boot information goes (all of it in one block, info struct
 * first): at 0x9000 when the whole block fits below 0x9FC00 (the EBDA) and
 * the kernel's extent (lowest to highest loaded byte) does not overlap it;
 * otherwise at the first page boundary above everything loaded, i.e. above
 * max(kernel end, 1 MiB) and the last module, which keeps it out of
 * 0xA0000-0xFFFFF too. It must end inside RAM, or the kernel is refused
 * ("no room in guest RAM for the boot information"). Modules never lie
 * below 1 MiB, so only the kernel can be in the way of the low place.
 */
#include "vm/loadutil.h"
#include "vm/multiboot.h"
#include "vm/memmap.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MB_FLAG_PAGE_ALIGN (1u << 0)
#define MB_FLAG_MEMINFO    (1u << 1)
#define MB_FLAG_VIDEO      (1u << 2)
#define MB_FLAG_AOUT       (1u << 16)
/* Bits 0-15 are requirements: a loader must refuse ones it does not know.
 * Video mode (bit 2) is accepted and ignored, as QEMU does: btvm has no
 * display and the kernel sees no VBE/framebuffer flag in the info. */
#define MB_FLAGS_KNOWN     (MB_FLAG_PAGE_ALIGN | MB_FLAG_MEMINFO | MB_FLAG_VIDEO)

#define PAGE 4096u
#define MIB  0x100000u



/* [a, a+n) overlaps [b, c)? */
static bool overlaps(uint64_t a, uint64_t n, uint64_t b, uint64_t c)
{
    return n && a < c && b < a + n;
}

/* Where a piece of the kernel may go: inside RAM. (The boot information
 * goes where the kernel is not, so it constrains nothing.) */
static int check_range(uint64_t addr, uint64_t n, uint64_t ram_size, const char *what,
                       char *err, size_t errlen)
{
    if (addr + n > ram_size)
        return vm_ld_fail(err, errlen,
                    "%s at 0x%08llx..0x%08llx is outside guest RAM (%llu MiB; try a larger -m)",
                    what, (unsigned long long)addr, (unsigned long long)(addr + n),
                    (unsigned long long)(ram_size >> 20));
    return 0;
}

/* Finds the first valid header; *bad_off is set if a magic with a wrong
 * checksum was seen (to say "bad checksum" instead of "no header"). */
static long find_header(const uint8_t *file, size_t len, long *bad_off)
{
    size_t lim = len < VM_MB_SEARCH_LEN ? len : VM_MB_SEARCH_LEN;
    *bad_off = -1;
    for (size_t off = 0; off + 12 <= lim; off += 4) {
        if (vm_rd32(file + off) != VM_MB_HEADER_MAGIC)
            continue;
        uint32_t sum = VM_MB_HEADER_MAGIC + vm_rd32(file + off + 4) + vm_rd32(file + off + 8);
        if (sum == 0)
            return (long)off;
        if (*bad_off < 0)
            *bad_off = (long)off;
    }
    return -1;
}

static const char *machine_name(unsigned m)
{
    switch (m) {
    case EM_X86_64: return "x86-64";
    case EM_ARM: return "ARM";
    case EM_AARCH64: return "AArch64";
    case EM_RISCV: return "RISC-V";
    case EM_PPC: return "PowerPC";
    case EM_MIPS: return "MIPS";
    default: return "not i386";
    }
}

/* Class, byte order, machine, type: the questions whose answer makes a file
 * hopeless whatever its Multiboot header says. */
static int check_elf_kind(const uint8_t *file, size_t len, char *err, size_t errlen)
{
    if (len < EI_NIDENT + 4)
        return vm_ld_fail(err, errlen, "ELF file is truncated");
    if (file[EI_CLASS] == ELFCLASS64)
        return vm_ld_fail(err, errlen,
                    "64-bit ELF (ELFCLASS64); btvm runs 32-bit x86 Multiboot kernels");
    if (file[EI_CLASS] != ELFCLASS32)
        return vm_ld_fail(err, errlen, "ELF file of unknown class %u", file[EI_CLASS]);
    if (len < sizeof(Elf32_Ehdr))
        return vm_ld_fail(err, errlen, "ELF file is truncated");
    if (file[EI_DATA] != ELFDATA2LSB)
        return vm_ld_fail(err, errlen, "big-endian ELF file; btvm runs 32-bit x86 kernels");
    Elf32_Ehdr eh;
    memcpy(&eh, file, sizeof(eh));
    if (eh.e_machine != EM_386)
        return vm_ld_fail(err, errlen, "ELF file for machine %u (%s); btvm runs i386 (EM_386) kernels",
                    eh.e_machine, machine_name(eh.e_machine));
    if (eh.e_type != ET_EXEC)
        return vm_ld_fail(err, errlen,
                    "ELF file of type %u is not an executable (ET_EXEC); link the kernel "
                    "at a fixed address", eh.e_type);
    return 0;
}

static int load_elf(const uint8_t *file, size_t len, uint8_t *ram, uint64_t ram_size,
                    struct vm_mb_result *out, char *err, size_t errlen)
{
    Elf32_Ehdr eh;
    memcpy(&eh, file, sizeof(eh));
    if (eh.e_phnum == 0)
        return vm_ld_fail(err, errlen, "ELF file has no program headers");
    if (eh.e_phentsize != sizeof(Elf32_Phdr))
        return vm_ld_fail(err, errlen, "ELF program header size %u, expected %zu", eh.e_phentsize,
                    sizeof(Elf32_Phdr));
    if ((uint64_t)eh.e_phoff + (uint64_t)eh.e_phnum * sizeof(Elf32_Phdr) > len)
        return vm_ld_fail(err, errlen, "ELF program headers lie beyond the end of the file");

    /* Check every segment before copying any: a bad file leaves RAM alone. */
    uint64_t lo = UINT64_MAX, hi = 0;
    for (unsigned pass = 0; pass < 2; pass++) {
        for (unsigned i = 0; i < eh.e_phnum; i++) {
            Elf32_Phdr ph;
            memcpy(&ph, file + eh.e_phoff + (size_t)i * sizeof(ph), sizeof(ph));
            if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
                continue;
            if (pass == 0) {
                char what[48];
                if (ph.p_filesz > ph.p_memsz)
                    return vm_ld_fail(err, errlen, "ELF segment %u has p_filesz > p_memsz", i);
                if ((uint64_t)ph.p_offset + ph.p_filesz > len)
                    return vm_ld_fail(err, errlen, "ELF segment %u lies beyond the end of the file",
                                i);
                snprintf(what, sizeof(what), "ELF segment %u", i);
                if (check_range(ph.p_paddr, ph.p_memsz, ram_size, what, err, errlen))
                    return -1;
                if (ph.p_paddr < lo)
                    lo = ph.p_paddr;
                if ((uint64_t)ph.p_paddr + ph.p_memsz > hi)
                    hi = (uint64_t)ph.p_paddr + ph.p_memsz;
            } else {
                memcpy(ram + ph.p_paddr, file + ph.p_offset, ph.p_filesz);
                memset(ram + ph.p_paddr + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
            }
        }
        if (pass == 0 && hi == 0)
            return vm_ld_fail(err, errlen, "ELF file has no loadable segments");
    }

    /* Higher-half kernels link e_entry at a virtual address; like GRUB 2,
     * enter at the physical address of the segment that holds it. */
    uint32_t entry = eh.e_entry;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf32_Phdr ph;
        memcpy(&ph, file + eh.e_phoff + (size_t)i * sizeof(ph), sizeof(ph));
        if (ph.p_type == PT_LOAD && eh.e_entry >= ph.p_vaddr &&
            eh.e_entry - ph.p_vaddr < ph.p_memsz) {
            entry = eh.e_entry - ph.p_vaddr + ph.p_paddr;
            break;
        }
    }
    out->entry = entry;
    out->kernel_start = (uint32_t)lo;
    out->kernel_end = (uint32_t)hi;
    out->aout_kludge = false;
    return 0;
}

static int load_aout(const uint8_t *file, size_t len, size_t hoff, uint8_t *ram,
                     uint64_t ram_size, struct vm_mb_result *out, char *err, size_t errlen)
{
    if (hoff + 32 > len)
        return vm_ld_fail(err, errlen, "Multiboot header is truncated (address fields missing)");
    uint32_t header_addr = vm_rd32(file + hoff + 12), load_addr = vm_rd32(file + hoff + 16);
    uint32_t load_end = vm_rd32(file + hoff + 20), bss_end = vm_rd32(file + hoff + 24);
    uint32_t entry = vm_rd32(file + hoff + 28);

    if (load_addr > header_addr)
        return vm_ld_fail(err, errlen, "Multiboot header: load_addr 0x%08x is above header_addr 0x%08x",
                    load_addr, header_addr);
    if (header_addr - load_addr > hoff)
        return vm_ld_fail(err, errlen,
                    "Multiboot header: load_addr 0x%08x lies before the start of the file",
                    load_addr);
    size_t foff = hoff - (header_addr - load_addr);
    uint64_t size;
    if (load_end == 0) {
        size = len - foff;
    } else {
        if (load_end < load_addr)
            return vm_ld_fail(err, errlen,
                        "Multiboot header: load_end_addr 0x%08x is below load_addr 0x%08x",
                        load_end, load_addr);
        size = load_end - load_addr;
        if (foff + size > len)
            return vm_ld_fail(err, errlen,
                        "file is shorter than the Multiboot header's load_end_addr 0x%08x needs",
                        load_end);
    }
    uint64_t end = (uint64_t)load_addr + size;
    uint64_t bend = end;
    if (bss_end != 0) {
        if (bss_end < end)
            return vm_ld_fail(err, errlen,
                        "Multiboot header: bss_end_addr 0x%08x is below the loaded image's end "
                        "0x%08llx", bss_end, (unsigned long long)end);
        bend = bss_end;
    }
    if (check_range(load_addr, bend - load_addr, ram_size, "kernel image", err, errlen))
        return -1;
    if (entry < load_addr || entry >= bend)
        return vm_ld_fail(err, errlen,
                    "Multiboot header: entry_addr 0x%08x is outside the loaded image "
                    "0x%08x..0x%08llx", entry, load_addr, (unsigned long long)bend);
    memcpy(ram + load_addr, file + foff, size);
    memset(ram + end, 0, bend - end);
    out->entry = entry;
    out->kernel_start = load_addr;
    out->kernel_end = (uint32_t)bend;
    out->aout_kludge = true;
    return 0;
}

/* Bump allocator for the boot information: 16-byte aligned items from
 * next on. With ram NULL it only measures (next starts at 0). */
struct info_area {
    uint8_t *ram;
    uint64_t next;
};

static uint64_t info_alloc(struct info_area *a, uint64_t n)
{
    uint64_t at = (a->next + 15) & ~(uint64_t)15;
    a->next = at + n;
    return at;
}

static uint64_t info_string(struct info_area *a, const char *s)
{
    size_t n = strlen(s) + 1;
    uint64_t at = info_alloc(a, n);
    if (a->ram)
        memcpy(a->ram + at, s, n);
    return at;
}

static void mmap_entry(uint8_t *p, uint64_t base, uint64_t len, uint32_t type)
{
    vm_wr32(p, 20); /* size of the entry not counting this field */
    vm_wr64(p + 4, base);
    vm_wr64(p + 12, len);
    vm_wr32(p + 20, type);
}

/* The boot information, in this order: the info struct, the memory map, the
 * loader name, the command line, the module list, the module strings. The
 * caller zeroed [a->next, end) when a->ram is set; the measuring pass (ram
 * NULL) gives the same size, every item being 16-byte aligned relative to a
 * 16-byte aligned start. Returns the info struct's address. */
static uint64_t lay_out_info(struct info_area *a, uint64_t ram_size, const char *cmdline,
                             const struct vm_mb_module *mods, unsigned nmods,
                             const uint64_t *mod_at)
{
    uint8_t *ram = a->ram;
    uint64_t info = info_alloc(a, VM_MBI_SIZE);
    uint64_t mm = info_alloc(a, VM_MEMMAP_MAX * 24);
    uint64_t name = info_string(a, "btvm");
    uint64_t cl = cmdline ? info_string(a, cmdline) : 0;
    uint64_t ml = info_alloc(a, nmods ? 16 * (uint64_t)nmods : 16);
    for (unsigned i = 0; i < nmods; i++) {
        uint64_t s = info_string(a, mods[i].string ? mods[i].string : "");
        if (ram) {
            vm_wr32(ram + ml + 16 * i, (uint32_t)mod_at[i]);
            vm_wr32(ram + ml + 16 * i + 4, (uint32_t)(mod_at[i] + mods[i].len));
            vm_wr32(ram + ml + 16 * i + 8, (uint32_t)s);
        }
    }
    if (!ram)
        return info;

    uint8_t *mbi = ram + info;
    uint32_t flags = VM_MB_INFO_MEMORY | VM_MB_INFO_MODS | VM_MB_INFO_MMAP | VM_MB_INFO_LOADER;
    /* The machine's map (vm/memmap.c); conventional memory ends where the
     * first RAM range does, at the EBDA. */
    struct vm_mem_range map[VM_MEMMAP_MAX];
    unsigned nmap = vm_memmap(ram_size, map);
    vm_wr32(mbi + VM_MBI_MEM_LOWER, (uint32_t)(map[0].end / 1024));
    vm_wr32(mbi + VM_MBI_MEM_UPPER, (uint32_t)((ram_size - MIB) / 1024));
    for (unsigned i = 0; i < nmap; i++)
        mmap_entry(ram + mm + 24 * i, map[i].base, map[i].end - map[i].base, map[i].type);
    vm_wr32(mbi + VM_MBI_MMAP_ADDR, (uint32_t)mm);
    vm_wr32(mbi + VM_MBI_MMAP_LENGTH, 24 * nmap);
    vm_wr32(mbi + VM_MBI_LOADER_NAME, (uint32_t)name);
    if (cmdline) {
        vm_wr32(mbi + VM_MBI_CMDLINE, (uint32_t)cl);
        flags |= VM_MB_INFO_CMDLINE;
    }
    vm_wr32(mbi + VM_MBI_MODS_COUNT, nmods);
    vm_wr32(mbi + VM_MBI_MODS_ADDR, (uint32_t)ml);
    vm_wr32(mbi + VM_MBI_FLAGS, flags);
    return info;
}

/* Modules go page-aligned after max(kernel end, 1 MiB); then the boot
 * information goes where nothing loaded lies (see multiboot.h). */
static int build_info(uint8_t *ram, uint64_t ram_size, const char *cmdline,
                      const struct vm_mb_module *mods, unsigned nmods, struct vm_mb_result *out,
                      char *err, size_t errlen)
{
    uint64_t mod_at[VM_MB_MAX_MODS];

    if (nmods > VM_MB_MAX_MODS)
        return vm_ld_fail(err, errlen, "too many modules (%u; at most %u)", nmods, VM_MB_MAX_MODS);
    uint64_t at = out->kernel_end > MIB ? out->kernel_end : MIB;
    for (unsigned i = 0; i < nmods; i++) {
        at = (at + PAGE - 1) & ~(uint64_t)(PAGE - 1);
        if (mods[i].len > ram_size || at > ram_size - mods[i].len)
            return vm_ld_fail(err, errlen,
                        "modules do not fit in guest RAM (%llu MiB; try a larger -m)",
                        (unsigned long long)(ram_size >> 20));
        mod_at[i] = at;
        at += mods[i].len;
    }
    for (unsigned i = 0; i < nmods; i++)
        memcpy(ram + mod_at[i], mods[i].data, mods[i].len);
    out->mods_end = nmods ? (uint32_t)at : out->kernel_end;

    struct info_area a = { NULL, 0 };
    lay_out_info(&a, ram_size, cmdline, mods, nmods, mod_at);
    uint64_t size = a.next, base = VM_MB_INFO_LOW;
    if (size > VM_MB_INFO_LOW_END - VM_MB_INFO_LOW ||
        overlaps(VM_MB_INFO_LOW, size, out->kernel_start, out->kernel_end)) {
        /* Above everything loaded: at is the highest loaded byte + 1 (the
         * last module's end, or max(kernel end, 1 MiB)). */
        base = (at + PAGE - 1) & ~(uint64_t)(PAGE - 1);
        if (base > ram_size || size > ram_size - base)
            return vm_ld_fail(err, errlen,
                        "no room in guest RAM for the boot information (%llu bytes at "
                        "0x%08llx, above the kernel and modules; RAM ends at 0x%08llx, "
                        "try a larger -m)", (unsigned long long)size,
                        (unsigned long long)base, (unsigned long long)ram_size);
    }
    memset(ram + base, 0, size);
    a = (struct info_area){ ram, base };
    out->info_addr = (uint32_t)lay_out_info(&a, ram_size, cmdline, mods, nmods, mod_at);
    out->info_end = (uint32_t)(base + size);
    return 0;
}

int vm_multiboot_load(const uint8_t *file, size_t len, uint8_t *ram, uint64_t ram_size,
                      const char *cmdline, const struct vm_mb_module *mods, unsigned nmods,
                      struct vm_mb_result *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (ram_size < 2 * MIB || ram_size > 0xC0000000ull)
        return vm_ld_fail(err, errlen, "guest RAM size %llu is outside 2 MiB..3 GiB",
                    (unsigned long long)ram_size);
    if (len == 0)
        return vm_ld_fail(err, errlen, "file is empty");

    long bad_off;
    long hoff = find_header(file, len, &bad_off);
    bool is_elf = len >= SELFMAG && !memcmp(file, ELFMAG, SELFMAG);
    uint32_t hflags = hoff >= 0 ? vm_rd32(file + hoff + 4) : 0;

    /* An ELF file that cannot be an i386 kernel says so first: a 64-bit
     * program has no header either, but "64-bit" is the useful answer. */
    if (is_elf && !(hoff >= 0 && (hflags & MB_FLAG_AOUT))) {
        if (check_elf_kind(file, len, err, errlen))
            return -1;
    }
    if (hoff < 0) {
        if (bad_off >= 0)
            return vm_ld_fail(err, errlen, "Multiboot header at offset %ld has a bad checksum",
                        bad_off);
        if (!is_elf)
            return vm_ld_fail(err, errlen,
                        "not an ELF file and no Multiboot header in its first %u bytes",
                        VM_MB_SEARCH_LEN);
        return vm_ld_fail(err, errlen, "no Multiboot header in the first %u bytes", VM_MB_SEARCH_LEN);
    }
    if (hflags & 0xffffu & ~MB_FLAGS_KNOWN)
        return vm_ld_fail(err, errlen,
                    "Multiboot header requires features btvm does not provide (flags 0x%08x)",
                    hflags);

    int r;
    if (hflags & MB_FLAG_AOUT)
        r = load_aout(file, len, (size_t)hoff, ram, ram_size, out, err, errlen);
    else if (!is_elf)
        return vm_ld_fail(err, errlen,
                    "not an ELF file and its Multiboot header has no address fields (flags bit 16)");
    else
        r = load_elf(file, len, ram, ram_size, out, err, errlen);
    if (r)
        return r;
    if (out->entry >= ram_size)
        return vm_ld_fail(err, errlen, "entry point 0x%08x is outside guest RAM", out->entry);
    return build_info(ram, ram_size, cmdline, mods, nmods, out, err, errlen);
}

/* Reads a whole regular file. FIFOs and devices are refused without
 * blocking (O_NONBLOCK), directories by fstat. */
static int read_file(const char *what, const char *path, uint64_t max, uint8_t **buf,
                     size_t *len, char *err, size_t errlen)
{
    *buf = NULL;
    *len = 0;
    uint64_t size;
    int fd = vm_ld_open(what, path, &size, err, errlen);
    if (fd < 0)
        return -1;
    if (size > max) {
        close(fd);
        return vm_ld_fail(err, errlen, "btvm: %s '%s' is larger than guest RAM (try a larger -m)",
                    what, path);
    }
    uint8_t *b = malloc(size ? (size_t)size : 1);
    if (!b) {
        close(fd);
        return vm_ld_fail(err, errlen, "btvm: out of memory reading %s '%s'", what, path);
    }
    size_t got = 0;
    while (got < (size_t)size) {
        ssize_t n = read(fd, b + got, (size_t)size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            free(b);
            close(fd);
            return vm_ld_fail(err, errlen, "btvm: cannot read %s '%s': %s", what, path,
                        n < 0 ? strerror(e) : "file shrank while reading");
        }
        got += (size_t)n;
    }
    close(fd);
    *buf = b;
    *len = got;
    return 0;
}

int vm_multiboot_load_files(uint8_t *ram, uint64_t ram_size, const char *kernel,
                            const char *append, const char *initrd, struct vm_mb_result *out,
                            char *err, size_t errlen)
{
    struct vm_mb_module mods[VM_MB_MAX_MODS];
    uint8_t *kbuf = NULL;
    char *list = NULL, *cmdline = NULL;
    unsigned nmods = 0;
    size_t klen;
    int r = -1;

    memset(mods, 0, sizeof(mods));
    if (read_file("kernel", kernel, ram_size, &kbuf, &klen, err, errlen))
        return -1;

    if (initrd) {
        list = strdup(initrd);
        if (!list) {
            vm_ld_fail(err, errlen, "btvm: out of memory");
            goto out;
        }
        /* QEMU's syntax: "file1 args,file2 args"; the module string is the
         * whole item, the file name its first word. */
        for (char *save = NULL, *item = strtok_r(list, ",", &save); item;
             item = strtok_r(NULL, ",", &save)) {
            if (nmods == VM_MB_MAX_MODS) {
                vm_ld_fail(err, errlen, "btvm: too many -initrd modules (at most %u)", VM_MB_MAX_MODS);
                goto out;
            }
            char *path = strndup(item, strcspn(item, " "));
            if (!path) {
                vm_ld_fail(err, errlen, "btvm: out of memory");
                goto out;
            }
            uint8_t *mb;
            size_t mlen;
            int e = read_file("module", path, ram_size, &mb, &mlen, err, errlen);
            free(path);
            if (e)
                goto out;
            mods[nmods].data = mb;
            mods[nmods].len = mlen;
            mods[nmods].string = item;
            nmods++;
        }
    }

    size_t clen = strlen(kernel) + (append ? strlen(append) : 0) + 2;
    cmdline = malloc(clen);
    if (!cmdline) {
        vm_ld_fail(err, errlen, "btvm: out of memory");
        goto out;
    }
    if (append && *append)
        snprintf(cmdline, clen, "%s %s", kernel, append);
    else
        snprintf(cmdline, clen, "%s", kernel);

    char msg[256];
    if (vm_multiboot_load(kbuf, klen, ram, ram_size, cmdline, mods, nmods, out, msg,
                          sizeof(msg))) {
        vm_ld_fail(err, errlen, "btvm: kernel '%s': %s", kernel, msg);
        goto out;
    }
    r = 0;
out:
    for (unsigned i = 0; i < nmods; i++)
        free((void *)mods[i].data);
    free(list);
    free(cmdline);
    free(kbuf);
    return r;
}
