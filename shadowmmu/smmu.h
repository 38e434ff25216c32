/*
 * shadowmmu/smmu.h — guest linear addresses to host addresses.
 *
 * The translated code looks a linear address up inline in a flat "shadow
 * TLB": one 8-byte entry per guest page holding host_page - guest_page (an
 * addend), 0 meaning "take the slow path". There is a read table and a write
 * table (both follow struct cpu, reached from R15; see bt/offsets.h). A miss
 * calls smmu_fill(), which walks the guest's translation (paging is off for
 * now: linear = physical) and fills the entry when the page is plain RAM.
 * Device pages, holes and pages with translated code (for writes) are never
 * filled, so every access to them goes through the slow path.
 * See docs/shadowmmu.md.
 */
#ifndef BTVM_SMMU_H
#define BTVM_SMMU_H

#include <stdbool.h>
#include <stdint.h>
#include "bt/offsets.h"

struct vm;

struct smmu_stats {
    uint64_t fills_read, fills_write, slow_reads, slow_writes, bounced, mmio, unmapped;
};

struct smmu {
    struct vm *vm;
    uint64_t *tlb;          /* read table; write table at tlb + SMMU_TLB_ENTRIES */
    uint8_t *code_pages;    /* one byte per guest-physical page: holds translated code */
    uint64_t npages;        /* guest-physical pages of RAM */
    struct smmu_stats stats;
};

/* base: memory for both tables plus extra bytes the caller uses after them. */
int smmu_init(struct smmu *m, struct vm *vm, uint64_t *base);
void smmu_flush(struct smmu *m);

/* Linear → physical for the current CPU mode. Returns false on a fault. */
bool smmu_translate(struct smmu *m, uint32_t lin, bool write, uint64_t *phys);

/* Fill the shadow entry for the page of lin if it can be. Returns the host
 * pointer for lin, or NULL if the access must be emulated (device, hole, code page). */
uint8_t *smmu_fill(struct smmu *m, uint32_t lin, bool write);

/* Byte-exact guest accesses through the slow path (any size, page-crossing,
 * MMIO, unmapped: reads all-ones, writes dropped). Return 0 or a vector. */
int smmu_read(struct smmu *m, uint32_t lin, void *buf, unsigned len);
int smmu_write(struct smmu *m, uint32_t lin, const void *buf, unsigned len);

/* Code coherence: mark a guest-physical page as holding translations (its
 * write entries are dropped so writes take the slow path). */
void smmu_mark_code(struct smmu *m, uint64_t phys_page);
/* Called by smmu_write when a code page is written; set by bt/. */
extern void (*smmu_code_write_hook)(void *opaque, uint64_t phys, unsigned len);
extern void *smmu_code_write_opaque;
void smmu_unmark_code(struct smmu *m, uint64_t phys_page);

#endif
