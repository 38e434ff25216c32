/*
 * guests/pagetest/tlb.c — the translation tests: turning paging on and
 * off, PTE changes and what INVLPG / CR3 / CR4.PGE guarantee afterwards
 * (SDM vol. 3 4.10: a stale translation MAY be used until invalidated,
 * never after), accessed and dirty bits, 16 address spaces on one linear
 * page, aliases of one frame, and page tables written through a second
 * mapping of themselves (an alias and the self-map in the last PDE).
 */
#include "pagetest.h"

static uint32_t tagged_frame(uint32_t tag)
{
    uint32_t f = frame_alloc();
    poke(f, tag);
    return f;
}

void test_enable(void)
{
    begin("enable");
    paging_build_kernel();
    set_cr3((uint32_t)(uintptr_t)kpd);
    set_cr0(get_cr0() | CR0_PG | CR0_WP);
    expect("CR0.PG after setting it", CR0_PG, get_cr0() & CR0_PG);
    expect("CR3 reads back", (uint32_t)(uintptr_t)kpd, get_cr3());
    uint32_t va = va_alloc(1), fr = frame_alloc();
    map(kpd, va, fr, PG_P | PG_W);
    poke(va, 0xc0ffee01);
    expect("read back through the mapping", 0xc0ffee01, peek(va));
    expect("same word through the identity map", 0xc0ffee01, peek(fr));
    set_cr0(get_cr0() & ~CR0_PG);
    expect("CR0.PG after clearing it", 0, get_cr0() & CR0_PG);
    expect("frame holds it with paging off", 0xc0ffee01, peek(fr));
    poke(fr, 0xc0ffee02);
    set_cr0(get_cr0() | CR0_PG);
    expect("paging on again: the mapping sees the new value", 0xc0ffee02, peek(va));
    end();
}

void test_ptemod(void)
{
    uint32_t v = va_alloc(1), n0, r;
    uint32_t f1 = tagged_frame(0x1111), f2 = tagged_frame(0x2222), f3 = tagged_frame(0x3333);
    uint32_t *pte = pte_of(kpd, v);
    begin("ptemod");
    map(kpd, v, f1, PG_P | PG_W);
    expect("first frame", 0x1111, peek(v));
    *pte = f2 | PG_P | PG_W;
    invlpg(v);
    expect("new frame after INVLPG", 0x2222, peek(v));
    *pte = f3 | PG_P | PG_W;
    r = peek(v);                         /* stale or new: both allowed */
    if (r != 0x2222 && r != 0x3333)
        fail("without INVLPG: got %x, expected 2222 (stale) or 3333 (new)", r);
    invlpg(v);
    expect("new frame after the late INVLPG", 0x3333, peek(v));

    /* A cached writable (and dirty) translation must not outlive W=0 + INVLPG. */
    poke(v + 4, 0x44);
    *pte = f3 | PG_P;
    invlpg(v);
    n0 = last.count;
    k_write(v + 4, 0xbad);
    expect_pf("write after clearing W + INVLPG", n0, PF_P | PF_W, v + 4, t_fip);
    expect("no write through a stale translation", 0x44, peek(f3 + 4));

    *pte = f3 | PG_P | PG_W | PG_U;
    invlpg(v);
    n0 = last.count;
    expect("CPL3 read while U=1", 0x3333, user_read(v, 0));
    *pte = f3 | PG_P | PG_W;
    invlpg(v);
    user_read(v, 0);
    expect_pf("CPL3 read after clearing U + INVLPG", n0, PF_P | PF_U, v, t_fip);

    (void)peek(v);
    *pte = 0;
    invlpg(v);
    n0 = last.count;
    k_read(v + 8, 0);
    expect_pf("read after clearing P + INVLPG", n0, 0, v + 8, t_fip);
    /* Not-present entries are never cached (SDM 4.10.2.3): P 0 -> 1 needs no INVLPG. */
    *pte = f1 | PG_P | PG_W;
    n0 = last.count;
    expect("P 0 -> 1 without INVLPG", 0x1111, k_read(v, 0));
    expect_no_trap("P 0 -> 1 without INVLPG", n0);
    end();
}

void test_accessed_dirty(void)
{
    uint32_t v = va_alloc_pde(), f = frame_alloc(), n0;
    uint32_t *pte = pte_of(kpd, v), *pde = &kpd[v >> 22];
    begin("accessed_dirty");
    *pte = f | PG_P | PG_W;
    invlpg(v);
    expect("PDE.A before any access", 0, *pde & PG_A);
    (void)peek(v);
    expect("PTE.A after a read", PG_A, *pte & PG_A);
    expect("PTE.D after a read", 0, *pte & PG_D);
    expect("PDE.A after a read", PG_A, *pde & PG_A);
    poke(v + 4, 1);
    expect("PTE.D after a write", PG_D, *pte & PG_D);

    *pte &= ~(PG_A | PG_D);
    invlpg(v);
    poke(v + 8, 2);
    expect("PTE.A after a write alone", PG_A, *pte & PG_A);
    expect("PTE.D after a write alone", PG_D, *pte & PG_D);
    *pte &= ~(PG_A | PG_D);
    invlpg(v);
    (void)peek(v + 12);
    (void)peek(v + 16);
    expect("PTE.A after reads again", PG_A, *pte & PG_A);
    expect("PTE.D stays clear after reads", 0, *pte & PG_D);

    *pte = f | PG_P;                     /* read-only, A = D = 0 */
    invlpg(v);
    n0 = last.count;
    k_write(v, 0xbad);
    expect_pf("write to a read-only page", n0, PF_P | PF_W, v, t_fip);
    expect("PTE.D not set by a write that faulted", 0, *pte & PG_D);
    end();
}

void test_global(void)
{
    uint32_t r[4];
    cpuid(1, r);
    if (!(r[3] & (1u << 13))) {
        skip("global", "no PGE");
        return;
    }
    uint32_t v = va_alloc(1), n = va_alloc(1), g = va_alloc(1), x;
    uint32_t f1 = tagged_frame(0x1111), f2 = tagged_frame(0x2222), f3 = tagged_frame(0x3333),
             f4 = tagged_frame(0x4444);
    uint32_t *pte = pte_of(kpd, v);
    begin("global");
    set_cr4(get_cr4() | CR4_PGE);
    map(kpd, v, f1, PG_P | PG_W | PG_G);
    expect("global page", 0x1111, peek(v));
    *pte = f2 | PG_P | PG_W | PG_G;
    flush_tlb();
    x = peek(v);                         /* a global entry MAY survive CR3 */
    if (x != 0x1111 && x != 0x2222)
        fail("after a CR3 reload: got %x, expected 1111 (kept) or 2222 (new)", x);
    invlpg(v);
    expect("INVLPG removes a global entry", 0x2222, peek(v));
    *pte = f3 | PG_P | PG_W | PG_G;
    set_cr4(get_cr4() & ~CR4_PGE);
    set_cr4(get_cr4() | CR4_PGE);
    expect("toggling CR4.PGE flushes global entries", 0x3333, peek(v));

    map(kpd, n, f1, PG_P | PG_W);
    expect("non-global page", 0x1111, peek(n));
    *pte_of(kpd, n) = f2 | PG_P | PG_W;
    flush_tlb();
    expect("CR3 reload flushes a non-global entry", 0x2222, peek(n));

    set_cr4(get_cr4() & ~CR4_PGE);
    map(kpd, g, f1, PG_P | PG_W | PG_G);
    expect("G page with PGE=0", 0x1111, peek(g));
    *pte_of(kpd, g) = f4 | PG_P | PG_W | PG_G;
    flush_tlb();
    expect("G is ignored while CR4.PGE=0: CR3 reload flushes", 0x4444, peek(g));
    end();
}

void test_as16(void)
{
    enum { N = 16, STEPS = 3000 };
    uint32_t *pds[N], frames[N], counts[N], va = va_alloc_pde() + 0x5000;
    uint32_t seed = 0x2545f491, bad = 0;
    begin("as16");
    for (uint32_t i = 0; i < N; i++) {
        pds[i] = new_pd();
        frames[i] = tagged_frame(0xa5000000 | i);
        map(pds[i], va, frames[i], PG_P | PG_W);
        counts[i] = 0;
    }
    for (uint32_t s = 0; s < STEPS; s++) {
        uint32_t i;
        if (s < N)
            i = s;                       /* in order, then backwards, then random */
        else if (s < 2 * N)
            i = 2 * N - 1 - s;
        else
            seed = seed * 1103515245 + 12345, i = (seed >> 16) % N;
        set_cr3((uint32_t)(uintptr_t)pds[i]);
        uint32_t t = peek(va);
        if (t != (0xa5000000 | i) && bad++ < 4)
            fail("step %u, space %u: read %x", s, i, t);
        poke(va + 4, peek(va + 4) + 1);
        counts[i]++;
    }
    set_cr3((uint32_t)(uintptr_t)kpd);
    for (uint32_t i = 0; i < N; i++)
        expect("writes counted in each space's own frame", counts[i], peek(frames[i] + 4));
    end();
}

void test_alias(void)
{
    uint32_t a = va_alloc(1), b = va_alloc(1), f = frame_alloc(), f2 = tagged_frame(0x7777);
    begin("alias");
    map(kpd, a, f, PG_P | PG_W);
    map(kpd, b, f, PG_P | PG_W);
    poke(a + 0x10, 0x12345678);
    expect("dword written via A, read via B", 0x12345678, peek(b + 0x10));
    *(volatile uint8_t *)(uintptr_t)(b + 0x11) = 0xab;
    expect("byte written via B, read via A", 0x1234ab78, peek(a + 0x10));
    poke(f + 0x20, 0x5555aaaa);
    expect("written via the identity map, read via A", 0x5555aaaa, peek(a + 0x20));
    expect("written via the identity map, read via B", 0x5555aaaa, peek(b + 0x20));
    for (uint32_t i = 0; i < 512; i++) {
        uint32_t off = (i * 40) & 0xffc;
        poke(((i & 1) ? a : b) + off, i * 0x01010101);
        uint32_t got = peek(((i & 1) ? b : a) + off);
        if (got != i * 0x01010101) {
            fail("round %u: wrote %x at +%x, read %x via the other alias", i, i * 0x01010101, off, got);
            break;
        }
    }
    map(kpd, b, f2, PG_P | PG_W);
    poke(a + 0x30, 0x99);
    expect("B remapped elsewhere no longer aliases", 0x7777, peek(b));
    expect("A still on its frame", 0x99, peek(f + 0x30));
    end();
}

void test_pt_write(void)
{
    uint32_t v = va_alloc(1), ptv = va_alloc(1), n0;
    uint32_t f1 = tagged_frame(0x1111), f2 = tagged_frame(0x2222);
    uint32_t idx = (v >> 12) & 0x3ff;
    begin("pt_write");
    map(kpd, v, f1, PG_P | PG_W);
    expect("first frame", 0x1111, peek(v));
    map(kpd, ptv, kpd[v >> 22] & PG_FRAME, PG_P | PG_W);   /* the page table, as data */
    expect("PTE seen through the alias", f1, peek(ptv + 4 * idx) & PG_FRAME);
    poke(ptv + 4 * idx, f2 | PG_P | PG_W);
    invlpg(v);
    expect("PTE written via the alias + INVLPG", 0x2222, peek(v));
    poke(ptv + 4 * idx, 0);
    invlpg(v);
    n0 = last.count;
    k_read(v, 0);
    expect_pf("PTE cleared via the alias + INVLPG", n0, 0, v, t_fip);

    /* Self-map: PDE 1023 -> the directory, so PTEs appear at 0xffc00000. */
    kpd[1023] = (uint32_t)(uintptr_t)kpd | PG_P | PG_W;
    uint32_t self_pte = 0xffc00000u + (v >> 12) * 4, self_pde = 0xfffff000u + (v >> 22) * 4;
    expect("PDE seen through the self-map", kpd[v >> 22], peek(self_pde));
    expect("PTE seen through the self-map", 0, peek(self_pte));
    poke(self_pte, f1 | PG_P | PG_W);
    n0 = last.count;
    expect("PTE written via the self-map", 0x1111, k_read(v, 0));
    expect_no_trap("PTE written via the self-map", n0);
    poke(self_pte, f2 | PG_P | PG_W);
    invlpg(v);
    expect("PTE rewritten via the self-map + INVLPG", 0x2222, peek(v));
    kpd[1023] = 0;
    flush_tlb();
    end();
}

/*
 * Read-modify-write instructions on a live PTE, each from one site many
 * times over: btvm retranslates a site that keeps writing page tables as
 * one call into its C model (bt/translate.c, adaptive translation), which
 * must do what the instruction does — the PTE's new value, XCHG's old
 * value back, the flags (compared with the same instruction on an
 * ordinary variable) — and the translation must follow the PTE.
 */
static uint32_t __attribute__((noinline)) rmw_xor(uint32_t *p, uint32_t m, uint32_t *fl)
{
    __asm__ volatile("xorl %2, %1\n\tpushfl\n\tpopl %0" : "=r"(*fl), "+m"(*p) : "r"(m) : "cc", "memory");
    return *p;
}

static uint32_t __attribute__((noinline)) rmw_sub(uint32_t *p, uint32_t v, uint32_t *fl)
{
    __asm__ volatile("subl %2, %1\n\tpushfl\n\tpopl %0" : "=r"(*fl), "+m"(*p) : "ri"(v) : "cc", "memory");
    return *p;
}

static uint32_t __attribute__((noinline)) rmw_add(uint32_t *p, uint32_t v, uint32_t *fl)
{
    __asm__ volatile("addl %2, %1\n\tpushfl\n\tpopl %0" : "=r"(*fl), "+m"(*p) : "ri"(v) : "cc", "memory");
    return *p;
}

static uint32_t __attribute__((noinline)) rmw_andb(uint32_t *p, uint32_t *fl)
{
    __asm__ volatile("andb $0xfe, %1\n\tpushfl\n\tpopl %0" : "=r"(*fl), "+m"(*(uint8_t *)p) : : "cc", "memory");
    return *p;
}

static uint32_t __attribute__((noinline)) rmw_orb(uint32_t *p, uint32_t *fl)
{
    __asm__ volatile("orb $1, %1\n\tpushfl\n\tpopl %0" : "=r"(*fl), "+m"(*(uint8_t *)p) : : "cc", "memory");
    return *p;
}

static uint32_t __attribute__((noinline)) rmw_xchg(uint32_t *p, uint32_t v)
{
    __asm__ volatile("xchgl %0, %1" : "+r"(v), "+m"(*p) : : "memory");
    return v;
}

void test_pt_rmw(void)
{
    uint32_t v = va_alloc(1), n0, fl, want_fl;
    uint32_t f1 = tagged_frame(0x3333), f2 = tagged_frame(0x4444);
    begin("pt_rmw");
    map(kpd, v, f1, PG_P | PG_W);
    uint32_t *pte = pte_of(kpd, v);
    /* A PTE next to it that maps nothing (P stays clear: every operand and
     * result is even): values that set every flag the ops can set. */
    uint32_t *spare = pte + ((((v >> 12) & 0x3ff) == 0x3ff) ? -1 : 1);
    static const struct { uint32_t a, b; } sv[] = {
        { 0x7ffffffe, 0xfffffffe }, { 0, 0 }, { 0x80000080, 0x80000000 }, { 0xfffffffe, 2 },
        { 0x7ffffffe, 2 }, { 0x80000000, 2 }, { 0x000000fe, 0x0000007e },
    };
    expect("first frame", 0x3333, peek(v));
    for (int i = 0; i < 12; i++) {
        for (unsigned k = 0; k < sizeof(sv) / sizeof(sv[0]); k++) {
            uint32_t (*const ops[])(uint32_t *, uint32_t, uint32_t *) = { rmw_xor, rmw_add, rmw_sub };
            for (unsigned o = 0; o < 3; o++) {
                uint32_t copy = sv[k].a;
                *spare = sv[k].a;
                uint32_t want = ops[o](&copy, sv[k].b, &want_fl);
                expect("spare PTE: the result", want, ops[o](spare, sv[k].b, &fl));
                expect("spare PTE: the flags", want_fl & 0x8d5, fl & 0x8d5);
            }
        }
        *spare = 0;
        uint32_t copy = *pte, want = copy ^ (f1 ^ f2);
        rmw_xor(&copy, f1 ^ f2, &want_fl);
        expect("xor: the PTE", want, rmw_xor(pte, f1 ^ f2, &fl));
        expect("xor: the flags", want_fl & 0x8d5, fl & 0x8d5);
        invlpg(v);
        expect("xor: the frame it maps now", i % 2 ? 0x3333 : 0x4444, peek(v));

        copy = *pte;
        rmw_sub(&copy, PG_W, &want_fl);
        expect("sub: the PTE", copy, rmw_sub(pte, PG_W, &fl));
        expect("sub: the flags", want_fl & 0x8d5, fl & 0x8d5);
        copy = *pte;
        rmw_add(&copy, PG_W, &want_fl);
        expect("add: the PTE", copy, rmw_add(pte, PG_W, &fl));
        expect("add: the flags", want_fl & 0x8d5, fl & 0x8d5);
        /* A carry out and a zero result: 0xffffffff + 1 on a copy only. */
        copy = 0xffffffffu;
        uint32_t c2 = copy;
        rmw_add(&c2, 1, &want_fl);
        expect("add carry: CF and ZF", 0x41, want_fl & 0x41);

        copy = *pte;
        rmw_andb(&copy, &want_fl);
        expect("andb: the PTE", copy, rmw_andb(pte, &fl));
        expect("andb: the flags", want_fl & 0x8d5, fl & 0x8d5);
        invlpg(v);
        n0 = last.count;
        k_read(v, 0);
        expect_pf("andb cleared P", n0, 0, v, t_fip);
        copy = *pte;
        rmw_orb(&copy, &want_fl);
        expect("orb: the PTE", copy, rmw_orb(pte, &fl));
        expect("orb: the flags", want_fl & 0x8d5, fl & 0x8d5);

        uint32_t old = *pte, now = (i % 2 ? f1 : f2) | PG_P | PG_W;
        expect("xchg: the old PTE back", old, rmw_xchg(pte, now));
        expect("xchg: the PTE", now, *pte);
        invlpg(v);
        expect("xchg: the frame it maps now", i % 2 ? 0x3333 : 0x4444, peek(v));
        rmw_xchg(pte, old);
        invlpg(v);
    }
    end();
}
