/*
 * bt/cache.c — the code cache and the block directory.
 *
 * One executable region, bump-allocated; when it is full everything is
 * flushed (blocks, chains, the inline indirect-branch table) and execution
 * continues — translations are cheap to redo. Blocks are found by
 * (guest EIP, mode key) in a hash table and are also listed per
 * guest-physical page so a write to a code page can drop them.
 */
#include "bt/bt.h"
#include "bt/offsets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "vm/vm.h"

#define POOL_BLOCKS (1u << 18)

/* Trampolines at the start of the cache so blocks reach them by rel32:
 * jmp qword ptr [rip+0] followed by the absolute address. */
static uint8_t *emit_tramp(struct bt *bt, uint8_t *at, void (*target)(void))
{
    struct bt_emit *e = &bt->em;
    bt_emit_reset(e);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_JMP, 1, bt_m(ZYDIS_REGISTER_RIP, ZYDIS_REGISTER_NONE, 0, 0, 8));
    memcpy(at, e->buf[BT_MAIN], e->len[BT_MAIN]);
    uint64_t a = (uint64_t)(uintptr_t)target;
    memcpy(at + e->len[BT_MAIN], &a, 8);
    return at + 16;
}

static void reset_region(struct bt *bt)
{
    uint8_t *p = bt->cache;
    bt->tramp_exit = p;
    p = emit_tramp(bt, p, bt_exit_tramp);
    bt->tramp_callout = p;
    p = emit_tramp(bt, p, bt_callout_tramp);
    bt->cache_used = (size_t)(p - bt->cache);
    bt->pred_used = 0;
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
    bt->cache = mmap(NULL, size, PROT_READ | PROT_WRITE | PROT_EXEC,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (bt->cache == MAP_FAILED) {
        perror("btvm: code cache mmap");
        return -1;
    }
    bt->cache_size = size;
    bt->hash_mask = (1u << 16) - 1;
    bt->hash = calloc(bt->hash_mask + 1, sizeof(*bt->hash));
    bt->npages = bt->vm->ram_size >> 12;
    bt->page_blocks = calloc(bt->npages + 1, sizeof(*bt->page_blocks));
    bt->pool_cap = POOL_BLOCKS;
    bt->blocks_pool = calloc(bt->pool_cap, sizeof(struct bt_block));
    bt->pred_since = calloc(BT_PRED_SLOTS, sizeof(*bt->pred_since));
    if (!bt->hash || !bt->page_blocks || !bt->blocks_pool || !bt->pred_since)
        return -1;
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

void bt_free_co_recs(struct bt_co_rec *r)
{
    while (r) {
        struct bt_co_rec *n = r->next;
        free(r);
        r = n;
    }
}

static void free_block_data(struct bt_block *b)
{
    free(b->map_host);
    free(b->map_eip);
    free(b->map_ool);
    b->map_ool = NULL;
    bt_free_co_recs(b->callout_insns);
    b->map_host = b->map_eip = NULL;
    b->callout_insns = NULL;
}

void bt_cache_flush(struct bt *bt)
{
    for (size_t i = 0; i < bt->pool_used; i++)
        free_block_data(&bt->blocks_pool[i]);
    bt->pool_used = 0;
    memset(bt->hash, 0, (bt->hash_mask + 1) * sizeof(*bt->hash));
    memset(bt->page_blocks, 0, (bt->npages + 1) * sizeof(*bt->page_blocks));
    bt_ibtc_reset(bt);
    for (uint64_t p = 0; p < bt->npages; p++)
        smmu_unmark_code(&bt->mmu, p);
    reset_region(bt);
    bt->st.flushes++;
}

static inline uint32_t hash(uint32_t eip, uint32_t key)
{
    return (eip * 0x9E3779B1u) ^ (key * 0x85EBCA6Bu);
}

/* ppage: the guest-physical page EIP's code is on now. A block whose last
 * instruction crosses into the next page also needs that page to be the
 * one it was translated from. */
struct bt_block *bt_lookup(struct bt *bt, uint32_t eip, uint32_t key, uint32_t cs_base,
                           uint64_t ppage)
{
    for (struct bt_block *b = bt->hash[(hash(eip, key) >> 16) & bt->hash_mask]; b; b = b->hnext) {
        if (b->eip != eip || b->key != key || b->cs_base != cs_base || !b->valid ||
            b->phys_page != ppage)
            continue;
        if (b->phys_page2 != b->phys_page &&
            smmu_exec_page(&bt->mmu, ((cs_base + eip) | 0xFFFu) + 1) != (int64_t)b->phys_page2)
            continue;
        return b;
    }
    return NULL;
}

struct bt_block *bt_block_alloc(struct bt *bt)
{
    if (bt->pool_used >= bt->pool_cap)
        return NULL;
    struct bt_block *b = &bt->blocks_pool[bt->pool_used++];
    memset(b, 0, sizeof(*b));
    return b;
}

uint8_t *bt_cache_alloc(struct bt *bt, size_t len)
{
    size_t at = (bt->cache_used + 31) & ~(size_t)31;
    if (at + len > bt->cache_size)
        return NULL;
    bt->cache_used = at + len;
    return bt->cache + at;
}

void bt_insert(struct bt *bt, struct bt_block *blk)
{
    uint32_t h = (hash(blk->eip, blk->key) >> 16) & bt->hash_mask;
    blk->hnext = bt->hash[h];
    bt->hash[h] = blk;
    blk->valid = true;
    if (blk->phys_page < bt->npages) {
        blk->pnext = bt->page_blocks[blk->phys_page];
        bt->page_blocks[blk->phys_page] = blk;
        smmu_mark_code(&bt->mmu, blk->phys_page);
    }
    if (blk->phys_page2 != blk->phys_page && blk->phys_page2 < bt->npages) {
        blk->pnext2 = bt->page_blocks[blk->phys_page2];
        bt->page_blocks[blk->phys_page2] = blk;
        smmu_mark_code(&bt->mmu, blk->phys_page2);
    }
}

/* Kill one block: its entry becomes a jump to its own "stale" stub, so
 * chained jumps and inline-table entries that still lead here fall back to
 * the dispatcher, which translates the new code. */
static void tombstone(struct bt *bt, struct bt_block *b)
{
    if (!b->valid)
        return;
    b->valid = false;
    /* Out of the lookup hash, so dead blocks do not lengthen its chains. */
    for (struct bt_block **l = &bt->hash[(hash(b->eip, b->key) >> 16) & bt->hash_mask]; *l; l = &(*l)->hnext)
        if (*l == b) {
            *l = b->hnext;
            break;
        }
    uint8_t *stub = b->host + b->tomb_off;
    int32_t rel = (int32_t)(stub - (b->host + 5));
    b->host[0] = 0xE9; /* jmp rel32 — the entry's first bytes hold no call return address */
    memcpy(b->host + 1, &rel, 4);
    if (b->fwd_off) {
        /* The forward entry (a compare of 8+ bytes, never a return
         * address) goes through the first, which the dispatcher re-points. */
        int32_t back = -(int32_t)(b->fwd_off + 5);
        b->host[b->fwd_off] = 0xE9;
        memcpy(b->host + b->fwd_off + 1, &back, 4);
    }
    bt->st.invalidations++;
}

/* A guest write to [phys, phys+len): drop the blocks translated from those
 * bytes. Other blocks on the page stay; the page stays traced while any
 * remain (its write entries stay empty, so writes keep coming here). */
void bt_invalidate_phys(struct bt *bt, uint64_t phys, unsigned len)
{
    for (uint64_t page = phys >> 12; page <= (phys + len - 1) >> 12; page++) {
        if (page >= bt->npages)
            continue;
        struct bt_block **link = &bt->page_blocks[page];
        while (*link) {
            struct bt_block *b = *link;
            struct bt_block **next = b->phys_page == page ? &b->pnext : &b->pnext2;
            /* The block's bytes on this page: from phys_lo on its first
             * page, up to phys_hi on its last (page2 coordinates if it
             * crosses). */
            uint64_t lo = page == b->phys_page ? b->phys_lo : page << 12;
            uint64_t hi = (page == b->phys_page && b->phys_page2 != b->phys_page)
                              ? (page + 1) << 12 : b->phys_hi;
            if (phys < hi && phys + len > lo) {
                tombstone(bt, b);
                bt->invalidated = true;
                *link = *next; /* unlink from this page's list */
            } else {
                link = next;
            }
        }
        if (!bt->page_blocks[page])
            smmu_unmark_code(&bt->mmu, page);
    }
}

struct bt_block *bt_block_for_host(struct bt *bt, const uint8_t *pc)
{
    for (size_t i = 0; i < bt->pool_used; i++) {
        struct bt_block *b = &bt->blocks_pool[i];
        if (b->valid && pc >= b->host && pc < b->host + b->host_len)
            return b;
    }
    return NULL;
}
