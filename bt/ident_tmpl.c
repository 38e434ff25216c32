/*
 * bt/ident_tmpl.c — IDENT instructions with a memory operand as host bytes
 * from a template of the guest's own (docs/translation.md §3).
 *
 * Below emit_mem.c in bt/bt.h's layer list: the memory paths there emit
 * the access instruction from the template that emit_ident.c makes.
 */
#include "bt/translate.h"

#include <string.h>

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
        return false; /* (never IDENT: their register operand is an address, decoder/classify.c) */
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
        if (bt_is_high_byte(op->reg.value))
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

bool bt_ident_tmpl_emit(struct bt_emit *e, int b, const struct bt_ident_tmpl *tp, ZydisRegister base,
                        ZydisRegister index, uint8_t scale, int64_t disp)
{
    bool idx = index != ZYDIS_REGISTER_NONE;
    if (ZydisRegisterGetClass(base) != ZYDIS_REGCLASS_GPR64 ||
        (idx && (ZydisRegisterGetClass(index) != ZYDIS_REGCLASS_GPR64 || index == ZYDIS_REGISTER_RSP)) ||
        disp != (int32_t)disp || (idx && scale != 1 && scale != 2 && scale != 4 && scale != 8))
        return false;
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
    return true;
}
