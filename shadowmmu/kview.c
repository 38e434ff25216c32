/*
 * shadowmmu/kview.c — the kernel view: 4 GiB of host address space where
 * linear page v shows, read-only, the RAM page the guest's own tables map
 * it to for a supervisor read — while they do (docs/shadowmmu.md §16).
 *
 * The shadow tables follow the guest's TLB (entries live until INVLPG or a
 * flush); the view follows the guest's tables themselves, which flushes do
 * not change: a view page is mapped, the first time a read through the
 * view faults there, only if the walk finds it present, supervisor-only at
 * the directory, accessed (the walk sets A) and in RAM; it stays until the
 * entries it came from change. Those are watched as the shadow watches
 * page tables — the pages are traced (smmu_traced() says so for
 * kv_uses[p] > 0), so every write reaches smmu_kview_written():
 *   - the directory of the running CR3: its entries for the view's active
 *     4 MiB regions are compared with what each region was mapped under
 *     (also at every CR3 load: a process directory copies the kernel's);
 *   - the page table of each active region mapped with 4 KiB pages.
 * Only 32-bit paging with A20 on: anything else leaves the view empty, and
 * a read through it faults for the engine to handle (smmu_kview_fault).
 */
#include "shadowmmu/smmu.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "devices/bus.h"
#include "shadowmmu/walk.h"

#define KV_SPAN (1ull << 32)
#define NREG 1024u               /* 4 MiB regions: one directory entry each */
#define KV_RUNS_MAX 8192u        /* host mappings before the view starts over */
#define KV_FAULT_RUNS 32u        /* mappings one fault may make */

#define E_P  0x1u
#define E_U  0x4u
#define E_A  0x20u
#define E_PS 0x80u
/* What a supervisor read depends on in a directory entry: the address,
 * P, U, A (cleared: the next access must set it) and PS. */
#define PDE_READ_BITS 0xFFFFF0A5u

struct smmu_kview {
    uint8_t *base;
    int fd;
    uint32_t pd;                /* guest-physical page of the directory followed; ~0u: none */
    uint32_t mode;              /* m->mode when armed */
    uint32_t pde[NREG];         /* the entry each active region was mapped under */
    uint64_t active[NREG / 64];
    uint64_t small[NREG / 64];  /* active regions with a page table (4 KiB pages) */
    uint32_t *map;              /* per linear page: guest-physical page + 1, 0: not mapped */
    uint32_t runs;              /* host mappings made since the view was last emptied */
};

static inline bool bit(const uint64_t *b, uint32_t i) { return (b[i >> 6] >> (i & 63)) & 1; }
static inline void bit_set(uint64_t *b, uint32_t i) { b[i >> 6] |= 1ull << (i & 63); }
static inline void bit_clr(uint64_t *b, uint32_t i) { b[i >> 6] &= ~(1ull << (i & 63)); }

static uint32_t rd32(const struct smmu *m, uint64_t pa)
{
    uint32_t v;
    memcpy(&v, m->ram + pa, 4);
    return v;
}

/* A page the view may show: plain RAM (no ROM, PAM aliasing or device). */
static bool eligible(const struct smmu *m, uint64_t ppage)
{
    return ppage < m->npages && !m->pg_flags[ppage] && !dev_bus_mmio_page(m->bus, ppage << 12);
}

static bool host_none(struct smmu_kview *kv, uint32_t vpn, uint32_t n)
{
    return mmap(kv->base + ((uint64_t)vpn << 12), (size_t)n << 12, PROT_NONE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) != MAP_FAILED;
}

static void unmap_pages(struct smmu *m, uint32_t vpn, uint32_t n)
{
    struct smmu_kview *kv = m->kv;
    uint32_t dropped = 0;
    for (uint32_t v = vpn; v < vpn + n; v++)
        if (kv->map[v]) {
            kv->map[v] = 0;
            dropped++;
        }
    if (!dropped)
        return;
    if (!host_none(kv, vpn, n))
        abort(); /* the view would go on showing what the guest unmapped */
    m->stats.kv_pages -= dropped;
    m->stats.kv_unmaps++;
}

static void deactivate(struct smmu *m, uint32_t r)
{
    struct smmu_kview *kv = m->kv;
    if (!bit(kv->active, r))
        return;
    unmap_pages(m, r * 1024u, 1024u);
    if (bit(kv->small, r)) {
        uint32_t pt = kv->pde[r] >> 12;
        if (pt < m->npages)
            m->kv_uses[pt]--;
        bit_clr(kv->small, r);
    }
    bit_clr(kv->active, r);
    kv->pde[r] = 0;
}

static void deactivate_all(struct smmu *m)
{
    struct smmu_kview *kv = m->kv;
    for (uint32_t w = 0; w < NREG / 64; w++)
        while (kv->active[w])
            deactivate(m, w * 64 + (uint32_t)__builtin_ctzll(kv->active[w]));
}

/* Count a page as traced for the view; a page that was not traced loses
 * its write entries, as a page table the shadow starts tracing does.
 * true if it was not traced before. */
static bool use_page(struct smmu *m, uint32_t ppage)
{
    bool was = smmu_traced(m, ppage);
    m->kv_uses[ppage]++;
    if (!was)
        smmu_drop_writes(m, ppage);
    return !was;
}

void smmu_kview_reset(struct smmu *m)
{
    struct smmu_kview *kv = m->kv;
    if (!kv)
        return;
    deactivate_all(m);
    if (!kv->runs)
        return; /* nothing mapped since the last time: nothing to empty */
    /* Every page was unmapped, one region at a time: start the count of
     * host mappings over with one reservation. */
    if (!host_none(kv, 0, (uint32_t)(KV_SPAN >> 12)))
        abort();
    kv->runs = 0;
    m->stats.kv_resets++;
}

/* Follow CR3's directory if the mode allows a view, or none. */
void smmu_kview_mode(struct smmu *m)
{
    struct smmu_kview *kv = m->kv;
    if (!kv)
        return;
    uint32_t cr3 = *m->cpu.cr3;
    bool armed = m->paging && !m->pae && m->a20_mask == ~0u && (uint64_t)(cr3 >> 12) < m->npages;
    uint32_t pd = armed ? cr3 >> 12 : ~0u;
    if (!armed || m->mode != kv->mode)
        deactivate_all(m);
    kv->mode = m->mode;
    if (pd == kv->pd)
        return;
    if (kv->pd != ~0u)
        m->kv_uses[kv->pd]--;
    kv->pd = pd;
    if (pd == ~0u)
        return;
    /* A process's directory holds a copy of the kernel's entries: the
     * regions stay if their entries are the same. */
    for (uint32_t w = 0; w < NREG / 64; w++)
        for (uint64_t b = kv->active[w]; b; b &= b - 1) {
            uint32_t r = w * 64 + (uint32_t)__builtin_ctzll(b);
            if ((rd32(m, ((uint64_t)pd << 12) + r * 4u) ^ kv->pde[r]) & PDE_READ_BITS)
                deactivate(m, r);
        }
    use_page(m, pd);
}

void *smmu_kview_enable(struct smmu *m, int fd, uintptr_t at)
{
    if (m->kv || fd < 0)
        return NULL;
    struct smmu_kview *kv = calloc(1, sizeof(*kv));
    uint32_t *map = calloc(SMMU_TLB_ENTRIES, sizeof(uint32_t));
    uint16_t *uses = calloc(m->npages ? m->npages : 1, sizeof(uint16_t));
    void *b = MAP_FAILED;
    if (kv && map && uses)
        b = mmap((void *)at, SMMU_KV_RESERVE, PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | (at ? MAP_FIXED_NOREPLACE : 0), -1, 0);
    if (b != MAP_FAILED && at && (uintptr_t)b != at) {
        munmap(b, SMMU_KV_RESERVE); /* a kernel without MAP_FIXED_NOREPLACE placed it elsewhere */
        b = MAP_FAILED;
    }
    if (b == MAP_FAILED) {
        free(kv);
        free(map);
        free(uses);
        return NULL;
    }
    kv->base = b;
    kv->fd = fd;
    kv->pd = ~0u;
    kv->mode = m->mode;
    kv->map = map;
    m->kv = kv;
    m->kv_uses = uses;
    smmu_kview_mode(m);
    return b;
}

void smmu_kview_destroy(struct smmu *m)
{
    struct smmu_kview *kv = m->kv;
    if (!kv)
        return;
    munmap(kv->base, SMMU_KV_RESERVE);
    free(kv->map);
    free(kv);
    free(m->kv_uses);
    m->kv = NULL;
    m->kv_uses = NULL;
}

/* Map linear pages [vpn, vpn + n) to guest-physical [ppage, ppage + n). */
static bool map_run(struct smmu *m, uint32_t vpn, uint32_t ppage, uint32_t n)
{
    struct smmu_kview *kv = m->kv;
    if (mmap(kv->base + ((uint64_t)vpn << 12), (size_t)n << 12, PROT_READ, MAP_SHARED | MAP_FIXED,
             kv->fd, (off_t)ppage << 12) == MAP_FAILED)
        return false; /* (the host's mapping limit) the pages stay unreadable */
    for (uint32_t i = 0; i < n; i++)
        kv->map[vpn + i] = ppage + i + 1;
    kv->runs++;
    m->stats.kv_pages += n;
    m->stats.kv_maps++;
    return true;
}

/* The guest-physical page linear page vpn of active region r may show
 * (region mapped under its recorded entry), or ~0u. */
static uint32_t page_of(const struct smmu *m, uint32_t r, uint32_t vpn)
{
    uint32_t pde = m->kv->pde[r];
    uint64_t p;
    if (!bit(m->kv->small, r)) {
        p = (pde >> 12 & ~0x3FFu) + (vpn & 0x3FF);
    } else {
        uint32_t pte = rd32(m, ((uint64_t)(pde >> 12) << 12) + (vpn & 0x3FF) * 4u);
        if ((pte & (E_P | E_A)) != (E_P | E_A))
            return ~0u;
        p = pte >> 12;
    }
    return eligible(m, p) ? (uint32_t)p : ~0u;
}

/* Map the run of pages around vpn that continue each other in both spaces
 * (the direct map's are one run per region), then the rest of the region
 * up to KV_FAULT_RUNS host mappings. */
static void map_region(struct smmu *m, uint32_t r, uint32_t vpn)
{
    struct smmu_kview *kv = m->kv;
    uint32_t lo = r * 1024u, hi = lo + 1024u, made = 0;
    uint32_t p = page_of(m, r, vpn);
    if (p == ~0u)
        return;
    uint32_t a = vpn, b = vpn + 1;
    while (a > lo && !kv->map[a - 1] && page_of(m, r, a - 1) == p - (vpn - a) - 1)
        a--;
    while (b < hi && !kv->map[b] && page_of(m, r, b) == p + (b - vpn))
        b++;
    if (!map_run(m, a, p - (vpn - a), b - a))
        return;
    made++;
    for (uint32_t v = lo; v < hi && made < KV_FAULT_RUNS; v++) {
        uint32_t q = kv->map[v] ? ~0u : page_of(m, r, v);
        if (q == ~0u)
            continue;
        uint32_t e = v + 1;
        while (e < hi && !kv->map[e] && page_of(m, r, e) == q + (e - v))
            e++;
        if (!map_run(m, v, q, e - v))
            return;
        made++;
        v = e - 1;
    }
}

int smmu_kview_fault(struct smmu *m, uint32_t lin)
{
    struct smmu_kview *kv = m->kv;
    if (!kv || kv->pd == ~0u)
        return SMMU_KV_REFUSED;
    uint32_t vpn = lin >> 12, r = lin >> 22;
    if (kv->map[vpn])
        return SMMU_KV_REFUSED; /* mapped, and still faults: not the view's business */
    if (kv->runs >= KV_RUNS_MAX)
        smmu_kview_reset(m);
    /* The walk a read would make (A bits set); its #PF, if any, is the
     * checked translation's to raise, so the MMU's record stays. */
    uint32_t pf_addr = m->pf_addr, pf_err = m->pf_err;
    struct smmu_walk w;
    bool ok = smmu_walk(m, lin, 0, &w);
    m->pf_addr = pf_addr;
    m->pf_err = pf_err;
    if (!ok)
        return SMMU_KV_REFUSED;
    uint32_t pde = rd32(m, ((uint64_t)kv->pd << 12) + r * 4u);
    if ((pde & (E_P | E_U | E_A)) != (E_P | E_A))
        return SMMU_KV_REFUSED;
    bool big = (pde & E_PS) && m->pse;
    if (!big && (uint64_t)(pde >> 12) >= m->npages)
        return SMMU_KV_REFUSED;
    if (bit(kv->active, r) && ((pde ^ kv->pde[r]) & PDE_READ_BITS))
        deactivate(m, r); /* cannot happen while the directory is traced; cheap to be sure */
    int res = SMMU_KV_MAPPED;
    if (!bit(kv->active, r)) {
        kv->pde[r] = pde;
        bit_set(kv->active, r);
        if (!big) {
            bit_set(kv->small, r);
            if (use_page(m, pde >> 12))
                res = SMMU_KV_RETRY; /* write entries went: the code that faulted may hold one */
        }
    }
    map_region(m, r, vpn);
    if (!kv->map[vpn])
        return SMMU_KV_REFUSED;
    m->stats.kv_faults++;
    return res;
}

void smmu_kview_written(struct smmu *m, uint64_t phys, unsigned len)
{
    struct smmu_kview *kv = m->kv;
    uint64_t ppage = phys >> 12;
    if (!kv || !len || ppage >= m->npages || !m->kv_uses[ppage])
        return;
    uint32_t off = phys & 0xFFF, e0 = off >> 2;
    uint32_t e1 = (off + len - 1 > 0xFFF ? 0xFFF : off + len - 1) >> 2;
    if (ppage == kv->pd)
        for (uint32_t r = e0; r <= e1; r++)
            if (bit(kv->active, r) && ((rd32(m, (ppage << 12) + r * 4u) ^ kv->pde[r]) & PDE_READ_BITS))
                deactivate(m, r);
    for (uint32_t w = 0; w < NREG / 64; w++)
        for (uint64_t b = kv->small[w]; b; b &= b - 1) {
            uint32_t r = w * 64 + (uint32_t)__builtin_ctzll(b);
            if (kv->pde[r] >> 12 != ppage)
                continue;
            for (uint32_t e = e0; e <= e1; e++) {
                uint32_t v = r * 1024u + e;
                if (kv->map[v] && page_of(m, r, v) + 1 != kv->map[v])
                    unmap_pages(m, v, 1);
            }
        }
}

bool smmu_kview_shows(const struct smmu *m, uint32_t vpn, uint32_t *ppage)
{
    if (!m->kv || !m->kv->map[vpn])
        return false;
    *ppage = m->kv->map[vpn] - 1;
    return true;
}
