/*
 * tests/unit/test_x87ptrs.c — FXSAVE, FNSTENV and FNSAVE store the x87
 * instruction pointer of the guest's last x87 instruction (its EIP and
 * CS), not the host address of its translation, and a data pointer of 0
 * rather than a host address (bt/runtime.c, bt_x87_ptrs). Before the fix
 * the low 32 bits of a code-cache address reached guest memory (difftest
 * found it). FXSAVE passes through what the host stored: AMD CPUs store
 * FIP/FDP in an FXSAVE image only while an x87 exception is pending
 * (zeros otherwise), so there the guest sees 0 as on AMD hardware.
 */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bt/bt.h"
#include "tests/unit/bt_harness.h"

static struct bth H;

/* Whether this host's FXSAVE records the last x87 instruction's address
 * without a pending exception (Intel does; AMD stores 0). */
static bool host_fxsave_stores_fip(void)
{
    static uint8_t img[512] __attribute__((aligned(16)));
    __asm__ volatile("fninit\n\tfld1\n\tfxsave %0\n\tfstp %%st(0)" : "=m"(img) : : "memory");
    uint32_t fip;
    memcpy(&fip, img + 8, 4);
    return fip != 0;
}

static void setup(void)
{
    bth_init(&H, 0);
}

static void teardown(void)
{
    bth_destroy(&H);
}

START_TEST(stored_pointers_are_the_guests)
{
    static const uint8_t code[] = {
        0x90,                                     /* nop */
        0xD9, 0x05, 0x00, 0x80, 0x00, 0x00,       /* +1: fld dword [0x8000] (a data pointer to hide) */
        0xD9, 0x35, 0x00, 0x90, 0x00, 0x00,       /* fnstenv [0x9000] (FNSTENV is a control insn) */
        0x0F, 0xAE, 0x05, 0x00, 0x92, 0x00, 0x00, /* fxsave [0x9200] */
        0xDD, 0x35, 0x00, 0x94, 0x00, 0x00,       /* fnsave [0x9400] */
        0xF4,
    };
    bth_put(&H, BTH_CODE, code, sizeof(code));
    bth_wr32(&H, 0x8000, 0x3f800000); /* 1.0f */
    H.c->segs[CPU_CS].sel = 0x08;
    bth_run_hlt(&H);
    uint32_t want = BTH_CODE + 1;
    /* FNSTENV (32-bit protected-mode format): FIP at 12, FCS at 16, FDP at 20, FDS at 24. */
    ck_assert_uint_eq(bth_rd32(&H, 0x9000 + 12), want);
    ck_assert_uint_eq(bth_rd32(&H, 0x9000 + 16) & 0xFFFF, 0x08);
    ck_assert_uint_eq(bth_rd32(&H, 0x9000 + 20), 0);
    ck_assert_uint_eq(bth_rd32(&H, 0x9000 + 24) & 0xFFFF, 0);
    /* FXSAVE: FIP at 8, FCS at 12, FDP at 16, FDS at 20. */
    ck_assert_uint_eq(bth_rd32(&H, 0x9200 + 8), host_fxsave_stores_fip() ? want : 0);
    ck_assert_uint_eq(bth_rd32(&H, 0x9200 + 12) & 0xFFFF, 0x08);
    ck_assert_uint_eq(bth_rd32(&H, 0x9200 + 16), 0);
    /* FNSAVE: the same environment first. */
    ck_assert_uint_eq(bth_rd32(&H, 0x9400 + 12), want);
    ck_assert_uint_eq(bth_rd32(&H, 0x9400 + 20), 0);
    /* And the value loaded is really there (FNSAVE stored ST0 = 1.0). */
    ck_assert_uint_eq(bth_rd32(&H, 0x9400 + 28 + 4), 0x80000000u);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("x87ptrs");
    TCase *t = tcase_create("x87ptrs");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, stored_pointers_are_the_guests);
    suite_add_tcase(s, t);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int nf = srunner_ntests_failed(r);
    srunner_free(r);
    return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
