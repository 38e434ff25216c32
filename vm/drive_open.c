/*
 * vm/drive_open.c — a command-line drive to an open struct blk.
 */
#include "vm/drive_open.h"

#include <stdio.h>
#include <string.h>

int vm_drive_open(const struct vm_drive *d, struct blk **out, char *err, size_t errlen)
{
    struct blk_opts o = {
        .format = d->format,
        .readonly = d->readonly || d->media == VM_MEDIA_CDROM,
        .snapshot = d->snapshot,
        .cache = d->cache,
    };
    /* QEMU probes when format= is absent; a raw image that happens to
     * start with the qcow2 magic needs format=raw, as there. */
    if (!d->format_given) {
        int rc = blk_probe_format(d->file, &o.format);
        if (rc) {
            snprintf(err, errlen, "%s: cannot open disk image: %s", d->file, strerror(-rc));
            return rc;
        }
    }
    return blk_open_opts(d->file, &o, out, err, errlen);
}
