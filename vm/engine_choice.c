/*
 * vm/engine_choice.c — the engine choice (--engine=auto|bt|kvm).
 *
 * auto takes KVM only when the host CPU itself reports VT-x or AMD-V
 * (CPUID) and /dev/kvm really works (hav_engine_ops.probe: API 12, the capabilities
 * hav/ uses, a VM and a vcpu can be created); otherwise BT. CPUID comes
 * first because an openable /dev/kvm is not proof of hardware assist: the
 * hosts btvm is built on expose a paravirtual /dev/kvm (kvm-pvm) that
 * creates VMs but has no VT-x/AMD-V behind it. --engine=kvm insists on the
 * same test and fails when it does not hold; --engine=bt always gets BT.
 */
#include "vm/engine_choice.h"

#include <cpuid.h>
#include <stdio.h>

bool vm_engine_host_hav(char *why, size_t n)
{
    unsigned a, b, c, d;
    bool vmx = false, svm = false;
    if (__get_cpuid(1, &a, &b, &c, &d))
        vmx = c & (1u << 5);               /* leaf 1 ECX.VMX */
    if (__get_cpuid(0x80000001, &a, &b, &c, &d))
        svm = c & (1u << 2);               /* leaf 0x80000001 ECX.SVM */
    if (vmx || svm)
        snprintf(why, n, "CPUID has %s", vmx ? "vmx" : "svm");
    else
        snprintf(why, n, "no VT-x/AMD-V: CPUID has neither vmx nor svm");
    return vmx || svm;
}

/* KVM usable: CPUID, then /dev/kvm. why: the reason either way. */
static bool kvm_usable(char *why, size_t n)
{
    char cpu[96], dev[160];
    if (!vm_engine_host_hav(cpu, sizeof(cpu))) {
        snprintf(why, n, "%s", cpu);
        return false;
    }
    if (hav_engine_ops.probe && hav_engine_ops.probe(dev, sizeof(dev)) != 0) {
        snprintf(why, n, "%s but %s", cpu, dev);
        return false;
    }
    snprintf(why, n, "%s, %s", cpu, dev);
    return true;
}

const struct vm_engine_ops *vm_engine_choose(const struct vm_options *opt, char *why, size_t n)
{
    /* The gdb stub needs an engine with debug_changed (vm/vm.h): BT. */
    if (opt->gdb && opt->engine == VM_ENGINE_KVM) {
        snprintf(why, n, "the gdb stub (-s/-gdb) needs the BT engine: the KVM engine has no "
                 "debug support (breakpoints, single-step) yet; use --engine=bt");
        return NULL;
    }
    if (opt->gdb && opt->engine == VM_ENGINE_AUTO) {
        snprintf(why, n, "-s/-gdb: the gdb stub runs on the BT engine");
        return &bt_engine_ops;
    }
    switch (opt->engine) {
    case VM_ENGINE_BT:
        snprintf(why, n, "--engine=bt");
        return &bt_engine_ops;
    case VM_ENGINE_KVM:
        return kvm_usable(why, n) ? &hav_engine_ops : NULL;
    case VM_ENGINE_AUTO:
    default:
        return kvm_usable(why, n) ? &hav_engine_ops : &bt_engine_ops;
    }
}

const struct vm_engine_ops *vm_engine_select(const struct vm_options *opt)
{
    char why[256];
    const struct vm_engine_ops *e = vm_engine_choose(opt, why, sizeof(why));
    if (!e)
        fprintf(stderr, "btvm: --engine=kvm: %s\n", why);
    else if (!opt->quiet)
        fprintf(stderr, "btvm: engine %s (%s)\n", e->name, why);
    return e;
}
