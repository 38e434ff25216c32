/*
 * cpu/legacy.c — 32-bit-only encodings that have no 64-bit host
 * equivalent: the BCD adjusts (DAA DAS AAA AAS AAM AAD), PUSHA/POPA, XLAT,
 * BOUND, ARPL, SALC, ENTER with a nesting level, and the one-byte INC/DEC
 * (40-4F are REX prefixes on the host). Each follows the pseudocode on its
 * SDM vol. 2 page; flags the SDM leaves undefined are set from the result
 * (SF ZF PF) or cleared, so results are deterministic.
 */
#include "cpu/internal.h"

#define AF_CF_MASK (CPU_FL_AF | CPU_FL_CF)

static uint8_t al(const struct cpu *c) { return c->regs[CPU_EAX] & 0xFF; }
static uint8_t ah(const struct cpu *c) { return (c->regs[CPU_EAX] >> 8) & 0xFF; }
static void set_al(struct cpu *c, uint8_t v) { c->regs[CPU_EAX] = (c->regs[CPU_EAX] & ~0xFFu) | v; }
static void set_ax(struct cpu *c, uint16_t v) { c->regs[CPU_EAX] = (c->regs[CPU_EAX] & ~0xFFFFu) | v; }

static void set_arith(struct cpu *c, uint32_t fl)
{
    c->eflags = (c->eflags & ~CPU_FL_ARITH) | fl;
}

int cpu_co_daa(struct cpu *c, const struct dec_insn *d)
{
    (void)d;
    uint8_t a = al(c), old_al = a;
    bool old_cf = c->eflags & CPU_FL_CF, cf = false, af = false;
    if ((a & 0xF) > 9 || (c->eflags & CPU_FL_AF)) {
        cf = old_cf || a > 0xFF - 6;
        a += 6;
        af = true;
    }
    if (old_al > 0x99 || old_cf) {
        a += 0x60;
        cf = true;
    } else {
        cf = false;
    }
    set_al(c, a);
    set_arith(c, cpu_flags_szp(a, 8) | (cf ? CPU_FL_CF : 0) | (af ? CPU_FL_AF : 0));
    return CPU_CO_CONTINUE;
}

int cpu_co_das(struct cpu *c, const struct dec_insn *d)
{
    (void)d;
    uint8_t a = al(c), old_al = a;
    bool old_cf = c->eflags & CPU_FL_CF, cf = false, af = false;
    if ((a & 0xF) > 9 || (c->eflags & CPU_FL_AF)) {
        cf = old_cf || a < 6;
        a -= 6;
        af = true;
    }
    if (old_al > 0x99 || old_cf) {
        a -= 0x60;
        cf = true;
    }
    set_al(c, a);
    set_arith(c, cpu_flags_szp(a, 8) | (cf ? CPU_FL_CF : 0) | (af ? CPU_FL_AF : 0));
    return CPU_CO_CONTINUE;
}

int cpu_co_aaa(struct cpu *c, const struct dec_insn *d)
{
    (void)d;
    uint16_t ax = c->regs[CPU_EAX] & 0xFFFF;
    uint32_t fl = 0;
    if ((ax & 0xF) > 9 || (c->eflags & CPU_FL_AF)) {
        ax += 0x106;
        fl = AF_CF_MASK;
    }
    ax &= 0xFF0F;
    set_ax(c, ax);
    set_arith(c, fl | cpu_flags_szp(ax & 0xFF, 8));
    return CPU_CO_CONTINUE;
}

int cpu_co_aas(struct cpu *c, const struct dec_insn *d)
{
    (void)d;
    uint16_t ax = c->regs[CPU_EAX] & 0xFFFF;
    uint32_t fl = 0;
    if ((ax & 0xF) > 9 || (c->eflags & CPU_FL_AF)) {
        ax -= 6;
        ax = (uint16_t)(ax - 0x100); /* AH <- AH - 1 */
        fl = AF_CF_MASK;
    }
    ax &= 0xFF0F;
    set_ax(c, ax);
    set_arith(c, fl | cpu_flags_szp(ax & 0xFF, 8));
    return CPU_CO_CONTINUE;
}

int cpu_co_aam(struct cpu *c, const struct dec_insn *d)
{
    uint8_t base = (uint8_t)d->ops[0].imm.value.u;
    if (!base)
        return co_fault(c, d, CPU_FAULT(CPU_VEC_DE, 0));
    uint8_t a = al(c);
    set_ax(c, (uint16_t)(((a / base) << 8) | (a % base)));
    set_arith(c, cpu_flags_szp(a % base, 8));
    return CPU_CO_CONTINUE;
}

int cpu_co_aad(struct cpu *c, const struct dec_insn *d)
{
    uint8_t base = (uint8_t)d->ops[0].imm.value.u;
    uint8_t a = (uint8_t)(al(c) + ah(c) * base);
    set_ax(c, a);
    set_arith(c, cpu_flags_szp(a, 8));
    return CPU_CO_CONTINUE;
}

int cpu_co_pusha(struct cpu *c, const struct dec_insn *d)
{
    unsigned w = d->zi.operand_width / 8;
    uint32_t esp = c->regs[CPU_ESP];
    for (int r = CPU_EAX; r <= CPU_EDI; r++) {
        int f = cpu_push(c, &esp, c->regs[r], w); /* ESP pushed as it was before */
        if (f)
            return co_fault(c, d, f);
    }
    cpu_commit_esp(c, esp);
    return CPU_CO_CONTINUE;
}

int cpu_co_popa(struct cpu *c, const struct dec_insn *d)
{
    unsigned w = d->zi.operand_width / 8;
    uint32_t esp = c->regs[CPU_ESP], v[8];
    for (int r = CPU_EDI; r >= CPU_EAX; r--) {
        int f = cpu_pop(c, &esp, &v[r], w);
        if (f)
            return co_fault(c, d, f);
    }
    uint32_t keep = w == 2 ? 0xFFFF0000u : 0;
    for (int r = CPU_EAX; r <= CPU_EDI; r++)
        if (r != CPU_ESP) /* the popped ESP image is discarded */
            c->regs[r] = (c->regs[r] & keep) | (v[r] & ~keep);
    cpu_commit_esp(c, esp);
    return CPU_CO_CONTINUE;
}

/* XLAT: AL <- [seg:(E)BX + zero-extended AL]. */
int cpu_co_xlat(struct cpu *c, const struct dec_insn *d)
{
    uint32_t amask = d->zi.address_width == 16 ? 0xFFFFu : 0xFFFFFFFFu;
    int seg = cpu_seg_of(d->ops[0].mem.segment);
    uint32_t lin = c->seg_base[seg < 0 ? CPU_DS : seg] + ((c->regs[CPU_EBX] + al(c)) & amask);
    uint8_t v;
    int f = cpu_mem_read(c, lin, &v, 1);
    if (f)
        return co_fault(c, d, f);
    set_al(c, v);
    return CPU_CO_CONTINUE;
}

/* BOUND r, m: #BR unless lower <= r <= upper (signed). */
int cpu_co_bound(struct cpu *c, const struct dec_insn *d)
{
    unsigned w = d->zi.operand_width / 8;
    uint32_t lin = cpu_ea(c, d, &d->ops[1]), lo = 0, hi = 0;
    int f = cpu_mem_read(c, lin, &lo, w);
    if (!f)
        f = cpu_mem_read(c, lin + w, &hi, w);
    if (f)
        return co_fault(c, d, f);
    int32_t idx = (int32_t)c->regs[d->ops[0].reg.value - (w == 2 ? ZYDIS_REGISTER_AX : ZYDIS_REGISTER_EAX)];
    int32_t l = (int32_t)lo, h = (int32_t)hi;
    if (w == 2) {
        idx = (int16_t)idx; l = (int16_t)l; h = (int16_t)h;
    }
    if (idx < l || idx > h)
        return co_fault(c, d, CPU_FAULT(CPU_VEC_BR, 0));
    return CPU_CO_CONTINUE;
}

/* ARPL r/m16, r16: raise the destination RPL to the source's (ZF=1). */
int cpu_co_arpl(struct cpu *c, const struct dec_insn *d)
{
    if (!cpu_pmode(c))
        return co_fault(c, d, CPU_FAULT(CPU_VEC_UD, 0));
    uint32_t dst, src = cpu_get_reg(c, d->ops[1].reg.value);
    int f = cpu_read_op(c, d, &d->ops[0], &dst);
    if (f)
        return co_fault(c, d, f);
    if ((dst & 3) < (src & 3)) {
        if ((f = cpu_write_op(c, d, &d->ops[0], (dst & ~3u) | (src & 3))))
            return co_fault(c, d, f);
        c->eflags |= CPU_FL_ZF;
    } else {
        c->eflags &= ~CPU_FL_ZF;
    }
    return CPU_CO_CONTINUE;
}

int cpu_co_salc(struct cpu *c, const struct dec_insn *d)
{
    (void)d;
    set_al(c, (c->eflags & CPU_FL_CF) ? 0xFF : 0);
    return CPU_CO_CONTINUE;
}

/* ENTER imm16, imm8 (SDM vol. 2 ENTER pseudocode, any nesting level). */
int cpu_co_enter(struct cpu *c, const struct dec_insn *d)
{
    unsigned w = d->zi.operand_width / 8;
    uint32_t size = (uint32_t)d->ops[0].imm.value.u & 0xFFFF;
    unsigned level = (unsigned)d->ops[1].imm.value.u % 32;
    uint32_t m = cpu_stack_mask(c);
    uint32_t esp = c->regs[CPU_ESP], ebp = c->regs[CPU_EBP];
    int f = cpu_push(c, &esp, ebp, w);
    uint32_t frame = esp;
    for (unsigned i = 1; !f && i < level; i++) {
        uint32_t v = 0;
        ebp = (ebp & ~m) | ((ebp - w) & m);
        f = cpu_mem_read(c, c->seg_base[CPU_SS] + (ebp & m), &v, w);
        if (!f)
            f = cpu_push(c, &esp, v, w);
    }
    if (!f && level > 0)
        f = cpu_push(c, &esp, frame, w);
    if (f)
        return co_fault(c, d, f);
    if (w == 2)
        c->regs[CPU_EBP] = (c->regs[CPU_EBP] & 0xFFFF0000u) | (frame & 0xFFFF);
    else
        c->regs[CPU_EBP] = frame;
    cpu_commit_esp(c, (esp & ~m) | ((esp - size) & m));
    return CPU_CO_CONTINUE;
}

/* INC/DEC r16/r32 (40-4F): CF is preserved. */
int cpu_co_incdec(struct cpu *c, const struct dec_insn *d)
{
    ZydisRegister r = d->ops[0].reg.value;
    unsigned bits = d->ops[0].size;
    uint32_t v = cpu_get_reg(c, r), fl;
    bool inc = d->zi.mnemonic == ZYDIS_MNEMONIC_INC;
    fl = inc ? cpu_flags_add(v, 1, bits) : cpu_flags_sub(v, 1, bits);
    cpu_set_reg(c, r, inc ? v + 1 : v - 1);
    c->eflags = (c->eflags & (~CPU_FL_ARITH | CPU_FL_CF)) | (fl & ~CPU_FL_CF);
    return CPU_CO_CONTINUE;
}
