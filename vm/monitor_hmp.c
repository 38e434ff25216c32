/*
 * vm/monitor_hmp.c — the human monitor's sessions: a banner, then a line
 * per command (vm/monitor_cmd.c parses it) answered in text after a
 * prompt; what the commands do to the machine is vm/monitor.c's.
 * docs/monitor.md.
 */
#include "vm/monitor_hmp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "vm/monitor.h"
#include "vm/monitor_cmd.h"
#include "vm/monitor_sock.h"

static const char banner[] = "btvm monitor - type 'help' for more information\n";
static const char prompt[] = "(btvm) ";

struct vm_hmp {
    struct vm_monitor *mon;
    struct vm_monitor_sock *sock;
};

bool vm_hmp_exec(struct vm_monitor *mon, const char *line, FILE *out)
{
    struct vm_monitor_cmd *cmd = malloc(sizeof(*cmd));
    char err[256];
    if (!cmd) {
        fputs("out of memory\n", out);
        return true;
    }
    if (vm_monitor_parse(line, cmd, err, sizeof(err))) {
        fprintf(out, "%s\n", err);
        free(cmd);
        return true;
    }
    bool more = true;
    int r;
    switch (cmd->op) {
    case VM_MON_NOTHING:
        break;
    case VM_MON_HELP:
        fputs(vm_monitor_help, out);
        break;
    case VM_MON_INFO:
        fputs("info registers -- the CPU's registers\n"
              "info status -- the machine's state\n", out);
        break;
    case VM_MON_INFO_STATUS:
        /* QEMU's wording. */
        fprintf(out, "VM status: %s\n", vm_run_state_name(vm_monitor_state(mon)));
        break;
    case VM_MON_SCREENDUMP:
        r = vm_monitor_call(mon, cmd, NULL, 0);
        if (r == -ESRCH)
            fputs("screendump: no machine is running\n", out);
        else if (r)
            fprintf(out, "screendump: %s: %s\n", cmd->file, strerror(-r));
        break;
    case VM_MON_INFO_REGISTERS: {
        char *text = calloc(1, 4096);
        r = text ? vm_monitor_call(mon, cmd, text, 4096) : -ENOMEM;
        if (r == -ESRCH)
            fputs("info registers: no machine is running\n", out);
        else if (r)
            fprintf(out, "info registers: %s\n", strerror(-r));
        else
            fputs(text, out);
        free(text);
        break;
    }
    case VM_MON_SYSTEM_RESET:
        if (vm_monitor_reset(mon))
            fputs("system_reset: no machine is running\n", out);
        break;
    case VM_MON_SYSTEM_POWERDOWN:
        r = vm_monitor_powerdown(mon);
        if (r)
            fprintf(out, "system_powerdown: %s\n",
                    r == -ESRCH ? "no machine is running" : strerror(-r));
        break;
    case VM_MON_STOP:
        vm_monitor_stop(mon);
        break;
    case VM_MON_CONT:
        vm_monitor_cont(mon);
        break;
    case VM_MON_QUIT:
        vm_monitor_quit(mon);
        more = false;
        break;
    }
    free(cmd);
    return more;
}

/* Run line and send its answer. */
static bool run(struct vm_monitor *mon, int fd, const char *line)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out) {
        const char oom[] = "out of memory\n";
        vm_monitor_sock_put(fd, oom, sizeof(oom) - 1);
        return true;
    }
    bool more = vm_hmp_exec(mon, line, out);
    fclose(out);
    vm_monitor_sock_put(fd, text, len);
    free(text);
    return more;
}

static void put(int fd, const char *s)
{
    vm_monitor_sock_put(fd, s, strlen(s));
}

static void serve(void *ctx, int fd)
{
    struct vm_hmp *h = ctx;
    static char buf[VM_MONITOR_LINE_MAX];
    size_t len = 0;
    bool skipping = false; /* the rest of an over-long line */
    put(fd, banner);
    put(fd, prompt);
    for (;;) {
        ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        len += (size_t)n;
        char *nl;
        while ((nl = memchr(buf, '\n', len))) {
            *nl = 0;
            bool more = true;
            if (!skipping)
                more = run(h->mon, fd, buf);
            else
                put(fd, "line too long\n");
            skipping = false;
            size_t used = (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, len - used);
            len -= used;
            if (!more)
                return;
            put(fd, prompt);
        }
        if (len == sizeof(buf) - 1) {
            skipping = true;
            len = 0;
        }
    }
}

int vm_hmp_open(struct vm_hmp **out, struct vm_monitor *mon, const struct vm_options *opt)
{
    *out = NULL;
    if (!opt->monitor_path[0])
        return 0;
    struct vm_hmp *h = calloc(1, sizeof(*h));
    if (!h) {
        fprintf(stderr, "btvm: -monitor: out of memory\n");
        return -1;
    }
    h->mon = mon;
    if (vm_monitor_sock_open(&h->sock, "-monitor", opt->monitor_path, opt->monitor_wait, serve,
                             h)) {
        free(h);
        return -1;
    }
    *out = h;
    return 0;
}

void vm_hmp_close(struct vm_hmp *h)
{
    if (h)
        vm_monitor_sock_close(h->sock);
}
