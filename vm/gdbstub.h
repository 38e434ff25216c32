/*
 * vm/gdbstub.h — the gdb remote stub (QEMU's -s / -gdb / -S): a TCP
 * listener on a loopback address, one debugger at a time. Like the
 * monitor it outlives machine rebuilds after a guest reset. docs/gdb.md.
 */
#ifndef BTVM_VM_GDBSTUB_H
#define BTVM_VM_GDBSTUB_H

#include "vm/vm.h"

struct vm_gdb;

/* Listen where opt says (*out NULL without -s/-gdb); starts the stub's
 * thread. 0, or -1 after printing why. */
int vm_gdb_open(struct vm_gdb **out, const struct vm_options *opt);
/* The machine the debugger acts on (NULL: none). Attach after
 * vm_machine_create and before vm_run (with -S the first machine then
 * stops before its first instruction); detach after vm_run. */
void vm_gdb_attach(struct vm_gdb *g, struct vm *vm);
/* vcpu thread, at VM_EXIT_DEBUG (vm/runloop.c): report the stop and wait
 * until the debugger resumes the guest. */
void vm_gdb_park(struct vm_gdb *g, struct vm *vm);
/* btvm ends with status: tell the debugger the process exited ("W")
 * and close the connection. */
void vm_gdb_close(struct vm_gdb *g, int status);

#endif
