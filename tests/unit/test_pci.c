/*
 * tests/unit/test_pci.c — PCI bus 0 through configuration mechanism #1
 * (ports 0xCF8/0xCFC on a dev_bus): absent functions, read-only and
 * write-1-to-clear bits, a test function's BARs (sizing, mapping on the bus
 * only while decode is enabled, moving, conflicts), the 440FX (IDs, PAM,
 * SMRAM), the 0xCF9 reset register, and the PIIX functions of QEMU's `pc`
 * machine: IDs and classes, multi-function bit, PIRQ routing, IDE decode
 * and bus-master BAR, and the PIIX4 PMBA moving the ACPI registers.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/acpi_pm.h"
#include "devices/bus.h"
#include "devices/clock_own.h"
#include "devices/pci_host.h"
#include "devices/piix.h"

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
    ck_assert_uint_eq(cfg_rd(TDEV, 0x10, 4), 0xFFFFFFE1u);   /* 32 ports; all 32 bits writable, as QEMU */
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

/* ---- the PIIX functions ---- */

static struct dev_acpi_pm *pm;
static struct dev_piix *piix;
static struct dev_timers timers;
static uint64_t fake_now;
static int powered_off;

struct piixrec {
    int pirq_calls, decode_calls, bm_calls, master_calls;
    bool master;
    uint8_t pirq[4];
    bool decode[2];
    uint16_t bm;
};

static struct piixrec pr;

static uint64_t fake_clock(void) { return fake_now; }

static void on_pirq(void *ctx, unsigned n, uint8_t value)
{
    ck_assert_ptr_eq(ctx, &pr);
    ck_assert_uint_lt(n, 4);
    pr.pirq_calls++;
    pr.pirq[n] = value;
}

static void on_decode(void *ctx, unsigned ch, bool on)
{
    ck_assert_ptr_eq(ctx, &pr);
    ck_assert_uint_lt(ch, 2);
    pr.decode_calls++;
    pr.decode[ch] = on;
}

static void on_bm(void *ctx, uint16_t port)
{
    ck_assert_ptr_eq(ctx, &pr);
    pr.bm_calls++;
    pr.bm = port;
}

static void on_master(void *ctx, bool enabled)
{
    ck_assert_ptr_eq(ctx, &pr);
    pr.master_calls++;
    pr.master = enabled;
}

static void on_power_off(void *ctx)
{
    (void)ctx;
    powered_off++;
}

static void sci_set(void *ctx, int line, int level)
{
    (void)ctx; (void)line; (void)level;
}

static void piix_setup(void)
{
    setup();
    fake_now = 5000000000ull;
    dev_clock_set_fake(fake_clock);
    timers.head = NULL;
    powered_off = 0;
    memset(&pr, 0, sizeof(pr));
    pm = dev_acpi_pm_new(bus, &timers, (struct dev_irq_line){ .set = sci_set, .line = 9 },
                         on_power_off, NULL);
    ck_assert_ptr_nonnull(pm);
    struct dev_piix_ops ops = { .pirq_changed = on_pirq, .ide_decode = on_decode,
                                .bm_base = on_bm, .bm_enable = on_master, .ctx = &pr };
    piix = dev_piix_new(host, pm, &ops);
    ck_assert_ptr_nonnull(piix);
}

static void piix_teardown(void)
{
    dev_piix_free(piix);
    dev_acpi_pm_free(pm);
    dev_clock_set_fake(NULL);
    teardown();
}

#define ISA  DEV_PIIX_DEVFN_ISA
#define IDE  DEV_PIIX_DEVFN_IDE
#define ACPI DEV_PIIX_DEVFN_ACPI

START_TEST(piix_identity)
{
    ck_assert_uint_eq(ISA, 0x08);
    ck_assert_uint_eq(IDE, 0x09);
    ck_assert_uint_eq(ACPI, 0x0B);
    /* 00:01.0 PIIX3 ISA bridge */
    ck_assert_uint_eq(cfg_rd(ISA, 0x00, 4), 0x70008086u);
    ck_assert_uint_eq(cfg_rd(ISA, 0x08, 4), 0x06010000u);
    ck_assert_uint_eq(cfg_rd(ISA, 0x0E, 1), 0x80);
    ck_assert_uint_eq(cfg_rd(ISA, 0x04, 4), 0x02000007u);
    ck_assert_uint_eq(cfg_rd(ISA, 0x69, 1), 0x02);
    ck_assert_uint_eq(cfg_rd(ISA, 0x4C, 4), 0x0003004Du);
    /* 00:01.1 PIIX3 IDE: legacy mode, bus-master capable */
    ck_assert_uint_eq(cfg_rd(IDE, 0x00, 4), 0x70108086u);
    ck_assert_uint_eq(cfg_rd(IDE, 0x08, 4), 0x01018000u);
    ck_assert_uint_eq(cfg_rd(IDE, 0x0E, 1), 0x00);
    ck_assert_uint_eq(cfg_rd(IDE, 0x04, 4), 0x02800000u);
    ck_assert_uint_eq(cfg_rd(IDE, 0x20, 4), 0x00000001u);   /* BAR4 unprogrammed */
    ck_assert_uint_eq(cfg_rd(IDE, 0x3C, 2), 0x0000);
    /* 00:01.2 (USB) is absent, as in QEMU's pc without -usb */
    ck_assert_uint_eq(cfg_rd(DEV_PCI_DEVFN(1, 2), 0, 4), 0xFFFFFFFFu);
    /* 00:01.3 PIIX4 power management */
    ck_assert_uint_eq(cfg_rd(ACPI, 0x00, 4), 0x71138086u);
    ck_assert_uint_eq(cfg_rd(ACPI, 0x08, 4), 0x06800003u);
    ck_assert_uint_eq(cfg_rd(ACPI, 0x0E, 1), 0x00);
    ck_assert_uint_eq(cfg_rd(ACPI, 0x3C, 2), 0x0109);       /* pin A, line 9 */
    ck_assert_uint_eq(cfg_rd(ACPI, 0x40, 4), 0x00000001u);  /* PMBA */
    ck_assert_uint_eq(cfg_rd(ACPI, 0x80, 1), 0x00);         /* PMREGMISC */
    ck_assert_uint_eq(cfg_rd(ACPI, 0x90, 4), 0);            /* no SMBus */
    cfg_wr(ACPI, 0x90, 4, 0xB101);
    ck_assert_uint_eq(cfg_rd(ACPI, 0x90, 4), 0);
    ck_assert_uint_eq(cfg_rd(ACPI, 0x58, 4), 0x02000000u);  /* DEVACTB: APMC_EN */
    /* 00:02-31 absent */
    ck_assert_uint_eq(cfg_rd(DEV_PCI_DEVFN(2, 0), 0, 4), 0xFFFFFFFFu);
    /* Nothing changed, no hook was called. */
    ck_assert_int_eq(pr.pirq_calls + pr.decode_calls + pr.bm_calls, 0);
}
END_TEST

START_TEST(piix_pirq)
{
    ck_assert_uint_eq(cfg_rd(ISA, 0x60, 4), 0x80808080u);
    cfg_wr(ISA, 0x61, 1, 0x0B);
    ck_assert_int_eq(pr.pirq_calls, 1);
    ck_assert_uint_eq(pr.pirq[1], 0x0B);
    ck_assert_uint_eq(dev_piix_pirq(piix, 1), 0x0B);
    cfg_wr(ISA, 0x60, 4, 0x8A7F0B05);          /* bits 6:4 are reserved */
    ck_assert_uint_eq(cfg_rd(ISA, 0x60, 4), 0x8A0F0B05u);
    ck_assert_int_eq(pr.pirq_calls, 4);        /* PIRQB did not change */
    ck_assert_uint_eq(pr.pirq[0], 0x05);
    ck_assert_uint_eq(pr.pirq[2], 0x0F);
    ck_assert_uint_eq(pr.pirq[3], 0x8A);
    cfg_wr(ISA, 0x62, 2, 0x8A0F);              /* same values */
    ck_assert_int_eq(pr.pirq_calls, 4);
    /* DLC: Linux's passive release. */
    cfg_wr(ISA, 0x82, 1, 0xFF);
    ck_assert_uint_eq(cfg_rd(ISA, 0x82, 1), 0x0F);
}
END_TEST

START_TEST(piix_ide_decode_and_bm)
{
    ck_assert(!dev_piix_ide_decoding(piix, 0));
    /* IDETIM alone is not enough: I/O enable is off. */
    cfg_wr(IDE, 0x40, 2, 0x8000);
    ck_assert_int_eq(pr.decode_calls, 0);
    ck_assert_uint_eq(cfg_rd(IDE, 0x40, 4), 0x00008000u);
    cfg_wr(IDE, 0x04, 2, 0xFFFF);              /* only IOSE and BME stick */
    ck_assert_uint_eq(cfg_rd(IDE, 0x04, 2), 0x0005);
    ck_assert(dev_piix_ide_bus_master(piix));
    ck_assert_int_eq(pr.master_calls, 1);      /* the IDE model hears of BME */
    ck_assert(pr.master);
    ck_assert_int_eq(pr.decode_calls, 1);
    ck_assert(pr.decode[0]);
    ck_assert(dev_piix_ide_decoding(piix, 0));
    ck_assert(!dev_piix_ide_decoding(piix, 1));
    cfg_wr(IDE, 0x42, 2, 0xFFFF);              /* secondary on; bits 11:10 reserved */
    ck_assert_uint_eq(cfg_rd(IDE, 0x40, 4), 0xF3FF8000u);
    ck_assert_int_eq(pr.decode_calls, 2);
    ck_assert(pr.decode[1]);
    cfg_wr(IDE, 0x41, 1, 0x00);                /* primary off by its high byte */
    ck_assert_int_eq(pr.decode_calls, 3);
    ck_assert(!pr.decode[0]);
    ck_assert(pr.decode[1]);
    cfg_wr(IDE, 0x44, 1, 0x5A);                /* SIDETIM stored */
    ck_assert_uint_eq(cfg_rd(IDE, 0x44, 1), 0x5A);
    ck_assert_int_eq(pr.decode_calls, 3);

    /* BAR4: 16 ports; sized, programmed, reported while I/O is on. */
    ck_assert_int_eq(pr.bm_calls, 0);
    cfg_wr(IDE, 0x20, 4, 0xFFFFFFFF);
    ck_assert_uint_eq(cfg_rd(IDE, 0x20, 4), 0xFFFFFFF1u);
    ck_assert_int_eq(pr.bm_calls, 0);          /* the sizing value is not decoded */
    cfg_wr(IDE, 0x20, 4, 0xC000);
    ck_assert_int_eq(pr.bm_calls, 1);
    ck_assert_uint_eq(pr.bm, 0xC000);
    ck_assert_uint_eq(dev_piix_bm_base(piix), 0xC000);
    cfg_wr(IDE, 0x20, 4, 0xC040);
    ck_assert_int_eq(pr.bm_calls, 2);
    ck_assert_uint_eq(pr.bm, 0xC040);
    cfg_wr(IDE, 0x04, 2, 0x0004);              /* I/O off: BM and secondary go */
    ck_assert_int_eq(pr.bm_calls, 3);
    ck_assert_uint_eq(pr.bm, 0);
    ck_assert(!pr.decode[1]);
    ck_assert_int_eq(pr.decode_calls, 4);
    cfg_wr(IDE, 0x04, 2, 0x0001);
    ck_assert_uint_eq(pr.bm, 0xC040);
    ck_assert(pr.decode[1]);
    ck_assert(!pr.decode[0]);
    ck_assert(!dev_piix_ide_bus_master(piix));
    ck_assert(!pr.master);
    /* BARs 0-3 read 0 in legacy mode. */
    cfg_wr(IDE, 0x10, 4, 0xFFFFFFFF);
    ck_assert_uint_eq(cfg_rd(IDE, 0x10, 4), 0);
}
END_TEST

START_TEST(piix_pm_relocation)
{
    /* Power-on: PMREGMISC 0, the registers decode nowhere (they were at
     * 0x600 from dev_acpi_pm_new until the PIIX took them over). */
    ck_assert_uint_eq(dev_acpi_pm_base(pm), 0);
    ck_assert_uint_eq(in(0x608, 4), 0xFFFFFFFFu);
    /* PMBA alone does nothing; bit 0 stays 1, bits 5:1 read 0. */
    cfg_wr(ACPI, 0x40, 4, 0xFFFFFFFF);
    ck_assert_uint_eq(cfg_rd(ACPI, 0x40, 4), 0x0000FFC1u);
    ck_assert_uint_eq(dev_acpi_pm_base(pm), 0);
    cfg_wr(ACPI, 0x40, 4, 0xB000);
    ck_assert_uint_eq(cfg_rd(ACPI, 0x40, 4), 0x0000B001u);
    cfg_wr(ACPI, 0x80, 1, 0xFF);
    ck_assert_uint_eq(cfg_rd(ACPI, 0x80, 1), 0x01);
    ck_assert_uint_eq(dev_acpi_pm_base(pm), 0xB000);
    uint32_t t0 = in(0xB008, 4);
    fake_now += 1000000;                       /* 1 ms: 3580 ticks */
    uint32_t t1 = in(0xB008, 4);
    ck_assert_uint_eq((t1 - t0) & 0xFFFFFF, 3579);   /* 3579.545 */
    ck_assert_uint_eq(in(0x608, 4), 0xFFFFFFFFu);
    ck_assert_uint_eq(in(0xB004, 2) & 1, 1);  /* PM1_CNT.SCI_EN */
    /* Move while enabled. */
    cfg_wr(ACPI, 0x41, 1, 0xB1);
    ck_assert_uint_eq(dev_acpi_pm_base(pm), 0xB100);
    ck_assert_uint_eq(in(0xB008, 4), 0xFFFFFFFFu);
    ck_assert_uint_eq(in(0xB108, 4), t1);
    /* Disable. */
    cfg_wr(ACPI, 0x80, 1, 0);
    ck_assert_uint_eq(dev_acpi_pm_base(pm), 0);
    ck_assert_uint_eq(in(0xB108, 4), 0xFFFFFFFFu);
    /* S5 through the new base still powers off. */
    cfg_wr(ACPI, 0x40, 2, 0x0E00);
    cfg_wr(ACPI, 0x80, 1, 1);
    out(0x0E04, 2, DEV_ACPI_SLP_TYP_S5 << 10 | 1u << 13);
    ck_assert_int_eq(powered_off, 1);
    /* Over someone else's ports: not decoded. */
    struct rec other = { .rdata = 0x77 };
    ck_assert_int_eq(dev_bus_register_pio(bus, 0xD000, 4, "other", rec_io, &other), 0);
    cfg_wr(ACPI, 0x40, 2, 0xD000);
    ck_assert_uint_eq(dev_acpi_pm_base(pm), 0);
    ck_assert_uint_eq(in(0xD000, 1), 0x77);
    ck_assert_uint_eq(in(0xD008, 4), 0xFFFFFFFFu);
}
END_TEST

START_TEST(piix_firmware_setup)
{
    ck_assert_int_eq(dev_piix_firmware_setup(piix), 0);
    /* The PM registers are where the FADT says. */
    ck_assert_uint_eq(dev_acpi_pm_base(pm), DEV_ACPI_PM_BASE);
    ck_assert_uint_eq(cfg_rd(ACPI, 0x40, 4), 0x601u);
    ck_assert_uint_eq(cfg_rd(ACPI, 0x80, 1), 0x01);
    ck_assert_uint_eq(cfg_rd(ACPI, 0x3C, 1), 9);
    uint32_t t0 = in(DEV_ACPI_PM_TMR, 4);
    fake_now += 2000000;
    ck_assert_uint_eq((in(DEV_ACPI_PM_TMR, 4) - t0) & 0xFFFFFF, 7159);
    /* PIRQs as SeaBIOS routes them. */
    ck_assert_uint_eq(cfg_rd(ISA, 0x60, 4), 0x0B0B0A0Au);
    ck_assert_int_eq(pr.pirq_calls, 4);
    ck_assert_uint_eq(pr.pirq[0], 10);
    ck_assert_uint_eq(pr.pirq[3], 11);
    /* IDE: both channels decoded, BM at 0xC000. */
    ck_assert(pr.decode[0] && pr.decode[1]);
    ck_assert_int_eq(pr.decode_calls, 2);
    ck_assert_int_eq(pr.bm_calls, 1);
    ck_assert_uint_eq(pr.bm, 0xC000);
    ck_assert_uint_eq(cfg_rd(IDE, 0x20, 4), 0xC001u);
    ck_assert_uint_eq(cfg_rd(IDE, 0x04, 2), 0x0001);
    /* The reset register still works beside them. */
    out(0xCF9, 1, DEV_PCI_RESET_VALUE);
    ck_assert_int_eq(resets, 1);
}
END_TEST

START_TEST(piix_without_pm)
{
    dev_piix_free(piix);
    piix = dev_piix_new(host, NULL, NULL);
    ck_assert_ptr_nonnull(piix);
    ck_assert_uint_eq(cfg_rd(ACPI, 0, 4), 0xFFFFFFFFu);
    ck_assert_uint_eq(dev_acpi_pm_base(pm), 0);
    ck_assert_int_eq(dev_piix_firmware_setup(piix), 0);    /* no hooks: nothing called */
    ck_assert_uint_eq(cfg_rd(ISA, 0x0E, 1), 0x80);
    ck_assert_int_eq(pr.pirq_calls + pr.decode_calls + pr.bm_calls, 0);
    /* A second PIIX cannot take 00:01. */
    ck_assert_ptr_null(dev_piix_new(host, NULL, NULL));
    ck_assert_uint_eq(cfg_rd(ISA, 0x00, 4), 0x70008086u);
}
END_TEST

START_TEST(pm_set_base_direct)
{
    /* Without the PIIX the block stays at 0x600, as vm/ has it today. */
    dev_piix_free(piix);
    piix = NULL;
    ck_assert_uint_eq(dev_acpi_pm_base(pm), 0);   /* the PIIX had unmapped it */
    ck_assert_int_eq(dev_acpi_pm_set_base(pm, DEV_ACPI_PM_BASE), 0);
    ck_assert_uint_ne(in(0x608, 4), 0xFFFFFFFFu);
    ck_assert_int_eq(dev_acpi_pm_set_base(pm, 0xFFF8), -EINVAL);
    ck_assert_uint_eq(dev_acpi_pm_base(pm), DEV_ACPI_PM_BASE);
    ck_assert_int_eq(dev_acpi_pm_set_base(pm, 0xCF0), -EEXIST);   /* over 0xCF8 */
    ck_assert_uint_eq(dev_acpi_pm_base(pm), 0);
    ck_assert_uint_eq(in(0x608, 4), 0xFFFFFFFFu);
}
END_TEST

START_TEST(pm_new_decodes_at_0x600)
{
    struct dev_bus *b2 = dev_bus_new();
    struct dev_timers t2 = { 0 };
    struct dev_acpi_pm *p2 = dev_acpi_pm_new(b2, &t2, (struct dev_irq_line){ .set = sci_set },
                                             on_power_off, NULL);
    ck_assert_ptr_nonnull(p2);
    ck_assert_uint_eq(dev_acpi_pm_base(p2), 0x600);
    uint32_t v = 0;
    dev_bus_pio(b2, 0x604, 2, false, &v);
    ck_assert_uint_eq(v & 1, 1);
    dev_acpi_pm_free(p2);
    dev_bus_free(b2);
}
END_TEST

/*
 * PM_TMR reads are spaced DEV_ACPI_PM_TMR_GAP_NS apart on the host clock
 * (devices/acpi_pm.c), so a guest loop bounded by a read count cannot end
 * before the time it expects (memtest86+'s TSC calibration): 4000 reads
 * take at least 0.8 ms, and the counter moved with them.
 */
START_TEST(pm_timer_reads_spaced)
{
    dev_clock_set_fake(NULL);
    struct dev_bus *b2 = dev_bus_new();
    struct dev_timers t2 = { 0 };
    struct dev_acpi_pm *p2 = dev_acpi_pm_new(b2, &t2, (struct dev_irq_line){ .set = sci_set },
                                             on_power_off, NULL);
    ck_assert_ptr_nonnull(p2);
    enum { N = 4000 };
    uint32_t first = 0, last = 0;
    dev_bus_pio(b2, 0x608, 4, false, &first);
    uint64_t t0 = dev_clock_ns();
    for (int i = 0; i < N; i++)
        dev_bus_pio(b2, 0x608, 4, false, &last);
    uint64_t dt = dev_clock_ns() - t0;
    ck_assert_uint_ge(dt, (uint64_t)N * DEV_ACPI_PM_TMR_GAP_NS);
    /* At 3.579545 MHz, 0.8 ms is at least 2863 ticks (24-bit wrap aside). */
    uint32_t ticks = (last - first) & 0xFFFFFFu;
    ck_assert_uint_ge(ticks, (uint64_t)N * DEV_ACPI_PM_TMR_GAP_NS * DEV_ACPI_PM_TMR_HZ / 1000000000u);
    dev_acpi_pm_free(p2);
    dev_bus_free(b2);
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
    TCase *tp = tcase_create("piix");
    tcase_add_checked_fixture(tp, piix_setup, piix_teardown);
    tcase_add_test(tp, piix_identity);
    tcase_add_test(tp, piix_pirq);
    tcase_add_test(tp, piix_ide_decode_and_bm);
    tcase_add_test(tp, piix_pm_relocation);
    tcase_add_test(tp, piix_firmware_setup);
    tcase_add_test(tp, piix_without_pm);
    tcase_add_test(tp, pm_set_base_direct);
    tcase_add_test(tp, pm_new_decodes_at_0x600);
    tcase_add_test(tp, pm_timer_reads_spaced);
    suite_add_tcase(s, tp);
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
