/*
 * vm/linuxboot.h — the Linux/x86 32-bit boot protocol loader (bzImage,
 * protocol 2.06 or later; Documentation/x86/boot.rst). docs/linux.md.
 *
 * vm_linux_load() works on images already in memory and a RAM buffer, so
 * it is testable without a machine; vm_linux_load_files() reads the files
 * (the initrd straight into guest RAM) and calls it.
 *
 * Guest-physical layout it produces:
 *   0x10000 .. 0x11000   struct boot_params (the "zero page"), ESI at entry
 *   0x11000 .. 0x11020   a GDT with __BOOT_CS (0x10) and __BOOT_DS (0x18)
 *   0x12000 .. 0x20000   the kernel command line
 *   0x100000             the protected-mode kernel (code32_start)
 *   initrd               page-aligned, as high as possible below
 *                        min(initrd_addr_max + 1, RAM end), above the kernel
 */
#ifndef BTVM_VM_LINUXBOOT_H
#define BTVM_VM_LINUXBOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cpu;

#define VM_LINUX_ZERO_PAGE   0x10000u
#define VM_LINUX_GDT         0x11000u
#define VM_LINUX_CMDLINE     0x12000u
#define VM_LINUX_CMDLINE_END 0x20000u
#define VM_LINUX_KERNEL      0x100000u
#define VM_LINUX_BOOT_CS     0x10u   /* __BOOT_CS */
#define VM_LINUX_BOOT_DS     0x18u   /* __BOOT_DS */
#define VM_LINUX_MIN_VERSION 0x0206u

/* Offsets in struct boot_params (arch/x86/include/uapi/asm/bootparam.h)
 * and in its setup header (boot.rst, "the real-mode kernel header"). */
enum {
    VM_LBP_ALT_MEM_K = 0x1E0, VM_LBP_E820_ENTRIES = 0x1E8, VM_LBP_SETUP_SECTS = 0x1F1,
    VM_LBP_BOOT_FLAG = 0x1FE, VM_LBP_JUMP = 0x200, VM_LBP_HEADER = 0x202,
    VM_LBP_VERSION = 0x206, VM_LBP_TYPE_OF_LOADER = 0x210, VM_LBP_LOADFLAGS = 0x211,
    VM_LBP_CODE32_START = 0x214, VM_LBP_RAMDISK_IMAGE = 0x218, VM_LBP_RAMDISK_SIZE = 0x21C,
    VM_LBP_HEAP_END_PTR = 0x224, VM_LBP_CMD_LINE_PTR = 0x228, VM_LBP_INITRD_ADDR_MAX = 0x22C,
    VM_LBP_KERNEL_ALIGNMENT = 0x230, VM_LBP_RELOCATABLE = 0x234, VM_LBP_CMDLINE_SIZE = 0x238,
    VM_LBP_PREF_ADDRESS = 0x258, VM_LBP_INIT_SIZE = 0x260, VM_LBP_E820_TABLE = 0x2D0,
    VM_LBP_SIZE = 0x1000,
};

#define VM_LINUX_LF_LOADED_HIGH   0x01u
#define VM_LINUX_LF_KEEP_SEGMENTS 0x40u
#define VM_LINUX_LF_CAN_USE_HEAP  0x80u
#define VM_LINUX_E820_MAX         128u
#define VM_LINUX_E820_RAM         1u
#define VM_LINUX_E820_RESERVED    2u

struct vm_linux_result {
    uint32_t entry;          /* EIP: code32_start */
    uint32_t boot_params;    /* ESI: the zero page */
    uint32_t gdt;            /* GDTR base; limit VM_LINUX_GDT_LIMIT */
    uint16_t version;        /* boot protocol, e.g. 0x020f */
    uint32_t kernel_end;     /* end of what the kernel uses while it boots */
    uint32_t initrd_addr, initrd_size; /* 0, 0 without an initrd */
};
#define VM_LINUX_GDT_LIMIT (4 * 8 - 1)

/* True if file looks like a bzImage/zImage ("HdrS" at 0x202, 0xAA55 at
 * 0x1FE); the loader is chosen by content, not by name. */
bool vm_linux_is_bzimage(const uint8_t *file, size_t len);
/* The same for a file on disk; false if it cannot be read. */
bool vm_linux_probe_file(const char *path);

/* Load the bzImage file[0..len) into ram and build boot_params, the GDT
 * and the command line (may be NULL). With initrd_size > 0 the initrd is
 * placed, and copied from initrd unless that is NULL (then the caller
 * copies it to out->initrd_addr). Returns 0, or -1 with one line in err
 * (no "btvm:" prefix, no file name). */
int vm_linux_load(const uint8_t *file, size_t len, uint8_t *ram, uint64_t ram_size,
                  const char *cmdline, const uint8_t *initrd, uint64_t initrd_size,
                  struct vm_linux_result *out, char *err, size_t errlen);

/* Read kernel and initrd (one file, may be NULL) and load them; the
 * kernel's command line is append as is. Returns 0, or -1 with one line
 * "btvm: ..." in err. */
int vm_linux_load_files(uint8_t *ram, uint64_t ram_size, const char *kernel,
                        const char *append, const char *initrd, struct vm_linux_result *out,
                        char *err, size_t errlen);

/* Put the vcpu in the 32-bit boot protocol's entry state: flat protected
 * mode, CS=__BOOT_CS, DS=ES=SS=__BOOT_DS, GDTR on the loader's GDT,
 * ESI=boot_params, other registers 0, interrupts off, EIP=code32_start. */
void vm_linux_cpu_entry(struct cpu *c, const struct vm_linux_result *r);

#endif
