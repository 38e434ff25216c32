/*
 * bt/translate.c — block formation.
 *
 * A block starts at a guest EIP and runs until control flow, the end of the
 * guest page (an instruction may cross into the next one), or
 * BT_MAX_BLOCK_INSNS instructions. It is decoded whole first so that flag
 * liveness can be computed backwards (which guest flags must survive the
 * scratch code we insert), then emitted instruction by instruction:
 *   control flow       → emit_ctrl.c (chained exits, inline indirect lookup)
 *   push/pop/enter/... → emit_stack.c
 *   innocuous          → emit_ident.c (IDENT re-encoding)
 *   everything else    → a callout into cpu/ (cpu_callout_for)
 * Each block begins with a check of cpu->async_pending so a device or the
 * user can stop a guest that spins in chained code.
 */
#include "bt/translate.h"
#include "bt/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <x86intrin.h>
#include "bt/offsets.h"
#include "vm/vm.h"


/* Flags an instruction needs: those it reads, and for DIV/IDIV all of
 * them — a #DE leaves EFLAGS as before the instruction, and the handler
 * sees them in its frame (inline code before it must not clobber them). */
static uint32_t flags_needed(const struct dec_insn *d)
{
    if (d->zi.mnemonic == ZYDIS_MNEMONIC_DIV || d->zi.mnemonic == ZYDIS_MNEMONIC_IDIV)
        return CPU_FL_ARITH;
    return d->flags_read & CPU_FL_ARITH;
}

/* Flags an instruction certainly overwrites. Shifts and rotates by a count
 * that may be zero leave flags alone, so they count as writing none. */
static uint32_t flags_killed(const struct dec_insn *d)
{
    switch (d->zi.mnemonic) {
    case ZYDIS_MNEMONIC_SHL: case ZYDIS_MNEMONIC_SHR: case ZYDIS_MNEMONIC_SAR:
    case ZYDIS_MNEMONIC_ROL: case ZYDIS_MNEMONIC_ROR: case ZYDIS_MNEMONIC_RCL:
    case ZYDIS_MNEMONIC_RCR: case ZYDIS_MNEMONIC_SHLD: case ZYDIS_MNEMONIC_SHRD: {
        const ZydisDecodedOperand *cnt = &d->ops[d->zi.operand_count_visible - 1];
        if (cnt->type != ZYDIS_OPERAND_TYPE_IMMEDIATE || (cnt->imm.value.u & 31) == 0)
            return 0;
        break;
    }
    default:
        break;
    }
    /* REP CMPS/SCAS with ECX = 0 compare nothing and leave every flag. */
    if (d->zi.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE))
        return 0;
    return d->flags_written & CPU_FL_ARITH;
}

/* Fetch up to 15 instruction bytes at lin through the guest's mapping,
 * with the execute permission of the current CPL. Bytes on the next page
 * are there only if that page is executable too; otherwise *fault2 says
 * whether it was a guest fault (its #PF is raised only if the instruction
 * needs those bytes). Returns the bytes available, 0 if the first page
 * cannot be fetched (*fault1: a guest #PF). */
struct fetch_res {
    uint64_t phys, phys2; /* guest-physical address of lin, and of the next page */
    bool fault1, fault2;
    uint32_t pf_addr, pf_err;
};

static size_t fetch(struct bt *bt, uint32_t lin, uint8_t *buf, struct fetch_res *r)
{
    memset(r, 0, sizeof(*r));
    int64_t p = smmu_exec_page(&bt->mmu, lin);
    if (p < 0) {
        r->fault1 = p == -1;
        return 0;
    }
    size_t in_page = 4096 - (lin & 0xFFF), n = in_page < 15 ? in_page : 15;
    r->phys = ((uint64_t)p << 12) | (lin & 0xFFF);
    memcpy(buf, bt->vm->ram + r->phys, n);
    if (n < 15) {
        int64_t p2 = smmu_exec_page(&bt->mmu, lin + (uint32_t)n);
        if (p2 >= 0) {
            r->phys2 = (uint64_t)p2 << 12;
            memcpy(buf + n, bt->vm->ram + r->phys2, 15 - n);
            n = 15;
        } else {
            r->fault2 = p2 == -1;
            r->pf_addr = bt->mmu.pf_addr;
            r->pf_err = bt->mmu.pf_err;
        }
    }
    return n;
}

/* One instruction's part in lookahead_live, through bt->la: a hit needs
 * the same linear address, mode and bytes (x86 decodes only its own
 * bytes, so the ones after it do not matter). NULL: undecodable. */
static const struct bt_la_entry *la_insn(struct bt *bt, uint32_t lin, uint32_t eip, enum dec_mode mode,
                                         const uint8_t *bytes, size_t avail)
{
    struct bt_la_entry *a = &bt->la[(lin ^ lin >> 12) & (BT_LA_SIZE - 1)];
    if (a->len && a->lin == lin && a->mode == (uint8_t)mode && avail >= a->len && !memcmp(a->bytes, bytes, a->len))
        return a;
    struct dec_insn d;
    if (dec_decode(mode, eip, bytes, avail, &d) != 0)
        return NULL;
    a->lin = lin;
    a->mode = (uint8_t)mode;
    a->len = d.len;
    memcpy(a->bytes, bytes, d.len);
    a->needed = flags_needed(&d);
    a->killed = flags_killed(&d);
    a->stop = (d.cls & (DEC_CONTROL | DEC_UNDEFINED)) || bt_emit_kind(&d) == BT_EMIT_CALLOUT;
    return a;
}

/* Flags read at guest EIP `eip` before being overwritten, found by decoding
 * ahead (not translating) up to a few instructions; control flow or an
 * unreadable byte ends the search conservatively (all not-yet-killed flags
 * count as read). Lets a block drop flag saves its successors do not need.
 * Only code on the block's own page counts: a write there invalidates the
 * block with it, while code elsewhere could change under the assumption. */
static uint32_t lookahead_live(struct bt *bt, uint32_t eip, enum dec_mode mode, uint32_t page)
{
    uint32_t needed = 0, killed = 0, cs_base = bt->cpu->seg_base[CPU_CS];
    uint32_t lin = cs_base + eip;
    /* Only the block's page counts (see above): its bytes are read in
     * place, and an instruction running past its end stops the search. */
    int64_t p = lin >> 12 == page ? smmu_exec_page(&bt->mmu, lin) : -1;
    if (p < 0)
        return CPU_FL_ARITH;
    const uint8_t *bytes = bt->vm->ram + ((uint64_t)p << 12);
    for (int i = 0; i < 12 && killed != CPU_FL_ARITH; i++) {
        uint32_t off = lin & 0xFFFu;
        size_t avail = 4096 - off < 15 ? 4096 - off : 15;
        const struct bt_la_entry *a = la_insn(bt, lin, eip, mode, bytes + off, avail);
        if (!a || off + a->len > 4096)
            break;
        needed |= a->needed & ~killed;
        if (a->stop)
            break; /* a callout may leave the block: its flags become visible */
        killed |= a->killed;
        eip += a->len;
        lin += a->len;
        if (lin >> 12 != page)
            break;
    }
    return needed | (CPU_FL_ARITH & ~killed);
}

/* Conditional jumps one block goes on past. Each copies the code after it
 * into a block that other paths translate again (a join point): with no
 * limit, boot translated 40% more guest instructions; with one, 15% more
 * and took no longer, while gzip's loops lost a block entry each. */
#define BT_MAX_PASSED_JCC 1

/* A conditional jump the block goes on past (its taken way leaves through
 * a chainable exit): Jcc rel in 32-bit flat code. */
static bool passable_jcc(const struct dec_insn *d, uint32_t key)
{
    if (!(key & BT_KEY_CODE32) || (key & BT_KEY_NONFLAT) || d->zi.meta.category != ZYDIS_CATEGORY_COND_BR ||
        d->zi.operand_width != 32)
        return false;
    return bt_is_jcc(d->zi.mnemonic);
}

/* Flags live after the last instruction of a block. */
static uint32_t block_live_out(struct bt *bt, const struct dec_insn *last, enum dec_mode mode, bool ended_by_control,
                               uint32_t page)
{
    uint32_t next = last->eip + last->len;
    if (!ended_by_control)
        return lookahead_live(bt, next, mode, page);
    const ZydisDecodedOperand *op = &last->ops[0];
    bool rel = last->zi.operand_count_visible > 0 && op->type == ZYDIS_OPERAND_TYPE_IMMEDIATE &&
               op->imm.is_relative && last->zi.meta.branch_type != ZYDIS_BRANCH_TYPE_FAR;
    uint32_t target = next + (uint32_t)op->imm.value.s;
    switch (last->zi.mnemonic) {
    case ZYDIS_MNEMONIC_JMP: case ZYDIS_MNEMONIC_CALL:
        return rel ? lookahead_live(bt, target, mode, page) : CPU_FL_ARITH;
    case ZYDIS_MNEMONIC_RET:
        return CPU_FL_ARITH;
    default:
        if ((last->cls & DEC_CONTROL) && rel && last->zi.meta.category == ZYDIS_CATEGORY_COND_BR)
            return lookahead_live(bt, target, mode, page) | lookahead_live(bt, next, mode, page);
        return CPU_FL_ARITH;
    }
}

struct flow_ctx {
    struct bt *bt;
    const struct dec_insn *insns;
    const uint8_t *kinds;
    uint32_t needed[BT_MAX_BLOCK_INSNS], killed[BT_MAX_BLOCK_INSNS]; /* flags_needed, flags_killed */
    int n;
    enum dec_mode mode;
    uint32_t page;
};

/* One backward liveness pass. exact: what the successors need comes from
 * lookahead_live (the block's end, the taken way of each passed jcc);
 * otherwise every such successor is assumed to need `assume`. */
static void flow(const struct flow_ctx *c, bool exact, uint32_t assume, uint32_t *live_in, uint32_t *live_out)
{
    const struct dec_insn *insns = c->insns;
    int n = c->n;
    uint32_t live = exact ? block_live_out(c->bt, &insns[n - 1], c->mode, (insns[n - 1].cls & DEC_CONTROL) != 0,
                                           c->page) : assume;
    for (int k = n - 1; k >= 0; k--) {
        live_out[k] = live;
        if (c->kinds[k] == BT_EMIT_CALLOUT)
            live = CPU_FL_ARITH; /* it may exit (HLT, a fault, ...): the guest sees every flag */
        else
            live = c->needed[k] | (live & ~c->killed[k]);
        if (k < n - 1 && (insns[k].cls & DEC_CONTROL)) /* a jcc passed: its taken way too */
            live |= exact ? lookahead_live(c->bt, insns[k].eip + insns[k].len + (uint32_t)insns[k].ops[0].imm.value.s,
                                           c->mode, c->page) : assume;
        live_in[k] = live;
    }
}

/*
 * Emitters ask only whether flags are live (live_in != 0, live_out &
 * CPU_FL_ARITH), and control-flow emitters never read live_out. Liveness
 * only grows with what the successors need, so if the passes assuming
 * nothing and everything give the same answers to those questions, the
 * exact one (decoding ahead, a sixth of translation time) would too.
 */
static bool flow_differs(const struct flow_ctx *c, const uint32_t *in0, const uint32_t *out0, const uint32_t *in1,
                         const uint32_t *out1)
{
    for (int k = 0; k < c->n; k++) {
        if ((in0[k] != 0) != (in1[k] != 0) || !(in0[k] & CPU_FL_ARITH) != !(in1[k] & CPU_FL_ARITH))
            return true;
        if (!(c->insns[k].cls & DEC_CONTROL) &&
            ((out0[k] != 0) != (out1[k] != 0) || !(out0[k] & CPU_FL_ARITH) != !(out1[k] & CPU_FL_ARITH)))
            return true;
    }
    return false;
}

/* Emit one instruction; false = the VM must stop here (unsupported). */
static bool emit_one(struct bt_tctx *t, bool last)
{
    const struct dec_insn *d = t->d;
    if ((t->key & BT_KEY_NOFPU) && (d->cls & DEC_FPU) && !(d->cls & DEC_UNDEFINED)) {
        bt_emit_callout(t, BT_MAIN, cpu_co_fpu_unavailable);
        return true;
    }
    if (bt_emit_vif(t, last))
        return true;
    if (bt_emit_string(t))
        return true;
    if (bt_emit_push_sreg(t))
        return true;
    if (bt_emit_invlpg(t))
        return true;
    if (bt_emit_mov_sreg(t) || bt_emit_pop_sreg(t) || bt_emit_iret(t) || bt_emit_sysenter(t))
        return true;
    /* Adaptive translation: a MOV store that keeps writing traced page
     * tables calls out where its page is not writable inline (no bounce
     * through bt_mem_slow and bt_mem_done); its stores to other pages
     * stay inline (a third of such a site's stores in fork+exec). */
    bool store = d->zi.mnemonic == ZYDIS_MNEMONIC_MOV && d->ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY &&
                 d->ops[0].size <= 32 &&
                 (d->ops[1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE ||
                  ZydisRegisterGetClass(d->ops[1].reg.value) == ZYDIS_REGCLASS_GPR32 ||
                  ZydisRegisterGetClass(d->ops[1].reg.value) == ZYDIS_REGCLASS_GPR16 ||
                  ZydisRegisterGetClass(d->ops[1].reg.value) == ZYDIS_REGCLASS_GPR8);
    /* ... and so does a read-modify-write (XCHG, OR, AND, ...: Linux
     * clears PTEs with XCHG), through cpu_co_rmw_store: one trip to C
     * where the bounce buffer took two. */
    bool rmw = !store && cpu_rmw_store_ok(d);
    const ZydisDecodedOperand *mop = &d->ops[d->ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY ? 0 : 1];
    if ((store || rmw) && !(t->key & BT_KEY_NONFLAT) && d->zi.address_width == 32 &&
        mop->mem.segment != ZYDIS_REGISTER_FS && mop->mem.segment != ZYDIS_REGISTER_GS &&
        bt_adaptive(t->bt, d->eip)) {
        cpu_callout_fn fn = store ? cpu_co_mov_store : cpu_co_rmw_store;
        bool direct = t->direct_mem;
        t->direct_mem = false; /* its own check, whatever a group covered */
        t->mem_slow_fn = fn;
        bool ok = bt_emit_ident(t);
        t->mem_slow_fn = NULL;
        t->direct_mem = direct;
        if (!ok)
            bt_emit_callout(t, BT_MAIN, fn);
        return true;
    }
    switch ((enum bt_emit_kind)t->bt->kinds[t->k]) {
    case BT_EMIT_IDENT:
        if (bt_emit_ident(t)) {
            ZydisMnemonic m = d->zi.mnemonic;
            if (m == ZYDIS_MNEMONIC_FXSAVE || m == ZYDIS_MNEMONIC_FNSTENV || m == ZYDIS_MNEMONIC_FNSAVE)
                bt_emit_callout(t, BT_MAIN, bt_x87_ptrs);
            return true;
        }
        break;
    case BT_EMIT_CONTROL:
        if (bt_emit_control(t))
            return true;
        break;
    case BT_EMIT_STACK:
        if (bt_emit_stack(t))
            return true;
        break;
    case BT_EMIT_CALLOUT:
        break;
    }
    cpu_callout_fn fn = cpu_callout_for(d);
    if (!fn)
        return false;
    bt_emit_callout(t, BT_MAIN, fn);
    /* A control transfer done in C leaves with CPU_CO_EXIT; one that did
     * nothing (INTO with OF clear, ...) falls through to here. */
    if (d->cls & (DEC_CONTROL | DEC_UNDEFINED))
        bt_emit_exit_direct(t, BT_MAIN, d->eip + d->len);
    return true;
}

/* Block entry checks. Flag-free when the guest's flags are live (guest ECX
 * parked in R10, JRCXZ), plain compares otherwise. With paging, the
 * execute-table entry of each code page (guest-physical page + 1, filled by
 * the dispatcher) must equal the page this block came from: RCX becomes
 * async (32 bits) + ((entry - tag) << 32), zero only when both parts are
 * (|entry - tag| < 2^21). Chained jumps and the indirect table then need no
 * checks of their own. */

/* The execute-table entry of the block's linear page (second: the next
 * page): at a constant index, or in shared blocks at vbase's page, which
 * RORX turns into the index (vbase is page-aligned; flag-free) in R11. */
static struct bt_op exec_entry(struct bt_emit *e, bool shared, int32_t exec_off, uint64_t vpn,
                               bool second)
{
    if (!shared)
        return bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, exec_off + (int32_t)(vpn * 8), 8);
    if (!second)
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_RORX, 3, bt_r(BT_R_TMP3_32),
               bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, BT_OFF_VBASE, 4), bt_i(12));
    return bt_m(BT_R_CPU, BT_R_TMP3, 8, exec_off + (second ? 8 : 0), 8);
}

static void emit_page_term(struct bt_emit *e, bool shared, int32_t exec_off, uint64_t vpn, uint64_t ppage)
{
    /* (RCX is 0 before the second page's term: R11 is recomputed.) */
    if (shared)
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_RORX, 3, bt_r(BT_R_TMP3_32),
               bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, BT_OFF_VBASE, 4), bt_i(12));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP3),
           shared ? bt_m(BT_R_CPU, BT_R_TMP3, 8, exec_off + (int32_t)(vpn * 8), 8)
                  : bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, exec_off + (int32_t)(vpn * 8), 8));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, bt_r(BT_R_TMP3),
           bt_m(BT_R_TMP3, ZYDIS_REGISTER_NONE, 0, -(int32_t)(ppage + 1), 0));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP0_32), bt_i(32));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_SHLX, 3, bt_r(BT_R_TMP3), bt_r(BT_R_TMP3),
           bt_r(BT_R_TMP0));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, bt_r(ZYDIS_REGISTER_RCX),
           bt_m(ZYDIS_REGISTER_RCX, BT_R_TMP3, 1, 0, 0));
}

static void emit_entry(struct bt_emit *e, bool live, bool shared, int32_t exec_off, uint64_t vpn,
                       uint64_t ppage, int64_t vpn2, uint64_t ppage2, int async, int recheck, int fwd)
{
    if (live) {
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_RCX_PARK), bt_r(ZYDIS_REGISTER_RCX));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(ZYDIS_REGISTER_ECX),
               bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, CPU_OFF_ASYNC, 4));
        if (exec_off >= 0)
            emit_page_term(e, shared, exec_off, shared ? 0 : vpn, ppage);
        bt_emit_jrcxz_or_jmp(e, BT_R_RCX_PARK, exec_off >= 0 ? recheck : async);
        if (exec_off >= 0 && vpn2 >= 0) { /* RCX is 0 here */
            emit_page_term(e, shared, exec_off, shared ? 1 : (uint64_t)vpn2, ppage2);
            bt_emit_jrcxz_or_jmp(e, BT_R_RCX_PARK, recheck);
        }
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(ZYDIS_REGISTER_RCX), bt_r(BT_R_RCX_PARK));
        return;
    }
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_CMP, 2,
           bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, CPU_OFF_ASYNC, 4), bt_i(0));
    bt_jcc_near(e, BT_MAIN, ZYDIS_MNEMONIC_JNZ, async);
    if (exec_off < 0)
        return;
    /* Forward jumps enter here: a tombstone can cover this compare too. */
    bt_bind(e, BT_MAIN, fwd);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_CMP, 2, exec_entry(e, shared, exec_off, vpn, false),
           bt_i((int64_t)ppage + 1));
    bt_jcc_near(e, BT_MAIN, ZYDIS_MNEMONIC_JNZ, recheck);
    if (vpn2 >= 0) {
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_CMP, 2, exec_entry(e, shared, exec_off, (uint64_t)vpn2, true),
               bt_i((int64_t)ppage2 + 1));
        bt_jcc_near(e, BT_MAIN, ZYDIS_MNEMONIC_JNZ, recheck);
    }
}

/* A debugger's breakpoint at linear lin: the block must end before it, so
 * that the dispatcher sees EIP reach it. A block that may be translated
 * shared runs at other linear pages too: any breakpoint at the same page
 * offset ends it. */
static bool ends_at_breakpoint(const struct bt *bt, uint32_t key, uint32_t lin)
{
    const struct vm_debug *d = &bt->vm->debug;
    if (!bt_key_shareable(key))
        return vm_debug_is_bp(d, lin);
    for (unsigned i = 0; i < d->nbp; i++)
        if ((d->bp[i] & 0xFFFu) == (lin & 0xFFFu))
            return true;
    return false;
}

/* Whether d is a direct JMP or Jcc to eip (32-bit: the block's own start). */
static bool jumps_to(const struct dec_insn *d, uint32_t eip)
{
    if (!(d->cls & DEC_CONTROL) || d->zi.operand_width != 32 || d->zi.address_width != 32 ||
        d->ops[0].type != ZYDIS_OPERAND_TYPE_IMMEDIATE)
        return false;
    if (d->zi.mnemonic != ZYDIS_MNEMONIC_JMP && !bt_is_jcc(d->zi.mnemonic))
        return false;
    return d->eip + d->len + (uint32_t)d->ops[0].imm.value.s == eip;
}

/* A hoisted loop's moving groups (bt_group step): after their checks
 * (set), the lowest base value whose range [base + lo, base + hi) stays on
 * the page just checked, into the bt_vcpu loop_win; at each turn (!set),
 * base - that (32-bit, so below it is huge) above 4096 - (hi - lo) means
 * another page: back to the checks. Flags are dead at both places. */
static void emit_windows(struct bt_emit *e, const struct bt_plan *plan, bool set, int checks)
{
    for (int i = 0; i < plan->ng; i++) {
        const struct bt_group *g = &plan->g[i];
        if (!g->hoisted || !g->step)
            continue;
        ZydisRegister b64 = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, g->base32);
        struct bt_op win = bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0,
                                (int32_t)(offsetof(struct bt_vcpu, loop_win) - offsetof(struct bt_vcpu, cpu)) + 4 * i, 4);
        if (set) {
            bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, bt_r(BT_R_TMP0_32), bt_m(b64, ZYDIS_REGISTER_NONE, 0, g->lo, 0));
            bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_AND, 2, bt_r(BT_R_TMP0_32), bt_i(-4096));
            bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, bt_r(BT_R_TMP0_32), bt_m(BT_R_TMP0, ZYDIS_REGISTER_NONE, 0, -g->lo, 0));
            bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, win, bt_r(BT_R_TMP0_32));
        } else {
            bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_ENTRY_32), bt_r(g->base32));
            bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_SUB, 2, bt_r(BT_R_ENTRY_32), win);
            bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_CMP, 2, bt_r(BT_R_ENTRY_32), bt_i(4096 - (g->hi - g->lo)));
            bt_jcc_near(e, BT_MAIN, ZYDIS_MNEMONIC_JNBE, checks);
        }
    }
}

/* A fetch fault on the block's first instruction: the guest gets #PF. */
static void fetch_fault(struct bt *bt, uint32_t addr, uint32_t err)
{
    bt->cpu->cr2 = addr;
    cpu_raise(bt->cpu, CPU_VEC_PF, true, err);
}

struct bt_block *bt_translate(struct bt *bt, uint32_t eip, uint32_t key)
{
    uint64_t t0 = __rdtsc(); /* clock_gettime twice was 2% of translation */
    struct dec_insn *insns = bt->insns;
    uint32_t *live_in = bt->live_in, *live_out = bt->live_out;
    int n = 0;
    enum dec_mode mode = (key & BT_KEY_CODE32) ? DEC_MODE_32 : DEC_MODE_16;
    uint32_t pc = eip;
    int jccs = 0;
    uint64_t phys0 = 0, physn = 0, physend = 0;
    bool pg = key & BT_KEY_PG;
    /* Code is fetched at CS.base + EIP; blocks are keyed by EIP, the mode
     * key and the CS base. */
    uint32_t cs_base = bt->cpu->seg_base[CPU_CS], cs_limit = bt->cpu->segs[CPU_CS].limit;

    for (;;) {
        uint8_t bytes[16];
        struct fetch_res fr;
        if (n > 0 && ends_at_breakpoint(bt, key, cs_base + pc))
            break; /* the dispatcher stops there (docs/gdb.md) */
        size_t avail = fetch(bt, cs_base + pc, bytes, &fr);
        if (n == 0)
            phys0 = fr.phys;
        struct dec_insn *d = &insns[n];
        if (avail == 0) {
            if (n > 0)
                break; /* end the block before the unfetchable instruction */
            if (fr.fault1) {
                fetch_fault(bt, bt->mmu.pf_addr, bt->mmu.pf_err);
                return NULL;
            }
            snprintf(bt->cpu->unsupported, sizeof(bt->cpu->unsupported),
                     "instruction fetch from EIP %08x outside RAM", pc);
            return NULL;
        }
        int r = dec_decode(mode, pc, bytes, avail, d);
        if (r != 0 && avail < 15 && fr.fault2) {
            /* The instruction runs onto a page that cannot be fetched. */
            if (n > 0)
                break;
            fetch_fault(bt, fr.pf_addr, fr.pf_err);
            return NULL;
        }
        if (r != 0 && avail < 15 && n > 0)
            break; /* runs onto a page outside RAM: let it be the next block's problem */
        if (r != 0) {
            memset(d, 0, sizeof(*d));
            d->eip = pc;
            d->cls = DEC_UNDEFINED;
            d->len = 1;
            memcpy(d->bytes, bytes, 15);
        }
        if (d->len - 1u > cs_limit - pc || pc > cs_limit) {
            /* Past the CS limit (a 16-bit IP running off 0xFFFF): #GP(0)
             * when reached (SDM vol. 3 5.3). */
            if (n > 0)
                break;
            cpu_raise(bt->cpu, CPU_VEC_GP, true, 0);
            return NULL;
        }
        if ((fr.phys & 0xFFF) + d->len > 4096) {
            physn = fr.phys2 >> 12;
            physend = fr.phys2 + ((fr.phys & 0xFFF) + d->len - 4096);
        } else {
            physn = fr.phys >> 12;
            physend = fr.phys + d->len;
        }
        bt->kinds[n] = (uint8_t)bt_emit_kind(d);
        n++;
        if (n == BT_MAX_BLOCK_INSNS || (key & BT_KEY_STEP) || (d->cls & DEC_UNDEFINED) ||
            ((d->cls & DEC_CONTROL) && (!passable_jcc(d, key) || ++jccs > BT_MAX_PASSED_JCC)))
            break;
        /* A jump back to the start ends a loop whose checks can move out
         * of it (bt_plan_groups, hoist): its body alone is the block.
         * Other loops run on into what follows, as blocks do past a Jcc. */
        if (jumps_to(d, eip)) {
            bt_plan_groups(insns, bt->kinds, n, key, bt->cpu->regs[CPU_ESP], true, &bt->plan);
            if (bt->plan.hoisted)
                break;
        }
        /* The instruction after STI runs before any interrupt: keep it in
         * this block, then end it (interrupts are taken at block entries). */
        if (n >= 2 && insns[n - 2].zi.mnemonic == ZYDIS_MNEMONIC_STI)
            break;
        /* POPF that sets IF has no such shadow: a waiting interrupt comes
         * right after it (its poll, emit_vif.c, asks for the next block
         * entry), not after a CLI later in the same block. */
        if (d->zi.mnemonic == ZYDIS_MNEMONIC_POPFD || d->zi.mnemonic == ZYDIS_MNEMONIC_POPF)
            break;
        pc += d->len;
        if (((cs_base + pc) >> 12) != ((cs_base + eip) >> 12))
            break;
    }

    /* Backward flag liveness from what the successors need, decoding
     * ahead only when the answer can change the code (flow_differs). */
    uint32_t page = (cs_base + eip) >> 12;
    struct flow_ctx fc; /* not cleared: needed[] and killed[] are filled up to n */
    fc.bt = bt;
    fc.insns = insns;
    fc.kinds = bt->kinds;
    fc.n = n;
    fc.mode = mode;
    fc.page = page;
    for (int k = 0; k < n; k++) {
        fc.needed[k] = flags_needed(&insns[k]);
        fc.killed[k] = flags_killed(&insns[k]);
    }
    flow(&fc, false, 0, bt->live_in0, bt->live_out0);
    flow(&fc, false, CPU_FL_ARITH, live_in, live_out);
    if (flow_differs(&fc, bt->live_in0, bt->live_out0, live_in, live_out))
        flow(&fc, true, 0, live_in, live_out);

    /* User code whose page already ran at another linear page is
     * translated shared. */
    key = bt_share_key(bt, key, cs_base + eip, phys0 >> 12);
    struct bt_emit *e = &bt->em;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!bt->stubs_ready) {
            if (!bt_memstub_build(bt) || !bt_sregstub_build(bt)) {
                bt_cache_flush(bt);
                continue;
            }
            bt->stubs_ready = true;
        }
        struct bt_block *blk = bt_block_alloc(bt);
        if (!blk) {
            bt_cache_flush(bt);
            continue;
        }
        struct bt_tctx t;
        bt_tctx_init(&t);
        t.bt = bt;
        t.e = e;
        t.blk = blk;
        t.key = key;
        t.shared = bt_key_shared(key);
        t.vbase0 = bt_vbase(key, eip);
        t.co_k = -1;
        t.r11_group = -1;
        blk->map_host = bt_arena_alloc(bt, ((size_t)n + 1) * sizeof(uint32_t));
        blk->map_eip = bt_arena_alloc(bt, ((size_t)n + 1) * sizeof(uint32_t));
        blk->map_ool = bt_arena_alloc(bt, ((size_t)n + 1) * sizeof(uint32_t));
        if (!blk->map_host || !blk->map_eip || !blk->map_ool)
            bt->oom = true;
        if (bt->oom) {
            if (attempt == 0) {
                /* The flush frees every block's records: try once more. */
                bt->oom = false;
                bt->st.oom_flushes++;
                bt_cache_flush(bt);
                continue;
            }
            snprintf(bt->cpu->unsupported, sizeof(bt->cpu->unsupported),
                     "out of host memory translating the block at EIP %08x", eip);
            bt->pool_used--; /* the slot back: pool order stays code order (bt_block_for_host) */
            return NULL;
        }
        bt_emit_reset(e);

        /* Block entry: leave if something asynchronous is pending, or
         * (paging on) if the code page's mapping is not the one this block
         * was translated from (see emit_entry). */
        int async = bt_label(e), recheck = bt_label(e), start = bt_label(e), fwd = bt_label(e);
        if (t.shared) {
            /* The indirect entry (inline caches, the indirect table): R8 =
             * the target EIP, whose page is this run's vbase. */
            bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, bt_r(BT_R_TMP3_32),
                   bt_m(BT_R_TARGET, ZYDIS_REGISTER_NONE, 0, -(int32_t)(eip & 0xFFFu), 0));
            bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, BT_OFF_VBASE, 4),
                   bt_r(BT_R_TMP3_32));
        }
        bt_bind(e, BT_MAIN, start);
        uint32_t lin0 = cs_base + eip;
        uint32_t lin2 = (lin0 | 0xFFFu) + 1; /* the next page, if the last insn crosses */
        bool crosses = physn != phys0 >> 12;
        emit_entry(e, live_in[0] != 0, t.shared, pg ? bt_exec_off(key) : -1, lin0 >> 12, phys0 >> 12,
                   crosses ? (int64_t)(lin2 >> 12) : -1, physn, async, recheck, fwd);
        if (pg) {
            /* A code page not (or no longer) in the execute table: refill
             * it in C and check again, rather than leave for the
             * dispatcher; a page mapped elsewhere does leave. */
            t.d = &insns[0];
            bt_bind(e, BT_OOL, recheck);
            bt_call_abs(e, BT_OOL, (uint64_t)(uintptr_t)bt->tramp_refill);
            bt_jmp_near(e, BT_OOL, start);
            t.d = NULL;
        }

        bool ended = false;
        int k;
        struct bt_plan *plan = &bt->plan;
        bool loop = !t.shared && live_in[0] == 0 && jumps_to(&insns[n - 1], eip);
        bt_plan_groups(insns, bt->kinds, n, key, bt->cpu->regs[CPU_ESP], loop, plan);
        t.loop_label = -1;
        if (plan->hoisted)
            bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, BT_OFF_LOOP_DIRTY, 4), bt_i(0));
        for (k = 0; k < n; k++) {
            t.d = &insns[k];
            t.k = k;
            t.live_in = live_in[k];
            t.live_out = live_out[k];
            t.direct_mem = plan->direct_mem[k];
            t.mem_slot = plan->mem_slot[k];
            t.direct_stack = plan->direct_stack[k];
            /* A run of pushes/pops goes on into the next instruction when
             * it can join and no group check comes first (emit_stack.c). */
            t.lag_next = k + 1 < n && bt_stack_lag_ok(&insns[k + 1], plan->direct_stack[k + 1], key) &&
                         !bt_group_check_at(plan, k + 1);
            t.last = k == n - 1;
            blk->map_host[k] = bt_here(e, BT_MAIN);
            blk->map_ool[k] = bt_here(e, BT_OOL);
            blk->map_eip[k] = insns[k].eip;
            t.emit_hoisted = k == 0 && plan->hoisted;
            bt_emit_group_checks(&t, plan);
            if (k == 0 && plan->hoisted) {
                /* The loop's turns start here: interrupts, and C having
                 * run (it may have dropped an entry checked above, or the
                 * code page's) sends them back through the checks. */
                emit_windows(e, plan, true, start);
                t.loop_label = bt_label(e);
                t.loop_eip = eip;
                bt_bind(e, BT_MAIN, t.loop_label);
                bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_CMP, 2, bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, CPU_OFF_ASYNC, 4), bt_i(0));
                bt_jcc_near(e, BT_MAIN, ZYDIS_MNEMONIC_JNZ, async);
                bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_CMP, 2, bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, BT_OFF_LOOP_DIRTY, 4), bt_i(0));
                bt_jcc_near(e, BT_MAIN, ZYDIS_MNEMONIC_JNZ, start);
                emit_windows(e, plan, false, start);
                t.r11_group = -1; /* not at the second turn */
                bt->st.hoisted_loops++;
                t.emit_hoisted = false;
                bt_emit_group_checks(&t, plan); /* those at each turn */
            }
            if (bt->kinds[k] != BT_EMIT_IDENT)
                t.r11_group = -1; /* only the IDENT path reaches its access with R11 intact */
            if (!emit_one(&t, k == n - 1)) {
                /* Unsupported: stop the VM with a message when reached. */
                bt_emit_exit_simple(&t, BT_MAIN, insns[k].eip, BT_EXIT_UNSUPPORTED);
                ended = true;
                k++;
                break;
            }
            if ((insns[k].cls & DEC_CONTROL) && k == n - 1)
                ended = true;
        }
        if (t.esp_lag)
            bt_emit_fail(e, "a push/pop run not closed");
        blk->ninsn = (uint16_t)k;
        blk->map_host[k] = bt_here(e, BT_MAIN);
        blk->map_ool[k] = bt_here(e, BT_OOL);
        blk->map_eip[k] = insns[k - 1].eip + insns[k - 1].len;
        if (!ended) {
            t.d = &insns[k - 1];
            bt_emit_exit_direct(&t, BT_MAIN, insns[k - 1].eip + insns[k - 1].len);
        }
        bt_bind(e, BT_OOL, async);
        bt_emit_exit_simple(&t, BT_OOL, eip, BT_EXIT_ASYNC);
        /* Where the entry jumps once the block is invalidated (blocks.c). */
        int tomb = bt_label(e);
        bt_bind(e, BT_OOL, tomb);
        /* The dispatcher re-points the tombstone (the entry's jmp rel32 at
         * host + 1) at the new translation, so chained jumps that still
         * lead here stop exiting. ARG0 = this block's key. */
        /* A record {site, key, eip, STALE} (bt_tomb_tramp sets ARG0 from
         * the key's low half; bit 32 only makes a key of 0 nonzero). */
        uint64_t *tr = bt_emit_exit_record(&t, BT_OOL, eip, BT_EXIT_STALE, (uint64_t)key | (1ull << 32));
        if (tr && t.nsites < (int)(sizeof(t.sites) / sizeof(t.sites[0]))) {
            t.sites[t.nsites].buf = BT_MAIN;
            t.sites[t.nsites].fwd = false;
            t.sites[t.nsites].rel_at = bt_label_off(e, start) + 1; /* the entry's jmp rel32 */
            t.sites[t.nsites].imm_at = 0;
            t.sites[t.nsites].patch = tr;
            t.nsites++;
        }

        /* Short branches where they reach (bt_emit_relax): the offsets
         * kept so far move with the code. */
        bt_emit_relax(e);
        bt_emit_remap_sorted(e, BT_MAIN, blk->map_host, blk->ninsn + 1);
        bt_emit_remap_sorted(e, BT_OOL, blk->map_ool, blk->ninsn + 1);
        for (int s = 0; s < t.nsites; s++) {
            t.sites[s].rel_at = bt_emit_remap(e, t.sites[s].buf, t.sites[s].rel_at);
            if (!t.sites[s].patch)
                t.sites[s].imm_at = bt_emit_remap(e, BT_OOL, t.sites[s].imm_at);
        }
        blk->exits = t.nexits ? bt_arena_alloc(bt, (size_t)t.nexits * sizeof(*blk->exits)) : NULL;
        if (t.nexits && !blk->exits) {
            bt->oom = true;
            bt_emit_fail(e, "out of host memory");
        }
        if (e->failed && bt->oom && attempt == 0) {
            bt->oom = false;
            bt->st.oom_flushes++;
            bt_cache_flush(bt);
            continue;
        }
        if (e->failed) {
            snprintf(bt->cpu->unsupported, sizeof(bt->cpu->unsupported),
                     "translator: %.100s (block at EIP %08x)", e->err, eip);
            bt->pool_used--;
            return NULL;
        }
        uint8_t *host = bt_cache_alloc(bt, bt_emit_size(e));
        if (!host) {
            bt_cache_flush(bt);
            continue;
        }
        bt_emit_place(e, host, bt->cache_wr);
        for (int x = 0; x < t.nexits; x++) {
            blk->exits[x].rec = t.exits[x].rec;
            blk->exits[x].ret_off = (uint32_t)(bt_placed(e, host, t.exits[x].buf,
                                                         bt_label_off(e, t.exits[x].ret)) - host);
        }
        blk->nexits = (uint32_t)t.nexits;
        for (int s = 0; s < t.nsites; s++) {
            uint64_t site = (uint64_t)(uintptr_t)bt_placed(e, host, t.sites[s].buf, t.sites[s].rel_at) |
                            (t.sites[s].fwd ? BT_SITE_FWD : 0) | (t.shared ? BT_SITE_VB : 0);
            if (t.sites[s].patch)
                *t.sites[s].patch = site;
            else
                memcpy(bt_cw(bt, bt_placed(e, host, BT_OOL, t.sites[s].imm_at)), &site, 8);
        }
        blk->main_len = e->len[BT_MAIN];
        blk->code = host;
        blk->ientry = host;
        blk->host = bt_placed(e, host, BT_MAIN, bt_label_off(e, start));
        /* Both relative to the entry (blocks.c writes the tombstone there). */
        blk->tomb_off = (uint32_t)(bt_placed(e, host, BT_OOL, bt_label_off(e, tomb)) - blk->host);
        blk->fwd_off = e->label[fwd].buf == BT_MAIN && !(key & BT_KEY_NONFLAT) ?
                       (uint32_t)(bt_placed(e, host, BT_MAIN, bt_label_off(e, fwd)) - blk->host) : 0;
        blk->eip = eip;
        blk->vbase0 = t.vbase0;
        blk->key = key;
        blk->cs_base = cs_base;
        blk->host_len = bt_emit_size(e);
        blk->phys_lo = phys0;
        blk->phys_hi = physend;
        blk->phys_page = (uint32_t)(phys0 >> 12);
        blk->phys_page2 = (uint32_t)physn;
        blk->split_off = (key & BT_KEY_SAFE) ? (uint16_t)(1 + (bt->cpu->regs[CPU_ESP] & 0xFFF)) : 0;
        bt_insert(bt, blk);
        bt->st.blocks++;
        bt->st.shared_blocks += t.shared;
        bt->st.insns += (uint64_t)k;
        bt->st.cache_bytes += blk->host_len;
        bt->translate_tsc += __rdtsc() - t0; /* into translate_ns when printed (engine.c) */
        if (bt->trace)
            bt_trace_block(bt, blk, insns, k);
        if (bt->perfmap)
            fprintf(bt->perfmap, "%lx %x guest_%08x_k%02x\n", (unsigned long)(uintptr_t)host,
                    blk->host_len, eip, key);
        return blk;
    }
    snprintf(bt->cpu->unsupported, sizeof(bt->cpu->unsupported),
             "code cache too small for the block at EIP %08x", eip);
    return NULL;
}
