/*
 * tests/unit/test_keymap.c — terminal bytes to key events (vm/keymap.c):
 * every printable ASCII character against an independent US layout,
 * control characters, xterm/VT/rxvt/Linux-console sequences with
 * modifiers, Alt via ESC, the lone-ESC timeout, UTF-8 and garbage.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "devices/bus.h"
#include "devices/i8042.h"
#include "vm/keymap.h"

struct ev {
    uint16_t code;
    bool down;
};

static struct ev evs[4096];
static unsigned nev;
static struct vm_keymap km;

static void emit(void *opaque, uint16_t code, bool down)
{
    (void)opaque;
    ck_assert_uint_lt(nev, sizeof(evs) / sizeof(evs[0]));
    evs[nev++] = (struct ev){ code, down };
}

static void setup(void)
{
    vm_keymap_init(&km);
    nev = 0;
}

static void feed(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        vm_keymap_feed(&km, (uint8_t)s[i], emit, NULL);
}
#define FEED(lit) feed(lit, sizeof(lit) - 1)

/* The events so far must be: mods pressed (in order Ctrl, Alt, Shift),
 * key pressed and released, mods released in reverse. */
#define CTRL  0x1d
#define ALT   0x38
#define SHIFT 0x2a
static void expect_tap_at(int line, uint16_t code, bool ctrl, bool alt, bool shift)
{
    struct ev want[8];
    unsigned n = 0;
    if (ctrl) want[n++] = (struct ev){ CTRL, true };
    if (alt) want[n++] = (struct ev){ ALT, true };
    if (shift) want[n++] = (struct ev){ SHIFT, true };
    want[n++] = (struct ev){ code, true };
    want[n++] = (struct ev){ code, false };
    if (shift) want[n++] = (struct ev){ SHIFT, false };
    if (alt) want[n++] = (struct ev){ ALT, false };
    if (ctrl) want[n++] = (struct ev){ CTRL, false };
    ck_assert_msg(nev == n, "line %d: %u events, wanted %u (key %04x)", line, nev, n, code);
    for (unsigned i = 0; i < n; i++)
        ck_assert_msg(evs[i].code == want[i].code && evs[i].down == want[i].down,
                      "line %d: event %u is %04x/%d, wanted %04x/%d", line, i, evs[i].code,
                      evs[i].down, want[i].code, want[i].down);
    nev = 0;
}
#define TAP(code, c, a, s) expect_tap_at(__LINE__, code, c, a, s)
#define NONE() ck_assert_msg(nev == 0, "line %d: %u unexpected events", __LINE__, nev)

/* An independent US layout: set-1 code -> unshifted and shifted character. */
static const char *const us_rows[][3] = {
    { "\x02", "1234567890-=", "!@#$%^&*()_+" },
    { "\x10", "qwertyuiop[]", "QWERTYUIOP{}" },
    { "\x1e", "asdfghjkl;'`", "ASDFGHJKL:\"~" },
    { "\x2b", "\\zxcvbnm,./", "|ZXCVBNM<>?" },
    { "\x39", " ", " " },
};

static char us_char(uint16_t code, bool shift)
{
    for (size_t r = 0; r < sizeof(us_rows) / sizeof(us_rows[0]); r++) {
        unsigned first = (uint8_t)us_rows[r][0][0];
        size_t len = strlen(us_rows[r][1]);
        if (code >= first && code < first + len)
            return us_rows[r][shift ? 2 : 1][code - first];
    }
    return 0;
}

START_TEST(every_printable)
{
    for (int c = 0x20; c < 0x7f; c++) {
        nev = 0;
        vm_keymap_feed(&km, (uint8_t)c, emit, NULL);
        bool shift = nev == 4;
        ck_assert_msg(nev == 2 || (shift && evs[0].code == SHIFT && evs[3].code == SHIFT),
                      "char %c: %u events", c, nev);
        uint16_t code = evs[shift ? 1 : 0].code;
        if (c == ' ') {
            ck_assert(!shift);
            ck_assert_uint_eq(code, 0x39);
            continue;
        }
        ck_assert_msg(us_char(code, shift) == c, "char %c: key %02x shift %d types %c", c, code,
                      shift, us_char(code, shift));
        /* Shift only where the unshifted key gives another character. */
        ck_assert(shift == (us_char(code, false) != c));
    }
}
END_TEST

START_TEST(control_chars)
{
    FEED("\x03");
    TAP(0x2e, true, false, false);      /* Ctrl+C */
    FEED("\x01");
    TAP(0x1e, true, false, false);
    FEED("\x1a");
    TAP(0x2c, true, false, false);      /* Ctrl+Z */
    FEED("\r");
    TAP(0x1c, false, false, false);
    FEED("\n");
    TAP(0x1c, false, false, false);
    FEED("\t");
    TAP(0x0f, false, false, false);
    FEED("\x7f");
    TAP(0x0e, false, false, false);
    FEED("\b");
    TAP(0x0e, false, false, false);
    feed("\0", 1);
    TAP(0x03, true, false, false);      /* Ctrl+2: NUL */
    FEED("\x1c");
    TAP(0x2b, true, false, false);
    FEED("\x1d");
    TAP(0x1b, true, false, false);
    FEED("\x1e");
    TAP(0x07, true, false, true);
    FEED("\x1f");
    TAP(0x0c, true, false, true);
}
END_TEST

START_TEST(sequences)
{
    FEED("\x1b[A");
    TAP(0xe048, false, false, false);
    FEED("\x1b[B");
    TAP(0xe050, false, false, false);
    FEED("\x1b[C");
    TAP(0xe04d, false, false, false);
    FEED("\x1b[D");
    TAP(0xe04b, false, false, false);
    FEED("\x1bOA");                     /* application cursor mode */
    TAP(0xe048, false, false, false);
    FEED("\x1b[H");
    TAP(0xe047, false, false, false);
    FEED("\x1b[F");
    TAP(0xe04f, false, false, false);
    FEED("\x1bOH");
    TAP(0xe047, false, false, false);
    FEED("\x1b[1~");
    TAP(0xe047, false, false, false);
    FEED("\x1b[4~");
    TAP(0xe04f, false, false, false);
    FEED("\x1b[2~");
    TAP(0xe052, false, false, false);
    FEED("\x1b[3~");
    TAP(0xe053, false, false, false);
    FEED("\x1b[5~");
    TAP(0xe049, false, false, false);
    FEED("\x1b[6~");
    TAP(0xe051, false, false, false);
    static const char *const fkeys[12] = {
        "\x1bOP", "\x1bOQ", "\x1bOR", "\x1bOS", "\x1b[15~", "\x1b[17~",
        "\x1b[18~", "\x1b[19~", "\x1b[20~", "\x1b[21~", "\x1b[23~", "\x1b[24~",
    };
    static const uint16_t fcodes[12] = { 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x40, 0x41, 0x42, 0x43, 0x44, 0x57, 0x58 };
    for (int i = 0; i < 12; i++) {
        feed(fkeys[i], strlen(fkeys[i]));
        TAP(fcodes[i], false, false, false);
    }
    FEED("\x1b[11~");                   /* rxvt F1 */
    TAP(0x3b, false, false, false);
    FEED("\x1b[[A");                    /* Linux console F1 */
    TAP(0x3b, false, false, false);
    FEED("\x1b[[E");
    TAP(0x3f, false, false, false);
    /* xterm modifiers: 2 Shift, 3 Alt, 5 Ctrl, 8 Ctrl+Alt+Shift */
    FEED("\x1b[1;5A");
    TAP(0xe048, true, false, false);
    FEED("\x1b[1;2D");
    TAP(0xe04b, false, false, true);
    FEED("\x1b[3;3~");
    TAP(0xe053, false, true, false);
    FEED("\x1b[24;8~");
    TAP(0x58, true, true, true);
    FEED("\x1b[1;2P");
    TAP(0x3b, false, false, true);
    FEED("\x1bO5P");
    TAP(0x3b, true, false, false);
    FEED("\x1b[Z");                     /* back-tab */
    TAP(0x0f, false, false, true);
    FEED("\x1b[5^");                    /* rxvt Ctrl+PgUp */
    TAP(0xe049, true, false, false);
    FEED("\x1b[a");                     /* rxvt Shift+Up */
    TAP(0xe048, false, false, true);
    FEED("\x1bOd");                     /* rxvt Ctrl+Left */
    TAP(0xe04b, true, false, false);
    FEED("\x1bOM");                     /* keypad Enter */
    TAP(0xe01c, false, false, false);
    FEED("\x1bOq");                     /* keypad 1 */
    TAP(0x4f, false, false, false);
    /* Not keys: dropped whole, the next byte is itself again. */
    FEED("\x1b[?25h");
    NONE();
    FEED("\x1b[200~x\x1b[201~");        /* bracketed paste markers */
    TAP(0x2d, false, false, false);
    FEED("\x1b[<0;12;5M");              /* SGR mouse report */
    NONE();
    FEED("\x1b[99~\x1b[E\x1bOz");
    NONE();
    ck_assert(!vm_keymap_pending(&km));
}
END_TEST

START_TEST(alt_and_escape)
{
    FEED("\x1bx");
    TAP(0x2d, false, true, false);
    FEED("\x1bX");
    TAP(0x2d, false, true, true);
    FEED("\x1b\x7f");
    TAP(0x0e, false, true, false);
    FEED("\x1b");                       /* lone ESC: waits for the timeout */
    NONE();
    ck_assert(vm_keymap_pending(&km));
    vm_keymap_flush(&km, emit, NULL);
    TAP(0x01, false, false, false);
    ck_assert(!vm_keymap_pending(&km));
    vm_keymap_flush(&km, emit, NULL);   /* nothing pending: nothing */
    NONE();
    FEED("\x1b\x1b");                   /* ESC ESC: the first is the key */
    TAP(0x01, false, false, false);
    vm_keymap_flush(&km, emit, NULL);
    TAP(0x01, false, false, false);
    FEED("\x1b[");                      /* Alt+[ typed, then the timeout */
    vm_keymap_flush(&km, emit, NULL);
    TAP(0x1a, false, true, false);
    FEED("\x1bO");
    vm_keymap_flush(&km, emit, NULL);
    TAP(0x18, false, true, true);
    FEED("\x1b[1;");                    /* a cut-off sequence: dropped */
    vm_keymap_flush(&km, emit, NULL);
    NONE();
    FEED("\x1b[1\x03");                 /* a control byte cuts it off, then counts */
    TAP(0x2e, true, false, false);
}
END_TEST

START_TEST(utf8_dropped)
{
    FEED("\xc3\xa9");                   /* é */
    FEED("\xe2\x82\xac");               /* € */
    FEED("\xf0\x9f\x98\x80");           /* an emoji */
    FEED("\x80\xbf\xff\xc0");           /* stray and invalid bytes */
    NONE();
    FEED("\xe2\x82q");                  /* truncated: q still counts */
    TAP(0x10, false, false, false);
    FEED("\x1b\xc3\xa9");               /* ESC then UTF-8: Escape, then nothing */
    TAP(0x01, false, false, false);
}
END_TEST

/* Anything at all: no crash, every key pressed is released, and the
 * state machine always comes back to rest. */
START_TEST(garbage_balanced)
{
    uint32_t r = 99;
    uint32_t held[0x10000 / 32] = { 0 };
    for (int i = 0; i < 300000; i++) {
        r ^= r << 13;
        r ^= r >> 17;
        r ^= r << 5;
        uint8_t b = (uint8_t)(r % 7 == 0 ? 0x1b : r % 5 == 0 ? '[' : r >> 8);
        vm_keymap_feed(&km, b, emit, NULL);
        if (r % 1000 == 0)
            vm_keymap_flush(&km, emit, NULL);
        for (unsigned j = 0; j < nev; j++) {
            uint32_t bit = 1u << (evs[j].code % 32);
            uint32_t *w = &held[evs[j].code / 32];
            if (evs[j].down) {
                ck_assert(!(*w & bit));
                *w |= bit;
            } else {
                ck_assert(*w & bit);
                *w &= ~bit;
            }
        }
        nev = 0;
    }
    vm_keymap_flush(&km, emit, NULL);
    nev = 0;
    for (size_t i = 0; i < sizeof(held) / sizeof(held[0]); i++)
        ck_assert_uint_eq(held[i], 0);
    ck_assert(!vm_keymap_pending(&km));
}
END_TEST

/* Through to the guest's side: "A" typed on the terminal is Shift, A in
 * set 1 (translated) at port 0x60. */
START_TEST(to_i8042)
{
    struct dev_bus *bus = dev_bus_new();
    struct dev_i8042 *k = dev_i8042_new(bus, NULL, NULL, (struct dev_irq_line){ 0 },
                                        (struct dev_irq_line){ 0 });
    ck_assert_ptr_nonnull(k);
    const char *typed = "A\x1b[A";
    for (const char *p = typed; *p; p++)
        vm_keymap_feed(&km, (uint8_t)*p, vm_keymap_to_i8042, k);
    static const uint8_t want[] = { 0x2a, 0x1e, 0x9e, 0xaa, 0xe0, 0x48, 0xe0, 0xc8 };
    for (size_t i = 0; i < sizeof(want); i++) {
        uint32_t st = 0, d = 0;
        dev_bus_pio(bus, 0x64, 1, false, &st);
        ck_assert_uint_eq(st & 1, 1);
        dev_bus_pio(bus, 0x60, 1, false, &d);
        ck_assert_uint_eq(d & 0xff, want[i]);
    }
    uint32_t st = 0;
    dev_bus_pio(bus, 0x64, 1, false, &st);
    ck_assert_uint_eq(st & 1, 0);
    dev_i8042_free(k);
    dev_bus_free(bus);
}
END_TEST

static Suite *keymap_suite(void)
{
    Suite *s = suite_create("keymap");
    TCase *tc = tcase_create("keymap");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, every_printable);
    tcase_add_test(tc, control_chars);
    tcase_add_test(tc, sequences);
    tcase_add_test(tc, alt_and_escape);
    tcase_add_test(tc, utf8_dropped);
    tcase_add_test(tc, garbage_balanced);
    tcase_add_test(tc, to_i8042);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(keymap_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
