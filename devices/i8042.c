/*
 * devices/i8042.c — the 8042 keyboard controller (data 0x60, status and
 * command 0x64) and the POST-code port 0x80.
 *
 * The controller has one output buffer byte. It is filled, whenever it is
 * empty, from (in this order) the controller's own replies, the keyboard
 * and the mouse (devices/ps2kbd.c, devices/ps2mouse.c) — a device only
 * while its port is enabled in the command byte, as the controller holds
 * a disabled port's clock line low and the device keeps its bytes.
 * Keyboard bytes pass the set 2 → set 1 translation when command byte
 * bit 6 asks for it. IRQ 1/12 is high while the buffer holds a byte from
 * that side and the command byte enables its interrupt; it is dropped
 * and raised again per byte so the edge-triggered PIC sees each. Reading
 * 0x60 with the buffer empty gives the last byte again.
 *
 * Output port bit 0 is the CPU reset line (0 = reset, via 0xD1 or the
 * 0xF0-0xFF pulses, 0xFE being the usual one); bit 1 is A20, reported to
 * the a20 callback when it changes.
 *
 * Host input crosses threads through a single-consumer ring (see
 * docs/devices.md): producers serialize on a mutex among themselves; the
 * vcpu thread drains it without a lock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/bus_own.h"
#include "devices/clock_own.h"
#include "devices/i8042.h"
#include "devices/ps2.h"

#define ST_OBF     0x01
#define ST_SYS     0x04
#define ST_CMD     0x08    /* A2: last write went to 0x64 */
#define ST_UNLOCK  0x10    /* keyboard not inhibited (no keylock) */
#define ST_AUX_OBF 0x20

#define CB_KBD_INT  0x01
#define CB_AUX_INT  0x02
#define CB_SYS      0x04
#define CB_KBD_OFF  0x10
#define CB_AUX_OFF  0x20
#define CB_XLATE    0x40

#define OUT_RESET   0x01   /* active low */
#define OUT_A20     0x02
#define OUT_OBF     0x10
#define OUT_AUX_OBF 0x20

#define CQ_SIZE   8        /* controller replies waiting for the buffer */
#define RING_SIZE 1024     /* host input events; power of two */
#define RING_DOWN_RESERVE 64 /* slots only key-ups may take: no stuck keys */

enum { EV_KEY, EV_MOUSE };

struct input_ev {
    uint8_t type;
    bool down;
    uint16_t code;
    int32_t dx, dy, dz;
    uint32_t buttons;
};

struct dev_i8042 {
    /* Controller (vcpu thread). */
    uint8_t ram[32];               /* ram[0] is the command byte */
    uint8_t status;                /* SYS and CMD bits; OBF bits from the buffer */
    uint8_t outport;
    uint8_t pending;               /* command waiting for its data byte, or 0 */
    uint8_t ob;                    /* output buffer (kept after reads) */
    bool ob_full, ob_aux;
    uint8_t cq[CQ_SIZE];
    bool cq_aux[CQ_SIZE];
    unsigned cq_head, cq_n;
    bool xlate_break;              /* translating: an 0xF0 was swallowed */
    bool irq1_level, irq12_level;
    struct dev_ps2kbd kbd;
    struct dev_ps2mouse mouse;
    struct dev_timer timer;        /* typematic */
    struct dev_timers *timers;
    void (*reset)(void *ctx);
    void *reset_ctx;
    void (*a20)(void *ctx, bool on);
    void *a20_ctx;
    struct dev_irq_line irq1, irq12;
    atomic_uint leds;

    /* Host input ring: producers under prod_lock, the vcpu thread consumes. */
    struct input_ev ring[RING_SIZE];
    atomic_size_t head, tail;
    pthread_mutex_t prod_lock;
    uint8_t dropped[32];           /* producer: keys whose down was dropped */
    void (*notify)(void *ctx);
    void *notify_ctx;
};

#define CB(k) ((k)->ram[0])

/* ---- output buffer and interrupts ---- */

static void kbc_update_irq(struct dev_i8042 *k)
{
    bool l1 = k->ob_full && !k->ob_aux && (CB(k) & CB_KBD_INT);
    bool l12 = k->ob_full && k->ob_aux && (CB(k) & CB_AUX_INT);
    if (l1 != k->irq1_level) {
        k->irq1_level = l1;
        dev_irq_set(&k->irq1, l1);
    }
    if (l12 != k->irq12_level) {
        k->irq12_level = l12;
        dev_irq_set(&k->irq12, l12);
    }
}

/* Loads the output buffer if it is empty and someone has a byte for it. */
static void kbc_fill(struct dev_i8042 *k)
{
    if (k->ob_full)
        return;
    if (k->cq_n) {
        k->ob = k->cq[k->cq_head];
        k->ob_aux = k->cq_aux[k->cq_head];
        k->cq_head = (k->cq_head + 1) % CQ_SIZE;
        k->cq_n--;
        k->ob_full = true;
        return;
    }
    if (!(CB(k) & CB_KBD_OFF)) {
        while (dev_ps2kbd_has_data(&k->kbd)) {
            uint8_t b = dev_ps2kbd_read(&k->kbd);
            if (CB(k) & CB_XLATE) {
                if (b == 0xf0) {
                    k->xlate_break = true;
                    continue;
                }
                b = (uint8_t)(dev_ps2_xlate(b) | (k->xlate_break ? 0x80 : 0));
                k->xlate_break = false;
            }
            k->ob = b;
            k->ob_aux = false;
            k->ob_full = true;
            return;
        }
    }
    if (!(CB(k) & CB_AUX_OFF) && dev_ps2mouse_has_data(&k->mouse)) {
        k->ob = dev_ps2mouse_read(&k->mouse);
        k->ob_aux = true;
        k->ob_full = true;
        dev_ps2mouse_flush(&k->mouse);  /* movement that waited for room */
    }
}

/* After anything that may have produced bytes or changed enables. */
static void kbc_settle(struct dev_i8042 *k)
{
    kbc_fill(k);
    kbc_update_irq(k);
    if (k->timers && k->timer.deadline_ns != k->kbd.rep_deadline)
        dev_timer_set(&k->timer, k->kbd.rep_deadline);
}

/* A controller reply (or a 0xD2/0xD3 byte): queued ahead of the devices. */
static void kbc_reply(struct dev_i8042 *k, uint8_t b, bool aux)
{
    if (k->cq_n == CQ_SIZE)
        return;                         /* the guest issues replies it never reads */
    unsigned i = (k->cq_head + k->cq_n) % CQ_SIZE;
    k->cq[i] = b;
    k->cq_aux[i] = aux;
    k->cq_n++;
}

static uint8_t kbc_read_data(struct dev_i8042 *k)
{
    if (!k->ob_full)
        return k->ob;
    uint8_t b = k->ob;
    k->ob_full = false;
    /* Lower the lines before looking at the next byte: a new edge each. */
    if (k->irq1_level)
        dev_irq_set(&k->irq1, 0);
    if (k->irq12_level)
        dev_irq_set(&k->irq12, 0);
    k->irq1_level = k->irq12_level = false;
    kbc_settle(k);
    return b;
}

static uint8_t kbc_status(const struct dev_i8042 *k)
{
    uint8_t s = k->status | ST_UNLOCK;
    if (k->ob_full)
        s |= k->ob_aux ? ST_OBF | ST_AUX_OBF : ST_OBF;
    return s;
}

/* ---- output port ---- */

static void kbc_set_outport(struct dev_i8042 *k, uint8_t v)
{
    uint8_t old = k->outport;
    k->outport = v;
    if ((old ^ v) & OUT_A20 && k->a20)
        k->a20(k->a20_ctx, v & OUT_A20);
    if (!(v & OUT_RESET) && k->reset)
        k->reset(k->reset_ctx);
}

static uint8_t kbc_outport_read(const struct dev_i8042 *k)
{
    uint8_t v = k->outport & ~(OUT_OBF | OUT_AUX_OBF);
    if (k->ob_full)
        v |= k->ob_aux ? OUT_AUX_OBF : OUT_OBF;
    return v;
}

/* ---- commands ---- */

static void kbc_write_cmdbyte(struct dev_i8042 *k, uint8_t v)
{
    if ((CB(k) ^ v) & CB_XLATE)
        k->xlate_break = false;         /* a half-translated break ends with translation */
    CB(k) = v;
    /* Command byte bit 2 is copied to status bit 2 (IBM PS/2 reference). */
    k->status = (uint8_t)((k->status & ~ST_SYS) | (v & CB_SYS));
}

static void kbc_command(struct dev_i8042 *k, uint8_t c)
{
    k->pending = 0;                     /* a command cancels one waiting for data */
    if (c >= 0x20 && c < 0x40) {        /* read controller RAM; 0 = command byte */
        kbc_reply(k, k->ram[c & 0x1f], false);
        return;
    }
    if ((c >= 0x60 && c < 0x80) || (c >= 0xd1 && c <= 0xd4)) {
        k->pending = c;
        return;
    }
    if (c >= 0xf0) {                    /* pulse output port bits 0-3 that are 0 */
        if (!(c & 0x01) && k->reset)
            k->reset(k->reset_ctx);
        return;
    }
    switch (c) {
    case 0xa7: CB(k) |= CB_AUX_OFF; break;
    case 0xa8: CB(k) &= ~CB_AUX_OFF; break;
    case 0xa9: kbc_reply(k, 0x00, false); break;  /* aux interface test: ok */
    case 0xaa:                                    /* self-test */
        k->status |= ST_SYS;
        kbc_reply(k, 0x55, false);
        break;
    case 0xab: kbc_reply(k, 0x00, false); break;  /* keyboard interface test: ok */
    case 0xad: CB(k) |= CB_KBD_OFF; break;
    case 0xae: CB(k) &= ~CB_KBD_OFF; break;
    case 0xc0: kbc_reply(k, 0x80, false); break;  /* input port: not inhibited (QEMU's) */
    case 0xd0: kbc_reply(k, kbc_outport_read(k), false); break;
    case 0xdd: kbc_set_outport(k, k->outport & ~OUT_A20); break;  /* HP: A20 off */
    case 0xdf: kbc_set_outport(k, k->outport | OUT_A20); break;   /* HP: A20 on */
    case 0xe0:                                    /* test inputs: the clock lines */
        kbc_reply(k, (uint8_t)((CB(k) & CB_KBD_OFF ? 0 : 1) | (CB(k) & CB_AUX_OFF ? 0 : 2)), false);
        break;
    default:
        break;                          /* unknown: ignored, as by most controllers */
    }
}

static void kbc_write_data(struct dev_i8042 *k, uint8_t v)
{
    uint8_t c = k->pending;
    k->pending = 0;
    if (c >= 0x60 && c < 0x80) {
        if (c == 0x60)
            kbc_write_cmdbyte(k, v);
        else
            k->ram[c & 0x1f] = v;
    } else if (c == 0xd1) {
        kbc_set_outport(k, v);
    } else if (c == 0xd2) {
        kbc_reply(k, v, false);
    } else if (c == 0xd3) {
        kbc_reply(k, v, true);
    } else if (c == 0xd4) {
        CB(k) &= ~CB_AUX_OFF;           /* talking to the mouse enables its port */
        dev_ps2mouse_write(&k->mouse, v);
    } else {
        CB(k) &= ~CB_KBD_OFF;           /* likewise the keyboard's */
        dev_ps2kbd_write(&k->kbd, v);
        atomic_store_explicit(&k->leds, k->kbd.leds, memory_order_relaxed);
    }
}

/* ---- host input ---- */

static unsigned key_bit(uint16_t code)
{
    return (code >> 8 ? 0x80u : 0u) | (code & 0x7fu);
}

static void ring_push(struct dev_i8042 *k, const struct input_ev *ev, size_t reserve)
{
    size_t h = atomic_load_explicit(&k->head, memory_order_relaxed);
    size_t t = atomic_load_explicit(&k->tail, memory_order_acquire);
    bool ok = h - t < RING_SIZE - reserve;
    if (ev->type == EV_KEY) {
        /* A key whose down did not fit loses its up too. */
        unsigned i = key_bit(ev->code);
        uint8_t bit = (uint8_t)(1u << (i % 8));
        if (ev->down) {
            if (ok)
                k->dropped[i / 8] &= (uint8_t)~bit;
            else
                k->dropped[i / 8] |= bit;
        } else if (k->dropped[i / 8] & bit) {
            k->dropped[i / 8] &= (uint8_t)~bit;
            ok = false;
        }
    }
    if (!ok)
        return;
    k->ring[h % RING_SIZE] = *ev;
    atomic_store_explicit(&k->head, h + 1, memory_order_release);
}

void dev_i8042_key(struct dev_i8042 *k, uint16_t set1code, bool down)
{
    struct input_ev ev = { .type = EV_KEY, .down = down, .code = set1code };
    pthread_mutex_lock(&k->prod_lock);
    ring_push(k, &ev, down ? RING_DOWN_RESERVE : 0);
    void (*fn)(void *) = k->notify;
    void *ctx = k->notify_ctx;
    pthread_mutex_unlock(&k->prod_lock);
    if (fn)
        fn(ctx);
}

void dev_i8042_mouse(struct dev_i8042 *k, int dx, int dy, int dz, unsigned buttons)
{
    struct input_ev ev = { .type = EV_MOUSE, .dx = dx, .dy = dy, .dz = dz, .buttons = buttons };
    pthread_mutex_lock(&k->prod_lock);
    ring_push(k, &ev, RING_DOWN_RESERVE);
    void (*fn)(void *) = k->notify;
    void *ctx = k->notify_ctx;
    pthread_mutex_unlock(&k->prod_lock);
    if (fn)
        fn(ctx);
}

unsigned dev_i8042_leds(const struct dev_i8042 *k)
{
    return atomic_load_explicit(&((struct dev_i8042 *)k)->leds, memory_order_relaxed);
}

/* vcpu thread: events into the devices, as far as the keyboard has room
 * (the rest waits in the ring, in order). */
static void kbc_drain(struct dev_i8042 *k)
{
    size_t t = atomic_load_explicit(&k->tail, memory_order_relaxed);
    size_t h = atomic_load_explicit(&k->head, memory_order_acquire);
    if (t == h)
        return;
    uint64_t now = dev_clock_ns();
    for (; t != h; t++) {
        const struct input_ev *ev = &k->ring[t % RING_SIZE];
        if (ev->type == EV_KEY) {
            if (!dev_ps2kbd_room(&k->kbd))
                break;
            dev_ps2kbd_key(&k->kbd, ev->code, ev->down, now);
        } else {
            dev_ps2mouse_event(&k->mouse, ev->dx, ev->dy, ev->dz, ev->buttons);
        }
    }
    atomic_store_explicit(&k->tail, t, memory_order_release);
    kbc_settle(k);
}

void dev_i8042_poll(struct dev_i8042 *k)
{
    kbc_drain(k);
}

static void kbc_timer_fire(void *ctx, uint64_t now_ns)
{
    struct dev_i8042 *k = ctx;
    dev_ps2kbd_tick(&k->kbd, now_ns);
    kbc_drain(k);                       /* keys that waited for room */
    kbc_settle(k);
}

void dev_i8042_set_timers(struct dev_i8042 *k, struct dev_timers *timers)
{
    if (k->timers)
        dev_timers_remove(k->timers, &k->timer);
    k->timers = timers;
    k->kbd.has_clock = timers != NULL;
    if (!timers)
        return;
    dev_timer_set(&k->timer, k->kbd.rep_deadline);
    k->timer.fire = kbc_timer_fire;
    k->timer.ctx = k;
    dev_timers_add(timers, &k->timer);
}

void dev_i8042_set_input_notify(struct dev_i8042 *k, void (*fn)(void *ctx), void *ctx)
{
    pthread_mutex_lock(&k->prod_lock);
    k->notify = fn;
    k->notify_ctx = ctx;
    pthread_mutex_unlock(&k->prod_lock);
}

void dev_i8042_set_a20_cb(struct dev_i8042 *k, void (*a20)(void *ctx, bool on), void *ctx)
{
    k->a20 = a20;
    k->a20_ctx = ctx;
}

/* ---- ports ---- */

static void kbc_io(void *opaque, uint64_t offset, unsigned size, bool is_write, uint64_t *data)
{
    struct dev_i8042 *k = opaque;
    uint8_t v = (uint8_t)*data;
    bool cmd_port = offset == 4;
    kbc_drain(k);                       /* a polling guest sees input without the notifier */
    if (is_write) {
        if (cmd_port) {
            k->status |= ST_CMD;
            kbc_command(k, v);
        } else {
            k->status &= ~ST_CMD;
            kbc_write_data(k, v);
        }
        kbc_settle(k);
        return;
    }
    uint64_t r = cmd_port ? kbc_status(k) : kbc_read_data(k);
    if (size > 1)
        r |= ~UINT64_C(0) << 8;
    *data = r;
}

/* 0x60 and 0x64 are four ports apart; one range with a gap that reads as
 * an empty port would swallow 0x61 (the PIT's), so claim the two singly. */
static void kbc_data_io(void *o, uint64_t off, unsigned size, bool wr, uint64_t *d)
{
    (void)off;
    kbc_io(o, 0, size, wr, d);
}

static void kbc_cmd_io(void *o, uint64_t off, unsigned size, bool wr, uint64_t *d)
{
    (void)off;
    kbc_io(o, 4, size, wr, d);
}

struct dev_i8042 *dev_i8042_new(struct dev_bus *bus, void (*reset)(void *ctx), void *ctx,
                                struct dev_irq_line irq1, struct dev_irq_line irq12)
{
    struct dev_i8042 *k = calloc(1, sizeof(*k));
    if (!k) {
        fprintf(stderr, "btvm: i8042: out of memory\n");
        return NULL;
    }
    pthread_mutex_init(&k->prod_lock, NULL);
    atomic_init(&k->head, 0);
    atomic_init(&k->tail, 0);
    atomic_init(&k->leds, 0);
    k->reset = reset;
    k->reset_ctx = ctx;
    k->irq1 = irq1;
    k->irq12 = irq12;
    dev_ps2kbd_init(&k->kbd);
    dev_ps2mouse_init(&k->mouse);
    /* As a BIOS leaves it (btvm also boots kernels without one): self-test
     * passed, translation on, keyboard interrupt on, both ports enabled. */
    CB(k) = CB_XLATE | CB_SYS | CB_KBD_INT;
    k->status = ST_SYS;
    k->outport = 0xcf;                  /* reset inactive, A20 on (QEMU's value) */
    int err = dev_bus_register_pio(bus, 0x60, 1, "i8042-data", kbc_data_io, k);
    if (!err)
        err = dev_bus_register_pio(bus, 0x64, 1, "i8042-cmd", kbc_cmd_io, k);
    if (err) {
        fprintf(stderr, "btvm: i8042: cannot claim ports: %s\n", strerror(-err));
        dev_bus_own(bus, k);            /* a claimed range may point at k */
        return NULL;
    }
    return k;
}

void dev_i8042_free(struct dev_i8042 *k)
{
    if (!k)
        return;
    if (k->timers)
        dev_timers_remove(k->timers, &k->timer);
    pthread_mutex_destroy(&k->prod_lock);
    free(k);
}

/* Port 0x80: POST codes go nowhere; reads give all-ones, as QEMU's
 * ioport80_read. Also used by guests as a ~1 us I/O delay. */
static void port80_io(void *opaque, uint64_t offset, unsigned size, bool is_write, uint64_t *data)
{
    (void)opaque;
    (void)offset;
    if (!is_write)
        *data = size >= 8 ? UINT64_MAX : (UINT64_C(1) << (size * 8)) - 1;
}

int dev_port80_init(struct dev_bus *bus)
{
    return dev_bus_register_pio(bus, 0x80, 1, "port80", port80_io, NULL);
}
