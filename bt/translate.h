/*
 * bt/translate.h — state shared by the emitters while one block is built.
 */
#ifndef BTVM_BT_TRANSLATE_H
#define BTVM_BT_TRANSLATE_H

#include "bt/bt.h"
#include "bt/offsets.h"
#include "cpu/callout.h"

/* Host registers with a fixed role inside the code cache (see enter.S). */
#define BT_R_CPU    ZYDIS_REGISTER_R15
#define BT_R_ADDEND ZYDIS_REGISTER_R14 /* the addend most pages share */
#define BT_R_ESP    ZYDIS_REGISTER_R12D
#define BT_R_ESP64  ZYDIS_REGISTER_R12

/* groups.c: one TLB check for several accesses through the same base. */
#define BT_MAX_GROUPS 32

struct bt_tctx {
    struct bt *bt;
    struct bt_emit *e;
    struct bt_block *blk;
    uint32_t key;
    const struct dec_insn *d;     /* instruction being translated */
    int k;                        /* its index in the block */
    uint32_t live_in;             /* arithmetic flags live before it */
    struct bt_co_rec *co_rec;     /* record of instruction co_k (callouts share it) */
    int co_k;
    /* chain sites to resolve once placed: buffer, rel32 offset, the OOL
     * label of the exit path, and the imm64 slot that stores the site. */
    struct { int8_t buf; bool fwd; uint32_t rel_at; uint32_t imm_at; } sites[64];
    int nsites;
    bool direct_mem;              /* explicit memory operand checked by a group check */
    int8_t mem_slot;              /* its group (-1: R14) */
    int32_t group_addend[BT_MAX_GROUPS]; /* where each group's addend is, from R15 */
    int8_t r11_group;             /* group whose addend the last check left in R11 (-1: none) */
    bool direct_stack;            /* implicit stack access checked by a group check */
    bool mem_last_act;            /* the memory write being emitted ends the instruction */
    bool last;                    /* the instruction is the block's last (a jcc before it falls through) */
};

enum bt_emit_kind { BT_EMIT_IDENT, BT_EMIT_CONTROL, BT_EMIT_STACK, BT_EMIT_CALLOUT };
enum bt_emit_kind bt_emit_kind(const struct dec_insn *d);

struct bt_group {
    ZydisRegister base32;  /* guest base register (host name: R12D for ESP) */
    ZydisRegister index32; /* and index register (NONE for none), times scale */
    int scale;
    int slot;              /* addend slot the check fills (-1: compare with R14) */
    int first;             /* instruction before which the check runs */
    int32_t lo, hi;        /* byte range relative to the base's value there */
    bool wr;
    int count;
};
struct bt_plan {
    struct bt_group g[BT_MAX_GROUPS];
    int ng;
    bool direct_mem[BT_MAX_BLOCK_INSNS];
    int8_t mem_slot[BT_MAX_BLOCK_INSNS];
    bool direct_stack[BT_MAX_BLOCK_INSNS];
};
void bt_plan_groups(const struct dec_insn *insns, int n, uint32_t key, struct bt_plan *plan);
void bt_emit_group_checks(struct bt_tctx *t, const struct bt_plan *plan);
#define BT_KEY_SAFE 0x10u  /* translation without group checks (after one failed) */
#define BT_KEY_STACK16 0x40u /* SS.B = 0: the stack pointer is SP */
#define BT_KEY_NOFPU 0x20u
#define BT_KEY_PG 0x80u    /* paging on: block entries check their code page's mapping */
/* The shadow table emitted code uses: CPL 3 code uses the user view. */
static inline int32_t bt_tlb_off(uint32_t key, bool wr)
{
    return (int32_t)BT_TLB_OFF(((key & 3) == 3 ? 2u : 0u) + (wr ? 1u : 0u));
}
/* The execute table a block entry checks (guest-physical page + 1). */
static inline int32_t bt_exec_off(uint32_t key)
{
    return (int32_t)BT_TLB_OFF((key & 3) == 3 ? 5u : 4u);
} /* CR0.TS or CR0.EM: FPU/SSE instructions raise #NM/#UD */

/* emit_mem.c */
void bt_emit_ea(struct bt_tctx *t, const ZydisDecodedOperand *op, ZydisRegister dst32, unsigned size, bool wr);
void bt_emit_offset(struct bt_tctx *t, const ZydisDecodedOperand *op, ZydisRegister dst32);
/* Fault unless [off32, off32+size) is inside segment seg (non-flat or FS/GS). */
void bt_emit_seg_check(struct bt_tctx *t, int seg, ZydisRegister off32, unsigned size, bool wr);
void bt_emit_seg_add(struct bt_tctx *t, int seg, ZydisRegister reg32);
/* Run `req` (whose memory operand is [r10+r11]) against the guest memory at
 * the linear address in r10d, with the inline TLB check and the slow path. */
void bt_emit_mem_op(struct bt_tctx *t, ZydisEncoderRequest *req, unsigned size, bool rd, bool wr);
int bt_seg_index(ZydisRegister seg);
/* [base + R14 + disp] for an access a group check already covered. */
ZydisEncoderOperand bt_direct_mem(struct bt_tctx *t, const ZydisDecodedOperand *op, unsigned size);
ZydisRegister bt_map_reg(ZydisRegister r);
void bt_emit_flags_save(struct bt_tctx *t, int b);
void bt_emit_flags_restore(struct bt_tctx *t, int b);
/* ++*counter when --stats counts (clobbers R9 and the host flags). */
void bt_emit_count(struct bt_tctx *t, int b, uint64_t *counter);
void bt_emit_pred_spent(struct bt_tctx *t, int b, int32_t pred);

/* emit_ctrl.c */
void bt_emit_exit_direct(struct bt_tctx *t, int b, uint32_t target);
uint32_t bt_emit_jcc_exit(struct bt_tctx *t, ZydisMnemonic jcc, uint32_t target);
void bt_emit_exit_indirect(struct bt_tctx *t, ZydisRegister target32);
void bt_emit_exit_simple(struct bt_tctx *t, int b, uint32_t eip, unsigned reason);
void bt_emit_exit_safe(struct bt_tctx *t, uint32_t eip);
void bt_emit_jrcxz_skip8(struct bt_emit *e);
bool bt_emit_control(struct bt_tctx *t);
/* Jcc (the 16 conditions; not LOOP/JECXZ). */
bool bt_is_jcc(ZydisMnemonic m);
void bt_emit_callout(struct bt_tctx *t, int b, cpu_callout_fn fn);
void bt_emit_internal_callout(struct bt_tctx *t, int b, int (*fn)(struct cpu *, const void *));

/* emit_stack.c */
void bt_emit_push(struct bt_tctx *t, unsigned size, ZydisEncoderOperand src);
void bt_emit_pop_to(struct bt_tctx *t, unsigned size, ZydisRegister scratch32);
bool bt_emit_push_sreg(struct bt_tctx *t);
bool bt_emit_stack(struct bt_tctx *t);
void bt_emit_adjust_esp(struct bt_tctx *t, ZydisRegister from64, int32_t delta);

/* emit_vif.c: CLI/STI/PUSHF/POPF inline; false = use the callout. */
bool bt_emit_vif(struct bt_tctx *t, bool last_in_block);

/* emit_string.c: LODS/STOS/SCAS/MOVS/CMPS without REP, inline. */
bool bt_is_inline_string(const struct dec_insn *d);
bool bt_emit_string(struct bt_tctx *t);
/* REP STOS/MOVS as the host's own instruction when it stays in a page. */
bool bt_is_inline_rep(const struct dec_insn *d, uint32_t key);
bool bt_emit_rep_string(struct bt_tctx *t);

/* emit_ident.c */
bool bt_emit_ident(struct bt_tctx *t);

/* Slow-path callouts (memslow.c). */
int bt_mem_slow(struct cpu *c, const void *unused);
int bt_mem_done(struct cpu *c, const void *unused);
int bt_entry_refill(struct cpu *c, const void *unused);
int bt_pred_spent(struct cpu *c, const void *unused);

#endif
