/*
 * vm/monitor.c — the human monitor's thread: a Unix stream socket, one
 * client at a time, a line per command (vm/monitor_cmd.c parses it).
 *
 * Commands that only ask the machine to stop (quit, system_reset) do what
 * the devices do: set the stop fields and vm_kick (vm_request_stop), safe
 * from any thread. A screendump reads the VGA, which only the vcpu thread
 * may touch: the monitor thread leaves the command in the mailbox, raises
 * input_pending and kicks; the vcpu calls vm_monitor_poll at its next
 * instruction boundary (vm_poll_input), where the VGA is consistent, and
 * the monitor thread waits for the result. docs/monitor.md.
 */
#include "vm/monitor.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cpu/cpu.h"
#include "vm/display.h"
#include "vm/machine.h"
#include "vm/monitor_cmd.h"

static const char banner[] = "btvm monitor - type 'help' for more information\n";
static const char prompt[] = "(btvm) ";

struct vm_monitor {
    int listen_fd;
    int client;                 /* -1: none; the first one, with wait */
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cv;
    struct vm *vm;              /* the running machine, or NULL (under lock) */
    struct dev_vga *vga;
    bool quit;                  /* quit typed while no machine ran */
    /* The mailbox for the vcpu (under lock). */
    bool pending, done;
    struct vm_monitor_cmd req;
    int result;                 /* 0 or -errno */
    char text[2048];            /* info registers: what the vcpu wrote */
};

static void put(int fd, const char *s)
{
    size_t n = strlen(s);
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* the client left; its read side notices */
        s += w;
        n -= (size_t)w;
    }
}

static void putf(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(int fd, const char *fmt, ...)
{
    char buf[VM_MONITOR_LINE_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    put(fd, buf);
}

/* Hand cmd to the vcpu and wait for it; 0 or -errno (-ESRCH: no machine). */
static int on_vcpu(struct vm_monitor *mon, const struct vm_monitor_cmd *cmd)
{
    pthread_mutex_lock(&mon->lock);
    if (!mon->vm) {
        pthread_mutex_unlock(&mon->lock);
        return -ESRCH;
    }
    mon->req = *cmd;
    mon->pending = true;
    mon->done = false;
    __atomic_store_n(&mon->vm->input_pending, 1, __ATOMIC_RELEASE);
    vm_kick(mon->vm);
    while (!mon->done)
        pthread_cond_wait(&mon->cv, &mon->lock);
    int r = mon->result;
    pthread_mutex_unlock(&mon->lock);
    return r;
}

void vm_monitor_poll(struct vm_monitor *mon)
{
    pthread_mutex_lock(&mon->lock);
    if (mon->pending) {
        const struct vm_monitor_cmd *c = &mon->req;
        bool ppm = c->format == VM_MON_FMT_PPM ||
                   (c->format == VM_MON_FMT_AUTO && vm_display_file_is_ppm(c->file));
        if (c->op == VM_MON_SCREENDUMP) {
            mon->result = vm_display_screendump_file(mon->vga, c->file, ppm);
        } else if (c->op == VM_MON_INFO_REGISTERS) {
            /* Between instructions; an engine that keeps the state
             * elsewhere (KVM) copies it into vm->cpu first. */
            struct vm *vm = mon->vm;
            FILE *f = fmemopen(mon->text, sizeof(mon->text), "w");
            mon->result = -ENOMEM;
            if (f && (!vm->engine->sync_state || vm->engine->sync_state(vm) == 0)) {
                cpu_dump(vm->cpu, f);
                mon->result = 0;
            } else if (f) {
                mon->result = -EIO;
            }
            if (f)
                fclose(f);
        } else {
            mon->result = -EINVAL;
        }
        mon->pending = false;
        mon->done = true;
        pthread_cond_broadcast(&mon->cv);
    }
    pthread_mutex_unlock(&mon->lock);
}

/* Carry out one command; false when the client should be let go (quit). */
static bool run(struct vm_monitor *mon, int fd, const char *line)
{
    struct vm_monitor_cmd *cmd = malloc(sizeof(*cmd));
    char err[256];
    bool more = true;
    if (!cmd) {
        put(fd, "out of memory\n");
        return true;
    }
    if (vm_monitor_parse(line, cmd, err, sizeof(err))) {
        putf(fd, "%s\n", err);
        free(cmd);
        return true;
    }
    switch (cmd->op) {
    case VM_MON_NOTHING:
        break;
    case VM_MON_HELP:
        put(fd, vm_monitor_help);
        break;
    case VM_MON_INFO:
        put(fd, "info registers -- the CPU's registers\n"
                 "info status -- the machine's state\n");
        break;
    case VM_MON_INFO_STATUS:
        pthread_mutex_lock(&mon->lock);
        /* QEMU's wording; btvm has no pause, so a machine runs or is being
         * rebuilt after a reset. */
        put(fd, mon->vm ? "VM status: running\n" : "VM status: shutdown\n");
        pthread_mutex_unlock(&mon->lock);
        break;
    case VM_MON_SCREENDUMP: {
        int r = on_vcpu(mon, cmd);
        if (r == -ESRCH)
            put(fd, "screendump: no machine is running\n");
        else if (r)
            putf(fd, "screendump: %s: %s\n", cmd->file, strerror(-r));
        break;
    }
    case VM_MON_INFO_REGISTERS: {
        int r = on_vcpu(mon, cmd);
        if (r == -ESRCH)
            put(fd, "info registers: no machine is running\n");
        else if (r)
            putf(fd, "info registers: %s\n", strerror(-r));
        else
            put(fd, mon->text);
        break;
    }
    case VM_MON_SYSTEM_RESET:
        pthread_mutex_lock(&mon->lock);
        if (mon->vm) {
            mon->vm->reset_requested = true;
            vm_request_stop(mon->vm, VM_STATUS_RESET);
        } else {
            put(fd, "system_reset: no machine is running\n");
        }
        pthread_mutex_unlock(&mon->lock);
        break;
    case VM_MON_QUIT:
        pthread_mutex_lock(&mon->lock);
        mon->quit = true;
        if (mon->vm) {
            mon->vm->reset_requested = false;
            vm_request_stop(mon->vm, 0);
        }
        pthread_mutex_unlock(&mon->lock);
        more = false;
        break;
    }
    free(cmd);
    return more;
}

static void serve(struct vm_monitor *mon, int fd)
{
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
                more = run(mon, fd, buf);
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

static void *thread_main(void *arg)
{
    struct vm_monitor *mon = arg;
    int fd = mon->client;
    for (;;) {
        if (fd < 0)
            fd = accept(mon->listen_fd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return NULL;
        }
        serve(mon, fd);
        close(fd);
        fd = -1;
    }
}

/* Undo a half-opened monitor. */
static void discard(struct vm_monitor *mon)
{
    close(mon->listen_fd);
    unlink(mon->path);
    pthread_cond_destroy(&mon->cv);
    pthread_mutex_destroy(&mon->lock);
    free(mon);
}

int vm_monitor_open(struct vm_monitor **out, const struct vm_options *opt)
{
    *out = NULL;
    if (!opt->monitor_path[0])
        return 0;
    struct vm_monitor *mon = calloc(1, sizeof(*mon));
    if (!mon) {
        fprintf(stderr, "btvm: -monitor: out of memory\n");
        return -1;
    }
    mon->client = -1;
    pthread_mutex_init(&mon->lock, NULL);
    pthread_cond_init(&mon->cv, NULL);
    snprintf(mon->path, sizeof(mon->path), "%s", opt->monitor_path);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    memcpy(sa.sun_path, mon->path, sizeof(sa.sun_path));
    /* A socket file left by an earlier run is replaced (as QEMU does);
     * any other file is not touched. */
    struct stat st;
    if (lstat(mon->path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(mon->path);
    mon->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (mon->listen_fd < 0 || bind(mon->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
        listen(mon->listen_fd, 1)) {
        fprintf(stderr, "btvm: -monitor unix:%s: %s\n", mon->path, strerror(errno));
        if (mon->listen_fd >= 0)
            close(mon->listen_fd);
        free(mon);
        return -1;
    }
    if (opt->monitor_wait) {
        fprintf(stderr, "btvm: waiting for a monitor connection on unix:%s\n", mon->path);
        do
            mon->client = accept4(mon->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        while (mon->client < 0 && errno == EINTR);
        if (mon->client < 0) {
            fprintf(stderr, "btvm: -monitor unix:%s: %s\n", mon->path, strerror(errno));
            discard(mon);
            return -1;
        }
    }
    if (pthread_create(&mon->thread, NULL, thread_main, mon) != 0) {
        fprintf(stderr, "btvm: -monitor: cannot start its thread\n");
        if (mon->client >= 0)
            close(mon->client);
        discard(mon);
        return -1;
    }
    pthread_detach(mon->thread);
    *out = mon;
    return 0;
}

void vm_monitor_attach(struct vm_monitor *mon, struct vm *vm, struct dev_vga *vga)
{
    if (!mon)
        return;
    pthread_mutex_lock(&mon->lock);
    if (vm)
        vm->monitor = mon;
    else if (mon->vm)
        mon->vm->monitor = NULL;
    mon->vm = vm;
    mon->vga = vga;
    if (!vm && mon->pending) {
        /* The run ended before the vcpu took the command. */
        mon->result = -ESRCH;
        mon->pending = false;
        mon->done = true;
        pthread_cond_broadcast(&mon->cv);
    }
    if (vm && mon->quit)
        vm_request_stop(vm, 0);
    pthread_mutex_unlock(&mon->lock);
}

bool vm_monitor_quit_requested(struct vm_monitor *mon)
{
    if (!mon)
        return false;
    pthread_mutex_lock(&mon->lock);
    bool q = mon->quit;
    pthread_mutex_unlock(&mon->lock);
    return q;
}

void vm_monitor_close(struct vm_monitor *mon)
{
    if (!mon)
        return;
    /* The thread may sit in accept() or recv(): the process is ending, so
     * the socket file goes and the descriptor stays until exit. */
    unlink(mon->path);
}
