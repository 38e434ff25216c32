/*
 * vm/monitor.h — the human monitor (QEMU's -monitor): a Unix socket on
 * which one client at a time types HMP commands (vm/monitor_cmd.h). It
 * outlives machine rebuilds after a guest reset: main() attaches each
 * machine while it runs. docs/monitor.md.
 */
#ifndef BTVM_VM_MONITOR_H
#define BTVM_VM_MONITOR_H

#include "vm/vm.h"

struct dev_vga;
struct vm_monitor;

/* Open the monitor opt->monitor_path names (*out NULL when it is
 * empty); with opt->monitor_wait, block until a client connects. Call after
 * vm_signals_init (it starts a thread). 0, or -1 after printing why. */
int vm_monitor_open(struct vm_monitor **out, const struct vm_options *opt);
/* The machine the commands act on (NULL: none running; a command waiting
 * for it then fails). Attach after vm_machine_create, detach after
 * vm_run and before vm_machine_destroy. */
void vm_monitor_attach(struct vm_monitor *mon, struct vm *vm, struct dev_vga *vga);
/* On the vcpu thread (vm_poll_input, after vm_kick): carry out a command
 * that reads the machine. */
void vm_monitor_poll(struct vm_monitor *mon);
/* Whether quit was typed (main() then builds no new machine). */
bool vm_monitor_quit_requested(struct vm_monitor *mon);
/* Close the socket and remove its file. */
void vm_monitor_close(struct vm_monitor *mon);

#endif
