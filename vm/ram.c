/*
 * vm/ram.c — guest RAM as one anonymous memfd ("btvm-ram").
 *
 * A memfd rather than anonymous memory because the hardware-assisted engine
 * hands the same fd to KVM, and because the translator may want a second
 * mapping of the same pages. Pages are not pre-faulted: a small guest should
 * not pay for the RAM it never touches.
 *
 * Two mappings (docs/machine.md, "Guest-physical memory"): vm->ram is the
 * CPU's view, the start of a 4 GiB reservation in which RAM sits at 0 and
 * vm/firmware.c maps the BIOS ROM at the top and ROM or RAM into the PAM
 * areas, so guest-physical p is at vm->ram + p for every host-backed page;
 * vm->dram is RAM alone, always, for DMA, loaders and KVM memslots.
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
    void *win = mmap(NULL, VM_PHYS_SPACE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                     -1, 0);
    void *p = win == MAP_FAILED ? MAP_FAILED
            : mmap(win, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE | MAP_FIXED, fd, 0);
    void *d = p == MAP_FAILED ? MAP_FAILED
            : mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
    if (d == MAP_FAILED) {
        int e = errno;
        snprintf(err, errlen, "btvm: cannot map %llu MiB of guest RAM: %s",
                 (unsigned long long)(size >> 20), strerror(e));
        if (win != MAP_FAILED)
            munmap(win, VM_PHYS_SPACE);
        close(fd);
        return -e;
    }
    vm->ram_fd = fd;
    vm->ram = p;
    vm->dram = d;
    vm->ram_size = size;
    return 0;
}

void vm_ram_destroy(struct vm *vm)
{
    /* ram and ram_fd are only ever set together, so a zeroed vm is safe. */
    if (vm->ram) {
        munmap(vm->ram, VM_PHYS_SPACE);
        munmap(vm->dram, vm->ram_size);
        close(vm->ram_fd);
    }
    vm->ram = NULL;
    vm->dram = NULL;
    vm->ram_fd = -1;
    vm->ram_size = 0;
}
