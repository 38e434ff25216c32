/*
 * vm/monitor_cmd.c — parses one monitor line. QEMU's HMP spellings:
 * "screendump FILE [-f png|ppm]" (the option may also come first),
 * "info status", "info registers", "system_reset", "system_powerdown",
 * "stop", "cont"/"c", "quit"/"q", "help"/"?". Words are split
 * on blanks; a file name with blanks can be quoted ("..." or '...'), as
 * HMP allows. docs/monitor.md.
 */
#include "vm/monitor_cmd.h"

#include <stdio.h>
#include <string.h>

const char vm_monitor_help[] =
    "cont|c -- resume the paused machine\n"
    "help|? -- show this list\n"
    "info registers -- the CPU's registers\n"
    "info status -- the machine's state\n"
    "quit|q -- stop the machine and end btvm (status 0)\n"
    "screendump FILE [-f png|ppm] -- write the screen to FILE (PNG unless -f ppm or FILE ends in .ppm)\n"
    "stop -- pause the machine\n"
    "system_powerdown -- press the ACPI power button\n"
    "system_reset -- reset the machine (as the guest's reset line does)\n";

#define MAX_WORDS 8

static int fail(char *err, size_t errlen, const char *fmt, const char *a)
{
    snprintf(err, errlen, fmt, a);
    return -1;
}

/* Split into words in buf (NULs between them); -1 on an open quote or too
 * many words. */
static int split(const char *line, char *buf, size_t cap, char **w, int *n)
{
    size_t o = 0;
    const char *p = line;
    *n = 0;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (!*p)
            return 0;
        if (*n == MAX_WORDS)
            return -1;
        w[(*n)++] = buf + o;
        while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            if (*p == '"' || *p == '\'') {
                char q = *p++;
                while (*p && *p != q) {
                    if (o + 1 >= cap)
                        return -1;
                    buf[o++] = *p++;
                }
                if (*p != q)
                    return -1;
                p++;
                continue;
            }
            if (o + 1 >= cap)
                return -1;
            buf[o++] = *p++;
        }
        buf[o++] = 0;
    }
}

static int parse_screendump(char **w, int n, struct vm_monitor_cmd *cmd, char *err,
                            size_t errlen)
{
    const char *file = NULL;
    for (int i = 1; i < n; i++) {
        if (!strcmp(w[i], "-f")) {
            if (++i == n)
                return fail(err, errlen, "screendump: -f needs png or ppm%s", "");
            if (!strcmp(w[i], "png"))
                cmd->format = VM_MON_FMT_PNG;
            else if (!strcmp(w[i], "ppm"))
                cmd->format = VM_MON_FMT_PPM;
            else
                return fail(err, errlen, "screendump: format '%s': expected png or ppm", w[i]);
        } else if (w[i][0] == '-' && w[i][1]) {
            return fail(err, errlen, "screendump: unknown option '%s' (only -f png|ppm)", w[i]);
        } else if (file) {
            /* QEMU's device/head arguments: btvm has one display. */
            return fail(err, errlen, "screendump: extra argument '%s' (btvm has one display)",
                        w[i]);
        } else {
            file = w[i];
        }
    }
    if (!file || !*file)
        return fail(err, errlen, "screendump: needs a file name%s", "");
    snprintf(cmd->file, sizeof(cmd->file), "%s", file);
    cmd->op = VM_MON_SCREENDUMP;
    return 0;
}

int vm_monitor_parse(const char *line, struct vm_monitor_cmd *cmd, char *err, size_t errlen)
{
    char buf[VM_MONITOR_LINE_MAX];
    char *w[MAX_WORDS];
    int n;
    memset(cmd, 0, sizeof(*cmd));
    if (strlen(line) >= sizeof(buf))
        return fail(err, errlen, "line too long%s", "");
    if (split(line, buf, sizeof(buf), w, &n))
        return fail(err, errlen, "unbalanced quotes or too many arguments%s", "");
    if (n == 0) {
        cmd->op = VM_MON_NOTHING;
        return 0;
    }
    const char *c = w[0];
    bool bare = n == 1;
    if (!strcmp(c, "help") || !strcmp(c, "?")) {
        cmd->op = VM_MON_HELP; /* QEMU's "help CMD" narrows; the list is short */
        return 0;
    }
    if (!strcmp(c, "info")) {
        if (bare) {
            cmd->op = VM_MON_INFO;
            return 0;
        }
        if (n == 2 && !strcmp(w[1], "status")) {
            cmd->op = VM_MON_INFO_STATUS;
            return 0;
        }
        if (n == 2 && !strcmp(w[1], "registers")) {
            cmd->op = VM_MON_INFO_REGISTERS;
            return 0;
        }
        return fail(err, errlen, "info: unknown topic '%s' (try 'info')", w[1]);
    }
    if (!strcmp(c, "screendump"))
        return parse_screendump(w, n, cmd, err, errlen);
    static const struct { const char *name; enum vm_monitor_op op; } bare_cmds[] = {
        { "system_reset", VM_MON_SYSTEM_RESET }, { "system_powerdown", VM_MON_SYSTEM_POWERDOWN },
        { "stop", VM_MON_STOP }, { "cont", VM_MON_CONT }, { "c", VM_MON_CONT },
        { "quit", VM_MON_QUIT }, { "q", VM_MON_QUIT },
    };
    for (size_t i = 0; i < sizeof(bare_cmds) / sizeof(bare_cmds[0]); i++) {
        if (strcmp(c, bare_cmds[i].name))
            continue;
        if (!bare)
            return fail(err, errlen, "%s: takes no arguments", c);
        cmd->op = bare_cmds[i].op;
        return 0;
    }
    return fail(err, errlen, "unknown command: '%s' (try 'help')", c);
}
