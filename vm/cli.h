/*
 * vm/cli.h — btvm's command line.
 *
 * The parser is a pure function (argv in, options or one error line out) so
 * unit tests can drive it without a process exit; main() prints the line and
 * exits with status 2.
 */
#ifndef BTVM_VM_CLI_H
#define BTVM_VM_CLI_H

#include <stddef.h>
#include <stdio.h>
#include "vm/vm.h"

#ifndef BTVM_VERSION
#define BTVM_VERSION "0.1"               /* MAJOR.MINOR[.MICRO] (QMP's query-version) */
#endif

#define VM_MEM_MIB_DEFAULT   128u
#define VM_MEM_MIB_MIN       2u
#define VM_MEM_MIB_MAX       3072u       /* leaves 1 GiB below 4 GiB for devices */
#define VM_CODE_CACHE_DEFAULT (64u << 20)
#define VM_CODE_CACHE_KIB_MIN 16u        /* small enough to test flushing */
#define VM_CODE_CACHE_KIB_MAX (1u << 20) /* 1 GiB: keeps rel32 jumps inside the cache */
#define VM_BIOS_DEFAULT      "/usr/share/seabios/bios-256k.bin" /* Debian's seabios */
#define VM_CLI_FILE_MAX      4096u       /* a -drive file name, NUL included (PATH_MAX) */

enum vm_cli_cmd { VM_CLI_RUN, VM_CLI_HELP, VM_CLI_VERSION };

struct vm_cli {
    enum vm_cli_cmd cmd;
    /* Strings point into argv, except a -drive file name: it is unescaped
     * (",," is a comma) into drive_file[its index] (virtio_drive_file[n]
     * for the n-th if=virtio drive). */
    struct vm_options opt;
    char drive_file[VM_MAX_DRIVES][VM_CLI_FILE_MAX];
    char virtio_drive_file[VM_MAX_VIRTIO_DRIVES][VM_CLI_FILE_MAX];
};

/* Parse argv (argv[0] is the program name). Returns NULL on success, or
 * err (filled with one line, no newline, starting "btvm: ") on failure. */
const char *vm_cli_parse(int argc, char *const argv[], struct vm_cli *out, char *err,
                         size_t errlen);

/* Fill opt with the defaults. */
void vm_cli_defaults(struct vm_options *opt);

void vm_cli_usage(FILE *f);
void vm_cli_version(FILE *f);

#endif
