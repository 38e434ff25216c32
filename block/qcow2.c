/* block/qcow2.c — qcow2 images (being written). */
#include <errno.h>
#include <stdio.h>

#include "block/blk_int.h"

int blk_qcow2_open(const char *path, const struct blk_opts *o, struct blk **out, char *err,
                   size_t errlen)
{
    (void)o, (void)out;
    snprintf(err, errlen, "%s: format=qcow2 is not implemented yet", path);
    return -ENOTSUP;
}
