/*
 * vm/ram.c — guest RAM as one anonymous memfd ("btvm-ram").
 *
 * A memfd rather than anonymous memory because the hardware-assisted engine
 * hands the same fd to KVM, and because the translator may want a second
 * mapping of the same pages. Pages are not pre-faulted: a small guest should
 * not pay for the RAM it never touches.
 */
#include "vm/ram.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int vm_ram_create(struct vm *vm, uint64_t size, char *err, size_t errlen)
{
    vm->ram_fd = -1;
    vm->ram = NULL;
    vm->ram_size = 0;
    int fd = memfd_create("btvm-ram", MFD_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "btvm: memfd_create for guest RAM: %s", strerror(e));
        return -e;
    }
    if (ftruncate(fd, (off_t)size) < 0) {
        int e = errno;
        snprintf(err, errlen, "btvm: cannot size guest RAM to %llu MiB: %s",
                 (unsigned long long)(size >> 20), strerror(e));
        close(fd);
        return -e;
    }
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
    if (p == MAP_FAILED) {
        int e = errno;
        snprintf(err, errlen, "btvm: cannot map %llu MiB of guest RAM: %s",
                 (unsigned long long)(size >> 20), strerror(e));
        close(fd);
        return -e;
    }
    vm->ram_fd = fd;
    vm->ram = p;
    vm->ram_size = size;
    return 0;
}

void vm_ram_destroy(struct vm *vm)
{
    /* ram and ram_fd are only ever set together, so a zeroed vm is safe. */
    if (vm->ram) {
        munmap(vm->ram, vm->ram_size);
        close(vm->ram_fd);
    }
    vm->ram = NULL;
    vm->ram_fd = -1;
    vm->ram_size = 0;
}
