/*
 * bt/emit_invlpg.c — INVLPG at CPL 0 without a callout when there is
 * nothing to drop.
 *
 * The shadow MMU keeps its entries coherent by tracing page-table writes,
 * so by the time a kernel runs INVLPG after changing a PTE, the store has
 * usually removed the page's entries already (docs/shadowmmu.md §5).
 * INVLPG then has nothing left to do, yet cost a callout (register save,
 * C, reload). Inline: compute the page number and look at its byte in the
 * MMU's summary of the ten shadow tables (BT_SUMMARY_OFF: one load where
 * reading the ten tables themselves was ten, each on its own host page,
 * ~50 cycles after a callout); zero means no address space that is loaded
 * maps the page (the tables hold exactly the active and global spaces'
 * entries), so the instruction is done. Otherwise,
 * or when the page is the one this code runs from or its neighbour (the
 * callout ends the block there), the callout runs as before.
 * Guest flags are untouched by INVLPG: the check's OR clobbers the host
 * flags, so live guest flags are parked around it.
 */
#include "bt/emit_common.h"
#include "bt/translate.h"

bool bt_emit_invlpg(struct bt_tctx *t)
{
    const struct dec_insn *d = t->d;
    struct bt_emit *e = t->e;
    const ZydisDecodedOperand *op = &d->ops[0];
    if (d->zi.mnemonic != ZYDIS_MNEMONIC_INVLPG || bt_key_cpl(t->key) != 0 ||
        (t->key & (BT_KEY_NONFLAT | BT_KEY_REAL | BT_KEY_V86)) || !(t->key & BT_KEY_PG) ||
        op->type != ZYDIS_OPERAND_TYPE_MEMORY || d->zi.address_width != 32 ||
        op->mem.segment == ZYDIS_REGISTER_FS || op->mem.segment == ZYDIS_REGISTER_GS)
        return false;
    /* The fast path falls through to the next instruction: only the flags
     * it needs must survive (the callout path restores them all). */
    bool live = t->live_out & CPU_FL_ARITH;
    uint32_t pc = d->eip; /* flat: CS base 0 */
    uint32_t own[3] = { pc >> 12, (pc + d->len) >> 12, ((pc + d->len) >> 12) + 1 };
    int slow = bt_label(e), done = bt_label(e);

    if (live)
        bt_emit_flags_save(t, BT_MAIN);
    bt_emit_offset(t, op, BT_R_ADDR_32);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_SHR, 2, bt_r(BT_R_ADDR_32), bt_i(12));
    for (int i = 0; i < 3; i++) {
        if (i && own[i] == own[i - 1])
            continue;
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_CMP, 2, bt_r(BT_R_ADDR_32), bt_i((int32_t)own[i]));
        bt_jcc_near(e, BT_MAIN, ZYDIS_MNEMONIC_JZ, slow);
    }
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_CMP, 2,
           bt_m(BT_R_CPU, BT_R_ADDR, 1, (int64_t)BT_SUMMARY_OFF, 1), bt_i(0));
    bt_jcc_near(e, BT_MAIN, ZYDIS_MNEMONIC_JNZ, slow);
    if (live)
        bt_emit_flags_restore(t, BT_MAIN);
    bt_bind(e, BT_MAIN, done);

    /* The callout sees the guest's flags in the host's. */
    bt_bind(e, BT_OOL, slow);
    if (live)
        bt_emit_flags_restore(t, BT_OOL);
    bt_emit_callout(t, BT_OOL, cpu_callout_for(d));
    bt_jmp_near(e, BT_OOL, done);
    return true;
}
