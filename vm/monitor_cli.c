/*
 * vm/monitor_cli.c — parses -monitor: none, unix:PATH,server[,nowait]
 * (QEMU's keys server[=on|off], nowait, wait=on|off), and refuses stdio,
 * which btvm cannot give: the terminal is the serial console (or the
 * curses display), and btvm does not multiplex it as QEMU's mux chardev
 * does. docs/monitor.md.
 */
#include "vm/monitor_cli.h"

#include <stdio.h>
#include <string.h>
#include <sys/un.h>

const char vm_cli_monitor_help[] =
    "  -monitor unix:PATH,server[,nowait]  a monitor (HMP commands: help,\n"
    "                         screendump, info status, system_reset, quit) on a\n"
    "                         Unix socket; without nowait btvm waits for a client\n"
    "  -monitor none          no monitor (the default)\n";

static const char *fail(char *err, size_t errlen, const char *name, const char *val,
                        const char *msg)
{
    snprintf(err, errlen, "btvm: %s %s: %s", name, val, msg);
    return err;
}

const char *vm_cli_monitor_option(const char *name, const char *val, struct vm_options *opt,
                                  char *err, size_t errlen)
{
    if (!strcmp(val, "none")) {
        opt->monitor_path[0] = 0;
        return NULL;
    }
    if (!strcmp(val, "stdio") || !strncmp(val, "stdio,", 6) || !strncmp(val, "mon:", 4))
        return fail(err, errlen, name, val,
                    "the terminal is the serial console (or the curses display) and btvm "
                    "does not multiplex it; use -monitor unix:PATH,server,nowait");
    if (strncmp(val, "unix:", 5))
        return fail(err, errlen, name, val,
                    "expected unix:PATH,server[,nowait] or none (docs/monitor.md)");
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
    _Static_assert(sizeof(opt->monitor_path) == sizeof(((struct sockaddr_un *)0)->sun_path),
                   "monitor_path holds a sun_path");
    memcpy(opt->monitor_path, path, plen);
    opt->monitor_path[plen] = 0;
    opt->monitor_wait = wait;
    return NULL;
}
