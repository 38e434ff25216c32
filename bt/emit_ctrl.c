/*
 * bt/emit_ctrl.c — guest control flow: jumps, calls, returns, loops, the
 * inline indirect-branch lookup and inlined PC-thunk calls.
 *
 * The exits themselves (stubs, chain sites) and callouts are shared with
 * every emitter and live in emit_common.c; this file uses them, and the
 * stack (emit_stack.c) and memory (emit_mem.c) emitters for CALL, RET and
 * jumps through memory.
 *
 * A direct exit is a `jmp rel32` whose target starts as an out-of-line stub
 * telling the dispatcher "go to EIP x, and patch me"; once x is translated
 * the dispatcher rewrites the rel32 to jump straight to it (chaining).
 * An indirect branch looks the target EIP up in a 64K-entry table (indexed
 * by its low 16 bits, at R15 + BT_IBTC_OFF) and jumps to the host code found
 * there, or exits to the dispatcher, which fills the entry.
 */
#include "bt/translate.h"

#include <stdlib.h>
#include <string.h>
#include "bt/offsets.h"
#include "bt/runtime.h"
#include "vm/vm.h"

#define R(x) bt_r(ZYDIS_REGISTER_##x)
#define CPUM(off, sz) bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, (off), (sz))

/*
 * Inline indirect-branch lookup, flag-free so guest flags need no saving:
 * entries hold the negated tag (key << 32 | eip); adding the wanted tag with
 * LEA gives zero on a hit, tested with JRCXZ (guest ECX parked in R10).
 */
void bt_emit_exit_indirect(struct bt_tctx *t, ZydisRegister target32)
{
    bt_emit_exit_indirect_key(t, target32, t->key, true);
}

void bt_emit_exit_indirect_key(struct bt_tctx *t, ZydisRegister target32, uint32_t to_key, bool icache)
{
    struct bt_emit *e = t->e;
    int miss = bt_label(e);
    if (target32 != BT_R_TARGET_32)
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TARGET_32), bt_r(target32));
    if (t->key & BT_KEY_STEP) {
        /* A debugger's step: nothing may run on past this instruction. */
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, CPUM(BT_OFF_EXIT_SITE, 8), bt_i(0));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, CPUM(CPU_OFF_EIP, 4), bt_r(BT_R_TARGET_32));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, CPUM(BT_OFF_EXIT, 4), bt_i(BT_EXIT_INDIRECT));
        bt_jmp_abs(e, BT_MAIN, (uint64_t)(uintptr_t)t->bt->tramp_exit);
        return;
    }
    /* Non-flat code (real mode, 16-bit code with bases): the table's tags
     * do not hold the CS base, so past the inline cache (whose target has
     * this block's CS base and key: a near branch changes neither, and no
     * instruction changes the key without leaving the block) it asks the
     * dispatcher. */
    bool table = !(t->key & BT_KEY_NONFLAT);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_RCX_PARK), R(RCX));
    if (icache && t->nsites < (int)(sizeof(t->sites) / sizeof(t->sites[0]))) {
        /* Inline cache: the first target this jump met, as a direct jump
         * the host predicts (a RET to one caller, a call through a
         * pointer that does not change). LEA + JRCXZ compare the EIP.
         * Until the first run fills it (engine.c), both ways lead to the
         * dispatcher; then a different target takes the table below.
         * Shared blocks compare the target's distance from vbase (NOT
         * ECX = -vbase - 1), so a return within a library hits in every
         * process, wherever ASLR put it. */
        int lookup = bt_label(e), first = bt_label(e);
        uint32_t base_at = 0;
        if (t->shared) {
            bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(ECX), CPUM(BT_OFF_VBASE, 4));
            base_at = bt_here(e, BT_MAIN) - 1;
            bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_NOT, 1, R(ECX));
            bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, R(ECX), bt_m(ZYDIS_REGISTER_RCX, BT_R_TARGET, 1, 0x7FFFFFFF, 0));
        } else {
            bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, R(ECX), bt_m(BT_R_TARGET, ZYDIS_REGISTER_NONE, 0, 0x7FFFFFFF, 0));
        }
        uint32_t eip_at = bt_here(e, BT_MAIN) - 4;
        if (t->shared && eip_at - base_at != BT_ICACHE_BASE_BACK)
            bt_emit_fail(e, "indirect cache: unexpected base layout");
        uint32_t miss_at = bt_emit_jrcxz_or_jmp(e, BT_R_RCX_PARK, first); /* → lookup once filled */
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(RCX), bt_r(BT_R_RCX_PARK));
        uint32_t at = bt_jmp_label(e, BT_MAIN, first);
        if (at - eip_at != BT_ICACHE_EIP_BACK || at - miss_at != BT_ICACHE_MISS_BACK)
            bt_emit_fail(e, "indirect cache: unexpected layout");
        bt_bind(e, BT_MAIN, lookup);
        bt_bind(e, BT_OOL, first);
        bt_ins(e, BT_OOL, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_SITE), bt_i(0x1122334455667788ll));
        t->sites[t->nsites].buf = BT_MAIN;
        t->sites[t->nsites].fwd = false;
        t->sites[t->nsites].rel_at = at;
        t->sites[t->nsites].imm_at = bt_here(e, BT_OOL) - 8;
        t->sites[t->nsites].patch = NULL;
        t->nsites++;
        bt_ins(e, BT_OOL, ZYDIS_MNEMONIC_MOV, 2, CPUM(BT_OFF_EXIT_SITE, 8), bt_r(BT_R_SITE));
        bt_ins(e, BT_OOL, ZYDIS_MNEMONIC_MOV, 2, CPUM(CPU_OFF_EIP, 4), bt_r(BT_R_TARGET_32));
        bt_ins(e, BT_OOL, ZYDIS_MNEMONIC_MOV, 2, CPUM(BT_OFF_EXIT, 4), bt_i(BT_EXIT_INDIRECT));
        bt_jmp_abs(e, BT_OOL, (uint64_t)(uintptr_t)t->bt->tramp_exit);
    }
    if (!table) {
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, CPUM(BT_OFF_EXIT_SITE, 8), bt_i(0));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, CPUM(CPU_OFF_EIP, 4), bt_r(BT_R_TARGET_32));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, CPUM(BT_OFF_EXIT, 4), bt_i(BT_EXIT_INDIRECT));
        bt_jmp_abs(e, BT_MAIN, (uint64_t)(uintptr_t)t->bt->tramp_exit);
        return;
    }
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOVZX, 2, bt_r(BT_R_TMP3_32), bt_r(BT_R_TARGET_16));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, bt_r(BT_R_TMP3_32), bt_m(BT_R_TMP3, BT_R_TMP3, 1, 0, 0));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(RCX), bt_m(BT_R_CPU, BT_R_TMP3, 8, BT_IBTC_OFF, 8));
    /* Targets are found by their mode key (shared or not). */
    uint32_t key = to_key & ~(BT_KEY_SAFE | BT_KEY_SAFE2 | BT_KEY_VSHARED);
    /* Into CPL 3 from another CPL (IRET, SYSEXIT): whether the target's
     * key has BT_KEY_UWIN depends on the address space it returns to. */
    bool uwin_dyn = bt_key_cpl(to_key) == 3 && bt_key_cpl(t->key) != 3 && (to_key & BT_KEY_PG);
    if (bt_key_cpl(to_key) != 3 || uwin_dyn)
        key &= ~BT_KEY_UWIN;
    if (key) {
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP0), bt_i((int64_t)((uint64_t)key << 32)));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, R(RCX), bt_m(ZYDIS_REGISTER_RCX, BT_R_TMP0, 1, 0, 0));
    }
    if (uwin_dyn) {
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP0), CPUM(BT_OFF_UKEY_HI, 8));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, R(RCX), bt_m(ZYDIS_REGISTER_RCX, BT_R_TMP0, 1, 0, 0));
    }
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, R(RCX), bt_m(ZYDIS_REGISTER_RCX, BT_R_TARGET, 1, 0, 0));
    /* jrcxz hit ; mov rcx, r10 ; jmp miss ; hit: mov rcx, r10 ; jmp [entry.host] */
    bt_emit_jrcxz_or_jmp(e, BT_R_RCX_PARK, miss);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(RCX), bt_r(BT_R_RCX_PARK));
    if (t->bt->count) {
        /* ++ibtc_hits without touching flags (only with --stats), in R9
         * and R10: R8 (the target) goes on to the indirect entry. */
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP0), bt_i((int64_t)(uintptr_t)&t->bt->st.ibtc_hits));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP2), bt_m(BT_R_TMP0, ZYDIS_REGISTER_NONE, 0, 0, 8));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, bt_r(BT_R_TMP2), bt_m(BT_R_TMP2, ZYDIS_REGISTER_NONE, 0, 1, 0));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_m(BT_R_TMP0, ZYDIS_REGISTER_NONE, 0, 0, 8), bt_r(BT_R_TMP2));
    }
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_JMP, 1, bt_m(BT_R_CPU, BT_R_TMP3, 8, BT_IBTC_OFF + 8, 8));

    bt_bind(e, BT_OOL, miss);
    /* Fill the table in a callout, which goes on in the target's block
     * (or leaves for the dispatcher): never returns here. */
    bt_ins(e, BT_OOL, ZYDIS_MNEMONIC_MOV, 2, CPUM(BT_OFF_ARG0, 4), bt_r(BT_R_TARGET_32));
    bt_emit_internal_callout(t, BT_OOL, bt_indirect_miss);
    bt_ins(e, BT_OOL, ZYDIS_MNEMONIC_UD2, 0);
}

static uint32_t next_eip(const struct bt_tctx *t) { return t->d->eip + t->d->len; }

static uint32_t branch_target(const struct bt_tctx *t)
{
    const struct dec_insn *d = t->d;
    uint32_t tgt = next_eip(t) + (uint32_t)d->ops[0].imm.value.s;
    if (d->zi.operand_width == 16)
        tgt &= 0xFFFF;
    return tgt;
}

/* Exits to the branch target: one wrapped at 64 KiB is the same EIP
 * wherever a shared block runs (emit_common.c, emit_vbase_for). */
static void exit_to_target(struct bt_tctx *t, int b)
{
    if (t->loop_label >= 0 && branch_target(t) == t->loop_eip) {
        bt_jmp_near(t->e, b, t->loop_label);
        return;
    }
    t->target_abs = t->shared && t->d->zi.operand_width == 16;
    bt_emit_exit_direct(t, b, branch_target(t));
    t->target_abs = false;
}

static void jcc_to_target(struct bt_tctx *t, ZydisMnemonic jcc)
{
    if (t->loop_label >= 0 && branch_target(t) == t->loop_eip) {
        bt_jcc_near(t->e, BT_MAIN, jcc, t->loop_label);
        return;
    }
    t->target_abs = t->shared && t->d->zi.operand_width == 16;
    bt_emit_jcc_exit(t, jcc, branch_target(t));
    t->target_abs = false;
}

/* The return address a CALL pushes: R13 in shared blocks (it survives the
 * push's slow path), an immediate otherwise. */
static struct bt_op return_address(struct bt_tctx *t, unsigned osz)
{
    struct bt_op v = bt_emit_eip(t, BT_MAIN, BT_R_KEEP_32, next_eip(t));
    if (osz == 2 && v.type == ZYDIS_OPERAND_TYPE_REGISTER)
        v = bt_r(BT_R_KEEP_16);
    return v;
}

/* Load the target of jmp/call r/m into R8D (memory forms go through the
 * shadow TLB). */
static void load_indirect_target(struct bt_tctx *t)
{
    const ZydisDecodedOperand *op = &t->d->ops[0];
    unsigned sz = t->d->zi.operand_width / 8;
    if (op->type == ZYDIS_OPERAND_TYPE_REGISTER) {
        ZydisRegister r = bt_map_reg(op->reg.value);
        if (sz == 2)
            bt_ins(t->e, BT_MAIN, ZYDIS_MNEMONIC_MOVZX, 2, bt_r(BT_R_TARGET_32), bt_r(r));
        else
            bt_ins(t->e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TARGET_32), bt_r(r));
        return;
    }
    ZydisEncoderRequest req;
    memset(&req, 0, sizeof(req));
    req.mnemonic = sz == 2 ? ZYDIS_MNEMONIC_MOVZX : ZYDIS_MNEMONIC_MOV;
    req.operand_count = 2;
    req.operands[0] = bt_zop(bt_r(BT_R_KEEP_32));
    if (t->direct_mem) {
        req.operands[1] = bt_direct_mem(t, op, sz);
        bt_enc(t->e, BT_MAIN, &req);
    } else {
        bt_emit_ea(t, op, BT_R_ADDR_32, sz, false);
        req.operands[1] = bt_zop(bt_m(BT_R_ADDR, BT_R_ENTRY, 1, 0, sz));
        t->kv_ok = true; /* before CALL's push */
        bt_emit_mem_op(t, &req, sz, true, false);
        t->kv_ok = false;
    }
    bt_ins(t->e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TARGET_32), bt_r(BT_R_KEEP_32));
}

/*
 * LOOP/LOOPE/LOOPNE/JCXZ counting in CX (16-bit address size): not
 * encodable in 64-bit mode, so CX is decremented with LEA + a 16-bit move
 * and tested with JRCXZ on a zero-extended copy (guest ECX parked in R10);
 * no flags are touched, and LOOPE/LOOPNE then test ZF natively.
 */
static bool emit_loop16(struct bt_tctx *t)
{
    const struct dec_insn *d = t->d;
    struct bt_emit *e = t->e;
    ZydisMnemonic m = d->zi.mnemonic;
    int nonzero = bt_label(e);
    if (m != ZYDIS_MNEMONIC_JCXZ) {
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, bt_r(BT_R_TMP0_32), bt_m(ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_NONE, 0, -1, 0));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(CX), bt_r(BT_R_TMP0_16));
    }
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_RCX_PARK), R(RCX));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOVZX, 2, R(ECX), R(CX));
    bt_emit_jrcxz_or_jmp(e, BT_R_RCX_PARK, nonzero);
    /* CX == 0 */
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(RCX), bt_r(BT_R_RCX_PARK));
    if (m == ZYDIS_MNEMONIC_JCXZ)
        exit_to_target(t, BT_MAIN);
    else
        bt_emit_exit_direct(t, BT_MAIN, next_eip(t));
    /* CX != 0 (ECX already restored) */
    bt_bind(e, BT_MAIN, nonzero);
    if (m == ZYDIS_MNEMONIC_JCXZ) {
        bt_emit_exit_direct(t, BT_MAIN, next_eip(t));
    } else {
        if (m == ZYDIS_MNEMONIC_LOOPE)
            bt_emit_jcc_exit(t, ZYDIS_MNEMONIC_JNZ, next_eip(t));
        else if (m == ZYDIS_MNEMONIC_LOOPNE)
            bt_emit_jcc_exit(t, ZYDIS_MNEMONIC_JZ, next_eip(t));
        exit_to_target(t, BT_MAIN);
    }
    return true;
}

/* "mov reg, [esp] ; ret": 8B /r with ModRM mod=00 rm=100 (SIB), SIB 0x24
 * = [esp], reg not ESP; then C3. */
static bool pc_thunk_bytes(const uint8_t *b)
{
    return b[0] == 0x8B && (b[1] & 0xC7) == 0x04 && b[2] == 0x24 && b[3] == 0xC3 && (b[1] >> 3 & 7) != 4;
}

/*
 * i386 position-independent code learns its own address by calling a thunk
 * "mov reg, [esp] ; ret" (GCC's __x86.get_pc_thunk.*), from everywhere. The
 * thunk's RET is then an indirect jump whose target changes with each
 * caller, which the host mispredicts. A direct CALL to such a thunk (user
 * mode, paging, flat) becomes the push, its pop and "mov reg, next" (the
 * return address stays below ESP, as the RET leaves it), checked at run
 * time without touching flags: the thunk's linear page still maps the same
 * guest-physical page executable, and its four bytes are unchanged (read
 * from guest RAM each time, so a rewritten thunk is seen at once). Returns
 * the register, or NONE to translate the call as it is.
 */
static ZydisRegister pc_thunk(struct bt_tctx *t, uint32_t target, uint64_t *ppage, uint32_t *bytes)
{
    if (bt_key_cpl(t->key) != 3 || !(t->key & BT_KEY_PG) || (t->key & (BT_KEY_NONFLAT | BT_KEY_STEP)) ||
        (target & 0xFFF) > 0xFFC)
        return ZYDIS_REGISTER_NONE;
    uint64_t ex;
    memcpy(&ex, t->bt->region + bt_exec_off(t->key) + (size_t)(target >> 12) * 8, 8);
    struct vm *vm = t->bt->vm;
    if (!ex || ((ex - 1) << 12) + 0x1000 > vm->ram_size)
        return ZYDIS_REGISTER_NONE; /* not run yet: no guess, no fill */
    *ppage = ex - 1;
    const uint8_t *b = vm->ram + (*ppage << 12) + (target & 0xFFF);
    if (!pc_thunk_bytes(b))
        return ZYDIS_REGISTER_NONE;
    memcpy(bytes, b, 4);
    static const ZydisRegister regs[8] = {
        ZYDIS_REGISTER_EAX, ZYDIS_REGISTER_ECX, ZYDIS_REGISTER_EDX, ZYDIS_REGISTER_EBX,
        ZYDIS_REGISTER_NONE, ZYDIS_REGISTER_EBP, ZYDIS_REGISTER_ESI, ZYDIS_REGISTER_EDI,
    };
    return regs[b[1] >> 3 & 7];
}

static void emit_pc_thunk_call(struct bt_tctx *t, ZydisRegister reg, uint32_t target, uint64_t ppage,
                               uint32_t bytes)
{
    struct bt_emit *e = t->e;
    int real = bt_label(e);
    struct bt_op ret = return_address(t, 4);
    bt_emit_push(t, 4, ret);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_RCX_PARK), R(RCX));
    if (t->shared) {
        /* The thunk's linear page: vbase's page + the translated distance. */
        int32_t dpages = (int32_t)((target >> 12) - (t->vbase0 >> 12));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_RORX, 3, R(ECX),
               bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, BT_OFF_VBASE, 4), bt_i(12));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(RCX),
               bt_m(BT_R_CPU, ZYDIS_REGISTER_RCX, 8, bt_exec_off(t->key) + dpages * 8, 8));
    } else {
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(RCX),
               bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, bt_exec_off(t->key) + (int32_t)((target >> 12) * 8), 8));
    }
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, R(RCX),
           bt_m(ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_NONE, 0, -(int32_t)(ppage + 1), 0));
    bt_emit_jrcxz_or_jmp(e, BT_R_RCX_PARK, real);
    const uint8_t *host = t->bt->vm->ram + (ppage << 12) + (target & 0xFFF);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(RCX), bt_i((int64_t)(uintptr_t)host));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(ECX), bt_m(ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_NONE, 0, 0, 4));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, R(ECX),
           bt_m(ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_NONE, 0, (int32_t)(0u - bytes), 0));
    bt_emit_jrcxz_or_jmp(e, BT_R_RCX_PARK, real);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(RCX), bt_r(BT_R_RCX_PARK));
    bt_emit_adjust_esp(t, BT_R_ESP64, 4); /* the thunk's RET */
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(reg), ret);
    bt_emit_exit_direct(t, BT_MAIN, next_eip(t));
    bt_bind(e, BT_OOL, real);
    bt_emit_exit_direct(t, BT_OOL, target);
    t->bt->st.pc_thunks++;
}

/* Translate a control-flow instruction that ends the block. Returns false if
 * it is not one handled inline (the caller uses a callout). */
bool bt_emit_control(struct bt_tctx *t)
{
    const struct dec_insn *d = t->d;
    struct bt_emit *e = t->e;
    unsigned osz = d->zi.operand_width / 8;
    if (bt_is_jcc(d->zi.mnemonic)) {
        jcc_to_target(t, d->zi.mnemonic);
        if (t->last) /* else the block goes on with the fall-through */
            bt_emit_exit_direct(t, BT_MAIN, next_eip(t));
        return true;
    }
    switch (d->zi.mnemonic) {
    case ZYDIS_MNEMONIC_JMP:
        if (d->zi.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR)
            return false;
        if (d->ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
            exit_to_target(t, BT_MAIN);
        } else {
            load_indirect_target(t);
            bt_emit_exit_indirect(t, BT_R_TARGET_32);
        }
        return true;
    case ZYDIS_MNEMONIC_CALL:
        if (d->zi.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR)
            return false;
        if (d->ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
            uint64_t ppage;
            uint32_t bytes;
            ZydisRegister reg = osz == 4 ? pc_thunk(t, branch_target(t), &ppage, &bytes) : ZYDIS_REGISTER_NONE;
            if (reg != ZYDIS_REGISTER_NONE) {
                emit_pc_thunk_call(t, reg, branch_target(t), ppage, bytes);
                return true;
            }
            bt_emit_push(t, osz, return_address(t, osz));
            exit_to_target(t, BT_MAIN);
        } else {
            load_indirect_target(t);
            if (t->shared) {
                /* R13 carries the return address through the push's slow
                 * path; the target waits in the bt_vcpu. */
                bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, CPUM(BT_OFF_KEEP, 4), bt_r(BT_R_TARGET_32));
                bt_emit_push(t, osz, return_address(t, osz));
                bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_KEEP_32), CPUM(BT_OFF_KEEP, 4));
            } else {
                /* R8 does not survive the push's slow path: keep it in R13. */
                bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_KEEP_32), bt_r(BT_R_TARGET_32));
                bt_emit_push(t, osz, bt_i((int32_t)next_eip(t)));
            }
            bt_emit_exit_indirect(t, BT_R_KEEP_32);
        }
        return true;
    case ZYDIS_MNEMONIC_RET: {
        if (d->zi.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR)
            return false;
        uint32_t extra = d->zi.operand_count_visible ? (uint32_t)d->ops[0].imm.value.u : 0;
        bt_emit_pop_to(t, osz, BT_R_KEEP_32);
        if (extra)
            bt_emit_adjust_esp(t, BT_R_ESP64, (int32_t)extra);
        bt_emit_exit_indirect(t, BT_R_KEEP_32);
        return true;
    }
    case ZYDIS_MNEMONIC_LOOP: case ZYDIS_MNEMONIC_LOOPE: case ZYDIS_MNEMONIC_LOOPNE:
    case ZYDIS_MNEMONIC_JECXZ: case ZYDIS_MNEMONIC_JCXZ: {
        if (d->zi.address_width == 16)
            return emit_loop16(t);
        /* [67] loop/jecxz +5 ; jmp fall ; taken: exit ; fall: exit */
        ZydisEncoderRequest req;
        memset(&req, 0, sizeof(req));
        req.mnemonic = d->zi.mnemonic == ZYDIS_MNEMONIC_JCXZ ? ZYDIS_MNEMONIC_JECXZ : d->zi.mnemonic;
        req.branch_type = ZYDIS_BRANCH_TYPE_SHORT;
        req.branch_width = ZYDIS_BRANCH_WIDTH_8;
        req.address_size_hint = ZYDIS_ADDRESS_SIZE_HINT_32;
        req.operand_count = 1;
        req.operands[0] = bt_zop(bt_i(5));
        bt_enc(e, BT_MAIN, &req);
        /* Not taken: a 5-byte jump to the fall-through exit (which may
         * move vbase first, so it is not itself the 5 bytes skipped). */
        int fall = bt_label(e);
        bt_jmp_label(e, BT_MAIN, fall);
        exit_to_target(t, BT_MAIN);
        bt_bind(e, BT_MAIN, fall);
        bt_emit_exit_direct(t, BT_MAIN, next_eip(t));
        return true;
    }
    default:
        return false;
    }
}
