/*
 * tests/unit/test_i8042.c — the keyboard controller, keyboard and mouse
 * through the bus: controller commands, the probe sequences of SeaBIOS
 * (src/hw/ps2port.c) and Linux (i8042, atkbd, psmouse) byte for byte,
 * scancodes of every key in sets 1 and 2 with and without translation,
 * typematic on a fake clock, mouse packets, host input from another
 * thread, and hostile command streams.
 */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "devices/bus.h"
#include "devices/clock_own.h"
#include "devices/i8042.h"
#include "devices/ps2.h"

static struct dev_bus *bus;
static struct dev_i8042 *kbc;
static int resets, irq1, irq12, irq1_rises, irq12_rises, a20_calls, a20_state, notifies;

static void on_reset(void *ctx) { (void)ctx; resets++; }
static void on_a20(void *ctx, bool on) { (void)ctx; a20_calls++; a20_state = on; }
static void on_notify(void *ctx) { (void)ctx; __atomic_add_fetch(&notifies, 1, __ATOMIC_RELAXED); }

static void irq_set(void *ctx, int line, int l)
{
    (void)ctx;
    if (line == 1) {
        irq1_rises += l && !irq1;
        irq1 = l;
    } else {
        irq12_rises += l && !irq12;
        irq12 = l;
    }
}

static void out8(uint16_t port, uint8_t v)
{
    uint32_t d = v;
    dev_bus_pio(bus, port, 1, true, &d);
}

static uint8_t in8(uint16_t port)
{
    uint32_t d = 0;
    dev_bus_pio(bus, port, 1, false, &d);
    return (uint8_t)d;
}

static void setup(void)
{
    bus = dev_bus_new();
    resets = irq1 = irq12 = irq1_rises = irq12_rises = a20_calls = notifies = 0;
    a20_state = -1;
    kbc = dev_i8042_new(bus, on_reset, NULL, (struct dev_irq_line){ .set = irq_set, .line = 1 },
                        (struct dev_irq_line){ .set = irq_set, .line = 12 });
    ck_assert_ptr_nonnull(kbc);
    dev_i8042_set_a20_cb(kbc, on_a20, NULL);
    ck_assert_int_eq(dev_port80_init(bus), 0);
}

static void teardown(void)
{
    dev_i8042_free(kbc);
    dev_bus_free(bus);
}

/* ---- helpers: the guest's side ---- */

#define KBD 0
#define AUX 1

static void cmd(uint8_t c) { out8(0x64, c); }
static void cmd_data(uint8_t c, uint8_t d) { out8(0x64, c); out8(0x60, d); }
static void to_kbd(uint8_t b) { out8(0x60, b); }
static void to_aux(uint8_t b) { cmd_data(0xd4, b); }

/* The next byte: it must be there and come from the given side. */
#define expect_byte(side, val) expect_byte_at(__LINE__, side, val)
static void expect_byte_at(int line, int side, uint8_t val)
{
    uint8_t st = in8(0x64);
    ck_assert_msg(st & 0x01, "line %d: no byte (wanted %02x)", line, val);
    ck_assert_msg(!!(st & 0x20) == side, "line %d: byte %02x from the wrong side (status %02x)",
                  line, val, st);
    uint8_t b = in8(0x60);
    ck_assert_msg(b == val, "line %d: got %02x, wanted %02x", line, b, val);
}

#define expect_none() ck_assert_msg(!(in8(0x64) & 0x01), "line %d: unexpected byte", __LINE__)

static void expect_seq(int line, int side, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        expect_byte_at(line, side, b[i]);
    ck_assert_msg(!(in8(0x64) & 0x01), "line %d: unexpected byte %02x", line, in8(0x60));
}
#define EXPECT(side, ...) do { \
    static const uint8_t e_[] = { __VA_ARGS__ }; expect_seq(__LINE__, side, e_, sizeof(e_)); } while (0)

static void drain(void)
{
    for (int i = 0; i < 4096 && (in8(0x64) & 1); i++)
        (void)in8(0x60);
}

static void key(uint16_t code, bool down)
{
    dev_i8042_key(kbc, code, down);
    dev_i8042_poll(kbc);
}

/* ---- controller ---- */

START_TEST(self_test)
{
    ck_assert_uint_eq(in8(0x64) & 0x01, 0);
    cmd(0xaa);
    ck_assert_uint_eq(in8(0x64) & 0x0d, 0x0d);   /* OBF, SYS, A2 */
    ck_assert_uint_eq(in8(0x60), 0x55);
    ck_assert_uint_eq(in8(0x64) & 0x01, 0);
    ck_assert_uint_eq(in8(0x60), 0x55);          /* empty: the last byte again */
    cmd(0xab);
    EXPECT(KBD, 0x00);
    cmd(0xa9);
    EXPECT(KBD, 0x00);
    ck_assert_uint_eq(in8(0x64) & 0x10, 0x10);   /* not inhibited */
}
END_TEST

START_TEST(command_byte)
{
    cmd_data(0x60, 0x20);               /* interrupts off, aux disabled */
    ck_assert_uint_eq(in8(0x64) & 0x0c, 0);      /* last write was data; SYS follows bit 2 */
    cmd(0x20);
    EXPECT(KBD, 0x20);
    cmd(0xa8);                          /* enable aux */
    cmd(0xad);                          /* disable kbd */
    cmd(0x20);
    EXPECT(KBD, 0x10);
    ck_assert_int_eq(irq1, 0);          /* KBD_INT off: no IRQ */
    cmd(0xae);
    cmd(0xa7);
    cmd(0x20);
    EXPECT(KBD, 0x20);
    cmd_data(0x63, 0x9c);               /* controller RAM byte 3 */
    cmd(0x23);
    EXPECT(KBD, 0x9c);
    cmd_data(0x60, 0x45);
    ck_assert_uint_eq(in8(0x64) & 0x04, 0x04);
    cmd(0xc0);
    EXPECT(KBD, 0x80);
    cmd(0xe0);                          /* both clocks running */
    EXPECT(KBD, 0x03);
    cmd(0x60);                          /* a command cancels a pending one */
    cmd(0x20);
    EXPECT(KBD, 0x45);
}
END_TEST

START_TEST(reset_and_a20)
{
    cmd(0xfe);
    ck_assert_int_eq(resets, 1);
    cmd(0xff);                          /* pulse nothing */
    cmd(0xfd);                          /* pulse bit 1 only */
    ck_assert_int_eq(resets, 1);
    cmd_data(0xd1, 0xdf);               /* reset high, A20 on: no change */
    ck_assert_int_eq(resets, 1);
    ck_assert_int_eq(a20_calls, 0);
    cmd(0xd0);
    EXPECT(KBD, 0xcf);                  /* bits 4/5: the buffer is empty */
    cmd_data(0xd1, 0xdd);               /* A20 off */
    ck_assert_int_eq(a20_calls, 1);
    ck_assert_int_eq(a20_state, 0);
    cmd(0xd0);
    ck_assert_uint_eq(in8(0x60) & 0x03, 0x01);
    cmd(0xdf);                          /* HP's A20 on */
    ck_assert_int_eq(a20_calls, 2);
    ck_assert_int_eq(a20_state, 1);
    cmd_data(0xd2, 0x11);               /* output port shows OBF */
    cmd(0xd0);
    EXPECT(KBD, 0x11, 0xdf | 0x10);
    cmd_data(0xd1, 0xde);               /* reset low */
    ck_assert_int_eq(resets, 2);
}
END_TEST

START_TEST(loopback_and_irqs)
{
    cmd_data(0x60, 0x02);               /* aux interrupt only */
    cmd_data(0xd3, 0x5a);
    ck_assert_uint_eq(in8(0x64) & 0x21, 0x21);
    ck_assert_int_eq(irq12, 1);
    ck_assert_uint_eq(in8(0x60), 0x5a);
    ck_assert_int_eq(irq12, 0);
    cmd_data(0x60, 0x01);
    cmd_data(0xd2, 0x01);
    cmd_data(0xd2, 0x02);               /* queued behind */
    ck_assert_int_eq(irq1, 1);
    ck_assert_uint_eq(in8(0x60), 0x01);
    ck_assert_int_eq(irq1, 1);          /* next byte, new edge */
    ck_assert_int_eq(irq1_rises, 2);
    ck_assert_uint_eq(in8(0x60), 0x02);
    ck_assert_int_eq(irq1, 0);
    uint32_t d = 0;
    dev_bus_pio(bus, 0x80, 1, false, &d);
    ck_assert_uint_eq(d, 0xff);
}
END_TEST

/* ---- keyboard commands ---- */

START_TEST(keyboard_replies)
{
    to_kbd(0xff);
    ck_assert_int_eq(irq1, 1);          /* default command byte enables IRQ 1 */
    EXPECT(KBD, 0xfa, 0xaa);
    to_kbd(0xf2);
    EXPECT(KBD, 0xfa, 0xab, 0x41);      /* 0x83 through the translation */
    cmd_data(0x60, 0x05);               /* translation off */
    to_kbd(0xf2);
    EXPECT(KBD, 0xfa, 0xab, 0x83);
    to_kbd(0xed);
    EXPECT(KBD, 0xfa);
    to_kbd(0x07);
    EXPECT(KBD, 0xfa);
    ck_assert_uint_eq(dev_i8042_leds(kbc), 7);
    to_kbd(0xee);
    EXPECT(KBD, 0xee);
    to_kbd(0xf0);
    to_kbd(0x00);
    EXPECT(KBD, 0xfa, 0xfa, 0x02);
    to_kbd(0xf0);
    to_kbd(0x01);
    to_kbd(0xf0);
    to_kbd(0x00);
    EXPECT(KBD, 0xfa, 0xfa, 0xfa, 0xfa, 0x01);
    to_kbd(0xf0);
    to_kbd(0x03);                       /* no set 3: acknowledged, set kept */
    to_kbd(0xf0);
    to_kbd(0x00);
    EXPECT(KBD, 0xfa, 0xfa, 0xfa, 0xfa, 0x01);
    to_kbd(0xf0);
    to_kbd(0x07);                       /* invalid argument: resend, still waiting */
    to_kbd(0x02);
    EXPECT(KBD, 0xfa, 0xfe, 0xfa);
    to_kbd(0xf3);
    to_kbd(0xf4);                       /* a command where the argument was due */
    EXPECT(KBD, 0xfa, 0xfa);
    to_kbd(0xfe);                       /* resend: the last byte sent */
    EXPECT(KBD, 0xfa);
    to_kbd(0x12);                       /* not a command */
    EXPECT(KBD, 0xfe);
    to_kbd(0xf5);
    EXPECT(KBD, 0xfa);
    key(0x1e, true);                    /* disabled: no scancode */
    expect_none();
    to_kbd(0xf6);
    EXPECT(KBD, 0xfa);
    key(0x1e, false);
    EXPECT(KBD, 0xf0, 0x1c);
    cmd(0xad);                          /* a key waits in the keyboard... */
    key(0x30, true);
    to_kbd(0xf0);                       /* ...and 0xF0 clears its buffer */
    EXPECT(KBD, 0xfa);
    to_kbd(0x02);
    EXPECT(KBD, 0xfa);
}
END_TEST

START_TEST(writing_enables_port)
{
    cmd(0xad);
    key(0x1e, true);
    expect_none();                      /* held by the keyboard */
    cmd(0xae);
    EXPECT(KBD, 0x1e);
    cmd(0xad);
    to_kbd(0xee);                       /* sending to the keyboard enables its port */
    EXPECT(KBD, 0xee);
    cmd(0x20);
    EXPECT(KBD, 0x45);
    cmd(0xa7);
    to_aux(0xf2);                       /* and likewise the mouse's */
    EXPECT(AUX, 0xfa, 0x00);
}
END_TEST

START_TEST(reply_not_inside_sequence)
{
    key(0xe048, true);                  /* Up: E0 48 */
    expect_byte(KBD, 0xe0);
    to_kbd(0xee);
    EXPECT(KBD, 0x48, 0xee);
    key(0x1e, true);
    key(0x1e, false);
    to_kbd(0xee);                       /* replies go ahead of keys still in the keyboard */
    EXPECT(KBD, 0x1e, 0xee, 0x9e);
}
END_TEST

/* ---- SeaBIOS: src/hw/ps2port.c ps2_keyboard_setup and the mouse ---- */

/* __ps2_command's frame: interrupts and both ports off, then the port
 * used on, the command, then the old command byte back. */
static void seabios_begin(uint8_t ctr, int aux)
{
    uint8_t n = (uint8_t)((ctr | 0x30) & ~0x03);
    cmd_data(0x60, n);
    cmd_data(0x60, (uint8_t)(n & ~(aux ? 0x20 : 0x10)));
}

static void seabios_end(uint8_t ctr)
{
    cmd_data(0x60, ctr);
}

START_TEST(seabios_probe)
{
    drain();
    cmd(0xaa);
    EXPECT(KBD, 0x55);
    cmd(0xab);
    EXPECT(KBD, 0x00);
    uint8_t ctr = 0x30;
    seabios_begin(ctr, KBD);            /* ATKBD_CMD_RESET_BAT */
    to_kbd(0xff);
    EXPECT(KBD, 0xfa, 0xaa);            /* the second byte of a reset: none */
    seabios_end(ctr);
    seabios_begin(ctr, KBD);            /* ATKBD_CMD_RESET_DIS */
    to_kbd(0xf5);
    EXPECT(KBD, 0xfa);
    seabios_end(ctr);
    seabios_begin(ctr, KBD);            /* ATKBD_CMD_SSCANSET 2 */
    to_kbd(0xf0);
    expect_byte(KBD, 0xfa);
    to_kbd(0x02);
    EXPECT(KBD, 0xfa);
    seabios_end(ctr);
    ctr = 0x61;                         /* aux off, translate, kbd IRQ */
    seabios_begin(ctr, KBD);            /* ATKBD_CMD_ENABLE */
    to_kbd(0xf4);
    EXPECT(KBD, 0xfa);
    seabios_end(ctr);
    ck_assert_int_eq(irq1, 0);
    /* A key: IRQ 1, set 1 through the translation. */
    key(0x1e, true);
    ck_assert_int_eq(irq1, 1);
    expect_byte(KBD, 0x1e);
    ck_assert_int_eq(irq1, 0);
    key(0x1e, false);
    EXPECT(KBD, 0x9e);
    /* LEDs from int 16h: ATKBD_CMD_SETLEDS. */
    seabios_begin(ctr, KBD);
    to_kbd(0xed);
    expect_byte(KBD, 0xfa);
    to_kbd(0x02);
    EXPECT(KBD, 0xfa);
    seabios_end(ctr);
    ck_assert_uint_eq(dev_i8042_leds(kbc), 2);
    /* int 15h C2: mouse reset, ID, enable (ps2_mouse_command). */
    seabios_begin(ctr, AUX);
    to_aux(0xff);
    EXPECT(AUX, 0xfa, 0xaa, 0x00);
    seabios_end(ctr);
    seabios_begin(ctr, AUX);
    to_aux(0xf2);
    EXPECT(AUX, 0xfa, 0x00);
    seabios_end(ctr);
    ctr = (uint8_t)((ctr | 0x02) & ~0x20);
    seabios_begin(ctr, AUX);
    to_aux(0xf4);
    EXPECT(AUX, 0xfa);
    seabios_end(ctr);
    dev_i8042_mouse(kbc, 3, -2, 0, 1);
    dev_i8042_poll(kbc);
    ck_assert_int_eq(irq12, 1);
    EXPECT(AUX, 0x09, 0x03, 0x02);      /* left, +3 right, +2 up */
}
END_TEST

/* ---- Linux: i8042.c, atkbd.c, psmouse-base.c ---- */

static uint8_t linux_ctr;

static void linux_wctr(uint8_t v)
{
    linux_ctr = v;
    cmd_data(0x60, v);
}

START_TEST(linux_probe)
{
    drain();                            /* i8042_controller_check */
    cmd(0xaa);                          /* i8042_controller_selftest */
    EXPECT(KBD, 0x55);
    cmd(0x20);                          /* i8042_controller_init */
    linux_ctr = in8(0x60);
    ck_assert_uint_eq(linux_ctr, 0x45);
    linux_wctr((uint8_t)((linux_ctr | 0x10) & ~0x01));
    drain();                            /* i8042_check_aux */
    cmd_data(0xd3, 0x5a);               /* I8042_CMD_AUX_LOOP: AUXDATA set */
    EXPECT(AUX, 0x5a);
    cmd_data(0xd3, 0xf0);               /* i8042_check_mux: a loop, not a MUX */
    EXPECT(AUX, 0xf0);
    cmd_data(0xd3, 0x56);
    EXPECT(AUX, 0x56);
    cmd_data(0xd3, 0xa4);
    EXPECT(AUX, 0xa4);
    cmd(0xa7);                          /* i8042_toggle_aux */
    cmd(0x20);
    ck_assert_uint_eq(in8(0x60) & 0x20, 0x20);
    cmd(0xa8);
    cmd(0x20);
    ck_assert_uint_eq(in8(0x60) & 0x20, 0);
    linux_wctr((uint8_t)((linux_ctr & ~0x01) | 0x02));   /* i8042_aux_irq_test */
    cmd_data(0xd3, 0xa5);
    ck_assert_int_eq(irq12, 1);
    EXPECT(AUX, 0xa5);
    linux_wctr((uint8_t)((linux_ctr & ~0x02) | 0x20));
    linux_wctr((uint8_t)((linux_ctr & ~0x10) | 0x01));   /* i8042_enable_kbd_port */
    /* atkbd_probe (no reset on x86), deactivate, reset_state, activate */
    to_kbd(0xf2);
    EXPECT(KBD, 0xfa, 0xab, 0x41);
    to_kbd(0xf5);
    EXPECT(KBD, 0xfa);
    to_kbd(0xed);
    expect_byte(KBD, 0xfa);
    to_kbd(0x00);
    EXPECT(KBD, 0xfa);
    to_kbd(0xf3);
    expect_byte(KBD, 0xfa);
    to_kbd(0x00);
    EXPECT(KBD, 0xfa);
    to_kbd(0xf4);
    EXPECT(KBD, 0xfa);
    key(0xe048, true);
    EXPECT(KBD, 0xe0, 0x48);
    key(0xe048, false);
    EXPECT(KBD, 0xe0, 0xc8);
    linux_wctr((uint8_t)((linux_ctr & ~0x20) | 0x02));   /* i8042_enable_aux_port */
    /* psmouse_probe */
    to_aux(0xf2);
    EXPECT(AUX, 0xfa, 0x00);
    to_aux(0xf6);
    EXPECT(AUX, 0xfa);
    /* synaptics_detect's E8 00 x4, E9: not a touchpad (no 0x47) */
    for (int i = 0; i < 4; i++) {
        to_aux(0xe8);
        expect_byte(AUX, 0xfa);
        to_aux(0x00);
        EXPECT(AUX, 0xfa);
    }
    to_aux(0xe9);
    EXPECT(AUX, 0xfa, 0x00, 0x00, 0x64);
    /* intellimouse_detect: 200, 100, 80, then ID 3 */
    static const uint8_t im[] = { 200, 100, 80 };
    for (int i = 0; i < 3; i++) {
        to_aux(0xf3);
        expect_byte(AUX, 0xfa);
        to_aux(im[i]);
        EXPECT(AUX, 0xfa);
    }
    to_aux(0xf2);
    EXPECT(AUX, 0xfa, 0x03);
    /* im_explorer_detect: 200, 200, 80, then ID 4 */
    static const uint8_t ex[] = { 200, 200, 80, 200, 80, 40 };
    for (int i = 0; i < 3; i++) {
        to_aux(0xf3);
        expect_byte(AUX, 0xfa);
        to_aux(ex[i]);
        EXPECT(AUX, 0xfa);
    }
    to_aux(0xf2);
    EXPECT(AUX, 0xfa, 0x04);
    for (int i = 3; i < 6; i++) {       /* the horizontal-scroll magic */
        to_aux(0xf3);
        expect_byte(AUX, 0xfa);
        to_aux(ex[i]);
        EXPECT(AUX, 0xfa);
    }
    to_aux(0xf2);
    EXPECT(AUX, 0xfa, 0x04);
    /* psmouse_initialize: rate 100, resolution 200 dpi, 1:1; activate */
    to_aux(0xf3);
    expect_byte(AUX, 0xfa);
    to_aux(100);
    EXPECT(AUX, 0xfa);
    to_aux(0xe8);
    expect_byte(AUX, 0xfa);
    to_aux(0x03);
    EXPECT(AUX, 0xfa);
    to_aux(0xe6);
    EXPECT(AUX, 0xfa);
    to_aux(0xf4);
    EXPECT(AUX, 0xfa);
    /* A wheel-down click with button 4 held: the Explorer's fourth byte. */
    dev_i8042_mouse(kbc, -1, 1, 1, 0x08);
    dev_i8042_poll(kbc);
    ck_assert_int_eq(irq12, 1);
    EXPECT(AUX, 0x38, 0xff, 0xff, 0x11);
}
END_TEST

/* ---- scancodes ---- */

/* Set-1 make code -> set-2 code of the 104 keys, from the keyboard's side
 * (IBM's tables; written out here, not derived from the device). */
static const struct { uint16_t s1, s2; } known_keys[] = {
    { 0x01, 0x76 }, { 0x02, 0x16 }, { 0x03, 0x1e }, { 0x04, 0x26 }, { 0x05, 0x25 }, { 0x06, 0x2e },
    { 0x07, 0x36 }, { 0x08, 0x3d }, { 0x09, 0x3e }, { 0x0a, 0x46 }, { 0x0b, 0x45 }, { 0x0c, 0x4e },
    { 0x0d, 0x55 }, { 0x0e, 0x66 }, { 0x0f, 0x0d }, { 0x10, 0x15 }, { 0x11, 0x1d }, { 0x12, 0x24 },
    { 0x13, 0x2d }, { 0x14, 0x2c }, { 0x15, 0x35 }, { 0x16, 0x3c }, { 0x17, 0x43 }, { 0x18, 0x44 },
    { 0x19, 0x4d }, { 0x1a, 0x54 }, { 0x1b, 0x5b }, { 0x1c, 0x5a }, { 0x1d, 0x14 }, { 0x1e, 0x1c },
    { 0x1f, 0x1b }, { 0x20, 0x23 }, { 0x21, 0x2b }, { 0x22, 0x34 }, { 0x23, 0x33 }, { 0x24, 0x3b },
    { 0x25, 0x42 }, { 0x26, 0x4b }, { 0x27, 0x4c }, { 0x28, 0x52 }, { 0x29, 0x0e }, { 0x2a, 0x12 },
    { 0x2b, 0x5d }, { 0x2c, 0x1a }, { 0x2d, 0x22 }, { 0x2e, 0x21 }, { 0x2f, 0x2a }, { 0x30, 0x32 },
    { 0x31, 0x31 }, { 0x32, 0x3a }, { 0x33, 0x41 }, { 0x34, 0x49 }, { 0x35, 0x4a }, { 0x36, 0x59 },
    { 0x37, 0x7c }, { 0x38, 0x11 }, { 0x39, 0x29 }, { 0x3a, 0x58 }, { 0x3b, 0x05 }, { 0x3c, 0x06 },
    { 0x3d, 0x04 }, { 0x3e, 0x0c }, { 0x3f, 0x03 }, { 0x40, 0x0b }, { 0x41, 0x83 }, { 0x42, 0x0a },
    { 0x43, 0x01 }, { 0x44, 0x09 }, { 0x45, 0x77 }, { 0x46, 0x7e }, { 0x47, 0x6c }, { 0x48, 0x75 },
    { 0x49, 0x7d }, { 0x4a, 0x7b }, { 0x4b, 0x6b }, { 0x4c, 0x73 }, { 0x4d, 0x74 }, { 0x4e, 0x79 },
    { 0x4f, 0x69 }, { 0x50, 0x72 }, { 0x51, 0x7a }, { 0x52, 0x70 }, { 0x53, 0x71 }, { 0x54, 0x84 },
    { 0x56, 0x61 }, { 0x57, 0x78 }, { 0x58, 0x07 },
    { 0xe01c, 0xe05a }, { 0xe01d, 0xe014 }, { 0xe035, 0xe04a }, { 0xe038, 0xe011 },
    { 0xe047, 0xe06c }, { 0xe048, 0xe075 }, { 0xe049, 0xe07d }, { 0xe04b, 0xe06b },
    { 0xe04d, 0xe074 }, { 0xe04f, 0xe069 }, { 0xe050, 0xe072 }, { 0xe051, 0xe07a },
    { 0xe052, 0xe070 }, { 0xe053, 0xe071 }, { 0xe05b, 0xe01f }, { 0xe05c, 0xe027 },
    { 0xe05d, 0xe02f },
};

static void press_release(uint16_t code)
{
    key(code, true);
    key(code, false);
}

START_TEST(known_keys_set2)
{
    cmd_data(0x60, 0x05);               /* no translation: the keyboard's own bytes */
    for (size_t i = 0; i < sizeof(known_keys) / sizeof(known_keys[0]); i++) {
        uint16_t s1 = known_keys[i].s1, s2 = known_keys[i].s2;
        press_release(s1);
        if (s2 >> 8)
            expect_byte(KBD, 0xe0);
        expect_byte(KBD, s2 & 0xff);
        if (s2 >> 8)
            expect_byte(KBD, 0xe0);
        expect_byte(KBD, 0xf0);
        expect_byte(KBD, s2 & 0xff);
        expect_none();
    }
}
END_TEST

/* Every set-1 code, plain and extended: translated (set 2 + bit 6) and a
 * set-1 keyboard untranslated give the set-1 make and break; untranslated
 * set 2 gives bytes the table turns into the same. */
START_TEST(every_code_all_modes)
{
    for (int mode = 0; mode < 3; mode++) {
        if (mode == 0) {
            cmd_data(0x60, 0x45);
        } else {
            cmd_data(0x60, 0x05);
            to_kbd(0xf0);
            to_kbd(mode == 1 ? 0x01 : 0x02);
            EXPECT(KBD, 0xfa, 0xfa);
        }
        for (unsigned ext = 0; ext < 2; ext++) {
            for (unsigned c = 1; c < 0x80; c++) {
                uint16_t code = (uint16_t)((ext ? 0xe000 : 0) | c);
                if (code == DEV_I8042_KEY_PAUSE || code == DEV_PS2KBD_PRTSC)
                    continue;
                press_release(code);
                uint8_t got[8];
                unsigned n = 0;
                while ((in8(0x64) & 1) && n < sizeof(got))
                    got[n++] = in8(0x60);
                if (mode != 2) {
                    unsigned i = 0;
                    if (ext)
                        ck_assert_uint_eq(got[i++], 0xe0);
                    ck_assert_uint_eq(got[i++], c);
                    if (ext)
                        ck_assert_uint_eq(got[i++], 0xe0);
                    ck_assert_uint_eq(got[i++], c | 0x80);
                    ck_assert_uint_eq(n, i);
                } else {
                    unsigned i = 0;
                    if (ext)
                        ck_assert_uint_eq(got[i++], 0xe0);
                    ck_assert_uint_eq(dev_ps2_xlate(got[i++]), c);
                    if (ext)
                        ck_assert_uint_eq(got[i++], 0xe0);
                    ck_assert_uint_eq(got[i++], 0xf0);
                    ck_assert_uint_eq(dev_ps2_xlate(got[i++]), c);
                    ck_assert_uint_eq(n, i);
                }
            }
        }
    }
    /* Invalid codes: nothing. */
    key(0x0000, true);
    key(0x0080, true);
    key(0x1234, true);
    expect_none();
}
END_TEST

START_TEST(pause_and_print_screen)
{
    /* Translated set 2, as a BIOS leaves it. */
    press_release(DEV_I8042_KEY_PAUSE);
    EXPECT(KBD, 0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5);
    key(0x1d, true);                    /* Ctrl+Pause = Break */
    press_release(DEV_I8042_KEY_PAUSE);
    key(0x1d, false);
    EXPECT(KBD, 0x1d, 0xe0, 0x46, 0xe0, 0xc6, 0x9d);
    press_release(0xe037);
    EXPECT(KBD, 0xe0, 0x2a, 0xe0, 0x37, 0xe0, 0xb7, 0xe0, 0xaa);
    key(0x38, true);                    /* Alt+PrtSc = SysRq */
    press_release(0xe037);
    key(0x38, false);
    EXPECT(KBD, 0x38, 0x54, 0xd4, 0xb8);
    /* Raw set 2. */
    cmd_data(0x60, 0x05);
    press_release(DEV_I8042_KEY_PAUSE);
    EXPECT(KBD, 0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77);
    press_release(0xe037);
    EXPECT(KBD, 0xe0, 0x12, 0xe0, 0x7c, 0xe0, 0xf0, 0x7c, 0xe0, 0xf0, 0x12);
    key(0x2a, true);                    /* Shift+PrtSc: no fake shift */
    press_release(0xe037);
    key(0x2a, false);
    EXPECT(KBD, 0x12, 0xe0, 0x7c, 0xe0, 0xf0, 0x7c, 0xf0, 0x12);
}
END_TEST

/* ---- typematic ---- */

static uint64_t fake_now;
static uint64_t fake_clock(void) { return fake_now; }

START_TEST(typematic)
{
    struct dev_timers ts = { 0 };
    dev_clock_set_fake(fake_clock);
    fake_now = 1000000000;
    dev_i8042_set_timers(kbc, &ts);
    key(0x1e, true);
    EXPECT(KBD, 0x1e);
    key(0x1e, true);                    /* a host repeat: the keyboard repeats itself */
    expect_none();
    fake_now += 499000000;
    dev_timers_run(&ts, fake_now);
    expect_none();
    fake_now += 1000000;                /* 500 ms: the default delay */
    dev_timers_run(&ts, fake_now);
    EXPECT(KBD, 0x1e);
    fake_now += 91000000;               /* period 91.74 ms (10.9/s) */
    dev_timers_run(&ts, fake_now);
    expect_none();
    fake_now += 1000000;
    dev_timers_run(&ts, fake_now);
    EXPECT(KBD, 0x1e);
    key(0x30, true);                    /* a new key takes over typematic */
    EXPECT(KBD, 0x30);
    key(0x1e, false);
    EXPECT(KBD, 0x9e);
    fake_now += 500000000;
    dev_timers_run(&ts, fake_now);
    EXPECT(KBD, 0x30);
    key(0x30, false);
    EXPECT(KBD, 0xb0);
    fake_now += 5000000000u;
    dev_timers_run(&ts, fake_now);
    expect_none();
    to_kbd(0xf3);                       /* fastest: 30/s after 250 ms */
    to_kbd(0x00);
    EXPECT(KBD, 0xfa, 0xfa);
    key(0xe048, true);
    EXPECT(KBD, 0xe0, 0x48);
    fake_now += 250000000;
    dev_timers_run(&ts, fake_now);
    EXPECT(KBD, 0xe0, 0x48);
    fake_now += 33360000;
    dev_timers_run(&ts, fake_now);
    EXPECT(KBD, 0xe0, 0x48);
    key(0xe048, false);
    EXPECT(KBD, 0xe0, 0xc8);
    dev_i8042_set_timers(kbc, NULL);
    ck_assert_ptr_null(ts.head);
    key(0x1e, true);                    /* no clock: host repeats pass */
    key(0x1e, true);
    EXPECT(KBD, 0x1e, 0x1e);
    dev_clock_set_fake(NULL);
}
END_TEST

/* ---- mouse ---- */

static void mouse_on(void)
{
    cmd_data(0x60, 0x47);               /* both interrupts */
    to_aux(0xf4);
    EXPECT(AUX, 0xfa);
}

static void move(int dx, int dy, int dz, unsigned b)
{
    dev_i8042_mouse(kbc, dx, dy, dz, b);
    dev_i8042_poll(kbc);
}

START_TEST(mouse_packets)
{
    move(5, 5, 0, 0);                   /* reporting off: nothing, no count */
    expect_none();
    mouse_on();
    move(1, -1, 0, 0);
    EXPECT(AUX, 0x08, 0x01, 0x01);
    move(-2, 3, 0, 0);                  /* left and down: both signs */
    EXPECT(AUX, 0x38, 0xfe, 0xfd);
    move(0, 0, 0, 0x02);                /* right button down, no motion */
    EXPECT(AUX, 0x0a, 0x00, 0x00);
    move(0, 0, 0, 0x00);
    EXPECT(AUX, 0x08, 0x00, 0x00);
    move(300, -600, 0, 0x04);           /* large: split into in-range packets */
    EXPECT(AUX, 0x0c, 0xff, 0xff, 0x0c, 0x2d, 0xff, 0x0c, 0x00, 0x5a);
    move(0, 0, 5, 0);                   /* ID 0: no wheel to report; the button goes up */
    EXPECT(AUX, 0x08, 0x00, 0x00);
    /* 2:1 scaling: 3 -> 3, 4 -> 6, 200 -> 400 overflows */
    to_aux(0xe7);
    EXPECT(AUX, 0xfa);
    move(3, -4, 0, 0);
    EXPECT(AUX, 0x08, 0x03, 0x06);
    move(200, 0, 0, 0);
    EXPECT(AUX, 0x48, 0xff, 0x00);
    to_aux(0xe9);                       /* status: enabled, 2:1; res 2; 100/s */
    EXPECT(AUX, 0xfa, 0x30, 0x02, 0x64);
    to_aux(0xe6);
    EXPECT(AUX, 0xfa);
    /* Packets not begun are withdrawn when the host talks; a begun one ends. */
    move(1, 0, 0, 0);
    move(2, 0, 0, 0);
    expect_byte(AUX, 0x08);
    to_aux(0xf5);
    EXPECT(AUX, 0x01, 0x00, 0xfa);
    /* Remote mode: counts accumulate, 0xEB reads them (overflow flagged). */
    to_aux(0xf0);
    EXPECT(AUX, 0xfa);
    move(10, -20, 0, 1);
    move(400, 0, 0, 1);
    expect_none();
    to_aux(0xeb);
    EXPECT(AUX, 0xfa, 0x49, 0xff, 0x14);
    to_aux(0xeb);
    EXPECT(AUX, 0xfa, 0x09, 0x00, 0x00);
    to_aux(0xea);
    EXPECT(AUX, 0xfa);
    /* Wrap mode echoes, 0xEC leaves it. */
    to_aux(0xee);
    to_aux(0x12);
    to_aux(0xf2);
    to_aux(0xec);
    EXPECT(AUX, 0xfa, 0x12, 0xf2, 0xfa);
    to_aux(0xe8);
    to_aux(0x09);                       /* bad resolution: resend, still waiting */
    to_aux(0x01);
    to_aux(0xe9);
    EXPECT(AUX, 0xfa, 0xfe, 0xfa, 0xfa, 0x04, 0x01, 0x64);   /* left still down */
    to_aux(0x01);                       /* unknown */
    EXPECT(AUX, 0xfe);
    to_aux(0xfe);                       /* resend */
    EXPECT(AUX, 0xfe);
}
END_TEST

START_TEST(mouse_wheel_ids)
{
    static const uint8_t im[] = { 200, 100, 80 };
    for (int i = 0; i < 3; i++) {
        to_aux(0xf3);
        to_aux(im[i]);
    }
    to_aux(0xf2);
    EXPECT(AUX, 0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0x03);
    mouse_on();
    move(0, 0, -3, 0);                  /* wheel up */
    EXPECT(AUX, 0x08, 0x00, 0x00, 0xfd);
    move(0, 0, 200, 0);                 /* beyond a byte: two packets */
    EXPECT(AUX, 0x08, 0x00, 0x00, 0x7f, 0x08, 0x00, 0x00, 0x49);
    to_aux(0xff);                       /* reset: back to ID 0 */
    EXPECT(AUX, 0xfa, 0xaa, 0x00);
    to_aux(0xf2);
    EXPECT(AUX, 0xfa, 0x00);
}
END_TEST

START_TEST(mouse_aux_disabled_holds)
{
    mouse_on();
    cmd(0xa7);
    move(1, 0, 0, 0);
    expect_none();
    key(0x1e, true);                    /* the keyboard still gets through */
    EXPECT(KBD, 0x1e);
    cmd(0xa8);
    EXPECT(AUX, 0x08, 0x01, 0x00);
    /* A guest that never reads: packets stop at the buffer, movement waits
     * and arrives once there is room. */
    for (int i = 0; i < 200; i++)
        move(1, 0, 0, 0);
    unsigned n = 0;
    int total = 0;
    while (in8(0x64) & 1) {
        uint8_t p0 = in8(0x60), p1 = in8(0x60), p2 = in8(0x60);
        ck_assert_uint_eq(p0, 0x08);
        ck_assert_uint_eq(p2, 0);
        total += p1;
        n++;
    }
    ck_assert_int_eq(total, 200);
    ck_assert_uint_ge(n, 1);
}
END_TEST

/* ---- host input from another thread ---- */

#define THREAD_KEYS 300

static void *producer(void *arg)
{
    (void)arg;
    for (int i = 0; i < THREAD_KEYS; i++) {
        uint16_t code = (uint16_t)(0x10 + i % 16);
        dev_i8042_key(kbc, code, true);
        dev_i8042_key(kbc, code, false);
    }
    return NULL;
}

START_TEST(input_thread)
{
    dev_i8042_set_input_notify(kbc, on_notify, NULL);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, producer, NULL), 0);
    int got = 0;
    bool joined = false;
    while (got < 2 * THREAD_KEYS) {
        if (in8(0x64) & 1) {
            uint8_t b = in8(0x60);
            int i = got / 2;
            uint8_t want = (uint8_t)((0x10 + i % 16) | (got & 1 ? 0x80 : 0));
            ck_assert_uint_eq(b, want);
            got++;
        } else if (!joined && got > THREAD_KEYS) {
            pthread_join(th, NULL);
            joined = true;
        }
    }
    if (!joined)
        pthread_join(th, NULL);
    expect_none();
    ck_assert_int_eq(__atomic_load_n(&notifies, __ATOMIC_RELAXED), 2 * THREAD_KEYS);
}
END_TEST

START_TEST(ring_full_drops_whole_keys)
{
    /* Nobody polls: downs stop at the reserve and their ups are dropped
     * too; the ups of keys that got in still fit. No clock, so each down
     * of a held key is a make (the host's repeat). */
    for (int i = 0; i < 1000; i++)
        dev_i8042_key(kbc, (uint16_t)(1 + i % 100), true);
    for (int i = 0; i < 100; i++)
        dev_i8042_key(kbc, (uint16_t)(1 + i), false);
    unsigned makes = 0, breaks = 0;
    bool broke[128] = { false };
    while (in8(0x64) & 1) {
        uint8_t b = in8(0x60);
        if (b & 0x80) {
            breaks++;
            broke[b & 0x7f] = true;
        } else {
            makes++;
        }
    }
    ck_assert_uint_eq(makes, 1024 - 64);
    ck_assert_uint_eq(breaks, 60);
    for (int c = 1; c <= 100; c++)
        ck_assert_int_eq(broke[c], c <= 60);
}
END_TEST

/* ---- hostile guests ---- */

static uint32_t rng = 12345;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

START_TEST(hostile)
{
    struct dev_timers ts = { 0 };
    dev_i8042_set_timers(kbc, &ts);
    for (int i = 0; i < 200000; i++) {
        uint32_t r = rnd();
        uint8_t v = (uint8_t)(r >> 8);
        switch (r % 8) {
        case 0: if (v < 0xf0) out8(0x64, v); break;   /* no reset pulses */
        case 1: case 2: out8(0x60, v); break;
        case 3: (void)in8(0x60); break;
        case 4: (void)in8(0x64); break;
        case 5: dev_i8042_key(kbc, (uint16_t)(r >> 16), r & 0x100); break;
        case 6: dev_i8042_mouse(kbc, (int)(r >> 20) - 2048, (int)(v) - 128, (int)(r % 5) - 2, v); break;
        case 7: dev_timers_run(&ts, dev_clock_ns() + (r >> 12)); break;
        }
    }
    /* Still a controller: the self-test answers once the buffer drains. */
    cmd_data(0x60, 0x34);               /* ports off: nothing more from the devices */
    drain();
    cmd(0xaa);
    ck_assert_uint_eq(in8(0x60), 0x55);
    dev_i8042_set_timers(kbc, NULL);    /* ts goes out of scope */
}
END_TEST

static Suite *kbc_suite(void)
{
    Suite *s = suite_create("i8042");
    TCase *tc = tcase_create("i8042");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, self_test);
    tcase_add_test(tc, command_byte);
    tcase_add_test(tc, reset_and_a20);
    tcase_add_test(tc, loopback_and_irqs);
    tcase_add_test(tc, keyboard_replies);
    tcase_add_test(tc, writing_enables_port);
    tcase_add_test(tc, reply_not_inside_sequence);
    tcase_add_test(tc, seabios_probe);
    tcase_add_test(tc, linux_probe);
    tcase_add_test(tc, known_keys_set2);
    tcase_add_test(tc, every_code_all_modes);
    tcase_add_test(tc, pause_and_print_screen);
    tcase_add_test(tc, typematic);
    tcase_add_test(tc, mouse_packets);
    tcase_add_test(tc, mouse_wheel_ids);
    tcase_add_test(tc, mouse_aux_disabled_holds);
    tcase_add_test(tc, input_thread);
    tcase_add_test(tc, ring_full_drops_whole_keys);
    tcase_add_test(tc, hostile);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(kbc_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
