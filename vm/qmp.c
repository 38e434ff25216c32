/*
 * vm/qmp.c — QMP's sessions: the greeting, then JSON values cut out of
 * the stream (vm/qmp_stream.c) and answered one by one (vm/qmp_cmd.c),
 * each answer a line. Events come from other threads (the vcpu's, main's
 * after a run) and go to the client between answers: one lock covers the
 * socket's writes. A session gets events once it negotiated
 * capabilities, as in QEMU. docs/monitor.md.
 */
#include "vm/qmp.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "vm/monitor.h"
#include "vm/monitor_sock.h"
#include "vm/qmp_cmd.h"
#include "vm/qmp_stream.h"

struct vm_qmp {
    struct vm_monitor *mon;
    struct vm_monitor_sock *sock;
    pthread_mutex_t wlock;
    int fd;                     /* the client (under wlock); -1: none */
    bool events;                /* it negotiated: events go to it (under wlock) */
};

/* Send j as a line (QEMU's monitor ends lines with \r\n) and free it. */
static void send_locked(int fd, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    if (!s)
        return;
    vm_monitor_sock_put(fd, s, strlen(s));
    vm_monitor_sock_put(fd, "\r\n", 2);
    free(s);
}

static void on_event(void *ctx, enum vm_monitor_event ev, bool guest, const char *reason)
{
    static const char *const names[] = {
        [VM_MON_EV_STOP] = "STOP", [VM_MON_EV_RESUME] = "RESUME", [VM_MON_EV_RESET] = "RESET",
        [VM_MON_EV_SHUTDOWN] = "SHUTDOWN", [VM_MON_EV_POWERDOWN] = "POWERDOWN",
    };
    struct vm_qmp *q = ctx;
    json_t *data = NULL;
    if (ev == VM_MON_EV_RESET || ev == VM_MON_EV_SHUTDOWN)
        data = json_pack("{s:b, s:s}", "guest", guest, "reason", reason);
    json_t *j = vm_qmp_event(names[ev], data);
    pthread_mutex_lock(&q->wlock);
    if (q->fd >= 0 && q->events)
        send_locked(q->fd, j);
    else
        json_decref(j);
    pthread_mutex_unlock(&q->wlock);
}

struct session {
    struct vm_qmp *q;
    struct vm_qmp_session s;
};

static void on_value(void *ctx, const char *text, size_t len, bool too_long)
{
    struct session *ss = ctx;
    struct vm_qmp *q = ss->q;
    bool quit = ss->s.quit;
    json_t *ans = vm_qmp_handle(&ss->s, text, len, too_long);
    pthread_mutex_lock(&q->wlock);
    send_locked(q->fd, ans);
    q->events = ss->s.negotiated;
    pthread_mutex_unlock(&q->wlock);
    if (ss->s.quit && !quit) /* answered first: btvm may end right after */
        vm_monitor_quit(q->mon);
}

static void serve(void *ctx, int fd)
{
    struct vm_qmp *q = ctx;
    struct session ss = { .q = q, .s = { .mon = q->mon } };
    struct vm_qmp_stream st;
    vm_qmp_stream_init(&st);
    pthread_mutex_lock(&q->wlock);
    q->fd = fd;
    q->events = false;
    send_locked(fd, vm_qmp_greeting());
    pthread_mutex_unlock(&q->wlock);
    char buf[4096];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        vm_qmp_stream_feed(&st, buf, (size_t)n, on_value, &ss);
    }
    pthread_mutex_lock(&q->wlock);
    q->fd = -1;
    q->events = false;
    pthread_mutex_unlock(&q->wlock);
    vm_qmp_stream_free(&st);
}

int vm_qmp_open(struct vm_qmp **out, struct vm_monitor *mon, const struct vm_options *opt)
{
    *out = NULL;
    if (!opt->qmp_path[0])
        return 0;
    struct vm_qmp *q = calloc(1, sizeof(*q));
    if (!q) {
        fprintf(stderr, "btvm: -qmp: out of memory\n");
        return -1;
    }
    q->mon = mon;
    q->fd = -1;
    pthread_mutex_init(&q->wlock, NULL);
    vm_monitor_set_event_sink(mon, on_event, q);
    if (vm_monitor_sock_open(&q->sock, "-qmp", opt->qmp_path, opt->qmp_wait, serve, q)) {
        vm_monitor_set_event_sink(mon, NULL, NULL);
        pthread_mutex_destroy(&q->wlock);
        free(q);
        return -1;
    }
    *out = q;
    return 0;
}

void vm_qmp_close(struct vm_qmp *q)
{
    if (q)
        vm_monitor_sock_close(q->sock);
}
