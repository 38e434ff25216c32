/*
 * vm/display_cli.c — parses the display options (QEMU's spellings where
 * QEMU has them). docs/display.md.
 */
#include "vm/display_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char vm_cli_display_help[] =
    "  -display curses|none   curses: the guest's VGA text screen in this\n"
    "                         terminal, keys to its PS/2 keyboard; none: no\n"
    "                         display (the default; the serial console stays)\n"
    "  -nographic             no display: COM1 on this terminal (the default)\n"
    "  -vga std|none          the standard VGA with Bochs VBE at PCI 00:02.0\n"
    "                         (default std)\n"
    "  -vnc :N                a VNC server for the screen (any mode) on\n"
    "                         127.0.0.1 port 5900+N; keys and mouse to PS/2\n"
    "  --screendump FILE      write the screen as a PNG when the guest stops\n"
    "                         (a binary PPM if FILE ends in .ppm)\n"
    "  --screendump-text FILE write a text-mode screen as UTF-8 text at exit\n";

static const char *fail(char *err, size_t errlen, const char *msg, const char *name,
                        const char *val)
{
    snprintf(err, errlen, "btvm: %s%s%s: %s", name, val ? " " : "", val ? val : "", msg);
    return err;
}

const char *vm_cli_display_option(const char *name, int which, const char *val,
                                  struct vm_options *opt, char *err, size_t errlen)
{
    switch (which) {
    case 0:
        if (!strcmp(val, "curses")) {
            opt->display = VM_DISPLAY_CURSES;
        } else if (!strcmp(val, "none")) {
            opt->display = VM_DISPLAY_NONE;
        } else if (!strcmp(val, "sdl") || !strncmp(val, "sdl,", 4) || !strcmp(val, "gtk")) {
            return fail(err, errlen,
                        "btvm has no window display; use -vnc :N and a VNC viewer "
                        "(docs/display.md)", name, val);
        } else {
            return fail(err, errlen, "expected curses or none", name, val);
        }
        return NULL;
    case 1:
        opt->display = VM_DISPLAY_NONE;
        return NULL;
    case 2: {
        /* QEMU's ":N" (127.0.0.1 here: btvm listens on no other address). */
        const char *p = val;
        if (!strncmp(p, "127.0.0.1:", 10))
            p += 9;
        else if (!strncmp(p, "localhost:", 10))
            p += 9;
        char *end;
        if (p[0] != ':' || p[1] < '0' || p[1] > '9')
            return fail(err, errlen, "expected :N (port 5900+N on 127.0.0.1)", name, val);
        unsigned long n = strtoul(p + 1, &end, 10);
        if (*end || n > 99)
            return fail(err, errlen, "expected :N with N 0..99", name, val);
        opt->vnc = true;
        opt->vnc_display = (unsigned)n;
        return NULL;
    }
    case 3:
        if (!strcmp(val, "std"))
            opt->no_vga = false;
        else if (!strcmp(val, "none"))
            opt->no_vga = true;
        else
            return fail(err, errlen, "expected std or none", name, val);
        return NULL;
    case 4:
    case 5:
        if (!*val)
            return fail(err, errlen, "needs a file name", name, NULL);
        if (which == 4)
            opt->screendump = val;
        else
            opt->screendump_text = val;
        return NULL;
    default:
        return fail(err, errlen, "unknown display option", name, NULL);
    }
}
