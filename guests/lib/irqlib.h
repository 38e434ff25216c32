/*
 * guests/lib/irqlib.h — what the interrupt-controller test guests (apictest,
 * ioapictest) share: a flat GDT, an IDT whose 256 vectors all enter
 * irq_dispatch() (irqstubs.S) and run a per-vector C handler, the 8259A
 * pair remapped to 0x20/0x28 and masked, timing against the 8254 (TSC
 * calibrated on PIT channel 2, bounded waits), local/I/O APIC register
 * access and the Multiboot command line. Linked only into the guests that
 * list irqlib.o and irqstubs.o (guests/module.mk).
 */
#ifndef BTVM_GUEST_IRQLIB_H
#define BTVM_GUEST_IRQLIB_H

#include "guest.h"

#define SEL_KCODE 0x08
#define SEL_KDATA 0x10

/* What irqstubs.S pushes: pushal, then vector and error code (0 if none). */
struct irq_frame {
    uint32_t edi, esi, ebp, esp0, ebx, edx, ecx, eax;
    uint32_t vec, err;
    uint32_t eip, cs, eflags;
};

typedef void (*irq_handler_t)(struct irq_frame *f);

/* GDT, IDT, PIC remapped (IRQ0-7 → 0x20-0x27, IRQ8-15 → 0x28-0x2f) and all masked. */
void irq_init(const char *suite);
void irq_set(uint8_t vec, irq_handler_t h);      /* NULL: back to the default */
/* Interrupts (vector >= 32) that arrived with no handler installed; the
 * default handler EOIs the local APIC when the vector is in its ISR. */
extern volatile uint32_t irq_unexpected_count, irq_unexpected_vec;

static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void barrier(void) { __asm__ volatile("" ::: "memory"); }

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

static inline void cpuid(uint32_t leaf, uint32_t r[4])
{
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(0));
}

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (uint64_t)hi << 32 | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

static inline uint32_t mmio_rd(uint32_t a) { return *(volatile uint32_t *)(uintptr_t)a; }
static inline void mmio_wr(uint32_t a, uint32_t v) { *(volatile uint32_t *)(uintptr_t)a = v; }

/* ---- local APIC (xAPIC, SDM vol. 3 table 10-1) ---- */
#define LAPIC_BASE  0xfee00000u
enum {
    LAPIC_ID = 0x20, LAPIC_VER = 0x30, LAPIC_TPR = 0x80, LAPIC_APR = 0x90, LAPIC_PPR = 0xa0,
    LAPIC_EOI = 0xb0, LAPIC_LDR = 0xd0, LAPIC_DFR = 0xe0, LAPIC_SVR = 0xf0,
    LAPIC_ISR = 0x100, LAPIC_TMR = 0x180, LAPIC_IRR = 0x200, LAPIC_ESR = 0x280,
    LAPIC_ICR_LO = 0x300, LAPIC_ICR_HI = 0x310, LAPIC_LVT_TIMER = 0x320,
    LAPIC_LVT_THERMAL = 0x330, LAPIC_LVT_PERF = 0x340, LAPIC_LVT_LINT0 = 0x350,
    LAPIC_LVT_LINT1 = 0x360, LAPIC_LVT_ERROR = 0x370, LAPIC_TMICT = 0x380,
    LAPIC_TMCCT = 0x390, LAPIC_TDCR = 0x3e0,
};
#define LVT_MASKED      (1u << 16)
#define SVR_ENABLE      (1u << 8)

static inline uint32_t lapic_rd(uint32_t off) { return mmio_rd(LAPIC_BASE + off); }
static inline void lapic_wr(uint32_t off, uint32_t v) { mmio_wr(LAPIC_BASE + off, v); }
static inline void lapic_eoi(void) { lapic_wr(LAPIC_EOI, 0); }
/* Bit `vec` of the 256-bit ISR/TMR/IRR at `reg`. */
static inline int lapic_bit(uint32_t reg, uint8_t vec)
{
    return (lapic_rd(reg + 0x10 * (vec >> 5)) >> (vec & 31)) & 1;
}
/* CPUID.1:EDX[9]. */
int lapic_present(void);
/* Software-enable with spurious vector 0xff, TPR 0, every LVT masked, ESR
 * cleared, whatever the firmware left in service retired. */
void lapic_setup(void);

/* ---- I/O APIC (82093AA: IOREGSEL at +0, IOWIN at +0x10, EOI at +0x40) ---- */
#define IOAPIC_BASE 0xfec00000u
static inline uint32_t ioapic_rd(uint8_t reg)
{
    mmio_wr(IOAPIC_BASE, reg);
    return mmio_rd(IOAPIC_BASE + 0x10);
}
static inline void ioapic_wr(uint8_t reg, uint32_t v)
{
    mmio_wr(IOAPIC_BASE, reg);
    mmio_wr(IOAPIC_BASE + 0x10, v);
}

/* ---- 8259A ---- */
void pic_mask_all(void);
void pic_eoi(uint8_t irq);

/* ---- timing ---- */
#define PIT_HZ 1193182u
/* Channel 2 in mode 0 counting `count` PIT ticks (gate on, speaker off);
 * pit2_out() is its OUT (port 0x61 bit 5), high once the count ran out. */
void pit2_start(uint16_t count);
static inline int pit2_out(void) { return (inb(0x61) >> 5) & 1; }
/* Polls OUT; 0 if it never rose (a broken PIT must not hang the guest). */
int pit2_wait(void);
/* Channel 0: mode 2 (rate generator) at hz, or stopped with OUT high. */
void pit0_periodic(uint32_t hz);
void pit0_stop(void);

/* TSC ticks per second, measured against PIT channel 2 by timing_init()
 * (1 GHz assumed if the PIT does not count). */
extern uint64_t tsc_hz;
void timing_init(void);
uint64_t ms_to_tsc(uint32_t ms);
void delay_ms(uint32_t ms);                      /* IF as it is */
/* Spin until *p >= want or ms elapse; 1 if reached. IF as it is. */
int wait_ge(volatile uint32_t *p, uint32_t want, uint32_t ms);

/* After a source was stopped or masked with IF=0: let an interrupt that
 * was already accepted (local APIC IRR, CPU INTR) arrive while its handler
 * is still installed, 2 ms with IF=1, then IF=0 again. */
void irq_settle(void);


#endif
