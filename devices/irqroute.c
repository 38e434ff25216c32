/*
 * devices/irqroute.c — ISA IRQ and PCI PIRQ lines to the 8259A pair and the
 * I/O APIC (see irqroute.h for the wiring).
 *
 * Each ISA IRQ keeps a mask of sources that hold it high: bits 0-27 for
 * devices (allocated per dev_irqroute_isa_line call), bits 28-31 for
 * PIRQA-D while routed to it. Each PIRQ keeps a mask of its PCI devices.
 * An input's level is "mask != 0"; the controllers hear of changes only.
 */
#include "devices/lock.h"
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "devices/irqroute.h"

#define ISA_IRQS        16
#define ISA_DEV_SOURCES 28
#define ISA_PIRQ_BIT(n) (1u << (ISA_DEV_SOURCES + (n)))
#define PIRQ_SOURCES    32

struct dev_irqroute {
    struct dev_lock lock;
    struct dev_pic *pic;
    struct dev_ioapic *io;
    uint32_t isa_src[ISA_IRQS];
    uint8_t isa_nsrc[ISA_IRQS];
    bool isa_out[ISA_IRQS];              /* level last given to the controllers */
    uint32_t pirq_src[DEV_IRQROUTE_PIRQS];
    uint8_t pirq_nsrc[DEV_IRQROUTE_PIRQS];
    bool pirq_out[DEV_IRQROUTE_PIRQS];   /* level on I/O APIC pin 16 + n */
    uint8_t pirq_route[DEV_IRQROUTE_PIRQS];
};

int dev_irqroute_isa_gsi(int irq)
{
    if (irq < 0 || irq >= ISA_IRQS || irq == 2)
        return -1;
    return irq == 0 ? 2 : irq;
}

/* The ISA IRQ a route register value selects, or -1. */
static int route_target(uint8_t v)
{
    if (v & DEV_IRQROUTE_PIRQ_DISABLED)
        return -1;
    int irq = v & 0x0f;
    /* PIIX3: 0-2, 8 and 13 are reserved values. */
    if (irq <= 2 || irq == 8 || irq == 13)
        return -1;
    return irq;
}

static void ioapic_pin(struct dev_irqroute *r, int pin, int level)
{
    if (r->io && pin >= 0) {
        struct dev_irq_line l = dev_ioapic_line(r->io, pin);
        dev_irq_set(&l, level);
    }
}

static void isa_update(struct dev_irqroute *r, int irq)
{
    bool level = r->isa_src[irq] != 0;
    if (level == r->isa_out[irq])
        return;
    r->isa_out[irq] = level;
    if (r->pic && irq != 2) {
        struct dev_irq_line l = dev_pic_line(r->pic, irq);
        dev_irq_set(&l, level);
    }
    ioapic_pin(r, dev_irqroute_isa_gsi(irq), level);
}

static void pirq_update(struct dev_irqroute *r, int n)
{
    bool level = r->pirq_src[n] != 0;
    if (level != r->pirq_out[n]) {
        r->pirq_out[n] = level;
        ioapic_pin(r, DEV_IRQROUTE_PIRQ_GSI(n), level);
    }
    int irq = route_target(r->pirq_route[n]);
    if (irq < 0)
        return;
    if (level)
        r->isa_src[irq] |= ISA_PIRQ_BIT(n);
    else
        r->isa_src[irq] &= ~ISA_PIRQ_BIT(n);
    isa_update(r, irq);
}

static void set_bit(uint32_t *mask, unsigned bit, int level)
{
    if (level)
        *mask |= 1u << bit;
    else
        *mask &= ~(1u << bit);
}

static void isa_line_set(void *ctx, int line, int level)
{
    struct dev_irqroute *r = ctx;
    int irq = line & 0xff;
    unsigned src = (unsigned)line >> 8;
    if (irq >= ISA_IRQS || src >= ISA_DEV_SOURCES)
        return;
    dev_lock(&r->lock);
    set_bit(&r->isa_src[irq], src, level);
    isa_update(r, irq);
    dev_unlock(&r->lock);
}

static void pirq_line_set(void *ctx, int line, int level)
{
    struct dev_irqroute *r = ctx;
    int n = line & 0xff;
    unsigned src = (unsigned)line >> 8;
    if (n >= DEV_IRQROUTE_PIRQS || src >= PIRQ_SOURCES)
        return;
    dev_lock(&r->lock);
    set_bit(&r->pirq_src[n], src, level);
    pirq_update(r, n);
    dev_unlock(&r->lock);
}

/* The next source number of a line, or the last one when all are taken. */
static unsigned new_source(uint8_t *count, unsigned max, const char *what, int n)
{
    if (*count < max)
        return (*count)++;
    fprintf(stderr, "btvm: irqroute: more than %u sources on %s %d: sharing the last\n",
            max, what, n);
    return max - 1;
}

struct dev_irq_line dev_irqroute_isa_line(struct dev_irqroute *r, int irq)
{
    if (irq < 0 || irq >= ISA_IRQS)
        return (struct dev_irq_line){ .set = NULL };
    dev_lock(&r->lock);
    unsigned src = new_source(&r->isa_nsrc[irq], ISA_DEV_SOURCES, "IRQ", irq);
    dev_unlock(&r->lock);
    return (struct dev_irq_line){ .set = isa_line_set, .ctx = r, .line = irq | (int)(src << 8) };
}

struct dev_irq_line dev_irqroute_pirq_line(struct dev_irqroute *r, int n)
{
    if (n < 0 || n >= DEV_IRQROUTE_PIRQS)
        return (struct dev_irq_line){ .set = NULL };
    dev_lock(&r->lock);
    unsigned src = new_source(&r->pirq_nsrc[n], PIRQ_SOURCES, "PIRQ", n);
    dev_unlock(&r->lock);
    return (struct dev_irq_line){ .set = pirq_line_set, .ctx = r, .line = n | (int)(src << 8) };
}

void dev_irqroute_set_pirq(struct dev_irqroute *r, int n, uint8_t value)
{
    if (n < 0 || n >= DEV_IRQROUTE_PIRQS)
        return;
    dev_lock(&r->lock);
    int old = route_target(r->pirq_route[n]);
    r->pirq_route[n] = value;
    if (old >= 0 && old != route_target(value)) {
        r->isa_src[old] &= ~ISA_PIRQ_BIT(n);
        isa_update(r, old);
    }
    pirq_update(r, n);
    dev_unlock(&r->lock);
}

struct dev_irqroute *dev_irqroute_new(struct dev_pic *pic, struct dev_ioapic *io)
{
    struct dev_irqroute *r = calloc(1, sizeof(*r));
    if (!r) {
        fprintf(stderr, "btvm: irqroute: out of memory\n");
        return NULL;
    }
    dev_lock_init(&r->lock);
    r->pic = pic;
    r->io = io;
    /* One lock for the three: a line change through here takes it once
     * (the controllers' nested locking is then a depth count). */
    if (pic)
        dev_pic_use_lock(pic, &r->lock);
    if (io)
        dev_ioapic_use_lock(io, &r->lock);
    for (int n = 0; n < DEV_IRQROUTE_PIRQS; n++)
        r->pirq_route[n] = DEV_IRQROUTE_PIRQ_DISABLED;
    return r;
}

void dev_irqroute_free(struct dev_irqroute *r)
{
    if (!r)
        return;
    if (r->pic)
        dev_pic_use_lock(r->pic, NULL);
    if (r->io)
        dev_ioapic_use_lock(r->io, NULL);
    free(r);
}
