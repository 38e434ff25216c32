/*
 * guests/legacytest/legacy.h — the exhaustive legacy-instruction sweep,
 * shared by the host generator (gen.c, -m32, the host CPU is the
 * reference) and the i686 guest (legacytest.c). Each op's inputs are
 * numbered block*256 + i; a block's 256 results (EAX and the EFLAGS bits
 * the SDM defines) fold into one FNV-1a digest, so the expected table is
 * one word per block and a differing block can then be dumped in full.
 */
#ifndef BTVM_LEGACYTEST_H
#define BTVM_LEGACYTEST_H

#include <stdint.h>

#define LT_CF 0x001
#define LT_PF 0x004
#define LT_AF 0x010
#define LT_ZF 0x040
#define LT_SF 0x080
#define LT_OF 0x800
#define LT_ARITH (LT_CF | LT_PF | LT_AF | LT_ZF | LT_SF | LT_OF)

typedef uint32_t lt_fn(uint32_t eax, uint32_t eflags, uint32_t *eflags_out, uint32_t edx);
lt_fn lt_daa, lt_das, lt_aaa, lt_aas, lt_salc, lt_xlat, lt_arpl_r, lt_arpl_m;
extern char lt_aam_tab[], lt_aad_tab[];

enum lt_kind { LT_AX_FLAGS, LT_IMM, LT_ARPL };

struct lt_op {
    const char *name;
    lt_fn *fn;          /* NULL: an immediate table */
    char *tab;
    enum lt_kind kind;
    unsigned nblocks;
    uint32_t mask;      /* flags compared: the SDM's defined ones (and unaffected ones) */
};

/* Flags the SDM leaves undefined are not compared: DAA/DAS OF; AAA/AAS
 * OF SF ZF PF; AAM/AAD OF AF CF. XLAT, SALC and ARPL (but ZF) must leave
 * every flag alone, so all are compared. */
static const struct lt_op lt_ops[] = {
    { "daa",    lt_daa,    0, LT_AX_FLAGS, 1024, LT_ARITH & ~LT_OF },
    { "das",    lt_das,    0, LT_AX_FLAGS, 1024, LT_ARITH & ~LT_OF },
    { "aaa",    lt_aaa,    0, LT_AX_FLAGS, 1024, LT_AF | LT_CF },
    { "aas",    lt_aas,    0, LT_AX_FLAGS, 1024, LT_AF | LT_CF },
    { "aam",    0, lt_aam_tab, LT_IMM,     1024, LT_SF | LT_ZF | LT_PF },
    { "aad",    0, lt_aad_tab, LT_IMM,     1024, LT_SF | LT_ZF | LT_PF },
    { "xlat",   lt_xlat,   0, LT_AX_FLAGS, 1024, LT_ARITH },
    { "salc",   lt_salc,   0, LT_AX_FLAGS, 1024, LT_ARITH },
    { "arpl_r", lt_arpl_r, 0, LT_ARPL,     1024, LT_ARITH },
    { "arpl_m", lt_arpl_m, 0, LT_ARPL,     1024, LT_ARITH },
};
#define LT_NOPS (sizeof(lt_ops) / sizeof(lt_ops[0]))
#define LT_MAXBLOCKS 1024

struct lt_in {
    uint32_t eax, flags, edx;
    unsigned imm;
};

/* Flag patterns: AF and CF in all four combinations, the other arithmetic
 * flags set in the upper two so "unaffected" is visible. */
static inline uint32_t lt_flag_pattern(unsigned k)
{
    static const uint32_t p[4] = { 0, LT_CF, LT_AF | LT_PF | LT_OF, LT_AF | LT_CF | LT_ZF | LT_SF };
    return p[k & 3] | 0x2;
}

/*
 * Input number n = block*256 + i:
 *  LT_AX_FLAGS: AL = i, AH = block & 255, flags pattern = block >> 8
 *               (every AX with every AF/CF combination);
 *  LT_IMM:      imm = block >> 2 (AAM skips 0: #DE), AL = i,
 *               AH from four values, flags pattern = block & 3;
 *  LT_ARPL:     AX (destination) = block*64 + i/4 over all 65536 values,
 *               DX's RPL = i & 3 with varying upper bits, ZF in and out.
 * EAX's upper half and EDX carry a pattern so clobbering shows.
 */
static inline void lt_input(const struct lt_op *op, unsigned block, unsigned i, struct lt_in *in)
{
    static const uint8_t ahs[4] = { 0x00, 0x01, 0x7f, 0xff };
    in->edx = 0x5eed0000u | (block * 0x9e37u & 0xfffcu);
    in->imm = 0;
    switch (op->kind) {
    case LT_AX_FLAGS:
        in->eax = 0xc0de0000u | (block & 255) << 8 | i;
        in->flags = lt_flag_pattern(block >> 8);
        break;
    case LT_IMM:
        in->imm = block >> 2;
        if (op->tab == lt_aam_tab && in->imm == 0)
            in->imm = 10;
        in->eax = 0xc0de0000u | (uint32_t)ahs[block & 3] << 8 | i;
        in->flags = lt_flag_pattern(block);
        break;
    case LT_ARPL:
    default: {
        uint32_t dst = block * 64 + i / 4;
        in->eax = 0xc0de0000u | dst;
        in->edx = (in->edx & ~3u) | (i & 3);
        in->flags = lt_flag_pattern(i >> 2 ^ block) | ((i >> 3 & 1) ? LT_ZF : 0);
        break;
    }
    }
}

static inline uint32_t lt_run(const struct lt_op *op, const struct lt_in *in, uint32_t *flags_out)
{
    lt_fn *fn = op->fn ? op->fn : (lt_fn *)(void *)(op->tab + 32 * in->imm);
    return fn(in->eax, in->flags, flags_out, in->edx);
}

#define LT_FNV_BASIS 0x811c9dc5u
static inline uint32_t lt_fnv(uint32_t h, uint32_t v)
{
    for (int k = 0; k < 4; k++)
        h = (h ^ (v >> (8 * k) & 0xff)) * 0x01000193u;
    return h;
}

/* The digest of one block: every result's EAX and compared flags. */
static inline uint32_t lt_block_digest(const struct lt_op *op, unsigned block)
{
    uint32_t h = LT_FNV_BASIS;
    for (unsigned i = 0; i < 256; i++) {
        struct lt_in in;
        uint32_t fl;
        lt_input(op, block, i, &in);
        uint32_t eax = lt_run(op, &in, &fl);
        h = lt_fnv(lt_fnv(h, eax), fl & op->mask);
    }
    return h;
}

#endif
