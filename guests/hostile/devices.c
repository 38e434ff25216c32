/*
 * guests/hostile/devices.c — the device modes of the hostile guest: seeded
 * random abuse of the local APIC, the I/O APIC, IDE with bus-master DMA,
 * fw_cfg and the HPET (docs/guests.md, "hostile"). btvm must survive all
 * of it; the guest then checks that the device still answers sanely and
 * exits through debug-exit with 0.
 *
 * Interrupts: an IDT whose 256 stubs (isr.S) swallow every vector: they
 * send EOI to the local APIC (wherever its window is) and to the 8259As,
 * and iret. Vectors 0-15 other than NMI are never sent by a correct
 * machine (the PICs are moved to 0x20/0x28, the local APIC refuses vectors
 * below 16), so one arriving ends the run with status 97; #GP is expected
 * only from a wrmsr the guest marked (status 97 otherwise). Interrupts are
 * enabled only inside short windows; a window that takes more than
 * WINDOW_MAX interrupts (a level-triggered source that never drops) is
 * closed by the handler clearing IF in the frame it returns to.
 */
#include "hostile.h"

#define rnd hostile_rnd

struct hostile_frame {
    uint32_t edi, esi, ebp, esp, ebx, edx, ecx, eax;
    uint32_t vec, err, eip, cs, eflags;
};

void hostile_isr(struct hostile_frame *f);
extern char hostile_isr_stubs[];

/* wrmsr/rdmsr fix-up: where a #GP resumes; 0 = none expected. */
volatile uint32_t hostile_gp_fixup;
static volatile uint32_t gp_hits, irq_count, nmi_count, window_irqs, window_max = 200;
static volatile uint32_t eoi_addr;        /* local APIC EOI register, 0 = none */
static uint64_t dev_idt[256] __attribute__((aligned(8)));

#define FAIL 97

/* ---------------------------------------------------------------- port and MMIO access */

/* outw/inw/inl: guests/lib/guest.h. */
static inline uint32_t rd32(uint32_t a) { return *(volatile uint32_t *)(uintptr_t)a; }
static inline void wr32(uint32_t a, uint32_t v) { *(volatile uint32_t *)(uintptr_t)a = v; }

/* A read or write of 1, 2 or 4 bytes at any alignment. */
static uint32_t rd_any(uint32_t a, unsigned size)
{
    switch (size) {
    case 1: return *(volatile uint8_t *)(uintptr_t)a;
    case 2: return *(volatile uint16_t *)(uintptr_t)a;
    default: return *(volatile uint32_t *)(uintptr_t)a;
    }
}

static void wr_any(uint32_t a, unsigned size, uint32_t v)
{
    switch (size) {
    case 1: *(volatile uint8_t *)(uintptr_t)a = (uint8_t)v; break;
    case 2: *(volatile uint16_t *)(uintptr_t)a = (uint16_t)v; break;
    default: *(volatile uint32_t *)(uintptr_t)a = v; break;
    }
}

static unsigned rnd_size(void)
{
    static const unsigned sz[4] = { 1, 2, 4, 4 };
    return sz[rnd() & 3];
}

static uint32_t bswap32(uint32_t v)
{
    return __builtin_bswap32(v);
}

/* ---------------------------------------------------------------- interrupts */

void hostile_isr(struct hostile_frame *f)
{
    uint32_t v = f->vec;
    if (v == 13 && hostile_gp_fixup) {
        f->eip = hostile_gp_fixup;
        hostile_gp_fixup = 0;
        gp_hits++;
        return;
    }
    if (v == 2) {
        nmi_count++;
        return;
    }
    if (v < 16 && eoi_addr && (rd32(eoi_addr - 0xb0 + 0xf0) & 0xff) == v)
        return;                               /* the spurious vector, if SVR says < 16 */
    if (v < 16) {
        gprintf("hostile: FAIL vector %u (error %x) at EIP %x: no device may send it\n", v,
                f->err, f->eip);
        guest_exit(FAIL);
    }
    irq_count++;
    if (++window_irqs > window_max)
        f->eflags &= ~0x200u;                 /* a flood: end this window */
    if (v >= 0x20 && v < 0x30) {
        if (v >= 0x28)
            outb(0xa0, 0x20);
        outb(0x20, 0x20);
    }
    if (eoi_addr)
        wr32(eoi_addr, 0);
}

/* Multiboot leaves GDTR undefined (btvm: base 0): a flat GDT of our own,
 * code 0x08 and data 0x10, so that interrupt gates can load CS. */
static const uint64_t dev_gdt[3] __attribute__((aligned(8))) = {
    0, 0x00cf9a000000ffffull, 0x00cf92000000ffffull,
};

static void idt_setup(void)
{
    struct {
        uint16_t limit;
        uint32_t base;
    } __attribute__((packed)) g = { sizeof(dev_gdt) - 1, (uint32_t)(uintptr_t)dev_gdt };
    __asm__ volatile("lgdt %0\n\t"
                     "ljmp $0x08, $1f\n"
                     "1:\tmovl $0x10, %%eax\n\t"
                     "movw %%ax, %%ds\n\tmovw %%ax, %%es\n\tmovw %%ax, %%ss\n\t"
                     "movw %%ax, %%fs\n\tmovw %%ax, %%gs"
                     : : "m"(g) : "eax", "memory");
    const uint16_t cs = 0x08;
    for (unsigned i = 0; i < 256; i++) {
        uint32_t a = (uint32_t)(uintptr_t)hostile_isr_stubs + 16 * i;
        dev_idt[i] = (a & 0xffff) | (uint64_t)cs << 16 | (uint64_t)0x8e00 << 32 |
                     (uint64_t)(a >> 16) << 48;
    }
    struct {
        uint16_t limit;
        uint32_t base;
    } __attribute__((packed)) d = { sizeof(dev_idt) - 1, (uint32_t)(uintptr_t)dev_idt };
    __asm__ volatile("lidt %0" : : "m"(d) : "memory");
}

/* Both 8259As to vectors 0x20/0x28, every input masked. */
static void pic_setup(void)
{
    outb(0x20, 0x11);
    outb(0xa0, 0x11);
    outb(0x21, 0x20);
    outb(0xa1, 0x28);
    outb(0x21, 0x04);
    outb(0xa1, 0x02);
    outb(0x21, 0x01);
    outb(0xa1, 0x01);
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
}

/* Interrupts on for a moment. */
static void irq_window(uint32_t spins)
{
    window_irqs = 0;
    __asm__ volatile("sti" : : : "memory");
    for (volatile uint32_t i = 0; i < spins; i++)
        ;
    __asm__ volatile("cli" : : : "memory");
}

/* 1 if the wrmsr raised #GP. */
static int wrmsr_safe(uint32_t msr, uint64_t v)
{
    uint32_t before = gp_hits;
    __asm__ volatile("movl $1f, hostile_gp_fixup\n\t"
                     "wrmsr\n"
                     "1:\tmovl $0, hostile_gp_fixup"
                     : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
    return gp_hits != before;
}

static int rdmsr_safe(uint32_t msr, uint64_t *v)
{
    uint32_t before = gp_hits, lo = 0, hi = 0;
    __asm__ volatile("movl $1f, hostile_gp_fixup\n\t"
                     "rdmsr\n"
                     "1:\tmovl $0, hostile_gp_fixup"
                     : "+a"(lo), "+d"(hi) : "c"(msr) : "memory");
    *v = (uint64_t)hi << 32 | lo;
    return gp_hits != before;
}

static uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

/* ACPI PM timer (3.579545 MHz, 24 bits) at 0x608: elapsed ticks since t0. */
#define PMTMR 0x608
#define PMTMR_MS 3580u

static uint32_t pm_since(uint32_t t0)
{
    return (inl(PMTMR) - t0) & 0xffffff;
}

/* ---------------------------------------------------------------- local APIC */

#define LAPIC 0xfee00000u
#define IOAPIC 0xfec00000u
#define HPET 0xfed00000u
#define APIC_BASE_MSR 0x1b
#define APIC_BASE_OK 0xffffff000ull       /* bits 12-35; 8 (BSP) and 11 (enable) too */

/* The common set-up of the device modes: IDT, PICs out of the way, the
 * local APIC software-enabled with TPR 0. */
static void apic_basic(void)
{
    idt_setup();
    pic_setup();
    wr32(LAPIC + 0xf0, 0x1ff);
    wr32(LAPIC + 0x80, 0);
    eoi_addr = LAPIC + 0xb0;
}

static uint8_t apic_scratch[4096] __attribute__((aligned(4096)));

static uint64_t apic_msr;                 /* what rdmsr 0x1b must say */
static uint32_t apic_win;                 /* where the window is, 0 if above 4 GiB */

static int apic_set_base(uint64_t v)
{
    int valid = !(v & ~(APIC_BASE_OK | 0x900ull));
    int gp = wrmsr_safe(APIC_BASE_MSR, v);
    if (gp == valid) {
        gprintf("hostile: FAIL wrmsr 0x1b <- %x:%x: #GP %d, expected %d\n", (uint32_t)(v >> 32),
                (uint32_t)v, gp, !valid);
        return FAIL;
    }
    if (!gp)
        apic_msr = (v & 0xffffff800ull) | (apic_msr & 0x100);
    uint64_t r;
    if (rdmsr_safe(APIC_BASE_MSR, &r) || r != apic_msr) {
        gprintf("hostile: FAIL rdmsr 0x1b = %x:%x, expected %x:%x\n", (uint32_t)(r >> 32),
                (uint32_t)r, (uint32_t)(apic_msr >> 32), (uint32_t)apic_msr);
        return FAIL;
    }
    apic_win = (apic_msr >> 32) ? 0 : (uint32_t)apic_msr & 0xfffff000u;
    eoi_addr = apic_win ? apic_win + 0xb0 : 0;
    return 0;
}

/* A base MSR value a hostile kernel might write. */
static uint64_t apic_pick_base(uint32_t ram_top)
{
    uint64_t en = 0x800 | (rnd() & 0x100);    /* the BSP bit is ignored */
    switch (rnd() % 12) {
    case 0: case 1: case 2:
        return LAPIC | en;
    case 3:
        return (uint32_t)(uintptr_t)apic_scratch | en;        /* onto RAM */
    case 4:
        return (ram_top - 4096) | en;                          /* the last page of RAM */
    case 5:
        return IOAPIC | en;                                    /* taken: no window */
    case 6:
        return HPET | en;
    case 7:                                                    /* above 4 GiB */
        return (uint64_t)(1 + (rnd() % 15)) << 32 | (rnd() & 0xfffff000u) | en;
    case 8:                                                    /* disabled */
        return (apic_msr & 0xffffff000ull) | (rnd() & 0x100);
    case 9: {                                                  /* reserved bits: #GP */
        static const uint8_t bad[] = { 0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 36, 40, 63 };
        return LAPIC | en | 1ull << bad[rnd() % sizeof(bad)];
    }
    default: {                                                 /* anywhere in 36 bits */
        uint64_t a = ((uint64_t)(rnd() & 0xf) << 32 | rnd()) & 0xffffff000ull;
        if (a < 0x1000000)                                     /* not over the guest */
            a = (uint32_t)(uintptr_t)apic_scratch;
        return a | en;
    }
    }
}

static uint32_t pick_vector(void)
{
    switch (rnd() & 3) {
    case 0: return rnd() & 15;                                 /* illegal */
    case 1: return 16 + (rnd() & 15);
    default: return rnd() & 0xff;
    }
}

/* One random local APIC register access through the window at w. */
static void lapic_poke(uint32_t w)
{
    uint32_t v = rnd();
    switch (rnd() % 16) {
    case 0: case 1: {                                          /* ICR */
        static const uint32_t dest[4] = { 0, 0xff000000u, 0x01000000u, 0 };
        uint32_t hi = (rnd() & 3) == 3 ? rnd() : dest[rnd() & 3];
        uint32_t lo = pick_vector() | (rnd() & 7) << 8 | (rnd() & 0xc800) | (rnd() & 3) << 18;
        if (rnd() & 1)
            lo |= rnd() & 0xfff30000u;                         /* reserved bits too */
        wr32(w + 0x310, hi);
        wr32(w + 0x300, lo);
        break;
    }
    case 2: case 3: {                                          /* an LVT */
        uint32_t lvt = 0x320 + 0x10 * (rnd() % 6);
        v = pick_vector() | (rnd() & 7) << 8 | (rnd() & 0x7000) | (rnd() & 1 ? 0x10000 : 0) |
            (rnd() & 3) << 17 | (rnd() & 7 ? 0 : rnd() & 0xfff80000u);
        wr32(w + lvt, v);
        break;
    }
    case 4: {                                                  /* timer count */
        static const uint32_t cnt[6] = { 1, 1, 2, 0, 100, 0xffffffffu };
        wr32(w + 0x380, rnd() & 1 ? cnt[rnd() % 6] : rnd() >> (rnd() & 31));
        break;
    }
    case 5:
        wr32(w + 0x3e0, rnd() & 1 ? 0xb : v);                  /* divide: /1 or anything */
        break;
    case 6:
        wr32(w + 0xf0, rnd() & 3 ? (v | 0x100) : v);           /* SVR, mostly enabled */
        break;
    case 7:
        wr32(w + 0x80, rnd() & 1 ? 0 : v);                     /* TPR */
        break;
    case 8:
        wr32(w + 0xb0, v);                                     /* EOI */
        break;
    case 9:
        wr32(w + 0x280, v);                                    /* ESR: latch */
        (void)rd32(w + 0x280);
        break;
    case 10: {                                                 /* ID, LDR, DFR */
        static const uint16_t r[3] = { 0x20, 0xd0, 0xe0 };
        wr32(w + r[rnd() % 3], rnd() & 1 ? v : v & 0xff000000u);
        break;
    }
    case 11: case 12:                                          /* anywhere, any width */
        wr_any(w + (rnd() & 0xfff & ~(rnd() & 3 ? 3u : 0u)), rnd_size(), v);
        break;
    default:
        (void)rd_any(w + (rnd() & 0xfff), rnd_size());
        break;
    }
}

/* The timer at its fastest: periodic, divide by 1, count 1. The model
 * spaces periodic interrupts (50 us); 20 ms must give far fewer than one
 * per count and still some. */
static int lapic_fastest_timer(void)
{
    wr32(LAPIC + 0x3e0, 0xb);
    wr32(LAPIC + 0x320, 0x20000 | 0x40);
    wr32(LAPIC + 0x380, 1);
    uint32_t before = irq_count, t0 = inl(PMTMR);
    window_irqs = 0;
    uint32_t old_max = window_max;
    window_max = 0xffffffffu;
    __asm__ volatile("sti" : : : "memory");
    while (pm_since(t0) < 20 * PMTMR_MS)
        ;
    __asm__ volatile("cli" : : : "memory");
    window_max = old_max;
    wr32(LAPIC + 0x320, 0x10000);
    wr32(LAPIC + 0x380, 0);
    uint32_t n = irq_count - before;
    gprintf("hostile: lapic timer count 1, periodic, /1: %u interrupts in 20 ms\n", n);
    if (n == 0 || n > 2000) {
        gprintf("hostile: FAIL lapic timer: want 1..2000 interrupts in 20 ms\n");
        return FAIL;
    }
    return 0;
}

int hostile_lapic_random(uint32_t ram_top)
{
    apic_basic();
    if (rdmsr_safe(APIC_BASE_MSR, &apic_msr)) {
        gprintf("hostile: FAIL rdmsr 0x1b: #GP\n");
        return FAIL;
    }
    apic_win = LAPIC;
    int rc = lapic_fastest_timer();
    if (rc)
        return rc;
    unsigned ops = 6000, moves = 0;
    for (unsigned i = 0; i < ops; i++) {
        uint32_t k = rnd() % 64;
        if (k == 0) {
            if ((rc = apic_set_base(apic_pick_base(ram_top))) != 0)
                return rc;
            moves++;
        } else if (k == 1) {
            static const uint32_t deadline[4] = { 0, 1, 0xffffffffu, 0 };
            uint64_t d = (rnd() & 1) ? rdtsc() + (rnd() & 0xfffff) : deadline[rnd() & 3];
            (void)wrmsr_safe(0x6e0, d);                        /* may #GP: no TSC-deadline */
            uint64_t r;
            (void)rdmsr_safe(0x6e0, &r);
        } else if (k < 4) {
            irq_window(rnd() & 1023);
        } else if (apic_win) {
            lapic_poke(apic_win);
        }
    }
    /* Back to the default window: it must answer like a local APIC. */
    if ((rc = apic_set_base(LAPIC | 0x800)) != 0)
        return rc;
    uint32_t ver = rd32(LAPIC + 0x30);
    if (ver != 0x00050014u) {
        gprintf("hostile: FAIL lapic version %x after the abuse\n", ver);
        return FAIL;
    }
    wr32(LAPIC + 0xf0, 0x1ff);
    if ((rd32(LAPIC + 0xf0) & 0x1ff) != 0x1ff) {
        gprintf("hostile: FAIL lapic SVR does not read back\n");
        return FAIL;
    }
    gprintf("hostile: lapic-random ok: %u ops, %u window moves, %u interrupts, %u NMIs, %u #GP\n",
            ops, moves, irq_count, nmi_count, gp_hits);
    return 0;
}

/* ---------------------------------------------------------------- I/O APIC */

static void ioapic_wr(unsigned reg, uint32_t v)
{
    wr32(IOAPIC, reg);
    wr32(IOAPIC + 0x10, v);
}

static uint32_t ioapic_rd(unsigned reg)
{
    wr32(IOAPIC, reg);
    return rd32(IOAPIC + 0x10);
}

/* PIT channel 0, mode 2, at count n. */
static void pit_start(uint16_t n)
{
    outb(0x43, 0x34);
    outb(0x40, (uint8_t)n);
    outb(0x40, (uint8_t)(n >> 8));
}

/* A redirection entry's low dword: any vector, mode, polarity, trigger. */
static uint32_t pick_rte(void)
{
    return pick_vector() | (rnd() & 7) << 8 | (rnd() & 0xa800) | (rnd() & 1 ? 0x10000 : 0) |
           (rnd() & 7 ? 0 : rnd() & 0xfffe0000u);
}

static uint32_t pick_dest(void)
{
    static const uint32_t d[4] = { 0, 0xff000000u, 0x01000000u, 0 };
    return (rnd() & 3) == 3 ? rnd() : d[rnd() & 3];
}

int hostile_ioapic_random(uint32_t ram_top)
{
    (void)ram_top;
    apic_basic();
    /* Sources: the PIT on pin 2 (edges), the RTC's periodic interrupt on
     * pin 8 (a level until register C is read), the i8042 on pin 1. */
    static const uint16_t pit_counts[4] = { 1193, 2386, 11932, 65535 };
    pit_start(pit_counts[rnd() & 3]);
    outb(0x70, 0x0a);
    outb(0x71, 0x20 | (6 + (rnd() & 7)));                     /* 1 kHz .. 8 Hz */
    outb(0x70, 0x0b);
    outb(0x71, 0x42);                                          /* PIE, 24 h */
    static const uint8_t hot[4] = { 1, 2, 8, 2 };
    unsigned ops = 6000;
    for (unsigned i = 0; i < ops; i++) {
        switch (rnd() % 20) {
        case 0: case 1: case 2: {                              /* an entry, a source pin mostly */
            unsigned pin = rnd() & 1 ? hot[rnd() & 3] : rnd() % 24;
            ioapic_wr(0x11 + 2 * pin, pick_dest());
            ioapic_wr(0x10 + 2 * pin, pick_rte());
            break;
        }
        case 3: case 4: {                                      /* toggle a source's mask */
            unsigned pin = hot[rnd() & 3];
            ioapic_wr(0x10 + 2 * pin, ioapic_rd(0x10 + 2 * pin) ^ 0x10000);
            break;
        }
        case 5:                                                /* registers past the table */
            ioapic_wr(rnd() & 0xff, rnd());
            break;
        case 6:
            (void)ioapic_rd(rnd() & 0xff);
            break;
        case 7:                                                /* IOREGSEL/IOWIN, any width */
            wr_any(IOAPIC + (rnd() & 0x13), rnd_size(), rnd());
            break;
        case 8:                                                /* EOI register */
            wr32(IOAPIC + 0x40, rnd() & 1 ? rnd() : ioapic_rd(0x10 + 2 * hot[rnd() & 3]));
            break;
        case 9:                                                /* anywhere in the page */
            if (rnd() & 1)
                wr_any(IOAPIC + (rnd() & 0xfff), rnd_size(), rnd());
            else
                (void)rd_any(IOAPIC + (rnd() & 0xfff), rnd_size());
            break;
        case 10:                                               /* re-arm the RTC's level */
            outb(0x70, 0x0c);
            (void)inb(0x71);
            break;
        case 11:                                               /* a byte for IRQ 1 */
            if (rnd() & 1) {
                outb(0x64, 0xd2);
                outb(0x60, (uint8_t)rnd());
            } else {
                (void)inb(0x60);
            }
            break;
        case 12:
            wr32(LAPIC + 0xb0, 0);                             /* an extra local EOI */
            break;
        case 13:
            if ((rnd() & 15) == 0)
                pit_start(pit_counts[rnd() & 3]);
            break;
        default:
            irq_window(rnd() & 1023);
            break;
        }
    }
    /* Everything masked again; the chip must still identify itself. */
    for (unsigned pin = 0; pin < 24; pin++)
        ioapic_wr(0x10 + 2 * pin, 0x10000);
    pit_start(0);
    outb(0x70, 0x0b);
    outb(0x71, 0x02);
    uint32_t ver = ioapic_rd(1);
    if (ver != 0x00170020u) {
        gprintf("hostile: FAIL ioapic version %x after the abuse\n", ver);
        return FAIL;
    }
    gprintf("hostile: ioapic-random ok: %u ops, %u interrupts, %u NMIs\n", ops, irq_count,
            nmi_count);
    return 0;
}

/* ---------------------------------------------------------------- fw_cfg */

#define FW_SEL 0x510
#define FW_DATA 0x511
#define FW_DMA 0x514
#define FW_CTL_ERROR 0x01
#define FW_CTL_READ 0x02
#define FW_CTL_SKIP 0x04
#define FW_CTL_SELECT 0x08
#define FW_CTL_WRITE 0x10

static uint8_t fw_buf[8192] __attribute__((aligned(16)));
static uint8_t fw_desc[16] __attribute__((aligned(16)));

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_be32(const volatile uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void fw_dma_kick(uint64_t desc)
{
    outl(FW_DMA, bswap32((uint32_t)(desc >> 32)));
    outl(FW_DMA + 4, bswap32((uint32_t)desc));
}

static uint16_t fw_pick_key(void)
{
    static const uint16_t keys[8] = { 0x00, 0x01, 0x19, 0x05, 0x0f, 0x8000, 0x8002, 0x20 };
    return rnd() & 1 ? keys[rnd() & 7] : (uint16_t)rnd();
}

/* Where a transfer's buffer goes: never over the guest itself. A length
 * that does not fit fw_buf only goes to the last 128 KiB of RAM (where
 * the end of RAM cuts it short) or outside RAM. */
static uint64_t fw_pick_addr(uint32_t len, uint32_t ram_top)
{
    switch (rnd() % 8) {
    case 0: case 1:
        if (len <= sizeof(fw_buf))
            return (uint32_t)(uintptr_t)fw_buf;
        /* fall through */
    case 2:
        return ram_top - 1 - (rnd() & 0x1ffff);                /* straddles the end */
    case 3:
        return ram_top;
    case 4:
        return 0xfffff000u | (rnd() & 0xfff);
    case 5:
        return (uint64_t)rnd() << 32 | rnd();                  /* above 4 GiB */
    case 6:
        return 0xffffffffffffffffull - (rnd() & 0xff);         /* wraps */
    default:
        return IOAPIC;                                         /* MMIO, not RAM */
    }
}

static int fw_dma_random(uint32_t ram_top)
{
    static const uint32_t lens[8] = { 0, 1, 4, 4096, 0xffffffffu, 0x80000000u, 0x10000, 0 };
    uint32_t len = rnd() & 1 ? lens[rnd() & 7] : rnd() >> (rnd() & 31);
    uint32_t ctl;
    switch (rnd() & 3) {
    case 0:
        ctl = rnd();                                           /* every bit */
        break;
    default:
        ctl = (uint32_t)fw_pick_key() << 16 | (rnd() & (FW_CTL_READ | FW_CTL_SKIP |
                                                        FW_CTL_SELECT | FW_CTL_WRITE | 1));
        break;
    }
    uint64_t addr = fw_pick_addr(len, ram_top);
    /* A READ whose buffer is in RAM below the end region could zero the
     * guest: keep only the ones into fw_buf that fit. */
    if (addr < ram_top && addr != (uint32_t)(uintptr_t)fw_buf && addr < ram_top - 0x20000u)
        addr = ram_top;
    if (addr == (uint32_t)(uintptr_t)fw_buf && len > sizeof(fw_buf))
        addr = ram_top;
    uint64_t at;
    volatile uint8_t *d;
    switch (rnd() % 8) {
    case 0:                                                    /* the last 16 bytes of RAM */
        at = ram_top - 16;
        break;
    case 1:                                                    /* straddles the end of RAM */
        at = ram_top - 8;
        break;
    case 2:
        at = ram_top;
        break;
    case 3:
        at = (uint64_t)(1 + (rnd() & 0xff)) << 32 | (rnd() & ~15u);
        break;
    case 4:
        at = 0xfffffff8u;
        break;
    default:
        at = (uint32_t)(uintptr_t)fw_desc;
        break;
    }
    uint8_t desc[16];
    put_be32(desc, ctl);
    put_be32(desc + 4, len);
    put_be32(desc + 8, (uint32_t)(addr >> 32));
    put_be32(desc + 12, (uint32_t)addr);
    if (at < ram_top) {
        d = (volatile uint8_t *)(uintptr_t)at;
        uint32_t n = at + 16 <= ram_top ? 16 : ram_top - (uint32_t)at;
        for (uint32_t i = 0; i < n; i++)
            d[i] = desc[i];
    }
    if ((rnd() & 3) || (at >> 32)) {
        fw_dma_kick(at);
    } else if (rnd() & 1) {
        outl(FW_DMA + 4, bswap32((uint32_t)at));               /* the low half alone */
    } else {                                                   /* bytes and words: ignored */
        uint16_t p = FW_DMA + (rnd() & 7);
        if (rnd() & 1)
            outb(p, (uint8_t)rnd());
        else
            outw(p & ~1, (uint16_t)rnd());
    }
    if (at == (uint32_t)(uintptr_t)fw_desc) {
        uint32_t r = get_be32(fw_desc);
        /* Control is written back as 0 or ERROR, unless a read into
         * fw_buf... never lands on fw_desc: it is a separate buffer. */
        if (r != 0 && r != FW_CTL_ERROR && r != ctl) {
            gprintf("hostile: FAIL fw_cfg DMA control %x -> %x\n", ctl, r);
            return FAIL;
        }
    }
    return 0;
}

int hostile_fwcfg_random(uint32_t ram_top)
{
    idt_setup();
    unsigned ops = 4000, dmas = 0;
    for (unsigned i = 0; i < ops; i++) {
        switch (rnd() % 8) {
        case 0:
            outw(FW_SEL, fw_pick_key());
            break;
        case 1: {                                              /* data, any width, either port */
            uint16_t p = rnd() & 1 ? FW_DATA : FW_SEL;
            for (unsigned n = rnd() & 63; n; n--) {
                switch (rnd_size()) {
                case 1: (void)inb(p); break;
                case 2: (void)inw(p); break;
                default: (void)inl(p); break;
                }
            }
            break;
        }
        case 2:                                                /* writes that mean nothing */
            if (rnd() & 1)
                outb(rnd() & 1 ? FW_DATA : FW_SEL, (uint8_t)rnd());
            else
                outl(FW_SEL, rnd());
            break;
        case 3:
            (void)inl(FW_DMA + (rnd() & 4));
            (void)inb(FW_DMA + (rnd() & 7));
            break;
        default: {
            int rc = fw_dma_random(ram_top);
            if (rc)
                return rc;
            dmas++;
            break;
        }
        }
    }
    /* The signature, through the ports and through a clean DMA. */
    outw(FW_SEL, 0);
    char sig[5] = { 0 };
    for (int i = 0; i < 4; i++)
        sig[i] = (char)inb(FW_DATA);
    if (memcmp(sig, "QEMU", 4)) {
        gprintf("hostile: FAIL fw_cfg signature '%s' through the ports\n", sig);
        return FAIL;
    }
    memset(fw_buf, 0, 8);
    put_be32(fw_desc, FW_CTL_SELECT | FW_CTL_READ);
    put_be32(fw_desc + 4, 4);
    put_be32(fw_desc + 8, 0);
    put_be32(fw_desc + 12, (uint32_t)(uintptr_t)fw_buf);
    fw_dma_kick((uint32_t)(uintptr_t)fw_desc);
    if (get_be32(fw_desc) != 0 || memcmp(fw_buf, "QEMU", 4)) {
        gprintf("hostile: FAIL fw_cfg DMA of the signature: control %x\n", get_be32(fw_desc));
        return FAIL;
    }
    gprintf("hostile: fwcfg-random ok: %u ops, %u DMA kicks\n", ops, dmas);
    return 0;
}

/* ---------------------------------------------------------------- HPET */

static void hpet_w(uint32_t reg, uint32_t v)
{
    wr32(HPET + reg, v);
}

static uint32_t hpet_r(uint32_t reg)
{
    return rd32(HPET + reg);
}

/* A comparator value: behind the counter, just ahead, 0, 1, anything. */
static uint32_t hpet_pick_cmp(void)
{
    uint32_t now = hpet_r(0xf0);
    switch (rnd() % 6) {
    case 0: return now - (rnd() & 0xffff);
    case 1: return now + (rnd() & 0xfff);
    case 2: return 0;
    case 3: return 1;
    case 4: return now;
    default: return rnd();
    }
}

int hostile_hpet_random(uint32_t ram_top)
{
    (void)ram_top;
    apic_basic();
    ioapic_wr(0x11 + 2 * 2, 0);
    ioapic_wr(0x10 + 2 * 2, 0x50);                             /* pin 2: fixed, edge */
    ioapic_wr(0x11 + 2 * 8, 0);
    ioapic_wr(0x10 + 2 * 8, 0x51);
    /* The case a fast HPET is made of: timer 0 periodic with period 1
     * (and then 0), interrupt enabled, routed to pin 2; both must leave
     * the run going. */
    for (int period = 1; period >= 0; period--) {
        hpet_w(0x10, 0);
        hpet_w(0x100, (2u << 9) | 0x4c);                       /* route 2, periodic, ENB, VAL_SET */
        hpet_w(0x10c, 0);                                      /* comparator and period high */
        hpet_w(0x100, (2u << 9) | 0x4c);
        hpet_w(0x108, hpet_r(0xf0) + 1);                       /* comparator (and period) low */
        hpet_w(0x108, (uint32_t)period);                       /* period low */
        hpet_w(0x10, 1);
        uint32_t before = irq_count, t0 = inl(PMTMR);
        while (pm_since(t0) < 5 * PMTMR_MS)
            irq_window(200);
        gprintf("hostile: hpet timer 0 period %d on pin 2: %u interrupts in 5 ms\n", period,
                irq_count - before);
    }
    static const uint32_t regs[] = { 0x010, 0x020, 0x0f0, 0x0f4, 0x100, 0x104, 0x108, 0x10c,
                                     0x110, 0x120, 0x128, 0x12c, 0x140, 0x148, 0x14c, 0x000 };
    unsigned ops = 5000;
    for (unsigned i = 0; i < ops; i++) {
        unsigned t = rnd() % 3;
        uint32_t tb = 0x100 + 0x20 * t;
        switch (rnd() % 16) {
        case 0: case 1:                                        /* enable, legacy route */
            hpet_w(0x10, rnd() & 1 ? rnd() & 3 : rnd());
            break;
        case 2: case 3: {                                      /* timer configuration */
            uint32_t c = rnd() & 0x7fce;
            if (rnd() & 1)
                c = (c & ~(0x1fu << 9)) | 2u << 9 | 0x4;       /* ENB, to pin 2 */
            hpet_w(tb, c);
            if (rnd() & 1)
                hpet_w(tb + 4, rnd());
            break;
        }
        case 4: case 5:                                        /* comparator */
            if (rnd() & 1)
                hpet_w(tb, hpet_r(tb) | 0x40);                 /* VAL_SET first */
            hpet_w(tb + 8, hpet_pick_cmp());
            if (rnd() & 1)
                hpet_w(tb + 12, rnd() & 1 ? 0 : rnd());
            break;
        case 6: {                                              /* period 0/1, periodic, pin 2 */
            hpet_w(tb, (2u << 9) | 0x4c | (rnd() & 0x102));
            hpet_w(tb + 8, hpet_pick_cmp());
            hpet_w(tb + 8, rnd() & 1);
            break;
        }
        case 7:                                                /* status: write 1 to clear */
            hpet_w(0x20, rnd());
            break;
        case 8:                                                /* main counter */
            hpet_w(0xf0 + (rnd() & 4), rnd() & 1 ? rnd() : 0xffffffffu - (rnd() & 0xffff));
            break;
        case 9:                                                /* FSB route, unused timers */
            hpet_w(tb + 0x10 + (rnd() & 4), rnd());
            break;
        case 10:                                               /* any register, any width */
            wr_any(HPET + (rnd() & 0x3ff), rnd_size(), rnd());
            break;
        case 11:
            (void)rd_any(HPET + (rnd() & 0x3ff), rnd_size());
            break;
        case 12:
            hpet_w(regs[rnd() % (sizeof(regs) / sizeof(regs[0]))], rnd());
            break;
        default:
            irq_window(rnd() & 511);
            break;
        }
    }
    hpet_w(0x10, 0);
    uint32_t cap = hpet_r(0);
    if (cap != 0x8086a201u) {
        gprintf("hostile: FAIL hpet capabilities %x after the abuse\n", cap);
        return FAIL;
    }
    gprintf("hostile: hpet-random ok: %u ops, %u interrupts\n", ops, irq_count);
    return 0;
}

/* ---------------------------------------------------------------- IDE and bus-master DMA */

#define ATA0 0x1f0
#define ATA0_CTL 0x3f6
#define ATA1 0x170
#define ATA1_CTL 0x376
#define DISK_SECTORS 2048u                /* tests/guest/hostile.sh makes a 1 MiB image */

static uint32_t prdt[8192 * 2] __attribute__((aligned(65536)));
static uint8_t dbuf[65536] __attribute__((aligned(16)));
static uint16_t bm;                       /* bus-master base (BAR4) */
static uint32_t arena_lo, arena_hi;       /* RAM where random DMA may land */
static uint32_t dma_ok, dma_bus_err, dma_dev_err;

static uint32_t pci_rd(unsigned devfn, unsigned reg)
{
    outl(0xcf8, 0x80000000u | devfn << 8 | (reg & 0xfc));
    return inl(0xcfc);
}

static void pci_wr(unsigned devfn, unsigned reg, uint32_t v)
{
    outl(0xcf8, 0x80000000u | devfn << 8 | (reg & 0xfc));
    outl(0xcfc, v);
}

#define IDE_DEVFN ((1u << 3) | 1u)

/* Status, up to n times while BSY. */
static uint8_t ata_wait(uint16_t base, unsigned n)
{
    uint8_t st = inb(base + 7);
    while ((st & 0x80) && n--)
        st = inb(base + 7);
    return st;
}

static void ata_srst(uint16_t ctl)
{
    outb(ctl, 0x04 | (rnd() & 0x82));
    outb(ctl, (uint8_t)(rnd() & 0x02));
}

/* A PRD target: the arena, outside RAM, straddling its end, MMIO. */
static uint32_t prd_pick_addr(uint32_t ram_top)
{
    switch (rnd() % 8) {
    case 0: return 0xfffff000u;
    case 1: return ram_top;
    case 2: return ram_top - (rnd() & 0xfff);                  /* straddles the end */
    case 3: return 0x80000000u | rnd();                        /* far above -m */
    case 4: return IOAPIC;
    default: return arena_lo + (rnd() % (arena_hi - arena_lo - 0x10000));
    }
}

/* Builds a table at prdt; returns the address BMIDTP gets. */
static uint32_t prd_build(uint32_t ram_top)
{
    uint32_t base = (uint32_t)(uintptr_t)prdt;
    switch (rnd() % 8) {
    case 0: {                                                  /* 8192 x 64 KiB, no EOT */
        uint32_t a = rnd() & 1 ? arena_lo : prd_pick_addr(ram_top);
        for (unsigned i = 0; i < 8192; i++) {
            prdt[2 * i] = a;
            prdt[2 * i + 1] = 0;
        }
        return base;
    }
    case 1:                                                    /* the table outside RAM */
        switch (rnd() & 3) {
        case 0: return 0xfffff000u;
        case 1: return ram_top;
        case 2: return IOAPIC;
        default: return rnd() & ~3u;
        }
    case 2: {                                                  /* the table at the end of RAM */
        uint32_t at = ram_top - 8 * (1 + (rnd() & 3));
        volatile uint32_t *p = (volatile uint32_t *)(uintptr_t)at;
        for (uint32_t a = at; a < ram_top; a += 8, p += 2) {
            p[0] = prd_pick_addr(ram_top);
            p[1] = rnd() & 0x7fffffffu;                        /* no EOT: runs off the end */
        }
        return at;
    }
    case 3:                                                    /* shorter than the transfer */
        prdt[0] = arena_lo;
        prdt[1] = 0x80000000u | 512;
        return base;
    default: {                                                 /* a few random entries */
        unsigned n = 1 + (rnd() & 7);
        for (unsigned i = 0; i < n; i++) {
            prdt[2 * i] = prd_pick_addr(ram_top) | (rnd() & 1);
            prdt[2 * i + 1] = (rnd() & 0xffff) | (i == n - 1 && (rnd() & 3) ? 0x80000000u : 0);
        }
        return base + (rnd() & 7 ? 0 : (rnd() & 0xffff & ~3u));
    }
    }
}

/* Bus master of channel c: stopped, status cleared, table at t. */
static void bm_setup(unsigned c, uint32_t t, int to_mem)
{
    uint16_t p = bm + 8 * c;
    outb(p, 0);
    outb(p + 2, 0x06);
    outl(p + 4, t);
    if (rnd() & 1)
        outb(p, to_mem ? 0x08 : 0);
}

static void bm_start(unsigned c, int to_mem)
{
    outb(bm + 8 * c, (uint8_t)(0x01 | ((rnd() & 7 ? to_mem : !to_mem) ? 0x08 : 0)));
}

/* An ATA command on the primary disk with a random address and count. */
static void ata_taskfile(uint16_t base, int lba48)
{
    uint32_t lba, cnt;
    switch (rnd() % 6) {
    case 0: lba = DISK_SECTORS + (rnd() & 0xffff); break;           /* past the end */
    case 1: lba = DISK_SECTORS - 1 - (rnd() & 15); break;           /* crosses it */
    case 2: lba = rnd(); break;
    default: lba = rnd() % DISK_SECTORS; break;
    }
    switch (rnd() % 5) {
    case 0: cnt = 0; break;                                         /* 256 or 65536 */
    case 1: cnt = 1; break;
    case 2: cnt = rnd() & 0xffff; break;
    default: cnt = rnd() & 0x3f; break;
    }
    outb(base + 6, (uint8_t)(0xe0 | (lba48 ? 0 : (lba >> 24) & 0x0f)));
    if (lba48) {
        outb(base + 2, (uint8_t)(cnt >> 8));
        outb(base + 3, (uint8_t)(lba >> 24));
        outb(base + 4, (uint8_t)(rnd() & 3 ? 0 : rnd()));
        outb(base + 5, (uint8_t)(rnd() & 3 ? 0 : rnd()));
    }
    outb(base + 2, (uint8_t)cnt);
    outb(base + 3, (uint8_t)lba);
    outb(base + 4, (uint8_t)(lba >> 8));
    outb(base + 5, (uint8_t)(lba >> 16));
}

/* Reads the data port n times at a random width: past DRQ included. */
static void pio_drain(uint16_t base, unsigned n)
{
    unsigned w = rnd_size();
    while (n--) {
        switch (w) {
        case 1: (void)inb(base); break;
        case 2: (void)inw(base); break;
        default: (void)inl(base); break;
        }
    }
}

static void pio_fill(uint16_t base, unsigned n)
{
    while (n--) {
        if (rnd() & 1)
            outl(base, rnd());
        else
            outw(base, (uint16_t)rnd());
    }
}

static void ide_dma_cmd(uint32_t ram_top)
{
    static const uint8_t cmds[4] = { 0xc8, 0xca, 0x25, 0x35 };
    uint8_t cmd = cmds[rnd() & 3];
    int to_mem = cmd == 0xc8 || cmd == 0x25;
    bm_setup(0, prd_build(ram_top), to_mem);
    int early = rnd() & 1;
    if (early)
        bm_start(0, to_mem);
    ata_taskfile(ATA0, cmd == 0x25 || cmd == 0x35);
    outb(ATA0 + 7, cmd);
    if (!early)
        bm_start(0, to_mem);
    if ((rnd() & 7) == 0)
        ata_srst(ATA0_CTL);                                    /* in the middle */
    uint8_t bms = inb(bm + 2), st = ata_wait(ATA0, 100);
    if (bms & 0x02)
        dma_bus_err++;
    else if (st & 0x01)
        dma_dev_err++;
    else if (!(st & 0x88))
        dma_ok++;
    outb(bm, 0);
}

static void ide_pio_cmd(void)
{
    static const uint8_t cmds[] = { 0x20, 0x24, 0x30, 0x34, 0xc4, 0x29, 0xc5, 0x39, 0x40, 0x42,
                                    0xc6, 0x91, 0xec, 0xa1, 0xef, 0x90, 0x08, 0xe7, 0x70 };
    uint8_t cmd = rnd() & 3 ? cmds[rnd() % sizeof(cmds)] : (uint8_t)rnd();
    if (rnd() & 1)
        ata_taskfile(ATA0, rnd() & 1);
    else
        for (unsigned r = 1; r < 7; r++)
            outb(ATA0 + r, (uint8_t)(r == 6 ? 0xa0 | (rnd() & 0x5f) : rnd()));
    if (cmd == 0xc6 || cmd == 0x91)                            /* odd SET MULTIPLE / geometry */
        outb(ATA0 + 2, (uint8_t)(rnd() & 1 ? rnd() & 0x1f : rnd()));
    outb(ATA0 + 7, cmd);
    if (rnd() & 1)
        pio_drain(ATA0, rnd() & 1023);
    else
        pio_fill(ATA0, rnd() & 1023);
    if ((rnd() & 3) == 0)
        ata_srst(ATA0_CTL);
}

/* PACKET with a garbage CDB on the CD-ROM (secondary master). */
static void atapi_cmd(uint32_t ram_top)
{
    static const uint8_t ops[] = { 0x00, 0x03, 0x12, 0x1b, 0x1e, 0x25, 0x28, 0x2b, 0x43,
                                   0x46, 0x4a, 0x51, 0x5a, 0xa8, 0xbb };
    static const uint16_t bcls[6] = { 0, 0xffff, 0xfffe, 1, 2, 0x8001 };
    int dma = rnd() & 1;
    outb(ATA1 + 6, (uint8_t)(rnd() & 7 ? 0xa0 : 0xb0));
    outb(ATA1 + 1, (uint8_t)(dma | (rnd() & 0xfe & -(rnd() & 1))));
    uint16_t bcl = rnd() & 1 ? bcls[rnd() % 6] : (uint16_t)rnd();
    outb(ATA1 + 4, (uint8_t)bcl);
    outb(ATA1 + 5, (uint8_t)(bcl >> 8));
    if (dma)
        bm_setup(1, prd_build(ram_top), 1);
    outb(ATA1 + 7, 0xa0);
    uint8_t cdb[12];
    for (int i = 0; i < 12; i++)
        cdb[i] = (uint8_t)rnd();
    if (rnd() & 3)
        cdb[0] = ops[rnd() % sizeof(ops)];
    if (rnd() & 1) {                                           /* READ(10/12): small, in range */
        cdb[2] = cdb[3] = 0;
        cdb[6] = cdb[7] = 0;
        if (rnd() & 1)
            cdb[4] = 0;
    }
    if (rnd() & 1) {
        for (int i = 0; i < 12; i += 2)
            outw(ATA1, (uint16_t)(cdb[i] | cdb[i + 1] << 8));
    } else {
        for (int i = 0; i < 12; i += 4)
            outl(ATA1, (uint32_t)cdb[i] | (uint32_t)cdb[i + 1] << 8 |
                       (uint32_t)cdb[i + 2] << 16 | (uint32_t)cdb[i + 3] << 24);
    }
    if (dma && (rnd() & 7))
        bm_start(1, 1);
    pio_drain(ATA1, rnd() & 2047);
    (void)inb(ATA1 + 7);
    if (rnd() & 1)
        ata_srst(ATA1_CTL);                                    /* mid-transfer, often */
    outb(bm + 8, 0);
}

/* Clean read and write after the abuse: PIO writes a pattern to sector 7,
 * a READ DMA with a proper table reads it back. */
static int ide_sanity(void)
{
    ata_srst(ATA0_CTL);
    outb(ATA0_CTL, 0x02);
    uint8_t st = ata_wait(ATA0, 1000);
    if (st & 0x88) {
        gprintf("hostile: FAIL ide status %x after SRST\n", st);
        return FAIL;
    }
    outb(ATA0 + 6, 0xe0);
    outb(ATA0 + 2, 1);
    outb(ATA0 + 3, 7);
    outb(ATA0 + 4, 0);
    outb(ATA0 + 5, 0);
    outb(ATA0 + 7, 0x30);
    if (!(inb(ATA0 + 7) & 0x08)) {
        gprintf("hostile: FAIL ide WRITE SECTORS: no DRQ\n");
        return FAIL;
    }
    for (unsigned i = 0; i < 128; i++)
        outl(ATA0, 0x5a5a0000u + i);
    st = inb(ATA0 + 7);
    if (st & 0x89) {
        gprintf("hostile: FAIL ide WRITE SECTORS: status %x\n", st);
        return FAIL;
    }
    memset(dbuf, 0, 512);
    prdt[0] = (uint32_t)(uintptr_t)dbuf;
    prdt[1] = 0x80000000u | 512;
    outb(bm, 0);
    outb(bm + 2, 0x06);
    outl(bm + 4, (uint32_t)(uintptr_t)prdt);
    outb(ATA0 + 2, 1);
    outb(ATA0 + 3, 7);
    outb(ATA0 + 7, 0xc8);
    outb(bm, 0x09);
    uint8_t bms = inb(bm + 2);
    st = inb(ATA0 + 7);
    outb(bm, 0);
    const uint32_t *w = (const uint32_t *)dbuf;
    for (unsigned i = 0; i < 128; i++) {
        if (w[i] != 0x5a5a0000u + i) {
            gprintf("hostile: FAIL ide READ DMA: word %u is %x (status %x, bm status %x)\n", i,
                    w[i], st, bms);
            return FAIL;
        }
    }
    return 0;
}

int hostile_ide_dma(uint32_t ram_top)
{
    apic_basic();
    ioapic_wr(0x11 + 2 * 14, 0);
    ioapic_wr(0x10 + 2 * 14, 0x60 | (rnd() & 1 ? 0x8000 : 0));
    ioapic_wr(0x11 + 2 * 15, 0);
    ioapic_wr(0x10 + 2 * 15, 0x61 | (rnd() & 1 ? 0x8000 : 0));
    bm = (uint16_t)(pci_rd(IDE_DEVFN, 0x20) & 0xfff0);
    if (!bm || inb(ATA0 + 7) == 0xff || inb(ATA0 + 7) == 0x7f) {
        gprintf("hostile: FAIL ide: no bus master (BAR4 %x) or no disk on the primary channel "
                "(run with -hda)\n", bm);
        return FAIL;
    }
    pci_wr(IDE_DEVFN, 0x04, pci_rd(IDE_DEVFN, 0x04) | 0x5);   /* I/O, bus master */
    arena_lo = ram_top / 2;
    arena_hi = ram_top;
    if (arena_lo < 0x400000) {
        gprintf("hostile: FAIL ide-dma wants at least 8 MiB of RAM\n");
        return FAIL;
    }
    /* Stale entries a table may start in the middle of: into the arena. */
    for (unsigned i = 0; i < 8192; i++) {
        prdt[2 * i] = arena_lo;
        prdt[2 * i + 1] = 0;
    }
    unsigned ops = 1500;
    for (unsigned i = 0; i < ops; i++) {
        switch (rnd() % 16) {
        case 0: case 1: case 2: case 3: case 4:
            ide_dma_cmd(ram_top);
            break;
        case 5: case 6: case 7:
            ide_pio_cmd();
            break;
        case 8: case 9: case 10:
            atapi_cmd(ram_top);
            break;
        case 11:                                               /* bus-master registers, raw */
            outb(bm + (rnd() & 15), (uint8_t)rnd());
            if (rnd() & 1)
                outl(bm + (rnd() & 12), rnd());
            (void)inl(bm + (rnd() & 12));
            outb(bm, 0);
            outb(bm + 8, 0);
            break;
        case 12:                                               /* device select, control */
            outb((rnd() & 1 ? ATA0 : ATA1) + 6, (uint8_t)rnd());
            outb(rnd() & 1 ? ATA0_CTL : ATA1_CTL, (uint8_t)(rnd() & 0x86));
            (void)inb(rnd() & 1 ? ATA0_CTL : ATA1_CTL);
            break;
        case 13:                                               /* a random command, anywhere */
            outb((rnd() & 1 ? ATA0 : ATA1) + 7, (uint8_t)rnd());
            pio_drain(rnd() & 1 ? ATA0 : ATA1, rnd() & 255);
            break;
        case 14:
            if ((rnd() & 7) == 0) {                            /* BAR4 or decoding off a moment */
                uint32_t cmd = pci_rd(IDE_DEVFN, 0x04);
                if (rnd() & 1)
                    pci_wr(IDE_DEVFN, 0x20, rnd());
                else
                    pci_wr(IDE_DEVFN, 0x04, cmd & ~1u);
                (void)inb(ATA0 + 7);
                outb(bm, 0x01);
                pci_wr(IDE_DEVFN, 0x20, bm | 1);
                pci_wr(IDE_DEVFN, 0x04, cmd);
                outb(bm, 0);
            }
            break;
        default:
            irq_window(rnd() & 255);
            break;
        }
    }
    outb(bm, 0);
    outb(bm + 8, 0);
    ata_srst(ATA1_CTL);
    int rc = ide_sanity();
    if (rc)
        return rc;
    gprintf("hostile: ide-dma ok: %u ops (DMA: %u done, %u bus errors, %u refused), "
            "%u interrupts\n", ops, dma_ok, dma_bus_err, dma_dev_err, irq_count);
    return 0;
}
