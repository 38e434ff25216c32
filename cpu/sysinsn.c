/*
 * cpu/sysinsn.c — system instructions served in C: HLT, CLI/STI,
 * PUSHF/POPF, CPUID, RDTSC/RDMSR/WRMSR/RDPMC, cache and TLB maintenance,
 * the descriptor-table registers (LGDT ... STR), CR0 shortcuts (SMSW, LMSW,
 * CLTS), MOV to/from control and debug registers, the descriptor probes
 * LAR/LSL/VERR/VERW, and the fast system calls SYSENTER/SYSEXIT. Semantics follow each instruction's SDM vol. 2 page.
 *
 * Anything that can change the translation key (a CR write) leaves
 * translated code with c->eip at the next instruction (CPU_CO_EXIT).
 */
#include "cpu/internal.h"
#include "shadowmmu/smmu.h"

#include <string.h>
#include <x86intrin.h>

#define GP0 CPU_FAULT(CPU_VEC_GP, 0)

static int done_exit(struct cpu *c, const struct dec_insn *d)
{
    c->eip = next_eip(d);
    return CPU_CO_EXIT;
}

static bool need_cpl0(const struct cpu *c)
{
    return cpu_pmode(c) ? c->cpl != 0 : (c->eflags & CPU_FL_VM) != 0;
}

int cpu_co_hlt(struct cpu *c, const struct dec_insn *d)
{
    if (need_cpl0(c))
        return co_fault(c, d, GP0);
    c->halted = true;
    return done_exit(c, d);
}

/* CLI, STI, PUSHF, POPF, INT n and IRET are IOPL-sensitive: #GP(0) at
 * CPL > IOPL in protected mode, and in virtual-8086 mode (CPL 3) whenever
 * IOPL < 3 (SDM vol. 3 20.2.7; VME/PVI are not modelled, CPUID does not
 * offer them). Never in real mode. */
bool cpu_iopl_denied(const struct cpu *c)
{
    if (!(c->cr0 & CPU_CR0_PE))
        return false;
    if (c->eflags & CPU_FL_VM)
        return cpu_iopl(c) < 3;
    return c->cpl > cpu_iopl(c);
}

int cpu_co_cli(struct cpu *c, const struct dec_insn *d)
{
    if (cpu_iopl_denied(c))
        return co_fault(c, d, GP0);
    c->eflags &= ~CPU_FL_IF;
    return CPU_CO_CONTINUE;
}

int cpu_co_sti(struct cpu *c, const struct dec_insn *d)
{
    if (cpu_iopl_denied(c))
        return co_fault(c, d, GP0);
    if (!(c->eflags & CPU_FL_IF)) {
        /* Interrupts stay off until after the next instruction (SDM STI). */
        c->shadow = true;
        c->shadow_eip = d->eip + d->len;
    }
    c->eflags |= CPU_FL_IF;
    return CPU_CO_CONTINUE;
}

int cpu_co_pushf(struct cpu *c, const struct dec_insn *d)
{
    unsigned w = d->zi.operand_width / 8;
    uint32_t esp = c->regs[CPU_ESP];
    if ((c->eflags & CPU_FL_VM) && cpu_iopl_denied(c))
        return co_fault(c, d, GP0);
    int f = cpu_push(c, &esp, c->eflags & ~(CPU_FL_VM | CPU_FL_RF), w);
    if (f)
        return co_fault(c, d, f);
    cpu_commit_esp(c, esp);
    return CPU_CO_CONTINUE;
}

/* POPF (SDM vol. 2): IOPL changes only at CPL 0, IF only at CPL <= IOPL;
 * VM, VIP, VIF and reserved bits unaffected; RF cleared. */
int cpu_co_popf(struct cpu *c, const struct dec_insn *d)
{
    unsigned w = d->zi.operand_width / 8;
    uint32_t esp = c->regs[CPU_ESP], v;
    if ((c->eflags & CPU_FL_VM) && cpu_iopl_denied(c))
        return co_fault(c, d, GP0);
    int f = cpu_pop(c, &esp, &v, w);
    if (f)
        return co_fault(c, d, f);
    uint32_t mask = CPU_FL_ARITH | CPU_FL_TF | CPU_FL_DF | CPU_FL_NT | CPU_FL_AC | CPU_FL_ID;
    unsigned cpl = (c->cr0 & CPU_CR0_PE) ? c->cpl : 0; /* v8086: 3, IOPL stays */
    if (cpl == 0)
        mask |= CPU_FL_IOPL;
    if (cpl <= cpu_iopl(c))
        mask |= CPU_FL_IF;
    if (w == 2)
        mask &= 0xFFFF;
    c->eflags = ((c->eflags & ~mask) | (v & mask) | CPU_FL_FIX1) & ~CPU_FL_RF;
    cpu_commit_esp(c, esp);
    return CPU_CO_CONTINUE;
}

int cpu_co_cpuid(struct cpu *c, const struct dec_insn *d)
{
    (void)d;
    uint32_t out[4];
    cpu_cpuid(c, c->regs[CPU_EAX], c->regs[CPU_ECX], out);
    c->regs[CPU_EAX] = out[0];
    c->regs[CPU_EBX] = out[1];
    c->regs[CPU_ECX] = out[2];
    c->regs[CPU_EDX] = out[3];
    return CPU_CO_CONTINUE;
}

#define CR4_TSD 0x4u

/* Guest TSC = host TSC + tsc_offset (wraps like the hardware counter). */
static uint64_t guest_tsc(const struct cpu *c)
{
    return __rdtsc() + c->tsc_offset;
}

int cpu_co_rdtsc(struct cpu *c, const struct dec_insn *d)
{
    if ((c->cr4 & CR4_TSD) && need_cpl0(c))
        return co_fault(c, d, GP0);
    uint64_t t = guest_tsc(c);
    c->regs[CPU_EAX] = (uint32_t)t;
    c->regs[CPU_EDX] = (uint32_t)(t >> 32);
    return CPU_CO_CONTINUE;
}

int cpu_co_rdmsr(struct cpu *c, const struct dec_insn *d)
{
    if (need_cpl0(c))
        return co_fault(c, d, GP0);
    uint64_t v;
    uint32_t msr = c->regs[CPU_ECX];
    if ((msr == 0x1B || msr == 0x6E0) && c->env && c->env->msr_read) {
        if (c->env->msr_read(c->env_ctx, msr, &v))
            return co_fault(c, d, GP0);
        c->regs[CPU_EAX] = (uint32_t)v;
        c->regs[CPU_EDX] = (uint32_t)(v >> 32);
        return CPU_CO_CONTINUE;
    }
    switch (msr) {
    case 0x10: v = guest_tsc(c); break;
    case 0x1B: v = c->msr_apic_base; break;
    case 0x174: v = c->msr_sysenter_cs; break;
    case 0x175: v = c->msr_sysenter_esp; break;
    case 0x176: v = c->msr_sysenter_eip; break;
    case 0x1A0: v = c->msr_misc_enable; break;
    case 0xC0000080: v = c->efer; break;
    case 0x8B: v = 0; break; /* IA32_BIOS_SIGN_ID: no microcode update loaded */
    case 0x10A: /* IA32_ARCH_CAPABILITIES: only if CPUID.7.EDX[29] says it exists */
        if (!cpu_host_arch_caps())
            return co_fault(c, d, GP0);
        v = cpu_host_arch_caps();
        break;
    default: return co_fault(c, d, GP0);
    }
    c->regs[CPU_EAX] = (uint32_t)v;
    c->regs[CPU_EDX] = (uint32_t)(v >> 32);
    return CPU_CO_CONTINUE;
}

int cpu_co_wrmsr(struct cpu *c, const struct dec_insn *d)
{
    if (need_cpl0(c))
        return co_fault(c, d, GP0);
    uint64_t v = ((uint64_t)c->regs[CPU_EDX] << 32) | c->regs[CPU_EAX];
    uint32_t msr = c->regs[CPU_ECX];
    if ((msr == 0x1B || msr == 0x6E0) && c->env && c->env->msr_write) {
        int r = c->env->msr_write(c->env_ctx, msr, v);
        if (r < 0)
            return co_fault(c, d, GP0);
        if (c->env->io_done(c->env_ctx))
            c->async_pending = 1; /* a timer deadline moved (IA32_TSC_DEADLINE) */
        if (r > 0 && c->mmu) {
            /* The APIC window moved: no shadow entry may keep the old
             * view of either page, and blocks must see the new one. */
            smmu_flush(c->mmu);
            return done_exit(c, d);
        }
        return CPU_CO_CONTINUE;
    }
    switch (msr) {
    case 0x10: c->tsc_offset = v - __rdtsc(); break;
    case 0x1B:
        /* Bits 0-7, 9 and above the 32-bit physical width are reserved. */
        if (v & 0xFFFFFFFF000002FFull)
            return co_fault(c, d, GP0);
        c->msr_apic_base = v;
        break;
    case 0x174: c->msr_sysenter_cs = v & 0xFFFF; break;
    case 0x175: c->msr_sysenter_esp = v; break;
    case 0x176: c->msr_sysenter_eip = v; break;
    case 0x1A0: c->msr_misc_enable = v; break;
    case 0x8B: break; /* IA32_BIOS_SIGN_ID: writes are how software asks for the revision */
    case 0xC0000080:
        /* EFER: NXE only (no long mode, no SYSCALL on this model). */
        if (v & ~0x800ull)
            return co_fault(c, d, GP0);
        c->efer = v;
        smmu_cr_write(c->mmu);
        return done_exit(c, d);
    default: return co_fault(c, d, GP0);
    }
    return CPU_CO_CONTINUE;
}

/* No performance counters are modelled: every counter index is invalid. */
int cpu_co_rdpmc(struct cpu *c, const struct dec_insn *d)
{
    return co_fault(c, d, GP0);
}

/* INVD / WBINVD: privileged no-ops (no caches are modelled). */
int cpu_co_nop_priv(struct cpu *c, const struct dec_insn *d)
{
    if (need_cpl0(c))
        return co_fault(c, d, GP0);
    return CPU_CO_CONTINUE;
}

/* INVLPG: the shadow is kept coherent by traces, so this only drops the
 * page's entry. */
int cpu_co_invlpg(struct cpu *c, const struct dec_insn *d)
{
    if (need_cpl0(c))
        return co_fault(c, d, GP0);
    uint32_t lin = cpu_ea(c, d, &d->ops[0]);
    smmu_invlpg(c->mmu, lin);
    /* Only a changed mapping of the code running now needs the block to
     * end; any other page is checked at the next block entry. */
    uint32_t pc = c->seg_base[CPU_CS] + d->eip;
    if ((lin >> 12) == (pc >> 12) || (lin >> 12) == ((pc + d->len) >> 12) + 1)
        return done_exit(c, d);
    return CPU_CO_CONTINUE;
}

/* ---- descriptor-table registers -------------------------------------- */

int cpu_co_lgdt_lidt(struct cpu *c, const struct dec_insn *d)
{
    if (need_cpl0(c))
        return co_fault(c, d, GP0);
    uint32_t lin = cpu_ea(c, d, &d->ops[0]), base;
    uint16_t limit;
    int f = cpu_mem_read(c, lin, &limit, 2);
    if (!f)
        f = cpu_mem_read(c, lin + 2, &base, 4);
    if (f)
        return co_fault(c, d, f);
    if (d->zi.operand_width == 16)
        base &= 0xFFFFFF; /* 16-bit operand size: 24-bit base */
    struct cpu_dtr *t = d->zi.mnemonic == ZYDIS_MNEMONIC_LGDT ? &c->gdtr : &c->idtr;
    t->base = base;
    t->limit = limit;
    return CPU_CO_CONTINUE;
}

/* SGDT/SIDT store limit and the full 32-bit base at any operand size. */
int cpu_co_sgdt_sidt(struct cpu *c, const struct dec_insn *d)
{
    const struct cpu_dtr *t = d->zi.mnemonic == ZYDIS_MNEMONIC_SGDT ? &c->gdtr : &c->idtr;
    uint8_t img[6];
    memcpy(img, &t->limit, 2);
    memcpy(img + 2, &t->base, 4);
    int f = cpu_mem_write(c, cpu_ea(c, d, &d->ops[0]), img, 6);
    return f ? co_fault(c, d, f) : CPU_CO_CONTINUE;
}

/* Store a selector or MSW: 16 bits to memory, zero-extended to a register. */
static int store_sel(struct cpu *c, const struct dec_insn *d, uint32_t v)
{
    const ZydisDecodedOperand *op = &d->ops[0];
    int f;
    if (op->type == ZYDIS_OPERAND_TYPE_MEMORY) {
        uint16_t v16 = (uint16_t)v;
        f = cpu_mem_write(c, cpu_ea(c, d, op), &v16, 2);
    } else {
        cpu_set_reg(c, op->reg.value, op->size == 16 ? (v & 0xFFFF) : v);
        f = 0;
    }
    return f ? co_fault(c, d, f) : CPU_CO_CONTINUE;
}

/* LLDT LTR SLDT STR LAR LSL VERR VERW: #UD in real and V86 mode. */
#define PM_ONLY(c, d) \
    do { if (!cpu_pmode(c)) return co_fault(c, d, CPU_FAULT(CPU_VEC_UD, 0)); } while (0)

int cpu_co_sldt(struct cpu *c, const struct dec_insn *d)
{
    PM_ONLY(c, d);
    return store_sel(c, d, c->ldtr.sel);
}

int cpu_co_str(struct cpu *c, const struct dec_insn *d)
{
    PM_ONLY(c, d);
    return store_sel(c, d, c->tr.sel);
}

int cpu_co_smsw(struct cpu *c, const struct dec_insn *d)
{
    return store_sel(c, d, c->cr0); /* r32 gets all of CR0 (P6 and later) */
}

/* LLDT/LTR common part: CPL 0 in protected mode, read the selector operand
 * and, unless it is null, its GDT descriptor (a TI=1 selector is #GP).
 * Returns 0 with *sel, *s, *hi filled (s->flags == 0 for a null selector),
 * or a fault for co_fault. */
static int read_sys_sel(struct cpu *c, const struct dec_insn *d, uint16_t *sel,
                        struct cpu_segment *s, uint32_t *hi)
{
    if (c->cpl)
        return GP0;
    uint32_t v, lo;
    int f = cpu_read_op(c, d, &d->ops[0], &v);
    if (f)
        return f;
    *sel = (uint16_t)v;
    memset(s, 0, sizeof(*s));
    if (!(*sel & ~3u))
        return 0;
    if (*sel & 4)
        return CPU_FAULT(CPU_VEC_GP, SEL_ERR(*sel));
    if ((f = cpu_read_desc(c, *sel, &lo, hi, CPU_VEC_GP, 0)))
        return f;
    cpu_desc_parse(*sel, lo, *hi, s);
    return 0;
}

int cpu_co_lldt(struct cpu *c, const struct dec_insn *d)
{
    PM_ONLY(c, d);
    uint16_t sel;
    uint32_t hi;
    struct cpu_segment s;
    int f = read_sys_sel(c, d, &sel, &s, &hi);
    if (f)
        return co_fault(c, d, f);
    if (!(sel & ~3u)) {
        memset(&c->ldtr, 0, sizeof(c->ldtr));
        c->ldtr.sel = sel;
        return CPU_CO_CONTINUE;
    }
    if (SEGF_S(s.flags) || SEGF_TYPE(s.flags) != 0x2)
        return co_fault(c, d, CPU_FAULT(CPU_VEC_GP, SEL_ERR(sel)));
    if (!SEGF_P(s.flags))
        return co_fault(c, d, CPU_FAULT(CPU_VEC_NP, SEL_ERR(sel)));
    c->ldtr = s;
    return CPU_CO_CONTINUE;
}

int cpu_co_ltr(struct cpu *c, const struct dec_insn *d)
{
    PM_ONLY(c, d);
    uint16_t sel;
    uint32_t hi;
    struct cpu_segment s;
    int f = read_sys_sel(c, d, &sel, &s, &hi);
    if (f)
        return co_fault(c, d, f);
    if (!(sel & ~3u))
        return co_fault(c, d, GP0);
    unsigned t = SEGF_TYPE(s.flags);
    if (SEGF_S(s.flags) || (t != 0x1 && t != 0x9)) /* available 16/32-bit TSS */
        return co_fault(c, d, CPU_FAULT(CPU_VEC_GP, SEL_ERR(sel)));
    if (!SEGF_P(s.flags))
        return co_fault(c, d, CPU_FAULT(CPU_VEC_NP, SEL_ERR(sel)));
    uint8_t busy = (uint8_t)((hi >> 8) | 0x2);
    if ((f = cpu_mem_write(c, c->gdtr.base + (sel & ~7u) + 5, &busy, 1)))
        return co_fault(c, d, f);
    s.flags |= 0x2;
    c->tr = s;
    return CPU_CO_CONTINUE;
}

/* ---- CR0 shortcuts and MOV CR / DR ----------------------------------- */

int cpu_co_lmsw(struct cpu *c, const struct dec_insn *d)
{
    if (need_cpl0(c))
        return co_fault(c, d, GP0);
    uint32_t v;
    int f = cpu_read_op(c, d, &d->ops[0], &v);
    if (f)
        return co_fault(c, d, f);
    /* Loads PE MP EM TS; cannot clear PE. Setting PE keeps the segment
     * caches, as MOV CR0 does (only their checks change). */
    uint32_t old = c->cr0;
    c->cr0 = (c->cr0 & ~0xEu) | (v & 0xF) | (c->cr0 & CPU_CR0_PE);
    if ((old ^ c->cr0) & CPU_CR0_PE)
        for (int i = 0; i < CPU_NSEG; i++)
            cpu_seg_bounds(c, i);
    return done_exit(c, d);
}

int cpu_co_clts(struct cpu *c, const struct dec_insn *d)
{
    if (need_cpl0(c))
        return co_fault(c, d, GP0);
    c->cr0 &= ~CPU_CR0_TS;
    return done_exit(c, d);
}

#define CR0_CD 0x40000000u
#define CR0_NW 0x20000000u
#define CR0_AM 0x00040000u
#define CR0_WRITABLE (CPU_CR0_PE | CPU_CR0_MP | CPU_CR0_EM | CPU_CR0_TS | CPU_CR0_NE | \
                      CPU_CR0_WP | CR0_AM | CR0_NW | CR0_CD | CPU_CR0_PG)
/* TSD DE PSE PAE MCE PGE PCE OSFXSR OSXMMEXCPT. VME and PVI are reserved
 * (#GP): CPUID does not offer them (docs/cpu.md, virtual-8086 mode). */
#define CR4_WRITABLE 0x7FCu

int cpu_co_mov_cr(struct cpu *c, const struct dec_insn *d)
{
    if (need_cpl0(c))
        return co_fault(c, d, GP0);
    bool to_cr = ZydisRegisterGetClass(d->ops[0].reg.value) == ZYDIS_REGCLASS_CONTROL;
    ZydisRegister crr = to_cr ? d->ops[0].reg.value : d->ops[1].reg.value;
    unsigned n = crr - ZYDIS_REGISTER_CR0;
    uint32_t *cr;
    switch (n) {
    case 0: cr = &c->cr0; break;
    case 2: cr = &c->cr2; break;
    case 3: cr = &c->cr3; break;
    case 4: cr = &c->cr4; break;
    default: return co_fault(c, d, CPU_FAULT(CPU_VEC_UD, 0));
    }
    if (!to_cr) {
        cpu_set_reg(c, d->ops[0].reg.value, *cr);
        return CPU_CO_CONTINUE;
    }
    uint32_t v = cpu_get_reg(c, d->ops[1].reg.value);
    if (n == 0) {
        if (((v & CPU_CR0_PG) && !(v & CPU_CR0_PE)) || ((v & CR0_NW) && !(v & CR0_CD)))
            return co_fault(c, d, GP0);
        v = (v & CR0_WRITABLE) | CPU_CR0_ET; /* ET is hardwired to 1 */
    } else if (n == 4 && (v & ~CR4_WRITABLE)) {
        return co_fault(c, d, GP0);
    }
    uint32_t old = *cr;
    /* The running block may go on to the end of this page and, with its
     * last instruction, into the next one: both must keep their mapping. */
    uint32_t pc = c->seg_base[CPU_CS] + d->eip, next = (pc | 0xFFFu) + 1;
    int64_t code_before = n == 3 ? smmu_exec_page(c->mmu, pc) : -1;
    int64_t next_before = n == 3 ? smmu_exec_page(c->mmu, next) : -1;
    *cr = v;
    if ((n == 0 || n == 3 || n == 4) && smmu_cr_write(c->mmu) != 0) {
        *cr = old; /* PAE: a PDPTE with reserved bits set */
        smmu_cr_write(c->mmu);
        return co_fault(c, d, GP0);
    }
    if (n == 0 && ((old ^ v) & CPU_CR0_PE)) {
        /* Switching PE keeps every hidden segment cache (base, limit,
         * attributes: big real mode); only what the mode makes of them
         * changes (real mode ignores types and presence), and the CPL is
         * 0 on both sides. The next far jump loads CS of the new mode. */
        c->cpl = 0;
        for (int i = 0; i < CPU_NSEG; i++)
            cpu_seg_bounds(c, i);
    }
    /* A CR3 load that leaves the running code where it was (a kernel is
     * mapped alike in every address space) lets the block go on; block
     * entries check their own pages. CR0/CR4 change the translation key. */
    if (n == 3 && code_before >= 0 && smmu_exec_page(c->mmu, pc) == code_before &&
        smmu_exec_page(c->mmu, next) == next_before)
        return CPU_CO_CONTINUE;
    return done_exit(c, d);
}

#define CR4_DE 0x8u

int cpu_co_mov_dr(struct cpu *c, const struct dec_insn *d)
{
    if (need_cpl0(c))
        return co_fault(c, d, GP0);
    bool to_dr = ZydisRegisterGetClass(d->ops[0].reg.value) == ZYDIS_REGCLASS_DEBUG;
    unsigned n = (to_dr ? d->ops[0].reg.value : d->ops[1].reg.value) - ZYDIS_REGISTER_DR0;
    if (n == 4 || n == 5) {
        if (c->cr4 & CR4_DE)
            return co_fault(c, d, CPU_FAULT(CPU_VEC_UD, 0));
        n += 2; /* DR4/DR5 alias DR6/DR7 */
    }
    if (n > 7)
        return co_fault(c, d, CPU_FAULT(CPU_VEC_UD, 0));
    if (!to_dr) {
        cpu_set_reg(c, d->ops[0].reg.value, c->dr[n]);
        return CPU_CO_CONTINUE;
    }
    uint32_t v = cpu_get_reg(c, d->ops[1].reg.value);
    if (n == 6)
        v |= 0xFFFF0FF0u;
    else if (n == 7)
        v = (v | 0x400) & ~0xD800u;
    c->dr[n] = v;
    return CPU_CO_CONTINUE;
}

/* ---- LAR / LSL / VERR / VERW ----------------------------------------- */

/* Fetch the descriptor a probe names and apply the common visibility rule
 * (conforming code is always visible; else DPL >= CPL and DPL >= RPL).
 * Returns 1 visible, 0 not (ZF=0), or a fault code < 0 encoded by *fault. */
static int probe(struct cpu *c, uint16_t sel, struct cpu_segment *s, int *fault)
{
    uint32_t lo, hi;
    *fault = 0;
    if (!(sel & ~3u))
        return 0;
    int f = cpu_read_desc(c, sel, &lo, &hi, CPU_VEC_GP, 0);
    if (f) {
        if (CPU_FAULT_VEC(f) != CPU_VEC_GP || f == CPU_FAULT_STOP)
            *fault = f; /* a page fault reading the table is real */
        return 0;
    }
    cpu_desc_parse(sel, lo, hi, s);
    unsigned t = SEGF_TYPE(s->flags), dpl = SEGF_DPL(s->flags);
    bool conf_code = SEGF_S(s->flags) && (t & 0xC) == 0xC;
    if (!conf_code && (dpl < c->cpl || dpl < (sel & 3u)))
        return 0;
    return 1;
}

static void set_zf(struct cpu *c, bool z)
{
    c->eflags = z ? c->eflags | CPU_FL_ZF : c->eflags & ~CPU_FL_ZF;
}

int cpu_co_lar_lsl(struct cpu *c, const struct dec_insn *d)
{
    PM_ONLY(c, d);
    bool lar = d->zi.mnemonic == ZYDIS_MNEMONIC_LAR;
    uint32_t v;
    int f = cpu_read_op(c, d, &d->ops[1], &v), pf;
    if (f)
        return co_fault(c, d, f);
    struct cpu_segment s;
    uint16_t sel = (uint16_t)v;
    int ok = probe(c, sel, &s, &pf);
    if (pf)
        return co_fault(c, d, pf);
    if (ok && !SEGF_S(s.flags)) {
        /* System types LAR accepts: 1 2 3 4 5 9 B C; LSL: 1 2 3 9 B. */
        unsigned t = SEGF_TYPE(s.flags);
        unsigned okmask = lar ? 0x1A3E : 0x0A0E;
        ok = (okmask >> t) & 1;
    }
    set_zf(c, ok);
    if (ok) {
        /* LAR: the descriptor's bits 23:8, limit 19:16 included, as the
         * hardware returns them (Intel's mask 00FxFF00h, AMD's 00FFFF00h). */
        uint32_t raw_limit = (s.flags & CPU_SEGF_G) ? s.limit >> 12 : s.limit;
        uint32_t r = lar ? ((s.flags << 8) & 0x00F0FF00u) | (raw_limit & 0xF0000u) : s.limit;
        cpu_set_reg(c, d->ops[0].reg.value, d->ops[0].size == 16 ? r & 0xFFFF : r);
    }
    return CPU_CO_CONTINUE;
}

int cpu_co_verr_verw(struct cpu *c, const struct dec_insn *d)
{
    PM_ONLY(c, d);
    uint32_t v;
    int f = cpu_read_op(c, d, &d->ops[0], &v), pf;
    if (f)
        return co_fault(c, d, f);
    struct cpu_segment s;
    int ok = probe(c, (uint16_t)v, &s, &pf);
    if (pf)
        return co_fault(c, d, pf);
    if (ok) {
        unsigned t = SEGF_TYPE(s.flags);
        if (!SEGF_S(s.flags))
            ok = 0;
        else if (d->zi.mnemonic == ZYDIS_MNEMONIC_VERR)
            ok = !(t & 8) || (t & 2); /* data, or readable code */
        else
            ok = !(t & 8) && (t & 2); /* writable data */
    }
    set_zf(c, ok);
    return CPU_CO_CONTINUE;
}

/* SYSENTER/SYSEXIT (SDM vol. 2): CS/SS come from IA32_SYSENTER_CS with
 * fixed flat descriptor caches, no GDT read. */
struct cpu_segment cpu_fast_flat_seg(uint16_t sel, unsigned type, unsigned dpl)
{
    /* type | S | DPL | P | D/B | G (descriptor high dword bits 8..23) */
    struct cpu_segment s = { .sel = sel, .base = 0, .limit = 0xFFFFFFFFu,
                             .flags = type | CPU_SEGF_S | dpl << CPU_SEGF_DPL_SHIFT | CPU_SEGF_P | CPU_SEGF_DB | CPU_SEGF_G };
    return s;
}

static void fast_flat(struct cpu *c, int seg, uint16_t sel, unsigned type, unsigned dpl)
{
    struct cpu_segment s = cpu_fast_flat_seg(sel, type, dpl);
    cpu_set_seg(c, seg, &s);
}

int cpu_co_sysenter(struct cpu *c, const struct dec_insn *d)
{
    uint16_t cs = (uint16_t)c->msr_sysenter_cs;
    if (!(c->cr0 & CPU_CR0_PE) || !(cs & 0xFFFC))
        return co_fault(c, d, GP0);
    c->eflags &= ~(CPU_FL_VM | CPU_FL_IF | CPU_FL_RF);
    fast_flat(c, CPU_CS, cs & 0xFFFC, 0xB, 0);
    fast_flat(c, CPU_SS, (cs & 0xFFFC) + 8, 0x3, 0);
    c->cpl = 0;
    c->regs[CPU_ESP] = (uint32_t)c->msr_sysenter_esp;
    c->eip = (uint32_t)c->msr_sysenter_eip;
    return CPU_CO_EXIT;
}

int cpu_co_sysexit(struct cpu *c, const struct dec_insn *d)
{
    uint16_t cs = (uint16_t)c->msr_sysenter_cs;
    if (!(cs & 0xFFFC) || !cpu_pmode(c) || c->cpl != 0)
        return co_fault(c, d, GP0);
    fast_flat(c, CPU_CS, (uint16_t)((cs + 16) | 3), 0xB, 3);
    fast_flat(c, CPU_SS, (uint16_t)((cs + 24) | 3), 0x3, 3);
    c->cpl = 3;
    c->regs[CPU_ESP] = c->regs[CPU_ECX];
    c->eip = c->regs[CPU_EDX];
    return CPU_CO_EXIT;
}
