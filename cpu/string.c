/*
 * cpu/string.c — MOVS STOS LODS CMPS SCAS INS OUTS (byte/word/dword) with
 * REP / REPE / REPNE, 16- and 32-bit address size, DF, and a segment
 * override on the source (the destination is always ES).
 *
 * Semantics are the SDM's element-by-element loop; a fault on element k
 * leaves ESI/EDI/ECX pointing at element k, so the instruction restarts
 * there. REP MOVS/STOS with DF=0 and 32-bit addresses copy whole runs that
 * stay inside one guest page on each side through host pointers from
 * smmu_fill() (guest memcpy/memset speed); device, code and unmapped pages
 * fall back to one element at a time through smmu_read/smmu_write.
 *
 * Every element is checked against its segment first (SDM vol. 3 5.3:
 * limit, expand-down, readable/writable; #GP(0), #SS(0) through SS), so a
 * REP that runs off the end of a segment faults at the element that
 * crosses it, the completed elements done. Bulk runs stop short of it.
 *
 * A callout does a bounded amount of work: when the budget runs out with
 * count left, it saves the registers and returns CPU_CO_EXIT at the
 * instruction itself, which resumes where it stopped (interrupts and
 * timers get in between, as on hardware).
 */
#include "cpu/internal.h"

#include <string.h>
#include "shadowmmu/smmu.h"

/* Work budget per callout: one unit per byte copied in bulk, SLOW_COST per
 * element done through the slow path (≈64K slow elements, 1 MiB bulk). */
#define BUDGET (1u << 20)
#define SLOW_COST 16u

struct sop {
    const struct dec_insn *d;
    unsigned size;      /* element bytes */
    uint32_t amask;     /* 0xFFFF or 0xFFFFFFFF: address and count size */
    int rep;            /* 0 none, 1 REP/REPE, 2 REPNE */
    int src_seg;        /* DS unless overridden */
    int32_t delta;      /* +size or -size from DF */
    uint32_t si, di, cnt;
    unsigned work;
};

static void sop_init(struct cpu *c, const struct dec_insn *d, struct sop *s)
{
    const char *mn = ZydisMnemonicGetString(d->zi.mnemonic);
    char last = mn[strlen(mn) - 1];
    s->d = d;
    s->size = last == 'b' ? 1 : last == 'w' ? 2 : 4;
    s->amask = d->zi.address_width == 16 ? 0xFFFFu : 0xFFFFFFFFu;
    s->rep = (d->zi.attributes & ZYDIS_ATTRIB_HAS_REPNE) ? 2
           : (d->zi.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE)) ? 1 : 0;
    s->src_seg = CPU_DS;
    for (unsigned i = 0; i < d->zi.operand_count; i++) {
        const ZydisDecodedOperand *op = &d->ops[i];
        if (op->type == ZYDIS_OPERAND_TYPE_MEMORY &&
            (op->mem.base == ZYDIS_REGISTER_ESI || op->mem.base == ZYDIS_REGISTER_SI)) {
            int sg = cpu_seg_of(op->mem.segment);
            if (sg >= 0)
                s->src_seg = sg;
        }
    }
    s->delta = (c->eflags & CPU_FL_DF) ? -(int32_t)s->size : (int32_t)s->size;
    s->si = c->regs[CPU_ESI] & s->amask;
    s->di = c->regs[CPU_EDI] & s->amask;
    s->cnt = s->rep ? c->regs[CPU_ECX] & s->amask : 1;
    s->work = 0;
}

static void sop_save(struct cpu *c, const struct sop *s)
{
    uint32_t keep = ~s->amask;
    c->regs[CPU_ESI] = (c->regs[CPU_ESI] & keep) | (s->si & s->amask);
    c->regs[CPU_EDI] = (c->regs[CPU_EDI] & keep) | (s->di & s->amask);
    if (s->rep)
        c->regs[CPU_ECX] = (c->regs[CPU_ECX] & keep) | (s->cnt & s->amask);
}

static uint32_t src_lin(const struct cpu *c, const struct sop *s)
{
    return c->seg_base[s->src_seg] + (s->si & s->amask);
}

static uint32_t dst_lin(const struct cpu *c, const struct sop *s)
{
    return c->seg_base[CPU_ES] + (s->di & s->amask);
}

/* The element [off, off+size) inside segment seg for a read or a write
 * (cpu_seg_bounds keeps the valid ranges); a fault code if not. */
static int seg_check(const struct cpu *c, int seg, uint32_t off, unsigned size, bool wr)
{
    uint32_t lo = wr ? c->seg_wlo[seg] : c->seg_lo[seg];
    uint32_t hi = wr ? c->seg_whi[seg] : c->seg_hi[seg];
    uint32_t last = off + size - 1;
    if (off < lo || last < off || last > hi)
        return CPU_FAULT(seg == CPU_SS ? CPU_VEC_SS : CPU_VEC_GP, 0);
    return 0;
}

static int src_check(const struct cpu *c, const struct sop *s)
{
    return seg_check(c, s->src_seg, s->si & s->amask, s->size, false);
}

static int dst_check(const struct cpu *c, const struct sop *s, bool wr)
{
    return seg_check(c, CPU_ES, s->di & s->amask, s->size, wr);
}

/* Whole elements from off upwards that stay inside the segment. */
static uint32_t seg_room(const struct cpu *c, int seg, uint32_t off, unsigned size, bool wr)
{
    uint32_t lo = wr ? c->seg_wlo[seg] : c->seg_lo[seg];
    uint32_t hi = wr ? c->seg_whi[seg] : c->seg_hi[seg];
    if (off < lo || off > hi)
        return 0;
    uint64_t n = ((uint64_t)hi - off + 1) / size;
    return n > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)n;
}

/* After one element or run: done, out of budget (resume at the same
 * instruction), or go on. Returns -1 to go on, else the callout result. */
static int sop_step_end(struct cpu *c, struct sop *s)
{
    if (!s->cnt) {
        sop_save(c, s);
        return CPU_CO_CONTINUE;
    }
    if (s->work >= BUDGET || c->async_pending) {
        sop_save(c, s);
        c->eip = s->d->eip;
        return CPU_CO_EXIT;
    }
    return -1;
}

static int sop_fault(struct cpu *c, struct sop *s, int f)
{
    sop_save(c, s);
    return co_fault(c, s->d, f);
}

/* Elements that fit in the current page and segment on both sides
 * (forward, 32-bit). */
static uint32_t run_len(const struct cpu *c, const struct sop *s, bool with_src)
{
    uint32_t n = (4096 - (dst_lin(c, s) & 0xFFF)) / s->size, m;
    if ((m = seg_room(c, CPU_ES, s->di, s->size, true)) < n)
        n = m;
    if (with_src) {
        if ((m = (4096 - (src_lin(c, s) & 0xFFF)) / s->size) < n)
            n = m;
        if ((m = seg_room(c, s->src_seg, s->si, s->size, false)) < n)
            n = m;
    }
    return n < s->cnt ? n : s->cnt;
}

static bool bulk_ok(const struct sop *s)
{
    return s->rep && s->delta > 0 && s->amask == 0xFFFFFFFFu;
}

/* Whole elements from off downwards (off's own included) that stay inside
 * the segment. */
static uint32_t seg_room_down(const struct cpu *c, int seg, uint32_t off, unsigned size, bool wr)
{
    uint32_t lo = wr ? c->seg_wlo[seg] : c->seg_lo[seg];
    uint32_t hi = wr ? c->seg_whi[seg] : c->seg_hi[seg];
    if (off < lo || (uint64_t)off + size - 1 > hi)
        return 0;
    return (off - lo) / size + 1;
}

/* The same going down (DF=1, 32-bit): the current elements and those
 * below them on the same pages and inside the segments. */
static uint32_t run_len_down(const struct cpu *c, const struct sop *s)
{
    uint32_t d = dst_lin(c, s) & 0xFFF, r = src_lin(c, s) & 0xFFF, n, m;
    if (d + s->size > 4096 || r + s->size > 4096)
        return 0;
    n = d / s->size + 1;
    if ((m = r / s->size + 1) < n)
        n = m;
    if ((m = seg_room_down(c, CPU_ES, s->di, s->size, true)) < n)
        n = m;
    if ((m = seg_room_down(c, s->src_seg, s->si, s->size, false)) < n)
        n = m;
    return n < s->cnt ? n : s->cnt;
}

/* n elements of MOVS, one run on each side (run_len going up,
 * run_len_down going down): memmove's result, except where the
 * destination overlaps the source ahead of the copy (just above it going
 * up, just below it going down) — there later elements read what earlier
 * ones wrote, so they go one by one in the CPU's order. False if a page
 * needs the element path (which raises any fault). */
static bool movs_run(struct cpu *c, struct sop *s, uint32_t n)
{
    bool down = s->delta < 0, flt;
    uint32_t bytes = n * s->size, low = down ? bytes - s->size : 0; /* back to the lowest element */
    uint32_t src = src_lin(c, s) - low, dst = dst_lin(c, s) - low;
    uint8_t *hs = smmu_fill(c->mmu, src, smmu_acc(c->mmu, false), &flt);
    uint8_t *hd = hs ? smmu_write_ptr(c->mmu, dst, smmu_acc(c->mmu, true), &flt) : NULL;
    if (!hs || !hd)
        return false;
    if (!down && hd > hs && hd < hs + bytes) {
        for (uint32_t i = 0; i < bytes; i += s->size)
            memmove(hd + i, hs + i, s->size);
    } else if (down && hd < hs && hd + bytes > hs) {
        for (uint32_t i = bytes; i > 0; i -= s->size)
            memmove(hd + i - s->size, hs + i - s->size, s->size);
    } else {
        memmove(hd, hs, bytes);
    }
    smmu_wrote(c->mmu, dst, bytes);
    s->si += down ? -bytes : bytes;
    s->di += down ? -bytes : bytes;
    s->cnt -= n;
    s->work += bytes;
    return true;
}

int cpu_co_movs(struct cpu *c, const struct dec_insn *d)
{
    struct sop s;
    sop_init(c, d, &s);
    if (!s.cnt)
        return CPU_CO_CONTINUE;
    for (;;) {
        uint32_t n = 1;
        if (s.rep && s.amask == 0xFFFFFFFFu &&
            (n = s.delta > 0 ? run_len(c, &s, true) : run_len_down(c, &s)) > 0 && movs_run(c, &s, n)) {
            int r = sop_step_end(c, &s);
            if (r >= 0)
                return r;
            continue;
        }
        if (n == 0)
            n = 1; /* an element straddles a page */
        while (n--) {
            uint32_t v = 0;
            int f = src_check(c, &s);
            if (!f)
                f = cpu_mem_read(c, src_lin(c, &s), &v, s.size);
            if (!f)
                f = dst_check(c, &s, true);
            if (!f)
                f = cpu_mem_write(c, dst_lin(c, &s), &v, s.size);
            if (f)
                return sop_fault(c, &s, f);
            s.si += s.delta; s.di += s.delta; s.cnt--;
            s.work += SLOW_COST;
            int r = sop_step_end(c, &s);
            if (r >= 0)
                return r;
        }
    }
}

int cpu_co_stos(struct cpu *c, const struct dec_insn *d)
{
    struct sop s;
    sop_init(c, d, &s);
    if (!s.cnt)
        return CPU_CO_CONTINUE;
    uint32_t v = c->regs[CPU_EAX];
    for (;;) {
        uint32_t n = 1;
        if (bulk_ok(&s) && (n = run_len(c, &s, false)) > 0) {
            bool flt;
            uint8_t *hd = smmu_write_ptr(c->mmu, dst_lin(c, &s), smmu_acc(c->mmu, true), &flt);
            if (hd) {
                uint32_t bytes = n * s.size;
                if (s.size == 1)
                    memset(hd, (int)(v & 0xFF), bytes);
                else
                    for (uint32_t i = 0; i < bytes; i += s.size)
                        memcpy(hd + i, &v, s.size);
                smmu_wrote(c->mmu, dst_lin(c, &s), bytes);
                s.di += bytes; s.cnt -= n;
                s.work += bytes;
                int r = sop_step_end(c, &s);
                if (r >= 0)
                    return r;
                continue;
            }
        }
        if (n == 0)
            n = 1;
        while (n--) {
            int f = dst_check(c, &s, true);
            if (!f)
                f = cpu_mem_write(c, dst_lin(c, &s), &v, s.size);
            if (f)
                return sop_fault(c, &s, f);
            s.di += s.delta; s.cnt--;
            s.work += SLOW_COST;
            int r = sop_step_end(c, &s);
            if (r >= 0)
                return r;
        }
    }
}

static void set_acc(struct cpu *c, unsigned size, uint32_t v)
{
    if (size == 4)
        c->regs[CPU_EAX] = v;
    else if (size == 2)
        c->regs[CPU_EAX] = (c->regs[CPU_EAX] & 0xFFFF0000u) | (v & 0xFFFF);
    else
        c->regs[CPU_EAX] = (c->regs[CPU_EAX] & 0xFFFFFF00u) | (v & 0xFF);
}

int cpu_co_lods(struct cpu *c, const struct dec_insn *d)
{
    struct sop s;
    sop_init(c, d, &s);
    if (!s.cnt)
        return CPU_CO_CONTINUE;
    for (;;) {
        uint32_t v = 0;
        int f = src_check(c, &s);
        if (!f)
            f = cpu_mem_read(c, src_lin(c, &s), &v, s.size);
        if (f)
            return sop_fault(c, &s, f);
        set_acc(c, s.size, v);
        s.si += s.delta; s.cnt--;
        s.work += SLOW_COST;
        int r = sop_step_end(c, &s);
        if (r >= 0)
            return r;
    }
}

static void set_arith(struct cpu *c, uint32_t fl)
{
    c->eflags = (c->eflags & ~CPU_FL_ARITH) | fl;
}

/* REPE stops when ZF=0, REPNE when ZF=1 (checked after each element). */
static bool cond_stop(const struct sop *s, uint32_t fl)
{
    if (!s->rep)
        return false;
    return s->rep == 1 ? !(fl & CPU_FL_ZF) : (fl & CPU_FL_ZF) != 0;
}

/* CMPS compares [src] - [ES:dst], as CMP src, dst. */
int cpu_co_cmps(struct cpu *c, const struct dec_insn *d)
{
    struct sop s;
    sop_init(c, d, &s);
    if (!s.cnt)
        return CPU_CO_CONTINUE;
    for (;;) {
        uint32_t a = 0, b = 0;
        int f = src_check(c, &s);
        if (!f)
            f = cpu_mem_read(c, src_lin(c, &s), &a, s.size);
        if (!f)
            f = dst_check(c, &s, false);
        if (!f)
            f = cpu_mem_read(c, dst_lin(c, &s), &b, s.size);
        if (f)
            return sop_fault(c, &s, f);
        uint32_t fl = cpu_flags_sub(a, b, s.size * 8);
        set_arith(c, fl);
        s.si += s.delta; s.di += s.delta; s.cnt--;
        s.work += SLOW_COST;
        if (cond_stop(&s, fl)) {
            sop_save(c, &s);
            return CPU_CO_CONTINUE;
        }
        int r = sop_step_end(c, &s);
        if (r >= 0)
            return r;
    }
}

/* SCAS compares AL/AX/EAX - [ES:EDI]. */
int cpu_co_scas(struct cpu *c, const struct dec_insn *d)
{
    struct sop s;
    sop_init(c, d, &s);
    if (!s.cnt)
        return CPU_CO_CONTINUE;
    uint32_t a = c->regs[CPU_EAX];
    for (;;) {
        uint32_t b = 0;
        int f = dst_check(c, &s, false);
        if (!f)
            f = cpu_mem_read(c, dst_lin(c, &s), &b, s.size);
        if (f)
            return sop_fault(c, &s, f);
        uint32_t fl = cpu_flags_sub(a, b, s.size * 8);
        set_arith(c, fl);
        s.di += s.delta; s.cnt--;
        s.work += SLOW_COST;
        if (cond_stop(&s, fl)) {
            sop_save(c, &s);
            return CPU_CO_CONTINUE;
        }
        int r = sop_step_end(c, &s);
        if (r >= 0)
            return r;
    }
}

/* INS: port DX -> ES:EDI. The destination is checked before the port is
 * read so a fault does not lose a device read. */
int cpu_co_ins(struct cpu *c, const struct dec_insn *d)
{
    struct sop s;
    sop_init(c, d, &s);
    if (!s.cnt)
        return CPU_CO_CONTINUE;
    uint16_t port = (uint16_t)c->regs[CPU_EDX];
    int f = cpu_io_allowed(c, port, s.size);
    if (f)
        return co_fault(c, d, f);
    for (;;) {
        uint64_t phys;
        if ((f = dst_check(c, &s, true)))
            return sop_fault(c, &s, f);
        if (!smmu_translate(c->mmu, dst_lin(c, &s), smmu_acc(c->mmu, true), &phys)) {
            c->cr2 = c->mmu->pf_addr;
            return sop_fault(c, &s, CPU_FAULT(CPU_VEC_PF, c->mmu->pf_err));
        }
        uint32_t v = 0;
        c->env->pio(c->env_ctx, port, s.size, false, &v);
        if ((f = cpu_mem_write(c, dst_lin(c, &s), &v, s.size)))
            return sop_fault(c, &s, f);
        s.di += s.delta; s.cnt--;
        s.work += SLOW_COST;
        int r = sop_step_end(c, &s);
        if (r >= 0)
            return r;
    }
}

/* OUTS: [src] -> port DX. */
int cpu_co_outs(struct cpu *c, const struct dec_insn *d)
{
    struct sop s;
    sop_init(c, d, &s);
    if (!s.cnt)
        return CPU_CO_CONTINUE;
    uint16_t port = (uint16_t)c->regs[CPU_EDX];
    int f = cpu_io_allowed(c, port, s.size);
    if (f)
        return co_fault(c, d, f);
    for (;;) {
        uint32_t v = 0;
        if ((f = src_check(c, &s)) || (f = cpu_mem_read(c, src_lin(c, &s), &v, s.size)))
            return sop_fault(c, &s, f);
        c->env->pio(c->env_ctx, port, s.size, true, &v);
        s.si += s.delta; s.cnt--;
        s.work += SLOW_COST;
        if (s.cnt && c->env->stop_requested(c->env_ctx)) {
            sop_save(c, &s);
            c->eip = d->eip;
            return CPU_CO_EXIT;
        }
        int r = sop_step_end(c, &s);
        if (r >= 0)
            return r;
    }
}
