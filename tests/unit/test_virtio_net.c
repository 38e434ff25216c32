/*
 * tests/unit/test_virtio_net.c — virtio-net (devices/virtio_net.c) driven
 * as a legacy driver would through its I/O BAR, with the rings in a
 * memory-backed fake RAM: configuration (MAC, link status), transmit,
 * receive into mergeable buffers (a frame over two chains, num_buffers),
 * waiting for buffers (the frame is kept, rx_ready when the driver posts),
 * and hostile rings (short header, descriptor loop, buffer past RAM) that
 * must end in NEEDS_RESET, never a crash.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/bus.h"
#include "devices/pci_host.h"
#include "devices/virtio_net.h"
#include "devices/virtio_pci.h"

#define RAM_SIZE (1u << 20)
#define IOBASE 0xc000u
#define DEVFN DEV_PCI_DEVFN(3, 0)
#define Q0 0x10000u          /* legacy rings: desc, avail, then used at +4096 (3 pages) */
#define Q1 0x20000u
#define QSIZE DEV_VIRTIO_NET_QUEUE_SIZE
#define BUF 0x40000u         /* data buffers */

static uint8_t *ram;
static struct dev_bus *bus;
static struct dev_pci_host *host;
static struct dev_virtio_net *net;
static int irq_level;
static uint8_t sent[4096];
static size_t sent_len;
static unsigned nsent, nready;
static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

static int ram_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    (void)ctx;
    if (gpa > RAM_SIZE || len > RAM_SIZE - gpa)
        return -EFAULT;
    memcpy(buf, ram + gpa, len);
    return 0;
}

static int ram_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
    (void)ctx;
    if (gpa > RAM_SIZE || len > RAM_SIZE - gpa)
        return -EFAULT;
    memcpy(ram + gpa, buf, len);
    return 0;
}

static void *ram_map(void *ctx, uint64_t gpa, size_t len)
{
    (void)ctx;
    return gpa > RAM_SIZE || len > RAM_SIZE - gpa ? NULL : ram + gpa;
}

static void irq_set(void *ctx, int line, int level)
{
    (void)ctx, (void)line;
    irq_level = level;
}

static void peer_send(void *ctx, const uint8_t *f, size_t len)
{
    (void)ctx;
    ck_assert_uint_le(len, sizeof(sent));
    memcpy(sent, f, len);
    sent_len = len;
    nsent++;
}

static void peer_rx_ready(void *ctx)
{
    (void)ctx;
    nready++;
}

static uint32_t io(unsigned reg, unsigned size, bool w, uint32_t v)
{
    dev_bus_pio(bus, (uint16_t)(IOBASE + reg), size, w, &v);
    return v;
}

static void put16(uint64_t a, uint16_t v) { memcpy(ram + a, &v, 2); }
static void put32(uint64_t a, uint32_t v) { memcpy(ram + a, &v, 4); }
static void put64(uint64_t a, uint64_t v) { memcpy(ram + a, &v, 8); }
static uint16_t get16(uint64_t a) { uint16_t v; memcpy(&v, ram + a, 2); return v; }
static uint32_t get32(uint64_t a) { uint32_t v; memcpy(&v, ram + a, 4); return v; }

static uint64_t desc(uint64_t q, unsigned i) { return q + 16u * i; }
static uint64_t avail(uint64_t q) { return q + 16u * QSIZE; }
static uint64_t used(uint64_t q) { return q + 8192u; }

static void set_desc(uint64_t q, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
                     uint16_t next)
{
    put64(desc(q, i), addr);
    put32(desc(q, i) + 8, len);
    put16(desc(q, i) + 12, flags);
    put16(desc(q, i) + 14, next);
}

/* Make head available on q (ring slot = current idx). */
static void make_avail(uint64_t q, uint16_t head)
{
    uint16_t idx = get16(avail(q) + 2);
    put16(avail(q) + 4 + 2u * (idx % QSIZE), head);
    put16(avail(q) + 2, (uint16_t)(idx + 1));
}

static void setup(void)
{
    ram = calloc(1, RAM_SIZE);
    bus = dev_bus_new();
    host = dev_pci_host_new(bus, NULL, NULL);
    struct dev_dma dma = { .read = ram_read, .write = ram_write, .map = ram_map };
    struct dev_irq_line irq = { .set = irq_set };
    struct dev_virtio_net_peer peer = { .send = peer_send, .rx_ready = peer_rx_ready };
    /* Both offloads, so both paths are tested (the machine offers
     * DEV_VIRTIO_NET_OFFLOADS). */
    net = dev_virtio_net_new(host, DEVFN, mac,
                             1ull << VIRTIO_NET_F_CSUM | 1ull << VIRTIO_NET_F_GUEST_CSUM, peer,
                             dma, irq);
    ck_assert_ptr_nonnull(net);
    dev_pci_config_write(host, 0, DEVFN, 0x10, 4, IOBASE | 1);
    dev_pci_config_write(host, 0, DEVFN, 0x04, 2, DEV_PCI_CMD_IO | DEV_PCI_CMD_MASTER);
    irq_level = 0;
    nsent = nready = 0;
    sent_len = 0;
}

static void teardown(void)
{
    dev_virtio_net_free(net);
    dev_pci_host_free(host);
    dev_bus_free(bus);
    free(ram);
}

/* A legacy driver's bring-up, accepting features want. */
static void driver_init(uint32_t want)
{
    io(VIRTIO_PCI_STATUS, 1, true, 0);
    io(VIRTIO_PCI_STATUS, 1, true, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    uint32_t host_f = io(VIRTIO_PCI_HOST_FEATURES, 4, false, 0);
    io(VIRTIO_PCI_GUEST_FEATURES, 4, true, host_f & want);
    const uint32_t qa[2] = { Q0, Q1 };
    for (unsigned q = 0; q < 2; q++) {
        io(VIRTIO_PCI_QUEUE_SEL, 2, true, q);
        ck_assert_uint_eq(io(VIRTIO_PCI_QUEUE_NUM, 2, false, 0), QSIZE);
        io(VIRTIO_PCI_QUEUE_PFN, 4, true, qa[q] >> 12);
    }
    io(VIRTIO_PCI_STATUS, 1, true,
       VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK);
}

static bool broken(void)
{
    return io(VIRTIO_PCI_STATUS, 1, false, 0) & VIRTIO_STATUS_NEEDS_RESET;
}

START_TEST(test_pci_identity_and_config)
{
    ck_assert_uint_eq(dev_pci_config_read(host, 0, DEVFN, 0, 4), 0x10001AF4u);
    ck_assert_uint_eq(dev_pci_config_read(host, 0, DEVFN, 0x2c, 4) >> 16, 1);  /* subsystem: net */
    uint32_t f = io(VIRTIO_PCI_HOST_FEATURES, 4, false, 0);
    ck_assert(f >> VIRTIO_NET_F_MAC & 1);
    ck_assert(f >> VIRTIO_NET_F_STATUS & 1);
    ck_assert(f >> VIRTIO_NET_F_MRG_RXBUF & 1);
    ck_assert(f >> VIRTIO_NET_F_CSUM & 1);
    ck_assert(f >> VIRTIO_NET_F_GUEST_CSUM & 1);
    for (unsigned i = 0; i < 6; i++)
        ck_assert_uint_eq(io(VIRTIO_PCI_CONFIG + i, 1, false, 0), mac[i]);
    ck_assert_uint_eq(io(VIRTIO_PCI_CONFIG + 6, 2, false, 0), VIRTIO_NET_S_LINK_UP);
    /* A legacy driver may write its MAC. */
    io(VIRTIO_PCI_CONFIG + 5, 1, true, 0x99);
    ck_assert_uint_eq(io(VIRTIO_PCI_CONFIG + 5, 1, false, 0), 0x99);
}
END_TEST

START_TEST(test_tx)
{
    driver_init(1u << VIRTIO_NET_F_MAC | 1u << VIRTIO_NET_F_MRG_RXBUF);
    /* Header (12 bytes with mergeable buffers) and frame in two descriptors,
     * the frame split over two more. */
    for (unsigned i = 0; i < 100; i++)
        ram[BUF + 0x100 + i] = (uint8_t)(i * 7);
    set_desc(Q1, 5, BUF, 12, VIRTQ_DESC_F_NEXT, 6);
    set_desc(Q1, 6, BUF + 0x100, 40, VIRTQ_DESC_F_NEXT, 7);
    set_desc(Q1, 7, BUF + 0x100 + 40, 60, 0, 0);
    make_avail(Q1, 5);
    io(VIRTIO_PCI_QUEUE_NOTIFY, 2, true, 1);
    ck_assert_uint_eq(nsent, 1);
    ck_assert_uint_eq(sent_len, 100);
    ck_assert_mem_eq(sent, ram + BUF + 0x100, 100);
    ck_assert_uint_eq(get16(used(Q1) + 2), 1);           /* used idx */
    ck_assert_uint_eq(get32(used(Q1) + 4), 5);           /* id */
    ck_assert_int_eq(irq_level, 1);
    ck_assert_uint_eq(io(VIRTIO_PCI_ISR, 1, false, 0) & 1, 1);
    ck_assert_int_eq(irq_level, 0);
    ck_assert(!broken());
    struct dev_virtio_net_stats st;
    dev_virtio_net_get_stats(net, &st);
    ck_assert_uint_eq(st.tx_frames, 1);
    ck_assert_uint_eq(st.tx_bytes, 100);
}
END_TEST

static uint16_t fold(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1)
        sum += (uint32_t)p[len - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

/* CSUM: the device completes a partial checksum; offsets outside the frame
 * drop the frame (counted), without breaking the device. */
START_TEST(test_tx_csum)
{
    driver_init(1u << VIRTIO_NET_F_CSUM | 1u << VIRTIO_NET_F_MRG_RXBUF);
    uint8_t *h = ram + BUF, *f = ram + BUF + 0x100;
    memset(h, 0, 12);
    h[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h[6] = 34, h[8] = 6;                       /* csum_start 34 (UDP), csum_offset 6 */
    for (unsigned i = 0; i < 75; i++)
        f[i] = (uint8_t)(i * 13 + 1);
    f[40] = 0x12, f[41] = 0x34;                 /* the pseudo-header's sum, as Linux leaves it */
    set_desc(Q1, 0, BUF, 12, VIRTQ_DESC_F_NEXT, 1);
    set_desc(Q1, 1, BUF + 0x100, 75, 0, 0);    /* odd length: the last byte pads */
    make_avail(Q1, 0);
    io(VIRTIO_PCI_QUEUE_NOTIFY, 2, true, 1);
    ck_assert_uint_eq(nsent, 1);
    ck_assert_mem_eq(sent, f, 40);
    ck_assert_mem_eq(sent + 42, f + 42, 33);
    /* Summing again with the stored checksum gives all ones. */
    uint8_t chk[75];
    memcpy(chk, sent, 75);
    uint16_t stored = (uint16_t)(chk[40] << 8 | chk[41]);
    chk[40] = 0x12, chk[41] = 0x34;
    ck_assert_uint_eq(stored, (uint16_t)~fold(chk + 34, 41));
    /* csum_offset past the frame: dropped, the device goes on. */
    h[8] = 200;
    make_avail(Q1, 0);
    io(VIRTIO_PCI_QUEUE_NOTIFY, 2, true, 1);
    ck_assert_uint_eq(nsent, 1);
    ck_assert(!broken());
    ck_assert_uint_eq(get16(used(Q1) + 2), 2);
    struct dev_virtio_net_stats st;
    dev_virtio_net_get_stats(net, &st);
    ck_assert_uint_eq(st.tx_dropped, 1);
}
END_TEST

/* GUEST_CSUM: frames arrive marked DATA_VALID. */
START_TEST(test_rx_data_valid)
{
    driver_init(1u << VIRTIO_NET_F_GUEST_CSUM | 1u << VIRTIO_NET_F_MRG_RXBUF);
    uint8_t frame[60] = { 1, 2, 3 };
    set_desc(Q0, 0, BUF, 2048, VIRTQ_DESC_F_WRITE, 0);
    make_avail(Q0, 0);
    ck_assert(dev_virtio_net_receive(net, frame, sizeof(frame)));
    ck_assert_uint_eq(ram[BUF], VIRTIO_NET_HDR_F_DATA_VALID);
    ck_assert_mem_eq(ram + BUF + 12, frame, 60);
}
END_TEST

/* Post n receive buffers of len bytes (descriptors 0..n-1). */
static void post_rx(unsigned first, unsigned n, uint32_t len)
{
    for (unsigned i = first; i < first + n; i++) {
        set_desc(Q0, i, BUF + 0x1000u * i, len, VIRTQ_DESC_F_WRITE, 0);
        make_avail(Q0, (uint16_t)i);
    }
}

START_TEST(test_rx_mergeable)
{
    driver_init(1u << VIRTIO_NET_F_MAC | 1u << VIRTIO_NET_F_MRG_RXBUF);
    uint8_t frame[1514];
    for (unsigned i = 0; i < sizeof(frame); i++)
        frame[i] = (uint8_t)(i ^ (i >> 8));
    /* No buffers yet: the frame waits. */
    ck_assert(!dev_virtio_net_receive(net, frame, sizeof(frame)));
    post_rx(0, 1, 1024);
    io(VIRTIO_PCI_QUEUE_NOTIFY, 2, true, 0);
    ck_assert_uint_eq(nready, 1);
    /* One 1 KiB buffer is not enough: given back, the frame still waits. */
    ck_assert(!dev_virtio_net_receive(net, frame, sizeof(frame)));
    ck_assert_uint_eq(get16(used(Q0) + 2), 0);
    post_rx(1, 2, 1024);
    ck_assert(dev_virtio_net_receive(net, frame, sizeof(frame)));
    /* Two chains: 12 + 1012 bytes, then 502. */
    ck_assert_uint_eq(get16(used(Q0) + 2), 2);
    ck_assert_uint_eq(get32(used(Q0) + 4), 0);
    ck_assert_uint_eq(get32(used(Q0) + 8), 1024);
    ck_assert_uint_eq(get32(used(Q0) + 12), 1);
    ck_assert_uint_eq(get32(used(Q0) + 16), 12 + 1514 - 1024);
    ck_assert_uint_eq(ram[BUF + 0], 0);                   /* flags */
    ck_assert_uint_eq(ram[BUF + 1], VIRTIO_NET_HDR_GSO_NONE);
    ck_assert_uint_eq(get16(BUF + 10), 2);                /* num_buffers */
    ck_assert_mem_eq(ram + BUF + 12, frame, 1012);
    ck_assert_mem_eq(ram + BUF + 0x1000, frame + 1012, 502);
    ck_assert_int_eq(irq_level, 1);
    /* A small frame takes the third buffer alone. */
    ck_assert(dev_virtio_net_receive(net, frame, 60));
    ck_assert_uint_eq(get16(used(Q0) + 2), 3);
    ck_assert_uint_eq(get32(used(Q0) + 4 + 8 * 2), 2);
    ck_assert_uint_eq(get32(used(Q0) + 8 + 8 * 2), 72);
    ck_assert_uint_eq(get16(BUF + 0x2000 + 10), 1);
    struct dev_virtio_net_stats st;
    dev_virtio_net_get_stats(net, &st);
    ck_assert_uint_eq(st.rx_frames, 2);
    ck_assert_uint_eq(st.rx_dropped, 0);
}
END_TEST

START_TEST(test_rx_no_mergeable)
{
    driver_init(1u << VIRTIO_NET_F_MAC);   /* legacy, no MRG_RXBUF: 10-byte header */
    uint8_t frame[200];
    memset(frame, 0xab, sizeof(frame));
    post_rx(0, 1, 100);
    /* Too big for the one chain it may use: dropped and counted, the
     * buffer stays for the next frame. */
    ck_assert(dev_virtio_net_receive(net, frame, sizeof(frame)));
    ck_assert_uint_eq(get16(used(Q0) + 2), 0);
    ck_assert(dev_virtio_net_receive(net, frame, 90));
    ck_assert_uint_eq(get16(used(Q0) + 2), 1);
    ck_assert_uint_eq(get32(used(Q0) + 8), 100);
    ck_assert_mem_eq(ram + BUF + 10, frame, 90);
    struct dev_virtio_net_stats st;
    dev_virtio_net_get_stats(net, &st);
    ck_assert_uint_eq(st.rx_dropped, 1);
}
END_TEST

START_TEST(test_rx_before_driver)
{
    uint8_t frame[60] = { 0 };
    ck_assert(dev_virtio_net_receive(net, frame, sizeof(frame)));   /* dropped: no driver */
    struct dev_virtio_net_stats st;
    dev_virtio_net_get_stats(net, &st);
    ck_assert_uint_eq(st.rx_dropped, 1);
    /* A notification before the queues are set up does nothing. */
    io(VIRTIO_PCI_QUEUE_NOTIFY, 2, true, 1);
    io(VIRTIO_PCI_QUEUE_NOTIFY, 2, true, 0);
    ck_assert_uint_eq(nsent + nready, 0);
}
END_TEST

START_TEST(test_hostile_short_header)
{
    driver_init(1u << VIRTIO_NET_F_MRG_RXBUF);
    set_desc(Q1, 0, BUF, 4, 0, 0);
    make_avail(Q1, 0);
    io(VIRTIO_PCI_QUEUE_NOTIFY, 2, true, 1);
    ck_assert_uint_eq(nsent, 0);
    ck_assert(broken());
}
END_TEST

START_TEST(test_hostile_loop)
{
    driver_init(1u << VIRTIO_NET_F_MRG_RXBUF);
    set_desc(Q1, 0, BUF, 12, VIRTQ_DESC_F_NEXT, 1);
    set_desc(Q1, 1, BUF, 64, VIRTQ_DESC_F_NEXT, 0);
    make_avail(Q1, 0);
    io(VIRTIO_PCI_QUEUE_NOTIFY, 2, true, 1);
    ck_assert_uint_eq(nsent, 0);
    ck_assert(broken());
    /* The broken device takes no frame either. */
    uint8_t frame[60] = { 0 };
    ck_assert(dev_virtio_net_receive(net, frame, sizeof(frame)));
}
END_TEST

START_TEST(test_hostile_past_ram)
{
    driver_init(1u << VIRTIO_NET_F_MRG_RXBUF);
    set_desc(Q0, 0, RAM_SIZE - 16, 4096, VIRTQ_DESC_F_WRITE, 0);
    make_avail(Q0, 0);
    uint8_t frame[60] = { 0 };
    ck_assert(dev_virtio_net_receive(net, frame, sizeof(frame)));
    ck_assert(broken());
    ck_assert_uint_eq(get16(used(Q0) + 2), 0);
}
END_TEST

START_TEST(test_hostile_huge_tx)
{
    driver_init(1u << VIRTIO_NET_F_MRG_RXBUF);
    set_desc(Q1, 0, BUF, 12, VIRTQ_DESC_F_NEXT, 1);
    set_desc(Q1, 1, 0, 70000, 0, 0);   /* a frame past 64 KiB */
    make_avail(Q1, 0);
    io(VIRTIO_PCI_QUEUE_NOTIFY, 2, true, 1);
    ck_assert_uint_eq(nsent, 0);
    ck_assert(broken());
}
END_TEST

int main(void)
{
    Suite *s = suite_create("virtio_net");
    TCase *tc = tcase_create("virtio_net");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_pci_identity_and_config);
    tcase_add_test(tc, test_tx);
    tcase_add_test(tc, test_rx_mergeable);
    tcase_add_test(tc, test_tx_csum);
    tcase_add_test(tc, test_rx_data_valid);
    tcase_add_test(tc, test_rx_no_mergeable);
    tcase_add_test(tc, test_rx_before_driver);
    tcase_add_test(tc, test_hostile_short_header);
    tcase_add_test(tc, test_hostile_loop);
    tcase_add_test(tc, test_hostile_past_ram);
    tcase_add_test(tc, test_hostile_huge_tx);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
