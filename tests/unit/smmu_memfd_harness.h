/*
 * tests/unit/smmu_memfd_harness.h — a shadow MMU over guest RAM that is a
 * real memfd (vm_ram_create), for the tests of what maps that memfd again
 * (user windows: test_smmu_window.c; the kernel view: test_smmu_kview.c).
 * The including file defines RAM (bytes) first; each test file is its own
 * program, so static state is fine.
 */
#ifndef BTVM_TESTS_SMMU_MEMFD_HARNESS_H
#define BTVM_TESTS_SMMU_MEMFD_HARNESS_H

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"
#include "devices/bus.h"
#include "shadowmmu/smmu.h"
#include "vm/ram.h"
#include "vm/vm.h"

/* 32-bit paging-structure bits (SDM vol. 3, 4.3). */
#define P  0x1u
#define W  0x2u
#define U  0x4u
#define A  0x20u
#define D  0x40u
#define PS 0x80u

static struct vm vm;
static struct cpu *c;
static struct smmu m;
static uint64_t *tables;

static void harness_setup(void)
{
    char err[160];
    memset(&vm, 0, sizeof(vm));
    ck_assert_int_eq(vm_ram_create(&vm, RAM, err, sizeof(err)), 0);
    vm.bus = dev_bus_new();
    c = calloc(1, sizeof(*c));
    tables = calloc(1, SMMU_TLB_SIZE);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_nonnull(tables);
    vm.cpu = c;
    struct smmu_cpu_view view;
    cpu_smmu_view(c, &view);
    ck_assert_int_eq(smmu_init(&m, vm.ram, vm.ram_size, vm.bus, &view, tables, NULL), 0);
    c->mmu = &m;
}

static void harness_teardown(void)
{
    smmu_destroy(&m);
    free(tables);
    free(c);
    dev_bus_free(vm.bus);
    vm_ram_destroy(&vm);
}

static void wr32(uint32_t a, uint32_t v) { memcpy(vm.ram + a, &v, 4); }
/* Where lin's 32-bit directory and table entries are. */
static uint32_t pde_at(uint32_t pd, uint32_t lin) { return pd + (lin >> 22) * 4; }
static uint32_t pte_at(uint32_t pt, uint32_t lin) { return pt + ((lin >> 12) & 0x3FF) * 4; }

#endif
