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
/* The kernel view's host address: a 32-bit displacement reaches all of
 * it, so a read is [R10 + BT_KV_BASE] with R10 the linear address. */
#define BT_KV_BASE  0x10000000ull
#define BT_KV_SITES (1u << 16)
struct bt_kv_site {
    uint64_t id;     /* (key << 32 | eip) + 1, 0: empty */
    uint32_t faults; /* view faults taken there (BT_KV_CHECKED: translate it checked) */
};
#define BT_KV_CHECKED 0xFFFFFFFFu
/* Reads at this site are translated checked, not through the view. */
bool bt_kv_checked(const struct bt *bt, uint32_t eip, uint32_t key);
/* Translate this site checked from now on. */
void bt_kv_mark(struct bt *bt, uint32_t eip, uint32_t key);
/* A read at this site faulted into the view and got its page: true once
 * it has done so too often (pages that keep being remapped, a fixmap
 * slot): it is marked checked. */
bool bt_kv_fault_churns(struct bt *bt, uint32_t eip, uint32_t key);
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
