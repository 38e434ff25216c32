/*
 * devices/ps2mouse.c — a PS/2 mouse with the IntelliMouse extensions:
 * the sample-rate knocks 200/100/80 (ID 3: a wheel byte) and 200/200/80
 * (ID 4: wheel nibble plus buttons 4 and 5), stream and remote mode,
 * 1:1 and 2:1 scaling, wrap (echo) mode.
 *
 * Host movement accumulates in 9-bit-wide counters' worth of packets:
 * a large move becomes several packets (each within -256..255) rather
 * than one overflowed one, as long as the buffer has room; what does not
 * fit waits (coalesced) until the host has read. Overflow bits appear
 * where the mouse really cannot report the count: a remote-mode read of a
 * larger count, or 2:1 scaling past the range. Every command drops the
 * packets the host has not begun reading (the mouse stops reporting to
 * answer), so a reply never lands inside a packet. Resolution and sample
 * rate are kept and reported but do not scale host movement.
 */
#include <string.h>

#include "devices/ps2.h"

#define ACK    0xFA
#define RESEND 0xFE

#define ST_RIGHT   0x01
#define ST_MIDDLE  0x02
#define ST_LEFT    0x04
#define ST_SCALE21 0x10
#define ST_ENABLED 0x20
#define ST_REMOTE  0x40

static void reply(struct dev_ps2mouse *m, uint8_t b)
{
    dev_ps2q_put(&m->q, &b, 1, DEV_PS2Q_REPLY);
}

static void set_defaults(struct dev_ps2mouse *m)
{
    m->reporting = false;
    m->remote = false;
    m->scale21 = false;
    m->resolution = 2;                  /* 4 counts/mm */
    m->rate = 100;
    m->dx = m->dy = m->dz = 0;
}

void dev_ps2mouse_init(struct dev_ps2mouse *m)
{
    memset(m, 0, sizeof(*m));
    set_defaults(m);
    m->last_tx = 0xaa;
}

bool dev_ps2mouse_has_data(const struct dev_ps2mouse *m)
{
    return m->q.n != 0;
}

uint8_t dev_ps2mouse_read(struct dev_ps2mouse *m)
{
    m->last_tx = dev_ps2q_get(&m->q);
    return m->last_tx;
}

static int32_t clamp(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* 2:1 scaling (stream mode only): 1->1, 2->1, 3->3, 4->6, 5->9, n->2n. */
static int32_t scale21(int32_t v)
{
    static const int32_t small[6] = { 0, 1, 1, 3, 6, 9 };
    int32_t a = v < 0 ? -v : v;
    int32_t r = a < 6 ? small[a] : 2 * a;
    return v < 0 ? -r : r;
}

/* Packet bytes for movement (x, y, z) and the current buttons. */
static unsigned build_packet(const struct dev_ps2mouse *m, int32_t x, int32_t y, int32_t z,
                             bool xovf, bool yovf, uint8_t *p)
{
    unsigned b = m->buttons;
    p[0] = (uint8_t)(0x08 | (b & 0x07) | (x < 0 ? 0x10 : 0) | (y < 0 ? 0x20 : 0) |
                     (xovf ? 0x40 : 0) | (yovf ? 0x80 : 0));
    p[1] = (uint8_t)x;
    p[2] = (uint8_t)y;
    if (m->id == 3) {
        p[3] = (uint8_t)z;
        return 4;
    }
    if (m->id == 4) {
        p[3] = (uint8_t)((z & 0x0f) | ((b & 0x18) << 1));
        return 4;
    }
    return 3;
}

static int32_t z_limit_lo(const struct dev_ps2mouse *m)
{
    return m->id == 4 ? -8 : m->id == 3 ? -128 : 0;
}

static int32_t z_limit_hi(const struct dev_ps2mouse *m)
{
    return m->id == 4 ? 7 : m->id == 3 ? 127 : 0;
}

/* One stream packet from the counters, if there is something to say and
 * room for it; false otherwise. */
static bool stream_packet(struct dev_ps2mouse *m)
{
    if (!m->dx && !m->dy && !m->dz && m->buttons == m->sent_buttons)
        return false;
    if (dev_ps2q_room(&m->q) < 4)
        return false;
    int32_t x = clamp(m->dx, -256, 255), y = clamp(m->dy, -256, 255);
    int32_t z = clamp(m->dz, z_limit_lo(m), z_limit_hi(m));
    m->dx -= x;
    m->dy -= y;
    m->dz -= z;
    bool xo = false, yo = false;
    if (m->scale21) {
        x = scale21(x);
        y = scale21(y);
        xo = x < -256 || x > 255;
        yo = y < -256 || y > 255;
        x = clamp(x, -256, 255);
        y = clamp(y, -256, 255);
    }
    uint8_t p[4];
    unsigned n = build_packet(m, x, y, z, xo, yo, p);
    dev_ps2q_put(&m->q, p, n, DEV_PS2Q_PACKET);
    m->sent_buttons = m->buttons;
    return true;
}

void dev_ps2mouse_flush(struct dev_ps2mouse *m)
{
    if (m->remote)
        return;
    if (!m->reporting) {
        /* A disabled mouse in stream mode reports nothing and keeps no count. */
        m->dx = m->dy = m->dz = 0;
        m->sent_buttons = m->buttons;
        return;
    }
    if (m->id == 0)
        m->dz = 0;                      /* no wheel to report it with */
    while (stream_packet(m))
        ;
}

void dev_ps2mouse_event(struct dev_ps2mouse *m, int dx, int dy, int dz, unsigned buttons)
{
    /* Keep the counters far from int overflow while nobody reads them. */
    m->dx = clamp(m->dx + clamp(dx, -65536, 65536), -65536, 65536);
    m->dy = clamp(m->dy - clamp(dy, -65536, 65536), -65536, 65536);
    m->dz = clamp(m->dz + clamp(dz, -65536, 65536), -65536, 65536);
    m->buttons = buttons & 0x1f;
    dev_ps2mouse_flush(m);
}

/* Remote-mode read (0xEB): one packet with whatever the counters hold,
 * overflow flagged, then the counters start again from zero. */
static void read_data(struct dev_ps2mouse *m)
{
    bool xo = m->dx < -256 || m->dx > 255, yo = m->dy < -256 || m->dy > 255;
    int32_t x = clamp(m->dx, -256, 255), y = clamp(m->dy, -256, 255);
    int32_t z = clamp(m->dz, z_limit_lo(m), z_limit_hi(m));
    uint8_t p[4];
    unsigned n = build_packet(m, x, y, z, xo, yo, p);
    dev_ps2q_put(&m->q, p, n, DEV_PS2Q_REPLY);   /* an answer, not a report */
    m->dx = m->dy = m->dz = 0;
    m->sent_buttons = m->buttons;
}

/* The IntelliMouse knocks: rates 200, 100, 80 give ID 3; 200, 200, 80
 * give ID 4 (from any ID: Linux tries the Explorer knock after the
 * IntelliMouse one). */
static void knock(struct dev_ps2mouse *m, uint8_t rate)
{
    m->knock[0] = m->knock[1];
    m->knock[1] = m->knock[2];
    m->knock[2] = rate;
    if (m->knock[0] == 200 && m->knock[1] == 100 && m->knock[2] == 80 && m->id == 0)
        m->id = 3;
    else if (m->knock[0] == 200 && m->knock[1] == 200 && m->knock[2] == 80)
        m->id = 4;
}

static uint8_t status_byte(const struct dev_ps2mouse *m)
{
    unsigned b = m->buttons;
    return (uint8_t)((m->remote ? ST_REMOTE : 0) | (m->reporting ? ST_ENABLED : 0) |
                     (m->scale21 ? ST_SCALE21 : 0) | (b & 1 ? ST_LEFT : 0) |
                     (b & 2 ? ST_RIGHT : 0) | (b & 4 ? ST_MIDDLE : 0));
}

static void command(struct dev_ps2mouse *m, uint8_t c)
{
    switch (c) {
    case 0xe6:                          /* scaling 1:1 */
        m->scale21 = false;
        reply(m, ACK);
        break;
    case 0xe7:                          /* scaling 2:1 */
        m->scale21 = true;
        reply(m, ACK);
        break;
    case 0xe8:                          /* set resolution */
    case 0xf3:                          /* set sample rate */
        m->arg_cmd = c;
        reply(m, ACK);
        break;
    case 0xe9:                          /* status request */
        reply(m, ACK);
        reply(m, status_byte(m));
        reply(m, m->resolution);
        reply(m, m->rate);
        break;
    case 0xea:                          /* stream mode */
        m->remote = false;
        m->dx = m->dy = m->dz = 0;
        reply(m, ACK);
        break;
    case 0xeb:                          /* read data */
        reply(m, ACK);
        read_data(m);
        break;
    case 0xec:                          /* reset wrap mode */
        m->wrap = false;
        reply(m, ACK);
        break;
    case 0xee:                          /* wrap mode */
        m->wrap = true;
        m->dx = m->dy = m->dz = 0;
        reply(m, ACK);
        break;
    case 0xf0:                          /* remote mode */
        m->remote = true;
        m->dx = m->dy = m->dz = 0;
        reply(m, ACK);
        break;
    case 0xf2:                          /* get device ID */
        reply(m, ACK);
        reply(m, m->id);
        m->dx = m->dy = m->dz = 0;
        break;
    case 0xf4:                          /* enable data reporting */
        m->reporting = true;
        m->dx = m->dy = m->dz = 0;
        m->sent_buttons = m->buttons;
        reply(m, ACK);
        break;
    case 0xf5:                          /* disable data reporting */
        m->reporting = false;
        m->dx = m->dy = m->dz = 0;
        reply(m, ACK);
        break;
    case 0xf6:                          /* set defaults */
        set_defaults(m);
        reply(m, ACK);
        break;
    case 0xfe:                          /* resend */
        reply(m, m->last_tx);
        break;
    case 0xff:                          /* reset: BAT passed, ID 0 */
        set_defaults(m);
        m->id = 0;
        m->wrap = false;
        memset(m->knock, 0, sizeof(m->knock));
        reply(m, ACK);
        reply(m, 0xaa);
        reply(m, 0x00);
        break;
    default:
        reply(m, RESEND);
        break;
    }
}

void dev_ps2mouse_write(struct dev_ps2mouse *m, uint8_t b)
{
    /* The host talks: packets it has not begun reading are withdrawn
     * (replies it has not read stay). */
    dev_ps2q_drop_unsent(&m->q, DEV_PS2Q_PACKET);
    uint8_t cmd = m->arg_cmd;
    m->arg_cmd = 0;
    if (cmd == 0xe8) {
        if (b > 3) {
            reply(m, RESEND);
            m->arg_cmd = cmd;
            return;
        }
        m->resolution = b;
        reply(m, ACK);
        return;
    }
    if (cmd == 0xf3) {
        m->rate = b;
        knock(m, b);
        reply(m, ACK);
        return;
    }
    if (m->wrap && b != 0xec && b != 0xff) {
        reply(m, b);                    /* wrap mode echoes everything else */
        return;
    }
    command(m, b);
}
