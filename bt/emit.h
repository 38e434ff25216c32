/*
 * bt/emit.h — host code buffers, labels and Zydis-encoder helpers.
 *
 * A block is emitted into two buffers: MAIN (the straight-line translation)
 * and OOL (out-of-line slow paths and exits), placed one after the other in
 * the code cache when the block is finished. Branches between them, to
 * absolute addresses (trampolines, other blocks) and patchable chain sites
 * are recorded as fixups and resolved at placement.
 */
#ifndef BTVM_BT_EMIT_H
#define BTVM_BT_EMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <Zydis/Zydis.h>

enum { BT_MAIN = 0, BT_OOL = 1 };

#define BT_MAX_LABELS 1024
#define BT_MAX_FIX    2048
#define BT_BUF_CAP    (64 * 1024)

/*
 * Zydis' encoder searches its instruction tables on every call, which made
 * it most of the translation time. The translator asks for the same few
 * hundred encodings over and over (TLB checks, flag saves, callout stubs),
 * so results are memoized per emitter, keyed by the request's meaningful
 * fields packed into a few dozen bytes (compared in full: a hash collision
 * can only cost a miss). The tags sit in an array of their own: a lookup
 * touches one small line before it touches an entry.
 */
#define BT_ENC_MEMO_SIZE (1u << 13)
#define BT_ENC_KEY_MAX   (16 + 5 * 16) /* header + 5 operands (emit.c: enc_key) */
#define BT_ENC_KEY_WORDS (BT_ENC_KEY_MAX / 8)
struct bt_enc_memo {
    uint8_t kwords, len;                            /* key length in 8-byte words */
    uint8_t disp_off, disp_size, imm_off, imm_size; /* where a hit writes its values (bytes) */
    uint8_t bytes[16];                              /* the encoding, copied 16 at a time */
    uint64_t key[BT_ENC_KEY_WORDS];                 /* zero-padded to whole words */
};

/* Constant host sequences (no labels, no fixups, no operand that varies:
 * the flag save and restore) are encoded once and then copied. */
enum { BT_SEQ_FLAGS_SAVE, BT_SEQ_FLAGS_RESTORE, BT_SEQ_COUNT };
struct bt_seq {
    uint8_t len;
    uint8_t bytes[64];
};

/* One emitter (part of struct bt, never on the stack: the memo is large). */
struct bt_emit {
    uint8_t *buf[2];
    uint32_t len[2];
    struct { int8_t buf; int32_t off; } label[BT_MAX_LABELS];
    int nlabels;
    struct { int8_t buf; uint32_t at; int label; uint64_t abs; } fix[BT_MAX_FIX];
    int nfix;
    bool failed;
    char err[160];
    uint64_t memo_tag[BT_ENC_MEMO_SIZE];       /* key hash | 1; 0: empty */
    ZydisDecoder dec;                          /* finds values in new memo entries */
    bool dec_ready;
    struct bt_enc_memo memo[BT_ENC_MEMO_SIZE];
    struct bt_seq seq[BT_SEQ_COUNT];
};

void bt_emit_reset(struct bt_emit *e);
int bt_label(struct bt_emit *e);                         /* new unbound label */
void bt_bind(struct bt_emit *e, int b, int label);       /* label = here in buffer b */
uint32_t bt_here(const struct bt_emit *e, int b);

/* The constant sequence id: gen's output, encoded by gen the first time
 * and copied afterwards (gen must emit the same bytes every time). */
void bt_emit_const(struct bt_emit *e, int b, int id, void (*gen)(struct bt_emit *e, int b));

/* Encode one request (64-bit mode) into buffer b. */
void bt_enc(struct bt_emit *e, int b, ZydisEncoderRequest *req);
/* Encode mnemonic with n operands (ZydisEncoderOperand values). */
void bt_ins_ops(struct bt_emit *e, int b, ZydisMnemonic m, int n, const ZydisEncoderOperand *ops);
/* bt_ins(e, b, mnemonic, n, operand...): the operands are built once, in
 * an array on the caller's stack (the leading {0} lets n be 0). */
#define bt_ins(e, b, m, n, ...) \
    bt_ins_ops((e), (b), (m), (n), (const ZydisEncoderOperand[]){ { 0 }, __VA_ARGS__ } + 1)

static inline ZydisEncoderOperand bt_r(ZydisRegister r)
{
    ZydisEncoderOperand o = { .type = ZYDIS_OPERAND_TYPE_REGISTER };
    o.reg.value = r;
    return o;
}

static inline ZydisEncoderOperand bt_i(int64_t v)
{
    ZydisEncoderOperand o = { .type = ZYDIS_OPERAND_TYPE_IMMEDIATE };
    o.imm.s = v;
    return o;
}

static inline ZydisEncoderOperand bt_m(ZydisRegister base, ZydisRegister index, uint8_t scale,
                                       int64_t disp, unsigned size)
{
    ZydisEncoderOperand o = { .type = ZYDIS_OPERAND_TYPE_MEMORY };
    o.mem.base = base;
    o.mem.index = index;
    o.mem.scale = index == ZYDIS_REGISTER_NONE ? 0 : scale;
    o.mem.displacement = disp;
    o.mem.size = (ZyanU16)size;
    return o;
}

/* A rel32 JMP, CALL or Jcc (placeholder displacement) from its fixed
 * encoding; returns the offset of the rel32. Others go through the encoder. */
uint32_t bt_emit_rel32(struct bt_emit *e, int b, ZydisMnemonic m);
/* rel32 jumps/calls: to a label, or to an absolute host address. Return the
 * offset of the rel32 field in buffer b (for chain patching). */
uint32_t bt_jmp_label(struct bt_emit *e, int b, int label);
uint32_t bt_jcc_label(struct bt_emit *e, int b, ZydisMnemonic jcc, int label);
uint32_t bt_jmp_abs(struct bt_emit *e, int b, uint64_t target);
uint32_t bt_call_abs(struct bt_emit *e, int b, uint64_t target);

void bt_emit_fail(struct bt_emit *e, const char *fmt, ...);

/* JRCXZ over the next 8 bytes (MAIN): the flag-free test used wherever
 * guest flags must survive. */
void bt_emit_jrcxz_skip8(struct bt_emit *e);

/* Total size once placed. */
static inline uint32_t bt_emit_size(const struct bt_emit *e) { return e->len[0] + e->len[1]; }
/* Copy MAIN then OOL to dst (host address dst) and resolve fixups. */
/* Copy the block to dst (the address it runs at), storing through dst + wr
 * (the writable view of the code cache, bt_cw). */
void bt_emit_place(struct bt_emit *e, uint8_t *dst, ptrdiff_t wr);
/* Host address of (buffer, offset) once placed at dst. */
static inline uint8_t *bt_placed(const struct bt_emit *e, uint8_t *dst, int b, uint32_t off)
{
    return dst + (b == BT_MAIN ? 0 : e->len[0]) + off;
}

#endif
