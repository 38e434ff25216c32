/*
 * vm/signals.h — orderly termination on SIGTERM, SIGINT and SIGHUP
 * (vm/signals.c).
 */
#ifndef BTVM_VM_SIGNALS_H
#define BTVM_VM_SIGNALS_H

#include "vm/vm.h"

/* Block the three signals and start the thread that takes them; call first
 * in main(), before any other thread exists. 0 or -1. */
int vm_signals_init(void);
/* The machine a signal stops (NULL: none; a signal then ends btvm at once).
 * Attach once it runs, detach before it is destroyed. */
void vm_signals_attach(struct vm *vm);

#endif
