/*
 * vm/monitor.h — the monitors' common part: what the human monitor
 * (-monitor, vm/monitor_hmp.c) and QMP (-qmp, vm/qmp.c) do to the machine.
 * It outlives machine rebuilds after a guest reset: main() attaches each
 * machine while it runs. It carries commands that read the machine to the
 * vcpu thread, pauses the machine (stop/cont) and tells QMP what happened
 * (events). docs/monitor.md.
 */
#ifndef BTVM_VM_MONITOR_H
#define BTVM_VM_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include "vm/vm.h"

struct vm_machine;
struct vm_monitor;
struct vm_monitor_cmd;

/* Open the monitors the options ask for (-monitor, -qmp; *out NULL when
 * none); with their wait mode, block until a client connects. Call after
 * vm_signals_init (it starts threads). 0, or -1 after printing why. */
int vm_monitor_open(struct vm_monitor **out, const struct vm_options *opt);
/* The machine the commands act on (NULL: none running; a command waiting
 * for it then fails). Attach after vm_machine_create, detach after
 * vm_run and before vm_machine_destroy. Attach on the vcpu thread. */
void vm_monitor_attach(struct vm_monitor *mon, struct vm_machine *m);
/* After a run and its detach: the RESET event when main() boots the
 * machine again (reboot), else SHUTDOWN; vm is the machine that ran. */
void vm_monitor_run_ended(struct vm_monitor *mon, const struct vm *vm, bool reboot);
/* On the vcpu thread (vm_poll_input, after vm_kick): carry out a command
 * that reads the machine; while the machine is paused, stay here (serving
 * commands) until cont, or a stop request (quit, reset, a signal). */
void vm_monitor_poll(struct vm_monitor *mon);
/* Whether quit was asked for (main() then builds no new machine). */
bool vm_monitor_quit_requested(struct vm_monitor *mon);
/* Close the sockets' files (the process is ending). */
void vm_monitor_close(struct vm_monitor *mon);
/* The common part alone, no socket (vm_monitor_open's first step; unit
 * tests drive it directly). NULL when out of memory. */
struct vm_monitor *vm_monitor_new(void);

/* ---- For the monitors (any thread but the vcpu's) ---- */

/* QEMU's RunState names this machine can be in. */
enum vm_run_state { VM_RUN_RUNNING, VM_RUN_PAUSED, VM_RUN_PRELAUNCH, VM_RUN_SHUTDOWN };
enum vm_run_state vm_monitor_state(struct vm_monitor *mon);
const char *vm_run_state_name(enum vm_run_state s);

/* Carry out cmd (VM_MON_SCREENDUMP, VM_MON_INFO_REGISTERS,
 * VM_MON_SYSTEM_POWERDOWN) on the vcpu thread and wait; 0 or -errno
 * (-ESRCH: no machine). info registers' text goes to text. */
int vm_monitor_call(struct vm_monitor *mon, const struct vm_monitor_cmd *cmd, char *text,
                    size_t cap);
/* Pause at the next instruction boundary and wait until the vcpu stopped
 * (STOP event); nothing when already paused. */
void vm_monitor_stop(struct vm_monitor *mon);
/* Let a paused machine go on (RESUME event); nothing when running. */
void vm_monitor_cont(struct vm_monitor *mon);
/* The machine is built again (system_reset); -ESRCH with no machine. */
int vm_monitor_reset(struct vm_monitor *mon);
/* Stop the machine and end btvm with status 0. */
void vm_monitor_quit(struct vm_monitor *mon);
/* Press the ACPI power button (POWERDOWN event); -ESRCH with no machine. */
int vm_monitor_powerdown(struct vm_monitor *mon);
/* The vcpu thread's Linux thread id (query-cpus-fast), 0 before a run. */
int vm_monitor_vcpu_tid(struct vm_monitor *mon);

/* Events, as QMP names them. */
enum vm_monitor_event {
    VM_MON_EV_STOP, VM_MON_EV_RESUME, VM_MON_EV_RESET, VM_MON_EV_SHUTDOWN, VM_MON_EV_POWERDOWN,
};
/* Who gets them (one: QMP). guest and reason only for RESET and SHUTDOWN. */
typedef void vm_monitor_event_fn(void *ctx, enum vm_monitor_event ev, bool guest,
                                 const char *reason);
void vm_monitor_set_event_sink(struct vm_monitor *mon, vm_monitor_event_fn *fn, void *ctx);
/* QEMU's ShutdownCause name for a cause, and whether the guest caused it. */
const char *vm_stop_cause_name(int cause, bool *guest);

#endif
