/*
 * vm/qmp.h — QMP, QEMU's JSON monitor (-qmp unix:PATH,server=on): one
 * client at a time sends commands and gets answers and events.
 * docs/monitor.md.
 */
#ifndef BTVM_VM_QMP_H
#define BTVM_VM_QMP_H

#include "vm/vm.h"

struct vm_monitor;
struct vm_qmp;

/* Open the socket opt->qmp_path names (*out NULL when it is empty) and
 * take the monitor's events; with opt->qmp_wait, wait for a client. 0, or
 * -1 after printing why. */
int vm_qmp_open(struct vm_qmp **out, struct vm_monitor *mon, const struct vm_options *opt);
/* Remove the socket's file. */
void vm_qmp_close(struct vm_qmp *q);

#endif
