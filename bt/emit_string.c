/*
 * bt/emit_string.c — single (non-REP) string instructions inline.
 *
 * LODS, STOS, SCAS, MOVS and CMPS without a REP prefix are everyday code in
 * an i386 kernel (strcmp is a LODSB/SCASB loop, strlen a REPNE SCASB): as
 * callouts they cost a trip into C each. Here each becomes its one or two
 * memory accesses through the ordinary shadow-TLB path (emit_mem.c) —
 * MOV/CMP against [ESI]/[EDI] — followed by the ESI/EDI step.
 *
 * The step depends on DF, which lives in the host RFLAGS: PUSHFQ, then DF
 * is isolated with flag-free shifts (SHLX/SHRX) and NOT, and one LEA adds
 * size * (1 - 2 * DF). Guest flags are never touched by the step, so SCAS
 * and CMPS leave exactly the flags of their compare. Segment bases and
 * limits are applied like any other access (bt_emit_ea). REP forms and
 * 16-bit addressing stay callouts (cpu/string.c).
 */
#include "bt/translate.h"

#include <string.h>

#define R(x) bt_r(ZYDIS_REGISTER_##x)

static ZydisRegister acc_reg(unsigned size)
{
    return size == 1 ? ZYDIS_REGISTER_AL : size == 2 ? ZYDIS_REGISTER_AX : ZYDIS_REGISTER_EAX;
}

static ZydisRegister r13_of(unsigned size)
{
    return size == 1 ? BT_R_KEEP_8 : size == 2 ? BT_R_KEEP_16 : BT_R_KEEP_32;
}

/* A [seg:base] operand as the decoder would describe it. */
static void mem_operand(ZydisDecodedOperand *op, ZydisRegister base, ZydisRegister seg, unsigned size)
{
    memset(op, 0, sizeof(*op));
    op->type = ZYDIS_OPERAND_TYPE_MEMORY;
    op->size = (ZyanU16)(size * 8);
    op->mem.type = ZYDIS_MEMOP_TYPE_MEM;
    op->mem.base = base;
    op->mem.index = ZYDIS_REGISTER_NONE;
    op->mem.segment = seg;
}

/* One access: the guest's EA into R10D, then `m reg, [mem]` / `m [mem], reg`
 * through the shadow TLB. */
static void access(struct bt_tctx *t, const ZydisDecodedOperand *op, ZydisMnemonic m,
                   ZydisRegister reg, bool mem_first, bool rd, bool wr)
{
    unsigned size = op->size / 8;
    bt_emit_ea(t, op, BT_R_ADDR_32, size, wr);
    ZydisEncoderRequest req;
    memset(&req, 0, sizeof(req));
    req.mnemonic = m;
    req.operand_count = 2;
    struct bt_op mem = bt_m(BT_R_ADDR, BT_R_ENTRY, 1, 0, size);
    req.operands[mem_first ? 0 : 1] = bt_zop(mem);
    req.operands[mem_first ? 1 : 0] = bt_zop(bt_r(reg));
    bt_emit_mem_op(t, &req, size, rd, wr);
}

/* reg32 += size * (1 - 2 * DF), flags untouched. Uses R9, R11. */
static void step(struct bt_emit *e, ZydisRegister reg32, unsigned size)
{
    ZydisRegister reg64 = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, reg32);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_PUSHFQ, 0);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_POP, 1, bt_r(BT_R_TMP0));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP3_32), bt_i(63 - 10));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_SHLX, 3, bt_r(BT_R_TMP0), bt_r(BT_R_TMP0), bt_r(BT_R_TMP3));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP3_32), bt_i(63));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_SHRX, 3, bt_r(BT_R_TMP0), bt_r(BT_R_TMP0), bt_r(BT_R_TMP3));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_NOT, 1, bt_r(BT_R_TMP0)); /* -DF - 1 */
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, bt_r(reg32),
           bt_m(reg64, BT_R_TMP0, (uint8_t)(2 * size), 3 * (int32_t)size, 0));
}

static ZydisRegister src_seg(const struct dec_insn *d)
{
    static const ZydisRegister seg[] = { ZYDIS_REGISTER_ES, ZYDIS_REGISTER_CS, ZYDIS_REGISTER_SS,
                                         ZYDIS_REGISTER_DS, ZYDIS_REGISTER_FS, ZYDIS_REGISTER_GS };
    static const ZydisInstructionAttributes attr[] = {
        ZYDIS_ATTRIB_HAS_SEGMENT_ES, ZYDIS_ATTRIB_HAS_SEGMENT_CS, ZYDIS_ATTRIB_HAS_SEGMENT_SS,
        ZYDIS_ATTRIB_HAS_SEGMENT_DS, ZYDIS_ATTRIB_HAS_SEGMENT_FS, ZYDIS_ATTRIB_HAS_SEGMENT_GS };
    for (int i = 0; i < 6; i++)
        if (d->zi.attributes & attr[i])
            return seg[i];
    return ZYDIS_REGISTER_DS;
}

/*
 * REP STOS and REP MOVS (DF = 0, flat segments, no override) whose bytes
 * all lie in one page on each side run as the host's own REP STOS/MOVS on
 * the host addresses: the shadow entries give RDI/RSI their addends, the
 * instruction runs, and the addends come off again (NOT + LEA, flag-free).
 * Anything else — DF = 1, a page crossing, a missing write entry (device,
 * traced or code page) — takes the callout (cpu/string.c). This is memcpy
 * and memset in most guest code, and was a callout each.
 */
/* The REP forms inlined, 32-bit flat code without a segment override:
 * whole-range copies and fills (REP MOVS/STOS, any size) and, below,
 * byte scans (REPE/REPNE CMPSB and SCASB). */
static bool inline_rep_ok(const struct dec_insn *d, uint32_t key, ZydisInstructionAttributes rep)
{
    if (d->zi.address_width != 32 || (d->cls & DEC_UNDEFINED) || (key & BT_KEY_NONFLAT) || !(key & BT_KEY_CODE32))
        return false;
    return (d->zi.attributes & rep) && d->zi.opcode_map == ZYDIS_OPCODE_MAP_DEFAULT &&
           !(d->zi.attributes & (ZYDIS_ATTRIB_HAS_SEGMENT_CS | ZYDIS_ATTRIB_HAS_SEGMENT_SS |
                                 ZYDIS_ATTRIB_HAS_SEGMENT_DS | ZYDIS_ATTRIB_HAS_SEGMENT_ES |
                                 ZYDIS_ATTRIB_HAS_SEGMENT_FS | ZYDIS_ATTRIB_HAS_SEGMENT_GS));
}

bool bt_is_inline_rep(const struct dec_insn *d, uint32_t key)
{
    return inline_rep_ok(d, key, ZYDIS_ATTRIB_HAS_REP) &&
           (d->zi.opcode == 0xA4 || d->zi.opcode == 0xA5 || d->zi.opcode == 0xAA || d->zi.opcode == 0xAB);
}

bool bt_is_inline_rep_scan(const struct dec_insn *d, uint32_t key)
{
    return inline_rep_ok(d, key, ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE) &&
           (d->zi.opcode == 0xA6 || d->zi.opcode == 0xAE);
}

/* reg32's page entry (the write table for wr) into dst64; empty: to
 * `slow` (a device, traced or code page for writes, or not yet filled). */
static void rep_entry(struct bt_tctx *t, ZydisRegister reg32, ZydisRegister dst64, bool wr, int slow)
{
    struct bt_emit *e = t->e;
    ZydisRegister dst32 = ZydisRegisterEncode(ZYDIS_REGCLASS_GPR32, ZydisRegisterGetId(dst64));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(dst32), bt_r(reg32));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_SHR, 2, bt_r(dst32), bt_i(12));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(dst64),
           bt_m(BT_R_CPU, dst64, 8, bt_tlb_off(t->key, wr), 8));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_TEST, 2, bt_r(dst64), bt_r(dst64));
    bt_jcc_near(e, BT_MAIN, ZYDIS_MNEMONIC_JZ, slow);
}

/* The page check for [reg32, reg32 + R9) into addend register dst
 * (R10 scratch); fails to `slow`. */
static void rep_page(struct bt_tctx *t, ZydisRegister reg32, ZydisRegister dst64, bool wr, int slow)
{
    struct bt_emit *e = t->e;
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP2_32), bt_r(reg32));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_AND, 2, bt_r(BT_R_TMP2_32), bt_i(0xFFF));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_ADD, 2, bt_r(BT_R_TMP2), bt_r(BT_R_TMP0));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_CMP, 2, bt_r(BT_R_TMP2), bt_i(0x1000));
    bt_jcc_near(e, BT_MAIN, ZYDIS_MNEMONIC_JNBE, slow);
    rep_entry(t, reg32, dst64, wr, slow);
}

/* DF (bit 10 of RFLAGS) set: to `slow` (the callout does downward runs). */
static void rep_df_check(struct bt_emit *e, int slow)
{
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_PUSHFQ, 0);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_POP, 1, bt_r(BT_R_TMP2));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_BT, 2, bt_r(BT_R_TMP2), bt_i(10));
    bt_jcc_near(e, BT_MAIN, ZYDIS_MNEMONIC_JB, slow);
}

/* RDI (and RSI) back to guest addresses: minus their addends in R11 (R13),
 * flag-free as ~addend + 1. */
static void rep_unbias(struct bt_emit *e, bool src)
{
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_NOT, 1, bt_r(BT_R_ENTRY));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, R(EDI), bt_m(ZYDIS_REGISTER_RDI, BT_R_ENTRY, 1, 1, 0));
    if (src) {
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_NOT, 1, bt_r(BT_R_ENTRY2));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, R(ESI), bt_m(ZYDIS_REGISTER_RSI, BT_R_ENTRY2, 1, 1, 0));
    }
}

/* The out-of-line ends both inline REP forms share: ECX = 0 (nothing done,
 * every flag kept) and the callout (fn) for whatever the inline path
 * refused, each back to `after`. */
static void rep_tails(struct bt_tctx *t, bool live, int zero, int slow, int after, cpu_callout_fn fn)
{
    struct bt_emit *e = t->e;
    bt_bind(e, BT_OOL, zero);
    if (live)
        bt_emit_flags_restore(t, BT_OOL);
    bt_jmp_near(e, BT_OOL, after);
    bt_bind(e, BT_OOL, slow);
    if (live)
        bt_emit_flags_restore(t, BT_OOL);
    bt_emit_callout(t, BT_OOL, fn);
    bt_jmp_near(e, BT_OOL, after);
}

bool bt_emit_rep_string(struct bt_tctx *t)
{
    const struct dec_insn *d = t->d;
    if (!bt_is_inline_rep(d, t->key))
        return false;
    cpu_callout_fn fn = cpu_callout_for(d);
    if (!fn)
        return false;
    struct bt_emit *e = t->e;
    bool movs = d->zi.opcode == 0xA4 || d->zi.opcode == 0xA5;
    unsigned size = d->zi.operand_width / 8;
    unsigned shift = size == 4 ? 2 : size == 2 ? 1 : 0;
    bool live = t->live_in != 0;
    int slow = bt_label(e), zero = bt_label(e), after = bt_label(e);

    if (live)
        bt_emit_flags_save(t, BT_MAIN);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP0_32), R(ECX));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_TEST, 2, bt_r(BT_R_TMP0_32), bt_r(BT_R_TMP0_32));
    bt_jcc_near(e, BT_MAIN, ZYDIS_MNEMONIC_JZ, zero);
    if (shift)
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_SHL, 2, bt_r(BT_R_TMP0), bt_i(shift)); /* bytes */
    rep_df_check(e, slow);
    rep_page(t, ZYDIS_REGISTER_EDI, BT_R_ENTRY, true, slow);
    if (movs)
        rep_page(t, ZYDIS_REGISTER_ESI, BT_R_ENTRY2, false, slow);
    if (live)
        bt_emit_flags_restore(t, BT_MAIN);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, R(RDI), bt_m(ZYDIS_REGISTER_RDI, BT_R_ENTRY, 1, 0, 0));
    if (movs)
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, R(RSI), bt_m(ZYDIS_REGISTER_RSI, BT_R_ENTRY2, 1, 0, 0));
    ZydisEncoderRequest req;
    memset(&req, 0, sizeof(req));
    req.mnemonic = d->zi.mnemonic;
    req.prefixes = ZYDIS_ATTRIB_HAS_REP; /* operands implicit: [RDI], [RSI], RCX, AL/AX/EAX */
    bt_enc(e, BT_MAIN, &req);
    rep_unbias(e, movs);
    bt_bind(e, BT_MAIN, after);
    rep_tails(t, live, zero, slow, after, fn);
    return true;
}

/*
 * REPE/REPNE CMPSB and SCASB (DF = 0): strstr's compare and strlen's scan.
 * The count is often not known to fit a page (strlen scans with ECX = -1),
 * so they run a page at a time: each chunk is ECX cut at the end of EDI's
 * page (and ESI's), checked through the read table like REP MOVS, run as
 * the host's own REPE CMPSB / REPNE SCASB on the host addresses, and
 * given back to the guest's registers (ECX = what the chunk left + what
 * was cut off). A chunk that ended on its condition (a mismatch, a match)
 * is the instruction's end; one that ran out goes on to the next page if
 * ECX is not 0 — its flags parked meanwhile, as they are the result when
 * it is. Anything the checks refuse takes the callout, which goes on from
 * the registers as they are (REP is restartable after every iteration).
 */
/* R9D = min(R9D, bytes from reg32 to the end of its page); R10 scratch. */
static void scan_page_room(struct bt_emit *e, ZydisRegister reg32)
{
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP2_32), bt_r(reg32));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_OR, 2, bt_r(BT_R_TMP2_32), bt_i(-0x1000)); /* -(room) */
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_NEG, 1, bt_r(BT_R_TMP2_32));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_CMP, 2, bt_r(BT_R_TMP0_32), bt_r(BT_R_TMP2_32));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_CMOVNBE, 2, bt_r(BT_R_TMP0_32), bt_r(BT_R_TMP2_32));
}

static bool emit_rep_scan(struct bt_tctx *t)
{
    const struct dec_insn *d = t->d;
    if (!bt_is_inline_rep_scan(d, t->key))
        return false;
    cpu_callout_fn fn = cpu_callout_for(d);
    if (!fn)
        return false;
    struct bt_emit *e = t->e;
    bool cmps = d->zi.opcode == 0xA6;
    bool repe = d->zi.attributes & ZYDIS_ATTRIB_HAS_REPE;
    bool live = t->live_in != 0;
    int slow = bt_label(e), zero = bt_label(e), after = bt_label(e), loop = bt_label(e);
    int cont = bt_label(e), last = bt_label(e);

    if (live)
        bt_emit_flags_save(t, BT_MAIN);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_TEST, 2, R(ECX), R(ECX));
    bt_jcc_near(e, BT_MAIN, ZYDIS_MNEMONIC_JZ, zero);
    rep_df_check(e, slow);
    bt_bind(e, BT_MAIN, loop);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP0_32), R(ECX)); /* the chunk */
    scan_page_room(e, ZYDIS_REGISTER_EDI);
    if (cmps)
        scan_page_room(e, ZYDIS_REGISTER_ESI);
    rep_entry(t, ZYDIS_REGISTER_EDI, BT_R_ENTRY, false, slow);
    if (cmps)
        rep_entry(t, ZYDIS_REGISTER_ESI, BT_R_ENTRY2, false, slow);
    /* R10D = what the chunk leaves for later pages; ECX = the chunk. */
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP2_32), R(ECX));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_SUB, 2, bt_r(BT_R_TMP2_32), bt_r(BT_R_TMP0_32));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(ECX), bt_r(BT_R_TMP0_32));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, R(RDI), bt_m(ZYDIS_REGISTER_RDI, BT_R_ENTRY, 1, 0, 0));
    if (cmps)
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, R(RSI), bt_m(ZYDIS_REGISTER_RSI, BT_R_ENTRY2, 1, 0, 0));
    ZydisEncoderRequest req;
    memset(&req, 0, sizeof(req));
    req.mnemonic = d->zi.mnemonic;
    req.prefixes = repe ? ZYDIS_ATTRIB_HAS_REPE : ZYDIS_ATTRIB_HAS_REPNE;
    bt_enc(e, BT_MAIN, &req); /* at least one compare: the flags are its */
    /* Back to guest values, flag-free: ECX += R10D, then the addresses. */
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, R(ECX), bt_m(ZYDIS_REGISTER_RCX, BT_R_TMP2, 1, 0, 0));
    rep_unbias(e, cmps);
    /* Ended on its condition (REPE: unequal, REPNE: equal): done. */
    bt_jcc_near(e, BT_MAIN, repe ? ZYDIS_MNEMONIC_JNZ : ZYDIS_MNEMONIC_JZ, after);
    bt_jmp_near(e, BT_MAIN, cont);
    bt_bind(e, BT_MAIN, after);

    /* The chunk ran out: the next page, unless ECX ran out too. */
    bt_bind(e, BT_OOL, cont);
    bt_emit_flags_save(t, BT_OOL);
    bt_ins(e, BT_OOL, ZYDIS_MNEMONIC_TEST, 2, R(ECX), R(ECX));
    bt_jcc_near(e, BT_OOL, ZYDIS_MNEMONIC_JZ, last);
    /* Between pages an interrupt may come in: the callout goes on from
     * here and stops for it (its work budget), as the hardware would
     * between iterations. */
    bt_ins(e, BT_OOL, ZYDIS_MNEMONIC_CMP, 2, bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, CPU_OFF_ASYNC, 4), bt_i(0));
    bt_jcc_near(e, BT_OOL, ZYDIS_MNEMONIC_JNZ, slow);
    bt_jmp_near(e, BT_OOL, loop); /* the next chunk's compare sets every flag */
    bt_bind(e, BT_OOL, last);
    bt_emit_flags_restore(t, BT_OOL);
    bt_jmp_near(e, BT_OOL, after);
    rep_tails(t, live, zero, slow, after, fn);
    return true;
}

bool bt_emit_string(struct bt_tctx *t)
{
    const struct dec_insn *d = t->d;
    if (bt_emit_rep_string(t) || emit_rep_scan(t))
        return true;
    if (!bt_is_inline_string(d))
        return false;
    struct bt_emit *e = t->e;
    unsigned size = d->zi.operand_width / 8;
    ZydisDecodedOperand src, dst;
    mem_operand(&src, ZYDIS_REGISTER_ESI, src_seg(d), size);
    mem_operand(&dst, ZYDIS_REGISTER_EDI, ZYDIS_REGISTER_ES, size);
    bool saved_last = t->mem_last_act;
    t->mem_last_act = false; /* the index step always follows the access */
    bool si = false, di = false;
    switch (d->zi.mnemonic) {
    case ZYDIS_MNEMONIC_LODSB: case ZYDIS_MNEMONIC_LODSW: case ZYDIS_MNEMONIC_LODSD:
        access(t, &src, ZYDIS_MNEMONIC_MOV, acc_reg(size), false, true, false);
        si = true;
        break;
    case ZYDIS_MNEMONIC_STOSB: case ZYDIS_MNEMONIC_STOSW: case ZYDIS_MNEMONIC_STOSD:
        access(t, &dst, ZYDIS_MNEMONIC_MOV, acc_reg(size), true, false, true);
        di = true;
        break;
    case ZYDIS_MNEMONIC_SCASB: case ZYDIS_MNEMONIC_SCASW: case ZYDIS_MNEMONIC_SCASD:
        access(t, &dst, ZYDIS_MNEMONIC_CMP, acc_reg(size), false, true, false);
        di = true;
        break;
    case ZYDIS_MNEMONIC_MOVSB: case ZYDIS_MNEMONIC_MOVSW: case ZYDIS_MNEMONIC_MOVSD:
        access(t, &src, ZYDIS_MNEMONIC_MOV, r13_of(size), false, true, false);
        access(t, &dst, ZYDIS_MNEMONIC_MOV, r13_of(size), true, false, true);
        si = di = true;
        break;
    default: /* CMPS: [ESI] - [EDI] */
        access(t, &src, ZYDIS_MNEMONIC_MOV, r13_of(size), false, true, false);
        access(t, &dst, ZYDIS_MNEMONIC_CMP, r13_of(size), false, true, false);
        si = di = true;
        break;
    }
    t->mem_last_act = saved_last;
    if (si)
        step(e, ZYDIS_REGISTER_ESI, size);
    if (di)
        step(e, ZYDIS_REGISTER_EDI, size);
    return true;
}
