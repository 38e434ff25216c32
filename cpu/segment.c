/*
 * cpu/segment.c — descriptors and segment registers: descriptor fetch and
 * parsing, the protected-mode checks of segment loads (SDM vol. 3, 5.4-5.8
 * and the MOV/POP/LDS/JMP/CALL/RET/IRET pseudocode in vol. 2), and the
 * callouts that load segment registers or transfer control far.
 *
 * After a load, segs[i] and seg_base[i] change together. A CS/SS load or a
 * base change leaves translated code (CPU_CO_EXIT): the translation key and
 * the inline address math depend on them. Far CALL/JMP go through call
 * gates (with the stack switch of a CALL to an inner level); task gates and
 * TSS targets stop the VM with a message (no task switches).
 *
 * The memory these callouts touch is checked against its segment first
 * (SDM vol. 3 5.3): memory operands #GP(0) (#SS(0) through SS), the
 * current stack #SS(0), a new inner stack #SS(its selector) — all before
 * anything is written.
 */
#include "cpu/internal.h"

/* ---- segment bounds of callout accesses ------------------------------- */

/* Is [off, off+len) inside [lo, hi] without wrapping? */
static bool in_bounds(uint32_t lo, uint32_t hi, uint32_t off, unsigned len)
{
    uint32_t last = off + len - 1;
    return off >= lo && last >= off && last <= hi;
}

/* A memory operand of len bytes inside its segment (cpu_seg_bounds). */
static int op_check(const struct cpu *c, const struct dec_insn *d, const ZydisDecodedOperand *op,
                    unsigned len, bool wr)
{
    if (op->type != ZYDIS_OPERAND_TYPE_MEMORY)
        return 0;
    int s = cpu_seg_of(op->mem.segment);
    if (s < 0)
        return 0;
    uint32_t off = cpu_ea(c, d, op) - c->seg_base[s];
    bool ok = wr ? in_bounds(c->seg_wlo[s], c->seg_whi[s], off, len)
                 : in_bounds(c->seg_lo[s], c->seg_hi[s], off, len);
    return ok ? 0 : CPU_FAULT(s == CPU_SS ? CPU_VEC_SS : CPU_VEC_GP, 0);
}

/* n stack slots of w bytes at esp + first + k*w (offsets wrap at the stack
 * size, mask) all inside [lo, hi]? */
static bool stack_fits(uint32_t lo, uint32_t hi, uint32_t mask, uint32_t esp, int32_t first,
                       unsigned n, unsigned w)
{
    for (unsigned k = 0; k < n; k++)
        if (!in_bounds(lo, hi, (esp + (uint32_t)first + k * w) & mask, w))
            return false;
    return true;
}

/* Room to push n slots below esp on the current stack ("stack does not
 * have room": #SS(0)). */
static int ss_room(const struct cpu *c, uint32_t esp, unsigned n, unsigned w)
{
    return stack_fits(c->seg_wlo[CPU_SS], c->seg_whi[CPU_SS], cpu_stack_mask(c), esp,
                      -(int32_t)(n * w), n, w) ? 0 : CPU_FAULT(CPU_VEC_SS, 0);
}

/* n slots to pop at esp ("not within stack limits": #SS(0)). */
static int ss_top(const struct cpu *c, uint32_t esp, unsigned n, unsigned w)
{
    return stack_fits(c->seg_lo[CPU_SS], c->seg_hi[CPU_SS], cpu_stack_mask(c), esp, 0, n, w)
           ? 0 : CPU_FAULT(CPU_VEC_SS, 0);
}

/* ---- descriptors ------------------------------------------------------ */

static int desc_table(const struct cpu *c, uint16_t sel, uint32_t *base, uint32_t *limit)
{
    if (sel & 4) {
        if (!(c->ldtr.sel & ~3u) || !SEGF_P(c->ldtr.flags))
            return -1;
        *base = c->ldtr.base;
        *limit = c->ldtr.limit;
    } else {
        *base = c->gdtr.base;
        *limit = c->gdtr.limit;
    }
    return 0;
}

int cpu_read_desc(struct cpu *c, uint16_t sel, uint32_t *lo, uint32_t *hi, int errvec, unsigned ext)
{
    uint32_t base, limit, v[2];
    if (desc_table(c, sel, &base, &limit) || (uint32_t)(sel | 7) > limit)
        return CPU_FAULT(errvec, SEL_ERR(sel) | ext);
    int f = cpu_sys_read(c, base + (sel & ~7u), v, 8);
    if (f)
        return f;
    *lo = v[0];
    *hi = v[1];
    return 0;
}

void cpu_desc_parse(uint16_t sel, uint32_t lo, uint32_t hi, struct cpu_segment *s)
{
    s->sel = sel;
    s->base = (lo >> 16) | ((hi & 0xFF) << 16) | (hi & 0xFF000000u);
    s->limit = (lo & 0xFFFF) | (hi & 0xF0000);
    if (hi & (1u << 23))
        s->limit = (s->limit << 12) | 0xFFF;
    s->flags = (hi >> 8) & 0xFFFF;
}

void cpu_set_seg(struct cpu *c, int seg, const struct cpu_segment *s)
{
    c->segs[seg] = *s;
    c->seg_base[seg] = s->base;
    cpu_seg_bounds(c, seg);
}

/* Code and data descriptors get their accessed bit set on load. */
int cpu_mark_accessed(struct cpu *c, uint16_t sel, uint32_t hi)
{
    uint32_t base, limit;
    if (!(hi & 0x1000) || (hi & 0x100) || desc_table(c, sel, &base, &limit))
        return 0;
    uint8_t b = ((hi >> 8) & 0xFF) | 1;
    return cpu_sys_write(c, base + (sel & ~7u) + 5, &b, 1);
}

int cpu_check_ss(struct cpu *c, uint16_t sel, unsigned cpl, int errvec, unsigned ext,
                 struct cpu_segment *out)
{
    uint32_t lo, hi;
    if (!(sel & ~3u))
        return CPU_FAULT(errvec, ext);
    if ((sel & 3) != cpl)
        return CPU_FAULT(errvec, SEL_ERR(sel) | ext);
    int f = cpu_read_desc(c, sel, &lo, &hi, errvec, ext);
    if (f)
        return f;
    cpu_desc_parse(sel, lo, hi, out);
    unsigned t = SEGF_TYPE(out->flags);
    if (!SEGF_S(out->flags) || (t & 8) || !(t & 2) || SEGF_DPL(out->flags) != cpl)
        return CPU_FAULT(errvec, SEL_ERR(sel) | ext);
    if (!SEGF_P(out->flags))
        return CPU_FAULT(CPU_VEC_SS, SEL_ERR(sel) | ext);
    return 0;
}

int cpu_load_seg(struct cpu *c, int seg, uint16_t sel)
{
    struct cpu_segment s;
    uint32_t lo, hi;
    int f;
    if (!cpu_pmode(c)) {
        s = c->segs[seg];
        s.sel = sel;
        s.base = (uint32_t)sel << 4;
        cpu_set_seg(c, seg, &s);
        return 0;
    }
    if (seg == CPU_SS) {
        if ((f = cpu_check_ss(c, sel, c->cpl, CPU_VEC_GP, 0, &s)))
            return f;
        hi = s.flags << 8;
    } else {
        if (!(sel & ~3u)) {
            /* Null selector: loads fine, faults on use (later issue). */
            s = c->segs[seg];
            s.sel = sel;
            s.flags = 0;
            cpu_set_seg(c, seg, &s);
            return 0;
        }
        if ((f = cpu_read_desc(c, sel, &lo, &hi, CPU_VEC_GP, 0)))
            return f;
        cpu_desc_parse(sel, lo, hi, &s);
        unsigned t = SEGF_TYPE(s.flags), dpl = SEGF_DPL(s.flags);
        if (!SEGF_S(s.flags) || ((t & 8) && !(t & 2)))
            return CPU_FAULT(CPU_VEC_GP, SEL_ERR(sel));
        if ((!(t & 8) || !(t & 4)) && ((sel & 3u) > dpl || c->cpl > dpl))
            return CPU_FAULT(CPU_VEC_GP, SEL_ERR(sel));
        if (!SEGF_P(s.flags))
            return CPU_FAULT(CPU_VEC_NP, SEL_ERR(sel));
    }
    if ((f = cpu_mark_accessed(c, sel, hi)))
        return f;
    s.flags |= 1;
    cpu_set_seg(c, seg, &s);
    return 0;
}

/* On a return to an outer level, data segments the new CPL may not use
 * become null (SDM vol. 2, RET / IRET pseudocode). */
void cpu_null_outer_segs(struct cpu *c)
{
    static const int segs[] = { CPU_ES, CPU_DS, CPU_FS, CPU_GS };
    for (unsigned i = 0; i < 4; i++) {
        struct cpu_segment *s = &c->segs[segs[i]];
        unsigned t = SEGF_TYPE(s->flags);
        bool conf_code = (t & 8) && (t & 4);
        if ((s->sel & ~3u) && !conf_code && SEGF_DPL(s->flags) < c->cpl) {
            s->sel = 0;
            s->flags = 0;
            cpu_seg_bounds(c, segs[i]);
        }
    }
}

/* ---- MOV / PUSH / POP / Lxx of segment registers ---------------------- */

/* A load of CS, DS, ES or SS may change the translation key (base, limit,
 * expand-down: bt_mode_key), so translated code is left, unless the key
 * cannot have changed: DS or ES came out exactly as they were (a kernel
 * entry reloading the selectors they already hold, as Linux does on every
 * system call and interrupt), or the segments were not flat before the
 * load and are not after it (real-mode and 16-bit code reloading DS/ES
 * all the time: non-flat translations read bases and bounds at run time).
 * FS and GS are not in the key (their accesses read base and bounds at
 * run time): the block goes on. SS always leaves: its load also holds off
 * interrupts for one instruction, which the dispatcher models. */
static int after_load(struct cpu *c, const struct dec_insn *d, int seg, const struct cpu_segment *old,
                      bool was_nonflat)
{
    const struct cpu_segment *s = &c->segs[seg];
    if (seg == CPU_FS || seg == CPU_GS)
        return CPU_CO_CONTINUE;
    if ((seg == CPU_DS || seg == CPU_ES) &&
        ((s->sel == old->sel && s->base == old->base && s->limit == old->limit &&
          s->flags == old->flags) || (was_nonflat && cpu_segs_nonflat(c))))
        return CPU_CO_CONTINUE;
    c->eip = next_eip(d);
    return CPU_CO_EXIT;
}

int cpu_co_mov_to_sreg(struct cpu *c, const struct dec_insn *d)
{
    int seg = cpu_seg_of(d->ops[0].reg.value);
    if (seg == CPU_CS || seg < 0)
        return co_fault(c, d, CPU_FAULT(CPU_VEC_UD, 0));
    uint32_t v;
    struct cpu_segment old = c->segs[seg];
    bool nonflat = cpu_segs_nonflat(c);
    int f = op_check(c, d, &d->ops[1], 2, false);
    if (!f)
        f = cpu_read_op(c, d, &d->ops[1], &v);
    if (!f)
        f = cpu_load_seg(c, seg, (uint16_t)v);
    return f ? co_fault(c, d, f) : after_load(c, d, seg, &old, nonflat);
}

int cpu_co_mov_from_sreg(struct cpu *c, const struct dec_insn *d)
{
    int seg = cpu_seg_of(d->ops[1].reg.value);
    uint32_t sel = c->segs[seg].sel;
    const ZydisDecodedOperand *dst = &d->ops[0];
    int f;
    if (dst->type == ZYDIS_OPERAND_TYPE_MEMORY) {
        uint16_t v = (uint16_t)sel;
        f = op_check(c, d, dst, 2, true);
        if (!f)
            f = cpu_mem_write(c, cpu_ea(c, d, dst), &v, 2); /* always a 16-bit store */
    } else {
        cpu_set_reg(c, dst->reg.value, sel); /* r32: zero-extended (P6 and later) */
        f = 0;
    }
    return f ? co_fault(c, d, f) : CPU_CO_CONTINUE;
}

int cpu_co_push_sreg(struct cpu *c, const struct dec_insn *d)
{
    int seg = cpu_seg_of(d->ops[0].reg.value);
    unsigned w = d->zi.operand_width / 8;
    uint32_t esp = c->regs[CPU_ESP], m = cpu_stack_mask(c);
    uint32_t n = (esp & ~m) | ((esp - w) & m);
    /* 32-bit push of a selector writes 16 bits (recent Intel cores). */
    uint16_t v = c->segs[seg].sel;
    int f = ss_room(c, esp, 1, w);
    if (!f)
        f = cpu_mem_write(c, c->seg_base[CPU_SS] + (n & m), &v, 2);
    if (f)
        return co_fault(c, d, f);
    cpu_commit_esp(c, n);
    return CPU_CO_CONTINUE;
}

int cpu_co_pop_sreg(struct cpu *c, const struct dec_insn *d)
{
    int seg = cpu_seg_of(d->ops[0].reg.value);
    unsigned w = d->zi.operand_width / 8;
    uint32_t esp = c->regs[CPU_ESP], v;
    struct cpu_segment old = c->segs[seg];
    bool nonflat = cpu_segs_nonflat(c);
    int f = ss_top(c, esp, 1, w);
    if (!f)
        f = cpu_pop(c, &esp, &v, w);
    if (!f)
        f = cpu_load_seg(c, seg, (uint16_t)v);
    if (f)
        return co_fault(c, d, f);
    cpu_commit_esp(c, esp);
    return after_load(c, d, seg, &old, nonflat);
}

/* LDS/LES/LFS/LGS/LSS r, m16:16/m16:32. */
int cpu_co_lxs(struct cpu *c, const struct dec_insn *d)
{
    int seg;
    switch (d->zi.mnemonic) {
    case ZYDIS_MNEMONIC_LDS: seg = CPU_DS; break;
    case ZYDIS_MNEMONIC_LES: seg = CPU_ES; break;
    case ZYDIS_MNEMONIC_LFS: seg = CPU_FS; break;
    case ZYDIS_MNEMONIC_LGS: seg = CPU_GS; break;
    default: seg = CPU_SS; break;
    }
    unsigned w = d->zi.operand_width / 8;
    uint32_t lin = cpu_ea(c, d, &d->ops[1]), off = 0;
    struct cpu_segment old = c->segs[seg];
    bool nonflat = cpu_segs_nonflat(c);
    uint16_t sel;
    int f = op_check(c, d, &d->ops[1], w + 2, false);
    if (!f) f = cpu_mem_read(c, lin, &off, w);
    if (!f) f = cpu_mem_read(c, lin + w, &sel, 2);
    if (!f) f = cpu_load_seg(c, seg, sel);
    if (f)
        return co_fault(c, d, f);
    cpu_set_reg(c, d->ops[0].reg.value, off);
    return after_load(c, d, seg, &old, nonflat);
}

/* ---- far transfers ---------------------------------------------------- */

/* Checks for a far JMP/CALL target at the same privilege (SDM vol. 2 JMP:
 * "conforming/nonconforming code segment"); the offset limit is checked by
 * the caller, after a CALL's stack room. A call gate sets *gate (its
 * descriptor in glo/ghi) and leaves the rest to gate_transfer(). */
static int far_target(struct cpu *c, uint16_t sel, struct cpu_segment *cs,
                      uint32_t *hi_out, bool *gate, uint32_t *glo, const char *what)
{
    uint32_t lo, hi;
    if (!(sel & ~3u))
        return CPU_FAULT(CPU_VEC_GP, 0);
    int f = cpu_read_desc(c, sel, &lo, &hi, CPU_VEC_GP, 0);
    if (f)
        return f;
    cpu_desc_parse(sel, lo, hi, cs);
    unsigned t = SEGF_TYPE(cs->flags), dpl = SEGF_DPL(cs->flags);
    if (!SEGF_S(cs->flags)) {
        if (t == 0x4 || t == 0xC) {
            *gate = true;
            *glo = lo;
            *hi_out = hi;
            return 0;
        }
        if (t == 0x5 || t == 0x1 || t == 0x9)
            return fault_stop(c, "far %s to a task gate or TSS (selector %04x): task switches "
                                 "are not supported", what, sel);
        return CPU_FAULT(CPU_VEC_GP, SEL_ERR(sel));
    }
    if (!(t & 8))
        return CPU_FAULT(CPU_VEC_GP, SEL_ERR(sel));
    if (t & 4) {
        if (dpl > c->cpl)
            return CPU_FAULT(CPU_VEC_GP, SEL_ERR(sel));
    } else if ((sel & 3u) > c->cpl || dpl != c->cpl) {
        return CPU_FAULT(CPU_VEC_GP, SEL_ERR(sel));
    }
    if (!SEGF_P(cs->flags))
        return CPU_FAULT(CPU_VEC_NP, SEL_ERR(sel));
    *hi_out = hi;
    return 0;
}

static void load_cs(struct cpu *c, struct cpu_segment *cs, unsigned cpl, uint32_t eip)
{
    if (cpu_pmode(c)) {
        cs->sel = (cs->sel & ~3u) | cpl;
        cs->flags |= 1;
        c->cpl = cpl;
    }
    cpu_set_seg(c, CPU_CS, cs);
    c->eip = eip;
}

static void real_cs(struct cpu *c, uint16_t sel, struct cpu_segment *cs)
{
    *cs = c->segs[CPU_CS];
    cs->sel = sel;
    cs->base = (uint32_t)sel << 4;
}

/* Selector and offset of a far JMP/CALL: ptr16:16/32 or m16:16/32. */
static int far_operand(struct cpu *c, const struct dec_insn *d, uint16_t *sel, uint32_t *off)
{
    const ZydisDecodedOperand *op = &d->ops[0];
    unsigned w = d->zi.operand_width / 8;
    if (op->type == ZYDIS_OPERAND_TYPE_POINTER) {
        *sel = op->ptr.segment;
        *off = op->ptr.offset;
        return 0;
    }
    uint32_t lin = cpu_ea(c, d, op);
    *off = 0;
    int f = op_check(c, d, op, w + 2, false);
    if (!f)
        f = cpu_mem_read(c, lin, off, w);
    return f ? f : cpu_mem_read(c, lin + w, sel, 2);
}

/* SS:ESP for privilege level pl from the current TSS (SDM vol. 2 CALL,
 * MORE-PRIVILEGE: 32-bit TSS at 4 + 8*pl, 16-bit TSS at 2 + 4*pl). */
static int tss_stack(struct cpu *c, unsigned pl, uint16_t *ss, uint32_t *esp)
{
    unsigned t = SEGF_TYPE(c->tr.flags);
    bool t32 = t == 0x9 || t == 0xB;
    if (!t32 && t != 0x1 && t != 0x3)
        return CPU_FAULT(CPU_VEC_TS, SEL_ERR(c->tr.sel));
    uint32_t off = t32 ? 4 + pl * 8 : 2 + pl * 4, w = t32 ? 4 : 2;
    if (off + w + 1 > c->tr.limit)
        return CPU_FAULT(CPU_VEC_TS, SEL_ERR(c->tr.sel));
    *esp = 0;
    int f = cpu_sys_read(c, c->tr.base + off, esp, w);
    return f ? f : cpu_sys_read(c, c->tr.base + off + w, ss, 2);
}

/* One push onto the stack described by base/mask (the new stack of a
 * privilege change, not yet in c->segs[CPU_SS]). */
static int push_on(struct cpu *c, uint32_t base, uint32_t mask, uint32_t *esp, uint32_t v,
                   unsigned w)
{
    uint32_t n = (*esp & ~mask) | ((*esp - w) & mask);
    int f = cpu_sys_write(c, base + (n & mask), &v, w);
    if (!f)
        *esp = n;
    return f;
}

/* Far CALL/JMP through a call gate (SDM vol. 2 CALL/JMP "CALL-GATE",
 * vol. 3 5.8.4-5.8.5). The gate's size, not the operand size, sets the
 * width of what is pushed. Only a CALL to a more privileged nonconforming
 * segment switches stacks (to the TSS stack of the target DPL) and copies
 * the gate's parameter count of dwords/words from the caller's stack.
 * Everything is checked and written before anything is committed. */
static int gate_transfer(struct cpu *c, uint16_t gsel, uint32_t glo, uint32_t ghi, bool call,
                         uint32_t ret_eip)
{
    unsigned gdpl = (ghi >> 13) & 3;
    bool g32 = ghi & 0x800;
    unsigned w = g32 ? 4 : 2, nparam = ghi & 0x1F;
    if (gdpl < c->cpl || (gsel & 3u) > gdpl)
        return CPU_FAULT(CPU_VEC_GP, SEL_ERR(gsel));
    if (!(ghi & (CPU_SEGF_P << 8)))
        return CPU_FAULT(CPU_VEC_NP, SEL_ERR(gsel));
    uint16_t sel = glo >> 16;
    uint32_t off = (glo & 0xFFFF) | (g32 ? (ghi & 0xFFFF0000u) : 0), lo, hi;
    if (!(sel & ~3u))
        return CPU_FAULT(CPU_VEC_GP, 0);
    int f = cpu_read_desc(c, sel, &lo, &hi, CPU_VEC_GP, 0);
    if (f)
        return f;
    struct cpu_segment cs, ss;
    cpu_desc_parse(sel, lo, hi, &cs);
    unsigned t = SEGF_TYPE(cs.flags), dpl = SEGF_DPL(cs.flags);
    bool conforming = t & 4;
    if (!SEGF_S(cs.flags) || !(t & 8) || dpl > c->cpl ||
        (!call && !conforming && dpl != c->cpl))
        return CPU_FAULT(CPU_VEC_GP, SEL_ERR(sel));
    if (!SEGF_P(cs.flags))
        return CPU_FAULT(CPU_VEC_NP, SEL_ERR(sel));
    bool inner = call && !conforming && dpl < c->cpl;
    unsigned ncpl = inner ? dpl : c->cpl;

    uint32_t esp = c->regs[CPU_ESP];
    if (inner) {
        uint16_t nss = 0;
        uint32_t nesp;
        if ((f = tss_stack(c, ncpl, &nss, &nesp)) ||
            (f = cpu_check_ss(c, nss, ncpl, CPU_VEC_TS, 0, &ss)))
            return f;
        uint32_t base = ss.base, m = SEGF_DB(ss.flags) ? 0xFFFFFFFFu : 0xFFFFu;
        uint32_t obase = c->seg_base[CPU_SS], om = cpu_stack_mask(c);
        /* The new stack needs room for SS, ESP, the parameters, CS, EIP:
         * #SS(new SS) otherwise; the parameters must be inside the
         * caller's stack. */
        uint32_t lo = 0, hi = ss.limit;
        if (SEGF_TYPE(ss.flags) & 4) { /* expand-down */
            lo = ss.limit + 1;
            hi = m;
        }
        if (!stack_fits(lo, hi, m, nesp, -(int32_t)((4 + nparam) * w), 4 + nparam, w))
            return CPU_FAULT(CPU_VEC_SS, SEL_ERR(nss));
        if ((f = ss_top(c, esp, nparam, w)))
            return f;
        if (off > cs.limit)
            return CPU_FAULT(CPU_VEC_GP, 0);
        if ((f = push_on(c, base, m, &nesp, c->segs[CPU_SS].sel, w)) ||
            (f = push_on(c, base, m, &nesp, esp, w)))
            return f;
        /* Parameters keep their order: the one at the caller's ESP ends
         * up right above the return address. */
        for (unsigned i = nparam; i-- > 0;) {
            uint32_t v = 0;
            if ((f = cpu_mem_read(c, obase + ((esp + i * w) & om), &v, w)) ||
                (f = push_on(c, base, m, &nesp, v, w)))
                return f;
        }
        if ((f = push_on(c, base, m, &nesp, c->segs[CPU_CS].sel, w)) ||
            (f = push_on(c, base, m, &nesp, ret_eip, w)))
            return f;
        esp = nesp;
    } else {
        if (call && (f = ss_room(c, esp, 2, w)))
            return f;
        if (off > cs.limit)
            return CPU_FAULT(CPU_VEC_GP, 0);
        if (call && ((f = cpu_push(c, &esp, c->segs[CPU_CS].sel, w)) ||
                     (f = cpu_push(c, &esp, ret_eip, w))))
            return f;
    }
    if ((f = cpu_mark_accessed(c, sel, hi)))
        return f;
    if (inner) {
        if ((f = cpu_mark_accessed(c, ss.sel, ss.flags << 8)))
            return f;
        ss.flags |= 1;
        cpu_set_seg(c, CPU_SS, &ss);
    }
    c->regs[CPU_ESP] = esp;
    load_cs(c, &cs, ncpl, off);
    return 0;
}

static int far_jmp_call(struct cpu *c, const struct dec_insn *d, bool call)
{
    uint16_t sel;
    uint32_t off, hi = 0, glo = 0, esp = c->regs[CPU_ESP];
    unsigned w = d->zi.operand_width / 8;
    struct cpu_segment cs;
    bool gate = false;
    int f = far_operand(c, d, &sel, &off);
    if (f)
        return co_fault(c, d, f);
    if (w == 2)
        off &= 0xFFFF;
    if (cpu_pmode(c)) {
        if ((f = far_target(c, sel, &cs, &hi, &gate, &glo, call ? "call" : "jmp")))
            return co_fault(c, d, f);
        if (gate) {
            if ((f = gate_transfer(c, sel, glo, hi, call, next_eip(d))))
                return co_fault(c, d, f);
            return CPU_CO_EXIT;
        }
    } else {
        real_cs(c, sel, &cs);
    }
    /* Room for the return address, then the target offset (SDM CALL). */
    if (call && (f = ss_room(c, esp, 2, w)))
        return co_fault(c, d, f);
    if (off > cs.limit)
        return co_fault(c, d, CPU_FAULT(CPU_VEC_GP, 0));
    if (call && ((f = cpu_push(c, &esp, c->segs[CPU_CS].sel, w)) ||
                 (f = cpu_push(c, &esp, next_eip(d), w))))
        return co_fault(c, d, f);
    if (cpu_pmode(c) && (f = cpu_mark_accessed(c, sel, hi)))
        return co_fault(c, d, f);
    cpu_commit_esp(c, esp);
    load_cs(c, &cs, c->cpl, off);
    return CPU_CO_EXIT;
}

int cpu_co_jmp_far(struct cpu *c, const struct dec_insn *d) { return far_jmp_call(c, d, false); }
int cpu_co_call_far(struct cpu *c, const struct dec_insn *d) { return far_jmp_call(c, d, true); }

/* Code segment to return to (RET far / IRET): checks against RPL. */
static int return_cs(struct cpu *c, uint16_t sel, struct cpu_segment *cs, uint32_t *hi_out)
{
    uint32_t lo, hi;
    if (!(sel & ~3u))
        return CPU_FAULT(CPU_VEC_GP, 0);
    int f = cpu_read_desc(c, sel, &lo, &hi, CPU_VEC_GP, 0);
    if (f)
        return f;
    cpu_desc_parse(sel, lo, hi, cs);
    unsigned t = SEGF_TYPE(cs->flags), dpl = SEGF_DPL(cs->flags), rpl = sel & 3u;
    if (!SEGF_S(cs->flags) || !(t & 8) || rpl < c->cpl)
        return CPU_FAULT(CPU_VEC_GP, SEL_ERR(sel));
    if ((t & 4) ? dpl > rpl : dpl != rpl)
        return CPU_FAULT(CPU_VEC_GP, SEL_ERR(sel));
    if (!SEGF_P(cs->flags))
        return CPU_FAULT(CPU_VEC_NP, SEL_ERR(sel));
    *hi_out = hi;
    return 0;
}

/* Shared tail of RET far and IRET in protected mode: CS:EIP already
 * popped; for an outer return pop SS:ESP too. */
struct far_ret {
    uint16_t cs_sel;
    uint32_t eip, esp;
    struct cpu_segment cs, ss;
    uint32_t cs_hi;
    bool outer;
};

static int far_ret_check(struct cpu *c, struct far_ret *r, unsigned w, uint32_t imm)
{
    int f = return_cs(c, r->cs_sel, &r->cs, &r->cs_hi);
    if (f)
        return f;
    uint32_t m = cpu_stack_mask(c);
    r->esp = (r->esp & ~m) | ((r->esp + imm) & m);
    r->outer = (r->cs_sel & 3u) > c->cpl;
    if (r->outer) {
        uint32_t nesp = 0, nss = 0;
        if ((f = ss_top(c, r->esp, 2, w)) || (f = cpu_pop(c, &r->esp, &nesp, w)) ||
            (f = cpu_pop(c, &r->esp, &nss, w)))
            return f;
        if ((f = cpu_check_ss(c, (uint16_t)nss, r->cs_sel & 3u, CPU_VEC_GP, 0, &r->ss)))
            return f;
        uint32_t nm = SEGF_DB(r->ss.flags) ? 0xFFFFFFFFu : 0xFFFFu;
        r->esp = (nesp & ~nm) | ((nesp + imm) & nm);
    }
    if (r->eip > r->cs.limit)
        return CPU_FAULT(CPU_VEC_GP, 0);
    if ((f = cpu_mark_accessed(c, r->cs_sel, r->cs_hi)))
        return f;
    if (r->outer && (f = cpu_mark_accessed(c, r->ss.sel, r->ss.flags << 8)))
        return f;
    return 0;
}

static void far_ret_commit(struct cpu *c, struct far_ret *r)
{
    unsigned ncpl = r->cs_sel & 3u;
    if (r->outer) {
        r->ss.flags |= 1;
        cpu_set_seg(c, CPU_SS, &r->ss);
    }
    c->regs[CPU_ESP] = r->esp;
    load_cs(c, &r->cs, ncpl, r->eip);
    if (r->outer)
        cpu_null_outer_segs(c);
}

int cpu_co_ret_far(struct cpu *c, const struct dec_insn *d)
{
    unsigned w = d->zi.operand_width / 8;
    uint32_t imm = d->ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE ? (uint32_t)d->ops[0].imm.value.u & 0xFFFF : 0;
    struct far_ret r = { .esp = c->regs[CPU_ESP] };
    uint32_t sel = 0;
    int f;
    if ((f = ss_top(c, r.esp, 2, w)) || (f = cpu_pop(c, &r.esp, &r.eip, w)) ||
        (f = cpu_pop(c, &r.esp, &sel, w)))
        return co_fault(c, d, f);
    r.cs_sel = (uint16_t)sel;
    if (!cpu_pmode(c)) {
        uint32_t m = cpu_stack_mask(c);
        r.esp = (r.esp & ~m) | ((r.esp + imm) & m);
        c->regs[CPU_ESP] = r.esp;
        real_cs(c, r.cs_sel, &r.cs);
        load_cs(c, &r.cs, 0, r.eip);
        return CPU_CO_EXIT;
    }
    if ((f = far_ret_check(c, &r, w, imm)))
        return co_fault(c, d, f);
    far_ret_commit(c, &r);
    return CPU_CO_EXIT;
}

/* A segment as virtual-8086 mode has it: base selector * 16, limit FFFF,
 * a present DPL 3 read/write data segment (SDM vol. 3 20.2.1). */
static void v86_seg(struct cpu *c, int seg, uint16_t sel)
{
    struct cpu_segment s = { .sel = sel, .base = (uint32_t)sel << 4, .limit = 0xFFFF,
                             .flags = 0x3 | CPU_SEGF_S | (3u << CPU_SEGF_DPL_SHIFT) | CPU_SEGF_P };
    cpu_set_seg(c, seg, &s);
}

/* IRETD at CPL 0 with VM set in the popped EFLAGS (SDM IRET,
 * RETURN-TO-VIRTUAL-8086-MODE): ESP, SS, ES, DS, FS, GS follow on the
 * stack; every segment is loaded v8086-style, the CPL becomes 3. */
static int iret_to_v86(struct cpu *c, const struct dec_insn *d, struct far_ret *r, uint32_t fl)
{
    uint32_t v[6];
    int f = ss_top(c, r->esp, 6, 4);
    for (int i = 0; !f && i < 6; i++)
        f = cpu_pop(c, &r->esp, &v[i], 4);
    if (f)
        return co_fault(c, d, f);
    c->eflags = (fl & 0x3F7FD5u) | CPU_FL_FIX1;
    c->cpl = 3;
    static const int order[5] = { CPU_SS, CPU_ES, CPU_DS, CPU_FS, CPU_GS };
    for (int i = 0; i < 5; i++)
        v86_seg(c, order[i], (uint16_t)v[i + 1]);
    v86_seg(c, CPU_CS, r->cs_sel);
    c->regs[CPU_ESP] = v[0];
    c->eip = r->eip & 0xFFFF;
    return CPU_CO_EXIT;
}

/* IRET/IRETD (SDM vol. 2 IRET pseudocode: REAL-ADDRESS-MODE,
 * PROTECTED-MODE-RETURN to same or outer privilege). */
int cpu_co_iret(struct cpu *c, const struct dec_insn *d)
{
    unsigned w = d->zi.operand_width / 8;
    if (w == 4 && cpu_iret_fast(c))
        return CPU_CO_EXIT;
    struct far_ret r = { .esp = c->regs[CPU_ESP] };
    uint32_t sel = 0, fl = 0;
    int f;
    if ((f = ss_top(c, r.esp, 3, w)) || (f = cpu_pop(c, &r.esp, &r.eip, w)) ||
        (f = cpu_pop(c, &r.esp, &sel, w)) ||
        (f = cpu_pop(c, &r.esp, &fl, w)))
        return co_fault(c, d, f);
    r.cs_sel = (uint16_t)sel;
    uint32_t mask;
    if (!cpu_pmode(c)) {
        mask = 0x257FD5; /* everything but VM, VIF, VIP, reserved */
        if (c->eflags & CPU_FL_VM) {
            /* v8086 at IOPL 3 returns as in real mode but keeps IOPL
             * (SDM IRET, RETURN-FROM-VIRTUAL-8086-MODE); else #GP(0). */
            if (cpu_iopl_denied(c))
                return co_fault(c, d, CPU_FAULT(CPU_VEC_GP, 0));
            mask &= ~CPU_FL_IOPL;
        }
        if (w == 2)
            mask &= 0xFFFF;
        c->regs[CPU_ESP] = r.esp;
        real_cs(c, r.cs_sel, &r.cs);
        load_cs(c, &r.cs, 0, w == 2 ? r.eip & 0xFFFF : r.eip);
        c->eflags = (c->eflags & ~mask) | (fl & mask) | CPU_FL_FIX1;
        return CPU_CO_EXIT;
    }
    if (c->eflags & CPU_FL_NT)
        return co_stop(c, "iret with NT=1 (task return) not supported yet");
    if (w == 4 && (fl & CPU_FL_VM) && c->cpl == 0)
        return iret_to_v86(c, d, &r, fl);
    if (w == 2)
        r.eip &= 0xFFFF;
    if ((f = far_ret_check(c, &r, w, 0)))
        return co_fault(c, d, f);
    mask = CPU_FL_ARITH | CPU_FL_TF | CPU_FL_DF | CPU_FL_NT | CPU_FL_RF | CPU_FL_AC | CPU_FL_ID;
    if (c->cpl <= cpu_iopl(c))
        mask |= CPU_FL_IF;
    if (c->cpl == 0)
        mask |= CPU_FL_IOPL | CPU_FL_VIF | CPU_FL_VIP;
    if (w == 2)
        mask &= 0xFFFF;
    c->eflags = (c->eflags & ~mask) | (fl & mask) | CPU_FL_FIX1;
    far_ret_commit(c, &r);
    return CPU_CO_EXIT;
}
