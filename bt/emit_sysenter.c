/*
 * bt/emit_sysenter.c — SYSENTER (CPL 3 → 0) and SYSEXIT (CPL 0 → 3)
 * without a callout.
 *
 * Every system call a Linux program makes through the vDSO is a SYSENTER
 * and, on the way back, a SYSEXIT. Neither reads memory: the new CS and SS
 * are flat segments made from IA32_SYSENTER_CS with fixed descriptor
 * caches (SDM vol. 2, SYSENTER/SYSEXIT), ESP and EIP come from the other
 * two MSRs (SYSENTER) or from ECX and EDX (SYSEXIT). Inline, in flat
 * 32-bit code with a 32-bit stack:
 *
 *   1. SYSENTER_CS[15:2] = 0 is a #GP(0): the callout raises it;
 *   2. CS and SS get the caches cpu_fast_flat_seg() (cpu/sysinsn.c)
 *      describes, with their bounds (cpu_seg_bounds: a readable code
 *      segment, a writable data segment, both 4 GiB), the CPL changes,
 *      SYSENTER clears IF, RF and VM;
 *   3. R14, the stack page's addend, follows the new ESP when its page
 *      has an entry (a prediction only: a stale R14 costs misses, never
 *      a wrong access);
 *   4. the indirect exit to the new EIP under the new key (the CPL bits
 *      change, nothing else: CS.D and SS.B stay 1, the segments stay
 *      flat), through the table (no inline cache: the vDSO's block may be
 *      shared, whose cache compares EIPs relative to its library).
 *
 * The arithmetic flags are the guest's throughout (saved in R8 around the
 * checks). Interrupts: SYSENTER clears IF; SYSEXIT leaves it, and Linux's
 * `sti; sysexit` has STI's poll (emit_vif.c) behind it, taken at the next
 * block entry. docs/translation.md, "SYSENTER and SYSEXIT".
 */
#include "bt/translate.h"

#include <stddef.h>
#include "bt/offsets.h"

#define R(x) bt_r(ZYDIS_REGISTER_##x)
#define CPUM(off, sz) bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, (off), (sz))
#define CPUF(field, sz) CPUM((int32_t)offsetof(struct cpu, field), (sz))


/* Segment seg ← the flat cache for the selector in R9W. */
static void load_flat(struct bt_emit *e, int seg, unsigned type, unsigned dpl)
{
    struct cpu_segment s = cpu_fast_flat_seg(0, type, dpl);
    bool code = type & 8; /* readable code (0xB): reads allowed, writes not */
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, CPUM(bt_seg_off(seg, offsetof(struct cpu_segment, sel)), 2), R(R9W));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, CPUM(bt_seg_off(seg, offsetof(struct cpu_segment, base)), 4),
           bt_i((int32_t)s.base));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, CPUM(bt_seg_off(seg, offsetof(struct cpu_segment, limit)), 4),
           bt_i((int32_t)s.limit));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, CPUM(bt_seg_off(seg, offsetof(struct cpu_segment, flags)), 4),
           bt_i((int32_t)s.flags));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, CPUM(bt_seg_arr_off(offsetof(struct cpu, seg_base), seg), 4), bt_i(0));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, CPUM(bt_seg_arr_off(offsetof(struct cpu, seg_lo), seg), 4), bt_i(0));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, CPUM(bt_seg_arr_off(offsetof(struct cpu, seg_hi), seg), 4), bt_i(-1));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, CPUM(bt_seg_arr_off(offsetof(struct cpu, seg_wlo), seg), 4),
           bt_i(code ? 1 : 0));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, CPUM(bt_seg_arr_off(offsetof(struct cpu, seg_whi), seg), 4),
           bt_i(code ? 0 : -1));
}

bool bt_emit_sysenter(struct bt_tctx *t)
{
    const struct dec_insn *d = t->d;
    ZydisMnemonic m = d->zi.mnemonic;
    unsigned cpl = bt_key_cpl(t->key);
    bool enter = m == ZYDIS_MNEMONIC_SYSENTER;
    if ((!enter && m != ZYDIS_MNEMONIC_SYSEXIT) || d->zi.operand_width != 32 || cpl != (enter ? 3u : 0u) ||
        (t->key & (BT_KEY_NONFLAT | BT_KEY_REAL | BT_KEY_V86 | BT_KEY_STACK16 | BT_KEY_STEP)) ||
        !(t->key & BT_KEY_CODE32))
        return false;
    struct bt_emit *e = t->e;
    uint32_t to_key = (t->key & ~BT_KEY_CPL) | (enter ? 0u : 3u);
    int gp = bt_label(e);

    bt_emit_flags_save(t, BT_MAIN); /* R8 */
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOVZX, 2, R(R9D), CPUF(msr_sysenter_cs, 2));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_AND, 2, R(R9D), bt_i(0xFFFC));
    bt_jcc_near(e, BT_MAIN, ZYDIS_MNEMONIC_JZ, gp);
    if (enter) {
        load_flat(e, CPU_CS, 0xB, 0);
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_ADD, 2, R(R9D), bt_i(8));
        load_flat(e, CPU_SS, 0x3, 0);
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_AND, 2, CPUF(eflags, 4),
               bt_i((int32_t)~(CPU_FL_VM | CPU_FL_IF | CPU_FL_RF)));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_ESP), CPUF(msr_sysenter_esp, 4));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_KEEP_32), CPUF(msr_sysenter_eip, 4));
    } else {
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_ADD, 2, R(R9D), bt_i(16 | 3));
        load_flat(e, CPU_CS, 0xB, 3);
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_ADD, 2, R(R9D), bt_i(8));
        load_flat(e, CPU_SS, 0x3, 3);
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_ESP), R(ECX));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_KEEP_32), R(EDX));
    }
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, CPUF(cpl, 4), bt_i(enter ? 0 : 3));
    bt_emit_addend_follow_esp(t, to_key);
    bt_emit_flags_restore(t, BT_MAIN);
    bt_emit_exit_indirect_key(t, BT_R_KEEP_32, to_key, false);

    /* #GP(0): the callout raises it, with the guest's flags. */
    bt_bind(e, BT_OOL, gp);
    bt_emit_flags_restore(t, BT_OOL);
    bt_emit_callout(t, BT_OOL, cpu_callout_for(d));
    bt_ins(e, BT_OOL, ZYDIS_MNEMONIC_UD2, 0);
    return true;
}
