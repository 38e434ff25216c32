/*
 * shadowmmu/walk.h — the guest page walk (walk.c), private to shadowmmu/.
 */
#ifndef BTVM_SMMU_WALK_H
#define BTVM_SMMU_WALK_H

#include "shadowmmu/smmu.h"

struct smmu_walk {
    uint64_t phys;     /* guest-physical page of the access */
    uint8_t perm;      /* 1 << SMMU_T_*: what this translation allows */
    bool global;       /* G bit in the leaf entry with CR4.PGE: survives CR3 loads */
    /* Page-table pages read (directory, then table), for traces: the
     * linear pages their entries map start at base_vpn, each entry spanning
     * 1 << span_log pages and 1 << esize_log bytes. */
    int ntables;
    uint64_t table[2];
    uint32_t base_vpn[2];
    uint8_t span_log[2], esize_log[2];
};

/* A walk no access asked for (a prefill, docs/shadowmmu.md §7): it writes
 * no A/D bit and fails, recording no #PF, where one would be needed. */
#define SMMU_ACC_PEEK 8u

/* false: a #PF, with m->pf_addr/pf_err set. Paging off: identity. */
bool smmu_walk(struct smmu *m, uint32_t lin, unsigned acc, struct smmu_walk *r);
/* Read the four PAE PDPTEs at CR3; -EINVAL if one has reserved bits set. */
int smmu_load_pdptes(struct smmu *m, uint64_t out[4]);

#endif
