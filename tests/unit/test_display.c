/*
 * tests/unit/test_display.c — the display's pure parts: text cells to
 * terminal escapes (full and incremental, colours, cursor), the text dump
 * (code page 437 to UTF-8, trailing blanks), the PNG writer (decoded back
 * here: signature, chunk CRCs, IHDR, the inflated rows equal the pixels),
 * and the display options of the command line.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "vm/cli.h"
#include "vm/display_png.h"
#include "vm/display_text.h"
#include "vm/display_vnc.h"

static struct dev_vga_text a, b;

static void screen(struct dev_vga_text *t, unsigned cols, unsigned rows)
{
    memset(t, 0, sizeof(*t));
    t->cols = cols;
    t->rows = rows;
    t->cell_w = 9;
    t->cell_h = 16;
    t->cursor_row = t->cursor_col = -1;
    for (unsigned i = 0; i < cols * rows; i++)
        t->cell[i] = 0x0720;
}

static char *capture(void (*fn)(FILE *, const struct dev_vga_text *, const struct dev_vga_text *),
                     const struct dev_vga_text *p, const struct dev_vga_text *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    fn(f, p, c);
    fclose(f);
    return buf;
}

static void dump2(FILE *f, const struct dev_vga_text *p, const struct dev_vga_text *c)
{
    (void)p;
    vm_text_dump(f, c);
}

START_TEST(ansi_full_then_diff)
{
    screen(&a, 4, 2);
    a.cell[0] = 'H' | 0x1E00;          /* yellow on blue */
    a.cell[1] = 'i' | 0x1E00;
    a.cursor_row = 1;
    a.cursor_col = 2;
    char *s = capture(vm_text_to_ansi, NULL, &a);
    ck_assert_ptr_nonnull(strstr(s, "\033[2J"));
    ck_assert_ptr_nonnull(strstr(s, "\033[1;1H\033[0;93;44mHi"));
    ck_assert_ptr_nonnull(strstr(s, "\033[2;3H\033[?25h"));
    free(s);
    /* Only the changed cell is drawn; the cursor hidden. */
    b = a;
    b.cell[5] = 0x03 | 0x4700;          /* a heart, grey on red */
    b.cursor_row = -1;
    s = capture(vm_text_to_ansi, &a, &b);
    ck_assert_ptr_null(strstr(s, "\033[2J"));
    ck_assert_ptr_null(strstr(s, "Hi"));
    ck_assert_ptr_nonnull(strstr(s, "\033[2;2H\033[0;37;41m\xE2\x99\xA5"));
    ck_assert_ptr_nonnull(strstr(s, "\033[?25l"));
    free(s);
    /* Blink attribute: bit 7 is not a bright background. */
    b.cell[5] = 'x' | 0xC700;
    b.blink = true;
    s = capture(vm_text_to_ansi, &a, &b);
    ck_assert_ptr_nonnull(strstr(s, "\033[0;37;41mx"));
    free(s);
}
END_TEST

START_TEST(text_dump_utf8)
{
    screen(&a, 5, 3);
    const char *row0 = "A\xC9\xCD\xBB";     /* box drawing in CP437 */
    for (int i = 0; i < 4; i++)
        a.cell[i] = (uint8_t)row0[i] | 0x0700;
    a.cell[10] = 0;                     /* NUL shows as blank */
    a.cell[11] = 'z';
    char *s = capture(dump2, NULL, &a);
    ck_assert_str_eq(s, "A\xE2\x95\x94\xE2\x95\x90\xE2\x95\x97\n\n z\n");
    free(s);
    ck_assert_uint_eq(vm_cp437(0xE1), 0x00DF);
    ck_assert_uint_eq(vm_cp437(0x7F), 0x2302);
    ck_assert_uint_eq(vm_cp437('~'), '~');
}
END_TEST

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

START_TEST(png_round_trip)
{
    enum { W = 37, H = 11 };
    static uint32_t px[W * H];
    for (unsigned i = 0; i < W * H; i++)
        px[i] = (i * 2654435761u) & 0xFFFFFF;
    char path[] = "/tmp/btvm-png-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(vm_png_write(path, px, W, H), 0);
    FILE *f = fopen(path, "rb");
    static uint8_t file[1 << 16];
    size_t n = fread(file, 1, sizeof(file), f);
    fclose(f);
    unlink(path);
    ck_assert_mem_eq(file, "\x89PNG\r\n\x1a\n", 8);
    size_t pos = 8;
    static uint8_t z[1 << 16];
    size_t zn = 0;
    bool ihdr = false, iend = false;
    while (pos + 12 <= n) {
        uint32_t len = be32(file + pos);
        const uint8_t *type = file + pos + 4, *data = file + pos + 8;
        uint32_t crc = (uint32_t)crc32(crc32(0, type, 4), data, len);
        ck_assert_uint_eq(crc, be32(data + len));
        if (!memcmp(type, "IHDR", 4)) {
            ck_assert_uint_eq(be32(data), W);
            ck_assert_uint_eq(be32(data + 4), H);
            ck_assert_uint_eq(data[8], 8);
            ck_assert_uint_eq(data[9], 2);
            ihdr = true;
        } else if (!memcmp(type, "IDAT", 4)) {
            memcpy(z + zn, data, len);
            zn += len;
        } else if (!memcmp(type, "IEND", 4)) {
            iend = true;
        }
        pos += 12 + len;
    }
    ck_assert(ihdr && iend);
    static uint8_t raw[H * (1 + W * 3)];
    uLongf rn = sizeof(raw);
    ck_assert_int_eq(uncompress(raw, &rn, z, zn), Z_OK);
    ck_assert_uint_eq(rn, sizeof(raw));
    for (unsigned y = 0; y < H; y++) {
        const uint8_t *row = raw + y * (1 + W * 3);
        ck_assert_uint_eq(row[0], 0);
        for (unsigned x = 0; x < W; x++) {
            uint32_t c = (uint32_t)row[1 + 3 * x] << 16 | (uint32_t)row[2 + 3 * x] << 8 |
                         row[3 + 3 * x];
            ck_assert_uint_eq(c, px[y * W + x]);
        }
    }
    ck_assert_int_lt(vm_png_write("/nonexistent-dir/x.png", px, W, H), 0);
    ck_assert_int_lt(vm_png_write(path, px, 0, H), 0);
}
END_TEST

START_TEST(cli_display_options)
{
    struct vm_cli c;
    char err[256];
    char *ok[] = { "btvm", "run", "-k", "k.elf", "-display", "curses", "-vga", "none",
                   "--screendump", "s.png", "--screendump-text", "s.txt", "-vnc", ":3" };
    ck_assert_ptr_null(vm_cli_parse(14, ok, &c, err, sizeof(err)));
    ck_assert_int_eq(c.opt.display, VM_DISPLAY_CURSES);
    ck_assert(c.opt.no_vga);
    ck_assert_str_eq(c.opt.screendump, "s.png");
    ck_assert_str_eq(c.opt.screendump_text, "s.txt");
    ck_assert(c.opt.vnc);
    ck_assert_uint_eq(c.opt.vnc_display, 3);
    char *ng[] = { "btvm", "-kernel", "k.elf", "-display", "curses", "-nographic" };
    ck_assert_ptr_null(vm_cli_parse(6, ng, &c, err, sizeof(err)));
    ck_assert_int_eq(c.opt.display, VM_DISPLAY_NONE);
    char *bad[] = { "btvm", "-kernel", "k.elf", "-display", "fancy" };
    ck_assert_ptr_nonnull(vm_cli_parse(5, bad, &c, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "expected curses or none"));
    char *badvnc[] = { "btvm", "-kernel", "k.elf", "-vnc", "0.0.0.0:1" };
    ck_assert_ptr_nonnull(vm_cli_parse(5, badvnc, &c, err, sizeof(err)));
}
END_TEST

START_TEST(vnc_keysyms)
{
    ck_assert_uint_eq(vm_vnc_keysym_set1('a'), 0x1E);
    ck_assert_uint_eq(vm_vnc_keysym_set1('A'), 0x1E);   /* Shift comes as its own key */
    ck_assert_uint_eq(vm_vnc_keysym_set1('!'), 0x02);
    ck_assert_uint_eq(vm_vnc_keysym_set1('?'), 0x35);
    ck_assert_uint_eq(vm_vnc_keysym_set1(' '), 0x39);
    ck_assert_uint_eq(vm_vnc_keysym_set1(0xFF0D), 0x1C);   /* Return */
    ck_assert_uint_eq(vm_vnc_keysym_set1(0xFF1B), 0x01);   /* Escape */
    ck_assert_uint_eq(vm_vnc_keysym_set1(0xFF52), 0xE048); /* Up */
    ck_assert_uint_eq(vm_vnc_keysym_set1(0xFFBE), 0x3B);   /* F1 */
    ck_assert_uint_eq(vm_vnc_keysym_set1(0xFFC9), 0x58);   /* F12 */
    ck_assert_uint_eq(vm_vnc_keysym_set1(0xFFE4), 0xE01D); /* Right Ctrl */
    ck_assert_uint_eq(vm_vnc_keysym_set1(0xFFB7), 0x47);   /* keypad 7 */
    ck_assert_uint_eq(vm_vnc_keysym_set1(0x20AC), 0);      /* the euro sign: no key */
}
END_TEST

static Suite *display_suite(void)
{
    Suite *s = suite_create("display");
    TCase *t = tcase_create("core");
    tcase_add_test(t, ansi_full_then_diff);
    tcase_add_test(t, text_dump_utf8);
    tcase_add_test(t, png_round_trip);
    tcase_add_test(t, cli_display_options);
    tcase_add_test(t, vnc_keysyms);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(display_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
