/*
 * hav/probe.c — is KVM usable here? Opens /dev/kvm and checks what hav/
 * relies on: API version 12, user memory slots, KVM_SET_TSS_ADDR,
 * immediate_exit (kicks), KVM_SET_CPUID2, and that a VM with one vcpu can
 * really be created (an openable /dev/kvm alone proves nothing: the module
 * may refuse VMs, or be a paravirtual stand-in).
 */
#include "hav/hav_own.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static const struct {
    int cap;
    const char *name;
} needed_caps[] = {
    { KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
    { KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" },
    { KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
    { KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
};

int hav_probe(char *why, size_t n)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(why, n, "/dev/kvm: %s", strerror(e));
        return -e;
    }
    int r = -ENODEV;
    int v = ioctl(fd, KVM_GET_API_VERSION, 0);
    if (v != KVM_API_VERSION) {
        snprintf(why, n, "/dev/kvm speaks API version %d, btvm needs %d", v, KVM_API_VERSION);
        goto out;
    }
    for (size_t i = 0; i < sizeof(needed_caps) / sizeof(needed_caps[0]); i++) {
        if (ioctl(fd, KVM_CHECK_EXTENSION, needed_caps[i].cap) <= 0) {
            snprintf(why, n, "/dev/kvm lacks %s", needed_caps[i].name);
            goto out;
        }
    }
    int vmfd = ioctl(fd, KVM_CREATE_VM, 0);
    if (vmfd < 0) {
        r = -errno;
        snprintf(why, n, "KVM_CREATE_VM: %s", strerror(-r));
        goto out;
    }
    int vcpu = ioctl(vmfd, KVM_CREATE_VCPU, 0);
    if (vcpu < 0) {
        r = -errno;
        snprintf(why, n, "KVM_CREATE_VCPU: %s", strerror(-r));
    } else {
        snprintf(why, n, "/dev/kvm API %d", v);
        r = 0;
        close(vcpu);
    }
    close(vmfd);
out:
    close(fd);
    return r;
}
