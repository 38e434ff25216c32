/*
 * devices/virtio_pci.h — the virtio PCI transport, as QEMU's transitional
 * devices present it (vendor 1AF4, device 0x1000 + type - 1, subsystem ID
 * = the virtio device type): the legacy register block (virtio 0.9.5) in
 * I/O BAR0 and the virtio 1.0 capabilities (common, notify, ISR, device
 * configuration) in memory BAR4. Interrupts are INTx only (pin A), through
 * the line the machine gives (the PIIX's PIRQ for the slot). The device
 * behind it (devices/virtio_blk.c, ...) supplies its features, its
 * configuration bytes and what a queue notification does. docs/virtio.md.
 */
#ifndef BTVM_DEV_VIRTIO_PCI_H
#define BTVM_DEV_VIRTIO_PCI_H

#include <stdbool.h>
#include <stdint.h>
#include "devices/dma.h"
#include "devices/irq.h"
#include "devices/pci_host.h"
#include "devices/virtio_ring.h"

#define DEV_VIRTIO_VENDOR 0x1AF4u

/* Feature bits (spec 6). */
#define VIRTIO_F_NOTIFY_ON_EMPTY       24
#define VIRTIO_F_ANY_LAYOUT            27
#define VIRTIO_RING_F_INDIRECT_DESC    28
#define VIRTIO_RING_F_EVENT_IDX        29
#define VIRTIO_F_VERSION_1             32

/* Device status (spec 2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE   1u
#define VIRTIO_STATUS_DRIVER        2u
#define VIRTIO_STATUS_DRIVER_OK     4u
#define VIRTIO_STATUS_FEATURES_OK   8u
#define VIRTIO_STATUS_NEEDS_RESET   0x40u
#define VIRTIO_STATUS_FAILED        0x80u

#define DEV_VIRTIO_MAX_QUEUES 8

struct dev_virtio;

struct dev_virtio_ops {
    /* The device's feature bits (the transport adds the ring and version
     * bits). */
    uint64_t features;
    /* Device configuration space: read/write size bytes at off (the
     * transport checked off + size <= config_len). */
    void (*config_read)(void *ctx, unsigned off, unsigned size, uint64_t *val);
    void (*config_write)(void *ctx, unsigned off, unsigned size, uint64_t val);
    /* The driver notified queue q (ready, checked). */
    void (*notify)(void *ctx, unsigned q);
    /* Reset (status written 0, or the machine's end): drop all in-flight
     * work before returning; queues are reset by the transport after. */
    void (*reset)(void *ctx);
};

struct dev_virtio_config {
    uint16_t device_id;      /* the transitional PCI device ID (0x1000 net, 0x1001 blk) */
    uint16_t virtio_type;    /* subsystem ID: 1 net, 2 blk */
    uint32_t class_code;
    unsigned nqueues;
    uint16_t queue_size;     /* each queue's maximum (and legacy fixed) size */
    unsigned config_len;     /* bytes of device configuration */
    struct dev_virtio_ops ops;
    void *ctx;
    struct dev_dma dma;
    struct dev_irq_line irq; /* INTA# after the slot's swizzle */
};

/* A transport at 00:devfn on h. NULL on failure (-EEXIST slot taken, OOM). */
struct dev_virtio *dev_virtio_pci_new(struct dev_pci_host *h, unsigned devfn,
                                      const struct dev_virtio_config *cfg);
/* Resets the device (ops.reset) and unregisters the function. */
void dev_virtio_pci_free(struct dev_virtio *v);

/* For the device model: */
struct dev_vq *dev_virtio_queue(struct dev_virtio *v, unsigned q);
/* Negotiated features (what the driver accepted). */
uint64_t dev_virtio_features(const struct dev_virtio *v);
/* Whether the driver set DRIVER_OK and the device is not broken. */
bool dev_virtio_running(const struct dev_virtio *v);
/* Chains were pushed on q: interrupt the driver if it wants that. */
void dev_virtio_used(struct dev_virtio *v, unsigned q);
/* The driver broke the device (a malformed ring): set NEEDS_RESET, tell
 * the driver by a configuration-change interrupt, stop processing. */
void dev_virtio_broken(struct dev_virtio *v);
/* The device's reset (as a driver's write of 0 to status). */
void dev_virtio_reset(struct dev_virtio *v);
/* The PCI function (tests). */
struct dev_pci_fn *dev_virtio_pci_fn(struct dev_virtio *v);

/* Legacy I/O BAR registers (virtio 0.9.5, no MSI-X). */
enum {
    VIRTIO_PCI_HOST_FEATURES = 0x00, VIRTIO_PCI_GUEST_FEATURES = 0x04,
    VIRTIO_PCI_QUEUE_PFN = 0x08, VIRTIO_PCI_QUEUE_NUM = 0x0C, VIRTIO_PCI_QUEUE_SEL = 0x0E,
    VIRTIO_PCI_QUEUE_NOTIFY = 0x10, VIRTIO_PCI_STATUS = 0x12, VIRTIO_PCI_ISR = 0x13,
    VIRTIO_PCI_CONFIG = 0x14,
};
/* Modern common configuration (virtio 1.0, 4.1.4.3), BAR4 offset 0. */
enum {
    VIRTIO_PCI_COMMON_DFSELECT = 0x00, VIRTIO_PCI_COMMON_DF = 0x04,
    VIRTIO_PCI_COMMON_GFSELECT = 0x08, VIRTIO_PCI_COMMON_GF = 0x0C,
    VIRTIO_PCI_COMMON_MSIX = 0x10, VIRTIO_PCI_COMMON_NUMQ = 0x12,
    VIRTIO_PCI_COMMON_STATUS = 0x14, VIRTIO_PCI_COMMON_CFGGENERATION = 0x15,
    VIRTIO_PCI_COMMON_Q_SELECT = 0x16, VIRTIO_PCI_COMMON_Q_SIZE = 0x18,
    VIRTIO_PCI_COMMON_Q_MSIX = 0x1A, VIRTIO_PCI_COMMON_Q_ENABLE = 0x1C,
    VIRTIO_PCI_COMMON_Q_NOFF = 0x1E, VIRTIO_PCI_COMMON_Q_DESCLO = 0x20,
    VIRTIO_PCI_COMMON_Q_DESCHI = 0x24, VIRTIO_PCI_COMMON_Q_AVAILLO = 0x28,
    VIRTIO_PCI_COMMON_Q_AVAILHI = 0x2C, VIRTIO_PCI_COMMON_Q_USEDLO = 0x30,
    VIRTIO_PCI_COMMON_Q_USEDHI = 0x34,
};
/* Where the modern structures sit in BAR4 (QEMU's layout). */
#define DEV_VIRTIO_MODERN_BAR      4
#define DEV_VIRTIO_MODERN_SIZE     0x4000u
#define DEV_VIRTIO_COMMON_OFF      0x0000u
#define DEV_VIRTIO_ISR_OFF         0x1000u
#define DEV_VIRTIO_DEVICE_OFF      0x2000u
#define DEV_VIRTIO_NOTIFY_OFF      0x3000u
#define DEV_VIRTIO_NOTIFY_MULT     4u

#endif
