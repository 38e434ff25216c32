/*
 * vm/loadutil.c — opening the files the boot loaders load (vm/loadutil.h).
 */
#include "vm/loadutil.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

int vm_ld_open(const char *what, const char *path, uint64_t *size, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return vm_ld_fail(err, errlen, "btvm: cannot open %s '%s': %s", what, path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return vm_ld_fail(err, errlen, "btvm: cannot stat %s '%s': %s", what, path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return vm_ld_fail(err, errlen, "btvm: %s '%s' is %s, not a regular file", what, path,
                          S_ISDIR(st.st_mode) ? "a directory" : "a special file");
    }
    *size = (uint64_t)st.st_size;
    return fd;
}
