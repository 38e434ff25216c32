/*
 * vm/monitor_cli.c — parses -monitor and -qmp: none, unix:PATH,server[,nowait]
 * (QEMU's keys server[=on|off], nowait, wait=on|off), and refuses stdio,
 * which btvm cannot give: the terminal is the serial console (or the
 * curses display), and btvm does not multiplex it as QEMU's mux chardev
 * does; and other chardevs (tcp:, ...). docs/monitor.md.
 */
#include "vm/monitor_cli.h"

#include <stdio.h>
#include <string.h>
#include <sys/un.h>

const char vm_cli_monitor_help[] =
    "  -monitor unix:PATH,server[,nowait]  a monitor (HMP commands: help, screendump,\n"
    "                         info status|registers, stop, cont, system_powerdown,\n"
    "                         system_reset, quit) on a Unix socket; without nowait\n"
    "                         btvm waits for a client\n"
    "  -monitor none          no monitor (the default)\n"
    "  -qmp unix:PATH,server=on[,wait=off]  QMP, QEMU's JSON monitor (docs/monitor.md)\n"
    "                         on a Unix socket; without wait=off btvm waits for a client\n"
    "  -S                     start paused (\"prelaunch\") until a monitor's cont\n";

static const char *fail(char *err, size_t errlen, const char *name, const char *val,
                        const char *msg)
{
    snprintf(err, errlen, "btvm: %s %s: %s", name, val, msg);
    return err;
}

/* A monitor's socket: path (sun_path sized) and wait. */
static const char *unix_server(const char *name, const char *val, char *out_path, bool *out_wait,
                               char *err, size_t errlen)
{
    if (!strcmp(val, "none")) {
        out_path[0] = 0;
        return NULL;
    }
    if (!strcmp(val, "stdio") || !strncmp(val, "stdio,", 6) || !strncmp(val, "mon:", 4))
        return fail(err, errlen, name, val,
                    "the terminal is the serial console (or the curses display) and btvm "
                    "does not multiplex it; use unix:PATH,server,nowait");
    if (strncmp(val, "unix:", 5))
        return fail(err, errlen, name, val,
                    "only Unix sockets: expected unix:PATH,server[,nowait] or none "
                    "(docs/monitor.md)");
    const char *path = val + 5;
    const char *comma = strchr(path, ',');
    size_t plen = comma ? (size_t)(comma - path) : strlen(path);
    if (plen == 0)
        return fail(err, errlen, name, val, "needs a socket path");
    if (plen >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return fail(err, errlen, name, val, "socket path too long for a Unix socket");
    bool server = false, wait = true;
    const char *k = comma;
    while (k) {
        k++;
        const char *e = strchr(k, ',');
        size_t n = e ? (size_t)(e - k) : strlen(k);
#define IS(s) (n == strlen(s) && !strncmp(k, s, n))
        if (IS("server") || IS("server=on"))
            server = true;
        else if (IS("server=off"))
            server = false;
        else if (IS("nowait") || IS("wait=off"))
            wait = false;
        else if (IS("wait") || IS("wait=on"))
            wait = true;
        else
            return fail(err, errlen, name, val,
                        "unknown key (expected server, nowait, wait=on|off)");
#undef IS
        k = e;
    }
    if (!server)
        return fail(err, errlen, name, val,
                    "btvm's monitor listens: add ,server (connecting out is not supported)");
    memcpy(out_path, path, plen);
    out_path[plen] = 0;
    *out_wait = wait;
    return NULL;
}

_Static_assert(sizeof(((struct vm_options *)0)->monitor_path) ==
                   sizeof(((struct sockaddr_un *)0)->sun_path),
               "monitor_path holds a sun_path");
_Static_assert(sizeof(((struct vm_options *)0)->qmp_path) ==
                   sizeof(((struct sockaddr_un *)0)->sun_path),
               "qmp_path holds a sun_path");

const char *vm_cli_monitor_option(const char *name, const char *val, struct vm_options *opt,
                                  char *err, size_t errlen)
{
    return unix_server(name, val, opt->monitor_path, &opt->monitor_wait, err, errlen);
}

const char *vm_cli_qmp_option(const char *name, const char *val, struct vm_options *opt,
                              char *err, size_t errlen)
{
    return unix_server(name, val, opt->qmp_path, &opt->qmp_wait, err, errlen);
}
