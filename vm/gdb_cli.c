/*
 * vm/gdb_cli.c — parses -gdb (see gdb_cli.h). Only TCP on a loopback
 * address: whoever connects controls the guest completely (reads and
 * writes its memory), and btvm has no authentication, so it does not
 * listen where other hosts can reach it. QEMU's other chardevs (stdio,
 * unix:, pipes) and chardev options are refused by name.
 */
#include "vm/gdb_cli.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char vm_cli_gdb_help[] =
    "  -gdb tcp:[HOST]:PORT   a gdb remote stub on HOST (loopback only, default\n"
    "                         127.0.0.1) port PORT: target remote :PORT\n"
    "  -s                     the same as -gdb tcp::1234\n"
    "  -S                     do not start the guest until gdb continues it\n";

static const char *fail(char *err, size_t errlen, const char *name, const char *val,
                        const char *msg)
{
    snprintf(err, errlen, "btvm: %s %s: %s", name, val, msg);
    return err;
}

const char *vm_cli_gdb_option(const char *name, const char *val, struct vm_options *opt,
                              char *err, size_t errlen)
{
    if (!strcmp(val, "none")) {
        opt->gdb = false;
        return NULL;
    }
    if (strncmp(val, "tcp:", 4))
        return fail(err, errlen, name, val,
                    "only tcp:[HOST]:PORT is supported (no stdio, unix: or other chardevs)");
    if (strchr(val, ','))
        return fail(err, errlen, name, val,
                    "chardev options (,server, ,wait, ...) are not supported: btvm always "
                    "listens and never waits for gdb (use -S)");
    const char *host = val + 4;
    const char *colon = strrchr(host, ':');
    if (!colon)
        return fail(err, errlen, name, val, "expected tcp:[HOST]:PORT");
    char *end;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (colon[1] < '0' || colon[1] > '9' || *end || port == 0 || port > 65535)
        return fail(err, errlen, name, val, "PORT must be a number from 1 to 65535");
    size_t hl = (size_t)(colon - host);
    char h[64];
    if (hl >= sizeof(h))
        return fail(err, errlen, name, val, "host name too long");
    memcpy(h, host, hl);
    h[hl] = 0;
    struct in_addr a;
    if (hl == 0 || !strcmp(h, "localhost"))
        a.s_addr = htonl(0x7F000001u);
    else if (inet_pton(AF_INET, h, &a) != 1)
        return fail(err, errlen, name, val,
                    "HOST must be an IPv4 loopback address (127.x.x.x) or localhost");
    if ((ntohl(a.s_addr) >> 24) != 127)
        return fail(err, errlen, name, val,
                    "btvm listens for gdb on loopback addresses only (127.x.x.x, localhost): "
                    "whoever connects controls the guest");
    opt->gdb = true;
    opt->gdb_addr = ntohl(a.s_addr);
    opt->gdb_port = (uint16_t)port;
    return NULL;
}
