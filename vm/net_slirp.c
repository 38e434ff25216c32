/*
 * vm/net_slirp.c — the user network (QEMU's -netdev user) on libslirp.
 *
 * libslirp is a TCP/IP stack in a library: it takes the guest's Ethernet
 * frames (slirp_input), answers ARP, DHCP and DNS itself, and turns the
 * guest's TCP/UDP flows into host sockets; it hands frames for the guest
 * to our send_packet callback. It is not thread-safe and needs a poll loop
 * for its sockets and timers, so:
 *  - an I/O thread of our own runs that loop (slirp_pollfds_fill, poll,
 *    slirp_pollfds_poll, due timers);
 *  - every slirp call, from the I/O thread or from vm_net_send on the
 *    vcpu thread, holds one mutex (never across poll());
 *  - vm_net_send wakes the I/O thread (an eventfd) so it polls the sockets
 *    that the guest's frame may have opened;
 *  - frames for the guest go into a single-consumer ring; producers hold
 *    the slirp mutex, so they are serialized too.
 * docs/network.md has the whole picture.
 */
#include "vm/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <slirp/libslirp.h>

#define MAX_TIMERS 8

struct net_timer {
    bool used, armed;
    SlirpTimerId id;
    void *cb_opaque;
    int64_t expire_ms;
};

struct vm_net {
    Slirp *slirp;
    pthread_mutex_t lock;          /* every slirp call; the producers of rx */
    pthread_t thread;
    bool thread_running;
    int wake_fd;                   /* eventfd: a frame went in, or quit */
    int wake_pending;              /* wake_fd written since the I/O thread last looked */
    volatile int quit;

    /* poll set, rebuilt each round (I/O thread only) */
    struct pollfd *pfd;
    size_t npfd, cap_pfd;

    struct net_timer timers[MAX_TIMERS];

    void (*notify)(void *ctx);
    void *notify_ctx;

    /* Frames for the guest: head moves under lock (producers), tail by
     * the one consumer. */
    uint32_t head, tail;
    uint16_t len[VM_NET_RXQ_LEN];
    uint8_t (*buf)[VM_NET_FRAME_MAX];

    struct vm_net_stats st;         /* tx under lock; rx under lock */
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- callbacks from slirp (mutex held) ---- */

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
    struct vm_net *n = opaque;
    uint32_t head = n->head;
    uint32_t tail = __atomic_load_n(&n->tail, __ATOMIC_ACQUIRE);
    if (len > VM_NET_FRAME_MAX || head - tail >= VM_NET_RXQ_LEN) {
        n->st.rx_dropped++;
        return (ssize_t)len;   /* dropped like a wire that lost it */
    }
    uint32_t slot = head % VM_NET_RXQ_LEN;
    memcpy(n->buf[slot], buf, len);
    n->len[slot] = (uint16_t)len;
    __atomic_store_n(&n->head, head + 1, __ATOMIC_RELEASE);
    n->st.rx_frames++;
    n->st.rx_bytes += len;
    /* Every time: the consumer may be draining right now (it coalesces). */
    if (n->notify)
        n->notify(n->notify_ctx);
    return (ssize_t)len;
}

static void cb_guest_error(const char *msg, void *opaque)
{
    (void)opaque;
    fprintf(stderr, "btvm: user network: guest error: %s\n", msg);
}

static int64_t cb_clock_get_ns(void *opaque)
{
    (void)opaque;
    return now_ns();
}

static void *cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
    struct vm_net *n = opaque;
    for (int i = 0; i < MAX_TIMERS; i++) {
        if (!n->timers[i].used) {
            n->timers[i] = (struct net_timer){ .used = true, .id = id, .cb_opaque = cb_opaque };
            return &n->timers[i];
        }
    }
    fprintf(stderr, "btvm: user network: more than %d slirp timers\n", MAX_TIMERS);
    abort();   /* libslirp 4.7 makes one (IPv6 router adverts): a library change */
}

static void cb_timer_free(void *timer, void *opaque)
{
    (void)opaque;
    struct net_timer *t = timer;
    t->used = t->armed = false;
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
    (void)opaque;
    struct net_timer *t = timer;
    t->expire_ms = expire_ms;
    t->armed = true;
}

/* The poll set is rebuilt every round, so fds need no registering. */
static void cb_register_poll_fd(int fd, void *opaque)
{
    (void)fd, (void)opaque;
}

static void cb_unregister_poll_fd(int fd, void *opaque)
{
    (void)fd, (void)opaque;
}

/* One eventfd write per I/O-thread round, however many frames the guest
 * sends meanwhile (a TCP stream sends tens of thousands a second). */
static void wake(struct vm_net *n)
{
    if (__atomic_exchange_n(&n->wake_pending, 1, __ATOMIC_ACQ_REL))
        return;
    uint64_t one = 1;
    ssize_t r = write(n->wake_fd, &one, sizeof(one));
    (void)r;   /* EAGAIN: the counter is already non-zero, it wakes anyway */
}

static void cb_notify(void *opaque)
{
    wake(opaque);
}

static const SlirpCb callbacks = {
    .send_packet = cb_send_packet,
    .guest_error = cb_guest_error,
    .clock_get_ns = cb_clock_get_ns,
    .timer_free = cb_timer_free,
    .timer_mod = cb_timer_mod,
    .register_poll_fd = cb_register_poll_fd,
    .unregister_poll_fd = cb_unregister_poll_fd,
    .notify = cb_notify,
    .timer_new_opaque = cb_timer_new_opaque,
};

/* ---- the I/O thread ---- */

static int add_poll(int fd, int events, void *opaque)
{
    struct vm_net *n = opaque;
    if (n->npfd == n->cap_pfd) {
        size_t cap = n->cap_pfd ? n->cap_pfd * 2 : 32;
        struct pollfd *p = realloc(n->pfd, cap * sizeof(*p));
        if (!p) {
            fprintf(stderr, "btvm: user network: out of memory\n");
            abort();
        }
        n->pfd = p;
        n->cap_pfd = cap;
    }
    short ev = 0;
    if (events & SLIRP_POLL_IN)
        ev |= POLLIN;
    if (events & SLIRP_POLL_OUT)
        ev |= POLLOUT;
    if (events & SLIRP_POLL_PRI)
        ev |= POLLPRI;
    n->pfd[n->npfd] = (struct pollfd){ .fd = fd, .events = ev };
    return (int)n->npfd++;
}

static int get_revents(int idx, void *opaque)
{
    struct vm_net *n = opaque;
    if (idx < 0 || (size_t)idx >= n->npfd)
        return 0;
    short r = n->pfd[idx].revents;
    int ev = 0;
    if (r & POLLIN)
        ev |= SLIRP_POLL_IN;
    if (r & POLLOUT)
        ev |= SLIRP_POLL_OUT;
    if (r & POLLPRI)
        ev |= SLIRP_POLL_PRI;
    if (r & (POLLERR | POLLNVAL))
        ev |= SLIRP_POLL_ERR;
    if (r & POLLHUP)
        ev |= SLIRP_POLL_HUP;
    return ev;
}

/* Fires due timers; returns ms until the next one (UINT32_MAX: none). */
static uint32_t run_timers(struct vm_net *n)
{
    uint32_t next = UINT32_MAX;
    int64_t now = now_ns() / 1000000;
    for (int i = 0; i < MAX_TIMERS; i++) {
        struct net_timer *t = &n->timers[i];
        if (!t->used || !t->armed)
            continue;
        if (t->expire_ms <= now) {
            t->armed = false;
            slirp_handle_timer(n->slirp, t->id, t->cb_opaque);
            if (!t->armed)
                continue;
        }
        int64_t d = t->expire_ms - now;
        if (d < 0)
            d = 0;
        if ((uint64_t)d < next)
            next = (uint32_t)d;
    }
    return next;
}

static void *io_main(void *arg)
{
    struct vm_net *n = arg;
    while (!__atomic_load_n(&n->quit, __ATOMIC_ACQUIRE)) {
        pthread_mutex_lock(&n->lock);
        /* Before filling: a frame sent from here on wakes the poll below. */
        __atomic_store_n(&n->wake_pending, 0, __ATOMIC_RELEASE);
        n->npfd = 0;
        add_poll(n->wake_fd, SLIRP_POLL_IN, n);
        uint32_t timeout = run_timers(n);
        slirp_pollfds_fill(n->slirp, &timeout, add_poll, n);
        pthread_mutex_unlock(&n->lock);

        int r = poll(n->pfd, n->npfd, timeout == UINT32_MAX ? -1 : (int)timeout);
        if (r < 0 && errno != EINTR)
            fprintf(stderr, "btvm: user network: poll: %s\n", strerror(errno));
        if (r > 0 && (n->pfd[0].revents & POLLIN)) {
            uint64_t v;
            ssize_t rr = read(n->wake_fd, &v, sizeof(v));
            (void)rr;
        }
        pthread_mutex_lock(&n->lock);
        slirp_pollfds_poll(n->slirp, r < 0, get_revents, n);
        run_timers(n);
        pthread_mutex_unlock(&n->lock);
    }
    return NULL;
}

/* ---- the interface ---- */

struct vm_net *vm_net_slirp_new(const struct vm_net_options *o, void (*notify)(void *ctx),
                                void *ctx, char *err, size_t errlen)
{
    struct vm_net *n = calloc(1, sizeof(*n));
    if (!n || !(n->buf = calloc(VM_NET_RXQ_LEN, sizeof(*n->buf)))) {
        snprintf(err, errlen, "user network: out of memory");
        free(n);
        return NULL;
    }
    pthread_mutex_init(&n->lock, NULL);
    n->wake_fd = -1;
    n->notify = notify;
    n->notify_ctx = ctx;
    n->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (n->wake_fd < 0) {
        snprintf(err, errlen, "user network: eventfd: %s", strerror(errno));
        vm_net_free(n);
        return NULL;
    }
    SlirpConfig cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.version = 4;
    cfg.restricted = o->restricted;
    cfg.in_enabled = true;
    cfg.vnetwork.s_addr = htonl(VM_NET_NETWORK);
    cfg.vnetmask.s_addr = htonl(0xffffff00u);
    cfg.vhost.s_addr = htonl(VM_NET_HOST);
    cfg.vdhcp_start.s_addr = htonl(VM_NET_DHCP);
    cfg.vnameserver.s_addr = htonl(VM_NET_DNS);
    cfg.in6_enabled = false;
    cfg.if_mtu = 1500;
    cfg.if_mru = 1500;
    n->slirp = slirp_new(&cfg, &callbacks, n);
    if (!n->slirp) {
        snprintf(err, errlen, "user network: libslirp would not start");
        vm_net_free(n);
        return NULL;
    }
    for (unsigned i = 0; i < o->nfwd; i++) {
        const struct vm_net_fwd *f = &o->fwd[i];
        struct in_addr ha = { htonl(f->host_addr) };
        struct in_addr ga = { htonl(f->guest_addr ? f->guest_addr : VM_NET_DHCP) };
        if (slirp_add_hostfwd(n->slirp, f->udp, ha, f->host_port, ga, f->guest_port) < 0) {
            char a[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &ha, a, sizeof(a));
            snprintf(err, errlen, "hostfwd=%s:%s:%u: could not listen there (port in use?)",
                     f->udp ? "udp" : "tcp", f->host_addr ? a : "", f->host_port);
            vm_net_free(n);
            return NULL;
        }
    }
    if (pthread_create(&n->thread, NULL, io_main, n) != 0) {
        snprintf(err, errlen, "user network: cannot start its I/O thread");
        vm_net_free(n);
        return NULL;
    }
    n->thread_running = true;
    return n;
}

void vm_net_free(struct vm_net *n)
{
    if (!n)
        return;
    if (n->thread_running) {
        __atomic_store_n(&n->quit, 1, __ATOMIC_RELEASE);
        uint64_t one = 1;      /* not wake(): its coalescing could skip this write */
        ssize_t r = write(n->wake_fd, &one, sizeof(one));
        (void)r;
        pthread_join(n->thread, NULL);
    }
    if (n->slirp)
        slirp_cleanup(n->slirp);
    if (n->wake_fd >= 0)
        close(n->wake_fd);
    pthread_mutex_destroy(&n->lock);
    free(n->pfd);
    free(n->buf);
    free(n);
}

void vm_net_send(struct vm_net *n, const uint8_t *frame, size_t len)
{
    if (len > 65535)
        return;
    pthread_mutex_lock(&n->lock);
    n->st.tx_frames++;
    n->st.tx_bytes += len;
    slirp_input(n->slirp, frame, (int)len);
    pthread_mutex_unlock(&n->lock);
    /* The frame may have opened a socket or armed a TCP timer. */
    wake(n);
}

const uint8_t *vm_net_rx_peek(struct vm_net *n, size_t *len)
{
    uint32_t tail = n->tail;
    if (tail == __atomic_load_n(&n->head, __ATOMIC_ACQUIRE))
        return NULL;
    *len = n->len[tail % VM_NET_RXQ_LEN];
    return n->buf[tail % VM_NET_RXQ_LEN];
}

void vm_net_rx_pop(struct vm_net *n)
{
    if (n->tail != __atomic_load_n(&n->head, __ATOMIC_ACQUIRE))
        __atomic_store_n(&n->tail, n->tail + 1, __ATOMIC_RELEASE);
}

void vm_net_get_stats(struct vm_net *n, struct vm_net_stats *st)
{
    pthread_mutex_lock(&n->lock);
    *st = n->st;
    pthread_mutex_unlock(&n->lock);
}
