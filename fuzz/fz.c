/*
 * fuzz/fz.c — the pieces every harness shares (fuzz/fz.h).
 */
#include "fuzz/fz.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void fz_bug(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz: BUG: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

/* ---- scratch folder ---- */

static char scratch[64];

static void remove_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        char p[512];
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(path);
}

static void remove_scratch(void) { remove_dir(scratch); }

const char *fz_scratch_dir(void)
{
    if (scratch[0])
        return scratch;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    DIR *d = opendir(base);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        int pid;
        char path[512];
        if (sscanf(e->d_name, "btvm-fuzz-%d", &pid) == 1 && pid > 0 &&
            kill(pid, 0) != 0 && errno == ESRCH) {
            snprintf(path, sizeof(path), "%s/%s", base, e->d_name);
            remove_dir(path);
        }
    }
    if (d)
        closedir(d);
    snprintf(scratch, sizeof(scratch), "%s/btvm-fuzz-%d", base, (int)getpid());
    remove_dir(scratch);
    if (mkdir(scratch, 0700) != 0)
        fz_bug("cannot make %s", scratch);
    atexit(remove_scratch);
    return scratch;
}

int fz_lowest_fd(void)
{
    int fd = dup(0);
    if (fd < 0)
        fz_bug("dup: no file descriptor left");
    close(fd);
    return fd;
}

void fz_check_fds(int before, const char *what)
{
    int now = fz_lowest_fd();
    if (now != before)
        fz_bug("%s left file descriptor %d open", what, before);
}

/* ---- input ---- */

static uint64_t take_le(struct fz_in *in, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n && in->n; i++, in->p++, in->n--)
        v |= (uint64_t)in->p[0] << (8 * i);
    return v;
}

uint8_t fz_u8(struct fz_in *in) { return (uint8_t)take_le(in, 1); }
uint16_t fz_u16(struct fz_in *in) { return (uint16_t)take_le(in, 2); }
uint32_t fz_u32(struct fz_in *in) { return (uint32_t)take_le(in, 4); }
uint64_t fz_u64(struct fz_in *in) { return take_le(in, 8); }

size_t fz_take(struct fz_in *in, size_t max, const uint8_t **p)
{
    size_t n = max < in->n ? max : in->n;
    *p = in->p;
    in->p += n;
    in->n -= n;
    return n;
}

/* ---- RAM ---- */

void fz_ram_init(struct fz_ram *r, uint64_t size)
{
    r->mem = calloc(1, size);
    r->size = size;
    if (!r->mem)
        fz_bug("no memory for %llu bytes of guest RAM", (unsigned long long)size);
}

void fz_ram_clear(struct fz_ram *r) { memset(r->mem, 0, r->size); }

void fz_ram_free(struct fz_ram *r)
{
    free(r->mem);
    r->mem = NULL;
}

static uint8_t *ram_at(struct fz_ram *r, uint64_t gpa, size_t len)
{
    if (gpa > r->size || len > r->size - gpa)
        return NULL;
    return r->mem + gpa;
}

static int ram_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    uint8_t *p = ram_at(ctx, gpa, len);
    if (!p)
        return -EFAULT;
    memcpy(buf, p, len);
    return 0;
}

static int ram_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
    uint8_t *p = ram_at(ctx, gpa, len);
    if (!p)
        return -EFAULT;
    memcpy(p, buf, len);
    return 0;
}

static void *ram_map(void *ctx, uint64_t gpa, size_t len) { return ram_at(ctx, gpa, len); }

static void ram_written(void *ctx, uint64_t gpa, size_t len)
{
    if (!ram_at(ctx, gpa, len))
        fz_bug("written() for 0x%llx+%zu, outside RAM", (unsigned long long)gpa, len);
}

struct dev_dma fz_ram_dma(struct fz_ram *r)
{
    return (struct dev_dma){ .read = ram_read, .write = ram_write, .ctx = r, .map = ram_map,
                             .written = ram_written };
}

/* ---- disk ---- */

void fz_disk_init(struct fz_disk *d, const char *name, uint64_t sectors, bool readonly)
{
    memset(d, 0, sizeof(*d));
    d->name = name;
    d->sectors = sectors;
    d->readonly = readonly;
    d->data = malloc(sectors ? sectors * 512 : 1);
    if (!d->data)
        fz_bug("no memory for disk %s", name);
}

void fz_disk_fill(struct fz_disk *d)
{
    for (uint64_t i = 0; i < d->sectors * 512; i++)
        d->data[i] = (uint8_t)(i * 7 + i / 512);
    d->npend = 0;
    d->fail_in = 0;
}

/* The request the input chose to fail? */
static bool host_error(struct fz_disk *d)
{
    return d->fail_in && --d->fail_in == 0;
}

void fz_disk_free(struct fz_disk *d)
{
    free(d->data);
    d->data = NULL;
}

/* blkdev.h: "The device checks the range against `sectors` before calling". */
static void check_range(struct fz_disk *d, const char *op, uint64_t s, uint64_t n)
{
    if (s > d->sectors || n > d->sectors - s)
        fz_bug("%s: %s of %llu sectors at %llu, past the disk's %llu", d->name, op,
               (unsigned long long)n, (unsigned long long)s, (unsigned long long)d->sectors);
}

static int disk_read(void *ctx, uint64_t s, uint32_t n, void *buf)
{
    struct fz_disk *d = ctx;
    check_range(d, "read", s, n);
    if (host_error(d))
        return -EIO;
    memcpy(buf, d->data + s * 512, (size_t)n * 512);
    return 0;
}

static int disk_write(void *ctx, uint64_t s, uint32_t n, const void *buf)
{
    struct fz_disk *d = ctx;
    if (d->readonly)
        fz_bug("%s: write to a read-only disk", d->name);
    check_range(d, "write", s, n);
    if (host_error(d))
        return -EIO;
    memcpy(d->data + s * 512, buf, (size_t)n * 512);
    return 0;
}

static int disk_flush(void *ctx) { return host_error(ctx) ? -EIO : 0; }

static int disk_run(struct fz_disk *d, struct dev_blk_req *r)
{
    if (host_error(d))
        return -EIO;
    switch (r->op) {
    case DEV_BLK_READ:
    case DEV_BLK_WRITE: {
        uint64_t total = 0;
        for (unsigned i = 0; i < r->niov; i++)
            total += r->iov[i].len;
        /* blkdev.h: "The iov bytes total count * 512 for READ and WRITE". */
        if (total != (uint64_t)r->count * 512)
            fz_bug("%s: request of %u sectors with %llu bytes of buffers", d->name, r->count,
                   (unsigned long long)total);
        if (r->op == DEV_BLK_WRITE && d->readonly)
            fz_bug("%s: write to a read-only disk", d->name);
        check_range(d, r->op == DEV_BLK_READ ? "read" : "write", r->sector, r->count);
        uint8_t *p = d->data + r->sector * 512;
        for (unsigned i = 0; i < r->niov; p += r->iov[i].len, i++)
            if (r->op == DEV_BLK_READ)
                memcpy(r->iov[i].base, p, r->iov[i].len);
            else
                memcpy(p, r->iov[i].base, r->iov[i].len);
        return 0;
    }
    case DEV_BLK_FLUSH:
        return 0;
    case DEV_BLK_DISCARD:
    case DEV_BLK_WRITE_ZEROES:
        if (d->readonly)
            fz_bug("%s: discard/write-zeroes on a read-only disk", d->name);
        check_range(d, "discard", r->sector, r->count);
        memset(d->data + r->sector * 512, 0, (size_t)r->count * 512);
        return 0;
    }
    fz_bug("%s: request with op %d", d->name, (int)r->op);
}

static int disk_submit(void *ctx, struct dev_blk_req *r)
{
    struct fz_disk *d = ctx;
    if (d->npend == sizeof(d->pend) / sizeof(d->pend[0]))
        return -EAGAIN;
    d->pend[d->npend++] = r;
    return 0;
}

bool fz_disk_complete(struct fz_disk *d, unsigned i)
{
    if (!d->npend)
        return false;
    i %= d->npend;
    struct dev_blk_req *r = d->pend[i];
    memmove(&d->pend[i], &d->pend[i + 1], (d->npend - i - 1) * sizeof(d->pend[0]));
    d->npend--;
    r->done(r, disk_run(d, r));
    return true;
}

static void disk_drain(void *ctx)
{
    struct fz_disk *d = ctx;
    while (fz_disk_complete(d, 0))
        ;
}

struct dev_blkdev fz_disk_blkdev(struct fz_disk *d, bool async)
{
    struct dev_blkdev b = { .read = disk_read, .write = d->readonly ? NULL : disk_write,
                            .flush = disk_flush, .ctx = d, .sectors = d->sectors,
                            .readonly = d->readonly };
    if (async) {
        b.submit = disk_submit;
        b.drain = disk_drain;
        b.can_discard = b.can_write_zeroes = !d->readonly;
    }
    return b;
}

/* ---- the guest player ---- */

static const unsigned pio_sizes[3] = { 1, 2, 4 };
static const unsigned mmio_sizes[4] = { 1, 2, 4, 8 };

enum {
    OP_OUT, OP_IN, OP_MMIO_W, OP_MMIO_R, OP_RAM_BYTES, OP_RAM_WORD, OP_PCI_CFG, OP_EXTRA,
};

void fz_guest_play(struct fz_guest *g, struct fz_in *in, unsigned max_ops)
{
    for (unsigned n = 0; n < max_ops && fz_left(in); n++) {
        uint8_t op = fz_u8(in) & 7;
        switch (op) {
        case OP_OUT:
        case OP_IN: {
            uint8_t r = fz_u8(in);
            uint16_t off = fz_u16(in);
            unsigned size = pio_sizes[fz_u8(in) % 3];
            uint32_t v = op == OP_OUT ? fz_u32(in) : 0;
            if (!g->npio)
                break;
            const struct fz_pio_range *pr = &g->pio[r % g->npio];
            dev_bus_pio(g->bus, (uint16_t)(pr->base + off % pr->len), size, op == OP_OUT, &v);
            break;
        }
        case OP_MMIO_W:
        case OP_MMIO_R: {
            uint8_t r = fz_u8(in);
            uint16_t off = fz_u16(in);
            unsigned size = mmio_sizes[fz_u8(in) % 4];
            uint64_t v = op == OP_MMIO_W ? fz_u64(in) : 0;
            if (!g->nmmio)
                break;
            const struct fz_mmio_range *mr = &g->mmio[r % g->nmmio];
            dev_bus_mmio(g->bus, mr->base + off % mr->len, size, op == OP_MMIO_W, &v);
            break;
        }
        case OP_RAM_BYTES: {
            uint64_t at = fz_u32(in) % g->ram->size;
            const uint8_t *p;
            size_t len = fz_take(in, fz_u8(in), &p);
            if (len > g->ram->size - at)
                len = (size_t)(g->ram->size - at);
            memcpy(g->ram->mem + at, p, len);
            break;
        }
        case OP_RAM_WORD: {
            uint64_t at = fz_u32(in) % g->ram->size;
            unsigned w = mmio_sizes[fz_u8(in) % 4];
            uint64_t v = fz_u64(in);
            if (w > g->ram->size - at)
                w = (unsigned)(g->ram->size - at);
            memcpy(g->ram->mem + at, &v, w);   /* the host is little-endian, as the guest */
            break;
        }
        case OP_PCI_CFG: {
            /* Configuration mechanism #1: address at 0xCF8, data at 0xCFC. */
            uint8_t devfn = fz_u8(in), reg = fz_u8(in), sz = fz_u8(in);
            unsigned size = pio_sizes[sz % 3];
            bool write = sz & 0x80;
            uint32_t v = write ? fz_u32(in) : 0;
            uint32_t addr = 0x80000000u | (uint32_t)devfn << 8 | (reg & 0xfcu);
            dev_bus_pio(g->bus, 0xcf8, 4, true, &addr);
            dev_bus_pio(g->bus, (uint16_t)(0xcfc + (reg & (4 - size))), size, write, &v);
            break;
        }
        case OP_EXTRA:
            if (g->extra)
                g->extra(g->ctx, in);
            break;
        }
    }
}
