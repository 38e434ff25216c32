/*
 * tests/unit/bt_harness.h — runs raw 32-bit guest code through the real BT
 * engine without a kernel: a hand-built struct vm (4 MiB of anonymous shared
 * RAM, an empty bus), the engine initialized on it, the CPU reset to flat
 * 32-bit protected mode (paging off, CPL 0). Tests place code, set registers
 * and run until HLT. Shared by the tests/unit/test_bt*.c suites.
 */
#ifndef BTVM_TESTS_BT_HARNESS_H
#define BTVM_TESTS_BT_HARNESS_H

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "bt/bt.h"
#include "cpu/cpu.h"
#include "devices/bus.h"
#include "vm/ram.h"
#include "vm/vm.h"

#define BTH_RAM      (4u << 20)
#define BTH_CODE     0x10000u  /* where bth_code() places guest code */
#define BTH_STACK    0x80000u  /* initial ESP */
#define BTH_GDT      0x800u    /* null, 0x08 flat code, 0x10 flat data */
#define BTH_IDT      0x1000u

struct bth {
    struct vm vm;
    struct cpu *c;
    struct bt *bt;
    struct vm_exit ex;
};

static inline void bth_gdt_entry(uint8_t *p, uint32_t type)
{
    /* base 0, limit 0xFFFFF, G=1, D=1, P=1, S=1, DPL 0 */
    uint32_t lo = 0x0000FFFF, hi = 0x00CF0000 | 0x8000 | 0x1000 | (type << 8);
    memcpy(p, &lo, 4);
    memcpy(p + 4, &hi, 4);
}

/* Build the machine; cache_size 0 means 1 MiB. memfd: guest RAM as btvm
 * makes it (vm_ram_create), which user windows need. */
static inline void bth_init_with(struct bth *h, size_t cache_size, bool memfd)
{
    memset(h, 0, sizeof(*h));
    if (memfd) {
        char err[160];
        ck_assert_int_eq(vm_ram_create(&h->vm, BTH_RAM, err, sizeof(err)), 0);
    } else {
        h->vm.ram_fd = -1;
        h->vm.ram = mmap(NULL, BTH_RAM, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        ck_assert_ptr_ne(h->vm.ram, MAP_FAILED);
        h->vm.ram_size = BTH_RAM;
    }
    h->vm.bus = dev_bus_new();
    ck_assert_ptr_nonnull(h->vm.bus);
    h->vm.opt.code_cache_size = cache_size ? cache_size : (1u << 20);
    h->vm.engine = &bt_engine_ops;
    ck_assert_int_eq(bt_engine_ops.init(&h->vm), 0);
    h->c = h->vm.cpu;
    h->bt = h->vm.engine_priv;
    ck_assert_ptr_nonnull(h->c);
    vm_cpu_env_attach(&h->vm, h->c); /* as vm/machine.c does after init */
    ck_assert_ptr_nonnull(h->bt);
    cpu_reset_flat32(h->c);
    h->c->gdtr.base = BTH_GDT;
    h->c->gdtr.limit = 3 * 8 - 1;
    bth_gdt_entry(h->vm.ram + BTH_GDT + 8, 0xB);
    bth_gdt_entry(h->vm.ram + BTH_GDT + 16, 0x3);
    h->c->idtr.base = BTH_IDT;
    h->c->idtr.limit = 32 * 8 - 1;
    h->c->eip = BTH_CODE;
    h->c->regs[CPU_ESP] = BTH_STACK;
}

static inline void bth_init(struct bth *h, size_t cache_size)
{
    bth_init_with(h, cache_size, false);
}

static inline void bth_destroy(struct bth *h)
{
    bt_engine_ops.destroy(&h->vm);
    dev_bus_free(h->vm.bus);
    if (h->vm.ram_fd >= 0)
        vm_ram_destroy(&h->vm);
    else
        munmap(h->vm.ram, BTH_RAM);
}

static inline void bth_put(struct bth *h, uint32_t gpa, const void *src, size_t n)
{
    ck_assert_uint_le(gpa + n, BTH_RAM);
    memcpy(h->vm.ram + gpa, src, n);
}

static inline uint32_t bth_rd32(struct bth *h, uint32_t gpa)
{
    uint32_t v;
    memcpy(&v, h->vm.ram + gpa, 4);
    return v;
}

static inline void bth_wr32(struct bth *h, uint32_t gpa, uint32_t v)
{
    memcpy(h->vm.ram + gpa, &v, 4);
}

/* A 32-bit interrupt gate for vector vec → handler (selector 0x08). */
static inline void bth_gate(struct bth *h, int vec, uint32_t handler)
{
    uint32_t lo = (0x08u << 16) | (handler & 0xFFFF);
    uint32_t hi = (handler & 0xFFFF0000u) | 0x8E00u; /* P, DPL 0, 32-bit interrupt gate */
    bth_wr32(h, BTH_IDT + 8 * vec, lo);
    bth_wr32(h, BTH_IDT + 8 * vec + 4, hi);
}

/* For code run at CPL > 0: a busy 32-bit TSS at tss (selector 0x28) whose
 * ring-0 stack is 0x10:esp0, and a #GP handler at handler that halts. HLT
 * at CPL > 0 raises #GP(0), so that is how such a test ends; the frame on
 * the ring-0 stack says where and with what EFLAGS. */
static inline void bth_outer_ring(struct bth *h, uint32_t tss, uint32_t esp0, uint32_t handler)
{
    bth_wr32(h, tss + 4, esp0);
    bth_wr32(h, tss + 8, 0x10);
    h->c->tr.sel = 0x28;
    h->c->tr.base = tss;
    h->c->tr.limit = 0x67;
    h->c->tr.flags = 0x8B; /* present, busy 32-bit TSS */
    bth_gate(h, CPU_VEC_GP, handler);
    h->vm.ram[handler] = 0xF4; /* hlt */
}

/* Run from cpu->eip until the engine returns; returns the exit kind. */
static inline enum vm_exit_kind bth_run(struct bth *h)
{
    bt_engine_ops.run(&h->vm, &h->ex);
    return h->ex.kind;
}

/* Run and insist on HLT (a message on anything else). */
static inline void bth_run_hlt(struct bth *h)
{
    enum vm_exit_kind k = bth_run(h);
    ck_assert_msg(k == VM_EXIT_HLT, "exit kind %d at %08x: %s", (int)k, h->ex.eip, h->ex.msg);
}

#define BTH_BYTES(...) (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ })

#endif
