/*
 * vm/gdb_watch.c — an instruction's data accesses (see gdb_watch.h).
 *
 * Zydis lists implicit operands too: the stack slot of PUSH/POP/CALL/RET
 * is a hidden memory operand "SS:[ESP]" of the access's size, which for a
 * write (a push) really lies below ESP; string operands are "ES:[EDI]" and
 * "DS:[ESI]" of one element, repeated ECX times under REP, downwards when
 * EFLAGS.DF is set.
 */
#include "vm/gdb_watch.h"

#include "cpu/callout.h"
#include "cpu/cpu.h"

static uint32_t reg_value(const struct cpu *c, ZydisRegister r)
{
    if (r == ZYDIS_REGISTER_NONE)
        return 0;
    switch (ZydisRegisterGetClass(r)) {
    case ZYDIS_REGCLASS_GPR32:
        return c->regs[ZydisRegisterGetId(r) & 7];
    case ZYDIS_REGCLASS_GPR16:
        return c->regs[ZydisRegisterGetId(r) & 7] & 0xFFFFu;
    default:
        return 0;
    }
}

/* The segment an operand names (none: DS). */
static int seg_index(ZydisRegister s)
{
    int i = cpu_seg_of(s);
    return i < 0 ? CPU_DS : i;
}

int vm_gdb_insn_accesses(const struct cpu *c, const struct dec_insn *d, struct vm_gdb_access *out,
                         int max)
{
    int n = 0;
    bool stack16 = !(c->segs[CPU_SS].flags & CPU_SEGF_DB);
    bool rep = d->zi.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE);
    bool string = d->cls & DEC_STRING;
    for (int i = 0; i < d->zi.operand_count && n < max; i++) {
        const ZydisDecodedOperand *op = &d->ops[i];
        if (op->type != ZYDIS_OPERAND_TYPE_MEMORY || op->mem.type != ZYDIS_MEMOP_TYPE_MEM)
            continue;
        bool rd = op->actions & ZYDIS_OPERAND_ACTION_MASK_READ;
        bool wr = op->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE;
        if (!rd && !wr)
            continue;
        uint32_t size = op->size / 8 ? op->size / 8 : 1;
        uint32_t ea = reg_value(c, op->mem.base) + reg_value(c, op->mem.index) * (op->mem.scale ? op->mem.scale : 1) +
                      (uint32_t)op->mem.disp.value;
        if (d->zi.mnemonic == ZYDIS_MNEMONIC_XLAT)
            ea += c->regs[CPU_EAX] & 0xFF;
        bool asz16 = d->zi.address_width == 16;
        bool implicit_stack = op->visibility == ZYDIS_OPERAND_VISIBILITY_HIDDEN &&
                              (op->mem.base == ZYDIS_REGISTER_ESP || op->mem.base == ZYDIS_REGISTER_SP);
        if (implicit_stack) {
            asz16 = stack16;
            if (wr && !rd)
                ea -= size; /* a push writes below ESP */
        }
        uint32_t len = size;
        if (string && rep) {
            uint32_t count = asz16 ? c->regs[CPU_ECX] & 0xFFFFu : c->regs[CPU_ECX];
            if (count == 0)
                continue;
            /* More than 1 MiB of iterations is clipped: the watch is then approximate. */
            if (count > (1u << 20) / size)
                count = (1u << 20) / size;
            len = count * size;
            if (c->eflags & CPU_FL_DF)
                ea -= len - size;
        }
        if (asz16)
            ea &= 0xFFFFu;
        out[n].lin = c->seg_base[seg_index(op->mem.segment)] + ea;
        out[n].len = len;
        out[n].read = rd;
        out[n].write = wr;
        n++;
    }
    return n;
}
