/*
 * guests/lib/irqlib.c — see irqlib.h. The PIT calibration follows the
 * usual pattern (Linux's pit_calibrate_tsc): channel 2, mode 0, gate on
 * through port 0x61, poll OUT in bit 5.
 */
#include "irqlib.h"

extern const uint32_t irq_stub_table[256];   /* irqstubs.S */
void irq_reload_segments(void);

static uint64_t gdt[3] __attribute__((aligned(8)));
static uint64_t idt[256] __attribute__((aligned(8)));
static irq_handler_t handlers[256];
static const char *suite_name = "guest";
volatile uint32_t irq_unexpected_count, irq_unexpected_vec;
uint64_t tsc_hz = 1000000000ull;

static uint64_t seg_desc(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
    return (limit & 0xffff) | (uint64_t)(base & 0xffffff) << 16 | (uint64_t)access << 40 |
           (uint64_t)((limit >> 16) & 0xf) << 48 | (uint64_t)(flags & 0xf) << 52 |
           (uint64_t)(base >> 24) << 56;
}

static uint64_t int_gate(uint32_t off)
{
    return (off & 0xffff) | (uint64_t)SEL_KCODE << 16 | (uint64_t)0x8e << 40 |
           (uint64_t)(off >> 16) << 48;
}

void irq_dispatch(struct irq_frame *f);
void irq_dispatch(struct irq_frame *f)
{
    uint8_t v = (uint8_t)f->vec;
    if (handlers[v]) {
        handlers[v](f);
        return;
    }
    if (v < 32) {
        gprintf("%s: unexpected exception %u at eip %x error %x\n", suite_name, v, f->eip, f->err);
        guest_exit(100);
    }
    irq_unexpected_vec = v;
    irq_unexpected_count++;
    /* A local APIC interrupt nobody claimed: retire it so lower classes still get through. */
    if (lapic_present() && (lapic_rd(LAPIC_SVR) & SVR_ENABLE) && lapic_bit(LAPIC_ISR, v))
        lapic_eoi();
}

void irq_set(uint8_t vec, irq_handler_t h)
{
    handlers[vec] = h;
}

void pic_mask_all(void)
{
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
}

void pic_eoi(uint8_t irq)
{
    if (irq >= 8)
        outb(0xa0, 0x20);
    outb(0x20, 0x20);
}

void irq_init(const char *suite)
{
    suite_name = suite;
    gdt[0] = 0;
    gdt[1] = seg_desc(0, 0xfffff, 0x9a, 0xc);
    gdt[2] = seg_desc(0, 0xfffff, 0x92, 0xc);
    for (int i = 0; i < 256; i++)
        idt[i] = int_gate(irq_stub_table[i]);
    struct __attribute__((packed)) { uint16_t limit; uint32_t base; } gd, id;
    gd.limit = sizeof(gdt) - 1;
    gd.base = (uint32_t)(uintptr_t)gdt;
    id.limit = sizeof(idt) - 1;
    id.base = (uint32_t)(uintptr_t)idt;
    __asm__ volatile("lgdt %0" : : "m"(gd) : "memory");
    irq_reload_segments();
    __asm__ volatile("lidt %0" : : "m"(id) : "memory");

    /* ICW1-4: edge, cascade, vectors 0x20/0x28, slave on IRQ2, 8086 mode; then mask all. */
    outb(0x20, 0x11); outb(0xa0, 0x11);
    outb(0x21, 0x20); outb(0xa1, 0x28);
    outb(0x21, 0x04); outb(0xa1, 0x02);
    outb(0x21, 0x01); outb(0xa1, 0x01);
    pic_mask_all();
}

int lapic_present(void)
{
    uint32_t r[4];
    cpuid(1, r);
    return (r[3] >> 9) & 1;
}

void lapic_setup(void)
{
    lapic_wr(LAPIC_SVR, SVR_ENABLE | 0xff);
    lapic_wr(LAPIC_TPR, 0);
    lapic_wr(LAPIC_LVT_TIMER, LVT_MASKED);
    lapic_wr(LAPIC_TMICT, 0);
    lapic_wr(LAPIC_LVT_THERMAL, LVT_MASKED);
    lapic_wr(LAPIC_LVT_PERF, LVT_MASKED);
    lapic_wr(LAPIC_LVT_LINT0, LVT_MASKED | 0x700);
    lapic_wr(LAPIC_LVT_LINT1, LVT_MASKED | 0x400);
    lapic_wr(LAPIC_LVT_ERROR, LVT_MASKED);
    lapic_wr(LAPIC_ESR, 0);
    lapic_wr(LAPIC_ESR, 0);
    for (int i = 0; i < 16; i++)      /* nothing should be in service; make sure */
        lapic_eoi();
}

/* ---- timing ---- */

void pit2_start(uint16_t count)
{
    outb(0x61, (inb(0x61) & ~0x02) | 0x01);   /* gate 2 on, speaker data off */
    outb(0x43, 0xb0);                          /* channel 2, lo/hi, mode 0, binary */
    outb(0x42, count & 0xff);
    outb(0x42, count >> 8);
}

int pit2_wait(void)
{
    for (uint32_t i = 0; i < 200000000u; i++)
        if (pit2_out())
            return 1;
    return 0;
}

void pit0_periodic(uint32_t hz)
{
    uint32_t div = (PIT_HZ + hz / 2) / hz;
    outb(0x43, 0x34);                          /* channel 0, lo/hi, mode 2 */
    outb(0x40, div & 0xff);
    outb(0x40, div >> 8);
}

void pit0_stop(void)
{
    /* Mode 0 with count 1: OUT goes low, then high after one tick and stays high. */
    outb(0x43, 0x30);
    outb(0x40, 1);
    outb(0x40, 0);
}

void timing_init(void)
{
    /* 50 ms = 59659 PIT ticks; best (shortest) of three. */
    uint64_t best = ~0ull;
    for (int k = 0; k < 3; k++) {
        pit2_start(59659);
        uint64_t t0 = rdtsc();
        if (!pit2_wait()) {
            gprintf("%s: PIT channel 2 OUT never rose; assuming a 1 GHz TSC\n", suite_name);
            return;
        }
        uint64_t d = rdtsc() - t0;
        if (d < best)
            best = d;
    }
    tsc_hz = best * PIT_HZ / 59659;
    /* Every bounded wait counts TSC ticks: a TSC that does not move would
     * turn them into hangs, so stop here instead. */
    if (tsc_hz < 10000000ull) {
        gprintf("%s: unexpected: the TSC runs at %u Hz against the PIT\n", suite_name, (uint32_t)tsc_hz);
        guest_exit(101);
    }
}

uint64_t ms_to_tsc(uint32_t ms)
{
    return tsc_hz / 1000 * ms;
}

void delay_ms(uint32_t ms)
{
    uint64_t t0 = rdtsc(), d = ms_to_tsc(ms);
    while (rdtsc() - t0 < d)
        barrier();
}

void irq_settle(void)
{
    sti();
    delay_ms(2);
    cli();
}

int wait_ge(volatile uint32_t *p, uint32_t want, uint32_t ms)
{
    uint64_t t0 = rdtsc(), d = ms_to_tsc(ms);
    while (*p < want) {
        if (rdtsc() - t0 >= d)
            return *p >= want;
        barrier();
    }
    return 1;
}

