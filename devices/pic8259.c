/*
 * devices/pic8259.c — the PC's two 8259A interrupt controllers (Intel 8259A
 * datasheet), slave cascaded on master IR2, plus the PIIX edge/level
 * control registers (ELCR, ports 0x4D0/0x4D1).
 *
 * Each chip keeps IRR/ISR/IMR and the init/operation command state. A line
 * is level-sensitive when its ELCR bit is set. ICW1.LTIM is stored but has
 * no effect: the PIIX/ICH datasheets say the ELCR replaces it (QEMU still
 * honours it). ELCR bits for IRQ 0, 1, 2, 8 and 13 are fixed 0, so those
 * are always edge-triggered. An edge line
 * latches IRR on a low-to-high transition and keeps it until INTA even if
 * the line drops again (so devices may pulse); a level line's IRR follows
 * the line, and a request that vanishes before INTA yields the spurious
 * IR7 vector with no ISR bit. The slave's INT output drives master IR2.
 *
 * Locking: device lines may be set from other threads (the console input
 * thread via the UART), so all state is under one lock (devices/lock.h). The notify
 * callback runs outside it, whenever INTR may have risen.
 */
#include "devices/lock.h"
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include "devices/bus_own.h"
#include "devices/pic8259.h"

struct pic_chip {
    uint8_t irr, isr, imr;
    uint8_t lines;           /* current input levels (edge detection) */
    uint8_t elcr, elcr_mask;
    uint8_t base;            /* vector base from ICW2 */
    uint8_t prio_add;        /* IR with lowest priority is prio_add - 1 */
    uint8_t init_state;      /* 0 ready, 1 ICW2 next, 2 ICW3 next, 3 ICW4 next */
    bool init4, single, ltim;
    bool auto_eoi, rotate_aeoi, sfnm;
    bool read_isr, poll, special_mask;
};

struct dev_pic {
    struct dev_lock own_lock;
    struct dev_lock *lock;   /* own_lock, or the routing's (dev_pic_use_lock) */
    struct pic_chip c[2];    /* 0 master, 1 slave */
    atomic_bool intr;
    void (*notify)(void *ctx);
    void *notify_ctx;
};

static bool level_mode(const struct pic_chip *c, int ir)
{
    return c->elcr & (1u << ir);
}

/* ELCR write: a line that becomes level-sensitive requests exactly while
 * it is high (a latched edge with the line low is dropped); one that
 * becomes edge-sensitive keeps its request until INTA. */
static void chip_set_elcr(struct pic_chip *c, uint8_t v)
{
    c->elcr = v & c->elcr_mask;
    c->irr = (uint8_t)((c->irr & ~c->elcr) | (c->lines & c->elcr));
}

/* Priority (0 = highest) of the best bit in mask, 8 if none. */
static int best_priority(const struct pic_chip *c, uint8_t mask)
{
    if (!mask)
        return 8;
    int p = 0;
    while (!(mask & (1u << ((p + c->prio_add) & 7))))
        p++;
    return p;
}

/* The IR the chip would present now, or -1. */
static int chip_pending(const struct pic_chip *c, bool master)
{
    int p = best_priority(c, c->irr & ~c->imr);
    if (p == 8)
        return -1;
    uint8_t in_service = c->isr;
    if (c->special_mask)
        in_service &= ~c->imr;
    /* Special fully nested mode: the cascade IR does not block itself, so
     * a higher-priority slave request gets through. */
    if (master && c->sfnm)
        in_service &= ~(1u << 2);
    int cur = best_priority(c, in_service);
    return p < cur ? (p + c->prio_add) & 7 : -1;
}

static void chip_set_line(struct pic_chip *c, int ir, int level)
{
    uint8_t m = 1u << ir;
    if (level_mode(c, ir)) {
        if (level) {
            c->irr |= m;
            c->lines |= m;
        } else {
            c->irr &= ~m;
            c->lines &= ~m;
        }
    } else if (level) {
        if (!(c->lines & m))
            c->irr |= m;
        c->lines |= m;
    } else {
        c->lines &= ~m;
    }
}

/* Recomputes the slave->IR2 wire and INTR; true if INTR is now high. */
static bool pic_update(struct dev_pic *p)
{
    chip_set_line(&p->c[0], 2, chip_pending(&p->c[1], false) >= 0);
    bool on = chip_pending(&p->c[0], true) >= 0;
    /* Under the lock: readers see the byte change, nothing else to order. */
    if (atomic_load_explicit(&p->intr, memory_order_relaxed) != on)
        atomic_store_explicit(&p->intr, on, memory_order_release);
    return on;
}

static void pic_notify(struct dev_pic *p, bool on)
{
    if (on && p->notify)
        p->notify(p->notify_ctx);
}

/* INTA on one chip for IR ir: ISR set (unless auto-EOI), edge IRR cleared. */
static void chip_intack(struct pic_chip *c, int ir)
{
    if (c->auto_eoi) {
        if (c->rotate_aeoi)
            c->prio_add = (ir + 1) & 7;
    } else {
        c->isr |= 1u << ir;
    }
    if (!level_mode(c, ir))
        c->irr &= ~(1u << ir);
}

static int pic_ack_locked(struct dev_pic *p)
{
    struct pic_chip *m = &p->c[0], *s = &p->c[1];
    int ir = chip_pending(m, true);
    int vec;
    if (ir < 0)
        return m->base + 7;             /* spurious IRQ 7 */
    if (ir == 2) {
        int ir2 = chip_pending(s, false);
        if (ir2 >= 0)
            chip_intack(s, ir2);
        else
            ir2 = 7;                    /* spurious IRQ 15; master still takes IR2 */
        vec = s->base + ir2;
    } else {
        vec = m->base + ir;
    }
    chip_intack(m, ir);
    return vec;
}

int dev_pic_ack(struct dev_pic *p)
{
    dev_lock(p->lock);
    int vec = pic_ack_locked(p);
    bool on = pic_update(p);
    dev_unlock(p->lock);
    /* Another request behind this one: the engine learns of it from
     * dev_pic_intr after the handler, no need to notify. */
    (void)on;
    return vec;
}

const volatile uint8_t *dev_pic_intr_byte(const struct dev_pic *p)
{
    _Static_assert(sizeof(atomic_bool) == 1, "INTR must be one byte");
    return (const volatile uint8_t *)&p->intr;
}

bool dev_pic_intr(const struct dev_pic *p)
{
    return atomic_load(&p->intr);
}

static void pic_line_set(void *ctx, int line, int level)
{
    struct dev_pic *p = ctx;
    if (line < 0 || line > 15)
        return;
    dev_lock(p->lock);
    struct pic_chip *ch = &p->c[line >> 3];
    chip_set_line(ch, line & 7, level);
    /* A masked input changes IRR only: INTR (and the slave's output) stay
     * as they are. With the I/O APIC in use every ISA line is masked here. */
    bool masked = ch->imr & (1u << (line & 7));
    bool on = masked ? atomic_load_explicit(&p->intr, memory_order_relaxed) : pic_update(p);
    dev_unlock(p->lock);
    pic_notify(p, on && level && !masked);
}

struct dev_irq_line dev_pic_line(struct dev_pic *p, int irq)
{
    return (struct dev_irq_line){ .set = pic_line_set, .ctx = p, .line = irq };
}

void dev_pic_use_lock(struct dev_pic *p, struct dev_lock *lock)
{
    p->lock = lock ? lock : &p->own_lock;
}

void dev_pic_set_notify(struct dev_pic *p, void (*fn)(void *ctx), void *ctx)
{
    dev_lock(p->lock);
    p->notify = fn;
    p->notify_ctx = ctx;
    dev_unlock(p->lock);
}

/* ICW1: restart initialisation. Level-triggered requests survive (and the
 * level inputs stay known, so a later ELCR write sees them), the edge sense
 * is reset and the rest of the state is cleared (as QEMU; the datasheet
 * clears IMR too). */
static void chip_icw1(struct pic_chip *c, uint8_t v)
{
    c->lines &= c->elcr;
    c->irr = c->lines & c->elcr;
    c->isr = c->imr = 0;
    c->prio_add = 0;
    c->base = 0;
    c->read_isr = c->poll = c->special_mask = false;
    c->auto_eoi = c->rotate_aeoi = c->sfnm = false;
    c->init4 = v & 0x01;
    c->single = v & 0x02;
    c->ltim = v & 0x08;                 /* ignored: the ELCR decides */
    c->init_state = 1;
}

static void chip_ocw2(struct pic_chip *c, uint8_t v)
{
    int ir;
    switch (v >> 5) {
    case 0: case 4:                     /* clear / set rotate in auto-EOI */
        c->rotate_aeoi = v >> 7;
        break;
    case 1: case 5: {                   /* non-specific EOI (and rotate) */
        int pr = best_priority(c, c->isr);
        if (pr == 8)
            break;
        ir = (pr + c->prio_add) & 7;
        c->isr &= ~(1u << ir);
        if (v >> 5 == 5)
            c->prio_add = (ir + 1) & 7;
        break;
    }
    case 3:                             /* specific EOI */
        c->isr &= ~(1u << (v & 7));
        break;
    case 6:                             /* set priority: IR v&7 lowest */
        c->prio_add = (v + 1) & 7;
        break;
    case 7:                             /* rotate on specific EOI */
        ir = v & 7;
        c->isr &= ~(1u << ir);
        c->prio_add = (ir + 1) & 7;
        break;
    default:                            /* 2: no operation */
        break;
    }
}

static void chip_write(struct pic_chip *c, unsigned port, uint8_t v)
{
    if (port == 0) {
        if (v & 0x10) {
            chip_icw1(c, v);
        } else if (v & 0x08) {          /* OCW3 */
            if (v & 0x04)
                c->poll = true;
            if (v & 0x02)
                c->read_isr = v & 0x01;
            if (v & 0x40)
                c->special_mask = (v >> 5) & 1;
        } else {
            chip_ocw2(c, v);
        }
        return;
    }
    switch (c->init_state) {
    case 0:                             /* OCW1 */
        c->imr = v;
        break;
    case 1:                             /* ICW2; low 3 bits ignored in 8086 mode */
        c->base = v & 0xf8;
        c->init_state = c->single ? (c->init4 ? 3 : 0) : 2;
        break;
    case 2:                             /* ICW3: fixed wiring on a PC */
        c->init_state = c->init4 ? 3 : 0;
        break;
    case 3:                             /* ICW4; MCS-80 mode is not modelled */
        c->sfnm = (v >> 4) & 1;
        c->auto_eoi = (v >> 1) & 1;
        c->init_state = 0;
        break;
    }
}

/* Poll command: the read acts as INTA on this chip; bit 7 = request. */
static uint8_t pic_poll_read(struct dev_pic *p, int chip)
{
    struct pic_chip *c = &p->c[chip];
    int ir = chip_pending(c, chip == 0);
    if (ir < 0)
        return 0;
    chip_intack(c, ir);
    if (chip == 1) {
        /* The master saw no INTA for IR2: drop its latch and the wire so a
         * further slave request latches IR2 afresh in pic_update(). */
        p->c[0].irr &= ~(1u << 2);
        p->c[0].lines &= ~(1u << 2);
    }
    return 0x80 | (uint8_t)ir;
}

static uint8_t chip_read(struct dev_pic *p, int chip, unsigned port)
{
    struct pic_chip *c = &p->c[chip];
    if (c->poll) {
        c->poll = false;
        return pic_poll_read(p, chip);
    }
    if (port == 0)
        return c->read_isr ? c->isr : c->irr;
    return c->imr;
}

/* Wide accesses are split into byte accesses to consecutive ports, as an
 * ISA bridge would. */
static void pic_io_bytes(struct dev_pic *p, int chip, uint64_t off, unsigned size, bool wr,
                         uint64_t *data)
{
    uint64_t out = 0;
    dev_lock(p->lock);
    for (unsigned i = 0; i < size; i++) {
        uint64_t port = off + i;
        uint8_t b = 0xff;
        if (chip < 2 && port < 2) {
            if (wr)
                chip_write(&p->c[chip], (unsigned)port, (uint8_t)(*data >> (8 * i)));
            else
                b = chip_read(p, chip, (unsigned)port);
        } else if (chip == 2 && port < 2) {
            struct pic_chip *c = &p->c[port];
            if (wr)
                chip_set_elcr(c, (uint8_t)(*data >> (8 * i)));
            else
                b = c->elcr;
        }
        out |= (uint64_t)b << (8 * i);
    }
    bool on = pic_update(p);
    dev_unlock(p->lock);
    if (!wr)
        *data = out;
    pic_notify(p, on);
}

static void pic_master_io(void *o, uint64_t off, unsigned size, bool wr, uint64_t *data)
{
    pic_io_bytes(o, 0, off, size, wr, data);
}

static void pic_slave_io(void *o, uint64_t off, unsigned size, bool wr, uint64_t *data)
{
    pic_io_bytes(o, 1, off, size, wr, data);
}

static void pic_elcr_io(void *o, uint64_t off, unsigned size, bool wr, uint64_t *data)
{
    pic_io_bytes(o, 2, off, size, wr, data);
}

struct dev_pic *dev_pic_new(struct dev_bus *bus)
{
    struct dev_pic *p = calloc(1, sizeof(*p));
    if (!p) {
        fprintf(stderr, "btvm: pic: out of memory\n");
        return NULL;
    }
    dev_lock_init(&p->own_lock);
    p->lock = &p->own_lock;
    atomic_init(&p->intr, false);
    /* PIIX: IRQ 0, 1, 2, 8 and 13 are always edge-triggered. */
    p->c[0].elcr_mask = 0xf8;
    p->c[1].elcr_mask = 0xde;
    int err = dev_bus_register_pio(bus, 0x20, 2, "pic-master", pic_master_io, p);
    if (!err)
        err = dev_bus_register_pio(bus, 0xa0, 2, "pic-slave", pic_slave_io, p);
    if (!err)
        err = dev_bus_register_pio(bus, 0x4d0, 2, "elcr", pic_elcr_io, p);
    if (err) {
        /* Ranges already claimed point at p: let the bus free it. */
        fprintf(stderr, "btvm: pic: cannot claim ports: %s\n", strerror(-err));
        (void)dev_bus_own(bus, p);
        return NULL;
    }
    return p;
}

void dev_pic_free(struct dev_pic *p)
{
    if (!p)
        return;
    free(p);
}
