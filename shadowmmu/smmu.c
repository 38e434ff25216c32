/*
 * shadowmmu/smmu.c — the shadow MMU's entry points: paging-mode changes,
 * hidden faults (smmu_fill: walk, trace the tables walked, shadow the
 * page), instruction-fetch checks, and the byte-exact slow path used for
 * device pages, page-crossing accesses and writes to traced or code pages.
 */
#include "shadowmmu/smmu.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "devices/bus.h"
#include "shadowmmu/walk.h"

/* shadow.c */
int smmu_shadow_init(struct smmu *m);
void smmu_shadow_destroy(struct smmu *m);
void smmu_shadow_switch(struct smmu *m, uint32_t cr3, uint32_t mode, const uint64_t pdpte[4]);
void smmu_shadow_drop_all(struct smmu *m);
void smmu_shadow_invlpg(struct smmu *m, uint32_t vpn);
void smmu_shadow_reserve(struct smmu *m);
void smmu_shadow_flush_global(struct smmu *m);

/* Architectural bits (SDM vol. 3, 2.5); shadowmmu/ does not see cpu/. */
#define CR0_PE  0x1u
#define CR0_WP  0x10000u
#define CR0_PG  0x80000000u
#define CR4_PSE 0x10u
#define CR4_PAE 0x20u
#define CR4_PGE 0x80u
#define EFER_NXE 0x800u

int smmu_init(struct smmu *m, uint8_t *ram, uint64_t ram_size, struct dev_bus *bus,
              const struct smmu_cpu_view *cpu, uint64_t *tables, uint8_t *summary)
{
    memset(m, 0, sizeof(*m));
    m->cpu = *cpu;
    m->bus = bus;
    m->tlb = tables;
    m->summary_owned = !summary;
    m->summary = summary ? summary : calloc(SMMU_SUMMARY_SIZE, 1);
    m->ram = ram;
    m->npages = ram_size >> 12;
    m->direct_ppage = ~0ull;
    m->rom_first = 1ull << 20;
    m->a20_mask = ~0u;
    m->wram = ram;
    m->win_fd = -1;
    m->win_last = -1;
    m->code_pages = calloc(m->npages ? m->npages : 1, 1);
    m->pg_flags = calloc(m->npages ? m->npages : 1, 1);
    int r = m->code_pages && m->pg_flags && m->summary ? smmu_shadow_init(m) : -ENOMEM;
    if (!r) {
        m->mode = ~0u; /* force the first switch */
        r = smmu_cr_write(m);
    }
    if (r) {
        smmu_destroy(m);
        memset(m, 0, sizeof(*m)); /* a second smmu_destroy is harmless */
    }
    return r;
}

void smmu_destroy(struct smmu *m)
{
    smmu_kview_destroy(m);
    smmu_shadow_destroy(m);
    free(m->code_pages);
    free(m->pg_flags);
    if (m->summary_owned)
        free(m->summary);
    m->summary = NULL;
}

int smmu_cr_write(struct smmu *m)
{
    uint32_t cr0 = *m->cpu.cr0, cr4 = *m->cpu.cr4;
    bool paging = (cr0 & CR0_PG) && (cr0 & CR0_PE);
    uint32_t mode = paging ? 1u | ((cr4 & CR4_PAE) ? 2u : 0) | ((cr4 & CR4_PSE) ? 4u : 0) |
                             ((cr0 & CR0_WP) ? 8u : 0) | ((*m->cpu.efer & EFER_NXE) ? 16u : 0)
                           : 0;
    uint64_t pdpte[4];
    bool pae = mode & 2;
    if (pae && smmu_load_pdptes(m, pdpte) != 0)
        return -EINVAL;
    if (mode != m->mode) {
        smmu_shadow_drop_all(m);
        m->mode = mode;
        m->paging = paging;
        m->pae = pae;
        m->pse = (mode & 4) || pae;
        m->wp = mode & 8;
        m->nxe = pae && (mode & 16);
    }
    bool pge = paging && (cr4 & CR4_PGE);
    if (pge != m->pge) {
        /* Toggling CR4.PGE flushes global translations (SDM 4.10.4.1). */
        smmu_shadow_flush_global(m);
        m->stats.global_flushes++;
        m->pge = pge;
    }
    if (paging)
        m->stats.cr3_loads++;
    smmu_shadow_switch(m, paging ? *m->cpu.cr3 : ~0u, mode, pae ? pdpte : NULL);
    smmu_kview_mode(m);
    return 0;
}

void smmu_invlpg(struct smmu *m, uint32_t lin)
{
    m->stats.invlpg++;
    smmu_shadow_invlpg(m, lin >> 12);
}

bool smmu_translate(struct smmu *m, uint32_t lin, unsigned acc, uint64_t *phys)
{
    /* A shadow entry that allows the access is the walk's answer (its A/D
     * bits were set when it was filled, and traces keep it current). */
    int t = smmu_table_for(acc);
    uint64_t e = m->tlb[(size_t)t * SMMU_TLB_ENTRIES + (lin >> 12)];
    if (e && (t == SMMU_T_UR || t == SMMU_T_UW) && smmu_window_phys(m, e, lin, phys))
        return true;
    if (e && t < SMMU_T_SX) {
        /* Every data entry points at ram + its own guest-physical page
         * (RAM, ROM and PAM pages alike), the direct page aside. */
        uint64_t p = e + lin - (uint64_t)(uintptr_t)m->ram;
        if (p < (1ull << 32)) {
            *phys = p;
            return true;
        }
    }
    uint32_t pp;
    if (m->paging && smmu_shadow_lookup(m, lin >> 12, t, false, &pp)) {
        *phys = ((uint64_t)pp << 12) | (lin & 0xFFF);
        return true;
    }
    struct smmu_walk w;
    if (!smmu_walk(m, lin, acc, &w))
        return false;
    *phys = w.phys | (lin & 0xFFF);
    return true;
}

/* Read from ram + phys: RAM (PAM pages included) and ROM. */
static bool is_ram(struct smmu *m, uint64_t ppage)
{
    return (ppage < m->npages || smmu_is_rom(m, ppage)) &&
           !dev_bus_mmio_page(m->bus, ppage << 12);
}

/* Shadow lin's page as walk w found it, with permissions perm: trace the
 * tables walked, insert into the active or the global space. */
static void shadow_walked(struct smmu *m, uint32_t lin, const struct smmu_walk *w, uint8_t perm)
{
    int as = w->global ? SMMU_GLOBAL : m->active;
    /* A global translation does not depend on the directory it was found
     * through: like a global TLB entry it lives until INVLPG or a CR4.PGE
     * toggle (SDM 4.10.4), which Linux issues after changing kernel
     * directory entries. Tracing every process's directory for it would
     * drop all kernel translations whenever a freed directory page is
     * reused. Its page table (4 KiB pages) is still traced. */
    for (int i = w->global ? 1 : 0; i < w->ntables; i++)
        smmu_trace_ref(m, as, w->table[i], w->base_vpn[i], w->span_log[i], w->esize_log[i]);
    smmu_shadow_insert(m, as, lin >> 12, (uint32_t)(w->phys >> 12), perm);
}

/* Walk for acc and shadow the page. Returns the guest-physical page, -1 on
 * a guest fault, -2 when the page is not RAM. */
static int64_t fill(struct smmu *m, uint32_t lin, unsigned acc)
{
    struct smmu_walk w;
    uint32_t pp;
    if (m->paging && smmu_shadow_lookup(m, lin >> 12, smmu_table_for(acc), true, &pp))
        return pp;
    smmu_shadow_reserve(m);
    if (!smmu_walk(m, lin, acc, &w)) {
        m->stats.true_faults++;
        return -1;
    }
    uint64_t ppage = w.phys >> 12;
    uint8_t perm = w.perm;
    if (!is_ram(m, ppage)) {
        /* The direct device page is shadowed in the device tables only
         * (which ordinary access sites never read); anything else past
         * RAM is emulated. */
        m->fill_direct = ppage == m->direct_ppage;
        if (ppage != m->direct_ppage || !m->direct_allowed || (acc & SMMU_ACC_X))
            return -2;
        perm &= (1u << SMMU_T_SR) | (1u << SMMU_T_SW) | (1u << SMMU_T_UR) | (1u << SMMU_T_UW);
        m->stats.direct_fills++;
    }
    shadow_walked(m, lin, &w, perm);
    m->stats.hidden_faults++;
    return (int64_t)ppage;
}

/* Shadow vpn now, for a PTE just made present in page-table page ptpage:
 * the access that faulted on it is retried next, and would otherwise pay
 * a trip to C for the fill. Only a translation that goes through that PTE
 * and needs no A/D bit set (SMMU_ACC_PEEK) is made: a TLB may cache such
 * a translation before any access uses it (SDM vol. 3, 4.10.2.3), and the
 * tables are traced, so a later write drops it like any other entry. */
static void prefill(struct smmu *m, uint32_t vpn, uint64_t ptpage)
{
    struct smmu_walk w;
    uint32_t lin = vpn << 12;
    smmu_shadow_reserve(m);
    if (!smmu_walk(m, lin, SMMU_ACC_PEEK, &w) || w.ntables != 2 || w.table[1] != ptpage)
        return;
    uint64_t ppage = w.phys >> 12;
    if (ppage >= m->npages || !is_ram(m, ppage))
        return; /* RAM only: ROM, devices and the direct page keep their fills */
    shadow_walked(m, lin, &w, w.perm);
    m->stats.prefills++;
}

/* A write reached a traced page: drop what it changed. */
static void trace_write(struct smmu *m, uint64_t phys, unsigned len)
{
    smmu_trace_write(m, phys, len, NULL, 0);
}

/* A write of at most 8 bytes that changed the aligned 8 bytes at p8 from
 * old to new: drop what it changed and, where it made present the entry
 * of the page the last #PF was for (a demand fault being served: the
 * faulting access comes next), shadow that page at once. Other entries
 * are left to their fills: a present entry rewritten is usually followed
 * by an INVLPG, and Linux maps up to 16 pages around a file fault, most
 * never touched (shadowing every one made five times the fills saved). */
static void trace_write_small(struct smmu *m, uint64_t phys, unsigned len, uint64_t old, uint64_t new)
{
    uint64_t set = ~old & new;
    bool made_present = m->paging && ((set & 1) || ((set >> 32) & 1));
    uint32_t pre[2];
    unsigned n = smmu_trace_write(m, phys, len, pre, made_present ? 2 : 0);
    for (unsigned i = 0; i < n; i++)
        if (pre[i] == m->pf_addr >> 12) {
            prefill(m, pre[i], phys >> 12);
            break;
        }
}

uint8_t *smmu_fill(struct smmu *m, uint32_t lin, unsigned acc, bool *fault)
{
    *fault = false;
    m->fill_traced = false;
    m->fill_direct = false;
    int64_t ppage = fill(m, lin, acc);
    if (ppage == -1) {
        *fault = true;
        return NULL;
    }
    if (ppage < 0)
        return NULL;
    if ((uint64_t)ppage >= m->npages && !smmu_is_rom(m, (uint64_t)ppage)) {
        m->fill_direct = true; /* the direct device page: this access is emulated */
        return NULL;
    }
    if (acc & SMMU_ACC_W) {
        m->stats.fills_write++;
        if (!smmu_page_writable(m, (uint64_t)ppage))
            return NULL; /* ROM or PAM: the slow path drops or redirects it */
        if (smmu_traced(m, (uint64_t)ppage)) {
            m->fill_traced = true;
            return NULL; /* the write must be seen: emulate it */
        }
        if (m->code_pages[ppage])
            return NULL;
    } else {
        m->stats.fills_read++;
    }
    return m->ram + ((uint64_t)ppage << 12) + (lin & 0xFFF);
}

int64_t smmu_exec_page(struct smmu *m, uint32_t lin)
{
    bool user = *m->cpu.cpl == 3;
    uint64_t e = m->tlb[(size_t)(user ? SMMU_T_UX : SMMU_T_SX) * SMMU_TLB_ENTRIES + (lin >> 12)];
    if (e)
        return (int64_t)e - 1;
    int64_t ppage = fill(m, lin, SMMU_ACC_X | (user ? SMMU_ACC_U : 0));
    if (ppage >= 0)
        m->stats.fills_exec++;
    return ppage;
}

uint8_t *smmu_write_ptr(struct smmu *m, uint32_t lin, unsigned acc, bool *fault)
{
    uint8_t *h = smmu_fill(m, lin, acc | SMMU_ACC_W, fault);
    if (h || *fault)
        return h;
    uint64_t phys;
    if (!smmu_translate(m, lin, acc | SMMU_ACC_W, &phys)) {
        *fault = true;
        return NULL;
    }
    return smmu_page_writable(m, phys >> 12) && is_ram(m, phys >> 12) ? m->ram + phys : NULL;
}

void smmu_wrote(struct smmu *m, uint32_t lin, unsigned len)
{
    uint64_t phys;
    if (!len || !smmu_translate(m, lin, SMMU_ACC_W, &phys) || phys >> 12 >= m->npages)
        return;
    if (smmu_traced(m, phys >> 12)) {
        trace_write(m, phys, len);
        if (smmu_kview_follows(m, phys >> 12))
            smmu_kview_written(m, phys, len);
    }
    if (m->code_pages[phys >> 12] && m->code_write_hook)
        m->code_write_hook(m->code_write_opaque, phys, len);
}

void smmu_phys_written(struct smmu *m, uint64_t phys, uint64_t len)
{
    while (len) {
        uint64_t n = 0x1000 - (phys & 0xFFF);
        if (n > len)
            n = len;
        uint64_t ppage = phys >> 12;
        if (ppage < m->npages) {
            if (smmu_traced(m, ppage)) {
                trace_write(m, phys, (unsigned)n);
                if (smmu_kview_follows(m, ppage))
                    smmu_kview_written(m, phys, (unsigned)n);
            }
            if (m->code_pages[ppage] && m->code_write_hook)
                m->code_write_hook(m->code_write_opaque, phys, (unsigned)n);
        }
        phys += n;
        len -= n;
    }
}

/* old with len bytes from buf at byte offset off (off + len <= 8), in
 * registers (little-endian): a variable-length copy into a stack word is
 * REP MOVS whose result the next load cannot forward. */
static inline uint64_t merge8(uint64_t old, unsigned off, const uint8_t *buf, unsigned len)
{
    uint64_t v = 0;
    smmu_copy_small(&v, buf, len);
    if (len == 8)
        return v;
    uint64_t mask = ((1ull << (8 * len)) - 1) << (8 * off);
    return (old & ~mask) | (v << (8 * off));
}

/* One piece of an access, inside a page, already translated. */
static void access_phys(struct smmu *m, uint64_t phys, uint8_t *buf, unsigned len, bool write)
{
    uint64_t ppage = phys >> 12;
    if (write && is_ram(m, ppage) && !smmu_page_writable(m, ppage)) {
        /* ROM, or a PAM area whose writes are disabled or go to the RAM
         * under a ROM the reads see. */
        if (ppage < m->npages && (m->pg_flags[ppage] & SMMU_PG_WALIAS))
            memcpy(m->wram + phys, buf, len);
        else
            m->stats.rom_writes++;
        return;
    }
    if (is_ram(m, ppage)) {
        uint8_t *ram = m->ram + phys;
        if (write) {
            bool traced = smmu_traced(m, phys >> 12);
            bool small = (phys & 7) + len <= 8;
            m->stats.traced_writes += traced;
            uint64_t old = 0, new = 0, p8 = phys & ~7ull;
            if (traced && small) {
                /* new from old and buf, not read back: an 8-byte load
                 * right after a narrower store to it misses store
                 * forwarding (~20 cycles a page-table write). */
                memcpy(&old, m->ram + p8, 8);
                new = merge8(old, phys & 7, buf, len);
            }
            smmu_copy_small(ram, buf, len);
            if (traced && small && !smmu_trace_write_protect(m, p8, old, new))
                trace_write_small(m, phys, len, old, new);
            else if (traced && !small)
                trace_write(m, phys, len);
            if (traced && smmu_kview_follows(m, phys >> 12))
                smmu_kview_written(m, phys, len);
            if (m->code_pages[phys >> 12] && m->code_write_hook)
                m->code_write_hook(m->code_write_opaque, phys, len);
        } else {
            smmu_copy_small(buf, ram, len);
        }
        return;
    }
    /* Device or hole: split into naturally sized pieces the bus understands. */
    while (len) {
        unsigned sz = len >= 8 && !(phys & 7) ? 8 : len >= 4 && !(phys & 3) ? 4
                    : len >= 2 && !(phys & 1) ? 2 : 1;
        uint64_t v = 0;
        if (write)
            memcpy(&v, buf, sz);
        m->stats.mmio++;
        m->device_written |= write;
        if (!dev_bus_mmio(m->bus, phys, sz, write, &v))
            m->stats.unmapped++;
        if (!write)
            memcpy(buf, &v, sz);
        phys += sz; buf += sz; len -= sz;
    }
}

/* Every page is translated before any byte moves, so a fault on a later
 * page leaves memory untouched. Accesses span at most a few pages. */
static int access(struct smmu *m, uint32_t lin, uint8_t *buf, unsigned len, unsigned acc)
{
    uint64_t phys[8];
    unsigned n = 0;
    bool write = acc & SMMU_ACC_W;
    for (uint32_t l = lin, left = len; left; n++) {
        unsigned chunk = 4096 - (l & 0xFFF);
        if (chunk > left)
            chunk = left;
        if (n == 8) /* long accesses: one page at a time */
            break;
        if (!smmu_translate(m, l, acc, &phys[n]))
            return 14;
        l += chunk;
        left -= chunk;
    }
    for (unsigned i = 0; len; i++) {
        unsigned chunk = 4096 - (lin & 0xFFF);
        if (chunk > len)
            chunk = len;
        uint64_t p;
        if (i < n)
            p = phys[i];
        else if (!smmu_translate(m, lin, acc, &p))
            return 14;
        access_phys(m, p, buf, chunk, write);
        lin += chunk; buf += chunk; len -= chunk;
    }
    return 0;
}

int smmu_read(struct smmu *m, uint32_t lin, void *buf, unsigned len, unsigned acc)
{
    m->stats.slow_reads++;
    return access(m, lin, buf, len, acc & ~SMMU_ACC_W);
}

int smmu_write(struct smmu *m, uint32_t lin, const void *buf, unsigned len, unsigned acc)
{
    m->stats.slow_writes++;
    return access(m, lin, (uint8_t *)buf, len, acc | SMMU_ACC_W);
}

void smmu_direct_set(struct smmu *m, const struct smmu_direct_page *p)
{
    uint64_t ppage = p && p->host ? p->ppage : ~0ull;
    const uint8_t *host = p ? p->host : NULL;
    if (ppage < m->npages || ppage > UINT32_MAX)
        host = NULL, ppage = ~0ull;
    if (m->direct_host && (m->direct_ppage != ppage || m->direct_host != host))
        smmu_drop_page(m, m->direct_ppage);
    m->direct_ppage = ppage;
    m->direct_host = host;
    m->direct_write_fn = host ? p->write : NULL;
    m->direct_ctx = host ? p->ctx : NULL;
    uint8_t *map = (uint8_t *)m->tlb + SMMU_DEV_MAP_OFF;
    for (unsigned g = 0; g < 256; g++) {
        map[g] = host && p->readable && p->readable[g] ? 1 : 0;
        map[256 + g] = host && p->write && p->writable && p->writable[g] ? 1 : 0;
    }
}

void smmu_direct_write(struct smmu *m, uint32_t offset, uint32_t value)
{
    m->direct_write_fn(m->direct_ctx, offset & 0xFFF, value);
}

void smmu_direct_allow(struct smmu *m, bool allow)
{
    if (m->direct_allowed == allow)
        return;
    m->direct_allowed = allow;
    if (!allow && m->direct_host) {
        smmu_drop_page(m, m->direct_ppage);
        m->stats.direct_drops++;
    }
}

void smmu_set_rom(struct smmu *m, uint64_t base)
{
    uint64_t first = base >> 12;
    if (first < m->npages)
        first = m->npages;
    if (first == m->rom_first)
        return;
    smmu_flush(m); /* entries made while the pages were holes */
    m->rom_first = first;
}

void smmu_set_ram_alias(struct smmu *m, uint8_t *wram)
{
    m->wram = wram ? wram : m->ram;
}

/* The hook drops the translations made from the page and unmarks it. */
static void invalidate_code(struct smmu *m, uint64_t ppage)
{
    if (ppage < m->npages && m->code_pages[ppage] && m->code_write_hook)
        m->code_write_hook(m->code_write_opaque, ppage << 12, 4096);
}

void smmu_set_page_flags(struct smmu *m, uint64_t ppage, unsigned n, uint8_t flags,
                         bool content_changed)
{
    for (uint64_t p = ppage; p < ppage + n && p < m->npages; p++) {
        if (m->pg_flags[p] == flags && !content_changed)
            continue;
        m->pg_flags[p] = flags;
        smmu_drop_page(m, p); /* (and the kernel view: it maps RAM's file) */
        if (content_changed)
            invalidate_code(m, p);
    }
}

void smmu_set_a20(struct smmu *m, bool on)
{
    uint32_t mask = on ? ~0u : ~(1u << 20);
    if (mask == m->a20_mask)
        return;
    m->a20_mask = mask;
    m->stats.a20_toggles++;
    /* Every translation of an address with bit 20 set now means another
     * page; which ones exist is not worth tracking for a rare event. */
    smmu_flush(m);
    smmu_kview_mode(m); /* off while A20 is */
    for (uint64_t p = 0; p < m->npages; p++)
        invalidate_code(m, p);
}

void smmu_mark_code(struct smmu *m, uint64_t phys_page)
{
    if (phys_page >= m->npages || m->code_pages[phys_page])
        return;
    m->code_pages[phys_page] = 1;
    smmu_drop_writes(m, phys_page);
}

void smmu_unmark_code(struct smmu *m, uint64_t phys_page)
{
    if (phys_page < m->npages)
        m->code_pages[phys_page] = 0;
}
