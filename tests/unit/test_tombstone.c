/*
 * tests/unit/test_tombstone.c — code rewritten in place, many times, while
 * an indirect call keeps naming its first translation. Each rewrite kills
 * the callee's block (a tombstone: its entry jumps on to the next
 * translation). Without care those tombstones chain, one hop per
 * generation, and a guest that rewrites code in a loop slows down
 * quadratically (difftest found it: 20,000 sequences took 15 s instead of
 * 1). The dispatcher points the oldest tombstone straight at the newest
 * block (bt/engine.c, forward_root); checked here by reading the jmp.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "bt/bt.h"
#include "tests/unit/bt_harness.h"

#define F 0x20000u /* the callee, on a page of its own */

static struct bth H;

static void setup(void)
{
    bth_init(&H, 0);
}

static void teardown(void)
{
    bth_destroy(&H);
}

START_TEST(rewritten_callee_two_hops_at_most)
{
    /* loop: mov [F+1], cl ; call edx ; add ebx, eax ; dec ecx ; jnz loop ; hlt
     * F:    mov eax, imm32 ; ret      — the imm's low byte is the count. */
    static const uint8_t code[] = {
        0x88, 0x0D, 0x01, 0x00, 0x02, 0x00, /* mov [0x20001], cl */
        0xFF, 0xD2,                         /* call edx */
        0x01, 0xC3,                         /* add ebx, eax */
        0x49,                               /* dec ecx */
        0x75, 0xF3,                         /* jnz loop */
        0xF4,
    };
    static const uint8_t f[] = { 0xB8, 0x00, 0x00, 0x00, 0x00, 0xC3 };
    bth_put(&H, BTH_CODE, code, sizeof(code));
    bth_put(&H, F, f, sizeof(f));
    H.c->regs[CPU_ECX] = 200;
    H.c->regs[CPU_EDX] = F;
    H.c->regs[CPU_EBX] = 0;
    bth_run_hlt(&H);
    ck_assert_uint_eq(H.c->regs[CPU_EBX], 200 * 201 / 2); /* every rewrite was seen */
    ck_assert_uint_ge(H.bt->st.invalidations, 150);

    /* The live translation of F, and the oldest tombstone of its chain. */
    struct bt_block *live = NULL, *first = NULL;
    for (size_t i = 0; i < H.bt->pool_used; i++) {
        struct bt_block *b = &H.bt->blocks_pool[i];
        if (b->eip != F)
            continue;
        if (!first)
            first = b;
        if (b->valid)
            live = b;
    }
    ck_assert_ptr_nonnull(live);
    ck_assert_ptr_nonnull(first);
    ck_assert_ptr_ne(live, first);
    /* The chain's oldest tombstone — the one the call site's cache named
     * when F first died — jumps straight to the live block. */
    struct bt_block *root = live->fwd_root;
    ck_assert_ptr_nonnull(root);
    ck_assert(!root->valid);
    ck_assert(root->eip == F);
    uint8_t *at = root->host;
    ck_assert_uint_eq(at[0], 0xE9);
    int32_t rel;
    memcpy(&rel, at + 1, 4);
    uint8_t *to = at + 5 + rel;
    ck_assert_msg(to == live->host || to == live->ientry,
                  "the oldest tombstone leads to %p, the live block is at %p", (void *)to, (void *)live->host);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tombstone");
    TCase *t = tcase_create("tombstone");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, rewritten_callee_two_hops_at_most);
    suite_add_tcase(s, t);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int nf = srunner_ntests_failed(r);
    srunner_free(r);
    return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
