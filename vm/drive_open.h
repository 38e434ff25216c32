/*
 * vm/drive_open.h — open the image behind a command-line drive (struct
 * vm_drive) with its format, cache mode, snapshot and read-only setting.
 */
#ifndef BTVM_VM_DRIVE_OPEN_H
#define BTVM_VM_DRIVE_OPEN_H

#include <stddef.h>

#include "block/blk.h"
#include "vm/vm.h"

/* 0 and *out, or -errno with one line (no "btvm: ") in err. Without
 * format= a file that starts with the qcow2 magic opens as qcow2, anything
 * else as raw. */
int vm_drive_open(const struct vm_drive *d, struct blk **out, char *err, size_t errlen);

#endif
