/*
 * guests/popek/popek.c — the Popek–Goldberg probe guest. It builds its own
 * GDT (ring 0 and ring 3 code/data, a TSS, an LDT), IDT (every vector, with
 * int 0x80 as a DPL-3 gate) and TR/LDTR, then runs every x86 instruction
 * that is sensitive but does not trap at CPL 3 — first at CPL 0, then at
 * CPL 3 — and prints one machine-readable `popek:` line per instruction and
 * CPL. `btvm popek` and tests/guest/popek.sh parse these lines; the format
 * is described in docs/popek.md. Ring 3 cannot do port I/O (IOPL 0), so
 * both passes only store results and ring 0 prints them afterwards.
 */
#include "guest.h"

/* "lar-masked": print LAR results with limit bits 19:16 cleared, as the
 * CPU below gives them (QEMU TCG, also under KVM nested on it). */
static uint32_t lar_mask = 0xffffffffu;

#define KCODE 0x08
#define KDATA 0x10
#define UCODE 0x1b
#define UDATA 0x23
#define TSSSEL 0x28
#define LDTSEL 0x30
#define LDTDATA 0x07          /* LDT entry 0, TI=1, RPL 3 */
#define EFL_IF 0x200u
#define EFL_IOPL 0x3000u

struct popek_frame {          /* as built by isr_common in trap.S */
    uint32_t es, ds, edi, esi, ebp, esp0, ebx, edx, ecx, eax;
    uint32_t vec, err, eip, cs, eflags, uesp, uss;
};

struct dtr {
    uint16_t limit;
    uint32_t base;
} __attribute__((packed));

struct farptr {
    uint32_t off;
    uint16_t sel;
} __attribute__((packed));

/* Selectors VERR/VERW are tried on: user data, kernel data, LDT data, TSS. */
static const uint16_t vsel[4] = { UDATA, KDATA, LDTDATA, TSSSEL };

struct res {
    struct dtr gdt, idt;
    uint32_t ldt, tr, msw_reg;
    uint16_t msw_mem;
    uint32_t pushf, popf_before, popf_after, iret_after;
    uint32_t cs, lar[2], lar_zf[2], lsl, lsl_zf;
    uint8_t verr[4], verw[4];
    uint32_t push_cs, mov_cs, mov_ss, far_cs;
    uint32_t int_cs, int_handler_cs, int_ss;
    int done;
};

void popek_run_user(void (*fn)(void), uint32_t user_esp, uint32_t eflags);
void popek_user_return(void) __attribute__((noreturn));
void popek_far_target(void);
void popek_trap(struct popek_frame *f);
extern char popek_isr_stubs[];

static uint64_t gdt[7] __attribute__((aligned(8)));
static uint64_t ldt[1] __attribute__((aligned(8)));
static uint64_t idt[256] __attribute__((aligned(8)));
static uint32_t tss[26] __attribute__((aligned(8)));   /* 104-byte 32-bit TSS */
static uint8_t ring0_stack[8192] __attribute__((aligned(16)));
static uint8_t ring3_stack[16384] __attribute__((aligned(16)));
static struct res res[2];
static volatile uint32_t user_fault_vec = 0xffffffffu, user_fault_eip, user_fault_err;

static uint64_t seg_desc(uint32_t base, uint32_t limit, uint32_t access, uint32_t flags)
{
    uint64_t d = (limit & 0xffffu) | ((uint64_t)(base & 0xffffffu) << 16);
    d |= (uint64_t)(access & 0xffu) << 40;
    d |= (uint64_t)((limit >> 16) & 0xfu) << 48;
    d |= (uint64_t)(flags & 0xfu) << 52;
    d |= (uint64_t)(base >> 24) << 56;
    return d;
}

static void set_gate(int v, uint32_t handler, unsigned dpl)
{
    /* 32-bit interrupt gate (type 0xE): IF is cleared on entry. */
    idt[v] = (handler & 0xffffu) | ((uint64_t)KCODE << 16) |
             ((uint64_t)(0x8e | (dpl << 5)) << 40) | ((uint64_t)(handler >> 16) << 48);
}

static void setup(void)
{
    /* Accessed bits preset (0x9b/0x93) so no model has to set them. */
    gdt[1] = seg_desc(0, 0xfffff, 0x9b, 0xc);               /* ring-0 code */
    gdt[2] = seg_desc(0, 0xfffff, 0x93, 0xc);               /* ring-0 data */
    gdt[3] = seg_desc(0, 0xfffff, 0xfb, 0xc);               /* ring-3 code */
    gdt[4] = seg_desc(0, 0xfffff, 0xf3, 0xc);               /* ring-3 data */
    gdt[5] = seg_desc((uint32_t)tss, sizeof(tss) - 1, 0x89, 0); /* 32-bit TSS */
    gdt[6] = seg_desc((uint32_t)ldt, sizeof(ldt) - 1, 0x82, 0); /* LDT */
    ldt[0] = seg_desc(0, 0xfffff, 0xf3, 0xc);               /* ring-3 data */
    tss[1] = (uint32_t)(ring0_stack + sizeof(ring0_stack));  /* ESP0 */
    tss[2] = KDATA;                                         /* SS0 */
    tss[25] = sizeof(tss) << 16;    /* I/O map base past the limit: no bitmap */
    for (int v = 0; v < 256; v++)
        set_gate(v, (uint32_t)popek_isr_stubs + 16u * v, v == 0x80 ? 3 : 0);

    struct dtr g = { sizeof(gdt) - 1, (uint32_t)gdt };
    struct dtr i = { sizeof(idt) - 1, (uint32_t)idt };
    __asm__ volatile("lgdt %0\n\t"
                     "ljmp %1, $1f\n"
                     "1:\tmovl %2, %%eax\n\t"
                     "movl %%eax, %%ds\n\tmovl %%eax, %%es\n\tmovl %%eax, %%ss\n\t"
                     "xorl %%eax, %%eax\n\tmovl %%eax, %%fs\n\tmovl %%eax, %%gs\n\t"
                     "lidt %3\n\t"
                     "lldt %w4\n\t"
                     "ltr %w5"
                     : : "m"(g), "i"(KCODE), "i"(KDATA), "m"(i), "r"(LDTSEL), "r"(TSSSEL)
                     : "eax", "memory");
    /* CR0: set MP and NE (FPU monitoring / native FPU errors) so SMSW has
     * more than PE to show. */
    uint32_t cr0;
    __asm__ volatile("movl %%cr0, %0" : "=r"(cr0));
    cr0 |= 0x22;
    __asm__ volatile("movl %0, %%cr0" : : "r"(cr0));
    /* Mask both PICs: ring 3 runs with IF=1 and must not take IRQs. */
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
}

void popek_trap(struct popek_frame *f)
{
    if (f->vec == 0x80) {
        if (f->eax == 1 && (f->cs & 3) == 3)
            popek_user_return();                /* ring 3 is done */
        if (f->eax == 2) {                      /* probe: report the frame */
            uint32_t cs;
            __asm__ volatile("movl %%cs, %0" : "=r"(cs));
            f->eax = f->cs & 0xffff;
            f->ebx = cs;
            f->ecx = (f->cs & 3) ? (f->uss & 0xffff) : 0;
        }
        return;
    }
    if (f->vec >= 32) {                         /* stray IRQ: acknowledge */
        outb(0xa0, 0x20);
        outb(0x20, 0x20);
        return;
    }
    if ((f->cs & 3) == 3) {                     /* #GP/#UD/... in ring 3 */
        user_fault_vec = f->vec;
        user_fault_eip = f->eip;
        user_fault_err = f->err;
        popek_user_return();
    }
    gprintf("popek: fault cpl=0 vector=%u error=0x%x eip=0x%08x\n", f->vec, f->err, f->eip);
    guest_exit(3);
}

/* Everything below runs unchanged at CPL 0 and CPL 3. */
static void measure(struct res *r)
{
    uint32_t t, zf;

    __asm__ volatile("sgdt %0" : "=m"(r->gdt));
    __asm__ volatile("sidt %0" : "=m"(r->idt));
    __asm__ volatile("sldt %0" : "=r"(r->ldt));
    __asm__ volatile("str %0" : "=r"(r->tr));
    __asm__ volatile("smsw %0" : "=r"(r->msw_reg));
    __asm__ volatile("smsw %0" : "=m"(r->msw_mem));

    /* PUSHF after an ADD that clears every arithmetic flag (1+1). */
    __asm__ volatile("movl $1, %%eax\n\taddl %%eax, %%eax\n\tpushfl\n\tpopl %0"
                     : "=r"(r->pushf) : : "eax", "cc");

    /* POPF: set IF where allowed, then try IF 1->0 and IOPL 0->3. */
    __asm__ volatile("pushfl\n\tpopl %%ecx\n\t"
                     "pushfl\n\torl %3, (%%esp)\n\tpopfl\n\t"
                     "pushfl\n\tpopl %0\n\t"
                     "pushfl\n\tandl %4, (%%esp)\n\torl %5, (%%esp)\n\tpopfl\n\t"
                     "pushfl\n\tpopl %1\n\t"
                     "pushl %%ecx\n\tpopfl"
                     : "=r"(r->popf_before), "=r"(r->popf_after), "=m"(t)
                     : "i"(EFL_IF), "i"(~EFL_IF), "i"(EFL_IOPL)
                     : "ecx", "cc", "memory");

    /* IRET to the same CPL with IF clear in the image. */
    __asm__ volatile("pushfl\n\tpopl %%edx\n\t"
                     "pushfl\n\torl %1, (%%esp)\n\tpopfl\n\t"
                     "movl %%cs, %%ecx\n\t"
                     "pushfl\n\tandl %2, (%%esp)\n\t"
                     "pushl %%ecx\n\tpushl $1f\n\tiret\n"
                     "1:\tpushfl\n\tpopl %0\n\t"
                     "pushl %%edx\n\tpopfl"
                     : "=r"(r->iret_after) : "i"(EFL_IF), "i"(~EFL_IF)
                     : "ecx", "edx", "cc", "memory");

    __asm__ volatile("movl %%cs, %0" : "=r"(r->mov_cs));
    __asm__ volatile("movl %%ss, %0" : "=r"(r->mov_ss));
    __asm__ volatile("pushl %%cs\n\tpopl %0" : "=r"(r->push_cs));
    r->cs = r->mov_cs & 0xffff;

    /* LAR/LSL on our own CS and on the ring-0 code selector. */
    uint32_t sels[2] = { r->cs, KCODE };
    for (int i = 0; i < 2; i++) {
        t = 0;
        __asm__ volatile("larl %2, %0\n\tsetz %b1\n\tmovzbl %b1, %1"
                         : "+r"(t), "=q"(zf) : "r"(sels[i]) : "cc");
        r->lar[i] = t;
        r->lar_zf[i] = zf;
    }
    t = 0;
    __asm__ volatile("lsll %2, %0\n\tsetz %b1\n\tmovzbl %b1, %1"
                     : "+r"(t), "=q"(zf) : "r"(r->cs) : "cc");
    r->lsl = t;
    r->lsl_zf = zf;

    for (int i = 0; i < 4; i++) {
        uint16_t s = vsel[i];
        uint8_t a, b;
        __asm__ volatile("verr %w2\n\tsetz %0\n\tverw %w2\n\tsetz %1"
                         : "=&q"(a), "=&q"(b) : "r"(s) : "cc");
        r->verr[i] = a;
        r->verw[i] = b;
    }

    struct farptr fp = { (uint32_t)popek_far_target, (uint16_t)r->cs };
    __asm__ volatile("lcall *%1" : "=a"(r->far_cs) : "m"(fp) : "memory");
    r->far_cs &= 0xffff;

    __asm__ volatile("int $0x80"
                     : "=a"(r->int_cs), "=b"(r->int_handler_cs), "=c"(r->int_ss)
                     : "a"(2) : "memory");
    r->done = 1;
}

static void user_entry(void)
{
    measure(&res[1]);
    __asm__ volatile("int $0x80" : : "a"(1) : "memory");
    for (;;)
        ;
}

static void print(int cpl)
{
    const struct res *r = &res[cpl ? 1 : 0];
    gprintf("popek: sgdt cpl=%d base=0x%08x limit=0x%04x\n", cpl, r->gdt.base, r->gdt.limit);
    gprintf("popek: sidt cpl=%d base=0x%08x limit=0x%04x\n", cpl, r->idt.base, r->idt.limit);
    gprintf("popek: sldt cpl=%d sel=0x%04x\n", cpl, r->ldt & 0xffff);
    gprintf("popek: str cpl=%d sel=0x%04x\n", cpl, r->tr & 0xffff);
    gprintf("popek: smsw cpl=%d reg=0x%08x mem=0x%04x\n", cpl, r->msw_reg, r->msw_mem);
    gprintf("popek: pushf cpl=%d value=0x%08x if=%u iopl=%u\n", cpl, r->pushf,
            (r->pushf >> 9) & 1, (r->pushf >> 12) & 3);
    gprintf("popek: popf cpl=%d if_before=%u if=%u iopl=%u\n", cpl, (r->popf_before >> 9) & 1,
            (r->popf_after >> 9) & 1, (r->popf_after >> 12) & 3);
    for (int i = 0; i < 2; i++) {
        uint32_t sel = i ? KCODE : r->cs;
        if (r->lar_zf[i])
            gprintf("popek: lar cpl=%d sel=0x%04x zf=1 ar=0x%08x\n", cpl, sel, r->lar[i] & lar_mask);
        else
            gprintf("popek: lar cpl=%d sel=0x%04x zf=0\n", cpl, sel);
    }
    if (r->lsl_zf)
        gprintf("popek: lsl cpl=%d sel=0x%04x zf=1 limit=0x%08x\n", cpl, r->cs, r->lsl);
    else
        gprintf("popek: lsl cpl=%d sel=0x%04x zf=0\n", cpl, r->cs);
    for (int i = 0; i < 4; i++)
        gprintf("popek: verr cpl=%d sel=0x%04x ok=%u\n", cpl, vsel[i], r->verr[i]);
    for (int i = 0; i < 4; i++)
        gprintf("popek: verw cpl=%d sel=0x%04x ok=%u\n", cpl, vsel[i], r->verw[i]);
    gprintf("popek: pushcs cpl=%d value=0x%04x rpl=%u\n", cpl, r->push_cs & 0xffff,
            r->push_cs & 3);
    gprintf("popek: movcs cpl=%d value=0x%04x rpl=%u\n", cpl, r->mov_cs & 0xffff,
            r->mov_cs & 3);
    gprintf("popek: movss cpl=%d value=0x%04x rpl=%u\n", cpl, r->mov_ss & 0xffff,
            r->mov_ss & 3);
    gprintf("popek: farcall cpl=%d sel=0x%04x pushed_cs=0x%04x\n", cpl, r->cs, r->far_cs);
    if (r->int_cs & 3)
        gprintf("popek: int cpl=%d vector=0x80 handler_cs=0x%04x pushed_cs=0x%04x "
                "pushed_ss=0x%04x\n", cpl, r->int_handler_cs & 0xffff, r->int_cs, r->int_ss);
    else
        gprintf("popek: int cpl=%d vector=0x80 handler_cs=0x%04x pushed_cs=0x%04x\n", cpl,
                r->int_handler_cs & 0xffff, r->int_cs);
    gprintf("popek: iret cpl=%d if_image=0 if=%u\n", cpl, (r->iret_after >> 9) & 1);
}

int guest_main(uint32_t magic, uint32_t mbi)
{
    if (cmdline_has(magic, mbi, "lar-masked"))
        lar_mask = 0xfff0ffffu;
    if (magic != MULTIBOOT_BOOTLOADER_MAGIC) {
        gprintf("popek: bad multiboot magic 0x%08x\n", magic);
        return 2;
    }
    setup();
    gprintf("popek: gdt base=0x%08x limit=0x%04x\n", (uint32_t)gdt, (uint32_t)sizeof(gdt) - 1);
    gprintf("popek: idt base=0x%08x limit=0x%04x\n", (uint32_t)idt, (uint32_t)sizeof(idt) - 1);

    measure(&res[0]);
    /* Ring 3 starts with IF=1 and IOPL 0: what POPF/IRET must then protect. */
    popek_run_user(user_entry, (uint32_t)(ring3_stack + sizeof(ring3_stack) - 16), 0x202);

    print(0);
    if (!res[1].done) {
        gprintf("popek: fault cpl=3 vector=%u error=0x%x eip=0x%08x\n", user_fault_vec,
                user_fault_err, user_fault_eip);
        return 1;
    }
    print(3);
    gprintf("popek: done\n");
    return 0;
}
