/* vm/filechr.c — see vm/filechr.h. */
#include "vm/filechr.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static void file_write(void *ctx, const uint8_t *buf, size_t n)
{
    struct vm_filechr *f = ctx;
    while (n) {
        ssize_t w = write(f->fd, buf, n);
        if (w <= 0)
            return; /* a full disk loses log text, not the run */
        buf += w;
        n -= (size_t)w;
    }
}

static int no_read(void *ctx, uint8_t *byte)
{
    (void)ctx;
    (void)byte;
    return 0;
}

int vm_filechr_open(struct vm_filechr *f, const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    f->fd = fd;
    f->open = true;
    f->chr = (struct dev_chardev){ .write = file_write, .read = no_read, .ctx = f };
    return 0;
}

void vm_filechr_close(struct vm_filechr *f)
{
    if (f->open)
        close(f->fd);
    f->open = false;
}

static void null_write(void *ctx, const uint8_t *buf, size_t n)
{
    (void)ctx;
    (void)buf;
    (void)n;
}

const struct dev_chardev *vm_null_chardev(void)
{
    static const struct dev_chardev null = { .write = null_write, .read = no_read };
    return &null;
}
