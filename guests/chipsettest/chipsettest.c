/*
 * guests/chipsettest/chipsettest.c — the chipset around the firmware, as a
 * guest sees it (tests/guest/chipsettest.sh; docs/machine.md):
 *
 * - rom: with PAM0 = 0 (reads of 0xF0000-0xFFFFF go to the PCI side) the
 *   BIOS ROM shows there and at 0xFFFF0000, byte for byte, and the reset
 *   vector 0xFFFFFFF0 holds a far jump (0xEA);
 * - pam_rw, pam_ro, pam_off, pam_back: a 16 KiB shadow segment (0xEC000,
 *   PAM6 bits 5:4): RW shadow RAM keeps what is written; read-only drops
 *   writes; disabled shows the ROM (its copy at 0xFFFEC000) and drops
 *   writes; RW again shows the RAM as left; write-only shows the ROM and
 *   writes the RAM (the chipset's rule; QEMU reads RAM there: "wo=skip"
 *   on the command line leaves this case out; "a20=skip" the A20 cases,
 *   for the KVM engine);
 * - a20_port92: with port 0x92 bit 1 clear, address bit 20 is forced to 0
 *   (0x300000 reads and writes 0x200000); set again, it is not;
 * - a20_kbc: the same through the i8042's output port (command 0xD1);
 * - apm: writes of 0xF0/0xF1 to the APM port 0xB2 clear/set PM1_CNT.SCI_EN
 *   (PM base from the PIIX4's PMBA), APMS 0xB3 keeps a byte.
 *
 * Run with a BIOS ROM mapped (btvm -kernel ... -bios FILE; QEMU always).
 * The A20 probe runs from a copy below 1 MiB with interrupts off: the
 * guest's own code lives at 1 MiB, which A20 off hides.
 */
#include "guest.h"
#include "report.h"

#define PAM0 0x59
#define PAM6 0x5F
#define SEG  0xEC000u       /* PAM6 bits 5:4 */
#define SEG_LEN 0x4000u
#define TOP_ALIAS(a) (0xFFFE0000u + ((a) - 0xE0000u)) /* the last 128 KiB of the ROM */

static uint32_t pci_read32(unsigned dev, unsigned fn, unsigned reg)
{
    outl(0xCF8, 0x80000000u | dev << 11 | fn << 8 | (reg & 0xFC));
    return inl(0xCFC);
}

static uint8_t pci_read8(unsigned dev, unsigned fn, unsigned reg)
{
    outl(0xCF8, 0x80000000u | dev << 11 | fn << 8 | (reg & 0xFC));
    return inb(0xCFC + (reg & 3));
}

static void pci_write8(unsigned dev, unsigned fn, unsigned reg, uint8_t v)
{
    outl(0xCF8, 0x80000000u | dev << 11 | fn << 8 | (reg & 0xFC));
    outb(0xCFC + (reg & 3), v);
}

static volatile uint8_t *at(uint32_t a) { return (volatile uint8_t *)(uintptr_t)a; }

/* 1: every byte of [a, a + n) equals b's. */
static int same(uint32_t a, uint32_t b, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (at(a)[i] != at(b)[i])
            return 0;
    return 1;
}

static int filled(uint32_t a, uint8_t v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (at(a)[i] != v)
            return 0;
    return 1;
}

static void fill(uint32_t a, uint8_t v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        at(a)[i] = v;
}

static void set_pam6_hi(uint8_t mode)
{
    uint8_t v = pci_read8(0, 0, PAM6);
    pci_write8(0, 0, PAM6, (uint8_t)((v & 0x0F) | mode << 4));
}

static void test_rom(void)
{
    begin("rom");
    uint8_t saved = pci_read8(0, 0, PAM0);
    pci_write8(0, 0, PAM0, 0x00);
    expect("PAM0 reads back", 0x00, pci_read8(0, 0, PAM0) & 0x30);
    if (!same(0xF0000, 0xFFFF0000u, 0x10000))
        fail("0xF0000-0xFFFFF differs from 0xFFFF0000-0xFFFFFFFF with PAM0 = 0");
    expect("reset vector at 0xFFFFFFF0", 0xEA, *at(0xFFFFFFF0u));
    expect("reset vector at 0xFFFF0", 0xEA, *at(0xFFFF0));
    /* The ROM takes no writes. */
    uint8_t v = *at(0xFFFFFFF0u);
    *at(0xFFFFFFF0u) = (uint8_t)~v;
    expect("ROM at 0xFFFFFFF0 after a write", v, *at(0xFFFFFFF0u));
    *at(0xFFFF0) = (uint8_t)~v;
    expect("ROM at 0xFFFF0 after a write", v, *at(0xFFFF0));
    pci_write8(0, 0, PAM0, saved);
    end();
}

static int skip_wo;

static void test_pam(void)
{
    begin("pam_rw");
    set_pam6_hi(3);
    fill(SEG, 0xA5, SEG_LEN);
    if (!filled(SEG, 0xA5, SEG_LEN))
        fail("RW shadow RAM does not keep 0xA5");
    end();

    begin("pam_ro");
    set_pam6_hi(1);
    fill(SEG, 0x5A, SEG_LEN);
    if (!filled(SEG, 0xA5, SEG_LEN))
        fail("read-only shadow RAM took a write (0x%x at 0x%x)", *at(SEG), SEG);
    expect("segment below (PAM6 bits 1:0) unchanged in mode", 1,
           (pci_read8(0, 0, PAM6) >> 4) == 1);
    end();

    begin("pam_off");
    set_pam6_hi(0);
    if (!same(SEG, TOP_ALIAS(SEG), SEG_LEN))
        fail("0x%x does not show the ROM (0x%x) with reads to PCI", SEG, TOP_ALIAS(SEG));
    if (filled(SEG, 0xA5, SEG_LEN))
        fail("0x%x still shows the RAM with reads to PCI", SEG);
    fill(SEG, 0x3C, 16);
    if (!same(SEG, TOP_ALIAS(SEG), 16))
        fail("a write with PAM disabled changed what reads see");
    end();

    begin("pam_back");
    set_pam6_hi(3);
    if (!filled(SEG, 0xA5, SEG_LEN))
        fail("RW again: 0x%x reads 0x%x, expected the RAM's 0xA5", SEG, *at(SEG));
    end();

    if (skip_wo) {
        /* QEMU maps a write-only segment as RAM, reads included (its
         * pam.c says so); the chipset reads the PCI side. */
        gprintf("chipsettest: pam_wo skipped (wo=skip)\n");
        return;
    }
    begin("pam_wo");
    set_pam6_hi(2);
    if (!same(SEG, TOP_ALIAS(SEG), SEG_LEN))
        fail("write-only: 0x%x does not show the ROM", SEG);
    fill(SEG, 0x3C, 16);
    if (!same(SEG, TOP_ALIAS(SEG), 16))
        fail("write-only: a write changed what reads see");
    set_pam6_hi(3);
    if (!filled(SEG, 0x3C, 16) || !filled(SEG + 16, 0xA5, SEG_LEN - 16))
        fail("write-only: the write did not reach the RAM (0x%x reads 0x%x)", SEG, *at(SEG));
    end();
}

/*
 * The A20 probe, position-independent, copied below 1 MiB. In: AL = the
 * port 0x92 value that closes the gate, AH = the one that opens it. Out:
 * ECX = dword at 0x300000 while closed, EDX = dword at 0x300000 after
 * reopening; while closed it also stores 0x77 to 0x300010.
 */
extern const uint8_t a20_blob[], a20_blob_end[];
__asm__(".text\n"
        "a20_blob:\n"
        "  outb %al, $0x92\n"
        "  movl 0x300000, %ecx\n"
        "  movl $0x77, 0x300010\n"
        "  movb %ah, %al\n"
        "  outb %al, $0x92\n"
        "  movl 0x300000, %edx\n"
        "  ret\n"
        "a20_blob_end:\n");

/*
 * The same through the i8042's output port (command 0xD1, then the port's
 * value on 0x60: 0xDD = A20 off, 0xDF = on, bit 0 (reset) kept 1). Waits
 * for the input buffer with calls, so it runs on a stack below 1 MiB
 * (0x7000) and returns on the caller's, once A20 is on again.
 */
extern const uint8_t a20kbc_blob[], a20kbc_blob_end[];
__asm__(".text\n"
        "a20kbc_blob:\n"
        "  movl %esp, %ebp\n"
        "  movl $0x7000, %esp\n"
        "  movb $0xD1, %al\n  call 1f\n  outb %al, $0x64\n"
        "  movb $0xDD, %al\n  call 1f\n  outb %al, $0x60\n"
        "  call 1f\n"
        "  movl 0x300000, %ecx\n"
        "  movl $0x77, 0x300010\n"
        "  movb $0xD1, %al\n  call 1f\n  outb %al, $0x64\n"
        "  movb $0xDF, %al\n  call 1f\n  outb %al, $0x60\n"
        "  call 1f\n"
        "  movl 0x300000, %edx\n"
        "  movl %ebp, %esp\n"
        "  ret\n"
        /* wait until the controller's input buffer is empty (AL kept) */
        "1: movb %al, %ah\n"
        "2: inb $0x64, %al\n"
        "  testb $2, %al\n"
        "  jnz 2b\n"
        "  movb %ah, %al\n"
        "  ret\n"
        "a20kbc_blob_end:\n");

#define LOW_CODE 0x8000u

static void test_a20(void)
{
    begin("a20_port92");
    *(volatile uint32_t *)0x200000 = 0x11111111;
    *(volatile uint32_t *)0x300000 = 0x33333333;
    *(volatile uint32_t *)0x200010 = 0;
    *(volatile uint32_t *)0x300010 = 0;
    for (const uint8_t *p = a20_blob; p < a20_blob_end; p++)
        at(LOW_CODE)[p - a20_blob] = *p;
    uint8_t p92 = inb(0x92) & ~1u; /* never the reset bit */
    uint32_t closed, open;
    uint16_t ax = (uint16_t)((p92 | 2u) << 8 | (p92 & ~2u));
    __asm__ volatile("pushf\n cli\n call *%2\n popf"
                     : "=c"(closed), "=d"(open) : "r"(LOW_CODE), "a"(ax) : "memory");
    expect("0x300000 with A20 off (reads 0x200000)", 0x11111111, closed);
    expect("0x300000 with A20 on again", 0x33333333, open);
    expect("store to 0x300010 with A20 off reached 0x200010", 0x77, *(volatile uint32_t *)0x200010);
    expect("0x300010 untouched", 0, *(volatile uint32_t *)0x300010);
    expect("port 0x92 bit 1 reads back", 2, inb(0x92) & 2);
    end();
}

static void test_a20_kbc(void)
{
    begin("a20_kbc");
    *(volatile uint32_t *)0x200000 = 0x22222222;
    *(volatile uint32_t *)0x300000 = 0x44444444;
    *(volatile uint32_t *)0x200010 = 0;
    *(volatile uint32_t *)0x300010 = 0;
    for (const uint8_t *p = a20kbc_blob; p < a20kbc_blob_end; p++)
        at(LOW_CODE)[p - a20kbc_blob] = *p;
    uint32_t closed, open;
    __asm__ volatile("pushf\n cli\n call *%2\n popf"
                     : "=c"(closed), "=d"(open) : "r"(LOW_CODE) : "eax", "ebp", "memory");
    expect("0x300000 with the i8042's A20 off (reads 0x200000)", 0x22222222, closed);
    expect("0x300000 with A20 on again", 0x44444444, open);
    expect("store to 0x300010 with A20 off reached 0x200010", 0x77, *(volatile uint32_t *)0x200010);
    expect("0x300010 untouched", 0, *(volatile uint32_t *)0x300010);
    end();
}

static void test_apm(void)
{
    begin("apm");
    uint16_t pm = (uint16_t)(pci_read32(1, 3, 0x40) & 0xFFC0);
    expect("PMREGMISC: PM I/O enabled", 1, pci_read8(1, 3, 0x80) & 1);
    uint16_t cnt = (uint16_t)(pm + 4);
    outb(0xB2, 0xF0);
    expect("SCI_EN after ACPI_DISABLE", 0, inw(cnt) & 1);
    expect("APMC reads back", 0xF0, inb(0xB2));
    outb(0xB2, 0xF1);
    expect("SCI_EN after ACPI_ENABLE", 1, inw(cnt) & 1);
    outw(cnt, inw(cnt) & ~1u);
    expect("SCI_EN written 0 (read/write on the PIIX4)", 0, inw(cnt) & 1);
    outb(0xB2, 0xF1);
    expect("SCI_EN after ACPI_ENABLE again", 1, inw(cnt) & 1);
    outb(0xB3, 0x5C);
    expect("APMS keeps a byte", 0x5C, inb(0xB3));
    end();
}

int guest_main(uint32_t magic, uint32_t mbi)
{
    report_suite("chipsettest");
    const char *cmdline = 0;
    if (magic == MULTIBOOT_BOOTLOADER_MAGIC && (((const uint32_t *)(uintptr_t)mbi)[0] & 4))
        cmdline = (const char *)(uintptr_t)((const uint32_t *)(uintptr_t)mbi)[4];
    int skip_a20 = 0;
    for (const char *c = cmdline; c && *c; c++) {
        if (!memcmp(c, "wo=skip", 7))
            skip_wo = 1;
        if (!memcmp(c, "a20=skip", 8))
            skip_a20 = 1;
    }
    test_rom();
    test_pam();
    if (skip_a20) {
        /* KVM has no A20 gate (docs/hav.md). */
        gprintf("chipsettest: a20 skipped (a20=skip)\n");
    } else {
        test_a20();
        test_a20_kbc();
    }
    test_apm();
    return report_failures();
}
