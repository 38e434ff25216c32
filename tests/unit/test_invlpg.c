/*
 * tests/unit/test_invlpg.c — INVLPG inline (bt/emit_invlpg.c): with no
 * shadow entry for the page it completes in the block (no callout, the
 * shadow MMU's invlpg count unchanged); with one it reaches the shadow MMU,
 * which drops it; live guest flags survive both ways; the page the code
 * runs from always takes the callout. Through the real engine at CPL 0
 * with paging on (tests/unit/bt_harness.h).
 */
#include <check.h>
#include <stdlib.h>

#include "bt/bt.h"
#include "tests/unit/bt_harness.h"

#define PD 0x100000u
#define PT 0x101000u

static struct bth H;

static void setup(void)
{
    bth_init(&H, 0);
    bth_wr32(&H, PD, PT | 3);
    for (uint32_t p = 0; p < 1024; p++)
        bth_wr32(&H, PT + 4 * p, (p << 12) | 3);
    H.c->cr0 |= CPU_CR0_PG;
    H.c->cr3 = PD;
    ck_assert_int_eq(smmu_cr_write(&H.bt->mmu), 0);
}

static void teardown(void)
{
    bth_destroy(&H);
}

static uint64_t ent(int t, uint32_t lin)
{
    return H.bt->mmu.tlb[(size_t)t * SMMU_TLB_ENTRIES + (lin >> 12)];
}

/* The MMU's summary byte of the page (smmu.h, BT_SUMMARY_OFF): what the inline
 * check reads instead of the tables. */
static uint8_t any(uint32_t lin)
{
    return H.bt->mmu.summary[lin >> 12];
}

START_TEST(no_entry_inline_entry_callout)
{
    static const uint8_t code[] = {
        0xB8, 0x01, 0x00, 0x00, 0x00,             /* mov eax, 1 */
        0x83, 0xF8, 0x02,                         /* cmp eax, 2  (CF = 1) */
        0x0F, 0x01, 0x3D, 0x00, 0x00, 0x20, 0x00, /* invlpg [0x200000]: never touched */
        0x0F, 0x92, 0xC3,                         /* setc bl */
        0x8B, 0x0D, 0x00, 0x10, 0x20, 0x00,       /* mov ecx, [0x201000]: an entry */
        0x83, 0xF8, 0x02,                         /* cmp eax, 2 */
        0x0F, 0x01, 0x3D, 0x00, 0x10, 0x20, 0x00, /* invlpg [0x201000] */
        0x0F, 0x92, 0xC2,                         /* setc dl */
        0xF4,                                     /* hlt */
    };
    bth_put(&H, BTH_CODE, code, sizeof(code));
    H.c->regs[CPU_EBX] = H.c->regs[CPU_EDX] = 0;
    uint64_t co = H.bt->st.callouts, inv = H.bt->mmu.stats.invlpg;
    bth_run_hlt(&H);
    ck_assert_uint_eq(H.c->regs[CPU_EBX] & 0xFF, 1);
    ck_assert_uint_eq(H.c->regs[CPU_EDX] & 0xFF, 1);
    ck_assert_uint_eq(H.bt->mmu.stats.invlpg - inv, 1); /* only the second reached the shadow */
    ck_assert_uint_eq(ent(SMMU_T_SR, 0x201000), 0);      /* and dropped its entry */
    ck_assert_uint_eq(any(0x201000), 0);                 /* and its summary byte */
    ck_assert_uint_ne(any(BTH_CODE), 0);                 /* the code page's is set */
    ck_assert_uint_ge(H.bt->st.callouts - co, 1);
}
END_TEST

/* The page the INVLPG itself sits on: the callout, which ends the block. */
START_TEST(own_page_takes_callout)
{
    static const uint8_t code[] = {
        0x0F, 0x01, 0x3D, 0x00, 0x00, 0x01, 0x00, /* invlpg [0x10000]: this page */
        0xF4,
    };
    bth_put(&H, BTH_CODE, code, sizeof(code));
    uint64_t inv = H.bt->mmu.stats.invlpg;
    bth_run_hlt(&H);
    ck_assert_uint_eq(H.bt->mmu.stats.invlpg - inv, 1);
}
END_TEST

/* A PTE rewritten by a plain store (traced: the store drops the entry),
 * then INVLPG inline, then a load: the new frame's data. */
START_TEST(pte_change_then_invlpg_inline)
{
    static const uint8_t code[] = {
        0xA1, 0x00, 0x00, 0x30, 0x00,             /* mov eax, [0x300000] */
        0xC7, 0x05, 0x00, 0x1C, 0x10, 0x00, 0x03, 0x10, 0x30, 0x00, /* mov [PT+0x300*4], 0x301003 */
        0x0F, 0x01, 0x3D, 0x00, 0x00, 0x30, 0x00, /* invlpg [0x300000] */
        0x8B, 0x1D, 0x00, 0x00, 0x30, 0x00,       /* mov ebx, [0x300000] */
        0xF4,
    };
    bth_put(&H, BTH_CODE, code, sizeof(code));
    bth_wr32(&H, 0x300000, 0x11111111);
    bth_wr32(&H, 0x301000, 0x22222222);
    uint64_t inv = H.bt->mmu.stats.invlpg;
    bth_run_hlt(&H);
    ck_assert_uint_eq(H.c->regs[CPU_EAX], 0x11111111);
    ck_assert_uint_eq(H.c->regs[CPU_EBX], 0x22222222);
    ck_assert_uint_eq(H.bt->mmu.stats.invlpg - inv, 0); /* the store had dropped it */
}
END_TEST

/* A space switched away from leaves its pages' summary bytes set (a
 * "maybe"); an INVLPG in the new space takes the callout once, which
 * finds nothing and clears the byte: the next INVLPG of the page is
 * inline again. */
START_TEST(stale_summary_cleared_by_invlpg)
{
    static const uint8_t code[] = {
        0xB8, 0x00, 0x20, 0x10, 0x00,             /* mov eax, 0x102000 (a second directory) */
        0x8B, 0x0D, 0x00, 0x10, 0x20, 0x00,       /* mov ecx, [0x201000]: an entry in the first */
        0x0F, 0x22, 0xD8,                         /* mov cr3, eax */
        0x0F, 0x01, 0x3D, 0x00, 0x10, 0x20, 0x00, /* invlpg [0x201000]: the byte is still set */
        0x0F, 0x01, 0x3D, 0x00, 0x10, 0x20, 0x00, /* invlpg [0x201000]: now clear */
        0xF4,
    };
    bth_wr32(&H, 0x102000, PT | 3);
    bth_put(&H, BTH_CODE, code, sizeof(code));
    uint64_t inv = H.bt->mmu.stats.invlpg;
    bth_run_hlt(&H);
    ck_assert_uint_eq(H.c->cr3, 0x102000);
    ck_assert_uint_eq(H.bt->mmu.stats.invlpg - inv, 1);
    ck_assert_uint_eq(any(0x201000), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("invlpg");
    TCase *t = tcase_create("invlpg");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, no_entry_inline_entry_callout);
    tcase_add_test(t, own_page_takes_callout);
    tcase_add_test(t, pte_change_then_invlpg_inline);
    tcase_add_test(t, stale_summary_cleared_by_invlpg);
    suite_add_tcase(s, t);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int nf = srunner_ntests_failed(r);
    srunner_free(r);
    return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
