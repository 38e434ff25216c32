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
#define BT_ENC_KEY_WORDS (2 + ZYDIS_ENCODER_MAX_OPERANDS) /* header + operands (emit.c: enc_key) */
struct bt_enc_memo {
    uint8_t kwords, len;                            /* key length in words */
    uint8_t disp_off, disp_size, imm_off, imm_size; /* where a hit writes its values (bytes) */
    uint8_t bytes[16];                              /* the encoding, copied 16 at a time */
    uint64_t key[BT_ENC_KEY_WORDS];
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
    struct { int8_t buf; bool relax; uint32_t at; int label; uint64_t abs; } fix[BT_MAX_FIX];
    int nfix;
    /* bt_emit_relax: the jumps it shortened, per buffer, by their old end
     * offset, with the bytes saved up to and including each (bt_emit_remap) */
    struct { uint32_t end, saved; } relaxed[2][BT_MAX_FIX];
    int nrelaxed[2];
    int near[2][BT_MAX_FIX];         /* the near branches' fixups, per buffer */
    int nnear[2];
    int relax_cand[BT_MAX_FIX];      /* bt_emit_relax's scratch */
    uint8_t relax_shrink[BT_MAX_FIX];
    bool failed;
    /* Host instructions emitted so far that may write R11 (a register
     * operand 0 of the R11 family, not a compare, or a call): the
     * translator keeps a group's addend in R11 while this stays put. */
    uint32_t r11_writes;
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

/* n bytes as they are (bt_ident_copyable's guest instructions). */
void bt_emit_bytes(struct bt_emit *e, int b, const uint8_t *bytes, unsigned n);

/* Encode one request (64-bit mode) into buffer b. */
void bt_enc(struct bt_emit *e, int b, ZydisEncoderRequest *req);

/*
 * An operand of a host instruction the translator asks for: 16 bytes
 * where Zydis' encoder operand has 64. bt_ins takes these (a memo hit
 * never builds Zydis' request); bt_zop makes Zydis' operand for a request
 * of bt_enc's.
 */
struct bt_op {
    uint8_t type;   /* ZYDIS_OPERAND_TYPE_REGISTER, _MEMORY or _IMMEDIATE */
    uint8_t scale;  /* memory */
    uint16_t size;  /* memory: bytes */
    uint16_t base;  /* the register, or the memory operand's base */
    uint16_t index; /* memory */
    int64_t v;      /* the immediate, or the memory operand's displacement */
};

static inline struct bt_op bt_r(ZydisRegister r)
{
    return (struct bt_op){ .type = ZYDIS_OPERAND_TYPE_REGISTER, .base = (uint16_t)r };
}

static inline struct bt_op bt_i(int64_t v)
{
    return (struct bt_op){ .type = ZYDIS_OPERAND_TYPE_IMMEDIATE, .v = v };
}

static inline struct bt_op bt_m(ZydisRegister base, ZydisRegister index, uint8_t scale, int64_t disp,
                                unsigned size)
{
    return (struct bt_op){ .type = ZYDIS_OPERAND_TYPE_MEMORY, .scale = index == ZYDIS_REGISTER_NONE ? 0 : scale,
                           .size = (uint16_t)size, .base = (uint16_t)base, .index = (uint16_t)index, .v = disp };
}

static inline ZydisEncoderOperand bt_zop(struct bt_op o)
{
    ZydisEncoderOperand z = { .type = (ZydisOperandType)o.type };
    switch (o.type) {
    case ZYDIS_OPERAND_TYPE_REGISTER:
        z.reg.value = (ZydisRegister)o.base;
        break;
    case ZYDIS_OPERAND_TYPE_MEMORY:
        z.mem.base = (ZydisRegister)o.base;
        z.mem.index = (ZydisRegister)o.index;
        z.mem.scale = o.scale;
        z.mem.displacement = o.v;
        z.mem.size = o.size;
        break;
    default:
        z.imm.s = o.v;
        break;
    }
    return z;
}

/* Encode mnemonic with n operands. */
void bt_ins_ops(struct bt_emit *e, int b, ZydisMnemonic m, int n, const struct bt_op *ops);
/* The same; *used: the shared memo entry that made the bytes (NULL: none,
 * as for a MOV of a 64-bit immediate or an unremembered request). */
void bt_ins_ops_memo(struct bt_emit *e, int b, ZydisMnemonic m, int n, const struct bt_op *ops,
                     struct bt_enc_memo **used);

/*
 * A call site's own memo entry (bt_ins): the shape it asked for last
 * (mnemonic, operands with values by class), the bytes and where they
 * hold the values. One per bt_ins in the source and per thread; a hit
 * costs an operand compare and a 16-byte copy, no hash and no trip to
 * the shared table (which misses the CPU's caches).
 */
struct bt_site_memo {
    uint16_t m;
    uint8_t n, len; /* len 0: empty */
    uint8_t disp_off, disp_size, imm_off, imm_size;
    struct bt_op ops[3];
    uint8_t bytes[16];
};
void bt_ins_site(struct bt_emit *e, int b, ZydisMnemonic m, int n, const struct bt_op *ops,
                 struct bt_site_memo *sm);

/* bt_ins(e, b, mnemonic, n, operand...): the operands are built once, in
 * an array on the caller's stack (the leading {0} lets n be 0), and the
 * call site gets its own memo entry. */
#define bt_ins(e, b, m, n, ...) \
    do { \
        static _Thread_local struct bt_site_memo bt_ins_sm_; \
        bt_ins_site((e), (b), (m), (n), (const struct bt_op[]){ { 0 }, __VA_ARGS__ } + 1, &bt_ins_sm_); \
    } while (0)

/* A rel32 JMP, CALL or Jcc (placeholder displacement) from its fixed
 * encoding; returns the offset of the rel32. Others go through the encoder. */
uint32_t bt_emit_rel32(struct bt_emit *e, int b, ZydisMnemonic m);
/* rel32 jumps/calls: to a label, or to an absolute host address. Return the
 * offset of the rel32 field in buffer b (for chain patching). */
uint32_t bt_jmp_label(struct bt_emit *e, int b, int label);
uint32_t bt_jcc_label(struct bt_emit *e, int b, ZydisMnemonic jcc, int label);
uint32_t bt_jmp_abs(struct bt_emit *e, int b, uint64_t target);
/* A JMP or Jcc to a label that bt_emit_relax may shorten to rel8: for
 * branches nothing else refers to (no patching, no fixed distances). */
void bt_jmp_near(struct bt_emit *e, int b, int label);
void bt_jcc_near(struct bt_emit *e, int b, ZydisMnemonic jcc, int label);
/* Before placement: every near branch whose target is within rel8 reach
 * becomes the 2-byte form (repeated: each shortening brings others in
 * reach). Labels and fixups move with the code; offsets the caller kept
 * (bt_here) go through bt_emit_remap. */
void bt_emit_relax(struct bt_emit *e);
uint32_t bt_emit_remap(const struct bt_emit *e, int b, uint32_t off);
/* The same for n offsets in ascending order, in place. */
void bt_emit_remap_sorted(const struct bt_emit *e, int b, uint32_t *off, int n);
/* A bound label's offset in its buffer (after bt_emit_relax too). */
uint32_t bt_label_off(const struct bt_emit *e, int label);
uint32_t bt_call_abs(struct bt_emit *e, int b, uint64_t target);

void bt_emit_fail(struct bt_emit *e, const char *fmt, ...);

/* MAIN: "jrcxz +8 ; mov rcx, park ; jmp label", the flag-free test used
 * wherever guest flags must survive: on when RCX is 0 (RCX still parked),
 * else to label with RCX back. Returns the JMP's rel32 offset. */
uint32_t bt_emit_jrcxz_or_jmp(struct bt_emit *e, ZydisRegister park, int label);

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
