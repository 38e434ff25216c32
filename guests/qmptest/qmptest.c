/*
 * guests/qmptest — the guest of the QMP test (tests/guest/qmp.sh).
 *
 * Prints "qmptest: tick N" every 20 ms of ACPI PM timer, so the serial
 * output of a paused machine visibly stops growing. Listens for the ACPI
 * fixed-feature power button as an OS does: PWRBTN_EN in PM1_EN, the SCI
 * (ISA IRQ 9) unmasked at the 8259A pair; the SCI handler clears
 * PWRBTN_STS and the main loop then prints "qmptest: power button" and
 * powers the machine off (PM1_CNT: SLP_TYP of \_S5, SLP_EN). \_S5 is 5 on
 * btvm and 0 on QEMU's PIIX4: the command line's "s5=0" says which.
 * "nobutton": PWRBTN_EN stays clear (a guest without ACPI handling; a
 * press must then do nothing). The PM block sits at 0x600 on both.
 */
#include "guest.h"
#include "irqlib.h"

#define PM1_STS 0x600
#define PM1_EN  0x602
#define PM1_CNT 0x604
#define PM_TMR  0x608
#define PWRBTN  (1u << 8)
#define SLP_EN  (1u << 13)
#define SCI_VEC 0x29 /* IRQ 9: the slave 8259A's second input */
#define TICK_PM 71591u /* 20 ms at 3.579545 MHz */

static volatile uint32_t presses, scis;

static void on_sci(struct irq_frame *f)
{
    (void)f;
    scis++;
    if (inw(PM1_STS) & PWRBTN) {
        outw(PM1_STS, PWRBTN); /* write 1 to clear: the SCI line falls */
        presses++;
    }
    pic_eoi(9);
}

static uint32_t pm_now(void)
{
    return inl(PM_TMR) & 0xffffffu;
}

int guest_main(uint32_t magic, uint32_t mbi)
{
    irq_init("qmptest");
    unsigned s5 = cmdline_has(magic, mbi, "s5=0") ? 0 : 5;
    int button = !cmdline_has(magic, mbi, "nobutton");
    irq_set(SCI_VEC, on_sci);
    outw(PM1_STS, 0xffff); /* nothing stale */
    if (button)
        outw(PM1_EN, PWRBTN);
    outb(0x21, 0xff & ~(1u << 2)); /* the cascade */
    outb(0xa1, 0xff & ~(1u << 1)); /* IRQ 9 */
    sti();
    gprintf("qmptest: running, power button %s\n", button ? "enabled" : "ignored");
    uint32_t t = pm_now();
    for (uint32_t n = 0;; n++) {
        while (((pm_now() - t) & 0xffffffu) < TICK_PM)
            if (presses)
                break;
        t = (t + TICK_PM) & 0xffffffu;
        if (presses) {
            gprintf("qmptest: power button (SCI %u), powering off\n", scis);
            outw(PM1_CNT, (uint16_t)((s5 << 10) | SLP_EN));
            for (volatile uint32_t i = 0; i < 100000000u; i++)
                ;
            gprintf("qmptest: still on after S5\n");
            return 3;
        }
        gprintf("qmptest: tick %u\n", n);
    }
}
