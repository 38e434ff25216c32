/*
 * vm/service.c — what the engines and the CPU model ask of the machine:
 * guest port and MMIO accesses, console input, the CPU's interrupt input
 * (INTR/INTA), and the CPU model's view of the machine (struct
 * cpu_env_ops). Engines see only these functions (vm/vm.h), never a
 * device: today INTR is the 8259A pair's; when a local APIC sits in front
 * of it, only this file and the machine assembly change.
 */
#include "vm/vm.h"

#include <stdarg.h>
#include <stdio.h>
#include "cpu/cpu.h"
#include "devices/bus.h"
#include "devices/i8042.h"
#include "devices/lapic.h"
#include "devices/pic8259.h"
#include "devices/uart16550.h"
#include "vm/iothread.h"
#include "vm/net.h"
#include "vm/monitor.h"

void vm_set_error(struct vm *vm, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(vm->err, sizeof(vm->err), fmt, ap);
    va_end(ap);
}

void vm_pio(struct vm *vm, uint16_t port, unsigned size, bool write, uint32_t *val)
{
    dev_bus_pio(vm->bus, port, size, write, val);
}

bool vm_mmio(struct vm *vm, uint64_t addr, unsigned size, bool write, uint64_t *val)
{
    return dev_bus_mmio(vm->bus, addr, size, write, val);
}

bool vm_mmio_claimed(struct vm *vm, uint64_t addr)
{
    return dev_bus_mmio_page(vm->bus, addr);
}

void vm_poll_input(struct vm *vm)
{
    __atomic_store_n(&vm->input_pending, 0, __ATOMIC_RELEASE);
    if (vm->iothreads)              /* disk requests ended: their interrupts */
        vm_iothreads_poll(vm->iothreads);
    if (vm->net)                    /* frames from the network */
        vm_net_machine_poll(vm->net);
    if (vm->monitor)                /* a screendump reads the VGA here */
        vm_monitor_poll(vm->monitor);
    if (vm->uart)
        dev_uart_poll(vm->uart);
    if (vm->kbc) {
        dev_i8042_poll(vm->kbc);
        if (vm_timers_moved(vm))        /* a key started typematic */
            vm_run_timers(vm);
    }
}

/* The local APIC's byte says "maybe" (another thread may have raised it):
 * ask the APIC, which also settles the byte. The PIC's byte is exact. */
bool vm_intr_check(struct vm *vm)
{
    if (vm->lapic)
        return dev_lapic_pending(vm->lapic) >= 0;
    return true;
}

/* INTA through the local APIC when there is one: it hands out its own
 * vectors, or the PIC's through LINT0 (ExtINT, the virtual wire). */
int vm_intr_take(struct vm *vm)
{
    if (!vm->intr_level || !__atomic_load_n(vm->intr_level, __ATOMIC_ACQUIRE))
        return -1;
    if (vm->lapic)
        return dev_lapic_take(vm->lapic);
    return dev_pic_ack(vm->pic);
}

int vm_intr_ack(struct vm *vm)
{
    if (vm->lapic)
        return dev_lapic_ack(vm->lapic);
    return dev_pic_ack(vm->pic);
}

/* ---- struct cpu_env_ops over this machine ---- */

static void env_pio(void *ctx, uint16_t port, unsigned size, bool write, uint32_t *val)
{
    vm_pio(ctx, port, size, write, val);
}

static bool env_io_done(void *ctx)
{
    return vm_timers_moved(ctx);
}

static bool env_stop_requested(void *ctx)
{
    struct vm *vm = ctx;
    return __atomic_load_n(&vm->stop_requested, __ATOMIC_ACQUIRE);
}

#define MSR_APIC_BASE    0x1Bu
#define MSR_TSC_DEADLINE 0x6E0u

static int env_msr_read(void *ctx, uint32_t msr, uint64_t *val)
{
    struct vm *vm = ctx;
    switch (msr) {
    case MSR_APIC_BASE:
        *val = dev_lapic_get_base(vm->lapic);
        return 0;
    case MSR_TSC_DEADLINE:
        if (!(vm->cpu->platform & CPU_PLAT_TSC_DEADLINE))
            return -1;
        *val = dev_lapic_get_tsc_deadline(vm->lapic);
        return 0;
    }
    return -1;
}

static int env_msr_write(void *ctx, uint32_t msr, uint64_t val)
{
    struct vm *vm = ctx;
    switch (msr) {
    case MSR_APIC_BASE: {
        int r = dev_lapic_set_base(vm->lapic, val);
        return r < 0 ? -1 : r;
    }
    case MSR_TSC_DEADLINE:
        if (!(vm->cpu->platform & CPU_PLAT_TSC_DEADLINE))
            return -1;
        dev_lapic_set_tsc_deadline(vm->lapic, val);
        return 0;
    }
    return -1;
}

static const struct cpu_env_ops cpu_env = {
    .pio = env_pio,
    .io_done = env_io_done,
    .stop_requested = env_stop_requested,
};

/* The same with a local APIC: its MSRs are the platform's. */
static const struct cpu_env_ops cpu_env_apic = {
    .pio = env_pio,
    .io_done = env_io_done,
    .stop_requested = env_stop_requested,
    .msr_read = env_msr_read,
    .msr_write = env_msr_write,
};

void vm_cpu_env_attach(struct vm *vm, struct cpu *c)
{
    c->env = vm->lapic ? &cpu_env_apic : &cpu_env;
    c->env_ctx = vm;
}
