/*
 * guests/realtest/realtest.c — real mode, big real mode, 16-bit protected
 * mode, the switches between them, and virtual-8086 mode (docs/cpu.md,
 * docs/translation.md §8a).
 *
 * The guest starts in flat 32-bit protected mode (Multiboot), builds its
 * own GDT (with 16-bit segments and a TSS whose I/O bitmap allows port 0x80
 * only), IDT and PIC/PIT setup, copies the 16-bit code of rm.S below 1 MiB
 * and runs it: rm_run() goes through 16-bit protected mode into real mode,
 * where every case stores its results at RES_PHYS, and comes back; the
 * checks below compare them with what the SDM says. Then v86_run() enters
 * v8086 mode twice (IOPL 0 and 3) with v86_trap() as the ring-0 monitor,
 * which logs every event it gets and emulates CLI/STI/INT/PUSHF/POPF/IRET
 * and the denied IN; at IOPL 3 the PIT interrupts v8086 code too. Lines "realtest: <case> ok" / "... FAIL ...", then
 * "realtest: N failures"; the exit status is the failure count.
 */
#include "guest.h"
#include "report.h"
#include "realtest.h"

extern const uint8_t rm_start[], rm_end[];
void rm_run(void);
void v86_run(uint32_t eflags);
void v86_gp(void), v86_int3(void), v86_int30(void), v86_irq0(void), pm_unexpected(void);

/* Read by rm.S in big real mode through FS above 1 MiB. */
volatile uint32_t big_magic[2] = { 0xCAFEF00Du, 0 };

struct __attribute__((packed)) dtr { uint16_t limit; uint32_t base; };
struct dtr idt_desc;                 /* rm.S reloads it on the way back */
static struct dtr gdt_desc;
static uint64_t gdt[7] __attribute__((aligned(8)));
static uint64_t idt[256] __attribute__((aligned(8)));

/* 32-bit TSS (SDM vol. 3 7.2.1) with a full I/O bitmap and its 0xFF end. */
static struct __attribute__((packed, aligned(8))) {
    uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
    uint32_t gpr[8], seg[6], ldt;
    uint16_t trap, iomap;
    uint8_t bitmap[8192 + 1];
} tss;
static uint8_t ring0_stack[8192] __attribute__((aligned(16)));
uint8_t unexpected_stack[4096] __attribute__((aligned(16)));
__asm__(".globl unexpected_stack_top\n .set unexpected_stack_top, unexpected_stack + 4096");

static uint64_t seg_desc(uint32_t base, uint32_t limit, uint32_t type, uint32_t flags)
{
    return (limit & 0xFFFFull) | ((uint64_t)(base & 0xFFFFFF) << 16) | ((uint64_t)type << 40) |
           ((uint64_t)((limit >> 16) & 0xF) << 48) | ((uint64_t)flags << 52) |
           ((uint64_t)(base >> 24) << 56);
}

static uint64_t gate(void (*fn)(void), unsigned dpl)
{
    uint32_t off = (uint32_t)(uintptr_t)fn;
    return (off & 0xFFFF) | ((uint64_t)SEL_CODE32 << 16) | ((uint64_t)(0x8E | dpl << 5) << 40) |
           ((uint64_t)(off >> 16) << 48);
}

void unexpected(void) __attribute__((noreturn));
void unexpected(void)
{
    gprintf("realtest: unexpected exception or interrupt in protected mode (in %s)\n",
            report_current());
    guest_exit(99);
}

static void setup(void)
{
    gdt[0] = 0;
    gdt[SEL_CODE32 / 8] = seg_desc(0, 0xFFFFF, 0x9A, 0xC);
    gdt[SEL_DATA32 / 8] = seg_desc(0, 0xFFFFF, 0x92, 0xC);
    gdt[SEL_CODE16 / 8] = seg_desc(RM_PHYS, 0xFFFF, 0x9A, 0x0);
    gdt[SEL_DATA16 / 8] = seg_desc(0, 0xFFFF, 0x92, 0x0);
    gdt[SEL_RES16 / 8] = seg_desc(RES_PHYS, 0xFFFF, 0x92, 0x0);
    gdt[SEL_TSS / 8] = seg_desc((uint32_t)(uintptr_t)&tss, sizeof(tss) - 1, 0x89, 0x0);
    gdt_desc.limit = sizeof(gdt) - 1;
    gdt_desc.base = (uint32_t)(uintptr_t)gdt;
    for (int i = 0; i < 256; i++)
        idt[i] = gate(pm_unexpected, 0);
    idt[3] = gate(v86_int3, 3);
    idt[13] = gate(v86_gp, 0);
    idt[0x30] = gate(v86_int30, 3);
    idt[PIC_BASE] = gate(v86_irq0, 0);
    idt_desc.limit = sizeof(idt) - 1;
    idt_desc.base = (uint32_t)(uintptr_t)idt;
    memset(&tss, 0, sizeof(tss));
    tss.ss0 = SEL_DATA32;
    tss.esp0 = (uint32_t)(uintptr_t)(ring0_stack + sizeof(ring0_stack));
    tss.iomap = (uint16_t)__builtin_offsetof(__typeof__(tss), bitmap);
    memset(tss.bitmap, 0xFF, sizeof(tss.bitmap));
    tss.bitmap[0x80 / 8] &= (uint8_t)~(1u << (0x80 % 8));
    __asm__ volatile("lgdt %0\n\t"
                     "ljmp %1, $1f\n"
                     "1:\n\t"
                     "movw %w2, %%ds\n\tmovw %w2, %%es\n\tmovw %w2, %%fs\n\t"
                     "movw %w2, %%gs\n\tmovw %w2, %%ss\n\t"
                     "lidt %3\n\t"
                     "ltr %w4"
                     : : "m"(gdt_desc), "i"(SEL_CODE32), "r"(SEL_DATA32), "m"(idt_desc),
                         "r"(SEL_TSS) : "memory");
    /* 8259A pair: IRQ 0-7 at PIC_BASE, 8-15 at PIC_BASE + 8, all masked. */
    outb(0x20, 0x11); outb(0xA0, 0x11);
    outb(0x21, PIC_BASE); outb(0xA1, PIC_BASE + 8);
    outb(0x21, 4); outb(0xA1, 2);
    outb(0x21, 1); outb(0xA1, 1);
    outb(0x21, 0xFF); outb(0xA1, 0xFF);
    /* PIT channel 0: rate generator at 1 kHz. */
    outb(0x43, 0x34);
    outb(0x40, 1193 & 0xFF);
    outb(0x40, 1193 >> 8);
}

static uint16_t r16(unsigned off) { return *(volatile uint16_t *)(uintptr_t)(RES_PHYS + off); }
static uint32_t r32(unsigned off) { return *(volatile uint32_t *)(uintptr_t)(RES_PHYS + off); }

#define FL_ARITH 0x8D5u

static void check_real_mode(void)
{
    begin("enter");
    expect("magic", RES_MAGIC, r16(R_MAGIC));
    expect("CR0.PE in real mode", 0, r32(R_CR0) & 1);
    expect("16-bit PM store", 0x1616, r16(R_PM16));
    expect("16-bit PM CS", SEL_CODE16, r16(R_PM16_CS));
    end();

    begin("arith");
    expect("add ax", 0x8000, r16(R_ADD_AX));
    expect("add flags", 0x894, r16(R_ADD_FL) & FL_ARITH);
    expect("sub ax", 0xFFFF, r16(R_SUB_AX));
    expect("sub flags", 0x095, r16(R_SUB_FL) & FL_ARITH);
    expect("adc ax", 0, r16(R_ADC_AX));
    expect("adc flags", 0x055, r16(R_ADC_FL) & FL_ARITH);
    expect("mul ax", 0x3400, r16(R_MUL_AX));
    expect("mul dx", 0x0012, r16(R_MUL_DX));
    expect("mul CF/OF", 0x801, r16(R_MUL_FL) & 0x801);
    expect("div ax", 0x5555, r16(R_DIV_AX));
    expect("div dx", 1, r16(R_DIV_DX));
    expect("imul ax", 0xFFEB, r16(R_IMUL_AX));
    expect("imul dx", 0xFFFF, r16(R_IMUL_DX));
    expect("imul CF/OF", 0, r16(R_IMUL_FL) & 0x801);
    expect("shl ax", 2, r16(R_SHL_AX));
    expect("shl flags", 0x801, r16(R_SHL_FL) & 0x8C5);
    expect("PUSHFD image (CF, bit 1; no VM, RF)", 0x3, r32(R_PUSHFD) & 0x30003);
    expect("POPFD", 0x8D7, r32(R_POPFD) & 0x308D7);
    expect("32-bit add", 0x23456789, r32(R_ADD32));
    expect("32-bit address", RES_MAGIC, r16(R_ADDR32));
    end();

    begin("wrap");
    expect("offset FFFF+3 wraps to 2", 0xABCD, r16(R_WRAP_OFF));
    expect("nothing at 10002", 0, r16(R_WRAP_HI));
    expect("SP after push from 0", 0xFFFE, r16(R_SP_PUSH));
    expect("4000:0010 = 4001:0000", 0x5AA5, r16(R_ALIAS));
    end();

    begin("far");
    expect("CS in far-called routine", RM_CS + 0x10, r16(R_FAR_CS));
    expect("CS after RETF", RM_CS, r16(R_FAR_CS2));
    expect("CS via CALL m16:16", RM_CS, r16(R_FAR_IND));
    expect("SP over CALLF/RETF 2", 0, r16(R_FAR_SP));
    expect("CS after far JMP", RM_CS + 0x10, r16(R_FAR_JMP));
    expect("SP over 32-bit CALLF/RETFD", 0, r16(R_FAR32));
    end();

    begin("ivt_int");
    expect("IF/TF in handler", 0, r16(R_INT_FL) & 0x300);
    expect("pushed FLAGS.IF", 0x200, r16(R_INT_PUSHFL) & 0x200);
    expect("pushed CS", RM_CS, r16(R_INT_CS));
    expect("pushed IP", r16(R_INT_IPWANT), r16(R_INT_IP));
    expect("AX after IRET", 0x4040, r16(R_INT_RET));
    end();

    begin("ivt_exceptions");
    expect("#DE taken", 1, r16(R_DE_N));
    expect("#DE IP (the DIV)", r16(R_DE_IPWANT), r16(R_DE_IP));
    expect("INT3", 1, r16(R_BP_N));
    expect("INTO with OF=1 only", 1, r16(R_OF_N));
    expect("#UD for LAR SLDT ARPL", 3, r16(R_UD_N));
    end();

    begin("ivt_irq");
    if (r16(R_IRQ_N) < 3)
        fail("PIT interrupts through the IVT: %u", r16(R_IRQ_N));
    expect("pushed FLAGS.IF", 0x200, r16(R_IRQ_FL) & 0x200);
    end();

    begin("smc");
    expect("before patching", 0x1111, r16(R_SMC1));
    expect("patched in the running block", 0x2222, r16(R_SMC2));
    expect("patched through 0000:alias", 0x4444, r16(R_SMC3));
    end();

    begin("big_real");
    expect("FS:[ESI] above 1 MiB", 0xCAFEF00D, r32(R_BIG1));
    expect("after MOV FS in real mode", 0xCAFEF00D, r32(R_BIG2));
    expect("write through FS", 0x5A5A5A5A, big_magic[1]);
    end();

    begin("mode_switch");
    expect("16-bit PM from real mode", 0x1617, r16(R_PM16B));
    expect("real mode again", 0x8086, r16(R_BACK));
    expect("done", 0xD0E, r16(R_DONE));
    end();
}

/* ---- v8086 monitor ---- */
struct v86_frame {
    uint32_t entry_ds;
    uint32_t edi, esi, ebp, esp0, ebx, edx, ecx, eax;
    uint32_t vec, err, eip, cs, eflags, esp, ss, es, ds, fs, gs;
};

#define LOG_MAX 16
static uint32_t v86_log[LOG_MAX];
static int v86_n, v86_bad_frame;

static uint8_t *lin(uint32_t seg, uint32_t off) { return (uint8_t *)(uintptr_t)((seg << 4) + (off & 0xFFFF)); }

/* Returns 1 to leave v8086 mode. */
int v86_trap(struct v86_frame *f);
int v86_trap(struct v86_frame *f)
{
    if (!(f->eflags & 0x20000))
        unexpected();
    if (f->entry_ds != 0 || f->ds != RES_SEG || f->es != SCRATCH_SEG || f->ss != V86_SS ||
        f->cs != RM_CS)
        v86_bad_frame++;
    uint8_t op = *lin(f->cs, f->eip);
    if (f->vec == PIC_BASE) {
        (*(volatile uint16_t *)(uintptr_t)(RES_PHYS + R_V86_IRQ))++;
        outb(0x20, 0x20);
        return 0;
    }
    if (v86_n < LOG_MAX)
        v86_log[v86_n++] = f->vec << 8 | (f->vec == 13 ? op : 0);
    if (f->vec != 13)
        return 0;
    switch (op) {
    case 0xFA: f->eflags &= ~0x200u; f->eip += 1; return 0;   /* CLI: a virtual IF would go here */
    case 0xFB: f->eip += 1; return 0;                          /* STI */
    case 0xCD: f->eip += 2; return 0;                          /* INT n: not reflected */
    case 0xE4: f->eax |= 0xFF; f->eip += 2; return 0;         /* IN AL, imm8: floating bus */
    case 0x9C:                                                 /* PUSHF */
        f->esp = (f->esp & ~0xFFFFu) | ((f->esp - 2) & 0xFFFF);
        *(uint16_t *)lin(f->ss, f->esp) = (uint16_t)f->eflags;
        f->eip += 1;
        return 0;
    case 0x9D:                                                 /* POPF: IF would be virtual */
        f->esp = (f->esp & ~0xFFFFu) | ((f->esp + 2) & 0xFFFF);
        f->eip += 1;
        return 0;
    case 0xCF: {                                               /* IRET */
        uint16_t *sp = (uint16_t *)lin(f->ss, f->esp);
        f->eip = sp[0];
        f->cs = sp[1];
        f->esp = (f->esp & ~0xFFFFu) | ((f->esp + 6) & 0xFFFF);
        return 0;
    }
    case 0xF4: return 1;                                       /* HLT: the end */
    default: return 1;
    }
}

static void check_v86(const char *name, uint32_t iopl, const uint32_t *want, int nwant)
{
    begin(name);
    v86_n = 0;
    v86_bad_frame = 0;
    *(volatile uint16_t *)(uintptr_t)(RES_PHYS + R_V86_MARK) = 0;
    *(volatile uint16_t *)(uintptr_t)(RES_PHYS + R_V86_OUT) = 0;
    *(volatile uint16_t *)(uintptr_t)(RES_PHYS + R_V86_DONE) = 0;
    *(volatile uint16_t *)(uintptr_t)(RES_PHYS + R_V86_IRET) = 0;
    *(volatile uint16_t *)(uintptr_t)(RES_PHYS + R_V86_IRQ) = 0;
    *(volatile uint16_t *)(uintptr_t)(RES_PHYS + R_V86_WANTIRQ) = iopl == 3;
    if (iopl == 3)
        outb(0x21, 0xFE); /* PIT IRQ 0 while in v8086 mode */
    v86_run(0x20002u | iopl << 12);
    outb(0x21, 0xFF);
    expect("v8086 store", 0x8686, r16(R_V86_MARK));
    expect("OUT 80h allowed by the bitmap", 1, r16(R_V86_OUT));
    expect("reached the end", 0xD0E, r16(R_V86_DONE));
    expect("frames (DS zeroed, v8086 segments pushed)", 0, v86_bad_frame);
    expect("events", nwant, v86_n);
    for (int i = 0; i < nwant && i < v86_n; i++)
        expect("event", want[i], v86_log[i]);
    expect("IRET inside v8086 mode", 1, r16(R_V86_IRET));
    if (iopl == 3) {
        expect("PUSHF image IOPL", 0x3000, r16(R_V86_PF) & 0x3000);
        expect("POPF sets IF, keeps IOPL", 0x3200, r16(R_V86_PF2) & 0x3200);
        if (r16(R_V86_IRQ) < 2)
            fail("PIT interrupts from v8086 mode: %u", r16(R_V86_IRQ));
    }
    end();
}

/* Is word on the Multiboot command line? */
int guest_main(uint32_t magic, uint32_t mbi)
{
    report_suite("realtest");
    setup();
    memcpy((void *)RM_PHYS, rm_start, (size_t)(rm_end - rm_start));
    memset((void *)RES_PHYS, 0, 0x100);
    int limits = cmdline_has(magic, mbi, "limits");
    *(volatile uint16_t *)(uintptr_t)(RES_PHYS + R_WANT_LIMIT) = (uint16_t)limits;
    rm_run();
    outb(0x21, 0xFF);
    check_real_mode();
    if (limits) {
        begin("real_limit");
        expect("#GP for a word at DS:FFFF, then IP past FFFF", 2, r16(R_GP_N));
        expect("#GP IP (the MOV)", r16(R_GP_IPWANT), r16(R_GP_IP1));
        expect("went on after FS:FFFF (4 GiB limit)", 1, r16(R_LIMIT_DONE));
        expect("#GP IP (the instruction crossing FFFF)", 0xFFFE, r16(R_GP_IP));
        expect("back from 5000:0001", 1, r16(R_IPWRAP));
        end();
    }

    /* IOPL 0: CLI, STI, INT 30h, the denied IN, PUSHF and HLT reach the
     * monitor as #GP; INT3 goes through the IDT (not IOPL-sensitive). */
    static const uint32_t iopl0[] = { 0xDFA, 0xDFB, 0xDCD, 0xDE4, 0x300, 0xD9C, 0xD9D, 0xD9C, 0xD9C,
                                      0xDCF, 0xDFA, 0xDF4 };
    check_v86("v86_iopl0", 0, iopl0, 12);
    /* IOPL 3: INT 30h goes to its DPL 3 gate; the bitmap still denies IN;
     * PUSHF, POPF, IRET, STI run; the PIT interrupts v8086 code. */
    static const uint32_t iopl3[] = { 0x3000, 0xDE4, 0x300, 0xDF4 };
    check_v86("v86_iopl3", 3, iopl3, 4);
    return report_failures();
}
