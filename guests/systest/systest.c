/*
 * guests/systest/systest.c — systest's kernel side: its own GDT, IDT and
 * TSS, the C trap handler (records every trap, fixes faults up by moving
 * the saved EIP to the label after the faulting instruction, serves the
 * CPL-3 system calls and IRQ0), the exception tests at CPL 0 (#DE #BP #OF
 * #BR #UD #NM #MF, #GP/#NP/#SS from segment loads; opt-in: segment limit
 * violations, also by REP string instructions, and #XM, which QEMU's TCG
 * does not produce), the
 * checks on what the 16-bit routine (code16.S) recorded, and guest_main, which runs every test and exits with the number that failed.
 * See docs/guests.md.
 */
#include "systest.h"

uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(8)));
static uint64_t idt[256] __attribute__((aligned(8)));
uint8_t lim_buf[64] __attribute__((aligned(16)));
uint8_t kstack[8192] __attribute__((aligned(16)));
uint8_t stk1_buf[256] __attribute__((aligned(16)));
int opt_limits;

struct tss {
    uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
    uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
    uint32_t es, cs, ss, ds, fs, gs, ldt;
    uint16_t trap, iomap;
    uint8_t iobitmap[8192];
    uint8_t end;   /* 0xff: the SDM wants one byte past the bitmap */
} __attribute__((packed));
static struct tss tss __attribute__((aligned(16)));

volatile struct trap_rec last;
volatile uint32_t t_fip, t_after, t_resume;
volatile uint32_t ticks, irq_isr_in, irq_isr_after, irq_cs, irq_eflags, irq_sampled;


void expect_trap(const char *what, uint32_t count0, uint32_t vec, uint32_t err, uint32_t eip,
                 uint32_t cs)
{
    if (last.count != count0 + 1) {
        fail("%s: %u traps, expected 1 (vector %x)", what, last.count - count0, vec);
        return;
    }
    if (last.vec != vec || last.err != err || last.eip != eip || last.cs != cs)
        fail("%s: got vector %x err %x eip %x cs %x, expected vector %x err %x eip %x cs %x", what,
             last.vec, last.err, last.eip, last.cs, vec, err, eip, cs);
}

static uint64_t seg_desc(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
    return (limit & 0xffff) | (uint64_t)(base & 0xffffff) << 16 | (uint64_t)access << 40 |
           (uint64_t)((limit >> 16) & 0xf) << 48 | (uint64_t)(flags & 0xf) << 52 |
           (uint64_t)(base >> 24) << 56;
}

/* An IDT gate: type 0xe = 32-bit interrupt gate, 0xf = 32-bit trap gate. */
static uint64_t idt_gate(uint16_t sel, uint32_t off, unsigned type, unsigned dpl)
{
    return (off & 0xffff) | (uint64_t)sel << 16 | (uint64_t)(0x80 | dpl << 5 | type) << 40 |
           (uint64_t)(off >> 16) << 48;
}

static uint64_t int_gate(uint32_t off, unsigned dpl)
{
    return idt_gate(SEL_KCODE, off, 0xe, dpl);
}

/* Written at CPL 3 too: without paging the user data segment reaches it. */
void tss_set_ring1(uint16_t ss, uint32_t esp)
{
    tss.ss1 = ss;
    tss.esp1 = esp;
}

volatile uint32_t fpu_sw, fpu_mxcsr;

/* The x87/SSE part of a test's fixup: #NM clears CR0.TS and returns 1
 * (the faulting instruction is retried in place); #MF and #XM record the
 * status word / MXCSR, clear the pending exception and mask it again so
 * the continuation runs clean. */
static int fpu_fixup(uint32_t vec)
{
    uint16_t cw = 0x37f;
    uint32_t mx = 0x1f80;
    switch (vec) {
    case 7:
        __asm__ volatile("clts" : : : "memory");
        t_resume = 0;
        return 1;
    case 16:
        __asm__ volatile("fnstsw %%ax\n\tmovzwl %%ax, %%eax\n\tmovl %%eax, %0\n\tfnclex\n\tfldcw %1"
                         : "=m"(fpu_sw) : "m"(cw) : "eax", "memory");
        break;
    case 19:
        __asm__ volatile("stmxcsr %0\n\tldmxcsr %1" : "=m"(fpu_mxcsr) : "m"(mx) : "memory");
        break;
    }
    return 0;
}

/* Called by trap_common for every vector. */
void trap_c(struct frame *f);
void trap_c(struct frame *f)
{
    if (f->vec == VEC_IRQ0) {
        ticks++;
        if (!irq_sampled) {
            outb(0x20, 0x0b);            /* OCW3: read ISR */
            irq_isr_in = inb(0x20);
        }
        outb(0x20, 0x20);                /* non-specific EOI */
        if (!irq_sampled) {
            irq_isr_after = inb(0x20);
            outb(0x20, 0x0a);            /* back to IRR */
            irq_cs = f->cs;
            irq_eflags = f->eflags;
            irq_sampled = 1;
        }
        return;
    }
    if (f->vec >= 0x21 && f->vec < 0x30) {
        /* Spurious IRQ7/15 take no EOI; any other IRQ is a surprise. */
        if (f->vec == 0x27 || f->vec == 0x2f)
            return;
        gprintf("systest: unexpected IRQ vector %x\n", f->vec);
        guest_exit(100);
    }
    last.vec = f->vec;
    last.err = f->err;
    last.eip = f->eip;
    last.cs = f->cs;
    last.eflags = f->eflags;
    last.uesp = (f->cs & 3) ? f->uesp : 0;
    last.uss = (f->cs & 3) ? f->uss : 0;
    last.frame_end = (uint32_t)(uintptr_t)f + ((f->cs & 3) ? sizeof(*f) : sizeof(*f) - 8);
    last.count++;
    if (f->vec == VEC_SYSCALL) {
        if (f->eax == 0)
            leave_user();
        if (f->eax == 2)                 /* syscall 2: IOPL = EBX (iret sets it) */
            f->eflags = (f->eflags & ~0x3000u) | (f->ebx & 3) << 12;
        else if (f->eax == 3)            /* syscall 3: IA32_SYSENTER_CS = EBX */
            __asm__ volatile("wrmsr" : : "c"(0x174), "a"(f->ebx), "d"(0) : "memory");
        else
            f->eax = f->ebx + 1;         /* syscall 1: "increment" */
        return;
    }
    if (t_resume && fpu_fixup(f->vec))
        return;                          /* #NM: retry the same instruction */
    if (!t_resume) {
        gprintf("systest: unexpected exception %u err %x at %x:%x eflags %x\n", f->vec, f->err, f->cs,
                f->eip, f->eflags);
        guest_exit(101);
    }
    f->eip = t_resume;
    t_resume = 0;
}

/* 1: GDT, IDT, TSS loaded and in effect. */
static void test_setup(void)
{
    begin("setup");
    gdt[0] = 0;
    gdt[1] = seg_desc(0, 0xfffff, 0x9a, 0xc);
    gdt[2] = seg_desc(0, 0xfffff, 0x92, 0xc);
    gdt[3] = seg_desc(0, 0xfffff, 0xfa, 0xc);
    gdt[4] = seg_desc(0, 0xfffff, 0xf2, 0xc);
    gdt[5] = seg_desc((uint32_t)(uintptr_t)&tss, sizeof(tss) - 1, 0x89, 0);
    gdt[6] = seg_desc(0, 0xfffff, 0x12, 0xc);                     /* P=0 */
    gdt[7] = seg_desc((uint32_t)(uintptr_t)lim_buf, 15, 0x92, 0x4);
    gdt[8] = seg_desc((uint32_t)(uintptr_t)lim_buf, 15, 0x96, 0x4); /* expand-down, B=1 */
    gdt[9] = 0;                                                    /* SS limit test fills it */
    gdt[SEL_CODE1 >> 3] = seg_desc(0, 0xfffff, 0xba, 0xc);         /* DPL 1 */
    gdt[SEL_STK1 >> 3] = seg_desc((uint32_t)(uintptr_t)stk1_buf, sizeof(stk1_buf) - 1, 0xb2, 0x4);

    memset(&tss, 0, sizeof(tss));
    tss.esp0 = (uint32_t)(uintptr_t)(kstack + sizeof(kstack));
    tss.ss0 = SEL_KDATA;
    tss.iomap = (uint16_t)__builtin_offsetof(struct tss, iobitmap);
    memset(tss.iobitmap, 0xff, sizeof(tss.iobitmap));
    tss.iobitmap[0x3ff / 8] &= (uint8_t)~(1u << (0x3ff % 8));    /* UART scratch only */
    tss.end = 0xff;

    for (int i = 0; i < 256; i++)
        idt[i] = 0;
    for (const uint32_t *p = stub_table; p < stub_table_end; p += 2) {
        unsigned v = p[0];
        idt[v] = int_gate(p[1], (v == 3 || v == 4 || v == VEC_SYSCALL) ? 3 : 0);
    }
    /* A trap gate (IF stays set) into CPL 1: its stack comes from TSS.SS1. */
    idt[VEC_RING1] = idt_gate(SEL_CODE1, (uint32_t)(uintptr_t)ring1_int_k, 0xf, 3);

    struct __attribute__((packed)) { uint16_t limit; uint32_t base; } gd, id, g2, i2;
    gd.limit = sizeof(gdt) - 1;
    gd.base = (uint32_t)(uintptr_t)gdt;
    id.limit = sizeof(idt) - 1;
    id.base = (uint32_t)(uintptr_t)idt;
    __asm__ volatile("lgdt %0" : : "m"(gd) : "memory");
    reload_segments();
    __asm__ volatile("lidt %0" : : "m"(id) : "memory");
    __asm__ volatile("ltr %w0" : : "r"(SEL_TSS) : "memory");
    pic_setup();

    uint32_t cs, ds, ss, es, fs, gs, tr;
    __asm__ volatile("movl %%cs, %0\n\tmovl %%ds, %1\n\tmovl %%ss, %2\n\tmovl %%es, %3\n\t"
                     "movl %%fs, %4\n\tmovl %%gs, %5\n\tstr %6"
                     : "=r"(cs), "=r"(ds), "=r"(ss), "=r"(es), "=r"(fs), "=r"(gs), "=r"(tr));
    expect("cs", SEL_KCODE, cs & 0xffff);
    expect("ds", SEL_KDATA, ds & 0xffff);
    expect("ss", SEL_KDATA, ss & 0xffff);
    expect("es", SEL_KDATA, es & 0xffff);
    expect("fs", SEL_KDATA, fs & 0xffff);
    expect("gs", SEL_KDATA, gs & 0xffff);
    expect("str", SEL_TSS, tr & 0xffff);
    __asm__ volatile("sgdt %0\n\tsidt %1" : "=m"(g2), "=m"(i2));
    expect("sgdt limit", gd.limit, g2.limit);
    expect("sgdt base", gd.base, g2.base);
    expect("sidt limit", id.limit, i2.limit);
    expect("sidt base", id.base, i2.base);
    expect("TSS descriptor type after ltr (busy)", 0xb, (uint32_t)(gdt[5] >> 40) & 0xf);
    end();
}

/* 2: exceptions at CPL 0. */
static void test_cpl0_exceptions(void)
{
    uint32_t n0, v;

    begin("de");
    n0 = last.count;
    __asm__ volatile("xorl %%ecx, %%ecx\n\tmovl $1, %%eax\n\txorl %%edx, %%edx\n\t" ARM
                     "1:\tdivl %%ecx\n2:" : : : "eax", "ecx", "edx", "memory", "cc");
    expect_trap("divl by 0", n0, 0, 0, t_fip, SEL_KCODE);
    n0 = last.count;
    __asm__ volatile("movl $0xffff8000, %%eax\n\tmovl $0xffffffff, %%edx\n\tmovl $-1, %%ecx\n\t"
                     "movw $-1, %%cx\n\t" ARM "1:\tidivw %%cx\n2:" : : : "eax", "ecx", "edx", "memory", "cc");
    expect_trap("idivw -32768/-1 overflow", n0, 0, 0, t_fip, SEL_KCODE);
    end();

    begin("bp");
    n0 = last.count;
    __asm__ volatile(ARM "1:\tint3\n2:" : : : "memory");
    expect_trap("int3", n0, 3, 0, t_after, SEL_KCODE);
    n0 = last.count;
    __asm__ volatile(ARM "1:\t.byte 0xcd, 0x03\n2:" : : : "memory");
    expect_trap("int $3", n0, 3, 0, t_after, SEL_KCODE);
    end();

    begin("of");
    n0 = last.count;
    __asm__ volatile("movl $0x7fffffff, %%eax\n\taddl $1, %%eax\n\t" ARM "1:\tinto\n2:"
                     : : : "eax", "memory", "cc");
    expect_trap("into OF=1", n0, 4, 0, t_after, SEL_KCODE);
    n0 = last.count;
    __asm__ volatile("xorl %%eax, %%eax\n\t" ARM "1:\tinto\n2:\tmovl $0, t_resume"
                     : : : "eax", "memory", "cc");
    expect("into OF=0 traps", n0, last.count);
    end();

    begin("br");
    static int32_t bnd[2] = { 0, 10 };
    n0 = last.count;
    __asm__ volatile("movl $20, %%eax\n\t" ARM "1:\tbound %%eax, %0\n2:" : : "m"(bnd) : "eax", "memory");
    expect_trap("bound 20 in [0,10]", n0, 5, 0, t_fip, SEL_KCODE);
    n0 = last.count;
    __asm__ volatile("movl $10, %%eax\n\t" ARM "1:\tbound %%eax, %0\n2:\tmovl $0, t_resume"
                     : : "m"(bnd) : "eax", "memory");
    expect("bound 10 in [0,10] traps", n0, last.count);
    end();

    begin("ud");
    n0 = last.count;
    __asm__ volatile(ARM "1:\tud2\n2:" : : : "memory");
    expect_trap("ud2", n0, 6, 0, t_fip, SEL_KCODE);
    n0 = last.count;
    __asm__ volatile(ARM "1:\tlock; nop\n2:" : : : "memory");
    expect_trap("lock nop", n0, 6, 0, t_fip, SEL_KCODE);
    end();

    /* Segment loads; each asm restores the register in case the load wrongly succeeds. */
    begin("gp_sel");
    static const struct { uint32_t sel, err; const char *what; } bad[] = {
        { 0x1fb, 0x1f8, "DS <- 0x1fb (beyond GDT limit)" },
        { SEL_TSS, SEL_TSS, "DS <- TSS selector" },
        { SEL_KDATA | 3, SEL_KDATA, "DS <- 0x13 (RPL 3 > DPL 0)" },
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n0 = last.count;
        v = bad[i].sel;
        __asm__ volatile(ARM "1:\tmovw %w0, %%ds\n2:\tmovl $0x10, %0\n\tmovw %w0, %%ds"
                         : "+r"(v) : : "memory");
        expect_trap(bad[i].what, n0, 13, bad[i].err, t_fip, SEL_KCODE);
    }
    n0 = last.count;
    v = SEL_UDATA;
    __asm__ volatile(ARM "1:\tmovw %w0, %%ss\n2:\tmovl $0x10, %0\n\tmovw %w0, %%ss" : "+r"(v) : : "memory");
    expect_trap("SS <- 0x23 (RPL/DPL 3 at CPL 0)", n0, 13, 0x20, t_fip, SEL_KCODE);
    n0 = last.count;
    v = 0;
    __asm__ volatile(ARM "1:\tmovw %w0, %%ss\n2:\tmovl $0x10, %0\n\tmovw %w0, %%ss" : "+r"(v) : : "memory");
    expect_trap("SS <- null", n0, 13, 0, t_fip, SEL_KCODE);
    end();

    begin("np");
    n0 = last.count;
    v = SEL_NP;
    __asm__ volatile(ARM "1:\tmovw %w0, %%ds\n2:\tmovl $0x10, %0\n\tmovw %w0, %%ds" : "+r"(v) : : "memory");
    expect_trap("DS <- not-present", n0, 11, SEL_NP, t_fip, SEL_KCODE);
    n0 = last.count;
    v = SEL_NP;
    __asm__ volatile(ARM "1:\tmovw %w0, %%ss\n2:\tmovl $0x10, %0\n\tmovw %w0, %%ss" : "+r"(v) : : "memory");
    expect_trap("SS <- not-present (#SS)", n0, 12, SEL_NP, t_fip, SEL_KCODE);
    end();
}

/* 2 (cont.): #NM and #MF (SDM vol. 3 6.15); x87 and SSE enabled
 * first, as the loader leaves them off (CR0.EM/TS, CR4.OSFXSR). */
static void test_fpu_exceptions(void)
{
    uint32_t n0, cr0, cr4;
    static const uint16_t cw_zm = 0x37f & ~4u;        /* ZM clear */

    __asm__ volatile("movl %%cr0, %0" : "=r"(cr0));
    cr0 = (cr0 & ~((1u << 2) | (1u << 3))) | (1u << 1) | (1u << 5);   /* EM, TS off; MP, NE on */
    __asm__ volatile("movl %0, %%cr0\n\tfninit" : : "r"(cr0) : "memory");
    __asm__ volatile("movl %%cr4, %0" : "=r"(cr4));
    cr4 |= (1u << 9) | (1u << 10);                    /* OSFXSR, OSXMMEXCPT */
    __asm__ volatile("movl %0, %%cr4" : : "r"(cr4) : "memory");

    begin("nm");
    n0 = last.count;
    __asm__ volatile("movl %%cr0, %%eax\n\torl $8, %%eax\n\tmovl %%eax, %%cr0\n\t"
                     ARM "movl $1f, t_resume\n"
                     "1:\tpxor %%xmm0, %%xmm0\n2:" : : : "eax", "memory");
    expect_trap("pxor with CR0.TS=1", n0, 7, 0, t_fip, SEL_KCODE);
    __asm__ volatile("movl %%cr0, %0" : "=r"(cr0));
    expect("CR0.TS after the handler's clts", 0, cr0 & 8);
    expect("pxor retried without a second #NM", n0 + 1, last.count);
    end();

    begin("mf");
    n0 = last.count;
    fpu_sw = 0;
    __asm__ volatile("fldcw %0\n\tfldz\n\tfld1\n\tfdiv %%st(1), %%st\n\t"
                     ARM "1:\tfwait\n2:\tfninit"
                     : : "m"(cw_zm) : "memory");
    expect_trap("fwait after an unmasked 1/0", n0, 16, 0, t_fip, SEL_KCODE);
    expect("FSW.ZE|ES at #MF", 0x84, fpu_sw & 0x84);
    end();
}

/* 2 (cont.): #XM; needs test_fpu_exceptions' CR4 setup. QEMU 7.2's TCG
 * never raises #XM (an unmasked SSE exception just sets the MXCSR flag),
 * so like test_limits this is opt-in. */
static void test_simd_exception(void)
{
    static const float one = 1.0f, zero = 0.0f;
    static const uint32_t mx_zm = 0x1f80 & ~(1u << 9);   /* ZM clear */
    uint32_t n0;

    begin("xm");
    n0 = last.count;
    fpu_mxcsr = 0;
    __asm__ volatile("ldmxcsr %0\n\tmovss %1, %%xmm0\n\tmovss %2, %%xmm1\n\t"
                     ARM "1:\tdivss %%xmm1, %%xmm0\n2:"
                     : : "m"(mx_zm), "m"(one), "m"(zero) : "memory");
    expect_trap("divss 1/0 with MXCSR.ZM=0", n0, 19, 0, t_fip, SEL_KCODE);
    expect("MXCSR at #XM (ZE set, ZM clear)", mx_zm | 4, fpu_mxcsr);
    uint32_t mx;
    __asm__ volatile("stmxcsr %0" : "=m"(mx));
    expect("MXCSR after the handler", 0x1f80, mx);
    end();
}

static void lim_fill(void)
{
    for (int i = 0; i < 64; i++)
        lim_buf[i] = (uint8_t)i;
}

/* 2 (cont.): limit checks on ordinary accesses. */
static void test_limits(void)
{
    uint32_t n0, got, untouched;
    lim_fill();

    begin("ds_limit");
    n0 = last.count;
    __asm__ volatile(ARM "movl $0xaaaaaaaa, %1\n\tmovl $0x38, %0\n\tmovw %w0, %%ds\n\t"
                     "movl 12, %0\n"
                     "1:\tmovl 13, %1\n2:\tmovl $0x10, %%edx\n\tmovw %%dx, %%ds"
                     : "=&r"(got), "=&r"(untouched) : : "edx", "memory");
    expect("dword at limit-3", 0x0f0e0d0c, got);
    expect("destination of the faulting load", 0xaaaaaaaa, untouched);
    expect_trap("dword at 13 (limit 15)", n0, 13, 0, t_fip, SEL_KCODE);
    n0 = last.count;
    __asm__ volatile(ARM "movl $0x38, %%edx\n\tmovw %%dx, %%es\n"
                     "1:\tmovb $0x55, %%es:16\n2:\tmovl $0x10, %%edx\n\tmovw %%dx, %%es"
                     : : : "edx", "memory");
    expect_trap("byte write at 16 through ES", n0, 13, 0, t_fip, SEL_KCODE);
    expect("byte past the limit unchanged", 16, lim_buf[16]);
    end();

    begin("expand_down");
    n0 = last.count;
    __asm__ volatile(ARM "movl $0xaaaaaaaa, %1\n\tmovl $0x40, %0\n\tmovw %w0, %%ds\n\t"
                     "movl 0x20, %0\n"
                     "1:\tmovl 8, %1\n2:\tmovl $0x10, %%edx\n\tmovw %%dx, %%ds"
                     : "=&r"(got), "=&r"(untouched) : : "edx", "memory");
    expect("dword at 0x20 (above limit 15: valid)", 0x23222120, got);
    expect("destination of the faulting load", 0xaaaaaaaa, untouched);
    expect_trap("dword at 8 (at/below limit: invalid)", n0, 13, 0, t_fip, SEL_KCODE);
    n0 = last.count;
    __asm__ volatile(ARM "movl $0x40, %0\n\tmovw %w0, %%ds\n\t"
                     "1:\tmovl 14, %0\n2:\tmovl $0x10, %%edx\n\tmovw %%dx, %%ds"
                     : "=&r"(got) : : "edx", "memory");
    expect_trap("dword at 14 (straddles the limit)", n0, 13, 0, t_fip, SEL_KCODE);
    end();

    begin("ss_limit");
    uint32_t esp;
    __asm__ volatile("movl %%esp, %0" : "=r"(esp));
    uint32_t units = (esp >> 12) + 2;   /* limit well above the live stack */
    gdt[9] = seg_desc(0, units, 0x92, 0xc);
    uint32_t off = (units + 4) << 12;
    n0 = last.count;
    __asm__ volatile(ARM "movl $0x48, %%edx\n\tmovw %%dx, %%ss\n\t"
                     "movl %%ss:(%%esp), %%edx\n"
                     "1:\tmovl %%ss:(%0), %%edx\n2:\tmovl $0x10, %%edx\n\tmovw %%dx, %%ss"
                     : : "r"(off) : "edx", "memory");
    expect_trap("SS-relative load beyond the SS limit", n0, 12, 0, t_fip, SEL_KCODE);
    end();

    /* REP string instructions check every element (done in C by btvm):
     * the element that crosses the limit faults, ESI/EDI/ECX tell how
     * many were done. */
    begin("string_limit");
    uint32_t di, cx, si;
    lim_fill();
    n0 = last.count;
    __asm__ volatile(ARM "movl $0x38, %%edx\n\tmovw %%dx, %%es\n\tmovl $8, %%edi\n\t"
                     "movl $16, %%ecx\n\tmovb $0xee, %%al\n"
                     "1:\trep stosb\n2:\tmovl $0x10, %%edx\n\tmovw %%dx, %%es"
                     : "=D"(di), "=c"(cx) : : "eax", "edx", "memory");
    expect_trap("rep stosb from 8, 16 bytes (limit 15)", n0, 13, 0, t_fip, SEL_KCODE);
    expect("EDI at the fault", 16, di);
    expect("ECX at the fault", 8, cx);
    expect("bytes 8-15 stored", 0xeeeeeeee, lim_buf[8] | lim_buf[11] << 8 | lim_buf[12] << 16 |
           (uint32_t)lim_buf[15] << 24);
    expect("byte 16 untouched", 16, lim_buf[16]);

    lim_fill();
    static const uint32_t src4[3] = { 0x11111111, 0x22222222, 0x33333333 };
    si = (uint32_t)(uintptr_t)src4;
    n0 = last.count;
    __asm__ volatile(ARM "movl $0x38, %%edx\n\tmovw %%dx, %%es\n\tmovl $6, %%edi\n\t"
                     "movl $3, %%ecx\n"
                     "1:\trep movsl\n2:\tmovl $0x10, %%edx\n\tmovw %%dx, %%es"
                     : "=D"(di), "=c"(cx), "+S"(si) : : "edx", "memory");
    expect_trap("rep movsl to 6, 3 dwords (the third straddles)", n0, 13, 0, t_fip, SEL_KCODE);
    expect("EDI at the fault", 14, di);
    expect("ECX at the fault", 1, cx);
    expect("ESI at the fault", (uint32_t)(uintptr_t)&src4[2], si);
    expect("dword at 10 copied", 0x22222222, lim_buf[10] | lim_buf[11] << 8 | lim_buf[12] << 16 |
           (uint32_t)lim_buf[13] << 24);
    expect("bytes 14-15 untouched", 0x0f0e, lim_buf[14] | lim_buf[15] << 8);

    lim_fill();
    static uint8_t dst8[16];
    di = (uint32_t)(uintptr_t)dst8;
    n0 = last.count;
    __asm__ volatile(ARM "movl $0x38, %%edx\n\tmovw %%dx, %%fs\n\tmovl $10, %%esi\n\t"
                     "movl $10, %%ecx\n"
                     "1:\trep movsb %%fs:(%%esi), %%es:(%%edi)\n2:\tmovl $0x10, %%edx\n\tmovw %%dx, %%fs"
                     : "+D"(di), "=c"(cx), "=S"(si) : : "edx", "memory");
    expect_trap("rep movsb from fs:10, 10 bytes (limit 15)", n0, 13, 0, t_fip, SEL_KCODE);
    expect("ESI at the fault", 16, si);
    expect("ECX at the fault", 4, cx);
    expect("EDI at the fault", (uint32_t)(uintptr_t)dst8 + 6, di);
    expect("bytes copied", 0x0f0e0d0c, dst8[2] | dst8[3] << 8 | dst8[4] << 16 | (uint32_t)dst8[5] << 24);

    lim_fill();
    n0 = last.count;
    __asm__ volatile(ARM "movl $0x40, %%edx\n\tmovw %%dx, %%es\n\tmovl $20, %%edi\n\t"
                     "movl $10, %%ecx\n\tmovb $0x77, %%al\n\tstd\n"
                     "1:\trep stosb\n2:\tcld\n\tmovl $0x10, %%edx\n\tmovw %%dx, %%es"
                     : "=D"(di), "=c"(cx) : : "eax", "edx", "memory", "cc");
    expect_trap("std; rep stosb down from 20 in an expand-down segment (limit 15)", n0, 13, 0,
                t_fip, SEL_KCODE);
    expect("EDI at the fault", 15, di);
    expect("ECX at the fault", 5, cx);
    expect("bytes 16-19 stored", 0x77777777, lim_buf[16] | lim_buf[17] << 8 | lim_buf[18] << 16 |
           (uint32_t)lim_buf[19] << 24);
    expect("byte 15 untouched", 15, lim_buf[15]);
    end();
}

/* Segment register loads: btvm serves repeated ones from a memo of the
 * descriptors it loaded (bt/emit_sreg.c); every load must still see what
 * the GDT holds now: a rewritten base, a cleared accessed bit (set again),
 * a GDT limit that no longer covers the selector. Each load runs several
 * times (the first fills the memo). */
static uint32_t fs_dword0(void)
{
    uint32_t got;
    __asm__ volatile("movl $0x38, %%edx\n\tmovw %%dx, %%fs\n\tmovl %%fs:0, %0\n\t"
                     "movl $0x10, %%edx\n\tmovw %%dx, %%fs" : "=r"(got) : : "edx", "memory");
    return got;
}

/* IRET back to CPL 0 (btvm runs it inline once its CS descriptor is known,
 * bt/emit_iret.c): every flag of the image, DF and the arithmetic ones
 * included, is the one after it; ESP is past the frame. */
static void test_iret_same(void)
{
    begin("iret_same");
    for (int i = 0; i < 6; i++) {
        uint32_t cur, after, esp0, esp1;
        __asm__ volatile("pushfl\n\tpopl %0" : "=r"(cur));
        /* Alternate: all of OF DF SF ZF AF PF CF set, then all clear. */
        uint32_t image = (cur & ~0xcd5u) | (i & 1 ? 0 : 0xcd5u);
        __asm__ volatile("movl %%esp, %2\n\tpushl %3\n\tpushl %4\n\tpushl $1f\n\tiretl\n"
                         "1:\tpushfl\n\tpopl %0\n\tmovl %%esp, %1\n\tcld"
                         : "=&r"(after), "=&r"(esp1), "=&r"(esp0) : "r"(image), "i"(SEL_KCODE) : "memory", "cc");
        expect("flags after iret", image & 0xcd5u, after & 0xcd5u);
        expect("ESP after iret", esp0, esp1);
    }
    end();
}

static void test_sreg_reload(void)
{
    struct __attribute__((packed)) { uint16_t limit; uint32_t base; } gd;
    uint32_t n0;
    lim_fill();
    begin("sreg_reload");
    for (int i = 0; i < 3; i++)
        expect("fs:0 through SEL_SMALL", 0x03020100, fs_dword0());
    gdt[SEL_SMALL >> 3] = seg_desc((uint32_t)(uintptr_t)lim_buf + 4, 15, 0x92, 0x4);
    for (int i = 0; i < 3; i++)
        expect("fs:0 after the descriptor's base moved by 4", 0x07060504, fs_dword0());
    gdt[SEL_SMALL >> 3] = seg_desc((uint32_t)(uintptr_t)lim_buf, 15, 0x92, 0x4);
    for (int i = 0; i < 3; i++) {
        expect("fs:0 with the base back", 0x03020100, fs_dword0());
        gdt[SEL_SMALL >> 3] &= ~(1ull << 40);
        expect("fs:0 after clearing the accessed bit", 0x03020100, fs_dword0());
        expect("accessed bit set again by the load", 1, (uint32_t)(gdt[SEL_SMALL >> 3] >> 40) & 1);
    }
    /* A GDT limit below the selector: #GP(selector), FS unchanged. */
    for (int i = 0; i < 3; i++) {
        uint32_t fs;
        gd.limit = SEL_SMALL - 1;
        gd.base = (uint32_t)(uintptr_t)gdt;
        n0 = last.count;
        __asm__ volatile("lgdt %1\n\tmovl $0x38, %%edx\n\t" ARM "1:\tmovw %%dx, %%fs\n2:\tmovw %%fs, %w0"
                         : "=r"(fs) : "m"(gd) : "edx", "memory");
        gd.limit = sizeof(gdt) - 1;
        __asm__ volatile("lgdt %0" : : "m"(gd) : "memory");
        expect_trap("mov fs, 0x38 past the GDT limit", n0, 13, SEL_SMALL, t_fip, SEL_KCODE);
        expect("FS after the faulting load", SEL_KDATA, fs & 0xffff);
        expect("fs:0 with the limit back", 0x03020100, fs_dword0());
    }
    /* A null selector in FS: loads, and (limits run) faults on use. */
    for (int i = 0; i < 3; i++) {
        uint32_t fs = 1;
        __asm__ volatile("xorl %%edx, %%edx\n\tmovw %%dx, %%fs\n\tmovw %%fs, %w0\n\t"
                         "movl $0x10, %%edx\n\tmovw %%dx, %%fs" : "=r"(fs) : : "edx", "memory");
        expect("FS after loading a null selector", 0, fs & 0xffff);
        if (opt_limits) {
            n0 = last.count;
            __asm__ volatile("xorl %%edx, %%edx\n\tmovw %%dx, %%fs\n\t" ARM "1:\tmovl %%fs:0, %%edx\n2:\t"
                             "movl $0x10, %%edx\n\tmovw %%dx, %%fs" : : : "edx", "memory");
            expect_trap("fs:0 through a null FS", n0, 13, 0, t_fip, SEL_KCODE);
        }
    }
    end();
}

static uint32_t c16(unsigned off)
{
    uint32_t v;
    memcpy(&v, c16_data + off, 4);
    return v;
}

/* 3: 16-bit code and a 16-bit (B=0) stack, reached by a 32-bit far call. */
static void test_code16(void)
{
    const uint32_t hi = C16_ESP_HI, sp0 = C16_SP0;
    begin("code16");
    gdt[SEL_CODE16 >> 3] = seg_desc((uint32_t)(uintptr_t)c16_start, 0xffff, 0x9a, 0);
    gdt[SEL_STACK16 >> 3] = seg_desc((uint32_t)(uintptr_t)c16_stack, 0xffff, 0x92, 0);
    gdt[SEL_DATA16 >> 3] = seg_desc((uint32_t)(uintptr_t)c16_data, 0xffff, 0x92, 0);
    uint32_t esp0, esp1;
    __asm__ volatile("movl %%esp, %0" : "=r"(esp0));
    code16_run();
    __asm__ volatile("movl %%esp, %0" : "=r"(esp1));
    expect("ESP after the round trip", esp0, esp1);
    expect("routine finished", 0xc0de, c16(C16_DONE) & 0xffff);
    expect("pushed EIP (32-bit lcall)", (uint32_t)(uintptr_t)c16_ret32, c16(C16_ENTRY_EIP));
    expect("pushed CS (32-bit slot)", SEL_KCODE, c16(C16_ENTRY_CS) & 0xffff);
    expect("CS in the routine", SEL_CODE16, c16(C16_CS) & 0xffff);
    expect("SS in the routine", SEL_STACK16, c16(C16_SS) & 0xffff);
    expect("saved SS", SEL_KDATA, c16(C16_OLD_SS) & 0xffff);

    expect("push ax; pop bx", 0x1234, c16(C16_PUSH_BX));
    expect("SP change of push ax", 2, c16(C16_PUSH_DELTA));
    expect("push imm16; pop cx", 0x5678, c16(C16_PUSH_IMM16));
    expect("push imm8 -2; pop dx", 0xfffe, c16(C16_PUSH_IMM8));
    expect("ESP after push/pop (ESP[31:16] kept)", hi + sp0, c16(C16_ESP_PUSH));
    expect("near call: return IP", c16(C16_CALL_EXP), c16(C16_CALL_RET));
    expect("near call: argument at [bp+2]", 0x7777, c16(C16_CALL_ARG));
    expect("ESP in the callee", hi + sp0 - 4, c16(C16_ESP_CALLEE));
    expect("ESP after ret $2", hi + sp0, c16(C16_ESP_RET2));
    expect("loop iterations (CX = 5)", 5, c16(C16_LOOP_N));
    expect("ECX after loop (CX only)", 0xabcd0000, c16(C16_LOOP_ECX));
    expect("jcxz with CX = 0, ECX = 0x10000 taken", 1, c16(C16_JCXZ0));
    expect("jcxz with CX = 1 taken", 0, c16(C16_JCXZ1));
    expect("[bx+si+0x104]", 0x4321, c16(C16_BXSI));
    expect("[bx+si+0x104] wrapping at 64 KiB", 0x4321, c16(C16_BXSI_WRAP));
    expect("[bp+di] (SS)", 0xbbbb, c16(C16_BPDI));
    expect("[bx+di] (DS)", 0xaaaa, c16(C16_BXDI));
    expect("ds:[bp+di]", 0xaaaa, c16(C16_BPDI_DS));
    expect("SS write through the 16-bit stack segment", 0xbbbb,
           c16_stack[C16_SAME] | (uint32_t)c16_stack[C16_SAME + 1] << 8);
    expect("lea 0x10(bx,si), ax (wraps)", 0x18, c16(C16_LEA16));
    expect("lea 0x10(bx,si), eax (zero-extended)", 0x18, c16(C16_LEA32));
    expect("ESI after rep movsb", 0x55550000 + C16_SRC + 8, c16(C16_MOVS_ESI));
    expect("EDI after rep movsb", 0x66660000 + C16_DST + 8, c16(C16_MOVS_EDI));
    expect("ECX after rep movsb", 0x77770000, c16(C16_MOVS_ECX));
    if (memcmp(c16_data + C16_DST, "16bit ok", 8) || c16_data[C16_DST + 8])
        fail("rep movsb: destination not the 8 source bytes");
    expect("enter $4,$0: SP change", 6, c16(C16_ENTER_DELTA));
    expect("enter $4,$0: BP", sp0 - 2, c16(C16_ENTER_BP));
    expect("enter $4,$0: ss:[bp] = old BP", 0x5a5a, c16(C16_ENTER_OLDBP));
    expect("leave: ESP", hi + sp0, c16(C16_LEAVE_ESP));
    expect("leave: BP", 0x5a5a, c16(C16_LEAVE_BP));
    expect("enter $2,$1: SP change", 6, c16(C16_ENTER1_DELTA));
    expect("enter $2,$1: BP", sp0 - 2, c16(C16_ENTER1_BP));
    expect("enter $2,$1: ss:[bp-2] = frame pointer", sp0 - 2, c16(C16_ENTER1_FRAME));
    expect("leave (level 1): ESP", hi + sp0, c16(C16_LEAVE1_ESP));
    expect("pushf: SP change", 2, c16(C16_PUSHF_DELTA));
    expect("pusha: SP change", 16, c16(C16_PUSHA_DELTA));
    expect("pusha: stored SP", sp0, c16(C16_PUSHA_SP));
    expect("ESP after popa", hi + sp0, c16(C16_POPA_ESP));
    expect("push at SP 0: ESP (SP wraps to 0xfffe)", hi + 0xfffe, c16(C16_WRAP_ESP));
    expect("push at SP 0: ss:[0xfffe]", 0xbeef, c16(C16_WRAP_VAL));
    expect("pop at SP 0xfffe", 0xbeef, c16(C16_WRAP_POP));
    expect("ESP after the pop (SP wraps to 0)", hi, c16(C16_WRAP_ESP2));
    for (unsigned i = 0; i < sizeof(c16_guard); i++)
        if (c16_guard[i]) {
            fail("16 bytes below the 16-bit stack written");
            break;
        }
    end();
}

int guest_main(uint32_t magic, uint32_t mbi)
{
    report_suite("systest");
    gprintf("systest: start (magic %x)\n", magic);
    test_setup();
    test_cpl0_exceptions();
    test_fpu_exceptions();
    /* Opt-in: QEMU TCG, the reference, does not enforce data segment
     * limits, so these SDM-derived checks are not part of the default run. */
    opt_limits = cmdline_has(magic, mbi, "limits");
    if (opt_limits)
        test_limits();
    test_sreg_reload();
    test_iret_same();
    if (cmdline_has(magic, mbi, "xm"))
        test_simd_exception();
    run_ring3_tests();
    run_rtc_test();
    run_irq_tests();
    test_code16();
    return report_failures();
}
