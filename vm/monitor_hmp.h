/*
 * vm/monitor_hmp.h — the human monitor (QEMU's -monitor): a Unix socket on
 * which one client at a time types HMP commands (vm/monitor_cmd.h); QMP's
 * human-monitor-command runs the same lines. docs/monitor.md.
 */
#ifndef BTVM_VM_MONITOR_HMP_H
#define BTVM_VM_MONITOR_HMP_H

#include <stdbool.h>
#include <stdio.h>
#include "vm/vm.h"

struct vm_monitor;
struct vm_hmp;

/* Open the socket opt->monitor_path names (*out NULL when it is empty);
 * with opt->monitor_wait, wait for a client. 0, or -1 after printing why. */
int vm_hmp_open(struct vm_hmp **out, struct vm_monitor *mon, const struct vm_options *opt);
/* Remove the socket's file. */
void vm_hmp_close(struct vm_hmp *h);
/* Carry out one HMP line; its answer goes to out, lines ending in "\n".
 * False after quit (the session ends). */
bool vm_hmp_exec(struct vm_monitor *mon, const char *line, FILE *out);

#endif
