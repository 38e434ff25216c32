/*
 * vm/main.c — btvm's entry point: parse the command line, build the
 * machine, run it, exit with its status. Kept alone in this file because
 * the unit tests link everything else (tests/module.mk leaves it out).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "vm/cli.h"
#include "vm/gdbstub.h"
#include "vm/machine.h"
#include "vm/monitor.h"
#include "vm/popek.h"
#include "vm/signals.h"

int main(int argc, char **argv)
{
    static struct vm_machine m;
    struct vm_cli cli;
    char err[512];

    if (argc >= 2 && !strcmp(argv[1], "popek")) /* teaching table: vm/popek.c */
        return vm_popek_main(argc - 1, argv + 1);
    if (vm_cli_parse(argc, argv, &cli, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        return VM_STATUS_BAD_INPUT;
    }
    if (cli.cmd == VM_CLI_HELP) {
        vm_cli_usage(stdout);
        return 0;
    }
    if (cli.cmd == VM_CLI_VERSION) {
        vm_cli_version(stdout);
        return 0;
    }
    if (vm_signals_init() != 0) {
        fprintf(stderr, "btvm: cannot set up signal handling\n");
        return VM_STATUS_HOST_ERROR;
    }
    struct vm_monitor *mon;
    if (vm_monitor_open(&mon, &cli.opt))
        return VM_STATUS_HOST_ERROR;
    struct vm_gdb *gdb;
    if (vm_gdb_open(&gdb, &cli.opt))
        return VM_STATUS_HOST_ERROR;
    /* A guest reset (i8042 pulse, 0xCF9, the ACPI reset register) builds
     * the machine again from the same files, as QEMU does for -kernel:
     * fresh RAM, kernel and initrd loaded anew, devices at power-on.
     * --no-reboot ends btvm with VM_STATUS_RESET instead. */
    for (;;) {
        int status = vm_machine_create(&m, &cli.opt);
        bool ran = status == 0;
        if (ran) {
            vm_signals_attach(&m.vm);
            vm_monitor_attach(mon, &m);
            vm_gdb_attach(gdb, &m.vm);
            status = vm_run(&m.vm);
            vm_gdb_attach(gdb, NULL);
            vm_monitor_attach(mon, NULL);
            vm_signals_attach(NULL);
        }
        bool again = status == VM_STATUS_RESET && m.vm.reset_requested && !cli.opt.no_reboot &&
                     !vm_monitor_quit_requested(mon);
        if (ran) /* QMP's SHUTDOWN or RESET */
            vm_monitor_run_ended(mon, &m.vm, again);
        vm_machine_destroy(&m);
        fflush(stdout);
        if (!again) {
            vm_gdb_close(gdb, status);
            vm_monitor_close(mon);
            return status;
        }
    }
}
