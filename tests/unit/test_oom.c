/*
 * tests/unit/test_oom.c — host allocations that fail while a guest runs.
 * Linked with -Wl,--wrap=malloc,--wrap=calloc (tests/module.mk), so the
 * engine's and the shadow MMU's allocations can be made to fail on demand:
 *  - the translator's records (bt_arena_alloc, 256 KiB chunks): one failure
 *    flushes the code cache and translates again (oom_flushes); failures
 *    that go on stop the machine with a host error, never a crash;
 *  - the shadow MMU's per-address-space hash (calloc): the space takes the
 *    arrays kept back for this (or empties what it has) and the guest goes
 *    on — without them the block entry's execute entry could never be
 *    made and the guest would spin forever (what this test found first).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt/bt.h"
#include "tests/unit/bt_harness.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);

static int fail_big_once;     /* fail the next malloc of >= 64 KiB */
static int fail_big_always;   /* fail every malloc of >= 64 KiB */
static int fail_calloc;       /* fail every calloc */
static int failed;            /* how many allocations were refused */

void *__wrap_malloc(size_t n)
{
    if (n >= (64u << 10) && (fail_big_always || fail_big_once)) {
        fail_big_once = 0;
        failed++;
        return NULL;
    }
    return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
    if (fail_calloc) {
        failed++;
        return NULL;
    }
    return __real_calloc(n, m);
}

static struct bth H;

static void setup(void)
{
    fail_big_once = fail_big_always = fail_calloc = failed = 0;
    bth_init(&H, 0);
}

static void teardown(void)
{
    fail_big_once = fail_big_always = fail_calloc = 0;
    bth_destroy(&H);
}

/* mov ecx, 100 ; l: add eax, ecx ; dec ecx ; jnz l ; mov [0x9000], eax ; hlt
 * — EAX = 5050 and the word at 0x9000 too. */
static void put_sum(uint32_t at)
{
    static const uint8_t code[] = {
        0xB9, 0x64, 0x00, 0x00, 0x00, 0x01, 0xC8, 0x49, 0x75, 0xFB,
        0xA3, 0x00, 0x90, 0x00, 0x00, 0xF4,
    };
    bth_put(&H, at, code, sizeof(code));
}

START_TEST(arena_failure_flushes_and_retries)
{
    put_sum(BTH_CODE);
    H.c->regs[CPU_EAX] = 0;
    fail_big_once = 1;
    enum vm_exit_kind k = bth_run(&H);
    fail_big_once = 0; /* before any assertion: Check allocates too */
    ck_assert_int_eq(k, VM_EXIT_HLT);
    ck_assert_int_eq(failed, 1);
    ck_assert_uint_eq(H.bt->st.oom_flushes, 1);
    ck_assert_uint_eq(H.c->regs[CPU_EAX], 5050);
    ck_assert_uint_eq(bth_rd32(&H, 0x9000), 5050);
}
END_TEST

START_TEST(arena_failure_persists_stops_in_order)
{
    /* Some code first, so the failure comes with a cache in use. */
    put_sum(BTH_CODE);
    bth_run_hlt(&H);
    put_sum(BTH_CODE + 0x2000);
    H.c->eip = BTH_CODE + 0x2000;
    H.c->halted = false;
    fail_big_always = 1;
    /* The arena's current chunk may still have room: new code until it is used up. */
    enum vm_exit_kind k = VM_EXIT_HLT;
    for (uint32_t at = BTH_CODE + 0x2000; k == VM_EXIT_HLT && at < BTH_CODE + 0x40000; at += 0x20) {
        put_sum(at);
        H.c->eip = at;
        H.c->halted = false;
        k = bth_run(&H);
    }
    fail_big_always = 0;
    ck_assert_int_eq(k, VM_EXIT_ERROR);
    ck_assert_msg(strstr(H.ex.msg, "out of host memory"), "message: %s", H.ex.msg);
    ck_assert_int_ge(failed, 2);
    ck_assert_uint_ge(H.bt->st.oom_flushes, 1);
    /* Memory back: the machine goes on. */
    put_sum(BTH_CODE + 0x50000);
    H.c->eip = BTH_CODE + 0x50000;
    H.c->halted = false;
    H.c->regs[CPU_EAX] = 0;
    bth_run_hlt(&H);
    ck_assert_uint_eq(H.c->regs[CPU_EAX], 5050);
}
END_TEST

#define PD 0x100000u
#define PT 0x101000u
#define PD2 0x102000u

START_TEST(shadow_hash_failure_uses_spare)
{
    /* Paging on, identity map of the first 4 MiB; every calloc fails, so
     * the shadow MMU cannot allocate a hash for this address space. */
    bth_wr32(&H, PD, PT | 7);
    for (uint32_t p = 0; p < 1024; p++)
        bth_wr32(&H, PT + 4 * p, (p << 12) | 7);
    H.c->cr0 |= CPU_CR0_PG;
    H.c->cr3 = PD;
    put_sum(BTH_CODE);
    H.c->regs[CPU_EAX] = 0;
    fail_calloc = 1;
    int r = smmu_cr_write(&H.bt->mmu);
    enum vm_exit_kind k = bth_run(&H);
    fail_calloc = 0; /* before any assertion: Check allocates too */
    ck_assert_int_eq(r, 0);
    ck_assert_msg(k == VM_EXIT_HLT, "exit %d: %s", (int)k, H.ex.msg);
    ck_assert_int_ge(failed, 1);
    ck_assert_uint_eq(H.c->regs[CPU_EAX], 5050);
    ck_assert_uint_eq(bth_rd32(&H, 0x9000), 5050);
    ck_assert_uint_ge(H.bt->mmu.stats.oom_flushes, 1);
    /* The store's page got its entry in the kept-back arrays. */
    ck_assert_uint_ne(H.bt->mmu.tlb[SMMU_T_SW * (size_t)SMMU_TLB_ENTRIES + 9], 0);
    ck_assert_uint_eq(smmu_audit(&H.bt->mmu, 0, SMMU_TLB_ENTRIES), 0);
    /* A second address space while callocs still fail: the spare is in
     * use, so the first space (not loaded now) gives up its arrays. */
    bth_wr32(&H, PD2, PT | 7);
    put_sum(BTH_CODE + 0x100);
    H.c->eip = BTH_CODE + 0x100;
    H.c->halted = false;
    H.c->regs[CPU_EAX] = 0;
    H.c->cr3 = PD2;
    uint64_t reclaims = H.bt->mmu.stats.as_reclaims;
    failed = 0;
    fail_calloc = 1;
    r = smmu_cr_write(&H.bt->mmu);
    k = bth_run(&H);
    fail_calloc = 0;
    ck_assert_int_eq(r, 0);
    ck_assert_msg(k == VM_EXIT_HLT, "exit %d: %s", (int)k, H.ex.msg);
    ck_assert_int_ge(failed, 1);
    ck_assert_uint_eq(H.c->regs[CPU_EAX], 5050);
    ck_assert_uint_gt(H.bt->mmu.stats.as_reclaims, reclaims);
    ck_assert_uint_eq(smmu_audit(&H.bt->mmu, 0, SMMU_TLB_ENTRIES), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("oom");
    TCase *t = tcase_create("oom");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, arena_failure_flushes_and_retries);
    tcase_add_test(t, arena_failure_persists_stops_in_order);
    tcase_add_test(t, shadow_hash_failure_uses_spare);
    suite_add_tcase(s, t);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int nf = srunner_ntests_failed(r);
    srunner_free(r);
    return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
