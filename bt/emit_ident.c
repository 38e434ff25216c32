/*
 * bt/emit_ident.c — IDENT translation: the guest instruction re-encoded by
 * Zydis as the same host instruction (same opcode, same operand size), with
 * guest ESP renamed to R12 and a memory operand rewritten to [R10 + R11]
 * behind the shadow-TLB check (emit_mem.c).
 *
 * Two encodings need help in 64-bit mode: AH/CH/DH/BH cannot appear in an
 * instruction that needs a REX prefix (our memory operand does), so the byte
 * is rotated into R13B and back (flag-free RORX); and BT/BTS/BTR/BTC with a
 * register bit offset address memory outside their operand, so the offset's
 * upper bits are folded into the address first (flag-free SARX/PEXT).
 */
#include "bt/translate.h"

#include <string.h>

#define R(x) bt_r(ZYDIS_REGISTER_##x)

static bool is_high_byte(ZydisRegister r)
{
    return r == ZYDIS_REGISTER_AH || r == ZYDIS_REGISTER_CH || r == ZYDIS_REGISTER_DH ||
           r == ZYDIS_REGISTER_BH;
}

static ZydisRegister high_parent(ZydisRegister r)
{
    switch (r) {
    case ZYDIS_REGISTER_AH: return ZYDIS_REGISTER_RAX;
    case ZYDIS_REGISTER_CH: return ZYDIS_REGISTER_RCX;
    case ZYDIS_REGISTER_DH: return ZYDIS_REGISTER_RDX;
    default: return ZYDIS_REGISTER_RBX;
    }
}

/*
 * Register-only forms whose bytes mean in 64-bit mode what they mean in
 * 32-bit code: the ALU, MOV, XCHG, TEST, shift, IMUL/MUL/NEG/NOT, INC/DEC
 * (FE/FF, not 40-4F, which are REX prefixes there), CMOVcc, SETcc, bit,
 * SHLD/SHRD, MOVZX/MOVSX, BSF/BSR, BSWAP, XADD/CMPXCHG opcodes, with no
 * prefix but 66, no memory operand and no ESP/SP (that is R12 here). They
 * are copied instead of re-encoded (a third of all guest instructions);
 * test_bt_encode decodes every such form in 64-bit mode against the guest
 * decode. DIV/IDIV are not here: they get a zero test first.
 */
static bool copyable_opcode(const uint8_t *p, unsigned n)
{
    uint8_t op = p[0], reg = n > 1 ? (p[1] >> 3) & 7 : 0;
    if (op == 0x0F) {
        if (n < 2)
            return false;
        uint8_t o2 = p[1];
        return (o2 >= 0x40 && o2 <= 0x4F) || (o2 >= 0x90 && o2 <= 0x9F) || o2 == 0xA3 || o2 == 0xA4 ||
               o2 == 0xA5 || o2 == 0xAB || o2 == 0xAC || o2 == 0xAD || o2 == 0xAF || o2 == 0xB0 || o2 == 0xB1 ||
               o2 == 0xB3 || o2 == 0xB6 || o2 == 0xB7 || o2 == 0xBA || o2 == 0xBB || o2 == 0xBC || o2 == 0xBD ||
               o2 == 0xBE || o2 == 0xBF || o2 == 0xC0 || o2 == 0xC1 || (o2 >= 0xC8 && o2 <= 0xCF);
    }
    if (op < 0x40)
        return (op & 7) <= 5; /* 00-05, 08-0D, ..., 38-3D: not 0F or the legacy 06/07/0E, 26/27, ... */
    switch (op) {
    case 0x69: case 0x6B: case 0x80: case 0x81: case 0x83: case 0x84: case 0x85: case 0x86: case 0x87:
    case 0x88: case 0x89: case 0x8A: case 0x8B: case 0x98: case 0x99: case 0xA8: case 0xA9:
    case 0xC0: case 0xC1: case 0xD0: case 0xD1: case 0xD2: case 0xD3:
        return true;
    case 0xF6: case 0xF7:
        return reg != 6 && reg != 7;
    case 0xFE: case 0xFF:
        return reg <= 1;
    default:
        return (op >= 0x91 && op <= 0x97) || (op >= 0xB0 && op <= 0xBF);
    }
}

bool bt_ident_copyable(uint32_t key, const struct dec_insn *d)
{
    if (!(key & BT_KEY_CODE32) || d->len == 0 || (d->cls & DEC_UNDEFINED))
        return false;
    const uint8_t *p = d->bytes;
    unsigned n = d->len;
    if (p[0] == 0x66) {
        p++;
        n--;
    }
    if (n == 0 || !copyable_opcode(p, n))
        return false;
    for (int i = 0; i < d->zi.operand_count_visible; i++) {
        const ZydisDecodedOperand *op = &d->ops[i];
        if (op->type == ZYDIS_OPERAND_TYPE_MEMORY)
            return false;
        if (op->type == ZYDIS_OPERAND_TYPE_REGISTER && bt_map_reg(op->reg.value) != op->reg.value)
            return false;
    }
    return true;
}

/*
 * IDENT memory forms from bytes. Re-encoding through a request cost a
 * Zydis request conversion and an encoder memo lookup per access path
 * (main line, other page, slow path): the template keeps the guest's
 * prefixes (segment overrides dropped, as the request path drops them),
 * opcode, ModRM.reg and immediate, and writes ModRM, SIB and displacement
 * for the host operand. Only legacy-encoded 32-bit-address forms with a
 * ModRM memory operand, no high-byte register (REX), no 0x67 and no
 * repeated prefix; everything else goes through the encoder.
 */
bool bt_ident_tmpl_make(const struct dec_insn *d, struct bt_ident_tmpl *tp)
{
    const ZydisDecodedInstruction *zi = &d->zi;
    if (zi->encoding != ZYDIS_INSTRUCTION_ENCODING_LEGACY || zi->address_width != 32 ||
        zi->machine_mode != ZYDIS_MACHINE_MODE_LEGACY_32 || !(zi->attributes & ZYDIS_ATTRIB_HAS_MODRM) ||
        zi->raw.modrm.mod == 3 || zi->mnemonic == ZYDIS_MNEMONIC_LEA || (d->cls & DEC_UNDEFINED) ||
        zi->mnemonic == ZYDIS_MNEMONIC_ENQCMD || zi->mnemonic == ZYDIS_MNEMONIC_ENQCMDS ||
        zi->mnemonic == ZYDIS_MNEMONIC_MOVDIR64B)
        return false; /* (their register operand is an address: the encoder refuses them, so does this) */
    unsigned opn;
    switch (zi->opcode_map) {
    case ZYDIS_OPCODE_MAP_DEFAULT: opn = 1; break;
    case ZYDIS_OPCODE_MAP_0F: opn = 2; break;
    case ZYDIS_OPCODE_MAP_0F38: case ZYDIS_OPCODE_MAP_0F3A: opn = 3; break;
    default: return false;
    }
    unsigned mo = zi->raw.modrm.offset;
    if (mo < opn)
        return false;
    unsigned po = mo - opn;
    if (zi->raw.prefix_count != po)
        return false;
    /* Kept where they mean something, as the encoder keeps them: 66 for
     * a 16-bit operand or as a mandatory prefix, F2/F3 as a mandatory
     * prefix or a REP/XACQUIRE/XRELEASE/BND, F0 for LOCK. */
    bool opsz = false, rep = false, lock = false;
    uint8_t kept[3] = { 0, 0, 0 };
    tp->npre = 0;
    for (unsigned i = 0; i < po; i++) {
        uint8_t p = d->bytes[i];
        bool mandatory = zi->raw.prefixes[i].type == ZYDIS_PREFIX_TYPE_MANDATORY, keep;
        switch (p) {
        case 0x26: case 0x2E: case 0x36: case 0x3E: case 0x64: case 0x65:
            continue; /* the address is computed without them (FS/GS bases added) */
        case 0x66:
            if (opsz)
                return false;
            opsz = true;
            if (zi->opcode_map == ZYDIS_OPCODE_MAP_DEFAULT && d->bytes[mo - 1] >= 0xD8 && d->bytes[mo - 1] <= 0xDF)
                return false; /* x87: 66 picks FNSTENV's and FNSAVE's 16-bit formats, else nothing */
            keep = mandatory || zi->operand_width == 16;
            break;
        case 0xF2: case 0xF3:
            if (rep)
                return false;
            rep = true;
            keep = mandatory || (zi->attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE |
                                                   ZYDIS_ATTRIB_HAS_REPNE | ZYDIS_ATTRIB_HAS_XACQUIRE |
                                                   ZYDIS_ATTRIB_HAS_XRELEASE | ZYDIS_ATTRIB_HAS_BND));
            break;
        case 0xF0:
            if (lock)
                return false;
            lock = true;
            keep = zi->attributes & ZYDIS_ATTRIB_HAS_LOCK;
            break;
        default:
            return false;
        }
        if (keep)
            kept[p == 0xF0 ? 0 : p == 0x66 ? 2 : 1] = p;
    }
    for (int i = 0; i < 3; i++) /* in the encoder's order: F0, F2/F3, 66 */
        if (kept[i])
            tp->pre[tp->npre++] = kept[i];
    /* Aliases the encoder writes in their main form: 82 (80's, #UD in
     * 64-bit mode), SAL as /6 of the shift group (SHL's /4), TEST as /1
     * of F6/F7 (/0). */
    uint8_t o0 = d->bytes[po], r = zi->raw.modrm.reg;
    if (zi->opcode_map == ZYDIS_OPCODE_MAP_DEFAULT &&
        (o0 == 0x82 || ((o0 == 0xC0 || o0 == 0xC1 || (o0 >= 0xD0 && o0 <= 0xD3)) && r == 6) ||
         ((o0 == 0xF6 || o0 == 0xF7) && r == 1)))
        return false;
    uint8_t o1 = opn > 1 ? d->bytes[po + 1] : 0;
    if (zi->opcode_map == ZYDIS_OPCODE_MAP_0F && (o1 == 0x0D || (o1 >= 0x18 && o1 <= 0x1F) ||
                                                  (o1 >= 0x90 && o1 <= 0x9F)))
        return false; /* hint NOPs, prefetches, SETcc: a reg field the CPU ignores, the encoder writes 0 */
    memcpy(tp->op, d->bytes + po, opn);
    tp->nop = (uint8_t)opn;
    tp->reg = zi->raw.modrm.reg;
    int nmem = 0;
    for (int i = 0; i < zi->operand_count; i++) {
        const ZydisDecodedOperand *op = &d->ops[i];
        if (op->type == ZYDIS_OPERAND_TYPE_MEMORY) {
            nmem++; /* hidden ones too: MOVDIR64B writes [EAX] */
            continue;
        }
        if (i >= zi->operand_count_visible)
            continue;
        if (op->type != ZYDIS_OPERAND_TYPE_REGISTER)
            continue;
        if (is_high_byte(op->reg.value))
            return false; /* no REX with AH..BH */
        ZydisRegister h = bt_map_reg(op->reg.value);
        if (h == op->reg.value)
            continue;
        if (op->encoding != ZYDIS_OPERAND_ENCODING_MODRM_REG)
            return false;
        tp->reg = (uint8_t)ZydisRegisterGetId(h); /* ESP → R12D: REX.R */
    }
    if (nmem != 1)
        return false;
    unsigned tail = mo + 1 + ((zi->attributes & ZYDIS_ATTRIB_HAS_SIB) ? 1u : 0u) + zi->raw.disp.size / 8u;
    if (tail > d->len || d->len - tail > sizeof(tp->imm) ||
        (d->len > tail && zi->raw.imm[0].offset != tail))
        return false;
    tp->nimm = (uint8_t)(d->len - tail);
    memcpy(tp->imm, d->bytes + tail, tp->nimm);
    return true;
}

void bt_ident_tmpl_emit(struct bt_emit *e, int b, const struct bt_ident_tmpl *tp, ZydisRegister base,
                        ZydisRegister index, uint8_t scale, int64_t disp)
{
    bool idx = index != ZYDIS_REGISTER_NONE;
    if (ZydisRegisterGetClass(base) != ZYDIS_REGCLASS_GPR64 ||
        (idx && (ZydisRegisterGetClass(index) != ZYDIS_REGCLASS_GPR64 || index == ZYDIS_REGISTER_RSP)) ||
        disp != (int32_t)disp || (idx && scale != 1 && scale != 2 && scale != 4 && scale != 8)) {
        bt_emit_fail(e, "IDENT template: no form for this memory operand");
        return;
    }
    unsigned bi = (unsigned)ZydisRegisterGetId(base), xi = idx ? (unsigned)ZydisRegisterGetId(index) : 4;
    uint8_t buf[16];
    unsigned n = tp->npre;
    memcpy(buf, tp->pre, n);
    uint8_t rex = (uint8_t)(0x40 | (tp->reg >> 3) << 2 | (xi >> 3) << 1 | bi >> 3);
    if (rex != 0x40)
        buf[n++] = rex;
    memcpy(buf + n, tp->op, tp->nop);
    n += tp->nop;
    bool sib = idx || (bi & 7) == 4;
    unsigned mod = disp == 0 && (bi & 7) != 5 ? 0 : disp == (int8_t)disp ? 1 : 2;
    buf[n++] = (uint8_t)(mod << 6 | (tp->reg & 7u) << 3 | (sib ? 4u : bi & 7));
    if (sib) {
        unsigned ss = !idx || scale == 1 ? 0 : scale == 2 ? 1 : scale == 4 ? 2 : 3;
        buf[n++] = (uint8_t)(ss << 6 | (xi & 7) << 3 | (bi & 7));
    }
    if (mod == 1)
        buf[n++] = (uint8_t)(int8_t)disp;
    else if (mod == 2) {
        int32_t d32 = (int32_t)disp;
        memcpy(buf + n, &d32, 4);
        n += 4;
    }
    memcpy(buf + n, tp->imm, tp->nimm);
    n += tp->nimm;
    bt_emit_bytes(e, b, buf, n);
}

bool bt_emit_ident(struct bt_tctx *t)
{
    const struct dec_insn *d = t->d;
    struct bt_emit *e = t->e;
    switch (d->zi.mnemonic) {
    case ZYDIS_MNEMONIC_NOP: case ZYDIS_MNEMONIC_PREFETCH: case ZYDIS_MNEMONIC_PREFETCHNTA:
    case ZYDIS_MNEMONIC_PREFETCHT0: case ZYDIS_MNEMONIC_PREFETCHT1: case ZYDIS_MNEMONIC_PREFETCHT2:
    case ZYDIS_MNEMONIC_PREFETCHW:
        return true; /* hints: no architectural effect */
    default:
        break;
    }
    if (bt_ident_copyable(t->key, d)) {
        bt_emit_bytes(e, BT_MAIN, d->bytes, d->len);
        return true;
    }
    ZydisEncoderRequest req;
    if (!ZYAN_SUCCESS(ZydisEncoderDecodedInstructionToEncoderRequest(
            &d->zi, d->ops, d->zi.operand_count_visible, &req)))
        return false;
    req.prefixes &= ~(ZydisInstructionAttributes)(ZYDIS_ATTRIB_HAS_SEGMENT_CS | ZYDIS_ATTRIB_HAS_SEGMENT_SS |
                      ZYDIS_ATTRIB_HAS_SEGMENT_DS | ZYDIS_ATTRIB_HAS_SEGMENT_ES |
                      ZYDIS_ATTRIB_HAS_SEGMENT_FS | ZYDIS_ATTRIB_HAS_SEGMENT_GS |
                      ZYDIS_ATTRIB_HAS_BND | ZYDIS_ATTRIB_HAS_NOTRACK);
    req.address_size_hint = ZYDIS_ADDRESS_SIZE_HINT_NONE;

    /* DIV/IDIV by a register: test for zero inline and raise #DE through a
     * callout (a host SIGFPE costs tens of microseconds). The flags are
     * live here (flags_needed() in bt/translate.c: #DE pushes them as they
     * were), so the TEST runs between a save and a restore. Other divide
     * errors (quotient overflow, memory divisors) still reach the host as
     * SIGFPE and are mapped back (bt/engine.c). */
    if ((d->zi.mnemonic == ZYDIS_MNEMONIC_DIV || d->zi.mnemonic == ZYDIS_MNEMONIC_IDIV) &&
        d->ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER && !is_high_byte(d->ops[0].reg.value)) {
        ZydisRegister r = bt_map_reg(d->ops[0].reg.value);
        int de = bt_label(e), back = bt_label(e);
        bool keep = t->live_in != 0;
        if (keep)
            bt_emit_flags_save(t, BT_MAIN);
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_TEST, 2, bt_r(r), bt_r(r));
        bt_jcc_near(e, BT_MAIN, ZYDIS_MNEMONIC_JZ, de);
        if (keep)
            bt_emit_flags_restore(t, BT_MAIN);
        bt_bind(e, BT_MAIN, back);
        bt_bind(e, BT_OOL, de);
        if (keep)
            bt_emit_flags_restore(t, BT_OOL);
        bt_emit_callout(t, BT_OOL, cpu_co_divide_error);
        bt_jmp_near(e, BT_OOL, back); /* not reached: the callout always exits */
    }
    int mi = -1, hb = -1;
    bool is_lea = d->zi.mnemonic == ZYDIS_MNEMONIC_LEA;
    for (int i = 0; i < d->zi.operand_count_visible; i++) {
        const ZydisDecodedOperand *op = &d->ops[i];
        if (op->type == ZYDIS_OPERAND_TYPE_REGISTER) {
            if (is_high_byte(op->reg.value))
                hb = i;
            req.operands[i].reg.value = bt_map_reg(op->reg.value);
        } else if (op->type == ZYDIS_OPERAND_TYPE_MEMORY) {
            if (is_lea) {
                if (d->zi.address_width == 16) {
                    /* 16-bit addressing has no 64-bit encoding: compute it. */
                    bt_emit_offset(t, op, BT_R_ADDR_32);
                    ZydisRegister dst = bt_map_reg(d->ops[0].reg.value);
                    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(dst),
                           bt_r(d->zi.operand_width == 16 ? BT_R_ADDR_16 : BT_R_ADDR_32));
                    return true;
                }
                if (op->mem.base == ZYDIS_REGISTER_NONE && op->mem.index == ZYDIS_REGISTER_NONE) {
                    /* [disp32] would be RIP-relative in 64-bit mode; Zydis
                     * wants a 16-bit immediate in the signed range. */
                    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(bt_map_reg(d->ops[0].reg.value)),
                           bt_i(d->zi.operand_width == 16 ? (int16_t)(uint16_t)op->mem.disp.value
                                                          : (int32_t)(uint32_t)op->mem.disp.value));
                    return true;
                }
                req.operands[i].mem.base = bt_map_reg(op->mem.base);
                req.operands[i].mem.index = bt_map_reg(op->mem.index);
            } else {
                mi = i;
            }
        }
    }
    bool esp_used = false;
    for (int i = 0; i < d->zi.operand_count_visible; i++)
        if (d->ops[i].type == ZYDIS_OPERAND_TYPE_REGISTER && bt_map_reg(d->ops[i].reg.value) != d->ops[i].reg.value)
            esp_used = true;
    if (mi < 0 && !(hb >= 0 && esp_used)) {
        bt_enc(e, BT_MAIN, &req);
        return true;
    }
    if (mi < 0) {
        /* AH..BH next to R12 (guest ESP): both need their own encodings. */
        ZydisRegister parent = high_parent(d->ops[hb].reg.value);
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_RORX, 3, bt_r(BT_R_KEEP), bt_r(parent), bt_i(8));
        req.operands[hb].reg.value = BT_R_KEEP_8;
        bt_enc(e, BT_MAIN, &req);
        if (d->ops[hb].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) {
            bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_RORX, 3, bt_r(BT_R_KEEP), bt_r(BT_R_KEEP), bt_i(56));
            bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(parent), bt_r(BT_R_KEEP));
        }
        return true;
    }

    const ZydisDecodedOperand *mop = &d->ops[mi];
    unsigned size = mop->size / 8;
    bool rd = mop->actions & ZYDIS_OPERAND_ACTION_MASK_READ;
    bool wr = mop->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE;
    if (!t->direct_mem)
        bt_emit_ea(t, mop, BT_R_ADDR_32, size, wr);

    ZydisMnemonic m = d->zi.mnemonic;
    bool req_changed = false; /* an operand is no longer the guest's: no template */
    if ((m == ZYDIS_MNEMONIC_BT || m == ZYDIS_MNEMONIC_BTS || m == ZYDIS_MNEMONIC_BTR ||
         m == ZYDIS_MNEMONIC_BTC) && d->ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER) {
        req_changed = true;
        ZydisRegister off = bt_map_reg(d->ops[1].reg.value);
        bool w16 = size == 2;
        ZydisRegister off32 = ZydisRegisterEncode(ZYDIS_REGCLASS_GPR32, ZydisRegisterGetId(off));
        if (w16)
            bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOVSX, 2, bt_r(BT_R_KEEP_32), bt_r(off));
        else
            bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_KEEP_32), bt_r(off32));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP1_32), bt_i(w16 ? 4 : 5));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_SARX, 3, bt_r(BT_R_KEEP_32), bt_r(BT_R_KEEP_32), bt_r(BT_R_TMP1_32));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, bt_r(BT_R_ADDR_32),
               bt_m(BT_R_ADDR, BT_R_KEEP, w16 ? 2 : 4, 0, 0));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP1_32), bt_i(w16 ? 15 : 31));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_PEXT, 3, bt_r(BT_R_KEEP_32), bt_r(off32), bt_r(BT_R_TMP1_32));
        req.operands[1].reg.value = w16 ? BT_R_KEEP_16 : BT_R_KEEP_32;
    }

    ZydisRegister parent = ZYDIS_REGISTER_NONE;
    bool hb_written = false;
    if (hb >= 0) {
        parent = high_parent(d->ops[hb].reg.value);
        hb_written = d->ops[hb].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE;
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_RORX, 3, bt_r(BT_R_KEEP), bt_r(parent), bt_i(8));
        req.operands[hb].reg.value = BT_R_KEEP_8;
    }

    struct bt_ident_tmpl tmpl;
    bool templ = hb < 0 && !req_changed && bt_ident_tmpl_make(d, &tmpl);
    if (t->direct_mem) {
        req.operands[mi] = bt_direct_mem(t, mop, req.operands[mi].mem.size);
        if (templ)
            bt_emit_access_insn(t, BT_MAIN, &req, mi, &tmpl);
        else
            bt_enc(e, BT_MAIN, &req);
    } else {
        req.operands[mi].mem.base = BT_R_ADDR;
        req.operands[mi].mem.index = BT_R_ENTRY;
        req.operands[mi].mem.scale = 1;
        req.operands[mi].mem.displacement = 0;
        t->mem_last_act = !hb_written;
        t->tmpl = templ ? &tmpl : NULL;
        bt_emit_mem_op(t, &req, size, rd, wr);
        t->tmpl = NULL;
        t->mem_last_act = false;
    }

    if (hb_written) {
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_RORX, 3, bt_r(BT_R_KEEP), bt_r(BT_R_KEEP), bt_i(56));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(parent), bt_r(BT_R_KEEP));
    }
    return true;
}
