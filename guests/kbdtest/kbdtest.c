/*
 * guests/kbdtest/kbdtest.c — the i8042 and its PS/2 keyboard and mouse as
 * a polling guest driver sees them (tests/guest/kbdtest.sh), run on btvm
 * and on QEMU with the same expectations: the controller's self-test and
 * interface tests, the command byte and its port-disable bits, the
 * output-buffer writes 0xD2/0xD3 (AUXB on the aux one), the output port,
 * the keyboard's reset and identify with and without translation, scan
 * set, LEDs, typematic and echo, and the mouse's reset, ID, the IntelliMouse
 * knocks (IDs 3 and 4), status and rate/resolution. Interrupts stay off
 * (command byte bits 0/1 clear): every byte is polled through status bit 0,
 * and each byte sent to a device waits for its answer first, as drivers do.
 * Only what hardware, QEMU and btvm agree on is checked: QEMU's status
 * bit 3 never clears, and its answer to 0xF0 0x00 lacks the ACK of the
 * argument byte (the IBM reference, Linux's libps2 and btvm have it), so
 * neither is looked at here (tests/unit/test_i8042.c checks both).
 */
#include "guest.h"
#include "report.h"

#define DATA 0x60
#define STAT 0x64

#define ST_OBF  0x01
#define ST_IBF  0x02
#define ST_SYS  0x04
#define ST_CMD  0x08
#define ST_AUXB 0x20

#define NONE 0x100           /* "no byte came" */

static void wait_in(void)
{
    for (uint32_t i = 0; i < 1000000 && (inb(STAT) & ST_IBF); i++)
        ;
}

static void cmd(uint8_t c)
{
    wait_in();
    outb(STAT, c);
}

static void data(uint8_t d)
{
    wait_in();
    outb(DATA, d);
}

/* The next byte and whether it came from the aux side; NONE if none came. */
static uint32_t last_aux;
static uint32_t rd(void)
{
    for (uint32_t i = 0; i < 2000000; i++) {
        uint8_t st = inb(STAT);
        if (st & ST_OBF) {
            last_aux = !!(st & ST_AUXB);
            return inb(DATA);
        }
    }
    return NONE;
}

static void flush(void)
{
    for (int i = 0; i < 64 && (inb(STAT) & ST_OBF); i++)
        (void)inb(DATA);
}

/* Reads n bytes and compares them with want[], all from the given side. */
static void expect_bytes(const char *what, const uint8_t *want, int n, uint32_t aux)
{
    for (int i = 0; i < n; i++) {
        uint32_t b = rd();
        if (b != want[i]) {
            fail("%s: byte %d: expected %x got %x", what, i, want[i], b);
            flush();
            return;
        }
        if (last_aux != aux) {
            fail("%s: byte %d (%x) from the %s side", what, i, b, last_aux ? "aux" : "keyboard");
            return;
        }
    }
    for (int i = 0; i < 20000; i++)
        if (inb(STAT) & ST_OBF) {
            fail("%s: an extra byte %x", what, inb(DATA));
            flush();
            return;
        }
}
#define EXPECT(what, aux, ...) do { \
    static const uint8_t w_[] = { __VA_ARGS__ }; expect_bytes(what, w_, sizeof(w_), aux); } while (0)

static void set_cmdbyte(uint8_t v)
{
    cmd(0x60);
    data(v);
}

static uint32_t get_cmdbyte(void)
{
    cmd(0x20);
    return rd();
}

static void to_aux(uint8_t b)
{
    cmd(0xd4);
    data(b);
}

static void test_selftest(void)
{
    begin("selftest");
    flush();
    cmd(0xaa);
    expect("status SYS after 0xAA", ST_SYS, inb(STAT) & ST_SYS);
    expect("status A2 after a command", ST_CMD, inb(STAT) & ST_CMD);
    EXPECT("self-test 0xAA", 0, 0x55);
    cmd(0xab);
    EXPECT("keyboard interface test 0xAB", 0, 0x00);
    cmd(0xa9);
    EXPECT("aux interface test 0xA9", 0, 0x00);
    end();
}

static void test_cmdbyte(void)
{
    begin("cmdbyte");
    set_cmdbyte(0x34);                       /* SYS, both ports off, no IRQs */
    expect("0x20 reads 0x60's byte", 0x34, get_cmdbyte());
    cmd(0xae);
    expect("0xAE clears bit 4", 0x24, get_cmdbyte());
    cmd(0xa8);
    expect("0xA8 clears bit 5", 0x04, get_cmdbyte());
    cmd(0xa7);
    expect("0xA7 sets bit 5", 0x24, get_cmdbyte());
    cmd(0xad);
    expect("0xAD sets bit 4", 0x34, get_cmdbyte());
    set_cmdbyte(0x44);                       /* translate, SYS, ports on */
    expect("0x44 back", 0x44, get_cmdbyte());
    end();
}

static void test_obuf(void)
{
    begin("obuf");
    cmd(0xd2);
    data(0x5a);
    EXPECT("0xD2 writes the buffer as keyboard data", 0, 0x5a);
    cmd(0xd3);
    data(0xa5);
    EXPECT("0xD3 writes it as aux data", 1, 0xa5);
    cmd(0xd0);
    uint32_t op = rd();
    expect("output port: reset line high, A20 on", 0x03, op & 0x03);
    cmd(0xd1);
    data((uint8_t)(op | 0x03));              /* unchanged: no reset, A20 stays on */
    cmd(0xd0);
    expect("output port after 0xD1 with the same bits", op & 0x03, rd() & 0x03);
    end();
}

static void test_kbd(void)
{
    begin("keyboard");
    set_cmdbyte(0x44);
    data(0xff);
    EXPECT("reset", 0, 0xfa, 0xaa);
    data(0xf2);
    EXPECT("identify, translated", 0, 0xfa, 0xab, 0x41);
    set_cmdbyte(0x04);
    data(0xf2);
    EXPECT("identify, raw", 0, 0xfa, 0xab, 0x83);
    data(0xf0);
    EXPECT("set scan set 2", 0, 0xfa);
    data(0x02);
    EXPECT("set scan set 2: argument", 0, 0xfa);
    data(0xed);
    EXPECT("LEDs", 0, 0xfa);
    data(0x07);
    EXPECT("LEDs: argument", 0, 0xfa);
    data(0xf3);
    EXPECT("typematic", 0, 0xfa);
    data(0x20);
    EXPECT("typematic: argument", 0, 0xfa);
    data(0xee);
    EXPECT("echo", 0, 0xee);
    data(0xf5);
    EXPECT("disable", 0, 0xfa);
    data(0xf4);
    EXPECT("enable", 0, 0xfa);
    cmd(0xad);
    data(0xee);                              /* talking to the keyboard enables its port */
    EXPECT("echo with the port disabled", 0, 0xee);
    expect("command byte after writing to the keyboard", 0x04, get_cmdbyte());
    set_cmdbyte(0x44);
    end();
}

static void test_mouse(void)
{
    begin("mouse");
    set_cmdbyte(0x04);
    to_aux(0xff);
    EXPECT("reset", 1, 0xfa, 0xaa, 0x00);
    to_aux(0xf2);
    EXPECT("ID", 1, 0xfa, 0x00);
    to_aux(0xe9);
    EXPECT("status after reset: stream, off, 1:1; 4 counts/mm; 100/s", 1, 0xfa, 0x00, 0x02, 0x64);
    static const uint8_t im[] = { 200, 100, 80 }, ex[] = { 200, 200, 80 };
    for (int i = 0; i < 3; i++) {
        to_aux(0xf3);
        EXPECT("sample rate", 1, 0xfa);
        to_aux(im[i]);
        EXPECT("sample rate: argument", 1, 0xfa);
    }
    to_aux(0xf2);
    EXPECT("ID after 200/100/80", 1, 0xfa, 0x03);
    for (int i = 0; i < 3; i++) {
        to_aux(0xf3);
        EXPECT("sample rate", 1, 0xfa);
        to_aux(ex[i]);
        EXPECT("sample rate: argument", 1, 0xfa);
    }
    to_aux(0xf2);
    EXPECT("ID after 200/200/80", 1, 0xfa, 0x04);
    to_aux(0xe8);
    EXPECT("resolution", 1, 0xfa);
    to_aux(0x03);
    EXPECT("resolution: argument", 1, 0xfa);
    to_aux(0xe7);
    EXPECT("scaling 2:1", 1, 0xfa);
    to_aux(0xf4);
    EXPECT("enable", 1, 0xfa);
    to_aux(0xe9);
    EXPECT("status: enabled, 2:1; 8 counts/mm; 80/s", 1, 0xfa, 0x30, 0x03, 0x50);
    to_aux(0xf5);
    EXPECT("disable", 1, 0xfa);
    to_aux(0xf6);
    EXPECT("defaults", 1, 0xfa);
    to_aux(0xe9);
    EXPECT("status after defaults", 1, 0xfa, 0x00, 0x02, 0x64);
    to_aux(0xff);
    EXPECT("reset", 1, 0xfa, 0xaa, 0x00);
    to_aux(0xf2);
    EXPECT("ID 0 again after reset", 1, 0xfa, 0x00);
    set_cmdbyte(0x44);
    end();
}

int guest_main(uint32_t magic, uint32_t mbi)
{
    (void)magic;
    (void)mbi;
    report_suite("kbdtest");
    gprintf("kbdtest: start\n");
    test_selftest();
    test_cmdbyte();
    test_obuf();
    test_kbd();
    test_mouse();
    return report_failures();
}
