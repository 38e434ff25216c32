/*
 * tests/unit/test_iret.c — IRET from CPL 0 back to CPL 3 without a
 * callout (bt/emit_iret.c, emit_iret_outer): after the first such IRET
 * (a callout, which fills the CS/SS memos: bt/runtime.c iret_memo_fill),
 * the next ones with the same selectors and descriptors run inline.
 * Through the real engine (tests/unit/bt_harness.h): kernel code IRETs to
 * user code, which makes INT 0x80 system calls whose handler counts and
 * IRETs back; the user code ends with HLT, whose #GP frame says where it
 * ended and with what CS, EFLAGS, ESP and SS.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt/bt.h"
#include "bt/runtime.h"
#include "tests/unit/bt_harness.h"

#define GDT    0x200000u /* above 1 MiB: where the memos are kept (runtime.c) */
#define TSS    0x3000u
#define ESP0   0x90000u
#define GP_H   (BTH_CODE + 0x400u)
#define SYS_H  (BTH_CODE + 0x500u)
#define USER   (BTH_CODE + 0x800u)
#define USTACK 0x70000u
#define UCS    0x1Bu
#define UDS    0x23u

static struct bth H;

static void gdt_entry(uint32_t sel, uint32_t type, unsigned dpl)
{
    bth_gdt_entry(H.vm.ram + GDT + (sel & ~7u), type);
    H.vm.ram[GDT + (sel & ~7u) + 5] |= (uint8_t)(dpl << 5);
}

static void setup(void)
{
    bth_init(&H, 0);
    bth_outer_ring(&H, TSS, ESP0, GP_H);
    H.bt->count = true; /* as --stats: callouts counted by instruction */
    H.bt->callout_counts = calloc(ZYDIS_MNEMONIC_MAX_VALUE + 1, sizeof(uint64_t));
    ck_assert_ptr_nonnull(H.bt->callout_counts);
    memset(H.vm.ram + GDT, 0, 8);
    gdt_entry(0x08, 0xB, 0);
    gdt_entry(0x10, 0x3, 0);
    gdt_entry(UCS, 0xB, 3);
    gdt_entry(UDS, 0x3, 3);
    H.c->gdtr.base = GDT;
    H.c->gdtr.limit = 5 * 8 - 1;
    H.c->idtr.limit = 0x81 * 8 - 1;
    bth_gate(&H, 0x80, SYS_H);
    H.vm.ram[BTH_IDT + 8 * 0x80 + 5] = 0xEE; /* DPL 3: user code may INT 0x80 */
    /* int 0x80: inc ebx ; iretd */
    bth_put(&H, SYS_H, BTH_BYTES(0x43, 0xCF));
    /* user: l: inc ecx ; int 0x80 ; cmp ecx, 100 ; jne l ; hlt */
    bth_put(&H, USER, BTH_BYTES(0x41, 0xCD, 0x80, 0x83, 0xF9, 0x64, 0x75, 0xF8, 0xF4));
}

static void teardown(void)
{
    bth_destroy(&H);
}

/* Kernel code: DS, ES ← ds; push SS, ESP, EFLAGS (IF clear, CF and ZF
 * set), CS, EIP of the user code; IRETD. */
static void run_from_kernel(uint16_t ds)
{
    const uint8_t code[] = {
        0x66, 0xB8, ds & 0xFF, ds >> 8, 0x8E, 0xD8, 0x8E, 0xC0,
        0x6A, UDS, 0x68, USTACK & 0xFF, USTACK >> 8 & 0xFF, USTACK >> 16 & 0xFF, 0x00,
        0x6A, 0x43, 0x6A, UCS, 0x68, USER & 0xFF, USER >> 8 & 0xFF, USER >> 16 & 0xFF, 0x00,
        0xCF,
    };
    bth_put(&H, BTH_CODE, code, sizeof(code));
    H.c->regs[CPU_EBX] = 0;
    H.c->regs[CPU_ECX] = 0;
    bth_run_hlt(&H);
    /* The HLT's #GP frame on the ring-0 stack: EIP, CS, EFLAGS, ESP, SS. */
    ck_assert_uint_eq(bth_rd32(&H, ESP0 - 20), USER + 8);
    ck_assert_uint_eq(bth_rd32(&H, ESP0 - 16), UCS);
    ck_assert_uint_eq(bth_rd32(&H, ESP0 - 8), USTACK);
    ck_assert_uint_eq(bth_rd32(&H, ESP0 - 4), UDS);
    ck_assert_uint_eq(H.c->regs[CPU_ECX], 100);
    ck_assert_uint_eq(H.c->regs[CPU_EBX], 100);
}

START_TEST(iret_to_user_inline)
{
    run_from_kernel(UDS);
    /* The flags the user code ran with: the image's, then CMP's. */
    ck_assert_uint_eq(bth_rd32(&H, ESP0 - 12) & (CPU_FL_IF | CPU_FL_DF | 0x2), 0x2);
    ck_assert_uint_eq(H.c->segs[CPU_DS].sel, UDS);
    /* 100 INT 0x80 callouts, and of the 101 IRETs only the first. */
    ck_assert_uint_le(H.bt->st.callouts, 110);
    ck_assert_uint_eq(H.bt->callout_counts[ZYDIS_MNEMONIC_IRETD], 1);
}
END_TEST

/* DS and ES hold the kernel's data segment (DPL 0): each return to CPL 3
 * must null them (SDM vol. 2, IRET), which the inline path leaves to the
 * callout. */
START_TEST(iret_to_user_nulls_kernel_ds)
{
    run_from_kernel(0x10);
    ck_assert_uint_eq(H.c->segs[CPU_DS].sel, 0);
    ck_assert_uint_eq(H.c->segs[CPU_ES].sel, 0);
}
END_TEST

/* The user code segment's descriptor rewritten by the 50th system call,
 * its AVL bit only: the memo no longer matches (other bytes), the next
 * IRET is a callout, which loads the descriptor and fills the memo again;
 * the rest run inline once more. */
START_TEST(iret_to_user_descriptor_rewritten)
{
    /* inc ebx ; cmp ebx, 50 ; jne +7 ; mov byte [GDT + UCS + 6], 0xDF ; iretd */
    bth_put(&H, SYS_H, BTH_BYTES(0x43, 0x83, 0xFB, 0x32, 0x75, 0x07,
                                 0xC6, 0x05, 0x1E, 0x00, 0x20, 0x00, 0xDF, 0xCF));
    run_from_kernel(UDS);
    ck_assert_uint_eq(H.vm.ram[GDT + (UCS & ~7u) + 6], 0xDF);
    ck_assert_uint_eq(H.bt->callout_counts[ZYDIS_MNEMONIC_IRETD], 2);
}
END_TEST

/* Its limit byte instead (4 GiB - 4 KiB): CS is no longer flat, the
 * translation key changes, and every later IRET is the callout's. */
START_TEST(iret_to_user_not_flat)
{
    bth_put(&H, SYS_H, BTH_BYTES(0x43, 0x83, 0xFB, 0x32, 0x75, 0x07,
                                 0xC6, 0x05, 0x18, 0x00, 0x20, 0x00, 0xFE, 0xCF));
    run_from_kernel(UDS);
    ck_assert_uint_eq(H.bt->callout_counts[ZYDIS_MNEMONIC_IRETD], 52);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("iret");
    TCase *tc = tcase_create("iret");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, iret_to_user_inline);
    tcase_add_test(tc, iret_to_user_nulls_kernel_ds);
    tcase_add_test(tc, iret_to_user_descriptor_rewritten);
    tcase_add_test(tc, iret_to_user_not_flat);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
