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

bool cpu_deliver_fast(struct cpu *c, int vec, bool has_error, uint32_t error, bool soft,
                      uint32_t ret_eip)
{
    if (!(c->cr0 & CPU_CR0_PE) || (c->eflags & CPU_FL_VM) || c->cpl != 0 ||
        (uint32_t)vec * 8 + 7 > c->idtr.limit)
        return false;
    const uint8_t *g = sys_ptr(c, c->idtr.base + (uint32_t)vec * 8, 8, false);
    if (!g)
        return false;
    uint32_t gate[2];
    memcpy(gate, g, 8);
    unsigned gtype = (gate[1] >> 8) & 0x1F;
    /* Present 32-bit interrupt or trap gate; a soft INT n at CPL 0 passes
     * every gate DPL. */
    if ((gtype != 0x0E && gtype != 0x0F) || !(gate[1] & (CPU_SEGF_P << 8)))
        return false;
    (void)soft;
    uint16_t sel = gate[0] >> 16;
    const struct cpu_segment *cs = &c->segs[CPU_CS];
    if ((sel & ~3u) != (cs->sel & ~3u) || (sel & 4) || (uint32_t)(sel | 7) > c->gdtr.limit)
        return false;
    const uint8_t *d = sys_ptr(c, c->gdtr.base + (sel & ~7u), 8, false);
    if (!d)
        return false;
    uint32_t desc[2];
    memcpy(desc, d, 8);
    struct cpu_segment ncs;
    cpu_desc_parse(sel, desc[0], desc[1], &ncs);
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
