/*
 * bt/runtime.h — the run-time entry points (bt/runtime.c): C called from
 * inside the code cache (emitted code, bt/enter.S) or by the dispatcher,
 * never at translate time. The translator needs their addresses and a few
 * of their verdicts (bt_adaptive, bt_pred_is_direct), nothing more.
 */
#ifndef BTVM_BT_RUNTIME_H
#define BTVM_BT_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>

struct bt;
struct cpu;
struct dec_insn;

/* Every callout goes through here (bt/enter.S). */
int bt_callout_dispatch(struct cpu *c, const void *insn, int (*fn)(struct cpu *, const void *));
/* The R14 value for entering a block on code page code_ppage. */
uint64_t bt_fast_addend(struct bt *bt, uint64_t code_ppage);
/* This store keeps hitting traced page tables (translate.c makes it a callout). */
bool bt_adaptive(const struct bt *bt, uint32_t eip);
/* This access site reads the direct device page: read through the device
 * tables first (emit_mem.c). */
bool bt_devsite(const struct bt *bt, uint32_t eip);
/* This access site misses its prediction too often: load its entry directly. */
bool bt_pred_is_direct(const struct bt *bt, uint32_t eip);
/* Misses a predicted-addend site may take per look at their rate. */
#define BT_PRED_BUDGET 128

/* Internal callouts, called from emitted code through the trampoline. */
int bt_mem_slow(struct cpu *c, const void *unused);     /* inline TLB check failed */
int bt_mem_done(struct cpu *c, const void *unused);     /* write a bounce back */
int bt_entry_refill(struct cpu *c, const void *unused); /* block entry: code page not in the execute table */
int bt_pred_spent(struct cpu *c, const void *unused);   /* a predicted-addend site spent its misses */
int bt_indirect_miss(struct cpu *c, const void *unused); /* indirect table miss (arg0 = target EIP) */
/* After the guest's FXSAVE/FNSTENV/FNSAVE: the stored x87 instruction
 * pointer made the guest's, the data pointer 0 (not the host's). */
int bt_x87_ptrs(struct cpu *c, const struct dec_insn *d);
/* Called through bt_light_tramp (enter.S) by a store site of the direct
 * device page: the store (arg0 = value, arg1 = linear address) to the device. */
void bt_dev_store(struct cpu *c);

#endif
