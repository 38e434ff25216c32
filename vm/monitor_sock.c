/*
 * vm/monitor_sock.c — a monitor's Unix stream socket: listen, optionally
 * wait for the first client, then a detached thread accepts clients one at
 * a time and hands each to the monitor's serve function. docs/monitor.md.
 */
#include "vm/monitor_sock.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct vm_monitor_sock {
    int listen_fd;
    int client;                 /* the first one, with wait; else -1 */
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    vm_monitor_serve_fn *serve;
    void *ctx;
    pthread_t thread;
};

void vm_monitor_sock_put(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static void *thread_main(void *arg)
{
    struct vm_monitor_sock *s = arg;
    int fd = s->client;
    for (;;) {
        if (fd < 0)
            fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return NULL;
        }
        s->serve(s->ctx, fd);
        close(fd);
        fd = -1;
    }
}

int vm_monitor_sock_open(struct vm_monitor_sock **out, const char *opt, const char *path,
                         bool wait, vm_monitor_serve_fn *serve, void *ctx)
{
    *out = NULL;
    struct vm_monitor_sock *s = calloc(1, sizeof(*s));
    if (!s) {
        fprintf(stderr, "btvm: %s: out of memory\n", opt);
        return -1;
    }
    s->client = -1;
    s->serve = serve;
    s->ctx = ctx;
    snprintf(s->path, sizeof(s->path), "%s", path);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    memcpy(sa.sun_path, s->path, sizeof(sa.sun_path));
    /* A socket file left by an earlier run is replaced (as QEMU does);
     * any other file is not touched. */
    struct stat st;
    if (lstat(s->path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(s->path);
    s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->listen_fd < 0 || bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
        listen(s->listen_fd, 1)) {
        fprintf(stderr, "btvm: %s unix:%s: %s\n", opt, s->path, strerror(errno));
        if (s->listen_fd >= 0)
            close(s->listen_fd);
        free(s);
        return -1;
    }
    const char *why = NULL;
    if (wait) {
        fprintf(stderr, "btvm: waiting for a %s connection on unix:%s\n",
                strcmp(opt, "-qmp") ? "monitor" : "QMP", s->path);
        do
            s->client = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        while (s->client < 0 && errno == EINTR);
        if (s->client < 0)
            why = strerror(errno);
    }
    if (!why && pthread_create(&s->thread, NULL, thread_main, s) != 0)
        why = "cannot start its thread";
    if (why) {
        fprintf(stderr, "btvm: %s unix:%s: %s\n", opt, s->path, why);
        if (s->client >= 0)
            close(s->client);
        close(s->listen_fd);
        unlink(s->path);
        free(s);
        return -1;
    }
    pthread_detach(s->thread);
    *out = s;
    return 0;
}

void vm_monitor_sock_close(struct vm_monitor_sock *s)
{
    if (s)
        unlink(s->path);
}
