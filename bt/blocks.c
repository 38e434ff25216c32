/*
 * bt/blocks.c — block records and the directory that finds them.
 *
 * Blocks are found by (guest EIP, mode key, CS base) in a hash table, or
 * for user-mode flat code by (guest-physical address, mode key) so that
 * one translation serves every linear address the code is mapped at
 * (bt_key_shared), and
 * are also listed per guest-physical page, so a write to a code page can
 * drop them (their entries become jumps to a "stale" stub: tombstones).
 * Why a file of its own, below everything but encoding: the run-time
 * entry points (runtime.c) look blocks up and invalidate them while guest
 * code runs, and block formation inserts them; neither may depend on the
 * other through this file. The mode key (bt_mode_key) is here because it
 * is half of what a lookup matches.
 */
#include "bt/bt.h"

#include <stdlib.h>
#include <string.h>

uint32_t bt_mode_key(const struct cpu *c)
{
    uint32_t k = c->cpl & BT_KEY_CPL;
    if (c->segs[CPU_CS].flags & CPU_SEGF_DB)
        k |= BT_KEY_CODE32;
    if (cpu_segs_nonflat(c))
        k |= BT_KEY_NONFLAT;
    if (c->cr0 & (CPU_CR0_TS | CPU_CR0_EM))
        k |= BT_KEY_NOFPU;
    /* The stack size follows SS.B in every mode (real mode keeps the
     * hidden B bit as it keeps the limit; v8086 segments have B = 0). */
    if (!(c->segs[CPU_SS].flags & CPU_SEGF_DB))
        k |= BT_KEY_STACK16;
    if (!(c->cr0 & CPU_CR0_PE))
        k |= BT_KEY_REAL;
    else if (c->eflags & CPU_FL_VM)
        k |= BT_KEY_V86;
    if ((c->cr0 & (CPU_CR0_PG | CPU_CR0_PE)) == (CPU_CR0_PG | CPU_CR0_PE))
        k |= BT_KEY_PG;
    if ((k & (BT_KEY_PG | BT_KEY_CPL)) == (BT_KEY_PG | 3u) && c->mmu && smmu_window_on(c->mmu))
        k |= BT_KEY_UWIN;
    return k;
}

static inline uint32_t hash(uint64_t lpc, uint32_t key)
{
    return ((uint32_t)lpc * 0x9E3779B1u) ^ ((uint32_t)(lpc >> 32) * 0xC2B2AE35u) ^ (key * 0x85EBCA6Bu);
}

/* What a block at linear cs_base + eip, code page ppage, is found by. */
static inline uint64_t lookup_pc(uint32_t eip, uint32_t key, uint32_t cs_base, uint64_t ppage)
{
    return bt_key_shared(key) ? (ppage << 12) | ((cs_base + eip) & 0xFFFu) : eip;
}

/* ppage: the guest-physical page EIP's code is on now. A block whose last
 * instruction crosses into the next page also needs that page to be the
 * one it was translated from. */
struct bt_block *bt_lookup(struct bt *bt, uint32_t eip, uint32_t key, uint32_t cs_base,
                           uint64_t ppage)
{
    if (bt_key_shareable(key) && ppage < bt->npages && bt->page_lin[ppage] == BT_PAGE_SHARED)
        key |= BT_KEY_VSHARED;
    uint64_t lpc = lookup_pc(eip, key, cs_base, ppage);
    for (struct bt_block *b = bt->hash[(hash(lpc, key) >> 16) & bt->hash_mask]; b; b = b->hnext) {
        if (b->lpc != lpc || b->key != key || b->cs_base != cs_base || !b->valid ||
            b->phys_page != ppage)
            continue;
        if (b->phys_page2 != b->phys_page &&
            smmu_exec_page(&bt->mmu, ((cs_base + eip) | 0xFFFu) + 1) != (int64_t)b->phys_page2)
            continue;
        return b;
    }
    return NULL;
}

/* The key a new translation of user code at linear lin (on guest-physical
 * page ppage) gets: shared once the page has run at a second linear page,
 * or at once high in the address space (BT_SHARE_FROM), where systems put
 * shared libraries and the vDSO (docs/translation.md §8b). */
uint32_t bt_share_key(struct bt *bt, uint32_t key, uint32_t lin, uint64_t ppage)
{
    if (!bt_key_shareable(key) || ppage >= bt->npages)
        return key;
    uint32_t *pl = &bt->page_lin[ppage];
    if (lin >= BT_SHARE_FROM)
        bt_share_page(bt, ppage);
    else if (*pl == 0)
        *pl = (lin >> 12) + 1;
    else if (*pl != (lin >> 12) + 1)
        bt_share_page(bt, ppage);
    return *pl == BT_PAGE_SHARED ? key | BT_KEY_VSHARED : key;
}

void bt_share_page(struct bt *bt, uint64_t ppage)
{
    if (ppage < bt->npages && bt->page_lin[ppage] != BT_PAGE_SHARED) {
        bt->page_lin[ppage] = BT_PAGE_SHARED;
        bt->st.shared_pages++;
    }
}

struct bt_block *bt_block_alloc(struct bt *bt)
{
    if (bt->pool_used >= bt->pool_cap)
        return NULL;
    struct bt_block *b = &bt->blocks_pool[bt->pool_used++];
    memset(b, 0, sizeof(*b));
    return b;
}

void bt_insert(struct bt *bt, struct bt_block *blk)
{
    blk->lpc = lookup_pc(blk->eip, blk->key, blk->cs_base, blk->phys_page);
    uint32_t h = (hash(blk->lpc, blk->key) >> 16) & bt->hash_mask;
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
void bt_block_kill(struct bt *bt, struct bt_block *b)
{
    if (!b->valid)
        return;
    b->valid = false;
    /* Out of the lookup hash, so dead blocks do not lengthen its chains. */
    for (struct bt_block **l = &bt->hash[(hash(b->lpc, b->key) >> 16) & bt->hash_mask]; *l; l = &(*l)->hnext)
        if (*l == b) {
            *l = b->hnext;
            break;
        }
    uint8_t *stub = b->host + b->tomb_off;
    int32_t rel = (int32_t)(stub - (b->host + 5));
    uint8_t *w = bt_cw(bt, b->host);
    w[0] = 0xE9; /* jmp rel32 — the entry's first bytes hold no call return address */
    memcpy(w + 1, &rel, 4);
    if (b->fwd_off) {
        /* The forward entry (a compare of 8+ bytes, never a return
         * address) goes through the first, which the dispatcher re-points. */
        int32_t back = -(int32_t)(b->fwd_off + 5);
        w[b->fwd_off] = 0xE9;
        memcpy(w + b->fwd_off + 1, &back, 4);
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
                bt_block_kill(bt, b);
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

struct bt_block *bt_block_containing(struct bt *bt, const uint8_t *pc)
{
    /* The pool and the code cache are both bump-allocated and reset
     * together by a flush, and a failed translation gives its slot back,
     * so pool order is code order: the block holding pc is the last one
     * that starts at or below it. (A linear scan made every host fault in
     * translated code cost O(blocks): guests that fault often slowed down
     * the more code they had run.) */
    size_t lo = 0, hi = bt->pool_used;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (bt->blocks_pool[mid].code <= pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (!lo)
        return NULL;
    struct bt_block *b = &bt->blocks_pool[lo - 1];
    return pc < b->code + b->host_len ? b : NULL;
}

int bt_block_insn_at(const struct bt_block *b, const uint8_t *pc)
{
    uint32_t off = (uint32_t)(pc - b->code);
    int k = 0;
    if (off < b->main_len) {
        while (k + 1 < b->ninsn && b->map_host[k + 1] <= off)
            k++;
        return k;
    }
    off -= b->main_len;
    while (k + 1 < b->ninsn && b->map_ool[k + 1] <= off)
        k++;
    return k;
}

struct bt_block *bt_block_for_host(struct bt *bt, const uint8_t *pc)
{
    struct bt_block *b = bt_block_containing(bt, pc);
    return b && b->valid ? b : NULL;
}
