/*
 * bt/translate.h — the translator's files below block formation: the
 * instruction classifier, the per-class emitters and the group planner,
 * in their layer order (bt/bt.h). Shared helpers: bt/emit_common.h.
 */
#ifndef BTVM_BT_TRANSLATE_H
#define BTVM_BT_TRANSLATE_H

#include "bt/emit_common.h"

/* classify.c: which emitter handles an instruction. */
enum bt_emit_kind { BT_EMIT_IDENT, BT_EMIT_CONTROL, BT_EMIT_STACK, BT_EMIT_CALLOUT };
enum bt_emit_kind bt_emit_kind(const struct dec_insn *d);
/* LODS/STOS/SCAS/MOVS/CMPS without REP, inlined by emit_string.c. */
bool bt_is_inline_string(const struct dec_insn *d);
/* Jcc (the 16 conditions; not LOOP/JECXZ). */
bool bt_is_jcc(ZydisMnemonic m);

/* emit_mem.c */
void bt_emit_ea(struct bt_tctx *t, const ZydisDecodedOperand *op, ZydisRegister dst32, unsigned size, bool wr);
void bt_emit_offset(struct bt_tctx *t, const ZydisDecodedOperand *op, ZydisRegister dst32);
/* Fault unless [off32, off32+size) is inside segment seg (non-flat or FS/GS). */
void bt_emit_seg_check(struct bt_tctx *t, int seg, ZydisRegister off32, unsigned size, bool wr);
void bt_emit_seg_add(struct bt_tctx *t, int seg, ZydisRegister reg32);
/* Run `req` (whose memory operand is [r10+r11]) against the guest memory at
 * the linear address in r10d, with the inline TLB check and the slow path. */
void bt_emit_mem_op(struct bt_tctx *t, ZydisEncoderRequest *req, unsigned size, bool rd, bool wr);
/* The access instruction itself, req with its memory operand mi as the
 * caller set it: from tp's bytes when given (and the operand has a form
 * there), else through the encoder. */
void bt_emit_access_insn(struct bt_tctx *t, int b, ZydisEncoderRequest *req, int mi,
                         const struct bt_ident_tmpl *tp);
/* [base + R14 + disp] for an access a group check already covered. */
ZydisEncoderOperand bt_direct_mem(struct bt_tctx *t, const ZydisDecodedOperand *op, unsigned size);

/* emit_memstub.c: the shared out-of-line access stubs. Build them into
 * the code cache (false: it is full); the stub for an access kind (NULL:
 * none, the site uses bt_mem_slow_tramp). */
bool bt_memstub_build(struct bt *bt);
uint8_t *bt_memstub_access(const struct bt *bt, bool user, bool rd, bool wr, unsigned size);

/* emit_sreg.c: MOV ES/DS/FS/GS, r16 through a memo of lately loaded
 * descriptors; false = use the callout. Its stubs are built with the
 * memory stubs. */
bool bt_emit_mov_sreg(struct bt_tctx *t);
bool bt_emit_pop_sreg(struct bt_tctx *t);
void bt_emit_sreg_site(struct bt_tctx *t, uint8_t *stub, int co);

/* emit_iret.c: IRETD at CPL 0 back to CPL 0, inline; false = the callout. */
bool bt_emit_iret(struct bt_tctx *t);

/* emit_sysenter.c: SYSENTER from CPL 3 and SYSEXIT, inline; false = the
 * callout. */
bool bt_emit_sysenter(struct bt_tctx *t);

/* emit_vif.c: async_pending = 1 if an interrupt waits (after IF may have
 * been set), flag-free; clobbers R8, R9. The host's DF and arithmetic
 * flags from R9D's (POPF's way; R10 clobbered). */
void bt_emit_poll_intr(struct bt_tctx *t);
void bt_emit_host_flags_r9(struct bt_tctx *t);
bool bt_sregstub_build(struct bt *bt);

/* emit_stack.c */
void bt_emit_push(struct bt_tctx *t, unsigned size, struct bt_op src);
void bt_emit_pop_to(struct bt_tctx *t, unsigned size, ZydisRegister scratch32);
/* A read at ESP + delta, ESP unchanged. */
void bt_emit_stack_read(struct bt_tctx *t, int32_t delta, unsigned size, ZydisRegister dst32);
void bt_emit_addend_follow_esp(struct bt_tctx *t, uint32_t key);
/* emit_sreg.c: segment seg <- the state in the bt_sreg_memo at base + off
 * (R11 the scratch). */
void bt_emit_seg_from_memo(struct bt_emit *e, ZydisRegister base, int32_t off, int seg);
bool bt_emit_push_sreg(struct bt_tctx *t);
bool bt_emit_stack(struct bt_tctx *t);
/* A PUSH r32/imm or POP r32 that a stack group covers may leave ESP's
 * update to a later push or pop in its run (t->esp_lag). */
bool bt_stack_lag_ok(const struct dec_insn *d, bool direct_stack, uint32_t key);
void bt_emit_adjust_esp(struct bt_tctx *t, ZydisRegister from64, int32_t delta);

/* emit_string.c: LODS/STOS/SCAS/MOVS/CMPS without REP, inline. */
bool bt_emit_string(struct bt_tctx *t);
/* REP STOS/MOVS as the host's own instruction when it stays in a page. */
bool bt_is_inline_rep(const struct dec_insn *d, uint32_t key);
/* REPE/REPNE CMPSB and SCASB run a page at a time (emit_string.c). */
bool bt_is_inline_rep_scan(const struct dec_insn *d, uint32_t key);
bool bt_emit_rep_string(struct bt_tctx *t);

/* emit_ident.c */
bool bt_emit_ident(struct bt_tctx *t);
/* Whether a guest instruction in code of this key is copied byte for byte
 * (emit_ident.c: register-only forms that mean the same in 64-bit mode). */
bool bt_ident_copyable(uint32_t key, const struct dec_insn *d);
/* ident_tmpl.c: IDENT memory forms from bytes: false = not one (then the encoder makes
 * them). The template, emitted with any [base + index*scale + disp32]
 * (64-bit registers; index NONE for none), is the instruction Zydis'
 * encoder makes of the same request (test_bt_encode: ident_templates);
 * _emit returns false, writing nothing, for an operand with no such form. */
bool bt_ident_tmpl_make(const struct dec_insn *d, struct bt_ident_tmpl *tp);
bool bt_ident_tmpl_emit(struct bt_emit *e, int b, const struct bt_ident_tmpl *tp, ZydisRegister base,
                        ZydisRegister index, uint8_t scale, int64_t disp);

/* emit_vif.c: CLI/STI/PUSHF/POPF inline; false = use the callout. */
bool bt_emit_vif(struct bt_tctx *t, bool last_in_block);

/* emit_invlpg.c: INVLPG with nothing to drop, inline; false = use the callout. */
bool bt_emit_invlpg(struct bt_tctx *t);

/* emit_ctrl.c */
void bt_emit_exit_indirect(struct bt_tctx *t, ZydisRegister target32);
/* The same into code of mode key to_key (an instruction that changes the
 * CPL); icache false: no inline cache, the table only. */
void bt_emit_exit_indirect_key(struct bt_tctx *t, ZydisRegister target32, uint32_t to_key, bool icache);
bool bt_emit_control(struct bt_tctx *t);

/* groups.c */
/* kinds[k]: bt_emit_kind(&insns[k]), worked out once per block. esp0:
 * ESP at the block's entry now (used by SAFE translations only). loop:
 * the block jumps back to its own start; then the groups whose registers
 * do not change in it (or move by a constant) are checked once, before
 * instruction 0 and the loop (plan->hoisted, bt_group hoisted). */
void bt_plan_groups(const struct dec_insn *insns, const uint8_t *kinds, int n, uint32_t key, uint32_t esp0,
                    bool loop, struct bt_plan *plan);
void bt_emit_group_checks(struct bt_tctx *t, const struct bt_plan *plan);
/* Whether a group check is emitted before instruction k. */
bool bt_group_check_at(const struct bt_plan *plan, int k);

#endif
