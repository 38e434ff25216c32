/*
 * tests/unit/test_smmu.c — the shadow MMU driven directly (no translator):
 * guest page tables built by hand in guest RAM, then smmu_translate /
 * smmu_fill / smmu_read / smmu_write / smmu_exec_page / smmu_invlpg and the
 * six shadow tables inspected entry by entry. Covers 32-bit walks (A/D bits,
 * #PF error codes, U/S, R/W with CR0.WP, PDE+PTE rights), PSE 4 MiB pages,
 * PAE (PDPTE loading, 2 MiB pages, NX, reserved bits), fills, traces on
 * page-table pages, code pages and the write hook, the per-CR3 cache,
 * page-crossing writes that fault, INVLPG and paging off.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"
#include "devices/bus.h"
#include "shadowmmu/smmu.h"
#include "vm/vm.h"

#define RAM (8u << 20)

#define P   0x1u
#define W   0x2u
#define U   0x4u
#define A   0x20u
#define D   0x40u
#define PS  0x80u
#define NX  (1ull << 63)

#define CR4_PSE  0x10u
#define CR4_PAE  0x20u
#define EFER_NXE 0x800u

/* Guest-physical layout. */
#define PD_A   0x10000u  /* 32-bit page directory of address space A */
#define PT_A   0x11000u  /* its table for 0x00400000..0x007FFFFF */
#define PT_A0  0x12000u  /* its table for 0x00000000..0x003FFFFF */
#define PT_A2  0x13000u  /* its table for 0x00800000..0x00BFFFFF */
#define PD_B   0x30000u  /* address space B */
#define PT_B   0x31000u
#define PDPT   0x20000u  /* PAE */
#define PAE_PD 0x21000u
#define PAE_PT 0x22000u
#define PAE_PD2 0x23000u
#define PAE_PT2 0x24000u
#define DATA   0x200000u
#define DATA2  0x210000u
#define DATA3  0x250000u

static struct vm vm;
static struct cpu *c;
static struct smmu m;
static uint64_t *tables;

static void setup(void)
{
    memset(&vm, 0, sizeof(vm));
    vm.ram_size = RAM;
    vm.ram = calloc(1, RAM);
    ck_assert_ptr_nonnull(vm.ram);
    vm.bus = dev_bus_new();
    c = calloc(1, sizeof(*c));
    ck_assert_ptr_nonnull(c);
    memset(c, 0, sizeof(*c));
    vm.cpu = c;
    tables = calloc(1, SMMU_TLB_SIZE);
    struct smmu_cpu_view view;
    cpu_smmu_view(c, &view);
    ck_assert_ptr_nonnull(tables);
    ck_assert_int_eq(smmu_init(&m, vm.ram, vm.ram_size, vm.bus, &view, tables, NULL), 0);
    c->mmu = &m;
}

static void teardown(void)
{
    smmu_destroy(&m);
    free(tables);
    free(c);
    dev_bus_free(vm.bus);
    free(vm.ram);
}

static uint32_t rd32(uint32_t a) { uint32_t v; memcpy(&v, vm.ram + a, 4); return v; }
static void wr32(uint32_t a, uint32_t v) { memcpy(vm.ram + a, &v, 4); }
static uint64_t rd64(uint32_t a) { uint64_t v; memcpy(&v, vm.ram + a, 8); return v; }
static void wr64(uint32_t a, uint64_t v) { memcpy(vm.ram + a, &v, 8); }

/* Shadow table entry of table t for linear address lin. */
#define ENT(t, lin) tables[(size_t)(t) * SMMU_TLB_ENTRIES + ((uint32_t)(lin) >> 12)]
/* What a read/write entry must hold for lin's page mapped at phys. */
static uint64_t addend(uint32_t phys, uint32_t lin)
{
    return (uint64_t)(uintptr_t)(vm.ram + (phys & ~0xFFFu)) - (lin & ~0xFFFu);
}
static bool all_zero(uint32_t lin)
{
    for (int t = 0; t < SMMU_NTABLES; t++)
        if (ENT(t, lin))
            return false;
    return true;
}

/* 32-bit entries. */
static uint32_t pde_addr(uint32_t pd, uint32_t lin) { return pd + (lin >> 22) * 4; }
static uint32_t pte_addr(uint32_t pt, uint32_t lin) { return pt + ((lin >> 12) & 0x3FF) * 4; }
static void map32(uint32_t pd, uint32_t pt, uint32_t lin, uint32_t phys, uint32_t pde_fl,
                  uint32_t pte_fl)
{
    wr32(pde_addr(pd, lin), pt | pde_fl);
    wr32(pte_addr(pt, lin), phys | pte_fl);
}

static void paging32(uint32_t cr3, uint32_t cr4, bool wp)
{
    c->cr0 = CPU_CR0_PE | CPU_CR0_PG | (wp ? CPU_CR0_WP : 0);
    c->cr3 = cr3;
    c->cr4 = cr4;
    ck_assert_int_eq(smmu_cr_write(&m), 0);
}

static void paging_pae(bool nxe)
{
    c->cr0 = CPU_CR0_PE | CPU_CR0_PG | CPU_CR0_WP;
    c->cr3 = PDPT;
    c->cr4 = CR4_PAE;
    c->efer = nxe ? EFER_NXE : 0;
    ck_assert_int_eq(smmu_cr_write(&m), 0);
}

/* ---- 32-bit walks ------------------------------------------------------- */

START_TEST(walk32_4k_ad_bits)
{
    map32(PD_A, PT_A, 0x00405000, DATA, P | W | U, P | W | U);
    paging32(PD_A, 0, true);
    uint64_t phys = 0;
    ck_assert(smmu_translate(&m, 0x00405123, 0, &phys));
    ck_assert_uint_eq(phys, DATA + 0x123);
    ck_assert_uint_eq(rd32(pde_addr(PD_A, 0x00405000)), PT_A | P | W | U | A);
    ck_assert_uint_eq(rd32(pte_addr(PT_A, 0x00405000)), DATA | P | W | U | A);
    /* A write sets D in the PTE only (the PDE of a 4 KiB page has no D). */
    ck_assert(smmu_translate(&m, 0x00405FFF, SMMU_ACC_W | SMMU_ACC_U, &phys));
    ck_assert_uint_eq(phys, DATA + 0xFFF);
    ck_assert_uint_eq(rd32(pde_addr(PD_A, 0x00405000)), PT_A | P | W | U | A);
    ck_assert_uint_eq(rd32(pte_addr(PT_A, 0x00405000)), DATA | P | W | U | A | D);
}
END_TEST

START_TEST(walk32_not_present)
{
    map32(PD_A, PT_A, 0x00405000, DATA, P | W | U, P | W | U);
    paging32(PD_A, 0, true);
    uint64_t phys = 0xDEAD;
    /* PTE not present. */
    ck_assert(!smmu_translate(&m, 0x00406ABC, 0, &phys));
    ck_assert_uint_eq(m.pf_addr, 0x00406ABC);
    ck_assert_uint_eq(m.pf_err, 0);
    ck_assert(!smmu_translate(&m, 0x00406004, SMMU_ACC_W, &phys));
    ck_assert_uint_eq(m.pf_addr, 0x00406004);
    ck_assert_uint_eq(m.pf_err, SMMU_PF_W);
    ck_assert(!smmu_translate(&m, 0x00406008, SMMU_ACC_W | SMMU_ACC_U, &phys));
    ck_assert_uint_eq(m.pf_err, SMMU_PF_W | SMMU_PF_U);
    /* PDE not present. */
    ck_assert(!smmu_translate(&m, 0x00C00010, SMMU_ACC_U, &phys));
    ck_assert_uint_eq(m.pf_addr, 0x00C00010);
    ck_assert_uint_eq(m.pf_err, SMMU_PF_U);
    ck_assert_uint_eq(phys, 0xDEAD);
    /* No A bit on the failing PTE; fills of a not-present page report a fault. */
    ck_assert_uint_eq(rd32(pte_addr(PT_A, 0x00406000)), 0);
    bool fault = false;
    ck_assert_ptr_null(smmu_fill(&m, 0x00406000, 0, &fault));
    ck_assert(fault);
    ck_assert(all_zero(0x00406000));
    ck_assert_uint_eq(m.stats.true_faults, 1);
}
END_TEST

START_TEST(walk32_user_supervisor)
{
    map32(PD_A, PT_A, 0x00405000, DATA, P | W | U, P | W);     /* PTE supervisor */
    map32(PD_B, PT_B, 0x00405000, DATA2, P | W, P | W | U);    /* PDE supervisor */
    paging32(PD_A, 0, true);
    uint64_t phys;
    ck_assert(!smmu_translate(&m, 0x00405010, SMMU_ACC_U, &phys));
    ck_assert_uint_eq(m.pf_addr, 0x00405010);
    ck_assert_uint_eq(m.pf_err, SMMU_PF_P | SMMU_PF_U);
    ck_assert(!smmu_translate(&m, 0x00405010, SMMU_ACC_U | SMMU_ACC_W, &phys));
    ck_assert_uint_eq(m.pf_err, SMMU_PF_P | SMMU_PF_U | SMMU_PF_W);
    ck_assert(smmu_translate(&m, 0x00405010, 0, &phys));
    ck_assert_uint_eq(phys, DATA + 0x10);
    /* smmu_acc: CPL 3 is a user access unless it is an implicit supervisor one. */
    c->cpl = 3;
    ck_assert_uint_eq(smmu_acc(&m, true), SMMU_ACC_W | SMMU_ACC_U);
    c->sys_access = 1;
    ck_assert_uint_eq(smmu_acc(&m, false), 0);
    c->sys_access = 0;
    c->cpl = 0;
    /* The PDE's U/S restricts too. */
    paging32(PD_B, 0, true);
    ck_assert(!smmu_translate(&m, 0x00405010, SMMU_ACC_U, &phys));
    ck_assert_uint_eq(m.pf_err, SMMU_PF_P | SMMU_PF_U);
    ck_assert(smmu_translate(&m, 0x00405010, 0, &phys));
    ck_assert_uint_eq(phys, DATA2 + 0x10);
}
END_TEST

START_TEST(walk32_read_only_and_wp)
{
    map32(PD_A, PT_A, 0x00405000, DATA, P | W | U, P | U);      /* PTE read-only */
    map32(PD_A, PT_A, 0x00406000, DATA2, P | W | U, P | W | U);
    map32(PD_B, PT_B, 0x00405000, DATA, P | U, P | W | U);      /* PDE read-only */
    paging32(PD_A, 0, true);
    uint64_t phys;
    /* User write to a read-only page always faults. */
    ck_assert(!smmu_translate(&m, 0x00405020, SMMU_ACC_U | SMMU_ACC_W, &phys));
    ck_assert_uint_eq(m.pf_err, SMMU_PF_P | SMMU_PF_W | SMMU_PF_U);
    /* Supervisor write with CR0.WP faults... */
    ck_assert(!smmu_translate(&m, 0x00405020, SMMU_ACC_W, &phys));
    ck_assert_uint_eq(m.pf_addr, 0x00405020);
    ck_assert_uint_eq(m.pf_err, SMMU_PF_P | SMMU_PF_W);
    ck_assert_uint_eq(rd32(pte_addr(PT_A, 0x00405000)) & D, 0);
    ck_assert(smmu_translate(&m, 0x00405020, SMMU_ACC_U, &phys));
    ck_assert(smmu_translate(&m, 0x00406020, SMMU_ACC_U | SMMU_ACC_W, &phys));
    ck_assert_uint_eq(phys, DATA2 + 0x20);
    /* ...and succeeds without it (setting D). */
    paging32(PD_A, 0, false);
    ck_assert(smmu_translate(&m, 0x00405020, SMMU_ACC_W, &phys));
    ck_assert_uint_eq(phys, DATA + 0x20);
    ck_assert_uint_eq(rd32(pte_addr(PT_A, 0x00405000)), DATA | P | U | A | D);
    ck_assert(!smmu_translate(&m, 0x00405020, SMMU_ACC_U | SMMU_ACC_W, &phys));
    ck_assert_uint_eq(m.pf_err, SMMU_PF_P | SMMU_PF_W | SMMU_PF_U);
    /* Without WP a supervisor write fill of a read-only dirty page gets SW, not UW. */
    bool fault;
    ck_assert_ptr_eq(smmu_fill(&m, 0x00405020, SMMU_ACC_W, &fault), vm.ram + DATA + 0x20);
    ck_assert(!fault);
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00405000), addend(DATA, 0x00405000));
    ck_assert_uint_eq(ENT(SMMU_T_UR, 0x00405000), addend(DATA, 0x00405000));
    ck_assert_uint_eq(ENT(SMMU_T_UW, 0x00405000), 0);
    /* A read-only PDE makes the PTE's W useless (rights combine). */
    paging32(PD_B, 0, true);
    ck_assert(!smmu_translate(&m, 0x00405020, SMMU_ACC_W, &phys));
    ck_assert_uint_eq(m.pf_err, SMMU_PF_P | SMMU_PF_W);
    ck_assert(!smmu_translate(&m, 0x00405020, SMMU_ACC_W | SMMU_ACC_U, &phys));
    ck_assert_uint_eq(m.pf_err, SMMU_PF_P | SMMU_PF_W | SMMU_PF_U);
    ck_assert(smmu_translate(&m, 0x00405020, SMMU_ACC_U, &phys));
    ck_assert_uint_eq(phys, DATA + 0x20);
}
END_TEST

/* ---- PSE --------------------------------------------------------------- */

START_TEST(pse_4m_pages)
{
    wr32(pde_addr(PD_A, 0x00800000), 0x00400000 | PS | P | W | U);
    paging32(PD_A, CR4_PSE, true);
    uint64_t phys;
    ck_assert(smmu_translate(&m, 0x00812345, SMMU_ACC_U, &phys));
    ck_assert_uint_eq(phys, 0x00412345);
    ck_assert_uint_eq(rd32(pde_addr(PD_A, 0x00800000)), 0x00400000 | PS | P | W | U | A);
    ck_assert(smmu_translate(&m, 0x00BFFFFC, SMMU_ACC_W, &phys));
    ck_assert_uint_eq(phys, 0x007FFFFC);
    ck_assert_uint_eq(rd32(pde_addr(PD_A, 0x00800000)), 0x00400000 | PS | P | W | U | A | D);
    /* Fill: every 4 KiB piece gets its own entry. */
    bool fault;
    ck_assert_ptr_eq(smmu_fill(&m, 0x00A01008, 0, &fault), vm.ram + 0x00601008);
    ck_assert_uint_eq(ENT(SMMU_T_SR, 0x00A01000), addend(0x00601000, 0x00A01000));
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00A01000), addend(0x00601000, 0x00A01000));
    ck_assert_uint_eq(ENT(SMMU_T_SX, 0x00A01000), 0x601 + 1);
    ck_assert_uint_eq(ENT(SMMU_T_UX, 0x00A01000), 0x601 + 1);
    ck_assert_uint_eq(ENT(SMMU_T_SR, 0x00A02000), 0);
}
END_TEST

START_TEST(pse_reserved_bits)
{
    /* Bits 21:13 of a 4 MiB PDE are reserved. */
    wr32(pde_addr(PD_A, 0x00800000), 0x00400000 | (1u << 13) | PS | P | W);
    wr32(pde_addr(PD_A, 0x00C00000), 0x00400000 | (1u << 21) | PS | P | W | U);
    paging32(PD_A, CR4_PSE, true);
    uint64_t phys;
    ck_assert(!smmu_translate(&m, 0x00801000, 0, &phys));
    ck_assert_uint_eq(m.pf_addr, 0x00801000);
    ck_assert_uint_eq(m.pf_err, SMMU_PF_P | SMMU_PF_RSVD);
    ck_assert(!smmu_translate(&m, 0x00C00004, SMMU_ACC_W | SMMU_ACC_U, &phys));
    ck_assert_uint_eq(m.pf_addr, 0x00C00004);
    ck_assert_uint_eq(m.pf_err, SMMU_PF_P | SMMU_PF_RSVD | SMMU_PF_W | SMMU_PF_U);
    ck_assert_uint_eq(rd32(pde_addr(PD_A, 0x00800000)) & A, 0);
}
END_TEST

START_TEST(pse_off_ignores_ps)
{
    /* CR4.PSE = 0: PS is ignored and the PDE points at a page table. */
    wr32(pde_addr(PD_A, 0x00800000), PT_A2 | PS | P | W);
    wr32(pte_addr(PT_A2, 0x00803000), DATA | P | W);
    paging32(PD_A, 0, true);
    uint64_t phys;
    ck_assert(smmu_translate(&m, 0x00803456, 0, &phys));
    ck_assert_uint_eq(phys, DATA + 0x456);
}
END_TEST

/* ---- PAE --------------------------------------------------------------- */

static void build_pae(void)
{
    wr64(PDPT + 0, PAE_PD | P);
    wr64(PAE_PD + 2 * 8, PAE_PT | P | W | U);             /* 0x00400000 */
    wr64(PAE_PT + 3 * 8, DATA | P | W | U);               /* 0x00403000 */
    wr64(PAE_PT + 4 * 8, DATA2 | P | W | U | NX);         /* 0x00404000 */
    wr64(PAE_PD + 3 * 8, 0x00200000 | PS | P | W);         /* 0x00600000 2 MiB */
}

START_TEST(pae_pdpte_loading)
{
    build_pae();
    paging_pae(false);
    ck_assert_uint_eq(m.as[m.active].pdpte[0], PAE_PD | P);
    ck_assert_uint_eq(m.as[m.active].pdpte[1], 0);
    uint64_t phys;
    ck_assert(smmu_translate(&m, 0x00403456, 0, &phys));
    ck_assert_uint_eq(phys, DATA + 0x456);
    /* PDPTEs are loaded with CR3: changing memory alone changes nothing. */
    wr64(PDPT + 0, PAE_PD2 | P);
    wr64(PAE_PD2 + 2 * 8, PAE_PT2 | P | W);
    wr64(PAE_PT2 + 3 * 8, DATA3 | P | W);
    ck_assert(smmu_translate(&m, 0x00403456, 0, &phys));
    ck_assert_uint_eq(phys, DATA + 0x456);
    ck_assert_int_eq(smmu_cr_write(&m), 0);
    ck_assert(smmu_translate(&m, 0x00403456, 0, &phys));
    ck_assert_uint_eq(phys, DATA3 + 0x456);
    /* Not-present PDPTE. */
    ck_assert(!smmu_translate(&m, 0x40000000, SMMU_ACC_W, &phys));
    ck_assert_uint_eq(m.pf_addr, 0x40000000);
    ck_assert_uint_eq(m.pf_err, SMMU_PF_W);
    /* Reserved PDPTE bits make the CR3 load fail. */
    wr64(PDPT + 8, PAE_PD | P | W);
    ck_assert_int_eq(smmu_cr_write(&m), -EINVAL);
    wr64(PDPT + 8, PAE_PD | P | (1ull << 40));
    ck_assert_int_eq(smmu_cr_write(&m), -EINVAL);
    wr64(PDPT + 8, PAE_PD | W);   /* not present: bits ignored */
    ck_assert_int_eq(smmu_cr_write(&m), 0);
}
END_TEST

START_TEST(pae_cr3_reload_new_pdptes_drops_entries)
{
    build_pae();
    paging_pae(false);
    bool fault;
    ck_assert_ptr_eq(smmu_fill(&m, 0x00403000, 0, &fault), vm.ram + DATA);
    ck_assert_uint_eq(ENT(SMMU_T_SR, 0x00403000), addend(DATA, 0x00403000));
    /* Same CR3, PDPTE[0] now points at another directory. */
    wr64(PDPT + 0, PAE_PD2 | P);
    wr64(PAE_PD2 + 2 * 8, PAE_PT2 | P | W);
    wr64(PAE_PT2 + 3 * 8, DATA3 | P | W);
    ck_assert_int_eq(smmu_cr_write(&m), 0);
    ck_assert(all_zero(0x00403000));
    ck_assert_ptr_eq(smmu_fill(&m, 0x00403000, 0, &fault), vm.ram + DATA3);
    ck_assert_uint_eq(ENT(SMMU_T_SR, 0x00403000), addend(DATA3, 0x00403000));
}
END_TEST

START_TEST(pae_4k_and_2m)
{
    build_pae();
    paging_pae(false);
    uint64_t phys;
    ck_assert(smmu_translate(&m, 0x00403ABC, SMMU_ACC_U | SMMU_ACC_W, &phys));
    ck_assert_uint_eq(phys, DATA + 0xABC);
    ck_assert_uint_eq(rd64(PAE_PD + 2 * 8), PAE_PT | P | W | U | A);
    ck_assert_uint_eq(rd64(PAE_PT + 3 * 8), DATA | P | W | U | A | D);
    ck_assert(smmu_translate(&m, 0x006ABCDE, 0, &phys));
    ck_assert_uint_eq(phys, 0x002ABCDE);
    ck_assert_uint_eq(rd64(PAE_PD + 3 * 8), 0x00200000 | PS | P | W | A);
    ck_assert(smmu_translate(&m, 0x007FFFFF, SMMU_ACC_W, &phys));
    ck_assert_uint_eq(phys, 0x003FFFFF);
    ck_assert_uint_eq(rd64(PAE_PD + 3 * 8), 0x00200000 | PS | P | W | A | D);
    ck_assert(!smmu_translate(&m, 0x006ABCDE, SMMU_ACC_U, &phys));
    ck_assert_uint_eq(m.pf_err, SMMU_PF_P | SMMU_PF_U);
    /* Reserved bits 20:13 of a 2 MiB PDE, bits 62:36 of a PTE. */
    wr64(PAE_PD + 4 * 8, 0x00200000 | (1u << 13) | PS | P | W);
    ck_assert(!smmu_translate(&m, 0x00800000, 0, &phys));
    ck_assert_uint_eq(m.pf_err, SMMU_PF_P | SMMU_PF_RSVD);
    wr64(PAE_PT + 5 * 8, DATA | (1ull << 36) | P | W);
    ck_assert(!smmu_translate(&m, 0x00405000, SMMU_ACC_W, &phys));
    ck_assert_uint_eq(m.pf_addr, 0x00405000);
    ck_assert_uint_eq(m.pf_err, SMMU_PF_P | SMMU_PF_RSVD | SMMU_PF_W);
    /* Physical addresses above 4 GiB (< 2^36) are fine, but not RAM: no entry. */
    wr64(PAE_PT + 6 * 8, 0x100000000ull | P | W);
    ck_assert(smmu_translate(&m, 0x00406010, 0, &phys));
    ck_assert_uint_eq(phys, 0x100000010ull);
    bool fault = true;
    ck_assert_ptr_null(smmu_fill(&m, 0x00406010, 0, &fault));
    ck_assert(!fault);
    ck_assert(all_zero(0x00406000));
}
END_TEST

START_TEST(pae_nx)
{
    build_pae();
    paging_pae(true);
    uint64_t phys;
    ck_assert(smmu_translate(&m, 0x00404010, SMMU_ACC_U, &phys));
    ck_assert_uint_eq(phys, DATA2 + 0x10);
    ck_assert(!smmu_translate(&m, 0x00404010, SMMU_ACC_X, &phys));
    ck_assert_uint_eq(m.pf_addr, 0x00404010);
    ck_assert_uint_eq(m.pf_err, SMMU_PF_P | SMMU_PF_ID);
    ck_assert(!smmu_translate(&m, 0x00404010, SMMU_ACC_X | SMMU_ACC_U, &phys));
    ck_assert_uint_eq(m.pf_err, SMMU_PF_P | SMMU_PF_ID | SMMU_PF_U);
    /* Not-present fetch: I/D without P. */
    ck_assert(!smmu_translate(&m, 0x00408000, SMMU_ACC_X, &phys));
    ck_assert_uint_eq(m.pf_err, SMMU_PF_ID);
    ck_assert(smmu_translate(&m, 0x00403000, SMMU_ACC_X, &phys));
    ck_assert_uint_eq(phys, DATA);
    /* Execute entries. */
    ck_assert_int_eq(smmu_exec_page(&m, 0x00404010), -1);
    ck_assert_uint_eq(m.pf_err, SMMU_PF_P | SMMU_PF_ID);
    ck_assert_int_eq(smmu_exec_page(&m, 0x00403010), DATA >> 12);
    ck_assert_uint_eq(ENT(SMMU_T_SX, 0x00403000), (DATA >> 12) + 1);
    bool fault;
    ck_assert_ptr_eq(smmu_fill(&m, 0x00404000, 0, &fault), vm.ram + DATA2);
    ck_assert_uint_eq(ENT(SMMU_T_SR, 0x00404000), addend(DATA2, 0x00404000));
    ck_assert_uint_eq(ENT(SMMU_T_UR, 0x00404000), addend(DATA2, 0x00404000));
    ck_assert_uint_eq(ENT(SMMU_T_SX, 0x00404000), 0);
    ck_assert_uint_eq(ENT(SMMU_T_UX, 0x00404000), 0);
    /* NX in the PDE covers its whole range. */
    wr64(PAE_PD + 3 * 8, 0x00200000 | PS | P | W | NX);
    ck_assert(!smmu_translate(&m, 0x00600000, SMMU_ACC_X, &phys));
    ck_assert_uint_eq(m.pf_err, SMMU_PF_P | SMMU_PF_ID);
}
END_TEST

START_TEST(pae_nx_without_nxe_is_reserved)
{
    build_pae();
    paging_pae(false);
    uint64_t phys;
    ck_assert(!smmu_translate(&m, 0x00404010, 0, &phys));
    ck_assert_uint_eq(m.pf_addr, 0x00404010);
    ck_assert_uint_eq(m.pf_err, SMMU_PF_P | SMMU_PF_RSVD);
    /* Fetch faults carry no I/D bit without NXE. */
    ck_assert(!smmu_translate(&m, 0x00404010, SMMU_ACC_X, &phys));
    ck_assert_uint_eq(m.pf_err, SMMU_PF_P | SMMU_PF_RSVD);
    bool fault = false;
    ck_assert_ptr_null(smmu_fill(&m, 0x00404010, 0, &fault));
    ck_assert(fault);
    /* Turning NXE on (a mode change) makes it a valid, non-executable page. */
    c->efer = EFER_NXE;
    ck_assert_int_eq(smmu_cr_write(&m), 0);
    ck_assert(smmu_translate(&m, 0x00404010, 0, &phys));
    ck_assert_uint_eq(phys, DATA2 + 0x10);
}
END_TEST

/* ---- fills ------------------------------------------------------------- */

START_TEST(fill_read_then_write)
{
    map32(PD_A, PT_A, 0x00405000, DATA, P | W | U, P | W | U);
    map32(PD_A, PT_A, 0x00406000, DATA2, P | W | U, P | W);
    paging32(PD_A, 0, true);
    bool fault = true;
    uint64_t hf = m.stats.hidden_faults;
    ck_assert_ptr_eq(smmu_fill(&m, 0x00405123, 0, &fault), vm.ram + DATA + 0x123);
    ck_assert(!fault);
    ck_assert_uint_eq(m.stats.hidden_faults, hf + 1);
    ck_assert_uint_eq(ENT(SMMU_T_SR, 0x00405000), addend(DATA, 0x00405000));
    ck_assert_uint_eq(ENT(SMMU_T_UR, 0x00405000), addend(DATA, 0x00405000));
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00405000), 0); /* D = 0 */
    ck_assert_uint_eq(ENT(SMMU_T_UW, 0x00405000), 0);
    ck_assert_uint_eq(ENT(SMMU_T_SX, 0x00405000), (DATA >> 12) + 1);
    ck_assert_uint_eq(ENT(SMMU_T_UX, 0x00405000), (DATA >> 12) + 1);
    ck_assert_uint_eq(rd32(pte_addr(PT_A, 0x00405000)) & (A | D), A);
    /* Fast-path arithmetic: host = linear + addend. */
    ck_assert_ptr_eq((uint8_t *)(uintptr_t)(ENT(SMMU_T_SR, 0x00405000) + 0x00405123),
                     vm.ram + DATA + 0x123);
    ck_assert_ptr_eq(smmu_fill(&m, 0x00405FF0, SMMU_ACC_W, &fault), vm.ram + DATA + 0xFF0);
    ck_assert(!fault);
    ck_assert_uint_eq(rd32(pte_addr(PT_A, 0x00405000)), DATA | P | W | U | A | D);
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00405000), addend(DATA, 0x00405000));
    ck_assert_uint_eq(ENT(SMMU_T_UW, 0x00405000), addend(DATA, 0x00405000));
    ck_assert_uint_eq(ENT(SMMU_T_SR, 0x00405000), addend(DATA, 0x00405000));
    /* Supervisor page: no user entries at all. */
    ck_assert_ptr_eq(smmu_fill(&m, 0x00406000, SMMU_ACC_W, &fault), vm.ram + DATA2);
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00406000), addend(DATA2, 0x00406000));
    ck_assert_uint_eq(ENT(SMMU_T_UR, 0x00406000), 0);
    ck_assert_uint_eq(ENT(SMMU_T_UW, 0x00406000), 0);
    ck_assert_uint_eq(ENT(SMMU_T_UX, 0x00406000), 0);
    /* A user fill of it faults. */
    ck_assert_ptr_null(smmu_fill(&m, 0x00406000, SMMU_ACC_U, &fault));
    ck_assert(fault);
    ck_assert_uint_eq(m.pf_err, SMMU_PF_P | SMMU_PF_U);
    /* Read fill of a page whose D is already set gives the write entry too. */
    wr32(pte_addr(PT_A, 0x00407000), DATA3 | P | W | D);
    ck_assert_ptr_eq(smmu_fill(&m, 0x00407000, 0, &fault), vm.ram + DATA3);
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00407000), addend(DATA3, 0x00407000));
}
END_TEST

START_TEST(exec_page_32)
{
    map32(PD_A, PT_A, 0x00405000, DATA, P | W | U, P | U);
    map32(PD_A, PT_A, 0x00406000, DATA2, P | W | U, P);
    paging32(PD_A, 0, true);
    c->cpl = 3;
    ck_assert_int_eq(smmu_exec_page(&m, 0x00405FFF), DATA >> 12);
    ck_assert_uint_eq(ENT(SMMU_T_UX, 0x00405000), (DATA >> 12) + 1);
    ck_assert_uint_eq(m.stats.fills_exec, 1);
    ck_assert_int_eq(smmu_exec_page(&m, 0x00405000), DATA >> 12); /* from the table */
    ck_assert_uint_eq(m.stats.fills_exec, 1);
    ck_assert_int_eq(smmu_exec_page(&m, 0x00406000), -1);
    ck_assert_uint_eq(m.pf_addr, 0x00406000);
    ck_assert_uint_eq(m.pf_err, SMMU_PF_P | SMMU_PF_U); /* no I/D without PAE+NXE */
    c->cpl = 0;
    ck_assert_int_eq(smmu_exec_page(&m, 0x00406000), DATA2 >> 12);
    ck_assert_uint_eq(ENT(SMMU_T_SX, 0x00406000), (DATA2 >> 12) + 1);
    ck_assert_uint_eq(ENT(SMMU_T_UX, 0x00406000), 0);
}
END_TEST

START_TEST(invlpg_drops_one_page)
{
    map32(PD_A, PT_A, 0x00405000, DATA, P | W | U, P | W | U);
    map32(PD_A, PT_A, 0x00406000, DATA2, P | W | U, P | W | U);
    paging32(PD_A, 0, true);
    bool fault;
    ck_assert_ptr_nonnull(smmu_fill(&m, 0x00405000, SMMU_ACC_W, &fault));
    ck_assert_ptr_nonnull(smmu_fill(&m, 0x00406000, SMMU_ACC_W, &fault));
    smmu_invlpg(&m, 0x00405ABC);
    ck_assert(all_zero(0x00405000));
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00406000), addend(DATA2, 0x00406000));
    ck_assert_uint_eq(m.stats.invlpg, 1);
    /* INVLPG then refill sees the new PTE. */
    wr32(pte_addr(PT_A, 0x00406000), DATA3 | P | W | U); /* direct RAM write, not traced */
    smmu_invlpg(&m, 0x00406000);
    ck_assert_ptr_eq(smmu_fill(&m, 0x00406000, 0, &fault), vm.ram + DATA3);
    ck_assert_uint_eq(ENT(SMMU_T_SR, 0x00406000), addend(DATA3, 0x00406000));
}
END_TEST

/* ---- traces ------------------------------------------------------------ */

START_TEST(trace_pte_write)
{
    map32(PD_A, PT_A, 0x00405000, DATA, P | W | U, P | W | U);
    map32(PD_A, PT_A, 0x00406000, DATA2, P | W | U, P | W | U);
    map32(PD_A, PT_A, 0x00401000, PT_A, P | W | U, P | W);   /* the PT, mapped */
    paging32(PD_A, 0, true);
    bool fault;
    ck_assert_ptr_nonnull(smmu_fill(&m, 0x00405000, SMMU_ACC_W, &fault));
    ck_assert_ptr_nonnull(smmu_fill(&m, 0x00406000, SMMU_ACC_W, &fault));
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00405000), addend(DATA, 0x00405000));
    /* The page-table page never gets a write entry. */
    ck_assert_ptr_null(smmu_fill(&m, 0x00401000, SMMU_ACC_W, &fault));
    ck_assert(!fault);
    ck_assert_uint_eq(ENT(SMMU_T_SR, 0x00401000), addend(PT_A, 0x00401000));
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00401000), 0);
    ck_assert_uint_eq(rd32(pte_addr(PT_A, 0x00401000)) & D, D); /* the walk set D */
    /* Rewrite PTE 5 through its linear alias: entry 0x405 goes, 0x406 stays. */
    uint32_t npte = DATA3 | P | W | U;
    uint64_t inval = m.stats.trace_invalidations;
    ck_assert_int_eq(smmu_write(&m, 0x00401000 + 5 * 4, &npte, 4, 0), 0);
    ck_assert_uint_eq(rd32(PT_A + 5 * 4), npte);
    ck_assert(all_zero(0x00405000));
    ck_assert_uint_eq(m.stats.trace_invalidations, inval + 1);
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00406000), addend(DATA2, 0x00406000));
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00401000), 0);
    ck_assert_ptr_eq(smmu_fill(&m, 0x00405000, 0, &fault), vm.ram + DATA3);
    ck_assert_uint_eq(ENT(SMMU_T_SR, 0x00405000), addend(DATA3, 0x00405000));
    /* One byte of PTE 6 (bits 23:16: 0x210000 becomes 0x010000). */
    uint8_t b = 0x01;
    ck_assert_int_eq(smmu_write(&m, 0x00401000 + 6 * 4 + 2, &b, 1, 0), 0);
    ck_assert(all_zero(0x00406000));
    ck_assert_uint_eq(ENT(SMMU_T_SR, 0x00405000), addend(DATA3, 0x00405000));
    uint64_t phys;
    ck_assert(smmu_translate(&m, 0x00406000, 0, &phys));
    ck_assert_uint_eq(phys, 0x00010000);
}
END_TEST

START_TEST(trace_drops_alias_write_entry)
{
    /* 0x00003000 maps PT_A before PT_A is a page table anyone walked. */
    map32(PD_A, PT_A0, 0x00003000, PT_A, P | W, P | W);
    map32(PD_A, PT_A, 0x00405000, DATA, P | W | U, P | W | U);
    paging32(PD_A, 0, true);
    bool fault;
    ck_assert_ptr_eq(smmu_fill(&m, 0x00003000, SMMU_ACC_W, &fault), vm.ram + PT_A);
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00003000), addend(PT_A, 0x00003000));
    /* A walk through PT_A traces it: the alias loses its write entry. */
    ck_assert_ptr_nonnull(smmu_fill(&m, 0x00405000, 0, &fault));
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00003000), 0);
    ck_assert_uint_eq(ENT(SMMU_T_SR, 0x00003000), addend(PT_A, 0x00003000));
    /* ...and a PTE write through it invalidates. */
    uint32_t npte = 0;
    ck_assert_int_eq(smmu_write(&m, 0x00003000 + 5 * 4, &npte, 4, 0), 0);
    ck_assert(all_zero(0x00405000));
    ck_assert_ptr_null(smmu_fill(&m, 0x00405000, 0, &fault));
    ck_assert(fault);
}
END_TEST

START_TEST(trace_pde_write)
{
    map32(PD_A, PT_A, 0x00405000, DATA, P | W | U, P | W | U);
    map32(PD_A, PT_A, 0x00406000, DATA2, P | W | U, P | W | U);
    map32(PD_A, PT_A, 0x007FF000, DATA3, P | W | U, P | W | U);
    map32(PD_A, PT_A, 0x00402000, PD_A, P | W | U, P | W);   /* the PD, mapped */
    map32(PD_A, PT_A2, 0x00800000, DATA, P | W | U, P | W | U);
    map32(PD_A, PT_A0, 0x003FF000, DATA2, P | W | U, P | W | U);
    paging32(PD_A, 0, true);
    bool fault;
    const uint32_t in[] = { 0x00405000, 0x00406000, 0x007FF000 };
    for (int i = 0; i < 3; i++)
        ck_assert_ptr_nonnull(smmu_fill(&m, in[i], SMMU_ACC_W, &fault));
    ck_assert_ptr_nonnull(smmu_fill(&m, 0x00800000, SMMU_ACC_W, &fault));
    ck_assert_ptr_nonnull(smmu_fill(&m, 0x003FF000, SMMU_ACC_W, &fault));
    ck_assert_ptr_null(smmu_fill(&m, 0x00402000, SMMU_ACC_W, &fault));
    ck_assert(!fault);
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00402000), 0);
    ck_assert_uint_eq(ENT(SMMU_T_SR, 0x00402000), addend(PD_A, 0x00402000));
    /* Rewrite PDE 1 with its own value: nothing changes. */
    uint32_t pde = rd32(PD_A + 4);
    ck_assert_int_eq(smmu_write(&m, 0x00402000 + 1 * 4, &pde, 4, 0), 0);
    ck_assert_uint_ne(ENT(SMMU_T_SR, in[0]), 0);
    /* Change PDE 1 (its A bit): the whole 4 MiB range goes, neighbours stay. */
    pde ^= 0x20;
    ck_assert_int_eq(smmu_write(&m, 0x00402000 + 1 * 4, &pde, 4, 0), 0);
    for (int i = 0; i < 3; i++)
        ck_assert(all_zero(in[i]));
    ck_assert(all_zero(0x00402000));
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00800000), addend(DATA, 0x00800000));
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x003FF000), addend(DATA2, 0x003FF000));
    /* Making PDE 2 not present drops 0x00800000's entry; a refill faults. */
    uint32_t zero = 0;
    ck_assert_int_eq(smmu_write(&m, 0x00402000 + 2 * 4, &zero, 4, 0), 0);
    ck_assert(all_zero(0x00800000));
    ck_assert_ptr_null(smmu_fill(&m, 0x00800000, 0, &fault));
    ck_assert(fault);
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x003FF000), addend(DATA2, 0x003FF000));
}
END_TEST

/* A table page the directory stopped pointing at (freed, to be recycled
 * as data or as another range's table) is no longer traced: its records
 * are stale, so writes to it no longer walk or invalidate anything. */
START_TEST(stale_table_record_dropped)
{
    map32(PD_A, PT_A, 0x00402000, PD_A, P | W | U, P | W);   /* the PD, mapped */
    map32(PD_A, PT_A, 0x00403000, PT_A2, P | W | U, P | W);  /* PT_A2, mapped */
    map32(PD_A, PT_A2, 0x00800000, DATA, P | W | U, P | W | U);
    paging32(PD_A, 0, true);
    bool fault;
    ck_assert_ptr_nonnull(smmu_fill(&m, 0x00800000, 0, &fault));
    ck_assert(smmu_traced(&m, PT_A2 >> 12));
    ck_assert_ptr_null(smmu_fill(&m, 0x00403000, SMMU_ACC_W, &fault)); /* traced: no write entry */
    ck_assert(!fault);
    /* The kernel unhooks the table (PDE 2 cleared through the mapped PD). */
    uint32_t zero = 0;
    ck_assert_int_eq(smmu_write(&m, 0x00402000 + 2 * 4, &zero, 4, 0), 0);
    ck_assert(all_zero(0x00800000));
    ck_assert(!smmu_traced(&m, PT_A2 >> 12));
    ck_assert_ptr_nonnull(smmu_fill(&m, 0x00403000, SMMU_ACC_W, &fault));
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00403000), addend(PT_A2, 0x00403000));
    /* Hooked back in (same range): traced again once a fill uses it. */
    wr32(PT_A2, DATA2 | P | W | U);
    uint32_t pde = PT_A2 | P | W | U;
    ck_assert_int_eq(smmu_write(&m, 0x00402000 + 2 * 4, &pde, 4, 0), 0);
    ck_assert_ptr_nonnull(smmu_fill(&m, 0x00800000, 0, &fault));
    ck_assert(smmu_traced(&m, PT_A2 >> 12));
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00403000), 0);
}
END_TEST

START_TEST(trace_pde_write_4m_page)
{
    /* A PSE 4 MiB mapping: its pages are derived from the PD alone. */
    wr32(pde_addr(PD_A, 0x00800000), 0x00400000 | PS | P | W | U | D);
    map32(PD_A, PT_A, 0x00402000, PD_A, P | W | U, P | W);
    paging32(PD_A, CR4_PSE, true);
    bool fault;
    for (uint32_t l = 0x00800000; l < 0x00C00000; l += 0x00100000)
        ck_assert_ptr_nonnull(smmu_fill(&m, l, SMMU_ACC_W, &fault));
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00B00000), addend(0x00700000, 0x00B00000));
    uint32_t npde = 0x00000000 | PS | P | W | U;
    ck_assert_int_eq(smmu_write(&m, 0x00402000 + 2 * 4, &npde, 4, 0), 0);
    for (uint32_t l = 0x00800000; l < 0x00C00000; l += 0x00100000)
        ck_assert(all_zero(l));
    ck_assert_ptr_eq(smmu_fill(&m, 0x00B00000, 0, &fault), vm.ram + 0x00300000);
}
END_TEST

START_TEST(trace_pae_entries)
{
    build_pae();
    /* Map PAE_PT and PAE_PD at 0x00400000 + 0x10000 / 0x11000. */
    wr64(PAE_PT + 0x10 * 8, PAE_PT | P | W);
    wr64(PAE_PT + 0x11 * 8, PAE_PD | P | W);
    wr64(PAE_PT + 0x12 * 8, DATA3 | P | W);
    paging_pae(false);
    bool fault;
    ck_assert_ptr_nonnull(smmu_fill(&m, 0x00403000, SMMU_ACC_W, &fault));
    ck_assert_ptr_nonnull(smmu_fill(&m, 0x00412000, SMMU_ACC_W, &fault));
    ck_assert_ptr_nonnull(smmu_fill(&m, 0x00600000, SMMU_ACC_W, &fault));
    ck_assert_ptr_null(smmu_fill(&m, 0x00410000, SMMU_ACC_W, &fault));
    ck_assert(!fault);
    ck_assert_ptr_null(smmu_fill(&m, 0x00411000, SMMU_ACC_W, &fault));
    ck_assert(!fault);
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00410000), 0);
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00411000), 0);
    /* Rewriting an entry with its own value changes no translation. */
    uint32_t hi = 0;
    ck_assert_int_eq(smmu_write(&m, 0x00410000 + 3 * 8 + 4, &hi, 4, 0), 0);
    ck_assert_uint_ne(ENT(SMMU_T_SR, 0x00403000), 0);
    /* Write the high half of PTE 3 (8-byte entries): frame bits 35:32. */
    hi = 1;
    ck_assert_int_eq(smmu_write(&m, 0x00410000 + 3 * 8 + 4, &hi, 4, 0), 0);
    ck_assert(all_zero(0x00403000));
    hi = 0;
    ck_assert_int_eq(smmu_write(&m, 0x00410000 + 3 * 8 + 4, &hi, 4, 0), 0);
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00412000), addend(DATA3, 0x00412000));
    /* Write PDE 3 (2 MiB page at 0x00600000): 0x600000..0x7FFFFF go, 0x4xxxxx stay. */
    uint64_t pde = rd64(PAE_PD + 3 * 8) ^ 0x20; /* its A bit */
    ck_assert_int_eq(smmu_write(&m, 0x00411000 + 3 * 8, &pde, 8, 0), 0);
    ck_assert(all_zero(0x00600000));
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00412000), addend(DATA3, 0x00412000));
    /* Change PDE 2: the 0x00400000..0x005FFFFF range goes. */
    pde = rd64(PAE_PD + 2 * 8) ^ 0x20;
    ck_assert_int_eq(smmu_write(&m, 0x00411000 + 2 * 8, &pde, 8, 0), 0);
    ck_assert(all_zero(0x00412000));
    ck_assert(all_zero(0x00410000));
}
END_TEST

/* ---- prefill: a PTE made present for the page that just faulted --------- */

START_TEST(prefill_after_demand_fault)
{
    map32(PD_A, PT_A, 0x00401000, PT_A, P | W | U | A, P | W | A | D); /* the PT, mapped */
    wr32(pte_addr(PT_A, 0x00405000), DATA | W | U | A | D);            /* not present */
    paging32(PD_A, 0, true);
    bool fault;
    ck_assert_ptr_nonnull(smmu_fill(&m, 0x00401000, 0, &fault)); /* PT_A now traced */
    ck_assert_ptr_null(smmu_fill(&m, 0x00405678, SMMU_ACC_U, &fault));
    ck_assert(fault);
    ck_assert_uint_eq(m.pf_addr, 0x00405678);
    /* The handler sets P: the page is shadowed at once, no fill needed. */
    uint64_t fills = m.stats.hidden_faults;
    uint32_t pte = DATA | P | W | U | A | D;
    ck_assert_int_eq(smmu_write(&m, 0x00401000 + 5 * 4, &pte, 4, 0), 0);
    ck_assert_uint_eq(m.stats.prefills, 1);
    ck_assert_uint_eq(ENT(SMMU_T_UR, 0x00405000), addend(DATA, 0x00405000));
    ck_assert_uint_eq(ENT(SMMU_T_UW, 0x00405000), addend(DATA, 0x00405000));
    ck_assert_uint_eq(ENT(SMMU_T_UX, 0x00405000), (DATA >> 12) + 1);
    ck_assert_uint_eq(m.stats.hidden_faults, fills);
    /* Traced like any entry: clearing P drops it again. */
    pte &= ~P;
    ck_assert_int_eq(smmu_write(&m, 0x00401000 + 5 * 4, &pte, 4, 0), 0);
    ck_assert(all_zero(0x00405000));
    /* D clear: reads only (the first write must set D through a fill). */
    pte = DATA | P | W | U | A;
    ck_assert_int_eq(smmu_write(&m, 0x00401000 + 5 * 4, &pte, 4, 0), 0);
    ck_assert_uint_eq(m.stats.prefills, 2);
    ck_assert_uint_eq(ENT(SMMU_T_UR, 0x00405000), addend(DATA, 0x00405000));
    ck_assert_uint_eq(ENT(SMMU_T_UW, 0x00405000), 0);
    ck_assert_ptr_nonnull(smmu_fill(&m, 0x00405000, SMMU_ACC_U | SMMU_ACC_W, &fault));
    ck_assert_uint_eq(rd32(pte_addr(PT_A, 0x00405000)) & D, D);
}
END_TEST

START_TEST(prefill_only_when_nothing_to_set)
{
    map32(PD_A, PT_A, 0x00401000, PT_A, P | W | U | A, P | W | A | D);
    map32(PD_A, PT_A, 0x00402000, PT_A2, P | W | U | A, P | W | A | D);
    map32(PD_A, PT_A2, 0x00800000, DATA3, P | W | U | A, P | W | U | A | D);
    wr32(pte_addr(PT_A, 0x00405000), DATA | W | U);
    wr32(pte_addr(PT_A, 0x00406000), DATA2 | W | U);
    paging32(PD_A, 0, true);
    bool fault;
    ck_assert_ptr_nonnull(smmu_fill(&m, 0x00401000, 0, &fault));
    ck_assert_ptr_nonnull(smmu_fill(&m, 0x00800000, 0, &fault)); /* PT_A2 traced */
    ck_assert_ptr_null(smmu_fill(&m, 0x00405000, 0, &fault));
    ck_assert(fault);
    /* No A bit in the new PTE: only an access may set it, so no entry,
     * and the guest's PTE is left exactly as written. */
    uint32_t pte = DATA | P | W | U;
    ck_assert_int_eq(smmu_write(&m, 0x00401000 + 5 * 4, &pte, 4, 0), 0);
    ck_assert(all_zero(0x00405000));
    ck_assert_uint_eq(rd32(pte_addr(PT_A, 0x00405000)), pte);
    /* A PTE made present for another page than the one that faulted: left
     * to its fill (Linux maps pages around a file fault that may never run). */
    pte = DATA2 | P | W | U | A;
    ck_assert_int_eq(smmu_write(&m, 0x00401000 + 6 * 4, &pte, 4, 0), 0);
    ck_assert(all_zero(0x00406000));
    /* The directory entry's A bit missing: no entry, and the PDE keeps it clear. */
    wr32(pde_addr(PD_A, 0x00805000), PT_A2 | P | W | U);
    ck_assert_ptr_null(smmu_fill(&m, 0x00805000, 0, &fault));
    ck_assert(fault);
    pte = DATA | P | W | U | A;
    ck_assert_int_eq(smmu_write(&m, 0x00402000 + 5 * 4, &pte, 4, 0), 0);
    ck_assert(all_zero(0x00805000));
    ck_assert_uint_eq(rd32(pde_addr(PD_A, 0x00805000)) & A, 0);
    ck_assert_uint_eq(m.stats.prefills, 0);
}
END_TEST

START_TEST(prefill_pae_low_half_last)
{
    build_pae();
    wr64(PAE_PT + 0x10 * 8, PAE_PT | P | W | A | D);   /* the PT at 0x00410000 */
    wr64(PAE_PD + 2 * 8, PAE_PT | P | W | U | A);
    paging_pae(true);
    bool fault;
    ck_assert_ptr_nonnull(smmu_fill(&m, 0x00410000, 0, &fault));
    ck_assert_ptr_null(smmu_fill(&m, 0x00405000, 0, &fault));
    ck_assert(fault);
    /* Linux's set_pte: the high half (NX here) first, then the low half. */
    uint64_t pte = DATA3 | P | W | A | D | NX;
    uint32_t hi = (uint32_t)(pte >> 32), lo = (uint32_t)pte;
    ck_assert_int_eq(smmu_write(&m, 0x00410000 + 5 * 8 + 4, &hi, 4, 0), 0);
    ck_assert_uint_eq(m.stats.prefills, 0);
    ck_assert_int_eq(smmu_write(&m, 0x00410000 + 5 * 8, &lo, 4, 0), 0);
    ck_assert_uint_eq(m.stats.prefills, 1);
    ck_assert_uint_eq(ENT(SMMU_T_SR, 0x00405000), addend(DATA3, 0x00405000));
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00405000), addend(DATA3, 0x00405000));
    ck_assert_uint_eq(ENT(SMMU_T_SX, 0x00405000), 0); /* NX */
    ck_assert_uint_eq(ENT(SMMU_T_UR, 0x00405000), 0); /* a supervisor page */
}
END_TEST

/* ---- code pages -------------------------------------------------------- */

static int hook_calls;
static uint64_t hook_phys;
static unsigned hook_len;
static void *hook_opaque;
static void code_hook(void *opaque, uint64_t phys, unsigned len)
{
    hook_calls++;
    hook_phys = phys;
    hook_len = len;
    hook_opaque = opaque;
}

START_TEST(code_pages_aliases_and_hook)
{
    map32(PD_A, PT_A, 0x00405000, DATA, P | W | U, P | W | U);
    map32(PD_A, PT_A, 0x00406000, DATA, P | W | U, P | W);     /* alias */
    map32(PD_A, PT_A, 0x00407000, DATA2, P | W | U, P | W);
    paging32(PD_A, 0, true);
    bool fault;
    ck_assert_ptr_nonnull(smmu_fill(&m, 0x00405000, SMMU_ACC_W, &fault));
    ck_assert_ptr_nonnull(smmu_fill(&m, 0x00406000, SMMU_ACC_W, &fault));
    ck_assert_ptr_nonnull(smmu_fill(&m, 0x00407000, SMMU_ACC_W, &fault));
    ck_assert_uint_eq(ENT(SMMU_T_UW, 0x00405000), addend(DATA, 0x00405000));
    smmu_mark_code(&m, DATA >> 12);
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00405000), 0);
    ck_assert_uint_eq(ENT(SMMU_T_UW, 0x00405000), 0);
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00406000), 0);
    ck_assert_uint_eq(ENT(SMMU_T_SR, 0x00405000), addend(DATA, 0x00405000));
    ck_assert_uint_eq(ENT(SMMU_T_UR, 0x00405000), addend(DATA, 0x00405000));
    ck_assert_uint_eq(ENT(SMMU_T_SR, 0x00406000), addend(DATA, 0x00406000));
    ck_assert_uint_eq(ENT(SMMU_T_SX, 0x00406000), (DATA >> 12) + 1);
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00407000), addend(DATA2, 0x00407000));
    /* Write fills are refused (the write must be emulated). */
    ck_assert_ptr_null(smmu_fill(&m, 0x00406010, SMMU_ACC_W, &fault));
    ck_assert(!fault);
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00406000), 0);
    /* smmu_write reaches the hook with the physical address. */
    int token;
    m.code_write_hook = code_hook;
    m.code_write_opaque = &token;
    ck_assert_int_eq(smmu_write(&m, 0x00406010, "abc", 3, 0), 0);
    ck_assert_int_eq(hook_calls, 1);
    ck_assert_uint_eq(hook_phys, DATA + 0x10);
    ck_assert_uint_eq(hook_len, 3);
    ck_assert_ptr_eq(hook_opaque, &token);
    ck_assert_mem_eq(vm.ram + DATA + 0x10, "abc", 3);
    ck_assert_int_eq(smmu_write(&m, 0x00407010, "xyz", 3, 0), 0);
    ck_assert_int_eq(hook_calls, 1);
    char buf[4] = { 0 };
    ck_assert_int_eq(smmu_read(&m, 0x00405010, buf, 3, SMMU_ACC_U), 0);
    ck_assert_str_eq(buf, "abc");
    ck_assert_int_eq(hook_calls, 1);
    /* Unmarked: write entries come back on the next write fill. */
    smmu_unmark_code(&m, DATA >> 12);
    ck_assert_ptr_eq(smmu_fill(&m, 0x00405000, SMMU_ACC_W, &fault), vm.ram + DATA);
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00405000), addend(DATA, 0x00405000));
    ck_assert_int_eq(smmu_write(&m, 0x00405010, "q", 1, 0), 0);
    ck_assert_int_eq(hook_calls, 1);
}
END_TEST

START_TEST(code_page_inactive_space)
{
    /* B maps DATA writable; A is active when DATA becomes a code page. */
    map32(PD_A, PT_A, 0x00405000, DATA2, P | W | U, P | W | U);
    map32(PD_B, PT_B, 0x00405000, DATA, P | W | U, P | W | U);
    paging32(PD_B, 0, true);
    bool fault;
    ck_assert_ptr_nonnull(smmu_fill(&m, 0x00405000, SMMU_ACC_W, &fault));
    paging32(PD_A, 0, true);
    smmu_mark_code(&m, DATA >> 12);
    paging32(PD_B, 0, true);
    ck_assert_uint_eq(ENT(SMMU_T_SR, 0x00405000), addend(DATA, 0x00405000));
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00405000), 0);
    ck_assert_uint_eq(ENT(SMMU_T_UW, 0x00405000), 0);
}
END_TEST

/* ---- address-space cache ----------------------------------------------- */

START_TEST(as_cache_switch_and_restore)
{
    map32(PD_A, PT_A, 0x00405000, DATA, P | W | U, P | W | U);
    map32(PD_A, PT_A, 0x00406000, DATA2, P | W | U, P | W | U);
    map32(PD_B, PT_B, 0x00405000, DATA3, P | W | U, P | W | U);
    map32(PD_B, PT_B, 0x00407000, PT_A, P | W | U, P | W);  /* B sees A's PT */
    paging32(PD_A, 0, true);
    bool fault;
    ck_assert_ptr_nonnull(smmu_fill(&m, 0x00405000, SMMU_ACC_W, &fault));
    ck_assert_ptr_nonnull(smmu_fill(&m, 0x00406000, 0, &fault));
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00405000), addend(DATA, 0x00405000));
    /* Switch to B: A's entries leave the tables. */
    c->cr3 = PD_B;
    ck_assert_int_eq(smmu_cr_write(&m), 0);
    ck_assert(all_zero(0x00405000));
    ck_assert(all_zero(0x00406000));
    ck_assert_ptr_eq(smmu_fill(&m, 0x00405000, 0, &fault), vm.ram + DATA3);
    ck_assert_uint_eq(ENT(SMMU_T_SR, 0x00405000), addend(DATA3, 0x00405000));
    /* Back to A: restored without a walk. */
    uint64_t hits = m.stats.as_hits, hf = m.stats.hidden_faults;
    uint32_t pte5 = rd32(pte_addr(PT_A, 0x00405000));
    c->cr3 = PD_A;
    ck_assert_int_eq(smmu_cr_write(&m), 0);
    ck_assert_uint_eq(m.stats.as_hits, hits + 1);
    ck_assert_uint_eq(m.stats.hidden_faults, hf);
    ck_assert_uint_eq(ENT(SMMU_T_SR, 0x00405000), addend(DATA, 0x00405000));
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00405000), addend(DATA, 0x00405000));
    ck_assert_uint_eq(ENT(SMMU_T_UW, 0x00405000), addend(DATA, 0x00405000));
    ck_assert_uint_eq(ENT(SMMU_T_SR, 0x00406000), addend(DATA2, 0x00406000));
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00406000), 0);
    ck_assert_uint_eq(rd32(pte_addr(PT_A, 0x00405000)), pte5);
    /* Loading the same CR3 again is not a switch. */
    ck_assert_int_eq(smmu_cr_write(&m), 0);
    ck_assert_uint_eq(m.stats.as_hits, hits + 1);
    ck_assert_uint_eq(ENT(SMMU_T_SR, 0x00405000), addend(DATA, 0x00405000));
    /* And B's entry is restored too. */
    c->cr3 = PD_B;
    ck_assert_int_eq(smmu_cr_write(&m), 0);
    ck_assert_uint_eq(ENT(SMMU_T_SR, 0x00405000), addend(DATA3, 0x00405000));
    ck_assert(all_zero(0x00406000));
}
END_TEST

/* A space of 700 entries (its hash grown twice), a third of them dropped
 * again (backward shifts in the hash): switching away clears exactly its
 * entries from the tables, switching back restores exactly the others —
 * what the hash's occupancy bits (shadow.c hbits) lead the switch to. */
START_TEST(as_cache_switch_many_entries)
{
    enum { N = 700 };
    paging32(PD_A, 0, true);
    for (uint32_t i = 0; i < N; i++)
        map32(PD_A, PT_A, 0x00400000 + i * 0x1000, DATA + (i % 16) * 0x1000, P | W | U, P | W | U);
    bool fault;
    for (uint32_t i = 0; i < N; i++)
        ck_assert_ptr_nonnull(smmu_fill(&m, 0x00400000 + i * 0x1000, 0, &fault));
    for (uint32_t i = 0; i < N; i += 3)
        smmu_invlpg(&m, 0x00400000 + i * 0x1000);
    c->cr3 = PD_B;
    ck_assert_int_eq(smmu_cr_write(&m), 0);
    for (uint32_t i = 0; i < N; i++)
        ck_assert_msg(all_zero(0x00400000 + i * 0x1000), "page %u left in the tables", i);
    uint64_t hf = m.stats.hidden_faults;
    c->cr3 = PD_A;
    ck_assert_int_eq(smmu_cr_write(&m), 0);
    ck_assert_uint_eq(m.stats.hidden_faults, hf);
    for (uint32_t i = 0; i < N; i++) {
        uint32_t lin = 0x00400000 + i * 0x1000;
        uint64_t want = i % 3 ? addend(DATA + (i % 16) * 0x1000, lin) : 0;
        ck_assert_msg(ENT(SMMU_T_SR, lin) == want, "page %u: entry %llx, want %llx", i,
                      (unsigned long long)ENT(SMMU_T_SR, lin), (unsigned long long)want);
    }
}
END_TEST

START_TEST(as_cache_pte_write_while_inactive)
{
    map32(PD_A, PT_A, 0x00405000, DATA, P | W | U, P | W | U);
    map32(PD_A, PT_A, 0x00406000, DATA2, P | W | U, P | W | U);
    map32(PD_B, PT_B, 0x00407000, PT_A, P | W | U, P | W);  /* B sees A's PT */
    paging32(PD_A, 0, true);
    bool fault;
    ck_assert_ptr_nonnull(smmu_fill(&m, 0x00405000, SMMU_ACC_W, &fault));
    ck_assert_ptr_nonnull(smmu_fill(&m, 0x00406000, SMMU_ACC_W, &fault));
    c->cr3 = PD_B;
    ck_assert_int_eq(smmu_cr_write(&m), 0);
    /* B's view of A's page table is read-only in the tables. */
    ck_assert_ptr_null(smmu_fill(&m, 0x00407000, SMMU_ACC_W, &fault));
    ck_assert(!fault);
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00407000), 0);
    ck_assert_uint_eq(ENT(SMMU_T_SR, 0x00407000), addend(PT_A, 0x00407000));
    /* B rewrites A's PTE 5. */
    uint32_t npte = DATA3 | P | W | U;
    ck_assert_int_eq(smmu_write(&m, 0x00407000 + 5 * 4, &npte, 4, 0), 0);
    ck_assert_uint_eq(rd32(PT_A + 5 * 4), npte);
    c->cr3 = PD_A;
    ck_assert_int_eq(smmu_cr_write(&m), 0);
    ck_assert(all_zero(0x00405000));
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00406000), addend(DATA2, 0x00406000));
    uint64_t phys;
    ck_assert(smmu_translate(&m, 0x00405004, 0, &phys));
    ck_assert_uint_eq(phys, DATA3 + 4);
    ck_assert_ptr_eq(smmu_fill(&m, 0x00405000, 0, &fault), vm.ram + DATA3);
}
END_TEST

/* A cached space whose directory takes FOREIGN_WRITES_MAX (32) traced
 * writes while another space runs is dropped: its process is gone and the
 * page reused for data, which must stop bouncing (shadow.c). */
START_TEST(as_cache_dropped_after_foreign_writes)
{
    map32(PD_A, PT_A, 0x00405000, DATA, P | W | U, P | W | U);
    map32(PD_B, PT_B, 0x00408000, PD_A, P | W, P | W);       /* B reaches A's directory */
    paging32(PD_A, 0, true);
    bool fault;
    ck_assert_ptr_nonnull(smmu_fill(&m, 0x00405000, SMMU_ACC_W, &fault));
    ck_assert(smmu_traced(&m, PD_A >> 12));
    c->cr3 = PD_B;
    ck_assert_int_eq(smmu_cr_write(&m), 0);
    uint64_t base = m.stats.as_foreign_flushes;
    for (uint32_t i = 0; i < 31; i++) {
        uint32_t v = 0x1000 * (i + 1);                        /* changed: a real trace */
        ck_assert_int_eq(smmu_write(&m, 0x00408000 + 0x800 + 4 * i, &v, 4, 0), 0);
    }
    ck_assert(smmu_traced(&m, PD_A >> 12));                   /* 31: still A's */
    ck_assert_uint_eq(m.stats.as_foreign_flushes, base);
    uint32_t v = 0x55000;
    ck_assert_int_eq(smmu_write(&m, 0x00408000 + 0x900, &v, 4, 0), 0);
    ck_assert_uint_eq(m.stats.as_foreign_flushes, base + 1);
    ck_assert(!smmu_traced(&m, PD_A >> 12));
    /* Now plain data: B gets a write entry for it. */
    ck_assert_ptr_eq(smmu_fill(&m, 0x00408000, SMMU_ACC_W, &fault), vm.ram + PD_A);
    /* Loaded again, A is rebuilt by walks (its directory is what it is). */
    c->cr3 = PD_A;
    ck_assert_int_eq(smmu_cr_write(&m), 0);
    ck_assert(all_zero(0x00405000));
    ck_assert_ptr_eq(smmu_fill(&m, 0x00405000, 0, &fault), vm.ram + DATA);
}
END_TEST

/* Writes to the running space's own tables never count as foreign. */
START_TEST(as_cache_own_writes_not_foreign)
{
    map32(PD_A, PT_A, 0x00405000, DATA, P | W | U, P | W | U);
    map32(PD_A, PT_A, 0x00409000, PT_A, P | W | U, P | W);   /* A maps its own PT */
    paging32(PD_A, 0, true);
    bool fault;
    ck_assert_ptr_nonnull(smmu_fill(&m, 0x00405000, SMMU_ACC_W, &fault));
    uint64_t base = m.stats.as_foreign_flushes;
    for (uint32_t i = 0; i < 100; i++) {
        uint32_t pte = DATA | P | W | U;
        ck_assert_int_eq(smmu_write(&m, 0x00409000 + 5 * 4, &pte, 4, 0), 0);
        ck_assert_ptr_nonnull(smmu_fill(&m, 0x00405000, 0, &fault));
    }
    ck_assert_uint_eq(m.stats.as_foreign_flushes, base);
    ck_assert(smmu_traced(&m, PT_A >> 12));
}
END_TEST

START_TEST(as_cache_alias_written_before_traced)
{
    /* B has a write entry for PT_A's page before A ever walks it. */
    map32(PD_A, PT_A, 0x00405000, DATA, P | W | U, P | W | U);
    map32(PD_B, PT_B, 0x00407000, PT_A, P | W | U, P | W);
    paging32(PD_B, 0, true);
    bool fault;
    ck_assert_ptr_eq(smmu_fill(&m, 0x00407000, SMMU_ACC_W, &fault), vm.ram + PT_A);
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00407000), addend(PT_A, 0x00407000));
    c->cr3 = PD_A;
    ck_assert_int_eq(smmu_cr_write(&m), 0);
    ck_assert_ptr_nonnull(smmu_fill(&m, 0x00405000, 0, &fault));
    c->cr3 = PD_B;
    ck_assert_int_eq(smmu_cr_write(&m), 0);
    ck_assert_uint_eq(ENT(SMMU_T_SR, 0x00407000), addend(PT_A, 0x00407000));
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00407000), 0);
}
END_TEST

START_TEST(as_cache_lru)
{
    /* SMMU_NAS + 1 spaces: the oldest is reclaimed, then misses. */
    map32(PD_A, PT_A, 0x00405000, DATA, P | W | U, P | W | U);
    for (unsigned i = 0; i <= SMMU_NAS; i++) {
        uint32_t pd = 0x40000 + i * 0x1000;
        wr32(pde_addr(pd, 0x00405000), PT_A | P | W | U);
    }
    bool fault;
    for (unsigned i = 0; i <= SMMU_NAS; i++) {
        paging32(0x40000 + i * 0x1000, 0, true);
        ck_assert_ptr_nonnull(smmu_fill(&m, 0x00405000, 0, &fault));
    }
    ck_assert_uint_eq(m.stats.as_reclaims, 1);
    uint64_t hits = m.stats.as_hits, misses = m.stats.as_misses;
    paging32(0x40000 + 1 * 0x1000, 0, true);
    ck_assert_uint_eq(m.stats.as_hits, hits + 1);
    ck_assert_uint_eq(ENT(SMMU_T_SR, 0x00405000), addend(DATA, 0x00405000));
    paging32(0x40000, 0, true);
    ck_assert_uint_eq(m.stats.as_misses, misses + 1);
    ck_assert(all_zero(0x00405000));
}
END_TEST

START_TEST(mode_change_drops_all)
{
    map32(PD_A, PT_A, 0x00405000, DATA, P | W | U, P | W | U);
    paging32(PD_A, 0, true);
    bool fault;
    ck_assert_ptr_nonnull(smmu_fill(&m, 0x00405000, SMMU_ACC_W, &fault));
    paging32(PD_A, 0, false); /* WP off */
    ck_assert(all_zero(0x00405000));
    ck_assert_uint_eq(m.stats.as_hits, 0);
}
END_TEST

/* ---- slow path --------------------------------------------------------- */

START_TEST(cross_page_write_fault)
{
    map32(PD_A, PT_A, 0x00405000, DATA, P | W | U, P | W | U);
    map32(PD_A, PT_A, 0x00407000, DATA + 0x1000, P | W | U, P | W | U);
    map32(PD_A, PT_A, 0x00408000, DATA2 + 0x1000, P | W | U, P | U); /* read-only */
    paging32(PD_A, 0, true);
    memset(vm.ram + DATA + 0xFF0, 0x55, 16);
    const uint8_t v[4] = { 1, 2, 3, 4 };
    ck_assert_int_eq(smmu_write(&m, 0x00405FFE, v, 4, 0), 14);
    ck_assert_uint_eq(m.pf_addr, 0x00406000);
    ck_assert_uint_eq(m.pf_err, SMMU_PF_W);
    ck_assert_uint_eq(vm.ram[DATA + 0xFFE], 0x55);
    ck_assert_uint_eq(vm.ram[DATA + 0xFFF], 0x55);
    /* The same with the first page already shadowed for writes. */
    bool fault;
    ck_assert_ptr_nonnull(smmu_fill(&m, 0x00405000, SMMU_ACC_W | SMMU_ACC_U, &fault));
    ck_assert_int_eq(smmu_write(&m, 0x00405FFF, v, 2, SMMU_ACC_U), 14);
    ck_assert_uint_eq(m.pf_addr, 0x00406000);
    ck_assert_uint_eq(m.pf_err, SMMU_PF_W | SMMU_PF_U);
    ck_assert_uint_eq(vm.ram[DATA + 0xFFF], 0x55);
    /* Second page present but read-only. */
    memset(vm.ram + DATA + 0x1FF0, 0x66, 16);
    ck_assert_int_eq(smmu_write(&m, 0x00407FFE, v, 4, SMMU_ACC_U), 14);
    ck_assert_uint_eq(m.pf_addr, 0x00408000);
    ck_assert_uint_eq(m.pf_err, SMMU_PF_P | SMMU_PF_W | SMMU_PF_U);
    ck_assert_uint_eq(vm.ram[DATA + 0x1FFE], 0x66);
    ck_assert_uint_eq(vm.ram[DATA + 0x1FFF], 0x66);
    /* Reads fault too, and a fitting split access works. */
    uint8_t buf[4];
    ck_assert_int_eq(smmu_read(&m, 0x00405FFE, buf, 4, 0), 14);
    ck_assert_uint_eq(m.pf_addr, 0x00406000);
    ck_assert_uint_eq(m.pf_err, 0);
    map32(PD_A, PT_A, 0x00406000, DATA2, P | W | U, P | W | U);
    smmu_invlpg(&m, 0x00406000);
    ck_assert_int_eq(smmu_write(&m, 0x00405FFE, v, 4, SMMU_ACC_U), 0);
    ck_assert_uint_eq(vm.ram[DATA + 0xFFE], 1);
    ck_assert_uint_eq(vm.ram[DATA + 0xFFF], 2);
    ck_assert_uint_eq(vm.ram[DATA2 + 0], 3);
    ck_assert_uint_eq(vm.ram[DATA2 + 1], 4);
    ck_assert_int_eq(smmu_read(&m, 0x00405FFF, buf, 3, 0), 0);
    ck_assert_uint_eq(buf[0], 2);
    ck_assert_uint_eq(buf[1], 3);
    ck_assert_uint_eq(buf[2], 4);
}
END_TEST

START_TEST(paging_off_identity)
{
    uint64_t phys = 0;
    ck_assert(smmu_translate(&m, 0x00123456, SMMU_ACC_W | SMMU_ACC_U, &phys));
    ck_assert_uint_eq(phys, 0x00123456);
    ck_assert(smmu_translate(&m, 0xFEE00010, 0, &phys));
    ck_assert_uint_eq(phys, 0xFEE00010);
    bool fault = true;
    ck_assert_ptr_eq(smmu_fill(&m, 0x00123456, SMMU_ACC_W, &fault), vm.ram + 0x00123456);
    ck_assert(!fault);
    for (int t = SMMU_T_SR; t <= SMMU_T_UW; t++)
        ck_assert_uint_eq(ENT(t, 0x00123000), (uint64_t)(uintptr_t)vm.ram);
    ck_assert_uint_eq(ENT(SMMU_T_SX, 0x00123000), 0x123 + 1);
    ck_assert_int_eq(smmu_exec_page(&m, 0x00777000), 0x777);
    /* Outside RAM: no entry, reads all-ones, writes dropped. */
    ck_assert_ptr_null(smmu_fill(&m, RAM + 0x1000, 0, &fault));
    ck_assert(!fault);
    ck_assert(all_zero(RAM + 0x1000));
    uint32_t v = 0;
    ck_assert_int_eq(smmu_read(&m, RAM + 0x1000, &v, 4, 0), 0);
    ck_assert_uint_eq(v, 0xFFFFFFFFu);
    ck_assert_int_eq(smmu_write(&m, 0x00200000, "hi", 2, 0), 0);
    ck_assert_mem_eq(vm.ram + 0x00200000, "hi", 2);
    /* Paging on then off again: identity entries are rebuilt, nothing stale. */
    wr32(pde_addr(PD_A, 0x00123000), PT_A0 | P | W);
    wr32(pte_addr(PT_A0, 0x00123000), DATA | P | W);
    paging32(PD_A, 0, true);
    ck_assert(all_zero(0x00123000));
    ck_assert_ptr_eq(smmu_fill(&m, 0x00123000, 0, &fault), vm.ram + DATA);
    c->cr0 = CPU_CR0_PE;
    ck_assert_int_eq(smmu_cr_write(&m), 0);
    ck_assert(all_zero(0x00123000));
    ck_assert(smmu_translate(&m, 0x00123000, 0, &phys));
    ck_assert_uint_eq(phys, 0x00123000);
}
END_TEST

/* ---- randomized coherence ---------------------------------------------- */

/* Three 32-bit address spaces (PDs at R_PD0..) whose PDEs 1 and 2 point at
 * tables from a shared pool (or are 4 MiB pages over the tables themselves);
 * PDE 0 maps every table page at R_ALIAS_LIN so the guest can rewrite them.
 * Random fills, fetch checks, PTE/PDE writes (through a write entry when
 * there is one, as translated code would, else smmu_write), INVLPG, CR3
 * switches and code marks; after each step every entry of the active
 * tables must match a fresh reference walk and no write entry may map a
 * table page an entry was derived from, or a code page. */
#define R_PD0       0x50000u
#define R_NPD       3u
#define R_PT0       0x60000u
#define R_NPT       4u
#define R_ALIAS_PT  0x64000u
#define R_ALIAS_LIN 0x00010000u   /* + (page - R_PD0) */
#define R_DATA0     0x100000u
#define R_NDATA     32u
#define R_LO        0x00400000u
#define R_HI        0x00C00000u

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(uint32_t n)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng >> 33) % n;
}

static uint32_t rnd_pte(void)
{
    uint32_t fl = P | (rnd(2) ? W : 0) | (rnd(3) ? U : 0) | (rnd(2) ? D : 0);
    if (rnd(10) == 0)
        fl &= ~P;
    if (rnd(8) == 0) /* a table page as data */
        return (R_PT0 + rnd(R_NPT) * 0x1000) | fl;
    return (R_DATA0 + rnd(R_NDATA) * 0x1000) | fl;
}

static uint32_t rnd_pde(void)
{
    uint32_t fl = P | W | (rnd(4) ? U : 0) | (rnd(6) ? 0 : PS);
    if (rnd(12) == 0)
        fl &= ~P;
    if (fl & PS) /* 4 MiB at 0: covers every table page */
        return 0x00000000u | fl | (rnd(2) ? D : 0);
    return (R_PT0 + rnd(R_NPT) * 0x1000) | fl;
}

/* Reference walk (no side effects). Returns false if not present. */
static bool ref_walk(uint32_t cr3, uint32_t vpn, uint32_t *ppage, uint8_t *perm, uint32_t *table)
{
    uint32_t pde = rd32((cr3 & ~0xFFFu) + (vpn >> 10) * 4);
    if (!(pde & P))
        return false;
    bool w, u, d;
    if (pde & PS) {
        *ppage = ((pde & 0xFFC00000u) >> 12) | (vpn & 0x3FF);
        w = pde & W; u = pde & U; d = pde & D;
        *table = ~0u;
    } else {
        uint32_t pte = rd32((pde & ~0xFFFu) + (vpn & 0x3FF) * 4);
        if (!(pte & P))
            return false;
        *ppage = pte >> 12;
        w = pde & pte & W; u = pde & pte & U; d = pte & D;
        *table = pde >> 12;
    }
    *perm = (uint8_t)(1u << SMMU_T_SR | 1u << SMMU_T_SX | (w && d ? 1u << SMMU_T_SW : 0) |
                      (u ? 1u << SMMU_T_UR | 1u << SMMU_T_UX : 0) |
                      (u && w && d ? 1u << SMMU_T_UW : 0));
    return true;
}

static void check_coherent(uint32_t cr3, int step)
{
    bool is_table[RAM >> 12];
    memset(is_table, 0, sizeof(is_table));
    is_table[cr3 >> 12] = true;
    for (uint32_t vpn = R_ALIAS_LIN >> 12; vpn < (R_HI >> 12); vpn++) {
        if (vpn == 0x40)
            vpn = R_LO >> 12; /* nothing is mapped in between */
        uint32_t ppage = 0, table = 0;
        uint8_t perm = 0;
        bool ok = ref_walk(cr3, vpn, &ppage, &perm, &table);
        bool any = false;
        for (int t = 0; t < SMMU_NTABLES; t++) {
            uint64_t e = tables[(size_t)t * SMMU_TLB_ENTRIES + vpn];
            if (!e)
                continue;
            any = true;
            ck_assert_msg(ok && (perm >> t & 1), "step %d: vpn %#x table %d: stale entry",
                          step, vpn, t);
            uint64_t want = t >= SMMU_T_SX ? ppage + 1ull : addend(ppage << 12, vpn << 12);
            ck_assert_msg(e == want, "step %d: vpn %#x table %d: wrong page", step, vpn, t);
        }
        if (any && table != ~0u && table < (RAM >> 12))
            is_table[table] = true;
    }
    for (uint32_t vpn = R_ALIAS_LIN >> 12; vpn < (R_HI >> 12); vpn++) {
        if (vpn == 0x40)
            vpn = R_LO >> 12;
        for (int t = SMMU_T_SW; t <= SMMU_T_UW; t += 2) {
            uint64_t e = tables[(size_t)t * SMMU_TLB_ENTRIES + vpn];
            if (!e)
                continue;
            uint64_t ppage = (e + ((uint64_t)vpn << 12) - (uint64_t)(uintptr_t)vm.ram) >> 12;
            ck_assert_msg(!is_table[ppage], "step %d: vpn %#x writable, maps table page %#llx",
                          step, vpn, (unsigned long long)ppage);
            ck_assert_msg(!m.code_pages[ppage], "step %d: vpn %#x writable, maps code page",
                          step, vpn);
        }
    }
}

/* A 4-byte guest write as translated code would do it. */
static void guest_write32(uint32_t lin, uint32_t v)
{
    uint64_t e = ENT(SMMU_T_SW, lin);
    if (e) {
        memcpy((uint8_t *)(uintptr_t)(e + lin), &v, 4);
        return;
    }
    bool fault;
    uint8_t *h = smmu_fill(&m, lin, SMMU_ACC_W, &fault);
    ck_assert(!fault);
    if (h)
        memcpy(h, &v, 4);
    else
        ck_assert_int_eq(smmu_write(&m, lin, &v, 4, 0), 0);
}

/* Every host address the shadow tables lead to is guest RAM (or ROM, or
 * the direct device page): PTEs naming a device page, a page past RAM and,
 * under PAE, a page above 4 GiB get no host entry; smmu_audit finds a
 * planted bad entry, so it can fail. */
START_TEST(audit_host_windows)
{
    wr64(PDPT + 0, PAE_PD | P);
    wr64(PAE_PD + 2 * 8, PAE_PT | P | W | U);
    wr64(PAE_PT + 0 * 8, DATA | P | W | U);               /* 0x00400000: RAM */
    wr64(PAE_PT + 1 * 8, 0xFEC00000u | P | W | U);        /* 0x00401000: the IOAPIC's page */
    wr64(PAE_PT + 2 * 8, (uint64_t)RAM | P | W | U);      /* 0x00402000: just past RAM */
    wr64(PAE_PT + 3 * 8, (1ull << 32) | P | W | U);       /* 0x00403000: above 4 GiB */
    wr64(PAE_PT + 4 * 8, ((1ull << 36) - 0x1000) | P | W | U); /* 0x00404000: the top of 36 bits */
    paging_pae(false);
    bool fault;
    for (uint32_t lin = 0x00400000; lin < 0x00405000; lin += 0x1000) {
        static const unsigned accs[] = { 0, SMMU_ACC_W, SMMU_ACC_U, SMMU_ACC_U | SMMU_ACC_W };
        for (int a = 0; a < 4; a++)
            (void)smmu_fill(&m, lin + 0x10, accs[a], &fault);
        c->cpl = 3;
        (void)smmu_exec_page(&m, lin);
        c->cpl = 0;
        (void)smmu_exec_page(&m, lin);
    }
    ck_assert_uint_ne(ENT(SMMU_T_UW, 0x00400000), 0);
    for (uint32_t lin = 0x00401000; lin < 0x00405000; lin += 0x1000)
        ck_assert_msg(all_zero(lin), "a host entry for the non-RAM page at %08x", lin);
    ck_assert_uint_eq(smmu_audit(&m, 0, SMMU_TLB_ENTRIES), 0);
    /* A planted entry one page past RAM, and an execute entry past it. */
    ENT(SMMU_T_SR, 0x00402000) = (uint64_t)(uintptr_t)(vm.ram + RAM) - 0x00402000;
    ENT(SMMU_T_SX, 0x00403000) = (RAM >> 12) + 1;
    ck_assert_uint_eq(smmu_audit(&m, 0, SMMU_TLB_ENTRIES), 2);
    ENT(SMMU_T_SR, 0x00402000) = 0;
    ENT(SMMU_T_SX, 0x00403000) = 0;
}
END_TEST

START_TEST(random_coherence)
{
    rng ^= (uint64_t)_i * 0x2545F4914F6CDD1Dull;
    for (uint32_t pg = R_PD0; pg <= R_ALIAS_PT; pg += 0x1000)
        wr32(R_ALIAS_PT + ((R_ALIAS_LIN + pg - R_PD0) >> 12) * 4, pg | P | W);
    for (unsigned i = 0; i < R_NPD; i++) {
        uint32_t pd = R_PD0 + i * 0x1000;
        wr32(pd, R_ALIAS_PT | P | W);
        wr32(pd + 4, rnd_pde());
        wr32(pd + 8, rnd_pde());
    }
    for (unsigned i = 0; i < R_NPT; i++)
        for (unsigned j = 0; j < 1024; j++)
            wr32(R_PT0 + i * 0x1000 + j * 4, rnd(3) ? rnd_pte() : 0);
    uint32_t cr3 = R_PD0;
    paging32(cr3, CR4_PSE, true);
    bool fault;
    for (int step = 0; step < 3000; step++) {
        uint32_t lin = R_LO + rnd((R_HI - R_LO) >> 12) * 0x1000 + rnd(0x1000);
        switch (rnd(16)) {
        case 0: case 1: case 2: case 3: case 4: {
            static const unsigned accs[] = { 0, SMMU_ACC_W, SMMU_ACC_U, SMMU_ACC_U | SMMU_ACC_W };
            unsigned acc = accs[rnd(4)];
            uint8_t *h = smmu_fill(&m, lin, acc, &fault);
            int t = ((acc & SMMU_ACC_U) ? SMMU_T_UR : SMMU_T_SR) + ((acc & SMMU_ACC_W) ? 1 : 0);
            if (h)
                ck_assert_msg(ENT(t, lin) && ENT(t, lin) + lin == (uint64_t)(uintptr_t)h,
                              "step %d: fill did not set its entry", step);
            break;
        }
        case 5:
            c->cpl = rnd(2) ? 3 : 0;
            (void)smmu_exec_page(&m, lin);
            c->cpl = 0;
            break;
        case 6: case 7: case 8: case 9: { /* rewrite a PTE */
            uint32_t pt = R_PT0 + rnd(R_NPT) * 0x1000;
            guest_write32(R_ALIAS_LIN + (pt - R_PD0) + rnd(1024) * 4, rnd_pte());
            break;
        }
        case 10: { /* rewrite PDE 1 or 2 of some PD */
            uint32_t pd = R_PD0 + rnd(R_NPD) * 0x1000;
            guest_write32(R_ALIAS_LIN + (pd - R_PD0) + (1 + rnd(2)) * 4, rnd_pde());
            break;
        }
        case 11: case 12:
            cr3 = R_PD0 + rnd(R_NPD) * 0x1000;
            c->cr3 = cr3;
            ck_assert_int_eq(smmu_cr_write(&m), 0);
            break;
        case 13:
            smmu_invlpg(&m, lin);
            break;
        case 14: {
            uint64_t pg = (R_DATA0 >> 12) + rnd(R_NDATA);
            if (rnd(2))
                smmu_mark_code(&m, pg);
            else
                smmu_unmark_code(&m, pg);
            break;
        }
        case 15: { /* a data write through smmu_write */
            uint32_t v = rnd(0xFFFFFFFFu), pp, tb;
            uint8_t pm;
            if (!ref_walk(cr3, lin >> 12, &pp, &pm, &tb) || pp < (R_DATA0 >> 12))
                break;
            int r = smmu_write(&m, lin & ~3u, &v, 4, rnd(2) ? SMMU_ACC_U : 0);
            ck_assert(r == 0 || r == 14);
            break;
        }
        }
        check_coherent(cr3, step);
    }
    ck_assert_uint_eq(smmu_audit(&m, 0, SMMU_TLB_ENTRIES), 0);
    if (getenv("SMMU_TEST_STATS"))
        fprintf(stderr, "fills r %llu w %llu x %llu, true faults %llu, hidden %llu, trace hits %llu "
                "inval %llu, as hits %llu misses %llu reclaims %llu, flushes %llu\n",
                (unsigned long long)m.stats.fills_read, (unsigned long long)m.stats.fills_write,
                (unsigned long long)m.stats.fills_exec, (unsigned long long)m.stats.true_faults,
                (unsigned long long)m.stats.hidden_faults, (unsigned long long)m.stats.trace_hits,
                (unsigned long long)m.stats.trace_invalidations,
                (unsigned long long)m.stats.as_hits, (unsigned long long)m.stats.as_misses,
                (unsigned long long)m.stats.as_reclaims, (unsigned long long)m.stats.flushes);
}
END_TEST

/* ---- global pages (CR4.PGE) -------------------------------------------- */

#define G 0x100u
#define CR4_PGE 0x80u

START_TEST(global_pages_survive_cr3_loads)
{
    /* Both spaces map 0x00405000 global (same PT), 0x00406000 per space. */
    map32(PD_A, PT_A, 0x00405000, DATA, P | W, P | W | G);
    map32(PD_A, PT_A, 0x00406000, DATA2, P | W, P | W);
    wr32(pde_addr(PD_B, 0x00405000), PT_A | P | W);
    paging32(PD_A, CR4_PGE, true);
    bool fault;
    ck_assert_ptr_nonnull(smmu_fill(&m, 0x00405000, SMMU_ACC_W, &fault));
    ck_assert_ptr_nonnull(smmu_fill(&m, 0x00406000, SMMU_ACC_W, &fault));
    c->cr3 = PD_B;
    ck_assert_int_eq(smmu_cr_write(&m), 0);
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00405000), addend(DATA, 0x00405000));
    ck_assert(all_zero(0x00406000)); /* A's non-global entry left with A */
    /* INVLPG drops a global translation. */
    smmu_invlpg(&m, 0x00405000);
    ck_assert(all_zero(0x00405000));
    ck_assert_ptr_nonnull(smmu_fill(&m, 0x00405000, SMMU_ACC_W, &fault));
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00405000), addend(DATA, 0x00405000));
    /* A traced PTE write drops it too. */
    uint32_t npte = DATA3 | P | W | G;
    wr32(pte_addr(PT_A, 0x00401000), PT_A | P | W);
    ck_assert_int_eq(smmu_write(&m, 0x00401000 + 5 * 4, &npte, 4, 0), 0);
    ck_assert(all_zero(0x00405000));
    ck_assert_ptr_eq(smmu_fill(&m, 0x00405000, 0, &fault), vm.ram + DATA3);
    /* Clearing CR4.PGE flushes global translations. */
    c->cr4 = 0;
    ck_assert_int_eq(smmu_cr_write(&m), 0);
    ck_assert(all_zero(0x00405000));
}
END_TEST

/* Clearing only R/W in a traced PTE (copy-on-write) keeps the translation
 * and drops only its write permission, also when done with a byte write. */
START_TEST(trace_write_protect_downgrades)
{
    map32(PD_A, PT_A, 0x00405000, DATA, P | W | U, P | W | U);
    map32(PD_A, PT_A, 0x00406000, PT_A, P | W, P | W); /* the table, mapped */
    paging32(PD_A, 0, true);
    bool fault;
    ck_assert_ptr_nonnull(smmu_fill(&m, 0x00405000, SMMU_ACC_W, &fault));
    ck_assert_uint_ne(ENT(SMMU_T_SW, 0x00405000), 0);
    uint8_t b;
    ck_assert_int_eq(smmu_read(&m, 0x00406000 + 5 * 4, &b, 1, 0), 0);
    b &= (uint8_t)~W;
    ck_assert_int_eq(smmu_write(&m, 0x00406000 + 5 * 4, &b, 1, 0), 0);
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00405000), 0);
    ck_assert_uint_eq(ENT(SMMU_T_UW, 0x00405000), 0);
    ck_assert_uint_eq(ENT(SMMU_T_SR, 0x00405000), addend(DATA, 0x00405000));
    /* The write now faults (P|W) as the PTE says. */
    uint64_t phys;
    ck_assert(!smmu_translate(&m, 0x00405000, SMMU_ACC_W | SMMU_ACC_U, &phys));
    ck_assert_uint_eq(m.pf_err, SMMU_PF_P | SMMU_PF_W | SMMU_PF_U);
}
END_TEST

/* Narrow writes into a traced PTE at an offset: the write's "after" value
 * (merged from the bytes written, smmu.c merge8) must show what changed.
 * A 2-byte write to bytes 2..3 moves the frame: the entry goes. A 3-byte
 * write to bytes 1..3 putting the old frame back and a 1-byte write to
 * byte 0 clearing R/W: only the write entries go. */
START_TEST(traced_narrow_writes_seen_exactly)
{
    map32(PD_A, PT_A, 0x00405000, DATA, P | W | U, P | W | U);
    map32(PD_A, PT_A, 0x00406000, PT_A, P | W, P | W); /* the table, mapped */
    paging32(PD_A, 0, true);
    bool fault;
    uint32_t pte = 0x00406000 + 5 * 4;
    ck_assert_ptr_nonnull(smmu_fill(&m, 0x00405000, SMMU_ACC_W, &fault));
    uint16_t hi = (uint16_t)(DATA2 >> 16);
    ck_assert_int_eq(smmu_write(&m, pte + 2, &hi, 2, 0), 0);
    ck_assert(all_zero(0x00405000));
    ck_assert_ptr_eq(smmu_fill(&m, 0x00405000, SMMU_ACC_W, &fault), vm.ram + DATA2);
    uint8_t three[3] = { (uint8_t)(DATA >> 8), (uint8_t)(DATA >> 16), (uint8_t)(DATA >> 24) };
    ck_assert_int_eq(smmu_write(&m, pte + 1, three, 3, 0), 0);
    ck_assert(all_zero(0x00405000));
    ck_assert_ptr_eq(smmu_fill(&m, 0x00405000, SMMU_ACC_W, &fault), vm.ram + DATA);
    uint8_t b;
    ck_assert_int_eq(smmu_read(&m, pte, &b, 1, 0), 0);
    b &= (uint8_t)~W;
    ck_assert_int_eq(smmu_write(&m, pte, &b, 1, 0), 0);
    ck_assert_uint_eq(ENT(SMMU_T_SW, 0x00405000), 0);
    ck_assert_uint_eq(ENT(SMMU_T_SR, 0x00405000), addend(DATA, 0x00405000));
}
END_TEST

/* ---- regressions ------------------------------------------------------- */

/* Reverse-map records must not leak: a page refilled after INVLPG over and
 * over (temporary kernel mappings) once added a record each time, until
 * the pool ran dry and every address space was flushed. */
START_TEST(rmap_refill_does_not_leak)
{
    map32(PD_A, PT_A, 0x00405000, DATA, P | W | U, P | W | U);
    map32(PD_A, PT_A, 0x00406000, DATA2, P | W | U, P | W | U);
    paging32(PD_A, 0, true);
    bool fault;
    ck_assert_ptr_nonnull(smmu_fill(&m, 0x00406000, 0, &fault));
    uint64_t flushes = m.stats.flushes;
    for (uint32_t i = 0; i < m.rmap_cap + 10; i++) {
        ck_assert_ptr_nonnull(smmu_fill(&m, 0x00405000, 0, &fault));
        smmu_invlpg(&m, 0x00405000);
    }
    ck_assert_uint_eq(m.stats.flushes, flushes);
    ck_assert_uint_eq(ENT(SMMU_T_SR, 0x00406000), addend(DATA2, 0x00406000));
}
END_TEST

/* ---- the direct device page (smmu_direct_set) ------------------------- */

#define DEVP   0xFEE00000u
static unsigned dev_reads, dev_writes;
static uint32_t dev_last_write;

static void dev_mmio(void *opaque, uint64_t off, unsigned size, bool is_write, uint64_t *data)
{
    (void)opaque; (void)size;
    if (is_write) {
        dev_writes++;
        dev_last_write = (uint32_t)*data;
    } else {
        dev_reads++;
        *data = off == 0x20 ? 0x1234 : 0;
    }
}

static void dev_store(void *ctx, uint32_t offset, uint32_t value)
{
    (*(unsigned *)ctx)++;
    dev_last_write = offset << 12 | value;
}

/* The device-table entry of table t (SR..UW) for lin. */
#define DEV_ENT(t, lin) ENT(SMMU_T_DEV(t), lin)

START_TEST(direct_page_read_write_revoke)
{
    dev_reads = dev_writes = 0;
    ck_assert_int_eq(dev_bus_register_mmio(vm.bus, DEVP, 0x1000, "dev", dev_mmio, NULL), 0);
    uint8_t *host = aligned_alloc(4096, 4096);
    memset(host, 0, 4096);
    memcpy(host + 0x20, &(uint32_t){ 0xABCD }, 4);
    uint8_t readable[256] = { 0 }, writable[256] = { 0 };
    readable[2] = 1;
    writable[0xB] = 1;
    struct smmu_direct_page dp = {
        .ppage = DEVP >> 12, .host = host, .readable = readable, .writable = writable,
        .write = dev_store, .ctx = &dev_writes,
    };
    smmu_direct_set(&m, &dp);
    smmu_direct_allow(&m, true);
    const uint8_t *map = (const uint8_t *)tables + SMMU_DEV_MAP_OFF;
    ck_assert_uint_eq(map[2], 1);
    ck_assert_uint_eq(map[4], 0);
    ck_assert_uint_eq(map[256 + 0xB], 1);
    ck_assert_uint_eq(map[256 + 2], 0);
    smmu_direct_write(&m, 0x004050B0, 9); /* the hook gets the offset */
    ck_assert_uint_eq(dev_writes, 1);
    ck_assert_uint_eq(dev_last_write, 0xB0009);
    dev_writes = 0;
    uint64_t dev_add_a = (uint64_t)(uintptr_t)host - 0x00405000u;
    uint64_t dev_add_b = (uint64_t)(uintptr_t)host - 0x00406000u;

    /* Space A maps 0x00405000 (supervisor), space B 0x00406000 (user) to it. */
    map32(PD_A, PT_A, 0x00405000, DEVP, P | W | U, P | W);
    map32(PD_B, PT_B, 0x00406000, DEVP, P | W | U, P | W | U);
    paging32(PD_A, 0, true);
    bool fault = true;
    /* A read: no ordinary entry, the device tables' read entry; emulated. */
    ck_assert_ptr_null(smmu_fill(&m, 0x00405020, 0, &fault));
    ck_assert(!fault);
    ck_assert(m.fill_direct);
    ck_assert(all_zero(0x00405000));
    ck_assert_uint_eq(DEV_ENT(SMMU_T_SR, 0x00405000), dev_add_a);
    ck_assert_uint_eq(DEV_ENT(SMMU_T_SW, 0x00405000), 0);
    ck_assert_uint_eq(DEV_ENT(SMMU_T_UR, 0x00405000), 0); /* PTE supervisor-only */
    /* A write is emulated too, with an entry in the device write table
     * only (D now set); slow paths still reach the device. */
    ck_assert_ptr_null(smmu_fill(&m, 0x00405020, SMMU_ACC_W, &fault));
    ck_assert(!fault);
    ck_assert(m.fill_direct);
    ck_assert_uint_eq(DEV_ENT(SMMU_T_SW, 0x00405000), dev_add_a);
    ck_assert_uint_eq(rd32(pte_addr(PT_A, 0x00405000)) & D, D);
    ck_assert(all_zero(0x00405000));
    uint64_t phys = 0;
    ck_assert(smmu_translate(&m, 0x00405020, 0, &phys));
    ck_assert_uint_eq(phys, DEVP + 0x20);
    uint32_t v = 0;
    ck_assert_int_eq(smmu_read(&m, 0x00405020, &v, 4, 0), 0);
    ck_assert_uint_eq(v, 0x1234);
    ck_assert_uint_eq(dev_reads, 1);
    ck_assert_int_eq(smmu_write(&m, 0x00405030, &(uint32_t){ 7 }, 4, 0), 0);
    ck_assert_uint_eq(dev_writes, 1);
    ck_assert_uint_eq(dev_last_write, 7);
    /* A user-mode read of a supervisor page faults as before. */
    ck_assert_ptr_null(smmu_fill(&m, 0x00405020, SMMU_ACC_U, &fault));
    ck_assert(fault);

    /* CR3 switch: A's entry leaves the tables, B's comes; back to A without a walk. */
    paging32(PD_B, 0, true);
    ck_assert_uint_eq(DEV_ENT(SMMU_T_SR, 0x00405000), 0);
    ck_assert_ptr_null(smmu_fill(&m, 0x00406020, SMMU_ACC_U, &fault));
    ck_assert(!fault);
    ck_assert_uint_eq(DEV_ENT(SMMU_T_UR, 0x00406000), dev_add_b);
    ck_assert_uint_eq(DEV_ENT(SMMU_T_SR, 0x00406000), dev_add_b);
    ck_assert_uint_eq(DEV_ENT(SMMU_T_UW, 0x00406000), 0);
    paging32(PD_A, 0, true);
    ck_assert_uint_eq(DEV_ENT(SMMU_T_UR, 0x00406000), 0);
    ck_assert_uint_eq(DEV_ENT(SMMU_T_SR, 0x00405000), dev_add_a);

    /* INVLPG drops it; the next read makes it again. */
    smmu_invlpg(&m, 0x00405000);
    ck_assert_uint_eq(DEV_ENT(SMMU_T_SR, 0x00405000), 0);
    ck_assert_ptr_null(smmu_fill(&m, 0x00405020, 0, &fault));
    ck_assert_uint_eq(DEV_ENT(SMMU_T_SR, 0x00405000), dev_add_a);

    /* Revoked: gone from the tables and from every space (B's does not
     * come back at the switch), and no read makes one. */
    uint64_t drops = m.stats.direct_drops;
    smmu_direct_allow(&m, false);
    ck_assert_uint_eq(m.stats.direct_drops, drops + 1);
    ck_assert_uint_eq(DEV_ENT(SMMU_T_SR, 0x00405000), 0);
    ck_assert_ptr_null(smmu_fill(&m, 0x00405020, 0, &fault));
    ck_assert(m.fill_direct);
    ck_assert_uint_eq(DEV_ENT(SMMU_T_SR, 0x00405000), 0);
    paging32(PD_B, 0, true);
    ck_assert_uint_eq(DEV_ENT(SMMU_T_UR, 0x00406000), 0);
    ck_assert(smmu_translate(&m, 0x00406020, SMMU_ACC_U, &phys));
    ck_assert_uint_eq(phys, DEVP + 0x20);
    ck_assert_int_eq(smmu_read(&m, 0x00406020, &v, 4, SMMU_ACC_U), 0);
    ck_assert_uint_eq(v, 0x1234);
    /* Allowed again: the next read makes the entry. */
    smmu_direct_allow(&m, true);
    ck_assert_uint_eq(DEV_ENT(SMMU_T_UR, 0x00406000), 0);
    ck_assert_ptr_null(smmu_fill(&m, 0x00406020, SMMU_ACC_U, &fault));
    ck_assert_uint_eq(DEV_ENT(SMMU_T_UR, 0x00406000), dev_add_b);

    /* The guest remaps the page to RAM (a traced PTE write): the device
     * entry goes, an ordinary one comes. */
    wr32(pte_addr(PT_B, 0x00406000), DATA | P | W | U);
    smmu_phys_written(&m, pte_addr(PT_B, 0x00406000), 4);
    ck_assert_uint_eq(DEV_ENT(SMMU_T_UR, 0x00406000), 0);
    ck_assert_ptr_eq(smmu_fill(&m, 0x00406000, SMMU_ACC_U, &fault), vm.ram + DATA);
    ck_assert(!m.fill_direct);
    ck_assert_uint_eq(DEV_ENT(SMMU_T_UR, 0x00406000), 0);
    ck_assert_uint_eq(ENT(SMMU_T_UR, 0x00406000), addend(DATA, 0x00406000));

    /* Another page set: the old page's entries are dropped. */
    paging32(PD_A, 0, true);
    ck_assert_uint_eq(DEV_ENT(SMMU_T_SR, 0x00405000), 0); /* dropped by the revocation */
    ck_assert_ptr_null(smmu_fill(&m, 0x00405020, 0, &fault));
    ck_assert_uint_eq(DEV_ENT(SMMU_T_SR, 0x00405000), dev_add_a);
    dp.ppage = (DEVP >> 12) + 1;
    smmu_direct_set(&m, &dp);
    ck_assert_uint_eq(DEV_ENT(SMMU_T_SR, 0x00405000), 0);
    ck_assert_ptr_null(smmu_fill(&m, 0x00405020, 0, &fault));
    ck_assert_uint_eq(DEV_ENT(SMMU_T_SR, 0x00405000), 0); /* not the direct page now */
    /* A page inside RAM is refused. */
    dp.ppage = DATA >> 12;
    smmu_direct_set(&m, &dp);
    ck_assert_uint_eq(m.direct_ppage, ~0ull);
    ck_assert_uint_eq(map[2], 0);
    free(host);
}
END_TEST

/* Paging off: the identity space shadows the device page too. */
START_TEST(direct_page_paging_off)
{
    ck_assert_int_eq(dev_bus_register_mmio(vm.bus, DEVP, 0x1000, "dev", dev_mmio, NULL), 0);
    uint8_t *host = aligned_alloc(4096, 4096);
    memset(host, 0, 4096);
    uint8_t readable[256] = { [2] = 1 };
    struct smmu_direct_page dp = { .ppage = DEVP >> 12, .host = host, .readable = readable };
    smmu_direct_set(&m, &dp);
    smmu_direct_allow(&m, true);
    bool fault;
    ck_assert_ptr_null(smmu_fill(&m, DEVP + 0x20, 0, &fault));
    ck_assert(!fault);
    ck_assert_uint_eq(DEV_ENT(SMMU_T_SR, DEVP), (uint64_t)(uintptr_t)host - DEVP);
    ck_assert_uint_eq(DEV_ENT(SMMU_T_UR, DEVP), (uint64_t)(uintptr_t)host - DEVP);
    ck_assert(all_zero(DEVP));
    smmu_flush(&m);
    ck_assert_uint_eq(DEV_ENT(SMMU_T_SR, DEVP), 0);
    free(host);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("smmu");
    TCase *t = tcase_create("smmu");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, walk32_4k_ad_bits);
    tcase_add_test(t, walk32_not_present);
    tcase_add_test(t, walk32_user_supervisor);
    tcase_add_test(t, walk32_read_only_and_wp);
    tcase_add_test(t, pse_4m_pages);
    tcase_add_test(t, pse_reserved_bits);
    tcase_add_test(t, pse_off_ignores_ps);
    tcase_add_test(t, pae_pdpte_loading);
    tcase_add_test(t, pae_cr3_reload_new_pdptes_drops_entries);
    tcase_add_test(t, pae_4k_and_2m);
    tcase_add_test(t, pae_nx);
    tcase_add_test(t, pae_nx_without_nxe_is_reserved);
    tcase_add_test(t, fill_read_then_write);
    tcase_add_test(t, exec_page_32);
    tcase_add_test(t, invlpg_drops_one_page);
    tcase_add_test(t, trace_pte_write);
    tcase_add_test(t, trace_drops_alias_write_entry);
    tcase_add_test(t, trace_pde_write);
    tcase_add_test(t, trace_pde_write_4m_page);
    tcase_add_test(t, stale_table_record_dropped);
    tcase_add_test(t, trace_pae_entries);
    tcase_add_test(t, prefill_after_demand_fault);
    tcase_add_test(t, prefill_only_when_nothing_to_set);
    tcase_add_test(t, prefill_pae_low_half_last);
    tcase_add_test(t, code_pages_aliases_and_hook);
    tcase_add_test(t, code_page_inactive_space);
    tcase_add_test(t, as_cache_switch_and_restore);
    tcase_add_test(t, as_cache_switch_many_entries);
    tcase_add_test(t, as_cache_pte_write_while_inactive);
    tcase_add_test(t, as_cache_dropped_after_foreign_writes);
    tcase_add_test(t, as_cache_own_writes_not_foreign);
    tcase_add_test(t, as_cache_alias_written_before_traced);
    tcase_add_test(t, as_cache_lru);
    tcase_add_test(t, mode_change_drops_all);
    tcase_add_test(t, cross_page_write_fault);
    tcase_add_test(t, paging_off_identity);
    tcase_add_loop_test(t, random_coherence, 0, 4);
    tcase_add_test(t, audit_host_windows);
    tcase_add_test(t, global_pages_survive_cr3_loads);
    tcase_add_test(t, rmap_refill_does_not_leak);
    tcase_add_test(t, trace_write_protect_downgrades);
    tcase_add_test(t, traced_narrow_writes_seen_exactly);
    tcase_add_test(t, direct_page_read_write_revoke);
    tcase_add_test(t, direct_page_paging_off);
    tcase_set_timeout(t, 120);
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
