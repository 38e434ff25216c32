/*
 * vm/monitor_cli.h — the -monitor and -qmp options (QEMU's spelling).
 * docs/monitor.md.
 */
#ifndef BTVM_VM_MONITOR_CLI_H
#define BTVM_VM_MONITOR_CLI_H

#include <stddef.h>
#include "vm/vm.h"

extern const char vm_cli_monitor_help[];

/* -monitor VAL into opt; NULL, or err filled with a one-line reason. */
const char *vm_cli_monitor_option(const char *name, const char *val, struct vm_options *opt,
                                  char *err, size_t errlen);
/* -qmp VAL, the same syntax. */
const char *vm_cli_qmp_option(const char *name, const char *val, struct vm_options *opt,
                              char *err, size_t errlen);

#endif
