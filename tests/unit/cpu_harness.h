/*
 * tests/unit/cpu_harness.h — a struct cpu on 1 MiB of RAM with a bus and a
 * shadow MMU, for unit tests that run cpu/ callouts directly on decoded
 * instructions (no translator). Shared by test_cpu_string.c and
 * test_cpu_sys.c; each test file is its own program, so static state is fine.
 */
#ifndef BTVM_TESTS_CPU_HARNESS_H
#define BTVM_TESTS_CPU_HARNESS_H

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/callout.h"
#include "devices/bus.h"
#include "shadowmmu/smmu.h"
#include "vm/vm.h"

#define RAM (1u << 20)

static struct vm vm;
static struct cpu *c;
static struct smmu mmu;
static uint64_t *tables;
static struct dec_insn insn;

static void setup(void)
{
    memset(&vm, 0, sizeof(vm));
    vm.ram_size = RAM;
    vm.ram = calloc(1, RAM);
    vm.bus = dev_bus_new();
    c = calloc(1, sizeof(*c));
    memset(c, 0, sizeof(*c));
    cpu_reset_flat32(c);
    vm.cpu = c;
    vm_cpu_env_attach(&vm, c);
    tables = calloc(1, SMMU_TLB_SIZE);
    struct smmu_cpu_view view;
    cpu_smmu_view(c, &view);
    ck_assert_int_eq(smmu_init(&mmu, vm.ram, vm.ram_size, vm.bus, &view, tables, NULL), 0);
    c->mmu = &mmu;
    c->regs[CPU_ESP] = 0x9000;
}

static void teardown(void)
{
    smmu_destroy(&mmu);
    free(tables);
    free(c);
    dev_bus_free(vm.bus);
    free(vm.ram);
}

/* Decode bytes at eip and run the instruction's callout. */
static int run_at(uint32_t eip, const uint8_t *b, size_t n)
{
    ck_assert_int_eq(dec_decode(DEC_MODE_32, eip, b, n, &insn), 0);
    cpu_callout_fn fn = cpu_callout_for(&insn);
    ck_assert_ptr_nonnull(fn);
    c->eip = insn.eip;
    return fn(c, &insn);
}
#define BYTES(...) (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ })
#define RUN(...) run_at(0x1000, BYTES(__VA_ARGS__))

#endif
