/*
 * devices/i8042.c — the 8042 keyboard controller (data 0x60, status and
 * command 0x64) and the POST-code port 0x80.
 *
 * The controller answers its own commands (self-test, interface tests,
 * command byte, output port, pulse reset) and fronts a keyboard that
 * answers the probe commands (reset, identify, enable, LEDs, scan set,
 * typematic) but never sends a scancode. The aux port has no mouse: bytes
 * sent to it with 0xD4 get 0xFE (as a controller reports a device that
 * does not answer); the 0xD3 loopback works so that Linux can check the
 * port and its IRQ 12. Bytes wait in a small queue; the head is the output
 * buffer (status OBF, AUX_OBF for aux bytes). IRQ 1/12 is raised while the
 * head byte's port has its interrupt enabled in the command byte, and
 * dropped and raised again per byte, so the edge-triggered PIC sees each.
 *
 * Output port bit 0 is the CPU reset line (0 = reset, via 0xD1 or the
 * 0xF0-0xFF pulses, 0xFE being the usual one); bit 1 is A20, stored and
 * read back but not applied: btvm has no A20 masking.
 * Used from the run-loop thread only, so there is no lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/bus_own.h"
#include "devices/i8042.h"

#define ST_OBF     0x01
#define ST_SYS     0x04
#define ST_CMD     0x08    /* A2: last write went to 0x64 */
#define ST_UNLOCK  0x10    /* keyboard not inhibited */
#define ST_AUX_OBF 0x20

#define CB_KBD_INT  0x01
#define CB_AUX_INT  0x02
#define CB_SYS      0x04
#define CB_KBD_OFF  0x10
#define CB_AUX_OFF  0x20
#define CB_XLATE    0x40

#define OUT_RESET 0x01     /* active low */
#define OUT_A20   0x02

#define QSIZE 16

struct dev_i8042 {
    uint8_t q[QSIZE];
    bool q_aux[QSIZE];
    unsigned q_head, q_n;
    uint8_t status;        /* SYS and CMD bits; OBF bits come from the queue */
    uint8_t cmdbyte;
    uint8_t outport;
    uint8_t pending;       /* controller command awaiting its data byte, or 0 */
    uint8_t kbd_pending;   /* keyboard command awaiting its argument, or 0 */
    bool irq1_level, irq12_level;
    void (*reset)(void *ctx);
    void *reset_ctx;
    struct dev_irq_line irq1, irq12;
};

static void kbc_update_irq(struct dev_i8042 *k)
{
    bool aux = k->q_n && k->q_aux[k->q_head];
    bool l1 = k->q_n && !aux && (k->cmdbyte & CB_KBD_INT);
    bool l12 = k->q_n && aux && (k->cmdbyte & CB_AUX_INT);
    if (l1 != k->irq1_level) {
        k->irq1_level = l1;
        dev_irq_set(&k->irq1, l1);
    }
    if (l12 != k->irq12_level) {
        k->irq12_level = l12;
        dev_irq_set(&k->irq12, l12);
    }
}

static void kbc_queue(struct dev_i8042 *k, uint8_t b, bool aux)
{
    if (k->q_n == QSIZE)
        return;                         /* the guest stopped reading; drop */
    unsigned i = (k->q_head + k->q_n) % QSIZE;
    k->q[i] = b;
    k->q_aux[i] = aux;
    k->q_n++;
    kbc_update_irq(k);
}

static uint8_t kbc_read_data(struct dev_i8042 *k)
{
    if (!k->q_n)
        return k->q[(k->q_head + QSIZE - 1) % QSIZE];   /* last byte again */
    uint8_t b = k->q[k->q_head];
    k->q_head = (k->q_head + 1) % QSIZE;
    k->q_n--;
    /* Lower the lines before looking at the next byte: a new edge each. */
    if (k->irq1_level)
        dev_irq_set(&k->irq1, 0);
    if (k->irq12_level)
        dev_irq_set(&k->irq12, 0);
    k->irq1_level = k->irq12_level = false;
    kbc_update_irq(k);
    return b;
}

static uint8_t kbc_status(const struct dev_i8042 *k)
{
    uint8_t s = k->status | ST_UNLOCK;
    if (k->q_n)
        s |= k->q_aux[k->q_head] ? ST_OBF | ST_AUX_OBF : ST_OBF;
    return s;
}

static void kbc_set_outport(struct dev_i8042 *k, uint8_t v)
{
    k->outport = v;
    if (!(v & OUT_RESET) && k->reset)
        k->reset(k->reset_ctx);
}

static void kbc_command(struct dev_i8042 *k, uint8_t c)
{
    if (c >= 0x20 && c < 0x40) {        /* read controller RAM; 0 = command byte */
        kbc_queue(k, c == 0x20 ? k->cmdbyte : 0, false);
        return;
    }
    if ((c >= 0x60 && c < 0x80) || (c >= 0xd1 && c <= 0xd4)) {
        k->pending = c;
        return;
    }
    if (c >= 0xf0) {                    /* pulse output port bits that are 0 */
        if (!(c & 0x01) && k->reset)
            k->reset(k->reset_ctx);
        return;
    }
    switch (c) {
    case 0xa7: k->cmdbyte |= CB_AUX_OFF; break;
    case 0xa8: k->cmdbyte &= ~CB_AUX_OFF; break;
    case 0xa9: kbc_queue(k, 0x00, false); break;   /* aux interface test: ok */
    case 0xaa:                                     /* self-test */
        k->status |= ST_SYS;
        kbc_queue(k, 0x55, false);
        break;
    case 0xab: kbc_queue(k, 0x00, false); break;   /* keyboard interface test: ok */
    case 0xad: k->cmdbyte |= CB_KBD_OFF; break;
    case 0xae: k->cmdbyte &= ~CB_KBD_OFF; break;
    case 0xc0: kbc_queue(k, 0x80, false); break;   /* input port: not inhibited */
    case 0xd0: {
        uint8_t v = k->outport & ~0x30;
        if (k->q_n)
            v |= k->q_aux[k->q_head] ? 0x20 : 0x10;
        kbc_queue(k, v, false);
        break;
    }
    default:
        break;                          /* unknown: ignored, as by most controllers */
    }
}

/* The keyboard's answers (IBM PS/2 keyboard technical reference). */
static void kbd_command(struct dev_i8042 *k, uint8_t c)
{
    if (k->kbd_pending) {
        uint8_t cmd = k->kbd_pending;
        k->kbd_pending = 0;
        kbc_queue(k, 0xfa, false);
        if (cmd == 0xf0 && c == 0)      /* get scan set: 2, or 0x41 translated */
            kbc_queue(k, (k->cmdbyte & CB_XLATE) ? 0x41 : 0x02, false);
        return;
    }
    switch (c) {
    case 0xed: case 0xf0: case 0xf3:    /* LEDs, scan set, typematic: argument next */
        k->kbd_pending = c;
        kbc_queue(k, 0xfa, false);
        break;
    case 0xee: kbc_queue(k, 0xee, false); break;   /* echo */
    case 0xf2:                                     /* identify: MF2 keyboard */
        kbc_queue(k, 0xfa, false);
        kbc_queue(k, 0xab, false);
        kbc_queue(k, 0x83, false);
        break;
    case 0xf4: case 0xf5: case 0xf6: case 0xf7: case 0xf8: case 0xf9: case 0xfa:
    case 0xfb: case 0xfc: case 0xfd:
        kbc_queue(k, 0xfa, false);
        break;
    case 0xff:                                     /* reset and self-test */
        kbc_queue(k, 0xfa, false);
        kbc_queue(k, 0xaa, false);
        break;
    default:
        kbc_queue(k, 0xfe, false);                 /* resend: not understood */
        break;
    }
}

static void kbc_write_data(struct dev_i8042 *k, uint8_t v)
{
    uint8_t c = k->pending;
    k->pending = 0;
    if (c == 0x60) {
        k->cmdbyte = v;
        k->status = (k->status & ~ST_SYS) | (v & CB_SYS);
        kbc_update_irq(k);
    } else if (c > 0x60 && c < 0x80) {
        /* other controller RAM bytes: not kept */
    } else if (c == 0xd1) {
        kbc_set_outport(k, v);
    } else if (c == 0xd2) {
        kbc_queue(k, v, false);
    } else if (c == 0xd3) {
        kbc_queue(k, v, true);
    } else if (c == 0xd4) {
        kbc_queue(k, 0xfe, true);       /* no mouse answers */
    } else {
        kbd_command(k, v);
    }
}

static void kbc_io(void *opaque, uint64_t offset, unsigned size, bool is_write, uint64_t *data)
{
    struct dev_i8042 *k = opaque;
    uint8_t v = (uint8_t)*data;
    bool cmd_port = offset == 4;
    if (is_write) {
        if (cmd_port) {
            k->status |= ST_CMD;
            kbc_command(k, v);
        } else {
            k->status &= ~ST_CMD;
            kbc_write_data(k, v);
        }
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
    k->reset = reset;
    k->reset_ctx = ctx;
    k->irq1 = irq1;
    k->irq12 = irq12;
    /* As a BIOS leaves it (btvm boots kernels without one): self-test
     * passed, translation on, keyboard interrupt on. */
    k->cmdbyte = CB_XLATE | CB_SYS | CB_KBD_INT;
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
