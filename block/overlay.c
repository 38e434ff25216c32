/*
 * block/overlay.c — the snapshot overlay (-snapshot, snapshot=on): writes
 * land in memory, in 64 KiB chunks with a bit per sector saying which of
 * their sectors were written; reads take written sectors from there and the
 * rest from the image below, which is open read-only and never written.
 * All of it goes at close. The memory grows with what the guest writes
 * (docs/storage.md).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "block/blk_int.h"

#define CHUNK_SECTORS 128u
#define CHUNK_BYTES (CHUNK_SECTORS * BLK_SECTOR_SIZE)

struct chunk {
    uint64_t idx;
    uint64_t valid[CHUNK_SECTORS / 64];
    uint8_t data[CHUNK_BYTES];
};

struct overlay {
    struct blk b;
    struct blk *base;
    pthread_rwlock_t lock;
    struct chunk **slot;      /* open addressing on idx; NULL is empty */
    size_t nslot, used;
};

static size_t hash(uint64_t idx, size_t n)
{
    return (size_t)((idx * 0x9E3779B97F4A7C15ull) >> 17) & (n - 1);
}

static struct chunk *find(struct overlay *o, uint64_t idx)
{
    for (size_t i = hash(idx, o->nslot);; i = (i + 1) & (o->nslot - 1)) {
        if (!o->slot[i] || o->slot[i]->idx == idx)
            return o->slot[i];
    }
}

static int grow(struct overlay *o)
{
    size_t n = o->nslot * 2;
    struct chunk **s = calloc(n, sizeof(*s));
    if (!s)
        return -ENOMEM;
    for (size_t i = 0; i < o->nslot; i++) {
        struct chunk *c = o->slot[i];
        if (!c)
            continue;
        size_t j = hash(c->idx, n);
        while (s[j])
            j = (j + 1) & (n - 1);
        s[j] = c;
    }
    free(o->slot);
    o->slot = s;
    o->nslot = n;
    return 0;
}

static struct chunk *get(struct overlay *o, uint64_t idx)
{
    struct chunk *c = find(o, idx);
    if (c)
        return c;
    if ((o->used + 1) * 2 > o->nslot && grow(o))
        return NULL;
    c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->idx = idx;
    size_t i = hash(idx, o->nslot);
    while (o->slot[i])
        i = (i + 1) & (o->nslot - 1);
    o->slot[i] = c;
    o->used++;
    return c;
}

static bool has(const struct chunk *c, unsigned s)
{
    return c && (c->valid[s / 64] >> (s % 64) & 1);
}

static int ov_read(struct blk *b, uint64_t sector, uint32_t count, void *buf)
{
    struct overlay *o = (struct overlay *)b;
    uint8_t *p = buf;
    int rc = 0;
    pthread_rwlock_rdlock(&o->lock);
    while (count && !rc) {
        struct chunk *c = find(o, sector / CHUNK_SECTORS);
        unsigned s = (unsigned)(sector % CHUNK_SECTORS);
        /* A run of sectors that all come from the same place. */
        uint32_t n = 1;
        bool mine = has(c, s);
        while (n < count && s + n < CHUNK_SECTORS && has(c, s + n) == mine)
            n++;
        if (mine)
            memcpy(p, c->data + (size_t)s * BLK_SECTOR_SIZE, (size_t)n * BLK_SECTOR_SIZE);
        else
            rc = blk_read(o->base, sector, n, p);
        p += (size_t)n * BLK_SECTOR_SIZE;
        sector += n;
        count -= n;
    }
    pthread_rwlock_unlock(&o->lock);
    return rc;
}

/* buf NULL: zeroes. */
static int ov_put(struct overlay *o, uint64_t sector, uint32_t count, const uint8_t *buf)
{
    int rc = 0;
    pthread_rwlock_wrlock(&o->lock);
    while (count) {
        struct chunk *c = get(o, sector / CHUNK_SECTORS);
        if (!c) {
            rc = -ENOMEM;
            break;
        }
        unsigned s = (unsigned)(sector % CHUNK_SECTORS);
        uint32_t n = CHUNK_SECTORS - s < count ? CHUNK_SECTORS - s : count;
        uint8_t *d = c->data + (size_t)s * BLK_SECTOR_SIZE;
        if (buf) {
            memcpy(d, buf, (size_t)n * BLK_SECTOR_SIZE);
            buf += (size_t)n * BLK_SECTOR_SIZE;
        } else {
            memset(d, 0, (size_t)n * BLK_SECTOR_SIZE);
        }
        for (unsigned i = s; i < s + n; i++)
            c->valid[i / 64] |= 1ull << (i % 64);
        sector += n;
        count -= n;
    }
    pthread_rwlock_unlock(&o->lock);
    return rc;
}

static int ov_write(struct blk *b, uint64_t sector, uint32_t count, const void *buf)
{
    return ov_put((struct overlay *)b, sector, count, buf);
}

/* Discarded data may read back as it was: keeping the overlay as it is
 * is a valid discard, and costs no memory. */
static int ov_discard(struct blk *b, uint64_t sector, uint32_t count)
{
    (void)b, (void)sector, (void)count;
    return 0;
}

static int ov_write_zeroes(struct blk *b, uint64_t sector, uint32_t count, bool unmap)
{
    (void)unmap;
    return ov_put((struct overlay *)b, sector, count, NULL);
}

/* Nothing of an overlay outlives the process, so there is nothing to make
 * durable. */
static int ov_flush(struct blk *b)
{
    (void)b;
    return 0;
}

static void ov_destroy(struct blk *b)
{
    struct overlay *o = (struct overlay *)b;
    for (size_t i = 0; i < o->nslot; i++)
        free(o->slot[i]);
    free(o->slot);
    pthread_rwlock_destroy(&o->lock);
    blk_close(o->base);
    free(o);
}

static const struct blk_ops overlay_ops = {
    .read = ov_read, .write = ov_write, .discard = ov_discard,
    .write_zeroes = ov_write_zeroes, .flush = ov_flush, .destroy = ov_destroy,
};

int blk_overlay_open(struct blk *base, struct blk **out)
{
    struct overlay *o = calloc(1, sizeof(*o));
    if (o)
        o->slot = calloc(64, sizeof(*o->slot));
    if (!o || !o->slot) {
        free(o);
        blk_close(base);
        return -ENOMEM;
    }
    o->nslot = 64;
    o->b.ops = &overlay_ops;
    o->b.sectors = base->sectors;
    o->b.readonly = false;
    o->base = base;
    pthread_rwlock_init(&o->lock, NULL);
    *out = &o->b;
    return 0;
}
