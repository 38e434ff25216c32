/*
 * bt/bt.h — the binary-translation engine's internal interface.
 *
 * Reading order: docs/translation.md, then translate.c (block formation),
 * emit_*.c (what each guest instruction becomes), cache.c and blocks.c
 * (where blocks live), engine.c (the dispatcher), enter.S (entering and
 * leaving host code), runtime.c (C called from inside the code cache).
 *
 * Layers, lowest first. A file calls only files above it in this list
 * (scripts/bt_cycles.sh checks the objects for cycles):
 *   emit.c        host encoding: buffers, labels, fixups (no guest knowledge)
 *   blocks.c      block records, the lookup directory, invalidation, mode key
 *   runtime.c     run-time entry points: callout dispatch, memory slow path,
 *                 entry refill, predicted-addend budget, adaptive stores
 *   enter.S       entering and leaving the code cache (calls runtime.c)
 *   cache.c       code-cache memory, trampolines, flush, predicted-addend slots
 *   emit_common.c helpers every emitter shares: callouts, exits, flag saves
 *   classify.c    which emitter handles an instruction
 *   ident_tmpl.c  IDENT memory forms as bytes from the guest's (templates)
 *   emit_memstub.c the out-of-line access stubs blocks share
 *   emit_mem.c    guest memory operands (inline TLB check, the stubs)
 *   emit_stack.c  push/pop/enter/leave      (uses emit_mem)
 *   emit_ident.c, emit_string.c             (use emit_mem)
 *   emit_sreg.c   MOV/POP of ES/DS/FS/GS through a descriptor memo
 *                                           (uses emit_stack, emit_mem)
 *   emit_vif.c    CLI/STI/PUSHF/POPF        (uses emit_stack)
 *   emit_ctrl.c   control flow              (uses emit_stack, emit_mem)
 *   emit_iret.c   IRET at CPL 0, to 0 or 3  (uses emit_sreg, emit_vif, emit_ctrl, emit_stack)
 *   emit_sysenter.c SYSENTER/SYSEXIT        (uses emit_ctrl, emit_stack)
 *   groups.c      one TLB check for several accesses
 *   trace.c       --trace output
 *   translate.c   block formation: decode, flag liveness, emit, place
 *   xlatbench.c   the translator timed alone (BTVM_XLAT_BENCH)
 *   engine.c      the dispatcher and the engine's vm_engine_ops
 */
#ifndef BTVM_BT_H
#define BTVM_BT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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
    BT_EXIT_SAFE2 = 9,     /* a group check failed in a SAFE translation: on in one without groups */
    /* Internal: an out-of-line exit left by CALL bt_exit_ra_tramp; the
     * dispatcher finds its record by the return address in exit_site and
     * carries on with the record's reason (engine.c exit_by_ra). */
    BT_EXIT_RA = 15,
};

#define BT_MAX_BLOCK_INSNS 64

/*
 * The mode key (bt_mode_key, blocks.c): the CPU state a translation is
 * specialised for. Blocks are looked up by (EIP, key, CS base).
 */
#define BT_KEY_CPL      0x03u /* the CPL (key & BT_KEY_CPL; bt_key_cpl) */
#define BT_KEY_CODE32   0x04u /* CS.D = 1: 32-bit code (else 16-bit) */
#define BT_KEY_NONFLAT  0x08u /* CS/DS/ES/SS not all base 0, limit 4 GiB: accesses add bases, check limits */
#define BT_KEY_SAFE     0x10u /* after a failed group check: stack groups split by page (groups.c) */
#define BT_KEY_NOFPU    0x20u /* CR0.TS or CR0.EM: FPU/SSE instructions raise #NM/#UD */
#define BT_KEY_STACK16  0x40u /* SS.B = 0: the stack pointer is SP */
#define BT_KEY_PG       0x80u /* paging on: block entries check their code page's mapping */
#define BT_KEY_REAL     0x100u /* CR0.PE = 0: real-address mode (CPL 0) */
#define BT_KEY_V86      0x200u /* EFLAGS.VM = 1: virtual-8086 mode (CPL 3) */
/* Not a mode bit: the block is found by guest-physical address and runs at
 * any linear address (bt_key_shared; bt_mode_key never sets it). */
#define BT_KEY_VSHARED  0x400u
/* A debugger's single step (vm->debug): one instruction per block, every
 * exit to the dispatcher (no chaining, no indirect lookup). Never shared. */
#define BT_KEY_STEP     0x800u
/* With BT_KEY_SAFE: after a failed group check in such a translation, no
 * groups at all (every access checked). */
#define BT_KEY_SAFE2    0x1000u
/* CPL 3 in an address space with a user window (shadowmmu/window.c): user
 * accesses compare their entry with R14 as kernel ones do. A hint only:
 * either translation is right in either kind of space (a window's pages
 * merely go out of line in one without it). */
#define BT_KEY_UWIN     0x2000u

static inline unsigned bt_key_cpl(uint32_t key) { return key & BT_KEY_CPL; }

/*
 * User-mode 32-bit flat code with paging (bt_key_shareable) whose
 * guest-physical page has run at two linear pages is translated "shared"
 * (BT_KEY_VSHARED): found by the guest-physical address of its first byte,
 * run at any linear address (docs/translation.md §8b). Every EIP such a
 * block needs comes from the bt_vcpu vbase, the linear page of the running
 * block's entry, plus an offset. ASLR maps the same library pages at
 * different addresses in each process; their translations are reused.
 * Other blocks are found by EIP and carry their EIPs as constants (they
 * never read vbase).
 */
static inline bool bt_key_shareable(uint32_t key)
{
    return (key & (BT_KEY_PG | BT_KEY_CODE32 | BT_KEY_NONFLAT | BT_KEY_REAL | BT_KEY_V86 | BT_KEY_CPL |
                   BT_KEY_STEP)) ==
           (BT_KEY_PG | BT_KEY_CODE32 | 3u);
}
static inline bool bt_key_shared(uint32_t key)
{
    return (key & BT_KEY_VSHARED) != 0;
}
/* The vbase a block entered at linear cs_base + eip runs with. */
static inline uint32_t bt_vbase(uint32_t key, uint32_t eip)
{
    return bt_key_shared(key) ? eip & ~0xFFFu : 0;
}


/* A decoded instruction kept for the callouts emitted for it. */
/* A callout site in a block: what bt_site_tramp (enter.S) loads, so that
 * the block itself carries only its address (emit_common.c). */
struct bt_co_site {
    uint64_t fn;           /* int (*)(struct cpu *, const void *) */
    const void *insn;      /* &rec->d, or NULL for an internal callout */
    uint32_t eip;          /* the guest instruction's EIP - the block's vbase0 */
    uint32_t pad;          /* exit stubs: the exit reason (fn: the site) */
};
#define BT_CO_SITES 4
_Static_assert(sizeof(struct bt_co_site) == 24, "enter.S knows the layout");

/* Callout sites of one instruction (with its decoded record, which must
 * outlive translation), or of internal callouts (no record: allocated
 * without d). Owned by the block. */
struct bt_co_rec {
    struct bt_co_rec *next;
    unsigned nsites;
    struct bt_co_site sites[BT_CO_SITES];
    struct dec_insn d;     /* last: internal records stop before it */
};

/* An exit of a block, by the return address of its CALL (ret_off, from
 * the block's code): its record {site, key, eip, reason}. */
struct bt_exit_ref {
    uint32_t ret_off;
    struct bt_co_site *rec;
};

/* One translated block. */
struct bt_block {
    uint32_t eip;          /* guest linear EIP of the first instruction (when translated) */
    uint32_t key;          /* mode key (BT_KEY_*) */
    uint64_t lpc;          /* what lookups match: the entry's guest-physical address
                            * (bt_key_shared keys), else eip */
    uint32_t vbase0;       /* bt_vbase at translation: record EIPs are relative to it */
    uint32_t cs_base;      /* code is at linear cs_base + eip */
    uint32_t phys_page;    /* guest-physical page of the first byte */
    uint32_t phys_page2;   /* second page if the block's last insn crosses, else same */
    uint8_t *code;         /* the block's first byte in the code cache (map_host is relative to it) */
    uint8_t *host;         /* entry in the code cache */
    uint8_t *ientry;       /* entry for indirect jumps (R8 = target EIP): sets vbase, then host */
    uint32_t host_len;
    uint16_t ninsn;
    uint16_t split_off;    /* SAFE: 1 + ESP's page offset its stack groups were split for (groups.c) */
    struct bt_block *hnext;   /* hash chain */
    struct bt_block *pnext;   /* list of blocks on phys_page */
    struct bt_block *fwd_root; /* the oldest tombstone forwarding to this block (engine.c) */
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
    struct bt_exit_ref *exits;       /* its out-of-line exits, by return address */
    uint32_t nexits;
    bool valid;
};

#define BT_EXIT_KINDS 10
#define BT_PAGE_SHARED 0xFFFFFFFFu
/* User code at or above this linear address is translated shared from its
 * first run: Linux maps shared libraries, the dynamic loader and the vDSO
 * from just below the kernel downwards, Windows its DLLs high too, while
 * programs linked at a fixed address sit low (i386: 0x08048000, or
 * 0x00400000). A policy, not a correctness matter (blocks.c). */
#define BT_SHARE_FROM 0x40000000u

/* Counters (--stats), one field per entry of bt/stats.def. */
struct bt_stats {
#define BT_STAT(field, json, text) uint64_t field;
#include "bt/stats.def"
    uint64_t exits[BT_EXIT_KINDS]; /* by enum bt_exit */
};

/* groups.c: one shadow-TLB check for several accesses through the same
 * base (the plan of a block, then the checks before each instruction). */
#define BT_MAX_GROUPS 32
/* Blocks translated between two interrupts at CPL 3 past which the second
 * is no sample of warm user time (user windows, engine.c): 16 blocks are
 * ~0.1 ms of a 4 ms tick. */
#define BT_WIN_COLD_BLOCKS 16
struct bt_group {
    ZydisRegister base32;  /* guest base register (host name: R12D for ESP) */
    ZydisRegister index32; /* and index register (NONE for none), times scale */
    int scale;
    int slot;              /* addend slot the check fills (-1: compare with R14) */
    int first;             /* instruction before which the check runs */
    int32_t lo, hi;        /* byte range relative to the base's value there */
    int32_t dk;            /* ESP's move from the block's entry to first (0 for other bases) */
    bool wr;
    bool hoisted;          /* checked once before a loop, not at each turn (groups.c hoist) */
    int32_t step;          /* hoisted, base += step at each turn: the turn checks a window */
    int count;
};
struct bt_plan {
    struct bt_group g[BT_MAX_GROUPS];
    int ng;
    bool direct_mem[BT_MAX_BLOCK_INSNS];
    int8_t mem_slot[BT_MAX_BLOCK_INSNS];
    bool direct_stack[BT_MAX_BLOCK_INSNS];
    bool hoisted;          /* some group is (bt_group hoisted) */
};

/* Inline indirect-branch table entry: tag = -((key << 32) | eip) (the
 * linear EIP, in any key), host = the block's ientry; so that
 * emitted code can test a hit without touching flags (emit_ctrl.c). */
struct bt_ibtc_entry { uint64_t neg_tag; uint64_t host; };

/* What flag liveness needs of one instruction (translate.c: lookahead_live),
 * remembered by linear address and checked against its bytes. */
#define BT_LA_SIZE 4096
struct bt_la_entry {
    uint32_t lin;
    uint8_t mode, len, stop;  /* len 0: empty; stop: control, undefined or a callout */
    uint8_t bytes[15];
    uint32_t needed, killed;
};

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
    uint8_t *cache;        /* the executable view: what runs and what jumps name */
    ptrdiff_t cache_wr;    /* writable view - executable view (cache.c: never both at one address) */
    size_t cache_size, cache_used;
    uint32_t pred_used;    /* predicted-addend slots handed out (cache.c) */
    uint64_t *pred_since;  /* per slot: when its budget was last refilled (ns) */
    uint32_t pred_direct[1024]; /* EIP + 1 of sites that miss too often to predict */
    uint8_t *tramp_exit, *tramp_callout, *tramp_light; /* reachable by rel32 from any block */
    /* the same (enter.S), [1]: the _vb variant for shared blocks */
    uint8_t *tramp_mem_slow[2], *tramp_mem_done[2], *tramp_site[2], *tramp_exit_site[2], *tramp_tomb[2];
    uint8_t *tramp_cross[4];                           /* bt_cross2..16, by log2(size) - 1 */
    uint8_t *tramp_mem_callout;                        /* bt_mem_callout_tramp */
    uint8_t *tramp_exit_ra;                            /* bt_exit_ra_tramp */
    uint8_t *tramp_refill;                             /* bt_refill_tramp */
    /* Exits found by return address lately (engine.c exit_by_ra); emptied
     * with the cache. */
    struct { const uint8_t *ra; const struct bt_co_site *rec; bool shared; } exit_memo[1024];
    /* Memory access sites by the return address of their stub call: the
     * EIP (relative to vbase where shared) (runtime.c bt_mem_slow). */
    struct { const uint8_t *ra; uint32_t eip; bool shared; } site_memo[1024];
    /* The memory access stubs (emit_memstub.c), built after every flush:
     * [user][read, write, both][log2 size]; done by instruction length
     * (0: the write is not the instruction's last act). */
    uint8_t *memstub[2][3][5], *memstub_done[16];
    bool stubs_ready;      /* the shared stubs are built (translate.c) */
    uint8_t *sregstub[3][CPU_NSEG]; /* ES, DS, FS, GS loads (emit_sreg.c): MOV; POP 16, 32-bit */
    uint8_t *iretstub[2];  /* IRET to CPL 3: CS and SS against iret_memo (emit_sreg.c) */
    /* block lookup */
    struct bt_block **hash;
    uint32_t hash_mask;
    struct bt_block **page_blocks; /* per guest-physical page lists */
    /* Per guest-physical page: 0, the linear page number + 1 user code on
     * it was first translated at, or BT_PAGE_SHARED once it ran at a second
     * one (its user blocks are then translated shared, bt_key_shared). */
    uint32_t *page_lin;
    uint64_t npages;
    struct bt_block *blocks_pool; /* bump-allocated block records */
    size_t pool_used, pool_cap;
    /* What blocks own beside their code (map arrays, callout records),
     * bump-allocated and freed all at once with the cache (cache.c). */
    struct bt_arena_chunk *arena;
    size_t arena_used, arena_cap;
    struct bt_emit em;
    struct bt_la_entry la[BT_LA_SIZE];
    /* The kernel view (shadowmmu/kview.c) at BT_KV_BASE, NULL: none.
     * Kernel reads outside groups go through it unchecked (emit_mem.c);
     * sites it refused, or that fault too often, are translated checked
     * (runtime.c, bt_kv_checked). */
    uint8_t *kview;
    struct bt_kv_site *kv_sites;
    bool kv_full; /* kv_sites had no room: every unknown site is checked */
    /* translate.c's per-block scratch (one block is translated at a time) */
    struct dec_insn insns[BT_MAX_BLOCK_INSNS];
    uint32_t live_in[BT_MAX_BLOCK_INSNS]; /* arithmetic flags live before each */
    uint32_t live_out[BT_MAX_BLOCK_INSNS]; /* and after each */
    uint8_t kinds[BT_MAX_BLOCK_INSNS];   /* bt_emit_kind of each */
    uint32_t live_in0[BT_MAX_BLOCK_INSNS], live_out0[BT_MAX_BLOCK_INSNS]; /* the same, successors needing none */
    struct bt_plan plan;
    struct bt_stats st;
    uint64_t translate_tsc;  /* host TSC ticks spent translating (st.translate_ns when printed) */
    bool trace;
    bool oom;                /* a host allocation failed (translation): flush and retry, else stop */
    ZydisDecoder host_decoder; /* host code, for mapping a SIGFPE to the guest */
    void *perfmap;           /* FILE * of /tmp/perf-<pid>.map (BTVM_PERFMAP=1), or NULL */
    uint64_t win_blocks;     /* st.blocks at the last interrupt taken at CPL 3 (user windows) */
    bool invalidated;        /* a guest write just invalidated translations */
    int deferred_delivery;   /* a callout's failed delivery (enum cpu_delivery) for the dispatcher */
    bool count;              /* --stats: emitted code counts indirect hits */
    uint64_t *callout_counts; /* per Zydis mnemonic, with --stats */
    /* Adaptive translation: guest EIPs of stores that keep hitting traced
     * page tables (runtime.c counts, translate.c emits a direct callout).
     * Once adapted, traced/plain count what the callout's stores hit; a
     * site that mostly writes ordinary memory (a shared helper such as
     * spin_unlock) goes back inline for good (never). */
    struct { uint32_t eip, hits, traced, plain; bool never; } adapt[1024];
    /* SAFE translations split again for a new ESP (engine.c), by EIP. */
    struct { uint32_t eip, n; } resplit[256];
    /* Access sites that read the direct device page (the local APIC's
     * register page, docs/shadowmmu.md §13): key EIP + 1 and the reads
     * counted; translate.c's emitters ask bt_devsite(). */
    struct { uint32_t eip1, hits; } devsite[256];
};

/*
 * The engine's per-vcpu state. It ends right before struct cpu in the
 * engine's mapping (engine.c), so emitted code reaches its hot fields at
 * negative offsets from R15 (bt/offsets.h BT_OFF_*) and C code gets it from
 * the struct cpu pointer a callout receives (bt_vcpu_of). struct cpu itself
 * holds guest-visible state only.
 */
/* A segment descriptor loaded lately (emit_sreg.c): while the GDT (base
 * and limit) and the CPL are the same and the descriptor there still reads
 * as these bytes, loading its selector gives this state again. */
struct bt_sreg_memo {
    uint64_t raw;          /* the descriptor (accessed bit set) */
    uint32_t gdt_base;
    uint16_t sel;          /* 0: empty */
    uint8_t cpl, pad;
    uint32_t lo, hi, wlo, whi; /* struct cpu's seg_lo... for it */
    struct cpu_segment seg;
    uint16_t gdt_limit;
    uint8_t pad2[14];
};
#define BT_SREG_MEMOS 16

struct bt_vcpu {
    /* A hoisted loop's moving groups (translate.c): the lowest base value
     * for which the group's range stays on the page its check passed.
     * (First, 128 bytes: what follows keeps its offsets.) */
    uint32_t loop_win[BT_MAX_GROUPS];
    /* IRET back to CPL 3 (emit_iret.c): CS and SS as the last such IRET's
     * callout loaded them (runtime.c), and the image read off the stack.
     * First: what follows keeps its offsets from struct cpu. */
    struct bt_sreg_memo iret_memo[2];
    uint32_t iret_tmp[16];  /* CS, SS, ESP, EFLAGS of the image (a 64-byte line: what follows keeps its alignment) */
    struct bt_sreg_memo sreg_memo[BT_SREG_MEMOS]; /* by (selector >> 3) % 16 (first: the offsets below are fixed) */
    struct bt *bt;
    uint32_t bounce_lin, bounce_size; /* the bounced access bt_mem_done writes back */
    /* Inline interrupt polls (emit_vif.c) store 1 through poll_target[INTR]:
     * to async_pending when an interrupt waits, else to poll_sink. A store
     * of 1, never a read-modify-write of async_pending, so a kick from
     * another thread cannot be overwritten. */
    uint64_t poll_target[2];
    uint32_t poll_sink;
    uint64_t mem_ra;        /* a memory access stub's return address: which site (emit_memstub.c) */
    /* BT_KEY_UWIN << 32 while the active address space has a user window,
     * else 0 (the shadow MMU keeps it): what IRET and SYSEXIT to CPL 3 add
     * to the key they look their target up with (emit_ctrl.c). */
    uint64_t ukey_hi;
    uint8_t bounce[512 + 64] __attribute__((aligned(64))); /* MMIO / page-crossing bounce */
    /* --- hot: BT_OFF_* from R15 --- */
    uint32_t exit_reason;   /* why the code cache returned to C (enum bt_exit) */
    uint32_t vbase;         /* the running block's EIP base (bt_key_shared; 0 otherwise) */
    uint32_t arg0;          /* callout immediate operand */
    uint32_t arg1;          /* callout linear address */
    uint32_t mem_bounce;    /* slow memory path used the bounce buffer */
    uint32_t keep;          /* an indirect CALL's target across its push (emit_ctrl.c) */
    uint64_t mem_addend;    /* slow memory path result: host = linear + addend */
    uint64_t host_rsp;      /* host stack pointer at bt_enter */
    uint64_t exit_site;     /* host address of a patchable jump, 0 if none */
    const void *co_insn;    /* decoded instruction the current callout serves */
    uint32_t ones;          /* 0xFFFFFFFF: what a shared block's inline cache reads instead of
                             * vbase once it compares an absolute EIP (emit_ctrl.c) */
    /* Set by every C call out of translated code (enter.S); a hoisted
     * loop (translate.c) clears it where its checks run and tests it at
     * each turn: C may have dropped what they checked. */
    uint32_t loop_dirty;
    struct cpu cpu __attribute__((aligned(64)));
};

static inline struct bt_vcpu *bt_vcpu_of(struct cpu *c)
{
    return (struct bt_vcpu *)((uint8_t *)c - offsetof(struct bt_vcpu, cpu));
}

/* An EIP a block recorded (b->eip, map_eip[]) as of this run. A shared
 * block records those of its first run, relative to vbase0, and runs at
 * vbase; a plain block's are absolute — and vbase is stale while plain
 * blocks run (a RET from a shared block leaves it set). */
static inline uint32_t bt_run_eip(const struct bt_vcpu *vc, const struct bt_block *b, uint32_t eip)
{
    return bt_key_shared(b->key) ? eip - b->vbase0 + vc->vbase : eip;
}

/* engine.c: the max most frequent callout kinds (by count, descending)
 * into idx; how many. */
int bt_top_callouts(const struct bt *bt, int *idx, int max);

/* blocks.c */
uint32_t bt_mode_key(const struct cpu *c);
struct bt_block *bt_lookup(struct bt *bt, uint32_t eip, uint32_t key, uint32_t cs_base,
                           uint64_t ppage);
struct bt_block *bt_block_alloc(struct bt *bt);
uint32_t bt_share_key(struct bt *bt, uint32_t key, uint32_t lin, uint64_t ppage);
/* From now on, user code on this guest-physical page is translated shared. */
void bt_share_page(struct bt *bt, uint64_t ppage);
void bt_insert(struct bt *bt, struct bt_block *blk);
void bt_invalidate_phys(struct bt *bt, uint64_t phys, unsigned len);
struct bt_block *bt_block_for_host(struct bt *bt, const uint8_t *host_pc);
/* The block whose code holds host_pc, live or tombstoned (NULL: none). */
struct bt_block *bt_block_containing(struct bt *bt, const uint8_t *host_pc);
/* Kill one block (its entry leads to the dispatcher from now on). */
void bt_block_kill(struct bt *bt, struct bt_block *b);
/* The guest instruction (index) whose host code, main or out of line,
 * holds host_pc in block b. */
int bt_block_insn_at(const struct bt_block *b, const uint8_t *host_pc);

/* runtime.c: see bt/runtime.h. */

/* enter.S */
uint32_t bt_enter(struct cpu *c, void *host_code, void *fast_addend);
void bt_exit_tramp(void);
void bt_callout_tramp(void);
void bt_mem_callout_tramp(void);
void bt_exit_ra_tramp(void);
void bt_refill_tramp(void);
void bt_light_tramp(void);
void bt_mem_slow_tramp(void);
void bt_mem_done_tramp(void);
void bt_site_tramp(void);
void bt_exit_site_tramp(void);
void bt_tomb_tramp(void);
void bt_mem_slow_tramp_vb(void);
void bt_mem_done_tramp_vb(void);
void bt_site_tramp_vb(void);
void bt_exit_site_tramp_vb(void);
void bt_tomb_tramp_vb(void);
void bt_cross2(void);
void bt_cross4(void);
void bt_cross8(void);
void bt_cross16(void);

/* cache.c */
/* 0 or -errno (the caller reports it). */
int bt_cache_init(struct bt *bt, size_t size);
void bt_cache_destroy(struct bt *bt);
/* The writable alias of a code-cache address: every store into translated
 * code goes through it (the executable view is read-only). */
static inline void *bt_cw(const struct bt *bt, const void *x) { return (uint8_t *)(uintptr_t)x + bt->cache_wr; }
void bt_cache_flush(struct bt *bt);
void bt_ibtc_reset(struct bt *bt);
uint8_t *bt_cache_alloc(struct bt *bt, size_t len); /* NULL when full */
/* The emitter's code copied into the cache (NULL: failed or full). */
uint8_t *bt_cache_place(struct bt *bt, struct bt_emit *e);
/* Zeroed memory that lives until the next flush, 16-byte aligned; NULL
 * when the host has none. */
void *bt_arena_alloc(struct bt *bt, size_t len);
void bt_arena_free(struct bt *bt);
/* A fresh predicted-addend slot for the access site at eip (its offset
 * from R15), or -1: none left until the next flush, or the site misses too
 * often to predict (runtime.c). */
int32_t bt_pred_alloc(struct bt *bt, uint32_t eip);

/* translate.c */
struct bt_block *bt_translate(struct bt *bt, uint32_t eip, uint32_t key);

/* xlatbench.c: BTVM_XLAT_BENCH=N, when the VM ends */
void bt_xlat_bench(struct bt *bt, int rounds, FILE *out);

/* trace.c */
void bt_trace_block(struct bt *bt, const struct bt_block *blk, const struct dec_insn *insns, int n);

#endif
