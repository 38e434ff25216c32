/*
 * devices/fw_cfg.h — QEMU's firmware configuration device (docs/specs/
 * fw_cfg.rst in QEMU), x86 I/O interface: selector 0x510 (16-bit write),
 * data 0x511 (byte reads), DMA address 0x514-0x51B (big-endian, high half
 * then low half; the low-half write starts the transfer; reads give the
 * signature "QEMU CFG"). Guest memory is reached only through the
 * struct dev_dma given at creation.
 *
 * Items are byte strings under a 16-bit key; "files" are items with a name,
 * listed in the directory (key 0x19) sorted by name, their keys assigned
 * from 0x20 in that order. Every item is read-only to the guest.
 */
#ifndef BTVM_DEV_FW_CFG_H
#define BTVM_DEV_FW_CFG_H

#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/dma.h"

#define DEV_FW_CFG_PORT_SEL 0x510
#define DEV_FW_CFG_PORT_DATA 0x511
#define DEV_FW_CFG_PORT_DMA 0x514

/* Keys (QEMU's include/standard-headers/linux/qemu_fw_cfg.h). */
enum {
    DEV_FW_CFG_SIGNATURE = 0x00,        /* "QEMU" */
    DEV_FW_CFG_ID = 0x01,               /* le32: bit 0 traditional, bit 1 DMA */
    DEV_FW_CFG_UUID = 0x02,             /* 16 bytes */
    DEV_FW_CFG_RAM_SIZE = 0x03,         /* le64 */
    DEV_FW_CFG_NOGRAPHIC = 0x04,        /* le16 */
    DEV_FW_CFG_NB_CPUS = 0x05,          /* le16 */
    DEV_FW_CFG_MACHINE_ID = 0x06,
    DEV_FW_CFG_KERNEL_ADDR = 0x07,      /* le32 ... (-kernel, filled by vm/) */
    DEV_FW_CFG_KERNEL_SIZE = 0x08,
    DEV_FW_CFG_KERNEL_CMDLINE = 0x09,
    DEV_FW_CFG_INITRD_ADDR = 0x0a,
    DEV_FW_CFG_INITRD_SIZE = 0x0b,
    DEV_FW_CFG_BOOT_DEVICE = 0x0c,
    DEV_FW_CFG_NUMA = 0x0d,
    DEV_FW_CFG_BOOT_MENU = 0x0e,
    DEV_FW_CFG_MAX_CPUS = 0x0f,         /* le16 */
    DEV_FW_CFG_KERNEL_ENTRY = 0x10,
    DEV_FW_CFG_KERNEL_DATA = 0x11,
    DEV_FW_CFG_INITRD_DATA = 0x12,
    DEV_FW_CFG_CMDLINE_ADDR = 0x13,
    DEV_FW_CFG_CMDLINE_SIZE = 0x14,
    DEV_FW_CFG_CMDLINE_DATA = 0x15,
    DEV_FW_CFG_SETUP_ADDR = 0x16,
    DEV_FW_CFG_SETUP_SIZE = 0x17,
    DEV_FW_CFG_SETUP_DATA = 0x18,
    DEV_FW_CFG_FILE_DIR = 0x19,         /* be32 count, then struct dev_fw_cfg_file[] */
    DEV_FW_CFG_FILE_FIRST = 0x20,
    DEV_FW_CFG_WRITE_CHANNEL = 0x4000,  /* selector bit, ignored (writes go through DMA) */
    DEV_FW_CFG_ARCH_LOCAL = 0x8000,
    /* x86 arch-local keys */
    DEV_FW_CFG_ACPI_TABLES = 0x8000,
    DEV_FW_CFG_SMBIOS_ENTRIES = 0x8001,
    DEV_FW_CFG_IRQ0_OVERRIDE = 0x8002,  /* le32 1: ISA IRQ 0 is I/O APIC pin 2 */
    DEV_FW_CFG_E820_TABLE = 0x8003,
    DEV_FW_CFG_HPET = 0x8004,
};

/* FWCfgDmaAccess control bits. */
#define DEV_FW_CFG_DMA_ERROR 0x01u
#define DEV_FW_CFG_DMA_READ 0x02u
#define DEV_FW_CFG_DMA_SKIP 0x04u
#define DEV_FW_CFG_DMA_SELECT 0x08u
#define DEV_FW_CFG_DMA_WRITE 0x10u

/* Reading the DMA address register gives this, big-endian. */
#define DEV_FW_CFG_DMA_SIGNATURE 0x51454d5520434647ull     /* "QEMU CFG" */

#define DEV_FW_CFG_NAME_MAX 56          /* name[] in a directory entry, NUL included */

/* One directory entry as the guest sees it (64 bytes, big-endian fields). */
struct dev_fw_cfg_file {
    uint32_t size_be;
    uint16_t select_be;
    uint16_t reserved;
    char name[DEV_FW_CFG_NAME_MAX];
};

/* E820 types and QEMU's etc/e820 entry: le64 address, le64 length, le32 type. */
enum { DEV_E820_RAM = 1, DEV_E820_RESERVED = 2, DEV_E820_ACPI = 3, DEV_E820_NVS = 4,
       DEV_E820_UNUSABLE = 5 };
#define DEV_E820_ENTRY_SIZE 20
struct dev_e820_entry {
    uint64_t addr, len;
    uint32_t type;
};

struct dev_fw_cfg;

/* Claims 0x510-0x511 and 0x514-0x51B. dma may be NULL: then there is no DMA
 * interface (ID bit 1 clear, nothing at 0x514). Starts with SIGNATURE, ID,
 * UUID (zeros), RAM_SIZE 0, NOGRAPHIC 1, NB_CPUS 1, MAX_CPUS 1, BOOT_MENU 0
 * and an empty FILE_DIR. NULL on failure (message on stderr). */
struct dev_fw_cfg *dev_fw_cfg_new(struct dev_bus *bus, const struct dev_dma *dma);
void dev_fw_cfg_free(struct dev_fw_cfg *fc);

/* Selector back to SIGNATURE, offset 0, DMA address 0 (machine reset). */
void dev_fw_cfg_reset(struct dev_fw_cfg *fc);

/* Set an item (data copied; an existing item under the key is replaced).
 * key: 0x00-0x1f except FILE_DIR, or an arch-local 0x8000-0xbfff key.
 * 0, -EINVAL (bad key, or len > UINT32_MAX) or -ENOMEM. */
int dev_fw_cfg_add_bytes(struct dev_fw_cfg *fc, uint16_t key, const void *data, size_t len);
int dev_fw_cfg_add_i16(struct dev_fw_cfg *fc, uint16_t key, uint16_t v);   /* little-endian */
int dev_fw_cfg_add_i32(struct dev_fw_cfg *fc, uint16_t key, uint32_t v);
int dev_fw_cfg_add_i64(struct dev_fw_cfg *fc, uint16_t key, uint64_t v);
int dev_fw_cfg_add_string(struct dev_fw_cfg *fc, uint16_t key, const char *s);  /* with its NUL */

/* Add a named file (data copied). Keys follow name order, so adding a file
 * may move others: ask dev_fw_cfg_file_key() once all are added.
 * 0, -EEXIST (name taken), -ENAMETOOLONG (more than 55 bytes), -EINVAL
 * (empty name, len > UINT32_MAX), -ENOSPC (over 4096 files), -ENOMEM. */
int dev_fw_cfg_add_file(struct dev_fw_cfg *fc, const char *name, const void *data, size_t len);
/* The selector of a file, or -ENOENT. */
int dev_fw_cfg_file_key(const struct dev_fw_cfg *fc, const char *name);

/* Lay out n entries as QEMU's etc/e820 (n * DEV_E820_ENTRY_SIZE bytes into
 * out, which may be NULL to ask the size). Returns the size. */
size_t dev_fw_cfg_e820_build(const struct dev_e820_entry *e, size_t n, uint8_t *out);
/* Build and add "etc/e820". */
int dev_fw_cfg_add_e820(struct dev_fw_cfg *fc, const struct dev_e820_entry *e, size_t n);

#endif
