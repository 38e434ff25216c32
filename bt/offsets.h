/*
 * bt/offsets.h — byte offsets from R15 used by emitted host code and by
 * bt/enter.S: struct cpu's hot fields, the engine's per-vcpu fields before
 * it, and the tables after it. bt/engine.c checks the struct offsets with
 * static asserts.
 */
#ifndef BTVM_BT_OFFSETS_H
#define BTVM_BT_OFFSETS_H

#include "shadowmmu/smmu.h" /* assembler-safe: the table layout */

/* struct cpu (cpu/cpu.h), reached from R15 = struct cpu *. */
#define CPU_OFF_REGS       0
#define CPU_OFF_EIP        32
#define CPU_OFF_EFLAGS     36
#define CPU_OFF_SEG_BASE   40
#define CPU_OFF_ASYNC      64
#define CPU_OFF_FXSTATE    80

/* struct bt_vcpu (bt/bt.h), the engine's own per-vcpu state, ends right
 * before struct cpu: its hot fields sit at small negative offsets from R15
 * (disp8 like the CPU's own). bt/engine.c checks each one. */
#define BT_OFF_EXIT        (-64)
#define BT_OFF_VBASE       (-60)
#define BT_OFF_ARG0        (-56)
#define BT_OFF_ARG1        (-52)
#define BT_OFF_MEM_BOUNCE  (-48)
#define BT_OFF_KEEP        (-44)
#define BT_OFF_MEM_ADDEND  (-40)
#define BT_OFF_HOST_RSP    (-32)
#define BT_OFF_EXIT_SITE   (-24)
#define BT_OFF_CO_INSN     (-16)
#define BT_OFF_ONES        (-8)
#define BT_OFF_LOOP_DIRTY  (-4)
#define BT_OFF_POLL_TARGET (-688)
#define BT_OFF_UKEY_HI     (-656)
/* The mapping starts this far before struct cpu (room for struct bt_vcpu). */
#define BT_VCPU_SPAN       4096

/* Callout result (not an exit): the trampoline continues at the block whose
 * host address is in cpu->exit_site with R14 = cpu->mem_addend (runtime.c). */
#define BT_CO_JUMP 0x100

/* enum bt_exit's BT_EXIT_RA (bt/bt.h), for bt_exit_ra_tramp. */
#define BT_EXIT_RA_CODE 15

/* An indirect jump's inline cache (emit_ctrl.c): the negated EIP it holds
 * and the rel32 of its miss jump sit this many bytes before the rel32 of
 * its jump; once filled, the miss jump goes just past that jump. */
/* Set in a chainable exit's site address when its jump goes forward
 * (target EIP above the jump's own): the dispatcher chains it to the
 * target's fwd_off entry, past the async check (translate.c). */
#define BT_SITE_FWD (1ull << 63)
/* Set in a site address in a shared block (bt/bt.h bt_key_shared), which
 * keeps vbase; only those may chain to a shared block (engine.c). */
#define BT_SITE_VB (1ull << 62)

#define BT_ICACHE_EIP_BACK 18
#define BT_ICACHE_MISS_BACK 8
/* In a shared block's cache, "mov ecx, [r15 + disp8] ; not ecx" comes
 * first: its disp8 (vbase, or ones for an absolute compare) is this far
 * before the EIP. */
#define BT_ICACHE_BASE_BACK 7

/* Flags the host RFLAGS carries for the guest: CF PF AF ZF SF OF DF. */
#define BT_HOSTLIVE_FLAGS 0x0CD5

/* The engine's tables follow struct cpu in the same mapping, so emitted code
 * reaches them as [R15 + index*8 + offset] (see shadowmmu/smmu.h). */
#define BT_TABLES_OFF      0x10000u
/* Addends of user-mode access groups (groups.c), one per group of a block,
 * in the region's gap between struct cpu and the tables. */
#define BT_GROUP_ADDEND_OFF (BT_TABLES_OFF - 32u * 8u)
/* The shadow tables (layout: shadowmmu/smmu.h): sup read, sup write,
 * user read, user write, sup exec, user exec, then the device tables and
 * the direct page's granule maps; R15-relative. */
#define BT_TLB_OFF(t)      (BT_TABLES_OFF + SMMU_TLB_OFF(t))
#define BT_IBTC_OFF        (BT_TABLES_OFF + SMMU_TLB_SIZE)
#define BT_IBTC_ENTRIES    (1u << 16)
/* Predicted addends of user-mode access sites (emit_mem.c, groups.c): per
 * site 16 bytes, the addend it met last and the misses it may still take
 * before bt_pred_spent (runtime.c) looks at their rate. Handed out by
 * bt_pred_alloc (cache.c) for the life of the code cache. */
#define BT_PRED_OFF        (BT_IBTC_OFF + BT_IBTC_ENTRIES * 16u)
#define BT_PRED_SLOTS      (1u << 18)
/* A slot's addend before its first miss: never an entry (entries are 0 or
 * page-aligned addends). */
#define BT_PRED_NONE       1u
/* The shadow MMU's summary bytes (smmu.h SMMU_SUMMARY_SIZE), last: put
 * after the tables themselves, they moved the indirect-branch table by
 * 1 MiB, and the shell loop ran ~5% slower (paired boots). */
#define BT_SUMMARY_OFF     (BT_PRED_OFF + BT_PRED_SLOTS * 16u)
#define BT_REGION_SIZE     (BT_SUMMARY_OFF + SMMU_SUMMARY_SIZE)

#endif
