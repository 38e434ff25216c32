/*
 * hav/hav.h — the hardware-assisted engine (KVM) as the rest of btvm sees
 * it: its vm_engine_ops and the check that KVM is usable on this host.
 * See docs/hav.md.
 */
#ifndef BTVM_HAV_H
#define BTVM_HAV_H

#include <stddef.h>
#include "vm/vm.h"

extern const struct vm_engine_ops hav_engine_ops;

/* 0 if /dev/kvm opens, speaks API 12, has the capabilities hav/ needs and
 * can create a VM with a vcpu; else -1 with a one-line reason in why. */
int hav_probe(char *why, size_t n);

#endif
