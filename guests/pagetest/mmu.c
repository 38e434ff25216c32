/*
 * guests/pagetest/mmu.c — pagetest's page-table helpers for 32-bit
 * (non-PAE) paging: a bump allocator of zeroed frames from POOL, a bump
 * allocator of test linear addresses (each test gets addresses nobody used
 * before, so no TLB entry from an earlier test can be involved), the
 * kernel directory that maps [0, IDENT_END) 1:1, and map/lookup.
 * Page tables are reached through the identity map.
 */
#include "pagetest.h"

uint32_t *kpd;
static uint32_t next_frame = POOL_BASE;
static uint32_t next_va = TEST_VA;

uint32_t frame_alloc(void)
{
    if (next_frame >= POOL_END) {
        gprintf("pagetest: out of page frames\n");
        guest_exit(102);
    }
    uint32_t pa = next_frame;
    next_frame += PAGE;
    memset((void *)(uintptr_t)pa, 0, PAGE);
    return pa;
}

void frame_fill(uint32_t pa, uint32_t tag)
{
    for (uint32_t i = 0; i < PAGE / 4; i++)
        poke(pa + 4 * i, tag + i);
}

/* A guard page after each range catches runaway accesses. */
uint32_t va_alloc(uint32_t pages)
{
    uint32_t va = next_va;
    next_va += (pages + 1) * PAGE;
    return va;
}

uint32_t va_alloc_pde(void)
{
    next_va = (next_va + 0x3fffff) & ~0x3fffffu;
    uint32_t va = next_va;
    next_va += 0x400000;
    return va;
}

uint32_t *new_pd(void)
{
    uint32_t *pd = (uint32_t *)(uintptr_t)frame_alloc();
    for (uint32_t i = 0; i < IDENT_END >> 22; i++)
        pd[i] = kpd[i];
    return pd;
}

uint32_t *pte_of(uint32_t *pd, uint32_t va)
{
    uint32_t *pde = &pd[va >> 22];
    if (!(*pde & PG_P))
        *pde = frame_alloc() | PG_P | PG_W | PG_U;
    return (uint32_t *)(uintptr_t)(*pde & PG_FRAME) + ((va >> 12) & 0x3ff);
}

void map(uint32_t *pd, uint32_t va, uint32_t pa, uint32_t flags)
{
    *pte_of(pd, va) = (pa & PG_FRAME) | flags;
    invlpg(va);
}

void paging_build_kernel(void)
{
    kpd = (uint32_t *)(uintptr_t)frame_alloc();
    for (uint32_t pa = 0; pa < IDENT_END; pa += PAGE)
        *pte_of(kpd, pa) = pa | PG_P | PG_W | PG_U;
}
