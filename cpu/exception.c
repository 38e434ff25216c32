/*
 * cpu/exception.c — exceptions and interrupts: cpu_raise() records a fault
 * for the engine, cpu_deliver_pending() delivers it (with the #DF / triple
 * fault rules of SDM vol. 3, 6.15 table 6-5), cpu_deliver() moves one event
 * through the IDT (protected mode, SDM vol. 3, 6.12) or the IVT (real mode),
 * and the int n / int3 / int1 / into callouts.
 *
 * cpu_deliver() checks everything before it commits anything, so a fault
 * while delivering leaves the interrupted state intact for the next event.
 *
 * cpu_deliver_pending() returns 0 (delivered or nothing pending), -1 (triple
 * fault: shut the machine down) or -2 (btvm cannot deliver it yet, e.g. a
 * task gate: c->unsupported says what) — -2 is an addition to cpu/cpu.h.
 */
#include "cpu/internal.h"

void cpu_raise(struct cpu *c, int vector, bool has_error, uint32_t error)
{
    c->pending_vector = vector;
    c->pending_has_error = has_error;
    c->pending_error = error;
}

/* Write one stack slot below *esp in the stack described by base/mask. */
static int push_raw(struct cpu *c, uint32_t base, uint32_t mask, uint32_t *esp, uint32_t v,
                    unsigned w)
{
    uint32_t n = (*esp & ~mask) | ((*esp - w) & mask);
    int f = cpu_mem_write(c, base + (n & mask), &v, w);
    if (!f)
        *esp = n;
    return f;
}

/* Room for n slots of w bytes below esp in a stack segment whose valid
 * offsets are [lo, hi] (offsets wrap at the stack size, mask). */
static bool stack_room(uint32_t lo, uint32_t hi, uint32_t mask, uint32_t esp, unsigned n, unsigned w)
{
    for (unsigned k = 1; k <= n; k++) {
        uint32_t off = (esp - k * w) & mask, last = off + w - 1;
        if (off < lo || last < off || last > hi)
            return false;
    }
    return true;
}

/* Real-address mode: IVT entry = offset:segment (SDM vol. 3, 20.1.4). */
static int deliver_real(struct cpu *c, int vec, uint32_t ret_eip)
{
    uint32_t ent, esp = c->regs[CPU_ESP];
    if ((uint32_t)vec * 4 + 3 > c->idtr.limit)
        return CPU_FAULT(CPU_VEC_GP, 0);
    int f = cpu_mem_read(c, c->idtr.base + vec * 4, &ent, 4);
    if (!f && !stack_room(c->seg_wlo[CPU_SS], c->seg_whi[CPU_SS], cpu_stack_mask(c), esp, 3, 2))
        f = CPU_FAULT(CPU_VEC_SS, 0);
    if (!f) f = cpu_push(c, &esp, c->eflags & 0xFFFF, 2);
    if (!f) f = cpu_push(c, &esp, c->segs[CPU_CS].sel, 2);
    if (!f) f = cpu_push(c, &esp, ret_eip & 0xFFFF, 2);
    if (f)
        return f;
    cpu_commit_esp(c, esp);
    struct cpu_segment cs = c->segs[CPU_CS];
    cs.sel = ent >> 16;
    cs.base = (uint32_t)cs.sel << 4;
    cpu_set_seg(c, CPU_CS, &cs);
    c->eip = ent & 0xFFFF;
    c->eflags &= ~(CPU_FL_IF | CPU_FL_TF | CPU_FL_AC | CPU_FL_RF);
    return 0;
}

static int deliver(struct cpu *c, int vec, bool has_error, uint32_t error, bool soft,
                   uint32_t ret_eip);

/* Every access of an event delivery is an implicit supervisor one (IDT, TSS,
 * the handler's stack — an interrupt to a CPL 3 handler is the exception
 * btvm does not distinguish). */
int cpu_deliver(struct cpu *c, int vec, bool has_error, uint32_t error, bool soft,
                uint32_t ret_eip)
{
    if (cpu_deliver_fast(c, vec, has_error, error, soft, ret_eip))
        return 0;
    c->sys_access++;
    int r = deliver(c, vec, has_error, error, soft, ret_eip);
    c->sys_access--;
    return r;
}

static int deliver(struct cpu *c, int vec, bool has_error, uint32_t error, bool soft,
                   uint32_t ret_eip)
{
    if (!(c->cr0 & CPU_CR0_PE))
        return deliver_real(c, vec, ret_eip);

    unsigned ext = soft ? 0 : 1;
    uint32_t idterr = (uint32_t)vec * 8 + 2 + ext;
    uint32_t lo, hi;
    if ((uint32_t)vec * 8 + 7 > c->idtr.limit)
        return CPU_FAULT(CPU_VEC_GP, idterr);
    uint32_t gate[2];
    int f = cpu_mem_read(c, c->idtr.base + vec * 8, gate, 8);
    if (f)
        return f;
    unsigned gtype = (gate[1] >> 8) & 0x1F; /* type + S bit */
    if (gtype == 0x05)
        return fault_stop(c, "task gate in the IDT (vector %d) not supported yet", vec);
    if (gtype != 0x06 && gtype != 0x07 && gtype != 0x0E && gtype != 0x0F)
        return CPU_FAULT(CPU_VEC_GP, idterr);
    if (soft && ((gate[1] >> 13) & 3) < c->cpl)
        return CPU_FAULT(CPU_VEC_GP, idterr);
    if (!(gate[1] & (CPU_SEGF_P << 8)))
        return CPU_FAULT(CPU_VEC_NP, idterr);
    bool g32 = gtype & 8, trap = gtype & 1;
    unsigned w = g32 ? 4 : 2;
    uint16_t sel = gate[0] >> 16;
    uint32_t off = (gate[0] & 0xFFFF) | (g32 ? (gate[1] & 0xFFFF0000u) : 0);

    /* Target code segment (SDM vol. 3, 6.12.1.1). */
    if (!(sel & ~3u))
        return CPU_FAULT(CPU_VEC_GP, ext);
    if ((f = cpu_read_desc(c, sel, &lo, &hi, CPU_VEC_GP, ext)))
        return f;
    struct cpu_segment cs;
    cpu_desc_parse(sel, lo, hi, &cs);
    if (!SEGF_S(cs.flags) || !(SEGF_TYPE(cs.flags) & 8) || SEGF_DPL(cs.flags) > c->cpl)
        return CPU_FAULT(CPU_VEC_GP, SEL_ERR(sel) | ext);
    if (!SEGF_P(cs.flags))
        return CPU_FAULT(CPU_VEC_NP, SEL_ERR(sel) | ext);
    bool conforming = SEGF_TYPE(cs.flags) & 4;
    unsigned ncpl = conforming ? c->cpl : SEGF_DPL(cs.flags);
    unsigned nslots = has_error ? 4 : 3;
    /* From virtual-8086 mode only to a ring-0 nonconforming handler, which
     * also gets GS, FS, DS, ES on its stack (SDM INT n,
     * INTERRUPT-FROM-VIRTUAL-8086-MODE). */
    bool v86 = c->eflags & CPU_FL_VM;
    if (v86 && ncpl != 0)
        return CPU_FAULT(CPU_VEC_GP, SEL_ERR(sel) | ext);
    if (v86)
        nslots += 4;

    uint32_t esp, ssbase, ssmask;
    struct cpu_segment ss;
    bool outer = ncpl < c->cpl;
    /* SDM INT n: the new stack (TSS SS:ESP, #TS/#SS) and its room are
     * checked before the handler offset against the CS limit. */
    if (outer) {
        /* Stack switch: SS:ESP for the new CPL from the 32-bit TSS. */
        unsigned ttype = SEGF_TYPE(c->tr.flags);
        if (ttype != 0x9 && ttype != 0xB)
            return fault_stop(c, "interrupt stack switch through a 16-bit or missing TSS "
                                 "not supported yet");
        uint32_t toff = 4 + ncpl * 8;
        if (toff + 5 > c->tr.limit)
            return CPU_FAULT(CPU_VEC_TS, SEL_ERR(c->tr.sel) | ext);
        uint16_t nss = 0;
        if ((f = cpu_mem_read(c, c->tr.base + toff, &esp, 4)) ||
            (f = cpu_mem_read(c, c->tr.base + toff + 4, &nss, 2)))
            return f;
        if ((f = cpu_check_ss(c, nss, ncpl, CPU_VEC_TS, ext, &ss)))
            return f;
        ssbase = ss.base;
        ssmask = SEGF_DB(ss.flags) ? 0xFFFFFFFFu : 0xFFFFu;
        bool expdown = SEGF_TYPE(ss.flags) & 4;
        if (!stack_room(expdown ? ss.limit + 1 : 0, expdown ? ssmask : ss.limit, ssmask, esp,
                        nslots + 2, w))
            return CPU_FAULT(CPU_VEC_SS, SEL_ERR(nss) | ext);
        if (off > cs.limit)
            return CPU_FAULT(CPU_VEC_GP, ext);
        static const int v86_segs[4] = { CPU_GS, CPU_FS, CPU_DS, CPU_ES };
        for (int i = 0; v86 && i < 4; i++)
            if ((f = push_raw(c, ssbase, ssmask, &esp, c->segs[v86_segs[i]].sel, w)))
                return f;
        if ((f = push_raw(c, ssbase, ssmask, &esp, c->segs[CPU_SS].sel, w)) ||
            (f = push_raw(c, ssbase, ssmask, &esp, c->regs[CPU_ESP], w)))
            return f;
    } else {
        esp = c->regs[CPU_ESP];
        ssbase = c->seg_base[CPU_SS];
        ssmask = cpu_stack_mask(c);
        if (!stack_room(c->seg_wlo[CPU_SS], c->seg_whi[CPU_SS], ssmask, esp, nslots, w))
            return CPU_FAULT(CPU_VEC_SS, ext);
        if (off > cs.limit)
            return CPU_FAULT(CPU_VEC_GP, ext);
    }
    if ((f = push_raw(c, ssbase, ssmask, &esp, c->eflags, w)) ||
        (f = push_raw(c, ssbase, ssmask, &esp, c->segs[CPU_CS].sel, w)) ||
        (f = push_raw(c, ssbase, ssmask, &esp, ret_eip, w)))
        return f;
    if (has_error && (f = push_raw(c, ssbase, ssmask, &esp, error, w)))
        return f;
    if ((f = cpu_mark_accessed(c, sel, hi)))
        return f;

    /* Commit. */
    if (outer) {
        cpu_mark_accessed(c, ss.sel, (ss.flags << 8));
        ss.flags |= 1;
        cpu_set_seg(c, CPU_SS, &ss);
    }
    c->regs[CPU_ESP] = esp;
    cs.sel = (sel & ~3u) | ncpl;
    cs.flags |= 1; /* accessed */
    cpu_set_seg(c, CPU_CS, &cs);
    c->cpl = ncpl;
    if (v86) {
        static const int data[4] = { CPU_ES, CPU_DS, CPU_FS, CPU_GS };
        for (int i = 0; i < 4; i++) {
            struct cpu_segment null = { 0 };
            cpu_set_seg(c, data[i], &null);
        }
    }
    c->eip = off;
    c->eflags &= ~(CPU_FL_TF | CPU_FL_NT | CPU_FL_RF | CPU_FL_VM);
    if (!trap)
        c->eflags &= ~CPU_FL_IF;
    c->halted = false;
    return 0;
}

static bool contributory(int v)
{
    return v == CPU_VEC_DE || (v >= CPU_VEC_TS && v <= CPU_VEC_GP);
}

int cpu_deliver_pending(struct cpu *c)
{
    if (c->pending_vector < 0)
        return CPU_DELIVERED;
    int vec = c->pending_vector;
    bool he = c->pending_has_error;
    uint32_t err = c->pending_error;
    c->pending_vector = -1;
    for (int round = 0; round < 4; round++) {
        int f = cpu_deliver(c, vec, he, err, false, c->eip);
        if (f == 0)
            return CPU_DELIVERED;
        if (f == CPU_FAULT_STOP)
            return CPU_DELIVERY_UNSUPPORTED;
        if (vec == CPU_VEC_DF)
            return CPU_DELIVERY_SHUTDOWN;
        int nv = CPU_FAULT_VEC(f);
        if ((contributory(vec) && contributory(nv)) ||
            (vec == CPU_VEC_PF && (nv == CPU_VEC_PF || contributory(nv)))) {
            vec = CPU_VEC_DF; he = true; err = 0;
        } else {
            /* Benign first event: handle the second one serially. */
            vec = nv; he = cpu_vec_has_error(nv); err = CPU_FAULT_ERR(f);
        }
    }
    return CPU_DELIVERY_SHUTDOWN;
}

/* Software interrupts return to the next instruction; a fault on the way
 * in (gate DPL, not present, ...) is a fault of the int instruction. */
static int soft_int(struct cpu *c, const struct dec_insn *d, int vec, bool soft)
{
    int f = cpu_deliver(c, vec, false, 0, soft, next_eip(d));
    if (f)
        return co_fault(c, d, f);
    return CPU_CO_EXIT;
}

int cpu_co_int(struct cpu *c, const struct dec_insn *d)
{
    /* INT n is IOPL-sensitive in virtual-8086 mode only (INT3, INTO and
     * INT1 are not). */
    if ((c->eflags & CPU_FL_VM) && cpu_iopl_denied(c))
        return co_fault(c, d, CPU_FAULT(CPU_VEC_GP, 0));
    return soft_int(c, d, (int)(d->ops[0].imm.value.u & 0xFF), true);
}

int cpu_co_int3(struct cpu *c, const struct dec_insn *d)
{
    return soft_int(c, d, CPU_VEC_BP, true);
}

/* INT1 (ICEBP, F1) is delivered like a hardware #DB: no gate DPL check. */
int cpu_co_int1(struct cpu *c, const struct dec_insn *d)
{
    return soft_int(c, d, CPU_VEC_DB, false);
}

int cpu_co_into(struct cpu *c, const struct dec_insn *d)
{
    if (!(c->eflags & CPU_FL_OF))
        return CPU_CO_CONTINUE;
    return soft_int(c, d, CPU_VEC_OF, true);
}

/* An external interrupt (INTR from the PIC): delivered at an instruction
 * boundary with EXT set in any error code a fault on the way in produces. */
int cpu_interrupt(struct cpu *c, int vector)
{
    c->halted = false;
    int f = cpu_deliver(c, vector, false, 0, false, c->eip);
    if (f == 0)
        return CPU_DELIVERED;
    if (f == CPU_FAULT_STOP)
        return CPU_DELIVERY_UNSUPPORTED;
    cpu_raise(c, CPU_FAULT_VEC(f), cpu_vec_has_error(CPU_FAULT_VEC(f)), CPU_FAULT_ERR(f));
    return cpu_deliver_pending(c);
}

/* An x87/MMX/SSE instruction while CR0.TS or CR0.EM is set (the translator
 * calls this instead of running it natively): SDM vol. 3 2.5 and 13.4 —
 * EM makes x87 instructions #NM and MMX/SSE ones #UD; otherwise TS gives
 * #NM (WAIT/FWAIT only when MP is also set). */
int cpu_co_fpu_unavailable(struct cpu *c, const struct dec_insn *d)
{
    bool x87 = d->zi.meta.isa_set == ZYDIS_ISA_SET_X87 || d->zi.meta.category == ZYDIS_CATEGORY_X87_ALU ||
               d->zi.mnemonic == ZYDIS_MNEMONIC_FWAIT;
    int vec = -1;
    if (d->zi.mnemonic == ZYDIS_MNEMONIC_FWAIT) {
        if ((c->cr0 & CPU_CR0_TS) && (c->cr0 & CPU_CR0_MP))
            vec = CPU_VEC_NM;
    } else if (c->cr0 & CPU_CR0_EM) {
        vec = x87 ? CPU_VEC_NM : CPU_VEC_UD;
    } else if (c->cr0 & CPU_CR0_TS) {
        vec = CPU_VEC_NM;
    }
    if (vec < 0) {
        /* Nothing to raise (FWAIT with MP clear): it runs as a no-op here,
         * the real FPU state being idle between instructions. */
        c->eip = d->eip + d->len;
        return CPU_CO_EXIT;
    }
    cpu_raise(c, vec, false, 0);
    c->eip = d->eip;
    return CPU_CO_EXIT;
}

/* DIV/IDIV by a register holding zero: the translator tests the divisor
 * inline and calls this instead of letting the host fault (a host SIGFPE
 * costs tens of microseconds). */
int cpu_co_divide_error(struct cpu *c, const struct dec_insn *d)
{
    cpu_raise(c, CPU_VEC_DE, false, 0);
    c->eip = d->eip;
    return CPU_CO_EXIT;
}

/* A memory access outside its segment's limit (or through an unusable
 * segment), found by the translator's inline bounds check (SDM vol. 3
 * 5.3): #GP(0), or #SS(0) when the segment is SS. */
int cpu_co_limit_fault(struct cpu *c, const struct dec_insn *d)
{
    cpu_raise(c, CPU_VEC_GP, true, 0);
    c->eip = d->eip;
    return CPU_CO_EXIT;
}

int cpu_co_stack_fault(struct cpu *c, const struct dec_insn *d)
{
    cpu_raise(c, CPU_VEC_SS, true, 0);
    c->eip = d->eip;
    return CPU_CO_EXIT;
}
