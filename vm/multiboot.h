/*
 * vm/multiboot.h — the Multiboot v1 loader (spec 0.6.96).
 *
 * vm_multiboot_load() works on a file image already in memory and a RAM
 * buffer, so it is testable without a machine; vm_multiboot_load_files()
 * reads the kernel and the -initrd modules from disk and calls it.
 *
 * Guest-physical layout it produces (docs/machine.md):
 *   kernel              where its ELF p_paddr / a.out kludge says (anywhere
 *                       in RAM)
 *   modules             page-aligned, after max(kernel end, 1 MiB)
 *   boot information    info struct, memory map, loader name, command line,
 *                       module list and strings, in one block that overlaps
 *                       nothing loaded: at 0x9000 if it fits below 0x9FC00
 *                       and the kernel's extent does not reach into it,
 *                       else at the first page boundary above the kernel,
 *                       1 MiB and the modules (still inside RAM, or the
 *                       kernel is refused)
 */
#ifndef BTVM_VM_MULTIBOOT_H
#define BTVM_VM_MULTIBOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VM_MB_HEADER_MAGIC 0x1BADB002u
#define VM_MB_BOOT_MAGIC   0x2BADB002u /* in EAX at kernel entry */
#define VM_MB_SEARCH_LEN   8192u
#define VM_MB_INFO_LOW     0x9000u    /* the boot information's first choice */
#define VM_MB_INFO_LOW_END 0x9FC00u   /* ... if it ends by here (the EBDA) */
#define VM_MB_MAX_MODS     64u

/* Multiboot information flags (what btvm fills). */
#define VM_MB_INFO_MEMORY   (1u << 0)
#define VM_MB_INFO_CMDLINE  (1u << 2)
#define VM_MB_INFO_MODS     (1u << 3)
#define VM_MB_INFO_MMAP     (1u << 6)
#define VM_MB_INFO_LOADER   (1u << 9)

/* Byte offsets in struct multiboot_info (spec 3.3). */
enum {
    VM_MBI_FLAGS = 0, VM_MBI_MEM_LOWER = 4, VM_MBI_MEM_UPPER = 8, VM_MBI_CMDLINE = 16,
    VM_MBI_MODS_COUNT = 20, VM_MBI_MODS_ADDR = 24, VM_MBI_MMAP_LENGTH = 44,
    VM_MBI_MMAP_ADDR = 48, VM_MBI_LOADER_NAME = 64, VM_MBI_SIZE = 116,
};

struct vm_mb_module {
    const uint8_t *data;
    size_t len;
    const char *string;   /* the module's command line (file name + args) */
};

struct vm_mb_result {
    uint32_t entry;       /* guest-physical entry point (EIP) */
    uint32_t info_addr;   /* guest-physical multiboot_info (EBX) */
    uint32_t info_end;    /* the boot information is [info_addr, info_end) */
    uint32_t kernel_start, kernel_end; /* loaded image incl. bss, [start, end) */
    uint32_t mods_end;    /* end of the last module, or kernel_end */
    bool aout_kludge;     /* loaded through header address fields, not ELF */
};

/* Load the kernel image file[0..len) into ram and build the boot
 * information. cmdline may be NULL (then no cmdline flag). Returns 0, or -1
 * with one line in err (no "btvm:" prefix, no file name). */
int vm_multiboot_load(const uint8_t *file, size_t len, uint8_t *ram, uint64_t ram_size,
                      const char *cmdline, const struct vm_mb_module *mods, unsigned nmods,
                      struct vm_mb_result *out, char *err, size_t errlen);

/* Read kernel (and initrd: a comma-separated list of "FILE[ ARGS]" items)
 * and load them. The kernel's command line is "KERNEL APPEND" as GRUB
 * builds it. Returns 0, or -1 with one line "btvm: ..." in err. */
int vm_multiboot_load_files(uint8_t *ram, uint64_t ram_size, const char *kernel,
                            const char *append, const char *initrd, struct vm_mb_result *out,
                            char *err, size_t errlen);

#endif
