/*
 * devices/ps2.h — the two PS/2 devices behind the i8042 (devices-internal):
 * the keyboard (devices/ps2kbd.c) and the mouse (devices/ps2mouse.c).
 *
 * A device is what sits at the far end of a PS/2 cable: it takes bytes
 * from the controller (commands and their arguments) and holds the bytes
 * it wants to send in its own buffer until the controller pulls them, one
 * at a time, into its output buffer. The controller pulls only while the
 * port is enabled and its output buffer is empty, as the real one holds
 * the clock line low otherwise. Everything here runs on the vcpu thread.
 */
#ifndef BTVM_DEV_PS2_H
#define BTVM_DEV_PS2_H

#include <stdbool.h>
#include <stdint.h>

/* A device's transmit buffer. tag[] is nonzero on the first byte of a
 * unit that must reach the host whole and in order (a reply, a scancode
 * sequence, a mouse packet) and says which kind it is; 0 on the rest. */
#define DEV_PS2Q_SIZE 256
#define DEV_PS2Q_REPLY  1
#define DEV_PS2Q_PACKET 2
struct dev_ps2q {
    uint8_t b[DEV_PS2Q_SIZE];
    uint8_t tag[DEV_PS2Q_SIZE];
    unsigned head, n;
};

static inline unsigned dev_ps2q_room(const struct dev_ps2q *q)
{
    return DEV_PS2Q_SIZE - q->n;
}

/* Appends a unit of n bytes; false (nothing queued) if it does not fit. */
static inline bool dev_ps2q_put(struct dev_ps2q *q, const uint8_t *bytes, unsigned n, uint8_t tag)
{
    if (n == 0 || n > dev_ps2q_room(q))
        return false;
    for (unsigned i = 0; i < n; i++) {
        unsigned at = (q->head + q->n) % DEV_PS2Q_SIZE;
        q->b[at] = bytes[i];
        q->tag[at] = i == 0 ? tag : 0;
        q->n++;
    }
    return true;
}

static inline uint8_t dev_ps2q_get(struct dev_ps2q *q)
{
    uint8_t v = q->b[q->head];
    q->head = (q->head + 1) % DEV_PS2Q_SIZE;
    q->n--;
    return v;
}

/* True while the head byte continues a unit the host has begun reading. */
static inline bool dev_ps2q_mid_unit(const struct dev_ps2q *q)
{
    return q->n && !q->tag[q->head];
}

/* Drops the units of one kind the host has not begun reading; the rest
 * of a begun one and the other units stay, in order. */
static inline void dev_ps2q_drop_unsent(struct dev_ps2q *q, uint8_t tag)
{
    unsigned out = 0;
    bool dropping = false;
    for (unsigned i = 0; i < q->n; i++) {
        unsigned from = (q->head + i) % DEV_PS2Q_SIZE;
        if (q->tag[from])
            dropping = q->tag[from] == tag;
        if (dropping)
            continue;
        unsigned to = (q->head + out++) % DEV_PS2Q_SIZE;
        q->b[to] = q->b[from];
        q->tag[to] = q->tag[from];
    }
    q->n = out;
}

/* The 8042's scancode translation (command byte bit 6): a set-2 byte to
 * its set-1 equivalent. An 0xF0 (break) prefix is swallowed by the caller
 * and sets bit 7 of the next translated byte. */
uint8_t dev_ps2_xlate(uint8_t set2);

/* ---- keyboard (MF2, scancode sets 1 and 2) ---- */

/* Special set-1 codes the keyboard handles itself. */
#define DEV_PS2KBD_PRTSC 0xE037

struct dev_ps2kbd {
    struct dev_ps2q resp;    /* replies to commands */
    struct dev_ps2q scan;    /* scancode sequences */
    uint8_t arg_cmd;         /* 0xED, 0xF0, 0xF3 waiting for its argument, or 0 */
    uint8_t set;             /* 1 or 2 */
    bool scanning;
    uint8_t leds;            /* bit 0 Scroll, 1 Num, 2 Caps Lock */
    uint8_t typematic;       /* the 0xF3 argument: bits 0-4 rate, 5-6 delay */
    uint8_t last_tx;         /* for the host's 0xFE (resend) */
    uint8_t held[32];        /* keys down, bit per (extended ? 0x80 : 0) | code */
    uint16_t rep_key;        /* the key typematic repeats, or 0 */
    uint64_t rep_deadline;   /* next repeat, ns; UINT64_MAX: none */
    bool has_clock;          /* a timer drives typematic (else host repeats pass) */
};

void dev_ps2kbd_init(struct dev_ps2kbd *k);
/* A byte from the controller (a command or an argument). */
void dev_ps2kbd_write(struct dev_ps2kbd *k, uint8_t b);
bool dev_ps2kbd_has_data(const struct dev_ps2kbd *k);
/* The next byte to send; call only when dev_ps2kbd_has_data. */
uint8_t dev_ps2kbd_read(struct dev_ps2kbd *k);
/* Room for one more key event's bytes. */
bool dev_ps2kbd_room(const struct dev_ps2kbd *k);
/* A key went down or up (set-1 make code, 0xE0 in bits 8-15 for the
 * extended keys; DEV_I8042_KEY_PAUSE for Pause). now: for typematic. */
void dev_ps2kbd_key(struct dev_ps2kbd *k, uint16_t set1, bool down, uint64_t now_ns);
/* The typematic timer fired. */
void dev_ps2kbd_tick(struct dev_ps2kbd *k, uint64_t now_ns);

/* ---- mouse (PS/2, IntelliMouse 3 and 5 buttons) ---- */

struct dev_ps2mouse {
    struct dev_ps2q q;       /* replies and movement packets */
    uint8_t arg_cmd;         /* 0xE8 or 0xF3 waiting for its argument, or 0 */
    bool reporting, remote, scale21, wrap;
    uint8_t resolution;      /* 0-3: 1, 2, 4, 8 counts/mm */
    uint8_t rate;            /* samples/s */
    uint8_t id;              /* 0 PS/2, 3 IntelliMouse, 4 IntelliMouse Explorer */
    uint8_t knock[3];        /* the last three sample rates set */
    uint8_t last_tx;
    int32_t dx, dy, dz;      /* movement not yet reported; dy positive = up */
    unsigned buttons, sent_buttons;
};

void dev_ps2mouse_init(struct dev_ps2mouse *m);
void dev_ps2mouse_write(struct dev_ps2mouse *m, uint8_t b);
bool dev_ps2mouse_has_data(const struct dev_ps2mouse *m);
uint8_t dev_ps2mouse_read(struct dev_ps2mouse *m);
/* Host movement (dy positive = towards the user, as screens count) and
 * the buttons now down (bit 0 left, 1 right, 2 middle, 3 and 4 side). */
void dev_ps2mouse_event(struct dev_ps2mouse *m, int dx, int dy, int dz, unsigned buttons);
/* Sends what movement the buffer had no room for before. */
void dev_ps2mouse_flush(struct dev_ps2mouse *m);

#endif
