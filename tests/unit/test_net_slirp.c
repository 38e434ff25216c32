/*
 * tests/unit/test_net_slirp.c — the libslirp user network (vm/net_slirp.c)
 * driven by a fake network card: this test writes the guest's Ethernet
 * frames by hand and reads what the network answers. DHCP (DISCOVER ->
 * OFFER, REQUEST -> ACK with QEMU's addresses), ARP for the host, the rx
 * queue dropping and counting when full, hostfwd (a host connection to
 * 127.0.0.1 becomes a SYN to the guest), and restrict=on (the guest's SYN
 * to the host's port gets nowhere; without it the host accepts).
 * Only loopback sockets are used.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "vm/net.h"

static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static unsigned notified;

static void on_frame(void *ctx)
{
    (void)ctx;
    pthread_mutex_lock(&mu);
    notified++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

/* The next frame for the guest, waiting up to ms (copied into out). */
static size_t recv_frame(struct vm_net *n, uint8_t *out, int ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += ms / 1000;
    dl.tv_nsec += (long)(ms % 1000) * 1000000;
    if (dl.tv_nsec >= 1000000000) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000;
    }
    for (;;) {
        size_t len;
        const uint8_t *f = vm_net_rx_peek(n, &len);
        if (f) {
            memcpy(out, f, len);
            vm_net_rx_pop(n);
            return len;
        }
        pthread_mutex_lock(&mu);
        unsigned seen = notified;
        f = vm_net_rx_peek(n, &len);
        int r = 0;
        while (!f && notified == seen && r == 0)
            r = pthread_cond_timedwait(&cv, &mu, &dl);
        pthread_mutex_unlock(&mu);
        if (!f && r)
            return 0;
    }
}

static uint16_t csum(const uint8_t *p, size_t len, uint32_t sum)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)p[i] << 8 | p[i + 1];
    if (len & 1)
        sum += (uint32_t)p[len - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p + 2, (uint16_t)v); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }

/* Ethernet + IPv4 header; returns the IP payload's offset. */
static size_t ip_frame(uint8_t *f, const uint8_t *dst_mac, uint32_t src, uint32_t dst,
                       uint8_t proto, size_t payload)
{
    memcpy(f, dst_mac, 6);
    memcpy(f + 6, mac, 6);
    put16(f + 12, 0x0800);
    uint8_t *ip = f + 14;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)(20 + payload));
    ip[8] = 64;
    ip[9] = proto;
    put32(ip + 12, src);
    put32(ip + 16, dst);
    put16(ip + 10, csum(ip, 20, 0));
    return 34;
}

/* A DHCP message from the guest (type 1 DISCOVER, 3 REQUEST). */
static size_t dhcp_msg(uint8_t *f, uint8_t type, uint32_t xid)
{
    const size_t bootp = 236 + 312;
    size_t o = ip_frame(f, bcast, 0, 0xffffffffu, 17, 8 + bootp);
    uint8_t *udp = f + o;
    put16(udp, 68);
    put16(udp + 2, 67);
    put16(udp + 4, (uint16_t)(8 + bootp));
    put16(udp + 6, 0);                    /* no UDP checksum: allowed */
    uint8_t *b = udp + 8;
    memset(b, 0, bootp);
    b[0] = 1, b[1] = 1, b[2] = 6;
    put32(b + 4, xid);
    memcpy(b + 28, mac, 6);
    uint8_t *opt = b + 236;
    put32(opt, 0x63825363);
    opt += 4;
    *opt++ = 53, *opt++ = 1, *opt++ = type;
    if (type == 3) {
        *opt++ = 50, *opt++ = 4;
        put32(opt, VM_NET_DHCP), opt += 4;
        *opt++ = 54, *opt++ = 4;
        put32(opt, VM_NET_HOST), opt += 4;
    }
    *opt = 255;
    return o + 8 + bootp;
}

/* Find DHCP option code in a reply's options; its length in *len. */
static const uint8_t *dhcp_opt(const uint8_t *opts, size_t n, uint8_t code, uint8_t *len)
{
    size_t i = 4;
    while (i + 1 < n && opts[i] != 255) {
        if (opts[i] == 0) {
            i++;
            continue;
        }
        if (opts[i] == code) {
            *len = opts[i + 1];
            return opts + i + 2;
        }
        i += 2u + opts[i + 1];
    }
    return NULL;
}

/* Sends a DHCP message and checks the reply is of type want for xid. */
static bool restricted_net;   /* restrict=on: no router, no DNS offered */

static void dhcp_round(struct vm_net *n, uint8_t type, uint8_t want, uint32_t xid)
{
    uint8_t f[2048];
    size_t len = dhcp_msg(f, type, xid);
    vm_net_send(n, f, len);
    for (int tries = 0; tries < 10; tries++) {
        len = recv_frame(n, f, 2000);
        ck_assert_msg(len > 0, "no DHCP reply to type %u", type);
        if (get16(f + 12) != 0x0800 || f[23] != 17 || get16(f + 34) != 67)
            continue;   /* not the DHCP reply */
        const uint8_t *b = f + 42;
        ck_assert_uint_eq(b[0], 2);                       /* BOOTREPLY */
        ck_assert_uint_eq(get32(b + 4), xid);
        ck_assert_uint_eq(get32(b + 16), VM_NET_DHCP);    /* yiaddr 10.0.2.15 */
        ck_assert_mem_eq(b + 28, mac, 6);
        const uint8_t *opts = b + 236;
        ck_assert_uint_eq(get32(opts), 0x63825363);
        size_t olen = len - 42 - 236;
        uint8_t l;
        const uint8_t *v = dhcp_opt(opts, olen, 53, &l);
        ck_assert_ptr_nonnull(v);
        ck_assert_uint_eq(v[0], want);
        v = dhcp_opt(opts, olen, 54, &l);                 /* server id */
        ck_assert(v && l == 4 && get32(v) == VM_NET_HOST);
        v = dhcp_opt(opts, olen, 3, &l);                  /* router */
        ck_assert(restricted_net ? !v : v && l == 4 && get32(v) == VM_NET_HOST);
        v = dhcp_opt(opts, olen, 6, &l);                  /* DNS */
        ck_assert(restricted_net ? !v : v && l >= 4 && get32(v) == VM_NET_DNS);
        v = dhcp_opt(opts, olen, 1, &l);                  /* netmask */
        ck_assert(v && l == 4 && get32(v) == 0xffffff00u);
        return;
    }
    ck_abort_msg("no DHCP reply among the frames");
}

static struct vm_net *start(const struct vm_net_options *o)
{
    char e[256] = "";
    struct vm_net *n = vm_net_slirp_new(o, on_frame, NULL, e, sizeof(e));
    ck_assert_msg(n != NULL, "vm_net_slirp_new: %s", e);
    return n;
}

START_TEST(test_dhcp)
{
    struct vm_net_options o = { .enabled = true };
    struct vm_net *n = start(&o);
    dhcp_round(n, 1, 2, 0x1234abcd);   /* DISCOVER -> OFFER */
    dhcp_round(n, 3, 5, 0x1234abce);   /* REQUEST -> ACK */
    struct vm_net_stats st;
    vm_net_get_stats(n, &st);
    ck_assert_uint_eq(st.tx_frames, 2);
    ck_assert_uint_ge(st.rx_frames, 2);
    ck_assert_uint_eq(st.rx_dropped, 0);
    vm_net_free(n);
}
END_TEST

static size_t arp_request(uint8_t *f, uint32_t target)
{
    memcpy(f, bcast, 6);
    memcpy(f + 6, mac, 6);
    put16(f + 12, 0x0806);
    uint8_t *a = f + 14;
    put16(a, 1), put16(a + 2, 0x0800), a[4] = 6, a[5] = 4, put16(a + 6, 1);
    memcpy(a + 8, mac, 6);
    put32(a + 14, VM_NET_DHCP);
    memset(a + 18, 0, 6);
    put32(a + 24, target);
    return 42;
}

/* Frames nobody takes pile up to the queue's length; the rest are dropped
 * and counted. */
START_TEST(test_rx_queue_full)
{
    struct vm_net_options o = { .enabled = true };
    struct vm_net *n = start(&o);
    uint8_t f[64];
    size_t len = arp_request(f, VM_NET_HOST);
    const unsigned sent = VM_NET_RXQ_LEN + 20;
    for (unsigned i = 0; i < sent; i++)
        vm_net_send(n, f, len);
    struct vm_net_stats st;
    vm_net_get_stats(n, &st);
    ck_assert_uint_eq(st.rx_frames, VM_NET_RXQ_LEN);
    ck_assert_uint_eq(st.rx_dropped, sent - VM_NET_RXQ_LEN);
    /* Each is an ARP reply: 10.0.2.2 is at slirp's own MAC. */
    size_t got = 0, l;
    const uint8_t *r;
    while ((r = vm_net_rx_peek(n, &l))) {
        ck_assert_uint_eq(get16(r + 12), 0x0806);
        ck_assert_uint_eq(get16(r + 20), 2);
        ck_assert_uint_eq(get32(r + 28), VM_NET_HOST);
        ck_assert_mem_eq(r, mac, 6);
        vm_net_rx_pop(n);
        got++;
    }
    ck_assert_uint_eq(got, VM_NET_RXQ_LEN);
    vm_net_free(n);
}
END_TEST

/* A free loopback TCP port (bound then closed). */
static uint16_t free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t al = sizeof(a);
    getsockname(s, (struct sockaddr *)&a, &al);
    close(s);
    return ntohs(a.sin_port);
}

START_TEST(test_hostfwd)
{
    uint16_t port = free_port();
    struct vm_net_options o = { .enabled = true, .nfwd = 1 };
    o.fwd[0] = (struct vm_net_fwd){ .host_addr = 0x7f000001u, .host_port = port, .guest_port = 80 };
    struct vm_net *n = start(&o);
    dhcp_round(n, 1, 2, 7);
    dhcp_round(n, 3, 5, 8);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    connect(s, (struct sockaddr *)&a, sizeof(a));
    uint8_t f[2048];
    bool syn = false;
    for (int i = 0; i < 10 && !syn; i++) {
        size_t len = recv_frame(n, f, 2000);
        ck_assert_msg(len > 0, "no SYN toward the guest");
        if (get16(f + 12) == 0x0800 && f[23] == 6) {
            ck_assert_uint_eq(get32(f + 30), VM_NET_DHCP);   /* to 10.0.2.15 */
            ck_assert_uint_eq(get16(f + 36), 80);            /* port 80 */
            ck_assert_uint_eq(f[47] & 0x12, 0x02);           /* SYN, no ACK */
            ck_assert_mem_eq(f, mac, 6);
            syn = true;
        }
    }
    ck_assert(syn);
    close(s);
    vm_net_free(n);
}
END_TEST

/* The guest's SYN to 10.0.2.2:port; true if the host's listener on
 * 127.0.0.1:port got the connection. */
static bool guest_connects_to_host(bool restricted)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    ck_assert_int_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t al = sizeof(a);
    getsockname(l, (struct sockaddr *)&a, &al);
    ck_assert_int_eq(listen(l, 1), 0);
    uint16_t port = ntohs(a.sin_port);

    struct vm_net_options o = { .enabled = true, .restricted = restricted };
    struct vm_net *n = start(&o);
    restricted_net = restricted;
    dhcp_round(n, 1, 2, 9);
    dhcp_round(n, 3, 5, 10);
    uint8_t f[128], slirp_mac[6];
    size_t len = arp_request(f, VM_NET_HOST);
    vm_net_send(n, f, len);
    ck_assert_uint_eq(recv_frame(n, f, 2000) >= 42, 1);
    memcpy(slirp_mac, f + 22, 6);

    size_t o4 = ip_frame(f, slirp_mac, VM_NET_DHCP, VM_NET_HOST, 6, 20);
    uint8_t *t = f + o4;
    memset(t, 0, 20);
    put16(t, 40000);
    put16(t + 2, port);
    put32(t + 4, 1000);
    t[12] = 5 << 4;
    t[13] = 0x02;                       /* SYN */
    put16(t + 14, 8192);
    uint8_t pseudo[12];
    put32(pseudo, VM_NET_DHCP);
    put32(pseudo + 4, VM_NET_HOST);
    pseudo[8] = 0, pseudo[9] = 6;
    put16(pseudo + 10, 20);
    uint32_t sum = (uint16_t)~csum(pseudo, 12, 0);
    put16(t + 16, csum(t, 20, sum));
    vm_net_send(n, f, o4 + 20);

    struct pollfd p = { .fd = l, .events = POLLIN };
    bool accepted = poll(&p, 1, restricted ? 500 : 3000) == 1;
    restricted_net = false;
    vm_net_free(n);
    close(l);
    return accepted;
}

START_TEST(test_restrict)
{
    ck_assert_msg(guest_connects_to_host(false), "unrestricted: the host saw no connection");
    ck_assert_msg(!guest_connects_to_host(true), "restrict=on: the guest reached the host");
}
END_TEST

START_TEST(test_hostfwd_port_in_use)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    ck_assert_int_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t al = sizeof(a);
    getsockname(l, (struct sockaddr *)&a, &al);
    ck_assert_int_eq(listen(l, 1), 0);
    struct vm_net_options o = { .enabled = true, .nfwd = 1 };
    o.fwd[0] = (struct vm_net_fwd){ .host_addr = 0x7f000001u, .host_port = ntohs(a.sin_port),
                                    .guest_port = 22 };
    char e[256] = "";
    struct vm_net *n = vm_net_slirp_new(&o, on_frame, NULL, e, sizeof(e));
    ck_assert_ptr_null(n);
    ck_assert_msg(strstr(e, "could not listen"), "%s", e);
    close(l);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("net_slirp");
    TCase *tc = tcase_create("slirp");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_dhcp);
    tcase_add_test(tc, test_rx_queue_full);
    tcase_add_test(tc, test_hostfwd);
    tcase_add_test(tc, test_restrict);
    tcase_add_test(tc, test_hostfwd_port_in_use);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
