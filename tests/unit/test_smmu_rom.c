/*
 * tests/unit/test_smmu_rom.c — the shadow MMU's pages that are host-backed
 * but not plain RAM (docs/shadowmmu.md §14) and the A20 gate: ROM above
 * RAM (read and fetched through the tables, writes dropped), PAM pages
 * that drop writes or send them to a RAM alias, code invalidation when
 * what a page shows changes, and bit 20 forced to 0 with A20 off. Guest
 * physical memory is a 4 GiB reservation as vm/ram.c makes it: RAM at 0,
 * a ROM page at the top.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cpu/cpu.h"
#include "devices/bus.h"
#include "shadowmmu/smmu.h"

#define RAM     (4u << 20)
#define ROM     0xFFFF0000u     /* the last 64 KiB */
#define SPACE   (1ull << 32)

static uint8_t *win, *alias;
static struct dev_bus *bus;
static struct cpu *c;
static struct smmu m;
static uint64_t *tables;

#define ENT(t, lin) tables[(size_t)(t) * SMMU_TLB_ENTRIES + ((uint32_t)(lin) >> 12)]

static int hook_calls;
static uint64_t hook_phys;
static void code_hook(void *opaque, uint64_t phys, unsigned len)
{
    (void)opaque;
    (void)len;
    hook_calls++;
    hook_phys = phys;
}

static void setup(void)
{
    win = mmap(NULL, SPACE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    ck_assert_ptr_ne(win, MAP_FAILED);
    ck_assert_ptr_ne(mmap(win, RAM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                          -1, 0), MAP_FAILED);
    ck_assert_ptr_ne(mmap(win + ROM, 0x10000, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), MAP_FAILED);
    for (unsigned i = 0; i < 0x10000; i++)
        win[ROM + i] = (uint8_t)(i * 7 + 1);
    ck_assert_int_eq(mprotect(win + ROM, 0x10000, PROT_READ), 0); /* a stray write crashes */
    alias = calloc(1, RAM);
    bus = dev_bus_new();
    c = calloc(1, sizeof(*c));
    tables = calloc(1, SMMU_TLB_SIZE);
    ck_assert(alias && bus && c && tables);
    struct smmu_cpu_view view;
    cpu_smmu_view(c, &view);
    ck_assert_int_eq(smmu_init(&m, win, RAM, bus, &view, tables, NULL), 0);
    c->mmu = &m;
    m.code_write_hook = code_hook;
    hook_calls = 0;
}

static void teardown(void)
{
    smmu_destroy(&m);
    free(tables);
    free(c);
    free(alias);
    dev_bus_free(bus);
    munmap(win, SPACE);
}

START_TEST(rom_reads_fetches_and_drops_writes)
{
    bool fault;
    /* Before smmu_set_rom the page is a hole. */
    ck_assert_int_lt(smmu_exec_page(&m, 0xFFFFFFF0u), 0);
    smmu_set_rom(&m, ROM);
    ck_assert_int_eq(smmu_exec_page(&m, 0xFFFFFFF0u), 0xFFFFF);
    ck_assert_uint_eq(ENT(SMMU_T_SX, 0xFFFFF000u), 0xFFFFFull + 1);
    ck_assert_ptr_eq(smmu_fill(&m, 0xFFFFFFF0u, 0, &fault), win + 0xFFFFFFF0u);
    ck_assert_uint_eq(ENT(SMMU_T_SR, 0xFFFFF000u), (uint64_t)(uintptr_t)win);
    /* No write entry, ever: the write is emulated and dropped. */
    ck_assert_ptr_null(smmu_fill(&m, 0xFFFFFFF0u, SMMU_ACC_W, &fault));
    ck_assert(!fault);
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0xFFFFF000u), 0);
    uint8_t before = win[0xFFFFFFF0u];
    uint8_t v = (uint8_t)~before;
    ck_assert_int_eq(smmu_write(&m, 0xFFFFFFF0u, &v, 1, 0), 0);
    ck_assert_uint_eq(win[0xFFFFFFF0u], before);
    ck_assert_uint_eq(m.stats.rom_writes, 1);
    uint8_t buf[4];
    ck_assert_int_eq(smmu_read(&m, 0xFFFFFFFEu, buf, 2, 0), 0);
    ck_assert_mem_eq(buf, win + 0xFFFFFFFEu, 2);
    /* smmu_translate answers from the entry. */
    uint64_t phys;
    ck_assert(smmu_translate(&m, 0xFFFF1234u, 0, &phys));
    ck_assert_uint_eq(phys, 0xFFFF1234u);
    /* REP STOS's pointer: none for ROM. */
    ck_assert_ptr_null(smmu_write_ptr(&m, 0xFFFF0000u, 0, &fault));
    /* Below the ROM: still a hole. */
    ck_assert_int_lt(smmu_exec_page(&m, 0xFFFEF000u), 0);
}
END_TEST

START_TEST(pam_write_protect_and_alias)
{
    bool fault;
    /* A write entry made while the page was plain RAM goes away. */
    ck_assert_ptr_eq(smmu_fill(&m, 0xF0010, SMMU_ACC_W, &fault), win + 0xF0010);
    ck_assert_uint_ne(ENT(SMMU_T_SW, 0xF0000), 0);
    smmu_set_page_flags(&m, 0xF0, 16, SMMU_PG_WDROP, false);
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0xF0000), 0);
    ck_assert_uint_eq(ENT(SMMU_T_SR, 0xF0000), 0);
    /* Reads come back through the tables; writes do not. */
    win[0xF0010] = 0x42;
    ck_assert_ptr_eq(smmu_fill(&m, 0xF0010, 0, &fault), win + 0xF0010);
    ck_assert_ptr_null(smmu_fill(&m, 0xF0010, SMMU_ACC_W, &fault));
    ck_assert(!fault);
    uint8_t v = 0x99;
    ck_assert_int_eq(smmu_write(&m, 0xF0010, &v, 1, 0), 0);
    ck_assert_uint_eq(win[0xF0010], 0x42);
    ck_assert_ptr_null(smmu_write_ptr(&m, 0xF0000, 0, &fault));
    /* Write-only: reads see the window, writes reach the alias. */
    smmu_set_ram_alias(&m, alias);
    smmu_set_page_flags(&m, 0xF0, 16, SMMU_PG_WALIAS, false);
    ck_assert_int_eq(smmu_write(&m, 0xF0010, &v, 1, 0), 0);
    ck_assert_uint_eq(win[0xF0010], 0x42);
    ck_assert_uint_eq(alias[0xF0010], 0x99);
    /* Plain RAM again: write entries are made. */
    smmu_set_page_flags(&m, 0xF0, 16, 0, false);
    ck_assert_ptr_eq(smmu_fill(&m, 0xF0010, SMMU_ACC_W, &fault), win + 0xF0010);
    ck_assert_int_eq(hook_calls, 0);
}
END_TEST

START_TEST(pam_content_change_invalidates_code)
{
    bool fault;
    ck_assert_int_eq(smmu_exec_page(&m, 0xF1000), 0xF1);
    smmu_mark_code(&m, 0xF1);
    smmu_set_page_flags(&m, 0xF0, 16, SMMU_PG_WDROP, false); /* same bytes shown: no call */
    ck_assert_int_eq(hook_calls, 0);
    ck_assert_uint_eq(ENT(SMMU_T_SX, 0xF1000), 0);
    ck_assert_int_eq(smmu_exec_page(&m, 0xF1000), 0xF1);
    smmu_set_page_flags(&m, 0xF0, 16, SMMU_PG_WDROP, true); /* ROM shown now */
    ck_assert_int_eq(hook_calls, 1);
    ck_assert_uint_eq(hook_phys, 0xF1000);
    ck_assert_uint_eq(ENT(SMMU_T_SX, 0xF1000), 0);
    (void)fault;
}
END_TEST

START_TEST(a20_wraps_at_1mib)
{
    bool fault;
    win[0x00123] = 0x11;
    win[0x100123] = 0x22;
    ck_assert_ptr_eq(smmu_fill(&m, 0x100123, 0, &fault), win + 0x100123);
    ck_assert_int_eq(smmu_exec_page(&m, 0x100000), 0x100);
    smmu_mark_code(&m, 0x100);
    smmu_set_a20(&m, false);
    ck_assert_int_eq(hook_calls, 1); /* the code page went */
    ck_assert_uint_eq(ENT(SMMU_T_SR, 0x100000), 0);
    uint64_t phys;
    ck_assert(smmu_translate(&m, 0x100123, 0, &phys));
    ck_assert_uint_eq(phys, 0x123);
    ck_assert_ptr_eq(smmu_fill(&m, 0x100123, 0, &fault), win + 0x123);
    ck_assert_ptr_eq(smmu_fill(&m, 0x300000, 0, &fault), win + 0x200000);
    ck_assert_int_eq(smmu_exec_page(&m, 0x100000), 0);
    uint8_t v = 0x33;
    ck_assert_int_eq(smmu_write(&m, 0x100124, &v, 1, 0), 0);
    ck_assert_uint_eq(win[0x124], 0x33);
    ck_assert_uint_eq(win[0x100124], 0);
    /* Paging: the walk's tables and its result are masked too. A PDE at
     * 0x110000 (seen at 0x010000 with A20 off) maps 0x400000 to 0x120000
     * (0x020000 with A20 off). */
    uint32_t pde = 0x111000u | 7, pte = 0x120000u | 7;
    memcpy(win + 0x010000 + 4, &pde, 4);  /* the directory as A20 off sees it */
    memcpy(win + 0x011000, &pte, 4);
    c->cr3 = 0x110000;
    c->cr0 = 0x80000001u;
    ck_assert_int_eq(smmu_cr_write(&m), 0);
    ck_assert(smmu_translate(&m, 0x400000, 0, &phys));
    ck_assert_uint_eq(phys, 0x020000);
    c->cr0 = 0;
    ck_assert_int_eq(smmu_cr_write(&m), 0);
    smmu_set_a20(&m, true);
    ck_assert(smmu_translate(&m, 0x100123, 0, &phys));
    ck_assert_uint_eq(phys, 0x100123);
    ck_assert_uint_eq(m.stats.a20_toggles, 2);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("smmu_rom");
    TCase *t = tcase_create("smmu_rom");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, rom_reads_fetches_and_drops_writes);
    tcase_add_test(t, pam_write_protect_and_alias);
    tcase_add_test(t, pam_content_change_invalidates_code);
    tcase_add_test(t, a20_wraps_at_1mib);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
