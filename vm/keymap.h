/*
 * vm/keymap.h — terminal bytes to PS/2 key events on a US layout.
 *
 * A terminal sends characters, not keys: ASCII, UTF-8 and xterm/VT escape
 * sequences. vm_keymap_feed turns each into the key presses that type it
 * (set-1 make codes, 0xE0 in bits 8-15 for extended keys, as
 * dev_i8042_key takes them), each key pressed and at once released, with
 * Shift, Ctrl or Alt pressed around it as the character needs:
 *   - printable ASCII: the US key, Shift added for shifted characters;
 *   - control characters: Ctrl+key (0x01 = Ctrl+A ...), except Tab (0x09),
 *     Enter (0x0D and 0x0A), Backspace (0x7F and 0x08), Escape (0x1B);
 *   - ESC [ / ESC O sequences: arrows, Home/End, Insert/Delete,
 *     PgUp/PgDn, F1-F12, keypad application keys, with xterm's modifier
 *     parameter (ESC [ 1;5A = Ctrl+Up) and rxvt's forms;
 *   - ESC + another key: that key with Alt;
 *   - UTF-8 beyond ASCII and unknown sequences: dropped whole.
 * A lone ESC cannot be told from the start of a sequence until more bytes
 * come or time passes: the caller calls vm_keymap_flush when no byte came
 * for VM_KEYMAP_ESC_TIMEOUT_MS while vm_keymap_pending says one waits.
 */
#ifndef BTVM_VM_KEYMAP_H
#define BTVM_VM_KEYMAP_H

#include <stdbool.h>
#include <stdint.h>

#define VM_KEYMAP_ESC_TIMEOUT_MS 50

struct vm_keymap {
    uint8_t state;           /* where in a sequence the last byte left us */
    uint8_t utf8_left;       /* continuation bytes still to skip */
    uint8_t nparam;          /* CSI/SS3 parameters seen so far */
    uint8_t len;             /* bytes of the current sequence */
    bool odd;                /* a private marker or intermediate byte: ignore it */
    uint16_t param[4];
};

typedef void (*vm_keymap_emit_fn)(void *opaque, uint16_t set1code, bool down);

void vm_keymap_init(struct vm_keymap *km);
/* One byte from the terminal; emit is called for each key event it makes. */
void vm_keymap_feed(struct vm_keymap *km, uint8_t byte, vm_keymap_emit_fn emit, void *opaque);
/* A partial sequence waits (a lone ESC, perhaps). */
bool vm_keymap_pending(const struct vm_keymap *km);
/* The timeout passed: a lone ESC is the Escape key, ESC [ and ESC O are
 * Alt+[ and Alt+O; any other partial sequence is dropped. */
void vm_keymap_flush(struct vm_keymap *km, vm_keymap_emit_fn emit, void *opaque);

/* An emit function that hands the events to the i8042 (opaque: its
 * struct dev_i8042 *). */
void vm_keymap_to_i8042(void *kbc, uint16_t set1code, bool down);

#endif
