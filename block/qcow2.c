/*
 * block/qcow2.c — qcow2 images, versions 2 and 3 (QEMU's qcow2 format):
 * guest clusters mapped through the L1 table (kept in memory) and L2 tables
 * (a small cache), host clusters counted in refcount blocks (another cache)
 * under the refcount table (in memory), copy-on-write over a backing file.
 *
 * The write path and its crash ordering are in docs/storage.md: guest data
 * goes to the file at once; changed refcount blocks and L2 tables and the L1
 * table stay dirty in memory until a flush (or an eviction), which writes
 * them in dependency order with fdatasync between: refcounts and data,
 * then L2 tables, then L1. A crash at any point leaves at worst leaked
 * clusters (refcount 1, unreferenced), never a reference to a free one.
 *
 * Not implemented, refused at open: compressed clusters, encryption,
 * external data files, extended L2 entries, writing images with internal
 * snapshots (their shared clusters would need copy-on-write of their own)
 * or with the dirty/corrupt bits set.
 */
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block/blk_int.h"

#define QCOW2_MAGIC 0x514649fbu        /* "QFI\xfb" */
#define L1E_OFFSET 0x00fffffffffffe00ull
#define L2E_OFFSET 0x00fffffffffffe00ull
#define OFLAG_COPIED (1ull << 63)      /* refcount is exactly 1: write in place */
#define OFLAG_COMPRESSED (1ull << 62)
#define OFLAG_ZERO 1ull                /* v3: reads as zeroes */
#define RT_OFFSET 0xfffffffffffffe00ull
#define EXT_BACKING_FORMAT 0xe2792acau
#define INCOMPAT_DIRTY 1ull
#define INCOMPAT_CORRUPT 2ull
#define MAX_BACKING_DEPTH 16
#define L2_CACHE_TABLES 32
#define RB_CACHE_BLOCKS 8

struct tcache {
    struct tent {
        uint64_t off;         /* host offset of the table; 0: empty slot */
        uint8_t *data;        /* one cluster, as on disk (big-endian) */
        bool dirty;
        uint64_t used;        /* LRU clock */
    } e[L2_CACHE_TABLES];
    int n;
    uint64_t tick;
};

struct qcow2 {
    struct blk b;
    struct blk_file f;
    pthread_mutex_t lock;     /* all metadata below */
    struct blk *backing;      /* NULL: unallocated clusters read as zeroes */
    uint32_t version;
    unsigned cbits;
    uint64_t cs;              /* cluster size */
    uint64_t size;            /* guest bytes */
    uint64_t header_len;
    uint32_t l1_size;
    uint64_t l1_off;
    uint64_t *l1;             /* host byte order */
    bool l1_dirty;
    uint64_t rt_off;
    uint32_t rt_clusters;
    uint64_t *rt;             /* host byte order */
    uint64_t rt_entries;
    unsigned rbits;           /* refcount width in bits */
    uint64_t epb;             /* refcount entries per block */
    uint64_t l2_entries;
    struct tcache l2c, rbc;
    uint64_t free_hint;       /* no free cluster below this one */
    int err;                  /* a failed metadata write: the image is left alone */
};

/* ---- metadata caches ---- */

static int meta_write(struct qcow2 *q, const void *p, size_t len, uint64_t off)
{
    int rc = blk_file_pwrite(&q->f, p, len, off);
    if (rc && !q->err)
        q->err = rc;
    return rc;
}

static int sync_file(struct qcow2 *q)
{
    int rc = blk_file_sync(&q->f);
    if (rc && !q->err)
        q->err = rc;
    return rc;
}

static int write_back_rbc(struct qcow2 *q)
{
    for (int i = 0; i < q->rbc.n; i++) {
        struct tent *t = &q->rbc.e[i];
        if (t->off && t->dirty) {
            int rc = meta_write(q, t->data, q->cs, t->off);
            if (rc)
                return rc;
            t->dirty = false;
        }
    }
    return 0;
}

static bool rbc_dirty(const struct qcow2 *q)
{
    for (int i = 0; i < q->rbc.n; i++)
        if (q->rbc.e[i].off && q->rbc.e[i].dirty)
            return true;
    return false;
}

/* Write one cached table back. An L2 table may only reach the disk after the
 * refcounts of the clusters it points to (and the data in them) did. */
static int write_back(struct qcow2 *q, struct tcache *c, struct tent *t)
{
    if (c == &q->l2c && rbc_dirty(q)) {
        int rc = write_back_rbc(q);
        if (!rc)
            rc = sync_file(q);
        if (rc)
            return rc;
    }
    int rc = meta_write(q, t->data, q->cs, t->off);
    if (!rc)
        t->dirty = false;
    return rc;
}

/* The cached table at host offset off, loaded (or, fresh, zero-filled). */
static int tc_get(struct qcow2 *q, struct tcache *c, uint64_t off, bool fresh, struct tent **out)
{
    struct tent *victim = NULL;
    for (int i = 0; i < c->n; i++) {
        struct tent *t = &c->e[i];
        if (t->off == off) {
            if (fresh) {        /* only with a damaged image: start it over */
                memset(t->data, 0, q->cs);
                t->dirty = true;
            }
            t->used = ++c->tick;
            *out = t;
            return 0;
        }
        if (!victim || !t->off || (victim->off && t->used < victim->used))
            victim = t;
    }
    if (victim->off && victim->dirty) {
        int rc = write_back(q, c, victim);
        if (rc)
            return rc;
    }
    victim->off = 0;
    int rc = 0;
    if (fresh)
        memset(victim->data, 0, q->cs);
    else
        rc = blk_file_pread(&q->f, victim->data, q->cs, off);
    if (rc)
        return rc;
    victim->off = off;
    victim->dirty = fresh;
    victim->used = ++c->tick;
    *out = victim;
    return 0;
}

static int tc_init(struct tcache *c, int n, uint64_t cs)
{
    c->n = n;
    for (int i = 0; i < n; i++)
        if (posix_memalign((void **)&c->e[i].data, 4096, cs))
            return -ENOMEM;
    return 0;
}

static void tc_free(struct tcache *c)
{
    for (int i = 0; i < c->n; i++)
        free(c->e[i].data);
}

/* ---- refcounts ---- */

static uint64_t rb_get(const struct qcow2 *q, const uint8_t *blk, uint64_t i)
{
    switch (q->rbits) {
    case 8: return blk[i];
    case 16: return be16toh(((const uint16_t *)blk)[i]);
    case 32: return be32toh(((const uint32_t *)blk)[i]);
    case 64: return be64toh(((const uint64_t *)blk)[i]);
    default: /* 1, 2, 4 bits: entry 0 in the low bits of byte 0 */
        return (blk[i * q->rbits / 8] >> (i * q->rbits % 8)) & ((1u << q->rbits) - 1);
    }
}

static void rb_set(const struct qcow2 *q, uint8_t *blk, uint64_t i, uint64_t v)
{
    switch (q->rbits) {
    case 8: blk[i] = (uint8_t)v; break;
    case 16: ((uint16_t *)blk)[i] = htobe16((uint16_t)v); break;
    case 32: ((uint32_t *)blk)[i] = htobe32((uint32_t)v); break;
    case 64: ((uint64_t *)blk)[i] = htobe64(v); break;
    default: {
        unsigned sh = (unsigned)(i * q->rbits % 8), m = ((1u << q->rbits) - 1) << sh;
        uint8_t *p = &blk[i * q->rbits / 8];
        *p = (uint8_t)((*p & ~m) | ((v << sh) & m));
    }
    }
}

static int refcount(struct qcow2 *q, uint64_t cl, uint64_t *out)
{
    uint64_t ti = cl / q->epb;
    *out = 0;
    if (ti >= q->rt_entries || !(q->rt[ti] & RT_OFFSET))
        return 0;
    struct tent *t;
    int rc = tc_get(q, &q->rbc, q->rt[ti] & RT_OFFSET, false, &t);
    if (!rc)
        *out = rb_get(q, t->data, cl % q->epb);
    return rc;
}

static int grow_rt(struct qcow2 *q, uint64_t need_ti, uint64_t avoid);

/* A refcount block for table index ti, which has none: placed inside the
 * range it describes (all free, as nothing counts them yet), so it counts
 * itself, and never on cluster avoid (being allocated right now). Written
 * and synced before the table points at it. */
static int new_refblock(struct qcow2 *q, uint64_t ti, uint64_t avoid)
{
    uint64_t first = ti * q->epb;
    uint64_t cl = first == avoid ? first + 1 : first;
    struct tent *t;
    int rc = tc_get(q, &q->rbc, cl << q->cbits, true, &t);
    if (rc)
        return rc;
    rb_set(q, t->data, cl - first, 1);
    if ((rc = meta_write(q, t->data, q->cs, cl << q->cbits)) || (rc = sync_file(q)))
        return rc;
    t->dirty = false;
    q->rt[ti] = cl << q->cbits;
    uint64_t be = htobe64(q->rt[ti]);
    if ((rc = meta_write(q, &be, 8, q->rt_off + ti * 8)) || (rc = sync_file(q)))
        return rc;
    return 0;
}

static int set_refcount(struct qcow2 *q, uint64_t cl, uint64_t v)
{
    uint64_t ti = cl / q->epb;
    int rc;
    if (ti >= q->rt_entries && (rc = grow_rt(q, ti, cl)))
        return rc;
    if (!(q->rt[ti] & RT_OFFSET) && (rc = new_refblock(q, ti, cl)))
        return rc;
    struct tent *t;
    if ((rc = tc_get(q, &q->rbc, q->rt[ti] & RT_OFFSET, false, &t)))
        return rc;
    rb_set(q, t->data, cl % q->epb, v);
    t->dirty = true;
    return 0;
}

/* A free host cluster, counted as used (refcount 1) from now on. */
static int alloc_cluster(struct qcow2 *q, uint64_t *out)
{
    uint64_t cl = q->free_hint, rc_v;
    int64_t fsz = blk_file_size(&q->f);
    if (fsz < 0)
        return (int)fsz;
    /* Past the end of the file only clusters allocated since the last
     * flush can be in use; a long run of them means a corrupt table. */
    uint64_t limit = ((uint64_t)fsz >> q->cbits) + 65536;
    int rc;
    for (;; cl++) {
        if (cl > limit)
            return -EIO;
        if ((rc = refcount(q, cl, &rc_v)))
            return rc;
        if (rc_v == 0)
            break;
    }
    if (cl >= (L2E_OFFSET >> q->cbits))
        return -ENOSPC;
    if ((rc = set_refcount(q, cl, 1)))
        return rc;
    q->free_hint = cl + 1;
    *out = cl << q->cbits;
    return 0;
}

/* The refcount table is full: a bigger one goes past everything it counts
 * now, with a refcount block of its own right after it that counts both. */
static int grow_rt(struct qcow2 *q, uint64_t need_ti, uint64_t avoid)
{
    int64_t fsz = blk_file_size(&q->f);
    if (fsz < 0)
        return (int)fsz;
    uint64_t start = ((uint64_t)fsz + q->cs - 1) >> q->cbits;
    if (start < q->rt_entries * q->epb)
        start = q->rt_entries * q->epb;
    if (start <= avoid)
        start = avoid + 1;
    start = (start + q->epb - 1) / q->epb * q->epb;      /* a fresh block's range */
    uint64_t top = need_ti > start / q->epb ? need_ti : start / q->epb;
    uint64_t nclusters = ((top + 1) * 8 + q->cs - 1) >> q->cbits;
    nclusters += nclusters / 2 + 1;                      /* room to grow */
    if (nclusters + 1 > q->epb || nclusters > (8u << 20) >> q->cbits)
        return -ENOSPC;
    uint64_t nentries = (nclusters << q->cbits) / 8;
    uint64_t *nrt = calloc(nentries, 8);
    uint64_t *disk = calloc(nentries, 8);
    if (!nrt || !disk) {
        free(nrt);
        free(disk);
        return -ENOMEM;
    }
    memcpy(nrt, q->rt, q->rt_entries * 8);
    uint64_t rbcl = start + nclusters;
    nrt[start / q->epb] = rbcl << q->cbits;
    for (uint64_t i = 0; i < nentries; i++)
        disk[i] = htobe64(nrt[i]);
    /* The new block counts the new table and itself. */
    struct tent *t;
    int rc = tc_get(q, &q->rbc, rbcl << q->cbits, true, &t);
    for (uint64_t c = start; !rc && c <= rbcl; c++)
        rb_set(q, t->data, c - start, 1);
    if (!rc && !(rc = meta_write(q, t->data, q->cs, rbcl << q->cbits)))
        t->dirty = false;
    if (!rc && !(rc = meta_write(q, disk, nclusters << q->cbits, start << q->cbits)))
        rc = sync_file(q);
    free(disk);
    if (rc) {
        free(nrt);
        return rc;
    }
    /* Switch the header over (offset and size: 12 bytes in one write). */
    uint8_t h[12];
    uint64_t be_off = htobe64(start << q->cbits);
    uint32_t be_n = htobe32((uint32_t)nclusters);
    memcpy(h, &be_off, 8);
    memcpy(h + 8, &be_n, 4);
    if ((rc = meta_write(q, h, 12, 48)) || (rc = sync_file(q))) {
        free(nrt);
        return rc;
    }
    uint64_t old_off = q->rt_off, old_n = q->rt_clusters;
    free(q->rt);
    q->rt = nrt;
    q->rt_off = start << q->cbits;
    q->rt_clusters = (uint32_t)nclusters;
    q->rt_entries = nentries;
    /* The old table's clusters are free now. */
    for (uint64_t c = 0; c < old_n; c++)
        if ((rc = set_refcount(q, (old_off >> q->cbits) + c, 0)))
            return rc;
    if ((old_off >> q->cbits) < q->free_hint)
        q->free_hint = old_off >> q->cbits;
    return 0;
}

/* ---- cluster mapping ---- */

/* The L2 entry of guest cluster vcl (0 where there is no L2 table); with
 * alloc, the L2 table is made when missing and *tp and *idx say where the entry
 * lives so the caller can change it. */
static int l2_lookup(struct qcow2 *q, uint64_t vcl, bool alloc, uint64_t *entry, struct tent **tp,
                     uint64_t *idx)
{
    uint64_t l1i = vcl / q->l2_entries, l2i = vcl % q->l2_entries;
    *entry = 0;
    if (l1i >= q->l1_size)
        return -EIO;
    uint64_t l2off = q->l1[l1i] & L1E_OFFSET;
    struct tent *t;
    int rc;
    if (!l2off) {
        if (!alloc)
            return 0;
        if ((rc = alloc_cluster(q, &l2off)) || (rc = tc_get(q, &q->l2c, l2off, true, &t)))
            return rc;
        q->l1[l1i] = l2off | OFLAG_COPIED;
        q->l1_dirty = true;
    } else {
        if (l2off & (q->cs - 1))
            return -EIO;
        if ((rc = tc_get(q, &q->l2c, l2off, false, &t)))
            return rc;
    }
    *entry = be64toh(((uint64_t *)t->data)[l2i]);
    if (tp) {
        *tp = t;
        *idx = l2i;
    }
    return 0;
}

static void l2_set(struct tent *t, uint64_t idx, uint64_t entry)
{
    ((uint64_t *)t->data)[idx] = htobe64(entry);
    t->dirty = true;
}

/* What an unallocated range [off, off+len) of the guest disk holds: the
 * backing file's bytes where it has them, zeroes past its end. */
static int read_backing(struct qcow2 *q, uint64_t off, uint64_t len, uint8_t *buf)
{
    memset(buf, 0, len);
    if (!q->backing)
        return 0;
    uint64_t bsize = blk_sectors(q->backing) * BLK_SECTOR_SIZE;
    if (off >= bsize)
        return 0;
    uint64_t n = len < bsize - off ? len : bsize - off;
    /* off and len are sector multiples: guest requests are in sectors and
     * clusters are at least one. */
    return blk_read(q->backing, off / BLK_SECTOR_SIZE, (uint32_t)(n / BLK_SECTOR_SIZE), buf);
}

static int q_read(struct blk *b, uint64_t sector, uint32_t count, void *buf)
{
    struct qcow2 *q = (struct qcow2 *)b;
    uint64_t off = sector * BLK_SECTOR_SIZE, left = (uint64_t)count * BLK_SECTOR_SIZE;
    uint8_t *p = buf;
    while (left) {
        uint64_t in = off & (q->cs - 1), n = q->cs - in < left ? q->cs - in : left, e;
        pthread_mutex_lock(&q->lock);
        int rc = l2_lookup(q, off >> q->cbits, false, &e, NULL, NULL);
        pthread_mutex_unlock(&q->lock);
        if (rc)
            return rc;
        if (e & OFLAG_COMPRESSED)
            return -EIO;
        uint64_t host = e & L2E_OFFSET;
        if (q->version >= 3 && (e & OFLAG_ZERO))
            memset(p, 0, n);
        else if (!host)
            rc = read_backing(q, off, n, p);
        else
            rc = blk_file_pread(&q->f, p, n, host + in);
        if (rc)
            return rc;
        p += n;
        off += n;
        left -= n;
    }
    return 0;
}

/* Write [in, in+n) of guest cluster vcl from data (NULL: zeroes). Under the
 * lock, since it may allocate. */
static int write_cluster(struct qcow2 *q, uint64_t vcl, uint64_t in, uint64_t n,
                         const uint8_t *data, uint8_t *cbuf)
{
    struct tent *t;
    uint64_t idx, e;
    int rc = l2_lookup(q, vcl, true, &e, &t, &idx);
    if (rc)
        return rc;
    if (e & OFLAG_COMPRESSED)
        return -EIO;
    uint64_t host = e & L2E_OFFSET;
    bool zero = q->version >= 3 && (e & OFLAG_ZERO);
    if (host && !(e & OFLAG_COPIED))
        return -EIO;     /* shared: only with snapshots, refused at open */
    if (host && !zero)
        return data ? blk_file_pwrite(&q->f, data, n, host + in)
                    : blk_file_zero(&q->f, host + in, n);
    /* A new cluster (or a preallocated zero one): what the guest did not
     * write comes from below (copy-on-write), or is zero. */
    if (!host && (rc = alloc_cluster(q, &host)))
        return rc;
    if (n < q->cs) {
        if (zero)
            memset(cbuf, 0, q->cs);
        else if ((rc = read_backing(q, vcl << q->cbits, q->cs, cbuf)))
            return rc;
    }
    if (data)
        memcpy(cbuf + in, data, n);
    else
        memset(cbuf + in, 0, n);
    if ((rc = blk_file_pwrite(&q->f, cbuf, q->cs, host)))
        return rc;
    l2_set(t, idx, host | OFLAG_COPIED);
    return 0;
}

static int q_write_common(struct qcow2 *q, uint64_t sector, uint32_t count, const uint8_t *p)
{
    uint64_t off = sector * BLK_SECTOR_SIZE, left = (uint64_t)count * BLK_SECTOR_SIZE;
    uint8_t *cbuf = NULL;
    int rc = 0;
    while (left && !rc) {
        uint64_t in = off & (q->cs - 1), n = q->cs - in < left ? q->cs - in : left, e;
        /* The common case, an allocated cluster, writes outside the lock. */
        pthread_mutex_lock(&q->lock);
        rc = q->err ? q->err : l2_lookup(q, off >> q->cbits, false, &e, NULL, NULL);
        pthread_mutex_unlock(&q->lock);
        if (rc)
            break;
        uint64_t host = e & L2E_OFFSET;
        if (host && (e & OFLAG_COPIED) && !(q->version >= 3 && (e & OFLAG_ZERO))) {
            rc = p ? blk_file_pwrite(&q->f, p, n, host + in) : blk_file_zero(&q->f, host + in, n);
        } else {
            if (!cbuf && posix_memalign((void **)&cbuf, 4096, q->cs)) {
                rc = -ENOMEM;
                break;
            }
            pthread_mutex_lock(&q->lock);
            rc = write_cluster(q, off >> q->cbits, in, n, p, cbuf);
            pthread_mutex_unlock(&q->lock);
        }
        if (p)
            p += n;
        off += n;
        left -= n;
    }
    free(cbuf);
    return rc;
}

static int q_write(struct blk *b, uint64_t sector, uint32_t count, const void *buf)
{
    return q_write_common((struct qcow2 *)b, sector, count, buf);
}

/* v3 zero clusters for the clusters wholly inside the range: an allocated
 * one keeps its host cluster (preallocated, refcount unchanged, so nothing
 * needs freeing in crash-safe order) and, with unmap, gives its space back
 * to the host file system by a punched hole. */
static int zero_clusters(struct qcow2 *q, uint64_t sector, uint32_t count, bool unmap,
                         bool partial_too)
{
    uint64_t off = sector * BLK_SECTOR_SIZE, end = off + (uint64_t)count * BLK_SECTOR_SIZE;
    int rc = 0;
    while (off < end && !rc) {
        uint64_t in = off & (q->cs - 1), n = q->cs - in < end - off ? q->cs - in : end - off;
        if (n < q->cs) {
            if (partial_too)
                rc = q_write_common(q, off / BLK_SECTOR_SIZE, (uint32_t)(n / BLK_SECTOR_SIZE),
                                    NULL);
        } else {
            struct tent *t;
            uint64_t idx, e;
            pthread_mutex_lock(&q->lock);
            rc = q->err ? q->err : l2_lookup(q, off >> q->cbits, false, &e, NULL, NULL);
            /* Already zero and nothing to give back: no L2 table needed. */
            bool done = !rc && (e & OFLAG_ZERO ? !(e & L2E_OFFSET) || !unmap
                                               : !e && !q->backing);
            if (!rc && !done)
                rc = l2_lookup(q, off >> q->cbits, true, &e, &t, &idx);
            if (!rc && (e & OFLAG_COMPRESSED))
                rc = -EIO;
            if (!rc && !done) {
                uint64_t host = e & L2E_OFFSET;
                if (host && unmap)
                    blk_file_punch(&q->f, host, q->cs);   /* best effort */
                l2_set(t, idx, host ? host | OFLAG_COPIED | OFLAG_ZERO : OFLAG_ZERO);
            }
            pthread_mutex_unlock(&q->lock);
        }
        off += n;
    }
    return rc;
}

static int q_write_zeroes(struct blk *b, uint64_t sector, uint32_t count, bool unmap)
{
    struct qcow2 *q = (struct qcow2 *)b;
    if (q->version < 3)
        return q_write_common(q, sector, count, NULL);
    return zero_clusters(q, sector, count, unmap, true);
}

/* Discarded clusters read as zeroes afterwards; partial ones keep their
 * data (allowed: discard need not change what is read). v2 has no zero
 * clusters and freeing would need its own ordering: not supported. */
static int q_discard(struct blk *b, uint64_t sector, uint32_t count)
{
    struct qcow2 *q = (struct qcow2 *)b;
    if (q->version < 3)
        return -EOPNOTSUPP;
    return zero_clusters(q, sector, count, true, false);
}

/* Dependency order: data and refcounts, then L2 tables, then L1, each step
 * durable before the next starts. */
static int flush_locked(struct qcow2 *q)
{
    int rc = write_back_rbc(q);
    if (!rc)
        rc = sync_file(q);
    bool wrote = false;
    for (int i = 0; !rc && i < q->l2c.n; i++) {
        struct tent *t = &q->l2c.e[i];
        if (t->off && t->dirty) {
            rc = meta_write(q, t->data, q->cs, t->off);
            t->dirty = rc != 0;
            wrote = true;
        }
    }
    if (!rc && q->l1_dirty) {
        if (wrote)
            rc = sync_file(q);
        size_t len = (size_t)q->l1_size * 8;
        uint64_t *d = NULL;
        if (!rc && posix_memalign((void **)&d, 4096, len ? len : 8))
            rc = -ENOMEM;
        for (uint32_t i = 0; !rc && i < q->l1_size; i++)
            d[i] = htobe64(q->l1[i]);
        if (!rc)
            rc = meta_write(q, d, len, q->l1_off);
        free(d);
        if (!rc) {
            q->l1_dirty = false;
            wrote = true;
        }
    }
    if (!rc && wrote)
        rc = sync_file(q);
    return rc ? rc : q->err;
}

static int q_flush(struct blk *b)
{
    struct qcow2 *q = (struct qcow2 *)b;
    pthread_mutex_lock(&q->lock);
    int rc = flush_locked(q);
    pthread_mutex_unlock(&q->lock);
    return rc;
}

static void q_destroy(struct blk *b)
{
    struct qcow2 *q = (struct qcow2 *)b;
    if (!q->b.readonly && q->l1)
        q_flush(b);
    blk_close(q->backing);
    blk_file_close(&q->f);
    tc_free(&q->l2c);
    tc_free(&q->rbc);
    free(q->l1);
    free(q->rt);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

static const struct blk_ops qcow2_ops = {
    .read = q_read, .write = q_write, .discard = q_discard,
    .write_zeroes = q_write_zeroes, .flush = q_flush, .destroy = q_destroy,
};

/* ---- open ---- */

static uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return be32toh(v);
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return be64toh(v);
}

static int bad(char *err, size_t errlen, const char *path, int rc, const char *why)
{
    snprintf(err, errlen, "%s: %s", path, why);
    return rc;
}

/* The backing file's name relative to the image's folder, as QEMU does. */
static void backing_path(const char *image, const char *name, char *out, size_t outlen)
{
    const char *slash = strrchr(image, '/');
    if (name[0] == '/' || !slash)
        snprintf(out, outlen, "%s", name);
    else
        snprintf(out, outlen, "%.*s/%s", (int)(slash - image), image, name);
}

static int open_depth(const char *path, const struct blk_opts *o, int depth, struct blk **out,
                      char *err, size_t errlen);

/* Header, header extensions and backing file. */
static int parse_header(struct qcow2 *q, const char *path, const struct blk_opts *o, int depth,
                        char *err, size_t errlen)
{
    uint8_t h[4096];
    int rc = blk_file_pread(&q->f, h, sizeof(h), 0);
    if (rc)
        return bad(err, errlen, path, rc, "cannot read the qcow2 header");
    if (get32(h) != QCOW2_MAGIC)
        return bad(err, errlen, path, -EINVAL, "not a qcow2 image (no QFI\\xfb magic)");
    q->version = get32(h + 4);
    if (q->version != 2 && q->version != 3) {
        snprintf(err, errlen, "%s: qcow2 version %u is not supported (2 and 3 are)", path,
                 q->version);
        return -ENOTSUP;
    }
    uint64_t bf_off = get64(h + 8);
    uint32_t bf_len = get32(h + 16);
    q->cbits = get32(h + 20);
    q->size = get64(h + 24);
    uint32_t crypt = get32(h + 32);
    q->l1_size = get32(h + 36);
    q->l1_off = get64(h + 40);
    q->rt_off = get64(h + 48);
    q->rt_clusters = get32(h + 56);
    uint32_t nsnap = get32(h + 60);
    uint64_t incompat = 0, autoclear = 0;
    unsigned rorder = 4;
    q->header_len = 72;
    if (q->version >= 3) {
        incompat = get64(h + 72);
        autoclear = get64(h + 88);
        rorder = get32(h + 96);
        q->header_len = get32(h + 100);
    }
    if (q->cbits < 9 || q->cbits > 21)
        return bad(err, errlen, path, -EINVAL, "qcow2 cluster size out of range (512 B..2 MiB)");
    q->cs = 1ull << q->cbits;
    if (rorder > 6)
        return bad(err, errlen, path, -EINVAL, "qcow2 refcount_order above 6");
    if (q->header_len < 72 || q->header_len > sizeof(h) || q->header_len > q->cs)
        return bad(err, errlen, path, -EINVAL, "qcow2 header length out of range");
    if (crypt)
        return bad(err, errlen, path, -ENOTSUP, "encrypted qcow2 images are not supported");
    if (incompat & INCOMPAT_DIRTY)
        return bad(err, errlen, path, -ENOTSUP,
                   "qcow2 image is marked dirty (lazy refcounts): repair it with "
                   "'qemu-img check -r all' first");
    if (incompat & INCOMPAT_CORRUPT && !o->readonly)
        return bad(err, errlen, path, -ENOTSUP,
                   "qcow2 image is marked corrupt: it can only be opened read-only");
    if (incompat & ~(INCOMPAT_DIRTY | INCOMPAT_CORRUPT)) {
        snprintf(err, errlen, "%s: qcow2 incompatible features 0x%llx are not supported "
                 "(external data file, compression type or extended L2 entries)", path,
                 (unsigned long long)incompat);
        return -ENOTSUP;
    }
    if (nsnap && !o->readonly)
        return bad(err, errlen, path, -ENOTSUP,
                   "qcow2 image has internal snapshots: btvm opens it only read-only "
                   "(readonly=on or snapshot=on)");
    q->rbits = 1u << rorder;
    q->epb = q->cs * 8 / q->rbits;
    q->l2_entries = q->cs / 8;
    uint64_t clusters = (q->size + q->cs - 1) >> q->cbits;
    if ((q->l1_off & (q->cs - 1)) || (q->rt_off & (q->cs - 1)) || !q->rt_off || !q->rt_clusters ||
        q->rt_clusters > ((8u << 20) >> q->cbits) + 1 || q->l1_size > (32u << 20) / 8 ||
        (q->l1_size && !q->l1_off) ||
        (uint64_t)q->l1_size * q->l2_entries < clusters)
        return bad(err, errlen, path, -EINVAL, "malformed qcow2 header (table offsets or sizes)");
    if (q->size / BLK_SECTOR_SIZE > INT64_MAX / BLK_SECTOR_SIZE)
        return bad(err, errlen, path, -EINVAL, "qcow2 virtual size too large");

    /* Header extensions: only the backing file's format matters here. */
    char bfmt[16] = "";
    for (uint64_t p = q->header_len; p + 8 <= sizeof(h) && p + 8 <= q->cs;) {
        uint32_t type = get32(h + p), len = get32(h + p + 4);
        if (type == 0)
            break;
        if (p + 8 + len > sizeof(h))
            return bad(err, errlen, path, -EINVAL, "malformed qcow2 header extension");
        if (type == EXT_BACKING_FORMAT)
            snprintf(bfmt, sizeof(bfmt), "%.*s", (int)(len < 15 ? len : 15), h + p + 8);
        p += 8 + ((len + 7ull) & ~7ull);
    }
    /* Clear autoclear bits we do not maintain before writing anything, as
     * the format asks. */
    if (autoclear && !o->readonly) {
        uint64_t z = 0;
        if ((rc = blk_file_pwrite(&q->f, &z, 8, 88)) || (rc = blk_file_sync(&q->f)))
            return bad(err, errlen, path, rc, "cannot update the qcow2 header");
    }

    if (bf_off) {
        if (bf_len == 0 || bf_len > 1023 || bf_off + bf_len > q->cs)
            return bad(err, errlen, path, -EINVAL, "malformed qcow2 backing file name");
        char name[1024], bpath[PATH_MAX + 1024];
        if ((rc = blk_file_pread(&q->f, name, bf_len, bf_off)))
            return bad(err, errlen, path, rc, "cannot read the backing file name");
        name[bf_len] = 0;
        if (strlen(name) != bf_len)
            return bad(err, errlen, path, -EINVAL, "malformed qcow2 backing file name");
        backing_path(path, name, bpath, sizeof(bpath));
        struct blk_opts bo = { .format = BLK_FMT_RAW, .readonly = true, .cache = o->cache };
        if (!strcmp(bfmt, "qcow2"))
            bo.format = BLK_FMT_QCOW2;
        else if (bfmt[0] && strcmp(bfmt, "raw")) {
            snprintf(err, errlen, "%s: backing file format '%s' is not supported (raw, qcow2)",
                     path, bfmt);
            return -ENOTSUP;
        } else if (!bfmt[0] && (rc = blk_probe_format(bpath, &bo.format))) {
            snprintf(err, errlen, "%s: cannot open its backing file %s: %s", path, bpath,
                     strerror(-rc));
            return rc;
        }
        if (depth >= MAX_BACKING_DEPTH)
            return bad(err, errlen, path, -ELOOP, "backing file chain too long (a loop?)");
        char berr[512];
        rc = bo.format == BLK_FMT_QCOW2 ? open_depth(bpath, &bo, depth + 1, &q->backing, berr,
                                                     sizeof(berr))
                                        : blk_raw_open(bpath, &bo, &q->backing, berr,
                                                       sizeof(berr));
        if (rc) {
            snprintf(err, errlen, "%s: backing file: %s", path, berr);
            return rc;
        }
    }
    return 0;
}

/* L1 and refcount tables into memory; every L2 table checked for
 * compressed clusters (refused: btvm does not decompress). */
static int load_tables(struct qcow2 *q, const char *path, char *err, size_t errlen)
{
    int rc;
    q->l1 = calloc(q->l1_size ? q->l1_size : 1, 8);
    q->rt_entries = ((uint64_t)q->rt_clusters << q->cbits) / 8;
    q->rt = calloc(q->rt_entries, 8);
    if (!q->l1 || !q->rt)
        return bad(err, errlen, path, -ENOMEM, "out of memory");
    if ((rc = blk_file_pread(&q->f, q->l1, (size_t)q->l1_size * 8, q->l1_off)) ||
        (rc = blk_file_pread(&q->f, q->rt, q->rt_entries * 8, q->rt_off)))
        return bad(err, errlen, path, rc, "cannot read the qcow2 tables");
    for (uint64_t i = 0; i < q->rt_entries; i++) {
        q->rt[i] = be64toh(q->rt[i]);
        /* Aligned, and below 2^56 like L1 and L2 offsets: past that no
         * file reaches, and past 2^63 pread's offset turns negative. */
        if (q->rt[i] & RT_OFFSET & ((q->cs - 1) | ~L1E_OFFSET))
            return bad(err, errlen, path, -EINVAL, "malformed qcow2 refcount table");
    }
    for (uint32_t i = 0; i < q->l1_size; i++) {
        q->l1[i] = be64toh(q->l1[i]);
        uint64_t l2 = q->l1[i] & L1E_OFFSET;
        if (!l2)
            continue;
        if (l2 & (q->cs - 1))
            return bad(err, errlen, path, -EINVAL, "malformed qcow2 L1 table");
        struct tent *t;
        if ((rc = tc_get(q, &q->l2c, l2, false, &t)))
            return bad(err, errlen, path, rc, "cannot read a qcow2 L2 table");
        for (uint64_t j = 0; j < q->l2_entries; j++) {
            uint64_t e = be64toh(((uint64_t *)t->data)[j]);
            if (e & OFLAG_COMPRESSED)
                return bad(err, errlen, path, -ENOTSUP,
                           "qcow2 image has compressed clusters, which btvm does not read "
                           "(convert it: qemu-img convert -O qcow2)");
            if ((e & L2E_OFFSET) & (q->cs - 1))
                return bad(err, errlen, path, -EINVAL, "malformed qcow2 L2 table");
        }
    }
    return 0;
}

static int open_depth(const char *path, const struct blk_opts *o, int depth, struct blk **out,
                      char *err, size_t errlen)
{
    struct qcow2 *q = calloc(1, sizeof(*q));
    if (!q)
        return bad(err, errlen, path, -ENOMEM, "out of memory");
    int rc = blk_file_open(path, o->readonly, o->cache == BLK_CACHE_NONE, &q->f, err, errlen);
    if (rc) {
        free(q);
        return rc;
    }
    pthread_mutex_init(&q->lock, NULL);
    q->b.ops = &qcow2_ops;
    q->b.readonly = true;      /* no flush on the way out until fully open */
    if (!(rc = parse_header(q, path, o, depth, err, errlen)) &&
        !(rc = tc_init(&q->l2c, L2_CACHE_TABLES, q->cs)) &&
        !(rc = tc_init(&q->rbc, RB_CACHE_BLOCKS, q->cs)))
        rc = load_tables(q, path, err, errlen);
    else if (rc == -ENOMEM)
        bad(err, errlen, path, rc, "out of memory");
    if (rc) {
        free(q->l1);
        q->l1 = NULL;
        q_destroy(&q->b);
        return rc;
    }
    q->b.sectors = q->size / BLK_SECTOR_SIZE;
    q->b.readonly = o->readonly;
    *out = &q->b;
    return 0;
}

int blk_qcow2_open(const char *path, const struct blk_opts *o, struct blk **out, char *err,
                   size_t errlen)
{
    return open_depth(path, o, 0, out, err, errlen);
}
