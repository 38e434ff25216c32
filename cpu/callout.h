/*
 * cpu/callout.h — the C side of every instruction the translator does not
 * run natively (privileged, sensitive, I/O, string, BCD, ...).
 *
 * Emitted code spills the guest registers and flags into struct cpu, sets
 * c->eip = d->eip (the instruction's own EIP) and calls
 *     int cpu_co_xxx(struct cpu *c, const struct dec_insn *d)
 * where d is the decoded instruction (kept alive as long as its translation).
 * The callout returns:
 *   CPU_CO_CONTINUE  the instruction is done, fall through to the next one in
 *                    the translated block (c->eip is ignored; registers,
 *                    EFLAGS and memory changes are picked up);
 *   CPU_CO_EXIT      leave translated code and resume at c->eip (set it:
 *                    next instruction d->eip + d->len, a branch target, or
 *                    d->eip with an exception recorded by cpu_raise()), used
 *                    after anything that changes the translation key (CS,
 *                    CPL, segment bases, CR0/CR3/CR4), after HLT, and after
 *                    a fault;
 *   CPU_CO_STOP      c->unsupported holds a message: the VM stops
 *                    (VM_EXIT_UNSUPPORTED), naming the instruction.
 * Guest faults are *raised into the guest* (cpu_raise + CPU_CO_EXIT); host
 * problems are returned (CPU_CO_STOP). Never both.
 */
#ifndef BTVM_CPU_CALLOUT_H
#define BTVM_CPU_CALLOUT_H

#include "cpu/cpu.h"
#include "decoder/decoder.h"

enum cpu_co_result { CPU_CO_CONTINUE = 0, CPU_CO_EXIT = 1, CPU_CO_STOP = 2 };

typedef int (*cpu_callout_fn)(struct cpu *c, const struct dec_insn *d);

/* The callout for an instruction the translator does not emit inline, or
 * NULL if btvm has none (the translator then stops the VM with a message
 * naming the bytes and EIP). */
cpu_callout_fn cpu_callout_for(const struct dec_insn *d);

/* x87/MMX/SSE instruction with CR0.TS or CR0.EM set: #NM or #UD. */
int cpu_co_fpu_unavailable(struct cpu *c, const struct dec_insn *d);

/* #DE for a division by zero found by the translator's inline test. */
int cpu_co_divide_error(struct cpu *c, const struct dec_insn *d);

/* Segment bounds violation found inline: #GP(0) / #SS(0). */
int cpu_co_limit_fault(struct cpu *c, const struct dec_insn *d);
int cpu_co_stack_fault(struct cpu *c, const struct dec_insn *d);

/* MOV m, r/imm done in C (adaptive translation of stores to traced pages). */
int cpu_co_mov_store(struct cpu *c, const struct dec_insn *d);
/* XCHG and OR/AND/XOR/ADD/SUB with a memory destination, the same way;
 * cpu_rmw_store_ok: whether d is one of those forms. */
int cpu_co_rmw_store(struct cpu *c, const struct dec_insn *d);
bool cpu_rmw_store_ok(const struct dec_insn *d);

/* A segment register's index in struct cpu (enum cpu_seg), -1 for none. */
int cpu_seg_of(ZydisRegister r);

/* Linear address of memory operand `op` of d (segment base added, 16/32-bit
 * address size wrap). */
uint32_t cpu_ea(const struct cpu *c, const struct dec_insn *d, const ZydisDecodedOperand *op);

#endif
