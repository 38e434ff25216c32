/*
 * tests/unit/test_cpu_sys.c — system-instruction callouts and exception
 * delivery: CPUID, PUSHF/POPF images, CLI/STI and IOPL, HLT, IN/OUT,
 * LGDT/SGDT, MOV CR0, #UD, delivery through an IDT built in guest RAM
 * (frame, CS:EIP, IF), INT n / IRET, #DF and triple fault, segment loads
 * and far JMP, BCD adjusts against the SDM pseudocode, PUSHA/POPA.
 */
#include "tests/unit/cpu_harness.h"
#include "cpu/internal.h"

#define GDT 0x800
#define IDT 0x1000

static uint32_t rd32(uint32_t a) { uint32_t v; memcpy(&v, vm.ram + a, 4); return v; }
static void wr32(uint32_t a, uint32_t v) { memcpy(vm.ram + a, &v, 4); }
static void wr64(uint32_t a, uint64_t v) { memcpy(vm.ram + a, &v, 8); }

/* GDT: null, 0x08 flat code DPL0, 0x10 flat data DPL0, 0x18 code DPL3,
 * 0x20 data DPL3, 0x28 not-present data. */
static void build_gdt(void)
{
    wr64(GDT + 0x00, 0);
    wr64(GDT + 0x08, 0x00CF9A000000FFFFull);
    wr64(GDT + 0x10, 0x00CF92000000FFFFull);
    wr64(GDT + 0x18, 0x00CFFA000000FFFFull);
    wr64(GDT + 0x20, 0x00CFF2000000FFFFull);
    wr64(GDT + 0x28, 0x00CF12000000FFFFull);
    c->gdtr.base = GDT;
    c->gdtr.limit = 0x2F;
    c->idtr.base = IDT;
    c->idtr.limit = 0x7FF;
}

/* type 0xE interrupt gate, 0xF trap gate; present unless p = 0. */
static void set_gate(int vec, uint32_t off, uint16_t sel, unsigned type, unsigned dpl, int p)
{
    uint32_t lo = (off & 0xFFFF) | ((uint32_t)sel << 16);
    uint32_t hi = (off & 0xFFFF0000u) | ((uint32_t)p << 15) | (dpl << 13) | (type << 8);
    wr32(IDT + vec * 8, lo);
    wr32(IDT + vec * 8 + 4, hi);
}

START_TEST(cpuid_leaf0)
{
    c->regs[CPU_EAX] = 0;
    ck_assert_int_eq(RUN(0x0F, 0xA2), CPU_CO_CONTINUE);
    ck_assert_uint_eq(c->regs[CPU_EBX], 0x756e6547); /* "Genu" */
    ck_assert_uint_eq(c->regs[CPU_EDX], 0x49656e69); /* "ineI" */
    ck_assert_uint_eq(c->regs[CPU_ECX], 0x6c65746e); /* "ntel" */
}
END_TEST

/* CPUID.7.EDX[29] and IA32_ARCH_CAPABILITIES (0x10A) follow the host's
 * "Not affected" verdicts (cpu/hostvuln.c): both present or both absent. */
START_TEST(arch_capabilities_msr)
{
    uint64_t caps = cpu_host_arch_caps();
    c->regs[CPU_EAX] = 7;
    c->regs[CPU_ECX] = 0;
    ck_assert_int_eq(RUN(0x0F, 0xA2), CPU_CO_CONTINUE);
    ck_assert_uint_eq((c->regs[CPU_EDX] >> 29) & 1, caps != 0);
    c->regs[CPU_ECX] = 0x10A;
    c->regs[CPU_EAX] = c->regs[CPU_EDX] = 0xDEAD;
    int r = RUN(0x0F, 0x32);
    if (caps) {
        ck_assert_int_eq(r, CPU_CO_CONTINUE);
        ck_assert_uint_eq(((uint64_t)c->regs[CPU_EDX] << 32) | c->regs[CPU_EAX], caps);
        /* Never a bit the model does not derive: only "not affected" bits. */
        ck_assert_uint_eq(caps & ~0x400000000C00E171ull, 0);
    } else {
        ck_assert_int_eq(c->pending_vector, CPU_VEC_GP);
    }
}
END_TEST

START_TEST(pushf_popf_images)
{
    c->eflags = CPU_FL_FIX1 | CPU_FL_IF | CPU_FL_CF | CPU_FL_RF;
    ck_assert_int_eq(RUN(0x9C), CPU_CO_CONTINUE);
    ck_assert_uint_eq(c->regs[CPU_ESP], 0x9000 - 4);
    ck_assert_uint_eq(rd32(0x9000 - 4), CPU_FL_FIX1 | CPU_FL_IF | CPU_FL_CF); /* RF clear */
    ck_assert_int_eq(RUN(0x66, 0x9C), CPU_CO_CONTINUE);
    ck_assert_uint_eq(c->regs[CPU_ESP], 0x9000 - 6);
    /* POPF at CPL 0: IOPL and IF change; VM, reserved bits and RF do not. */
    c->regs[CPU_ESP] = 0x8000;
    wr32(0x8000, CPU_FL_IOPL | CPU_FL_VM | 0x8028 | CPU_FL_ZF | CPU_FL_DF);
    ck_assert_int_eq(RUN(0x9D), CPU_CO_CONTINUE);
    ck_assert_uint_eq(c->eflags, CPU_FL_FIX1 | CPU_FL_IOPL | CPU_FL_ZF | CPU_FL_DF);
    ck_assert_uint_eq(c->regs[CPU_ESP], 0x8004);
    /* At CPL 3 with IOPL 0: IF and IOPL are silently kept. */
    c->cpl = 3;
    c->eflags = CPU_FL_FIX1 | CPU_FL_IF;
    c->regs[CPU_ESP] = 0x8000;
    wr32(0x8000, CPU_FL_IOPL | CPU_FL_CF);
    ck_assert_int_eq(RUN(0x9D), CPU_CO_CONTINUE);
    ck_assert_uint_eq(c->eflags, CPU_FL_FIX1 | CPU_FL_IF | CPU_FL_CF);
}
END_TEST

START_TEST(cli_sti_iopl)
{
    c->eflags = CPU_FL_FIX1 | CPU_FL_IF;
    ck_assert_int_eq(RUN(0xFA), CPU_CO_CONTINUE);
    ck_assert(!(c->eflags & CPU_FL_IF));
    ck_assert_int_eq(RUN(0xFB), CPU_CO_CONTINUE);
    ck_assert(c->eflags & CPU_FL_IF);
    c->cpl = 3;
    ck_assert_int_eq(RUN(0xFA), CPU_CO_EXIT);
    ck_assert_int_eq(c->pending_vector, CPU_VEC_GP);
    ck_assert(c->pending_has_error);
    ck_assert_uint_eq(c->pending_error, 0);
    ck_assert_uint_eq(c->eip, 0x1000);
    ck_assert(c->eflags & CPU_FL_IF);
    c->pending_vector = -1;
    c->eflags |= CPU_FL_IOPL;
    ck_assert_int_eq(RUN(0xFA), CPU_CO_CONTINUE);
}
END_TEST

START_TEST(hlt_sets_halted)
{
    ck_assert_int_eq(RUN(0xF4), CPU_CO_EXIT);
    ck_assert(c->halted);
    ck_assert_uint_eq(c->eip, 0x1001);
}
END_TEST

static uint32_t port_last;
static void port_io(void *opaque, uint64_t off, unsigned size, bool is_write, uint64_t *data)
{
    (void)opaque; (void)off; (void)size;
    if (is_write)
        port_last = (uint32_t)*data;
    else
        *data = 0x5A;
}

START_TEST(in_out)
{
    ck_assert_int_eq(dev_bus_register_pio(vm.bus, 0x80, 1, "t", port_io, NULL), 0);
    c->regs[CPU_EAX] = 0x1234;
    ck_assert_int_eq(RUN(0xE6, 0x80), CPU_CO_CONTINUE);           /* out 0x80, al */
    ck_assert_uint_eq(port_last, 0x34);
    ck_assert_int_eq(RUN(0xE4, 0x80), CPU_CO_CONTINUE);           /* in al, 0x80 */
    ck_assert_uint_eq(c->regs[CPU_EAX], 0x125A);
    c->regs[CPU_EDX] = 0x300;
    ck_assert_int_eq(RUN(0xED), CPU_CO_CONTINUE);                 /* in eax, dx */
    ck_assert_uint_eq(c->regs[CPU_EAX], 0xFFFFFFFF);
    /* CPL 3 > IOPL 0 without a TSS: #GP(0). */
    c->cpl = 3;
    ck_assert_int_eq(RUN(0xE6, 0x80), CPU_CO_EXIT);
    ck_assert_int_eq(c->pending_vector, CPU_VEC_GP);
}
END_TEST

START_TEST(lgdt_sgdt_roundtrip)
{
    wr32(0x500, 0x56780027); wr32(0x504, 0x1234);        /* limit 0x27, base 0x12345678 */
    ck_assert_int_eq(RUN(0x0F, 0x01, 0x15, 0x00, 0x05, 0, 0), CPU_CO_CONTINUE); /* lgdt [0x500] */
    ck_assert_uint_eq(c->gdtr.limit, 0x27);
    ck_assert_uint_eq(c->gdtr.base, 0x12345678);
    ck_assert_int_eq(RUN(0x0F, 0x01, 0x05, 0x00, 0x06, 0, 0), CPU_CO_CONTINUE); /* sgdt [0x600] */
    ck_assert_mem_eq(vm.ram + 0x600, vm.ram + 0x500, 6);
    /* 16-bit operand size keeps 24 bits of base. */
    ck_assert_int_eq(RUN(0x66, 0x0F, 0x01, 0x1D, 0x00, 0x05, 0, 0), CPU_CO_CONTINUE); /* lidtw */
    ck_assert_uint_eq(c->idtr.base, 0x345678);
    /* At CPL 3: #GP(0). */
    c->cpl = 3;
    ck_assert_int_eq(RUN(0x0F, 0x01, 0x15, 0x00, 0x05, 0, 0), CPU_CO_EXIT);
    ck_assert_int_eq(c->pending_vector, CPU_VEC_GP);
}
END_TEST

START_TEST(mov_cr0)
{
    c->regs[CPU_EAX] = CPU_CR0_PE | CPU_CR0_PG | CPU_CR0_WP;
    ck_assert_int_eq(RUN(0x0F, 0x22, 0xC0), CPU_CO_EXIT);         /* mov cr0, eax */
    ck_assert_uint_eq(c->eip, 0x1003);
    ck_assert_uint_eq(c->cr0, CPU_CR0_PE | CPU_CR0_PG | CPU_CR0_WP | CPU_CR0_ET);
    ck_assert_int_eq(RUN(0x0F, 0x20, 0xC3), CPU_CO_CONTINUE);     /* mov ebx, cr0 */
    ck_assert_uint_eq(c->regs[CPU_EBX], c->cr0);
    c->regs[CPU_EAX] = CPU_CR0_PG;                                /* PG without PE */
    ck_assert_int_eq(RUN(0x0F, 0x22, 0xC0), CPU_CO_EXIT);
    ck_assert_int_eq(c->pending_vector, CPU_VEC_GP);
    ck_assert_uint_eq(c->eip, 0x1000);
}
END_TEST

START_TEST(undefined_is_ud)
{
    ck_assert_int_eq(RUN(0x0F, 0x0B), CPU_CO_EXIT);               /* ud2 */
    ck_assert_int_eq(c->pending_vector, CPU_VEC_UD);
    ck_assert(!c->pending_has_error);
    c->pending_vector = -1;
    struct dec_insn u;
    dec_decode(DEC_MODE_32, 0x2000, (const uint8_t[]){ 0x0F, 0x04, 0, 0 }, 4, &u);
    ck_assert(u.cls & DEC_UNDEFINED);
    cpu_callout_fn fn = cpu_callout_for(&u);
    ck_assert_ptr_nonnull(fn);
    ck_assert_int_eq(fn(c, &u), CPU_CO_EXIT);
    ck_assert_int_eq(c->pending_vector, CPU_VEC_UD);
    ck_assert_uint_eq(c->eip, 0x2000);
}
END_TEST

START_TEST(exception_through_idt)
{
    build_gdt();
    set_gate(CPU_VEC_GP, 0x3000, 0x08, 0xE, 0, 1);
    c->eflags = CPU_FL_FIX1 | CPU_FL_IF | CPU_FL_TF;
    c->eip = 0x4000;
    cpu_raise(c, CPU_VEC_GP, true, 0x1234);
    ck_assert_int_eq(cpu_deliver_pending(c), CPU_DELIVERED);
    ck_assert_int_eq(c->pending_vector, -1);
    ck_assert_uint_eq(c->eip, 0x3000);
    ck_assert_uint_eq(c->segs[CPU_CS].sel, 0x08);
    ck_assert_uint_eq(c->regs[CPU_ESP], 0x9000 - 16);
    ck_assert_uint_eq(rd32(0x9000 - 16), 0x1234);                 /* error code */
    ck_assert_uint_eq(rd32(0x9000 - 12), 0x4000);                 /* EIP */
    ck_assert_uint_eq(rd32(0x9000 - 8) & 0xFFFF, 0x08);           /* CS */
    ck_assert_uint_eq(rd32(0x9000 - 4), CPU_FL_FIX1 | CPU_FL_IF | CPU_FL_TF);
    ck_assert(!(c->eflags & (CPU_FL_IF | CPU_FL_TF)));
}
END_TEST

/* cpu/deliver_fast.c declines while the general path has work it does not
 * do (here: setting the descriptor's accessed bit), then produces exactly
 * what the general path did. */
START_TEST(fast_delivery_same_as_general)
{
    build_gdt();
    set_gate(0x41, 0x3000, 0x08, 0xE, 0, 1);
    set_gate(CPU_VEC_GP, 0x3400, 0x08, 0xF, 0, 1);
    c->eflags = CPU_FL_FIX1 | CPU_FL_IF | CPU_FL_TF;
    c->eip = 0x4000;
    struct cpu *before = malloc(sizeof(*c));
    memcpy(before, c, sizeof(*c));
    ck_assert(!cpu_deliver_fast(c, 0x41, false, 0, false, 0x4000));   /* GDT: accessed clear */
    ck_assert_uint_eq(c->eip, 0x4000);
    ck_assert_uint_eq(c->regs[CPU_ESP], 0x9000);
    ck_assert_int_eq(cpu_interrupt(c, 0x41), CPU_DELIVERED);          /* the general path */
    ck_assert_uint_eq(vm.ram[GDT + 0x08 + 5], 0x9B);                  /* accessed set */
    struct cpu_segment cs = c->segs[CPU_CS];
    uint32_t eip = c->eip, esp = c->regs[CPU_ESP], fl = c->eflags;
    uint8_t frame[12];
    memcpy(frame, vm.ram + 0x9000 - 12, 12);
    memset(vm.ram + 0x9000 - 12, 0, 12);
    memcpy(c, before, sizeof(*c));
    ck_assert(cpu_deliver_fast(c, 0x41, false, 0, false, 0x4000));
    ck_assert_uint_eq(c->eip, eip);
    ck_assert_uint_eq(c->eip, 0x3000);
    ck_assert_uint_eq(c->regs[CPU_ESP], esp);
    ck_assert_uint_eq(c->eflags, fl);
    ck_assert(!(c->eflags & (CPU_FL_IF | CPU_FL_TF)));
    ck_assert_uint_eq(c->segs[CPU_CS].sel, cs.sel);
    ck_assert_uint_eq(c->segs[CPU_CS].flags, cs.flags);
    ck_assert_mem_eq(vm.ram + 0x9000 - 12, frame, 12);
    /* With an error code, through a trap gate (IF kept). */
    memcpy(c, before, sizeof(*c));
    ck_assert(cpu_deliver_fast(c, CPU_VEC_GP, true, 0x1234, false, 0x4000));
    ck_assert_uint_eq(c->eip, 0x3400);
    ck_assert_uint_eq(c->regs[CPU_ESP], 0x9000 - 16);
    ck_assert_uint_eq(rd32(0x9000 - 16), 0x1234);
    ck_assert_uint_eq(rd32(0x9000 - 12), 0x4000);
    ck_assert_uint_eq(rd32(0x9000 - 8), 0x08);
    ck_assert_uint_eq(rd32(0x9000 - 4), CPU_FL_FIX1 | CPU_FL_IF | CPU_FL_TF);
    ck_assert(c->eflags & CPU_FL_IF);
    /* Declined, nothing changed: a 16-bit gate, the accessed bit clear in
     * the GDT (the general path must write it), CPL 3, another selector. */
    memcpy(c, before, sizeof(*c));
    set_gate(0x42, 0x3000, 0x08, 0x6, 0, 1);
    ck_assert(!cpu_deliver_fast(c, 0x42, false, 0, false, 0x4000));
    vm.ram[GDT + 0x08 + 5] = 0x9A;
    ck_assert(!cpu_deliver_fast(c, 0x41, false, 0, false, 0x4000));
    vm.ram[GDT + 0x08 + 5] = 0x9B;
    c->cpl = 3;
    ck_assert(!cpu_deliver_fast(c, 0x41, false, 0, false, 0x4000));
    c->cpl = 0;
    set_gate(0x43, 0x3000, 0x18, 0xE, 0, 1);
    ck_assert(!cpu_deliver_fast(c, 0x43, false, 0, false, 0x4000));
    ck_assert_uint_eq(c->eip, 0x4000);
    ck_assert_uint_eq(c->regs[CPU_ESP], 0x9000);
    free(before);
}
END_TEST

START_TEST(int_iret_roundtrip)
{
    build_gdt();
    set_gate(0x80, 0x3100, 0x08, 0xF, 3, 1);                      /* trap gate */
    c->eflags = CPU_FL_FIX1 | CPU_FL_IF | CPU_FL_CF;
    ck_assert_int_eq(run_at(0x5000, BYTES(0xCD, 0x80)), CPU_CO_EXIT);
    ck_assert_int_eq(c->pending_vector, -1);
    ck_assert_uint_eq(c->eip, 0x3100);
    ck_assert(c->eflags & CPU_FL_IF);                             /* trap gate keeps IF */
    ck_assert_uint_eq(rd32(0x9000 - 12), 0x5002);
    c->eflags &= ~CPU_FL_CF;
    ck_assert_int_eq(run_at(0x3100, BYTES(0xCF)), CPU_CO_EXIT);   /* iretd */
    ck_assert_uint_eq(c->eip, 0x5002);
    ck_assert_uint_eq(c->regs[CPU_ESP], 0x9000);
    ck_assert_uint_eq(c->eflags, CPU_FL_FIX1 | CPU_FL_IF | CPU_FL_CF);
    ck_assert_uint_eq(c->segs[CPU_CS].sel, 0x08);
    /* Gate DPL 0 from CPL 3: #GP(vector*8+2). */
    set_gate(0x81, 0x3100, 0x08, 0xF, 0, 1);
    c->cpl = 3;
    ck_assert_int_eq(run_at(0x5000, BYTES(0xCD, 0x81)), CPU_CO_EXIT);
    ck_assert_int_eq(c->pending_vector, CPU_VEC_GP);
    ck_assert_uint_eq(c->pending_error, 0x81 * 8 + 2);
    ck_assert_uint_eq(c->eip, 0x5000);
}
END_TEST

START_TEST(int_from_user_switches_stack)
{
    build_gdt();
    /* 32-bit TSS at 0x2000 (GDT slot 0x30): SS0:ESP0 = 0x10:0x7000. */
    wr64(GDT + 0x30, 0x0000890020000067ull);
    c->gdtr.limit = 0x37;
    wr32(0x2000 + 4, 0x7000);
    wr32(0x2000 + 8, 0x10);
    c->regs[CPU_EAX] = 0x30;
    ck_assert_int_eq(RUN(0x0F, 0x00, 0xD8), CPU_CO_CONTINUE);     /* ltr ax */
    ck_assert_uint_eq(c->tr.base, 0x2000);
    ck_assert_uint_eq(vm.ram[GDT + 0x30 + 5], 0x8B);              /* marked busy */
    set_gate(0x80, 0x3100, 0x08, 0xE, 3, 1);
    /* Drop to CPL 3: CS 0x1B, SS 0x23, ESP 0x8000. */
    c->segs[CPU_CS].sel = 0x1B; c->segs[CPU_CS].flags = 0xCFFB;
    c->segs[CPU_SS].sel = 0x23; c->segs[CPU_SS].flags = 0xCFF3;
    c->cpl = 3;
    c->regs[CPU_ESP] = 0x8000;
    c->eflags = CPU_FL_FIX1 | CPU_FL_IF;
    ck_assert_int_eq(run_at(0x5000, BYTES(0xCD, 0x80)), CPU_CO_EXIT);
    ck_assert_int_eq(c->pending_vector, -1);
    ck_assert_uint_eq(c->cpl, 0);
    ck_assert_uint_eq(c->eip, 0x3100);
    ck_assert_uint_eq(c->segs[CPU_SS].sel, 0x10);
    ck_assert_uint_eq(c->regs[CPU_ESP], 0x7000 - 20);
    ck_assert_uint_eq(rd32(0x7000 - 20), 0x5002);                 /* EIP */
    ck_assert_uint_eq(rd32(0x7000 - 16), 0x1B);                   /* CS */
    ck_assert_uint_eq(rd32(0x7000 - 12), CPU_FL_FIX1 | CPU_FL_IF);/* EFLAGS */
    ck_assert_uint_eq(rd32(0x7000 - 8), 0x8000);                  /* old ESP */
    ck_assert_uint_eq(rd32(0x7000 - 4), 0x23);                    /* old SS */
    ck_assert(!(c->eflags & CPU_FL_IF));
    /* IRET back to CPL 3 restores SS:ESP. */
    ck_assert_int_eq(run_at(0x3100, BYTES(0xCF)), CPU_CO_EXIT);
    ck_assert_int_eq(c->pending_vector, -1);
    ck_assert_uint_eq(c->cpl, 3);
    ck_assert_uint_eq(c->eip, 0x5002);
    ck_assert_uint_eq(c->segs[CPU_CS].sel, 0x1B);
    ck_assert_uint_eq(c->segs[CPU_SS].sel, 0x23);
    ck_assert_uint_eq(c->regs[CPU_ESP], 0x8000);
    ck_assert(c->eflags & CPU_FL_IF);
}
END_TEST

/* The ring 3 -> 0 fast delivery (cpu/deliver_fast.c, deliver_outer) leaves
 * exactly what the general path leaves, and declines where it must. */
START_TEST(fast_outer_delivery_same_as_general)
{
    build_gdt();
    wr64(GDT + 0x30, 0x0000890020000067ull);                      /* TSS at 0x2000 */
    c->gdtr.limit = 0x37;
    wr32(0x2000 + 4, 0x7000);
    wr32(0x2000 + 8, 0x10);
    c->regs[CPU_EAX] = 0x30;
    ck_assert_int_eq(RUN(0x0F, 0x00, 0xD8), CPU_CO_CONTINUE);     /* ltr ax */
    set_gate(0x80, 0x3100, 0x08, 0xE, 3, 1);
    set_gate(CPU_VEC_PF, 0x3200, 0x08, 0xF, 0, 1);
    c->segs[CPU_CS].sel = 0x1B; c->segs[CPU_CS].flags = 0xCFFB;
    c->segs[CPU_SS].sel = 0x23; c->segs[CPU_SS].flags = 0xCFF3;
    c->cpl = 3;
    c->regs[CPU_ESP] = 0x8000;
    c->eflags = CPU_FL_FIX1 | CPU_FL_IF | CPU_FL_TF;
    struct cpu *before = malloc(sizeof(*c));
    memcpy(before, c, sizeof(*c));
    /* Accessed bits clear: the general path must write them. */
    ck_assert(!cpu_deliver_fast(c, 0x80, false, 0, true, 0x5002));
    ck_assert_uint_eq(c->cpl, 3);
    ck_assert_int_eq(cpu_deliver(c, 0x80, false, 0, true, 0x5002), 0);
    struct cpu *gen = malloc(sizeof(*c));
    memcpy(gen, c, sizeof(*c));
    uint8_t frame[24];
    memcpy(frame, vm.ram + 0x7000 - 24, 24);
    memset(vm.ram + 0x7000 - 24, 0, 24);
    memcpy(c, before, sizeof(*c));
    ck_assert(cpu_deliver_fast(c, 0x80, false, 0, true, 0x5002));
    ck_assert_uint_eq(c->cpl, 0);
    ck_assert_uint_eq(c->eip, 0x3100);
    ck_assert_uint_eq(c->eip, gen->eip);
    ck_assert_uint_eq(c->regs[CPU_ESP], gen->regs[CPU_ESP]);
    ck_assert_uint_eq(c->regs[CPU_ESP], 0x7000 - 20);
    ck_assert_uint_eq(c->eflags, gen->eflags);
    for (int i = 0; i < CPU_NSEG; i++) {
        ck_assert_uint_eq(c->segs[i].sel, gen->segs[i].sel);
        ck_assert_uint_eq(c->segs[i].base, gen->segs[i].base);
        ck_assert_uint_eq(c->segs[i].limit, gen->segs[i].limit);
        ck_assert_uint_eq(c->segs[i].flags, gen->segs[i].flags);
        ck_assert_uint_eq(c->seg_base[i], gen->seg_base[i]);
    }
    ck_assert_mem_eq(vm.ram + 0x7000 - 24, frame, 24);
    /* An exception with an error code through a trap gate (IF kept). */
    memcpy(c, before, sizeof(*c));
    ck_assert(cpu_deliver_fast(c, CPU_VEC_PF, true, 0x7, false, 0x5000));
    ck_assert_uint_eq(c->eip, 0x3200);
    ck_assert_uint_eq(c->regs[CPU_ESP], 0x7000 - 24);
    ck_assert_uint_eq(rd32(0x7000 - 24), 0x7);
    ck_assert_uint_eq(rd32(0x7000 - 20), 0x5000);
    ck_assert_uint_eq(rd32(0x7000 - 4), 0x23);
    ck_assert(c->eflags & CPU_FL_IF);
    /* Declined, nothing changed: INT n through a DPL 0 gate from CPL 3
     * (#GP for the general path), an SS0 with RPL 3. */
    memcpy(c, before, sizeof(*c));
    ck_assert(!cpu_deliver_fast(c, CPU_VEC_PF, false, 0, true, 0x5002));
    wr32(0x2000 + 8, 0x13);
    ck_assert(!cpu_deliver_fast(c, 0x80, false, 0, true, 0x5002));
    ck_assert_uint_eq(c->cpl, 3);
    ck_assert_uint_eq(c->regs[CPU_ESP], 0x8000);
    ck_assert_uint_eq(c->eip, before->eip);
    free(before);
    free(gen);
}
END_TEST

/* IRETD's fast path (cpu_iret_fast) to ring 3 and to ring 0 leaves what
 * the general path leaves; it declines while a descriptor's accessed bit
 * is clear (the general path writes it). */
START_TEST(fast_iret_same_as_general)
{
    build_gdt();
    /* A ring-0 stack at 0x7000 - 20: EIP, CS 0x1B, EFLAGS, ESP, SS 0x23. */
    uint32_t frame[5] = { 0x5002, 0x1B, CPU_FL_FIX1 | CPU_FL_IF | CPU_FL_CF | CPU_FL_DF, 0x8000, 0x23 };
    memcpy(vm.ram + 0x7000 - 20, frame, 20);
    c->regs[CPU_ESP] = 0x7000 - 20;
    c->eflags = CPU_FL_FIX1;
    c->segs[CPU_DS].sel = 0x10; c->segs[CPU_DS].flags = 0xCF93;  /* DPL 0: nulled at ring 3 */
    struct cpu *before = malloc(sizeof(*c));
    memcpy(before, c, sizeof(*c));
    ck_assert(!cpu_iret_fast(c));                                 /* 0x18/0x20 not accessed */
    ck_assert_int_eq(run_at(0x3100, BYTES(0xCF)), CPU_CO_EXIT);   /* general path */
    ck_assert_uint_eq(c->cpl, 3);
    struct cpu *gen = malloc(sizeof(*c));
    memcpy(gen, c, sizeof(*c));
    memcpy(c, before, sizeof(*c));
    c->eip = 0x3101;                                              /* as after the general one */
    ck_assert(cpu_iret_fast(c));
    ck_assert_uint_eq(c->cpl, 3);
    ck_assert_uint_eq(c->eip, 0x5002);
    ck_assert_uint_eq(c->eip, gen->eip);
    ck_assert_uint_eq(c->regs[CPU_ESP], 0x8000);
    ck_assert_uint_eq(c->eflags, gen->eflags);
    for (int i = 0; i < CPU_NSEG; i++) {
        ck_assert_uint_eq(c->segs[i].sel, gen->segs[i].sel);
        ck_assert_uint_eq(c->segs[i].base, gen->segs[i].base);
        ck_assert_uint_eq(c->segs[i].limit, gen->segs[i].limit);
        ck_assert_uint_eq(c->segs[i].flags, gen->segs[i].flags);
        ck_assert_uint_eq(c->seg_lo[i], gen->seg_lo[i]);
        ck_assert_uint_eq(c->seg_hi[i], gen->seg_hi[i]);
    }
    ck_assert_uint_eq(c->segs[CPU_DS].sel, 0);
    /* Same ring: EIP, CS 0x08, EFLAGS only. */
    uint32_t f0[3] = { 0x6000, 0x08, CPU_FL_FIX1 | CPU_FL_ZF };
    memcpy(vm.ram + 0x9000 - 12, f0, 12);
    memcpy(c, before, sizeof(*c));
    c->regs[CPU_ESP] = 0x9000 - 12;
    vm.ram[GDT + 0x08 + 5] = 0x9B;
    ck_assert(cpu_iret_fast(c));
    ck_assert_uint_eq(c->cpl, 0);
    ck_assert_uint_eq(c->eip, 0x6000);
    ck_assert_uint_eq(c->regs[CPU_ESP], 0x9000);
    ck_assert_uint_eq(c->eflags, CPU_FL_FIX1 | CPU_FL_ZF);
    ck_assert_uint_eq(c->segs[CPU_DS].sel, 0x10);                 /* kept */
    /* Declined, nothing changed: NT set, a DPL 3 CS with RPL 0. */
    memcpy(c, before, sizeof(*c));
    c->eflags |= CPU_FL_NT;
    ck_assert(!cpu_iret_fast(c));
    c->eflags &= ~CPU_FL_NT;
    frame[1] = 0x18;
    memcpy(vm.ram + 0x7000 - 20, frame, 20);
    ck_assert(!cpu_iret_fast(c));
    ck_assert_uint_eq(c->regs[CPU_ESP], 0x7000 - 20);
    ck_assert_uint_eq(c->cpl, 0);
    free(before);
    free(gen);
}
END_TEST

START_TEST(double_and_triple_fault)
{
    build_gdt();
    set_gate(CPU_VEC_GP, 0x3000, 0x08, 0xE, 0, 0);                /* not present */
    set_gate(CPU_VEC_DF, 0x3800, 0x08, 0xE, 0, 1);
    c->eip = 0x4000;
    cpu_raise(c, CPU_VEC_GP, true, 0);
    ck_assert_int_eq(cpu_deliver_pending(c), CPU_DELIVERED);
    ck_assert_uint_eq(c->eip, 0x3800);
    ck_assert_uint_eq(rd32(0x9000 - 16), 0);                      /* #DF error code 0 */
    ck_assert_uint_eq(rd32(0x9000 - 12), 0x4000);
    /* #DF gate missing too: triple fault. */
    set_gate(CPU_VEC_DF, 0x3800, 0x08, 0xE, 0, 0);
    c->eip = 0x4000;
    c->regs[CPU_ESP] = 0x9000;
    cpu_raise(c, CPU_VEC_GP, true, 0);
    ck_assert_int_eq(cpu_deliver_pending(c), CPU_DELIVERY_SHUTDOWN);
}
END_TEST

START_TEST(segment_loads_and_far_jmp)
{
    build_gdt();
    c->regs[CPU_EAX] = 0x10;
    /* Segment loads always leave translated code: the key may change. */
    ck_assert_int_eq(RUN(0x8E, 0xD8), CPU_CO_EXIT);               /* mov ds, ax */
    ck_assert_uint_eq(c->eip, 0x1002);
    ck_assert_uint_eq(c->segs[CPU_DS].sel, 0x10);
    ck_assert_uint_eq(c->segs[CPU_DS].limit, 0xFFFFFFFF);
    ck_assert(vm.ram[GDT + 0x10 + 5] & 1);                        /* accessed bit set */
    c->regs[CPU_EAX] = 0x40;                                      /* beyond the GDT limit */
    ck_assert_int_eq(RUN(0x8E, 0xD8), CPU_CO_EXIT);
    ck_assert_int_eq(c->pending_vector, CPU_VEC_GP);
    ck_assert_uint_eq(c->pending_error, 0x40);
    c->pending_vector = -1;
    /* The first slot past the limit (0x2F), holding a valid descriptor
     * the limit hides: #GP(0x30) all the same. */
    wr64(GDT + 0x30, 0x00CF92000000FFFFull);
    c->regs[CPU_EAX] = 0x30;
    ck_assert_int_eq(RUN(0x8E, 0xD8), CPU_CO_EXIT);
    ck_assert_int_eq(c->pending_vector, CPU_VEC_GP);
    ck_assert_uint_eq(c->pending_error, 0x30);
    c->pending_vector = -1;
    c->regs[CPU_EAX] = 0x28;                                      /* not present */
    ck_assert_int_eq(RUN(0x8E, 0xC0), CPU_CO_EXIT);               /* mov es, ax */
    ck_assert_int_eq(c->pending_vector, CPU_VEC_NP);
    ck_assert_uint_eq(c->pending_error, 0x28);
    c->pending_vector = -1;
    c->regs[CPU_EAX] = 0x20;                                      /* DPL 3 stack at CPL 0 */
    ck_assert_int_eq(RUN(0x8E, 0xD0), CPU_CO_EXIT);               /* mov ss, ax */
    ck_assert_int_eq(c->pending_vector, CPU_VEC_GP);
    c->pending_vector = -1;
    ck_assert_int_eq(RUN(0xEA, 0x34, 0x12, 0, 0, 0x08, 0), CPU_CO_EXIT); /* jmp 08:1234 */
    ck_assert_uint_eq(c->eip, 0x1234);
    ck_assert_uint_eq(c->segs[CPU_CS].sel, 0x08);
    ck_assert_int_eq(RUN(0xEA, 0x34, 0x12, 0, 0, 0x10, 0), CPU_CO_EXIT); /* to data: #GP */
    ck_assert_int_eq(c->pending_vector, CPU_VEC_GP);
    ck_assert_uint_eq(c->pending_error, 0x10);
    c->pending_vector = -1;
    /* push ds / pop es */
    ck_assert_int_eq(RUN(0x1E), CPU_CO_CONTINUE);
    ck_assert_uint_eq(c->regs[CPU_ESP], 0x9000 - 4);
    ck_assert_int_eq(RUN(0x07), CPU_CO_EXIT);                     /* a load: leave */
    ck_assert_uint_eq(c->segs[CPU_ES].sel, 0x10);
    ck_assert_uint_eq(c->regs[CPU_ESP], 0x9000);
}
END_TEST

START_TEST(bcd_adjusts)
{
    /* DAA after 0x79 + 0x35 = 0xAE (CF=0 AF=0): AL=0x14, CF=1, AF=1. */
    c->regs[CPU_EAX] = 0xAE; c->eflags = CPU_FL_FIX1;
    ck_assert_int_eq(RUN(0x27), CPU_CO_CONTINUE);
    ck_assert_uint_eq(c->regs[CPU_EAX], 0x14);
    ck_assert_uint_eq(c->eflags & (CPU_FL_CF | CPU_FL_AF), CPU_FL_CF | CPU_FL_AF);
    /* DAS after 0x35 - 0x47 = 0xEE (CF=1 AF=1): AL=0x88, CF=1. */
    c->regs[CPU_EAX] = 0xEE; c->eflags = CPU_FL_FIX1 | CPU_FL_CF | CPU_FL_AF;
    ck_assert_int_eq(RUN(0x2F), CPU_CO_CONTINUE);
    ck_assert_uint_eq(c->regs[CPU_EAX], 0x88);
    ck_assert(c->eflags & CPU_FL_CF);
    ck_assert(c->eflags & CPU_FL_SF);
    /* AAA after 5 + 6 = 0x0B: AX 0x000B -> 0x0101, CF=AF=1. */
    c->regs[CPU_EAX] = 0x000B; c->eflags = CPU_FL_FIX1;
    ck_assert_int_eq(RUN(0x37), CPU_CO_CONTINUE);
    ck_assert_uint_eq(c->regs[CPU_EAX], 0x0101);
    ck_assert_uint_eq(c->eflags & (CPU_FL_CF | CPU_FL_AF), CPU_FL_CF | CPU_FL_AF);
    /* AAS after 0x08 - 0x09 = 0xFF (AF=1), AH=2: AX=0x02FF-6=0x02F9, AH-1 -> 0x0109. */
    c->regs[CPU_EAX] = 0x02FF; c->eflags = CPU_FL_FIX1 | CPU_FL_AF;
    ck_assert_int_eq(RUN(0x3F), CPU_CO_CONTINUE);
    ck_assert_uint_eq(c->regs[CPU_EAX], 0x0109);
    ck_assert(c->eflags & CPU_FL_CF);
    /* AAM: 79 -> AH=7 AL=9; AAD: AH=7 AL=9 -> AL=79 AH=0. */
    c->regs[CPU_EAX] = 0xFFFF004F;
    ck_assert_int_eq(RUN(0xD4, 0x0A), CPU_CO_CONTINUE);
    ck_assert_uint_eq(c->regs[CPU_EAX], 0xFFFF0709);
    ck_assert_int_eq(RUN(0xD5, 0x0A), CPU_CO_CONTINUE);
    ck_assert_uint_eq(c->regs[CPU_EAX], 0xFFFF004F);
    ck_assert(!(c->eflags & CPU_FL_ZF));
    /* AAM 0: #DE. */
    ck_assert_int_eq(RUN(0xD4, 0x00), CPU_CO_EXIT);
    ck_assert_int_eq(c->pending_vector, CPU_VEC_DE);
}
END_TEST

START_TEST(pusha_popa)
{
    for (int r = 0; r < 8; r++)
        if (r != CPU_ESP)
            c->regs[r] = 0x11111111u * (r + 1);
    ck_assert_int_eq(RUN(0x60), CPU_CO_CONTINUE);
    ck_assert_uint_eq(c->regs[CPU_ESP], 0x9000 - 32);
    ck_assert_uint_eq(rd32(0x9000 - 4), 0x11111111);              /* EAX first */
    ck_assert_uint_eq(rd32(0x9000 - 20), 0x9000);                 /* original ESP */
    ck_assert_uint_eq(rd32(0x9000 - 32), 0x88888888);             /* EDI last */
    for (int r = 0; r < 8; r++)
        if (r != CPU_ESP)
            c->regs[r] = 0;
    ck_assert_int_eq(RUN(0x61), CPU_CO_CONTINUE);
    ck_assert_uint_eq(c->regs[CPU_ESP], 0x9000);
    for (int r = 0; r < 8; r++)
        if (r != CPU_ESP)
            ck_assert_uint_eq(c->regs[r], 0x11111111u * (r + 1));
    /* 16-bit forms touch the low halves only. */
    ck_assert_int_eq(RUN(0x66, 0x60), CPU_CO_CONTINUE);
    ck_assert_uint_eq(c->regs[CPU_ESP], 0x9000 - 16);
    c->regs[CPU_EAX] = 0xABCD0000;
    ck_assert_int_eq(RUN(0x66, 0x61), CPU_CO_CONTINUE);
    ck_assert_uint_eq(c->regs[CPU_EAX], 0xABCD1111);
}
END_TEST

/* Power-on state (SDM vol. 3 table 9-1): the first fetch at FFFFFFF0,
 * real mode, EDX = CPUID.1:EAX; the first CS load sets base = sel * 16. */
START_TEST(power_on_state)
{
    cpu_power_on(c);
    ck_assert_uint_eq(c->segs[CPU_CS].sel, 0xF000);
    ck_assert_uint_eq(c->seg_base[CPU_CS] + c->eip, 0xFFFFFFF0u);
    ck_assert_uint_eq(c->cr0, 0x60000010u);
    ck_assert_uint_eq(c->eflags, 2);
    uint32_t sig[4];
    cpu_cpuid(c, 1, 0, sig);
    ck_assert_uint_eq(c->regs[CPU_EDX], sig[0]);
    ck_assert_uint_eq(c->regs[CPU_EAX] | c->regs[CPU_ESP], 0);
    for (int i = 0; i < CPU_NSEG; i++) {
        ck_assert_uint_eq(c->segs[i].limit, 0xFFFF);
        ck_assert_uint_eq(c->seg_hi[i], 0xFFFF);
    }
    ck_assert_uint_eq(c->idtr.limit, 0xFFFF);
    ck_assert_uint_eq(c->dr[7], 0x400);
    ck_assert_int_eq(c->pending_vector, -1);
    /* A far JMP F000:E05B (real mode: ptr16:16). */
    ck_assert_int_eq(dec_decode(DEC_MODE_16, 0xFFF0, BYTES(0xEA, 0x5B, 0xE0, 0x00, 0xF0), &insn), 0);
    ck_assert_int_eq(cpu_callout_for(&insn)(c, &insn), CPU_CO_EXIT);
    ck_assert_uint_eq(c->seg_base[CPU_CS], 0xF0000);
    ck_assert_uint_eq(c->eip, 0xE05B);
    ck_assert_uint_eq(c->segs[CPU_CS].limit, 0xFFFF);
}
END_TEST

/* Decode bytes as 16-bit code at eip and run the callout. */
static int run16_at(uint32_t eip, const uint8_t *b, size_t n)
{
    ck_assert_int_eq(dec_decode(DEC_MODE_16, eip, b, n, &insn), 0);
    c->eip = insn.eip;
    return cpu_callout_for(&insn)(c, &insn);
}
#define RUN16(eip, ...) run16_at(eip, BYTES(__VA_ARGS__))
static uint16_t rd16(uint32_t a) { uint16_t v; memcpy(&v, vm.ram + a, 2); return v; }
static void set_seg(int i, const struct cpu_segment *s)
{
    c->segs[i] = *s;
    c->seg_base[i] = s->base;
    cpu_seg_bounds(c, i);
}

/* MOV CR0 clearing PE keeps the hidden caches (a 4 GiB DS limit: big real
 * mode), CPL 0; a real-mode load changes selector and base only; INT n
 * through the IVT pushes FLAGS, CS, IP and clears IF; IRET comes back;
 * LAR is #UD in real mode. */
START_TEST(real_mode_transitions)
{
    build_gdt();
    c->segs[CPU_DS].limit = 0xFFFFFFFF;
    c->regs[CPU_EAX] = CPU_CR0_ET;                                   /* PE = 0 */
    ck_assert_int_eq(RUN(0x0F, 0x22, 0xC0), CPU_CO_EXIT);             /* mov cr0, eax */
    ck_assert_uint_eq(c->cr0 & CPU_CR0_PE, 0);
    ck_assert_uint_eq(c->cpl, 0);
    ck_assert_uint_eq(c->seg_hi[CPU_DS], 0xFFFFFFFF);
    c->regs[CPU_EAX] = 0x1000;
    ck_assert_int_eq(RUN16(0x100, 0x8E, 0xD8), CPU_CO_EXIT);          /* mov ds, ax: flat -> not */
    c->regs[CPU_EAX] = 0x1234;
    ck_assert_int_eq(RUN16(0x100, 0x8E, 0xD8), CPU_CO_CONTINUE);      /* non-flat before and after */
    ck_assert_uint_eq(c->seg_base[CPU_DS], 0x12340);
    ck_assert_uint_eq(c->segs[CPU_DS].limit, 0xFFFFFFFF);            /* big real mode */
    /* Real-mode CS 0x0100, SS:SP 0:9000, IVT entry 0x21 = 0200:0010. */
    struct cpu_segment cs = { .sel = 0x100, .base = 0x1000, .limit = 0xFFFF, .flags = 0x9B };
    set_seg(CPU_CS, &cs);
    struct cpu_segment ss = { .sel = 0, .base = 0, .limit = 0xFFFF, .flags = 0x93 };
    set_seg(CPU_SS, &ss);
    c->idtr.base = 0; c->idtr.limit = 0x3FF;
    wr32(0x21 * 4, 0x02000010);
    c->eflags = CPU_FL_FIX1 | CPU_FL_IF | CPU_FL_TF;
    ck_assert_int_eq(RUN16(0x50, 0xCD, 0x21), CPU_CO_EXIT);
    ck_assert_uint_eq(c->seg_base[CPU_CS], 0x2000);
    ck_assert_uint_eq(c->eip, 0x10);
    ck_assert_uint_eq(c->regs[CPU_ESP], 0x9000 - 6);
    ck_assert_uint_eq(rd16(0x9000 - 6), 0x52);                      /* IP */
    ck_assert_uint_eq(rd16(0x9000 - 4), 0x100);                     /* CS */
    ck_assert_uint_eq(rd16(0x9000 - 2), CPU_FL_FIX1 | CPU_FL_IF | CPU_FL_TF);
    ck_assert_uint_eq(c->eflags & (CPU_FL_IF | CPU_FL_TF), 0);
    ck_assert_int_eq(RUN16(0x10, 0xCF), CPU_CO_EXIT);                 /* iret */
    ck_assert_uint_eq(c->seg_base[CPU_CS], 0x1000);
    ck_assert_uint_eq(c->eip, 0x52);
    ck_assert_uint_eq(c->regs[CPU_ESP], 0x9000);
    ck_assert(c->eflags & CPU_FL_IF);
    ck_assert_int_eq(RUN16(0x52, 0x0F, 0x02, 0xC3), CPU_CO_EXIT);     /* lar ax, bx */
    ck_assert_int_eq(c->pending_vector, CPU_VEC_UD);
    /* MOV CR0 setting PE again: caches stay until the far jump. */
    c->pending_vector = -1;
    c->regs[CPU_EAX] = CPU_CR0_ET | CPU_CR0_PE;
    ck_assert_int_eq(RUN16(0x60, 0x0F, 0x22, 0xC0), CPU_CO_EXIT);
    ck_assert_uint_eq(c->seg_base[CPU_CS], 0x1000);
    ck_assert_int_eq(RUN16(0x63, 0x66, 0xEA, 0x00, 0x30, 0x00, 0x00, 0x08, 0x00), CPU_CO_EXIT);
    ck_assert_uint_eq(c->seg_base[CPU_CS], 0);
    ck_assert_uint_eq(c->segs[CPU_CS].flags & CPU_SEGF_DB, CPU_SEGF_DB);
    ck_assert_uint_eq(c->eip, 0x3000);
}
END_TEST

/* v8086 mode: IRETD with VM set enters it (segments base = sel * 16, CPL
 * 3); CLI at IOPL 0 is #GP(0); the #GP goes to the ring-0 handler on the
 * TSS stack with GS, FS, DS, ES pushed and zeroed; IN checks the bitmap. */
START_TEST(v86_enter_and_trap)
{
    build_gdt();
    /* 32-bit TSS at 0x2000, SS0:ESP0 = 0x10:0x7000, I/O bitmap at +0x68. */
    wr64(GDT + 0x30, 0x0000890020002068ull);
    c->gdtr.limit = 0x37;
    wr32(0x2000 + 4, 0x7000);
    wr32(0x2000 + 8, 0x10);
    wr32(0x2000 + 0x64, 0x68u << 16);
    memset(vm.ram + 0x2068, 0xFF, 0x2001);
    vm.ram[0x2068 + 0x80 / 8] &= (uint8_t)~1u;                     /* port 0x80 allowed */
    c->regs[CPU_EAX] = 0x30;
    ck_assert_int_eq(RUN(0x0F, 0x00, 0xD8), CPU_CO_CONTINUE);       /* ltr ax */
    set_gate(13, 0x3100, 0x08, 0xE, 0, 1);
    /* IRETD frame: EIP CS EFLAGS ESP SS ES DS FS GS. */
    static const uint32_t fr[9] = { 0x10, 0x800, 0x20002, 0xFFF0, 0x6000, 0x4000, 0x200, 0x11, 0x22 };
    for (int i = 0; i < 9; i++)
        wr32(0x9000 + 4 * i, fr[i]);
    ck_assert_int_eq(RUN(0xCF), CPU_CO_EXIT);
    ck_assert(c->eflags & CPU_FL_VM);
    ck_assert_uint_eq(c->cpl, 3);
    ck_assert_uint_eq(c->seg_base[CPU_CS], 0x8000);
    ck_assert_uint_eq(c->seg_base[CPU_DS], 0x2000);
    ck_assert_uint_eq(c->seg_base[CPU_GS], 0x220);
    ck_assert_uint_eq(c->segs[CPU_SS].limit, 0xFFFF);
    ck_assert_uint_eq(c->regs[CPU_ESP], 0xFFF0);
    ck_assert_uint_eq(c->eip, 0x10);
    /* OUT 80h is allowed, IN 64h is not. */
    ck_assert_int_eq(RUN16(0x10, 0xE6, 0x80), CPU_CO_CONTINUE);
    ck_assert_int_eq(RUN16(0x12, 0xE4, 0x64), CPU_CO_EXIT);
    ck_assert_int_eq(c->pending_vector, CPU_VEC_GP);
    c->pending_vector = -1;
    ck_assert_int_eq(RUN16(0x14, 0xFA), CPU_CO_EXIT);                 /* cli */
    ck_assert_int_eq(c->pending_vector, CPU_VEC_GP);
    ck_assert_int_eq(cpu_deliver_pending(c), CPU_DELIVERED);
    ck_assert_uint_eq(c->eflags & CPU_FL_VM, 0);
    ck_assert_uint_eq(c->cpl, 0);
    ck_assert_uint_eq(c->eip, 0x3100);
    ck_assert_uint_eq(c->regs[CPU_ESP], 0x7000 - 40);
    static const uint32_t want[10] = { 0, 0x14, 0x800, 0x20002, 0xFFF0, 0x6000, 0x4000, 0x200, 0x11, 0x22 };
    for (int i = 0; i < 10; i++)
        ck_assert_uint_eq(rd32(0x7000 - 40 + 4 * i), want[i]);
    ck_assert_uint_eq(c->segs[CPU_DS].sel, 0);
    ck_assert_uint_eq(c->seg_hi[CPU_DS], 0);                        /* null: unusable */
    /* IRETD (error code popped by the handler) goes back to v8086. */
    c->regs[CPU_ESP] += 4;
    ck_assert_int_eq(RUN(0xCF), CPU_CO_EXIT);
    ck_assert(c->eflags & CPU_FL_VM);
    ck_assert_uint_eq(c->seg_base[CPU_DS], 0x2000);
    ck_assert_uint_eq(c->eip, 0x14);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cpu_sys");
    TCase *t = tcase_create("sys");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, cpuid_leaf0);
    tcase_add_test(t, fast_delivery_same_as_general);
    tcase_add_test(t, arch_capabilities_msr);
    tcase_add_test(t, pushf_popf_images);
    tcase_add_test(t, cli_sti_iopl);
    tcase_add_test(t, hlt_sets_halted);
    tcase_add_test(t, in_out);
    tcase_add_test(t, lgdt_sgdt_roundtrip);
    tcase_add_test(t, mov_cr0);
    tcase_add_test(t, undefined_is_ud);
    tcase_add_test(t, exception_through_idt);
    tcase_add_test(t, int_iret_roundtrip);
    tcase_add_test(t, int_from_user_switches_stack);
    tcase_add_test(t, fast_outer_delivery_same_as_general);
    tcase_add_test(t, fast_iret_same_as_general);
    tcase_add_test(t, double_and_triple_fault);
    tcase_add_test(t, segment_loads_and_far_jmp);
    tcase_add_test(t, bcd_adjusts);
    tcase_add_test(t, pusha_popa);
    tcase_add_test(t, power_on_state);
    tcase_add_test(t, real_mode_transitions);
    tcase_add_test(t, v86_enter_and_trap);
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
