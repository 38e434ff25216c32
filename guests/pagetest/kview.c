/*
 * guests/pagetest/kview.c — CPL-0 reads of supervisor-only pages after
 * every kind of change to the entries behind them: a new frame, the A bit
 * cleared, R/W cleared, another page table, another directory, a 4 MiB
 * page, a write through the page itself, the page made not present. On
 * hardware these are plain TLB rules (SDM vol. 3 4.10); btvm translates
 * such reads through a host view of the guest's kernel mappings
 * (docs/shadowmmu.md §16), which must follow the tables exactly. Each
 * reader is one noinline function, so one translated read site sees a
 * whole sequence of changes; a reader that faults or reads a user page is
 * used last (btvm then translates that site checked).
 */
#include "pagetest.h"

#define KV_READER(name)                                                          \
    static uint32_t __attribute__((noinline)) name(uint32_t va)                  \
    {                                                                            \
        uint32_t v = 0xdeadbeefu;                                                \
        __asm__ volatile(ARM "1:\tmovl (%1), %0\n2:" : "+r"(v) : "r"(va) : "memory"); \
        t_resume = 0;                                                            \
        return v;                                                                \
    }
KV_READER(kv_read)
KV_READER(kv_read_dir)
KV_READER(kv_read_last)

/* A pop from va (ESP moved there and back: pagetest runs with IF = 0). */
static uint32_t __attribute__((noinline)) kv_pop(uint32_t va)
{
    uint32_t v, saved;
    __asm__ volatile("movl %%esp, %1\n\tmovl %2, %%esp\n\tpopl %0\n\tmovl %1, %%esp"
                     : "=&r"(v), "=&r"(saved) : "r"(va) : "memory");
    return v;
}

static uint32_t __attribute__((noinline)) kv_one(void) { return 0x600du; }
static uint32_t __attribute__((noinline)) kv_two(void) { return 0xf00du; }

/* An indirect call through the pointer at va. */
static uint32_t __attribute__((noinline)) kv_call(uint32_t va)
{
    uint32_t v;
    __asm__ volatile("call *(%1)" : "=a"(v) : "r"(va) : "ecx", "edx", "memory");
    return v;
}

/* PUSH of the word at va, then POP into a register. */
static uint32_t __attribute__((noinline)) kv_push(uint32_t va)
{
    uint32_t v;
    __asm__ volatile("pushl (%1)\n\tpopl %0" : "=r"(v) : "r"(va) : "memory");
    return v;
}

static uint32_t tagged(uint32_t tag)
{
    uint32_t f = frame_alloc();
    frame_fill(f, tag);
    return f;
}

#define IDX(va) (((va) >> 12) & 0x3ffu)

void test_kview(void)
{
    uint32_t va = va_alloc_pde(), n0;
    uint32_t *pt = (uint32_t *)(uintptr_t)frame_alloc(), *pt2 = (uint32_t *)(uintptr_t)frame_alloc();
    uint32_t fa = tagged(0xa0000000u), fb = tagged(0xb0000000u), fc = tagged(0xc0000000u);
    uint32_t fd = tagged(0xd0000000u);
    uint32_t *pde = &kpd[va >> 22], *pte = &pt[IDX(va)];
    uint32_t cr4 = get_cr4();
    begin("kview");
    pt[IDX(va)] = fa | PG_P | PG_W;
    pt[IDX(va + PAGE)] = fb | PG_P | PG_W;
    *pde = (uint32_t)(uintptr_t)pt | PG_P | PG_W; /* supervisor-only */
    flush_tlb();

    expect("first frame", 0xa0000000u, kv_read(va));
    expect("the read set the PTE's A bit", PG_A, *pte & PG_A);
    expect("the read set the PDE's A bit", PG_A, *pde & PG_A);
    expect("the next page, never read before", 0xb0000001u, kv_read(va + PAGE + 4));
    expect("its A bit", PG_A, pt[IDX(va + PAGE)] & PG_A);

    *pte = fc | PG_P | PG_W;
    invlpg(va);
    expect("new frame after INVLPG", 0xc0000002u, kv_read(va + 8));
    expect("A set by that read", PG_A, *pte & PG_A);
    *pte = fc | PG_P | PG_W;             /* A cleared */
    invlpg(va);
    expect("same frame with A cleared", 0xc0000003u, kv_read(va + 12));
    expect("A set again by the next read", PG_A, *pte & PG_A);
    *pte = fc | PG_P | PG_A | PG_D;      /* R/W cleared: reads unchanged */
    invlpg(va);
    expect("read-only now, still readable", 0xc0000004u, kv_read(va + 16));

    /* A write through the page: the next read sees it. */
    *pte = fc | PG_P | PG_W | PG_A;
    invlpg(va);
    poke(va + 20, 0x5eed0001u);
    expect("a store through the mapping, read back", 0x5eed0001u, kv_read(va + 20));
    expect("the frame holds it", 0x5eed0001u, peek(fc + 20));

    /* Another page table for the region, then another directory. */
    pt2[IDX(va)] = fd | PG_P | PG_W;
    *pde = (uint32_t)(uintptr_t)pt2 | PG_P | PG_W;
    flush_tlb();
    expect("another page table", 0xd0000006u, kv_read_dir(va + 24));
    uint32_t *pd2 = new_pd();
    pd2[va >> 22] = (uint32_t)(uintptr_t)pt | PG_P | PG_W;
    set_cr3((uint32_t)(uintptr_t)pd2);
    expect("another directory, the first table", 0xc0000007u, kv_read_dir(va + 28));
    expect("the second directory's entry got A", PG_A, pd2[va >> 22] & PG_A);
    set_cr3((uint32_t)(uintptr_t)kpd);
    expect("the first directory again", 0xd0000008u, kv_read_dir(va + 32));

    /* A 4 MiB page (its frames are above the identity map: written
     * through the mapping itself), then the page table back. */
    set_cr4(cr4 | CR4_PSE);
    *pde = BIG4M_PHYS | PG_P | PG_W | PG_PS;
    flush_tlb();
    poke(va + 0x3ff000u, 0x4a4a0001u);
    expect("a 4 MiB page", 0x4a4a0001u, kv_read_dir(va + 0x3ff000u));
    *pde = (uint32_t)(uintptr_t)pt2 | PG_P | PG_W;
    flush_tlb();
    expect("the page table again", 0xd0000009u, kv_read_dir(va + 36));
    set_cr4(cr4);

    /* Pops, PUSH r/m and an indirect call read it too (btvm: through the
     * view as well, each the instruction's first effect). */
    uint32_t va2 = va + 2 * PAGE, fe = tagged(0xe0000000u), ff = tagged(0xf0000000u);
    poke(fe + 8, (uint32_t)(uintptr_t)kv_one);
    poke(ff + 8, (uint32_t)(uintptr_t)kv_two);
    pt2[IDX(va2)] = fe | PG_P | PG_W;
    invlpg(va2);
    expect("a pop", 0xe0000001u, kv_pop(va2 + 4));
    expect("PUSH r/m", 0xe0000003u, kv_push(va2 + 12));
    expect("an indirect call", 0x600du, kv_call(va2 + 8));
    pt2[IDX(va2)] = ff | PG_P | PG_W;
    invlpg(va2);
    expect("a pop, another frame", 0xf0000001u, kv_pop(va2 + 4));
    expect("PUSH r/m, another frame", 0xf0000003u, kv_push(va2 + 12));
    expect("an indirect call, another frame", 0xf00du, kv_call(va2 + 8));

    /* Not present: the read faults. */
    pt2[IDX(va)] = 0;
    invlpg(va);
    n0 = last.count;
    kv_read_last(va + 40);
    expect_pf("read of a page made not present", n0, 0, va + 40, t_fip);
    /* A user page is readable at CPL 0 (no SMAP). */
    pt2[IDX(va)] = fd | PG_P | PG_W | PG_U;
    *pde = (uint32_t)(uintptr_t)pt2 | PG_P | PG_W | PG_U;
    flush_tlb();
    expect("a user page read at CPL 0", 0xd000000bu, kv_read_last(va + 44));
    *pde = 0;
    flush_tlb();
    end();
}
