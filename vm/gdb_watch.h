/*
 * vm/gdb_watch.h — which guest memory one instruction reads and writes,
 * from its decoded form and the CPU state before it runs: the test behind
 * exact watchpoints (gdb's Z2/Z3/Z4). docs/gdb.md.
 */
#ifndef BTVM_VM_GDB_WATCH_H
#define BTVM_VM_GDB_WATCH_H

#include <stdbool.h>
#include <stdint.h>
#include "decoder/decoder.h"

struct cpu;

struct vm_gdb_access {
    uint32_t lin;      /* linear address of the first byte */
    uint32_t len;      /* bytes (a REP string instruction: all its iterations) */
    bool read, write;
};

#define VM_GDB_MAX_ACCESSES 8

/* The data accesses of d about to run on c: explicit memory operands
 * (segment base + effective address), the stack (push, pop, call, ret,
 * enter, leave, pushf, iret...) and string operands with their REP count
 * and direction. Not counted: descriptor-table and TSS reads, and what an
 * exception or interrupt delivery writes. Returns how many (<= max). */
int vm_gdb_insn_accesses(const struct cpu *c, const struct dec_insn *d, struct vm_gdb_access *out,
                         int max);

/* [lin, lin + len) and [a, a + alen) overlap (32-bit linear, no wrap). */
static inline bool vm_gdb_overlaps(uint32_t lin, uint32_t len, uint32_t a, uint32_t alen)
{
    uint64_t e1 = (uint64_t)lin + len, e2 = (uint64_t)a + alen;
    return lin < e2 && a < e1;
}

#endif
