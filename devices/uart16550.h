/*
 * devices/uart16550.h — a 16550A UART (COM1 at 0x3f8 on a PC).
 */
#ifndef BTVM_DEV_UART16550_H
#define BTVM_DEV_UART16550_H

#include <stdint.h>
#include "devices/bus.h"
#include "devices/chardev.h"
#include "devices/irq.h"

struct dev_uart;

/* Registers 8 ports at base on the bus; NULL on failure (message printed). */
struct dev_uart *dev_uart_new(struct dev_bus *bus, uint16_t base, const struct dev_chardev *chr);
void dev_uart_free(struct dev_uart *u);

/* Attach the interrupt line (IRQ 4 for COM1). */
void dev_uart_set_irq(struct dev_uart *u, struct dev_irq_line line);
/* Pull waiting input from the chardev now (called when input arrives, so a
 * receive interrupt can be raised without the guest polling LSR). */
void dev_uart_poll(struct dev_uart *u);

#endif
