/*
 * tests/unit/test_pci.c — PCI bus 0 through configuration mechanism #1
 * (ports 0xCF8/0xCFC on a dev_bus): absent functions, read-only and
 * write-1-to-clear bits, a test function's BARs (sizing, mapping on the bus
 * only while decode is enabled, moving, conflicts), the 440FX (IDs, PAM,
 * SMRAM) and the 0xCF9 reset register.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/bus.h"
#include "devices/pci_host.h"

static struct dev_bus *bus;
static struct dev_pci_host *host;
static int resets;

static void on_reset(void *ctx)
{
    (void)ctx;
    resets++;
}

static void setup(void)
{
    bus = dev_bus_new();
    ck_assert_ptr_nonnull(bus);
    resets = 0;
    host = dev_pci_host_new(bus, on_reset, NULL);
    ck_assert_ptr_nonnull(host);
}

static void teardown(void)
{
    dev_pci_host_free(host);
    dev_bus_free(bus);
}

static uint32_t in(uint16_t port, unsigned size)
{
    uint32_t v = 0;
    dev_bus_pio(bus, port, size, false, &v);
    return v;
}

static void out(uint16_t port, unsigned size, uint32_t v)
{
    dev_bus_pio(bus, port, size, true, &v);
}

/* A configuration cycle through the ports, as a guest does it. */
static uint32_t cfg_rd(unsigned devfn, unsigned reg, unsigned size)
{
    out(0xCF8, 4, 0x80000000u | devfn << 8 | (reg & 0xFC));
    return in((uint16_t)(0xCFC + (reg & 3)), size);
}

static void cfg_wr(unsigned devfn, unsigned reg, unsigned size, uint32_t v)
{
    out(0xCF8, 4, 0x80000000u | devfn << 8 | (reg & 0xFC));
    out((uint16_t)(0xCFC + (reg & 3)), size, v);
}

/* ---- a test function with two BARs ---- */

struct rec {
    int calls;
    uint64_t offset;
    uint64_t rdata;
};

static void rec_io(void *opaque, uint64_t offset, unsigned size, bool is_write, uint64_t *data)
{
    (void)size;
    struct rec *r = opaque;
    r->calls++;
    r->offset = offset;
    if (!is_write)
        *data = r->rdata;
}

struct maprec {
    int calls;
    unsigned bar;
    bool mapped;
    uint32_t base;
};

static void rec_bar_map(struct dev_pci_fn *fn, unsigned bar, bool mapped, uint32_t base)
{
    struct maprec *m = fn->opaque;
    m->calls++;
    m->bar = bar;
    m->mapped = mapped;
    m->base = base;
}

struct wrec {
    int calls;
    unsigned reg, size;
    uint32_t value;
};

static struct wrec wr;

static void rec_config_write(struct dev_pci_fn *fn, unsigned reg, unsigned size, uint32_t value)
{
    (void)fn;
    wr.calls++;
    wr.reg = reg;
    wr.size = size;
    wr.value = value;
}

static struct dev_pci_fn tf;
static struct rec io_rec, mem_rec;
static struct maprec maps;

#define TDEV DEV_PCI_DEVFN(5, 0)

static void add_test_fn(void)
{
    memset(&io_rec, 0, sizeof(io_rec));
    memset(&mem_rec, 0, sizeof(mem_rec));
    memset(&maps, 0, sizeof(maps));
    memset(&wr, 0, sizeof(wr));
    io_rec.rdata = 0x11;
    mem_rec.rdata = 0x22;
    dev_pci_fn_init(&tf, "test", 0x1234, 0x5678, 0x09, 0x020000, 0x00);
    ck_assert_int_eq(dev_pci_fn_set_bar(&tf, 0, DEV_PCI_BAR_IO, 32, "t-io", rec_io, &io_rec), 0);
    ck_assert_int_eq(dev_pci_fn_set_bar(&tf, 1, DEV_PCI_BAR_MEM32, 0x1000, "t-mem", rec_io,
                                        &mem_rec), 0);
    tf.cfg[DEV_PCI_INT_PIN] = 1;
    tf.bar_map = rec_bar_map;
    tf.config_write = rec_config_write;
    tf.opaque = &maps;
    ck_assert_int_eq(dev_pci_register(host, TDEV, &tf), 0);
}

START_TEST(absent_functions_read_ones)
{
    ck_assert_uint_eq(cfg_rd(DEV_PCI_DEVFN(1, 0), 0, 4), 0xFFFFFFFFu);
    ck_assert_uint_eq(cfg_rd(DEV_PCI_DEVFN(31, 7), 0x3C, 4), 0xFFFFFFFFu);
    ck_assert_uint_eq(cfg_rd(DEV_PCI_DEVFN(0, 1), 0x0E, 1), 0xFF);
    /* Bus 1 is absent too, even device 0. */
    out(0xCF8, 4, 0x80010000u);
    ck_assert_uint_eq(in(0xCFC, 4), 0xFFFFFFFFu);
    out(0xCFC, 4, 0);                         /* dropped */
    /* Enable bit clear: no cycle. */
    out(0xCF8, 4, 0x00000000u);
    ck_assert_uint_eq(in(0xCFC, 4), 0xFFFFFFFFu);
    ck_assert_uint_eq(in(0xCF8, 4), 0);
    out(0xCF8, 4, 0xFFFFFFFFu);
    ck_assert_uint_eq(in(0xCF8, 4), 0x80FFFFFCu); /* reserved bits read 0 */
}
END_TEST

START_TEST(host_bridge_identity)
{
    ck_assert_uint_eq(cfg_rd(0, 0x00, 4), 0x12378086u);
    ck_assert_uint_eq(cfg_rd(0, 0x08, 4), 0x06000002u);   /* class 0600, rev 2 */
    ck_assert_uint_eq(cfg_rd(0, 0x0E, 1), 0x00);
    ck_assert_uint_eq(cfg_rd(0, 0x04, 2), 0x0006);
    ck_assert_uint_eq(cfg_rd(0, 0x06, 2), 0x0280);
    ck_assert_uint_eq(cfg_rd(0, 0x02, 2), 0x1237);        /* word at 0xCFE */
    ck_assert_uint_eq(cfg_rd(0, 0x03, 1), 0x12);          /* byte at 0xCFF */
    /* IDs and class are read-only; the latency timer is not. */
    cfg_wr(0, 0x00, 4, 0xDEADBEEF);
    cfg_wr(0, 0x08, 4, 0xFFFFFFFF);
    ck_assert_uint_eq(cfg_rd(0, 0x00, 4), 0x12378086u);
    ck_assert_uint_eq(cfg_rd(0, 0x08, 4), 0x06000002u);
    cfg_wr(0, 0x0D, 1, 0x40);
    ck_assert_uint_eq(cfg_rd(0, 0x0D, 1), 0x40);
    /* No BARs: sizing reads 0. */
    cfg_wr(0, 0x10, 4, 0xFFFFFFFF);
    ck_assert_uint_eq(cfg_rd(0, 0x10, 4), 0);
}
END_TEST

struct pamrec {
    int calls;
    unsigned reg;
    uint8_t value;
};

static void on_pam(void *ctx, unsigned reg, uint8_t value)
{
    struct pamrec *p = ctx;
    p->calls++;
    p->reg = reg;
    p->value = value;
}

START_TEST(host_bridge_pam_smram)
{
    struct pamrec pam = { 0 };
    dev_pci_host_set_pam_notify(host, on_pam, &pam);
    for (unsigned r = 0x59; r <= 0x5F; r++)
        ck_assert_uint_eq(cfg_rd(0, r, 1), 0);
    cfg_wr(0, 0x59, 1, 0xFF);                  /* PAM0: only bits 5:4 */
    ck_assert_uint_eq(cfg_rd(0, 0x59, 1), 0x30);
    ck_assert_int_eq(pam.calls, 1);
    ck_assert_uint_eq(pam.reg, 0x59);
    ck_assert_uint_eq(pam.value, 0x30);
    cfg_wr(0, 0x59, 1, 0x30);                  /* no change, no call */
    ck_assert_int_eq(pam.calls, 1);
    cfg_wr(0, 0x5C, 4, 0xFFFFFFFF);            /* PAM3-6 at once */
    ck_assert_uint_eq(cfg_rd(0, 0x5C, 4), 0x33333333u);
    ck_assert_int_eq(pam.calls, 5);
    ck_assert_uint_eq(pam.reg, 0x5F);
    cfg_wr(0, 0x5A, 2, 0x0211);
    ck_assert_uint_eq(cfg_rd(0, 0x58, 4), 0x02113000u);
    ck_assert_int_eq(pam.calls, 7);
    /* SMRAM: C_BASE_SEG reads 010; D_LCK clears and locks D_OPEN. */
    ck_assert_uint_eq(cfg_rd(0, 0x72, 1), 0x02);
    cfg_wr(0, 0x72, 1, 0x47);
    ck_assert_uint_eq(cfg_rd(0, 0x72, 1), 0x42);
    cfg_wr(0, 0x72, 1, 0x5A);
    ck_assert_uint_eq(cfg_rd(0, 0x72, 1), 0x1A);
    cfg_wr(0, 0x72, 1, 0x40);
    ck_assert_uint_eq(cfg_rd(0, 0x72, 1), 0x12);  /* D_LCK stays, D_OPEN stays 0 */
}
END_TEST

START_TEST(reset_register)
{
    ck_assert_uint_eq(in(0xCF9, 1), 0);
    out(0xCF9, 1, 0x02);
    ck_assert_uint_eq(in(0xCF9, 1), 0x02);
    ck_assert_int_eq(resets, 0);
    out(0xCF9, 1, DEV_PCI_RESET_VALUE);
    ck_assert_int_eq(resets, 1);
    out(0xCF9, 1, 0x04);
    ck_assert_int_eq(resets, 2);
    /* A word at 0xCF9 is neither: reads all-ones, writes ignored. */
    ck_assert_uint_eq(in(0xCF9, 2), 0xFFFF);
    out(0xCF9, 2, 0x0404);
    ck_assert_int_eq(resets, 2);
    /* CONFIG_ADDRESS is untouched by byte writes at 0xCF8-0xCFB. */
    out(0xCF8, 4, 0x80000008u);
    out(0xCFB, 1, 0x01);
    ck_assert_uint_eq(in(0xCF8, 4), 0x80000008u);
}
END_TEST

START_TEST(register_rules)
{
    add_test_fn();
    struct dev_pci_fn other;
    dev_pci_fn_init(&other, "other", 0x1234, 0x1, 0, 0xFF0000, 0);
    ck_assert_int_eq(dev_pci_register(host, TDEV, &other), -EEXIST);
    ck_assert_int_eq(dev_pci_register(host, 0, &other), -EEXIST);   /* the 440FX */
    ck_assert_int_eq(dev_pci_register(host, 256, &other), -EINVAL);
    ck_assert_ptr_eq(dev_pci_fn_at(host, TDEV), &tf);
    ck_assert_ptr_null(dev_pci_fn_at(host, TDEV + 1));
    ck_assert_uint_eq(cfg_rd(TDEV, 0, 4), 0x56781234u);
    ck_assert_uint_eq(cfg_rd(TDEV, 0x08, 4), 0x02000009u);
    ck_assert_uint_eq(cfg_rd(TDEV, 0x3C, 2), 0x0100);     /* pin A, line 0 */
    cfg_wr(TDEV, 0x3C, 2, 0x040B);                         /* pin is read-only */
    ck_assert_uint_eq(cfg_rd(TDEV, 0x3C, 2), 0x010B);
    /* Bad BARs. */
    ck_assert_int_eq(dev_pci_fn_set_bar(&other, 6, DEV_PCI_BAR_IO, 16, "x", NULL, NULL), -EINVAL);
    ck_assert_int_eq(dev_pci_fn_set_bar(&other, 0, DEV_PCI_BAR_IO, 24, "x", NULL, NULL), -EINVAL);
    ck_assert_int_eq(dev_pci_fn_set_bar(&other, 0, DEV_PCI_BAR_IO, 512, "x", NULL, NULL), -EINVAL);
    ck_assert_int_eq(dev_pci_fn_set_bar(&other, 0, DEV_PCI_BAR_MEM32, 8, "x", NULL, NULL), -EINVAL);
    ck_assert_int_eq(dev_pci_fn_set_bar(&other, 0, DEV_PCI_BAR_UNUSED, 16, "x", NULL, NULL), -EINVAL);
    ck_assert_int_eq(dev_pci_unregister(host, TDEV), 0);
    ck_assert_int_eq(dev_pci_unregister(host, TDEV), -ENOENT);
    ck_assert_uint_eq(cfg_rd(TDEV, 0, 4), 0xFFFFFFFFu);
}
END_TEST

START_TEST(status_rw1c_and_hook)
{
    add_test_fn();
    tf.cfg[DEV_PCI_STATUS] = 0x10;         /* capabilities list: read-only */
    tf.cfg[DEV_PCI_STATUS + 1] = 0xF9;     /* every RW1C bit set */
    cfg_wr(TDEV, 0x06, 2, 0x0110);         /* clear master data parity error only */
    ck_assert_uint_eq(cfg_rd(TDEV, 0x06, 2), 0xF810);
    cfg_wr(TDEV, 0x04, 4, 0xC0000000);     /* dword write: command 0, clear 15 and 14 */
    ck_assert_uint_eq(cfg_rd(TDEV, 0x06, 2), 0x3810);
    ck_assert_int_eq(wr.calls, 2);
    ck_assert_uint_eq(wr.reg, 0x04);
    ck_assert_uint_eq(wr.size, 4);
    ck_assert_uint_eq(wr.value, 0xC0000000u);
    cfg_wr(TDEV, 0x41, 1, 0x5A);           /* device-specific: hook sees it, masks keep it 0 */
    ck_assert_uint_eq(wr.reg, 0x41);
    ck_assert_uint_eq(wr.size, 1);
    ck_assert_uint_eq(wr.value, 0x5A);
    ck_assert_uint_eq(cfg_rd(TDEV, 0x40, 4), 0);
    /* Command: only the enables are writable. */
    cfg_wr(TDEV, 0x04, 2, 0xFFFF);
    ck_assert_uint_eq(cfg_rd(TDEV, 0x04, 2), 0x0147);
}
END_TEST

START_TEST(bar_sizing)
{
    add_test_fn();
    ck_assert_uint_eq(cfg_rd(TDEV, 0x10, 4), 0x00000001u);   /* I/O indicator */
    ck_assert_uint_eq(cfg_rd(TDEV, 0x14, 4), 0x00000000u);
    cfg_wr(TDEV, 0x10, 4, 0xFFFFFFFF);
    cfg_wr(TDEV, 0x14, 4, 0xFFFFFFFF);
    ck_assert_uint_eq(cfg_rd(TDEV, 0x10, 4), 0x0000FFE1u);   /* 32 ports, 16-bit decode */
    ck_assert_uint_eq(cfg_rd(TDEV, 0x14, 4), 0xFFFFF000u);   /* 4 KiB */
    for (unsigned b = 2; b < 6; b++) {
        cfg_wr(TDEV, 0x10 + 4 * b, 4, 0xFFFFFFFF);
        ck_assert_uint_eq(cfg_rd(TDEV, 0x10 + 4 * b, 4), 0);  /* unused */
    }
    cfg_wr(TDEV, 0x30, 4, 0xFFFFFFFF);                         /* no expansion ROM */
    ck_assert_uint_eq(cfg_rd(TDEV, 0x30, 4), 0);
    /* Low bits below the size are dropped. */
    cfg_wr(TDEV, 0x10, 4, 0x0000C01F);
    ck_assert_uint_eq(cfg_rd(TDEV, 0x10, 4), 0x0000C001u);
    cfg_wr(TDEV, 0x14, 4, 0xFEBF1FFF);
    ck_assert_uint_eq(cfg_rd(TDEV, 0x14, 4), 0xFEBF1000u);
    ck_assert_int_eq(maps.calls, 0);   /* decode is off all along */
}
END_TEST

START_TEST(bar_mapping_follows_command)
{
    add_test_fn();
    uint64_t v = 0;
    cfg_wr(TDEV, 0x10, 4, 0xC000);
    cfg_wr(TDEV, 0x14, 4, 0xFEBF0000);
    ck_assert_uint_eq(in(0xC000, 1), 0xFF);          /* decode off: nothing there */
    ck_assert(!dev_bus_mmio(bus, 0xFEBF0000, 4, false, &v));
    ck_assert_int_eq(io_rec.calls + mem_rec.calls, 0);

    cfg_wr(TDEV, 0x04, 2, DEV_PCI_CMD_IO);           /* I/O only */
    ck_assert_int_eq(maps.calls, 1);
    ck_assert_uint_eq(maps.bar, 0);
    ck_assert(maps.mapped);
    ck_assert_uint_eq(maps.base, 0xC000);
    ck_assert_uint_eq(in(0xC01F, 1), 0x11);
    ck_assert_uint_eq(io_rec.offset, 0x1F);
    ck_assert_uint_eq(in(0xC020, 1), 0xFF);          /* just past the BAR */
    ck_assert(!dev_bus_mmio(bus, 0xFEBF0000, 4, false, &v));

    cfg_wr(TDEV, 0x04, 2, DEV_PCI_CMD_IO | DEV_PCI_CMD_MEM);
    ck_assert_int_eq(maps.calls, 2);
    ck_assert_uint_eq(maps.bar, 1);
    ck_assert_uint_eq(maps.base, 0xFEBF0000u);
    ck_assert(dev_bus_mmio(bus, 0xFEBF0FFC, 4, false, &v));
    ck_assert_uint_eq(v, 0x22);
    ck_assert_uint_eq(mem_rec.offset, 0xFFC);

    /* Move the I/O BAR while decoded: the old ports go, the new ones come. */
    cfg_wr(TDEV, 0x10, 2, 0xD040);
    ck_assert_int_eq(maps.calls, 3);
    ck_assert_uint_eq(maps.base, 0xD040);
    ck_assert_uint_eq(in(0xC000, 1), 0xFF);
    ck_assert_uint_eq(in(0xD041, 1), 0x11);
    ck_assert_uint_eq(io_rec.offset, 1);

    /* Sizing while decoded: the all-ones value reaches the top of the
     * space and is not decoded; writing the address back restores it. */
    cfg_wr(TDEV, 0x14, 4, 0xFFFFFFFF);
    ck_assert(!maps.mapped);
    ck_assert(!dev_bus_mmio(bus, 0xFEBF0000, 4, false, &v));
    ck_assert(!dev_bus_mmio(bus, 0xFFFFF000, 4, false, &v));
    cfg_wr(TDEV, 0x14, 4, 0xFEBF0000);
    ck_assert(maps.mapped);
    ck_assert(dev_bus_mmio(bus, 0xFEBF0000, 4, false, &v));

    /* Address 0 is not decoded. */
    cfg_wr(TDEV, 0x10, 4, 0);
    ck_assert(!maps.mapped);
    ck_assert_uint_eq(maps.bar, 0);
    ck_assert_uint_eq(in(0xD040, 1), 0xFF);
    cfg_wr(TDEV, 0x10, 4, 0xD040);

    /* Memory enable off: only the memory BAR goes. */
    int calls = maps.calls;
    cfg_wr(TDEV, 0x04, 2, DEV_PCI_CMD_IO);
    ck_assert_int_eq(maps.calls, calls + 1);
    ck_assert(!dev_bus_mmio(bus, 0xFEBF0000, 4, false, &v));
    ck_assert_uint_eq(in(0xD040, 1), 0x11);

    /* A BAR over ports someone else has is not decoded. */
    struct rec uart = { .rdata = 0x33 };
    ck_assert_int_eq(dev_bus_register_pio(bus, 0x3F8, 8, "uart", rec_io, &uart), 0);
    cfg_wr(TDEV, 0x10, 4, 0x3E0);
    ck_assert(!maps.mapped);
    ck_assert_uint_eq(in(0x3F8, 1), 0x33);
    ck_assert_uint_eq(in(0x3E0, 1), 0xFF);

    /* Unregistering the function unmaps its BARs. */
    cfg_wr(TDEV, 0x10, 4, 0xD040);
    ck_assert_uint_eq(in(0xD040, 1), 0x11);
    ck_assert_int_eq(dev_pci_unregister(host, TDEV), 0);
    ck_assert(!maps.mapped);
    ck_assert_uint_eq(in(0xD040, 1), 0xFF);
    /* Its ports are free again. */
    ck_assert_int_eq(dev_bus_register_pio(bus, 0xD040, 32, "x", rec_io, &uart), 0);
}
END_TEST

START_TEST(bar_enabled_at_register)
{
    /* A function registered with decode already on is mapped at once. */
    dev_pci_fn_init(&tf, "pre", 0x1234, 0x5678, 0, 0xFF0000, 0);
    memset(&io_rec, 0, sizeof(io_rec));
    io_rec.rdata = 0x44;
    ck_assert_int_eq(dev_pci_fn_set_bar(&tf, 2, DEV_PCI_BAR_IO, 8, "pre", rec_io, &io_rec), 0);
    tf.cfg[0x18] = 0x01;
    tf.cfg[0x19] = 0xE0;
    tf.cfg[DEV_PCI_COMMAND] = DEV_PCI_CMD_IO;
    ck_assert_uint_eq(in(0xE000, 1), 0xFF);
    ck_assert_int_eq(dev_pci_register(host, TDEV, &tf), 0);
    ck_assert_uint_eq(in(0xE007, 1), 0x44);
    ck_assert_uint_eq(cfg_rd(TDEV, 0x18, 4), 0xE001);
    ck_assert_int_eq(dev_pci_unregister(host, TDEV), 0);
    ck_assert_uint_eq(in(0xE007, 1), 0xFF);
}
END_TEST

START_TEST(multifunction_bit)
{
    struct dev_pci_fn f0, f2;
    dev_pci_fn_init(&f0, "f0", 0x1234, 1, 0, 0xFF0000, 0);
    dev_pci_fn_init(&f2, "f2", 0x1234, 2, 0, 0xFF0000, 0);
    ck_assert_int_eq(dev_pci_register(host, DEV_PCI_DEVFN(7, 0), &f0), 0);
    ck_assert_uint_eq(cfg_rd(DEV_PCI_DEVFN(7, 0), 0x0E, 1), 0x00);
    ck_assert_int_eq(dev_pci_register(host, DEV_PCI_DEVFN(7, 2), &f2), 0);
    ck_assert_uint_eq(cfg_rd(DEV_PCI_DEVFN(7, 0), 0x0E, 1), 0x80);
    ck_assert_uint_eq(cfg_rd(DEV_PCI_DEVFN(7, 2), 0x0E, 1), 0x00);
    cfg_wr(DEV_PCI_DEVFN(7, 0), 0x0C, 4, 0xFFFFFFFF);   /* header type is read-only */
    ck_assert_uint_eq(cfg_rd(DEV_PCI_DEVFN(7, 0), 0x0E, 1), 0x80);
    ck_assert_uint_eq(cfg_rd(DEV_PCI_DEVFN(7, 1), 0x00, 4), 0xFFFFFFFFu);
    /* The 440FX stays single-function. */
    ck_assert_uint_eq(cfg_rd(0, 0x0E, 1), 0x00);
    dev_pci_unregister(host, DEV_PCI_DEVFN(7, 2));
    dev_pci_unregister(host, DEV_PCI_DEVFN(7, 0));
}
END_TEST

static Suite *pci_suite(void)
{
    Suite *s = suite_create("pci");
    TCase *tc = tcase_create("host");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, absent_functions_read_ones);
    tcase_add_test(tc, host_bridge_identity);
    tcase_add_test(tc, host_bridge_pam_smram);
    tcase_add_test(tc, reset_register);
    tcase_add_test(tc, register_rules);
    tcase_add_test(tc, status_rw1c_and_hook);
    tcase_add_test(tc, bar_sizing);
    tcase_add_test(tc, bar_mapping_follows_command);
    tcase_add_test(tc, bar_enabled_at_register);
    tcase_add_test(tc, multifunction_bit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(pci_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
