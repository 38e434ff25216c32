/*
 * guests/difftest/guest.c — the guest side (docs/difftest.md): sets up
 * what a 32-bit Linux process sees (CPL 3, flat CS 0x23 / DS 0x2b, IOPL 0,
 * paging, FXSR/SSE enabled) and runs the shared loop there. Results go to
 * the debugcon port 0xE9, which the TSS I/O bitmap opens to CPL 3 with
 * the debug-exit port. The data window's two pages are mapped to frames
 * in the opposite order, so an access across the boundary is two separate
 * physical accesses. Any exception is reported and ends the run.
 */
#include "dt.h"
#include "guest.h"

#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_TSS   0x30

struct tss {
    uint32_t link, esp0, ss0, unused[22];
    uint16_t trap, iomap;
    uint8_t bitmap[8192];
    uint8_t end;
} __attribute__((packed));

static uint64_t gdt[8] __attribute__((aligned(8)));
static uint64_t idt[32] __attribute__((aligned(8)));
static struct tss tss __attribute__((aligned(128)));
static uint32_t pd[1024] __attribute__((aligned(4096)));
static uint32_t pt[4][1024] __attribute__((aligned(4096)));
static uint8_t kstack[16384] __attribute__((aligned(16)));
static uint8_t ustack[65536] __attribute__((aligned(16)));
static char cmdline[1024];

extern const uint32_t dt_exc_stubs[32];

void dt_plat_write(const char *s, uint32_t n)
{
    while (n--)
        outb(GUEST_DEBUGCON, (uint8_t)*s++);
}

static void say(const char *s)
{
    uint32_t n = 0;
    while (s[n]) n++;
    dt_plat_write(s, n);
}

static void say_hex(uint32_t v)
{
    char t[9];
    for (int i = 7; i >= 0; i--, v >>= 4)
        t[i] = "0123456789abcdef"[v & 15];
    t[8] = 0;
    say(t);
}

/* What the stubs push: GPRs (PUSHAD), the data segments, vector, error
 * code, then the CPU's frame (ESP and SS too: exceptions come from CPL 3). */
struct dt_frame {
    uint32_t edi, esi, ebp, esp0, ebx, edx, ecx, eax;
    uint32_t gs, fs, es, ds, vec, err;
    uint32_t eip, cs, eflags, esp, ss;
};

void dt_exception(struct dt_frame *f);
void dt_exception(struct dt_frame *f)
{
    uint32_t cr2;
    __asm__ volatile("movl %%cr2, %0" : "=r"(cr2));
    if ((f->cs & 3) == 3 && f->eip - DT_CODE < 0x1000) {
        /* A sequence's exception: record the state, resume in the runner. */
        dt_out.r[DT_EAX] = f->eax; dt_out.r[DT_ECX] = f->ecx; dt_out.r[DT_EDX] = f->edx;
        dt_out.r[DT_EBX] = f->ebx; dt_out.r[DT_ESP] = f->esp; dt_out.r[DT_EBP] = f->ebp;
        dt_out.r[DT_ESI] = f->esi; dt_out.r[DT_EDI] = f->edi;
        dt_out.eflags = f->eflags;
        dt_out.seg[DT_ES] = f->es & 0xffff; dt_out.seg[DT_CS] = f->cs & 0xffff;
        dt_out.seg[DT_SS] = f->ss & 0xffff; dt_out.seg[DT_DS] = f->ds & 0xffff;
        dt_out.seg[DT_FS] = f->fs & 0xffff; dt_out.seg[DT_GS] = f->gs & 0xffff;
        dt_out.vec = f->vec;
        dt_out.err = f->err;
        dt_out.eip = f->eip;
        dt_out.cr2 = cr2;
        f->eip = (uint32_t)(uintptr_t)dt_fault_back;
        f->cs = DT_SEL_CS;
        f->ss = f->ds = f->es = DT_SEL_DS;
        f->eflags = 0x202;
        return;
    }
    say("EXC vector=");
    say_hex(f->vec);
    say(" error=");
    say_hex(f->err);
    say(" eip=");
    say_hex(f->eip);
    say(" cs=");
    say_hex(f->cs);
    say(" cr2=");
    say_hex(cr2);
    say("\n");
    outl(GUEST_DEBUG_EXIT, 3);
    for (;;)
        __asm__ volatile("cli; hlt");
}

/* Vectors 8, 10-14, 17 push an error code; the others get a zero. */
__asm__(".text\n"
        ".macro dtstub n\n"
        "dt_exc\\n:\n"
        ".if (\\n == 8) || (\\n >= 10 && \\n <= 14) || (\\n == 17)\n"
        ".else\n"
        "\tpushl $0\n"
        ".endif\n"
        "\tpushl $\\n\n"
        "\tjmp dt_exc_common\n"
        ".endm\n"
        ".irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n"
        "dtstub \\n\n"
        ".endr\n"
        "dt_exc_common:\n"
        "\tpushl %ds\n\tpushl %es\n\tpushl %fs\n\tpushl %gs\n\tpushal\n"
        "\tmovl $0x10, %eax\n\tmovl %eax, %ds\n\tmovl %eax, %es\n"
        "\tpushl %esp\n\tcall dt_exception\n\taddl $4, %esp\n"
        "\tpopal\n\tpopl %gs\n\tpopl %fs\n\tpopl %es\n\tpopl %ds\n\taddl $8, %esp\n\tiret\n"
        ".section .rodata\n.globl dt_exc_stubs\ndt_exc_stubs:\n"
        ".irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n"
        ".long dt_exc\\n\n"
        ".endr\n"
        ".previous\n");

static uint64_t seg_desc(uint32_t base, uint32_t limit, uint32_t access, uint32_t flags)
{
    return (limit & 0xffff) | (uint64_t)(base & 0xffffff) << 16 | (uint64_t)access << 40 |
           (uint64_t)((limit >> 16) & 0xf) << 48 | (uint64_t)flags << 52 | (uint64_t)(base >> 24) << 56;
}

static void user_main(void)
{
    outl(GUEST_DEBUG_EXIT, (uint32_t)dt_main(cmdline));
    for (;;)
        ;
}

int guest_main(uint32_t magic, uint32_t mbi)
{
    /* The command line (Multiboot info flag bit 2). */
    if (magic == MULTIBOOT_BOOTLOADER_MAGIC) {
        const uint32_t *info = (const uint32_t *)(uintptr_t)mbi;
        if (info[0] & 4) {
            const char *c = (const char *)(uintptr_t)info[4];
            uint32_t n = 0;
            while (c[n] && n < sizeof cmdline - 1) {
                cmdline[n] = c[n];
                n++;
            }
        }
    }

    gdt[1] = seg_desc(0, 0xfffff, 0x9a, 0xc);
    gdt[2] = seg_desc(0, 0xfffff, 0x92, 0xc);
    /* Accessed already, as Linux's are: LAR shows the bit. With "cpl=0"
     * the sequences run at CPL 0: 0x20 is then a DPL-0 code segment, and
     * SS is 0x38 (DS/ES/FS/GS stay 0x2b, which CPL 0 may load too). */
    int cpl0 = 0;
    for (const char *p = cmdline; *p; p++)
        if ((p == cmdline || p[-1] == ' ') && p[0] == 'c' && p[1] == 'p' && p[2] == 'l' && p[3] == '=' &&
            p[4] == '0')
            cpl0 = 1;
    gdt[4] = seg_desc(0, 0xfffff, cpl0 ? 0x9b : 0xfb, 0xc);
    gdt[5] = seg_desc(0, 0xfffff, 0xf3, 0xc);
    gdt[7] = seg_desc(0, 0xfffff, 0x93, 0xc);
    gdt[6] = seg_desc((uint32_t)(uintptr_t)&tss, sizeof tss - 1, 0x89, 0);
    for (int i = 0; i < 32; i++) {
        uint32_t h = dt_exc_stubs[i];
        /* INT3 and INTO may be used at CPL 3 (gate DPL 3), as under Linux;
         * other vectors raised by INT n from CPL 3 give #GP. */
        uint64_t type = i == 3 || i == 4 ? 0xee : 0x8e;
        idt[i] = (h & 0xffff) | (uint64_t)SEL_KCODE << 16 | type << 40 | (uint64_t)(h >> 16) << 48;
    }
    tss.esp0 = (uint32_t)(uintptr_t)(kstack + sizeof kstack);
    tss.ss0 = SEL_KDATA;
    tss.iomap = (uint16_t)__builtin_offsetof(struct tss, bitmap);
    for (uint32_t i = 0; i < sizeof tss.bitmap; i++)
        tss.bitmap[i] = 0xff;
    tss.end = 0xff;
    tss.bitmap[GUEST_DEBUGCON / 8] &= (uint8_t)~(1u << (GUEST_DEBUGCON % 8));
    for (uint32_t p = GUEST_DEBUG_EXIT; p < GUEST_DEBUG_EXIT + 4; p++)
        tss.bitmap[p / 8] &= (uint8_t)~(1u << (p % 8));

    struct { uint16_t limit; uint32_t base; } __attribute__((packed))
        gdtr = { sizeof gdt - 1, (uint32_t)(uintptr_t)gdt }, idtr = { sizeof idt - 1, (uint32_t)(uintptr_t)idt };
    __asm__ volatile("lgdt %0\n\tlidt %1\n\tljmp $0x08, $1f\n1:\n\t"
                     "movl $0x10, %%eax\n\tmovl %%eax, %%ds\n\tmovl %%eax, %%es\n\tmovl %%eax, %%ss\n\t"
                     "movl %%eax, %%fs\n\tmovl %%eax, %%gs\n\tmovl $0x30, %%eax\n\tltr %%ax\n\t"
                     /* a null LDT, as a Linux process has: after reset LDTR
                      * still describes 64 KiB at 0, and LAR/LSL/VERR of LDT
                      * selectors would read the low memory */
                     "xorl %%eax, %%eax\n\tlldt %%ax"
                     : : "m"(gdtr), "m"(idtr) : "eax", "memory");

    /* Identity map of the first 16 MiB, user-accessible; the window's pages swapped. */
    for (uint32_t t = 0; t < 4; t++) {
        pd[t] = (uint32_t)(uintptr_t)pt[t] | 7;
        for (uint32_t i = 0; i < 1024; i++)
            pt[t][i] = (t << 22 | i << 12) | 7;
    }
    pt[DT_DATA >> 22][(DT_DATA >> 12) & 1023] = 0x00901000 | 7;
    pt[DT_DATA >> 22][((DT_DATA >> 12) + 1) & 1023] = 0x00900000 | 7;
    pt[DT_HOLE >> 22][(DT_HOLE >> 12) & 1023] = 0; /* as natively: nothing there */

    /* Quiet the PICs: the loop runs with IF=1, like a Linux process. */
    outb(0x21, 0xff);
    outb(0xa1, 0xff);

    uint32_t cr0, cr4;
    __asm__ volatile("movl %0, %%cr3" : : "r"(pd) : "memory");
    __asm__ volatile("movl %%cr4, %0" : "=r"(cr4));
    cr4 |= (1u << 9) | (1u << 10); /* OSFXSR, OSXMMEXCPT */
    __asm__ volatile("movl %0, %%cr4" : : "r"(cr4));
    __asm__ volatile("movl %%cr0, %0" : "=r"(cr0));
    cr0 = (cr0 & ~(4u | 8u)) | 0x80000000u | 0x22u; /* PG, NE, MP; not EM, TS */
    __asm__ volatile("movl %0, %%cr0\n\tfninit" : : "r"(cr0) : "memory");

    if (cpl0)
        __asm__ volatile("movl $0x2b, %%eax\n\tmovl %%eax, %%ds\n\tmovl %%eax, %%es\n\t"
                         "movl %%eax, %%fs\n\tmovl %%eax, %%gs\n\tmovl $0x38, %%eax\n\tmovl %%eax, %%ss\n\t"
                         "movl %0, %%esp\n\tljmp $0x20, $1f\n1:\n\tcall *%1"
                         : : "r"(ustack + sizeof ustack), "r"(user_main) : "eax", "memory");

    /* To CPL 3 with IF=1, IOPL=0. */
    __asm__ volatile("movl $0x2b, %%eax\n\tmovl %%eax, %%ds\n\tmovl %%eax, %%es\n\t"
                     "movl %%eax, %%fs\n\tmovl %%eax, %%gs\n\t"
                     "pushl $0x2b\n\tpushl %0\n\tpushl $0x202\n\tpushl $0x23\n\tpushl %1\n\tiret"
                     : : "r"(ustack + sizeof ustack), "r"(user_main) : "eax", "memory");
    return 0;
}
