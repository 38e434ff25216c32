/*
 * bt/groups.c — one shadow-TLB check for many accesses.
 *
 * Within a block, accesses through the same base register value (no index)
 * — typically [ESP+d] locals, pushes and pops, or the fields of one struct —
 * touch a small byte range known at translation time. One check before the
 * first of them proves the whole range lies in a single page whose entry has
 * the shared addend (R14); the accesses are then emitted as plain
 * [base + R14 + d], with no per-access code at all. ESP is followed through
 * push, pop and add/sub/lea with constants. If the check fails at run time
 * the block leaves for a "safe" translation of the same code starting at
 * that instruction (key bit BT_KEY_SAFE), whose only groups are those of
 * the stack split at page boundaries (split_by_page); if one of those
 * fails, for one with none (BT_KEY_SAFE2), which checks every access.
 * See docs/translation.md.
 */
#include "bt/translate.h"

#include <stddef.h>
#include <string.h>
#include "bt/offsets.h"

#define R(x) bt_r(ZYDIS_REGISTER_##x)
#define ESP_ID 4

struct acc {
    int k, reg, ver;
    int idx, iver, scale; /* index register (-1: none) and its version */
    int32_t off;       /* relative to the base register at the start of its version */
    int32_t dk;        /* ESP delta before instruction k (0 for other registers) */
    int size;
    bool wr, stack;
};

static int gpr_id(ZydisRegister r)
{
    if (ZydisRegisterGetClass(r) != ZYDIS_REGCLASS_GPR32)
        return -1;
    return ZydisRegisterGetId(r);
}

/* The explicit memory operand of d if it may join a group. */
static const ZydisDecodedOperand *eligible_mem(const struct dec_insn *d, bool ident)
{
    for (int i = 0; i < d->zi.operand_count_visible; i++) {
        const ZydisDecodedOperand *op = &d->ops[i];
        if (op->type != ZYDIS_OPERAND_TYPE_MEMORY || d->zi.mnemonic == ZYDIS_MNEMONIC_LEA)
            continue;
        /* An index is allowed on a base other than ESP (IDENT
         * instructions only: bt_direct_mem computes such an address into
         * R10D, which those leave free). */
        bool indexed = op->mem.index != ZYDIS_REGISTER_NONE;
        if (indexed && (!ident || gpr_id(op->mem.index) < 0 || op->mem.base == ZYDIS_REGISTER_ESP))
            return NULL;
        if (op->mem.type != ZYDIS_MEMOP_TYPE_MEM || d->zi.address_width != 32 || gpr_id(op->mem.base) < 0 ||
            op->mem.segment == ZYDIS_REGISTER_FS || op->mem.segment == ZYDIS_REGISTER_GS ||
            op->size == 0 || op->size > 128 * 8)
            return NULL;
        ZydisMnemonic m = d->zi.mnemonic;
        if ((m == ZYDIS_MNEMONIC_BT || m == ZYDIS_MNEMONIC_BTS || m == ZYDIS_MNEMONIC_BTR ||
             m == ZYDIS_MNEMONIC_BTC) && d->ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER)
            return NULL; /* the bit offset moves the address */
        return op;
    }
    return NULL;
}

struct planner {
    int na;
    int ver[8];    /* changes when a register is written other than by a constant */
    int wrote[8];  /* changes at every write (an index's version: it is not followed) */
    int32_t delta; /* ESP minus its value at the start of its version */
    int32_t rd[8]; /* the same for the other registers (ESP's is delta) */
    bool user_paged;
    struct acc a[4 * BT_MAX_BLOCK_INSNS]; /* last: add() fills each, none is cleared */
};

static void bump(struct planner *p, int reg)
{
    p->ver[reg]++;
    p->wrote[reg]++;
    p->rd[reg] = 0;
    if (reg == ESP_ID)
        p->delta = 0;
}

static void bump_all(struct planner *p)
{
    for (int r = 0; r < 8; r++)
        bump(p, r);
}

static void add(struct planner *p, int k, int reg, int32_t off, int32_t dk, int size, bool wr, bool stack)
{
    struct acc *a = &p->a[p->na++];
    if (reg != ESP_ID)
        dk = p->rd[reg]; /* ESP's comes with the instruction (push/pop runs) */
    a->k = k; a->reg = reg; a->ver = p->ver[reg];
    a->idx = -1; a->iver = 0; a->scale = 0;
    a->off = off; a->dk = dk; a->size = size; a->wr = wr; a->stack = stack;
}

static void add_mem(struct planner *p, int k, const struct dec_insn *d, int32_t dk, bool ident)
{
    const ZydisDecodedOperand *op = eligible_mem(d, ident);
    if (!op)
        return;
    int reg = gpr_id(op->mem.base);
    int32_t disp = op->mem.disp.has_displacement ? (int32_t)op->mem.disp.value : 0;
    int64_t off = (int64_t)disp + (reg == ESP_ID ? p->delta : p->rd[reg]);
    if (off != (int32_t)off)
        return; /* checked on its own */
    add(p, k, reg, (int32_t)off, dk, op->size / 8,
        (op->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) != 0, false);
    if (op->mem.index != ZYDIS_REGISTER_NONE) {
        struct acc *a = &p->a[p->na - 1];
        a->idx = gpr_id(op->mem.index);
        a->iver = p->wrote[a->idx];
        a->scale = op->mem.scale;
    }
}

/* How far a followed register may move in a block (offsets stay far from
 * int32_t's ends; larger moves end the register's version instead). */
#define FOLLOW_MAX (1 << 24)

/* What an IDENT instruction adds to its 32-bit destination when that is a
 * constant (ADD/SUB imm, INC, DEC, LEA r, [r + d]), through *by. */
static bool constant_step(const struct dec_insn *d, ZydisRegister r32, int32_t *by)
{
    ZydisMnemonic m = d->zi.mnemonic;
    const ZydisDecodedOperand *src = &d->ops[1];
    if ((m == ZYDIS_MNEMONIC_ADD || m == ZYDIS_MNEMONIC_SUB) && d->zi.operand_count_visible == 2 &&
        src->type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
        /* (SUB 0x80000000 adds itself: negated in 32 unsigned bits) */
        *by = m == ZYDIS_MNEMONIC_ADD ? (int32_t)src->imm.value.s
                                      : (int32_t)(0u - (uint32_t)src->imm.value.s);
        return true;
    }
    if ((m == ZYDIS_MNEMONIC_INC || m == ZYDIS_MNEMONIC_DEC) && d->zi.operand_count_visible == 1) {
        *by = m == ZYDIS_MNEMONIC_INC ? 1 : -1;
        return true;
    }
    if (m == ZYDIS_MNEMONIC_LEA && src->type == ZYDIS_OPERAND_TYPE_MEMORY && src->mem.base == r32 &&
        src->mem.index == ZYDIS_REGISTER_NONE && d->zi.address_width == 32) {
        *by = (int32_t)src->mem.disp.value;
        return true;
    }
    return false;
}

/* Register writes of an IDENT instruction; a constant added to a whole
 * 32-bit register is followed instead of ending its version (its
 * accesses before and after join one group), but it is a new value for
 * an index. */
static void note_writes(struct planner *p, const struct dec_insn *d)
{
    for (int i = 0; i < d->zi.operand_count; i++) {
        const ZydisDecodedOperand *op = &d->ops[i];
        if (op->type != ZYDIS_OPERAND_TYPE_REGISTER || !(op->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE))
            continue;
        ZydisRegister big = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LEGACY_32, op->reg.value);
        int r = gpr_id(big);
        if (r < 0)
            continue;
        int32_t by;
        int32_t *moved = r == ESP_ID ? &p->delta : &p->rd[r];
        if (i == 0 && op->reg.value == big && constant_step(d, big, &by) &&
            (int64_t)*moved + by > -FOLLOW_MAX && (int64_t)*moved + by < FOLLOW_MAX) {
            *moved += by;
            p->wrote[r]++;
            continue;
        }
        bump(p, r);
    }
}

/* Same base (and index, scale) register values. */
static bool same_group(const struct acc *a, const struct acc *f)
{
    return a->reg == f->reg && a->ver == f->ver && a->idx == f->idx &&
           (a->idx < 0 || (a->iver == f->iver && a->scale == f->scale));
}

static void hoist(struct bt_plan *plan, const struct planner *p);

static bool seg_operand(const struct dec_insn *d)
{
    return d->zi.operand_count_visible > 0 && d->ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
           ZydisRegisterGetClass(d->ops[0].reg.value) == ZYDIS_REGCLASS_SEGMENT;
}

/* One group of the accesses p->a[m[0..nm)] (in instruction order), if
 * there are two or more within 2 KiB. */
static void make_group(struct bt_plan *plan, const struct planner *p, const int *m, int nm)
{
    if (nm < 2 || plan->ng >= BT_MAX_GROUPS)
        return;
    const struct acc *f = &p->a[m[0]];
    int32_t lo = f->off, hi = f->off + f->size;
    bool wr = false;
    for (int j = 0; j < nm; j++) {
        const struct acc *a = &p->a[m[j]];
        lo = a->off < lo ? a->off : lo;
        hi = a->off + a->size > hi ? a->off + a->size : hi;
        wr |= a->wr;
    }
    if (hi - lo > 2048)
        return;
    struct bt_group *g = &plan->g[plan->ng++];
    g->base32 = f->reg == ESP_ID ? BT_R_ESP : ZydisRegisterEncode(ZYDIS_REGCLASS_GPR32, (ZyanU8)f->reg);
    g->index32 = f->idx < 0 ? ZYDIS_REGISTER_NONE : ZydisRegisterEncode(ZYDIS_REGCLASS_GPR32, (ZyanU8)f->idx);
    g->scale = f->scale;
    /* User code with paging: R14 is the stack page's addend and other
     * pages each have their own, so other groups keep theirs in a slot. */
    g->slot = p->user_paged && f->reg != ESP_ID ? plan->ng - 1 : -1;
    g->first = f->k;
    g->lo = lo - f->dk;
    g->hi = hi - f->dk;
    g->dk = f->dk;
    g->hoisted = false;
    g->step = 0;
    g->wr = wr;
    g->count = nm;
    for (int j = 0; j < nm; j++) {
        const struct acc *a = &p->a[m[j]];
        if (a->stack) {
            plan->direct_stack[a->k] = true;
        } else {
            plan->direct_mem[a->k] = true;
            plan->mem_slot[a->k] = (int8_t)g->slot;
        }
    }
}

/*
 * A SAFE translation (after a group check failed; docs/translation.md §5):
 * the accesses of ESP's first version — relative to ESP at the block's
 * entry, esp0 when the check failed — grouped by the page each touched
 * then, so that a frame across a page boundary (a check that fails on
 * every run at that depth) makes two groups that pass rather than no
 * group at all. The groups share R14, which each check moves to its own
 * page (stack_rebases), so an access whose group's check is behind a
 * later group's check, or that itself crosses the boundary, is left
 * checked on its own. A check that fails here leads to BT_KEY_SAFE2, no
 * groups.
 */
#define SPLIT_PAGES 4
static void split_by_page(struct bt_plan *plan, const struct planner *p, const int *m, int nm, uint32_t esp0)
{
    uint32_t page[SPLIT_PAGES];
    int first[SPLIT_PAGES], np = 0, part[4 * BT_MAX_BLOCK_INSNS];
    for (int j = 0; j < nm; j++) {
        const struct acc *a = &p->a[m[j]];
        uint32_t at = esp0 + (uint32_t)a->off, pg = at >> 12;
        part[j] = -1;
        if ((at + (uint32_t)a->size - 1) >> 12 != pg)
            continue;
        int q = 0;
        while (q < np && page[q] != pg)
            q++;
        if (q == np) {
            if (np == SPLIT_PAGES)
                continue;
            page[np] = pg;
            first[np++] = a->k;
        }
        part[j] = q;
    }
    for (int q = 0; q < np; q++) {
        /* Parts are numbered by first instruction: q's accesses count
         * before part q + 1's check only. */
        int end = q + 1 < np ? first[q + 1] : BT_MAX_BLOCK_INSNS;
        int sub[4 * BT_MAX_BLOCK_INSNS], ns = 0;
        for (int j = 0; j < nm; j++)
            if (part[j] == q && p->a[m[j]].k < end)
                sub[ns++] = m[j];
        make_group(plan, p, sub, ns);
    }
}

/* User code with paging and no window: each data page has an addend of
 * its own, so groups off the stack keep theirs in a slot (R14 is the stack
 * page's). */
static bool user_paged(uint32_t key)
{
    return bt_key_cpl(key) == 3 && (key & BT_KEY_PG) && !(key & BT_KEY_UWIN);
}

void bt_plan_groups(const struct dec_insn *insns, const uint8_t *kinds, int n, uint32_t key, uint32_t esp0,
                    bool loop, struct bt_plan *plan)
{
    struct planner p; /* ~11 KiB, on the stack: nothing per vcpu outlives the call */
    /* Only what is read: groups up to ng, the arrays up to n (clearing
     * all of both was a tenth of the planner's time). */
    plan->ng = 0;
    plan->hoisted = false;
    memset(plan->direct_mem, 0, (size_t)n * sizeof(plan->direct_mem[0]));
    memset(plan->mem_slot, -1, (size_t)n * sizeof(plan->mem_slot[0]));
    memset(plan->direct_stack, 0, (size_t)n * sizeof(plan->direct_stack[0]));
    memset(&p, 0, offsetof(struct planner, a));
    p.user_paged = user_paged(key);
    if ((key & (BT_KEY_SAFE2 | BT_KEY_STACK16 | BT_KEY_NONFLAT)) || !(key & BT_KEY_CODE32))
        return; /* 32-bit flat code with a 32-bit stack only; SAFE2: none at all */

    for (int k = 0; k < n; k++) {
        const struct dec_insn *d = &insns[k];
        int32_t dk = p.delta;
        unsigned osz = d->zi.operand_width / 8;
        switch ((enum bt_emit_kind)kinds[k]) {
        case BT_EMIT_IDENT:
            add_mem(&p, k, d, dk, true);
            note_writes(&p, d);
            break;
        case BT_EMIT_STACK:
            if (d->zi.mnemonic == ZYDIS_MNEMONIC_PUSH && !seg_operand(d)) {
                add_mem(&p, k, d, dk, false);
                add(&p, k, ESP_ID, p.delta - (int32_t)osz, dk, (int)osz, true, true);
                p.delta -= (int32_t)osz;
            } else if (d->zi.mnemonic == ZYDIS_MNEMONIC_POP && !seg_operand(d)) {
                add(&p, k, ESP_ID, p.delta, dk, (int)osz, false, true);
                p.delta += (int32_t)osz;
                if (d->ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY) {
                    add_mem(&p, k, d, dk, false);
                } else {
                    int r = gpr_id(ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LEGACY_32,
                                                                    d->ops[0].reg.value));
                    if (r >= 0)
                        bump(&p, r);
                }
            } else {
                bump_all(&p); /* enter, leave, pushf, pusha, ...: not followed */
            }
            break;
        case BT_EMIT_CONTROL:
            if (d->zi.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR)
                break;
            if (d->zi.mnemonic == ZYDIS_MNEMONIC_CALL) {
                add_mem(&p, k, d, dk, false);
                add(&p, k, ESP_ID, p.delta - (int32_t)osz, dk, (int)osz, true, true);
            } else if (d->zi.mnemonic == ZYDIS_MNEMONIC_RET) {
                add(&p, k, ESP_ID, p.delta, dk, (int)osz, false, true);
            } else if (d->zi.mnemonic == ZYDIS_MNEMONIC_JMP) {
                add_mem(&p, k, d, dk, false);
            }
            break;
        case BT_EMIT_CALLOUT:
            bump_all(&p);
            break;
        }
    }

    /* Group accesses by (register, version). */
    bool used[4 * BT_MAX_BLOCK_INSNS] = { false };
    int m[4 * BT_MAX_BLOCK_INSNS];
    for (int i = 0; i < p.na && plan->ng < BT_MAX_GROUPS; i++) {
        if (used[i])
            continue;
        struct acc *f = &p.a[i];
        int nm = 0;
        for (int j = i; j < p.na; j++) {
            if (same_group(&p.a[j], f)) {
                used[j] = true;
                m[nm++] = j;
            }
        }
        if (!(key & BT_KEY_SAFE))
            make_group(plan, &p, m, nm);
        else if (f->reg == ESP_ID && f->ver == 0)
            split_by_page(plan, &p, m, nm, esp0);
    }
    if (loop && !(key & (BT_KEY_SAFE | BT_KEY_STEP)))
        hoist(plan, &p);
}

/* Whether group g's registers (ESP: back where it started) are the same
 * at every turn of a loop. */
static bool invariant(const struct bt_group *g, const struct planner *p)
{
    int b = g->base32 == BT_R_ESP ? ESP_ID : gpr_id(g->base32);
    int x = g->index32 == ZYDIS_REGISTER_NONE ? -1 : gpr_id(g->index32);
    return b >= 0 && p->ver[b] == 0 && (x < 0 || p->wrote[x] == 0) &&
           (b == ESP_ID ? p->delta : p->rd[b]) == 0;
}

/* A group on a base (not ESP, no index) that only moves by a constant:
 * what it adds at each turn, or 0. */
static int32_t moving_step(const struct bt_group *g, const struct planner *p)
{
    int b = gpr_id(g->base32);
    if (g->base32 == BT_R_ESP || b < 0 || g->index32 != ZYDIS_REGISTER_NONE || p->ver[b] != 0)
        return 0;
    int32_t s = p->rd[b];
    return s > -2048 && s < 2048 ? s : 0;
}

/* A loop's groups whose registers are the same at every turn check the
 * same range every time: their checks run once, before the loop
 * (translate.c), rather than at each turn. A group whose base moves by a
 * constant at each turn (a pointer walking an array) is checked there
 * too, and each turn then only compares the base with the window of
 * values that keeps the range on that page (step). A stack group's check
 * may move R14, so while one stays in the loop only the groups with an
 * addend of their own (user mode, not the stack) move out of it. */
static void hoist(struct bt_plan *plan, const struct planner *p)
{
    bool r14_moves = false;
    for (int i = 0; i < plan->ng; i++)
        if (plan->g[i].base32 == BT_R_ESP && plan->g[i].slot < 0 && !invariant(&plan->g[i], p))
            r14_moves = true;
    for (int i = 0; i < plan->ng; i++) {
        struct bt_group *g = &plan->g[i];
        bool same = invariant(g, p);
        int32_t step = same ? 0 : moving_step(g, p);
        if ((!same && !step) || (r14_moves && g->slot < 0))
            continue;
        g->lo += g->dk;
        g->hi += g->dk;
        g->dk = 0;
        g->first = 0;
        g->hoisted = true;
        g->step = step;
        plan->hoisted = true;
    }
}

bool bt_group_check_at(const struct bt_plan *plan, int k)
{
    for (int i = 0; i < plan->ng; i++)
        if (plan->g[i].first == k)
            return true;
    return false;
}

/* Whether a stack group may move R14 to its page (below). Only where no
 * other group's accesses use R14: user code with paging and no window,
 * whose other groups each have an addend of their own, and the safe
 * translations (split_by_page: stack groups only, other accesses checked
 * one by one). Elsewhere — the kernel, and user code in a window
 * (BT_KEY_UWIN) — every group compares with R14 and uses it: a stack
 * group that moved R14 to a page with an addend of its own (a stack page
 * the window could not take) sent the block's later accesses of other
 * groups, checked against the old R14, to the wrong host page (busybox's
 * shell read a wrong EBX in about one bench run of fifteen). There all
 * pages share R14 anyway, so a stack page on another addend fails over
 * to the safe translation instead. */
static bool rebase_ok(uint32_t key)
{
    return (key & BT_KEY_SAFE) || user_paged(key);
}

void bt_emit_group_checks(struct bt_tctx *t, const struct bt_plan *plan)
{
    struct bt_emit *e = t->e;
    for (int i = 0; i < plan->ng; i++) {
        const struct bt_group *g = &plan->g[i];
        if (g->first != t->k || g->hoisted != t->emit_hoisted)
            continue;
        ZydisRegister b64 = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, g->base32);
        bool live = t->live_in != 0;
        int fail = bt_label(e), top = bt_label(e), r11 = -1;
        if (live)
            bt_emit_flags_save(t, BT_MAIN);
        bt_bind(e, BT_MAIN, top);
        int32_t pred = g->slot >= 0 ? bt_pred_alloc(t->bt, t->d->eip) : -1;
        /* The page number goes in R9 for a predicted group, so that R11
         * ends up holding the addend its first access uses; else in R11. */
        ZydisRegister pg = pred >= 0 ? BT_R_TMP0 : BT_R_ENTRY;
        ZydisRegister pg2 = pred >= 0 ? BT_R_ENTRY : BT_R_TMP0;
        /* Both ends of the range on one page. With an index, each covered
         * access wraps at 4 GiB like the guest's (32-bit LEA in
         * bt_direct_mem), and so do both ends here; one page rules out a
         * wrap in between. Without one, the covered accesses are
         * [base + addend + d] without a 32-bit wrap, so a range past 0 or
         * 4 GiB must fail: the low end is taken in 32 bits (wrapped), the
         * high end in 64 (not). A range that wraps then has its ends on
         * different pages: a low end below 0 is on page 0xFFFFF while its
         * high end is below 4 KiB or negative (2^52 and up once shifted),
         * and a high end at or past 4 GiB is on page 0x100000 or above,
         * which no 32-bit address reaches. (The range is at most 2 KiB.) */
        bool indexed = g->index32 != ZYDIS_REGISTER_NONE;
        ZydisRegister lo_r = ZydisRegisterEncode(ZYDIS_REGCLASS_GPR32, ZydisRegisterGetId(pg));
        ZydisRegister hi_r = ZydisRegisterEncode(indexed ? ZYDIS_REGCLASS_GPR32 : ZYDIS_REGCLASS_GPR64,
                                                 ZydisRegisterGetId(pg2));
        ZydisRegister base = indexed ? g->base32 : b64;
        uint8_t scale = indexed ? (uint8_t)g->scale : 0;
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, bt_r(lo_r), bt_m(base, g->index32, scale, g->lo, 0));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_SHR, 2, bt_r(lo_r), bt_i(12));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_LEA, 2, bt_r(hi_r), bt_m(base, g->index32, scale, g->hi - 1, 0));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_SHR, 2, bt_r(hi_r), bt_i(12));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_CMP, 2, bt_r(hi_r), bt_r(indexed ? lo_r : pg));
        bt_jcc_near(e, BT_MAIN, ZYDIS_MNEMONIC_JNZ, fail);
        if (pred >= 0) {
            /* The group's predicted addend (the one it met last): the
             * covered accesses wait for the slot's load only, while the
             * compare with the entry runs beside them. */
            int miss = bt_label(e), checked = bt_label(e), spent = bt_label(e);
            t->group_addend[g->slot] = pred;
            bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_ENTRY), bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, pred, 8));
            bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_CMP, 2, bt_r(BT_R_ENTRY),
                   bt_m(BT_R_CPU, BT_R_TMP0, 8, bt_tlb_off(t->key, g->wr), 8));
            bt_jcc_near(e, BT_MAIN, ZYDIS_MNEMONIC_JNZ, miss);
            bt_bind(e, BT_MAIN, checked);
            bt_bind(e, BT_OOL, miss);
            bt_ins(e, BT_OOL, ZYDIS_MNEMONIC_SUB, 2, bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, pred + 8, 8), bt_i(1));
            bt_jcc_near(e, BT_OOL, ZYDIS_MNEMONIC_JZ, spent);
            bt_ins(e, BT_OOL, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_ENTRY),
                   bt_m(BT_R_CPU, BT_R_TMP0, 8, bt_tlb_off(t->key, g->wr), 8));
            bt_emit_count(t, BT_OOL, &t->bt->st.pred_misses); /* takes R9, not R11 */
            bt_ins(e, BT_OOL, ZYDIS_MNEMONIC_TEST, 2, bt_r(BT_R_ENTRY), bt_r(BT_R_ENTRY));
            bt_jcc_near(e, BT_OOL, ZYDIS_MNEMONIC_JZ, fail);
            bt_ins(e, BT_OOL, ZYDIS_MNEMONIC_MOV, 2, bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, pred, 8), bt_r(BT_R_ENTRY));
            bt_jmp_near(e, BT_OOL, checked);
            /* Out of misses: bt_pred_spent judges their rate, then the
             * check runs again (the callout took R11). */
            bt_bind(e, BT_OOL, spent);
            bt_emit_pred_spent(t, BT_OOL, pred);
            bt_jmp_near(e, BT_OOL, top);
            r11 = g->slot; /* both ways reach "checked" with the addend in R11 */
        } else if (g->slot >= 0) {
            /* Made direct (its pages change too often) or no slot left:
             * the entry itself, in the group's fixed slot. */
            t->group_addend[g->slot] = (int32_t)(BT_GROUP_ADDEND_OFF + 8u * (unsigned)g->slot);
            bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_ENTRY),
                   bt_m(BT_R_CPU, BT_R_ENTRY, 8, bt_tlb_off(t->key, g->wr), 8));
            bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_TEST, 2, bt_r(BT_R_ENTRY), bt_r(BT_R_ENTRY));
            bt_jcc_near(e, BT_MAIN, ZYDIS_MNEMONIC_JZ, fail);
            bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2,
                   bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, t->group_addend[g->slot], 8), bt_r(BT_R_ENTRY));
            r11 = g->slot;
        } else if (g->base32 == BT_R_ESP && rebase_ok(t->key)) {
            /* R14 is the stack page's addend as of the last entry from C; a
             * loop whose frames sit on the next page would fail this check
             * every time and run its safe translation for good (the shell
             * loop ran 1.8x slower in about one boot of four, as the stack
             * fell). So a stack group on another page that is mapped makes
             * that page's addend R14's and goes on. */
            int reload = bt_label(e), checked = bt_label(e);
            bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_CMP, 2, bt_r(BT_R_ADDEND),
                   bt_m(BT_R_CPU, BT_R_ENTRY, 8, bt_tlb_off(t->key, g->wr), 8));
            bt_jcc_near(e, BT_MAIN, ZYDIS_MNEMONIC_JNZ, reload);
            bt_bind(e, BT_MAIN, checked);
            bt_bind(e, BT_OOL, reload);
            bt_ins(e, BT_OOL, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_ENTRY),
                   bt_m(BT_R_CPU, BT_R_ENTRY, 8, bt_tlb_off(t->key, g->wr), 8));
            bt_ins(e, BT_OOL, ZYDIS_MNEMONIC_TEST, 2, bt_r(BT_R_ENTRY), bt_r(BT_R_ENTRY));
            bt_jcc_near(e, BT_OOL, ZYDIS_MNEMONIC_JZ, fail);
            bt_ins(e, BT_OOL, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_ADDEND), bt_r(BT_R_ENTRY));
            bt_emit_count(t, BT_OOL, &t->bt->st.stack_rebases); /* takes R9 */
            bt_jmp_near(e, BT_OOL, checked);
        } else {
            bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_CMP, 2, bt_r(BT_R_ADDEND),
                   bt_m(BT_R_CPU, BT_R_ENTRY, 8, bt_tlb_off(t->key, g->wr), 8));
            bt_jcc_near(e, BT_MAIN, ZYDIS_MNEMONIC_JNZ, fail);
        }
        if (live)
            bt_emit_flags_restore(t, BT_MAIN);

        bt_bind(e, BT_OOL, fail);
        if (live)
            bt_emit_flags_restore(t, BT_OOL);
        bt_emit_exit_safe(t, t->d->eip);
        t->r11_group = (int8_t)r11;
        t->r11_mark = e->r11_writes;
    }
}
