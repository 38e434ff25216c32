/*
 * bt/emit_vif.c — CLI, STI, PUSHF and POPF emulated inline against the
 * virtual CPU, without leaving the code cache, at every CPL.
 *
 * These are the hot sensitive instructions (a kernel's local_irq_save /
 * restore): natively at CPL 3, POPF would silently ignore IF and PUSHF
 * would show the host's IF/IOPL — the Popek–Goldberg gap. Here the guest's
 * IF and IOPL live in cpu->eflags; arithmetic flags and DF stay in the host
 * RFLAGS. Bits are merged with flag-free BMI2 PEXT/PDEP pairs (x & mask)
 * and LEA (| of disjoint bits), so guest flags never need saving.
 * When IF may have gone from 0 to 1, the PIC's INTR byte is added into
 * cpu->async_pending, so a waiting interrupt is taken at the next block
 * entry; the translator ends the block right after the instruction that
 * follows STI, which gives STI its one-instruction interrupt shadow.
 *
 * The CPL is part of the block's key, so the code is specialised per CPL;
 * IOPL is read from cpu->eflags at run time. At CPL > 0, CLI/STI test
 * CPL <= IOPL inline and call the C callout only to raise #GP(0); POPF
 * keeps IOPL and changes IF only when CPL <= IOPL (SDM vol. 2 CLI, STI,
 * POPF; VME/PVI are not modelled). PUSHF/POPF inline need 32-bit operands
 * and are callouts in v8086 mode; CLI/STI work in any code size and mode
 * (in v8086 mode CPL 3 <= IOPL means IOPL 3, the v8086 rule).
 */
#include "bt/translate.h"

#include "bt/offsets.h"
#include "vm/vm.h"

#define R(x) bt_r(ZYDIS_REGISTER_##x)
#define EFL bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, CPU_OFF_EFLAGS, 4)

/* dst32 = src32 & mask, flag-free (R8 is clobbered). */
static void and_mask(struct bt_emit *e, ZydisRegister dst, ZydisRegister src, uint32_t mask)
{
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP1_32), bt_i((int32_t)mask));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_PEXT, 3, bt_r(dst), bt_r(src), bt_r(BT_R_TMP1_32));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_PDEP, 3, bt_r(dst), bt_r(dst), bt_r(BT_R_TMP1_32));
}

/* dst32 = IOPL of cpu->eflags (0..3), flag-free (R8 is clobbered). */
static void load_iopl(struct bt_emit *e, ZydisRegister dst)
{
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(dst), EFL);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP1_32), bt_i(CPU_FL_IOPL));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_PEXT, 3, bt_r(dst), bt_r(dst), bt_r(BT_R_TMP1_32));
}

/* async_pending = 1 if INTR, so a pending interrupt is noticed at the next
 * block entry: a flag-free store through poll_target[INTR] (bt/bt.h), not a
 * read-modify-write that could drop another thread's kick. */
/* Host RFLAGS ← R9D's DF and arithmetic flags, without POPFQ: DF by
 * STD/CLD, OF by ADD AL,7Fh, SF ZF AF PF CF by SAHF (guest EAX parked in
 * R10). The old host flags must be dead. */
void bt_emit_host_flags_r9(struct bt_tctx *t)
{
    struct bt_emit *e = t->e;
    int cld = bt_label(e), df_done = bt_label(e);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_BT, 2, bt_r(BT_R_TMP0_32), bt_i(10));
    bt_jcc_near(e, BT_MAIN, ZYDIS_MNEMONIC_JNB, cld);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_STD, 0);
    bt_jmp_near(e, BT_MAIN, df_done);
    bt_bind(e, BT_MAIN, cld);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_CLD, 0);
    bt_bind(e, BT_MAIN, df_done);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP2), R(RAX));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOVZX, 2, R(EAX), bt_r(ZYDIS_REGISTER_R9B));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_SHL, 2, R(EAX), bt_i(8));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_BT, 2, bt_r(BT_R_TMP0_32), bt_i(11));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_SETB, 1, R(AL));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_ADD, 2, R(AL), bt_i(0x7F));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_SAHF, 0);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(RAX), bt_r(BT_R_TMP2));
}

void bt_emit_poll_intr(struct bt_tctx *t)
{
    const volatile uint8_t *intr = vm_intr_level(t->bt->vm);
    if (!intr)
        return;
    struct bt_emit *e = t->e;
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP1), bt_i((int64_t)(uintptr_t)intr));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOVZX, 2, bt_r(BT_R_TMP1_32), bt_m(BT_R_TMP1, ZYDIS_REGISTER_NONE, 0, 0, 1));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP0),
           bt_m(BT_R_CPU, BT_R_TMP1, 8, BT_OFF_POLL_TARGET, 8));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_m(BT_R_TMP0, ZYDIS_REGISTER_NONE, 0, 0, 4), bt_i(1));
}

/*
 * CLI/STI at CPL > 0: CPL > IOPL goes out of line to the instruction's C
 * callout (cpu/sysinsn.c), which raises #GP(0). ((1 << CPL) - 1) >> IOPL
 * is zero exactly when IOPL >= CPL; JRCXZ tests it without touching the
 * guest's flags (guest ECX parked in R10). `done` is bound by the caller
 * after the instruction (reached only if the callout ever continued).
 */
static void iopl_gate(struct bt_tctx *t, unsigned cpl, int done)
{
    struct bt_emit *e = t->e;
    int deny = bt_label(e);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_RCX_PARK), R(RCX));
    load_iopl(e, ZYDIS_REGISTER_ECX);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP0_32), bt_i((1 << cpl) - 1));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_SHRX, 3, R(ECX), bt_r(BT_R_TMP0_32), R(ECX));
    bt_emit_jrcxz_or_jmp(e, BT_R_RCX_PARK, deny);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(RCX), bt_r(BT_R_RCX_PARK));
    bt_bind(e, BT_OOL, deny);
    bt_emit_callout(t, BT_OOL, cpu_callout_for(t->d));
    bt_jmp_near(e, BT_OOL, done);
}

/* POPF at CPL > 0 (32-bit): IOPL, VM, VIP, VIF unchanged, IF only when
 * CPL <= IOPL, RF cleared. The mask is built at run time: bit IOPL of
 * (0xF << CPL) says CPL <= IOPL, and PDEP moves it to IF's position. */
static void popf_outer(struct bt_tctx *t, unsigned cpl)
{
    struct bt_emit *e = t->e;
    const uint32_t m = CPU_FL_ARITH | CPU_FL_TF | CPU_FL_DF | CPU_FL_NT | CPU_FL_AC | CPU_FL_ID;
    bt_emit_pop_to(t, 4, BT_R_KEEP_32);
    load_iopl(e, BT_R_TMP3_32);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP1_32), bt_i((0xF << cpl) & 0xF));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_SHRX, 3, bt_r(BT_R_TMP3_32), bt_r(BT_R_TMP1_32), bt_r(BT_R_TMP3_32));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP1_32), bt_i(CPU_FL_IF));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_PDEP, 3, bt_r(BT_R_TMP3_32), bt_r(BT_R_TMP3_32), bt_r(BT_R_TMP1_32));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, bt_r(BT_R_TMP3_32), bt_m(BT_R_TMP3, ZYDIS_REGISTER_NONE, 0, m, 0));
    /* R10 = popped & mask; R9 = old & ~mask & ~RF (plain ANDs: POPF
     * writes every flag, the old ones are dead). */
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP2_32), bt_r(BT_R_KEEP_32));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_AND, 2, bt_r(BT_R_TMP2_32), bt_r(BT_R_TMP3_32));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP0_32), EFL);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_NOT, 1, bt_r(BT_R_TMP3_32));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_AND, 2, bt_r(BT_R_TMP3_32), bt_i((int32_t)~CPU_FL_RF));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_AND, 2, bt_r(BT_R_TMP0_32), bt_r(BT_R_TMP3_32));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, bt_r(BT_R_TMP0_32), bt_m(BT_R_TMP0, BT_R_TMP2, 1, 0, 0));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, EFL, bt_r(BT_R_TMP0_32));
}

/* At CPL 0 POPF may change every flag but VM, VIP, VIF; RF is cleared;
 * bit 1 stays 1 (SDM POPF, operation for CPL 0). */
static void popf_cpl0(struct bt_tctx *t)
{
    struct bt_emit *e = t->e;
    const uint32_t m = CPU_FL_ARITH | CPU_FL_TF | CPU_FL_IF | CPU_FL_DF | CPU_FL_IOPL |
                       CPU_FL_NT | CPU_FL_AC | CPU_FL_ID;
    bt_emit_pop_to(t, 4, BT_R_KEEP_32);
    /* POPF writes every flag: the old ones are dead, so plain ANDs (a
     * cycle each; PEXT + PDEP took six, on the PUSHF/POPF chain). */
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP0_32), bt_r(BT_R_KEEP_32));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_AND, 2, bt_r(BT_R_TMP0_32), bt_i((int32_t)m));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP2_32), EFL);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_AND, 2, bt_r(BT_R_TMP2_32), bt_i((int32_t)~(m | CPU_FL_RF)));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, bt_r(BT_R_TMP0_32),
           bt_m(BT_R_TMP0, BT_R_TMP2, 1, 0, 0));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, EFL, bt_r(BT_R_TMP0_32));
}

bool bt_emit_vif(struct bt_tctx *t, bool last_in_block)
{
    const struct dec_insn *d = t->d;
    struct bt_emit *e = t->e;
    unsigned cpl = bt_key_cpl(t->key);
    /* 32-bit PUSHFD/POPFD inline in any code size (16-bit firmware uses
     * 66h PUSHFD/POPFD around its critical sections), but not in v8086
     * mode, where IOPL < 3 must fault (the callout does). */
    bool op32 = d->zi.operand_width == 32 && !(t->key & BT_KEY_V86);
    int done;
    switch (d->zi.mnemonic) {
    case ZYDIS_MNEMONIC_CLI:
        done = bt_label(e);
        if (cpl)
            iopl_gate(t, cpl, done);
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP0_32), EFL);
        and_mask(e, BT_R_TMP0_32, BT_R_TMP0_32, ~CPU_FL_IF);
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, EFL, bt_r(BT_R_TMP0_32));
        bt_bind(e, BT_MAIN, done);
        return true;
    case ZYDIS_MNEMONIC_STI:
        if (last_in_block)
            return false; /* the shadow needs the next instruction in this block */
        done = bt_label(e);
        if (cpl)
            iopl_gate(t, cpl, done);
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP0_32), EFL);
        and_mask(e, BT_R_TMP0_32, BT_R_TMP0_32, ~CPU_FL_IF);
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, bt_r(BT_R_TMP0_32),
               bt_m(BT_R_TMP0, ZYDIS_REGISTER_NONE, 0, CPU_FL_IF, 0));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, EFL, bt_r(BT_R_TMP0_32));
        bt_emit_poll_intr(t);
        bt_bind(e, BT_MAIN, done);
        return true;
    case ZYDIS_MNEMONIC_PUSHFD:
        if (!op32)
            return false;
        /* Image: arithmetic flags + DF from the host, the rest virtual,
         * VM and RF clear (SDM PUSHF). */
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_PUSHFQ, 0);
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_POP, 1, bt_r(BT_R_KEEP));
        if (t->live_out & CPU_FL_ARITH) {
            /* The guest reads the flags again: merge without touching them. */
            and_mask(e, BT_R_KEEP_32, BT_R_KEEP_32, CPU_FL_HOSTLIVE);
            bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP0_32), EFL);
            and_mask(e, BT_R_TMP0_32, BT_R_TMP0_32, ~(CPU_FL_HOSTLIVE | CPU_FL_VM | CPU_FL_RF));
        } else {
            /* They are in R13 now and dead after this instruction (the
             * next writes them first, a POPF say): plain ANDs, and the
             * push below needs no flag save either. DF is not an
             * arithmetic flag: AND leaves it. */
            bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_AND, 2, bt_r(BT_R_KEEP_32), bt_i((int32_t)CPU_FL_HOSTLIVE));
            bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP0_32), EFL);
            bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_AND, 2, bt_r(BT_R_TMP0_32),
                   bt_i((int32_t)~(CPU_FL_HOSTLIVE | CPU_FL_VM | CPU_FL_RF)));
            t->live_in = 0;
        }
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, bt_r(BT_R_KEEP_32),
               bt_m(BT_R_KEEP, BT_R_TMP0, 1, 0, 0));
        bt_emit_push(t, 4, bt_r(BT_R_KEEP_32));
        return true;
    case ZYDIS_MNEMONIC_POPFD:
        if (!op32)
            return false;
        if (cpl)
            popf_outer(t, cpl);
        else
            popf_cpl0(t);
        /* Host RFLAGS takes only the flags it carries for the guest (never
         * TF or AC: those would act on the host). R9D holds the new EFLAGS.
         * POPF writes every flag, so the old ones are dead here and plain
         * ALU instructions may clobber them: DF by STD/CLD, then OF by
         * ADD AL,7Fh and SF ZF AF PF CF by SAHF (guest EAX parked in R10).
         * POPFQ did it in one instruction, but a microcoded one that took
         * half of the PUSHF/POPF pair's time. */
        bt_emit_host_flags_r9(t);
        bt_emit_poll_intr(t);
        return true;
    default:
        return false;
    }
}
