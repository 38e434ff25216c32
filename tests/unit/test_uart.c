/*
 * tests/unit/test_uart.c — the 16550A model driven through the bus, with an
 * in-memory chardev standing in for the terminal.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "devices/bus.h"
#include "devices/uart16550.h"

#define COM1 0x3f8
enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3,
       MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

/* In-memory chardev: out collects TX, in[] is pending RX. */
static struct {
    uint8_t out[256];
    size_t out_n;
    uint8_t in[256];
    size_t in_pos, in_n;
} mem;

static void mem_write(void *ctx, const uint8_t *buf, size_t n)
{
    (void)ctx;
    ck_assert_uint_le(mem.out_n + n, sizeof(mem.out));
    memcpy(mem.out + mem.out_n, buf, n);
    mem.out_n += n;
}

static int mem_read(void *ctx, uint8_t *b)
{
    (void)ctx;
    if (mem.in_pos == mem.in_n)
        return 0;
    *b = mem.in[mem.in_pos++];
    return 1;
}

static void feed(const char *s)
{
    size_t n = strlen(s);
    memcpy(mem.in + mem.in_n, s, n);
    mem.in_n += n;
}

static struct dev_bus *bus;
static struct dev_uart *uart;

static void setup(void)
{
    memset(&mem, 0, sizeof(mem));
    bus = dev_bus_new();
    struct dev_chardev chr = { .write = mem_write, .read = mem_read, .ctx = NULL };
    uart = dev_uart_new(bus, COM1, &chr);   /* chardev is copied */
    ck_assert_ptr_nonnull(uart);
}

static void teardown(void)
{
    dev_bus_free(bus);
    dev_uart_free(uart);
}

static uint8_t in8(unsigned reg)
{
    uint32_t v = 0;
    dev_bus_pio(bus, COM1 + reg, 1, false, &v);
    return (uint8_t)v;
}

static void out8(unsigned reg, uint8_t val)
{
    uint32_t v = val;
    dev_bus_pio(bus, COM1 + reg, 1, true, &v);
}

START_TEST(reset_state)
{
    ck_assert_uint_eq(in8(IER), 0);
    ck_assert_uint_eq(in8(IIR), 0x01);          /* no interrupt, FIFOs off */
    ck_assert_uint_eq(in8(LCR), 0);
    ck_assert_uint_eq(in8(MCR), 0);
    ck_assert_uint_eq(in8(LSR), 0x60);          /* THRE | TEMT */
    ck_assert_uint_eq(in8(MSR), 0xb0);          /* CTS, DSR, DCD of a connected peer; no deltas */
}
END_TEST

START_TEST(tx_reaches_chardev)
{
    out8(THR, 'o');
    out8(THR, 'k');
    ck_assert_uint_eq(mem.out_n, 2);
    ck_assert_mem_eq(mem.out, "ok", 2);
    ck_assert_uint_eq(in8(LSR) & 0x60, 0x60);   /* instant transmit */
}
END_TEST

START_TEST(rx_via_rbr_and_dr)
{
    ck_assert_uint_eq(in8(LSR) & 0x01, 0);
    feed("hey");
    ck_assert_uint_eq(in8(LSR) & 0x01, 0x01);
    ck_assert_uint_eq(in8(RBR), 'h');
    ck_assert_uint_eq(in8(RBR), 'e');
    ck_assert_uint_eq(in8(LSR) & 0x01, 0x01);
    ck_assert_uint_eq(in8(RBR), 'y');
    ck_assert_uint_eq(in8(LSR) & 0x01, 0);
    ck_assert_uint_eq(mem.out_n, 0);            /* nothing echoed */
}
END_TEST

START_TEST(rx_fifo_holds_16)
{
    out8(FCR, 0x01);
    feed("0123456789abcdefXYZ");
    ck_assert_uint_eq(in8(LSR) & 0x03, 0x01);   /* DR, and no overrun: pulled, not pushed */
    ck_assert_uint_eq(mem.in_pos, 16);          /* took only what the FIFO holds */
    for (const char *p = "0123456789abcdefXYZ"; *p; p++)
        ck_assert_uint_eq(in8(RBR), (uint8_t)*p);
    ck_assert_uint_eq(in8(LSR) & 0x01, 0);
}
END_TEST

START_TEST(divisor_latch)
{
    out8(IER, 0x05);
    out8(LCR, 0x83);            /* DLAB, 8N1 */
    out8(DLL, 0x01);
    out8(DLM, 0x02);
    ck_assert_uint_eq(in8(DLL), 0x01);
    ck_assert_uint_eq(in8(DLM), 0x02);
    ck_assert_uint_eq(mem.out_n, 0);            /* DLL write is not a transmit */
    out8(LCR, 0x03);
    ck_assert_uint_eq(in8(LCR), 0x03);
    ck_assert_uint_eq(in8(IER), 0x05);          /* IER untouched by DLM writes */
    out8(LCR, 0x83);
    ck_assert_uint_eq(in8(DLL), 0x01);
    ck_assert_uint_eq(in8(DLM), 0x02);
}
END_TEST

START_TEST(scratch)
{
    out8(SCR, 0x5a);
    ck_assert_uint_eq(in8(SCR), 0x5a);
    out8(SCR, 0xa5);
    ck_assert_uint_eq(in8(SCR), 0xa5);
}
END_TEST

START_TEST(loopback)
{
    feed("Z");                                   /* must not be received in loopback */
    out8(MCR, 0x10);
    ck_assert_uint_eq(in8(MSR) & 0xf0, 0x00);
    out8(THR, 0xa5);
    ck_assert_uint_eq(mem.out_n, 0);            /* not sent out */
    ck_assert_uint_eq(in8(LSR) & 0x01, 0x01);
    ck_assert_uint_eq(in8(RBR), 0xa5);
    ck_assert_uint_eq(in8(LSR) & 0x01, 0);

    /* MCR outputs drive MSR inputs: RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD. */
    out8(MCR, 0x10 | 0x02);
    ck_assert_uint_eq(in8(MSR), 0x10 | 0x01);   /* CTS + DCTS */
    ck_assert_uint_eq(in8(MSR), 0x10);          /* delta cleared by the read */
    out8(MCR, 0x10 | 0x0f);
    ck_assert_uint_eq(in8(MSR) & 0xf0, 0xf0);
    out8(MCR, 0x10);
    ck_assert_uint_eq(in8(MSR), 0x0f);          /* all fell: DCTS, DDSR, TERI, DDCD */

    /* Overrun with FIFOs off: second byte before the first is read. */
    out8(THR, 1);
    out8(THR, 2);
    ck_assert_uint_eq(in8(LSR) & 0x03, 0x03);
    ck_assert_uint_eq(in8(LSR) & 0x02, 0);      /* OE clears on read */
    ck_assert_uint_eq(in8(RBR), 2);

    out8(MCR, 0x00);                             /* leave loopback: input flows again */
    ck_assert_uint_eq(in8(RBR), 'Z');
}
END_TEST

START_TEST(iir_fifo_state)
{
    ck_assert_uint_eq(in8(IIR), 0x01);
    out8(FCR, 0x01);
    ck_assert_uint_eq(in8(IIR), 0xc1);
    out8(FCR, 0x06);                             /* bit 0 clear: FIFOs off */
    ck_assert_uint_eq(in8(IIR), 0x01);
    out8(FCR, 0xc7);
    ck_assert_uint_eq(in8(IIR), 0xc1);

    /* FIFO reset drops received data. */
    feed("ab");
    ck_assert_uint_eq(in8(LSR) & 0x01, 0x01);
    out8(FCR, 0xc3);
    mem.in_pos = mem.in_n;                       /* nothing more to pull */
    ck_assert_uint_eq(in8(LSR) & 0x01, 0);
}
END_TEST

START_TEST(ier_masks_interrupts)
{
    /* THRE: raised when enabled with THR empty, acked by reading IIR. */
    out8(IER, 0x02);
    ck_assert_uint_eq(in8(IIR), 0x02);
    ck_assert_uint_eq(in8(IIR), 0x01);
    out8(THR, 'x');                              /* re-armed after the transmit */
    ck_assert_uint_eq(in8(IIR), 0x02);
    out8(IER, 0x00);
    out8(THR, 'y');
    ck_assert_uint_eq(in8(IIR), 0x01);          /* masked */

    /* Received data: only with ERBFI; has priority over THRE. */
    feed("r");
    ck_assert_uint_eq(in8(IIR), 0x01);
    out8(IER, 0x03);
    ck_assert_uint_eq(in8(IIR), 0x04);
    ck_assert_uint_eq(in8(RBR), 'r');
    ck_assert_uint_eq(in8(IIR), 0x02);          /* THRE now visible */
    ck_assert_uint_eq(in8(IIR), 0x01);

    /* FIFO mode: below the trigger level it is a character timeout. */
    out8(FCR, 0x41);                             /* trigger at 4 */
    feed("ab");
    ck_assert_uint_eq(in8(IIR), 0xcc);
    feed("cd");
    ck_assert_uint_eq(in8(IIR), 0xc4);

    /* Line status: overrun (loopback, full FIFO) with ELSI. */
    out8(FCR, 0x07);
    out8(IER, 0x04);
    out8(MCR, 0x10);
    for (int i = 0; i < 17; i++)
        out8(THR, (uint8_t)i);
    ck_assert_uint_eq(in8(IIR), 0xc6);
    ck_assert_uint_eq(in8(LSR) & 0x03, 0x03);
    ck_assert_uint_eq(in8(IIR), 0xc1);          /* cleared by reading LSR */
    ck_assert_uint_eq(in8(RBR), 0);             /* the FIFO kept the first 16 */

    /* Modem status with EDSSI. */
    out8(IER, 0x08);
    out8(MCR, 0x12);
    ck_assert_uint_eq(in8(IIR), 0xc0);
    in8(MSR);
    ck_assert_uint_eq(in8(IIR), 0xc1);
    ck_assert_uint_eq(in8(IER), 0x08);
}
END_TEST

START_TEST(wide_access_splits)
{
    uint32_t v = 0;
    out8(SCR, 0x77);
    dev_bus_pio(bus, COM1 + LSR, 4, false, &v);  /* LSR, MSR, SCR, past the end */
    ck_assert_uint_eq(v & 0xff, 0x60);
    ck_assert_uint_eq((v >> 16) & 0xff, 0x77);
    ck_assert_uint_eq(v >> 24, 0xff);
}
END_TEST

static Suite *uart_suite(void)
{
    Suite *s = suite_create("uart16550");
    TCase *tc = tcase_create("uart");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, reset_state);
    tcase_add_test(tc, tx_reaches_chardev);
    tcase_add_test(tc, rx_via_rbr_and_dr);
    tcase_add_test(tc, rx_fifo_holds_16);
    tcase_add_test(tc, divisor_latch);
    tcase_add_test(tc, scratch);
    tcase_add_test(tc, loopback);
    tcase_add_test(tc, iir_fifo_state);
    tcase_add_test(tc, ier_masks_interrupts);
    tcase_add_test(tc, wide_access_splits);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(uart_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
