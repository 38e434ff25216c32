/*
 * vm/gdb_cli.h — the gdb stub's options, QEMU's spellings: -s, -gdb
 * tcp:[HOST]:PORT, -S. docs/gdb.md.
 */
#ifndef BTVM_VM_GDB_CLI_H
#define BTVM_VM_GDB_CLI_H

#include <stddef.h>
#include "vm/vm.h"

#define VM_GDB_DEFAULT_PORT 1234

extern const char vm_cli_gdb_help[];

/* -gdb VAL into opt ("none" turns the stub off); NULL, or err filled with
 * a one-line reason. -s is -gdb tcp::1234. */
const char *vm_cli_gdb_option(const char *name, const char *val, struct vm_options *opt,
                              char *err, size_t errlen);

#endif
