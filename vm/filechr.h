/*
 * vm/filechr.h — character devices for the debug consoles' other targets:
 * a host file, written as the guest writes (--bios-log FILE, -debugcon
 * file:FILE), and QEMU's "null" (output discarded). Reads find nothing.
 */
#ifndef BTVM_VM_FILECHR_H
#define BTVM_VM_FILECHR_H

#include <stdbool.h>
#include "devices/chardev.h"

struct vm_filechr {
    bool open;
    int fd;
    struct dev_chardev chr; /* valid while open; must outlive the device using it */
};

/* Create or truncate path. 0 or -errno. */
int vm_filechr_open(struct vm_filechr *f, const char *path);
void vm_filechr_close(struct vm_filechr *f);
/* Output goes nowhere. */
const struct dev_chardev *vm_null_chardev(void);

#endif
