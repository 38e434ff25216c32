/*
 * hav/hav_own.h — hav/'s private state shared by its files: the KVM file
 * descriptors, the mapped kvm_run page and the exit counters. The rest of
 * btvm sees hav/ only as hav_engine_ops (declared in vm/vm.h).
 */
#ifndef BTVM_HAV_OWN_H
#define BTVM_HAV_OWN_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "vm/vm.h"

/* Exit kinds counted for --stats. */
enum hav_exit_kind {
    HAV_X_IO, HAV_X_MMIO, HAV_X_HLT, HAV_X_IRQ_WINDOW, HAV_X_INTR, HAV_X_SHUTDOWN, HAV_X_OTHER,
    HAV_X_KINDS
};

struct hav_stats {
    uint64_t exits[HAV_X_KINDS];
    uint64_t runs, interrupts, halts, pio, mmio;
};

struct hav {
    struct vm *vm;
    int kvm_fd, vm_fd, vcpu_fd;
    struct kvm_run *run;
    size_t run_size;
    pthread_t thread;        /* the vcpu thread, known from the first run() */
    int thread_known;        /* atomic: kicks may signal thread */
    bool loaded;             /* vm->cpu copied into the vcpu */
    bool halted;             /* guest sits in HLT with IF=1 */
    struct hav_stats st;
};

/* hav_engine_ops.probe (hav/probe.c): 0 if /dev/kvm opens, speaks API 12,
 * has the capabilities hav/ needs and can create a VM with a vcpu; else
 * -errno (-ENODEV: it lacks something) with a one-line reason in why. */
int hav_probe(char *why, size_t n);

/* struct cpu <-> KVM vcpu state (hav/state.c). 0 or -errno. */
int hav_state_load(struct hav *h);
int hav_state_save(struct hav *h);
/* Give the guest btvm's CPUID model (cpu_cpuid), masked by what KVM supports. */
int hav_set_cpuid(struct hav *h);

#endif
