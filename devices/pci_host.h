/*
 * devices/pci_host.h — PCI configuration mechanism #1 (ports 0xCF8-0xCFF)
 * with one device on bus 0: an Intel 440FX host bridge at 00:00.0. Also
 * the PIIX3 reset control register at 0xCF9 (byte access). docs/devices.md.
 */
#ifndef BTVM_DEV_PCI_HOST_H
#define BTVM_DEV_PCI_HOST_H

#include <stdbool.h>
#include <stdint.h>
#include "devices/bus.h"

#define DEV_PCI_CONFIG_PORT 0xCF8u   /* CONFIG_ADDRESS, dword; CONFIG_DATA at 0xCFC */
#define DEV_PCI_RESET_PORT  0xCF9u   /* reset control register (byte) */
#define DEV_PCI_RESET_VALUE 0x06u    /* SRST | RST_CPU: a hard reset, the FADT's RESET_VALUE */

struct dev_pci_host;

/* reset(ctx) is called when the guest resets the machine through 0xCF9. */
struct dev_pci_host *dev_pci_host_new(struct dev_bus *bus, void (*reset)(void *ctx), void *ctx);
void dev_pci_host_free(struct dev_pci_host *h);

/* Configuration space access of size 1, 2 or 4 at a bus/device/function
 * and register (what CONFIG_ADDRESS selects); absent functions read
 * all-ones and ignore writes. Exposed for tests. */
uint32_t dev_pci_config_read(struct dev_pci_host *h, unsigned bus, unsigned devfn,
                             unsigned reg, unsigned size);
void dev_pci_config_write(struct dev_pci_host *h, unsigned bus, unsigned devfn, unsigned reg,
                          unsigned size, uint32_t v);

#endif
