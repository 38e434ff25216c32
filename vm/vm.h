/*
 * vm/vm.h — the machine: guest RAM, the device bus, options and the
 * interface every CPU engine (bt/ today, hav/ later) implements.
 *
 * Data flows top to bottom: vm/ owns the machine and the run loop; an engine
 * runs guest code until something needs the machine's attention and returns
 * a struct vm_exit (the same shape for every engine, like kvm_run).
 */
#ifndef BTVM_VM_H
#define BTVM_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "devices/irq.h"

struct dev_bus;
struct dev_pic;
struct dev_uart;
struct cpu;
struct vm_wake;

/* Why an engine returned to the run loop. */
enum vm_exit_kind {
    VM_EXIT_STOP,        /* a device asked the machine to stop (debug-exit, Ctrl-A X, ...) */
    VM_EXIT_HLT,         /* HLT with nothing that could wake the guest */
    VM_EXIT_SHUTDOWN,    /* triple fault */
    VM_EXIT_UNSUPPORTED, /* guest did something btvm does not implement yet: msg says what */
    VM_EXIT_ERROR,       /* host-side failure: msg says what */
};

struct vm_exit {
    enum vm_exit_kind kind;
    uint32_t eip;
    char msg[256];
};

struct vm;

/* A CPU engine. Both engines use the same RAM memfd and the same bus. */
struct vm_engine_ops {
    const char *name;
    /* Allocates vm->cpu (zeroed; the layout around it is the engine's) and
     * everything else it needs; 0 or -errno, printing its own message. */
    int (*init)(struct vm *vm);
    void (*run)(struct vm *vm, struct vm_exit *exit);
    void (*print_stats)(struct vm *vm, void *FILE_stream, bool json);
    /* Frees what init allocated, vm->cpu included. */
    void (*destroy)(struct vm *vm);
};

extern const struct vm_engine_ops bt_engine_ops;

enum vm_engine_choice { VM_ENGINE_AUTO, VM_ENGINE_BT, VM_ENGINE_KVM };

struct vm_options {
    const char *kernel;
    const char *cmdline;
    const char *initrd;
    uint32_t mem_mib;          /* default 128 */
    bool stats, stats_json;
    bool trace;
    bool exit_code_qemu;       /* --exit-code=qemu: (v<<1)|1 */
    size_t code_cache_size;    /* --code-cache=KIB, default 64 MiB */
    enum vm_engine_choice engine; /* --engine, default auto */
    bool quiet;                /* --quiet: no engine-choice line */
    bool reboot;               /* --reboot: a guest reset reboots */
};

/* Counters a user can see with --stats; engines add their own. */
struct vm_stats {
    uint64_t unmapped_reads, unmapped_writes;
    uint64_t pio_accesses, mmio_accesses;
};

struct vm {
    struct vm_options opt;
    int ram_fd;              /* memfd holding guest RAM */
    uint8_t *ram;            /* host mapping of guest-physical 0 */
    uint64_t ram_size;
    struct dev_bus *bus;
    struct cpu *cpu;
    void *engine_priv;
    const struct vm_engine_ops *engine;
    struct vm_stats stats;

    /* Interrupts and time (vm/wake.c). */
    struct dev_pic *pic;
    struct dev_uart *uart;
    struct dev_timers timers;
    uint64_t next_deadline;  /* nearest device deadline, ns of CLOCK_MONOTONIC */
    struct vm_wake *wake;
    /* vm_kick() calls this (any thread, vcpu alive) for an engine that needs
     * more than cpu->async_pending to notice: hav/ interrupts KVM_RUN. */
    void (*kick_hook)(struct vm *vm);
    volatile int input_pending; /* console input arrived: poll the UART */

    /* Set by devices (any thread) to make the engine return VM_EXIT_STOP. */
    volatile int stop_requested;
    int stop_status;         /* btvm's exit status when stopped by a device */
};

/* Ask the machine to stop with the given process exit status; safe from
 * any thread and from device handlers. */
void vm_request_stop(struct vm *vm, int status);

/* Get the vcpu's attention from any thread: translated code leaves at its
 * next block entry and a vcpu sleeping in HLT wakes. */
void vm_kick(struct vm *vm);
/* vcpu thread: sleep until kicked, stopped, or deadline_ns (UINT64_MAX: none). */
void vm_wait(struct vm *vm, uint64_t deadline_ns);
/* vcpu thread: fire due device timers, re-arm the ticker; returns the next deadline. */
uint64_t vm_run_timers(struct vm *vm);
int vm_wake_init(struct vm *vm);
/* No kick touches vm->cpu after this returns (call before freeing it). */
void vm_wake_stop(struct vm *vm);
/* True if a device moved a deadline earlier than the ticker is armed for
 * (after a guest I/O write): the vcpu must come back to run timers. */
bool vm_timers_moved(const struct vm *vm);

/* Guest-physical address to host pointer, or NULL if not RAM (len bytes). */
static inline uint8_t *vm_ram_ptr(struct vm *vm, uint64_t gpa, uint64_t len)
{
    if (gpa >= vm->ram_size || len > vm->ram_size - gpa)
        return NULL;
    return vm->ram + gpa;
}

#endif
