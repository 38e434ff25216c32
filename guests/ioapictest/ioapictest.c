/*
 * guests/ioapictest/ioapictest.c — the I/O APIC (0xfec00000) test guest,
 * after the Intel 82093AA datasheet (version 0x20 adds the EOI register at
 * +0x40, as in the ICH I/O APICs and QEMU's default): ID/version through
 * IOREGSEL/IOWIN, redirection entries read back, edge delivery from real
 * sources (PIT IRQ0 on pin 2, RTC IRQ8 on pin 8, the keyboard controller's
 * IRQ1 on pin 1), masking (a masked edge is lost), level triggering with
 * Remote IRR (set at delivery, cleared by the local APIC's EOI broadcast,
 * re-delivery while the line stays asserted), the EOI register. The 8259A
 * pair is masked throughout and LINT0 too, so only the I/O APIC delivers.
 *
 * The level source is the i8042: its IRQ1 stays asserted while the output
 * buffer is full and the command byte enables IRQ1, so "write output
 * buffer" (0xd2) raises it and reading port 0x60 lowers it — synchronous
 * and modelled so by QEMU (kbd_update_irq) and btvm (devices/i8042.c). The
 * 16550's THR-empty interrupt would be another, but COM1 is the console.
 *
 * The command line word "strict" adds the polarity cases (QEMU's I/O APIC
 * ignores the polarity bit); tests/guest/ioapictest.sh passes it to btvm.
 */
#include "irqlib.h"
#include "report.h"

#define RTE_LO(pin)   (0x10 + 2 * (pin))
#define RTE_HI(pin)   (0x11 + 2 * (pin))
#define RTE_MASKED    (1u << 16)
#define RTE_LEVEL     (1u << 15)
#define RTE_RIRR      (1u << 14)
#define RTE_LOW_POL   (1u << 13)
#define RTE_DELIVS    (1u << 12)
#define RTE_LOGICAL   (1u << 11)

static uint32_t apic_id;

static void rte_set(unsigned pin, uint32_t lo)
{
    ioapic_wr(RTE_LO(pin), RTE_MASKED);      /* mask first, then destination, then the rest */
    ioapic_wr(RTE_HI(pin), apic_id << 24);
    ioapic_wr(RTE_LO(pin), lo);
}

static void rte_mask(unsigned pin)
{
    ioapic_wr(RTE_LO(pin), RTE_MASKED);
    ioapic_wr(RTE_HI(pin), 0);
}

static uint8_t cmos(uint8_t reg)
{
    outb(0x70, reg);
    return inb(0x71);
}

static void cmos_wr(uint8_t reg, uint8_t v)
{
    outb(0x70, reg);
    outb(0x71, v);
}

/* ---- the i8042 ---- */

static void kbc_wait_in(void)
{
    for (uint32_t i = 0; i < 1000000 && (inb(0x64) & 2); i++)
        ;
}

static void kbc_drain(void)
{
    for (int i = 0; i < 32 && (inb(0x64) & 1); i++)
        (void)inb(0x60);
}

/* "Write keyboard output buffer": b appears at port 0x60 as if the
 * keyboard sent it, and IRQ1 rises. */
static void kbc_fake_key(uint8_t b)
{
    kbc_wait_in();
    outb(0x64, 0xd2);
    kbc_wait_in();
    outb(0x60, b);
}

static void kbc_setup(void)
{
    kbc_drain();
    kbc_wait_in();
    outb(0x64, 0x60);                        /* write command byte: */
    kbc_wait_in();
    outb(0x60, 0x05);                        /* IRQ1 on, system flag, no translation */
    kbc_drain();
}

/* ---- handlers ---- */

static volatile uint32_t hits, last_vec;
static volatile uint32_t other_hits;        /* a second vector in the same case */

static void h_count(struct irq_frame *f)
{
    last_vec = f->vec;
    hits++;
    lapic_eoi();
}

static void h_other(struct irq_frame *f)
{
    (void)f;
    other_hits++;
    lapic_eoi();
}

/* Records what the entry and the local APIC looked like at handler entry. */
static volatile uint32_t seen_rte[4], seen_tmr[4], seen_data[4], seen_rtc_c;
static unsigned watch_pin;
static uint32_t read_from;                  /* h_kbd reads port 0x60 from this entry on (0-based) */

static void h_kbd(struct irq_frame *f)
{
    uint32_t n = hits;
    if (n < 4) {
        seen_rte[n] = ioapic_rd(RTE_LO(watch_pin));
        seen_tmr[n] = lapic_bit(LAPIC_TMR, (uint8_t)f->vec);
        seen_data[n] = n >= read_from ? inb(0x60) : 0x100;
    } else {
        (void)inb(0x60);
    }
    last_vec = f->vec;
    hits = n + 1;
    lapic_eoi();
}

static void h_pit(struct irq_frame *f)
{
    if (hits < 4) {
        seen_rte[hits] = ioapic_rd(RTE_LO(2));
        seen_tmr[hits] = lapic_bit(LAPIC_TMR, (uint8_t)f->vec);
    }
    hits++;
    lapic_eoi();
}

static void h_rtc(struct irq_frame *f)
{
    (void)f;
    seen_rtc_c = cmos(0x0c);                 /* reading C lowers IRQ8 */
    hits++;
    lapic_eoi();
}

static uint32_t unexpected_at_begin;

static void tbegin(const char *name)
{
    begin(name);
    unexpected_at_begin = irq_unexpected_count;
    hits = other_hits = 0;
    last_vec = 0;
    read_from = 0;
    for (int i = 0; i < 4; i++)
        seen_rte[i] = seen_tmr[i] = seen_data[i] = 0;
}

static void tend(void)
{
    cli();
    if (irq_unexpected_count != unexpected_at_begin)
        fail("%u unexpected interrupt(s), last vector %02x", irq_unexpected_count - unexpected_at_begin,
             irq_unexpected_vec);
    for (int i = 0; i < 8; i++)
        if (lapic_rd(LAPIC_ISR + 0x10 * i)) {
            fail("local APIC ISR word %d not empty after the case: %08x", i, lapic_rd(LAPIC_ISR + 0x10 * i));
            for (int k = 0; k < 16; k++)
                lapic_eoi();
            break;
        }
    end();
}

/* ---- cases ---- */

static void test_id_version(void)
{
    tbegin("id_version");
    uint32_t ver = ioapic_rd(0x01);
    expect("version[7:0]", 0x20, ver & 0xff);
    expect("maximum redirection entry, version[23:16]", 23, (ver >> 16) & 0xff);
    mmio_wr(IOAPIC_BASE, 0x12);
    expect("IOREGSEL read back", 0x12, mmio_rd(IOAPIC_BASE) & 0xff);
    uint32_t id = ioapic_rd(0x00);
    ioapic_wr(0x00, 0x0a000000u);
    expect("ID[27:24] after writing 0x0a000000", 0x0a000000u, ioapic_rd(0x00) & 0x0f000000u);
    expect("arbitration ID[27:24] (loaded from the ID)", 0x0a000000u, ioapic_rd(0x02) & 0x0f000000u);
    ioapic_wr(0x01, 0);
    expect("version after a write (read-only)", ver, ioapic_rd(0x01));
    ioapic_wr(0x00, id);
    tend();
}

/* Every pin: masked at boot; writable bits read back; delivery status
 * (12) and Remote IRR (14) are read-only. Reserved bits are not looked at
 * (the 82093AA reserves them; QEMU stores them). */
static void test_rte_rw(void)
{
    tbegin("rte_rw");
    for (unsigned pin = 0; pin < 24; pin++) {
        uint32_t lo = ioapic_rd(RTE_LO(pin));
        if (!(lo & RTE_MASKED))
            fail("pin %u not masked at boot (low %08x)", pin, lo);
        /* vector, lowest priority, logical, low-active, level, masked + the two read-only bits */
        uint32_t v = (0x30 + pin) | (1u << 8) | RTE_LOGICAL | RTE_LOW_POL | RTE_LEVEL | RTE_MASKED;
        ioapic_wr(RTE_LO(pin), v | RTE_DELIVS | RTE_RIRR);
        ioapic_wr(RTE_HI(pin), (0xa0u + pin) << 24);
        uint32_t got = ioapic_rd(RTE_LO(pin)) & 0x1ffffu;
        if (got != v)
            fail("pin %u low: wrote %08x, read %05x, expected %05x", pin, v | RTE_DELIVS | RTE_RIRR, got, v);
        got = ioapic_rd(RTE_HI(pin)) & 0xff000000u;
        if (got != (0xa0u + pin) << 24)
            fail("pin %u high: expected %08x got %08x", pin, (0xa0u + pin) << 24, got);
        /* the other values of each field: fixed, physical, high-active, edge */
        v = (0xc0 + pin) | RTE_MASKED;
        ioapic_wr(RTE_LO(pin), v);
        got = ioapic_rd(RTE_LO(pin)) & 0x1ffffu;
        if (got != v)
            fail("pin %u low: expected %05x got %05x", pin, v, got);
        rte_mask(pin);
    }
    tend();
}

/* PIT channel 0 at 1 kHz: ISA IRQ0 arrives on pin 2 (the interrupt source
 * override every PC's MADT carries), edge, and nothing on pin 0. */
static void test_pit_edge(void)
{
    tbegin("pit_edge");
    irq_set(0x32, h_pit);
    irq_set(0x30, h_other);
    rte_set(2, 0x32);
    rte_set(0, 0x30);
    pit0_periodic(1000);
    sti();
    if (!wait_ge(&hits, 5, 1000)) {
        fail("%u interrupts on pin 2 in 1 s, expected >= 5", hits);
    } else {
        expect("TMR bit at handler entry (edge)", 0, seen_tmr[0]);
        expect("Remote IRR in the pin 2 entry at handler entry (edge)", 0, seen_rte[0] & RTE_RIRR);
        expect("interrupts on pin 0", 0, other_hits);
    }
    cli();
    pit0_stop();
    rte_mask(2);
    rte_mask(0);
    irq_settle();
    irq_set(0x32, NULL);
    irq_set(0x30, NULL);
    tend();
}

/* RTC periodic interrupt (1024 Hz) on pin 8; the handler reads register C. */
static void test_rtc_edge(void)
{
    tbegin("rtc_edge");
    irq_set(0x38, h_rtc);
    uint8_t a = cmos(0x0a), b = cmos(0x0b);
    cmos_wr(0x0a, (a & 0xf0) | 0x06);        /* rate 6: 1024 Hz */
    (void)cmos(0x0c);
    rte_set(8, 0x38);
    cmos_wr(0x0b, b | 0x40);                 /* PIE */
    sti();
    if (!wait_ge(&hits, 5, 1000))
        fail("%u interrupts on pin 8 in 1 s, expected >= 5", hits);
    else
        expect("register C in the handler (IRQF | PF)", 0xc0, seen_rtc_c & 0xc0);
    cli();
    cmos_wr(0x0b, b & ~0x70);
    cmos_wr(0x0a, a);
    (void)cmos(0x0c);
    rte_mask(8);
    irq_settle();
    irq_set(0x38, NULL);
    tend();
}

/* i8042 IRQ1 on pin 1, edge: one interrupt per byte, the byte it carried. */
static void test_kbd_edge(void)
{
    tbegin("kbd_edge");
    irq_set(0x31, h_kbd);
    watch_pin = 1;
    rte_set(1, 0x31);
    sti();
    for (uint32_t i = 0; i < 3; i++) {
        kbc_fake_key((uint8_t)(0x1c + i));
        if (!wait_ge(&hits, i + 1, 500)) {
            fail("byte %u: no interrupt on pin 1", i);
            break;
        }
        expect("byte read in the handler", 0x1c + i, seen_data[i]);
    }
    delay_ms(5);
    cli();
    expect("interrupts for 3 bytes", 3, hits);
    expect("TMR bit at handler entry (edge)", 0, seen_tmr[0]);
    rte_mask(1);
    kbc_drain();
    irq_set(0x31, NULL);
    tend();
}

/* Masking: no delivery while masked; an edge that came while masked is
 * lost (82093AA: edge-sensitive interrupts signalled on a masked pin are
 * ignored), so unmasking delivers nothing until the next edge. */
static void test_mask(void)
{
    tbegin("mask");
    irq_set(0x32, h_count);
    rte_set(2, 0x32);
    pit0_periodic(1000);
    sti();
    if (!wait_ge(&hits, 2, 1000)) {
        fail("no PIT interrupts on pin 2");
    } else {
        ioapic_wr(RTE_LO(2), RTE_MASKED | 0x32);
        delay_ms(2);
        uint32_t t = hits;
        delay_ms(30);
        expect("PIT interrupts while pin 2 is masked", t, hits);
        ioapic_wr(RTE_LO(2), 0x32);
        if (!wait_ge(&hits, t + 2, 1000))
            fail("PIT interrupts did not resume after unmasking");
    }
    cli();
    pit0_stop();
    rte_mask(2);
    irq_settle();
    irq_set(0x32, NULL);

    hits = 0;
    read_from = 0;
    watch_pin = 1;
    irq_set(0x31, h_kbd);
    rte_set(1, RTE_MASKED | 0x31);
    sti();
    kbc_fake_key(0x11);                      /* the edge, while masked */
    delay_ms(5);
    expect("keyboard interrupts while pin 1 is masked", 0, hits);
    expect("status OBF (the byte is waiting)", 1, inb(0x64) & 1);
    ioapic_wr(RTE_LO(1), 0x31);
    delay_ms(10);
    expect("keyboard interrupts after unmasking (the masked edge is lost)", 0, hits);
    expect("the byte", 0x11, inb(0x60));     /* line low again */
    kbc_fake_key(0x22);
    if (!wait_ge(&hits, 1, 500))
        fail("no interrupt for the next byte after unmasking");
    else
        expect("byte read in the handler", 0x22, seen_data[0]);
    cli();
    rte_mask(1);
    kbc_drain();
    irq_set(0x31, NULL);
    tend();
}

/* Level, active high, pin 1: Remote IRR set at delivery, TMR set; the
 * first handler EOIs without reading (the line stays asserted), so the
 * EOI broadcast clears Remote IRR and the entry delivers again; the second
 * reads the byte (the line falls) and EOIs: Remote IRR clear, no third. */
static void test_level_rirr(void)
{
    tbegin("level_rirr");
    irq_set(0x41, h_kbd);
    watch_pin = 1;
    read_from = 1;
    rte_set(1, RTE_LEVEL | 0x41);
    sti();
    kbc_fake_key(0x33);
    if (!wait_ge(&hits, 2, 500)) {
        fail("%u interrupts, expected 2 (delivery, then re-delivery after an EOI with the line high)",
             hits);
    } else {
        delay_ms(10);
        expect("interrupts (no third once the line fell)", 2, hits);
        expect("Remote IRR at the first handler entry", RTE_RIRR, seen_rte[0] & RTE_RIRR);
        expect("Remote IRR at the second handler entry", RTE_RIRR, seen_rte[1] & RTE_RIRR);
        expect("TMR bit at the first handler entry (level)", 1, seen_tmr[0]);
        expect("TMR bit at the second handler entry (level)", 1, seen_tmr[1]);
        expect("byte read in the second handler", 0x33, seen_data[1]);
        expect("Remote IRR after the last EOI", 0, ioapic_rd(RTE_LO(1)) & RTE_RIRR);
    }
    cli();
    rte_mask(1);
    kbc_drain();
    irq_set(0x41, NULL);
    tend();
}

/* Level, masked: the asserted line is not delivered and sets no Remote
 * IRR; unmasking delivers (a level is sampled, not an edge). */
static void test_level_masked(void)
{
    tbegin("level_masked");
    irq_set(0x41, h_kbd);
    watch_pin = 1;
    read_from = 0;
    rte_set(1, RTE_MASKED | RTE_LEVEL | 0x41);
    sti();
    kbc_fake_key(0x44);
    delay_ms(5);
    expect("interrupts while masked", 0, hits);
    expect("Remote IRR while masked", 0, ioapic_rd(RTE_LO(1)) & RTE_RIRR);
    ioapic_wr(RTE_LO(1), RTE_LEVEL | 0x41);
    if (!wait_ge(&hits, 1, 500)) {
        fail("no interrupt after unmasking an asserted level pin");
    } else {
        delay_ms(5);
        expect("interrupts after unmasking", 1, hits);
        expect("byte read in the handler", 0x44, seen_data[0]);
        expect("Remote IRR after the EOI", 0, ioapic_rd(RTE_LO(1)) & RTE_RIRR);
    }
    cli();
    rte_mask(1);
    kbc_drain();
    irq_set(0x41, NULL);
    tend();
}

/* The version-0x20 EOI register (+0x40). The handler for 0x42 reads the
 * byte (the line falls) and moves the entry to vector 0x43 before its
 * EOI, so the local APIC's broadcast (vector 0x42) matches no entry and
 * Remote IRR stays set; a new byte (line high) is then held back by
 * Remote IRR; an EOI-register write with another vector changes nothing;
 * writing 0x43 clears Remote IRR and, the line being high, delivers. */
static volatile uint32_t swap_rte;

static void h_swap(struct irq_frame *f)
{
    seen_data[0] = inb(0x60);
    ioapic_wr(RTE_LO(1), RTE_LEVEL | 0x43);
    swap_rte = ioapic_rd(RTE_LO(1));
    last_vec = f->vec;
    hits++;
    lapic_eoi();
}

static void h_kbd43(struct irq_frame *f)
{
    (void)f;
    seen_data[1] = inb(0x60);
    seen_rte[1] = ioapic_rd(RTE_LO(1));
    other_hits++;
    lapic_eoi();
}

static void test_eoi_reg(void)
{
    tbegin("eoi_reg");
    irq_set(0x42, h_swap);
    irq_set(0x43, h_kbd43);
    rte_set(1, RTE_LEVEL | 0x42);
    sti();
    kbc_fake_key(0x55);
    if (!wait_ge(&hits, 1, 500)) {
        fail("no interrupt on vector 0x42");
        goto out;
    }
    delay_ms(2);
    expect("byte read in the 0x42 handler", 0x55, seen_data[0]);
    expect("entry after rewriting the vector (Remote IRR kept, read-only)", RTE_RIRR | RTE_LEVEL | 0x43,
           swap_rte & 0x1ffff);
    expect("Remote IRR after the local APIC EOI of vector 0x42", RTE_RIRR, ioapic_rd(RTE_LO(1)) & RTE_RIRR);
    kbc_fake_key(0x66);
    delay_ms(10);
    expect("interrupts while Remote IRR is set", 0, other_hits);
    mmio_wr(IOAPIC_BASE + 0x40, 0x99);
    delay_ms(5);
    expect("Remote IRR after an EOI-register write of vector 0x99", RTE_RIRR,
           ioapic_rd(RTE_LO(1)) & RTE_RIRR);
    expect("interrupts after the EOI of another vector", 0, other_hits);
    mmio_wr(IOAPIC_BASE + 0x40, 0x43);
    if (!wait_ge(&other_hits, 1, 500)) {
        fail("no re-delivery after the EOI-register write of 0x43 with the line high");
    } else {
        delay_ms(5);
        expect("interrupts on 0x43", 1, other_hits);
        expect("byte read in the 0x43 handler", 0x66, seen_data[1]);
        expect("Remote IRR in the 0x43 handler", RTE_RIRR, seen_rte[1] & RTE_RIRR);
        expect("Remote IRR at the end", 0, ioapic_rd(RTE_LO(1)) & RTE_RIRR);
    }
out:
    cli();
    rte_mask(1);
    kbc_drain();
    irq_set(0x42, NULL);
    irq_set(0x43, NULL);
    tend();
}

/* btvm only ("strict"): polarity. QEMU's I/O APIC ignores bit 13. With
 * the entry active-low, the idle (low) keyboard line is asserted and a
 * full output buffer (high line) is not. */
static volatile uint32_t pol_hits;

static void h_pol_level(struct irq_frame *f)
{
    (void)f;
    pol_hits++;
    ioapic_wr(RTE_LO(1), RTE_MASKED | RTE_LOW_POL | RTE_LEVEL | 0x44);   /* else it never stops */
    lapic_eoi();
}

static void test_polarity(void)
{
    tbegin("polarity");
    kbc_drain();                             /* line low */
    irq_set(0x44, h_pol_level);
    pol_hits = 0;
    rte_set(1, RTE_LOW_POL | RTE_LEVEL | 0x44);
    sti();
    if (!wait_ge(&pol_hits, 1, 500))
        fail("level active-low, line low: no interrupt");
    delay_ms(5);
    expect("level active-low, line low: interrupts (the handler masks)", 1, pol_hits);
    expect("Remote IRR after the EOI", 0, ioapic_rd(RTE_LO(1)) & RTE_RIRR);
    kbc_fake_key(0x77);                      /* line high: deasserted */
    delay_ms(2);
    ioapic_wr(RTE_LO(1), RTE_LOW_POL | RTE_LEVEL | 0x44);
    delay_ms(10);
    expect("level active-low, line high: interrupts", 1, pol_hits);
    cli();
    rte_mask(1);
    irq_set(0x44, NULL);

    /* Edge, active-low: the falling edge (reading the byte) triggers. */
    irq_set(0x45, h_count);
    hits = 0;
    rte_set(1, RTE_MASKED | RTE_LOW_POL | 0x45);
    delay_ms(2);
    ioapic_wr(RTE_LO(1), RTE_LOW_POL | 0x45);
    sti();
    delay_ms(5);
    expect("edge active-low, line steady high: interrupts", 0, hits);
    (void)inb(0x60);                         /* line falls */
    if (!wait_ge(&hits, 1, 500))
        fail("edge active-low: no interrupt on the falling edge");
    kbc_fake_key(0x78);                      /* rises: nothing */
    delay_ms(5);
    expect("edge active-low: interrupts after a fall and a rise", 1, hits);
    cli();
    rte_mask(1);
    kbc_drain();
    irq_set(0x45, NULL);
    tend();
}

int guest_main(uint32_t magic, uint32_t mbi)
{
    report_suite("ioapictest");
    irq_init("ioapictest");
    if (!lapic_present()) {
        gprintf("ioapictest: no local APIC (CPUID.1:EDX[9] = 0)\n");
        return 2;
    }
    timing_init();
    lapic_setup();
    apic_id = lapic_rd(LAPIC_ID) >> 24;
    kbc_setup();

    test_id_version();
    test_rte_rw();
    test_pit_edge();
    test_rtc_edge();
    test_kbd_edge();
    test_mask();
    test_level_rirr();
    test_level_masked();
    test_eoi_reg();
    if (cmdline_has(magic, mbi, "strict"))
        test_polarity();
    return report_failures();
}
