/*
 * shadowmmu/shadow.c — shadow address spaces, traces and the reverse map.
 *
 * Each recently used guest address space (CR3 + paging mode) keeps its
 * shadow entries in a small hash (linear page → guest-physical page +
 * permissions). The inline tables hold the active one's entries; a CR3
 * load clears them (entry by entry, from the hash) and writes the next
 * space's entries back, so a process switched back to runs without a
 * single hidden fault. A budget bounds the entries of all spaces; past it
 * the least recently used space is dropped.
 *
 * Traces: every page-table page a fill relied on gets a record (address
 * space, first linear page its entries map, pages per entry, entry size).
 * While a page has records no write entry maps it, so guest writes to it
 * reach smmu_trace_write(), which drops exactly the entries derived from
 * the bytes written, in every cached space. Records are checked lazily: one
 * whose space was flushed since (generation) is dropped when met.
 *
 * The reverse map lists, per guest-physical page, the linear pages mapping
 * it, so a page that becomes traced or gets translated code loses its write
 * entries at once, whatever alias maps it.
 */
#include "shadowmmu/smmu.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct smmu_ref {
    int32_t next;
    uint32_t base_vpn;
    uint32_t gen;
    uint8_t as, span_log, esize_log;
};

struct smmu_rmap {
    int32_t next;
    uint32_t vpn;
    uint32_t gen;
    uint8_t as;
};

#define TBL(m, t, vpn) ((m)->tlb[(size_t)(t) * SMMU_TLB_ENTRIES + (vpn)])
#define ANY(m, vpn) ((m)->summary[vpn])

/* ---- the hash of one address space (linear probing) ------------------- */

static inline uint32_t hslot(uint32_t vpn, uint32_t mask)
{
    return (vpn * 0x9E3779B1u >> 8) & mask;
}

/* Behind the cap slots, one bit per slot: occupied. A space's load and
 * unload (every CR3 switch) visit only the occupied slots through it; a
 * scan of all slots took a mispredicted branch per entry, and was most
 * of nano's cr3switch. */
static inline uint64_t *hbits(const struct smmu_as *a)
{
    return (uint64_t *)(void *)(a->h + a->cap);
}

static inline size_t hbytes(uint32_t cap)
{
    return (size_t)cap * sizeof(struct smmu_hent) + cap / 8;
}

static inline void hbit(struct smmu_as *a, uint32_t i, bool on)
{
    uint64_t *w = &hbits(a)[i >> 6];
    *w = on ? *w | 1ull << (i & 63) : *w & ~(1ull << (i & 63));
}

static struct smmu_hent *hfind(struct smmu_as *a, uint32_t vpn)
{
    if (!a->cap)
        return NULL;
    uint32_t mask = a->cap - 1;
    for (uint32_t i = hslot(vpn, mask);; i = (i + 1) & mask) {
        if (a->h[i].key == vpn + 1)
            return &a->h[i];
        if (!a->h[i].key)
            return NULL;
    }
}

static void hdel(struct smmu_as *a, struct smmu_hent *e)
{
    uint32_t mask = a->cap - 1;
    uint32_t i = (uint32_t)(e - a->h);
    a->region_n[(e->key - 1) >> 9]--;
    a->present[(e->key - 1) >> 6] &= ~(1ull << ((e->key - 1) & 63));
    a->h[i].key = 0;
    hbit(a, i, false);
    a->n--;
    /* Backward-shift the cluster after the hole. */
    for (uint32_t j = (i + 1) & mask; a->h[j].key; j = (j + 1) & mask) {
        uint32_t home = hslot(a->h[j].key - 1, mask);
        bool move = (j > i) ? (home <= i || home > j) : (home <= i && home > j);
        if (move) {
            a->h[i] = a->h[j];
            a->h[j].key = 0;
            hbit(a, i, true);
            hbit(a, j, false);
            i = j;
        }
    }
}

static int hgrow(struct smmu_as *a)
{
    if (!a->region_n && !(a->region_n = calloc(SMMU_REGIONS, sizeof(uint16_t))))
        return -ENOMEM;
    if (!a->present && !(a->present = calloc(SMMU_TLB_ENTRIES / 64, sizeof(uint64_t))))
        return -ENOMEM;
    uint32_t ncap = a->cap ? a->cap * 2 : 256;
    struct smmu_hent *nh = calloc(1, hbytes(ncap));
    if (!nh)
        return -ENOMEM;
    uint64_t *nbits = (uint64_t *)(void *)(nh + ncap);
    for (uint32_t i = 0; i < a->cap; i++) {
        if (!a->h[i].key)
            continue;
        uint32_t j = hslot(a->h[i].key - 1, ncap - 1);
        while (nh[j].key)
            j = (j + 1) & (ncap - 1);
        nh[j] = a->h[i];
        nbits[j >> 6] |= 1ull << (j & 63);
    }
    free(a->h);
    a->h = nh;
    a->cap = ncap;
    return 0;
}

/* ---- tables ------------------------------------------------------------ */

/* Entries past RAM exist only for the direct device page (smmu_direct_set):
 * they live in the device tables, and their reverse map in the extra slot
 * after the RAM pages'. The device tables are touched only for them (a
 * store of 0 would make their untouched pages resident). */
static inline bool is_dev(const struct smmu *m, uint64_t ppage)
{
    return ppage >= m->npages && !smmu_is_rom(m, ppage);
}

/* ROM pages share the extra slot too: they never change, so the only
 * drop that reaches them (the direct page's) costs refills, nothing else. */
static inline uint64_t rmap_index(const struct smmu *m, uint64_t ppage)
{
    return ppage >= m->npages ? m->npages : ppage;
}

/* Clearing a page's entries also clears its summary byte when the entry
 * is dropped (keep_any false); a space switched away from leaves it set
 * (a "maybe" is always safe), so the next load of the space, which sets
 * it again, stores nothing: a CR3 switch rewrote every byte twice, ~150
 * cycles of nano's cr3switch. INVLPG's C path clears it. */
static void tables_clear(struct smmu *m, uint32_t vpn, uint32_t ppage, bool keep_any)
{
    for (int t = 0; t < SMMU_NTABLES; t++)
        TBL(m, t, vpn) = 0;
    bool dev = is_dev(m, ppage);
    if (dev)
        for (int t = SMMU_T_SR; t <= SMMU_T_UW; t++)
            TBL(m, SMMU_T_DEV(t), vpn) = 0;
    if (!keep_any) /* bit 1 (device tables) only goes with them: no loads of those here */
        ANY(m, vpn) = dev ? 0 : ANY(m, vpn) & 2;
}

/* as: the space the entry is of (the active one, or the global one). */
static void tables_set(struct smmu *m, int as, uint32_t vpn, uint32_t ppage, uint8_t perm)
{
    if (is_dev(m, ppage)) {
        /* Only the direct page has entries here, only while it is allowed
         * (revoking drops them all): reads through the device tables. */
        bool ok = ppage == m->direct_ppage && m->direct_allowed && m->direct_host;
        uint64_t dev = (uint64_t)(uintptr_t)m->direct_host - ((uint64_t)vpn << 12);
        for (int t = 0; t < SMMU_NTABLES; t++)
            TBL(m, t, vpn) = 0;
        for (int t = SMMU_T_SR; t <= SMMU_T_UW; t++)
            TBL(m, SMMU_T_DEV(t), vpn) = ok && ((perm >> t) & 1) ? dev : 0;
        ANY(m, vpn) = ok ? 2 : 0;
        return;
    }
    uint64_t addend = (uint64_t)(uintptr_t)(m->ram + ((uint64_t)ppage << 12)) -
                      ((uint64_t)vpn << 12);
    if (!smmu_page_writable(m, ppage) || m->code_pages[ppage] || smmu_traced(m, ppage))
        perm &= (uint8_t)~((1u << SMMU_T_SW) | (1u << SMMU_T_UW));
    uint64_t uaddend = addend;
    if (as == m->active && m->as[as].win && (perm & (1u << SMMU_T_UR | 1u << SMMU_T_UW))) {
        uint64_t w = smmu_window_addend(m, &m->as[as], vpn, ppage);
        if (w)
            uaddend = w;
    }
    for (int t = SMMU_T_SR; t <= SMMU_T_UW; t++)
        TBL(m, t, vpn) = (perm >> t) & 1 ? (t >= SMMU_T_UR ? uaddend : addend) : 0;
    TBL(m, SMMU_T_SX, vpn) = (perm >> SMMU_T_SX) & 1 ? ppage + 1ull : 0;
    TBL(m, SMMU_T_UX, vpn) = (perm >> SMMU_T_UX) & 1 ? ppage + 1ull : 0;
    if (!(ANY(m, vpn) & 1)) /* set already after a CR3 switch (tables_clear): no store */
        ANY(m, vpn) |= 1;
}

size_t smmu_audit(const struct smmu *m, uint32_t vpn_lo, uint32_t vpn_hi)
{
    const uint8_t *ram = m->ram;
    size_t bad = 0;
    if (vpn_hi > SMMU_TLB_ENTRIES)
        vpn_hi = SMMU_TLB_ENTRIES;
    for (uint32_t vpn = vpn_lo; vpn < vpn_hi; vpn++) {
        uint64_t lin = (uint64_t)vpn << 12;
        for (int t = SMMU_T_SR; t <= SMMU_T_UW; t++) {
            uint64_t e = TBL(m, t, vpn);
            if (!e)
                continue;
            uint64_t wp;
            if (t >= SMMU_T_UR && smmu_window_phys(m, e, (uint32_t)lin, &wp)) {
                bad += wp >> 12 >= m->npages; /* a window maps RAM only */
                continue;
            }
            uintptr_t h = (uintptr_t)(e + lin);
            uint64_t off = (uint64_t)(h - (uintptr_t)ram);
            bool in_ram = h >= (uintptr_t)ram && off < ((uint64_t)m->npages << 12);
            bool in_rom = h >= (uintptr_t)ram && off >> 12 >= m->rom_first && off >> 12 < (1ull << 20);
            bad += !(in_ram || in_rom) || (off & 0xFFF);
        }
        for (int t = SMMU_T_SR; t <= SMMU_T_UW; t++) {
            uint64_t e = TBL(m, SMMU_T_DEV(t), vpn);
            if (e)
                bad += !(m->direct_host && m->direct_allowed &&
                         (uintptr_t)(e + lin) == (uintptr_t)m->direct_host);
        }
        for (int t = SMMU_T_SX; t <= SMMU_T_UX; t++) {
            uint64_t e = TBL(m, t, vpn);
            if (e)
                bad += !(e - 1 < m->npages || smmu_is_rom(m, e - 1));
        }
    }
    return bad;
}

static void as_unload(struct smmu *m, struct smmu_as *a)
{
    const uint64_t *bits = a->h ? hbits(a) : NULL;
    for (uint32_t w = 0; bits && w < a->cap / 64; w++)
        for (uint64_t b = bits[w]; b; b &= b - 1) {
            const struct smmu_hent *e = &a->h[w * 64 + (uint32_t)__builtin_ctzll(b)];
            tables_clear(m, e->key - 1, e->ppage, true);
        }
}

static void as_load(struct smmu *m, struct smmu_as *a)
{
    const uint64_t *bits = a->h ? hbits(a) : NULL;
    for (uint32_t w = 0; bits && w < a->cap / 64; w++)
        for (uint64_t b = bits[w]; b; b &= b - 1) {
            const struct smmu_hent *e = &a->h[w * 64 + (uint32_t)__builtin_ctzll(b)];
            tables_set(m, (int)(a - m->as), e->key - 1, e->ppage, e->perm);
        }
}

void smmu_shadow_reload(struct smmu *m)
{
    as_load(m, &m->as[m->active]);
}

static bool loaded(const struct smmu *m, int as)
{
    return as == m->active || as == SMMU_GLOBAL;
}

/* Forget every entry of a (its records become stale). */
static void as_flush(struct smmu *m, struct smmu_as *a)
{
    if (loaded(m, (int)(a - m->as)))
        as_unload(m, a);
    m->entries -= a->n;
    if (a->h)
        memset(a->h, 0, hbytes(a->cap));
    if (a->region_n) {
        for (uint32_t r = 0; r < SMMU_REGIONS; r++)
            if (a->region_n[r])
                memset(&a->present[r * 8], 0, 8 * sizeof(uint64_t));
        memset(a->region_n, 0, SMMU_REGIONS * sizeof(uint16_t));
    }
    a->n = 0;
    a->gen++;
}

/* Park arrays in the spare slots that are empty; free the rest. */
static void spare_park(struct smmu *m, struct smmu_as *a)
{
    if (!m->spare_h && a->h) {
        m->spare_h = a->h;
        m->spare_cap = a->cap;
    } else {
        free(a->h);
    }
    if (!m->spare_region_n)
        m->spare_region_n = a->region_n;
    else
        free(a->region_n);
    if (!m->spare_present)
        m->spare_present = a->present;
    else
        free(a->present);
}

static void as_drop(struct smmu *m, struct smmu_as *a)
{
    as_flush(m, a);
    smmu_window_release(m, a); /* no entry names it any more */
    spare_park(m, a); /* emptied by as_flush */
    a->h = NULL;
    a->region_n = NULL;
    a->present = NULL;
    a->cap = 0;
    a->used = a == &m->as[SMMU_GLOBAL]; /* the global space always exists */
}

/* ---- pools of records -------------------------------------------------- */

static void pools_reset(struct smmu *m)
{
    for (uint64_t p = 0; p <= m->npages; p++) /* + the direct device page's slot */
        m->ref_head[p] = m->rmap_head[p] = -1;
    for (uint32_t i = 0; i < m->ref_cap; i++)
        m->refs[i].next = i + 1 < m->ref_cap ? (int32_t)i + 1 : -1;
    for (uint32_t i = 0; i < m->rmap_cap; i++)
        m->rmaps[i].next = i + 1 < m->rmap_cap ? (int32_t)i + 1 : -1;
    m->ref_free = m->rmap_free = 0;
}

void smmu_flush(struct smmu *m)
{
    for (int i = 0; i <= SMMU_NAS; i++)
        if (m->as[i].used)
            as_flush(m, &m->as[i]);
    pools_reset(m);
    /* The callers change what guest-physical pages are (the APIC window,
     * ROM above RAM): the kernel view shows RAM pages, so it goes too. */
    smmu_kview_reset(m);
    m->stats.flushes++;
}

static bool ref_live(const struct smmu *m, const struct smmu_ref *r)
{
    return m->as[r->as].used && m->as[r->as].gen == r->gen;
}

/*
 * A record of a 32-bit page table (4-byte entries mapping one page each) is
 * stale once its space's directory no longer points at the page for that
 * range: the directory write that changed it, itself traced, already
 * dropped the entries derived from the page. Page-table pages are recycled
 * for other ranges and other processes, and without this check they would
 * collect a live record for every range they ever served, all walked on
 * each write (fork and exit write thousands of entries).
 */
static bool ref_stale(const struct smmu *m, const struct smmu_ref *r, uint64_t ppage)
{
    if (r->esize_log != 2 || r->span_log != 0 || r->as == SMMU_GLOBAL)
        return false;
    const struct smmu_as *a = &m->as[r->as];
    uint64_t pd = a->cr3 >> 12;
    if (a->cr3 == ~0u || pd >= m->npages)
        return false;
    uint32_t pde;
    memcpy(&pde, m->ram + (pd << 12) + (r->base_vpn >> 10) * 4u, sizeof(pde));
    if (pde & 0x80)
        return false; /* PS: a 4 MiB page if CR4.PSE is on; keep the record */
    return !(pde & 1) || (pde >> 12) != ppage;
}

static bool ref_valid(const struct smmu *m, const struct smmu_ref *r, uint64_t ppage)
{
    return ref_live(m, r) && !ref_stale(m, r, ppage);
}

bool smmu_traced(struct smmu *m, uint64_t ppage)
{
    if (ppage >= m->npages)
        return false;
    if (smmu_kview_follows(m, ppage))
        return true; /* the kernel view follows a table there */
    int32_t *l = &m->ref_head[ppage];
    while (*l >= 0) {
        struct smmu_ref *r = &m->refs[*l];
        if (ref_valid(m, r, ppage))
            return true;
        int32_t dead = *l;
        *l = r->next;
        r->next = m->ref_free;
        m->ref_free = dead;
    }
    return false;
}

void smmu_trace_ref(struct smmu *m, int as, uint64_t ppage, uint32_t base_vpn, unsigned span_log,
                    unsigned esize_log)
{
    if (ppage >= m->npages)
        return;
    /* Already recorded (every fill through these tables, after the first):
     * nothing to do, and no need to ask smmu_traced() first. */
    for (int32_t i = m->ref_head[ppage]; i >= 0; i = m->refs[i].next) {
        struct smmu_ref *r = &m->refs[i];
        if (r->as == as && r->base_vpn == base_vpn && r->span_log == span_log &&
            ref_live(m, r))
            return;
    }
    bool was = smmu_traced(m, ppage);
    int32_t i = m->ref_free; /* smmu_shadow_reserve() made sure there is one */
    struct smmu_ref *r = &m->refs[i];
    m->ref_free = r->next;
    r->base_vpn = base_vpn;
    r->as = (uint8_t)as;
    r->gen = m->as[as].gen;
    r->span_log = (uint8_t)span_log;
    r->esize_log = (uint8_t)esize_log;
    r->next = m->ref_head[ppage];
    m->ref_head[ppage] = i;
    if (!was)
        smmu_drop_writes(m, ppage);
}

/* Drop the shadow entry of vpn in address space a. */
static void invalidate(struct smmu *m, int as, uint32_t vpn)
{
    struct smmu_as *a = &m->as[as];
    struct smmu_hent *e = hfind(a, vpn);
    if (!e)
        return;
    uint32_t ppage = e->ppage;
    hdel(a, e);
    m->entries--;
    if (loaded(m, as))
        tables_clear(m, vpn, ppage, false);
    m->stats.trace_invalidations++;
}

static void invalidate_range(struct smmu *m, int as, uint32_t vpn, uint32_t count)
{
    struct smmu_as *a = &m->as[as];
    if (!a->n)
        return;
    /* Only the pages that have entries are visited: 2 MiB regions without
     * any are skipped, then the bitmap's set bits. */
    uint32_t end = vpn + count;
    for (uint32_t v = vpn; v < end; v = (v | 511) + 1) {
        if (!a->region_n[v >> 9])
            continue;
        uint32_t rend = (v | 511) + 1 < end ? (v | 511) + 1 : end;
        for (uint32_t w = v; w < rend; w = (w | 63) + 1) {
            uint64_t bits = a->present[w >> 6];
            bits &= ~0ull << (w & 63);
            if (((w | 63) + 1) > rend)
                bits &= (1ull << (rend & 63)) - 1;
            while (bits) {
                uint32_t x = (w & ~63u) | (uint32_t)__builtin_ctzll(bits);
                bits &= bits - 1;
                invalidate(m, as, x);
            }
        }
    }
}

/* Drop the write permission of vpn in space as (the entry stays). */
static void revoke_write(struct smmu *m, int as, uint32_t vpn)
{
    struct smmu_hent *e = hfind(&m->as[as], vpn);
    if (!e)
        return;
    e->perm &= (uint8_t)~((1u << SMMU_T_SW) | (1u << SMMU_T_UW));
    if (loaded(m, as)) {
        TBL(m, SMMU_T_SW, vpn) = 0;
        TBL(m, SMMU_T_UW, vpn) = 0;
    }
}

bool smmu_trace_write_protect(struct smmu *m, uint64_t phys8, uint64_t old, uint64_t new)
{
    /* Only R/W bits cleared in present entries (copy-on-write after a fork
     * write-protects every page of the parent, often with a one-byte
     * AND/BTR): the translations stay, only their write permission goes.
     * old/new are the aligned 8 bytes at phys8 around the write. */
    uint64_t ppage = phys8 >> 12;
    if (ppage >= m->npages || old == new)
        return old == new;
    for (int pass = 0; pass < 2; pass++) {
        for (int32_t i = m->ref_head[ppage]; i >= 0; i = m->refs[i].next) {
            struct smmu_ref *r = &m->refs[i];
            /* Pass 0 only classifies the change by entry size: a stale
             * record saying "not only R/W" sends the write down the exact
             * path, which is always right, so its validity is not asked. */
            if (pass == 1 && !ref_valid(m, r, ppage))
                continue;
            unsigned esize = 1u << r->esize_log, per = 8 / esize;
            for (unsigned k = 0; k < per; k++) {
                uint64_t mask = esize == 8 ? ~0ull : 0xFFFFFFFFull;
                uint64_t o = (old >> (32 * k * (esize == 4))) & mask;
                uint64_t n = (new >> (32 * k * (esize == 4))) & mask;
                if (o == n)
                    continue;
                if (!(o & 1) || (o ^ n) != 2)
                    return false; /* anything else: invalidate exactly */
                if (pass == 0)
                    continue;
                unsigned off = (unsigned)(phys8 & 0xFFF) + k * esize;
                uint32_t v0 = r->base_vpn + ((off >> r->esize_log) << r->span_log);
                for (uint32_t v = v0; v < v0 + (1u << r->span_log); v++)
                    revoke_write(m, r->as, v);
            }
        }
    }
    m->stats.trace_hits++;
    return true;
}

/*
 * A cached space that is not loaded and whose table pages take this many
 * traced writes before it is loaded again is dropped (its records go
 * stale). Its process has most likely exited and the kernel reused its
 * page directory for data: without this, every store to that page stayed
 * a traced bounce for as long as the dead space stayed cached (a busybox
 * shell loop ran at half speed when its variables landed there). Dropping
 * a cached space is always safe: loading it again rebuilds it.
 */
#define FOREIGN_WRITES_MAX 32u

/* The entry at index e of a page-table page (1 << esize_log bytes):
 * present with its accessed bit set? */
static bool entry_present_accessed(const struct smmu *m, uint64_t ppage, unsigned e, unsigned esize_log)
{
    uint32_t lo;
    memcpy(&lo, m->ram + (ppage << 12) + ((size_t)e << esize_log), 4);
    return (lo & 0x21u) == 0x21u;
}

unsigned smmu_trace_write(struct smmu *m, uint64_t phys, unsigned len, uint32_t *pre, unsigned max)
{
    uint64_t ppage = phys >> 12;
    unsigned npre = 0;
    if (ppage >= m->npages)
        return 0;
    m->stats.trace_hits++;
    unsigned off = phys & 0xFFF;
    /* The whole page rewritten (the kernel clearing a freed table): once
     * everything derived from it is gone, it stops being traced. */
    bool whole = off == 0 && len >= 4096;
    for (int32_t *l = &m->ref_head[ppage]; *l >= 0;) {
        struct smmu_ref *r = &m->refs[*l];
        bool valid = ref_valid(m, r, ppage);
        if (valid && r->as != m->active && r->as != SMMU_GLOBAL &&
            ++m->as[r->as].foreign_writes >= FOREIGN_WRITES_MAX) {
            as_flush(m, &m->as[r->as]); /* this record and its siblings go stale */
            /* Mostly a new process built in a page directory an exited
             * one left (same CR3): its user time starts at zero. */
            smmu_window_release(m, &m->as[r->as]);
            m->stats.as_foreign_flushes++;
            valid = false;
        }
        if (valid) {
            /* Entries e0..e1 map one contiguous run of linear pages. */
            unsigned e0 = off >> r->esize_log, e1 = (off + len - 1) >> r->esize_log;
            invalidate_range(m, r->as, r->base_vpn + (e0 << r->span_log), (e1 - e0 + 1) << r->span_log);
            /* A page table (not a directory) of what runs now: a PTE
             * made present, which the faulting access will want next. */
            if (r->span_log == 0 && !whole && (r->as == m->active || r->as == SMMU_GLOBAL))
                for (unsigned e = e0; e <= e1 && npre < max; e++)
                    if (entry_present_accessed(m, ppage, e, r->esize_log))
                        pre[npre++] = r->base_vpn + e;
        }
        if (whole || !valid) {
            int32_t dead = *l;
            *l = r->next;
            r->next = m->ref_free;
            m->ref_free = dead;
            continue;
        }
        l = &r->next;
    }
    return npre;
}

void smmu_drop_writes(struct smmu *m, uint64_t ppage)
{
    if (ppage >= m->npages)
        return;
    int32_t *l = &m->rmap_head[ppage];
    while (*l >= 0) {
        struct smmu_rmap *r = &m->rmaps[*l];
        struct smmu_as *a = &m->as[r->as];
        struct smmu_hent *e = (a->used && a->gen == r->gen) ? hfind(a, r->vpn) : NULL;
        if (!e || e->ppage != ppage) {
            int32_t dead = *l;
            *l = r->next;
            r->next = m->rmap_free;
            m->rmap_free = dead;
            continue;
        }
        if (loaded(m, r->as)) {
            TBL(m, SMMU_T_SW, r->vpn) = 0;
            TBL(m, SMMU_T_UW, r->vpn) = 0;
        }
        l = &r->next;
    }
}

static int lru_victim(struct smmu *m);

/* Before a fill: records for its traces and its reverse-map entry must not
 * run out halfway (running out flushes everything and starts over). */
void smmu_shadow_reserve(struct smmu *m)
{
    int n = 0;
    for (int32_t i = m->ref_free; i >= 0 && n < 2; i = m->refs[i].next)
        n++;
    if (n < 2 || m->rmap_free < 0) {
        smmu_flush(m);
        m->stats.as_reclaims++;
    }
    while (m->entries >= m->budget) {
        int v = lru_victim(m);
        if (v < 0) {
            smmu_flush(m);
        } else {
            as_drop(m, &m->as[v]);
        }
        m->stats.as_reclaims++;
    }
}

static void rmap_add(struct smmu *m, int as, uint32_t vpn, uint32_t ppage)
{
    /* A page refilled after an invalidation would add a record each time:
     * reuse the live one, and free dead ones met on the way. */
    int32_t *l = &m->rmap_head[rmap_index(m, ppage)];
    while (*l >= 0) {
        struct smmu_rmap *r = &m->rmaps[*l];
        struct smmu_as *a = &m->as[r->as];
        bool live = a->used && a->gen == r->gen;
        if (live && r->as == as && r->vpn == vpn)
            return;
        struct smmu_hent *e = live ? hfind(a, r->vpn) : NULL;
        if (!e || e->ppage != ppage) {
            int32_t dead = *l;
            *l = r->next;
            r->next = m->rmap_free;
            m->rmap_free = dead;
            continue;
        }
        l = &r->next;
    }
    int32_t i = m->rmap_free;
    struct smmu_rmap *r = &m->rmaps[i];
    m->rmap_free = r->next;
    r->vpn = vpn;
    r->as = (uint8_t)as;
    r->gen = m->as[as].gen;
    r->next = m->rmap_head[rmap_index(m, ppage)];
    m->rmap_head[rmap_index(m, ppage)] = i;
}

void smmu_drop_page(struct smmu *m, uint64_t ppage)
{
    if (is_dev(m, ppage) && ppage != m->direct_ppage)
        return; /* no entry maps any other page past RAM */
    if (ppage < m->npages)
        smmu_kview_reset(m); /* a RAM page that shows something else now (a VGA window) */
    int32_t *l = &m->rmap_head[rmap_index(m, ppage)];
    while (*l >= 0) {
        struct smmu_rmap *r = &m->rmaps[*l];
        struct smmu_as *a = &m->as[r->as];
        struct smmu_hent *e = (a->used && a->gen == r->gen) ? hfind(a, r->vpn) : NULL;
        if (e && e->ppage == ppage)
            invalidate(m, r->as, r->vpn);
        int32_t dead = *l;
        *l = r->next;
        r->next = m->rmap_free;
        m->rmap_free = dead;
    }
}

static int lru_victim(struct smmu *m)
{
    int v = -1;
    for (int i = 0; i < SMMU_NAS; i++) {
        if (i == m->active || !m->as[i].used)
            continue;
        if (v < 0 || m->as[i].last_use < m->as[v].last_use)
            v = i;
    }
    return v;
}

/* Give a the arrays it lacks from the spare slots; when those are empty,
 * drop the least recently used other space first (it parks its arrays
 * there). False only when nothing can be had. */
static bool spare_take(struct smmu *m, struct smmu_as *a)
{
    if ((!m->spare_h || !m->spare_region_n || !m->spare_present)) {
        int v = lru_victim(m);
        if (v >= 0 && &m->as[v] != a) {
            as_drop(m, &m->as[v]);
            m->stats.as_reclaims++;
        }
    }
    if ((!a->h && !m->spare_h) || (!a->region_n && !m->spare_region_n) ||
        (!a->present && !m->spare_present))
        return false;
    if (!a->h) {
        a->h = m->spare_h;
        a->cap = m->spare_cap;
        m->spare_h = NULL;
    }
    if (!a->region_n) {
        a->region_n = m->spare_region_n;
        m->spare_region_n = NULL;
    }
    if (!a->present) {
        a->present = m->spare_present;
        m->spare_present = NULL;
    }
    return true;
}

void smmu_shadow_insert(struct smmu *m, int as, uint32_t vpn, uint32_t ppage, uint8_t perm)
{
    struct smmu_as *a = &m->as[as];
    if ((a->n + 1) * 4 > a->cap * 3 && hgrow(a) != 0) {
        /* No host memory to grow: empty this space in what it has (or in
         * spare arrays), so the entry asked for still gets made — it may be
         * the execute entry a block entry waits for, and without it the
         * guest would make no progress. */
        if ((!a->h || !a->region_n || !a->present) && !spare_take(m, a))
            return;
        as_flush(m, a);
        m->stats.oom_flushes++;
    }
    struct smmu_hent *e = hfind(a, vpn);
    if (!e) {
        uint32_t mask = a->cap - 1, j = hslot(vpn, mask);
        while (a->h[j].key)
            j = (j + 1) & mask;
        e = &a->h[j];
        e->key = vpn + 1;
        hbit(a, j, true);
        a->region_n[vpn >> 9]++;
        a->present[vpn >> 6] |= 1ull << (vpn & 63);
        a->n++;
        m->entries++;
        e->ppage = ppage;
        e->perm = 0;
        rmap_add(m, as, vpn, ppage);
    } else if (e->ppage != ppage) {
        if (is_dev(m, e->ppage) && loaded(m, as))
            tables_clear(m, vpn, e->ppage, true); /* its device-table slots (tables_set follows) */
        e->ppage = ppage;
        e->perm = 0;
        rmap_add(m, as, vpn, ppage);
    }
    e->perm |= perm;
    tables_set(m, as, vpn, ppage, e->perm);
}

/* A hidden fault the shadow already answers (its table slot was cleared
 * by a switch or withheld for a traced page): no walk needed. */
bool smmu_shadow_lookup(struct smmu *m, uint32_t vpn, int t, bool load, uint32_t *ppage)
{
    for (int k = 0; k < 2; k++) {
        int as = k ? SMMU_GLOBAL : m->active;
        struct smmu_hent *e = hfind(&m->as[as], vpn);
        if (e && ((e->perm >> t) & 1)) {
            if (load)
                tables_set(m, as, vpn, e->ppage, e->perm);
            *ppage = e->ppage;
            return true;
        }
    }
    return false;
}

/* ---- switching address spaces ----------------------------------------- */

/* Make the space for (cr3, mode, pdpte) active; the tables follow. */
void smmu_shadow_switch(struct smmu *m, uint32_t cr3, uint32_t mode, const uint64_t pdpte[4])
{
    struct smmu_as *cur = &m->as[m->active];
    if (cur->used && cur->cr3 == cr3 && cur->mode == mode &&
        (!pdpte || !memcmp(cur->pdpte, pdpte, sizeof(cur->pdpte))))
        return;
    if (cur->used)
        as_unload(m, cur);
    int hit = -1, fresh = -1;
    for (int i = 0; i < SMMU_NAS; i++) {
        if (!m->as[i].used) {
            if (fresh < 0)
                fresh = i;
        } else if (m->as[i].cr3 == cr3 && m->as[i].mode == mode) {
            hit = i;
        }
    }
    if (hit >= 0 && pdpte && memcmp(m->as[hit].pdpte, pdpte, sizeof(m->as[hit].pdpte))) {
        m->active = hit; /* same CR3, new PDPTEs: its entries are not valid */
        as_flush(m, &m->as[hit]);
        memcpy(m->as[hit].pdpte, pdpte, sizeof(m->as[hit].pdpte));
    }
    if (hit >= 0) {
        m->stats.as_hits++;
        m->active = hit;
        as_load(m, &m->as[hit]);
    } else {
        m->stats.as_misses++;
        if (fresh < 0) {
            fresh = lru_victim(m); /* never the one just left: it is the newest */
            if (fresh < 0)
                fresh = 0;
            as_drop(m, &m->as[fresh]);
            m->stats.as_reclaims++;
        }
        struct smmu_as *a = &m->as[fresh];
        a->used = true;
        a->cr3 = cr3;
        a->mode = mode;
        memset(a->pdpte, 0, sizeof(a->pdpte));
        if (pdpte)
            memcpy(a->pdpte, pdpte, sizeof(a->pdpte));
        m->active = fresh;
    }
    m->as[m->active].last_use = ++m->clock;
    m->as[m->active].foreign_writes = 0;
    smmu_window_note(m);
}

/* Every space built under another paging mode is useless now. */
void smmu_shadow_drop_all(struct smmu *m)
{
    for (int i = 0; i <= SMMU_NAS; i++)
        if (m->as[i].used)
            as_drop(m, &m->as[i]);
    pools_reset(m);
    m->entries = 0;
    m->stats.flushes++;
    smmu_window_note(m);
}

void smmu_shadow_invlpg(struct smmu *m, uint32_t vpn)
{
    invalidate(m, m->active, vpn);
    invalidate(m, SMMU_GLOBAL, vpn); /* INVLPG drops global translations too */
    /* The tables hold only these two spaces' entries: none is left for the
     * page, whatever its summary byte still says (tables_clear). */
    ANY(m, vpn) = 0;
}

void smmu_shadow_flush_global(struct smmu *m)
{
    as_flush(m, &m->as[SMMU_GLOBAL]);
}

int smmu_shadow_init(struct smmu *m)
{
    m->budget = 1u << 18;
    m->ref_cap = 1u << 16;
    m->rmap_cap = m->budget + 4096;
    m->ref_head = malloc((m->npages + 1) * sizeof(int32_t));
    m->rmap_head = malloc((m->npages + 1) * sizeof(int32_t));
    m->refs = calloc(m->ref_cap, sizeof(struct smmu_ref));
    m->rmaps = calloc(m->rmap_cap, sizeof(struct smmu_rmap));
    if (!m->ref_head || !m->rmap_head || !m->refs || !m->rmaps)
        return -ENOMEM;
    m->spare_cap = 256;
    m->spare_h = calloc(1, hbytes(m->spare_cap));
    m->spare_region_n = calloc(SMMU_REGIONS, sizeof(uint16_t));
    m->spare_present = calloc(SMMU_TLB_ENTRIES / 64, sizeof(uint64_t));
    if (!m->spare_h || !m->spare_region_n || !m->spare_present)
        return -ENOMEM;
    m->as[SMMU_GLOBAL].used = true;
    m->as[SMMU_GLOBAL].cr3 = ~0u;
    m->as[SMMU_GLOBAL].mode = ~0u; /* never matched by a CR3 load */
    pools_reset(m);
    return 0;
}

void smmu_shadow_destroy(struct smmu *m)
{
    for (int i = 0; i <= SMMU_NAS; i++) {
        smmu_window_release(m, &m->as[i]);
        free(m->as[i].h);
        free(m->as[i].region_n);
        free(m->as[i].present);
    }
    free(m->spare_h);
    free(m->spare_region_n);
    free(m->spare_present);
    free(m->ref_head);
    free(m->rmap_head);
    free(m->refs);
    free(m->rmaps);
}
