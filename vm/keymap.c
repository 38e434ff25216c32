/*
 * vm/keymap.c — terminal bytes to key events (vm/keymap.h), US layout.
 *
 * A small state machine over the bytes: ground, after ESC, inside CSI
 * (ESC [), after ESC [ [ (the Linux console's F1-F5), inside SS3 (ESC O),
 * and skipping a UTF-8 character. Keys are tapped: pressed and released
 * at once, since a terminal reports no releases (docs/devices.md).
 */
#include <string.h>

#include "devices/i8042.h"
#include "vm/keymap.h"

enum { ST_GROUND, ST_ESC, ST_CSI, ST_CSI_LB, ST_SS3, ST_SKIP };

#define M_SHIFT 1u
#define M_ALT   2u
#define M_CTRL  4u

#define K_ESC    0x01
#define K_BKSP   0x0e
#define K_TAB    0x0f
#define K_ENTER  0x1c
#define K_LCTRL  0x1d
#define K_LSHIFT 0x2a
#define K_LALT   0x38
#define K_F1     0x3b
#define K_F11    0x57
#define K_F12    0x58
#define K_HOME   0xe047
#define K_UP     0xe048
#define K_PGUP   0xe049
#define K_LEFT   0xe04b
#define K_RIGHT  0xe04d
#define K_END    0xe04f
#define K_DOWN   0xe050
#define K_PGDN   0xe051
#define K_INS    0xe052
#define K_DEL    0xe053

#define MAX_SEQ 32     /* longer "sequences" are garbage: dropped */

/* Printable ASCII 0x20-0x7E: set-1 code, bit 7 = needs Shift. */
#define S 0x80
static const uint8_t us_ascii[95] = {
    /* sp ! " # $ % & ' */      0x39, 0x02 | S, 0x28 | S, 0x04 | S, 0x05 | S, 0x06 | S, 0x08 | S, 0x28,
    /* ( ) * + , - . / */       0x0a | S, 0x0b | S, 0x09 | S, 0x0d | S, 0x33, 0x0c, 0x34, 0x35,
    /* 0-7 */                   0x0b, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
    /* 8 9 : ; < = > ? */       0x09, 0x0a, 0x27 | S, 0x27, 0x33 | S, 0x0d, 0x34 | S, 0x35 | S,
    /* @ A-G */                 0x03 | S, 0x1e | S, 0x30 | S, 0x2e | S, 0x20 | S, 0x12 | S, 0x21 | S, 0x22 | S,
    /* H-O */                   0x23 | S, 0x17 | S, 0x24 | S, 0x25 | S, 0x26 | S, 0x32 | S, 0x31 | S, 0x18 | S,
    /* P-W */                   0x19 | S, 0x10 | S, 0x13 | S, 0x1f | S, 0x14 | S, 0x16 | S, 0x2f | S, 0x11 | S,
    /* X Y Z [ \ ] ^ _ */       0x2d | S, 0x15 | S, 0x2c | S, 0x1a, 0x2b, 0x1b, 0x07 | S, 0x0c | S,
    /* ` a-g */                 0x29, 0x1e, 0x30, 0x2e, 0x20, 0x12, 0x21, 0x22,
    /* h-o */                   0x23, 0x17, 0x24, 0x25, 0x26, 0x32, 0x31, 0x18,
    /* p-w */                   0x19, 0x10, 0x13, 0x1f, 0x14, 0x16, 0x2f, 0x11,
    /* x y z { | } ~ */         0x2d, 0x15, 0x2c, 0x1a | S, 0x2b | S, 0x1b | S, 0x29 | S,
};
#undef S

/* Presses mods, taps the key, releases mods in reverse. */
static void tap(uint16_t code, unsigned mods, vm_keymap_emit_fn emit, void *opaque)
{
    if (mods & M_CTRL)
        emit(opaque, K_LCTRL, true);
    if (mods & M_ALT)
        emit(opaque, K_LALT, true);
    if (mods & M_SHIFT)
        emit(opaque, K_LSHIFT, true);
    emit(opaque, code, true);
    emit(opaque, code, false);
    if (mods & M_SHIFT)
        emit(opaque, K_LSHIFT, false);
    if (mods & M_ALT)
        emit(opaque, K_LALT, false);
    if (mods & M_CTRL)
        emit(opaque, K_LCTRL, false);
}

/* One ASCII byte (not ESC) typed with extra modifiers (Alt after ESC). */
static void ascii(uint8_t b, unsigned mods, vm_keymap_emit_fn emit, void *opaque)
{
    if (b >= 0x20 && b < 0x7f) {
        uint8_t e = us_ascii[b - 0x20];
        tap(e & 0x7f, mods | (e & 0x80 ? M_SHIFT : 0), emit, opaque);
        return;
    }
    switch (b) {
    case 0x7f: case 0x08: tap(K_BKSP, mods, emit, opaque); return;
    case 0x09: tap(K_TAB, mods, emit, opaque); return;
    case 0x0a: case 0x0d: tap(K_ENTER, mods, emit, opaque); return;
    case 0x00: tap(0x03, mods | M_CTRL, emit, opaque); return;          /* Ctrl+2 */
    case 0x1c: tap(0x2b, mods | M_CTRL, emit, opaque); return;          /* Ctrl+\ */
    case 0x1d: tap(0x1b, mods | M_CTRL, emit, opaque); return;          /* Ctrl+] */
    case 0x1e: tap(0x07, mods | M_CTRL | M_SHIFT, emit, opaque); return; /* Ctrl+^ */
    case 0x1f: tap(0x0c, mods | M_CTRL | M_SHIFT, emit, opaque); return; /* Ctrl+_ */
    default:
        break;
    }
    if (b >= 0x01 && b <= 0x1a)                                     /* Ctrl+A..Z */
        tap(us_ascii['a' + b - 1 - 0x20], mods | M_CTRL, emit, opaque);
}

/* xterm's modifier parameter: 1 + (Shift 1, Alt 2, Ctrl 4, Meta 8). */
static unsigned xterm_mods(unsigned p)
{
    if (p < 2)
        return 0;
    p -= 1;
    return (p & 1 ? M_SHIFT : 0) | (p & (2 | 8) ? M_ALT : 0) | (p & 4 ? M_CTRL : 0);
}

/* The key of ESC [ n ~; 0 for none. */
static uint16_t tilde_key(unsigned n)
{
    switch (n) {
    case 1: case 7: return K_HOME;
    case 2: return K_INS;
    case 3: return K_DEL;
    case 4: case 8: return K_END;
    case 5: return K_PGUP;
    case 6: return K_PGDN;
    case 11: case 12: case 13: case 14: case 15: return (uint16_t)(K_F1 + n - 11);
    case 17: case 18: case 19: case 20: case 21: return (uint16_t)(K_F1 + 5 + n - 17);
    case 23: return K_F11;
    case 24: return K_F12;
    default: return 0;
    }
}

/* Final letters shared by CSI and SS3: arrows, Home/End, F1-F4. */
static uint16_t letter_key(uint8_t f)
{
    switch (f) {
    case 'A': return K_UP;
    case 'B': return K_DOWN;
    case 'C': return K_RIGHT;
    case 'D': return K_LEFT;
    case 'H': return K_HOME;
    case 'F': return K_END;
    case 'P': return K_F1;
    case 'Q': return K_F1 + 1;
    case 'R': return K_F1 + 2;
    case 'S': return K_F1 + 3;
    default: return 0;
    }
}

/* ESC O with a keypad application key (DECKPAM): the keypad key. */
static uint16_t keypad_key(uint8_t f)
{
    static const uint16_t digits[10] = { 0x52, 0x4f, 0x50, 0x51, 0x4b, 0x4c, 0x4d, 0x47, 0x48, 0x49 };
    if (f >= 'p' && f <= 'y')
        return digits[f - 'p'];
    switch (f) {
    case 'M': return 0xe01c;            /* Enter */
    case 'j': return 0x37;              /* * */
    case 'k': return 0x4e;              /* + */
    case 'm': return 0x4a;              /* - */
    case 'n': return 0x53;              /* . */
    case 'o': return 0xe035;            /* / */
    default: return 0;
    }
}

static void csi_final(struct vm_keymap *km, uint8_t f, vm_keymap_emit_fn emit, void *opaque)
{
    if (km->odd)
        return;                         /* private (mouse reports, DEC modes): not keys */
    unsigned p1 = km->nparam > 0 ? km->param[0] : 0;
    unsigned mods = km->nparam > 1 ? xterm_mods(km->param[1]) : 0;
    uint16_t key = 0;
    switch (f) {
    case '~': key = tilde_key(p1); break;
    case '^': key = tilde_key(p1); mods |= M_CTRL; break;           /* rxvt */
    case '$': key = tilde_key(p1); mods |= M_SHIFT; break;          /* rxvt */
    case '@': key = tilde_key(p1); mods |= M_CTRL | M_SHIFT; break; /* rxvt */
    case 'Z': key = K_TAB; mods |= M_SHIFT; break;                  /* back-tab */
    case 'a': case 'b': case 'c': case 'd':                         /* rxvt Shift+arrow */
        key = letter_key((uint8_t)(f - 'a' + 'A'));
        mods |= M_SHIFT;
        break;
    default:
        key = letter_key(f);
        /* ESC [ 1;5P style: p1 is 1 and the modifier second. */
        break;
    }
    if (key)
        tap(key, mods, emit, opaque);
}

static void ss3_final(struct vm_keymap *km, uint8_t f, vm_keymap_emit_fn emit, void *opaque)
{
    /* Some terminals put the modifier here: ESC O 5 P = Ctrl+F1. */
    unsigned mods = km->nparam > 0 ? xterm_mods(km->param[0]) : 0;
    uint16_t key = letter_key(f);
    if (!key && f >= 'a' && f <= 'd') {                             /* rxvt Ctrl+arrow */
        key = letter_key((uint8_t)(f - 'a' + 'A'));
        mods |= M_CTRL;
    }
    if (!key)
        key = keypad_key(f);
    if (key)
        tap(key, mods, emit, opaque);
}

void vm_keymap_init(struct vm_keymap *km)
{
    memset(km, 0, sizeof(*km));
}

bool vm_keymap_pending(const struct vm_keymap *km)
{
    return km->state != ST_GROUND;
}

static void start_seq(struct vm_keymap *km, uint8_t state)
{
    km->state = state;
    km->nparam = 0;
    km->len = 0;
    km->odd = false;
    memset(km->param, 0, sizeof(km->param));
}

static void ground(struct vm_keymap *km, uint8_t b, vm_keymap_emit_fn emit, void *opaque)
{
    if (b == 0x1b) {
        start_seq(km, ST_ESC);
        return;
    }
    if (b < 0x80) {
        ascii(b, 0, emit, opaque);
        return;
    }
    /* UTF-8 beyond ASCII: no key on a US keyboard types it; skip the
     * continuation bytes so they are not read as characters. */
    if (b >= 0xc2 && b <= 0xdf)
        km->utf8_left = 1;
    else if (b >= 0xe0 && b <= 0xef)
        km->utf8_left = 2;
    else if (b >= 0xf0 && b <= 0xf4)
        km->utf8_left = 3;
    else
        return;                         /* a stray continuation or invalid byte */
    km->state = ST_SKIP;
}

/* Digits and ';' of a CSI/SS3 parameter list; true if b was one. */
static bool param_byte(struct vm_keymap *km, uint8_t b)
{
    if (b >= '0' && b <= '9') {
        if (km->nparam == 0)
            km->nparam = 1;
        uint16_t *p = &km->param[km->nparam - 1];
        *p = (uint16_t)(*p * 10 + (b - '0') > 9999 ? 9999 : *p * 10 + (b - '0'));
        return true;
    }
    if (b == ';') {
        if (km->nparam == 0)
            km->nparam = 1;
        if (km->nparam < 4)
            km->nparam++;
        else
            km->odd = true;
        return true;
    }
    return false;
}

void vm_keymap_feed(struct vm_keymap *km, uint8_t b, vm_keymap_emit_fn emit, void *opaque)
{
    switch (km->state) {
    case ST_GROUND:
        ground(km, b, emit, opaque);
        return;
    case ST_SKIP:
        if (b >= 0x80 && b <= 0xbf) {
            if (--km->utf8_left == 0)
                km->state = ST_GROUND;
            return;
        }
        km->state = ST_GROUND;          /* truncated character: b starts anew */
        ground(km, b, emit, opaque);
        return;
    case ST_ESC:
        if (b == '[') {
            start_seq(km, ST_CSI);
        } else if (b == 'O') {
            start_seq(km, ST_SS3);
        } else if (b == 0x1b) {
            tap(K_ESC, 0, emit, opaque);  /* ESC ESC: the first was the key */
        } else if (b < 0x80) {
            km->state = ST_GROUND;
            ascii(b, M_ALT, emit, opaque);
        } else {
            km->state = ST_GROUND;
            tap(K_ESC, 0, emit, opaque);
            ground(km, b, emit, opaque);
        }
        return;
    case ST_CSI:
    case ST_SS3:
        if (++km->len > MAX_SEQ) {
            km->odd = true;             /* keep consuming until a final byte */
            km->len = MAX_SEQ;
        }
        if (km->state == ST_CSI && b == '[' && km->len == 1) {
            km->state = ST_CSI_LB;      /* ESC [ [ A: the Linux console's F1 */
            return;
        }
        if (param_byte(km, b))
            return;
        if (b >= 0x20 && b <= 0x3f) {   /* private markers (<, =, >, ?), intermediates */
            km->odd = true;
            return;
        }
        if (b >= 0x40 && b <= 0x7e) {
            uint8_t st = km->state;
            km->state = ST_GROUND;
            if (st == ST_CSI)
                csi_final(km, b, emit, opaque);
            else
                ss3_final(km, b, emit, opaque);
            return;
        }
        /* A control byte or ESC cuts the sequence off: drop it, then b. */
        km->state = ST_GROUND;
        ground(km, b, emit, opaque);
        return;
    case ST_CSI_LB:
        km->state = ST_GROUND;
        if (b >= 'A' && b <= 'E')
            tap((uint16_t)(K_F1 + (b - 'A')), 0, emit, opaque);
        else if (b < 0x20 || b >= 0x7f)
            ground(km, b, emit, opaque);
        return;
    default:
        km->state = ST_GROUND;
        return;
    }
}

void vm_keymap_flush(struct vm_keymap *km, vm_keymap_emit_fn emit, void *opaque)
{
    uint8_t st = km->state;
    bool bare = km->len == 0;
    km->state = ST_GROUND;
    if (st == ST_ESC)
        tap(K_ESC, 0, emit, opaque);
    else if (st == ST_CSI && bare)
        ascii('[', M_ALT, emit, opaque);
    else if (st == ST_SS3 && bare)
        ascii('O', M_ALT, emit, opaque);
}

void vm_keymap_to_i8042(void *kbc, uint16_t set1code, bool down)
{
    dev_i8042_key(kbc, set1code, down);
}
