/*
 * devices/ps2kbd.c — an MF2 PS/2 keyboard (the IBM PS/2 keyboard technical
 * reference's command set) and the 8042's set 2 → set 1 translation.
 *
 * Keys arrive as set-1 make codes (the host API's currency) and leave as
 * set-2 sequences: the set-2 code of a key is the byte the 8042's
 * translation table turns into its set-1 code, so translation and the
 * host's codes agree by construction. In set 1 the keyboard runs its own
 * set-2 output through that same table, which is what a set-1 keyboard
 * sends (Pause, Print Screen and the break prefix included). Set 3 is not
 * offered: 0xF0 0x03 is acknowledged and the keyboard stays in its set,
 * as keyboards without set 3 do (Linux then keeps set 2).
 *
 * Replies go ahead of queued scancodes, but never into the middle of a
 * sequence the host has begun reading. Typematic repeat is the keyboard's
 * own (the 0xF3 rate and delay) when a clock drives it; see
 * docs/devices.md.
 */
#include <string.h>

#include "devices/i8042.h"
#include "devices/ps2.h"

#define ACK    0xFA
#define RESEND 0xFE
#define BAT_OK 0xAA

#define TYPEMATIC_DEFAULT 0x2B   /* 10.9 characters/s after 500 ms */

/* The 8042's table (IBM PC AT technical reference, as every compatible
 * controller has it): index = set-2 byte, value = set-1 byte. 0x83 (F7)
 * and 0x84 (Alt+SysRq) are the two set-2 codes above 0x7F; the rest of
 * 0x80-0xFF passes unchanged. */
static const uint8_t xlate_lo[0x85] = {
    0xff, 0x43, 0x41, 0x3f, 0x3d, 0x3b, 0x3c, 0x58, 0x64, 0x44, 0x42, 0x40, 0x3e, 0x0f, 0x29, 0x59,
    0x65, 0x38, 0x2a, 0x70, 0x1d, 0x10, 0x02, 0x5a, 0x66, 0x71, 0x2c, 0x1f, 0x1e, 0x11, 0x03, 0x5b,
    0x67, 0x2e, 0x2d, 0x20, 0x12, 0x05, 0x04, 0x5c, 0x68, 0x39, 0x2f, 0x21, 0x14, 0x13, 0x06, 0x5d,
    0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5e, 0x6a, 0x72, 0x32, 0x24, 0x16, 0x08, 0x09, 0x5f,
    0x6b, 0x33, 0x25, 0x17, 0x18, 0x0b, 0x0a, 0x60, 0x6c, 0x34, 0x35, 0x26, 0x27, 0x19, 0x0c, 0x61,
    0x6d, 0x73, 0x28, 0x74, 0x1a, 0x0d, 0x62, 0x6e, 0x3a, 0x36, 0x1c, 0x1b, 0x75, 0x2b, 0x63, 0x76,
    0x55, 0x56, 0x77, 0x78, 0x79, 0x7a, 0x0e, 0x7b, 0x7c, 0x4f, 0x7d, 0x4b, 0x47, 0x7e, 0x7f, 0x6f,
    0x52, 0x53, 0x50, 0x4c, 0x4d, 0x48, 0x01, 0x45, 0x57, 0x4e, 0x51, 0x4a, 0x37, 0x49, 0x46, 0x54,
    0x80, 0x81, 0x82, 0x41, 0x54,
};

uint8_t dev_ps2_xlate(uint8_t set2)
{
    return set2 < sizeof(xlate_lo) ? xlate_lo[set2] : set2;
}

/* The set-2 code of a set-1 code (0x01-0x7F): the table's preimage,
 * searched from the top so F7 and SysRq get their real codes 0x83/0x84
 * rather than 0x02/0x7F, which no key sends. 0: none. */
static uint8_t set2_of(uint8_t set1)
{
    for (int i = (int)sizeof(xlate_lo) - 1; i > 0; i--)
        if (xlate_lo[i] == set1)
            return (uint8_t)i;
    return 0;
}

/* ---- held keys and modifiers ---- */

static unsigned key_index(uint16_t set1)
{
    return (set1 >> 8 ? 0x80u : 0u) | (set1 & 0x7fu);
}

static bool is_held(const struct dev_ps2kbd *k, uint16_t set1)
{
    unsigned i = key_index(set1);
    return k->held[i / 8] & (1u << (i % 8));
}

static void set_held(struct dev_ps2kbd *k, uint16_t set1, bool down)
{
    unsigned i = key_index(set1);
    if (down)
        k->held[i / 8] |= (uint8_t)(1u << (i % 8));
    else
        k->held[i / 8] &= (uint8_t)~(1u << (i % 8));
}

static bool ctrl_held(const struct dev_ps2kbd *k)
{
    return is_held(k, 0x1d) || is_held(k, 0xe01d);
}

static bool shift_held(const struct dev_ps2kbd *k)
{
    return is_held(k, 0x2a) || is_held(k, 0x36);
}

static bool alt_held(const struct dev_ps2kbd *k)
{
    return is_held(k, 0x38) || is_held(k, 0xe038);
}

/* ---- output ---- */

/* Queues a set-2 sequence as one unit, in the keyboard's current set. */
static void send_scan(struct dev_ps2kbd *k, const uint8_t *s2, unsigned n)
{
    uint8_t out[16];
    unsigned m = 0;
    if (k->set == 1) {
        bool brk = false;
        for (unsigned i = 0; i < n; i++) {
            if (s2[i] == 0xf0) {
                brk = true;
                continue;
            }
            out[m++] = (uint8_t)(dev_ps2_xlate(s2[i]) | (brk ? 0x80 : 0));
            brk = false;
        }
    } else {
        memcpy(out, s2, n);
        m = n;
    }
    if (dev_ps2q_put(&k->scan, out, m, DEV_PS2Q_PACKET))
        return;
    /* Buffer overrun: the overrun code (0x00 in set 2, 0xFF in set 1)
     * in place of the sequence, once. */
    uint8_t ovr = k->set == 1 ? 0xff : 0x00;
    unsigned last = (k->scan.head + k->scan.n + DEV_PS2Q_SIZE - 1) % DEV_PS2Q_SIZE;
    if (!k->scan.n || k->scan.b[last] != ovr || !k->scan.tag[last])
        dev_ps2q_put(&k->scan, &ovr, 1, DEV_PS2Q_PACKET);
}

static void reply(struct dev_ps2kbd *k, uint8_t b)
{
    dev_ps2q_put(&k->resp, &b, 1, DEV_PS2Q_REPLY);
}

bool dev_ps2kbd_has_data(const struct dev_ps2kbd *k)
{
    return k->resp.n || k->scan.n;
}

uint8_t dev_ps2kbd_read(struct dev_ps2kbd *k)
{
    bool from_scan = dev_ps2q_mid_unit(&k->scan) || !k->resp.n;
    k->last_tx = dev_ps2q_get(from_scan ? &k->scan : &k->resp);
    return k->last_tx;
}

bool dev_ps2kbd_room(const struct dev_ps2kbd *k)
{
    return dev_ps2q_room(&k->scan) >= 16;
}

/* ---- typematic ---- */

/* Period: (8 + A) * 2^B * 4.17 ms with A = bits 0-2, B = bits 3-4;
 * delay: (1 + D) * 250 ms with D = bits 5-6 (IBM PS/2 keyboard ref). */
static uint64_t rep_period_ns(uint8_t t)
{
    return (uint64_t)(8 + (t & 7)) * (1u << ((t >> 3) & 3)) * 4170000u;
}

static uint64_t rep_delay_ns(uint8_t t)
{
    return (uint64_t)(1 + ((t >> 5) & 3)) * 250000000u;
}

static void stop_repeat(struct dev_ps2kbd *k)
{
    k->rep_key = 0;
    k->rep_deadline = UINT64_MAX;
}

/* ---- keys ---- */

/* The make or break sequence of a key in set 2, into s; its length, or 0
 * for a code no key has. */
static unsigned key_seq(const struct dev_ps2kbd *k, uint16_t set1, bool down, uint8_t *s)
{
    unsigned n = 0;
    if (set1 == DEV_I8042_KEY_PAUSE) {
        if (!down)
            return 0;                   /* Pause has no break code */
        static const uint8_t brk[] = { 0xe0, 0x7e, 0xe0, 0xf0, 0x7e };
        static const uint8_t pause[] = { 0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77 };
        const uint8_t *p = ctrl_held(k) ? brk : pause;
        n = ctrl_held(k) ? sizeof(brk) : sizeof(pause);
        memcpy(s, p, n);
        return n;
    }
    if (set1 == DEV_PS2KBD_PRTSC && !alt_held(k) && !shift_held(k) && !ctrl_held(k)) {
        /* Alone, Print Screen sends a fake Left Shift around its code. */
        static const uint8_t mk[] = { 0xe0, 0x12, 0xe0, 0x7c };
        static const uint8_t br[] = { 0xe0, 0xf0, 0x7c, 0xe0, 0xf0, 0x12 };
        n = down ? sizeof(mk) : sizeof(br);
        memcpy(s, down ? mk : br, n);
        return n;
    }
    if (set1 == DEV_PS2KBD_PRTSC && alt_held(k))
        set1 = 0x54;                    /* Alt+Print Screen is SysRq */
    uint8_t code = set2_of(set1 & 0x7f);
    if (!code)
        return 0;
    if (set1 >> 8)
        s[n++] = 0xe0;
    if (!down)
        s[n++] = 0xf0;
    s[n++] = code;
    return n;
}

static bool valid_code(uint16_t set1)
{
    uint8_t lo = set1 & 0xff, hi = set1 >> 8;
    return lo && lo < 0x80 && (hi == 0 || hi == 0xe0);
}

void dev_ps2kbd_key(struct dev_ps2kbd *k, uint16_t set1, bool down, uint64_t now_ns)
{
    if (!valid_code(set1))
        return;
    bool repeat = down && is_held(k, set1);
    if (set1 != DEV_I8042_KEY_PAUSE)
        set_held(k, set1, down);
    if (!down && k->rep_key == set1)
        stop_repeat(k);
    if (!k->scanning)
        return;
    /* With our own typematic, the host's repeats of a held key are
     * ignored; without a clock they stand in for it. */
    if (repeat && k->has_clock)
        return;
    uint8_t s[16];
    unsigned n = key_seq(k, set1, down, s);
    if (!n)
        return;
    send_scan(k, s, n);
    if (down && set1 != DEV_I8042_KEY_PAUSE && k->has_clock) {
        k->rep_key = set1;
        k->rep_deadline = now_ns + rep_delay_ns(k->typematic);
    }
}

void dev_ps2kbd_tick(struct dev_ps2kbd *k, uint64_t now_ns)
{
    if (!k->rep_key || now_ns < k->rep_deadline)
        return;
    k->rep_deadline = now_ns + rep_period_ns(k->typematic);
    if (!k->scanning || !dev_ps2kbd_room(k))
        return;
    /* Typematic repeats the make code; Print Screen repeats its main
     * code without the fake shift. */
    uint8_t s[16];
    unsigned n;
    if (k->rep_key == DEV_PS2KBD_PRTSC && !alt_held(k)) {
        s[0] = 0xe0;
        s[1] = 0x7c;
        n = 2;
    } else {
        n = key_seq(k, k->rep_key, true, s);
    }
    if (n)
        send_scan(k, s, n);
}

/* ---- commands ---- */

static void set_defaults(struct dev_ps2kbd *k)
{
    k->typematic = TYPEMATIC_DEFAULT;
    stop_repeat(k);
}

static void clear_output(struct dev_ps2kbd *k)
{
    k->scan.n = 0;
    k->resp.n = 0;
}

void dev_ps2kbd_init(struct dev_ps2kbd *k)
{
    memset(k, 0, sizeof(*k));
    k->set = 2;
    k->scanning = true;
    k->last_tx = BAT_OK;
    set_defaults(k);
}

static void command(struct dev_ps2kbd *k, uint8_t c)
{
    switch (c) {
    case 0xf0:                          /* get/set scancode set */
        k->scan.n = 0;                  /* clears its buffer and typematic key */
        stop_repeat(k);
        k->arg_cmd = c;
        reply(k, ACK);
        break;
    case 0xed:                          /* set LEDs */
    case 0xf3:                          /* typematic rate/delay */
        k->arg_cmd = c;
        reply(k, ACK);
        break;
    case 0xee:                          /* echo */
        reply(k, 0xee);
        break;
    case 0xf2:                          /* identify: MF2 keyboard */
        reply(k, ACK);
        reply(k, 0xab);
        reply(k, 0x83);
        break;
    case 0xf4:                          /* enable scanning */
        k->scan.n = 0;
        k->scanning = true;
        reply(k, ACK);
        break;
    case 0xf5:                          /* default and disable */
        clear_output(k);
        set_defaults(k);
        k->scanning = false;
        reply(k, ACK);
        break;
    case 0xf6:                          /* set defaults */
        clear_output(k);
        set_defaults(k);
        k->scanning = true;
        reply(k, ACK);
        break;
    case 0xf7: case 0xf8: case 0xf9: case 0xfa:
    case 0xfb: case 0xfc: case 0xfd:    /* set-3 key types: no effect in sets 1/2 */
        reply(k, ACK);
        break;
    case 0xfe:                          /* resend */
        reply(k, k->last_tx);
        break;
    case 0xff:                          /* reset and self-test */
        clear_output(k);
        set_defaults(k);
        k->set = 2;
        k->leds = 0;
        k->scanning = true;
        reply(k, ACK);
        reply(k, BAT_OK);
        break;
    default:
        reply(k, RESEND);
        break;
    }
}

static void argument(struct dev_ps2kbd *k, uint8_t cmd, uint8_t a)
{
    switch (cmd) {
    case 0xed:
        k->leds = a & 7;
        reply(k, ACK);
        break;
    case 0xf3:
        k->typematic = a & 0x7f;
        reply(k, ACK);
        break;
    case 0xf0:
        if (a > 3) {
            reply(k, RESEND);
            k->arg_cmd = cmd;           /* still waiting for a valid one */
            return;
        }
        reply(k, ACK);
        if (a == 0) {
            reply(k, k->set);
        } else if (a != 3) {
            k->set = a;
        }
        break;
    default:
        break;
    }
}

void dev_ps2kbd_write(struct dev_ps2kbd *k, uint8_t b)
{
    uint8_t cmd = k->arg_cmd;
    k->arg_cmd = 0;
    /* A command byte where an argument was due is taken as the command
     * (the arguments of 0xED, 0xF0, 0xF3 are all below 0x80). */
    if (cmd && b < 0x80) {
        argument(k, cmd, b);
        return;
    }
    command(k, b);
}
