/*
 * bt/emit_mem.c — guest memory operands in translated code.
 *
 * Every guest memory access becomes: the 32-bit effective address computed
 * into R10D with flag-free LEA (segment base added where it can be nonzero),
 * an inline lookup of the page in the shadow TLB (after struct cpu, R15), then the guest instruction itself re-encoded with the operand
 * [R10 + R11]. A miss, a page-crossing access, a device page or a write to a
 * page holding translated code jumps to an out-of-line slow path that calls
 * bt_mem_slow() (fill the entry, or point R11 at the bounce buffer) and runs
 * the same instruction there, then bt_mem_done() writes a bounce back.
 * The TLB check clobbers host flags, so guest flags that are live at that
 * point are saved around it (flag liveness is computed per block).
 * See docs/translation.md.
 */
#include "bt/translate.h"
#include "bt/runtime.h"

#include <stddef.h>
#include <string.h>
#include "bt/offsets.h"

#define R(x) bt_r(ZYDIS_REGISTER_##x)

static ZydisRegister reg64(ZydisRegister r32)
{
    return ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, r32);
}

/* The operand of an access a group check covers: [base + R14 + d], or with
 * the group's own addend (user-mode groups) loaded into R11 first, unless
 * R11 still holds it: nothing that may write R11 was emitted since the
 * group's check or the last such load (e->r11_writes; reloading what the
 * check just stored would also wait for store forwarding). Emitted right
 * before the access: R11 is free there. */
ZydisEncoderOperand bt_direct_mem(struct bt_tctx *t, const ZydisDecodedOperand *op, unsigned size)
{
    int64_t disp = op->mem.disp.has_displacement ? op->mem.disp.value : 0;
    ZydisRegister addend = BT_R_ADDEND;
    if (t->mem_slot >= 0 && t->r11_group == t->mem_slot && t->e->r11_writes == t->r11_mark) {
        addend = BT_R_ENTRY; /* still there since the check or the last load */
    } else if (t->mem_slot >= 0) {
        bt_ins(t->e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_ENTRY),
               bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, t->group_addend[t->mem_slot], 8));
        t->r11_group = t->mem_slot;
        t->r11_mark = t->e->r11_writes;
        addend = BT_R_ENTRY;
    }
    if (op->mem.index != ZYDIS_REGISTER_NONE) {
        /* An indexed group: the 32-bit address (it wraps like the
         * guest's) in R10D, then [R10 + addend]. */
        bt_ins(t->e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, bt_r(BT_R_ADDR_32),
               bt_m(op->mem.base, op->mem.index, op->mem.scale, (int32_t)disp, 0));
        return bt_zop(bt_m(BT_R_ADDR, addend, 1, 0, size));
    }
    return bt_zop(bt_m(reg64(bt_map_reg(op->mem.base)), addend, 1, (int32_t)disp, size));
}

/* reg32 += segment base (flag-free, wraps at 4 GiB). Uses R9. */
void bt_emit_seg_add(struct bt_tctx *t, int seg, ZydisRegister reg32)
{
    bool nonflat = t->key & BT_KEY_NONFLAT;
    if (!(seg == CPU_FS || seg == CPU_GS || nonflat))
        return;
    bt_ins(t->e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP0_32),
           bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, CPU_OFF_SEG_BASE + 4 * seg, 4));
    bt_ins(t->e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, bt_r(reg32),
           bt_m(reg64(reg32), BT_R_TMP0, 1, 0, 0));
}

/*
 * Segment bounds (SDM vol. 3 5.3): only emitted for non-flat code or FS/GS.
 * Checks seg_lo <= off and off + size - 1 <= seg_hi without wrapping;
 * a failure raises #GP(0), or #SS(0) for SS, through a callout.
 */
void bt_emit_seg_check(struct bt_tctx *t, int seg, ZydisRegister off32, unsigned size, bool wr)
{
    struct bt_emit *e = t->e;
    /* CS overrides are checked too: a code segment is never writable and may
     * be execute-only, even when everything else is flat. */
    if (!((t->key & BT_KEY_NONFLAT) || seg == CPU_FS || seg == CPU_GS || seg == CPU_CS) || size == 0)
        return;
    bool live = t->live_in != 0;
    int fail = bt_label(e);
    int32_t lo = (int32_t)((wr ? offsetof(struct cpu, seg_wlo) : offsetof(struct cpu, seg_lo)) + 4 * (unsigned)seg);
    int32_t hi = (int32_t)((wr ? offsetof(struct cpu, seg_whi) : offsetof(struct cpu, seg_hi)) + 4 * (unsigned)seg);
    if (live)
        bt_emit_flags_save(t, BT_MAIN);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_CMP, 2, bt_r(off32), bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, lo, 4));
    bt_jcc_near(e, BT_MAIN, ZYDIS_MNEMONIC_JB, fail);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, bt_r(BT_R_TMP0_32), bt_m(reg64(off32), ZYDIS_REGISTER_NONE, 0, (int32_t)size - 1, 0));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_CMP, 2, bt_r(BT_R_TMP0_32), bt_r(off32));
    bt_jcc_near(e, BT_MAIN, ZYDIS_MNEMONIC_JB, fail);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_CMP, 2, bt_r(BT_R_TMP0_32), bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, hi, 4));
    bt_jcc_near(e, BT_MAIN, ZYDIS_MNEMONIC_JNBE, fail);
    if (live)
        bt_emit_flags_restore(t, BT_MAIN);
    bt_bind(e, BT_OOL, fail);
    if (live)
        bt_emit_flags_restore(t, BT_OOL);
    bt_emit_callout(t, BT_OOL, seg == CPU_SS ? cpu_co_stack_fault : cpu_co_limit_fault);
}

/* The effective address (segment offset) of a memory operand into dst32. */
void bt_emit_offset(struct bt_tctx *t, const ZydisDecodedOperand *op, ZydisRegister dst32)
{
    struct bt_emit *e = t->e;
    ZydisRegister base = op->mem.base, index = op->mem.index;
    int64_t disp = op->mem.disp.has_displacement ? op->mem.disp.value : 0;
    if (t->d->zi.address_width == 16) {
        /* 16-bit addressing cannot be encoded in 64-bit mode: add the
         * zero-extended parts, then wrap at 64 KiB. */
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(dst32), bt_i((uint16_t)disp));
        if (base != ZYDIS_REGISTER_NONE) {
            bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOVZX, 2, bt_r(BT_R_TMP0_32), bt_r(bt_map_reg(base)));
            bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, bt_r(dst32),
                   bt_m(reg64(dst32), BT_R_TMP0, 1, 0, 0));
        }
        if (index != ZYDIS_REGISTER_NONE) {
            bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOVZX, 2, bt_r(BT_R_TMP0_32), bt_r(bt_map_reg(index)));
            bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, bt_r(dst32),
                   bt_m(reg64(dst32), BT_R_TMP0, 1, 0, 0));
        }
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOVZX, 2, bt_r(dst32),
               bt_r(ZydisRegisterEncode(ZYDIS_REGCLASS_GPR16, ZydisRegisterGetId(dst32))));
    } else if (base == ZYDIS_REGISTER_NONE && index == ZYDIS_REGISTER_NONE) {
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(dst32), bt_i((int32_t)(uint32_t)disp));
    } else {
        struct bt_op m = bt_m(bt_map_reg(base), bt_map_reg(index), op->mem.scale, (int32_t)disp, 0);
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, bt_r(dst32), m);
    }
}

void bt_emit_ea(struct bt_tctx *t, const ZydisDecodedOperand *op, ZydisRegister dst32, unsigned size, bool wr)
{
    bt_emit_offset(t, op, dst32);
    bt_emit_seg_check(t, bt_seg_index(op->mem.segment), dst32, size, wr);
    bt_emit_seg_add(t, bt_seg_index(op->mem.segment), dst32);
}

/* Crossing check: the access [R10, R10+size) must stay in one page. In the
 * main path an aligned access cannot cross, so one TEST (fused with its
 * branch) settles most of them; a misaligned one runs the exact check out
 * of line, in a shared stub (bt_cross2..16, enter.S): CALL, JA slow, JMP
 * back — 16 bytes instead of 28 at every access. */
static void emit_cross_check(struct bt_tctx *t, int b, unsigned size, int slow)
{
    struct bt_emit *e = t->e;
    if (size <= 1)
        return;
    if (b == BT_MAIN && (size & (size - 1)) == 0 && size <= 16) {
        int misaligned = bt_label(e), back = bt_label(e);
        bt_ins(e, b, ZYDIS_MNEMONIC_TEST, 2, bt_r(BT_R_ADDR_8), bt_i((int)size - 1));
        bt_jcc_near(e, b, ZYDIS_MNEMONIC_JNZ, misaligned);
        bt_bind(e, BT_MAIN, back);
        bt_bind(e, BT_OOL, misaligned);
        int k = __builtin_ctz(size) - 1; /* 2, 4, 8, 16 -> 0..3 */
        bt_call_abs(e, BT_OOL, (uint64_t)(uintptr_t)t->bt->tramp_cross[k]);
        bt_jcc_near(e, BT_OOL, ZYDIS_MNEMONIC_JNBE, slow);
        bt_jmp_near(e, BT_OOL, back);
        return;
    }
    bt_ins(e, b, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP0_32), bt_r(BT_R_ADDR_32));
    bt_ins(e, b, ZYDIS_MNEMONIC_AND, 2, bt_r(BT_R_TMP0_32), bt_i(0xFFF));
    bt_ins(e, b, ZYDIS_MNEMONIC_CMP, 2, bt_r(BT_R_TMP0_32), bt_i(0x1000 - (int)size));
    bt_jcc_near(e, b, ZYDIS_MNEMONIC_JNBE, slow);
}

/*
 * Fast path: the entry is compared with R14, the addend most pages share
 * (with paging off, every RAM page: guest-physical RAM is one host
 * mapping). The access itself uses [R10 + R14], so it does not wait for the
 * table load — the compare runs beside it and its branch is predicted.
 * Pages with another addend take the out-of-line "other" path, which uses
 * the entry's own addend; empty entries and crossings take the slow path.
 */
/* Whether this access should use its shadow entry directly rather than
 * compare it with R14 (bt_emit_mem_op). */
static bool direct_entry(const struct bt_tctx *t)
{
    if (bt_key_cpl(t->key) != 3 || !(t->key & BT_KEY_PG) || (t->key & BT_KEY_UWIN))
        return false; /* (a window's pages share R14, as the kernel's do) */
    for (int i = 0; i < t->d->zi.operand_count; i++) {
        const ZydisDecodedOperand *op = &t->d->ops[i];
        if (op->type == ZYDIS_OPERAND_TYPE_MEMORY &&
            (op->mem.base == ZYDIS_REGISTER_ESP || op->mem.base == ZYDIS_REGISTER_EBP ||
             op->mem.base == ZYDIS_REGISTER_SP || op->mem.base == ZYDIS_REGISTER_BP))
            return false; /* the stack page: R14 */
    }
    return true;
}

void bt_emit_access_insn(struct bt_tctx *t, int b, ZydisEncoderRequest *req, int mi,
                         const struct bt_ident_tmpl *tp)
{
    const ZydisEncoderOperand *m = &req->operands[mi];
    if (!tp || !bt_ident_tmpl_emit(t->e, b, tp, m->mem.base, m->mem.index, m->mem.scale, m->mem.displacement))
        bt_enc(t->e, b, req);
}

/* The access through its page's own entry (R11 = page number on entry):
 * load it, empty → slow, crossing → slow unless the caller checked that
 * already (check), then the access with [R10 + R11].
 * learn >= 0: also store the entry in that prediction slot. */
static void entry_access(struct bt_tctx *t, int b, ZydisEncoderRequest *req, int mi, int64_t table,
                         unsigned size, int slow, int32_t learn, bool check)
{
    struct bt_emit *e = t->e;
    bt_ins(e, b, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_ENTRY), bt_m(BT_R_CPU, BT_R_ENTRY, 8, table, 8));
    bt_ins(e, b, ZYDIS_MNEMONIC_TEST, 2, bt_r(BT_R_ENTRY), bt_r(BT_R_ENTRY));
    bt_jcc_near(e, b, ZYDIS_MNEMONIC_JZ, slow);
    if (learn >= 0)
        bt_ins(e, b, ZYDIS_MNEMONIC_MOV, 2, bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, learn, 8), bt_r(BT_R_ENTRY));
    if (check)
        emit_cross_check(t, b, size, slow);
    if (t->live_in)
        bt_emit_flags_restore(t, b);
    req->operands[mi].mem.index = BT_R_ENTRY;
    bt_emit_access_insn(t, b, req, mi, t->tmpl);
}

/* The main path: the page's entry (page number in `page`) must equal
 * `addend`, which the access then uses without waiting for the entry.
 * The caller has checked for a page crossing first (emit_cross_check), so
 * the out-of-line path for another page needs no check of its own. */
static void compared_access(struct bt_tctx *t, ZydisEncoderRequest *req, int mi, int64_t table,
                            ZydisRegister addend, ZydisRegister page, int other)
{
    struct bt_emit *e = t->e;
    ZydisRegister page32 = ZydisRegisterEncode(ZYDIS_REGCLASS_GPR32, ZydisRegisterGetId(page));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(page32), bt_r(BT_R_ADDR_32));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_SHR, 2, bt_r(page32), bt_i(12));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_CMP, 2, bt_r(addend), bt_m(BT_R_CPU, page, 8, table, 8));
    bt_jcc_near(e, BT_MAIN, ZYDIS_MNEMONIC_JNZ, other);
    if (t->live_in)
        bt_emit_flags_restore(t, BT_MAIN);
    req->operands[mi].mem.index = addend;
    bt_emit_access_insn(t, BT_MAIN, req, mi, t->tmpl);
}

/*
 * A site that reads the direct device page (bt_devsite: the local APIC's
 * register page) tries it first: the page's device-table entry (nonzero
 * only while the linear page maps the device page for reads at this
 * privilege and the device allows it, docs/shadowmmu.md §13), an access
 * inside one 16-byte granule (aligned: size is a power of two ≤ 16), and
 * a readable granule (the map after the tables) — then the instruction
 * reads the host page. Anything else falls through to the usual check.
 */
static void emit_device_read(struct bt_tctx *t, ZydisEncoderRequest *req, int mi, unsigned size,
                             int after)
{
    struct bt_emit *e = t->e;
    int other = bt_label(e);
    int32_t dev = (int32_t)BT_TLB_OFF(SMMU_T_DEV(bt_key_cpl(t->key) == 3 ? SMMU_T_UR : SMMU_T_SR));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_ENTRY_32), bt_r(BT_R_ADDR_32));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_SHR, 2, bt_r(BT_R_ENTRY_32), bt_i(12));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_ENTRY), bt_m(BT_R_CPU, BT_R_ENTRY, 8, dev, 8));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_TEST, 2, bt_r(BT_R_ENTRY), bt_r(BT_R_ENTRY));
    bt_jcc_near(e, BT_MAIN, ZYDIS_MNEMONIC_JZ, other);
    if (size > 1) {
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_TEST, 2, bt_r(BT_R_ADDR_8), bt_i((int)size - 1));
        bt_jcc_near(e, BT_MAIN, ZYDIS_MNEMONIC_JNZ, other);
    }
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP0_32), bt_r(BT_R_ADDR_32));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_SHR, 2, bt_r(BT_R_TMP0_32), bt_i(4));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_AND, 2, bt_r(BT_R_TMP0_32), bt_i(0xFF));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_CMP, 2,
           bt_m(BT_R_CPU, BT_R_TMP0, 1, (int64_t)(BT_TABLES_OFF + SMMU_DEV_MAP_OFF), 1), bt_i(0));
    bt_jcc_near(e, BT_MAIN, ZYDIS_MNEMONIC_JZ, other);
    if (t->live_in)
        bt_emit_flags_restore(t, BT_MAIN);
    req->operands[mi].mem.index = BT_R_ENTRY;
    bt_emit_access_insn(t, BT_MAIN, req, mi, t->tmpl);
    bt_jmp_near(e, BT_MAIN, after);
    bt_bind(e, BT_MAIN, other);
}

/*
 * A store site of the direct device page (bt_devsite; MOV m32, r32/imm32):
 * if the page's device write entry says the guest may write there, the
 * store is aligned and its granule is one the device takes directly (the
 * writable map at +256), the value goes to ARG0 (the same MOV with ARG0 as
 * its destination), the address to ARG1, and bt_light_tramp hands it to
 * the device: one light call instead of two callouts and a bounce.
 */
static void emit_device_store(struct bt_tctx *t, ZydisEncoderRequest *req, int mi, int after)
{
    struct bt_emit *e = t->e;
    int other = bt_label(e);
    int32_t dev = (int32_t)BT_TLB_OFF(SMMU_T_DEV(bt_key_cpl(t->key) == 3 ? SMMU_T_UW : SMMU_T_SW));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_ENTRY_32), bt_r(BT_R_ADDR_32));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_SHR, 2, bt_r(BT_R_ENTRY_32), bt_i(12));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_CMP, 2, bt_m(BT_R_CPU, BT_R_ENTRY, 8, dev, 8), bt_i(0));
    bt_jcc_near(e, BT_MAIN, ZYDIS_MNEMONIC_JZ, other);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_TEST, 2, bt_r(BT_R_ADDR_8), bt_i(3));
    bt_jcc_near(e, BT_MAIN, ZYDIS_MNEMONIC_JNZ, other);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_TMP0_32), bt_r(BT_R_ADDR_32));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_SHR, 2, bt_r(BT_R_TMP0_32), bt_i(4));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_AND, 2, bt_r(BT_R_TMP0_32), bt_i(0xFF));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_CMP, 2,
           bt_m(BT_R_CPU, BT_R_TMP0, 1, (int64_t)(BT_TABLES_OFF + SMMU_DEV_MAP_OFF + 256), 1), bt_i(0));
    bt_jcc_near(e, BT_MAIN, ZYDIS_MNEMONIC_JZ, other);
    ZydisEncoderRequest st = *req;
    st.operands[mi].mem.base = BT_R_CPU;
    st.operands[mi].mem.index = ZYDIS_REGISTER_NONE;
    st.operands[mi].mem.scale = 0;
    st.operands[mi].mem.displacement = BT_OFF_ARG0;
    bt_emit_access_insn(t, BT_MAIN, &st, mi, t->tmpl);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, BT_OFF_ARG1, 4),
           bt_r(BT_R_ADDR_32));
    bt_call_abs(e, BT_MAIN, (uint64_t)(uintptr_t)t->bt->tramp_light);
    if (t->live_in)
        bt_emit_flags_restore(t, BT_MAIN);
    bt_jmp_near(e, BT_MAIN, after);
    bt_bind(e, BT_MAIN, other);
}

void bt_emit_mem_op(struct bt_tctx *t, ZydisEncoderRequest *req, unsigned size, bool rd, bool wr)
{
    struct bt_emit *e = t->e;
    bool live = t->live_in != 0;
    int mi = -1;
    for (int i = 0; i < req->operand_count; i++)
        if (req->operands[i].type == ZYDIS_OPERAND_TYPE_MEMORY)
            mi = i;

    /* A kernel read through the kernel view (shadowmmu/kview.c): no entry,
     * no compare; a page the view does not show faults in the host, and
     * the signal handler (engine.c) maps it or has the site translated
     * checked. PAE tables leave the view empty: no site tries. */
    if (t->bt->kview && rd && !wr && bt_key_cpl(t->key) == 0 && (t->key & BT_KEY_PG) && !t->bt->mmu.pae &&
        !(t->key & (BT_KEY_NONFLAT | BT_KEY_STEP | BT_KEY_SAFE | BT_KEY_SAFE2)) && !t->mem_slow_fn && mi >= 0 &&
        (t->bt->kinds[t->k] == BT_EMIT_IDENT || t->kv_ok) && !bt_devsite(t->bt, t->d->eip) &&
        !bt_kv_checked(t->bt, t->d->eip, t->key)) {
        req->operands[mi].mem.base = BT_R_ADDR;
        req->operands[mi].mem.index = ZYDIS_REGISTER_NONE;
        req->operands[mi].mem.scale = 0;
        req->operands[mi].mem.displacement = (int64_t)BT_KV_BASE;
        bt_emit_access_insn(t, BT_MAIN, req, mi, t->tmpl);
        t->bt->st.kv_reads++;
        return;
    }
    int other = bt_label(e), slow = bt_label(e), after = bt_label(e);
    int64_t table = bt_tlb_off(t->key, wr);
    if (size == 0)
        size = 1;
    /* Where the page needs the whole instruction in C, the old slow path. */
    uint8_t *stub = t->mem_slow_fn ? NULL :
                    bt_memstub_access(t->bt, bt_key_cpl(t->key) == 3, rd, wr, size);
    if (live)
        bt_emit_flags_save(t, BT_MAIN);
    if (rd && !wr && (size & (size - 1)) == 0 && size <= 16 && bt_devsite(t->bt, t->d->eip))
        emit_device_read(t, req, mi, size, after);
    if (wr && !rd && size == 4 && t->d->zi.mnemonic == ZYDIS_MNEMONIC_MOV && mi == 0 &&
        bt_devsite(t->bt, t->d->eip))
        emit_device_store(t, req, mi, after);
    int32_t pred = direct_entry(t) ? bt_pred_alloc(t->bt, t->d->eip) : -1;
    if (pred >= 0) {
        /* User code with paging: its data pages each have their own addend.
         * The site predicts the one it met last (a slot of its own), so
         * the access waits only for the slot's load, not for the table's:
         * the compare runs beside it and its branch is predicted. */
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_ENTRY), bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, pred, 8));
        emit_cross_check(t, BT_MAIN, size, slow);   /* uses R9 only: R11 stays */
        compared_access(t, req, mi, table, BT_R_ENTRY, BT_R_TMP0, other);
        bt_bind(e, BT_MAIN, after);

        /* Another page: learn its entry (if it has one), then as below. */
        int learn = bt_label(e), spent = bt_label(e);
        bt_bind(e, BT_OOL, other);
        bt_emit_count(t, BT_OOL, &t->bt->st.pred_misses);
        bt_ins(e, BT_OOL, ZYDIS_MNEMONIC_SUB, 2, bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, pred + 8, 8), bt_i(1));
        bt_jcc_near(e, BT_OOL, ZYDIS_MNEMONIC_JZ, spent);
        bt_bind(e, BT_OOL, learn);
        bt_ins(e, BT_OOL, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_ENTRY_32), bt_r(BT_R_ADDR_32));
        bt_ins(e, BT_OOL, ZYDIS_MNEMONIC_SHR, 2, bt_r(BT_R_ENTRY_32), bt_i(12));
        entry_access(t, BT_OOL, req, mi, table, size, slow, pred, false);
        bt_jmp_near(e, BT_OOL, after);
        /* Out of misses: bt_pred_spent judges their rate. */
        bt_bind(e, BT_OOL, spent);
        bt_ins(e, BT_OOL, ZYDIS_MNEMONIC_MOV, 2, bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, BT_OFF_ARG1, 4), bt_r(BT_R_ADDR_32));
        bt_emit_pred_spent(t, BT_OOL, pred);
        bt_ins(e, BT_OOL, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_ADDR_32), bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, BT_OFF_ARG1, 4));
        bt_jmp_near(e, BT_OOL, learn);
        goto slow_path;
    }
    if (direct_entry(t)) {
        /* A site whose pages change too often to predict (or no slot
         * left): the entry itself, one dependent load. */
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_ENTRY_32), bt_r(BT_R_ADDR_32));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_SHR, 2, bt_r(BT_R_ENTRY_32), bt_i(12));
        entry_access(t, BT_MAIN, req, mi, table, size, slow, -1, true);
        bt_bind(e, BT_MAIN, after);
        goto slow_path;
    }
    if (stub) {
        /* Misaligned, another page's addend, an empty entry: all the
         * stub's to sort out (its crossing check is the exact one). */
        if (size > 1) {
            bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_TEST, 2, bt_r(BT_R_ADDR_8), bt_i((int)size - 1));
            bt_jcc_near(e, BT_MAIN, ZYDIS_MNEMONIC_JNZ, slow);
        }
        compared_access(t, req, mi, table, BT_R_ADDEND, BT_R_ENTRY, slow);
        bt_bind(e, BT_MAIN, after);
        goto slow_path;
    }
    emit_cross_check(t, BT_MAIN, size, slow);
    compared_access(t, req, mi, table, BT_R_ADDEND, BT_R_ENTRY, other);
    bt_bind(e, BT_MAIN, after);

    /* A page with its own addend. */
    bt_bind(e, BT_OOL, other);
    entry_access(t, BT_OOL, req, mi, table, size, slow, -1, false);
    bt_jmp_near(e, BT_OOL, after);

    /* Slow path: fill the entry or bounce. */
slow_path:
    bt_bind(e, BT_OOL, slow);
    if (stub) {
        /* The shared stub (emit_memstub.c): R11 = the addend on return,
         * the flags back, the entry filled or the bounce set up. */
        bt_call_abs(e, BT_OOL, (uint64_t)(uintptr_t)stub);
        req->operands[mi].mem.index = BT_R_ENTRY;
        bt_emit_access_insn(t, BT_OOL, req, mi, t->tmpl);
        if (wr)
            bt_call_abs(e, BT_OOL, (uint64_t)(uintptr_t)t->bt->memstub_done[t->mem_last_act ? t->d->len : 0]);
        bt_jmp_near(e, BT_OOL, after);
        return;
    }
    if (live)
        bt_emit_flags_restore(t, BT_OOL);
    if (t->mem_slow_fn) {
        /* The whole instruction in C, where the page needs it (a store
         * site that writes page tables, translate.c). */
        bt_emit_callout(t, BT_OOL, t->mem_slow_fn);
        bt_jmp_near(e, BT_OOL, after);
        return;
    }
    /* bt_mem_slow_tramp (enter.S): ARG0 low, EIP high; ARG1 from R10. */
    uint64_t eip_hi = (uint64_t)bt_rel_eip(t, t->d->eip) << 32;
    bt_ins(e, BT_OOL, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_CALL),
           bt_i((int64_t)(eip_hi | size | (wr ? 1u << 16 : 0) | (rd ? 1u << 17 : 0))));
    bt_call_abs(e, BT_OOL, (uint64_t)(uintptr_t)t->bt->tramp_mem_slow[t->shared]);
    bt_ins(e, BT_OOL, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_ADDR_32),
           bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, BT_OFF_ARG1, 4));
    bt_ins(e, BT_OOL, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_ENTRY),
           bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, BT_OFF_MEM_ADDEND, 8));
    bt_emit_access_insn(t, BT_OOL, req, mi, t->tmpl);
    if (wr) {
        /* bt_mem_done may end the block after this instruction if the
         * write is its last act (ARG0 = its length: resume after it), else 0. */
        bt_ins(e, BT_OOL, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_CALL),
               bt_i((int64_t)(eip_hi | (t->mem_last_act ? t->d->len : 0))));
        bt_call_abs(e, BT_OOL, (uint64_t)(uintptr_t)t->bt->tramp_mem_done[t->shared]);
    }
    bt_jmp_near(e, BT_OOL, after);
}
