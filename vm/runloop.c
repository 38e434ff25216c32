/*
 * vm/runloop.c — the run loop: lets the engine run guest code, turns each
 * struct vm_exit into an outcome (keep going or stop with an exit status),
 * then gives the terminal back and reports why the guest stopped and, with
 * --stats, the counters. One switch on the exit kind, as in a KVM loop.
 */
#include "vm/machine.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cpu/cpu.h"
#include "devices/bus.h"
#include "vm/console.h"
#include "vm/gdbstub.h"

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* How many (port, direction) pairs --stats lists, most used first. */
#define TOP_PORTS 10

static void print_stats(struct vm *vm, int status, double seconds)
{
    struct dev_bus_stats bs;
    bool json = vm->opt.stats_json;

    struct dev_bus_port_count top[TOP_PORTS];
    memset(&bs, 0, sizeof(bs));
    dev_bus_get_stats(vm->bus, &bs);
    size_t ntop = dev_bus_top_ports(vm->bus, top, TOP_PORTS);
    if (json) {
        fprintf(stderr,
                "{\"engine\":\"%s\",\"exit_status\":%d,\"seconds\":%.6f,"
                "\"bus\":{\"pio\":%llu,\"mmio\":%llu,\"unclaimed_pio_reads\":%llu,"
                "\"unclaimed_pio_writes\":%llu,\"unclaimed_mmio_reads\":%llu,"
                "\"unclaimed_mmio_writes\":%llu}",
                vm->engine->name, status, seconds, (unsigned long long)bs.pio,
                (unsigned long long)bs.mmio, (unsigned long long)bs.unclaimed_pio_reads,
                (unsigned long long)bs.unclaimed_pio_writes,
                (unsigned long long)bs.unclaimed_mmio_reads,
                (unsigned long long)bs.unclaimed_mmio_writes);
        fputs(",\"ports\":[", stderr);
        for (size_t i = 0; i < ntop; i++)
            fprintf(stderr, "%s{\"port\":%u,\"dir\":\"%s\",\"count\":%u,\"device\":\"%s\"}",
                    i ? "," : "", top[i].port, top[i].write ? "out" : "in", top[i].count,
                    top[i].name ? top[i].name : "");
        fputs("],\"engine_stats\":", stderr);
        fflush(stderr);
        if (vm->engine->print_stats)
            vm->engine->print_stats(vm, stderr, true);
        else
            fputs("{}", stderr);
        fputs("}\n", stderr);
    } else {
        fprintf(stderr, "btvm: stats: engine %s, exit status %d, %.3f s\n", vm->engine->name,
                status, seconds);
        fprintf(stderr,
                "btvm: stats: port I/O %llu (unclaimed: %llu reads, %llu writes), "
                "MMIO %llu (unclaimed: %llu reads, %llu writes)\n",
                (unsigned long long)bs.pio, (unsigned long long)bs.unclaimed_pio_reads,
                (unsigned long long)bs.unclaimed_pio_writes, (unsigned long long)bs.mmio,
                (unsigned long long)bs.unclaimed_mmio_reads,
                (unsigned long long)bs.unclaimed_mmio_writes);
        if (ntop) {
            fputs("btvm: stats: most used ports:", stderr);
            for (size_t i = 0; i < ntop; i++)
                fprintf(stderr, "%s %s %#x %u (%s)", i ? "," : "", top[i].write ? "out" : "in",
                        top[i].port, top[i].count, top[i].name ? top[i].name : "unclaimed");
            fputc('\n', stderr);
        }
        if (vm->engine->print_stats)
            vm->engine->print_stats(vm, stderr, false);
    }
    fflush(stderr);
}

int vm_run(struct vm *vm)
{
    struct vm_exit ex;
    char msg[sizeof(ex.msg) + 96] = "";
    bool dump = false;
    int status = -1;
    double t0 = now_seconds();
    if (vm->opt.stats)
        dev_bus_count_ports(vm->bus); /* without the memory: totals only */

    while (status < 0) {
        memset(&ex, 0, sizeof(ex));
        vm->engine->run(vm, &ex);
        switch (ex.kind) {
        case VM_EXIT_STOP:
            status = vm->stop_status;
            break;
        case VM_EXIT_HLT:
            snprintf(msg, sizeof(msg),
                     "btvm: guest halted with interrupts disabled at EIP %08x", ex.eip);
            status = VM_STATUS_HALTED;
            vm->stop_cause = VM_CAUSE_GUEST_SHUTDOWN;
            break;
        case VM_EXIT_SHUTDOWN:
            snprintf(msg, sizeof(msg), "btvm: triple fault at EIP %08x, guest shut down%s%s",
                     ex.eip, ex.msg[0] ? ": " : "", ex.msg);
            dump = true;
            status = VM_STATUS_TRIPLE_FAULT;
            vm->stop_cause = VM_CAUSE_GUEST_RESET; /* QEMU's -no-reboot says so */
            break;
        case VM_EXIT_UNSUPPORTED:
            snprintf(msg, sizeof(msg), "btvm: %s at EIP %08x",
                     ex.msg[0] ? ex.msg : "unsupported guest operation", ex.eip);
            status = VM_STATUS_UNSUPPORTED;
            vm->stop_cause = VM_CAUSE_HOST_ERROR;
            break;
        case VM_EXIT_DEBUG:
            if (vm->gdb) {
                vm_gdb_park(vm->gdb, vm); /* until the debugger resumes the guest */
                break;
            }
            snprintf(msg, sizeof(msg), "btvm: engine stopped for a debugger at EIP %08x, but none is attached",
                     ex.eip);
            status = VM_STATUS_HOST_ERROR;
            break;
        case VM_EXIT_ERROR:
            snprintf(msg, sizeof(msg), "btvm: %s (guest EIP %08x)",
                     ex.msg[0] ? ex.msg : "engine error", ex.eip);
            status = VM_STATUS_HOST_ERROR;
            vm->stop_cause = VM_CAUSE_HOST_ERROR;
            break;
        default:
            snprintf(msg, sizeof(msg), "btvm: engine returned unknown exit kind %d at EIP %08x",
                     (int)ex.kind, ex.eip);
            status = VM_STATUS_HOST_ERROR;
            vm->stop_cause = VM_CAUSE_HOST_ERROR;
            break;
        }
    }
    double seconds = now_seconds() - t0;

    /* Raw mode off before we write lines of our own. */
    vm_console_close();
    if (msg[0])
        fprintf(stderr, "%s\n", msg);
    if (dump)
        cpu_dump(vm->cpu, stderr);
    if (vm->opt.stats)
        print_stats(vm, status, seconds);
    return status & 0xff;
}
