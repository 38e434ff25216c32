/*
 * shadowmmu/walk.c — the guest page walk (SDM vol. 3, 4.3 and 4.4): 32-bit
 * paging with 4 KiB and 4 MiB (PSE) pages, PAE paging with 4 KiB and 2 MiB
 * pages and NX. Permission checks, the #PF error code, and the accessed and
 * dirty bits written into the guest's own entries when the access succeeds.
 * The walk also reports which guest pages it read, so the caller can trace
 * them before it trusts the result in a shadow entry.
 */
#include "shadowmmu/walk.h"

#include <errno.h>
#include <string.h>

#define PTE_P  0x1u
#define PTE_W  0x2u
#define PTE_U  0x4u
#define PTE_A  0x20u
#define PTE_D  0x40u
#define PTE_PS 0x80u
#define PTE_G  0x100u
#define PAE_NX (1ull << 63)
/* MAXPHYADDR 36: bits 62:36 of PAE entries are reserved. */
#define PAE_RSVD_HI 0x7FFFFFF000000000ull
#define PAE_ADDR    0x0000000FFFFFF000ull

static uint64_t rd(struct smmu *m, uint64_t pa, unsigned size)
{
    pa &= m->a20_mask | ~0xFFFFFFFFull;
    if (pa + size > m->npages * 4096ull)
        return 0; /* outside RAM: reads as not present */
    uint64_t v = 0;
    memcpy(&v, m->ram + pa, size);
    return v;
}

/* Sets the A/D bits a walk owes; a SMMU_ACC_PEEK walk writes nothing and
 * fails where bits are missing (only a real access may set them). */
static bool set_bits(struct smmu *m, uint64_t pa, uint32_t bits, unsigned acc)
{
    pa &= m->a20_mask | ~0xFFFFFFFFull;
    if (pa + 4 > m->npages * 4096ull || !smmu_page_writable(m, pa >> 12))
        return !(acc & SMMU_ACC_PEEK); /* a table in ROM or write-protected shadow RAM keeps its bits */
    uint32_t v;
    memcpy(&v, m->ram + pa, 4);
    if ((v & bits) != bits) {
        if (acc & SMMU_ACC_PEEK)
            return false;
        v |= bits;
        memcpy(m->ram + pa, &v, 4);
    }
    return true;
}

static bool fault(struct smmu *m, uint32_t lin, unsigned acc, uint32_t why)
{
    if (acc & SMMU_ACC_PEEK)
        return false; /* no access: no #PF to report */
    uint32_t err = why;
    if (acc & SMMU_ACC_W)
        err |= SMMU_PF_W;
    if (acc & SMMU_ACC_U)
        err |= SMMU_PF_U;
    if ((acc & SMMU_ACC_X) && m->pae && m->nxe)
        err |= SMMU_PF_ID;
    m->pf_addr = lin;
    m->pf_err = err;
    return false;
}

/* Access rights against the combined entry bits (SDM 4.6, no SMEP/SMAP). */
static bool allowed(const struct smmu *m, unsigned acc, bool w, bool u, bool nx)
{
    if ((acc & SMMU_ACC_U) && !u)
        return false;
    if ((acc & SMMU_ACC_W) && !w && ((acc & SMMU_ACC_U) || m->wp))
        return false;
    if ((acc & SMMU_ACC_X) && nx)
        return false;
    return true;
}

static uint8_t perms(const struct smmu *m, bool w, bool u, bool nx, bool dirty)
{
    uint8_t p = 1u << SMMU_T_SR;
    if (dirty && (w || !m->wp))
        p |= 1u << SMMU_T_SW;
    if (u)
        p |= 1u << SMMU_T_UR;
    if (u && w && dirty)
        p |= 1u << SMMU_T_UW;
    if (!nx)
        p |= 1u << SMMU_T_SX;
    if (u && !nx)
        p |= 1u << SMMU_T_UX;
    return p;
}

static bool walk32(struct smmu *m, uint32_t lin, unsigned acc, struct smmu_walk *r)
{
    uint64_t pde_a = (*m->cpu.cr3 & 0xFFFFF000u) | ((lin >> 22) << 2);
    uint32_t pde = (uint32_t)rd(m, pde_a, 4);
    r->table[0] = pde_a >> 12;
    r->base_vpn[0] = 0;
    r->span_log[0] = 10;
    r->esize_log[0] = 2;
    r->ntables = 1;
    if (!(pde & PTE_P))
        return fault(m, lin, acc, 0);
    if ((pde & PTE_PS) && m->pse) {
        if (pde & 0x003FE000u) /* bits 21:13 reserved (no PSE-36) */
            return fault(m, lin, acc, SMMU_PF_P | SMMU_PF_RSVD);
        bool w = pde & PTE_W, u = pde & PTE_U;
        if (!allowed(m, acc, w, u, false))
            return fault(m, lin, acc, SMMU_PF_P);
        if (!set_bits(m, pde_a, PTE_A | ((acc & SMMU_ACC_W) ? PTE_D : 0), acc))
            return false;
        bool dirty = (acc & SMMU_ACC_W) || (pde & PTE_D);
        r->phys = (pde & 0xFFC00000u) | (lin & 0x3FF000u);
        r->perm = perms(m, w, u, false, dirty);
        r->global = m->pge && (pde & PTE_G);
        return true;
    }
    uint64_t pte_a = (pde & 0xFFFFF000u) | (((lin >> 12) & 0x3FF) << 2);
    uint32_t pte = (uint32_t)rd(m, pte_a, 4);
    r->table[1] = pte_a >> 12;
    r->base_vpn[1] = (lin >> 22) << 10;
    r->span_log[1] = 0;
    r->esize_log[1] = 2;
    r->ntables = 2;
    if (!(pte & PTE_P))
        return fault(m, lin, acc, 0);
    bool w = pde & pte & PTE_W, u = pde & pte & PTE_U;
    if (!allowed(m, acc, w, u, false))
        return fault(m, lin, acc, SMMU_PF_P);
    if (!set_bits(m, pde_a, PTE_A, acc))
        return false;
    if (!set_bits(m, pte_a, PTE_A | ((acc & SMMU_ACC_W) ? PTE_D : 0), acc))
        return false;
    bool dirty = (acc & SMMU_ACC_W) || (pte & PTE_D);
    r->phys = pte & 0xFFFFF000u;
    r->perm = perms(m, w, u, false, dirty);
    r->global = m->pge && (pte & PTE_G);
    return true;
}

static bool rsvd_pae(const struct smmu *m, uint64_t e)
{
    return (e & PAE_RSVD_HI) || (!m->nxe && (e & PAE_NX));
}

static bool walk_pae(struct smmu *m, uint32_t lin, unsigned acc, struct smmu_walk *r)
{
    int as = m->active;
    uint64_t pdpte = m->as[as].pdpte[lin >> 30];
    r->ntables = 0;
    if (!(pdpte & PTE_P))
        return fault(m, lin, acc, 0);
    uint64_t pde_a = (pdpte & PAE_ADDR) | (((lin >> 21) & 0x1FF) << 3);
    uint64_t pde = rd(m, pde_a, 8);
    r->table[0] = pde_a >> 12;
    r->base_vpn[0] = (lin >> 30) << 18;
    r->span_log[0] = 9;
    r->esize_log[0] = 3;
    r->ntables = 1;
    if (!(pde & PTE_P))
        return fault(m, lin, acc, 0);
    if (rsvd_pae(m, pde) || ((pde & PTE_PS) && (pde & 0x1FE000u)))
        return fault(m, lin, acc, SMMU_PF_P | SMMU_PF_RSVD);
    bool nx_pde = m->nxe && (pde & PAE_NX);
    if (pde & PTE_PS) {
        bool w = pde & PTE_W, u = pde & PTE_U;
        if (!allowed(m, acc, w, u, nx_pde))
            return fault(m, lin, acc, SMMU_PF_P);
        if (!set_bits(m, pde_a, PTE_A | ((acc & SMMU_ACC_W) ? PTE_D : 0), acc))
            return false;
        bool dirty = (acc & SMMU_ACC_W) || (pde & PTE_D);
        r->phys = (pde & 0xFFFE00000ull) | (lin & 0x1FF000u);
        r->perm = perms(m, w, u, nx_pde, dirty);
        r->global = m->pge && (pde & PTE_G);
        return true;
    }
    uint64_t pte_a = (pde & PAE_ADDR) | (((lin >> 12) & 0x1FF) << 3);
    uint64_t pte = rd(m, pte_a, 8);
    r->table[1] = pte_a >> 12;
    r->base_vpn[1] = (lin >> 21) << 9;
    r->span_log[1] = 0;
    r->esize_log[1] = 3;
    r->ntables = 2;
    if (!(pte & PTE_P))
        return fault(m, lin, acc, 0);
    if (rsvd_pae(m, pte))
        return fault(m, lin, acc, SMMU_PF_P | SMMU_PF_RSVD);
    bool w = pde & pte & PTE_W, u = pde & pte & PTE_U;
    bool nx = nx_pde || (m->nxe && (pte & PAE_NX));
    if (!allowed(m, acc, w, u, nx))
        return fault(m, lin, acc, SMMU_PF_P);
    if (!set_bits(m, pde_a, PTE_A, acc))
        return false;
    if (!set_bits(m, pte_a, PTE_A | ((acc & SMMU_ACC_W) ? PTE_D : 0), acc))
        return false;
    bool dirty = (acc & SMMU_ACC_W) || (pte & PTE_D);
    r->phys = pte & PAE_ADDR;
    r->perm = perms(m, w, u, nx, dirty);
    r->global = m->pge && (pte & PTE_G);
    return true;
}

bool smmu_walk(struct smmu *m, uint32_t lin, unsigned acc, struct smmu_walk *r)
{
    memset(r, 0, sizeof(*r));
    if (!m->paging) {
        r->phys = lin & ~0xFFFu & m->a20_mask;
        r->perm = 0x3F;
        return true;
    }
    bool ok = m->pae ? walk_pae(m, lin, acc, r) : walk32(m, lin, acc, r);
    /* The A20 gate sits after the MMU: on the result and the tables read. */
    uint64_t mask = (m->a20_mask | ~0xFFFFFFFFull) >> 12;
    r->phys &= m->a20_mask | ~0xFFFFFFFFull;
    for (int i = 0; i < r->ntables; i++)
        r->table[i] &= mask;
    return ok;
}

int smmu_load_pdptes(struct smmu *m, uint64_t out[4])
{
    uint32_t base = *m->cpu.cr3 & 0xFFFFFFE0u;
    for (int i = 0; i < 4; i++) {
        uint64_t e = rd(m, base + 8u * (unsigned)i, 8);
        /* Reserved: bits 2:1, 8:5 and 63:36 (SDM 4.4.1). */
        if ((e & PTE_P) && (e & (0x1E6ull | 0xFFFFFFF000000000ull)))
            return -EINVAL;
        out[i] = e;
    }
    return 0;
}
