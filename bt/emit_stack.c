/*
 * bt/emit_stack.c — push, pop, enter, leave on the guest stack.
 *
 * Guest ESP lives in R12D. A push computes ESP-size into R10D (plus the SS
 * base when segments are not flat), stores through the shadow TLB and only
 * then commits R12D, so a fault leaves ESP untouched (precise state).
 * Values that must survive a slow path are carried in R13 (callee-saved).
 */
#include "bt/translate.h"

#include <stddef.h>
#include <string.h>

#define R(x) bt_r(ZYDIS_REGISTER_##x)

static struct bt_op host_mem(unsigned size)
{
    return bt_m(BT_R_ADDR, BT_R_ENTRY, 1, 0, size);
}

static void stack_lin(struct bt_tctx *t, int32_t delta, unsigned size, bool wr)
{
    bt_ins(t->e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, bt_r(BT_R_ADDR_32),
           bt_m(BT_R_ESP64, ZYDIS_REGISTER_NONE, 0, delta, 0));
    if (t->key & BT_KEY_STACK16) /* SS.B = 0: SP wraps at 64 KiB */
        bt_ins(t->e, BT_MAIN, ZYDIS_MNEMONIC_MOVZX, 2, bt_r(BT_R_ADDR_32), bt_r(BT_R_ADDR_16));
    bt_emit_seg_check(t, CPU_SS, BT_R_ADDR_32, size, wr);
    bt_emit_seg_add(t, CPU_SS, BT_R_ADDR_32);
}

/* ESP += delta, or only SP with a 16-bit stack (flag-free). */
void bt_emit_adjust_esp(struct bt_tctx *t, ZydisRegister from64, int32_t delta)
{
    if (t->key & BT_KEY_STACK16) {
        bt_ins(t->e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, bt_r(BT_R_TMP0_32), bt_m(from64, ZYDIS_REGISTER_NONE, 0, delta, 0));
        bt_ins(t->e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_SP), bt_r(BT_R_TMP0_16));
        return;
    }
    bt_ins(t->e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, bt_r(BT_R_ESP), bt_m(from64, ZYDIS_REGISTER_NONE, 0, delta, 0));
}

static void adjust_esp(struct bt_tctx *t, int32_t delta)
{
    bt_emit_adjust_esp(t, BT_R_ESP64, delta);
}

/* A stack access at ESP+delta, checked here or covered by a group check. */
static void stack_access(struct bt_tctx *t, ZydisEncoderRequest *req, int mi, int32_t delta,
                         unsigned size, bool rd, bool wr)
{
    if (t->direct_stack) {
        req->operands[mi] = bt_zop(bt_m(BT_R_ESP64, BT_R_ADDEND, 1, delta, size));
        bt_enc(t->e, BT_MAIN, req);
        return;
    }
    stack_lin(t, delta, size, wr);
    req->operands[mi] = bt_zop(host_mem(size));
    bt_emit_mem_op(t, req, size, rd, wr);
}

void bt_emit_push(struct bt_tctx *t, unsigned size, struct bt_op src)
{
    ZydisEncoderRequest req;
    memset(&req, 0, sizeof(req));
    req.mnemonic = ZYDIS_MNEMONIC_MOV;
    req.operand_count = 2;
    if (src.type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
        src.v = size == 2 ? (int16_t)src.v : (int32_t)src.v;
    req.operands[1] = bt_zop(src);
    stack_access(t, &req, 0, -(int32_t)size, size, false, true);
    adjust_esp(t, -(int32_t)size);
}

/*
 * PUSH of a segment register, inline for flat code with a 32-bit stack
 * (kernel entries push DS/ES/FS/GS on every system call and interrupt).
 * Like the callout (cpu_co_push_sreg): ESP moves by the operand size and
 * only the selector's 16 bits are written, as recent Intel cores do. The
 * groups planner still treats it as a callout, so the store is checked.
 */
bool bt_emit_push_sreg(struct bt_tctx *t)
{
    const struct dec_insn *d = t->d;
    if (d->zi.mnemonic != ZYDIS_MNEMONIC_PUSH || d->ops[0].type != ZYDIS_OPERAND_TYPE_REGISTER ||
        ZydisRegisterGetClass(d->ops[0].reg.value) != ZYDIS_REGCLASS_SEGMENT ||
        (t->key & (BT_KEY_NONFLAT | BT_KEY_STACK16)))
        return false;
    int seg = bt_seg_index(d->ops[0].reg.value);
    unsigned osz = d->zi.operand_width / 8;
    int32_t sel_off = bt_seg_off(seg, offsetof(struct cpu_segment, sel));
    bt_ins(t->e, BT_MAIN, ZYDIS_MNEMONIC_MOVZX, 2, bt_r(BT_R_KEEP_32), bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, sel_off, 2));
    ZydisEncoderRequest req;
    memset(&req, 0, sizeof(req));
    req.mnemonic = ZYDIS_MNEMONIC_MOV;
    req.operand_count = 2;
    req.operands[1] = bt_zop(bt_r(BT_R_KEEP_16));
    stack_access(t, &req, 0, -(int32_t)osz, 2, false, true);
    adjust_esp(t, -(int32_t)osz);
    return true;
}

/* Read size bytes at ESP + delta into dst (R13D or another 32-bit
 * scratch), zero-extended. */
/* R14 ← the read entry of ESP's page under key, if it has one (after
 * ESP moved to another stack: SYSENTER, SYSEXIT, IRET to CPL 3). A guess
 * only: a stale R14 costs misses, never a wrong access. Clobbers R11 and
 * the host flags. */
void bt_emit_addend_follow_esp(struct bt_tctx *t, uint32_t key)
{
    if (!(key & BT_KEY_PG))
        return;
    struct bt_emit *e = t->e;
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(ZYDIS_REGISTER_R11D), bt_r(BT_R_ESP));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_SHR, 2, bt_r(ZYDIS_REGISTER_R11D), bt_i(12));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(ZYDIS_REGISTER_R11),
           bt_m(BT_R_CPU, ZYDIS_REGISTER_R11, 8, bt_tlb_off(key, false), 8));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_TEST, 2, bt_r(ZYDIS_REGISTER_R11), bt_r(ZYDIS_REGISTER_R11));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_CMOVNZ, 2, bt_r(BT_R_ADDEND), bt_r(ZYDIS_REGISTER_R11));
}

void bt_emit_stack_read(struct bt_tctx *t, int32_t delta, unsigned size, ZydisRegister dst32)
{
    ZydisEncoderRequest req;
    memset(&req, 0, sizeof(req));
    req.mnemonic = size == 2 ? ZYDIS_MNEMONIC_MOVZX : ZYDIS_MNEMONIC_MOV;
    req.operand_count = 2;
    req.operands[0] = bt_zop(bt_r(dst32));
    stack_access(t, &req, 1, delta, size, true, false);
}

/* Pop size bytes into dst, zero-extended. */
void bt_emit_pop_to(struct bt_tctx *t, unsigned size, ZydisRegister dst32)
{
    t->kv_ok = true; /* every caller pops first */
    bt_emit_stack_read(t, 0, size, dst32);
    t->kv_ok = false;
    adjust_esp(t, (int32_t)size);
}

/* The explicit memory operand of push/pop r/m. */
static void explicit_access(struct bt_tctx *t, const ZydisDecodedOperand *op, ZydisEncoderRequest *req,
                            int mi, unsigned size, bool rd, bool wr)
{
    if (t->direct_mem) {
        req->operands[mi] = bt_direct_mem(t, op, size);
        bt_enc(t->e, BT_MAIN, req);
        return;
    }
    bt_emit_ea(t, op, BT_R_ADDR_32, size, wr);
    req->operands[mi] = bt_zop(host_mem(size));
    bt_emit_mem_op(t, req, size, rd, wr);
}

static ZydisRegister sized(ZydisRegister r32, unsigned size)
{
    return size == 2 ? ZydisRegisterEncode(ZYDIS_REGCLASS_GPR16, ZydisRegisterGetId(r32)) : r32;
}

bool bt_stack_lag_ok(const struct dec_insn *d, bool direct_stack, uint32_t key)
{
    const ZydisDecodedOperand *op = &d->ops[0];
    if (!direct_stack || d->zi.operand_width != 32 || (key & BT_KEY_STACK16))
        return false;
    if (d->zi.mnemonic == ZYDIS_MNEMONIC_PUSH && op->type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
        return true;
    /* Not PUSH ESP (it stores ESP itself) nor POP ESP. */
    return (d->zi.mnemonic == ZYDIS_MNEMONIC_PUSH || d->zi.mnemonic == ZYDIS_MNEMONIC_POP) &&
           op->type == ZYDIS_OPERAND_TYPE_REGISTER &&
           ZydisRegisterGetClass(op->reg.value) == ZYDIS_REGCLASS_GPR32 && op->reg.value != ZYDIS_REGISTER_ESP;
}

/*
 * A run of pushes and pops covered by one stack group: each is one store or
 * load at [R12 + addend + lag], and R12D moves once, after the run's last
 * (the translator ends a run before any other instruction and before a
 * group check, so every other instruction, and every exit, sees ESP in
 * R12D). Nothing inside a run can fault or leave: its accesses were checked
 * together. A prologue's four pushes were four store-LEA pairs, each store
 * waiting for the LEA before it.
 */
static void lag_access(struct bt_tctx *t, bool push, ZydisRegister reg32, struct bt_op src)
{
    if (push) {
        t->esp_lag -= 4;
        bt_ins(t->e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_m(BT_R_ESP64, BT_R_ADDEND, 1, t->esp_lag, 4), src);
    } else {
        bt_ins(t->e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(reg32), bt_m(BT_R_ESP64, BT_R_ADDEND, 1, t->esp_lag, 4));
        t->esp_lag += 4;
    }
    if (!t->lag_next) {
        if (t->esp_lag)
            adjust_esp(t, t->esp_lag);
        t->esp_lag = 0;
    }
}

bool bt_emit_stack(struct bt_tctx *t)
{
    const struct dec_insn *d = t->d;
    const ZydisDecodedOperand *op = &d->ops[0];
    unsigned osz = d->zi.operand_width / 8;
    if (bt_stack_lag_ok(d, t->direct_stack, t->key)) {
        bool push = d->zi.mnemonic == ZYDIS_MNEMONIC_PUSH;
        struct bt_op src = op->type == ZYDIS_OPERAND_TYPE_IMMEDIATE ? bt_i((int32_t)op->imm.value.s)
                                                                    : bt_r(bt_map_reg(op->reg.value));
        lag_access(t, push, push ? ZYDIS_REGISTER_NONE : bt_map_reg(op->reg.value), src);
        return true;
    }
    switch (d->zi.mnemonic) {
    case ZYDIS_MNEMONIC_PUSH:
        if (op->type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
            bt_emit_push(t, osz, bt_i(op->imm.value.s));
        } else if (op->type == ZYDIS_OPERAND_TYPE_REGISTER) {
            if (ZydisRegisterGetClass(op->reg.value) == ZYDIS_REGCLASS_SEGMENT)
                return false;
            bt_emit_push(t, osz, bt_r(bt_map_reg(op->reg.value)));
        } else {
            ZydisEncoderRequest req;
            memset(&req, 0, sizeof(req));
            req.mnemonic = osz == 2 ? ZYDIS_MNEMONIC_MOVZX : ZYDIS_MNEMONIC_MOV;
            req.operand_count = 2;
            req.operands[0] = bt_zop(bt_r(BT_R_KEEP_32));
            t->kv_ok = true; /* the read comes before the push */
            explicit_access(t, op, &req, 1, osz, true, false);
            t->kv_ok = false;
            bt_emit_push(t, osz, bt_r(sized(BT_R_KEEP_32, osz)));
        }
        return true;
    case ZYDIS_MNEMONIC_POP:
        if (op->type == ZYDIS_OPERAND_TYPE_REGISTER) {
            if (ZydisRegisterGetClass(op->reg.value) == ZYDIS_REGCLASS_SEGMENT)
                return false;
            bt_emit_pop_to(t, osz, BT_R_KEEP_32);
            bt_ins(t->e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(bt_map_reg(op->reg.value)),
                   bt_r(sized(BT_R_KEEP_32, osz)));
        } else {
            /* The destination address is computed after ESP is incremented
             * (SDM POP). */
            bt_emit_pop_to(t, osz, BT_R_KEEP_32);
            ZydisEncoderRequest req;
            memset(&req, 0, sizeof(req));
            req.mnemonic = ZYDIS_MNEMONIC_MOV;
            req.operand_count = 2;
            req.operands[1] = bt_zop(bt_r(sized(BT_R_KEEP_32, osz)));
            explicit_access(t, op, &req, 0, osz, false, true);
        }
        return true;
    case ZYDIS_MNEMONIC_ENTER: {
        if ((d->ops[1].imm.value.u & 31) != 0)
            return false; /* nested frames: callout */
        bt_emit_push(t, osz, bt_r(sized(ZYDIS_REGISTER_EBP, osz)));
        if (osz == 2)
            bt_ins(t->e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(BP), bt_r(BT_R_SP));
        else
            bt_ins(t->e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(EBP), bt_r(BT_R_ESP));
        adjust_esp(t, -(int32_t)(uint16_t)d->ops[0].imm.value.u);
        return true;
    }
    case ZYDIS_MNEMONIC_LEAVE: {
        /* ESP = EBP; pop EBP — read first so a fault changes nothing. */
        if (t->key & BT_KEY_STACK16)
            bt_ins(t->e, BT_MAIN, ZYDIS_MNEMONIC_MOVZX, 2, bt_r(BT_R_ADDR_32), R(BP));
        else
            bt_ins(t->e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_ADDR_32), R(EBP));
        bt_emit_seg_check(t, CPU_SS, BT_R_ADDR_32, osz, false);
        bt_emit_seg_add(t, CPU_SS, BT_R_ADDR_32);
        ZydisEncoderRequest req;
        memset(&req, 0, sizeof(req));
        req.mnemonic = osz == 2 ? ZYDIS_MNEMONIC_MOVZX : ZYDIS_MNEMONIC_MOV;
        req.operand_count = 2;
        req.operands[0] = bt_zop(bt_r(BT_R_KEEP_32));
        req.operands[1] = bt_zop(host_mem(osz));
        bt_emit_mem_op(t, &req, osz, true, false);
        bt_emit_adjust_esp(t, ZYDIS_REGISTER_RBP, (int32_t)osz); /* ESP = EBP + osz (SP = BP + osz) */
        if (osz == 2)
            bt_ins(t->e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(BP), bt_r(BT_R_KEEP_16));
        else
            bt_ins(t->e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(EBP), bt_r(BT_R_KEEP_32));
        return true;
    }
    default:
        return false;
    }
}
