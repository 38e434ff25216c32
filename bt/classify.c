/*
 * bt/classify.c — which emitter handles a guest instruction.
 *
 * Why a file of its own: block formation (translate.c: flag liveness, the
 * emitter to call) and the group planner (groups.c) ask the same question
 * of every decoded instruction; the answer depends only on the decoder's
 * classes and the mnemonic, not on any emitter, so it sits below them all.
 */
#include "bt/translate.h"

static bool is_legacy(ZydisMnemonic m)
{
    switch (m) {
    case ZYDIS_MNEMONIC_AAA: case ZYDIS_MNEMONIC_AAD: case ZYDIS_MNEMONIC_AAM:
    case ZYDIS_MNEMONIC_AAS: case ZYDIS_MNEMONIC_DAA: case ZYDIS_MNEMONIC_DAS:
    case ZYDIS_MNEMONIC_BOUND: case ZYDIS_MNEMONIC_ARPL: case ZYDIS_MNEMONIC_PUSHA:
    case ZYDIS_MNEMONIC_PUSHAD: case ZYDIS_MNEMONIC_POPA: case ZYDIS_MNEMONIC_POPAD:
    case ZYDIS_MNEMONIC_SALC: case ZYDIS_MNEMONIC_XLAT: case ZYDIS_MNEMONIC_INTO:
    case ZYDIS_MNEMONIC_CPUID: case ZYDIS_MNEMONIC_PUSHFD: case ZYDIS_MNEMONIC_PUSHF:
    case ZYDIS_MNEMONIC_POPFD: case ZYDIS_MNEMONIC_POPF: case ZYDIS_MNEMONIC_MASKMOVQ:
    case ZYDIS_MNEMONIC_MASKMOVDQU: case ZYDIS_MNEMONIC_LDS: case ZYDIS_MNEMONIC_LES:
    case ZYDIS_MNEMONIC_LFS: case ZYDIS_MNEMONIC_LGS: case ZYDIS_MNEMONIC_LSS:
    case ZYDIS_MNEMONIC_UD0: case ZYDIS_MNEMONIC_UD1: case ZYDIS_MNEMONIC_UD2:
        return true;
    default:
        return false;
    }
}

static bool has_visible_mem(const struct dec_insn *d)
{
    for (int i = 0; i < d->zi.operand_count_visible; i++)
        if (d->ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY && d->zi.mnemonic != ZYDIS_MNEMONIC_LEA)
            return true;
    return false;
}

enum bt_emit_kind bt_emit_kind(const struct dec_insn *d)
{
    if (d->cls & DEC_UNDEFINED)
        return BT_EMIT_CALLOUT;
    if (d->zi.mnemonic == ZYDIS_MNEMONIC_RDTSC)
        return BT_EMIT_IDENT; /* host TSC is the guest's (docs/cpuid.md) */
    if (d->cls & DEC_CONTROL)
        return BT_EMIT_CONTROL;
    if (d->cls & DEC_STACK)
        return BT_EMIT_STACK;
    if (bt_is_inline_string(d))
        return BT_EMIT_IDENT; /* emit_string.c: plain memory accesses */
    if ((d->cls & DEC_INNOCUOUS) && !(d->cls & (DEC_STRING | DEC_PORTIO)) && !is_legacy(d->zi.mnemonic) &&
        (!(d->cls & DEC_MEMORY) || has_visible_mem(d)))
        return BT_EMIT_IDENT;
    return BT_EMIT_CALLOUT;
}

/* LODS/STOS/SCAS/MOVS/CMPS without REP, inlined by emit_string.c. */
bool bt_is_inline_string(const struct dec_insn *d)
{
    switch (d->zi.mnemonic) {
    case ZYDIS_MNEMONIC_LODSB: case ZYDIS_MNEMONIC_LODSW: case ZYDIS_MNEMONIC_LODSD:
    case ZYDIS_MNEMONIC_STOSB: case ZYDIS_MNEMONIC_STOSW: case ZYDIS_MNEMONIC_STOSD:
    case ZYDIS_MNEMONIC_SCASB: case ZYDIS_MNEMONIC_SCASW: case ZYDIS_MNEMONIC_SCASD:
    case ZYDIS_MNEMONIC_MOVSB: case ZYDIS_MNEMONIC_MOVSW: case ZYDIS_MNEMONIC_MOVSD:
    case ZYDIS_MNEMONIC_CMPSB: case ZYDIS_MNEMONIC_CMPSW: case ZYDIS_MNEMONIC_CMPSD:
        break;
    default:
        return false;
    }
    if (d->zi.address_width != 32 || (d->cls & DEC_UNDEFINED))
        return false;
    if (d->zi.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE))
        return false;
    /* MOVSD/CMPSD also name SSE2 instructions: only the one-byte string
     * opcodes (A4-A7, AA-AF) here. */
    return d->zi.opcode_map == ZYDIS_OPCODE_MAP_DEFAULT &&
           ((d->zi.opcode >= 0xA4 && d->zi.opcode <= 0xA7) ||
            (d->zi.opcode >= 0xAA && d->zi.opcode <= 0xAF));
}

bool bt_is_jcc(ZydisMnemonic m)
{
    switch (m) {
    case ZYDIS_MNEMONIC_JB: case ZYDIS_MNEMONIC_JBE: case ZYDIS_MNEMONIC_JL:
    case ZYDIS_MNEMONIC_JLE: case ZYDIS_MNEMONIC_JNB: case ZYDIS_MNEMONIC_JNBE:
    case ZYDIS_MNEMONIC_JNL: case ZYDIS_MNEMONIC_JNLE: case ZYDIS_MNEMONIC_JNO:
    case ZYDIS_MNEMONIC_JNP: case ZYDIS_MNEMONIC_JNS: case ZYDIS_MNEMONIC_JNZ:
    case ZYDIS_MNEMONIC_JO: case ZYDIS_MNEMONIC_JP: case ZYDIS_MNEMONIC_JS:
    case ZYDIS_MNEMONIC_JZ:
        return true;
    default:
        return false;
    }
}
