/*
 * guests/pagetest/kernel.c — pagetest's kernel side: GDT, IDT and TSS, the
 * C trap handler (records every trap with CR2, lets the test's #PF hook
 * repair and retry, else resumes at the armed fixup), the CPL-3 runner,
 * the pass/fail reporting, and guest_main, which runs every test in order
 * and exits with the number that failed. See docs/guests.md.
 */
#include "pagetest.h"

static uint64_t gdt[6] __attribute__((aligned(8)));
static uint64_t idt[256] __attribute__((aligned(8)));
static uint8_t kstack[8192] __attribute__((aligned(16)));
static uint8_t user_stack[8192] __attribute__((aligned(16)));
static struct tss {
    uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
    uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
    uint32_t es, cs, ss, ds, fs, gs, ldt;
    uint16_t trap, iomap;
} tss __attribute__((aligned(16)));

volatile struct trap_rec last;
volatile uint32_t t_fip, t_resume;
int (*volatile pf_hook)(struct frame *f);

/* ---- reporting ---- */


void skip(const char *name, const char *why)
{
    gprintf("pagetest: %s skipped (%s)\n", name, why);
}

void expect_pf(const char *what, uint32_t count0, uint32_t err, uint32_t cr2, uint32_t eip)
{
    t_resume = 0;
    if (last.count != count0 + 1) {
        fail("%s: %u traps, expected one #PF", what, last.count - count0);
        return;
    }
    if (last.vec != 14 || last.err != err || last.cr2 != cr2 || last.eip != eip)
        fail("%s: got vector %u err %x cr2 %x eip %x, expected #PF err %x cr2 %x eip %x", what,
             last.vec, last.err, last.cr2, last.eip, err, cr2, eip);
}

void expect_no_trap(const char *what, uint32_t count0)
{
    t_resume = 0;
    if (last.count != count0)
        fail("%s: unexpected trap: vector %u err %x cr2 %x eip %x", what, last.vec, last.err,
             last.cr2, last.eip);
}

/* ---- traps ---- */

void trap_c(struct frame *f);
void trap_c(struct frame *f)
{
    uint32_t cr2 = get_cr2();
    if (f->vec == 0x80 && f->eax == 0)
        leave_user();
    last.vec = f->vec;
    last.err = f->err;
    last.cr2 = cr2;
    last.eip = f->eip;
    last.cs = f->cs;
    last.ecx = f->ecx;
    last.esi = f->esi;
    last.edi = f->edi;
    last.uesp = (f->cs & 3) ? f->uesp : 0;
    last.count++;
    if (f->vec == 14 && pf_hook && pf_hook(f))
        return;
    if (!t_resume) {
        gprintf("pagetest: unexpected exception %u err %x cr2 %x at %x:%x\n", f->vec, f->err, cr2,
                f->cs, f->eip);
        gprintf("pagetest: %s FAIL: crashed\n", report_current());
        guest_exit(101);
    }
    f->eip = t_resume;
    t_resume = 0;
}

/* ---- CPL 3 ---- */

void run_user_at(void (*fn)(void), uint32_t esp)
{
    enter_user((uint32_t)(uintptr_t)fn, esp, 0x2);
    t_resume = 0;
}

void run_user(void (*fn)(void))
{
    run_user_at(fn, (uint32_t)(uintptr_t)(user_stack + sizeof(user_stack)) - 16);
}

/* What the user routines access; everything is U=1 in the identity map. */
static volatile uint32_t u_va, u_val;

static void __attribute__((noinline, used)) u_read_fn(void)
{
    uint32_t v = u_val;
    __asm__ volatile(ARM "1:\tmovl (%1), %0\n2:" : "+r"(v) : "r"(u_va) : "memory");
    u_val = v;
    __asm__ volatile(USER_EXIT : : : "eax", "memory");
    for (;;)
        ;
}

static void __attribute__((noinline, used)) u_write_fn(void)
{
    __asm__ volatile(ARM "1:\tmovl %1, (%0)\n2:" : : "r"(u_va), "r"(u_val) : "memory");
    __asm__ volatile(USER_EXIT : : : "eax", "memory");
    for (;;)
        ;
}

uint32_t user_read(uint32_t va, uint32_t val)
{
    u_va = va;
    u_val = val;
    run_user(u_read_fn);
    return u_val;
}

void user_write(uint32_t va, uint32_t val)
{
    u_va = va;
    u_val = val;
    run_user(u_write_fn);
}

/* ---- set-up ---- */

static uint64_t seg_desc(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
    return (limit & 0xffff) | (uint64_t)(base & 0xffffff) << 16 | (uint64_t)access << 40 |
           (uint64_t)((limit >> 16) & 0xf) << 48 | (uint64_t)(flags & 0xf) << 52 |
           (uint64_t)(base >> 24) << 56;
}

static uint64_t int_gate(uint32_t off, unsigned dpl)
{
    return (off & 0xffff) | (uint64_t)SEL_KCODE << 16 | (uint64_t)(0x8e | dpl << 5) << 40 |
           (uint64_t)(off >> 16) << 48;
}

static void machine_setup(void)
{
    gdt[0] = 0;
    gdt[1] = seg_desc(0, 0xfffff, 0x9a, 0xc);
    gdt[2] = seg_desc(0, 0xfffff, 0x92, 0xc);
    gdt[3] = seg_desc(0, 0xfffff, 0xfa, 0xc);
    gdt[4] = seg_desc(0, 0xfffff, 0xf2, 0xc);
    gdt[5] = seg_desc((uint32_t)(uintptr_t)&tss, sizeof(tss) - 1, 0x89, 0);
    memset(&tss, 0, sizeof(tss));
    tss.esp0 = (uint32_t)(uintptr_t)(kstack + sizeof(kstack));
    tss.ss0 = SEL_KDATA;
    tss.iomap = sizeof(tss);     /* no I/O bitmap: CPL 3 gets no ports */
    for (const uint32_t *p = stub_table; p < stub_table_end; p += 2)
        idt[p[0]] = int_gate(p[1], p[0] == 0x80 ? 3 : 0);

    struct __attribute__((packed)) { uint16_t limit; uint32_t base; } gd, id;
    gd.limit = sizeof(gdt) - 1;
    gd.base = (uint32_t)(uintptr_t)gdt;
    id.limit = sizeof(idt) - 1;
    id.base = (uint32_t)(uintptr_t)idt;
    __asm__ volatile("lgdt %0" : : "m"(gd) : "memory");
    reload_segments();
    __asm__ volatile("lidt %0" : : "m"(id) : "memory");
    __asm__ volatile("ltr %w0" : : "r"(SEL_TSS) : "memory");
}

int guest_main(uint32_t magic, uint32_t mbi)
{
    report_suite("pagetest");
    const uint32_t *mb = (const uint32_t *)(uintptr_t)mbi;
    if (magic != MULTIBOOT_BOOTLOADER_MAGIC || !(mb[0] & 1) ||
        (mb[2] + 1024) * 1024ull < MEM_NEEDED) {
        gprintf("pagetest: needs a Multiboot loader and %u MiB of RAM\n", MEM_NEEDED >> 20);
        return 100;
    }
    /* The frame pool must lie above the image (the stack is in .bss). */
    if ((uintptr_t)(user_stack + sizeof(user_stack)) > POOL_BASE) {
        gprintf("pagetest: kernel image overlaps the frame pool\n");
        return 100;
    }
    machine_setup();

    test_enable();
    test_demand();
    test_protect();
    test_cow();
    test_ptemod();
    test_accessed_dirty();
    test_pse();
    test_global();
    test_as16();
    test_alias();
    test_smc();
    test_xmc();
    test_shared_fault();
    test_cross();
    test_pt_write();
    test_pt_rmw();
    test_kview();
    test_pae();

    return report_failures();
}
