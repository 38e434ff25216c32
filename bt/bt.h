/*
 * bt/bt.h — the binary-translation engine's internal interface.
 *
 * Reading order: docs/translation.md, then translate.c (block formation),
 * emit_*.c (what each guest instruction becomes), cache.c (where blocks
 * live), engine.c (the dispatcher), enter.S (entering and leaving host code).
 */
#ifndef BTVM_BT_H
#define BTVM_BT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "bt/emit.h"
#include "cpu/cpu.h"
#include "decoder/decoder.h"
#include "shadowmmu/smmu.h"

struct vm;

/* Why translated code returned to the dispatcher (bt_vcpu exit_reason). */
enum bt_exit {
    BT_EXIT_NONE = 0,
    BT_EXIT_CALLOUT = 1,   /* a callout returned CPU_CO_EXIT: resume at cpu->eip */
    BT_EXIT_STOP = 2,      /* a callout returned CPU_CO_STOP */
    BT_EXIT_BRANCH = 3,    /* direct branch to an untranslated/unchained target; exit_site patchable */
    BT_EXIT_INDIRECT = 4,  /* indirect branch missed the inline table */
    BT_EXIT_ASYNC = 5,     /* cpu->async_pending seen at a block entry */
    BT_EXIT_UNSUPPORTED = 6, /* translator could not handle the instruction at cpu->eip */
    BT_EXIT_SAFE = 7,      /* a group check failed: continue in the safe translation; exit_site patchable */
    BT_EXIT_STALE = 8,     /* entered an invalidated block (its entry now jumps to a stub) */
};

#define BT_MAX_BLOCK_INSNS 64

/* A decoded instruction kept for the callouts emitted for it. */
struct bt_co_rec {
    struct bt_co_rec *next;
    struct dec_insn d;
};

/* One translated block. */
struct bt_block {
    uint32_t eip;          /* guest linear EIP of the first instruction */
    uint32_t key;          /* mode bits (see bt_mode_key) */
    uint32_t cs_base;      /* code is at linear cs_base + eip */
    uint32_t phys_page;    /* guest-physical page of the first byte */
    uint32_t phys_page2;   /* second page if the block's last insn crosses, else same */
    uint8_t *host;         /* entry in the code cache */
    uint32_t host_len;
    uint16_t ninsn;
    struct bt_block *hnext;   /* hash chain */
    struct bt_block *pnext;   /* list of blocks on phys_page */
    struct bt_block *pnext2;  /* list of blocks on phys_page2 (if different) */
    uint32_t tomb_off;        /* OOL stub that exits with "stale block" */
    uint32_t fwd_off;         /* entry for forward direct jumps, past the async check (0: none) */
    uint64_t phys_lo, phys_hi; /* guest-physical bytes translated [lo, hi) (both pages) */
    /* host offset → guest EIP, one entry per guest instruction (precise faults) */
    uint32_t *map_host;    /* offsets of each instruction's first host byte */
    uint32_t *map_eip;
    uint32_t *map_ool;     /* offsets (in the OOL part) of each instruction's slow paths */
    uint32_t main_len;     /* bytes of the MAIN part; OOL follows */
    struct bt_co_rec *callout_insns; /* decoded records callouts refer to */
    bool valid;
};

#define BT_EXIT_KINDS 9

struct bt_stats {
    uint64_t blocks, insns, cache_bytes, flushes, chains, dispatches, callouts, invalidations,
             ibtc_hits, interrupts, halts, adaptive, code_remaps, fast_transfers,
             entry_refills, fast_deliveries, pred_sites, pred_misses, pred_direct, pc_thunks, icache_fills;
    uint64_t exits[BT_EXIT_KINDS]; /* by enum bt_exit */
    uint64_t translate_ns;
};

/* Inline indirect-branch table entry: tag = -((key << 32) | eip), so that
 * emitted code can test a hit without touching flags (emit_ctrl.c). */
struct bt_ibtc_entry { uint64_t neg_tag; uint64_t host; };

struct bt {
    struct vm *vm;
    struct cpu *cpu;
    struct smmu mmu;
    uint8_t *map;          /* the mapping: struct bt_vcpu, struct cpu, tables */
    struct bt_vcpu *vc;    /* per-vcpu engine state, ends at struct cpu */
    uint8_t *region;       /* = struct cpu: the base emitted code has in R15 */
    uint64_t *tables;      /* TLB read, TLB write, IBTC */
    struct bt_ibtc_entry *ibtc;
    /* code cache */
    uint8_t *cache;
    size_t cache_size, cache_used;
    uint32_t pred_used;    /* predicted-addend slots handed out (cache.c) */
    uint64_t *pred_since;  /* per slot: when its budget was last refilled (ns) */
    uint32_t pred_direct[1024]; /* EIP + 1 of sites that miss too often to predict */
    uint8_t *tramp_exit, *tramp_callout; /* reachable by rel32 from any block */
    /* block lookup */
    struct bt_block **hash;
    uint32_t hash_mask;
    struct bt_block **page_blocks; /* per guest-physical page lists */
    uint64_t npages;
    struct bt_block *blocks_pool; /* bump-allocated block records */
    size_t pool_used, pool_cap;
    struct bt_emit em;
    struct bt_stats st;
    bool trace;
    ZydisDecoder host_decoder; /* host code, for mapping a SIGFPE to the guest */
    void *perfmap;           /* FILE * of /tmp/perf-<pid>.map (BTVM_PERFMAP=1), or NULL */
    bool invalidated;        /* a guest write just invalidated translations */
    int deferred_delivery;   /* a callout's failed delivery (enum cpu_delivery) for the dispatcher */
    bool count;              /* --stats: emitted code counts indirect hits */
    uint64_t *callout_counts; /* per Zydis mnemonic, with --stats */
    /* Adaptive translation: guest EIPs of stores that keep hitting traced
     * page tables (memslow.c counts, translate.c emits a direct callout).
     * Once adapted, traced/plain count what the callout's stores hit; a
     * site that mostly writes ordinary memory (a shared helper such as
     * spin_unlock) goes back inline for good (never). */
    struct { uint32_t eip, hits, traced, plain; bool never; } adapt[1024];
};

/*
 * The engine's per-vcpu state. It ends right before struct cpu in the
 * engine's mapping (engine.c), so emitted code reaches its hot fields at
 * negative offsets from R15 (bt/offsets.h BT_OFF_*) and C code gets it from
 * the struct cpu pointer a callout receives (bt_vcpu_of). struct cpu itself
 * holds guest-visible state only.
 */
struct bt_vcpu {
    struct bt *bt;
    uint32_t bounce_lin, bounce_size; /* the bounced access bt_mem_done writes back */
    uint8_t bounce[512 + 64] __attribute__((aligned(64))); /* MMIO / page-crossing bounce */
    /* --- hot: BT_OFF_* from R15 --- */
    uint32_t exit_reason;   /* why the code cache returned to C (enum bt_exit) */
    uint32_t insn_eip;      /* guest EIP of the instruction a callout serves */
    uint32_t arg0;          /* callout immediate operand */
    uint32_t arg1;          /* callout linear address */
    uint32_t mem_bounce;    /* slow memory path used the bounce buffer */
    uint32_t pad0;
    uint64_t mem_addend;    /* slow memory path result: host = linear + addend */
    uint64_t host_rsp;      /* host stack pointer at bt_enter */
    uint64_t exit_site;     /* host address of a patchable jump, 0 if none */
    const void *co_insn;    /* decoded instruction the current callout serves */
    uint64_t pad1;
    struct cpu cpu __attribute__((aligned(64)));
};

static inline struct bt_vcpu *bt_vcpu_of(struct cpu *c)
{
    return (struct bt_vcpu *)((uint8_t *)c - offsetof(struct bt_vcpu, cpu));
}

/* enter.S */
uint32_t bt_enter(struct cpu *c, void *host_code, void *fast_addend);
void bt_exit_tramp(void);
void bt_callout_tramp(void);

int bt_callout_dispatch(struct cpu *c, const void *insn, int (*fn)(struct cpu *, const void *));
/* engine.c: the R14 value for entering a block on code page code_ppage. */
uint64_t bt_fast_addend(struct bt *bt, uint64_t code_ppage);
/* memslow.c: this store keeps hitting traced page tables. */
bool bt_adaptive(const struct bt *bt, uint32_t eip);

/* cache.c */
int bt_cache_init(struct bt *bt, size_t size);
void bt_cache_flush(struct bt *bt);
void bt_ibtc_reset(struct bt *bt);
/* A fresh predicted-addend slot for the access site at eip (its offset
 * from R15), or -1: none left until the next flush, or the site misses too
 * often to predict (memslow.c). */
int32_t bt_pred_alloc(struct bt *bt, uint32_t eip);
bool bt_pred_is_direct(const struct bt *bt, uint32_t eip);
/* Misses a site may take per look at their rate (memslow.c). */
#define BT_PRED_BUDGET 128
void bt_free_co_recs(struct bt_co_rec *r);
struct bt_block *bt_lookup(struct bt *bt, uint32_t eip, uint32_t key, uint32_t cs_base,
                           uint64_t ppage);
struct bt_block *bt_block_alloc(struct bt *bt);
uint8_t *bt_cache_alloc(struct bt *bt, size_t len); /* NULL when full */
void bt_insert(struct bt *bt, struct bt_block *blk);
void bt_invalidate_phys(struct bt *bt, uint64_t phys, unsigned len);
struct bt_block *bt_block_for_host(struct bt *bt, const uint8_t *host_pc);

/* translate.c */
struct bt_block *bt_translate(struct bt *bt, uint32_t eip, uint32_t key);
uint32_t bt_mode_key(const struct cpu *c);

/* trace.c */
void bt_trace_block(struct bt *bt, const struct bt_block *blk, const struct dec_insn *insns, int n);

#endif
