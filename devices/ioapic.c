/*
 * devices/ioapic.c — the I/O APIC: 24 input pins, each with a 64-bit
 * redirection entry that turns the pin into a message for the local APICs
 * (Intel 82093AA datasheet; version 0x20 adds the EOI register at +0x40).
 *
 * Registers: IOREGSEL (+0x00) selects an indirect register, IOWIN (+0x10)
 * reads/writes it. ID (0x00, bits 24-27 writable), version (0x01,
 * 0x00170020, read-only), arbitration (0x02, read-only, loaded from the ID
 * when the ID is written), redirection table (0x10-0x3F, low dword at
 * 0x10+2n, high at 0x11+2n). Unknown registers read 0 and ignore writes.
 *
 * Pins: the model keeps the wire level of each pin; the entry's polarity
 * bit (1 = active low) decides whether a high wire is "asserted".
 *  - Edge (trigger bit 0): an inactive-to-active transition of the asserted
 *    state on an unmasked pin sends one message. Edges on a masked pin are
 *    lost, as the datasheet says (not held pending), so unmasking an edge
 *    pin sends nothing.
 *  - Level (trigger bit 1): an asserted, unmasked pin with Remote IRR clear
 *    sends and sets Remote IRR. It is checked whenever the line, the entry
 *    or Remote IRR changes, so unmasking an asserted pin sends, and an EOI
 *    for the vector (dev_ioapic_eoi or the EOI register) with the pin still
 *    asserted sends again. Remote IRR is read-only; writing an entry as edge
 *    clears it (Linux relies on that to clear a stale Remote IRR on I/O
 *    APICs without the EOI register).
 *  - Delivery status always reads 0 (idle): messages are delivered at once.
 *
 * What a hostile guest can program, and what happens:
 *  - Delivery modes SMI, NMI, INIT and ExtINT are edge-only on the 82093AA:
 *    the model treats them as edge whatever the trigger bit says (the bit
 *    still reads back as written), sends messages with level = false and
 *    never sets Remote IRR for them. ExtINT sends DEV_APIC_DM_EXTINT (the
 *    vector then comes from the 8259A through the local APIC's INTA).
 *  - The reserved delivery modes 3 and 6 send nothing (no Remote IRR).
 *  - Vectors 0-15 with fixed or lowest-priority delivery are sent as they
 *    are; the local APIC rejects them and records "received illegal
 *    vector" in its ESR. Lowest priority is passed on as such.
 *  - Reserved bits read 0 whatever is written. Accesses of any width and
 *    alignment inside the window are accepted: an 8-byte access is two
 *    dword accesses, a narrower one reads or merges bytes of the dword
 *    register it falls in; the rest of the page reads 0.
 *
 * Locking: lines may be set from any thread, so state is under a lock (devices/lock.h).
 * Messages are collected under it and sent after it is dropped, so a sink
 * that calls back into dev_ioapic_eoi() (a local APIC taking an EOI) cannot
 * deadlock.
 */
#include "devices/lock.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/ioapic.h"

#define RTE_LOW_WRITABLE  (DEV_IOAPIC_RTE_VECTOR | (7u << DEV_IOAPIC_RTE_DM_SHIFT) | \
                           DEV_IOAPIC_RTE_DESTMODE | DEV_IOAPIC_RTE_POLARITY | \
                           DEV_IOAPIC_RTE_LEVEL | DEV_IOAPIC_RTE_MASK)
#define RTE_HIGH_WRITABLE 0xff000000u    /* destination, bits 56-63 */

struct dev_ioapic {
    struct dev_lock own_lock;
    struct dev_lock *lock;   /* own_lock, or the routing's (dev_ioapic_use_lock) */
    struct dev_apic_sink sink;
    uint8_t regsel;
    uint8_t id, arb;
    uint32_t wires;                      /* wire level of each pin */
    uint64_t rte[DEV_IOAPIC_PINS];
};

/* Messages decided under the lock, sent after it. */
struct outbox {
    int n;
    struct dev_apic_msg m[DEV_IOAPIC_PINS];
};

static unsigned rte_dm(uint64_t rte)
{
    return (rte >> DEV_IOAPIC_RTE_DM_SHIFT) & 7;
}

/* Level semantics (Remote IRR, EOI) only for fixed and lowest priority. */
static bool rte_level(uint64_t rte)
{
    unsigned dm = rte_dm(rte);
    return (rte & DEV_IOAPIC_RTE_LEVEL) && (dm == DEV_APIC_DM_FIXED || dm == DEV_APIC_DM_LOWEST);
}

static bool pin_asserted(const struct dev_ioapic *io, int pin)
{
    bool wire = (io->wires >> pin) & 1;
    return wire != !!(io->rte[pin] & DEV_IOAPIC_RTE_POLARITY);
}

/* Queue the message of pin's entry; sets Remote IRR for level entries. */
static void send_pin(struct dev_ioapic *io, int pin, struct outbox *ob)
{
    uint64_t rte = io->rte[pin];
    unsigned dm = rte_dm(rte);
    if (dm == 3 || dm == 6)
        return;                          /* reserved delivery modes */
    bool level = rte_level(rte);
    if (level)
        io->rte[pin] |= DEV_IOAPIC_RTE_REMOTE_IRR;
    if (ob->n >= DEV_IOAPIC_PINS)
        return;                          /* cannot happen: one per pin per call */
    ob->m[ob->n++] = (struct dev_apic_msg){
        .vector = (uint8_t)(rte & DEV_IOAPIC_RTE_VECTOR),
        .mode = (uint8_t)dm,
        .dest = (uint8_t)(rte >> 56),
        .dest_logical = (rte & DEV_IOAPIC_RTE_DESTMODE) != 0,
        .level = level,
    };
}

/* A level entry whose pin is asserted, unmasked and not waiting for EOI. */
static void service_level(struct dev_ioapic *io, int pin, struct outbox *ob)
{
    uint64_t rte = io->rte[pin];
    if (rte_level(rte) && !(rte & (DEV_IOAPIC_RTE_MASK | DEV_IOAPIC_RTE_REMOTE_IRR)) &&
        pin_asserted(io, pin))
        send_pin(io, pin, ob);
}

static void flush(struct dev_ioapic *io, const struct outbox *ob)
{
    for (int i = 0; i < ob->n; i++)
        if (io->sink.deliver)
            io->sink.deliver(io->sink.ctx, &ob->m[i]);
}

static void ioapic_set_line(void *ctx, int pin, int level)
{
    struct dev_ioapic *io = ctx;
    struct outbox ob;
    ob.n = 0; /* the messages are written before they are read */
    if (pin < 0 || pin >= DEV_IOAPIC_PINS)
        return;
    dev_lock(io->lock);
    bool was = pin_asserted(io, pin);
    if (level)
        io->wires |= 1u << pin;
    else
        io->wires &= ~(1u << pin);
    bool now = pin_asserted(io, pin);
    uint64_t rte = io->rte[pin];
    if (!(rte & DEV_IOAPIC_RTE_MASK)) {
        if (rte_level(rte))
            service_level(io, pin, &ob);
        else if (!was && now)
            send_pin(io, pin, &ob);
    }
    dev_unlock(io->lock);
    flush(io, &ob);
}

void dev_ioapic_use_lock(struct dev_ioapic *io, struct dev_lock *lock)
{
    io->lock = lock ? lock : &io->own_lock;
}

struct dev_irq_line dev_ioapic_line(struct dev_ioapic *io, int pin)
{
    return (struct dev_irq_line){ .set = ioapic_set_line, .ctx = io, .line = pin };
}

static void eoi_locked(struct dev_ioapic *io, uint8_t vector, struct outbox *ob)
{
    for (int pin = 0; pin < DEV_IOAPIC_PINS; pin++) {
        uint64_t rte = io->rte[pin];
        if ((rte & DEV_IOAPIC_RTE_VECTOR) != vector || !(rte & DEV_IOAPIC_RTE_REMOTE_IRR))
            continue;
        io->rte[pin] &= ~(uint64_t)DEV_IOAPIC_RTE_REMOTE_IRR;
        service_level(io, pin, ob);
    }
}

void dev_ioapic_eoi(struct dev_ioapic *io, uint8_t vector)
{
    struct outbox ob;
    ob.n = 0; /* the messages are written before they are read */
    dev_lock(io->lock);
    eoi_locked(io, vector, &ob);
    dev_unlock(io->lock);
    flush(io, &ob);
}

static void eoi_cb(void *ctx, uint8_t vector)
{
    dev_ioapic_eoi(ctx, vector);
}

struct dev_apic_eoi dev_ioapic_eoi_target(struct dev_ioapic *io)
{
    return (struct dev_apic_eoi){ .eoi = eoi_cb, .ctx = io };
}

static uint32_t read_indirect(const struct dev_ioapic *io)
{
    unsigned r = io->regsel;
    switch (r) {
    case DEV_IOAPIC_REG_ID:
        return (uint32_t)io->id << 24;
    case DEV_IOAPIC_REG_VER:
        return DEV_IOAPIC_VERSION;
    case DEV_IOAPIC_REG_ARB:
        return (uint32_t)io->arb << 24;
    default:
        if (r >= DEV_IOAPIC_REG_REDTBL && r < DEV_IOAPIC_REG_REDTBL + 2 * DEV_IOAPIC_PINS) {
            uint64_t rte = io->rte[(r - DEV_IOAPIC_REG_REDTBL) / 2];
            return (r & 1) ? (uint32_t)(rte >> 32) : (uint32_t)rte;
        }
        return 0;
    }
}

static void write_indirect(struct dev_ioapic *io, uint32_t v, struct outbox *ob)
{
    unsigned r = io->regsel;
    if (r == DEV_IOAPIC_REG_ID) {
        io->id = (v >> 24) & 0x0f;
        io->arb = io->id;
        return;
    }
    if (r < DEV_IOAPIC_REG_REDTBL || r >= DEV_IOAPIC_REG_REDTBL + 2 * DEV_IOAPIC_PINS)
        return;                          /* version, arbitration, unknown: read-only */
    int pin = (int)(r - DEV_IOAPIC_REG_REDTBL) / 2;
    uint64_t rte = io->rte[pin];
    if (r & 1) {
        rte = (rte & 0xffffffffu) | ((uint64_t)(v & RTE_HIGH_WRITABLE) << 32);
    } else {
        rte = (rte & ((uint64_t)RTE_HIGH_WRITABLE << 32)) | (v & RTE_LOW_WRITABLE) |
              (rte & DEV_IOAPIC_RTE_REMOTE_IRR);
        if (!rte_level(rte))
            rte &= ~(uint64_t)DEV_IOAPIC_RTE_REMOTE_IRR;
    }
    io->rte[pin] = rte;
    service_level(io, pin, ob);          /* e.g. unmasked while asserted */
}

/* One access of 1, 2 or 4 bytes inside the dword register at off & ~3. */
static void ioapic_access(struct dev_ioapic *io, uint64_t off, unsigned size, bool wr,
                          uint64_t *data, struct outbox *ob)
{
    uint64_t reg = off & ~(uint64_t)3;
    unsigned sh = (unsigned)(off & 3) * 8;
    uint64_t wmask = size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    uint32_t cur;
    switch (reg) {
    case DEV_IOAPIC_IOREGSEL: cur = io->regsel; break;
    case DEV_IOAPIC_IOWIN:    cur = read_indirect(io); break;
    default:                  cur = 0; break;    /* EOI register is write-only */
    }
    if (!wr) {
        *data = (cur >> sh) & wmask;
        return;
    }
    uint32_t merged = (uint32_t)((cur & ~(wmask << sh)) | ((*data & wmask) << sh));
    switch (reg) {
    case DEV_IOAPIC_IOREGSEL:
        io->regsel = (uint8_t)merged;
        break;
    case DEV_IOAPIC_IOWIN:
        write_indirect(io, merged, ob);
        break;
    case DEV_IOAPIC_EOIR:
        if (sh == 0)
            eoi_locked(io, (uint8_t)*data, ob);
        break;
    default:
        break;
    }
}

static void ioapic_mmio(void *opaque, uint64_t off, unsigned size, bool wr, uint64_t *data)
{
    struct dev_ioapic *io = opaque;
    struct outbox ob;
    ob.n = 0; /* the messages are written before they are read */
    dev_lock(io->lock);
    if (size == 8) {
        uint64_t lo = *data & 0xffffffffu, hi = *data >> 32;
        ioapic_access(io, off, 4, wr, &lo, &ob);
        /* The two halves cannot both reach IOWIN or the EOI register, so
         * at most one EOI (24 messages) is queued: the outbox holds them. */
        ioapic_access(io, off + 4, 4, wr, &hi, &ob);
        if (!wr)
            *data = (lo & 0xffffffffu) | (hi << 32);
    } else {
        ioapic_access(io, off, size, wr, data, &ob);
    }
    dev_unlock(io->lock);
    flush(io, &ob);
}

static void reset_locked(struct dev_ioapic *io)
{
    io->regsel = 0;
    io->id = io->arb = 0;
    for (int i = 0; i < DEV_IOAPIC_PINS; i++)
        io->rte[i] = DEV_IOAPIC_RTE_MASK;
}

void dev_ioapic_reset(struct dev_ioapic *io)
{
    dev_lock(io->lock);
    reset_locked(io);
    dev_unlock(io->lock);
}

struct dev_ioapic *dev_ioapic_new(struct dev_bus *bus, uint64_t base, struct dev_apic_sink sink)
{
    struct dev_ioapic *io = calloc(1, sizeof(*io));
    if (!io) {
        fprintf(stderr, "btvm: ioapic: out of memory\n");
        return NULL;
    }
    dev_lock_init(&io->own_lock);
    io->lock = &io->own_lock;
    io->sink = sink;
    reset_locked(io);
    int err = dev_bus_register_mmio(bus, base, DEV_IOAPIC_SIZE, "ioapic", ioapic_mmio, io);
    if (err) {
        fprintf(stderr, "btvm: ioapic: cannot claim 0x%llx: %s\n", (unsigned long long)base,
                strerror(-err));
        free(io);
        return NULL;
    }
    return io;
}

void dev_ioapic_free(struct dev_ioapic *io)
{
    if (!io)
        return;
    free(io);
}
