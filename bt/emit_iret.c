/*
 * bt/emit_iret.c — IRETD at CPL 0 back to CPL 0 or CPL 3 without a callout
 * (CPL 3: emit_iret_outer, below).
 *
 * An interrupt or exception taken in kernel code returns with IRET to the
 * same privilege: pop EIP, CS, EFLAGS (SDM IRET, RETURN-TO-SAME-PRIVILEGE-
 * LEVEL). The callout did that in C and looked the next block up. Inline,
 * in flat code with a 32-bit stack:
 *
 *   1. the CS selector ([ESP+4]), then the EFLAGS image ([ESP+8]): reads
 *      as any load, so a fault is the IRET's with nothing changed; an RPL
 *      other than 0 (a return to user mode) goes to the callout at once,
 *      after the first read;
 *   2. the CS load: the segment-load stub for CS (emit_sreg.c) in its
 *      compare-only form — the descriptor memo must hold this selector at
 *      this CPL with the same GDT and the same 8 bytes in it, and its
 *      state must be CS's already (so the translation key stays); a miss
 *      returns into the IRET's callout, which does everything (and fills
 *      the memo);
 *   3. EIP ([ESP]) into R13; the image must not have VM (a return to
 *      virtual-8086 mode) or TF set, nor the current EFLAGS NT (a task
 *      return): else the callout;
 *   4. commit: every flag but VM from the image (CPL 0), bit 1 set; DF and
 *      the arithmetic flags into the host's as POPF does (emit_vif.c); a
 *      waiting interrupt noticed (IF may be 1 now); ESP += 12; then the
 *      indirect exit to EIP (inline cache, table; the key is unchanged).
 *
 * nano pgfault (a kernel-mode #PF whose handler IRETs back) is one callout
 * shorter. docs/translation.md, "IRET at CPL 0".
 */
#include "bt/translate.h"

#include <stddef.h>
#include "bt/offsets.h"

#define R(x) bt_r(ZYDIS_REGISTER_##x)
#define CPUM(off, sz) bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, (off), (sz))
#define EFL CPUM(CPU_OFF_EFLAGS, 4)

/* EFLAGS as an IRET at CPL 0 sets them from the image at src (an offset
 * from R15): every flag in img from it, the others (VM: 0) kept, bit 1
 * set; into R9D as well, for bt_emit_host_flags_r9. */
static void iret_eflags(struct bt_emit *e, int32_t src, uint32_t img)
{
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP0_32), CPUM(src, 4));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_AND, 2, bt_r(BT_R_TMP0_32), bt_i((int32_t)img));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP2_32), EFL);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_AND, 2, bt_r(BT_R_TMP2_32), bt_i((int32_t)~img));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_OR, 2, bt_r(BT_R_TMP0_32), bt_r(BT_R_TMP2_32));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_OR, 2, bt_r(BT_R_TMP0_32), bt_i((int32_t)CPU_FL_FIX1));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, EFL, bt_r(BT_R_TMP0_32));
}

/*
 * The return to CPL 3 (RPL 3), from `outer` with the CS selector in R13D:
 * what cpu_iret_fast (cpu/deliver_fast.c) does, without leaving the code
 * cache. The image's SS, ESP and EFLAGS are read (faults are the IRET's),
 * CS and SS are checked against the descriptors the last IRET callout to
 * CPL 3 loaded (iret_memo, emit_sreg.c: same selectors, GDT, descriptor
 * bytes read again), then EIP; VM or TF in the image, NT now, or a data
 * segment the return would null (DPL < 3): the callout. The commit: the
 * flags, CS and SS from the memos, CPL 3, ESP, R14 to the new stack
 * page's entry (a guess, as for SYSEXIT), then the indirect exit under
 * the CPL-3 key.
 */
static void emit_iret_outer(struct bt_tctx *t, int outer, int co, uint32_t img)
{
    struct bt_emit *e = t->e;
    int slow = bt_label(e);
    uint32_t to_key = (t->key & ~BT_KEY_CPL) | 3u;
    int32_t tmp = (int32_t)offsetof(struct bt_vcpu, iret_tmp) - (int32_t)offsetof(struct bt_vcpu, cpu);
    int32_t memo = (int32_t)offsetof(struct bt_vcpu, iret_memo) - (int32_t)offsetof(struct bt_vcpu, cpu);
    bt_bind(e, BT_MAIN, outer);
    /* RPL 3 only (1 and 2 are the callout's): RPL - 3 tested with JRCXZ. */
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_RCX_PARK), R(RCX));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(R11D), bt_i(3));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_PEXT, 3, R(ECX), bt_r(BT_R_KEEP_32), R(R11D));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, R(ECX), bt_m(ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_NONE, 0, -3, 0));
    bt_emit_jrcxz_or_jmp(e, BT_R_RCX_PARK, co);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(RCX), bt_r(BT_R_RCX_PARK));
    /* The image: CS (in R13D), SS, ESP, EFLAGS into iret_tmp (R13 is the
     * only register a read's slow path keeps). */
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, CPUM(tmp, 4), bt_r(BT_R_KEEP_32));
    static const int32_t at[3] = { 16, 12, 8 };
    for (int i = 0; i < 3; i++) {
        bt_emit_stack_read(t, at[i], 4, BT_R_KEEP_32);
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, CPUM(tmp + 4 * (i + 1), 4), bt_r(BT_R_KEEP_32));
    }
    for (int i = 0; i < 2; i++) {
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOVZX, 2, R(R9D), CPUM(tmp + 4 * i, 2));
        bt_emit_sreg_site(t, t->bt->iretstub[i], -1);
    }
    bt_emit_stack_read(t, 0, 4, BT_R_KEEP_32);
    bt_emit_flags_save(t, BT_MAIN);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_TEST, 2, CPUM(tmp + 12, 4), bt_i((int32_t)(CPU_FL_VM | CPU_FL_TF)));
    bt_jcc_near(e, BT_MAIN, ZYDIS_MNEMONIC_JNZ, slow);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_TEST, 2, EFL, bt_i((int32_t)CPU_FL_NT));
    bt_jcc_near(e, BT_MAIN, ZYDIS_MNEMONIC_JNZ, slow);
    /* ES, DS, FS, GS: null, or DPL 3 (else the return nulls them). */
    static const int dseg[4] = { CPU_ES, CPU_DS, CPU_FS, CPU_GS };
    for (int i = 0; i < 4; i++) {
        int ok = bt_label(e);
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOVZX, 2, R(R9D),
               CPUM(bt_seg_off(dseg[i], offsetof(struct cpu_segment, sel)), 2));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_TEST, 2, R(R9D), bt_i(0xFFFC));
        bt_jcc_near(e, BT_MAIN, ZYDIS_MNEMONIC_JZ, ok);
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(R9D), CPUM(bt_seg_off(dseg[i], offsetof(struct cpu_segment, flags)), 4));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_AND, 2, R(R9D), bt_i((int32_t)CPU_SEGF_DPL));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_CMP, 2, R(R9D), bt_i(3 << CPU_SEGF_DPL_SHIFT));
        bt_jcc_near(e, BT_MAIN, ZYDIS_MNEMONIC_JNZ, slow);
        bt_bind(e, BT_MAIN, ok);
    }

    /* Commit. CS and SS: the state the memos' loads produced. */
    for (int i = 0; i < 2; i++)
        bt_emit_seg_from_memo(e, BT_R_CPU, memo + i * (int32_t)sizeof(struct bt_sreg_memo), i ? CPU_SS : CPU_CS);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, CPUM((int32_t)offsetof(struct cpu, cpl), 4), bt_i(3));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_ESP), CPUM(tmp + 8, 4));
    bt_emit_addend_follow_esp(t, to_key);
    iret_eflags(e, tmp + 12, img);
    bt_emit_host_flags_r9(t);
    bt_emit_poll_intr(t);
    bt_emit_exit_indirect_key(t, BT_R_KEEP_32, to_key, false);

    bt_bind(e, BT_OOL, slow);
    bt_emit_flags_restore(t, BT_OOL);
    bt_jmp_near(e, BT_OOL, co);
}

bool bt_emit_iret(struct bt_tctx *t)
{
    const struct dec_insn *d = t->d;
    uint8_t *cs_stub = t->bt->sregstub[0][CPU_CS];
    if (d->zi.mnemonic != ZYDIS_MNEMONIC_IRETD || d->zi.operand_width != 32 || bt_key_cpl(t->key) != 0 ||
        (t->key & (BT_KEY_NONFLAT | BT_KEY_REAL | BT_KEY_V86 | BT_KEY_STACK16 | BT_KEY_STEP)) || !cs_stub)
        return false;
    struct bt_emit *e = t->e;
    int co = bt_label(e), slow = bt_label(e);
    bool outer_ok = t->bt->iretstub[0] && t->bt->iretstub[1] && (t->key & BT_KEY_CODE32);
    int outer = outer_ok ? bt_label(e) : co;
    const uint32_t img = CPU_FL_ARITH | CPU_FL_TF | CPU_FL_IF | CPU_FL_DF | CPU_FL_IOPL | CPU_FL_NT |
                         CPU_FL_RF | CPU_FL_AC | CPU_FL_VIF | CPU_FL_VIP | CPU_FL_ID;

    bt_emit_stack_read(t, 4, 4, BT_R_KEEP_32);
    /* A return to an outer level (RPL 3: every return to user mode) is
     * the callout's: RPL = PEXT(selector, 3) tested with JRCXZ (flag-free,
     * guest ECX parked in R10), before the stub would miss on it. */
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_RCX_PARK), R(RCX));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(R11D), bt_i(3));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_PEXT, 3, R(ECX), bt_r(BT_R_KEEP_32), R(R11D));
    bt_emit_jrcxz_or_jmp(e, BT_R_RCX_PARK, outer);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(RCX), bt_r(BT_R_RCX_PARK));
    /* The selector waits in bt_vcpu.keep while EFLAGS is read into R13
     * (R9 does not survive a read's slow path; R13 does). */
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, CPUM(BT_OFF_KEEP, 4), bt_r(BT_R_KEEP_32));
    bt_emit_stack_read(t, 8, 4, BT_R_KEEP_32);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOVZX, 2, R(R9D), CPUM(BT_OFF_KEEP, 2));
    bt_emit_sreg_site(t, cs_stub, co);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, CPUM(BT_OFF_KEEP, 4), bt_r(BT_R_KEEP_32));
    bt_emit_stack_read(t, 0, 4, BT_R_KEEP_32);
    /* The guest's flags stay for the callout until the checks pass. */
    bt_emit_flags_save(t, BT_MAIN);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_TEST, 2, CPUM(BT_OFF_KEEP, 4), bt_i((int32_t)(CPU_FL_VM | CPU_FL_TF)));
    bt_jcc_near(e, BT_MAIN, ZYDIS_MNEMONIC_JNZ, slow);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_TEST, 2, EFL, bt_i((int32_t)CPU_FL_NT));
    bt_jcc_near(e, BT_MAIN, ZYDIS_MNEMONIC_JNZ, slow);

    iret_eflags(e, BT_OFF_KEEP, img);
    bt_emit_host_flags_r9(t); /* as POPF (emit_vif.c) */
    bt_emit_poll_intr(t);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, bt_r(BT_R_ESP), bt_m(BT_R_ESP64, ZYDIS_REGISTER_NONE, 0, 12, 0));
    bt_emit_exit_indirect(t, BT_R_KEEP_32);

    /* A check failed: the callout, with the guest's flags. */
    bt_bind(e, BT_OOL, slow);
    bt_emit_flags_restore(t, BT_OOL);
    bt_jmp_near(e, BT_OOL, co);
    if (outer_ok)
        emit_iret_outer(t, outer, co, img);
    return true;
}
