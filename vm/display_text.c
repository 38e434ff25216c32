/*
 * vm/display_text.c — VGA text cells to terminal escapes and to text.
 * Colours use the 16 standard ANSI ones by attribute index (what the VGA
 * BIOS's default palette shows), so any terminal renders them; the
 * guest's DAC palette is ignored here. docs/display.md.
 */
#include "vm/display_text.h"

#include <string.h>

static const uint16_t cp437_table[256] = {
    0x0020, 0x263A, 0x263B, 0x2665, 0x2666, 0x2663, 0x2660, 0x2022,
    0x25D8, 0x25CB, 0x25D9, 0x2642, 0x2640, 0x266A, 0x266B, 0x263C,
    0x25BA, 0x25C4, 0x2195, 0x203C, 0x00B6, 0x00A7, 0x25AC, 0x21A8,
    0x2191, 0x2193, 0x2192, 0x2190, 0x221F, 0x2194, 0x25B2, 0x25BC,
    /* 0x20-0x7E: ASCII, filled in by vm_cp437 */
    [0x7F] = 0x2302,
    0x00C7, 0x00FC, 0x00E9, 0x00E2, 0x00E4, 0x00E0, 0x00E5, 0x00E7,
    0x00EA, 0x00EB, 0x00E8, 0x00EF, 0x00EE, 0x00EC, 0x00C4, 0x00C5,
    0x00C9, 0x00E6, 0x00C6, 0x00F4, 0x00F6, 0x00F2, 0x00FB, 0x00F9,
    0x00FF, 0x00D6, 0x00DC, 0x00A2, 0x00A3, 0x00A5, 0x20A7, 0x0192,
    0x00E1, 0x00ED, 0x00F3, 0x00FA, 0x00F1, 0x00D1, 0x00AA, 0x00BA,
    0x00BF, 0x2310, 0x00AC, 0x00BD, 0x00BC, 0x00A1, 0x00AB, 0x00BB,
    0x2591, 0x2592, 0x2593, 0x2502, 0x2524, 0x2561, 0x2562, 0x2556,
    0x2555, 0x2563, 0x2551, 0x2557, 0x255D, 0x255C, 0x255B, 0x2510,
    0x2514, 0x2534, 0x252C, 0x251C, 0x2500, 0x253C, 0x255E, 0x255F,
    0x255A, 0x2554, 0x2569, 0x2566, 0x2560, 0x2550, 0x256C, 0x2567,
    0x2568, 0x2564, 0x2565, 0x2559, 0x2558, 0x2552, 0x2553, 0x256B,
    0x256A, 0x2518, 0x250C, 0x2588, 0x2584, 0x258C, 0x2590, 0x2580,
    0x03B1, 0x00DF, 0x0393, 0x03C0, 0x03A3, 0x03C3, 0x00B5, 0x03C4,
    0x03A6, 0x0398, 0x03A9, 0x03B4, 0x221E, 0x03C6, 0x03B5, 0x2229,
    0x2261, 0x00B1, 0x2265, 0x2264, 0x2320, 0x2321, 0x00F7, 0x2248,
    0x00B0, 0x2219, 0x00B7, 0x221A, 0x207F, 0x00B2, 0x25A0, 0x00A0,
};

unsigned vm_cp437(uint8_t c)
{
    if (c >= 0x20 && c < 0x7F)
        return c;
    return cp437_table[c];
}

void vm_put_utf8(FILE *f, unsigned cp)
{
    if (cp < 0x80) {
        fputc((int)cp, f);
    } else if (cp < 0x800) {
        fputc((int)(0xC0 | cp >> 6), f);
        fputc((int)(0x80 | (cp & 0x3F)), f);
    } else {
        fputc((int)(0xE0 | cp >> 12), f);
        fputc((int)(0x80 | (cp >> 6 & 0x3F)), f);
        fputc((int)(0x80 | (cp & 0x3F)), f);
    }
}

/* VGA colour index (blue bit 0, green 1, red 2) to ANSI's (red bit 0). */
static const uint8_t vga_to_ansi[8] = { 0, 4, 2, 6, 1, 5, 3, 7 };

static void sgr(FILE *f, uint8_t attr, bool blink)
{
    unsigned fg = attr & 0xF, bg = attr >> 4;
    if (blink)
        bg &= 7;
    fprintf(f, "\033[0;%u;%um", (fg & 8 ? 90 : 30) + vga_to_ansi[fg & 7],
            (bg & 8 ? 100 : 40) + vga_to_ansi[bg & 7]);
}

void vm_text_to_ansi(FILE *f, const struct dev_vga_text *prev, const struct dev_vga_text *cur)
{
    if (prev && (prev->cols != cur->cols || prev->rows != cur->rows))
        prev = NULL;
    if (!prev)
        fputs("\033[0m\033[2J", f);
    int last_attr = -1;
    for (unsigned r = 0; r < cur->rows; r++) {
        int at_col = -1;   /* where the terminal's cursor is on this row */
        for (unsigned c = 0; c < cur->cols; c++) {
            uint16_t cell = cur->cell[r * cur->cols + c];
            if (prev && prev->cell[r * cur->cols + c] == cell)
                continue;
            if (at_col != (int)c)
                fprintf(f, "\033[%u;%uH", r + 1, c + 1);
            uint8_t attr = (uint8_t)(cell >> 8);
            if (attr != last_attr) {
                sgr(f, attr, cur->blink);
                last_attr = attr;
            }
            vm_put_utf8(f, vm_cp437((uint8_t)cell));
            at_col = (int)c + 1;
        }
    }
    fputs("\033[0m", f);
    if (cur->cursor_row >= 0)
        fprintf(f, "\033[%d;%dH\033[?25h", cur->cursor_row + 1, cur->cursor_col + 1);
    else
        fputs("\033[?25l", f);
}

void vm_text_dump(FILE *f, const struct dev_vga_text *t)
{
    for (unsigned r = 0; r < t->rows; r++) {
        unsigned end = t->cols;
        while (end > 0) {
            uint8_t ch = (uint8_t)t->cell[r * t->cols + end - 1];
            if (ch != ' ' && ch != 0 && ch != 0xFF)
                break;
            end--;
        }
        for (unsigned c = 0; c < end; c++) {
            uint8_t ch = (uint8_t)t->cell[r * t->cols + c];
            vm_put_utf8(f, ch == 0xFF ? ' ' : vm_cp437(ch));
        }
        fputc('\n', f);
    }
}
