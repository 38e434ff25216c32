/*
 * guests/pagetest/faults.c — the #PF tests: demand paging (not-present
 * fault, the handler maps, the instruction is retried), protection
 * (read-only and supervisor pages, CR0.WP, PDE-level rights, from CPL 0
 * and CPL 3), copy-on-write done by the guest, and accesses that cross
 * into a not-present page (plain loads/stores, rep movs, a CPL-3 push):
 * the SDM wants CR2 at the second page, no partial store, and rep string
 * registers that say how far the copy got so the retry can finish it.
 */
#include "pagetest.h"

/* ---- demand ---- */

static uint32_t demand_page;

static int demand_fix(struct frame *f)
{
    (void)f;
    if ((last.cr2 & PG_FRAME) != demand_page || (last.err & PF_P))
        return 0;
    uint32_t fr = frame_alloc();
    frame_fill(fr, 0xd0000000);
    map(kpd, demand_page, fr, PG_P | PG_W | PG_U);
    return 1;
}

void test_demand(void)
{
    static const struct { const char *what; int user, write, fresh_pde; } c[] = {
        { "CPL0 read, PTE not present", 0, 0, 0 },
        { "CPL0 read, PDE not present", 0, 0, 1 },
        { "CPL0 write", 0, 1, 0 },
        { "CPL3 read", 1, 0, 0 },
        { "CPL3 write", 1, 1, 1 },
    };
    begin("demand");
    pf_hook = demand_fix;
    for (unsigned i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        uint32_t va;
        if (c[i].fresh_pde) {
            va = va_alloc_pde();
        } else {
            va = va_alloc(1);
            (void)pte_of(kpd, va);      /* the page table exists, the PTE is 0 */
        }
        demand_page = va;
        uint32_t a = va + 0x124 + 4 * i, n0 = last.count, v = 0;
        uint32_t err = (c[i].write ? PF_W : 0) | (c[i].user ? PF_U : 0);
        if (c[i].user && c[i].write)
            user_write(a, 0x600d0000 + i);
        else if (c[i].user)
            v = user_read(a, 0xdeadbeef);
        else if (c[i].write)
            k_write(a, 0x600d0000 + i);
        else
            v = k_read(a, 0xdeadbeef);
        expect_pf(c[i].what, n0, err, a, t_fip);
        if (c[i].write)
            expect(c[i].what, 0x600d0000 + i, peek(a));
        else
            expect(c[i].what, 0xd0000000 + (0x124 + 4 * i) / 4, v);
    }
    pf_hook = 0;
    end();
}

/* ---- protect ---- */

void test_protect(void)
{
    uint32_t ro = va_alloc(1), sup = va_alloc(1), n0, v;
    uint32_t fro = frame_alloc(), fsup = frame_alloc();
    begin("protect");
    poke(fro, 0x11111111);
    poke(fsup, 0x22222222);
    map(kpd, ro, fro, PG_P | PG_U);
    map(kpd, sup, fsup, PG_P | PG_W);

    set_cr0(get_cr0() | CR0_WP);
    n0 = last.count;
    expect("CPL0 read of a read-only page", 0x11111111, k_read(ro, 0));
    expect_no_trap("CPL0 read of a read-only page", n0);
    n0 = last.count;
    k_write(ro, 0xbad);
    expect_pf("CPL0 write, read-only page, WP=1", n0, PF_P | PF_W, ro, t_fip);
    expect("read-only page unchanged", 0x11111111, peek(fro));

    set_cr0(get_cr0() & ~CR0_WP);
    n0 = last.count;
    k_write(ro, 0x33333333);
    expect_no_trap("CPL0 write, read-only page, WP=0", n0);
    expect("CPL0 write with WP=0 landed", 0x33333333, peek(fro));
    /* The supervisor's write access (WP=0) must not leak to CPL 3. */
    n0 = last.count;
    user_write(ro, 0xbad);
    expect_pf("CPL3 write, read-only user page, WP=0", n0, PF_P | PF_W | PF_U, ro, t_fip);
    set_cr0(get_cr0() | CR0_WP);
    n0 = last.count;
    k_write(ro, 0xbad);
    expect_pf("CPL0 write after WP=0 -> 1", n0, PF_P | PF_W, ro, t_fip);

    n0 = last.count;
    v = user_read(ro, 0);
    expect_no_trap("CPL3 read of a read-only user page", n0);
    expect("CPL3 read of a read-only user page", 0x33333333, v);
    n0 = last.count;
    user_write(ro, 0xbad);
    expect_pf("CPL3 write, read-only user page", n0, PF_P | PF_W | PF_U, ro, t_fip);
    expect("read-only page unchanged by CPL3", 0x33333333, peek(fro));

    /* CPL 0 uses the supervisor page first: CPL 3 must still be refused. */
    n0 = last.count;
    expect("CPL0 read of a supervisor page", 0x22222222, k_read(sup, 0));
    k_write(sup + 4, 0x22220004);
    expect_no_trap("CPL0 read and write of a supervisor page", n0);
    n0 = last.count;
    v = user_read(sup + 8, 0x5a5a5a5a);
    expect_pf("CPL3 read, supervisor page", n0, PF_P | PF_U, sup + 8, t_fip);
    expect("no value from a supervisor page", 0x5a5a5a5a, v);
    n0 = last.count;
    user_write(sup + 8, 0xbad);
    expect_pf("CPL3 write, supervisor page", n0, PF_P | PF_W | PF_U, sup + 8, t_fip);
    expect("supervisor page unchanged", 0, peek(fsup + 8));
    n0 = last.count;
    expect("CPL0 read after CPL3 was refused", 0x22220004, k_read(sup + 4, 0));
    expect_no_trap("CPL0 read after CPL3 was refused", n0);

    /* Rights combine across levels: a PTE saying U|W under a PDE saying
     * supervisor / read-only gives supervisor / read-only (SDM 4.6.1). */
    uint32_t r = va_alloc_pde(), fr = frame_alloc();
    map(kpd, r, fr, PG_P | PG_W | PG_U);
    kpd[r >> 22] &= ~PG_U;
    invlpg(r);
    n0 = last.count;
    user_read(r, 0);
    expect_pf("CPL3 read, PTE U=1 under PDE U=0", n0, PF_P | PF_U, r, t_fip);
    kpd[r >> 22] = (kpd[r >> 22] | PG_U) & ~PG_W;
    invlpg(r);
    n0 = last.count;
    k_write(r, 0xbad);
    expect_pf("CPL0 write, PTE W=1 under PDE W=0, WP=1", n0, PF_P | PF_W, r, t_fip);
    n0 = last.count;
    user_write(r, 0xbad);
    expect_pf("CPL3 write, PTE W=1 under PDE W=0", n0, PF_P | PF_W | PF_U, r, t_fip);
    expect("page under the read-only PDE unchanged", 0, peek(fr));
    end();
}

/* ---- cow ---- */

static uint32_t cow_a, cow_b, cow_frame, cow_refs, cow_faults;

static int cow_fix(struct frame *f)
{
    (void)f;
    uint32_t page = last.cr2 & PG_FRAME;
    if ((page != cow_a && page != cow_b) || last.err != (PF_P | PF_W))
        return 0;
    uint32_t *pte = pte_of(kpd, page);
    cow_faults++;
    if (cow_refs > 1) {
        uint32_t fr = frame_alloc();
        memcpy((void *)(uintptr_t)fr, (void *)(uintptr_t)(*pte & PG_FRAME), PAGE);
        *pte = fr | PG_P | PG_W;
        cow_refs--;
    } else {
        *pte |= PG_W;                 /* last reference: keep the frame */
    }
    invlpg(page);
    return 1;
}

void test_cow(void)
{
    begin("cow");
    cow_a = va_alloc(1);
    cow_b = va_alloc(1);
    cow_frame = frame_alloc();
    frame_fill(cow_frame, 0xc0000000);
    map(kpd, cow_a, cow_frame, PG_P);
    map(kpd, cow_b, cow_frame, PG_P);
    cow_refs = 2;
    cow_faults = 0;
    set_cr0(get_cr0() | CR0_WP);
    /* Read both first, so a read-only translation is cached for each. */
    expect("A before", 0xc0000005, peek(cow_a + 20));
    expect("B before", 0xc0000005, peek(cow_b + 20));
    pf_hook = cow_fix;
    poke(cow_a + 20, 0xaaaa);
    expect("faults after writing A", 1, cow_faults);
    expect("A after its write", 0xaaaa, peek(cow_a + 20));
    expect("B unchanged by A's write", 0xc0000005, peek(cow_b + 20));
    expect("A's copy keeps the rest", 0xc00003ff, peek(cow_a + 4092));
    if ((*pte_of(kpd, cow_a) & PG_FRAME) == cow_frame)
        fail("A still maps the shared frame");
    poke(cow_b + 24, 0xbbbb);
    expect("faults after writing B", 2, cow_faults);
    expect("B after its write", 0xbbbb, peek(cow_b + 24));
    expect("B's write went to the original frame", 0xbbbb, peek(cow_frame + 24));
    expect("A unchanged by B's write", 0xc0000006, peek(cow_a + 24));
    poke(cow_a + 28, 0xcccc);
    poke(cow_b + 28, 0xdddd);
    expect("no more faults once both are private", 2, cow_faults);
    expect("A final", 0xcccc, peek(cow_a + 28));
    expect("B final", 0xdddd, peek(cow_b + 28));
    pf_hook = 0;
    end();
}

/* ---- cross ---- */

static uint32_t cross_page, cross_fix_count;
static struct trap_rec cross_rec;

/* Maps the missing page (a fresh frame) and retries; records the frame. */
static int cross_fix(struct frame *f)
{
    (void)f;
    if ((last.cr2 & PG_FRAME) != cross_page)
        return 0;
    cross_rec = *(struct trap_rec *)&last;
    cross_fix_count++;
    map(kpd, cross_page, frame_alloc(), PG_P | PG_W | PG_U);
    return 1;
}

/* CPL 3 with ESP two bytes above a page boundary whose upper page is
 * missing: the push's 4 bytes straddle it. */
void u_push_cross(void);
__asm__(".text\n"
        "u_push_cross:\n\t"
        "movl $1f, t_fip\n\tmovl $2f, t_resume\n"
        "1:\tpushl $0x12345678\n"
        "2:\txorl %eax, %eax\n\tint $0x80\n");

/* rep movs{b,l} of n elements from src to dst; the registers afterwards. */
static void rep_movs(int dwords, uint32_t src, uint32_t dst, uint32_t n, uint32_t out[3])
{
    uint32_t c = n, s = src, d = dst;
    if (dwords)
        __asm__ volatile(ARM "1:\trep movsl\n2:" : "+c"(c), "+S"(s), "+D"(d) : : "memory");
    else
        __asm__ volatile(ARM "1:\trep movsb\n2:" : "+c"(c), "+S"(s), "+D"(d) : : "memory");
    t_resume = 0;
    out[0] = c, out[1] = s, out[2] = d;
}

/* One rep-movs case: the page after `first` (source or destination side)
 * is missing; the copy starts `before` bytes below it and moves `len`. */
static void cross_rep(const char *what, int dwords, int dst_side, uint32_t before, uint32_t len)
{
    uint32_t base = va_alloc(2), other = va_alloc(2), out[3], n0 = last.count;
    uint32_t esz = dwords ? 4 : 1;
    map(kpd, base, frame_alloc(), PG_P | PG_W | PG_U);
    map(kpd, other, frame_alloc(), PG_P | PG_W | PG_U);
    map(kpd, other + PAGE, frame_alloc(), PG_P | PG_W | PG_U);
    uint32_t src, dst, miss = base + PAGE;
    if (dst_side) {
        src = other + 64, dst = miss - before;
        for (uint32_t i = 0; i < len; i++)
            *(volatile uint8_t *)(uintptr_t)(src + i) = (uint8_t)(i * 7 + 1);
    } else {
        src = miss - before, dst = other + 64;
        for (uint32_t i = 0; i < before; i++)
            *(volatile uint8_t *)(uintptr_t)(src + i) = (uint8_t)(i * 7 + 1);
    }
    cross_page = miss;
    cross_fix_count = 0;
    pf_hook = cross_fix;
    rep_movs(dwords, src, dst, len / esz, out);
    pf_hook = 0;
    if (!dst_side)                       /* the fresh page read as zeros */
        for (uint32_t i = before; i < len; i++)
            *(volatile uint8_t *)(uintptr_t)(src + i) = 0;
    if (cross_fix_count != 1 || last.count != n0 + 1) {
        fail("%s: %u faults, expected 1", what, last.count - n0);
        return;
    }
    expect(what, dst_side ? PF_W : 0, cross_rec.err);
    expect(what, miss, cross_rec.cr2);
    expect(what, t_fip, cross_rec.eip);
    /* Progress at the fault: consistent across ECX/ESI/EDI, at most up to
     * the missing page (fast strings may stop early; the SDM only promises
     * that the registers let the instruction resume). */
    uint32_t done = len / esz - cross_rec.ecx;
    if (cross_rec.esi != src + done * esz || cross_rec.edi != dst + done * esz ||
        done * esz > before)
        fail("%s: at the fault ECX %x ESI %x EDI %x, start ECX %x ESI %x EDI %x", what,
             cross_rec.ecx, cross_rec.esi, cross_rec.edi, len / esz, src, dst);
    expect("ECX after the retry", 0, out[0]);
    expect("ESI after the retry", src + len, out[1]);
    expect("EDI after the retry", dst + len, out[2]);
    if (memcmp((void *)(uintptr_t)src, (void *)(uintptr_t)dst, len))
        fail("%s: copy incomplete or wrong after the retry", what);
}

void test_cross(void)
{
    uint32_t x = va_alloc(2), fx = frame_alloc(), n0, v;
    begin("cross");
    map(kpd, x, fx, PG_P | PG_W | PG_U);
    poke(fx + PAGE - 8, 0xeeeeeeee);
    poke(fx + PAGE - 4, 0xeeeeeeee);

    n0 = last.count;
    k_write(x + PAGE - 2, 0x11223344);
    expect_pf("dword store across into a missing page", n0, PF_W, x + PAGE, t_fip);
    expect("no partial store", 0xeeeeeeee, peek(fx + PAGE - 4));
    n0 = last.count;
    __asm__ volatile(ARM "1:\tmovw $0x5566, (%0)\n2:" : : "r"(x + PAGE - 1) : "memory");
    expect_pf("word store across", n0, PF_W, x + PAGE, t_fip);
    expect("no partial word store", 0xeeeeeeee, peek(fx + PAGE - 4));
    n0 = last.count;
    v = k_read(x + PAGE - 3, 0x77777777);
    expect_pf("dword load across", n0, 0, x + PAGE, t_fip);
    expect("load destination unchanged", 0x77777777, v);
    n0 = last.count;
    v = user_read(x + PAGE - 1, 0x77777777);
    expect_pf("CPL3 dword load across", n0, PF_U, x + PAGE, t_fip);

    /* CPL 3 push straddling into the missing page: ESP unchanged. */
    n0 = last.count;
    run_user_at(u_push_cross, x + PAGE + 2);
    expect_pf("CPL3 push across", n0, PF_W | PF_U, x + PAGE, t_fip);
    expect("ESP at the fault", x + PAGE + 2, last.uesp);
    expect("no partial push", 0xeeeeeeee, peek(fx + PAGE - 4));

    cross_rep("rep movsb, destination crosses", 0, 1, 100, 300);
    cross_rep("rep movsl, source crosses", 1, 0, 256, 1024);
    end();
}
