/*
 * guests/difftest/gen.c — random valid instruction sequences (docs/difftest.md).
 *
 * dt_generate(seed, idx) builds machine code for one sequence of "items":
 * an item is one instruction under test plus the MOVs that make it valid
 * (pointer registers, divisors, counts, far pointers). Each item draws from
 * its own random stream, so leaving items out (the minimizer's drop mask)
 * keeps the others as they were. The generator tracks ESP exactly and
 * which arithmetic flags are undefined (SDM "Flags Affected"): an item that
 * reads an undefined flag gets a CMP first, and the flags still undefined
 * at the end are left out of the comparison.
 */
#include "dt.h"

struct g {
    uint64_t rs;
    uint8_t *p, *code;
    uint32_t esp;       /* exact */
    uint32_t undef;     /* arithmetic flags with no defined value now */
    int fdepth;         /* x87 stack depth, roughly */
    int cpl0;           /* the guest runs the sequences at CPL 0 (DT_CPL0) */
};

static uint32_t rnd(struct g *g)
{
    /* splitmix64 */
    uint64_t z = (g->rs += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (uint32_t)((z ^ (z >> 31)) >> 16);
}

static uint32_t rn(struct g *g, uint32_t n)
{
    return rnd(g) % n;
}

static const uint32_t edges[] = {
    0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000,
    0x80000001, 0xff80, 0xffff8000, 0xffffff80, 0x99, 0x9a, 0x0f, 0xf9, 0x55555555, 0xaaaaaaaa,
};

static uint32_t val(struct g *g)
{
    switch (rn(g, 10)) {
    case 0: return rn(g, 4);
    case 1: return 0xffffffffu - rn(g, 3);
    case 2: return 1u << rn(g, 32);
    case 3: return edges[rn(g, sizeof edges / sizeof edges[0])];
    case 4: { /* packed BCD, sometimes with a non-decimal nibble */
        uint32_t v = 0;
        for (int i = 0; i < 8; i++)
            v = v << 4 | (rn(g, 8) ? rn(g, 10) : rn(g, 16));
        return v;
    }
    case 5: return (uint32_t)(int32_t)(int8_t)rnd(g);
    default: return rnd(g) ^ (rnd(g) << 16);
    }
}

/* Float bit patterns: ordinary, signed zeros, infinities, NaNs, denormals. */
static uint32_t fval(struct g *g)
{
    static const uint32_t f[] = { 0x3f800000, 0xbf800000, 0x00000000, 0x80000000, 0x7f800000,
                                  0xff800000, 0x7fc00000, 0xffc00000, 0x7f800001, 0x00000001,
                                  0x807fffff, 0x4b000000, 0x4f000000, 0xcf000000, 0x3effffff };
    switch (rn(g, 4)) {
    case 0: return f[rn(g, sizeof f / sizeof f[0])];
    case 1: return val(g);
    default: return (rn(g, 2) << 31) | ((0x70 + rn(g, 0x20)) << 23) | (rnd(g) & 0x7fffff);
    }
}

/* ---- emission ---- */
static void b(struct g *g, uint32_t x) { *g->p++ = (uint8_t)x; }
static void d16(struct g *g, uint32_t v) { b(g, v); b(g, v >> 8); }
static void d32(struct g *g, uint32_t v) { d16(g, v); d16(g, v >> 16); }
static uint32_t pc(struct g *g) { return DT_CODE + (uint32_t)(g->p - g->code); }

static void imm(struct g *g, int sz, uint32_t v)
{
    if (sz == 1) b(g, v);
    else if (sz == 2) d16(g, v);
    else d32(g, v);
}

static void mov_ri(struct g *g, int r, uint32_t v) { b(g, 0xb8 + r); d32(g, v); }

/* Stores through an absolute address: the preparation of memory operands. */
static void mov_mi32(struct g *g, uint32_t a, uint32_t v) { b(g, 0xc7); b(g, 0x05); d32(g, a); d32(g, v); }
static void mov_mi16(struct g *g, uint32_t a, uint32_t v) { b(g, 0x66); b(g, 0xc7); b(g, 0x05); d32(g, a); d16(g, v); }

/* ---- flags ---- */
static const uint32_t cc_reads[16] = {
    DT_OF, DT_OF, DT_CF, DT_CF, DT_ZF, DT_ZF, DT_CF | DT_ZF, DT_CF | DT_ZF,
    DT_SF, DT_SF, DT_PF, DT_PF, DT_SF | DT_OF, DT_SF | DT_OF, DT_ZF | DT_SF | DT_OF, DT_ZF | DT_SF | DT_OF,
};

/* The item reads rd: define every flag first if one of them is undefined. */
static void need(struct g *g, uint32_t rd)
{
    if (rd & g->undef) {
        b(g, 0x39); /* cmp r/m32, r32 */
        b(g, 0xc0 | rn(g, 8) << 3 | rn(g, 8));
        g->undef = 0;
    }
}

static void eff(struct g *g, uint32_t wr, uint32_t ud)
{
    g->undef = (g->undef & ~(wr | ud)) | ud;
}

/* ---- operands ---- */
#define R_ALL 0xefu /* GPRs an item may write or point with: all but ESP */

static int pick_reg(struct g *g, uint32_t allowed)
{
    allowed &= R_ALL;
    if (!allowed)
        return -1;
    for (;;) {
        int r = rn(g, 8);
        if (allowed >> r & 1)
            return r;
    }
}

struct mem {
    uint8_t kind, base, index, scale, seg;
    int8_t disp;
    uint32_t addr;
};

struct rm {
    int is_mem, reg;
    struct mem m;
};

/* An address for an sz-byte access in the window, often across the page boundary. */
static uint32_t pick_addr(struct g *g, uint32_t sz)
{
    if (rn(g, 3) == 0) {
        uint32_t a = DT_DATA + 0x1000 - sz - 2 + rn(g, sz + 4);
        if (a + sz <= DT_WIN + DT_WIN_SIZE)
            return a;
    }
    return DT_WIN + rn(g, DT_WIN_SIZE - sz + 1);
}

/* Emits the MOVs that form address a; avoid holds registers the item needs. */
static void mem_prep(struct g *g, struct mem *m, uint32_t a, uint32_t avoid, int ro)
{
    static const uint8_t segs[] = { 0x26, 0x36, 0x3e, 0x2e };
    m->addr = a;
    m->kind = rn(g, 4) >> 1 ? (uint8_t)rn(g, 3) : 0;
    m->seg = rn(g, 6) == 0 ? segs[rn(g, ro ? 4 : 3)] : 0;
    if (m->kind >= 1) {
        int bse = pick_reg(g, ~avoid);
        if (bse < 0) {
            m->kind = 0;
            return;
        }
        m->base = (uint8_t)bse;
        m->disp = (int8_t)rnd(g);
        if (m->kind == 2) {
            int ix = pick_reg(g, ~avoid & ~(1u << bse));
            if (ix < 0) {
                m->kind = 1;
            } else {
                int32_t iv = (int32_t)rn(g, 129) - 64;
                m->index = (uint8_t)ix;
                m->scale = (uint8_t)rn(g, 4);
                mov_ri(g, ix, (uint32_t)iv);
                mov_ri(g, bse, a - ((uint32_t)iv << m->scale) - (uint32_t)(int32_t)m->disp);
                return;
            }
        }
        mov_ri(g, bse, a - (uint32_t)(int32_t)m->disp);
    }
}

static void mem_modrm(struct g *g, const struct mem *m, int regf)
{
    switch (m->kind) {
    case 0: b(g, regf << 3 | 5); d32(g, m->addr); break;
    case 1: b(g, 0x40 | regf << 3 | m->base); b(g, (uint8_t)m->disp); break;
    default:
        b(g, 0x44 | regf << 3);
        b(g, m->scale << 6 | m->index << 3 | m->base);
        b(g, (uint8_t)m->disp);
    }
}

/* A register (allowed set) or, if mem_ok, a memory operand of sz bytes. */
static void rm_pick(struct g *g, struct rm *o, uint32_t sz, uint32_t allowed, uint32_t avoid, int ro, int mem_ok)
{
    o->is_mem = mem_ok && rn(g, 5) < 2;
    if (o->is_mem)
        mem_prep(g, &o->m, pick_addr(g, sz), avoid, ro);
    else
        o->reg = sz == 1 ? (int)rn(g, 8) : pick_reg(g, allowed);
    if (!o->is_mem && sz == 1)
        while (!(allowed >> o->reg & 1))
            o->reg = (int)rn(g, 8);
}

static void rm_seg(struct g *g, const struct rm *o)
{
    if (o->is_mem && o->m.seg)
        b(g, o->m.seg);
}

static void rm_modrm(struct g *g, const struct rm *o, int regf)
{
    if (o->is_mem)
        mem_modrm(g, &o->m, regf);
    else
        b(g, 0xc0 | regf << 3 | o->reg);
}

static int sz_pick(struct g *g) { static const int s[] = { 1, 2, 4, 4 }; return s[rn(g, 4)]; }

/* Prefixes then the opcode byte, with the w bit for sz > 1. */
static void op_sz(struct g *g, const struct rm *o, int sz, uint32_t opc, int lock)
{
    rm_seg(g, o);
    if (sz == 2) b(g, 0x66);
    if (lock && o->is_mem) b(g, 0xf0);
    b(g, opc | (sz > 1));
}

/* ---- items ---- */
static int item_alu(struct g *g)
{
    int op = (int)rn(g, 8), sz = sz_pick(g), form = (int)rn(g, 5);
    struct rm o;
    uint32_t rd = (op == 2 || op == 3) ? DT_CF : 0;
    uint32_t ud = (op == 1 || op == 4 || op == 6) ? DT_AF : 0;
    uint32_t m8 = sz == 1 ? 0xff : R_ALL;
    int lock = op != 7 && rn(g, 3) == 0;

    if (form == 4) { /* AL/AX/EAX, imm */
        need(g, rd);
        if (sz == 2) b(g, 0x66);
        b(g, op << 3 | 4 | (sz > 1));
        imm(g, sz, val(g));
    } else if (form == 3) { /* r/m, imm: 80/81/83 */
        rm_pick(g, &o, sz, op == 7 ? m8 : m8, 0, op == 7, 1);
        need(g, rd);
        int s8 = sz > 1 && rn(g, 2);
        rm_seg(g, &o);
        if (sz == 2) b(g, 0x66);
        if (lock && o.is_mem) b(g, 0xf0);
        b(g, sz == 1 ? 0x80 : s8 ? 0x83 : 0x81);
        rm_modrm(g, &o, op);
        imm(g, s8 ? 1 : sz, val(g));
    } else { /* r/m, r or r, r/m */
        int dir = form == 2;
        rm_pick(g, &o, sz, m8, 0, dir || op == 7, 1);
        need(g, rd);
        op_sz(g, &o, sz, (uint32_t)(op << 3 | dir << 1), !dir && lock);
        rm_modrm(g, &o, dir && op != 7 && sz > 1 ? pick_reg(g, R_ALL) : (int)rn(g, 8));
    }
    eff(g, DT_ARITH & ~ud, ud);
    return 0;
}

static int item_test_unary(struct g *g)
{
    int sz = sz_pick(g), k = (int)rn(g, 6);
    struct rm o;
    rm_pick(g, &o, sz, sz == 1 ? 0xff : R_ALL, 0, k == 0, 1);
    switch (k) {
    case 0: /* test r/m, imm */
        op_sz(g, &o, sz, 0xf6, 0);
        rm_modrm(g, &o, 0);
        imm(g, sz, val(g));
        eff(g, DT_ARITH & ~DT_AF, DT_AF);
        break;
    case 1: /* test r/m, r */
        op_sz(g, &o, sz, 0x84, 0);
        rm_modrm(g, &o, (int)rn(g, 8));
        eff(g, DT_ARITH & ~DT_AF, DT_AF);
        break;
    case 2: /* not */
        op_sz(g, &o, sz, 0xf6, rn(g, 2));
        rm_modrm(g, &o, 2);
        break;
    case 3: /* neg */
        op_sz(g, &o, sz, 0xf6, rn(g, 2));
        rm_modrm(g, &o, 3);
        eff(g, DT_ARITH, 0);
        break;
    default: /* inc, dec (FE/FF or the one-byte 40+r/48+r forms) */
        if (sz > 1 && !o.is_mem && rn(g, 2)) {
            if (sz == 2) b(g, 0x66);
            b(g, (k == 4 ? 0x40 : 0x48) + o.reg);
        } else {
            op_sz(g, &o, sz, 0xfe, rn(g, 2));
            rm_modrm(g, &o, k - 4);
        }
        eff(g, DT_ARITH & ~DT_CF, 0);
    }
    return 0;
}

static int item_mul(struct g *g)
{
    int sz = sz_pick(g), k = (int)rn(g, 5);
    struct rm o;
    if (k <= 1) { /* mul, imul r/m */
        rm_pick(g, &o, sz, sz == 1 ? 0xff : R_ALL, 0, 1, 1);
        op_sz(g, &o, sz, 0xf6, 0);
        rm_modrm(g, &o, 4 + k);
    } else {     /* imul r, r/m (0F AF), imul r, r/m, imm (6B/69) */
        if (sz == 1) sz = 4;
        rm_pick(g, &o, sz, R_ALL, 0, 1, 1);
        int r = pick_reg(g, R_ALL);
        rm_seg(g, &o);
        if (sz == 2) b(g, 0x66);
        if (k == 2) { b(g, 0x0f); b(g, 0xaf); rm_modrm(g, &o, r); }
        else if (k == 3) { b(g, 0x6b); rm_modrm(g, &o, r); b(g, val(g)); }
        else { b(g, 0x69); rm_modrm(g, &o, r); imm(g, sz, val(g)); }
    }
    eff(g, DT_CF | DT_OF, DT_SF | DT_ZF | DT_AF | DT_PF);
    return 0;
}

static uint32_t nz(struct g *g, uint32_t mask)
{
    uint32_t v;
    do v = val(g) & mask; while (!v);
    return v;
}

/* div/idiv with operands that cannot raise #DE. */
static int item_div(struct g *g)
{
    int sz = sz_pick(g), sgn = (int)rn(g, 2);
    uint32_t mask = sz == 4 ? 0xffffffffu : sz == 2 ? 0xffffu : 0xffu;
    int bits = 8 * sz;
    uint32_t d = nz(g, mask);
    uint64_t dividend;

    if (!sgn) {
        uint32_t hi = d > 1 ? rnd(g) % d : 0;
        uint32_t lo = val(g) & mask;
        dividend = (uint64_t)hi << bits | lo;
    } else {
        int32_t ds = sz == 4 ? (int32_t)d : sz == 2 ? (int16_t)d : (int8_t)d;
        int64_t qmax = (int64_t)1 << (bits - 1);
        int64_t q = (int64_t)(int32_t)val(g) % qmax;
        if (rn(g, 8) == 0) q = rn(g, 2) ? -qmax : qmax - 1;
        uint32_t ad = (uint32_t)(ds < 0 ? -(int64_t)ds : ds);
        int64_t r = ad > 1 ? (int64_t)(rnd(g) % ad) : 0;
        int64_t n = q * ds;
        if (n < 0 || (n == 0 && rn(g, 2))) n -= r;
        else n += r;
        dividend = (uint64_t)n;
    }
    /* Divisor: a register other than the dividend's, or memory. */
    struct rm o;
    uint32_t allowed = sz == 1 ? 0xeeu : (R_ALL & ~0x05u); /* 8-bit: not AL/AH */
    o.is_mem = rn(g, 3) == 0;
    if (o.is_mem) {
        o.m.addr = pick_addr(g, (uint32_t)sz);
        o.m.kind = 0;
        o.m.seg = 0;
        if (sz == 4) mov_mi32(g, o.m.addr, d);
        else if (sz == 2) mov_mi16(g, o.m.addr, d);
        else { b(g, 0xc6); b(g, 0x05); d32(g, o.m.addr); b(g, d); }
    } else {
        o.reg = sz == 1 ? (int)rn(g, 8) : pick_reg(g, allowed);
        while (!(allowed >> o.reg & 1))
            o.reg = (int)rn(g, 8);
        if (sz == 1) { b(g, 0xb0 + o.reg); b(g, d); }
        else mov_ri(g, o.reg, d | (rnd(g) & ~mask));
    }
    if (sz == 1) { b(g, 0x66); b(g, 0xb8); d16(g, (uint32_t)dividend); }
    else {
        uint32_t hm = rnd(g) & ~mask;
        mov_ri(g, DT_EAX, ((uint32_t)dividend & mask) | hm);
        mov_ri(g, DT_EDX, ((uint32_t)(dividend >> bits) & mask) | hm);
    }
    op_sz(g, &o, sz, 0xf6, 0);
    rm_modrm(g, &o, 6 + sgn);
    eff(g, 0, DT_ARITH);
    return 0;
}

static const uint8_t counts[] = { 0, 1, 1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 255, 5 };

/* Flags after a shift/rotate of an sz-byte operand by count c (masked). */
static void shift_flags(struct g *g, int op, int sz, int known, uint32_t c)
{
    uint32_t bits = 8u * (uint32_t)sz, ud, wr;
    int rot = op < 4;
    c &= 31;
    if (!known) { /* any count: the union of every outcome */
        ud = DT_OF | (rot ? 0 : DT_AF) | (!rot && op != 7 && sz < 4 ? DT_CF : 0);
        g->undef |= ud;
        return;
    }
    if (c == 0)
        return;
    if (rot) {
        wr = DT_CF | (c == 1 ? DT_OF : 0);
        ud = c == 1 ? 0 : DT_OF;
    } else {
        wr = DT_CF | DT_SF | DT_ZF | DT_PF | (c == 1 ? DT_OF : 0);
        ud = DT_AF | (c == 1 ? 0 : DT_OF);
        if (op != 7 && c >= bits) { wr &= ~DT_CF; ud |= DT_CF; }
    }
    eff(g, wr, ud);
}

static int item_shift(struct g *g)
{
    static const int ops[] = { 0, 1, 2, 3, 4, 5, 7, 4, 5, 7 };
    int op = ops[rn(g, 10)], sz = sz_pick(g), form = (int)rn(g, 4);
    struct rm o;
    uint32_t c = 0;
    int known = 1;
    if (form == 3) { /* by CL: set it, or take whatever ECX holds */
        known = rn(g, 2);
        if (known) { c = counts[rn(g, sizeof counts)]; b(g, 0xb1); b(g, c); }
    }
    rm_pick(g, &o, (uint32_t)sz, form == 3 ? (sz == 1 ? 0xfd : R_ALL & ~2u) : (sz == 1 ? 0xff : R_ALL),
            form == 3 ? 2u : 0, 0, 1);
    if (form == 3 && !known) {
        /* no preparation: the count comes from the state */
    }
    need(g, op == 2 || op == 3 ? DT_CF : 0);
    if (form == 3) {
        op_sz(g, &o, sz, 0xd2, 0);
        rm_modrm(g, &o, op);
    } else if (form == 2) {
        op_sz(g, &o, sz, 0xd0, 0);
        rm_modrm(g, &o, op);
        c = 1;
    } else {
        c = form == 0 ? counts[rn(g, sizeof counts)] : rn(g, 256);
        op_sz(g, &o, sz, 0xc0, 0);
        rm_modrm(g, &o, op);
        b(g, c);
    }
    shift_flags(g, op, sz, known, c);
    return 0;
}

static int item_shld(struct g *g)
{
    int sz = rn(g, 3) ? 4 : 2, right = (int)rn(g, 2), bycl = (int)rn(g, 2);
    uint32_t c = counts[rn(g, sizeof counts)];
    if (sz == 2 && (c & 31) > 16)
        c = 16; /* larger counts leave a 16-bit result undefined */
    struct rm o;
    if (bycl) { b(g, 0xb1); b(g, c); }
    rm_pick(g, &o, (uint32_t)sz, R_ALL & ~2u, 2u, 0, 1);
    rm_seg(g, &o);
    if (sz == 2) b(g, 0x66);
    b(g, 0x0f);
    b(g, (right ? 0xac : 0xa4) | bycl);
    rm_modrm(g, &o, (int)rn(g, 8));
    if (!bycl) b(g, c);
    c &= 31;
    if (c)
        eff(g, DT_CF | DT_SF | DT_ZF | DT_PF | (c == 1 ? DT_OF : 0), DT_AF | (c == 1 ? 0 : DT_OF));
    return 0;
}

static int item_bitop(struct g *g)
{
    int sz = rn(g, 3) ? 4 : 2, op = (int)rn(g, 4), form = (int)rn(g, 3);
    int lock = op && rn(g, 3) == 0;
    struct rm o;
    if (form == 0) { /* register offset into memory: offsets beyond the operand */
        int r = pick_reg(g, R_ALL);
        int32_t off = (int32_t)rn(g, 2001) - 1000;
        int32_t bits = 8 * sz, unit = off >= 0 ? off / bits : -((-off + bits - 1) / bits);
        uint32_t t = pick_addr(g, (uint32_t)sz);
        o.is_mem = 1;
        mov_ri(g, r, (uint32_t)off);
        mem_prep(g, &o.m, t - (uint32_t)(unit * sz), 1u << r, op == 0);
        rm_seg(g, &o);
        if (sz == 2) b(g, 0x66);
        if (lock) b(g, 0xf0);
        b(g, 0x0f); b(g, 0xa3 | op << 3);
        rm_modrm(g, &o, r);
    } else if (form == 1) { /* register or memory, register offset taken mod size */
        rm_pick(g, &o, (uint32_t)sz, R_ALL, 0, op == 0, 0);
        if (sz == 2) b(g, 0x66);
        b(g, 0x0f); b(g, 0xa3 | op << 3);
        rm_modrm(g, &o, (int)rn(g, 8));
    } else { /* immediate offset */
        rm_pick(g, &o, (uint32_t)sz, R_ALL, 0, op == 0, 1);
        rm_seg(g, &o);
        if (sz == 2) b(g, 0x66);
        if (lock && o.is_mem) b(g, 0xf0);
        b(g, 0x0f); b(g, 0xba);
        rm_modrm(g, &o, 4 + op);
        b(g, rnd(g));
    }
    eff(g, DT_CF, DT_OF | DT_SF | DT_AF | DT_PF);
    return 0;
}

static int item_bsf(struct g *g)
{
    int sz = rn(g, 3) ? 4 : 2;
    struct rm o;
    rm_pick(g, &o, (uint32_t)sz, R_ALL, 0, 1, 1);
    if (!o.is_mem && rn(g, 4) == 0)
        mov_ri(g, o.reg, rn(g, 2) ? 0 : 1u << rn(g, 32));
    rm_seg(g, &o);
    if (sz == 2) b(g, 0x66);
    b(g, 0x0f); b(g, 0xbc | rn(g, 2));
    rm_modrm(g, &o, pick_reg(g, R_ALL));
    eff(g, DT_ZF, DT_CF | DT_OF | DT_SF | DT_AF | DT_PF);
    return 0;
}

static int item_bcd(struct g *g)
{
    int k = (int)rn(g, 6);
    if (rn(g, 2)) { /* AX with decimal-looking digits */
        b(g, 0x66); b(g, 0xb8); d16(g, val(g));
    }
    switch (k) {
    case 0: case 1: /* daa, das */
        need(g, DT_CF | DT_AF);
        b(g, k ? 0x2f : 0x27);
        eff(g, DT_CF | DT_AF | DT_SF | DT_ZF | DT_PF, DT_OF);
        break;
    case 2: case 3: /* aaa, aas */
        need(g, DT_AF);
        b(g, k == 2 ? 0x37 : 0x3f);
        eff(g, DT_AF | DT_CF, DT_OF | DT_SF | DT_ZF | DT_PF);
        break;
    default: /* aam, aad with base 10 or another non-zero base */
        b(g, k == 4 ? 0xd4 : 0xd5);
        b(g, rn(g, 2) ? 10 : 1 + rn(g, 255));
        eff(g, DT_SF | DT_ZF | DT_PF, DT_OF | DT_AF | DT_CF);
    }
    return 0;
}

/* Instructions without flag effects, also used as jump-over filler. */
static void emit_plain(struct g *g, uint32_t avoid)
{
    int r = pick_reg(g, R_ALL & ~avoid);
    switch (rn(g, 3)) {
    case 0: mov_ri(g, r, val(g)); break;
    case 1: b(g, 0xf7); b(g, 0xd0 | r); break;  /* not */
    default: b(g, 0x0f); b(g, 0xc8 | r); break; /* bswap */
    }
}

static int item_move(struct g *g)
{
    struct rm o;
    int k = (int)rn(g, 12), r = pick_reg(g, R_ALL), sz;
    switch (k) {
    case 0: case 1: /* mov r/m, r and r, r/m */
        sz = sz_pick(g);
        rm_pick(g, &o, (uint32_t)sz, sz == 1 ? 0xff : R_ALL, 0, k, 1);
        op_sz(g, &o, sz, 0x88 | (uint32_t)k << 1, 0);
        rm_modrm(g, &o, sz == 1 ? (int)rn(g, 8) : r);
        break;
    case 2: /* movzx, movsx */
        sz = 1 + (int)rn(g, 2);
        rm_pick(g, &o, (uint32_t)sz, 0xff, 0, 1, 1);
        rm_seg(g, &o);
        if (rn(g, 4) == 0) b(g, 0x66);
        b(g, 0x0f); b(g, 0xb6 | (sz == 2) | rn(g, 2) << 3);
        rm_modrm(g, &o, r);
        break;
    case 3: /* xchg */
        sz = sz_pick(g);
        rm_pick(g, &o, (uint32_t)sz, sz == 1 ? 0xff : R_ALL, 0, 0, 1);
        op_sz(g, &o, sz, 0x86, 0);
        rm_modrm(g, &o, sz == 1 ? (int)rn(g, 8) : r);
        break;
    case 4: /* cbw/cwde/cwd/cdq */
        if (rn(g, 2)) b(g, 0x66);
        b(g, 0x98 | rn(g, 2));
        break;
    case 5: /* lea: an address computation, no access */
        o.is_mem = 1;
        mem_prep(g, &o.m, val(g), 0, 1);
        if (rn(g, 4) == 0) b(g, 0x66);
        b(g, 0x8d);
        mem_modrm(g, &o.m, r);
        break;
    case 6: /* setcc */
        sz = (int)rn(g, 16);
        rm_pick(g, &o, 1, 0xff, 0, 0, 1);
        need(g, cc_reads[sz]);
        rm_seg(g, &o);
        b(g, 0x0f); b(g, 0x90 + sz);
        rm_modrm(g, &o, 0);
        break;
    case 7: /* cmovcc */
        sz = (int)rn(g, 16);
        rm_pick(g, &o, 4, R_ALL, 0, 1, 1);
        need(g, cc_reads[sz]);
        rm_seg(g, &o);
        if (rn(g, 4) == 0) b(g, 0x66);
        b(g, 0x0f); b(g, 0x40 + sz);
        rm_modrm(g, &o, r);
        break;
    case 8: /* xlat: EBX at the window's start, any AL */
        mov_ri(g, DT_EBX, DT_WIN);
        b(g, 0xd7);
        break;
    case 9: /* lahf, sahf */
        if (rn(g, 2)) {
            need(g, DT_ARITH & ~DT_OF);
            b(g, 0x9f);
        } else {
            b(g, 0xb4); b(g, rnd(g));
            b(g, 0x9e);
            eff(g, DT_ARITH & ~DT_OF, 0);
        }
        break;
    case 10: { /* clc stc cmc cld std */
        static const uint8_t f[] = { 0xf8, 0xf9, 0xf5, 0xfc, 0xfd };
        int i = (int)rn(g, 5);
        if (i == 2) need(g, DT_CF);
        b(g, f[i]);
        if (i < 3) eff(g, DT_CF, 0);
        break;
    }
    default: emit_plain(g, 0);
    }
    return 0;
}

static int item_cmpxchg(struct g *g)
{
    struct rm o;
    int k = (int)rn(g, 3), sz = sz_pick(g), lock = rn(g, 2);
    if (k == 2) { /* cmpxchg8b m64 */
        o.is_mem = 1;
        mem_prep(g, &o.m, pick_addr(g, 8), 0x0f, 0);
        if (rn(g, 2)) { /* make the compare succeed sometimes */
            b(g, 0x8b); b(g, 0x05); d32(g, o.m.addr);     /* mov eax, [a] */
            b(g, 0x8b); b(g, 0x15); d32(g, o.m.addr + 4); /* mov edx, [a+4] */
        }
        rm_seg(g, &o);
        if (lock) b(g, 0xf0);
        b(g, 0x0f); b(g, 0xc7);
        rm_modrm(g, &o, 1);
        eff(g, DT_ZF, 0);
        return 0;
    }
    rm_pick(g, &o, (uint32_t)sz, sz == 1 ? 0xff : R_ALL, 0, 0, 1);
    rm_seg(g, &o);
    if (sz == 2) b(g, 0x66);
    if (lock && o.is_mem) b(g, 0xf0);
    b(g, 0x0f); b(g, (k ? 0xc0 : 0xb0) | (sz > 1));
    rm_modrm(g, &o, k && sz > 1 ? pick_reg(g, R_ALL) : (int)rn(g, 8)); /* xadd writes both */
    eff(g, DT_ARITH, 0);
    return 0;
}

/* String instructions with REP and either direction, inside the window. */
static int item_string(struct g *g)
{
    static const uint8_t ops[] = { 0xa4, 0xa6, 0xaa, 0xac, 0xae }; /* movs cmps stos lods scas */
    int k = (int)rn(g, 5), sz = sz_pick(g), down = (int)rn(g, 2), rep = (int)rn(g, 3);
    uint32_t n = rep ? rn(g, 13) : 1, span = n * (uint32_t)sz + (uint32_t)sz;
    uint32_t lo = DT_WIN + span, hi = DT_WIN + DT_WIN_SIZE - span;
    uint32_t si = lo + rn(g, hi - lo), di = lo + rn(g, hi - lo);
    if (rn(g, 3) == 0) si = di = DT_DATA + 0x1000 - sz * rn(g, 4); /* over the page boundary */
    mov_ri(g, DT_ESI, si);
    mov_ri(g, DT_EDI, di);
    if (rep) mov_ri(g, DT_ECX, n);
    b(g, down ? 0xfd : 0xfc);
    if (k == 1 && rn(g, 4) == 0) b(g, 0x36); /* a source segment override */
    if (rep) b(g, k == 1 || k == 4 ? (rn(g, 2) ? 0xf3 : 0xf2) : 0xf3);
    if (sz == 2) b(g, 0x66);
    b(g, ops[k] | (sz > 1));
    if ((k == 1 || k == 4) && n)
        eff(g, DT_ARITH, 0);
    return 0;
}

/* A value for POPF: arithmetic flags, DF, and at CPL 3 also IF and IOPL
 * bits, which it ignores there; at CPL 0 IF stays set and IOPL 0. */
static uint32_t popf_value(struct g *g)
{
    if (g->cpl0)
        return 0x202 | (rnd(g) & (DT_ARITH | DT_DF));
    return 0x2 | (rnd(g) & (DT_ARITH | DT_DF | DT_IF | 0x3000u));
}

/* Stack: push/pop forms, pushf/popf, pusha/popa, enter/leave. ESP tracked. */
static int item_stack(struct g *g)
{
    int k = (int)rn(g, 10), r = pick_reg(g, R_ALL);
    uint32_t room = g->esp - (DT_WIN + 40), above = DT_WIN + DT_WIN_SIZE - g->esp;
    switch (k) {
    case 0: /* push r32/r16 */
        if (room < 4) return -1;
        if (rn(g, 4) == 0) { b(g, 0x66); g->esp -= 2; } else g->esp -= 4;
        b(g, 0x50 + rn(g, 8));
        break;
    case 1: /* pop r */
        if (above < 4) return -1;
        if (rn(g, 4) == 0) { b(g, 0x66); g->esp += 2; } else g->esp += 4;
        b(g, 0x58 + r);
        break;
    case 2: /* push imm (32-bit, or 16-bit with 66h) */
        if (room < 4) return -1;
        if (rn(g, 4) == 0) {
            b(g, 0x66);
            if (rn(g, 2)) { b(g, 0x6a); b(g, rnd(g)); } else { b(g, 0x68); d16(g, val(g)); }
            g->esp -= 2;
            break;
        }
        if (rn(g, 2)) { b(g, 0x6a); b(g, rnd(g)); } else { b(g, 0x68); d32(g, val(g)); }
        g->esp -= 4;
        break;
    case 3: { /* push m, pop m */
        struct mem m;
        int pop = (int)rn(g, 2);
        if (pop ? above < 4 : room < 4) return -1;
        mem_prep(g, &m, pick_addr(g, 4), 0, !pop);
        if (m.seg) b(g, m.seg);
        b(g, pop ? 0x8f : 0xff);
        mem_modrm(g, &m, pop ? 0 : 6);
        g->esp += pop ? 4 : (uint32_t)-4;
        break;
    }
    case 4: /* pushf */
        if (room < 4) return -1;
        need(g, DT_ARITH);
        b(g, 0x9c);
        g->esp -= 4;
        break;
    case 5: /* popf of a chosen value: arithmetic flags, DF, IF and IOPL (ignored at CPL 3) */
        if (room < 4) return -1;
        if (rn(g, 3) == 0) { /* the 16-bit forms: pushfw, then popfw of a pushw imm16 */
            need(g, DT_ARITH);
            b(g, 0x66); b(g, 0x9c);
            b(g, 0x66); b(g, 0x68); d16(g, popf_value(g));
            b(g, 0x66); b(g, 0x9d);
            g->esp -= 2;
        } else {
            b(g, 0x68); d32(g, popf_value(g));
            b(g, 0x9d);
        }
        eff(g, DT_ARITH, 0);
        break;
    case 6: /* pusha */
        if (room < 32) return -1;
        if (rn(g, 4) == 0) { b(g, 0x66); g->esp -= 16; } else g->esp -= 32;
        b(g, 0x60);
        break;
    case 7: /* popa, popaw */
        if (above < 32) return -1;
        if (rn(g, 4) == 0) { b(g, 0x66); g->esp += 16; } else g->esp += 32;
        b(g, 0x61);
        break;
    default: { /* enter n, level; leave */
        uint32_t n = rn(g, 5) * 4, lvl = rn(g, 3);
        if (room < 4 + n + 4 * lvl + 8) return -1;
        mov_ri(g, DT_EBP, g->esp - 4 * rn(g, 4)); /* the frames a level > 0 copies */
        b(g, 0xc8); d16(g, n); b(g, lvl);
        if (rn(g, 2)) emit_plain(g, 1u << DT_EBP);
        b(g, 0xc9);
        break;
    }
    }
    return 0;
}

/* Selectors a CPL-3 flat program may load: the flat data segment, the
 * readable code segment (FS/GS only) and the null selector (FS/GS only).
 * Not null with RPL 1-3: the host's IRET back to user mode after an
 * interrupt clears such a selector to 0, so the native reference would
 * differ at random (seen as FS 0003 under btvm, 0000 natively). */
static uint32_t pick_sel(struct g *g, int sreg)
{
    if (sreg != DT_FS && sreg != DT_GS)
        return DT_SEL_DS;
    switch (rn(g, 4)) {
    case 0: return g->cpl0 ? DT_SEL_DS : DT_SEL_CS; /* at CPL 0, 0x20 is a DPL-0 code segment */
    case 1: return 0;
    default: return DT_SEL_DS;
    }
}

static int item_seg(struct g *g)
{
    static const uint8_t sregs[] = { DT_ES, DT_SS, DT_DS, DT_FS, DT_GS };
    int k = (int)rn(g, 8), sr = sregs[rn(g, 5)], r = pick_reg(g, R_ALL);
    uint32_t room = g->esp - (DT_WIN + 40);
    struct rm o;
    switch (k) {
    case 0: /* mov sreg, r/m16 */
        o.is_mem = rn(g, 2);
        if (o.is_mem) {
            mem_prep(g, &o.m, pick_addr(g, 2), 0, 1);
            mov_mi16(g, o.m.addr, pick_sel(g, sr));
        } else {
            o.reg = r;
            mov_ri(g, r, pick_sel(g, sr) | (rnd(g) & 0xffff0000u));
        }
        rm_seg(g, &o);
        b(g, 0x8e);
        rm_modrm(g, &o, sr);
        break;
    case 1: /* mov r/m, sreg (32-bit register form zero-extends) */
        rm_pick(g, &o, 2, R_ALL, 0, 0, 1);
        rm_seg(g, &o);
        if (rn(g, 3) == 0) b(g, 0x66);
        b(g, 0x8c);
        rm_modrm(g, &o, (int)rn(g, 6));
        break;
    case 2: { /* push sreg, pop sreg */
        static const uint8_t push1[] = { 0x06, 0x0e, 0x16, 0x1e };
        if (room < 8) return -1;
        int s = (int)rn(g, 6);
        if (s < 4) b(g, push1[s]);
        else { b(g, 0x0f); b(g, s == 4 ? 0xa0 : 0xa8); }
        /* A 32-bit push of a segment register writes 16 bits (Intel) or
         * the selector zero-extended (AMD): the SDM allows both, so the
         * slot's upper half is cleared before anything compares it. */
        b(g, 0x66); b(g, 0xc7); b(g, 0x44); b(g, 0x24); b(g, 0x02); b(g, 0x00); b(g, 0x00);
        b(g, 0x68); d32(g, pick_sel(g, sr)); /* then pop a chosen one */
        if (sr == DT_ES) b(g, 0x07);
        else if (sr == DT_SS) b(g, 0x17);
        else if (sr == DT_DS) b(g, 0x1f);
        else { b(g, 0x0f); b(g, sr == DT_FS ? 0xa1 : 0xa9); }
        g->esp -= 4;
        break;
    }
    case 3: { /* FS or GS made flat, then an access through it */
        int gs = (int)rn(g, 2), sz = sz_pick(g), st = (int)rn(g, 2);
        mov_ri(g, r, DT_SEL_DS);
        b(g, 0x8e); b(g, 0xc0 | (gs ? DT_GS : DT_FS) << 3 | r);
        o.is_mem = 1;
        mem_prep(g, &o.m, pick_addr(g, (uint32_t)sz), 0, !st);
        b(g, gs ? 0x65 : 0x64);
        if (sz == 2) b(g, 0x66);
        b(g, (st ? 0x88 : 0x8a) | (sz > 1));
        mem_modrm(g, &o.m, sz == 1 ? (int)rn(g, 8) : pick_reg(g, R_ALL));
        break;
    }
    case 4: { /* iret to the same privilege level: EFLAGS (IF, IOPL kept at CPL 3), CS, EIP */
        if (room < 16) return -1;
        uint8_t *fix;
        b(g, 0x68); d32(g, 0x2 | (rnd(g) & (DT_ARITH | DT_DF | DT_IF | 0x3000u)));
        b(g, 0x68); d32(g, DT_SEL_CS);
        b(g, 0x68); fix = g->p; d32(g, 0);
        b(g, 0xcf);
        uint32_t t = pc(g) + rn(g, 3);
        while (pc(g) < t) b(g, 0xcc);
        fix[0] = (uint8_t)t; fix[1] = (uint8_t)(t >> 8); fix[2] = (uint8_t)(t >> 16); fix[3] = (uint8_t)(t >> 24);
        eff(g, DT_ARITH, 0);
        break;
    }
    default: { /* lds les lfs lgs lss: offset into r, selector into the sreg */
        static const uint8_t ld_sr[] = { DT_DS, DT_ES, DT_FS, DT_GS, DT_SS };
        int which = (int)rn(g, 5), o16 = rn(g, 4) == 0;
        o.is_mem = 1;
        mem_prep(g, &o.m, pick_addr(g, 6), 0, 1);
        mov_mi32(g, o.m.addr, val(g));
        mov_mi16(g, o.m.addr + (o16 ? 2 : 4), pick_sel(g, ld_sr[which]));
        rm_seg(g, &o);
        if (o16) b(g, 0x66);
        if (which == 0) b(g, 0xc5);
        else if (which == 1) b(g, 0xc4);
        else { b(g, 0x0f); b(g, which == 2 ? 0xb4 : which == 3 ? 0xb5 : 0xb2); }
        rm_modrm(g, &o, r);
    }
    }
    return 0;
}

/* Instructions without a 64-bit form, which btvm must emulate or rewrite,
 * and some rarer encodings: BOUND in range, ARPL, LAR/LSL/VERR/VERW,
 * INTO with OF clear, MOV moffs, XCHG EAX,r, 16-bit-address LEA, LOOP
 * and JCXZ on CX. */
static int item_misc(struct g *g)
{
    /* Selectors that mean the same in the guest's GDT and in Linux's. */
    static const uint8_t sels[] = { 0, 3, 4, 8, 0xb, 0x10, 0x13, 0x20, 0x23, 0x28, 0x2b };
    int k = (int)rn(g, 9), r = pick_reg(g, R_ALL);
    struct rm o;
    switch (k) {
    case 0: { /* bound r32, m32&32 with the index inside */
        int64_t lo = (int32_t)val(g), hi = lo + rn(g, 1000);
        if (hi > INT32_MAX) hi = INT32_MAX;
        o.is_mem = 1;
        mem_prep(g, &o.m, pick_addr(g, 8), 1u << r, 1);
        mov_mi32(g, o.m.addr, (uint32_t)lo);
        mov_mi32(g, o.m.addr + 4, (uint32_t)hi);
        mov_ri(g, r, (uint32_t)(lo + rn(g, (uint32_t)(hi - lo) + 1)));
        rm_seg(g, &o);
        b(g, 0x62);
        rm_modrm(g, &o, r);
        break;
    }
    case 1: /* arpl r/m16, r16 */
        rm_pick(g, &o, 2, R_ALL, 0, 0, 1);
        rm_seg(g, &o);
        b(g, 0x63);
        rm_modrm(g, &o, (int)rn(g, 8));
        eff(g, DT_ZF, 0);
        break;
    case 2: { /* lar, lsl (r, r/m16); verr, verw (r/m16) */
        int op = (int)rn(g, 4);
        o.is_mem = rn(g, 2);
        uint32_t sel = sels[rn(g, sizeof sels)];
        if (o.is_mem) {
            mem_prep(g, &o.m, pick_addr(g, 2), 0, 1);
            mov_mi16(g, o.m.addr, sel);
        } else {
            o.reg = pick_reg(g, R_ALL & ~(1u << r));
            mov_ri(g, o.reg, sel | (rnd(g) & 0xffff0000u));
        }
        rm_seg(g, &o);
        if (op < 2 && rn(g, 4) == 0) b(g, 0x66);
        b(g, 0x0f);
        if (op < 2) { b(g, 0x02 + op); rm_modrm(g, &o, r); }
        else { b(g, 0x00); rm_modrm(g, &o, op + 2); }
        eff(g, DT_ZF, 0);
        break;
    }
    case 3: /* into after an instruction that clears OF */
        b(g, 0x85); b(g, 0xc0 | rn(g, 8) << 3 | rn(g, 8)); /* test r32, r32 */
        b(g, 0xce);
        eff(g, DT_ARITH & ~DT_AF, DT_AF);
        break;
    case 4: { /* mov al/ax/eax <-> moffs */
        int sz = sz_pick(g), st = (int)rn(g, 2);
        if (rn(g, 6) == 0) b(g, rn(g, 2) ? 0x36 : 0x26);
        if (sz == 2) b(g, 0x66);
        b(g, 0xa0 | st << 1 | (sz > 1));
        d32(g, pick_addr(g, (uint32_t)sz));
        break;
    }
    case 5: /* xchg eax, r (one byte) */
        if (rn(g, 3) == 0) b(g, 0x66);
        b(g, 0x90 + r);
        break;
    case 6: { /* lea with 16-bit addressing: computed, never accessed */
        int mod = (int)rn(g, 3), rmf = (int)rn(g, 8);
        if (rn(g, 2)) b(g, 0x66);
        b(g, 0x67); b(g, 0x8d);
        b(g, mod << 6 | r << 3 | rmf);
        if (mod == 1) b(g, rnd(g));
        else if (mod == 2 || (mod == 0 && rmf == 6)) d16(g, rnd(g));
        break;
    }
    default: { /* loop/loope/loopne/jcxz with a 16-bit counter (67h) */
        int op = (int)rn(g, 4);
        uint8_t *fix;
        if (op <= 1) need(g, DT_ZF);
        if (rn(g, 2)) mov_ri(g, DT_ECX, rn(g, 2) ? 0x10000 + rn(g, 3) : rnd(g));
        b(g, 0x67); b(g, 0xe0 + op); fix = g->p; b(g, 0);
        uint8_t *s0 = g->p;
        emit_plain(g, 0);
        fix[0] = (uint8_t)(g->p - s0);
    }
    }
    return 0;
}

/* Code that changes: a store into an instruction further on (its
 * immediate, now and then its opcode), and short backward loops. */
static int item_code(struct g *g)
{
    int k = (int)rn(g, 3), r = pick_reg(g, R_ALL);
    if (k < 2) {
        /* mov [imm of the mov below], v ; (filler) ; mov r, imm32 */
        uint8_t *st = g->p;
        int byte = rn(g, 3) == 0;
        if (byte) { b(g, 0xc6); b(g, 0x05); d32(g, 0); b(g, rnd(g)); }
        else mov_mi32(g, 0, val(g));
        if (k == 1) emit_plain(g, 1u << r);
        uint32_t at = pc(g) + 1 + (byte ? rn(g, 4) : 0);
        if (byte && rn(g, 4) == 0) {
            /* the opcode itself: mov r, imm32 becomes mov r', imm32 */
            at = pc(g);
            st[6] = (uint8_t)(0xb8 + pick_reg(g, R_ALL));
        }
        st[2] = (uint8_t)at; st[3] = (uint8_t)(at >> 8); st[4] = (uint8_t)(at >> 16); st[5] = (uint8_t)(at >> 24);
        mov_ri(g, r, val(g));
        return 0;
    }
    /* mov ecx, n ; L: op r, r/imm ; loop L */
    int op = (int)rn(g, 8), rr = pick_reg(g, R_ALL & ~2u);
    mov_ri(g, DT_ECX, 1 + rn(g, 6));
    uint32_t top = pc(g);
    if (op == 2 || op == 3) need(g, DT_CF);
    b(g, 0x81); b(g, 0xc0 | op << 3 | rr); d32(g, val(g));
    b(g, 0xe2); b(g, (uint8_t)(top - (pc(g) + 1)));
    uint32_t ud = (op == 1 || op == 4 || op == 6) ? DT_AF : 0;
    eff(g, DT_ARITH & ~ud, ud);
    return 0;
}

/* The last item of some sequences: an instruction that raises an
 * exception, compared by vector, error code, EIP, CR2 and the state at the
 * fault (registers partly updated by a REP string instruction included). */
static int item_fault(struct g *g)
{
    static const uint8_t r8s[] = { 1, 2, 3, 5, 6, 7 }; /* not AL, AH */
    int k = (int)rn(g, 18), r = pick_reg(g, R_ALL & ~0x05u);
    struct mem m;
    switch (k) {
    case 0: { /* #DE: divide by zero */
        int sz = sz_pick(g), sgn = (int)rn(g, 2);
        if (sz == 1) {
            int r8 = r8s[rn(g, sizeof r8s)];
            b(g, 0xb0 + r8); b(g, 0);
            b(g, 0xf6); b(g, 0xc0 | (6 + sgn) << 3 | r8);
        } else {
            mov_ri(g, r, rnd(g) & (sz == 2 ? 0xffff0000u : 0));
            if (sz == 2) b(g, 0x66);
            b(g, 0xf7); b(g, 0xc0 | (6 + sgn) << 3 | r);
        }
        break;
    }
    case 1: { /* #DE: quotient too large (DIV, or IDIV of INT_MIN by -1) */
        if (rn(g, 2)) {
            uint32_t d = 1 + rn(g, 1000);
            mov_ri(g, r, d);
            mov_ri(g, DT_EDX, d + rn(g, 1000));
            b(g, 0xf7); b(g, 0xf0 | r);
        } else {
            mov_ri(g, r, 0xffffffff);
            mov_ri(g, DT_EAX, 0x80000000u);
            mov_ri(g, DT_EDX, 0xffffffff);
            b(g, 0xf7); b(g, 0xf8 | r);
        }
        break;
    }
    case 2: /* #DE: aam 0 */
        b(g, 0xd4); b(g, 0);
        break;
    case 3: { /* #BR: bound with the index outside */
        int64_t lo = (int32_t)val(g) / 2, hi = lo + rn(g, 1000);
        m.kind = 0;
        mem_prep(g, &m, pick_addr(g, 8), 1u << r, 1);
        mov_mi32(g, m.addr, (uint32_t)lo);
        mov_mi32(g, m.addr + 4, (uint32_t)hi);
        mov_ri(g, r, (uint32_t)(rn(g, 2) ? hi + 1 + rn(g, 100) : lo - 1 - rn(g, 100)));
        if (m.seg) b(g, m.seg);
        b(g, 0x62);
        mem_modrm(g, &m, r);
        break;
    }
    case 4: /* #OF: into after an add that overflows (a trap: EIP after it) */
        b(g, 0xb0); b(g, 0x7f); b(g, 0x04); b(g, 0x01); /* mov al, 7fh; add al, 1 */
        eff(g, DT_ARITH, 0);
        b(g, 0xce);
        break;
    case 5: /* #BP: int3 or int 3 */
        if (rn(g, 2)) b(g, 0xcc); else { b(g, 0xcd); b(g, 3); }
        break;
    case 6: /* #UD */
        b(g, 0x0f); b(g, 0x0b);
        break;
    case 7: { /* #GP(selector): a DPL-0 segment into DS, a code segment or null into SS */
        static const uint16_t bad[] = { 0x08, 0x0b, 0x10, 0x13 };
        int ss = (int)rn(g, 3) == 0;
        mov_ri(g, r, ss ? (rn(g, 2) ? DT_SEL_CS : rn(g, 4)) : bad[rn(g, 4)]);
        b(g, 0x8e); b(g, 0xc0 | (ss ? DT_SS : rn(g, 2) ? DT_DS : DT_ES) << 3 | r);
        break;
    }
    case 8: { /* #GP(0): privileged or I/O-sensitive at CPL 3 */
        switch (rn(g, 4)) {
        case 0: b(g, 0xfa); break;                       /* cli */
        case 1: b(g, 0xf4); break;                       /* hlt */
        case 2: b(g, 0x0f); b(g, 0x20); b(g, 0xc0 | r); break; /* mov r, cr0 */
        default: b(g, 0xe4); b(g, 0x80); break;          /* in al, 80h */
        }
        break;
    }
    case 9: { /* #PF: a load or store at an unmapped address */
        int st = (int)rn(g, 2), sz = sz_pick(g);
        mem_prep(g, &m, DT_UNMAPPED + rn(g, 0x1000), 0, !st);
        if (m.seg) b(g, m.seg);
        if (sz == 2) b(g, 0x66);
        b(g, (st ? 0x88 : 0x8a) | (sz > 1));
        mem_modrm(g, &m, sz == 1 ? (int)rn(g, 8) : r);
        break;
    }
    case 10: { /* #PF: an access across into the hole (nothing of it is done) */
        int st = (int)rn(g, 2), sz = 2 + 2 * (int)rn(g, 2);
        m.kind = 0; m.seg = 0;
        mem_prep(g, &m, DT_HOLE - 1 - rn(g, (uint32_t)sz - 1), 0, !st);
        if (m.seg) b(g, m.seg);
        if (sz == 2) b(g, 0x66);
        b(g, st ? 0x89 : 0x8b);
        mem_modrm(g, &m, r);
        break;
    }
    case 12: { /* #XM: an unmasked SSE exception (ZE, IE, OE, UE or PE) */
        static const uint8_t ops[] = { 0x5e, 0x51, 0x59, 0x58, 0x5c }; /* div sqrt mul add sub */
        m.kind = 0; m.seg = 0;
        mem_prep(g, &m, pick_addr(g, 4), 0, 1);
        mov_mi32(g, m.addr, 0x1f80 & ~(0x80u << rn(g, 6)));
        b(g, 0x0f); b(g, 0xae); mem_modrm(g, &m, 2);  /* ldmxcsr */
        b(g, rn(g, 2) ? 0xf3 : 0xf2); b(g, 0x0f); b(g, ops[rn(g, sizeof ops)]);
        b(g, 0xc0 | rn(g, 8) << 3 | rn(g, 8));
        break;
    }
    case 13: { /* #MF: an unmasked x87 exception, raised at the next x87 instruction */
        static const uint8_t ops[] = { 0xf0, 0xf8, 0xc8, 0xc0, 0xe0 }; /* fdiv fdivr fmul fadd fsub st,st(i) */
        m.kind = 0; m.seg = 0;
        mem_prep(g, &m, pick_addr(g, 2), 0, 1);
        b(g, 0xd9); b(g, 0xee);                         /* fldz */
        b(g, 0xd9); b(g, 0xe8);                         /* fld1 */
        mov_mi16(g, m.addr, 0x37f & ~(1u << rn(g, 6)));
        b(g, 0xd9); mem_modrm(g, &m, 5);                /* fldcw */
        b(g, 0xd8); b(g, ops[rn(g, sizeof ops)] | 1);   /* op st, st(1) */
        if (rn(g, 2)) b(g, 0x9b);                       /* fwait */
        else { b(g, 0xd9); b(g, 0xe8); }                /* fld1 */
        break;
    }
    case 14: { /* #GP(n*8+2): INT n through a DPL-0 gate (not 3, 4, 0x80) */
        uint32_t n;
        do n = rn(g, 2) ? rn(g, 32) : rnd(g) & 0xff; while (n == 3 || n == 4 || n == 0x80);
        b(g, 0xcd); b(g, n);
        break;
    }
    case 15: { /* #GP(selector): a far call or jump to a DPL-0 or data segment */
        static const uint16_t bad[] = { 0x08, 0x10, 0x2b, 0x0b };
        b(g, rn(g, 2) ? 0x9a : 0xea); d32(g, pc(g) + 6); d16(g, bad[rn(g, 4)]);
        break;
    }
    case 16: { /* #GP(0): MOVAPS/MOVDQA from a misaligned address */
        m.kind = 0; m.seg = 0;
        mem_prep(g, &m, DT_WIN + 16 * rn(g, 15) + 1 + rn(g, 15), 0, 1);
        if (m.seg) b(g, m.seg);
        if (rn(g, 2)) b(g, 0x66);
        b(g, 0x0f); b(g, rn(g, 2) ? 0x28 : 0x6f);
        if (g->p[-1] == 0x6f && g->p[-3] != 0x66) g->p[-1] = 0x28; /* MMX movq has no alignment */
        mem_modrm(g, &m, (int)rn(g, 8));
        break;
    }
    case 17: { /* #UD: LOCK where it is not allowed, UD0/UD1/UD2, MOV to CS, FF /7 */
        switch (rn(g, 5)) {
        case 0: b(g, 0xf0); b(g, 0x01); b(g, 0xc0 | rn(g, 64)); break; /* lock add r, r */
        case 1: b(g, 0xf0); b(g, 0x90); break;                         /* lock nop */
        case 2: b(g, 0x0f); b(g, 0xb9); b(g, 0xc0 | rn(g, 64)); break; /* ud1 */
        case 3: b(g, 0x8e); b(g, 0xc8 | rn(g, 8)); break;              /* mov cs, r */
        default: b(g, 0xff); b(g, 0xf8 | rn(g, 8)); break;             /* ff /7 */
        }
        break;
    }
    default: { /* #PF: REP MOVS/STOS/LODS running into the hole part-way */
        static const uint8_t ops[] = { 0xa4, 0xaa, 0xac };
        int op = (int)rn(g, 3), sz = sz_pick(g);
        uint32_t near = DT_HOLE - (uint32_t)sz * (1 + rn(g, 12)) - rn(g, (uint32_t)sz);
        mov_ri(g, DT_ESI, op == 2 ? near : DT_WIN + rn(g, 64));
        mov_ri(g, DT_EDI, op == 2 ? DT_WIN + rn(g, 64) : near);
        mov_ri(g, DT_ECX, 14 + rn(g, 8));
        b(g, 0xfc);
        b(g, 0xf3);
        if (sz == 2) b(g, 0x66);
        b(g, ops[op] | (sz > 1));
    }
    }
    return 0;
}

/* Near and far control transfers, always forward or into a stub. */
static int item_branch(struct g *g)
{
    int k = (int)rn(g, 10);
    uint32_t room = g->esp - (DT_WIN + 40), above = DT_WIN + DT_WIN_SIZE - g->esp;
    uint8_t *fix;
    if (g->cpl0 && k >= 5)
        return -1; /* far transfers name CS 0x23, which CPL 0 cannot call */
    switch (k) {
    case 0: { /* jcc rel8/rel32 over filler */
        int cc = (int)rn(g, 16), w = (int)rn(g, 2);
        need(g, cc_reads[cc]);
        if (w) { b(g, 0x0f); b(g, 0x80 + cc); fix = g->p; d32(g, 0); }
        else { b(g, 0x70 + cc); fix = g->p; b(g, 0); }
        uint8_t *s = g->p;
        emit_plain(g, 0);
        uint32_t len = (uint32_t)(g->p - s);
        if (w) { fix[0] = (uint8_t)len; fix[1] = fix[2] = fix[3] = 0; } else fix[0] = (uint8_t)len;
        break;
    }
    case 1: { /* loop, loope, loopne, jecxz over filler */
        int op = (int)rn(g, 4);
        if (op <= 1) need(g, DT_ZF); /* loopne, loope */
        if (rn(g, 2)) mov_ri(g, DT_ECX, rn(g, 3));
        b(g, 0xe0 + (op == 3 ? 3 : op)); fix = g->p; b(g, 0);
        uint8_t *s = g->p;
        emit_plain(g, 0);
        fix[0] = (uint8_t)(g->p - s);
        break;
    }
    case 2: case 3: { /* call rel32 / call *r to a stub that returns (ret or ret imm) */
        if (room < 8) return -1;
        int r = pick_reg(g, R_ALL), ind = k == 3, n = rn(g, 3) || above < 8 ? 0 : 4;
        uint32_t callsz = ind ? 2 : 5, tgt = pc(g) + (ind ? 5 : 0) + callsz + 2;
        if (ind) { mov_ri(g, r, tgt); b(g, 0xff); b(g, 0xd0 | r); }
        else { b(g, 0xe8); d32(g, 2); }
        b(g, 0xeb); fix = g->p; b(g, 0);
        uint8_t *s = g->p;
        b(g, 0x8b); b(g, 0x04 | pick_reg(g, R_ALL) << 3); b(g, 0x24); /* mov r, [esp]: the return address */
        if (n) { b(g, 0xc2); d16(g, n); } else b(g, 0xc3);
        fix[0] = (uint8_t)(g->p - s);
        g->esp += (uint32_t)n;
        break;
    }
    case 4: { /* jmp rel8/rel32/ *r / *m forward over junk */
        int f = (int)rn(g, 4), r = pick_reg(g, R_ALL);
        uint32_t junk = rn(g, 4);
        if (f == 0) { b(g, 0xeb); b(g, junk); }
        else if (f == 1) { b(g, 0xe9); d32(g, junk); }
        else if (f == 2) { mov_ri(g, r, pc(g) + 5 + 2 + junk); b(g, 0xff); b(g, 0xe0 | r); }
        else {
            struct mem m;
            mem_prep(g, &m, pick_addr(g, 4), 0, 1);
            fix = g->p + 6; /* the immediate of the store below */
            mov_mi32(g, m.addr, 0);
            uint32_t at = pc(g);
            if (m.seg) b(g, m.seg);
            b(g, 0xff);
            mem_modrm(g, &m, 4);
            uint32_t t = pc(g) + junk;
            (void)at;
            fix[0] = (uint8_t)t; fix[1] = (uint8_t)(t >> 8); fix[2] = (uint8_t)(t >> 16); fix[3] = (uint8_t)(t >> 24);
        }
        for (uint32_t i = 0; i < junk; i++) b(g, 0xcc);
        break;
    }
    case 5: case 6: { /* far call ptr16:32 or m16:32 to a stub ending in lret / lret imm */
        if (room < 12) return -1;
        int n = rn(g, 3) || above < 8 ? 0 : 4;
        struct mem m;
        uint8_t *tf;
        if (k == 5) {
            b(g, 0x9a); tf = g->p; d32(g, 0); d16(g, DT_SEL_CS);
        } else {
            mem_prep(g, &m, pick_addr(g, 6), 0, 1);
            tf = g->p + 6;
            mov_mi32(g, m.addr, 0);
            mov_mi16(g, m.addr + 4, DT_SEL_CS);
            if (m.seg) b(g, m.seg);
            b(g, 0xff);
            mem_modrm(g, &m, 3);
        }
        b(g, 0xeb); fix = g->p; b(g, 0);
        uint8_t *s = g->p;
        uint32_t t = pc(g);
        tf[0] = (uint8_t)t; tf[1] = (uint8_t)(t >> 8); tf[2] = (uint8_t)(t >> 16); tf[3] = (uint8_t)(t >> 24);
        if (rn(g, 2)) emit_plain(g, 0);
        b(g, 0x8b); b(g, 0x44 | pick_reg(g, R_ALL) << 3); b(g, 0x24); b(g, 4); /* mov r, [esp+4]: CS */
        if (n) { b(g, 0xca); d16(g, n); } else b(g, 0xcb);
        fix[0] = (uint8_t)(g->p - s);
        g->esp += (uint32_t)n;
        break;
    }
    default: { /* far jmp ptr16:32 or m16:32 forward */
        uint32_t junk = rn(g, 3);
        if (k == 7) {
            b(g, 0xea); d32(g, pc(g) + 6 + junk); d16(g, DT_SEL_CS);
        } else {
            struct mem m;
            mem_prep(g, &m, pick_addr(g, 6), 0, 1);
            fix = g->p + 6;
            mov_mi32(g, m.addr, 0);
            mov_mi16(g, m.addr + 4, DT_SEL_CS);
            if (m.seg) b(g, m.seg);
            b(g, 0xff);
            mem_modrm(g, &m, 5);
            uint32_t t = pc(g) + junk;
            fix[0] = (uint8_t)t; fix[1] = (uint8_t)(t >> 8); fix[2] = (uint8_t)(t >> 16); fix[3] = (uint8_t)(t >> 24);
        }
        for (uint32_t i = 0; i < junk; i++) b(g, 0xcc);
    }
    }
    return 0;
}

/* ---- x87 ---- */
static const uint8_t x87_none[] = { /* D9 xx: no operand */
    0xe0, 0xe1, 0xe4, 0xe5, 0xe8, 0xe9, 0xea, 0xeb, 0xec, 0xed, 0xee, 0xf0, 0xf1, 0xf2, 0xf3,
    0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff,
};

struct x87m { uint8_t op, digit, size, load; };
static const struct x87m x87_mem[] = {
    { 0xd9, 0, 4, 1 }, { 0xdd, 0, 8, 1 }, { 0xdb, 5, 10, 1 }, { 0xdf, 5, 8, 1 }, { 0xdb, 0, 4, 1 },
    { 0xdf, 0, 2, 1 }, { 0xd9, 2, 4, 0 }, { 0xd9, 3, 4, 0 }, { 0xdd, 2, 8, 0 }, { 0xdd, 3, 8, 0 },
    { 0xdb, 7, 10, 0 }, { 0xdb, 2, 4, 0 }, { 0xdb, 3, 4, 0 }, { 0xdf, 7, 8, 0 }, { 0xdf, 2, 2, 0 },
    { 0xdb, 1, 4, 0 }, { 0xdd, 1, 8, 0 }, { 0xdf, 1, 2, 0 }, /* fisttp (SSE3) */
    { 0xd8, 0, 4, 2 }, { 0xd8, 1, 4, 2 }, { 0xd8, 2, 4, 2 }, { 0xd8, 4, 4, 2 }, { 0xd8, 5, 4, 2 },
    { 0xd8, 6, 4, 2 }, { 0xd8, 7, 4, 2 }, { 0xdc, 0, 8, 2 }, { 0xdc, 1, 8, 2 }, { 0xdc, 3, 8, 2 },
    { 0xdc, 4, 8, 2 }, { 0xdc, 6, 8, 2 }, { 0xda, 0, 4, 2 }, { 0xde, 1, 2, 2 }, { 0xda, 6, 4, 2 },
    { 0xd9, 7, 2, 0 }, /* fnstcw */
    { 0xdd, 7, 2, 0 }, /* fnstsw m16 */
};

/* x87 control word: exceptions masked, precision 24/53/64 bits, any rounding. */
static uint32_t fcw_pick(struct g *g)
{
    static const uint8_t pc[] = { 0, 2, 3 };
    return 0x7f | (uint32_t)pc[rn(g, 3)] << 8 | rn(g, 4) << 10;
}

static int item_x87(struct g *g)
{
    int k = (int)rn(g, 8);
    struct mem m;
    switch (k) {
    case 0: case 1: { /* memory operand */
        const struct x87m *x = &x87_mem[rn(g, sizeof x87_mem / sizeof x87_mem[0])];
        mem_prep(g, &m, pick_addr(g, x->size), 0, x->load != 0);
        if (x->load && rn(g, 3) == 0) { /* a tame value */
            mov_mi32(g, m.addr, fval(g));
            if (x->size > 4) mov_mi32(g, m.addr + 4, rn(g, 2) ? 0x3ff00000u + rn(g, 0x100000) : val(g));
        }
        if (m.seg) b(g, m.seg);
        b(g, x->op);
        mem_modrm(g, &m, x->digit);
        g->fdepth += x->load == 1 ? 1 : 0;
        break;
    }
    case 2: /* no operand */
        b(g, 0xd9); b(g, x87_none[rn(g, sizeof x87_none)]);
        break;
    case 3: case 4: { /* st(i) arithmetic: D8/DC/DE C0..FF, compares, fxch, fld st(i), fstp st(i) */
        static const uint8_t ops[] = { 0xd8, 0xdc, 0xde, 0xd9, 0xdd, 0xda, 0xdb };
        uint8_t op = ops[rn(g, sizeof ops)], mr = 0xc0 | rn(g, 64);
        if (op == 0xd9 && mr >= 0xd0) mr = 0xc0 | (mr & 0x0f);  /* fld st(i), fxch */
        if (op == 0xdc && mr >= 0xd0 && mr < 0xe0) mr = 0xc0 | (mr & 0x0f); /* not the fcom aliases */
        if (op == 0xdd && mr >= 0xf0) mr = 0xd8 | (mr & 7);    /* ffree fst fstp fucom(p) */
        if (op == 0xdd && mr >= 0xc8 && mr < 0xd0) mr = 0xd0 | (mr & 7);
        if (op == 0xde && mr >= 0xd0 && mr < 0xe0) mr = 0xd9;  /* fcompp */
        if (op == 0xda && mr >= 0xe0) mr = 0xe9;               /* fucompp */
        if (op == 0xdb && mr >= 0xe0 && mr < 0xe8) mr = 0xe2;  /* fnclex */
        if (op == 0xdb && mr >= 0xf8) mr = 0xf0 | (mr & 7);    /* fcomi */
        if (op == 0xda || (op == 0xdb && mr < 0xe0))
            need(g, DT_CF | DT_ZF | DT_PF);                     /* fcmovcc */
        b(g, op); b(g, mr);
        if ((op == 0xdb && mr >= 0xe8) || (op == 0xdf && mr >= 0xe8))
            eff(g, DT_ARITH, 0);
        break;
    }
    case 5: /* fcomi/fucomi(p) */
        b(g, rn(g, 2) ? 0xdb : 0xdf); b(g, (rn(g, 2) ? 0xe8 : 0xf0) | rn(g, 8));
        eff(g, DT_ARITH, 0);
        break;
    case 6: /* fldcw with a chosen rounding and precision, exceptions masked */
        mem_prep(g, &m, pick_addr(g, 2), 0, 1);
        mov_mi16(g, m.addr, fcw_pick(g));
        if (m.seg) b(g, m.seg);
        b(g, 0xd9);
        mem_modrm(g, &m, 5);
        break;
    default: /* fnstsw ax, fld1 */
        if (rn(g, 2)) { b(g, 0xdf); b(g, 0xe0); }
        else { b(g, 0xd9); b(g, 0xe8); }
    }
    return 0;
}

/* ---- MMX / SSE / SSE2 / SSE3 ---- */
enum { K_VV, K_VVI, K_SHI, K_GV, K_GVM, K_VG, K_GVI, K_VGI, K_STM, K_DG };
struct vop { uint8_t pfx, op, msize, kind, extra; };
#define AL16 0x80 /* memory operand must be 16-byte aligned */

static const struct vop mmx_ops[] = {
    { 0, 0x6e, 4, K_VG, 0 }, { 0, 0x7e, 4, K_DG, 0 }, { 0, 0x6f, 8, K_VV, 0 }, { 0, 0x7f, 8, K_STM, 0 },
    { 0, 0xfc, 8, K_VV, 0 }, { 0, 0xfd, 8, K_VV, 0 }, { 0, 0xfe, 8, K_VV, 0 }, { 0, 0xd4, 8, K_VV, 0 },
    { 0, 0xec, 8, K_VV, 0 }, { 0, 0xed, 8, K_VV, 0 }, { 0, 0xdc, 8, K_VV, 0 }, { 0, 0xdd, 8, K_VV, 0 },
    { 0, 0xf8, 8, K_VV, 0 }, { 0, 0xf9, 8, K_VV, 0 }, { 0, 0xfa, 8, K_VV, 0 }, { 0, 0xfb, 8, K_VV, 0 },
    { 0, 0xe8, 8, K_VV, 0 }, { 0, 0xe9, 8, K_VV, 0 }, { 0, 0xd8, 8, K_VV, 0 }, { 0, 0xd9, 8, K_VV, 0 },
    { 0, 0xd5, 8, K_VV, 0 }, { 0, 0xe5, 8, K_VV, 0 }, { 0, 0xf5, 8, K_VV, 0 }, { 0, 0xe4, 8, K_VV, 0 },
    { 0, 0x74, 8, K_VV, 0 }, { 0, 0x75, 8, K_VV, 0 }, { 0, 0x76, 8, K_VV, 0 }, { 0, 0x64, 8, K_VV, 0 },
    { 0, 0x65, 8, K_VV, 0 }, { 0, 0x66, 8, K_VV, 0 }, { 0, 0xdb, 8, K_VV, 0 }, { 0, 0xdf, 8, K_VV, 0 },
    { 0, 0xeb, 8, K_VV, 0 }, { 0, 0xef, 8, K_VV, 0 }, { 0, 0x60, 4, K_VV, 0 }, { 0, 0x61, 4, K_VV, 0 },
    { 0, 0x62, 4, K_VV, 0 }, { 0, 0x68, 8, K_VV, 0 }, { 0, 0x69, 8, K_VV, 0 }, { 0, 0x6a, 8, K_VV, 0 },
    { 0, 0x63, 8, K_VV, 0 }, { 0, 0x6b, 8, K_VV, 0 }, { 0, 0x67, 8, K_VV, 0 }, { 0, 0xf1, 8, K_VV, 0 },
    { 0, 0xf2, 8, K_VV, 0 }, { 0, 0xf3, 8, K_VV, 0 }, { 0, 0xd1, 8, K_VV, 0 }, { 0, 0xd2, 8, K_VV, 0 },
    { 0, 0xd3, 8, K_VV, 0 }, { 0, 0xe1, 8, K_VV, 0 }, { 0, 0xe2, 8, K_VV, 0 }, { 0, 0xe0, 8, K_VV, 0 },
    { 0, 0xe3, 8, K_VV, 0 }, { 0, 0xea, 8, K_VV, 0 }, { 0, 0xee, 8, K_VV, 0 }, { 0, 0xda, 8, K_VV, 0 },
    { 0, 0xde, 8, K_VV, 0 }, { 0, 0xf6, 8, K_VV, 0 }, { 0, 0xf4, 8, K_VV, 0 }, { 0, 0x70, 8, K_VVI, 0 },
    { 0, 0x71, 0, K_SHI, 2 }, { 0, 0x71, 0, K_SHI, 4 }, { 0, 0x71, 0, K_SHI, 6 }, { 0, 0x72, 0, K_SHI, 2 },
    { 0, 0x72, 0, K_SHI, 4 }, { 0, 0x72, 0, K_SHI, 6 }, { 0, 0x73, 0, K_SHI, 2 }, { 0, 0x73, 0, K_SHI, 6 },
    { 0, 0xc5, 0, K_GVI, 0 }, { 0, 0xc4, 2, K_VGI, 0 }, { 0, 0xd7, 0, K_GV, 0 }, { 0, 0x77, 0, K_VV, 0xff },
};

static const struct vop sse_ops[] = {
    /* SSE: ps and ss forms */
    { 0, 0x58, 16 | AL16, K_VV, 0 }, { 0, 0x59, 16 | AL16, K_VV, 0 }, { 0, 0x5c, 16 | AL16, K_VV, 0 },
    { 0, 0x5d, 16 | AL16, K_VV, 0 }, { 0, 0x5e, 16 | AL16, K_VV, 0 }, { 0, 0x5f, 16 | AL16, K_VV, 0 },
    { 0, 0x51, 16 | AL16, K_VV, 0 }, { 0, 0x52, 16 | AL16, K_VV, 0 }, { 0, 0x53, 16 | AL16, K_VV, 0 },
    { 0, 0x54, 16 | AL16, K_VV, 0 }, { 0, 0x55, 16 | AL16, K_VV, 0 }, { 0, 0x56, 16 | AL16, K_VV, 0 },
    { 0, 0x57, 16 | AL16, K_VV, 0 }, { 0, 0x14, 16 | AL16, K_VV, 0 }, { 0, 0x15, 16 | AL16, K_VV, 0 },
    { 0, 0xc6, 16 | AL16, K_VVI, 0 }, { 0, 0xc2, 16 | AL16, K_VVI, 8 }, { 0, 0x10, 16, K_VV, 0 },
    { 0, 0x11, 16, K_STM, 0 }, { 0, 0x28, 16 | AL16, K_VV, 0 }, { 0, 0x29, 16 | AL16, K_STM, 0 },
    { 0, 0x12, 8, K_VV, 0 }, { 0, 0x13, 8, K_STM, 0 }, { 0, 0x16, 8, K_VV, 0 }, { 0, 0x17, 8, K_STM, 0 },
    { 0, 0x50, 0, K_GV, 0 }, { 0, 0x2e, 4, K_VV, 1 }, { 0, 0x2f, 4, K_VV, 1 },
    { 0xf3, 0x58, 4, K_VV, 0 }, { 0xf3, 0x59, 4, K_VV, 0 }, { 0xf3, 0x5c, 4, K_VV, 0 },
    { 0xf3, 0x5d, 4, K_VV, 0 }, { 0xf3, 0x5e, 4, K_VV, 0 }, { 0xf3, 0x5f, 4, K_VV, 0 },
    { 0xf3, 0x51, 4, K_VV, 0 }, { 0xf3, 0x52, 4, K_VV, 0 }, { 0xf3, 0x53, 4, K_VV, 0 },
    { 0xf3, 0xc2, 4, K_VVI, 8 }, { 0xf3, 0x10, 4, K_VV, 0 }, { 0xf3, 0x11, 4, K_STM, 0 },
    { 0xf3, 0x2a, 4, K_VG, 0 }, { 0xf3, 0x2c, 4, K_GVM, 0 }, { 0xf3, 0x2d, 4, K_GVM, 0 },
    { 0xf3, 0x5a, 4, K_VV, 0 }, { 0, 0x5a, 8, K_VV, 0 }, { 0, 0x5b, 16 | AL16, K_VV, 0 },
    /* SSE2: pd and sd forms, integer xmm */
    { 0x66, 0x58, 16 | AL16, K_VV, 0 }, { 0x66, 0x59, 16 | AL16, K_VV, 0 }, { 0x66, 0x5c, 16 | AL16, K_VV, 0 },
    { 0x66, 0x5e, 16 | AL16, K_VV, 0 }, { 0x66, 0x51, 16 | AL16, K_VV, 0 }, { 0x66, 0x5d, 16 | AL16, K_VV, 0 },
    { 0x66, 0x57, 16 | AL16, K_VV, 0 }, { 0x66, 0xc6, 16 | AL16, K_VVI, 4 }, { 0x66, 0xc2, 16 | AL16, K_VVI, 8 },
    { 0x66, 0x2e, 8, K_VV, 1 }, { 0x66, 0x2f, 8, K_VV, 1 }, { 0x66, 0x5a, 16 | AL16, K_VV, 0 },
    { 0x66, 0x5b, 16 | AL16, K_VV, 0 }, { 0xf3, 0x5b, 16 | AL16, K_VV, 0 }, { 0xf3, 0xe6, 8, K_VV, 0 },
    { 0xf2, 0xe6, 16 | AL16, K_VV, 0 }, { 0x66, 0xe6, 16 | AL16, K_VV, 0 }, { 0x66, 0x50, 0, K_GV, 0 },
    { 0xf2, 0x58, 8, K_VV, 0 }, { 0xf2, 0x59, 8, K_VV, 0 }, { 0xf2, 0x5c, 8, K_VV, 0 },
    { 0xf2, 0x5e, 8, K_VV, 0 }, { 0xf2, 0x51, 8, K_VV, 0 }, { 0xf2, 0x5f, 8, K_VV, 0 },
    { 0xf2, 0xc2, 8, K_VVI, 8 }, { 0xf2, 0x10, 8, K_VV, 0 }, { 0xf2, 0x11, 8, K_STM, 0 },
    { 0xf2, 0x2a, 4, K_VG, 0 }, { 0xf2, 0x2c, 8, K_GVM, 0 }, { 0xf2, 0x2d, 8, K_GVM, 0 },
    { 0xf2, 0x5a, 8, K_VV, 0 }, { 0x66, 0x6f, 16 | AL16, K_VV, 0 }, { 0xf3, 0x6f, 16, K_VV, 0 },
    { 0x66, 0x7f, 16 | AL16, K_STM, 0 }, { 0xf3, 0x7f, 16, K_STM, 0 }, { 0x66, 0x6e, 4, K_VG, 0 },
    { 0x66, 0x7e, 4, K_DG, 0 }, { 0xf3, 0x7e, 8, K_VV, 0 }, { 0x66, 0xd6, 8, K_STM, 0 },
    { 0x66, 0xfc, 16 | AL16, K_VV, 0 }, { 0x66, 0xfe, 16 | AL16, K_VV, 0 }, { 0x66, 0xd4, 16 | AL16, K_VV, 0 },
    { 0x66, 0xfb, 16 | AL16, K_VV, 0 }, { 0x66, 0xe9, 16 | AL16, K_VV, 0 }, { 0x66, 0xdd, 16 | AL16, K_VV, 0 },
    { 0x66, 0xd5, 16 | AL16, K_VV, 0 }, { 0x66, 0xe4, 16 | AL16, K_VV, 0 }, { 0x66, 0xf4, 16 | AL16, K_VV, 0 },
    { 0x66, 0xf5, 16 | AL16, K_VV, 0 }, { 0x66, 0xf6, 16 | AL16, K_VV, 0 }, { 0x66, 0x74, 16 | AL16, K_VV, 0 },
    { 0x66, 0x66, 16 | AL16, K_VV, 0 }, { 0x66, 0xdb, 16 | AL16, K_VV, 0 }, { 0x66, 0xef, 16 | AL16, K_VV, 0 },
    { 0x66, 0x60, 16 | AL16, K_VV, 0 }, { 0x66, 0x6a, 16 | AL16, K_VV, 0 }, { 0x66, 0x6c, 16 | AL16, K_VV, 0 },
    { 0x66, 0x6d, 16 | AL16, K_VV, 0 }, { 0x66, 0x63, 16 | AL16, K_VV, 0 }, { 0x66, 0x67, 16 | AL16, K_VV, 0 },
    { 0x66, 0xe0, 16 | AL16, K_VV, 0 }, { 0x66, 0xea, 16 | AL16, K_VV, 0 }, { 0x66, 0xde, 16 | AL16, K_VV, 0 },
    { 0x66, 0xf2, 16 | AL16, K_VV, 0 }, { 0x66, 0xd3, 16 | AL16, K_VV, 0 }, { 0x66, 0xe1, 16 | AL16, K_VV, 0 },
    { 0x66, 0x70, 16 | AL16, K_VVI, 0 }, { 0xf3, 0x70, 16 | AL16, K_VVI, 0 }, { 0xf2, 0x70, 16 | AL16, K_VVI, 0 },
    { 0x66, 0x71, 0, K_SHI, 2 }, { 0x66, 0x71, 0, K_SHI, 4 }, { 0x66, 0x72, 0, K_SHI, 6 },
    { 0x66, 0x73, 0, K_SHI, 2 }, { 0x66, 0x73, 0, K_SHI, 3 }, { 0x66, 0x73, 0, K_SHI, 6 },
    { 0x66, 0x73, 0, K_SHI, 7 }, { 0x66, 0xc5, 0, K_GVI, 0 }, { 0x66, 0xc4, 2, K_VGI, 0 },
    { 0x66, 0xd7, 0, K_GV, 0 },
    /* SSE3 */
    { 0xf2, 0x7c, 16 | AL16, K_VV, 0 }, { 0x66, 0x7c, 16 | AL16, K_VV, 0 }, { 0xf2, 0x7d, 16 | AL16, K_VV, 0 },
    { 0x66, 0x7d, 16 | AL16, K_VV, 0 }, { 0xf2, 0xd0, 16 | AL16, K_VV, 0 }, { 0x66, 0xd0, 16 | AL16, K_VV, 0 },
    { 0xf3, 0x12, 16 | AL16, K_VV, 0 }, { 0xf3, 0x16, 16 | AL16, K_VV, 0 }, { 0xf2, 0x12, 8, K_VV, 0 },
    { 0xf2, 0xf0, 16, K_VV, 2 }, /* lddqu: memory only */
};

static void vop_emit(struct g *g, const struct vop *v, int mmx)
{
    uint32_t ms = v->msize & 0x7f;
    struct rm o;
    int vr = (int)rn(g, 8), gr = pick_reg(g, R_ALL);
    int mem_ok = ms != 0 && v->kind != K_GV && v->kind != K_GVI && v->kind != K_SHI;
    if (v->extra == 0xff) { b(g, 0x0f); b(g, v->op); return; } /* emms */
    o.is_mem = mem_ok && (v->kind == K_STM || v->extra == 2 || rn(g, 3) == 0);
    if (o.is_mem) {
        uint32_t a = (v->msize & AL16) ? DT_WIN + 16 * rn(g, DT_WIN_SIZE / 16) : pick_addr(g, ms);
        mem_prep(g, &o.m, a, 0, v->kind != K_STM && v->kind != K_DG);
    } else {
        o.reg = (v->kind == K_VG || v->kind == K_VGI || v->kind == K_DG) ? pick_reg(g, R_ALL) : (int)rn(g, 8);
    }
    if (v->op == 0xae) { /* ldmxcsr: masks set, any rounding, FZ, DAZ, sticky flags */
        mov_mi32(g, o.m.addr, 0x1f80 | rn(g, 4) << 13 | rn(g, 2) * 0x8040u | (rnd(g) & 0x3f));
    }
    rm_seg(g, &o);
    if (v->pfx) b(g, v->pfx);
    b(g, 0x0f); b(g, v->op);
    switch (v->kind) {
    case K_SHI: rm_modrm(g, &o, v->extra); b(g, rn(g, 4) ? rn(g, 20) : rnd(g)); break;
    case K_GV: case K_GVM: rm_modrm(g, &o, gr); break;
    case K_GVI: rm_modrm(g, &o, gr); b(g, rnd(g)); break;
    case K_VVI: rm_modrm(g, &o, vr); b(g, v->extra ? rn(g, v->extra) : rnd(g)); break;
    case K_VGI: rm_modrm(g, &o, vr); b(g, rnd(g)); break;
    case K_VG: case K_VV: case K_STM: case K_DG: default:
        if (v->op == 0xae) rm_modrm(g, &o, 2);
        else rm_modrm(g, &o, vr);
    }
    if (v->extra == 1) /* comis/ucomis: ZF PF CF, OF SF AF cleared */
        eff(g, DT_ARITH, 0);
    (void)mmx;
}

static const struct vop ldmxcsr = { 0, 0xae, 4, K_VV, 2 };
static const struct vop stmxcsr = { 0, 0xae, 4, K_STM, 3 };

static int item_vec(struct g *g)
{
    int k = (int)rn(g, 10);
    if (k < 4) {
        vop_emit(g, &mmx_ops[rn(g, sizeof mmx_ops / sizeof mmx_ops[0])], 1);
    } else if (k == 4) {
        vop_emit(g, &ldmxcsr, 0);
    } else if (k == 5) {
        struct mem m;
        mem_prep(g, &m, pick_addr(g, 4), 0, 0);
        if (m.seg) b(g, m.seg);
        b(g, 0x0f); b(g, 0xae);
        mem_modrm(g, &m, stmxcsr.extra);
    } else {
        vop_emit(g, &sse_ops[rn(g, sizeof sse_ops / sizeof sse_ops[0])], 0);
    }
    return 0;
}

/* Item kinds with their weight; "skip=" takes a mask of DT_K_* bits. */
typedef int (*item_fn)(struct g *);
static const struct { item_fn fn; uint8_t kind; } items[] = {
    { item_alu, DT_K_ALU }, { item_alu, DT_K_ALU }, { item_alu, DT_K_ALU }, { item_test_unary, DT_K_ALU },
    { item_mul, DT_K_MULDIV }, { item_div, DT_K_MULDIV }, { item_shift, DT_K_SHIFT }, { item_shift, DT_K_SHIFT },
    { item_shld, DT_K_SHIFT }, { item_bitop, DT_K_BIT }, { item_bitop, DT_K_BIT }, { item_bsf, DT_K_BIT },
    { item_bcd, DT_K_BCD }, { item_bcd, DT_K_BCD }, { item_move, DT_K_MOVE }, { item_move, DT_K_MOVE },
    { item_cmpxchg, DT_K_MOVE }, { item_string, DT_K_STRING }, { item_string, DT_K_STRING },
    { item_stack, DT_K_STACK }, { item_stack, DT_K_STACK }, { item_seg, DT_K_SEG }, { item_branch, DT_K_BRANCH },
    { item_branch, DT_K_BRANCH }, { item_x87, DT_K_X87 }, { item_x87, DT_K_X87 }, { item_vec, DT_K_VEC },
    { item_vec, DT_K_VEC }, { item_misc, DT_K_MISC }, { item_code, DT_K_CODE },
};

static uint64_t mix(uint64_t a, uint64_t b)
{
    uint64_t z = a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull);
    z = (z ^ (z >> 29)) * 0xbf58476d1ce4e5b9ull;
    return z ^ (z >> 32);
}

void dt_generate(uint32_t seed, uint32_t idx, uint32_t drop, uint32_t skip, struct dt_seq *s, uint32_t back)
{
    int cpl0 = (skip & DT_CPL0) != 0;
    if (cpl0) /* what CPL 0 does differently: selectors, faults, LAR & co */
        skip |= 1u << DT_K_SEG | 1u << DT_K_FAULT | 1u << DT_K_MISC;
    if ((skip & DT_K_ALL) == DT_K_ALL)
        skip = 0;
    struct g g = { .rs = mix(seed, idx), .code = s->code, .cpl0 = cpl0 };
    g.p = s->code;
    for (int i = 0; i < 8; i++)
        s->in.r[i] = val(&g);
    s->in.r[DT_ESP] = DT_STACK_TOP;
    g.esp = DT_STACK_TOP;
    s->in.eflags = 0x202 | (rnd(&g) & (DT_ARITH | DT_DF));
    s->in.seg[DT_ES] = s->in.seg[DT_SS] = s->in.seg[DT_DS] = DT_SEL_DS;
    s->in.seg[DT_CS] = DT_SEL_CS;
    s->in.seg[DT_FS] = pick_sel(&g, DT_FS);
    s->in.seg[DT_GS] = pick_sel(&g, DT_GS);
    s->in.fcw = rn(&g, 4) ? 0x37f : fcw_pick(&g);
    s->in.mxcsr = rn(&g, 4) ? 0x1f80 : 0x1f80 | rn(&g, 4) << 13 | rn(&g, 2) * 0x8040u;
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 16; j += 4) {
            uint32_t v = fval(&g);
            for (int k = 0; k < 4; k++)
                s->in.xmm[i][j + k] = (uint8_t)(v >> 8 * k);
        }
    for (uint32_t i = 0; i < DT_WIN_SIZE; i += 4) {
        uint32_t v = rn(&g, 4) ? rnd(&g) : fval(&g);
        for (int k = 0; k < 4; k++)
            s->win[i + k] = (uint8_t)(v >> 8 * k);
    }

    for (uint32_t i = 0; i < DT_WIN2_SIZE; i += 4) {
        uint32_t v = rnd(&g);
        for (int k = 0; k < 4; k++)
            s->win2[i + k] = (uint8_t)(v >> 8 * k);
    }

    /* One sequence in eight ends with an exception. */
    uint32_t n = 1 + rn(&g, 12);
    int fault = rn(&g, 8) == 0 && !(skip >> DT_K_FAULT & 1);
    n += (uint32_t)fault;
    s->nitems = n;
    for (uint32_t i = 0; i < n; i++) {
        s->item_off[i] = (uint16_t)(g.p - g.code);
        if (drop >> i & 1)
            continue;
        g.rs = mix(mix(seed, idx), i + 1);
        if (fault && i == n - 1) {
            item_fault(&g);
            break;
        }
        for (;;) {
            uint8_t *save_p = g.p;
            uint32_t save_esp = g.esp, save_undef = g.undef;
            unsigned k = rn(&g, sizeof items / sizeof items[0]);
            if (!(skip >> items[k].kind & 1) && items[k].fn(&g) == 0)
                break;
            g.p = save_p;
            g.esp = save_esp;
            g.undef = save_undef;
        }
    }
    s->item_off[n] = (uint16_t)(g.p - g.code);
    s->flag_mask = (DT_ARITH | DT_DF) & ~g.undef;
    /* jmp dt_run_back */
    uint32_t at = pc(&g);
    b(&g, 0xe9);
    d32(&g, back - (at + 5));
    s->len = (uint32_t)(g.p - g.code);
}
