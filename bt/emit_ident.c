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
        d->ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER && !bt_is_high_byte(d->ops[0].reg.value)) {
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
            if (bt_is_high_byte(op->reg.value))
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
        bt_emit_access_insn(t, BT_MAIN, &req, mi, templ ? &tmpl : NULL);
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
