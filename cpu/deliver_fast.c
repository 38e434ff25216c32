/*
 * cpu/deliver_fast.c — the common event delivery, without the general
 * path's checks: a 32-bit interrupt or trap gate taken at CPL 0 into the
 * code segment CS already holds (a kernel interrupted or faulting in
 * itself). Everything it touches — the gate, the GDT descriptor, the 12 or
 * 16 bytes of stack — must be plain RAM reachable without a fault (a walk
 * that fails only tells the MMU, not the guest: no CR2 is set) and the
 * descriptor must equal the CS cache; otherwise it declines, having changed
 * nothing the guest can see, and cpu_deliver's general path (exception.c)
 * runs. About 30 cycles against the general path's ~110 (docs/cpu.md).
 * The other common case, a user program's INT n, exception or interrupt
 * into a ring-0 handler (deliver_outer), switches to the TSS's SS0:ESP0
 * the same way: every descriptor already accessed, a flat 32-bit stack.
 * cpu_iret_fast is the way back: IRETD at CPL 0 to the same or an outer
 * ring under the same conditions.
 */
#include "cpu/internal.h"

#include <string.h>
#include "shadowmmu/smmu.h"

/* Host address of [lin, lin+len) for a supervisor access within one page:
 * the shadow entry, else the MMU fills it (the walk the general path would
 * make first, with the same A/D updates); NULL for anything else — a
 * fault, MMIO, a page-table or code page being written. */
static inline uint8_t *sys_ptr(const struct cpu *c, uint32_t lin, unsigned len, bool write)
{
    if ((lin & 0xFFF) + len > 0x1000)
        return NULL;
    uint64_t e = c->mmu->tlb[(size_t)(write ? SMMU_T_SW : SMMU_T_SR) * SMMU_TLB_ENTRIES + (lin >> 12)];
    if (e)
        return (uint8_t *)(uintptr_t)(e + lin);
    bool fault;
    return smmu_fill(c->mmu, lin, write ? SMMU_ACC_W : 0, &fault);
}

/* The GDT descriptor of sel, parsed, if it can be read without a fault and
 * its accessed bit is set already (nothing to write back). */
static bool gdt_desc(const struct cpu *c, uint16_t sel, struct cpu_segment *out)
{
    if (!(sel & ~3u) || (sel & 4) || (uint32_t)(sel | 7) > c->gdtr.limit)
        return false;
    const uint8_t *d = sys_ptr(c, c->gdtr.base + (sel & ~7u), 8, false);
    if (!d)
        return false;
    uint32_t desc[2];
    memcpy(desc, d, 8);
    cpu_desc_parse(sel, desc[0], desc[1], out);
    return (desc[1] >> 8) & 1;
}

/*
 * From CPL > 0 into a present non-conforming DPL 0 code segment: SS0:ESP0
 * from the 32-bit TSS, a present, accessed, writable, expand-up 32-bit DPL 0
 * data segment with room for the frame (SS, ESP, EFLAGS, CS, EIP, error),
 * all in plain RAM. What the general path checks beyond these (null or
 * out-of-table selectors, RPLs, type faults) it declines and leaves there.
 */
static bool deliver_outer(struct cpu *c, const uint32_t gate[2], unsigned gtype, bool has_error,
                          uint32_t error, uint32_t ret_eip)
{
    uint16_t sel = gate[0] >> 16;
    struct cpu_segment cs, ss;
    if (!gdt_desc(c, sel, &cs) || !SEGF_S(cs.flags) || (SEGF_TYPE(cs.flags) & 0xC) != 0x8 ||
        SEGF_DPL(cs.flags) != 0 || !SEGF_P(cs.flags))
        return false;
    uint32_t off = (gate[0] & 0xFFFF) | (gate[1] & 0xFFFF0000u);
    if (off > cs.limit)
        return false;
    unsigned ttype = SEGF_TYPE(c->tr.flags);
    if ((ttype != 0x9 && ttype != 0xB) || c->tr.limit < 4 + 5)
        return false;
    const uint8_t *t = sys_ptr(c, c->tr.base + 4, 6, false);
    if (!t)
        return false;
    uint32_t esp0;
    uint16_t ss0;
    memcpy(&esp0, t, 4);
    memcpy(&ss0, t + 4, 2);
    if ((ss0 & 3) || !gdt_desc(c, ss0, &ss) || !SEGF_S(ss.flags) ||
        (SEGF_TYPE(ss.flags) & 0xE) != 0x2 || SEGF_DPL(ss.flags) != 0 || !SEGF_P(ss.flags) ||
        !SEGF_DB(ss.flags))
        return false;
    unsigned n = has_error ? 24 : 20;
    if (esp0 < n || esp0 - 1 > ss.limit)
        return false;
    uint8_t *s = sys_ptr(c, ss.base + esp0 - n, n, true);
    if (!s)
        return false;
    uint32_t frame[6] = { error, ret_eip, c->segs[CPU_CS].sel, c->eflags, c->regs[CPU_ESP],
                          c->segs[CPU_SS].sel };
    memcpy(s, has_error ? frame : frame + 1, n);
    cpu_set_seg(c, CPU_SS, &ss);
    c->regs[CPU_ESP] = esp0 - n;
    cs.sel = sel & ~3u;
    cpu_set_seg(c, CPU_CS, &cs);
    c->cpl = 0;
    c->eip = off;
    c->eflags &= ~(CPU_FL_TF | CPU_FL_NT | CPU_FL_RF | CPU_FL_VM);
    if (gtype == 0x0E)
        c->eflags &= ~CPU_FL_IF;
    c->halted = false;
    return true;
}

bool cpu_deliver_fast(struct cpu *c, int vec, bool has_error, uint32_t error, bool soft,
                      uint32_t ret_eip)
{
    if (!(c->cr0 & CPU_CR0_PE) || (c->eflags & CPU_FL_VM) ||
        (uint32_t)vec * 8 + 7 > c->idtr.limit)
        return false;
    const uint8_t *g = sys_ptr(c, c->idtr.base + (uint32_t)vec * 8, 8, false);
    if (!g)
        return false;
    uint32_t gate[2];
    memcpy(gate, g, 8);
    unsigned gtype = (gate[1] >> 8) & 0x1F;
    /* Present 32-bit interrupt or trap gate; a soft INT n needs a gate
     * DPL of at least the CPL (at CPL 0: any). */
    if ((gtype != 0x0E && gtype != 0x0F) || !(gate[1] & (CPU_SEGF_P << 8)))
        return false;
    if (soft && ((gate[1] >> 13) & 3) < c->cpl)
        return false;
    if (c->cpl != 0)
        return deliver_outer(c, gate, gtype, has_error, error, ret_eip);
    uint16_t sel = gate[0] >> 16;
    const struct cpu_segment *cs = &c->segs[CPU_CS];
    struct cpu_segment ncs;
    if ((sel & ~3u) != (cs->sel & ~3u) || !gdt_desc(c, sel, &ncs))
        return false;
    /* The descriptor as loaded (accessed bit already set: nothing to
     * write), a present non-conforming DPL 0 code segment. Bits 8-11 of
     * flags are the limit's top, compared as the limit (a cache set up
     * without a descriptor may hold 0 there; it gets the descriptor's). */
    if (ncs.base != cs->base || ncs.limit != cs->limit ||
        (ncs.flags & ~0x0F00u) != (cs->flags & ~0x0F00u) ||
        !SEGF_S(ncs.flags) || (SEGF_TYPE(ncs.flags) & 0xD) != 0x9 || SEGF_DPL(ncs.flags) != 0 ||
        !SEGF_P(ncs.flags))
        return false;
    uint32_t off = (gate[0] & 0xFFFF) | (gate[1] & 0xFFFF0000u);
    if (off > cs->limit)
        return false;
    /* A 32-bit stack whose valid offsets hold the slots without wrapping. */
    unsigned n = has_error ? 16 : 12;
    uint32_t esp = c->regs[CPU_ESP];
    if (cpu_stack_mask(c) != 0xFFFFFFFFu || esp < n || esp - n < c->seg_wlo[CPU_SS] ||
        esp - 1 > c->seg_whi[CPU_SS])
        return false;
    uint8_t *s = sys_ptr(c, c->seg_base[CPU_SS] + esp - n, n, true);
    if (!s)
        return false;
    uint32_t frame[4] = { error, ret_eip, cs->sel, c->eflags };
    memcpy(s, has_error ? frame : frame + 1, n);
    c->regs[CPU_ESP] = esp - n;
    c->segs[CPU_CS].flags = ncs.flags;
    c->eip = off;
    c->eflags &= ~(CPU_FL_TF | CPU_FL_NT | CPU_FL_RF | CPU_FL_VM);
    if (gtype == 0x0E)
        c->eflags &= ~CPU_FL_IF;
    c->halted = false;
    return true;
}

/*
 * IRETD at CPL 0, not to virtual-8086 mode, NT clear: EIP, CS, EFLAGS (and
 * for an outer ring ESP, SS) from a flat 32-bit stack in plain RAM, into a
 * present non-conforming code segment of DPL = RPL (and a present,
 * writable, expand-up data SS of that DPL = RPL), descriptors accessed.
 * Otherwise false, nothing changed: cpu_co_iret's general path runs.
 */
bool cpu_iret_fast(struct cpu *c)
{
    if (c->cpl != 0 || !(c->cr0 & CPU_CR0_PE) || (c->eflags & (CPU_FL_VM | CPU_FL_NT)) ||
        cpu_stack_mask(c) != 0xFFFFFFFFu)
        return false;
    uint32_t esp = c->regs[CPU_ESP];
    if (esp < c->seg_lo[CPU_SS] || esp > 0xFFFFFFFFu - 20 || esp + 11 > c->seg_hi[CPU_SS])
        return false;
    const uint8_t *p = sys_ptr(c, c->seg_base[CPU_SS] + esp, 12, false);
    if (!p)
        return false;
    uint32_t f[5];
    memcpy(f, p, 12);
    uint16_t sel = (uint16_t)f[1];
    uint32_t fl = f[2];
    unsigned rpl = sel & 3u;
    struct cpu_segment cs, ss;
    if ((fl & CPU_FL_VM) || !gdt_desc(c, sel, &cs) || !SEGF_S(cs.flags) ||
        (SEGF_TYPE(cs.flags) & 0xC) != 0x8 || SEGF_DPL(cs.flags) != rpl || !SEGF_P(cs.flags) ||
        f[0] > cs.limit)
        return false;
    bool outer = rpl != 0;
    if (outer) {
        /* ESP and SS, possibly on the next page. */
        if (esp + 19 > c->seg_hi[CPU_SS] || !(p = sys_ptr(c, c->seg_base[CPU_SS] + esp + 12, 8, false)))
            return false;
        memcpy(f + 3, p, 8);
        uint16_t nss = (uint16_t)f[4];
        if ((nss & 3u) != rpl || !gdt_desc(c, nss, &ss) || !SEGF_S(ss.flags) ||
            (SEGF_TYPE(ss.flags) & 0xE) != 0x2 || SEGF_DPL(ss.flags) != rpl || !SEGF_P(ss.flags) ||
            !SEGF_DB(ss.flags))
            return false;
    }
    /* At CPL 0 every flag but VM (checked clear) is the popped one. */
    uint32_t mask = CPU_FL_ARITH | CPU_FL_TF | CPU_FL_DF | CPU_FL_NT | CPU_FL_RF | CPU_FL_AC |
                    CPU_FL_ID | CPU_FL_IF | CPU_FL_IOPL | CPU_FL_VIF | CPU_FL_VIP;
    c->eflags = (c->eflags & ~mask) | (fl & mask) | CPU_FL_FIX1;
    if (outer) {
        cpu_set_seg(c, CPU_SS, &ss);
        c->regs[CPU_ESP] = f[3];
    } else {
        c->regs[CPU_ESP] = esp + 12;
    }
    cs.sel = sel;
    cpu_set_seg(c, CPU_CS, &cs);
    c->cpl = rpl;
    c->eip = f[0];
    if (outer)
        cpu_null_outer_segs(c);
    return true;
}
