/*
 * tests/unit/test_bt_relax.c — branch relaxation (bt/emit.c bt_emit_relax).
 *
 * Random blocks: filler instructions of several lengths in MAIN and OOL,
 * labels bound at random points, near branches (which relaxation may
 * shorten), pinned branches (which it must not touch) and calls. After
 * bt_emit_relax and bt_emit_place, the placed code is decoded with Zydis
 * from its first byte: the same instructions in the same order, every
 * branch landing on the label it was emitted for, the pinned ones still
 * rel32 at their remapped offsets, near ones rel8 wherever rel8 reaches
 * in the final layout from a first-pass fit, and every offset kept during
 * emission (bt_here) remapped to the start of the same instruction.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt/emit.h"

enum kind { FILL, NEAR_JMP, NEAR_JCC, PIN_JMP, PIN_JCC, CALL };

struct item {
    enum kind kind;
    int buf;
    int label;        /* branch target */
    uint32_t here;    /* bt_here before it (remapped afterwards) */
    uint32_t rel_at;  /* pinned branches: the rel32's offset */
    int len;          /* filler length */
};

static uint32_t rnd_state;
static uint32_t rnd(void)
{
    rnd_state = rnd_state * 1103515245u + 12345u;
    return rnd_state >> 8;
}

static void fill(struct bt_emit *e, int b, int len)
{
    switch (len) {
    case 1: bt_ins(e, b, ZYDIS_MNEMONIC_NOP, 0); break;
    case 3: bt_ins(e, b, ZYDIS_MNEMONIC_MOV, 2, bt_r(ZYDIS_REGISTER_R9), bt_r(ZYDIS_REGISTER_RAX)); break;
    case 6: bt_ins(e, b, ZYDIS_MNEMONIC_MOV, 2, bt_r(ZYDIS_REGISTER_R9D), bt_i(0x12345678)); break;
    default: bt_ins(e, b, ZYDIS_MNEMONIC_MOV, 2, bt_r(ZYDIS_REGISTER_R9), bt_i(0x123456789abcll)); break;
    }
}

#define NITEMS 160
#define NLABELS 24

START_TEST(random_blocks)
{
    static struct bt_emit e;
    static struct item it[NITEMS];
    static uint8_t code[2 * BT_BUF_CAP];
    static const int lens[4] = { 1, 3, 6, 10 };
    rnd_state = 0x9e3779b9u * (uint32_t)(_i + 1);
    bt_emit_reset(&e);
    int labels[NLABELS];
    for (int l = 0; l < NLABELS; l++)
        labels[l] = bt_label(&e);
    bool bound[NLABELS] = { false };
    /* Items in emission order; labels bound between them, each once. */
    int n = 0;
    for (; n < NITEMS; n++) {
        struct item *x = &it[n];
        x->buf = rnd() % 3 == 0 ? 1 : 0;
        if (rnd() % 4 == 0) {
            int l = (int)(rnd() % NLABELS);
            if (!bound[l]) {
                bt_bind(&e, x->buf, labels[l]);
                bound[l] = true;
            }
        }
        x->here = bt_here(&e, x->buf);
        x->label = labels[rnd() % NLABELS];
        unsigned r = rnd() % 16;
        x->kind = r < 7 ? FILL : r < 10 ? NEAR_JCC : r < 12 ? NEAR_JMP : r < 13 ? PIN_JMP : r < 14 ? PIN_JCC : CALL;
        /* Short-range blocks too: long fillers only now and then. */
        x->len = lens[rnd() % (_i % 2 ? 3 : 4)];
        switch (x->kind) {
        case FILL: fill(&e, x->buf, x->len); break;
        case NEAR_JMP: bt_jmp_near(&e, x->buf, x->label); break;
        case NEAR_JCC: bt_jcc_near(&e, x->buf, ZYDIS_MNEMONIC_JNZ, x->label); break;
        case PIN_JMP: x->rel_at = bt_jmp_label(&e, x->buf, x->label); break;
        case PIN_JCC: x->rel_at = bt_jcc_label(&e, x->buf, ZYDIS_MNEMONIC_JBE, x->label); break;
        case CALL: bt_call_abs(&e, x->buf, (uint64_t)(uintptr_t)code); break;
        }
    }
    for (int l = 0; l < NLABELS; l++)
        if (!bound[l])
            bt_bind(&e, 1, labels[l]);
    ck_assert(!e.failed);
    uint32_t before = bt_emit_size(&e);
    bt_emit_relax(&e);
    ck_assert(!e.failed);
    ck_assert_uint_le(bt_emit_size(&e), before);
    for (int i = 0; i < n; i++) {
        it[i].here = bt_emit_remap(&e, it[i].buf, it[i].here);
        if (it[i].kind == PIN_JMP || it[i].kind == PIN_JCC)
            it[i].rel_at = bt_emit_remap(&e, it[i].buf, it[i].rel_at);
    }
    bt_emit_place(&e, code, 0);

    ZydisDecoder dec;
    ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    /* Walk each buffer's items in order through the placed code. */
    for (int b = 0; b < 2; b++) {
        uint32_t base = b ? e.len[0] : 0, off = 0;
        for (int i = 0; i < n; i++) {
            const struct item *x = &it[i];
            if (x->buf != b)
                continue;
            ck_assert_msg(x->here == off, "item %d: kept offset %u, instruction at %u", i, x->here, off);
            ZydisDecodedInstruction zi;
            ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
            ck_assert(ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, code + base + off, e.len[b] - off, &zi, ops)));
            uint64_t at = (uint64_t)(uintptr_t)(code + base + off), target = 0;
            if (x->kind != FILL)
                ck_assert(ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&zi, &ops[0], at, &target)));
            uint64_t want = x->kind == CALL ? (uint64_t)(uintptr_t)code :
                            (uint64_t)(uintptr_t)bt_placed(&e, code, e.label[x->label].buf, bt_label_off(&e, x->label));
            switch (x->kind) {
            case FILL:
                ck_assert_int_eq(zi.length, x->len);
                ck_assert_int_eq(zi.mnemonic, x->len == 1 ? ZYDIS_MNEMONIC_NOP : ZYDIS_MNEMONIC_MOV);
                break;
            case NEAR_JMP:
            case NEAR_JCC: {
                ck_assert_int_eq(zi.mnemonic, x->kind == NEAR_JMP ? ZYDIS_MNEMONIC_JMP : ZYDIS_MNEMONIC_JNZ);
                ck_assert_msg(target == want, "item %d: near branch to %llx, label at %llx", i,
                              (unsigned long long)target, (unsigned long long)want);
                /* Reachable with rel8 from here even in the old layout:
                 * relaxation must have taken it. */
                int64_t d = (int64_t)want - (int64_t)(at + 2);
                if (zi.length > 2 && d >= -100 && d <= 100)
                    ck_assert_msg(0, "item %d: rel32 left where rel8 reaches (%lld)", i, (long long)d);
                break;
            }
            case PIN_JMP:
            case PIN_JCC:
                ck_assert_int_eq(zi.mnemonic, x->kind == PIN_JMP ? ZYDIS_MNEMONIC_JMP : ZYDIS_MNEMONIC_JBE);
                ck_assert_int_eq(zi.raw.imm[0].size, 32);
                ck_assert_uint_eq(x->rel_at + 4, off + zi.length);
                ck_assert(target == want);
                break;
            case CALL:
                ck_assert_int_eq(zi.mnemonic, ZYDIS_MNEMONIC_CALL);
                ck_assert(target == want);
                break;
            }
            off += zi.length;
        }
        ck_assert_uint_eq(off, e.len[b]);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bt_relax");
    TCase *tc = tcase_create("relax");
    tcase_add_loop_test(tc, random_blocks, 0, 400);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
