/*
 * bt/emit_common.h — what every emitter shares while one block is built:
 * the host registers' roles in the code cache, the translation context,
 * and the shared helpers of bt/emit_common.c.
 */
#ifndef BTVM_BT_EMIT_COMMON_H
#define BTVM_BT_EMIT_COMMON_H

#include <stddef.h>
#include <string.h>
#include "bt/bt.h"
#include "bt/offsets.h"
#include "cpu/callout.h"

/*
 * Host registers inside the code cache (see enter.S). Guest EAX..EDI live
 * in RAX..RDI except ESP; the rest have fixed roles or are scratch, named
 * here by what emitted code keeps in them. A scratch register has several
 * names when different code uses it for different things; the names say
 * which, and each helper says which it clobbers.
 */
/* Fixed for the whole code cache. */
#define BT_R_CPU      ZYDIS_REGISTER_R15   /* struct cpu *, the shadow tables follow */
#define BT_R_ADDEND   ZYDIS_REGISTER_R14   /* the addend most pages share */
#define BT_R_ESP      ZYDIS_REGISTER_R12D  /* guest ESP */
#define BT_R_ESP64    ZYDIS_REGISTER_R12
#define BT_R_SP       ZYDIS_REGISTER_R12W  /* guest SP */
/* R13 (callee-saved): a value that must survive a slow path or callout
 * (popped data, a pushed operand, a rotated high byte, an indirect target). */
#define BT_R_KEEP     ZYDIS_REGISTER_R13
#define BT_R_KEEP_32  ZYDIS_REGISTER_R13D
#define BT_R_KEEP_16  ZYDIS_REGISTER_R13W
#define BT_R_KEEP_8   ZYDIS_REGISTER_R13B
/* ... or a second shadow-TLB entry (REP MOVS: the source page's addend). */
#define BT_R_ENTRY2   ZYDIS_REGISTER_R13
/* R10: the guest linear address of a memory access (the access is
 * [R10 + R11] or [R10 + R14]) ... */
#define BT_R_ADDR     ZYDIS_REGISTER_R10
#define BT_R_ADDR_32  ZYDIS_REGISTER_R10D
#define BT_R_ADDR_16  ZYDIS_REGISTER_R10W
#define BT_R_ADDR_8   ZYDIS_REGISTER_R10B
/* ... or guest RCX, parked around a flag-free JRCXZ test ... */
#define BT_R_RCX_PARK ZYDIS_REGISTER_R10
/* ... or a temporary where no access is in flight. */
#define BT_R_TMP2     ZYDIS_REGISTER_R10
#define BT_R_TMP2_32  ZYDIS_REGISTER_R10D
/* R11: a shadow-TLB entry: the page number going in, the entry (the
 * page's addend) coming out; the access then uses [R10 + R11] ... */
#define BT_R_ENTRY    ZYDIS_REGISTER_R11
#define BT_R_ENTRY_32 ZYDIS_REGISTER_R11D
/* ... or what the callout trampoline takes (the function; the decoded
 * record passes through it on its way to cpu->co_insn) ... */
#define BT_R_CALL     ZYDIS_REGISTER_R11
/* ... or a chain site's address on its way to cpu->exit_site ... */
#define BT_R_SITE     ZYDIS_REGISTER_R11
#define BT_R_SITE_32  ZYDIS_REGISTER_R11D
/* ... or a temporary. */
#define BT_R_TMP3     ZYDIS_REGISTER_R11
#define BT_R_TMP3_32  ZYDIS_REGISTER_R11D
/* R8: the guest flags parked by bt_emit_flags_save until the restore ... */
#define BT_R_FLAGS_32 ZYDIS_REGISTER_R8D
/* ... or an indirect branch's target EIP ... */
#define BT_R_TARGET    ZYDIS_REGISTER_R8
#define BT_R_TARGET_32 ZYDIS_REGISTER_R8D
#define BT_R_TARGET_16 ZYDIS_REGISTER_R8W
/* ... or a temporary where no flags are parked. */
#define BT_R_TMP1     ZYDIS_REGISTER_R8
#define BT_R_TMP1_32  ZYDIS_REGISTER_R8D
/* R9: scratch any helper may clobber (the flag save parks RAX there, a
 * counter's address, a segment base, a page number, ...). */
#define BT_R_TMP0     ZYDIS_REGISTER_R9
#define BT_R_TMP0_32  ZYDIS_REGISTER_R9D
#define BT_R_TMP0_16  ZYDIS_REGISTER_R9W

/*
 * A guest IDENT instruction as host bytes with its memory operand left
 * open (emit_ident.c: bt_ident_tmpl_make, bt_ident_tmpl_emit): prefixes
 * (segment overrides dropped), opcode, the ModRM reg field (REX.R when it
 * names R12 for guest ESP), the immediate.
 */
struct bt_ident_tmpl {
    uint8_t pre[3], npre;
    uint8_t op[3], nop;
    uint8_t reg;       /* ModRM.reg, 0-15 */
    uint8_t imm[4], nimm;
};

struct bt_tctx {
    struct bt *bt;
    struct bt_emit *e;
    struct bt_block *blk;
    uint32_t key;
    const struct dec_insn *d;     /* instruction being translated */
    int k;                        /* its index in the block */
    uint32_t live_in;             /* arithmetic flags live before it (the same) */
    uint32_t live_out;            /* ... and after it; tested only for being 0
                                   * (& CPU_FL_ARITH), never by control-flow
                                   * emitters (translate.c: flow_differs) */
    struct bt_co_rec *co_rec;     /* record of instruction co_k (callouts share it) */
    struct bt_co_rec *co_int;     /* sites of internal callouts (no record) */
    int co_k;
    int nsites, nexits;           /* entries used in sites[] and exits[] */
    bool direct_mem;              /* explicit memory operand checked by a group check */
    int8_t mem_slot;              /* its group (-1: R14) */
    int32_t group_addend[BT_MAX_GROUPS]; /* where each group's addend is, from R15 */
    int8_t r11_group;             /* group whose addend is in R11 (-1: none) ... */
    uint32_t r11_mark;            /* ... while e->r11_writes is still this */
    int loop_label;               /* hoisted loop (translate.c): where a jump back to loop_eip goes, else -1 */
    bool emit_hoisted;            /* bt_emit_group_checks: the hoisted groups (else the others) */
    uint32_t loop_eip;            /* the block's start EIP, which such a jump targets */
    bool direct_stack;            /* implicit stack access checked by a group check */
    /* Pushes and pops in a run, all covered by one stack group, store and
     * load at [R12 + addend + lag] and move R12D once, after the last
     * (emit_stack.c): guest ESP = R12D + esp_lag inside the run. */
    int32_t esp_lag;
    bool lag_next;                /* the next instruction goes on with the run */
    bool mem_last_act;            /* the memory write being emitted ends the instruction */
    cpu_callout_fn mem_slow_fn;   /* set: the access's slow path is this callout (translate.c) */
    bool last;                    /* the instruction is the block's last (a jcc before it falls through) */
    bool shared;                  /* bt_key_shared(key): EIPs come from the run-time vbase */
    uint32_t vbase0;              /* bt_vbase of the block's entry at translation */
    bool target_abs;              /* the next direct exit's target is absolute (16-bit operand size) */
    const struct bt_ident_tmpl *tmpl; /* set: the access being emitted is this instruction's (emit_mem.c) */
    /* The read being emitted is the instruction's first effect, though it
     * is not an IDENT one (a pop, a RET's, PUSH r/m's source, an indirect
     * target): run again from its start after a host fault, the
     * instruction does the same, so it may read through the kernel view. */
    bool kv_ok;
    /* Last, and not cleared per block (bt_tctx_init): nsites and nexits
     * say how much is used. Chain sites to resolve once placed: buffer,
     * rel32 offset, the OOL label of the exit path, and the imm64 slot
     * that stores the site (or, for a compact exit stub, the record
     * field: patch). */
    struct { int8_t buf; bool fwd; uint32_t rel_at; uint32_t imm_at; uint64_t *patch; } sites[64];
    /* out-of-line exits (CALL bt_exit_ra_tramp): record and the label
     * after the CALL, turned into the block's exits[] once placed */
    struct { struct bt_co_site *rec; int ret; int8_t buf; } exits[64];
};

/* Clears every field but the sites[] and exits[] arrays (2.5 KiB a block). */
static inline void bt_tctx_init(struct bt_tctx *t)
{
    memset(t, 0, offsetof(struct bt_tctx, sites));
}

/* Offsets from R15 of segment seg's cache field (offsetof(struct
 * cpu_segment, ...)) and of its entry in one of struct cpu's per-segment
 * uint32_t arrays (offsetof(struct cpu, seg_base), seg_lo, ...). */
static inline int32_t bt_seg_off(int seg, size_t field)
{
    return (int32_t)(offsetof(struct cpu, segs) + (size_t)seg * sizeof(struct cpu_segment) + field);
}
static inline int32_t bt_seg_arr_off(size_t arr, int seg) { return (int32_t)(arr + 4u * (unsigned)seg); }

/* A record's EIP: relative to the vbase the block runs with (bt/enter.S). */
static inline uint32_t bt_rel_eip(const struct bt_tctx *t, uint32_t eip) { return eip - t->vbase0; }
/* The guest EIP `eip` (as translated) at run time: an immediate, or in
 * shared blocks reg32 = vbase + offset (flag-free). */
struct bt_op bt_emit_eip(struct bt_tctx *t, int b, ZydisRegister reg32, uint32_t eip);

/* The shadow table emitted code uses: CPL 3 code uses the user view. */
static inline int32_t bt_tlb_off(uint32_t key, bool wr)
{
    return (int32_t)BT_TLB_OFF((bt_key_cpl(key) == 3 ? 2u : 0u) + (wr ? 1u : 0u));
}
/* The execute table a block entry checks (guest-physical page + 1). */
static inline int32_t bt_exec_off(uint32_t key)
{
    return (int32_t)BT_TLB_OFF(bt_key_cpl(key) == 3 ? 5u : 4u);
}

/* Guest registers: ESP is R12D, SP R12W, the others are their own. */
ZydisRegister bt_map_reg(ZydisRegister r);
/* AH, CH, DH or BH: not encodable beside a REX prefix. */
static inline bool bt_is_high_byte(ZydisRegister r)
{
    return r == ZYDIS_REGISTER_AH || r == ZYDIS_REGISTER_CH || r == ZYDIS_REGISTER_DH || r == ZYDIS_REGISTER_BH;
}
/* A segment register's index in struct cpu (CPU_ES...); DS for none. */
int bt_seg_index(ZydisRegister seg);

/* Guest arithmetic flags into R8 and back around flag-clobbering scratch
 * code (clobber R9). */
/* The sequences themselves, with RAX parked in `park` meanwhile (the
 * emitters' R9; the segment-load stubs', whose R9 holds the selector, R11). */
void bt_emit_flags_to_r8(struct bt_emit *e, int b, ZydisRegister park);
void bt_emit_flags_from_r8(struct bt_emit *e, int b, ZydisRegister park);
void bt_emit_flags_save(struct bt_tctx *t, int b);
void bt_emit_flags_restore(struct bt_tctx *t, int b);

/* ++*counter when --stats counts (clobbers R9 and the host flags). */
void bt_emit_count(struct bt_tctx *t, int b, uint64_t *counter);
/* The call to bt_pred_spent for the predicted-addend slot at pred. */
void bt_emit_pred_spent(struct bt_tctx *t, int b, int32_t pred);

/* Block exits. A direct exit is a chainable jmp rel32 to a stub that asks
 * the dispatcher for the target (and to patch the jump). */
void bt_emit_exit_direct(struct bt_tctx *t, int b, uint32_t target);
void bt_emit_jcc_exit(struct bt_tctx *t, ZydisMnemonic jcc, uint32_t target);
/* Leave to the dispatcher at eip for `reason` (enum bt_exit), unchained. */
/* An exit through a record {site (0), arg0, eip, reason}: arg0 nonzero
 * also sets ARG0 to its low half (the tombstone's key). Returns the record
 * (to patch the site into), NULL on failure. */
uint64_t *bt_emit_exit_record(struct bt_tctx *t, int b, uint32_t eip, unsigned reason,
                                       uint64_t arg0);
void bt_emit_exit_simple(struct bt_tctx *t, int b, uint32_t eip, unsigned reason);
/* Continue in the safe translation of the code at eip (from OOL). */
void bt_emit_exit_safe(struct bt_tctx *t, uint32_t eip);

/* Calls into C through the callout trampoline: cpu/ emulation of the
 * current instruction (its decoded record kept with the block), or one of
 * the run-time entry points (bt/runtime.h). */
void bt_emit_callout(struct bt_tctx *t, int b, cpu_callout_fn fn);
void bt_emit_internal_callout(struct bt_tctx *t, int b, int (*fn)(struct cpu *, const void *));

#endif
