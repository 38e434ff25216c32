/*
 * bt/emit_memstub.c — the out-of-line memory access stubs blocks share.
 *
 * A guest memory access whose inline check fails (a page with another
 * addend, a misaligned access, an empty shadow entry) leaves its main line
 * for a few bytes of its own (emit_mem.c):
 *
 *     call stub ; <the access on [r10 + r11]> ; (writes) call done ; jmp back
 *
 * The stub, one per kind of access (privilege, read/write/both, size),
 * does what every site used to carry a copy of: the exact page-crossing
 * check, the lookup of the page's shadow entry, the guest flags back from
 * R8, and on a miss the call into bt_mem_slow (fill the entry, or set up
 * the bounce buffer), which finds the site's EIP by the stub's return
 * address (runtime.c site_eip). It returns with R11 = the addend the
 * access uses. The done stub checks, without touching the flags the access
 * just produced, whether the access went to the bounce buffer; only then
 * it calls bt_mem_done to write it back. One done stub per instruction
 * length: a write that is its instruction's last act may end the block
 * after it (bt_mem_done).
 *
 * Built into the code cache after every flush, before the first block
 * (translate.c), so blocks reach them with rel32 calls.
 * docs/translation.md, "Memory operands".
 */
#include "bt/translate.h"
#include "bt/runtime.h"

#include "bt/offsets.h"

#include <stddef.h>
#include <stdio.h>

#define R(x) bt_r(ZYDIS_REGISTER_##x)
#define CPUM(off, sz) bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, (off), (sz))

static const unsigned stub_size[5] = { 1, 2, 4, 8, 16 };

static void access_stub(struct bt_tctx *t, bool user, bool rd, bool wr, unsigned size)
{
    struct bt_emit *e = t->e;
    int slow = bt_label(e);
    if (size > 1) {
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(R9D), bt_r(BT_R_ADDR_32));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_AND, 2, R(R9D), bt_i(0xFFF));
        bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_CMP, 2, R(R9D), bt_i(0x1000 - (int)size));
        bt_jcc_label(e, BT_MAIN, ZYDIS_MNEMONIC_JNBE, slow);
    }
    int32_t table = (int32_t)BT_TLB_OFF((user ? 2u : 0u) + (wr ? 1u : 0u));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(R9D), bt_r(BT_R_ADDR_32));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_SHR, 2, R(R9D), bt_i(12));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(R9), bt_m(BT_R_CPU, ZYDIS_REGISTER_R9, 8, table, 8));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_TEST, 2, R(R9), R(R9));
    bt_jcc_label(e, BT_MAIN, ZYDIS_MNEMONIC_JZ, slow);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_ENTRY), R(R9));
    /* Where the site's flags were not live R8 holds an old value: dead
     * flags may be anything, as the inline check's own CMP leaves them. */
    bt_emit_flags_restore(t, BT_MAIN);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_RET, 0);

    /* bt_mem_slow, as bt_mem_slow_tramp would call it (enter.S), but
     * with the site's return address for its EIP (bt_mem_slow finds it):
     * moves only once the flags are back. */
    bt_bind(e, BT_MAIN, slow);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_ENTRY), bt_m(ZYDIS_REGISTER_RSP, ZYDIS_REGISTER_NONE, 0, 0, 8));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2,
           CPUM((int32_t)offsetof(struct bt_vcpu, mem_ra) - (int32_t)offsetof(struct bt_vcpu, cpu), 8),
           bt_r(BT_R_ENTRY));
    bt_emit_flags_restore(t, BT_MAIN);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, CPUM(BT_OFF_ARG0, 4),
           bt_i((int32_t)(size | (wr ? 1u << 16 : 0) | (rd ? 1u << 17 : 0))));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, CPUM(BT_OFF_ARG1, 4), bt_r(BT_R_ADDR_32));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, CPUM(BT_OFF_CO_INSN, 8), bt_i(0));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_CALL), bt_i((int64_t)(uintptr_t)bt_mem_slow));
    bt_jmp_abs(e, BT_MAIN, (uint64_t)(uintptr_t)t->bt->tramp_mem_callout);
}

static void done_stub(struct bt_tctx *t, unsigned len)
{
    struct bt_emit *e = t->e;
    int full = bt_label(e);
    /* JRCXZ: the one flag-free test (the access's flags are the guest's). */
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(R9), R(RCX));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(ECX), CPUM(BT_OFF_MEM_BOUNCE, 4));
    bt_emit_jrcxz_or_jmp(e, ZYDIS_REGISTER_R9, full);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, R(RCX), R(R9));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_RET, 0);
    /* cpu->eip is the instruction's: its bt_mem_slow set it. */
    bt_bind(e, BT_MAIN, full);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, CPUM(BT_OFF_ARG0, 4), bt_i((int32_t)len));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, CPUM(BT_OFF_CO_INSN, 8), bt_i(0));
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_r(BT_R_CALL), bt_i((int64_t)(uintptr_t)bt_mem_done));
    bt_jmp_abs(e, BT_MAIN, (uint64_t)(uintptr_t)t->bt->tramp_callout);
}

bool bt_memstub_build(struct bt *bt)
{
    struct bt_emit *e = &bt->em;
    struct bt_tctx t = { .bt = bt, .e = e };
    int at_access[2][3][5], at_done[16];
    bt_emit_reset(e);
    for (int u = 0; u < 2; u++)
        for (int a = 0; a < 3; a++)
            for (int s = 0; s < 5; s++) {
                at_access[u][a][s] = bt_label(e);
                bt_bind(e, BT_MAIN, at_access[u][a][s]);
                access_stub(&t, u, a != 1, a != 0, stub_size[s]);
            }
    for (unsigned len = 0; len < 16; len++) {
        at_done[len] = bt_label(e);
        bt_bind(e, BT_MAIN, at_done[len]);
        done_stub(&t, len);
    }
    uint8_t *host = bt_cache_place(bt, e);
    if (!host)
        return false;
    for (int u = 0; u < 2; u++)
        for (int a = 0; a < 3; a++)
            for (int s = 0; s < 5; s++)
                bt->memstub[u][a][s] = bt_placed(e, host, BT_MAIN, bt_label_off(e, at_access[u][a][s]));
    for (unsigned len = 0; len < 16; len++)
        bt->memstub_done[len] = bt_placed(e, host, BT_MAIN, bt_label_off(e, at_done[len]));
    if (bt->perfmap) {
        static const char *acc[3] = { "r", "w", "rw" };
        for (int u = 0; u < 2; u++)
            for (int a = 0; a < 3; a++)
                for (int s = 0; s < 5; s++) {
                    uint8_t *p = bt->memstub[u][a][s];
                    uint8_t *q = s < 4 ? bt->memstub[u][a][s + 1] : a < 2 ? bt->memstub[u][a + 1][0] :
                                 u < 1 ? bt->memstub[u + 1][0][0] : bt->memstub_done[0];
                    fprintf(bt->perfmap, "%lx %x btvm_memstub_%s_%s%u\n", (unsigned long)(uintptr_t)p,
                            (unsigned)(q - p), u ? "user" : "sup", acc[a], stub_size[s]);
                }
        fprintf(bt->perfmap, "%lx %x btvm_memstub_done\n", (unsigned long)(uintptr_t)bt->memstub_done[0],
                (unsigned)(host + bt_emit_size(e) - bt->memstub_done[0]));
    }
    return true;
}

uint8_t *bt_memstub_access(const struct bt *bt, bool user, bool rd, bool wr, unsigned size)
{
    if (!rd && !wr)
        return NULL;
    for (int s = 0; s < 5; s++)
        if (stub_size[s] == size)
            return bt->memstub[user][rd ? (wr ? 2 : 0) : 1][s];
    return NULL;
}
