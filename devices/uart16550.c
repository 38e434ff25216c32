/*
 * devices/uart16550.c — a 16550A UART (National PC16550D / TI TL16C550
 * datasheets): the eight registers, the 16-byte receive FIFO, loopback
 * mode, and the interrupt identification logic.
 *
 * Transmission is instantaneous: a byte written to THR goes straight to the
 * chardev, so THRE and TEMT always read 1 and the TX FIFO is always empty.
 * Reception is pulled: when the guest reads RBR, LSR or IIR, bytes waiting
 * in the chardev are moved into the RX FIFO (1 byte deep with FIFOs off).
 * No host syscall here beyond the chardev's own.
 *
 * Interrupts: uart_update_irq() is called after every state change and
 * computes the level of the INTR pin; it drives the line dev_uart_set_irq()
 * attached (the machine gives COM1 the PIC's IRQ 4, vm/machine.c).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/uart16550.h"

enum {
    REG_RBR_THR = 0, REG_IER = 1, REG_IIR_FCR = 2, REG_LCR = 3,
    REG_MCR = 4, REG_LSR = 5, REG_MSR = 6, REG_SCR = 7,
};

#define IER_ERBFI 0x01   /* received data available */
#define IER_ETBEI 0x02   /* THR empty */
#define IER_ELSI  0x04   /* receiver line status */
#define IER_EDSSI 0x08   /* modem status */

#define IIR_NO_INT 0x01
#define IIR_MSI    0x00
#define IIR_THRI   0x02
#define IIR_RDI    0x04
#define IIR_RLSI   0x06
#define IIR_CTI    0x0c  /* character timeout, FIFO mode only */
#define IIR_FIFO   0xc0

#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02
#define FCR_CLEAR_TX 0x04

#define LCR_DLAB 0x80

#define MCR_DTR  0x01
#define MCR_RTS  0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10

#define LSR_DR   0x01
#define LSR_OE   0x02
#define LSR_PE   0x04
#define LSR_FE   0x08
#define LSR_BI   0x10
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define LSR_ERRS (LSR_OE | LSR_PE | LSR_FE | LSR_BI)

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_CTS  0x10
#define MSR_DSR  0x20
#define MSR_RI   0x40
#define MSR_DCD  0x80
#define MSR_DELTAS 0x0f

/* Modem inputs when not in loopback: the chardev has no modem lines, so
 * report a connected peer (CTS, DSR, DCD asserted), as QEMU does. */
#define MSR_EXTERNAL (MSR_CTS | MSR_DSR | MSR_DCD)

#define FIFO_SIZE 16

struct dev_uart {
    struct dev_chardev chr;
    uint16_t base;

    uint8_t rx[FIFO_SIZE];
    unsigned rx_head, rx_count;

    uint16_t divisor;
    uint8_t ier, lcr, mcr, lsr_errs, msr, scr;
    uint8_t fcr;          /* last value written with FCR_ENABLE set, or 0 */
    bool thr_ipending;    /* THRE interrupt armed (cleared by IIR read / THR write) */

    /* The INTR pin, attached by dev_uart_set_irq() (see the top of the file). */
    void (*irq_fn)(void *ctx, bool level);
    struct dev_irq_line irq_line;
    void *irq_ctx;
    bool irq_level;
};

static bool fifo_on(const struct dev_uart *u)
{
    return u->fcr & FCR_ENABLE;
}

static unsigned rx_capacity(const struct dev_uart *u)
{
    return fifo_on(u) ? FIFO_SIZE : 1;
}

static unsigned rx_trigger(const struct dev_uart *u)
{
    static const unsigned levels[4] = { 1, 4, 8, 14 };
    return fifo_on(u) ? levels[u->fcr >> 6] : 1;
}

/* The interrupt the IIR would report now, by the datasheet's priority. */
static uint8_t uart_iir_id(const struct dev_uart *u)
{
    if ((u->ier & IER_ELSI) && (u->lsr_errs & LSR_ERRS))
        return IIR_RLSI;
    if ((u->ier & IER_ERBFI) && u->rx_count) {
        /* No timer yet: data below the trigger level reports the character
         * timeout at once rather than after four character times. */
        return u->rx_count >= rx_trigger(u) ? IIR_RDI : IIR_CTI;
    }
    if ((u->ier & IER_ETBEI) && u->thr_ipending)
        return IIR_THRI;
    if ((u->ier & IER_EDSSI) && (u->msr & MSR_DELTAS))
        return IIR_MSI;
    return IIR_NO_INT;
}

/* Level of the INTR pin. On a PC the board gates it with OUT2; that gate
 * belongs to the PIC wiring, not here. */
static bool uart_irq_pending(const struct dev_uart *u)
{
    return uart_iir_id(u) != IIR_NO_INT;
}

static void uart_update_irq(struct dev_uart *u)
{
    bool level = uart_irq_pending(u);
    if (level != u->irq_level) {
        u->irq_level = level;
        if (u->irq_fn)
            u->irq_fn(u->irq_ctx, level);
    }
}

/* Moves a received byte into the RX FIFO; a full FIFO is an overrun. In
 * non-FIFO mode the new byte replaces the unread one (datasheet: OE
 * "destroys the previous character"); in FIFO mode it is the byte in the
 * shift register that is lost. */
static void rx_push(struct dev_uart *u, uint8_t b)
{
    if (u->rx_count == rx_capacity(u)) {
        u->lsr_errs |= LSR_OE;
        if (!fifo_on(u))
            u->rx[u->rx_head] = b;
        return;
    }
    u->rx[(u->rx_head + u->rx_count) % FIFO_SIZE] = b;
    u->rx_count++;
}

/* Pulls waiting bytes from the chardev; in loopback the serial input is
 * disconnected (datasheet: SIN is cut off from the receiver). */
static void rx_poll(struct dev_uart *u)
{
    if (u->mcr & MCR_LOOP || !u->chr.read)
        return;
    uint8_t b;
    while (u->rx_count < rx_capacity(u) && u->chr.read(u->chr.ctx, &b) == 1)
        rx_push(u, b);
}

static void rx_reset(struct dev_uart *u)
{
    u->rx_head = u->rx_count = 0;
}

/* Modem status inputs as the receiver sees them. In loopback the outputs
 * DTR/RTS/OUT1/OUT2 drive DSR/CTS/RI/DCD. */
static uint8_t msr_lines(const struct dev_uart *u)
{
    if (!(u->mcr & MCR_LOOP))
        return MSR_EXTERNAL;
    uint8_t m = 0;
    if (u->mcr & MCR_RTS)  m |= MSR_CTS;
    if (u->mcr & MCR_DTR)  m |= MSR_DSR;
    if (u->mcr & MCR_OUT1) m |= MSR_RI;
    if (u->mcr & MCR_OUT2) m |= MSR_DCD;
    return m;
}

/* Latches the delta bits for a change of modem inputs from old to new. */
static void msr_update(struct dev_uart *u, uint8_t new_lines)
{
    uint8_t old = u->msr & ~MSR_DELTAS, ch = old ^ new_lines, d = 0;
    if (ch & MSR_CTS) d |= MSR_DCTS;
    if (ch & MSR_DSR) d |= MSR_DDSR;
    if (ch & MSR_DCD) d |= MSR_DDCD;
    if ((old & MSR_RI) && !(new_lines & MSR_RI)) d |= MSR_TERI;  /* trailing edge only */
    u->msr = new_lines | (u->msr & MSR_DELTAS) | d;
}

static void uart_transmit(struct dev_uart *u, uint8_t b)
{
    if (u->mcr & MCR_LOOP)
        rx_push(u, b);
    else if (u->chr.write)
        u->chr.write(u->chr.ctx, &b, 1);
    /* The byte left at once: THR empty again, which re-arms THRE. */
    u->thr_ipending = true;
}

static uint8_t uart_read_reg(struct dev_uart *u, unsigned reg)
{
    uint8_t v = 0;
    switch (reg) {
    case REG_RBR_THR:
        if (u->lcr & LCR_DLAB)
            return (uint8_t)u->divisor;
        rx_poll(u);
        if (u->rx_count) {
            v = u->rx[u->rx_head];
            u->rx_head = (u->rx_head + 1) % FIFO_SIZE;
            u->rx_count--;
        }
        rx_poll(u);
        break;
    case REG_IER:
        if (u->lcr & LCR_DLAB)
            return (uint8_t)(u->divisor >> 8);
        return u->ier;
    case REG_IIR_FCR:
        rx_poll(u);
        v = uart_iir_id(u) | (fifo_on(u) ? IIR_FIFO : 0);
        /* Reading IIR while it reports THRE acknowledges that interrupt. */
        if ((v & 0x0f) == IIR_THRI)
            u->thr_ipending = false;
        break;
    case REG_LCR:
        return u->lcr;
    case REG_MCR:
        return u->mcr;
    case REG_LSR:
        rx_poll(u);
        v = LSR_THRE | LSR_TEMT | u->lsr_errs | (u->rx_count ? LSR_DR : 0);
        u->lsr_errs = 0;   /* OE/PE/FE/BI clear on read */
        break;
    case REG_MSR:
        v = u->msr;
        u->msr &= ~MSR_DELTAS;
        break;
    case REG_SCR:
        return u->scr;
    }
    uart_update_irq(u);
    return v;
}

static void uart_write_reg(struct dev_uart *u, unsigned reg, uint8_t v)
{
    switch (reg) {
    case REG_RBR_THR:
        if (u->lcr & LCR_DLAB) {
            u->divisor = (u->divisor & 0xff00) | v;
            return;
        }
        u->thr_ipending = false;
        uart_transmit(u, v);
        break;
    case REG_IER:
        if (u->lcr & LCR_DLAB) {
            u->divisor = (uint16_t)((u->divisor & 0x00ff) | (v << 8));
            return;
        }
        /* Enabling ETBEI while THR is empty raises THRE at once. */
        if ((v & IER_ETBEI) && !(u->ier & IER_ETBEI))
            u->thr_ipending = true;
        u->ier = v & 0x0f;
        break;
    case REG_IIR_FCR:
        /* FCR bits other than bit 0 only take with bit 0 set; toggling
         * bit 0 resets both FIFOs. */
        if ((v ^ u->fcr) & FCR_ENABLE)
            rx_reset(u);
        if (v & FCR_ENABLE) {
            if (v & FCR_CLEAR_RX)
                rx_reset(u);
            u->fcr = v & ~(FCR_CLEAR_RX | FCR_CLEAR_TX);
        } else {
            u->fcr = 0;
        }
        break;
    case REG_LCR:
        u->lcr = v;
        return;
    case REG_MCR:
        u->mcr = v & 0x1f;
        msr_update(u, msr_lines(u));
        break;
    case REG_LSR:
    case REG_MSR:
        return;   /* factory test registers on the real part; ignore */
    case REG_SCR:
        u->scr = v;
        return;
    }
    uart_update_irq(u);
}

/* An ISA bridge splits a wide access into byte accesses to consecutive
 * ports; do the same within our eight registers. */
static void uart_io(void *opaque, uint64_t offset, unsigned size, bool is_write, uint64_t *data)
{
    struct dev_uart *u = opaque;
    uint64_t out = 0;
    for (unsigned i = 0; i < size; i++) {
        uint64_t reg = offset + i;
        if (is_write) {
            if (reg < 8)
                uart_write_reg(u, (unsigned)reg, (uint8_t)(*data >> (8 * i)));
        } else {
            uint64_t b = reg < 8 ? uart_read_reg(u, (unsigned)reg) : 0xff;
            out |= b << (8 * i);
        }
    }
    if (!is_write)
        *data = out;
}

struct dev_uart *dev_uart_new(struct dev_bus *bus, uint16_t base, const struct dev_chardev *chr)
{
    struct dev_uart *u = calloc(1, sizeof(*u));
    if (!u) {
        fprintf(stderr, "btvm: uart at %#x: out of memory\n", base);
        return NULL;
    }
    if (chr)
        u->chr = *chr;
    u->base = base;
    u->divisor = 12;                /* 9600 baud from 1.8432 MHz; BIOSes set this */
    u->msr = msr_lines(u);         /* no deltas at reset */
    int err = dev_bus_register_pio(bus, base, 8, "uart16550", uart_io, u);
    if (err) {
        fprintf(stderr, "btvm: uart at %#x: cannot claim ports: %s\n", base, strerror(-err));
        free(u);
        return NULL;
    }
    return u;
}

void dev_uart_free(struct dev_uart *u)
{
    free(u);
}

static void uart_irq_line(void *ctx, bool level)
{
    struct dev_irq_line *l = ctx;
    dev_irq_set(l, level);
}

void dev_uart_set_irq(struct dev_uart *u, struct dev_irq_line line)
{
    u->irq_line = line;
    u->irq_fn = uart_irq_line;
    u->irq_ctx = &u->irq_line;
    u->irq_level = false;
    uart_update_irq(u);
}

void dev_uart_poll(struct dev_uart *u)
{
    rx_poll(u);
    uart_update_irq(u);
}
