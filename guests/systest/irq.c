/*
 * guests/systest/irq.c — the device side of systest: the 8259A pair
 * (ICW1-4 to vectors 0x20/0x28, IMR, EOI, ISR through OCW3), IRQ0 from the
 * 8254 PIT channel 0 at 1 kHz (mode 2), masking, cli/sti and the `sti; hlt`
 * wake-up, and the MC146818 RTC read with the update-in-progress protocol.
 */
#include "systest.h"

#define PIC1 0x20
#define PIC2 0xa0
#define SPIN_MAX 200000000u

/* Remap both PICs to 0x20/0x28 and mask every IRQ (QEMU's BIOS leaves IRQ0 on vector 8). */
void pic_setup(void)
{
    outb(PIC1, 0x11);          /* ICW1: edge, cascade, ICW4 needed */
    outb(PIC2, 0x11);
    outb(PIC1 + 1, 0x20);      /* ICW2: vector base */
    outb(PIC2 + 1, 0x28);
    outb(PIC1 + 1, 0x04);      /* ICW3: slave on IRQ2 */
    outb(PIC2 + 1, 0x02);
    outb(PIC1 + 1, 0x01);      /* ICW4: 8086 mode, normal EOI */
    outb(PIC2 + 1, 0x01);
    outb(PIC1 + 1, 0xff);
    outb(PIC2 + 1, 0xff);
}

/* Spins with interrupts as they are until ticks reaches want; returns the iterations used. */
static uint32_t spin_until(uint32_t want, uint32_t max)
{
    uint32_t i;
    for (i = 0; i < max && ticks < want; i++)
        __asm__ volatile("" : : : "memory");
    return i;
}

static void spin(uint32_t n)
{
    for (volatile uint32_t i = 0; i < n; i++)
        ;
}

void run_irq_tests(void)
{
    uint32_t t0, t1, iters;

    begin("pit_irq");
    outb(PIC1 + 1, 0xfe);      /* IRQ0 only */
    expect("IMR read back", 0xfe, inb(PIC1 + 1));
    outb(0x43, 0x34);          /* channel 0, lo/hi byte, mode 2, binary */
    outb(0x40, 1193 & 0xff);   /* 1193182 Hz / 1193 = 1 kHz */
    outb(0x40, 1193 >> 8);
    ticks = 0;
    __asm__ volatile("sti" : : : "memory");
    iters = spin_until(5, SPIN_MAX);
    __asm__ volatile("cli" : : : "memory");
    int have_ticks = ticks >= 5;
    if (!have_ticks)
        fail("%u timer ticks after %u iterations, expected >= 5", ticks, iters);
    else {
        expect("interrupted CS", SEL_KCODE, irq_cs);
        expect("interrupted EFLAGS.IF", 0x200, irq_eflags & 0x200);
    }
    end();
    /* Time for about 20 ticks, measured in spin iterations. */
    uint32_t wait = iters * 4 + 100000;

    begin("pic_isr");
    if (!irq_sampled) {
        fail("IRQ0 handler never ran");
    } else {
        expect("ISR in the IRQ0 handler (bit 0)", 0x01, irq_isr_in);
        expect("ISR after EOI", 0, irq_isr_after);
    }
    outb(PIC1, 0x0b);
    expect("ISR outside the handler", 0, inb(PIC1));
    outb(PIC1, 0x0a);
    end();

    begin("pic_mask");
    if (!have_ticks) {
        fail("skipped: no timer ticks");
    } else {
        outb(PIC1 + 1, 0xff);
        t0 = ticks;
        __asm__ volatile("sti" : : : "memory");
        spin(wait);
        __asm__ volatile("cli" : : : "memory");
        t1 = ticks;
        expect("ticks while IRQ0 masked", t0, t1);
        outb(PIC1 + 1, 0xfe);
        __asm__ volatile("sti" : : : "memory");
        iters = spin_until(t1 + 2, SPIN_MAX);
        __asm__ volatile("cli" : : : "memory");
        if (ticks < t1 + 2)
            fail("ticks did not resume after unmasking (%u -> %u)", t1, ticks);
    }
    end();

    begin("cli_sti_hlt");
    if (!have_ticks) {
        fail("skipped: no timer ticks (hlt would never wake)");
    } else {
        t0 = ticks;
        spin(wait);             /* IF=0: IRQ0 stays pending */
        t1 = ticks;
        expect("ticks while IF=0", t0, t1);
        __asm__ volatile("sti\n\thlt\n\tcli" : : : "memory");
        if (ticks == t1)
            fail("sti; hlt returned without a tick");
        for (int k = 0; k < 3; k++) {
            t0 = ticks;
            __asm__ volatile("sti\n\thlt\n\tcli" : : : "memory");
            if (ticks == t0)
                fail("sti; hlt #%d returned without a tick", k);
        }
        /* POPF at CPL 0 restores IF both ways (local_irq_restore), and a
         * tick that waited while IF was 0 comes right after the POPF that
         * sets it. */
        uint32_t f0, f1;
        __asm__ volatile("cli\n\tpushfl\n\tsti\n\tnop\n\tpopfl\n\tpushfl\n\tpopl %0" : "=r"(f0) : : "memory");
        expect("IF after popf of an image with IF clear", 0, f0 & 0x200);
        __asm__ volatile("sti\n\tnop\n\tpushfl\n\tcli\n\tpopfl\n\tpushfl\n\tpopl %0\n\tcli" : "=r"(f1) : : "memory");
        expect("IF after popf of an image with IF set", 0x200, f1 & 0x200);
        t0 = ticks;
        spin(wait);             /* IF=0: IRQ0 stays pending */
        __asm__ volatile("pushfl\n\torl $0x200, (%%esp)\n\tpopfl\n\tmovl %1, %0\n\tcli"
                         : "=r"(t1) : "m"(ticks) : "memory");
        if (t1 == t0)
            fail("the tick pending while IF=0 did not come after popf set IF");
    }
    end();

    outb(PIC1 + 1, 0xff);
    outb(PIC2 + 1, 0xff);
    __asm__ volatile("cli" : : : "memory");
}

static uint8_t cmos(uint8_t reg)
{
    outb(0x70, reg);
    return inb(0x71);
}

static int bcd_ok(uint8_t v)
{
    return (v & 0x0f) <= 9 && (v >> 4) <= 9;
}

static uint8_t from_bcd(uint8_t v)
{
    return (uint8_t)((v >> 4) * 10 + (v & 0x0f));
}

void run_rtc_test(void)
{
    static const uint8_t regs[6] = { 0x00, 0x02, 0x04, 0x07, 0x08, 0x09 };
    static const char *const names[6] = { "seconds", "minutes", "hours", "day", "month", "year" };
    uint8_t a[6], b[6];
    int stable = 0;

    begin("rtc");
    for (int tries = 0; tries < 10 && !stable; tries++) {
        uint32_t w;
        for (w = 0; w < 10000000 && (cmos(0x0a) & 0x80); w++)
            ;
        if (w == 10000000) {
            fail("register A UIP stuck at 1");
            break;
        }
        for (int i = 0; i < 6; i++)
            a[i] = cmos(regs[i]);
        for (w = 0; w < 10000000 && (cmos(0x0a) & 0x80); w++)
            ;
        for (int i = 0; i < 6; i++)
            b[i] = cmos(regs[i]);
        stable = !memcmp(a, b, sizeof(a));
    }
    if (!stable) {
        fail("no two consecutive equal reads");
        end();
        return;
    }
    uint8_t rb = cmos(0x0b), rd = cmos(0x0d);
    int binary = rb & 0x04, h24 = rb & 0x02;
    expect("register D VRT", 0x80, rd & 0x80);
    uint8_t v[6];
    int pm = 0;
    for (int i = 0; i < 6; i++) {
        uint8_t x = a[i];
        if (i == 2 && !h24) {
            pm = x & 0x80;
            x &= 0x7f;
        }
        if (!binary && !bcd_ok(x))
            fail("%s %x is not BCD", names[i], a[i]);
        v[i] = binary ? x : from_bcd(x);
    }
    static const uint8_t lo[6] = { 0, 0, 0, 1, 1, 0 }, hi[6] = { 59, 59, 23, 31, 12, 99 };
    for (int i = 0; i < 6; i++) {
        uint8_t l = lo[i], h = hi[i];
        if (i == 2 && !h24)
            l = 1, h = 12;
        if (v[i] < l || v[i] > h)
            fail("%s %u out of range %u..%u", names[i], v[i], l, h);
    }
    gprintf("systest: rtc reads %02u-%02u-%02u %02u:%02u:%02u%s (register B %x)\n", v[5], v[4], v[3], v[2],
            v[1], v[0], !h24 ? (pm ? " pm" : " am") : "", rb);
    end();
}
