/*
 * bt/emit.c — host code buffers, labels, fixups; host instructions encoded
 * by Zydis' encoder (64-bit mode) behind a memo, or copied: constant
 * sequences and guest forms that mean the same in 64-bit mode.
 */
#include "bt/emit.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool tail_is_zero(const ZydisEncoderRequest *req)
{
    static const uint8_t zero[sizeof(*req) - offsetof(ZydisEncoderRequest, evex)];
    return !memcmp(&req->evex, zero, sizeof(zero));
}

/*
 * Displacements and immediates enter the key by class, not value: the
 * encoder's choice of form depends only on whether a value is one of a few
 * small ones (no displacement at 0, a shift by 1, INT 3) or fits 8, 16 or
 * 32 signed bits. A memo entry records where the encoding holds the
 * displacement and the immediate, and a hit writes this request's values
 * there (bt_enc). Unique addresses and offsets (record pointers, group and
 * prediction slots, counters) then hit like any other request.
 */
static uint8_t value_class(int64_t v)
{
    if (v >= -1 && v <= 3)
        return (uint8_t)(v + 1); /* 0..4: the value itself */
    if (v == (int8_t)v)
        return 8;
    if (v == (int16_t)v)
        return 16;
    if (v == (int32_t)v)
        return 32;
    return 64;
}

/* Zydis wants an LEA operand's size to be its address size. */
static uint16_t lea_size(ZydisRegister base, ZydisRegister index)
{
    ZydisRegister r = base != ZYDIS_REGISTER_NONE ? base : index;
    return r == ZYDIS_REGISTER_NONE ? 4 : (uint16_t)(ZydisRegisterGetWidth(ZYDIS_MACHINE_MODE_LONG_64, r) / 8);
}

/*
 * The memo's key: two words of header (mnemonic, operand count, the
 * encoding and branch fields, size hints; the prefixes), then one word per
 * operand (type, value class, scale, size, base, index). The machine mode
 * is always 64-bit. Returns its length in words.
 */
static size_t enc_key(const ZydisEncoderRequest *req, const struct bt_op *ops, uint64_t kw[BT_ENC_KEY_WORDS])
{
    bool lea = req->mnemonic == ZYDIS_MNEMONIC_LEA;
    kw[0] = (uint64_t)(uint16_t)req->mnemonic | (uint64_t)req->operand_count << 16 |
            (uint64_t)(uint8_t)req->allowed_encodings << 24 | (uint64_t)(uint8_t)req->branch_type << 32 |
            (uint64_t)(uint8_t)req->branch_width << 40 | (uint64_t)(uint8_t)req->address_size_hint << 48 |
            (uint64_t)(uint8_t)req->operand_size_hint << 56;
    kw[1] = req->prefixes;
    for (int i = 0; i < req->operand_count; i++) {
        const struct bt_op *o = &ops[i];
        uint16_t size = o->size;
        if (lea && o->type == ZYDIS_OPERAND_TYPE_MEMORY)
            size = lea_size((ZydisRegister)o->base, (ZydisRegister)o->index);
        kw[2 + i] = (uint64_t)o->type | (uint64_t)value_class(o->v) << 4 | (uint64_t)(o->scale & 0xF) << 12 |
                    (uint64_t)size << 16 | (uint64_t)o->base << 32 | (uint64_t)o->index << 48;
    }
    return 2 + (size_t)req->operand_count;
}

/* A multiply-rotate hash of the key's words: inline, a few cycles per
 * word; the memo compares keys in full, so a collision costs only a miss. */
static inline uint64_t key_hash(const uint64_t *w, size_t n)
{
    uint64_t h = n * 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ w[i]) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 29;
    }
    return h * 0x94D049BB133111EBull;
}

static inline bool key_eq(const uint64_t *a, const uint64_t *b, size_t n)
{
    uint64_t d = 0;
    for (size_t i = 0; i < n; i++)
        d |= a[i] ^ b[i];
    return d == 0;
}

void bt_emit_reset(struct bt_emit *e)
{
    bool oom = false;
    for (int b = 0; b < 2; b++) {
        if (!e->buf[b])
            e->buf[b] = malloc(BT_BUF_CAP);
        oom |= !e->buf[b];
        e->len[b] = 0;
    }
    e->nlabels = 0;
    e->nfix = 0;
    e->nrelaxed[0] = e->nrelaxed[1] = 0;
    e->nnear[0] = e->nnear[1] = 0;
    e->failed = false;
    e->r11_writes = 0;
    e->err[0] = 0;
    if (oom)
        bt_emit_fail(e, "out of memory for the emit buffers"); /* bt_enc writes nothing */
}

void bt_emit_fail(struct bt_emit *e, const char *fmt, ...)
{
    if (e->failed)
        return;
    e->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->err, sizeof(e->err), fmt, ap);
    va_end(ap);
}

int bt_label(struct bt_emit *e)
{
    if (e->nlabels >= BT_MAX_LABELS) {
        bt_emit_fail(e, "too many labels");
        return 0;
    }
    e->label[e->nlabels].buf = -1;
    return e->nlabels++;
}

void bt_bind(struct bt_emit *e, int b, int label)
{
    e->label[label].buf = (int8_t)b;
    e->label[label].off = (int32_t)e->len[b];
}

uint32_t bt_here(const struct bt_emit *e, int b) { return e->len[b]; }

/*
 * MOV r64, imm64 whose value does not fit a sign-extended imm32: REX.W (+B)
 * B8+r imm64, the one encoding Zydis produces for it (test_bt_encode:
 * movabs_template). It is the most frequent request that misses the memo
 * (record and counter addresses differ every time): written directly.
 */
static bool movabs_template(struct bt_emit *e, int b, const ZydisEncoderRequest *req, const struct bt_op *ops)
{
    if (req->mnemonic != ZYDIS_MNEMONIC_MOV || req->operand_count != 2 ||
        ops[0].type != ZYDIS_OPERAND_TYPE_REGISTER || ops[1].type != ZYDIS_OPERAND_TYPE_IMMEDIATE ||
        req->prefixes)
        return false;
    ZydisRegister r = (ZydisRegister)ops[0].base;
    if (r < ZYDIS_REGISTER_RAX || r > ZYDIS_REGISTER_R15)
        return false;
    int64_t v = ops[1].v;
    if (v == (int64_t)(int32_t)v)
        return false;
    unsigned id = (unsigned)(r - ZYDIS_REGISTER_RAX);
    uint8_t *p = e->buf[b] + e->len[b];
    p[0] = (uint8_t)(0x48 | (id >> 3));
    p[1] = (uint8_t)(0xB8 + (id & 7));
    memcpy(p + 2, &v, 8);
    e->len[b] += 10;
    return true;
}

/* Where the n bytes Zydis made for req hold its displacement and its
 * immediate (offsets and sizes into memo); false (do not memoize) for
 * anything else: two immediates, a value the bytes do not hold as given. */
static bool where_values(struct bt_emit *e, const ZydisEncoderRequest *req, const uint8_t *bytes, size_t n,
                         struct bt_enc_memo *memo)
{
    memo->disp_off = memo->disp_size = memo->imm_off = memo->imm_size = 0;
    bool has_mem = false, has_imm = false;
    int64_t disp = 0, imm = 0;
    for (int i = 0; i < req->operand_count; i++) {
        if (req->operands[i].type == ZYDIS_OPERAND_TYPE_MEMORY) {
            has_mem = true;
            disp = req->operands[i].mem.displacement;
        } else if (req->operands[i].type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
            if (has_imm)
                return false;
            has_imm = true;
            imm = req->operands[i].imm.s;
        }
    }
    if (!has_mem && !has_imm)
        return true;
    if (!e->dec_ready) {
        ZydisDecoderInit(&e->dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
        e->dec_ready = true;
    }
    ZydisDecodedInstruction zi;
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&e->dec, NULL, bytes, n, &zi)) || zi.length != n ||
        zi.raw.imm[1].size)
        return false;
    if (has_mem && zi.raw.disp.size) {
        memo->disp_off = zi.raw.disp.offset;
        memo->disp_size = zi.raw.disp.size / 8;
    }
    if (has_imm && zi.raw.imm[0].size) {
        memo->imm_off = zi.raw.imm[0].offset;
        memo->imm_size = zi.raw.imm[0].size / 8;
    }
    /* The bytes must hold the values as given (not, say, a relative form). */
    int64_t d = 0, v = 0;
    memcpy(&d, bytes + memo->disp_off, memo->disp_size);
    memcpy(&v, bytes + memo->imm_off, memo->imm_size);
    uint64_t dm = memo->disp_size == 8 ? ~0ull : (1ull << (8 * memo->disp_size)) - 1;
    uint64_t vm = memo->imm_size == 8 ? ~0ull : (1ull << (8 * memo->imm_size)) - 1;
    if (((uint64_t)d & dm) != ((uint64_t)disp & dm) || ((uint64_t)v & vm) != ((uint64_t)imm & vm))
        return false;
    /* A value the form has no room for must be 0 (no displacement byte). */
    if ((has_mem && !memo->disp_size && disp) || (has_imm && !memo->imm_size && value_class(imm) > 4))
        return false;
    return true;
}

/* Whether m with first operand o may write R11 (see struct bt_emit). */
static inline bool writes_r11(ZydisMnemonic m, uint8_t type, uint16_t reg)
{
    if (type != ZYDIS_OPERAND_TYPE_REGISTER ||
        ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, (ZydisRegister)reg) != ZYDIS_REGISTER_R11)
        return false;
    return m != ZYDIS_MNEMONIC_CMP && m != ZYDIS_MNEMONIC_TEST && m != ZYDIS_MNEMONIC_BT;
}

/* req: the header, and the whole request if full (bt_enc); ops: its
 * operands, put into req only when Zydis must encode it (a memo miss).
 * memo_ok: the request may be looked up and remembered. */
static void enc(struct bt_emit *e, int b, ZydisEncoderRequest *req, const struct bt_op *ops, bool memo_ok,
                bool full, struct bt_enc_memo **used)
{
    *used = NULL;
    if (e->failed)
        return;
    /* 16: a memo hit copies its bytes 16 at a time. */
    if (e->len[b] + 16 > BT_BUF_CAP) {
        bt_emit_fail(e, "block too large");
        return;
    }
    if (movabs_template(e, b, req, ops))
        return;
    struct bt_enc_memo *memo = NULL;
    uint64_t key[BT_ENC_KEY_WORDS];
    size_t kw = 0, slot = 0;
    uint64_t h = 0;
    if (memo_ok) {
        kw = enc_key(req, ops, key);
        h = key_hash(key, kw) | 1;
        slot = (h >> 40) & (BT_ENC_MEMO_SIZE - 1);
        memo = &e->memo[slot];
        if (e->memo_tag[slot] == h && memo->kwords == kw && key_eq(memo->key, key, kw)) {
            uint8_t *p = e->buf[b] + e->len[b];
            memcpy(p, memo->bytes, 16);
            if (memo->disp_size || memo->imm_size) {
                int64_t disp = 0, imm = 0;
                for (int i = 0; i < req->operand_count; i++) {
                    if (ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY)
                        disp = ops[i].v;
                    else if (ops[i].type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
                        imm = ops[i].v;
                }
                memcpy(p + memo->disp_off, &disp, memo->disp_size); /* little-endian: the low bytes */
                memcpy(p + memo->imm_off, &imm, memo->imm_size);
            }
            e->len[b] += memo->len;
            *used = memo;
            return;
        }
    }
    if (!full) {
        for (int i = 0; i < req->operand_count; i++)
            req->operands[i] = bt_zop(ops[i]);
        memset(&req->evex, 0, sizeof(*req) - offsetof(ZydisEncoderRequest, evex));
    }
    for (int i = req->operand_count; i < ZYDIS_ENCODER_MAX_OPERANDS; i++)
        memset(&req->operands[i], 0, sizeof(req->operands[i])); /* unset by bt_ins */
    req->machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
    if (req->mnemonic == ZYDIS_MNEMONIC_LEA)
        for (int i = 0; i < req->operand_count; i++) {
            ZydisEncoderOperand *o = &req->operands[i];
            if (o->type == ZYDIS_OPERAND_TYPE_MEMORY)
                o->mem.size = lea_size(o->mem.base, o->mem.index);
        }
    ZyanUSize n = ZYDIS_MAX_INSTRUCTION_LENGTH;
    ZyanStatus st = ZydisEncoderEncodeInstruction(req, e->buf[b] + e->len[b], &n);
    if (!ZYAN_SUCCESS(st)) {
        bt_emit_fail(e, "host encoding of %s failed (status %x)",
                     ZydisMnemonicGetString(req->mnemonic), (unsigned)st);
        return;
    }
    if (memo && where_values(e, req, e->buf[b] + e->len[b], n, memo)) {
        memcpy(memo->key, key, kw * 8);
        memo->kwords = (uint8_t)kw;
        memset(memo->bytes, 0, sizeof(memo->bytes));
        memcpy(memo->bytes, e->buf[b] + e->len[b], n);
        memo->len = (uint8_t)n;
        e->memo_tag[slot] = h;
        *used = memo;
    }
    e->len[b] += (uint32_t)n;
}

/* A whole request: memoized when its operands fit struct bt_op (no
 * pointer, no is4 register) and it has no EVEX/MVEX tail (never here). */
void bt_enc(struct bt_emit *e, int b, ZydisEncoderRequest *req)
{
    if (req->operand_count &&
        writes_r11(req->mnemonic, (uint8_t)req->operands[0].type, (uint16_t)req->operands[0].reg.value))
        e->r11_writes++;
    struct bt_op ops[ZYDIS_ENCODER_MAX_OPERANDS] = { { 0 } };
    bool memo_ok = req->operand_count <= ZYDIS_ENCODER_MAX_OPERANDS && tail_is_zero(req);
    for (int i = 0; memo_ok && i < req->operand_count; i++) {
        const ZydisEncoderOperand *z = &req->operands[i];
        switch (z->type) {
        case ZYDIS_OPERAND_TYPE_REGISTER:
            memo_ok = !z->reg.is4;
            ops[i] = bt_r(z->reg.value);
            break;
        case ZYDIS_OPERAND_TYPE_MEMORY:
            ops[i] = (struct bt_op){ .type = ZYDIS_OPERAND_TYPE_MEMORY, .scale = z->mem.scale, .size = z->mem.size,
                                     .base = (uint16_t)z->mem.base, .index = (uint16_t)z->mem.index,
                                     .v = z->mem.displacement };
            break;
        case ZYDIS_OPERAND_TYPE_IMMEDIATE:
            ops[i] = bt_i(z->imm.s);
            break;
        default:
            memo_ok = false;
            break;
        }
    }
    if (!memo_ok)
        memset(ops, 0, sizeof(ops)); /* nothing for movabs_template to misread */
    struct bt_enc_memo *used;
    enc(e, b, req, ops, memo_ok, true, &used);
}

/* An operand as a site memo keeps it: the value by class (as in enc_key). */
static inline struct bt_op site_op(struct bt_op o)
{
    o.v = value_class(o.v);
    return o;
}

static inline bool site_op_eq(const struct bt_op *a, const struct bt_op *b)
{
    return a->type == b->type && a->scale == b->scale && a->size == b->size && a->base == b->base &&
           a->index == b->index && a->v == b->v;
}

void bt_ins_site(struct bt_emit *e, int b, ZydisMnemonic m, int n, const struct bt_op *ops,
                 struct bt_site_memo *sm)
{
    if (e->failed)
        return;
    if (n && writes_r11(m, ops[0].type, ops[0].base))
        e->r11_writes++;
    /* Most call sites ask for the same shape every time: their own memo
     * entry, compared operand by operand, before the shared table. */
    if (sm->len && sm->m == (uint16_t)m && sm->n == (uint8_t)n && e->len[b] + 16 <= BT_BUF_CAP) {
        bool same = true;
        for (int i = 0; i < n && same; i++) {
            struct bt_op o = site_op(ops[i]);
            same = site_op_eq(&o, &sm->ops[i]);
        }
        if (same) {
            uint8_t *p = e->buf[b] + e->len[b];
            memcpy(p, sm->bytes, 16);
            if (sm->disp_size || sm->imm_size) {
                int64_t disp = 0, imm = 0;
                for (int i = 0; i < n; i++) {
                    if (ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY)
                        disp = ops[i].v;
                    else if (ops[i].type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
                        imm = ops[i].v;
                }
                memcpy(p + sm->disp_off, &disp, sm->disp_size);
                memcpy(p + sm->imm_off, &imm, sm->imm_size);
            }
            e->len[b] += sm->len;
            return;
        }
    }
    struct bt_enc_memo *used = NULL;
    bt_ins_ops_memo(e, b, m, n, ops, &used);
    if (!used || n > (int)(sizeof(sm->ops) / sizeof(sm->ops[0])))
        return;
    sm->m = (uint16_t)m;
    sm->n = (uint8_t)n;
    for (int i = 0; i < n; i++)
        sm->ops[i] = site_op(ops[i]);
    memcpy(sm->bytes, used->bytes, 16);
    sm->disp_off = used->disp_off;
    sm->disp_size = used->disp_size;
    sm->imm_off = used->imm_off;
    sm->imm_size = used->imm_size;
    sm->len = used->len;
}

void bt_ins_ops_memo(struct bt_emit *e, int b, ZydisMnemonic m, int n, const struct bt_op *ops,
                     struct bt_enc_memo **used)
{
    /* The header only: a memo hit reads the operands where the caller
     * built them, and a miss fills in the rest (enc). */
    *used = NULL;
    if (n < 0 || n > ZYDIS_ENCODER_MAX_OPERANDS) {
        bt_emit_fail(e, "%d operands for %s", n, ZydisMnemonicGetString(m));
        return;
    }
    ZydisEncoderRequest req;
    memset(&req, 0, offsetof(ZydisEncoderRequest, operands));
    req.mnemonic = m;
    req.operand_count = (ZyanU8)n;
    enc(e, b, &req, ops, true, false, used);
}

void bt_ins_ops(struct bt_emit *e, int b, ZydisMnemonic m, int n, const struct bt_op *ops)
{
    struct bt_enc_memo *used;
    bt_ins_ops_memo(e, b, m, n, ops, &used);
}

void bt_emit_bytes(struct bt_emit *e, int b, const uint8_t *bytes, unsigned n)
{
    if (e->failed)
        return;
    if (e->len[b] + n > BT_BUF_CAP) {
        bt_emit_fail(e, "block too large");
        return;
    }
    memcpy(e->buf[b] + e->len[b], bytes, n);
    e->len[b] += n;
}

void bt_emit_const(struct bt_emit *e, int b, int id, void (*gen)(struct bt_emit *e, int b))
{
    struct bt_seq *s = &e->seq[id];
    if (e->failed)
        return;
    if (s->len) {
        if (e->len[b] + s->len > BT_BUF_CAP) {
            bt_emit_fail(e, "block too large");
            return;
        }
        memcpy(e->buf[b] + e->len[b], s->bytes, s->len);
        e->len[b] += s->len;
        return;
    }
    uint32_t start = e->len[b];
    int nfix = e->nfix, nlabels = e->nlabels;
    gen(e, b);
    uint32_t n = e->len[b] - start;
    if (!e->failed && e->nfix == nfix && e->nlabels == nlabels && n <= sizeof(s->bytes)) {
        memcpy(s->bytes, e->buf[b] + start, n);
        s->len = (uint8_t)n;
    }
}

/* The condition code (low nibble of 0F 8x) of a Jcc, or -1. */
static int jcc_cond(ZydisMnemonic m)
{
    switch (m) {
    case ZYDIS_MNEMONIC_JO: return 0x0;
    case ZYDIS_MNEMONIC_JNO: return 0x1;
    case ZYDIS_MNEMONIC_JB: return 0x2;
    case ZYDIS_MNEMONIC_JNB: return 0x3;
    case ZYDIS_MNEMONIC_JZ: return 0x4;
    case ZYDIS_MNEMONIC_JNZ: return 0x5;
    case ZYDIS_MNEMONIC_JBE: return 0x6;
    case ZYDIS_MNEMONIC_JNBE: return 0x7;
    case ZYDIS_MNEMONIC_JS: return 0x8;
    case ZYDIS_MNEMONIC_JNS: return 0x9;
    case ZYDIS_MNEMONIC_JP: return 0xA;
    case ZYDIS_MNEMONIC_JNP: return 0xB;
    case ZYDIS_MNEMONIC_JL: return 0xC;
    case ZYDIS_MNEMONIC_JNL: return 0xD;
    case ZYDIS_MNEMONIC_JLE: return 0xE;
    case ZYDIS_MNEMONIC_JNLE: return 0xF;
    default: return -1;
    }
}

/*
 * A rel32 JMP, CALL or Jcc to be resolved at placement. Their encodings
 * are fixed (E9, E8, 0F 80+cc, then rel32), so they are written from these
 * templates rather than through the encoder, a fifth of all emitted
 * instructions; tests/unit/test_bt_encode.c decodes each template with
 * Zydis and checks it against the encoder's output.
 */
uint32_t bt_emit_rel32(struct bt_emit *e, int b, ZydisMnemonic m)
{
    if (e->failed)
        return 0;
    if (e->len[b] + ZYDIS_MAX_INSTRUCTION_LENGTH > BT_BUF_CAP) {
        bt_emit_fail(e, "block too large");
        return 0;
    }
    uint8_t *p = e->buf[b] + e->len[b];
    int cc = jcc_cond(m), n;
    if (m == ZYDIS_MNEMONIC_CALL)
        e->r11_writes++; /* the shared access routines return an addend in R11; C code clobbers it */
    if (m == ZYDIS_MNEMONIC_JMP || m == ZYDIS_MNEMONIC_CALL) {
        p[0] = m == ZYDIS_MNEMONIC_JMP ? 0xE9 : 0xE8;
        n = 1;
    } else if (cc >= 0) {
        p[0] = 0x0F;
        p[1] = (uint8_t)(0x80 | cc);
        n = 2;
    } else {
        ZydisEncoderRequest req;
        memset(&req, 0, sizeof(req));
        req.mnemonic = m;
        req.branch_type = ZYDIS_BRANCH_TYPE_NEAR;
        req.branch_width = ZYDIS_BRANCH_WIDTH_32;
        req.operand_count = 1;
        req.operands[0] = bt_zop(bt_i(0x12345678)); /* forces rel32 */
        bt_enc(e, b, &req);
        return e->failed ? 0 : e->len[b] - 4;
    }
    const uint32_t placeholder = 0x12345678;
    memcpy(p + n, &placeholder, 4);
    e->len[b] += (uint32_t)n + 4;
    return e->len[b] - 4;
}

static uint32_t branch(struct bt_emit *e, int b, ZydisMnemonic m, int label, uint64_t abs, bool relax)
{
    bt_emit_rel32(e, b, m);
    if (e->failed)
        return 0;
    uint32_t at = e->len[b] - 4;
    if (e->nfix >= BT_MAX_FIX) {
        bt_emit_fail(e, "too many fixups");
        return at;
    }
    e->fix[e->nfix].buf = (int8_t)b;
    e->fix[e->nfix].at = at;
    e->fix[e->nfix].label = label;
    e->fix[e->nfix].abs = abs;
    e->fix[e->nfix].relax = relax;
    if (relax && label >= 0)
        e->near[b][e->nnear[b]++] = e->nfix;
    e->nfix++;
    return at;
}

uint32_t bt_jmp_label(struct bt_emit *e, int b, int label) { return branch(e, b, ZYDIS_MNEMONIC_JMP, label, 0, false); }
uint32_t bt_jcc_label(struct bt_emit *e, int b, ZydisMnemonic jcc, int label) { return branch(e, b, jcc, label, 0, false); }
uint32_t bt_jmp_abs(struct bt_emit *e, int b, uint64_t t) { return branch(e, b, ZYDIS_MNEMONIC_JMP, -1, t, false); }
uint32_t bt_call_abs(struct bt_emit *e, int b, uint64_t t) { return branch(e, b, ZYDIS_MNEMONIC_CALL, -1, t, false); }
void bt_jmp_near(struct bt_emit *e, int b, int label) { branch(e, b, ZYDIS_MNEMONIC_JMP, label, 0, true); }
void bt_jcc_near(struct bt_emit *e, int b, ZydisMnemonic jcc, int label) { branch(e, b, jcc, label, 0, true); }

/*
 * Branch relaxation. A near branch is emitted as rel32 (E9, or 0F 80+cc)
 * because its target is usually not bound yet; here, with every label
 * bound, those that reach their target with rel8 become EB / 70+cc.
 * Positions are those of the placed block: MAIN, then OOL. Shortening a
 * branch only brings others closer, so the passes shorten until none is
 * left that fits (any intermediate state is valid).
 */
static uint32_t saved_before(const struct bt_emit *e, int b, uint32_t off)
{
    /* Bytes saved by shortened branches that end at or before off. */
    int lo = 0, hi = e->nrelaxed[b];
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (e->relaxed[b][mid].end <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? e->relaxed[b][lo - 1].saved : 0;
}

uint32_t bt_emit_remap(const struct bt_emit *e, int b, uint32_t off)
{
    return off - saved_before(e, b, off);
}

/* The table of shortenings decided (old end, bytes saved up to it). */
static void relax_table(struct bt_emit *e, int n)
{
    e->nrelaxed[0] = e->nrelaxed[1] = 0;
    uint32_t total[2] = { 0, 0 };
    for (int j = 0; j < n; j++) {
        if (!e->relax_shrink[j])
            continue;
        int i = e->relax_cand[j], b = e->fix[i].buf;
        total[b] += e->relax_shrink[j];
        e->relaxed[b][e->nrelaxed[b]].end = e->fix[i].at + 4;
        e->relaxed[b][e->nrelaxed[b]].saved = total[b];
        e->nrelaxed[b]++;
    }
}

static bool near_is_jmp(const struct bt_emit *e, int i)
{
    return e->buf[e->fix[i].buf][e->fix[i].at - 1] == 0xE9;
}

/* Candidate j's displacement in its short form, with the shortenings
 * decided so far (exact) or on the old offsets (ool_base: where OOL
 * starts). */
static int64_t relax_dist(const struct bt_emit *e, int j, uint32_t ool_base, bool exact)
{
    int i = e->relax_cand[j], b = e->fix[i].buf, l = e->fix[i].label;
    bool jmp = near_is_jmp(e, i);
    uint32_t start = e->fix[i].at - (jmp ? 1u : 2u);
    int lb = e->label[l].buf;
    uint32_t loff = (uint32_t)e->label[l].off;
    int64_t from = (b ? ool_base : 0) + (exact ? bt_emit_remap(e, b, start) : start) + 2;
    int64_t to = (lb ? ool_base : 0) + (exact ? bt_emit_remap(e, lb, loff) : loff);
    if (to >= from)
        to -= jmp ? 3 : 4; /* it moves up with this branch's own shortening */
    return to - from;
}

void bt_emit_relax(struct bt_emit *e)
{
    if (e->failed)
        return;
    /* Candidates in layout order (a buffer's fixups are in offset order). */
    int n = 0;
    for (int b = 0; b < 2; b++)
        for (int k = 0; k < e->nnear[b]; k++)
            e->relax_cand[n++] = e->near[b][k];
    e->nnear[0] = e->nnear[1] = 0;
    if (!n)
        return;
    uint8_t *shrink = e->relax_shrink;
    /* Pass 1, on the old offsets: shortening only brings targets closer,
     * so what fits now fits at the end. Pass 2, on pass 1's layout, finds
     * those pass 1 brought in reach (more passes found little more). */
    for (int j = 0; j < n; j++) {
        int64_t d = relax_dist(e, j, e->len[0], false);
        shrink[j] = d >= -128 && d <= 127 ? (near_is_jmp(e, e->relax_cand[j]) ? 3 : 4) : 0;
    }
    relax_table(e, n);
    uint32_t ool_base = bt_emit_remap(e, 0, e->len[0]);
    bool more = false;
    for (int j = 0; j < n; j++) {
        if (shrink[j])
            continue;
        int64_t d = relax_dist(e, j, ool_base, true);
        if (d >= -128 && d <= 127) {
            shrink[j] = near_is_jmp(e, e->relax_cand[j]) ? 3 : 4;
            more = true;
        }
    }
    if (more)
        relax_table(e, n);
    /* Rewrite each buffer: the bytes move up, shortened branches get
     * their rel8 form, displacement and all. Labels keep their old
     * offsets (bt_label_off maps them). */
    uint32_t main_len = bt_emit_remap(e, 0, e->len[0]);
    for (int b = 0; b < 2; b++) {
        uint32_t rd = 0, wr = 0;
        for (int j = 0; j < n; j++) {
            int i = e->relax_cand[j];
            if (e->fix[i].buf != b || !shrink[j])
                continue;
            bool jmp = shrink[j] == 3;
            uint32_t start = e->fix[i].at - (jmp ? 1u : 2u);
            int l = e->fix[i].label, lb = e->label[l].buf;
            uint8_t op = jmp ? 0xEB : (uint8_t)(0x70 | (e->buf[b][start + 1] & 0xF));
            memmove(e->buf[b] + wr, e->buf[b] + rd, start - rd);
            wr += start - rd;
            int64_t to = (lb ? main_len : 0) + bt_emit_remap(e, lb, (uint32_t)e->label[l].off);
            int64_t from = (b ? main_len : 0) + wr + 2;
            e->buf[b][wr] = op;
            e->buf[b][wr + 1] = (uint8_t)(int8_t)(to - from);
            wr += 2;
            rd = e->fix[i].at + 4;
            e->fix[i].label = -2; /* resolved */
        }
        memmove(e->buf[b] + wr, e->buf[b] + rd, e->len[b] - rd);
        e->len[b] = wr + (e->len[b] - rd);
    }
    /* A buffer's fixups are in offset order: one walk per buffer. */
    int k = 0, c[2] = { 0, 0 };
    for (int i = 0; i < e->nfix; i++) {
        if (e->fix[i].label == -2)
            continue;
        int b = e->fix[i].buf;
        while (c[b] < e->nrelaxed[b] && e->relaxed[b][c[b]].end <= e->fix[i].at)
            c[b]++;
        e->fix[k] = e->fix[i];
        e->fix[k].at -= c[b] ? e->relaxed[b][c[b] - 1].saved : 0;
        k++;
    }
    e->nfix = k;
}

void bt_emit_remap_sorted(const struct bt_emit *e, int b, uint32_t *off, int n)
{
    int c = 0;
    for (int i = 0; i < n; i++) {
        while (c < e->nrelaxed[b] && e->relaxed[b][c].end <= off[i])
            c++;
        off[i] -= c ? e->relaxed[b][c - 1].saved : 0;
    }
}

uint32_t bt_label_off(const struct bt_emit *e, int l)
{
    return bt_emit_remap(e, e->label[l].buf, (uint32_t)e->label[l].off);
}

void bt_emit_place(struct bt_emit *e, uint8_t *dst, ptrdiff_t wr)
{
    memcpy(dst + wr, e->buf[0], e->len[0]);
    memcpy(dst + wr + e->len[0], e->buf[1], e->len[1]);
    for (int i = 0; i < e->nfix; i++) {
        uint8_t *at = bt_placed(e, dst, e->fix[i].buf, e->fix[i].at);
        uint64_t target;
        if (e->fix[i].label >= 0) {
            int l = e->fix[i].label;
            target = (uint64_t)(uintptr_t)bt_placed(e, dst, e->label[l].buf, bt_label_off(e, l));
        } else {
            target = e->fix[i].abs;
        }
        int64_t rel = (int64_t)target - (int64_t)(uintptr_t)(at + 4);
        int32_t r32 = (int32_t)rel;
        memcpy(at + wr, &r32, 4);
    }
}

/* The flag-free test btvm uses wherever guest flags must survive (guest
 * ECX parked in `park` around it): "jrcxz +8 ; mov rcx, park ; jmp label"
 * — on to the next instruction when RCX is 0 (RCX still to restore), else
 * RCX restored and off to label. JRCXZ reaches only 127 bytes, hence the
 * JMP rel32 it skips. Returns that JMP's rel32 offset. */
uint32_t bt_emit_jrcxz_or_jmp(struct bt_emit *e, ZydisRegister park, int label)
{
    ZydisEncoderRequest req;
    memset(&req, 0, sizeof(req));
    req.mnemonic = ZYDIS_MNEMONIC_JRCXZ;
    req.branch_type = ZYDIS_BRANCH_TYPE_SHORT;
    req.branch_width = ZYDIS_BRANCH_WIDTH_8;
    req.operand_count = 1;
    req.operands[0] = bt_zop(bt_i(3 + 5));
    bt_enc(e, BT_MAIN, &req);
    uint32_t a = e->len[BT_MAIN];
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(ZYDIS_REGISTER_RCX), bt_r(park));
    uint32_t at = bt_jmp_label(e, BT_MAIN, label);
    if (e->len[BT_MAIN] - a != 8)
        bt_emit_fail(e, "jrcxz: unexpected encoding length");
    return at;
}
