/*
 * tests/unit/test_smmu_kview.c — the kernel view (shadowmmu/kview.c): a
 * read through it that faults maps what the guest's 32-bit tables say, and
 * nothing else; a write that changes those tables, a CR3 load with other
 * kernel entries, a mode or PAM change take the pages away again. Guest
 * RAM is a real memfd (vm_ram_create), as the view maps it; whether a view
 * page is readable is asked of the host kernel (write(2) from it into a
 * pipe fails with EFAULT where it is not), never by touching it.
 */
#define RAM (8u << 20)
#include "smmu_memfd_harness.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#define PD_A  0x110000u
#define PD_B  0x120000u
#define PT_K  0x111000u
#define DATA  0x200000u
#define DATA2 0x201000u
#define DATA3 0x250000u
#define KLIN  0xC0400000u /* a kernel region with a page table */
#define KPT   0xC07FF000u /* where that page table itself is mapped */
#define BIG   0xC0800000u /* a 4 MiB page (PSE) */

static uint8_t *view;
static int pipefd[2];

static void setup(void)
{
    harness_setup();
    view = smmu_kview_enable(&m, vm.ram_fd, 0);
    ck_assert_ptr_nonnull(view);
    ck_assert_int_eq(pipe(pipefd), 0);
}

static void teardown(void)
{
    close(pipefd[0]);
    close(pipefd[1]);
    harness_teardown();
}

static uint32_t rd32(uint32_t a)
{
    uint32_t v;
    memcpy(&v, vm.ram + a, 4);
    return v;
}

/* Can the host read the view at lin? */
static bool readable(uint32_t lin)
{
    ssize_t n = write(pipefd[1], view + lin, 1);
    if (n == 1) {
        char b;
        ck_assert_int_eq(read(pipefd[0], &b, 1), 1);
        return true;
    }
    ck_assert_int_eq(errno, EFAULT);
    return false;
}

/* lin shows guest-physical phys: the same bytes, both ways. */
static void assert_shows(uint32_t lin, uint32_t phys)
{
    uint32_t p = ~0u;
    ck_assert(smmu_kview_shows(&m, lin >> 12, &p));
    ck_assert_uint_eq(p, phys >> 12);
    ck_assert(readable(lin));
    wr32(phys + 0x80, 0xC0DE0000u ^ lin);
    uint32_t v;
    memcpy(&v, view + lin + 0x80, 4);
    ck_assert_uint_eq(v, 0xC0DE0000u ^ lin);
}

static void assert_hidden(uint32_t lin)
{
    uint32_t p;
    ck_assert(!smmu_kview_shows(&m, lin >> 12, &p));
    ck_assert(!readable(lin));
}

static void paging(uint32_t cr3, uint32_t cr4)
{
    c->cr0 = CPU_CR0_PE | CPU_CR0_PG | CPU_CR0_WP;
    c->cr4 = cr4;
    c->cr3 = cr3;
    ck_assert_int_eq(smmu_cr_write(&m), 0);
}

/* KLIN's region through PT_K in directory pd; PT_K also mapped at KPT. */
static void kernel_tables(uint32_t pd)
{
    wr32(pde_at(pd, KLIN), PT_K | P | W);
    wr32(pte_at(PT_K, KLIN), DATA | P | W);
    wr32(pte_at(PT_K, KPT), PT_K | P | W | A | D);
}

START_TEST(kview_maps_what_the_tables_say)
{
    kernel_tables(PD_A);
    wr32(pte_at(PT_K, KLIN + 0x1000), DATA2 | P | A);        /* accessed before: comes along */
    wr32(pte_at(PT_K, KLIN + 0x2000), DATA3 | P);            /* never accessed: stays out */
    paging(PD_A, 0);
    assert_hidden(KLIN);
    /* The page table was not traced yet: mapped, but the read must be
     * run again from outside the block (its write entries went). */
    ck_assert_int_eq(smmu_kview_fault(&m, KLIN + 0x10), SMMU_KV_RETRY);
    ck_assert_uint_eq(rd32(pte_at(PT_K, KLIN)) & A, A);      /* the walk's A bits */
    ck_assert_uint_eq(rd32(pde_at(PD_A, KLIN)) & A, A);
    assert_shows(KLIN, DATA);
    assert_shows(KLIN + 0x1000, DATA2);
    assert_hidden(KLIN + 0x2000);
    ck_assert_uint_eq(rd32(pte_at(PT_K, KLIN + 0x2000)) & A, 0);
    /* The next page of the region: the page table is traced already. */
    ck_assert_int_eq(smmu_kview_fault(&m, KLIN + 0x2000), SMMU_KV_MAPPED);
    assert_shows(KLIN + 0x2000, DATA3);
    ck_assert_uint_eq(m.stats.kv_pages, 4); /* KPT's page too */
}
END_TEST

START_TEST(kview_refuses)
{
    kernel_tables(PD_A);
    wr32(pde_at(PD_A, 0x00400000u), PT_K | P | W | U);        /* a user region */
    paging(PD_A, 0);
    m.pf_addr = 0x1234;
    ck_assert_int_eq(smmu_kview_fault(&m, 0x00400000u), SMMU_KV_REFUSED);
    ck_assert_int_eq(smmu_kview_fault(&m, 0xD0000000u), SMMU_KV_REFUSED); /* not present */
    ck_assert_uint_eq(m.pf_addr, 0x1234);                     /* no #PF recorded */
    /* A device page: the walk succeeds, the view does not show it. */
    wr32(pte_at(PT_K, KLIN + 0x5000), 0xFEC00000u | P | A);
    ck_assert_int_eq(smmu_kview_fault(&m, KLIN + 0x5000), SMMU_KV_REFUSED);
    assert_hidden(KLIN + 0x5000);
    /* Paging off, or PAE: no view at all. */
    c->cr0 = CPU_CR0_PE;
    ck_assert_int_eq(smmu_cr_write(&m), 0);
    ck_assert_int_eq(smmu_kview_fault(&m, KLIN), SMMU_KV_REFUSED);
    assert_hidden(KLIN);
}
END_TEST

/* Writes to the page table, through the slow path as the CPU makes them:
 * only what changes a supervisor read takes the page away. */
START_TEST(kview_follows_pte_writes)
{
    kernel_tables(PD_A);
    paging(PD_A, 0);
    ck_assert_int_eq(smmu_kview_fault(&m, KLIN), SMMU_KV_RETRY);
    assert_shows(KLIN, DATA);
    /* The page table is traced: a supervisor write finds no write entry. */
    bool fault = true;
    ck_assert_ptr_null(smmu_fill(&m, KPT, SMMU_ACC_W, &fault));
    ck_assert(!fault);
    uint32_t pte_lin = KPT + ((KLIN >> 12) & 0x3FF) * 4;
    uint32_t v = DATA | P | A | D; /* R/W cleared, D set: reads unchanged */
    ck_assert_int_eq(smmu_write(&m, pte_lin, &v, 4, 0), 0);
    assert_shows(KLIN, DATA);
    v = DATA3 | P | W | A;         /* another page */
    ck_assert_int_eq(smmu_write(&m, pte_lin, &v, 4, 0), 0);
    assert_hidden(KLIN);
    ck_assert_int_eq(smmu_kview_fault(&m, KLIN), SMMU_KV_MAPPED);
    assert_shows(KLIN, DATA3);
    uint8_t b = (uint8_t)(P | W);  /* A cleared: the next read must set it */
    ck_assert_int_eq(smmu_write(&m, pte_lin, &b, 1, 0), 0);
    assert_hidden(KLIN);
    /* A device writing the table (DMA) is seen too. */
    ck_assert_int_eq(smmu_kview_fault(&m, KLIN), SMMU_KV_MAPPED);
    assert_shows(KLIN, DATA3);
    wr32(pte_at(PT_K, KLIN), 0);
    smmu_phys_written(&m, pte_at(PT_K, KLIN), 4);
    assert_hidden(KLIN);
    ck_assert_int_eq(smmu_kview_fault(&m, KLIN), SMMU_KV_REFUSED);
}
END_TEST

/* A 4 MiB page: one fault, one host mapping, the whole region. */
START_TEST(kview_large_page)
{
    kernel_tables(PD_A);
    wr32(pde_at(PD_A, BIG), 0x400000u | P | W | PS);
    paging(PD_A, 0x10);
    ck_assert_int_eq(smmu_kview_fault(&m, BIG + 0x3000), SMMU_KV_MAPPED);
    ck_assert_uint_eq(m.stats.kv_maps, 1);
    ck_assert_uint_eq(m.stats.kv_pages, 1024);
    assert_shows(BIG, 0x400000u);
    assert_shows(BIG + 0x3FF000u, 0x7FF000u);
    /* CR4.PSE off: the same entry now points at a page table. */
    paging(PD_A, 0);
    assert_hidden(BIG + 0x3000);
    ck_assert_uint_eq(m.stats.kv_pages, 0);
}
END_TEST

/* The directory: a CR3 load keeps regions whose entries the new directory
 * repeats; a directory write or a different copy takes them away. */
START_TEST(kview_follows_the_directory)
{
    kernel_tables(PD_A);
    wr32(pde_at(PD_A, BIG), 0x400000u | P | W | PS);
    memcpy(vm.ram + PD_B, vm.ram + PD_A, 4096);
    paging(PD_A, 0x10);
    ck_assert_int_eq(smmu_kview_fault(&m, KLIN), SMMU_KV_RETRY);
    ck_assert_int_eq(smmu_kview_fault(&m, BIG), SMMU_KV_MAPPED);
    /* PD_B's copy lacks the A bit the walk set in PD_A for BIG: */
    wr32(pde_at(PD_B, KLIN), rd32(pde_at(PD_A, KLIN)));
    paging(PD_B, 0x10);
    assert_shows(KLIN, DATA);
    assert_hidden(BIG);
    ck_assert_int_eq(smmu_kview_fault(&m, BIG), SMMU_KV_MAPPED);
    assert_shows(BIG, 0x400000u);
    /* A write to PD_B's entry for BIG, through the slow path: the
     * directory followed is traced. */
    wr32(pte_at(PT_K, KPT - 0x1000), PD_B | P | W | A | D);
    uint32_t pde_lin = KPT - 0x1000 + (BIG >> 22) * 4;
    uint32_t v = 0x000000u | P | W | PS | A;
    ck_assert_int_eq(smmu_write(&m, pde_lin, &v, 4, 0), 0);
    assert_hidden(BIG);
    assert_shows(KLIN, DATA);
    /* Back to PD_A, whose entry for KLIN is the same. */
    paging(PD_A, 0x10);
    assert_shows(KLIN, DATA);
}
END_TEST

/* RAM's contents under the view change (a PAM area remapped, a VGA
 * window, a flush for a moved device window) or A20 goes off: it empties. */
START_TEST(kview_emptied_by_page_flags)
{
    kernel_tables(PD_A);
    paging(PD_A, 0);
    ck_assert_int_eq(smmu_kview_fault(&m, KLIN), SMMU_KV_RETRY);
    assert_shows(KLIN, DATA);
    smmu_set_page_flags(&m, 0xC0, 1, SMMU_PG_WDROP, true);
    assert_hidden(KLIN);
    ck_assert_uint_eq(m.stats.kv_resets, 1);
    ck_assert_int_eq(smmu_kview_fault(&m, KLIN), SMMU_KV_RETRY); /* its table untraced with it */
    assert_shows(KLIN, DATA);
    /* A RAM page that shows something else now (a VGA window), a flush
     * of everything (the APIC window moved): emptied. */
    smmu_drop_page(&m, 0xA0);
    assert_hidden(KLIN);
    ck_assert_int_eq(smmu_kview_fault(&m, KLIN), SMMU_KV_RETRY);
    smmu_flush(&m);
    assert_hidden(KLIN);
    ck_assert_int_eq(smmu_kview_fault(&m, KLIN), SMMU_KV_RETRY);
    assert_shows(KLIN, DATA);
    smmu_set_a20(&m, false);
    assert_hidden(KLIN);
    ck_assert_int_eq(smmu_kview_fault(&m, KLIN), SMMU_KV_REFUSED);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("smmu_kview");
    TCase *t = tcase_create("kview");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, kview_maps_what_the_tables_say);
    tcase_add_test(t, kview_refuses);
    tcase_add_test(t, kview_follows_pte_writes);
    tcase_add_test(t, kview_large_page);
    tcase_add_test(t, kview_follows_the_directory);
    tcase_add_test(t, kview_emptied_by_page_flags);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
