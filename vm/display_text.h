/*
 * vm/display_text.h — a VGA text screen as terminal escapes (the curses
 * display) and as UTF-8 text (--screendump-text); code page 437 to
 * Unicode. Pure functions of a struct dev_vga_text: unit-tested.
 */
#ifndef BTVM_VM_DISPLAY_TEXT_H
#define BTVM_VM_DISPLAY_TEXT_H

#include <stdio.h>
#include "devices/vga.h"

/* Code page 437 character c as a Unicode code point (0 as a space). */
unsigned vm_cp437(uint8_t c);
/* Write cp to f as UTF-8. */
void vm_put_utf8(FILE *f, unsigned cp);
/* Escapes (ANSI/ECMA-48, 16 colours) that make a terminal showing prev
 * (NULL: anything) show cur: only changed cells are drawn; the cursor is
 * left where the guest's is, shown or hidden. */
void vm_text_to_ansi(FILE *f, const struct dev_vga_text *prev, const struct dev_vga_text *cur);
/* The screen as UTF-8 lines, trailing blanks dropped, one '\n' each. */
void vm_text_dump(FILE *f, const struct dev_vga_text *t);

#endif
