/*
 * bt/cache.c — the code cache: its memory, trampolines and flush.
 *
 * One region, bump-allocated; when it is full everything is
 * flushed (blocks, chains, the inline indirect-branch table) and execution
 * continues — translations are cheap to redo. Also the predicted-addend
 * slots, which live as long as the cache. The block directory (lookup,
 * invalidation) is blocks.c, below the run-time code; this file is above
 * it (the trampolines lead into bt/enter.S) and below the emitters, which
 * take predicted-addend slots, and block formation, which allocates code
 * and flushes.
 *
 * The region is shared memory mapped twice: read+execute where code runs, and
 * read+write at another address where the translator writes (W^X, QEMU's
 * split-wx). No host page is ever writable and executable at once, so a
 * bug in a guest-address check cannot become host code injection.
 * docs/translation.md, "The code cache's two views".
 */
#include "bt/bt.h"
#include "bt/offsets.h"
#include "bt/runtime.h"

#include <stddef.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "vm/vm.h"

#define POOL_BLOCKS (1u << 18)

/* enter.S masks the host RFLAGS with the plain number. */
_Static_assert(BT_HOSTLIVE_FLAGS == CPU_FL_HOSTLIVE, "BT_HOSTLIVE_FLAGS (bt/offsets.h) is not CPU_FL_HOSTLIVE");

/* Trampolines at the start of the cache so blocks reach them by rel32:
 * jmp qword ptr [rip+0] followed by the absolute address. */
static uint8_t *emit_tramp(struct bt *bt, uint8_t *at, void (*target)(void))
{
    struct bt_emit *e = &bt->em;
    bt_emit_reset(e);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_JMP, 1, bt_m(ZYDIS_REGISTER_RIP, ZYDIS_REGISTER_NONE, 0, 0, 8));
    uint8_t *w = bt_cw(bt, at);
    memcpy(w, e->buf[BT_MAIN], e->len[BT_MAIN]);
    uint64_t a = (uint64_t)(uintptr_t)target;
    memcpy(w + e->len[BT_MAIN], &a, 8);
    return at + 16;
}

static void reset_region(struct bt *bt)
{
    uint8_t *p = bt->cache;
    struct { uint8_t **slot; void (*fn)(void); } t[] = {
        { &bt->tramp_exit, bt_exit_tramp },         { &bt->tramp_callout, bt_callout_tramp },
        { &bt->tramp_light, bt_light_tramp },
        { &bt->tramp_mem_slow[0], bt_mem_slow_tramp }, { &bt->tramp_mem_slow[1], bt_mem_slow_tramp_vb },
        { &bt->tramp_mem_done[0], bt_mem_done_tramp }, { &bt->tramp_mem_done[1], bt_mem_done_tramp_vb },
        { &bt->tramp_site[0], bt_site_tramp },         { &bt->tramp_site[1], bt_site_tramp_vb },
        { &bt->tramp_exit_site[0], bt_exit_site_tramp }, { &bt->tramp_exit_site[1], bt_exit_site_tramp_vb },
        { &bt->tramp_tomb[0], bt_tomb_tramp },         { &bt->tramp_tomb[1], bt_tomb_tramp_vb },
        { &bt->tramp_cross[0], bt_cross2 },         { &bt->tramp_cross[1], bt_cross4 },
        { &bt->tramp_cross[2], bt_cross8 },         { &bt->tramp_cross[3], bt_cross16 },
        { &bt->tramp_mem_callout, bt_mem_callout_tramp },
        { &bt->tramp_exit_ra, bt_exit_ra_tramp },
        { &bt->tramp_refill, bt_refill_tramp },
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        *t[i].slot = p;
        p = emit_tramp(bt, p, t[i].fn);
    }
    bt->cache_used = (size_t)(p - bt->cache);
    bt->pred_used = 0;
    bt->stubs_ready = false; /* translate.c builds them again */
    memset(bt->exit_memo, 0, sizeof(bt->exit_memo));
    memset(bt->site_memo, 0, sizeof(bt->site_memo));
}

int32_t bt_pred_alloc(struct bt *bt, uint32_t eip)
{
    if (bt->pred_used >= BT_PRED_SLOTS || bt_pred_is_direct(bt, eip))
        return -1;
    uint32_t i = bt->pred_used++;
    uint64_t *slot = (uint64_t *)(bt->region + BT_PRED_OFF + 16u * i);
    slot[0] = BT_PRED_NONE;
    slot[1] = BT_PRED_BUDGET;
    bt->pred_since[i] = 0;
    bt->st.pred_sites++;
    return (int32_t)(BT_PRED_OFF + 16u * i);
}

int bt_cache_init(struct bt *bt, size_t size)
{
    if (size < 16 * 1024)
        size = 16 * 1024;
    size = (size + 4095) & ~(size_t)4095;
    /* Shared anonymous memory, mapped a second time by mremap(old size 0):
     * unlike a memfd it still reads as anonymous ("/dev/zero"), so perf
     * resolves BTVM_PERFMAP's names in it. */
    bt->cache = mmap(NULL, size, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (bt->cache == MAP_FAILED) {
        bt->cache = NULL;
        return -errno;
    }
    uint8_t *wr = mremap(bt->cache, 0, size, MREMAP_MAYMOVE);
    if (wr == MAP_FAILED || mprotect(wr, size, PROT_READ | PROT_WRITE) != 0) {
        int r = -errno;
        if (wr != MAP_FAILED)
            munmap(wr, size);
        munmap(bt->cache, size);
        bt->cache = NULL;
        return r;
    }
    bt->cache_wr = wr - bt->cache;
    bt->cache_size = size;
    bt->hash_mask = (1u << 16) - 1;
    bt->hash = calloc(bt->hash_mask + 1, sizeof(*bt->hash));
    bt->npages = bt->vm->ram_size >> 12;
    bt->page_blocks = calloc(bt->npages + 1, sizeof(*bt->page_blocks));
    bt->page_lin = calloc(bt->npages + 1, sizeof(*bt->page_lin));
    bt->pool_cap = POOL_BLOCKS;
    bt->blocks_pool = calloc(bt->pool_cap, sizeof(struct bt_block));
    bt->pred_since = calloc(BT_PRED_SLOTS, sizeof(*bt->pred_since));
    if (!bt->hash || !bt->page_blocks || !bt->page_lin || !bt->blocks_pool || !bt->pred_since)
        return -ENOMEM;
    reset_region(bt);
    return 0;
}

/* Empty entries must never match: tag 0 would (it is key 0, EIP 0). */
void bt_ibtc_reset(struct bt *bt)
{
    for (uint32_t i = 0; i < BT_IBTC_ENTRIES; i++) {
        bt->ibtc[i].neg_tag = 1;
        bt->ibtc[i].host = 0;
    }
}

struct bt_arena_chunk {
    struct bt_arena_chunk *next;
    size_t cap;
    max_align_t data[];
};

#define BT_ARENA_CHUNK (256u << 10)

/* malloc per block record was costly: callout records (over 1 KiB, with
 * their decoded instruction) made glibc consolidate its fast bins on every
 * one. */
void *bt_arena_alloc(struct bt *bt, size_t len)
{
    len = (len + 15) & ~(size_t)15;
    if (!bt->arena || bt->arena_used + len > bt->arena_cap) {
        size_t cap = len > BT_ARENA_CHUNK ? len : BT_ARENA_CHUNK;
        struct bt_arena_chunk *c = malloc(sizeof(*c) + cap);
        if (!c)
            return NULL;
        c->next = bt->arena;
        c->cap = cap;
        bt->arena = c;
        bt->arena_used = 0;
        bt->arena_cap = cap;
    }
    void *p = (uint8_t *)bt->arena->data + bt->arena_used;
    bt->arena_used += len;
    memset(p, 0, len);
    return p;
}

void bt_arena_free(struct bt *bt)
{
    while (bt->arena) {
        struct bt_arena_chunk *n = bt->arena->next;
        free(bt->arena);
        bt->arena = n;
    }
    bt->arena_used = bt->arena_cap = 0;
}

void bt_cache_destroy(struct bt *bt)
{
    if (!bt->cache)
        return;
    munmap(bt->cache + bt->cache_wr, bt->cache_size);
    munmap(bt->cache, bt->cache_size);
    bt->cache = NULL;
}

void bt_cache_flush(struct bt *bt)
{
    bt_arena_free(bt);
    bt->pool_used = 0;
    memset(bt->hash, 0, (bt->hash_mask + 1) * sizeof(*bt->hash));
    memset(bt->page_blocks, 0, (bt->npages + 1) * sizeof(*bt->page_blocks));
    bt_ibtc_reset(bt);
    for (uint64_t p = 0; p < bt->npages; p++)
        smmu_unmark_code(&bt->mmu, p);
    reset_region(bt);
    bt->st.flushes++;
}

uint8_t *bt_cache_place(struct bt *bt, struct bt_emit *e)
{
    uint8_t *host = e->failed ? NULL : bt_cache_alloc(bt, bt_emit_size(e));
    if (host)
        bt_emit_place(e, host, bt->cache_wr);
    return host;
}

uint8_t *bt_cache_alloc(struct bt *bt, size_t len)
{
    size_t at = (bt->cache_used + 31) & ~(size_t)31;
    if (at + len > bt->cache_size)
        return NULL;
    bt->cache_used = at + len;
    return bt->cache + at;
}
