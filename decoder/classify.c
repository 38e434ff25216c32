/*
 * decoder/classify.c — what a guest instruction means for virtualization.
 *
 * Owns dec_classify(): from a Zydis record to enum dec_class bits. Popek and
 * Goldberg call an instruction *sensitive* when it reads or changes system
 * state (control-sensitive) or behaves differently depending on it
 * (behaviour-sensitive), and *privileged* when it traps outside the most
 * privileged mode. Trap-and-emulate needs sensitive ⊆ privileged; 32-bit
 * x86 breaks that, so btvm translates. The bits say:
 *
 *   DEC_PRIVILEGED alone       always traps at CPL>0 (hlt, lgdt, mov cr ...)
 *   DEC_PRIVILEGED|SENSITIVE   traps only under a guest-controlled condition
 *                              (cli/sti/in/out: CPL>IOPL; rdpmc: CR4.PCE=0)
 *   DEC_SENSITIVE alone        never traps but is sensitive: the gap
 *
 * The explicit mnemonic table comes first and is what a reader should
 * check against the SDM; the operand-based rules after it are backstops for
 * instructions the table forgot (any segment/descriptor-table register, any
 * system flag, Zydis' own "privileged" attribute). docs/decoder.md has the
 * table with the reasoning for each row.
 */
#include "decoder/classify.h"
#include "decoder/decoder.h"

/* EFLAGS bits owned by the virtual CPU, not by the guest's arithmetic:
 * touching any of them reveals or changes privileged state. */
#define SYS_FLAGS (ZYDIS_CPUFLAG_TF | ZYDIS_CPUFLAG_IF | ZYDIS_CPUFLAG_IOPL | \
                   ZYDIS_CPUFLAG_NT | ZYDIS_CPUFLAG_RF | ZYDIS_CPUFLAG_VM | \
                   ZYDIS_CPUFLAG_AC | ZYDIS_CPUFLAG_VIF | ZYDIS_CPUFLAG_VIP | \
                   ZYDIS_CPUFLAG_ID)

/* Privilege kinds the table assigns before they become class bits. */
enum priv_kind { PK_NONE, PK_SENSITIVE, PK_CONDITIONAL, PK_PRIVILEGED };

static enum priv_kind table_kind(ZydisMnemonic m)
{
    switch (m) {
    /* #GP(0) if CPL != 0 (SDM Vol. 2 for each; Vol. 3 5.9). */
    case ZYDIS_MNEMONIC_HLT:
    case ZYDIS_MNEMONIC_LGDT: case ZYDIS_MNEMONIC_LIDT:
    case ZYDIS_MNEMONIC_LLDT: case ZYDIS_MNEMONIC_LTR:
    case ZYDIS_MNEMONIC_LMSW: case ZYDIS_MNEMONIC_CLTS:
    case ZYDIS_MNEMONIC_INVD: case ZYDIS_MNEMONIC_WBINVD:
    case ZYDIS_MNEMONIC_INVLPG: case ZYDIS_MNEMONIC_INVPCID:
    case ZYDIS_MNEMONIC_INVLPGA: case ZYDIS_MNEMONIC_INVLPGB:
    case ZYDIS_MNEMONIC_TLBSYNC:
    case ZYDIS_MNEMONIC_RDMSR: case ZYDIS_MNEMONIC_WRMSR:
    case ZYDIS_MNEMONIC_SWAPGS:
    case ZYDIS_MNEMONIC_SYSEXIT: case ZYDIS_MNEMONIC_SYSRET:
    case ZYDIS_MNEMONIC_XSETBV:
    case ZYDIS_MNEMONIC_XSAVES: case ZYDIS_MNEMONIC_XSAVES64:
    case ZYDIS_MNEMONIC_XRSTORS: case ZYDIS_MNEMONIC_XRSTORS64:
    /* #UD at CPL>0 (SMAP, MONITOR without the user-mode enable). */
    case ZYDIS_MNEMONIC_CLAC: case ZYDIS_MNEMONIC_STAC:
    case ZYDIS_MNEMONIC_MONITOR: case ZYDIS_MNEMONIC_MWAIT:
    /* #UD outside SMM. */
    case ZYDIS_MNEMONIC_RSM:
        return PK_PRIVILEGED;

    /* Trap only when CPL > IOPL (cli/sti, in/out; Vol. 1 18.2) or when
     * CR4.PCE = 0 (rdpmc): privilege the guest kernel can switch off. */
    case ZYDIS_MNEMONIC_CLI: case ZYDIS_MNEMONIC_STI:
    case ZYDIS_MNEMONIC_RDPMC:
        return PK_CONDITIONAL;

    /* Sensitive, never trap at CPL 3 without UMIP (which this host and a
     * 1990s-era guest lack): they read descriptor-table registers or CR0. */
    case ZYDIS_MNEMONIC_SGDT: case ZYDIS_MNEMONIC_SIDT:
    case ZYDIS_MNEMONIC_SLDT: case ZYDIS_MNEMONIC_STR:
    case ZYDIS_MNEMONIC_SMSW:
    /* pushf reveals IF/IOPL; popf silently drops IF/IOPL changes at CPL>0. */
    case ZYDIS_MNEMONIC_PUSHF: case ZYDIS_MNEMONIC_PUSHFD:
    case ZYDIS_MNEMONIC_POPF: case ZYDIS_MNEMONIC_POPFD:
    /* Check descriptors against CPL/RPL: the answer depends on CPL. */
    case ZYDIS_MNEMONIC_LAR: case ZYDIS_MNEMONIC_LSL:
    case ZYDIS_MNEMONIC_VERR: case ZYDIS_MNEMONIC_VERW:
    /* Go through the IDT (gate DPL check against CPL, stack switch). */
    case ZYDIS_MNEMONIC_INT: case ZYDIS_MNEMONIC_INT1:
    case ZYDIS_MNEMONIC_INT3: case ZYDIS_MNEMONIC_INTO:
    /* Privilege-level return: pops CS/EFLAGS with CPL-dependent rules. */
    case ZYDIS_MNEMONIC_IRET: case ZYDIS_MNEMONIC_IRETD:
    /* Fast system calls load CS/SS from MSRs. */
    case ZYDIS_MNEMONIC_SYSENTER: case ZYDIS_MNEMONIC_SYSCALL:
    /* Not sensitive in the 1974 sense, but they hand the guest the host's
     * CPU identity and clock; the VMM must supply the virtual ones. */
    case ZYDIS_MNEMONIC_CPUID:
    case ZYDIS_MNEMONIC_RDTSC: case ZYDIS_MNEMONIC_RDTSCP:
    case ZYDIS_MNEMONIC_RDPID: case ZYDIS_MNEMONIC_XGETBV:
    /* Depend on CR4.PKE and the host's PKRU. */
    case ZYDIS_MNEMONIC_RDPKRU: case ZYDIS_MNEMONIC_WRPKRU:
        return PK_SENSITIVE;

    default:
        return PK_NONE;
    }
}

static bool is_ud(ZydisMnemonic m)
{
    return m == ZYDIS_MNEMONIC_UD0 || m == ZYDIS_MNEMONIC_UD1 || m == ZYDIS_MNEMONIC_UD2;
}

/* Software interrupts: they push a frame on the (handler's) stack although
 * Zydis lists no memory operand for it. */
static bool is_soft_int(ZydisMnemonic m)
{
    return m == ZYDIS_MNEMONIC_INT || m == ZYDIS_MNEMONIC_INT1 ||
           m == ZYDIS_MNEMONIC_INT3 || m == ZYDIS_MNEMONIC_INTO;
}

static bool is_fpu_state_mnemonic(ZydisMnemonic m)
{
    switch (m) {
    case ZYDIS_MNEMONIC_FXSAVE: case ZYDIS_MNEMONIC_FXRSTOR:
    case ZYDIS_MNEMONIC_XSAVE: case ZYDIS_MNEMONIC_XSAVEC:
    case ZYDIS_MNEMONIC_XSAVEOPT: case ZYDIS_MNEMONIC_XSAVES:
    case ZYDIS_MNEMONIC_XRSTOR: case ZYDIS_MNEMONIC_XRSTORS:
    case ZYDIS_MNEMONIC_EMMS: case ZYDIS_MNEMONIC_FEMMS:
        return true;
    default:
        return false;
    }
}

static bool is_fpu_reg(ZydisRegister r)
{
    switch (ZydisRegisterGetClass(r)) {
    case ZYDIS_REGCLASS_X87: case ZYDIS_REGCLASS_MMX:
    case ZYDIS_REGCLASS_XMM: case ZYDIS_REGCLASS_YMM:
    case ZYDIS_REGCLASS_ZMM: case ZYDIS_REGCLASS_MASK:
    case ZYDIS_REGCLASS_TMM:
        return true;
    default:
        return r == ZYDIS_REGISTER_MXCSR || r == ZYDIS_REGISTER_X87CONTROL ||
               r == ZYDIS_REGISTER_X87STATUS || r == ZYDIS_REGISTER_X87TAG;
    }
}

/* A memory operand the instruction really dereferences: not lea's address
 * generation, not a hint that never faults (nop r/m, prefetch*). */
static bool is_data_access(const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *op)
{
    if (op->type != ZYDIS_OPERAND_TYPE_MEMORY || op->mem.type == ZYDIS_MEMOP_TYPE_AGEN)
        return false;
    if (!(op->actions & (ZYDIS_OPERAND_ACTION_MASK_READ | ZYDIS_OPERAND_ACTION_MASK_WRITE)))
        return false;
    switch (zi->meta.category) {
    case ZYDIS_CATEGORY_NOP: case ZYDIS_CATEGORY_WIDENOP: case ZYDIS_CATEGORY_PREFETCH:
        return false;
    default:
        /* invlpg names a linear address, it does not access it (SDM INVLPG). */
        return zi->mnemonic != ZYDIS_MNEMONIC_INVLPG;
    }
}

uint32_t dec_classify(const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *ops)
{
    enum priv_kind pk = table_kind(zi->mnemonic);
    bool sens = pk == PK_SENSITIVE;
    bool priv = pk == PK_PRIVILEGED;
    bool cond = pk == PK_CONDITIONAL;
    uint32_t c = 0;

    if (zi->attributes & ZYDIS_ATTRIB_IS_PRIVILEGED)
        priv = true;
    switch (zi->meta.isa_ext) {
    case ZYDIS_ISA_EXT_VTX: case ZYDIS_ISA_EXT_VMFUNC: case ZYDIS_ISA_EXT_SVM:
    case ZYDIS_ISA_EXT_SGX_ENCLV:
    case ZYDIS_ISA_EXT_SMX: case ZYDIS_ISA_EXT_TDX: case ZYDIS_ISA_EXT_SNP:
    case ZYDIS_ISA_EXT_PCONFIG:
        /* Virtualization/security extensions: #UD or #GP outside ring 0 or
         * outside the host-only operating modes a guest never has. */
        priv = true;
        break;
    default:
        break;
    }

    switch (zi->mnemonic) {
    case ZYDIS_MNEMONIC_MOVDIR64B: case ZYDIS_MNEMONIC_ENQCMD: case ZYDIS_MNEMONIC_ENQCMDS:
        /* Their register operand is an address (ES:[reg]): run natively
         * it would be a host address. The monitor decides (#UD: btvm's
         * CPUID offers neither, cpu/callout.c). */
        sens = true;
        break;
    default:
        break;
    }

    switch (zi->meta.category) {
    case ZYDIS_CATEGORY_IO:
        c |= DEC_PORTIO;
        cond = true;
        break;
    case ZYDIS_CATEGORY_IOSTRINGOP:
        c |= DEC_PORTIO | DEC_STRING;
        cond = true;
        break;
    case ZYDIS_CATEGORY_STRINGOP:
        c |= DEC_STRING;
        break;
    case ZYDIS_CATEGORY_COND_BR: case ZYDIS_CATEGORY_UNCOND_BR:
    case ZYDIS_CATEGORY_CALL: case ZYDIS_CATEGORY_RET:
    case ZYDIS_CATEGORY_SYSCALL: case ZYDIS_CATEGORY_SYSRET:
        c |= DEC_CONTROL;
        break;
    case ZYDIS_CATEGORY_INTERRUPT:
        /* bound raises #BR like any fault, the same at every CPL: it is
         * neither a branch nor sensitive. int/int3/into/int1 are both. */
        if (zi->mnemonic != ZYDIS_MNEMONIC_BOUND)
            c |= DEC_CONTROL;
        break;
    case ZYDIS_CATEGORY_PUSH: case ZYDIS_CATEGORY_POP:
        c |= DEC_STACK;
        break;
    case ZYDIS_CATEGORY_X87_ALU: case ZYDIS_CATEGORY_FCMOV: case ZYDIS_CATEGORY_MMX:
        c |= DEC_FPU;
        break;
    default:
        break;
    }

    /* ud0/ud1/ud2 are valid encodings whose whole job is to raise #UD: a
     * guaranteed exit from the block, hence control flow, not DEC_UNDEFINED. */
    if (is_ud(zi->mnemonic))
        c |= DEC_CONTROL;
    if (zi->meta.branch_type == ZYDIS_BRANCH_TYPE_FAR) {
        /* Far call/jmp/ret load CS: descriptor and privilege checks. */
        c |= DEC_CONTROL;
        sens = true;
    }
    if (is_soft_int(zi->mnemonic))
        c |= DEC_STACK | DEC_MEMORY;
    if (is_fpu_state_mnemonic(zi->mnemonic))
        c |= DEC_FPU;

    if (zi->cpu_flags &&
        ((zi->cpu_flags->tested | zi->cpu_flags->modified | zi->cpu_flags->set_0 |
          zi->cpu_flags->set_1) & SYS_FLAGS))
        sens = true;

    for (unsigned i = 0; i < zi->operand_count; i++) {
        const ZydisDecodedOperand *op = &ops[i];

        if (op->type == ZYDIS_OPERAND_TYPE_MEMORY) {
            /* ud0/ud1 carry a ModRM but fault before any access. */
            if (is_ud(zi->mnemonic) || !is_data_access(zi, op))
                continue;
            c |= DEC_MEMORY;
            if (op->visibility != ZYDIS_OPERAND_VISIBILITY_EXPLICIT &&
                op->mem.segment == ZYDIS_REGISTER_SS)
                c |= DEC_STACK;    /* push/pop/call/ret/enter/leave frame */
            continue;
        }
        if (op->type != ZYDIS_OPERAND_TYPE_REGISTER)
            continue;

        ZydisRegister r = op->reg.value;
        switch (ZydisRegisterGetClass(r)) {
        case ZYDIS_REGCLASS_SEGMENT:
            /* mov/push/pop sreg, lds..lss: selector loads check descriptors
             * against CPL; reads reveal RPL (Robin & Irvine 2000). */
            sens = true;
            break;
        case ZYDIS_REGCLASS_TABLE:
            sens = true;
            break;
        case ZYDIS_REGCLASS_CONTROL: case ZYDIS_REGCLASS_DEBUG: case ZYDIS_REGCLASS_TEST:
            /* Explicit = mov to/from CRn/DRn (privileged); hidden = smsw/lmsw. */
            if (op->visibility == ZYDIS_OPERAND_VISIBILITY_EXPLICIT)
                priv = true;
            else
                sens = true;
            break;
        case ZYDIS_REGCLASS_IP:
            if (op->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE)
                c |= DEC_CONTROL;
            break;
        default:
            if (is_fpu_reg(r))
                c |= DEC_FPU;
            break;
        }
    }

    if (cond)
        c |= DEC_PRIVILEGED | DEC_SENSITIVE;
    else if (priv)
        c |= DEC_PRIVILEGED;
    else if (sens)
        c |= DEC_SENSITIVE;

    if (!(c & (DEC_PRIVILEGED | DEC_SENSITIVE | DEC_CONTROL | DEC_PORTIO)))
        c |= DEC_INNOCUOUS;
    return c;
}

const char *dec_class_str(uint32_t cls)
{
    static const char *const names[] = {
        "innocuous", "control", "privileged", "sensitive", "portio",
        "memory", "stack", "string", "fpu", "undefined",
    };
    /* Longest possible: every name plus separators, about 80 bytes. */
    static _Thread_local char buf[128];
    size_t n = 0;

    buf[0] = '\0';
    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!(cls & (1u << i)))
            continue;
        for (const char *s = n ? "|" : ""; *s; s++)
            buf[n++] = *s;
        for (const char *s = names[i]; *s; s++)
            buf[n++] = *s;
        buf[n] = '\0';
    }
    return n ? buf : "none";
}
