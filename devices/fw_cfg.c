/*
 * devices/fw_cfg.c — QEMU's fw_cfg device, x86 I/O-port flavour (QEMU's
 * docs/specs/fw_cfg.rst and hw/nvram/fw_cfg.c describe the interface).
 *
 * Selector (0x510): a 16-bit write selects an item and sets the offset to
 * 0; bit 14 (the old write channel) is ignored, bit 15 picks the x86
 * arch-local table. An unknown key selects nothing: reads give 0.
 * Data (0x511, also a byte read at 0x510, as QEMU's combined region): each
 * byte read returns the next byte of the item and advances; past the end
 * reads give 0 and the offset stays. Wider reads are that many byte reads,
 * first byte lowest. Data writes are ignored (QEMU since 2.4).
 * DMA (0x514-0x51B): the register is big-endian, so a guest writes each
 * 32-bit half byte-swapped (Linux: iowrite32be); writing the high half at
 * 0x514 stores it, writing the low half at 0x518 runs the FWCfgDmaAccess
 * at that address and clears the register. Reads return "QEMU CFG" byte by
 * byte (inl(0x514) = 0x554D4551, which ioread32be sees as 0x51454D55).
 *
 * A transfer reads {be32 control, be32 length, be64 address}; SELECT
 * (key in control's upper 16 bits) selects first; then READ copies length
 * bytes from the current offset to guest memory (zeros past the end),
 * SKIP advances the offset, WRITE is refused (error bit: no item is
 * writable). The result (0, or ERROR) is written back to control. Any
 * guest address outside RAM (as the dev_dma says) ends the transfer with
 * ERROR; a descriptor outside RAM is dropped (its error cannot be stored).
 * Used from the run-loop thread only, so there is no lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/bus_own.h"
#include "devices/fw_cfg.h"

#define KEY_MASK 0x3fffu
#define MAX_FILES 4096
#define NO_ITEM 0xffffu

struct fw_item {
    uint16_t key;
    uint32_t len;
    uint8_t *data;
};

struct fw_file {
    char name[DEV_FW_CFG_NAME_MAX];
    uint32_t len;
    uint8_t *data;
};

struct dev_fw_cfg {
    struct fw_item *items;
    size_t nitems, cap_items;
    struct fw_file *files;
    size_t nfiles, cap_files;
    uint8_t *dir;                       /* FILE_DIR content */
    uint32_t dir_len;
    struct dev_dma dma;
    uint16_t cur;                       /* selected key (masked), NO_ITEM if none */
    uint32_t offset;
    uint64_t dma_addr;
};

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* --- items --- */

static bool is_file_key(uint16_t key)
{
    return !(key & DEV_FW_CFG_ARCH_LOCAL) && key >= DEV_FW_CFG_FILE_FIRST;
}

/* The bytes behind a (masked) key; false if it names nothing. */
static bool lookup(const struct dev_fw_cfg *fc, uint16_t key, const uint8_t **data, uint32_t *len)
{
    if (key == DEV_FW_CFG_FILE_DIR) {
        *data = fc->dir;
        *len = fc->dir_len;
        return true;
    }
    if (is_file_key(key)) {
        size_t i = key - DEV_FW_CFG_FILE_FIRST;
        if (i >= fc->nfiles)
            return false;
        *data = fc->files[i].data;
        *len = fc->files[i].len;
        return true;
    }
    for (size_t i = 0; i < fc->nitems; i++) {
        if (fc->items[i].key == key) {
            *data = fc->items[i].data;
            *len = fc->items[i].len;
            return true;
        }
    }
    return false;
}

static uint8_t *dup_bytes(const void *data, size_t len)
{
    uint8_t *p = malloc(len ? len : 1);
    if (p && len)
        memcpy(p, data, len);
    return p;
}

int dev_fw_cfg_add_bytes(struct dev_fw_cfg *fc, uint16_t key, const void *data, size_t len)
{
    if ((key & DEV_FW_CFG_WRITE_CHANNEL) || is_file_key(key) || key == DEV_FW_CFG_FILE_DIR ||
        len > UINT32_MAX)
        return -EINVAL;
    uint8_t *copy = dup_bytes(data, len);
    if (!copy)
        return -ENOMEM;
    for (size_t i = 0; i < fc->nitems; i++) {
        if (fc->items[i].key == key) {
            free(fc->items[i].data);
            fc->items[i].data = copy;
            fc->items[i].len = (uint32_t)len;
            return 0;
        }
    }
    if (fc->nitems == fc->cap_items) {
        size_t cap = fc->cap_items ? 2 * fc->cap_items : 32;
        struct fw_item *n = realloc(fc->items, cap * sizeof(*n));
        if (!n) {
            free(copy);
            return -ENOMEM;
        }
        fc->items = n;
        fc->cap_items = cap;
    }
    fc->items[fc->nitems++] = (struct fw_item){ .key = key, .len = (uint32_t)len, .data = copy };
    return 0;
}

int dev_fw_cfg_add_i16(struct dev_fw_cfg *fc, uint16_t key, uint16_t v)
{
    uint8_t b[2];
    put_le(b, v, 2);
    return dev_fw_cfg_add_bytes(fc, key, b, sizeof(b));
}

int dev_fw_cfg_add_i32(struct dev_fw_cfg *fc, uint16_t key, uint32_t v)
{
    uint8_t b[4];
    put_le(b, v, 4);
    return dev_fw_cfg_add_bytes(fc, key, b, sizeof(b));
}

int dev_fw_cfg_add_i64(struct dev_fw_cfg *fc, uint16_t key, uint64_t v)
{
    uint8_t b[8];
    put_le(b, v, 8);
    return dev_fw_cfg_add_bytes(fc, key, b, sizeof(b));
}

int dev_fw_cfg_add_string(struct dev_fw_cfg *fc, uint16_t key, const char *s)
{
    return dev_fw_cfg_add_bytes(fc, key, s, strlen(s) + 1);
}

/* FILE_DIR: be32 count, then one 64-byte entry per file in name order. */
static int rebuild_dir(struct dev_fw_cfg *fc)
{
    size_t len = 4 + fc->nfiles * sizeof(struct dev_fw_cfg_file);
    uint8_t *d = calloc(1, len);
    if (!d)
        return -ENOMEM;
    put_be32(d, (uint32_t)fc->nfiles);
    for (size_t i = 0; i < fc->nfiles; i++) {
        uint8_t *e = d + 4 + i * sizeof(struct dev_fw_cfg_file);
        uint16_t sel = (uint16_t)(DEV_FW_CFG_FILE_FIRST + i);
        put_be32(e, fc->files[i].len);
        e[4] = (uint8_t)(sel >> 8);
        e[5] = (uint8_t)sel;
        memcpy(e + 8, fc->files[i].name, DEV_FW_CFG_NAME_MAX);
    }
    free(fc->dir);
    fc->dir = d;
    fc->dir_len = (uint32_t)len;
    return 0;
}

int dev_fw_cfg_add_file(struct dev_fw_cfg *fc, const char *name, const void *data, size_t len)
{
    size_t nl = strlen(name);
    if (nl == 0 || len > UINT32_MAX)
        return -EINVAL;
    if (nl >= DEV_FW_CFG_NAME_MAX)
        return -ENAMETOOLONG;
    if (fc->nfiles >= MAX_FILES)
        return -ENOSPC;
    size_t at = 0;
    while (at < fc->nfiles) {
        int c = strcmp(name, fc->files[at].name);
        if (c == 0)
            return -EEXIST;
        if (c < 0)
            break;
        at++;
    }
    if (fc->nfiles == fc->cap_files) {
        size_t cap = fc->cap_files ? 2 * fc->cap_files : 16;
        struct fw_file *n = realloc(fc->files, cap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        fc->files = n;
        fc->cap_files = cap;
    }
    uint8_t *copy = dup_bytes(data, len);
    if (!copy)
        return -ENOMEM;
    memmove(&fc->files[at + 1], &fc->files[at], (fc->nfiles - at) * sizeof(*fc->files));
    struct fw_file *f = &fc->files[at];
    memset(f->name, 0, sizeof(f->name));
    memcpy(f->name, name, nl);
    f->len = (uint32_t)len;
    f->data = copy;
    fc->nfiles++;
    int err = rebuild_dir(fc);
    if (err) {                          /* undo: the old directory still matches */
        free(copy);
        fc->nfiles--;
        memmove(&fc->files[at], &fc->files[at + 1], (fc->nfiles - at) * sizeof(*fc->files));
    }
    return err;
}

int dev_fw_cfg_file_key(const struct dev_fw_cfg *fc, const char *name)
{
    for (size_t i = 0; i < fc->nfiles; i++)
        if (strcmp(fc->files[i].name, name) == 0)
            return (int)(DEV_FW_CFG_FILE_FIRST + i);
    return -ENOENT;
}

size_t dev_fw_cfg_e820_build(const struct dev_e820_entry *e, size_t n, uint8_t *out)
{
    if (out) {
        for (size_t i = 0; i < n; i++) {
            uint8_t *p = out + i * DEV_E820_ENTRY_SIZE;
            put_le(p, e[i].addr, 8);
            put_le(p + 8, e[i].len, 8);
            put_le(p + 16, e[i].type, 4);
        }
    }
    return n * DEV_E820_ENTRY_SIZE;
}

int dev_fw_cfg_add_e820(struct dev_fw_cfg *fc, const struct dev_e820_entry *e, size_t n)
{
    size_t len = dev_fw_cfg_e820_build(e, n, NULL);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return -ENOMEM;
    dev_fw_cfg_e820_build(e, n, buf);
    int err = dev_fw_cfg_add_file(fc, "etc/e820", buf, len);
    free(buf);
    return err;
}

/* --- guest interface --- */

static void fw_select(struct dev_fw_cfg *fc, uint16_t key)
{
    const uint8_t *d;
    uint32_t l;
    key &= (uint16_t)~DEV_FW_CFG_WRITE_CHANNEL;
    fc->offset = 0;
    fc->cur = lookup(fc, key, &d, &l) ? key : NO_ITEM;
}

static uint8_t fw_read_byte(struct dev_fw_cfg *fc)
{
    const uint8_t *d;
    uint32_t l;
    if (fc->cur == NO_ITEM || !lookup(fc, fc->cur, &d, &l) || fc->offset >= l)
        return 0;
    return d[fc->offset++];
}

static void fw_cfg_io(void *opaque, uint64_t offset, unsigned size, bool is_write, uint64_t *data)
{
    struct dev_fw_cfg *fc = opaque;
    if (is_write) {
        if (offset == 0 && size == 2)
            fw_select(fc, (uint16_t)*data);
        return;                         /* data writes: ignored */
    }
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)fw_read_byte(fc) << (8 * i);
    *data = v;
}

static int dma_zero(struct dev_fw_cfg *fc, uint64_t gpa, uint64_t len)
{
    static const uint8_t zeros[4096];
    while (len) {
        size_t n = len < sizeof(zeros) ? (size_t)len : sizeof(zeros);
        if (dev_dma_write(&fc->dma, gpa, zeros, n))
            return -EFAULT;
        gpa += n;
        len -= n;
    }
    return 0;
}

static void fw_dma_transfer(struct dev_fw_cfg *fc)
{
    uint64_t at = fc->dma_addr;
    uint8_t desc[16];
    fc->dma_addr = 0;
    if (dev_dma_read(&fc->dma, at, desc, sizeof(desc))) {
        uint8_t err[4];
        put_be32(err, DEV_FW_CFG_DMA_ERROR);
        (void)dev_dma_write(&fc->dma, at, err, sizeof(err));
        return;
    }
    uint32_t control = get_be32(desc), length = get_be32(desc + 4);
    uint64_t addr = (uint64_t)get_be32(desc + 8) << 32 | get_be32(desc + 12);
    if (control & DEV_FW_CFG_DMA_SELECT)
        fw_select(fc, (uint16_t)(control >> 16));
    bool read = control & DEV_FW_CFG_DMA_READ;
    bool write = !read && (control & DEV_FW_CFG_DMA_WRITE);
    if (!read && !write && !(control & DEV_FW_CFG_DMA_SKIP))
        length = 0;
    uint32_t result = 0;
    const uint8_t *d = NULL;
    uint32_t l = 0;
    if (fc->cur == NO_ITEM || !lookup(fc, fc->cur, &d, &l))
        l = 0;
    if (length && write) {
        result = DEV_FW_CFG_DMA_ERROR;  /* no item is writable */
    } else if (length) {
        uint32_t avail = fc->offset < l ? l - fc->offset : 0;
        uint32_t n = length < avail ? length : avail;
        if (read && n && dev_dma_write(&fc->dma, addr, d + fc->offset, n))
            result = DEV_FW_CFG_DMA_ERROR;
        else if (read && length > n && dma_zero(fc, addr + n, length - n))
            result = DEV_FW_CFG_DMA_ERROR;  /* past the end: zeros */
        if (!result)
            fc->offset += n;
    }
    uint8_t out[4];
    put_be32(out, result);
    (void)dev_dma_write(&fc->dma, at, out, sizeof(out));
}

static void fw_dma_io(void *opaque, uint64_t offset, unsigned size, bool is_write, uint64_t *data)
{
    struct dev_fw_cfg *fc = opaque;
    if (!is_write) {
        uint64_t v = 0;
        for (unsigned i = 0; i < size && offset + i < 8; i++) {
            uint8_t b = (uint8_t)(DEV_FW_CFG_DMA_SIGNATURE >> (8 * (7 - (offset + i))));
            v |= (uint64_t)b << (8 * i);
        }
        *data = v;
        return;
    }
    if (size != 4)
        return;
    uint32_t half = __builtin_bswap32((uint32_t)*data);   /* big-endian register */
    if (offset == 0) {
        fc->dma_addr = (uint64_t)half << 32;
    } else if (offset == 4) {
        fc->dma_addr |= half;
        fw_dma_transfer(fc);
    }
}

/* --- life cycle --- */

/* Free every item and file; fc stays a valid, empty device. */
static void free_contents(struct dev_fw_cfg *fc)
{
    for (size_t i = 0; i < fc->nitems; i++)
        free(fc->items[i].data);
    for (size_t i = 0; i < fc->nfiles; i++)
        free(fc->files[i].data);
    free(fc->items);
    free(fc->files);
    free(fc->dir);
    fc->items = NULL;
    fc->files = NULL;
    fc->dir = NULL;
    fc->nitems = fc->cap_items = fc->nfiles = fc->cap_files = 0;
    fc->dir_len = 0;
    fc->cur = NO_ITEM;
}

void dev_fw_cfg_reset(struct dev_fw_cfg *fc)
{
    fw_select(fc, DEV_FW_CFG_SIGNATURE);
    fc->dma_addr = 0;
}

struct dev_fw_cfg *dev_fw_cfg_new(struct dev_bus *bus, const struct dev_dma *dma)
{
    struct dev_fw_cfg *fc = calloc(1, sizeof(*fc));
    if (!fc)
        goto oom;
    if (dma)
        fc->dma = *dma;
    static const uint8_t uuid[16];
    int err = dev_fw_cfg_add_bytes(fc, DEV_FW_CFG_SIGNATURE, "QEMU", 4);
    err = err ? err : dev_fw_cfg_add_i32(fc, DEV_FW_CFG_ID, 1u | (dma ? 2u : 0u));
    err = err ? err : dev_fw_cfg_add_bytes(fc, DEV_FW_CFG_UUID, uuid, sizeof(uuid));
    err = err ? err : dev_fw_cfg_add_i64(fc, DEV_FW_CFG_RAM_SIZE, 0);
    err = err ? err : dev_fw_cfg_add_i16(fc, DEV_FW_CFG_NOGRAPHIC, 1);
    err = err ? err : dev_fw_cfg_add_i16(fc, DEV_FW_CFG_NB_CPUS, 1);
    err = err ? err : dev_fw_cfg_add_i16(fc, DEV_FW_CFG_MAX_CPUS, 1);
    err = err ? err : dev_fw_cfg_add_i16(fc, DEV_FW_CFG_BOOT_MENU, 0);
    err = err ? err : rebuild_dir(fc);
    if (err)
        goto oom;
    dev_fw_cfg_reset(fc);
    err = dev_bus_register_pio(bus, DEV_FW_CFG_PORT_SEL, 2, "fw_cfg", fw_cfg_io, fc);
    if (err) {
        fprintf(stderr, "btvm: fw_cfg: cannot claim ports: %s\n", strerror(-err));
        dev_fw_cfg_free(fc);
        return NULL;
    }
    if (dma) {
        err = dev_bus_register_pio(bus, DEV_FW_CFG_PORT_DMA, 8, "fw_cfg-dma", fw_dma_io, fc);
        if (err) {
            fprintf(stderr, "btvm: fw_cfg: cannot claim ports: %s\n", strerror(-err));
            /* 0x510 already points at fc: leave an empty device to the bus. */
            free_contents(fc);
            (void)dev_bus_own(bus, fc); /* on -ENOMEM: leaked, never dangling */
            return NULL;
        }
    }
    return fc;
oom:
    fprintf(stderr, "btvm: fw_cfg: out of memory\n");
    dev_fw_cfg_free(fc);
    return NULL;
}

void dev_fw_cfg_free(struct dev_fw_cfg *fc)
{
    if (!fc)
        return;
    free_contents(fc);
    free(fc);
}
