/*
 * guests/nano/nano.c — virtualization nanobenchmarks in the spirit of
 * Adams & Agesen (ASPLOS 2006), plus two system measurements, selected by
 * the Multiboot command line (run by bench/nano.sh):
 *   (none)   one line `nano: <name> <cycles_per_op>` per workload;
 *   irqlat   PIT channel 0 at 1 kHz, spin, timestamp every IRQ0: deviation
 *            of the inter-interrupt interval from 1 ms;
 *   idle     `sti; hlt` for 3000 PIT ticks at 1 kHz (3 s), for host CPU
 *            accounting; idle100 the same at 100 Hz (300 ticks);
 *   paging   paging on (4 KiB pages, two address spaces), then the paging
 *            workloads in the same format: pgfault, ptemod, cr3switch,
 *            hidden. A mode of its own so the default run needs no paging.
 *   apic     the local and I/O APIC in the same format: apic_id_read,
 *            apic_eoi, and ioapic_irq (cycles from the i8042 command that
 *            raises IRQ1, routed by the I/O APIC, to the handler's entry).
 * Owns the GDT/IDT/TSS set-up, the page tables, the PIC/PIT programming
 * and the arithmetic; the timed loops and handlers are in stubs.S.
 */
#include "guest.h"

#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_TSS   0x28
#define PIT_HZ    1193182u
#define PIT_1KHZ  1193u          /* divisor: 1193182 / 1193 = 1000.15 Hz */
#define IRQ_SAMPLES 2001u        /* 2000 intervals, 2 s */

uint64_t nano_empty(uint32_t n), nano_in(uint32_t n), nano_cli_sti(uint32_t n);
uint64_t nano_call_ret(uint32_t n), nano_pushf_popf(uint32_t n), nano_divzero(uint32_t n);
uint64_t nano_int80_cpl0(uint32_t n), nano_user_syscall(uint32_t n);
uint64_t nano_pgfault(uint32_t n), nano_ptemod(uint32_t n), nano_cr3switch(uint32_t n);
uint64_t nano_hidden(uint32_t n);
uint64_t nano_apic_id_read(uint32_t n), nano_apic_eoi(uint32_t n);
void nano_reload_segments(void);
extern char isr_de[], isr_iret[], isr_irq0[], isr_spurious[], isr_unexpected[], isr_leave_user[], isr_pf[];
extern char isr_kbd_apic[];

static uint64_t gdt[6] __attribute__((aligned(8)));
static uint64_t idt[256] __attribute__((aligned(8)));
static uint8_t kstack[4096] __attribute__((aligned(16)));
static struct tss {
    uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
    uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
    uint32_t es, cs, ss, ds, fs, gs, ldt;
    uint16_t trap, iomap;
} tss __attribute__((aligned(16)));

/* Written by isr_kbd_apic. */
volatile uint64_t kbd_tsc;
/* Written by isr_irq0. */
volatile uint32_t irq_count;
uint32_t irq_cap;
uint64_t irq_tsc[IRQ_SAMPLES];

static uint64_t seg_desc(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
    return (limit & 0xffff) | (uint64_t)(base & 0xffffff) << 16 | (uint64_t)access << 40 |
           (uint64_t)((limit >> 16) & 0xf) << 48 | (uint64_t)(flags & 0xf) << 52 |
           (uint64_t)(base >> 24) << 56;
}

static uint64_t int_gate(void *fn, unsigned dpl)
{
    uint32_t off = (uint32_t)(uintptr_t)fn;
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

    for (int i = 0; i < 256; i++)
        idt[i] = int_gate(isr_unexpected, 0);
    idt[0] = int_gate(isr_de, 0);
    idt[0x20] = int_gate(isr_irq0, 0);
    idt[0x27] = int_gate(isr_spurious, 0);
    idt[0x2f] = int_gate(isr_spurious, 0);
    idt[0x80] = int_gate(isr_iret, 3);
    idt[0x81] = int_gate(isr_leave_user, 3);

    struct __attribute__((packed)) { uint16_t limit; uint32_t base; } gd, id;
    gd.limit = sizeof(gdt) - 1;
    gd.base = (uint32_t)(uintptr_t)gdt;
    id.limit = sizeof(idt) - 1;
    id.base = (uint32_t)(uintptr_t)idt;
    __asm__ volatile("lgdt %0" : : "m"(gd) : "memory");
    nano_reload_segments();
    __asm__ volatile("lidt %0" : : "m"(id) : "memory");
    __asm__ volatile("ltr %w0" : : "r"(SEL_TSS) : "memory");

    /* PIC pair to 0x20/0x28, everything masked (QEMU's BIOS leaves IRQ0
     * unmasked on vector 8, and cli_sti would take it). */
    outb(0x20, 0x11); outb(0xa0, 0x11);
    outb(0x21, 0x20); outb(0xa1, 0x28);
    outb(0x21, 0x04); outb(0xa1, 0x02);
    outb(0x21, 0x01); outb(0xa1, 0x01);
    outb(0x21, 0xff); outb(0xa1, 0xff);
}

/* ---- nanobenchmarks ---- */

#define ITERS 100000u
#define REPS  5

static uint64_t best(uint64_t (*fn)(uint32_t))
{
    uint64_t m = ~0ull;
    for (int r = 0; r < REPS; r++) {
        uint64_t t = fn(ITERS);
        if (t < m)
            m = t;
    }
    return m;
}

/* Printed as measured, negative too: an operation cheaper than the empty
 * loop is noise the reader must see, not a 0 (bench/nano.sh flags it). */
static void report(const char *name, uint64_t t, uint64_t empty)
{
    int neg = t < empty;
    uint64_t d = neg ? empty - t : t - empty;
    /* tenths of a cycle, rounded */
    uint32_t x10 = (uint32_t)((d * 10 + ITERS / 2) / ITERS);
    gprintf("nano: %s %s%u.%u\n", name, neg && x10 ? "-" : "", x10 / 10, x10 % 10);
}

static void run_nano(void)
{
    (void)best(nano_empty);      /* warm the translation cache */
    uint64_t empty = best(nano_empty);
    report("syscall", best(nano_user_syscall), empty);
    report("int80_cpl0", best(nano_int80_cpl0), empty);
    report("in", best(nano_in), empty);
    report("cli_sti", best(nano_cli_sti), empty);
    __asm__ volatile("cli");
    report("call_ret", best(nano_call_ret), empty);
    report("divzero", best(nano_divzero), empty);
    report("pushf_popf", best(nano_pushf_popf), empty);
}

/* ---- paging workloads ----
 * Directories A and B share one page table mapping [0, 4 MiB) 1:1 (the
 * image, stack and tables live there) and each map PG_VA (stubs.S knows
 * it too) to its own frame. In A, PG_VA + 0x1000 is the page pgfault makes
 * present from its #PF handler and not present again in its loop, and
 * PG_VA + 0x2000 the PTE that ptemod rewrites. Globals: stubs.S names them. */
#define PG_VA 0x40000000u
#define PG_P  1u
#define PG_W  2u
uint32_t pg_dir_a[1024] __attribute__((aligned(4096)));
uint32_t pg_dir_b[1024] __attribute__((aligned(4096)));
uint32_t pg_pt_a[1024] __attribute__((aligned(4096)));
static uint32_t pg_pt_b[1024] __attribute__((aligned(4096)));
static uint32_t pg_ident[1024] __attribute__((aligned(4096)));
static uint8_t pg_frames[2][4096] __attribute__((aligned(8192)));
volatile uint32_t pg_faults;                 /* counted by isr_pf */

static void paging_on(void)
{
    uint32_t f0 = (uint32_t)(uintptr_t)pg_frames[0], f1 = (uint32_t)(uintptr_t)pg_frames[1];
    if ((uintptr_t)&pg_frames[2] > 0x400000u) {
        gprintf("nano: image above 4 MiB, paging mode needs it below\n");
        guest_exit(103);
    }
    for (uint32_t i = 0; i < 1024; i++)
        pg_ident[i] = i << 12 | PG_P | PG_W;
    pg_dir_a[0] = pg_dir_b[0] = (uint32_t)(uintptr_t)pg_ident | PG_P | PG_W;
    pg_dir_a[PG_VA >> 22] = (uint32_t)(uintptr_t)pg_pt_a | PG_P | PG_W;
    pg_dir_b[PG_VA >> 22] = (uint32_t)(uintptr_t)pg_pt_b | PG_P | PG_W;
    pg_pt_a[0] = f0 | PG_P | PG_W;
    pg_pt_b[0] = f1 | PG_P | PG_W;
    pg_pt_a[1] = f0 | PG_W;                  /* pgfault: starts not present */
    pg_pt_a[2] = f0 | PG_P | PG_W;           /* ptemod flips it f0 <-> f1 */
    idt[14] = int_gate(isr_pf, 0);
    __asm__ volatile("movl %0, %%cr3\n\t"
                     "movl %%cr0, %%eax\n\torl $0x80010000, %%eax\n\tmovl %%eax, %%cr0"
                     : : "r"(pg_dir_a) : "eax", "memory");
}

/* Numbers from an engine that ignores paging would be meaningless: check
 * that the two spaces see their own frames and that every pgfault load
 * really faulted, or exit with 104. */
static void paging_check(int ok, const char *what)
{
    if (!ok) {
        gprintf("nano: paging broken: %s\n", what);
        guest_exit(104);
    }
}

static void run_paging(void)
{
    volatile uint32_t *va = (volatile uint32_t *)(uintptr_t)PG_VA;
    *(volatile uint32_t *)pg_frames[0] = 0xaaaa;
    *(volatile uint32_t *)pg_frames[1] = 0xbbbb;
    paging_on();
    paging_check(*va == 0xaaaa, "PG_VA in space A");
    __asm__ volatile("movl %0, %%cr3" : : "r"(pg_dir_b) : "memory");
    paging_check(*va == 0xbbbb, "PG_VA in space B");
    __asm__ volatile("movl %0, %%cr3" : : "r"(pg_dir_a) : "memory");
    (void)best(nano_empty);
    uint64_t empty = best(nano_empty);
    report("pgfault", best(nano_pgfault), empty);
    paging_check(pg_faults == REPS * ITERS, "pgfault loads that did not fault");
    report("ptemod", best(nano_ptemod), empty);
    report("cr3switch", best(nano_cr3switch), empty);
    report("hidden", best(nano_hidden), empty);
}

/* ---- PIT ---- */

static void pit_periodic(uint16_t div)
{
    outb(0x43, 0x34);            /* channel 0, lo/hi byte, mode 2 */
    outb(0x40, div & 0xff);
    outb(0x40, div >> 8);
}

static uint16_t pit_read(void)
{
    outb(0x43, 0x00);            /* latch channel 0 */
    uint8_t lo = inb(0x40);
    return (uint16_t)(lo | inb(0x40) << 8);
}

/* TSC ticks per second, timed against ~100 ms of PIT channel 0 counting
 * down from 65536 (interrupts masked), independent of IRQ delivery. */
static uint64_t tsc_hz(void)
{
    pit_periodic(0);
    uint16_t prev = pit_read();
    uint32_t elapsed = 0;
    uint64_t t0 = __builtin_ia32_rdtsc();
    while (elapsed < PIT_HZ / 10) {
        uint16_t cur = pit_read();
        elapsed += (uint16_t)(prev - cur);
        prev = cur;
    }
    uint64_t t1 = __builtin_ia32_rdtsc();
    return (t1 - t0) * PIT_HZ / elapsed;
}

static void start_pit(uint16_t div, uint32_t cap)
{
    irq_cap = cap;
    irq_count = 0;
    pit_periodic(div);
    outb(0x21, 0xfe);            /* unmask IRQ0 only */
}

static void print_us(const char *label, uint64_t ns)
{
    gprintf(" %s %u.%03u", label, (uint32_t)(ns / 1000), (uint32_t)(ns % 1000));
}

static void run_irqlat(void)
{
    uint64_t hz = tsc_hz();
    start_pit(PIT_1KHZ, IRQ_SAMPLES);
    __asm__ volatile("sti");
    while (irq_count < IRQ_SAMPLES)
        __asm__ volatile("" ::: "memory");       /* spin: no hlt */
    __asm__ volatile("cli");
    outb(0x21, 0xff);

    /* nominal period in TSC ticks, from the divisor actually used */
    uint64_t nominal = hz * PIT_1KHZ / PIT_HZ;
    uint64_t maxdev = 0, sumdev = 0, maxint = 0;
    uint32_t n = IRQ_SAMPLES - 1;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t d = irq_tsc[i + 1] - irq_tsc[i];
        uint64_t dev = d > nominal ? d - nominal : nominal - d;
        if (dev > maxdev)
            maxdev = dev;
        if (d > maxint)
            maxint = d;
        sumdev += dev;
    }
    uint64_t span = irq_tsc[n] - irq_tsc[0];
    gprintf("irqlat: tsc_khz %u intervals %u", (uint32_t)(hz / 1000), n);
    print_us("max_dev_us", maxdev * 1000000000 / hz);
    print_us("mean_dev_us", sumdev / n * 1000000000 / hz);
    print_us("max_interval_us", maxint * 1000000000 / hz);
    print_us("mean_interval_us", span / n * 1000000000 / hz);
    serial_putc('\n');
}

/* 3 s of hlt at hz ticks per second (1000 or 100). */
static void run_idle(uint32_t hz)
{
    start_pit((uint16_t)((PIT_HZ + hz / 2) / hz), 0);
    while (irq_count < 3 * hz)
        __asm__ volatile("sti; hlt; cli" ::: "memory");
    outb(0x21, 0xff);
    gprintf("idle: %u ticks\n", irq_count);
}

/* ---- local and I/O APIC ---- */
#define LAPIC     0xfee00000u
#define IOAPIC    0xfec00000u
#define KBD_VEC   0x41u

static inline uint32_t mmio_rd(uint32_t a) { return *(volatile uint32_t *)(uintptr_t)a; }
static inline void mmio_wr(uint32_t a, uint32_t v) { *(volatile uint32_t *)(uintptr_t)a = v; }

static void ioapic_wr(unsigned reg, uint32_t v)
{
    mmio_wr(IOAPIC, reg);
    mmio_wr(IOAPIC + 0x10, v);
}

static void kbc_wait_in(void)
{
    while (inb(0x64) & 2)
        ;
}

static void run_apic(void)
{
    uint32_t ver = mmio_rd(LAPIC + 0x30);
    if ((ver & 0xff) < 0x10) {
        gprintf("apic: no local APIC (version register %08x)\n", ver);
        return;
    }
    mmio_wr(LAPIC + 0xf0, 0x100 | 0xff);          /* SVR: enabled, spurious 0xff */
    mmio_wr(LAPIC + 0x80, 0);                     /* TPR 0 */
    idt[0xff] = int_gate(isr_spurious, 0);
    idt[KBD_VEC] = int_gate(isr_kbd_apic, 0);
    ioapic_wr(0x10 + 2 * 1, KBD_VEC);             /* pin 1: fixed, edge, high, unmasked */
    ioapic_wr(0x11 + 2 * 1, 0);                   /* destination APIC 0 */
    kbc_wait_in(); outb(0x64, 0x60);              /* command byte: IRQ1 on, translation */
    kbc_wait_in(); outb(0x60, 0x45);
    while (inb(0x64) & 1)
        (void)inb(0x60);

    (void)best(nano_empty);
    uint64_t empty = best(nano_empty);
    report("apic_id_read", best(nano_apic_id_read), empty);
    report("apic_eoi", best(nano_apic_eoi), empty);

    /* ioapic_irq: best of REPS averages over KBD_ITERS interrupts. */
    enum { KBD_ITERS = 2000 };
    uint64_t m = ~0ull;
    for (int r = 0; r < REPS; r++) {
        uint64_t sum = 0;
        for (int i = 0; i < KBD_ITERS; i++) {
            kbd_tsc = 0;
            kbc_wait_in();
            __asm__ volatile("sti");
            uint64_t t0 = __builtin_ia32_rdtsc();
            outb(0x64, 0xd2);                     /* write keyboard output buffer: */
            outb(0x60, 0x1c);                     /* the byte raises IRQ1 */
            while (!kbd_tsc && __builtin_ia32_rdtsc() - t0 < (1ull << 32))
                __asm__ volatile("" ::: "memory");
            __asm__ volatile("cli");
            if (!kbd_tsc) {
                gprintf("apic: IRQ1 never arrived through the I/O APIC\n");
                return;
            }
            sum += kbd_tsc - t0;
        }
        if (sum / KBD_ITERS < m)
            m = sum / KBD_ITERS;
    }
    ioapic_wr(0x10 + 2 * 1, 0x10000);             /* mask pin 1 again */
    gprintf("nano: ioapic_irq %u.0\n", (uint32_t)m);
}

int guest_main(uint32_t magic, uint32_t mbi)
{
    machine_setup();
    if (cmdline_has(magic, mbi, "irqlat"))
        run_irqlat();
    else if (cmdline_has(magic, mbi, "idle100"))
        run_idle(100);
    else if (cmdline_has(magic, mbi, "idle"))
        run_idle(1000);
    else if (cmdline_has(magic, mbi, "paging"))
        run_paging();
    else if (cmdline_has(magic, mbi, "apic"))
        run_apic();
    else
        run_nano();
    return 0;
}
