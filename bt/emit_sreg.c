/*
 * bt/emit_sreg.c — MOV ES/DS/FS/GS, r/m16 and POP ES/DS/FS/GS without a
 * callout when the descriptor is one loaded lately and unchanged.
 *
 * A Linux system call loads DS, ES and FS on entry (the same user data
 * selector into DS and ES, the per-CPU segment into FS) and FS again on
 * exit, and every return from an interrupt or exception pops DS, ES and
 * FS: callouts, each a full spill of the guest's registers, for
 * loads whose outcome is almost always the last one's. A load re-reads its
 * descriptor (SDM vol. 3 3.4.3), so what is kept is the descriptor itself:
 * bt_sreg_memo (bt/bt.h), filled by the callout after a load that worked
 * (runtime.c), holds the descriptor's bytes, the GDT base, and the
 * segment state the load produced. The stub (one per register, built into
 * the code cache with the memory stubs) finds the selector's entry and
 * takes it only if the selector, CPL and GDT (base, limit) are those of the fill
 * and the descriptor, read again through the shadow TLB as the guest
 * would read it now, is still the same 8 bytes (a guest that rewrites its
 * GDT, as Linux does with TLS entries, or maps it elsewhere, misses). Then:
 * FS, GS get the state; DS, ES must already hold it (a change of DS/ES
 * can change the translation key: that stays the callout's, which leaves
 * the block). A null selector into FS/GS is loaded directly (nothing to
 * read). Anything else returns past the site's short JMP, into the
 * callout:
 *
 *     movzx r9d, <selector> ; call stub ; jmp after ; <callout> ; after:
 *
 * The guest's flags are saved and restored inside the stub.
 * docs/translation.md, "Segment register loads".
 */
#include "bt/translate.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "bt/offsets.h"

#define R(x) bt_r(ZYDIS_REGISTER_##x)
#define CPUM(off, sz) bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, (off), (sz))
/* A field of the memo entry R10 points at. */
#define MEMO(field, sz) bt_m(ZYDIS_REGISTER_R10, ZYDIS_REGISTER_NONE, 0, \
                             (int32_t)offsetof(struct bt_sreg_memo, field), (sz))


static void restore_flags_ret(struct bt_emit *e, int pop)
{
    if (pop) /* POP: the load worked, ESP moves past the selector (flag-free) */
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, bt_r(BT_R_ESP), bt_m(BT_R_ESP64, ZYDIS_REGISTER_NONE, 0, pop, 0));
    bt_emit_flags_from_r8(e, BT_MAIN, ZYDIS_REGISTER_R11); /* R9 holds the selector */
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_RET, 0);
}

/* With R10 at a memo and the selector in R9D: on to what follows if the
 * memo holds this selector (and, if cpl, was filled at this CPL) under the
 * current GDT, and the descriptor as the guest would read it now — its
 * linear address through the supervisor read table (an empty entry is a
 * miss) — is the same 8 bytes; else to miss. Clobbers R9, R11, flags. */
static void memo_check(struct bt_emit *e, int miss, bool cpl)
{
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_CMP, 2, MEMO(sel, 2), R(R9W));
    bt_jcc_label(e, BT_MAIN, ZYDIS_MNEMONIC_JNZ, miss);
    if (cpl) {
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(R11D), CPUM((int32_t)offsetof(struct cpu, cpl), 4));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_CMP, 2, MEMO(cpl, 1), R(R11B));
        bt_jcc_label(e, BT_MAIN, ZYDIS_MNEMONIC_JNZ, miss);
    }
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOVZX, 2, R(R11D),
           CPUM((int32_t)(offsetof(struct cpu, gdtr) + offsetof(struct cpu_dtr, limit)), 2));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_CMP, 2, MEMO(gdt_limit, 2), R(R11W));
    bt_jcc_label(e, BT_MAIN, ZYDIS_MNEMONIC_JNZ, miss);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(R11D),
           CPUM((int32_t)(offsetof(struct cpu, gdtr) + offsetof(struct cpu_dtr, base)), 4));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_CMP, 2, MEMO(gdt_base, 4), R(R11D));
    bt_jcc_label(e, BT_MAIN, ZYDIS_MNEMONIC_JNZ, miss);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_AND, 2, R(R9D), bt_i(0xFFF8));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_ADD, 2, R(R9D), R(R11D));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(R11D), R(R9D));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_SHR, 2, R(R11D), bt_i(12));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(R11),
           bt_m(BT_R_CPU, ZYDIS_REGISTER_R11, 8, (int32_t)BT_TLB_OFF(SMMU_T_SR), 8));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_TEST, 2, R(R11), R(R11));
    bt_jcc_label(e, BT_MAIN, ZYDIS_MNEMONIC_JZ, miss);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(R11), bt_m(ZYDIS_REGISTER_R9, ZYDIS_REGISTER_R11, 1, 0, 8));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_CMP, 2, MEMO(raw, 8), R(R11));
    bt_jcc_label(e, BT_MAIN, ZYDIS_MNEMONIC_JNZ, miss);
}

void bt_emit_seg_from_memo(struct bt_emit *e, ZydisRegister base, int32_t off, int seg)
{
    int32_t segm = off + (int32_t)offsetof(struct bt_sreg_memo, seg);
    for (int32_t k = 0; k < 16; k += 8) {
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(R11), bt_m(base, ZYDIS_REGISTER_NONE, 0, segm + k, 8));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, CPUM(bt_seg_off(seg, 0) + k, 8), R(R11));
    }
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(R11D),
           bt_m(base, ZYDIS_REGISTER_NONE, 0, segm + (int32_t)offsetof(struct cpu_segment, base), 4));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, CPUM(bt_seg_arr_off(offsetof(struct cpu, seg_base), seg), 4), R(R11D));
    static const size_t memo_f[4] = { offsetof(struct bt_sreg_memo, lo), offsetof(struct bt_sreg_memo, hi),
                                      offsetof(struct bt_sreg_memo, wlo), offsetof(struct bt_sreg_memo, whi) };
    const size_t cpu_f[4] = { offsetof(struct cpu, seg_lo), offsetof(struct cpu, seg_hi),
                              offsetof(struct cpu, seg_wlo), offsetof(struct cpu, seg_whi) };
    for (int k = 0; k < 4; k++) {
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(R11D), bt_m(base, ZYDIS_REGISTER_NONE, 0, off + (int32_t)memo_f[k], 4));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, CPUM(bt_seg_arr_off(cpu_f[k], seg), 4), R(R11D));
    }
}

static void sreg_stub(struct bt_emit *e, int seg, int pop)
{
    bool key_seg = seg == CPU_DS || seg == CPU_ES || seg == CPU_CS;
    int miss = bt_label(e), null = bt_label(e);
    int32_t memo = (int32_t)offsetof(struct bt_vcpu, sreg_memo) - (int32_t)offsetof(struct bt_vcpu, cpu);
    bt_emit_flags_to_r8(e, BT_MAIN, ZYDIS_REGISTER_R11);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_TEST, 2, R(R9D), bt_i(0xFFFC));
    bt_jcc_label(e, BT_MAIN, ZYDIS_MNEMONIC_JZ, key_seg ? miss : null);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(R10D), R(R9D));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_SHR, 2, R(R10D), bt_i(3));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_AND, 2, R(R10D), bt_i(BT_SREG_MEMOS - 1));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_SHL, 2, R(R10D), bt_i(6));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, R(R10), bt_m(BT_R_CPU, ZYDIS_REGISTER_R10, 1, memo, 0));
    memo_check(e, miss, true);
    int32_t segm = (int32_t)offsetof(struct bt_sreg_memo, seg);
    if (key_seg) {
        /* DS, ES (and CS for IRET, emit_iret.c): the load must change
         * nothing (or the key might). Selector, base, limit, flags; not
         * the padding after the selector. */
        static const struct { int32_t off; unsigned size; ZydisRegister r; } part[3] = {
            { 0, 2, ZYDIS_REGISTER_R11W }, { 4, 4, ZYDIS_REGISTER_R11D }, { 8, 8, ZYDIS_REGISTER_R11 } };
        for (int k = 0; k < 3; k++) {
            bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(part[k].r),
                   bt_m(ZYDIS_REGISTER_R10, ZYDIS_REGISTER_NONE, 0, segm + part[k].off, part[k].size));
            bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_CMP, 2, CPUM(bt_seg_off(seg, 0) + part[k].off, part[k].size),
                   bt_r(part[k].r));
            bt_jcc_label(e, BT_MAIN, ZYDIS_MNEMONIC_JNZ, miss);
        }
        restore_flags_ret(e, pop);
    } else {
        bt_emit_seg_from_memo(e, ZYDIS_REGISTER_R10, 0, seg);
        restore_flags_ret(e, pop);
        /* A null selector (cpu_load_seg): selector and flags set, base and
         * limit kept, every access faults (cpu_seg_bounds). */
        bt_bind(e, BT_MAIN, null);
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, CPUM(bt_seg_off(seg, offsetof(struct cpu_segment, sel)), 2), R(R9W));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, CPUM(bt_seg_off(seg, offsetof(struct cpu_segment, flags)), 4), bt_i(0));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, CPUM(bt_seg_arr_off(offsetof(struct cpu, seg_lo), seg), 4), bt_i(1));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, CPUM(bt_seg_arr_off(offsetof(struct cpu, seg_hi), seg), 4), bt_i(0));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, CPUM(bt_seg_arr_off(offsetof(struct cpu, seg_wlo), seg), 4), bt_i(1));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, CPUM(bt_seg_arr_off(offsetof(struct cpu, seg_whi), seg), 4), bt_i(0));
        restore_flags_ret(e, pop);
    }
    /* Into the site's callout, two bytes past the return address. */
    bt_bind(e, BT_MAIN, miss);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_ADD, 2, bt_m(ZYDIS_REGISTER_RSP, ZYDIS_REGISTER_NONE, 0, 0, 8), bt_i(2));
    restore_flags_ret(e, 0);
}

/*
 * IRET back to CPL 3 (emit_iret.c): the selector in R9D against the fixed
 * memo iret_memo[i] (filled only by IRET callouts that ended at CPL 3,
 * runtime.c): the same selector, GDT and descriptor bytes, read again
 * through the supervisor table. Checks only: the IRET commits the state
 * itself, once every check has passed. A miss returns into the callout.
 */
static void iret_stub(struct bt_emit *e, int i)
{
    int miss = bt_label(e);
    int32_t memo = (int32_t)(offsetof(struct bt_vcpu, iret_memo) + (size_t)i * sizeof(struct bt_sreg_memo)) -
                   (int32_t)offsetof(struct bt_vcpu, cpu);
    bt_emit_flags_to_r8(e, BT_MAIN, ZYDIS_REGISTER_R11);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, R(R10), bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, memo, 0));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_TEST, 2, R(R9D), bt_i(0xFFFC));
    bt_jcc_label(e, BT_MAIN, ZYDIS_MNEMONIC_JZ, miss);
    memo_check(e, miss, false); /* filled at CPL 3 only (runtime.c) */
    restore_flags_ret(e, 0);
    bt_bind(e, BT_MAIN, miss);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_ADD, 2, bt_m(ZYDIS_REGISTER_RSP, ZYDIS_REGISTER_NONE, 0, 0, 8), bt_i(2));
    restore_flags_ret(e, 0);
}

bool bt_sregstub_build(struct bt *bt)
{
    struct bt_emit *e = &bt->em;
    static const int segs[4] = { CPU_ES, CPU_DS, CPU_FS, CPU_GS };
    int at[3][4];
    bt_emit_reset(e);
    for (int p = 0; p < 3; p++)
        for (int i = 0; i < 4; i++) {
            at[p][i] = bt_label(e);
            bt_bind(e, BT_MAIN, at[p][i]);
            sreg_stub(e, segs[i], p * 2); /* MOV; POP with a 16-bit, a 32-bit operand */
        }
    int at_cs = bt_label(e);
    bt_bind(e, BT_MAIN, at_cs);
    sreg_stub(e, CPU_CS, 0);
    int at_iret[2];
    for (int i = 0; i < 2; i++) {
        at_iret[i] = bt_label(e);
        bt_bind(e, BT_MAIN, at_iret[i]);
        iret_stub(e, i);
    }
    uint8_t *host = bt_cache_place(bt, e);
    if (!host)
        return false;
    memset(bt->sregstub, 0, sizeof(bt->sregstub));
    bt->sregstub[0][CPU_CS] = bt_placed(e, host, BT_MAIN, bt_label_off(e, at_cs));
    for (int i = 0; i < 2; i++)
        bt->iretstub[i] = bt_placed(e, host, BT_MAIN, bt_label_off(e, at_iret[i]));
    for (int p = 0; p < 3; p++)
        for (int i = 0; i < 4; i++)
            bt->sregstub[p][segs[i]] = bt_placed(e, host, BT_MAIN, bt_label_off(e, at[p][i]));
    if (bt->perfmap)
        fprintf(bt->perfmap, "%lx %x btvm_sregstubs\n", (unsigned long)(uintptr_t)host, bt_emit_size(e));
    return true;
}

/* The site: the selector in R9D, the stub, the callout a miss returns to
 * (the label co, if not NULL, is bound at the callout). */
void bt_emit_sreg_site(struct bt_tctx *t, uint8_t *stub, int co)
{
    struct bt_emit *e = t->e;
    bt_call_abs(e, BT_MAIN, (uint64_t)(uintptr_t)stub);
    /* JMP over the callout: its 15 bytes (bt_emit_callout) are where a
     * miss returns to. */
    static const uint8_t jmp15[2] = { 0xEB, 15 };
    bt_emit_bytes(e, BT_MAIN, jmp15, 2);
    uint32_t a0 = bt_here(e, BT_MAIN);
    if (co >= 0)
        bt_bind(e, BT_MAIN, co);
    bt_emit_callout(t, BT_MAIN, cpu_callout_for(t->d));
    if (bt_here(e, BT_MAIN) - a0 != 15)
        bt_emit_fail(e, "segment load: unexpected callout length");
}

/* POP ES/DS/FS/GS with a 32-bit stack: the selector read from [ESP] as
 * the pop would (a fault there is the pop's), into R13D; the stub moves
 * ESP on a hit, the callout pops itself on a miss. */
bool bt_emit_pop_sreg(struct bt_tctx *t)
{
    const struct dec_insn *d = t->d;
    if (d->zi.mnemonic != ZYDIS_MNEMONIC_POP || d->ops[0].type != ZYDIS_OPERAND_TYPE_REGISTER ||
        ZydisRegisterGetClass(d->ops[0].reg.value) != ZYDIS_REGCLASS_SEGMENT ||
        (t->key & (BT_KEY_REAL | BT_KEY_V86 | BT_KEY_STACK16)))
        return false;
    int seg = cpu_seg_of(d->ops[0].reg.value);
    unsigned osz = d->zi.operand_width / 8;
    if (seg < 0 || (osz != 2 && osz != 4) || !t->bt->sregstub[osz / 2][seg])
        return false;
    bt_emit_stack_read(t, 0, osz, BT_R_KEEP_32); /* all of it: a 32-bit pop reads 4 bytes */
    bt_ins(t->e, BT_MAIN, ZYDIS_MNEMONIC_MOVZX, 2, R(R9D), bt_r(BT_R_KEEP_16));
    bt_emit_sreg_site(t, t->bt->sregstub[osz / 2][seg], -1);
    return true;
}

bool bt_emit_mov_sreg(struct bt_tctx *t)
{
    const struct dec_insn *d = t->d;
    if (d->zi.mnemonic != ZYDIS_MNEMONIC_MOV || d->ops[0].type != ZYDIS_OPERAND_TYPE_REGISTER ||
        ZydisRegisterGetClass(d->ops[0].reg.value) != ZYDIS_REGCLASS_SEGMENT ||
        (t->key & (BT_KEY_REAL | BT_KEY_V86)))
        return false;
    int seg = cpu_seg_of(d->ops[0].reg.value);
    if (seg < 0 || seg == CPU_CS || !t->bt->sregstub[0][seg])
        return false; /* CS (#UD), SS: the callout */
    struct bt_emit *e = t->e;
    const ZydisDecodedOperand *op = &d->ops[1];
    if (op->type == ZYDIS_OPERAND_TYPE_REGISTER) {
        ZydisRegister src = bt_map_reg(op->reg.value);
        ZydisRegister src16 = ZydisRegisterEncode(ZYDIS_REGCLASS_GPR16, ZydisRegisterGetId(src));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOVZX, 2, R(R9D), bt_r(src16));
    } else {
        /* From memory (Linux's exit path: mov fs, [esp + 0x24]): the
         * selector read as any load is (a fault there is the
         * instruction's, before anything changed), into R13. */
        ZydisEncoderRequest req;
        memset(&req, 0, sizeof(req));
        req.mnemonic = ZYDIS_MNEMONIC_MOVZX;
        req.operand_count = 2;
        req.operands[0] = bt_zop(bt_r(BT_R_KEEP_32));
        if (t->direct_mem) {
            req.operands[1] = bt_direct_mem(t, op, 2);
            bt_enc(e, BT_MAIN, &req);
        } else {
            bt_emit_ea(t, op, BT_R_ADDR_32, 2, false);
            req.operands[1] = bt_zop(bt_m(BT_R_ADDR, BT_R_ENTRY, 1, 0, 2));
            bt_emit_mem_op(t, &req, 2, true, false);
        }
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(R9D), bt_r(BT_R_KEEP_32));
    }
    bt_emit_sreg_site(t, t->bt->sregstub[0][seg], -1);
    return true;
}
