/*
 * shadowmmu/smmu.h — guest linear addresses to host addresses.
 *
 * Translated code looks a linear address up inline in flat "shadow TLB"
 * tables (bt/ places them after struct cpu, reached from R15, see
 * bt/offsets.h): one 8-byte entry per guest page, 0 meaning "take the slow
 * path". There are
 * six tables — supervisor read/write, user read/write (addends: host page -
 * linear page) and supervisor/user execute (guest-physical page + 1, checked
 * at block entries). They are the materialized view of the current address
 * space; shadow.c keeps one record per recently used guest CR3 so switching
 * back to a process restores its entries without walking again.
 *
 * Entries are filled lazily by walking the guest's page tables (walk.c,
 * "hidden faults"). Guest pages holding page tables are traced: no write
 * entry ever maps them, so every write reaches smmu_write(), which
 * invalidates the shadow entries derived from the bytes written. Pages
 * holding translated code are handled the same way for code coherence.
 * See docs/shadowmmu.md.
 */
#ifndef BTVM_SMMU_H
#define BTVM_SMMU_H

/* The layout of the six tables (the MMU owns it; the engine that places
 * them derives its own offsets from these). Assembler-safe. */
#define SMMU_TLB_ENTRIES    (1u << 20) /* one per 4 KiB page of the 4 GiB linear space */
#define SMMU_TLB_TABLE_SIZE (SMMU_TLB_ENTRIES * 8u)
/* Byte offset of table t (SMMU_T_*) from the start of the six tables. */
#define SMMU_TLB_OFF(t)     ((t) * SMMU_TLB_TABLE_SIZE)
/* After the six tables: four device tables, the direct device page's
 * entries for the four data tables (SMMU_T_DEV), then the page's maps of
 * 16-byte granules (one byte each): readable, then (at +256) writable. */
#define SMMU_TLB_NDEV       4
#define SMMU_DEV_MAP_OFF    SMMU_TLB_OFF(6 + SMMU_TLB_NDEV)
#define SMMU_DEV_MAP_SIZE   4096u
#define SMMU_TLB_SIZE       (SMMU_DEV_MAP_OFF + SMMU_DEV_MAP_SIZE) /* everything */
/* Beside them (where the engine puts it: smmu_init's summary), one byte
 * per linear page, nonzero when any of the ten tables may hold an entry
 * for it (bit 0: the six, bit 1: the device tables; set with the entries,
 * cleared when an entry is dropped, left set by a write revoked alone and
 * by a switch to another space): INVLPG's inline check reads it instead
 * of ten tables. */
#define SMMU_SUMMARY_SIZE   SMMU_TLB_ENTRIES

#ifndef __ASSEMBLER__

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct dev_bus;

/* Per RAM page (smmu_set_page_flags): what the CPU's writes do when the
 * page does not simply read and write RAM (the i440FX PAM shadow areas). */
#define SMMU_PG_WDROP  1u /* writes are dropped (write-protected shadow RAM, or a ROM shown there) */
#define SMMU_PG_WALIAS 2u /* reads see something else at ram + phys (ROM); writes go to wram + phys */

/* Access kinds (bit flags). */
#define SMMU_ACC_W 1u /* write */
#define SMMU_ACC_U 2u /* user-mode access (CPL 3, not an implicit supervisor access) */
#define SMMU_ACC_X 4u /* instruction fetch */

/* #PF error code bits (SDM vol. 3, 4.7). */
#define SMMU_PF_P    1u
#define SMMU_PF_W    2u
#define SMMU_PF_U    4u
#define SMMU_PF_RSVD 8u
#define SMMU_PF_ID   16u

/* Shadow table indices (tables follow each other, SMMU_TLB_ENTRIES each). */
enum { SMMU_T_SR, SMMU_T_SW, SMMU_T_UR, SMMU_T_UW, SMMU_T_SX, SMMU_T_UX, SMMU_NTABLES };
/* The device table beside data table t (SR..UW): entries only for linear
 * pages that map the direct device page (addend to its host page), never
 * looked at by ordinary access sites — only by sites translated for the
 * device page (bt/emit_mem.c), which also check the granule map. */
#define SMMU_T_DEV(t) (SMMU_NTABLES + (t))
_Static_assert(SMMU_DEV_MAP_OFF == (SMMU_NTABLES + SMMU_TLB_NDEV) * SMMU_TLB_TABLE_SIZE,
               "six tables, then the device tables");

/* The CPU registers the MMU reads, as pointers into the CPU model's state
 * (cpu_smmu_view() fills them from struct cpu): the MMU reads them on every
 * walk and slow access without knowing struct cpu, at the cost of one load
 * each, as before, and never a call. */
struct smmu_cpu_view {
    const uint32_t *cr0, *cr3, *cr4;
    const uint64_t *efer;
    const unsigned *cpl;
    const int *sys_access; /* > 0: accesses are implicit supervisor ones */
};

#define SMMU_NAS 16 /* cached address spaces */
#define SMMU_GLOBAL SMMU_NAS /* the space of global pages (CR4.PGE), always loaded */
#define SMMU_REGIONS 2048    /* 2 MiB regions, for counting entries per directory slot */

struct smmu_stats {
    uint64_t fills_read, fills_write, fills_exec, slow_reads, slow_writes, mmio, unmapped;
    uint64_t hidden_faults, true_faults, trace_hits, trace_invalidations;
    uint64_t traced_writes; /* writes that reached a traced page, same value or not */
    uint64_t as_hits, as_misses, as_reclaims, flushes, invlpg, cr3_loads, global_flushes;
    uint64_t as_foreign_flushes; /* cached spaces dropped for writes while not loaded */
    uint64_t direct_fills, direct_drops; /* the direct device page: entries made, revocations */
    uint64_t rom_writes;   /* writes dropped: ROM, write-protected shadow RAM (PAM) */
    uint64_t a20_toggles;  /* A20 gate changes (each flushes the shadow) */
    uint64_t oom_flushes;  /* a space's hash could not grow (host memory): emptied instead */
    uint64_t prefills;     /* entries shadowed when a traced PTE write made them present */
    uint64_t win_made, win_dropped, win_maps; /* user windows: made, dropped, pages mapped (mmap calls) */
    uint64_t win_full;     /* user pages left out of a window (its page budget or the host said no) */
    uint64_t win_churn;    /* windows dropped for remapping their pages too often */
    uint64_t kv_faults;    /* kernel view: reads that faulted and found their page mapped */
    uint64_t kv_maps, kv_unmaps, kv_resets; /* host mappings made and dropped, view emptied */
    uint64_t kv_pages;     /* pages the view shows now */
};

struct smmu_hent {
    uint32_t key;   /* vpn + 1; 0 = empty */
    uint32_t ppage; /* guest-physical page */
    uint8_t perm;   /* 1 << SMMU_T_*: what the guest's tables allow (D set for writes) */
};

struct smmu_as {
    bool used;
    uint32_t cr3;       /* as loaded; ~0u for the paging-off space */
    uint32_t mode;      /* paging mode bits it was built under */
    uint64_t pdpte[4];  /* PAE: PDPTEs loaded with CR3 */
    uint32_t gen;       /* bumped when flushed: stale trace/rmap records */
    uint64_t last_use;
    uint32_t foreign_writes; /* traced writes to its tables since it was last loaded */
    struct smmu_hent *h;
    uint32_t cap, n;
    uint16_t *region_n;  /* entries per 2 MiB region (range invalidations skip empty ones) */
    uint64_t *present;   /* one bit per linear page with an entry (they visit only those) */
    /* Its user window (window.c), once it has run user code long enough:
     * 4 GiB of host address space where linear page v maps the RAM page
     * win_rec[v] - 1 (0: nothing), so its user entries share one addend. */
    uint8_t *win;
    uint32_t *win_rec;
    uint32_t win_pages;  /* pages win_rec names */
    uint32_t uticks;     /* interrupts taken at CPL 3 in it in a row (smmu_window_tick) */
    int32_t win_credit;  /* pages it may still map again (their guest-physical page changed) */
    uint32_t win_hold;   /* ticks to wait before another window (it lost one to remapping) */
};

struct smmu {
    struct smmu_cpu_view cpu;
    struct dev_bus *bus;    /* device pages and holes (MMIO) */
    uint64_t *tlb;          /* six tables, four device tables, granule maps (SMMU_TLB_SIZE) */
    uint8_t *summary;       /* a byte per linear page (SMMU_SUMMARY_SIZE) */
    bool summary_owned;     /* allocated by smmu_init */
    uint8_t *ram;           /* guest-physical 0 */
    uint8_t *code_pages;    /* one byte per guest-physical page: holds translated code */
    uint64_t npages;        /* guest-physical pages of RAM */
    /* Host-backed pages that are not plain RAM (§14): reads and fetches
     * come from ram + phys like RAM's, writes do not. */
    uint64_t rom_first;     /* ROM: pages [rom_first, 2^20) (2^20: none) */
    uint8_t *pg_flags;      /* one byte per RAM page: SMMU_PG_* */
    uint8_t *wram;          /* RAM as SMMU_PG_WALIAS writes reach it (a second mapping) */
    uint32_t a20_mask;      /* ANDed into every guest-physical address: ~0u, or bit 20 clear */
    /* Paging mode (snapshot of CR0/CR4/EFER bits, kept by smmu_mode_changed). */
    bool paging, pae, pse, wp, nxe, pge;
    uint32_t mode;
    struct smmu_as as[SMMU_NAS + 1];
    /* One set of hash arrays kept back (shadow.c, spare_take): a space
     * whose own cannot be allocated takes it, so a failed allocation never
     * leaves the active space unable to hold the execute entry a block
     * entry waits for. Dropped spaces park their arrays here. */
    struct smmu_hent *spare_h;
    uint16_t *spare_region_n;
    uint64_t *spare_present;
    uint32_t spare_cap;
    int active;
    uint64_t clock;
    uint32_t budget, entries; /* shadow entries in all address spaces, and the limit */
    /* Traces: per guest-physical page, records of the address spaces that
     * use it as a page table; rmap: records of the linear pages mapping it. */
    int32_t *ref_head, *rmap_head;
    struct smmu_ref *refs;
    struct smmu_rmap *rmaps;
    int32_t ref_free, rmap_free;
    uint32_t ref_cap, rmap_cap;
    /* Last walk fault: linear address and error code. */
    uint32_t pf_addr, pf_err;
    bool fill_traced;      /* the last smmu_fill declined a write: page-table page */
    bool fill_direct;      /* the last smmu_fill met the direct device page (and
                            * shadowed it in the device tables if allowed): the
                            * access is emulated */
    /* The direct device page (smmu_direct_set): reads of guest-physical
     * page direct_ppage may be served from direct_host through the device
     * tables while direct_allowed. */
    uint64_t direct_ppage;  /* ~0: none */
    const uint8_t *direct_host;
    bool direct_allowed;
    void (*direct_write_fn)(void *ctx, uint32_t offset, uint32_t value);
    void *direct_ctx;
    bool device_written;   /* an access wrote to a device (the caller clears it): its
                            * timers may have moved */
    struct smmu_stats stats;
    /* Called when a write reaches a page marked as code (smmu_mark_code);
     * set by the engine after smmu_init (NULL: none). */
    void (*code_write_hook)(void *opaque, uint64_t phys, unsigned len);
    void *code_write_opaque;
    /* User windows (window.c, smmu_window_enable): RAM's memfd (-1: no
     * windows), the windows alive and the pages they map, and where the
     * engine wants to see whether the active space has one. */
    int win_fd;
    int win_last;           /* the space the last user tick was taken in */
    uint32_t win_count, win_pages;
    uint64_t *win_flag, win_flag_on;
    /* The kernel view (kview.c, smmu_kview_enable), NULL: none; kv_uses:
     * per guest-physical page, how many of the tables it follows live
     * there (> 0: traced). */
    struct smmu_kview *kv;
    uint16_t *kv_uses;
};

/* Most emulated accesses are 1, 2, 4 or 8 bytes: constant-size copies are
 * one move each, where a variable memcpy became a libc call (more than the
 * rest of a stack pop in cpu/) or REP MOVS (tens of cycles to start). */
static inline void smmu_copy_small(void *dst, const void *src, unsigned len)
{
    switch (len) {
    case 1: memcpy(dst, src, 1); break;
    case 2: memcpy(dst, src, 2); break;
    case 4: memcpy(dst, src, 4); break;
    case 8: memcpy(dst, src, 8); break;
    default: memcpy(dst, src, len); break;
    }
}

/* ram/ram_size: guest RAM (guest-physical 0 up); bus: where other
 * guest-physical addresses go; cpu: the registers (copied, the pointers
 * must stay valid); tables: the tables and maps (SMMU_TLB_SIZE bytes, zeroed);
 * summary: SMMU_SUMMARY_SIZE zeroed bytes, or NULL for the MMU's own.
 * 0 or -ENOMEM (nothing left allocated). */
int smmu_init(struct smmu *m, uint8_t *ram, uint64_t ram_size, struct dev_bus *bus,
              const struct smmu_cpu_view *cpu, uint64_t *tables, uint8_t *summary);
void smmu_destroy(struct smmu *m);
/* Drop every shadow entry of every address space. */
void smmu_flush(struct smmu *m);
/* Check the loaded shadow entries for linear pages [vpn_lo, vpn_hi): every
 * host address one leads to must lie in guest RAM, the ROM window or the
 * direct device page, and every execute entry must name such a page.
 * Returns how many entries break that (0: all good). A full scan costs
 * milliseconds: for tests and debugging, not the run path. */
size_t smmu_audit(const struct smmu *m, uint32_t vpn_lo, uint32_t vpn_hi);

/* The CPU's paging controls changed (CR0.PG/WP, CR4.PSE/PAE/PGE, EFER.NXE,
 * or CR3 was loaded). Returns 0, or -EINVAL when a PAE CR3 load must #GP
 * (reserved PDPTE bits). */
int smmu_cr_write(struct smmu *m);
/* INVLPG lin. */
void smmu_invlpg(struct smmu *m, uint32_t lin);

/* Access kind for an access by the CPU at its current CPL (inline: every
 * emulated access asks). */
static inline unsigned smmu_acc(const struct smmu *m, bool write)
{
    unsigned a = write ? SMMU_ACC_W : 0;
    if (*m->cpu.cpl == 3 && !*m->cpu.sys_access)
        a |= SMMU_ACC_U;
    return a;
}

/* Walk the guest's tables for one access (sets A/D bits as hardware would).
 * Returns true with *phys, or false with pf_addr/pf_err set. */
bool smmu_translate(struct smmu *m, uint32_t lin, unsigned acc, uint64_t *phys);

/* Fill the shadow entry for lin's page for access acc. Returns the host
 * pointer for lin, or NULL: *fault true means a guest #PF (pf_addr/pf_err),
 * false means the access must be emulated (device, hole, traced page). */
uint8_t *smmu_fill(struct smmu *m, uint32_t lin, unsigned acc, bool *fault);

/* Instruction fetch check for the page of lin at the current CPL: fills the
 * execute entry and returns the guest-physical page, or -1 with a fault. */
int64_t smmu_exec_page(struct smmu *m, uint32_t lin);

/* Bulk writes by the CPU model (REP STOS/MOVS) within one page: the host
 * pointer for lin even when its page is traced or holds code (NULL: *fault
 * as smmu_fill, or a device page); after writing, smmu_wrote() applies
 * the traces and code invalidation once for the whole range. */
uint8_t *smmu_write_ptr(struct smmu *m, uint32_t lin, unsigned acc, bool *fault);
void smmu_wrote(struct smmu *m, uint32_t lin, unsigned len);

/* Byte-exact guest accesses through the slow path (any size, page-crossing,
 * MMIO, unmapped: reads all-ones, writes dropped). A write that faults on
 * any page writes nothing. Return 0 or 14 (#PF: pf_addr/pf_err). */
int smmu_read(struct smmu *m, uint32_t lin, void *buf, unsigned len, unsigned acc);
int smmu_write(struct smmu *m, uint32_t lin, const void *buf, unsigned len, unsigned acc);

/* A device wrote guest-physical [phys, phys + len) behind the CPU's back
 * (DMA): apply the traces and code invalidation a CPU write would. */
void smmu_phys_written(struct smmu *m, uint64_t phys, uint64_t len);

/* Code coherence: mark a guest-physical page as holding translations (its
 * write entries are dropped so writes take the slow path). */
void smmu_mark_code(struct smmu *m, uint64_t phys_page);
void smmu_unmark_code(struct smmu *m, uint64_t phys_page);

/*
 * A direct device page, as VMX's APIC-access page: the device keeps a host
 * page `host` mirroring its registers at their offsets, and reads of
 * guest-physical page `ppage` may be served from it by translated code
 * (the device tables, SMMU_T_DEV) for the 16-byte granules readable[g]
 * allows. No access ever writes the host page: writes keep the slow path
 * to the device, except aligned 32-bit stores to a granule writable[g]
 * allows, which an engine may hand straight to write(ctx, offset, value)
 * (smmu_direct_write) once the device write table says the guest's tables
 * let it write there. write runs inside translated code with only the
 * registers the C ABI lets it clobber saved: it must not touch the CPU's
 * state, raise guest faults or stop the run; it may kick the vcpu.
 * ppage must lie past RAM (else: no direct page).
 */
struct smmu_direct_page {
    uint64_t ppage;
    const uint8_t *host;
    const uint8_t *readable;  /* 256 granules */
    const uint8_t *writable;  /* 256 granules, NULL: none */
    void (*write)(void *ctx, uint32_t offset, uint32_t value);
    void *ctx;
};
/* p NULL: none. Another page or host drops every entry of the old one. */
void smmu_direct_set(struct smmu *m, const struct smmu_direct_page *p);
/* A store the engine's store site took straight to the device (offset
 * within the page). */
void smmu_direct_write(struct smmu *m, uint32_t offset, uint32_t value);
/* Revoke (false: every shadow entry mapping the page is dropped, in every
 * address space, and none is made) or re-allow (true: entries come back
 * at the next read that misses) direct reads. */
void smmu_direct_allow(struct smmu *m, bool allow);
/* Drop every shadow entry, in every address space, that maps
 * guest-physical page ppage (a RAM page or the direct device page). */
void smmu_drop_page(struct smmu *m, uint64_t ppage);

/*
 * Host-backed pages that are not plain RAM (docs/shadowmmu.md §14). The
 * host mapping at ram + phys must be readable for every page made
 * host-backed here: the machine maps ROM there (the "window").
 *
 * ROM: guest-physical [base, 4 GiB), above RAM: read and fetched from
 * ram + phys through the tables; writes are dropped (slow path).
 */
void smmu_set_rom(struct smmu *m, uint64_t base);
/* RAM pages [ppage, ppage + n) take flags (SMMU_PG_*; 0: plain RAM);
 * content_changed: what ram + phys shows for them changed (a PAM read
 * enable toggled), so translations from them are invalidated. Drops every
 * shadow entry of the pages in every address space. */
void smmu_set_page_flags(struct smmu *m, uint64_t ppage, unsigned n, uint8_t flags,
                         bool content_changed);
/* The second mapping of RAM that SMMU_PG_WALIAS writes go to. */
void smmu_set_ram_alias(struct smmu *m, uint8_t *wram);
/* The A20 gate: off forces bit 20 of every guest-physical address to 0
 * (page walks included). A change flushes every shadow entry and
 * invalidates all translated code. */
void smmu_set_a20(struct smmu *m, bool on);

static inline bool smmu_is_rom(const struct smmu *m, uint64_t ppage)
{
    return ppage >= m->rom_first && ppage < (1ull << 20);
}
/* A write entry may map the page: plain RAM. */
static inline bool smmu_page_writable(const struct smmu *m, uint64_t ppage)
{
    return ppage < m->npages && !m->pg_flags[ppage];
}

/*
 * User windows (docs/shadowmmu.md §15). A user entry's addend differs
 * from page to page, so translated user code cannot keep one in a
 * register as kernel code keeps R14; an address space that has taken
 * SMMU_WIN_TICKS warm interrupts in a row at CPL 3 (a long-running
 * process, sampled at its timer ticks; smmu_window_tick) gets a window,
 * until it remaps too often: 4 GiB of host address space where
 * each of its user pages is mapped (one mmap of RAM's memfd per page, the
 * first time it is shadowed) at window + linear, so all its user entries
 * hold the same addend, the window's base. The tables stay the only
 * authority: an access still checks its entry, and a window page no
 * entry names is never reached.
 *
 * fd: RAM's memfd at offset = guest-physical address (-1: no windows).
 * flag: set to flag_on while the active space has a window, else 0 (the
 * engine's translated code reads it).
 */
#define SMMU_WIN_TICKS 3        /* interrupts in a row at CPL 3 in a space before it gets a window */
#define SMMU_WIN_MAX 4          /* windows alive at once */
#define SMMU_WIN_PAGE_CAP 8192  /* pages one window maps (32 MiB) */
#define SMMU_WIN_PAGES_ALL 24576 /* in all windows: each may be a host mapping of its own */
#define SMMU_WIN_REMAPS 256     /* remaps a new window may make ... */
#define SMMU_WIN_TICK_REMAPS 4  /* ... and more for each user tick, up to SMMU_WIN_REMAPS */
#define SMMU_WIN_HOLD 64        /* user ticks without a window after one was remapped too often */
void smmu_window_enable(struct smmu *m, int fd, uint64_t *flag, uint64_t flag_on);
/* An interrupt is taken at CPL 3: count it for the active space (a tick
 * in another space, or one that is not warm — the engine was busy
 * translating since the last — starts the count again). */
void smmu_window_tick(struct smmu *m, bool warm);
static inline bool smmu_window_on(const struct smmu *m)
{
    return m->as[m->active].win != NULL;
}

/*
 * The kernel view (docs/shadowmmu.md §16): 4 GiB of host address space
 * where linear page v shows, read-only, the RAM page the guest's 32-bit
 * tables map it to for a supervisor read (present, A set, supervisor-only
 * directory entry), for as long as those entries stay as they were — not
 * the shadow's entries, which follow the TLB and are flushed often. Pages
 * are mapped when a read through the view faults (smmu_kview_fault), so
 * translated kernel code may read through it with no check at all.
 *
 * fd: RAM's memfd (offset = guest-physical address); at: where to reserve
 * it (0: anywhere). Returns the view's base, or NULL (no view).
 */
void *smmu_kview_enable(struct smmu *m, int fd, uintptr_t at);
/* Bytes reserved there: the view, then a guard for reads that wrap past
 * linear 4 GiB (never mapped). */
#define SMMU_KV_RESERVE ((1ull << 32) + 0x10000u)
void smmu_kview_destroy(struct smmu *m);
/* A read of linear address lin through the view faulted: */
enum {
    SMMU_KV_MAPPED,  /* its page is mapped now: run the read again */
    SMMU_KV_RETRY,   /* mapped, but a page became traced (its write entries went):
                      * run the instruction again from the dispatcher */
    SMMU_KV_REFUSED, /* the view does not show it (not RAM, not mapped, a user
                      * page, PAE...): this read must be checked */
};
int smmu_kview_fault(struct smmu *m, uint32_t lin);
/* What linear page vpn shows, if anything (tests). */
bool smmu_kview_shows(const struct smmu *m, uint32_t vpn, uint32_t *ppage);
/* Internals for smmu.c: the paging mode or CR3 changed; a traced page was
 * written; everything must go (RAM's contents moved under it). */
void smmu_kview_mode(struct smmu *m);
void smmu_kview_written(struct smmu *m, uint64_t phys, unsigned len);
/* The kernel view follows a table in RAM page ppage (< npages): traced. */
static inline bool smmu_kview_follows(const struct smmu *m, uint64_t ppage)
{
    return m->kv_uses && m->kv_uses[ppage];
}
void smmu_kview_reset(struct smmu *m);

/* shadow.c and window.c internals shared with smmu.c */
uint64_t smmu_window_addend(struct smmu *m, struct smmu_as *a, uint32_t vpn, uint32_t ppage);
void smmu_window_release(struct smmu *m, struct smmu_as *a);
void smmu_window_note(struct smmu *m);
bool smmu_window_phys(const struct smmu *m, uint64_t e, uint32_t lin, uint64_t *phys);
void smmu_shadow_reload(struct smmu *m);
void smmu_shadow_insert(struct smmu *m, int as, uint32_t vpn, uint32_t ppage, uint8_t perm);
bool smmu_traced(struct smmu *m, uint64_t ppage);
void smmu_trace_ref(struct smmu *m, int as, uint64_t ppage, uint32_t base_vpn, unsigned span_log,
                    unsigned esize_log);
/* Drops what the write of len bytes at phys invalidated. Entries of the
 * active space's page tables (or global ones) it left present with A set
 * go to pre[] (their linear pages, at most max; the count is returned):
 * the caller may shadow them at once (smmu.c, prefill). */
unsigned smmu_trace_write(struct smmu *m, uint64_t phys, unsigned len, uint32_t *pre, unsigned max);
/* A write that changed the aligned 8 bytes at phys8 of a traced page from
 * old to new: true if the entries in them only lost their R/W bits and the
 * dependent shadow entries were downgraded (no invalidation needed). */
bool smmu_trace_write_protect(struct smmu *m, uint64_t phys8, uint64_t old, uint64_t new);
void smmu_drop_writes(struct smmu *m, uint64_t ppage);
bool smmu_shadow_lookup(struct smmu *m, uint32_t vpn, int t, bool load, uint32_t *ppage);
/* The shadow table an access of kind acc uses. */
static inline int smmu_table_for(unsigned acc)
{
    if (acc & SMMU_ACC_X)
        return (acc & SMMU_ACC_U) ? SMMU_T_UX : SMMU_T_SX;
    return ((acc & SMMU_ACC_U) ? SMMU_T_UR : SMMU_T_SR) + ((acc & SMMU_ACC_W) ? 1 : 0);
}

#endif /* __ASSEMBLER__ */

#endif
