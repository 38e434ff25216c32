/*
 * vm/monitor_cmd.h — the monitor's command line: one line of QEMU's HMP
 * syntax to a command (pure; no machine). docs/monitor.md.
 */
#ifndef BTVM_VM_MONITOR_CMD_H
#define BTVM_VM_MONITOR_CMD_H

#include <stdbool.h>
#include <stddef.h>

#define VM_MONITOR_LINE_MAX 4096u /* a command line, NUL included */

enum vm_monitor_op {
    VM_MON_NOTHING,        /* an empty line */
    VM_MON_HELP,           /* help, ? */
    VM_MON_INFO,           /* info with no topic: the topics */
    VM_MON_INFO_STATUS,    /* info status */
    VM_MON_INFO_REGISTERS, /* info registers: the vcpu's state */
    VM_MON_SCREENDUMP,     /* screendump FILE [-f png|ppm] */
    VM_MON_SYSTEM_RESET,   /* system_reset */
    VM_MON_SYSTEM_POWERDOWN, /* system_powerdown: the ACPI power button */
    VM_MON_STOP,           /* stop: pause the machine */
    VM_MON_CONT,           /* cont, c: let it go on */
    VM_MON_QUIT,           /* quit, q */
};

enum vm_monitor_fmt { VM_MON_FMT_AUTO, VM_MON_FMT_PNG, VM_MON_FMT_PPM };

struct vm_monitor_cmd {
    enum vm_monitor_op op;
    enum vm_monitor_fmt format;          /* screendump; AUTO: by the file name */
    char file[VM_MONITOR_LINE_MAX];      /* screendump */
};

/* Parse line (no newline needed; trailing \r\n ignored). 0, or -1 with a
 * one-line reason in err (no newline). */
int vm_monitor_parse(const char *line, struct vm_monitor_cmd *cmd, char *err, size_t errlen);

/* The help text, one command a line. */
extern const char vm_monitor_help[];

#endif
