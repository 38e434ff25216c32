/*
 * devices/chardev.h — a byte stream a device talks to (the user's terminal,
 * a file, a buffer in a unit test). Devices never touch file descriptors.
 */
#ifndef BTVM_DEV_CHARDEV_H
#define BTVM_DEV_CHARDEV_H

#include <stddef.h>
#include <stdint.h>

struct dev_chardev {
    void (*write)(void *ctx, const uint8_t *buf, size_t n);
    /* Returns 1 and stores a byte if one is waiting, 0 otherwise; never blocks. */
    int (*read)(void *ctx, uint8_t *byte);
    void *ctx;
};

#endif
