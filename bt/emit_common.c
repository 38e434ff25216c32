/*
 * bt/emit_common.c — emit helpers every instruction class shares.
 *
 * Why a file of its own: the per-class emitters (emit_mem.c, emit_ctrl.c,
 * ...) all need calls into C (callouts), block exits that the dispatcher
 * chains, guest-flag saves around scratch code, and the guest-to-host
 * register mapping. Kept here, below every class, they do not make the
 * classes call each other in a circle. Only bt/emit.c (encoding) and the
 * run-time entry points (bt/runtime.h, whose addresses the code calls) are
 * below this file.
 */
#include "bt/emit_common.h"

#include <stddef.h>
#include <stdlib.h>
#include "bt/offsets.h"
#include "bt/runtime.h"

#define R(x) bt_r(ZYDIS_REGISTER_##x)
#define CPUM(off, sz) bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, (off), (sz))

/* --- guest registers and segments --- */

ZydisRegister bt_map_reg(ZydisRegister r)
{
    switch (r) {
    case ZYDIS_REGISTER_ESP: return BT_R_ESP;
    case ZYDIS_REGISTER_SP:  return BT_R_SP;
    default: return r;
    }
}

int bt_seg_index(ZydisRegister seg)
{
    int s = cpu_seg_of(seg);
    return s < 0 ? CPU_DS : s;
}

/* --- guest flags around scratch code --- */

/*
 * Guest flags around scratch code, without POPF (microcoded, tens of
 * cycles): LAHF/SETO pack SF ZF AF PF CF and OF into R8W; SAHF and
 * ADD AL,0x7F (OF = 1 exactly when AL was 1) put them back. RAX is parked
 * in R9 meanwhile. DF is never touched. Callers keep R8 intact between the
 * two (the checks use R9-R11 only).
 */
void bt_emit_flags_to_r8(struct bt_emit *e, int b, ZydisRegister park)
{
    bt_ins(e, b, ZYDIS_MNEMONIC_MOV, 2, bt_r(park), R(RAX));
    bt_ins(e, b, ZYDIS_MNEMONIC_LAHF, 0);
    bt_ins(e, b, ZYDIS_MNEMONIC_SETO, 1, R(AL));
    bt_ins(e, b, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_FLAGS_32), R(EAX));
    bt_ins(e, b, ZYDIS_MNEMONIC_MOV, 2, R(RAX), bt_r(park));
}

void bt_emit_flags_from_r8(struct bt_emit *e, int b, ZydisRegister park)
{
    bt_ins(e, b, ZYDIS_MNEMONIC_MOV, 2, bt_r(park), R(RAX));
    bt_ins(e, b, ZYDIS_MNEMONIC_MOV, 2, R(EAX), bt_r(BT_R_FLAGS_32));
    bt_ins(e, b, ZYDIS_MNEMONIC_ADD, 2, R(AL), bt_i(0x7F));
    bt_ins(e, b, ZYDIS_MNEMONIC_SAHF, 0);
    bt_ins(e, b, ZYDIS_MNEMONIC_MOV, 2, R(RAX), bt_r(park));
}

static void flags_save(struct bt_emit *e, int b) { bt_emit_flags_to_r8(e, b, BT_R_TMP0); }
static void flags_restore(struct bt_emit *e, int b) { bt_emit_flags_from_r8(e, b, BT_R_TMP0); }

/* A fifth of all host instructions emitted: constant, so copied
 * (bt_emit_const). */
void bt_emit_flags_save(struct bt_tctx *t, int b) { bt_emit_const(t->e, b, BT_SEQ_FLAGS_SAVE, flags_save); }
void bt_emit_flags_restore(struct bt_tctx *t, int b) { bt_emit_const(t->e, b, BT_SEQ_FLAGS_RESTORE, flags_restore); }

/* --- counters and the predicted-addend budget --- */

/* ++counter with --stats (clobbers R9 and the host flags). */
void bt_emit_count(struct bt_tctx *t, int b, uint64_t *counter)
{
    if (!t->bt->count)
        return;
    bt_ins(t->e, b, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP0), bt_i((int64_t)(uintptr_t)counter));
    bt_ins(t->e, b, ZYDIS_MNEMONIC_ADD, 2, bt_m(BT_R_TMP0, ZYDIS_REGISTER_NONE, 0, 0, 8), bt_i(1));
}

/* The call to bt_pred_spent for the slot at pred, from a point where the
 * guest flags are parked in R8 if live (and are again afterwards). R8-R11
 * do not survive it. */
void bt_emit_pred_spent(struct bt_tctx *t, int b, int32_t pred)
{
    bool live = t->live_in != 0;
    if (live)
        bt_emit_flags_restore(t, b);
    bt_ins(t->e, b, ZYDIS_MNEMONIC_MOV, 2, bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, BT_OFF_ARG0, 4), bt_i(pred));
    bt_emit_internal_callout(t, b, bt_pred_spent);
    if (live)
        bt_emit_flags_save(t, b);
}

/* --- block exits (chained by the dispatcher) --- */

static struct bt_co_site *new_site(struct bt_tctx *t, bool with_insn);

/*
 * The code of an exit whose record is r: CALL bt_exit_ra_tramp (5 bytes),
 * which leaves with the return address; the dispatcher finds r by it
 * (engine.c exit_by_ra) in the block's exits[]. When the block has no room
 * left in that list: MOVABS R11, r; JMP bt_exit_site_tramp (15 bytes),
 * which reads r itself.
 */
static void exit_code(struct bt_tctx *t, int b, struct bt_co_site *r, bool tomb)
{
    struct bt_emit *e = t->e;
    if (t->nexits < (int)(sizeof(t->exits) / sizeof(t->exits[0]))) {
        int ret = bt_label(e);
        bt_call_abs(e, b, (uint64_t)(uintptr_t)t->bt->tramp_exit_ra);
        bt_bind(e, b, ret);
        t->exits[t->nexits].rec = r;
        t->exits[t->nexits].ret = ret;
        t->exits[t->nexits].buf = (int8_t)b;
        t->nexits++;
        return;
    }
    bt_ins(e, b, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_SITE), bt_i((int64_t)(uintptr_t)r));
    bt_jmp_abs(e, b, (uint64_t)(uintptr_t)(tomb ? t->bt->tramp_tomb[t->shared] : t->bt->tramp_exit_site[t->shared]));
}

uint64_t *bt_emit_exit_record(struct bt_tctx *t, int b, uint32_t eip, unsigned reason, uint64_t arg0)
{
    struct bt_co_site *r = new_site(t, false);
    if (!r)
        return NULL;
    *r = (struct bt_co_site){ .fn = 0, .insn = (const void *)(uintptr_t)arg0, .eip = bt_rel_eip(t, eip),
                              .pad = reason };
    exit_code(t, b, r, arg0 != 0);
    return &r->fn;
}

/* An exit that is never chained: its site stays 0 (as the dispatcher set
 * it before entering). */
void bt_emit_exit_simple(struct bt_tctx *t, int b, uint32_t eip, unsigned reason)
{
    bt_emit_exit_record(t, b, eip, reason, 0);
}

/* The out-of-line stub behind a chainable rel32 at (b, rel_at): the exit
 * code for the record {site, -, eip, reason} (exit_code: 5 bytes, was 35
 * with every store inline). The site, the rel32's address, is known after
 * placement (translate.c writes it into the record). */
static void exit_stub_reason(struct bt_tctx *t, int b, uint32_t rel_at, int stub, uint32_t target,
                             unsigned reason)
{
    struct bt_emit *e = t->e;
    bt_bind(e, BT_OOL, stub);
    struct bt_co_site *r = new_site(t, false);
    if (!r)
        return;
    /* Relative to the target's vbase: the jump to the stub set it. */
    *r = (struct bt_co_site){ .fn = 0 /* not chainable */, .eip = target - bt_vbase(t->key, target),
                              .pad = reason };
    if (t->nsites < (int)(sizeof(t->sites) / sizeof(t->sites[0]))) {
        t->sites[t->nsites].buf = (int8_t)b;
        t->sites[t->nsites].rel_at = rel_at;
        t->sites[t->nsites].imm_at = 0;
        t->sites[t->nsites].patch = &r->fn;
        /* Every loop has a jump back (to an EIP at or below its own):
         * forward jumps may skip the target's async check. */
        t->sites[t->nsites].fwd = reason == BT_EXIT_BRANCH && t->d && target > t->d->eip;
        t->nsites++;
    }
    exit_code(t, BT_OOL, r, false);
}

static void exit_stub(struct bt_tctx *t, int b, uint32_t rel_at, int stub, uint32_t target)
{
    exit_stub_reason(t, b, rel_at, stub, target, BT_EXIT_BRANCH);
}

/* Continue in the safe translation of the code at eip (from OOL). */
void bt_emit_exit_safe(struct bt_tctx *t, uint32_t eip)
{
    int stub = bt_label(t->e);
    uint32_t at = bt_jmp_label(t->e, BT_OOL, stub);
    exit_stub_reason(t, BT_OOL, at, stub, eip, (t->key & BT_KEY_SAFE) ? BT_EXIT_SAFE2 : BT_EXIT_SAFE);
}

/*
 * Shared blocks: a direct jump to another linear page moves vbase to the
 * target's page first (the target block's entry check and its EIPs read
 * it), by the constant page distance, or to a constant for a target that
 * is absolute (16-bit operand size wraps it at 64 KiB). Flag-free: the
 * guest's flags may be live. Returns whether anything was emitted.
 */
static bool emit_vbase_for(struct bt_tctx *t, int b, uint32_t target)
{
    if (!t->shared)
        return false;
    struct bt_emit *e = t->e;
    struct bt_op slot = bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, BT_OFF_VBASE, 4);
    if (t->target_abs) {
        bt_ins(e, b, ZYDIS_MNEMONIC_MOV, 2, slot, bt_i((int32_t)(target & ~0xFFFu)));
        return true;
    }
    int32_t delta = (int32_t)((target & ~0xFFFu) - t->vbase0);
    if (!delta)
        return false;
    bt_ins(e, b, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP3_32), slot);
    bt_ins(e, b, ZYDIS_MNEMONIC_LEA, 2, bt_r(BT_R_TMP3_32), bt_m(BT_R_TMP3, ZYDIS_REGISTER_NONE, 0, delta, 0));
    bt_ins(e, b, ZYDIS_MNEMONIC_MOV, 2, slot, bt_r(BT_R_TMP3_32));
    return true;
}

static bool needs_vbase(const struct bt_tctx *t, uint32_t target)
{
    return t->shared && (t->target_abs || (target & ~0xFFFu) != t->vbase0);
}

void bt_emit_exit_direct(struct bt_tctx *t, int b, uint32_t target)
{
    emit_vbase_for(t, b, target);
    int stub = bt_label(t->e);
    uint32_t at = bt_jmp_label(t->e, b, stub);
    exit_stub(t, b, at, stub, target);
}

void bt_emit_jcc_exit(struct bt_tctx *t, ZydisMnemonic jcc, uint32_t target)
{
    int stub = bt_label(t->e);
    if (needs_vbase(t, target)) {
        /* Taken: out of line, vbase moved, then the chainable jump. */
        int taken = bt_label(t->e);
        bt_jcc_label(t->e, BT_MAIN, jcc, taken);
        bt_bind(t->e, BT_OOL, taken);
        emit_vbase_for(t, BT_OOL, target);
        uint32_t at = bt_jmp_label(t->e, BT_OOL, stub);
        exit_stub(t, BT_OOL, at, stub, target);
        return;
    }
    uint32_t at = bt_jcc_label(t->e, BT_MAIN, jcc, stub);
    exit_stub(t, BT_MAIN, at, stub, target);
}

struct bt_op bt_emit_eip(struct bt_tctx *t, int b, ZydisRegister reg32, uint32_t eip)
{
    if (!t->shared)
        return bt_i((int32_t)eip);
    ZydisRegister reg64 = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, reg32);
    bt_ins(t->e, b, ZYDIS_MNEMONIC_MOV, 2, bt_r(reg32), bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, BT_OFF_VBASE, 4));
    bt_ins(t->e, b, ZYDIS_MNEMONIC_LEA, 2, bt_r(reg32),
           bt_m(reg64, ZYDIS_REGISTER_NONE, 0, (int32_t)bt_rel_eip(t, eip), 0));
    return bt_r(reg32);
}

/* --- callouts into C --- */

/* A free site: in this instruction's record (with_insn) or the block's
 * internal one; a new record, owned by the block (freed when the cache is
 * flushed), when there is none or it is full. */
static struct bt_co_site *new_site(struct bt_tctx *t, bool with_insn)
{
    struct bt_co_rec *r = with_insn ? (t->co_k == t->k ? t->co_rec : NULL) : t->co_int;
    if (!r || r->nsites == BT_CO_SITES) {
        r = bt_arena_alloc(t->bt, with_insn ? sizeof(*r) : offsetof(struct bt_co_rec, d));
        if (!r) {
            t->bt->oom = true;
            bt_emit_fail(t->e, "out of host memory");
            return NULL;
        }
        r->nsites = 0;
        r->next = t->blk->callout_insns;
        t->blk->callout_insns = r;
        if (with_insn) {
            r->d = *t->d;   /* must outlive translation */
            t->co_rec = r;
            t->co_k = t->k;
        } else {
            t->co_int = r;
        }
    }
    return &r->sites[r->nsites++];
}

/* MOVABS R11, site; CALL bt_site_tramp: 15 bytes (the EIP, record and
 * function stores the trampoline makes took 37 inline). */
static void callout(struct bt_tctx *t, int b, uint64_t fn, bool with_insn)
{
    struct bt_co_site *s = new_site(t, with_insn);
    if (!s)
        return;
    struct bt_co_rec *r = with_insn ? t->co_rec : NULL;
    *s = (struct bt_co_site){ .fn = fn, .insn = r ? &r->d : NULL, .eip = bt_rel_eip(t, t->d->eip) };
    bt_ins(t->e, b, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_CALL), bt_i((int64_t)(uintptr_t)s));
    bt_call_abs(t->e, b, (uint64_t)(uintptr_t)t->bt->tramp_site[t->shared]);
}

void bt_emit_callout(struct bt_tctx *t, int b, cpu_callout_fn fn)
{
    callout(t, b, (uint64_t)(uintptr_t)fn, true);
}

void bt_emit_internal_callout(struct bt_tctx *t, int b, int (*fn)(struct cpu *, const void *))
{
    callout(t, b, (uint64_t)(uintptr_t)fn, false);
}
