/*
 * cpu/callout.c — cpu_callout_for(): which C function serves a decoded
 * instruction the translator does not emit inline, plus what every callout
 * shares: cpu_ea(), guest register and operand access by Zydis register,
 * guest memory and stack access returning fault codes (cpu/internal.h), and
 * the #UD / "not supported yet" callouts.
 *
 * Dispatch is by Zydis mnemonic; where one mnemonic covers several things
 * (MOV to a control register vs. a segment register, near vs. far JMP,
 * string MOVSD vs. SSE MOVSD) the operands or category decide.
 */
#include "cpu/internal.h"
#include "cpu/flags.h"

#include <stdio.h>
#include <string.h>
#include "shadowmmu/smmu.h"

/* ---- results ---------------------------------------------------------- */

bool cpu_vec_has_error(int vec)
{
    /* SDM vol. 3, table 6-1: #DF #TS #NP #SS #GP #PF #AC push an error code. */
    return vec == CPU_VEC_DF || (vec >= CPU_VEC_TS && vec <= CPU_VEC_PF) || vec == CPU_VEC_AC;
}

int co_fault(struct cpu *c, const struct dec_insn *d, int fault)
{
    if (fault == CPU_FAULT_STOP)
        return CPU_CO_STOP;
    int vec = CPU_FAULT_VEC(fault);
    cpu_raise(c, vec, cpu_vec_has_error(vec), CPU_FAULT_ERR(fault));
    c->eip = d->eip; /* faults restart the instruction */
    return CPU_CO_EXIT;
}

int fault_stop(struct cpu *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->unsupported, sizeof(c->unsupported), fmt, ap);
    va_end(ap);
    return CPU_FAULT_STOP;
}

int co_stop(struct cpu *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->unsupported, sizeof(c->unsupported), fmt, ap);
    va_end(ap);
    return CPU_CO_STOP;
}

int co_stop_mnemonic(struct cpu *c, const struct dec_insn *d)
{
    return co_stop(c, "%s not supported yet (eip %08x)", ZydisMnemonicGetString(d->zi.mnemonic),
                   d->eip);
}

int cpu_co_unsupported(struct cpu *c, const struct dec_insn *d)
{
    return co_stop_mnemonic(c, d);
}

/* Invalid encodings, UD0/UD1/UD2: #UD (SDM vol. 3, 6.15 interrupt 6). */
int cpu_co_ud(struct cpu *c, const struct dec_insn *d)
{
    return co_fault(c, d, CPU_FAULT(CPU_VEC_UD, 0));
}

/* ---- registers and operands ------------------------------------------ */

uint32_t cpu_get_reg(const struct cpu *c, ZydisRegister r)
{
    if (r >= ZYDIS_REGISTER_EAX && r <= ZYDIS_REGISTER_EDI)
        return c->regs[r - ZYDIS_REGISTER_EAX];
    if (r >= ZYDIS_REGISTER_AX && r <= ZYDIS_REGISTER_DI)
        return c->regs[r - ZYDIS_REGISTER_AX] & 0xFFFF;
    if (r >= ZYDIS_REGISTER_AL && r <= ZYDIS_REGISTER_BL)
        return c->regs[r - ZYDIS_REGISTER_AL] & 0xFF;
    if (r >= ZYDIS_REGISTER_AH && r <= ZYDIS_REGISTER_BH)
        return (c->regs[r - ZYDIS_REGISTER_AH] >> 8) & 0xFF;
    int s = cpu_seg_of(r);
    if (s >= 0)
        return c->segs[s].sel;
    return 0;
}

void cpu_set_reg(struct cpu *c, ZydisRegister r, uint32_t v)
{
    if (r >= ZYDIS_REGISTER_EAX && r <= ZYDIS_REGISTER_EDI) {
        c->regs[r - ZYDIS_REGISTER_EAX] = v;
    } else if (r >= ZYDIS_REGISTER_AX && r <= ZYDIS_REGISTER_DI) {
        uint32_t *p = &c->regs[r - ZYDIS_REGISTER_AX];
        *p = (*p & 0xFFFF0000u) | (v & 0xFFFF);
    } else if (r >= ZYDIS_REGISTER_AL && r <= ZYDIS_REGISTER_BL) {
        uint32_t *p = &c->regs[r - ZYDIS_REGISTER_AL];
        *p = (*p & 0xFFFFFF00u) | (v & 0xFF);
    } else if (r >= ZYDIS_REGISTER_AH && r <= ZYDIS_REGISTER_BH) {
        uint32_t *p = &c->regs[r - ZYDIS_REGISTER_AH];
        *p = (*p & 0xFFFF00FFu) | ((v & 0xFF) << 8);
    }
}

int cpu_seg_of(ZydisRegister r)
{
    switch (r) {
    case ZYDIS_REGISTER_ES: return CPU_ES;
    case ZYDIS_REGISTER_CS: return CPU_CS;
    case ZYDIS_REGISTER_SS: return CPU_SS;
    case ZYDIS_REGISTER_DS: return CPU_DS;
    case ZYDIS_REGISTER_FS: return CPU_FS;
    case ZYDIS_REGISTER_GS: return CPU_GS;
    default: return -1;
    }
}

uint32_t cpu_ea(const struct cpu *c, const struct dec_insn *d, const ZydisDecodedOperand *op)
{
    uint32_t ea = (uint32_t)op->mem.disp.value;
    if (op->mem.base != ZYDIS_REGISTER_NONE)
        ea += cpu_get_reg(c, op->mem.base);
    if (op->mem.index != ZYDIS_REGISTER_NONE)
        ea += cpu_get_reg(c, op->mem.index) * (op->mem.scale ? op->mem.scale : 1);
    if (d->zi.address_width == 16)
        ea &= 0xFFFF;
    int s = cpu_seg_of(op->mem.segment);
    return ea + (s >= 0 ? c->seg_base[s] : 0);
}

/* Paging faults set CR2 here: every caller raises the fault it gets. */
static int mem_fault(struct cpu *c, int v)
{
    if (v == CPU_VEC_PF) {
        c->cr2 = c->mmu->pf_addr;
        return CPU_FAULT(CPU_VEC_PF, c->mmu->pf_err);
    }
    return v ? CPU_FAULT(v, 0) : 0;
}

/* The shadow entry the translated code would use, if the access stays in
 * its page: a read or write entry always means plain RAM the access may
 * touch directly (traced and code pages never get write entries). */
static inline uint8_t *direct(struct cpu *c, uint32_t lin, unsigned len, unsigned acc)
{
    if ((lin & 0xFFF) + len > 0x1000)
        return NULL;
    uint64_t e = c->mmu->tlb[(size_t)smmu_table_for(acc) * SMMU_TLB_ENTRIES + (lin >> 12)];
    return e ? (uint8_t *)(uintptr_t)(e + lin) : NULL;
}

int cpu_mem_read(struct cpu *c, uint32_t lin, void *buf, unsigned len)
{
    unsigned acc = smmu_acc(c->mmu, false);
    uint8_t *h = direct(c, lin, len, acc);
    if (h) {
        smmu_copy_small(buf, h, len);
        return 0;
    }
    return mem_fault(c, smmu_read(c->mmu, lin, buf, len, acc));
}

int cpu_mem_write(struct cpu *c, uint32_t lin, const void *buf, unsigned len)
{
    unsigned acc = smmu_acc(c->mmu, true);
    uint8_t *h = direct(c, lin, len, acc);
    if (h) {
        smmu_copy_small(h, buf, len);
        return 0;
    }
    return mem_fault(c, smmu_write(c->mmu, lin, buf, len, acc));
}

/* Implicit supervisor accesses (descriptor tables, TSS, inner stacks): the
 * U/S check is the supervisor's whatever the CPL (SDM vol. 3, 4.6). */
int cpu_sys_read(struct cpu *c, uint32_t lin, void *buf, unsigned len)
{
    c->sys_access++;
    int f = cpu_mem_read(c, lin, buf, len);
    c->sys_access--;
    return f;
}

int cpu_sys_write(struct cpu *c, uint32_t lin, const void *buf, unsigned len)
{
    c->sys_access++;
    int f = cpu_mem_write(c, lin, buf, len);
    c->sys_access--;
    return f;
}

int cpu_read_op(struct cpu *c, const struct dec_insn *d, const ZydisDecodedOperand *op, uint32_t *v)
{
    switch (op->type) {
    case ZYDIS_OPERAND_TYPE_REGISTER:
        *v = cpu_get_reg(c, op->reg.value);
        return 0;
    case ZYDIS_OPERAND_TYPE_IMMEDIATE:
        *v = (uint32_t)op->imm.value.u;
        return 0;
    case ZYDIS_OPERAND_TYPE_MEMORY: {
        unsigned n = op->size / 8;
        *v = 0;
        return cpu_mem_read(c, cpu_ea(c, d, op), v, n > 4 ? 4 : n);
    }
    default:
        *v = 0;
        return 0;
    }
}

/* MOV m, r/imm as one callout: bt/ retranslates stores that keep writing
 * traced page tables this way (adaptive translation), skipping the failed
 * inline check and the bounce buffer. Flat segments only (bt/ checks). */
int cpu_co_mov_store(struct cpu *c, const struct dec_insn *d)
{
    uint32_t v;
    int f = cpu_read_op(c, d, &d->ops[1], &v);
    if (!f)
        f = cpu_write_op(c, d, &d->ops[0], v);
    return f ? co_fault(c, d, f) : CPU_CO_CONTINUE;
}

/* The read-modify-write forms of such a site as one callout: XCHG m, r
 * (either order) and OR/AND/XOR/ADD/SUB m, r/imm, 8 to 32 bits (Linux
 * clears PTEs with XCHG; cpu_rmw_store_ok says which). Everything is read
 * and checked before anything is written; the flags are those of the
 * instruction (the logic ops clear CF, OF and AF). */
bool cpu_rmw_store_ok(const struct dec_insn *d)
{
    ZydisMnemonic m = d->zi.mnemonic;
    if (m != ZYDIS_MNEMONIC_XCHG && m != ZYDIS_MNEMONIC_OR && m != ZYDIS_MNEMONIC_AND &&
        m != ZYDIS_MNEMONIC_XOR && m != ZYDIS_MNEMONIC_ADD && m != ZYDIS_MNEMONIC_SUB)
        return false;
    int mi = d->ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY ? 0 : 1;
    if (d->ops[mi].type != ZYDIS_OPERAND_TYPE_MEMORY || (mi == 1 && m != ZYDIS_MNEMONIC_XCHG))
        return false;
    const ZydisDecodedOperand *o = &d->ops[1 - mi];
    return d->ops[mi].size <= 32 && (o->type == ZYDIS_OPERAND_TYPE_IMMEDIATE ||
                                     (o->type == ZYDIS_OPERAND_TYPE_REGISTER &&
                                      (ZydisRegisterGetClass(o->reg.value) == ZYDIS_REGCLASS_GPR32 ||
                                       ZydisRegisterGetClass(o->reg.value) == ZYDIS_REGCLASS_GPR16 ||
                                       ZydisRegisterGetClass(o->reg.value) == ZYDIS_REGCLASS_GPR8)));
}

int cpu_co_rmw_store(struct cpu *c, const struct dec_insn *d)
{
    int mi = d->ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY ? 0 : 1;
    const ZydisDecodedOperand *mem = &d->ops[mi], *src = &d->ops[1 - mi];
    unsigned bits = mem->size, n = bits / 8;
    uint32_t mask = bits == 32 ? 0xFFFFFFFFu : (1u << bits) - 1, old = 0, v, r, fl = 0;
    uint32_t lin = cpu_ea(c, d, mem); /* once: the read and the write share it */
    int f = cpu_mem_read(c, lin, &old, n);
    if (!f)
        f = cpu_read_op(c, d, src, &v);
    if (f)
        return co_fault(c, d, f);
    v &= mask;
    switch (d->zi.mnemonic) {
    case ZYDIS_MNEMONIC_XCHG: r = v; break;
    case ZYDIS_MNEMONIC_OR: r = old | v; fl = cpu_flags_szp(r, bits); break;
    case ZYDIS_MNEMONIC_AND: r = old & v; fl = cpu_flags_szp(r, bits); break;
    case ZYDIS_MNEMONIC_XOR: r = old ^ v; fl = cpu_flags_szp(r, bits); break;
    case ZYDIS_MNEMONIC_ADD: r = (old + v) & mask; fl = cpu_flags_add(old, v, bits); break;
    case ZYDIS_MNEMONIC_SUB: r = (old - v) & mask; fl = cpu_flags_sub(old, v, bits); break;
    default: return co_fault(c, d, CPU_FAULT(CPU_VEC_UD, 0));
    }
    f = cpu_mem_write(c, lin, &r, n);
    if (f)
        return co_fault(c, d, f);
    if (d->zi.mnemonic == ZYDIS_MNEMONIC_XCHG)
        cpu_write_op(c, d, src, old);
    else
        c->eflags = (c->eflags & ~(uint32_t)CPU_FL_ARITH) | fl;
    return CPU_CO_CONTINUE;
}

int cpu_write_op(struct cpu *c, const struct dec_insn *d, const ZydisDecodedOperand *op, uint32_t v)
{
    if (op->type == ZYDIS_OPERAND_TYPE_REGISTER) {
        cpu_set_reg(c, op->reg.value, v);
        return 0;
    }
    unsigned n = op->size / 8;
    return cpu_mem_write(c, cpu_ea(c, d, op), &v, n > 4 ? 4 : n);
}

/* ---- stack ------------------------------------------------------------ */

uint32_t cpu_stack_mask(const struct cpu *c)
{
    return SEGF_DB(c->segs[CPU_SS].flags) ? 0xFFFFFFFFu : 0xFFFFu;
}

int cpu_push(struct cpu *c, uint32_t *esp, uint32_t v, unsigned bytes)
{
    uint32_t m = cpu_stack_mask(c);
    uint32_t n = (*esp & ~m) | ((*esp - bytes) & m);
    int f = cpu_mem_write(c, c->seg_base[CPU_SS] + (n & m), &v, bytes);
    if (f)
        return f;
    *esp = n;
    return 0;
}

int cpu_pop(struct cpu *c, uint32_t *esp, uint32_t *v, unsigned bytes)
{
    uint32_t m = cpu_stack_mask(c);
    *v = 0;
    int f = cpu_mem_read(c, c->seg_base[CPU_SS] + (*esp & m), v, bytes);
    if (f)
        return f;
    *esp = (*esp & ~m) | ((*esp + bytes) & m);
    return 0;
}

void cpu_commit_esp(struct cpu *c, uint32_t esp)
{
    c->regs[CPU_ESP] = esp;
}

/* ---- dispatch --------------------------------------------------------- */

static bool is_string(const struct dec_insn *d)
{
    return d->zi.meta.category == ZYDIS_CATEGORY_STRINGOP;
}

static bool has_regclass(const struct dec_insn *d, ZydisRegisterClass cls, int opi)
{
    const ZydisDecodedOperand *op = &d->ops[opi];
    return op->type == ZYDIS_OPERAND_TYPE_REGISTER && ZydisRegisterGetClass(op->reg.value) == cls;
}

cpu_callout_fn cpu_callout_for(const struct dec_insn *d)
{
    if (d->cls & DEC_UNDEFINED)
        return cpu_co_ud;
    bool far = d->zi.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR;

    switch (d->zi.mnemonic) {
    case ZYDIS_MNEMONIC_UD0: case ZYDIS_MNEMONIC_UD1: case ZYDIS_MNEMONIC_UD2:
        return cpu_co_ud;
    /* CPUID.(EAX=7,ECX=0):ECX bits 28 and 29 are clear (cpu_cpuid): #UD,
     * as on a CPU without MOVDIR64B and ENQCMD (SDM). */
    case ZYDIS_MNEMONIC_MOVDIR64B: case ZYDIS_MNEMONIC_ENQCMD: case ZYDIS_MNEMONIC_ENQCMDS:
        return cpu_co_ud;

    /* string.c */
    case ZYDIS_MNEMONIC_MOVSB: case ZYDIS_MNEMONIC_MOVSW: case ZYDIS_MNEMONIC_MOVSD:
        return is_string(d) ? cpu_co_movs : NULL;
    case ZYDIS_MNEMONIC_CMPSB: case ZYDIS_MNEMONIC_CMPSW: case ZYDIS_MNEMONIC_CMPSD:
        return is_string(d) ? cpu_co_cmps : NULL;
    case ZYDIS_MNEMONIC_STOSB: case ZYDIS_MNEMONIC_STOSW: case ZYDIS_MNEMONIC_STOSD:
        return cpu_co_stos;
    case ZYDIS_MNEMONIC_LODSB: case ZYDIS_MNEMONIC_LODSW: case ZYDIS_MNEMONIC_LODSD:
        return cpu_co_lods;
    case ZYDIS_MNEMONIC_SCASB: case ZYDIS_MNEMONIC_SCASW: case ZYDIS_MNEMONIC_SCASD:
        return cpu_co_scas;
    case ZYDIS_MNEMONIC_INSB: case ZYDIS_MNEMONIC_INSW: case ZYDIS_MNEMONIC_INSD:
        return cpu_co_ins;
    case ZYDIS_MNEMONIC_OUTSB: case ZYDIS_MNEMONIC_OUTSW: case ZYDIS_MNEMONIC_OUTSD:
        return cpu_co_outs;

    /* portio.c */
    case ZYDIS_MNEMONIC_IN: return cpu_co_in;
    case ZYDIS_MNEMONIC_OUT: return cpu_co_out;

    /* sysinsn.c */
    case ZYDIS_MNEMONIC_HLT: return cpu_co_hlt;
    case ZYDIS_MNEMONIC_CLI: return cpu_co_cli;
    case ZYDIS_MNEMONIC_STI: return cpu_co_sti;
    case ZYDIS_MNEMONIC_PUSHF: case ZYDIS_MNEMONIC_PUSHFD: return cpu_co_pushf;
    case ZYDIS_MNEMONIC_POPF: case ZYDIS_MNEMONIC_POPFD: return cpu_co_popf;
    case ZYDIS_MNEMONIC_CPUID: return cpu_co_cpuid;
    case ZYDIS_MNEMONIC_RDTSC: return cpu_co_rdtsc;
    case ZYDIS_MNEMONIC_RDMSR: return cpu_co_rdmsr;
    case ZYDIS_MNEMONIC_WRMSR: return cpu_co_wrmsr;
    case ZYDIS_MNEMONIC_RDPMC: return cpu_co_rdpmc;
    case ZYDIS_MNEMONIC_SYSENTER: return cpu_co_sysenter;
    case ZYDIS_MNEMONIC_SYSEXIT: return cpu_co_sysexit;
    case ZYDIS_MNEMONIC_INVLPG: return cpu_co_invlpg;
    case ZYDIS_MNEMONIC_INVD: case ZYDIS_MNEMONIC_WBINVD:
        return cpu_co_nop_priv;
    case ZYDIS_MNEMONIC_INT: return cpu_co_int;
    case ZYDIS_MNEMONIC_INT3: return cpu_co_int3;
    case ZYDIS_MNEMONIC_INT1: return cpu_co_int1;
    case ZYDIS_MNEMONIC_INTO: return cpu_co_into;
    case ZYDIS_MNEMONIC_IRET: case ZYDIS_MNEMONIC_IRETD: return cpu_co_iret;
    case ZYDIS_MNEMONIC_LGDT: case ZYDIS_MNEMONIC_LIDT: return cpu_co_lgdt_lidt;
    case ZYDIS_MNEMONIC_SGDT: case ZYDIS_MNEMONIC_SIDT: return cpu_co_sgdt_sidt;
    case ZYDIS_MNEMONIC_LLDT: return cpu_co_lldt;
    case ZYDIS_MNEMONIC_SLDT: return cpu_co_sldt;
    case ZYDIS_MNEMONIC_LTR: return cpu_co_ltr;
    case ZYDIS_MNEMONIC_STR: return cpu_co_str;
    case ZYDIS_MNEMONIC_SMSW: return cpu_co_smsw;
    case ZYDIS_MNEMONIC_LMSW: return cpu_co_lmsw;
    case ZYDIS_MNEMONIC_CLTS: return cpu_co_clts;
    case ZYDIS_MNEMONIC_LAR: case ZYDIS_MNEMONIC_LSL: return cpu_co_lar_lsl;
    case ZYDIS_MNEMONIC_VERR: case ZYDIS_MNEMONIC_VERW: return cpu_co_verr_verw;
    case ZYDIS_MNEMONIC_MOV:
        if (has_regclass(d, ZYDIS_REGCLASS_CONTROL, 0) || has_regclass(d, ZYDIS_REGCLASS_CONTROL, 1))
            return cpu_co_mov_cr;
        if (has_regclass(d, ZYDIS_REGCLASS_DEBUG, 0) || has_regclass(d, ZYDIS_REGCLASS_DEBUG, 1))
            return cpu_co_mov_dr;
        if (has_regclass(d, ZYDIS_REGCLASS_SEGMENT, 0))
            return cpu_co_mov_to_sreg;
        if (has_regclass(d, ZYDIS_REGCLASS_SEGMENT, 1))
            return cpu_co_mov_from_sreg;
        return NULL;
    case ZYDIS_MNEMONIC_PUSH:
        return has_regclass(d, ZYDIS_REGCLASS_SEGMENT, 0) ? cpu_co_push_sreg : NULL;
    case ZYDIS_MNEMONIC_POP:
        return has_regclass(d, ZYDIS_REGCLASS_SEGMENT, 0) ? cpu_co_pop_sreg : NULL;
    case ZYDIS_MNEMONIC_LDS: case ZYDIS_MNEMONIC_LES: case ZYDIS_MNEMONIC_LFS:
    case ZYDIS_MNEMONIC_LGS: case ZYDIS_MNEMONIC_LSS:
        return cpu_co_lxs;
    case ZYDIS_MNEMONIC_JMP: return far ? cpu_co_jmp_far : NULL;
    case ZYDIS_MNEMONIC_CALL: return far ? cpu_co_call_far : NULL;
    case ZYDIS_MNEMONIC_RET: return far ? cpu_co_ret_far : NULL;

    /* legacy.c */
    case ZYDIS_MNEMONIC_DAA: return cpu_co_daa;
    case ZYDIS_MNEMONIC_DAS: return cpu_co_das;
    case ZYDIS_MNEMONIC_AAA: return cpu_co_aaa;
    case ZYDIS_MNEMONIC_AAS: return cpu_co_aas;
    case ZYDIS_MNEMONIC_AAM: return cpu_co_aam;
    case ZYDIS_MNEMONIC_AAD: return cpu_co_aad;
    case ZYDIS_MNEMONIC_PUSHA: case ZYDIS_MNEMONIC_PUSHAD: return cpu_co_pusha;
    case ZYDIS_MNEMONIC_POPA: case ZYDIS_MNEMONIC_POPAD: return cpu_co_popa;
    case ZYDIS_MNEMONIC_XLAT: return cpu_co_xlat;
    case ZYDIS_MNEMONIC_BOUND: return cpu_co_bound;
    case ZYDIS_MNEMONIC_ARPL: return cpu_co_arpl;
    case ZYDIS_MNEMONIC_SALC: return cpu_co_salc;
    case ZYDIS_MNEMONIC_ENTER: return cpu_co_enter;
    case ZYDIS_MNEMONIC_INC: case ZYDIS_MNEMONIC_DEC:
        /* Only the one-byte 40-4F forms (REX prefixes in 64-bit mode). */
        return d->zi.opcode >= 0x40 && d->zi.opcode <= 0x4F && d->zi.opcode_map == ZYDIS_OPCODE_MAP_DEFAULT
               ? cpu_co_incdec : NULL;

    default:
        if (d->cls & (DEC_PRIVILEGED | DEC_SENSITIVE | DEC_PORTIO))
            return cpu_co_unsupported;
        return NULL;
    }
}
