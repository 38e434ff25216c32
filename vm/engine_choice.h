/*
 * vm/engine_choice.h — which CPU engine runs the guest: binary translation or
 * hardware assist (KVM). See docs/hav.md, "The choice".
 */
#ifndef BTVM_VM_ENGINE_CHOICE_H
#define BTVM_VM_ENGINE_CHOICE_H

#include <stddef.h>
#include "vm/vm.h"

/* The engine for opt->engine, with a one-line reason in why. NULL only for
 * --engine=kvm on a host where KVM is not usable (why says what is missing). */
const struct vm_engine_ops *vm_engine_choose(const struct vm_options *opt, char *why, size_t n);

/* vm_engine_choose, then one stderr line "btvm: engine <name> (<why>)"
 * unless opt->quiet; on NULL it printed "btvm: --engine=kvm: <why>"
 * (always: the run cannot start). */
const struct vm_engine_ops *vm_engine_select(const struct vm_options *opt);

/* Does the host CPU have VT-x or AMD-V (CPUID)? why names what it found. */
bool vm_engine_host_hav(char *why, size_t n);

#endif
