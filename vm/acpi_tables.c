/*
 * vm/acpi_tables.c — builds the ACPI 2.0 tables in guest RAM at boot, as a
 * PC BIOS leaves them: RSDP (revision 2) -> RSDT and XSDT -> FADT
 * (revision 3) -> FACS and DSDT, MADT, HPET. The FADT describes the fixed
 * hardware of devices/acpi_pm.c (PM1a event/control blocks, PM timer, SCI
 * on IRQ 9), the reset register at 0xCF9 (devices/pci_host.c) and a legacy
 * PC (8042, ISA devices). No SMI_CMD: the machine is in ACPI mode from
 * reset. The MADT names the local APIC, the I/O APIC (GSI 0-23) and the
 * interrupt source overrides of QEMU's pc machine (IRQ 0 on GSI 2; IRQs 5,
 * 9, 10, 11 level-triggered, active high: the SCI and the PIRQ routes
 * devices/piix.c presets); the HPET table the timer block at 0xFED00000.
 *
 * The DSDT is hand-assembled AML (ACPI 2.0 section 16) for this ASL:
 *
 *   Name (_S5, Package () { 5, 5, 0, 0 })     // SLP_TYP for PM1a, PM1b
 *   Device (\_SB.PCI0) {
 *       Name (_HID, EisaId ("PNP0A03"))       // PCI host bridge
 *       Name (_ADR, 0)
 *       Name (_UID, 0)
 *       Name (_CRS, ResourceTemplate () {     // what bus 0 decodes
 *           WordBusNumber (0x00-0xFF)
 *           IO (Decode16, 0xCF8, 0xCF8, 1, 8) // mechanism #1's ports
 *           WordIO (0x0000-0x0CF7)
 *           WordIO (0x0D00-0xFFFF)
 *           DWordMemory (0xC0000000-0xFEBFFFFF) // above the most RAM -m allows
 *       })
 *   }
 *
 * Linux needs the host bridge in the DSDT to scan PCI at all when ACPI is
 * on (it then takes PCI from ACPI, not from a legacy probe).
 */
#include "vm/acpi_tables.h"

#include <string.h>

#include "devices/acpi_pm.h"
#include "devices/hpet.h"
#include "devices/ioapic.h"
#include "devices/lapic.h"
#include "devices/pci_host.h"

#define OEM_ID       "BTVM  "    /* 6 bytes */
#define OEM_TABLE_ID "BTVM    "  /* 8 bytes */
#define CREATOR_ID   "BTVM"
#define HDR_LEN      36u
#define FADT_LEN     244u        /* ACPI 2.0 FADT, revision 3 */
#define FACS_LEN     64u
#define PCI_MEM_LO   0xC0000000u /* btvm RAM ends at or below 3 GiB */
#define PCI_MEM_HI   0xFEBFFFFFu /* below the I/O APIC / local APIC range */

static void w16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void w32(uint8_t *p, uint32_t v) { w16(p, (uint16_t)v); w16(p + 2, (uint16_t)(v >> 16)); }
static void w64(uint8_t *p, uint64_t v) { w32(p, (uint32_t)v); w32(p + 4, (uint32_t)(v >> 32)); }

static uint8_t checksum(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    for (size_t i = 0; i < n; i++)
        s = (uint8_t)(s + p[i]);
    return (uint8_t)-s;
}

/* The common header; the checksum (byte 9) is set last by finish(). */
static void header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
    memcpy(t, sig, 4);
    w32(t + 4, len);
    t[8] = rev;
    memcpy(t + 10, OEM_ID, 6);
    memcpy(t + 16, OEM_TABLE_ID, 8);
    w32(t + 24, 1);                     /* OEM revision */
    memcpy(t + 28, CREATOR_ID, 4);
    w32(t + 32, 1);                     /* creator revision */
}

static void finish(uint8_t *t)
{
    uint32_t len = (uint32_t)t[4] | (uint32_t)t[5] << 8 | (uint32_t)t[6] << 16 |
                   (uint32_t)t[7] << 24;
    t[9] = 0;
    t[9] = checksum(t, len);
}

/* Generic Address Structure: system I/O, bit_width = 8 * len. */
static void gas_io(uint8_t *g, uint16_t port, unsigned len)
{
    g[0] = 1;                           /* address space: system I/O */
    g[1] = (uint8_t)(8 * len);
    g[2] = 0;                           /* bit offset */
    g[3] = 0;                           /* reserved in ACPI 2.0 */
    w64(g + 4, port);
}

/* ---- AML ---- */

struct aml {
    uint8_t *p;
    size_t n;
};

static void put(struct aml *a, const void *b, size_t n)
{
    memcpy(a->p + a->n, b, n);
    a->n += n;
}

static void put1(struct aml *a, uint8_t b) { a->p[a->n++] = b; }

/* PkgLength (section 16.2.4) counts itself; body is the bytes after it.
 * Writes it at a->n after moving the body (already at a->n) up. */
static void wrap_pkglen(struct aml *a, size_t start)
{
    size_t body = a->n - start;
    unsigned lb = body + 1 < 64 ? 1 : body + 2 < 4096 ? 2 : 3;
    size_t len = body + lb;
    memmove(a->p + start + lb, a->p + start, body);
    if (lb == 1) {
        a->p[start] = (uint8_t)len;
    } else {
        a->p[start] = (uint8_t)(((lb - 1) << 6) | (len & 0x0F));
        a->p[start + 1] = (uint8_t)(len >> 4);
        if (lb == 3)
            a->p[start + 2] = (uint8_t)(len >> 12);
    }
    a->n += lb;
}

enum {
    ZERO_OP = 0x00, NAME_OP = 0x08, BYTE_PREFIX = 0x0A, DWORD_PREFIX = 0x0C,
    BUFFER_OP = 0x11, PACKAGE_OP = 0x12, DUAL_NAME = 0x2E, ROOT_CHAR = 0x5C,
    EXT_OP = 0x5B, DEVICE_OP = 0x82,
};

static void name_int0(struct aml *a, const char *seg)
{
    put1(a, NAME_OP);
    put(a, seg, 4);
    put1(a, ZERO_OP);
}

/* EISA ID "PNP0A03" as AML stores it: a big-endian dword (three 5-bit
 * letters, then four hex digits). */
static void name_eisaid(struct aml *a, const char *seg, const char *id)
{
    unsigned hex = 0;
    for (int i = 3; i < 7; i++)
        hex = hex << 4 | (unsigned)(id[i] <= '9' ? id[i] - '0' : id[i] - 'A' + 10);
    uint16_t letters = (uint16_t)(((id[0] - '@') << 10) | ((id[1] - '@') << 5) | (id[2] - '@'));
    uint8_t v[5] = { DWORD_PREFIX, (uint8_t)(letters >> 8), (uint8_t)letters,
                     (uint8_t)(hex >> 8), (uint8_t)hex };
    put1(a, NAME_OP);
    put(a, seg, 4);
    put(a, v, sizeof(v));
}

/* Address space descriptors (ACPI 2.0 6.4.3.5): producer, min and max
 * fixed, positive decode (general flags 0x0C). */
static void word_addr(struct aml *a, uint8_t type, uint8_t tflags, uint16_t min, uint16_t max)
{
    uint8_t d[16] = { 0x88, 13, 0, type, 0x0C, tflags };
    w16(d + 8, min);
    w16(d + 10, max);
    w16(d + 14, (uint16_t)(max - min + 1));
    put(a, d, sizeof(d));
}

static void dword_mem(struct aml *a, uint32_t min, uint32_t max)
{
    uint8_t d[26] = { 0x87, 23, 0, 0, 0x0C, 0x03 };  /* memory; cacheable, read/write */
    w32(d + 10, min);
    w32(d + 14, max);
    w32(d + 22, max - min + 1);
    put(a, d, sizeof(d));
}

static void crs(struct aml *a)
{
    put1(a, NAME_OP);
    put(a, "_CRS", 4);
    put1(a, BUFFER_OP);
    size_t pkg = a->n;
    size_t size_at = a->n + 1;
    put1(a, BYTE_PREFIX);
    put1(a, 0);                                     /* buffer size, below */
    size_t res = a->n;
    word_addr(a, 2, 0, 0x00, 0xFF);                 /* bus numbers */
    uint8_t io[8] = { 0x47, 0x01 };                 /* IO, 16-bit decode */
    w16(io + 2, DEV_PCI_CONFIG_PORT);
    w16(io + 4, DEV_PCI_CONFIG_PORT);
    io[6] = 1;
    io[7] = 8;
    put(a, io, sizeof(io));
    word_addr(a, 1, 0x03, 0x0000, DEV_PCI_CONFIG_PORT - 1);  /* I/O, entire range */
    word_addr(a, 1, 0x03, 0x0D00, 0xFFFF);
    dword_mem(a, PCI_MEM_LO, PCI_MEM_HI);
    put1(a, 0x79);                                  /* end tag, */
    put1(a, 0);                                     /* checksum 0: not computed */
    a->p[size_at] = (uint8_t)(a->n - res);
    wrap_pkglen(a, pkg);
}

static size_t build_aml(uint8_t *out)
{
    struct aml a = { out, 0 };

    /* Name (_S5, Package () { S5, S5, 0, 0 }) */
    put1(&a, NAME_OP);
    put(&a, "_S5_", 4);
    put1(&a, PACKAGE_OP);
    size_t pkg = a.n;
    uint8_t s5[] = { 4, BYTE_PREFIX, DEV_ACPI_SLP_TYP_S5, BYTE_PREFIX, DEV_ACPI_SLP_TYP_S5,
                     ZERO_OP, ZERO_OP };
    put(&a, s5, sizeof(s5));
    wrap_pkglen(&a, pkg);

    /* Device (\_SB.PCI0) { ... } */
    put1(&a, EXT_OP);
    put1(&a, DEVICE_OP);
    size_t dev = a.n;
    uint8_t path[] = { ROOT_CHAR, DUAL_NAME, '_', 'S', 'B', '_', 'P', 'C', 'I', '0' };
    put(&a, path, sizeof(path));
    name_eisaid(&a, "_HID", "PNP0A03");
    name_int0(&a, "_ADR");
    name_int0(&a, "_UID");
    crs(&a);
    wrap_pkglen(&a, dev);
    return a.n;
}

/* ---- the tables ---- */

static uint32_t align(uint32_t v, uint32_t a) { return (v + a - 1) & ~(a - 1); }

static void build_fadt(uint8_t *t, uint32_t facs, uint32_t dsdt)
{
    memset(t, 0, FADT_LEN);
    header(t, "FACP", FADT_LEN, 3);
    w32(t + 36, facs);                            /* FIRMWARE_CTRL */
    w32(t + 40, dsdt);
    t[45] = 0;                                    /* preferred PM profile: unspecified */
    w16(t + 46, DEV_ACPI_SCI_IRQ);
    /* SMI_CMD, ACPI_ENABLE, ACPI_DISABLE 0: always in ACPI mode. */
    w32(t + 56, DEV_ACPI_PM1_EVT);                /* PM1a_EVT_BLK */
    w32(t + 64, DEV_ACPI_PM1_CNT);                /* PM1a_CNT_BLK */
    w32(t + 76, DEV_ACPI_PM_TMR);                 /* PM_TMR_BLK */
    t[88] = DEV_ACPI_PM1_EVT_LEN;
    t[89] = DEV_ACPI_PM1_CNT_LEN;
    t[91] = DEV_ACPI_PM_TMR_LEN;
    w16(t + 96, 0x0FFF);                          /* P_LVL2_LAT > 100: no C2 */
    w16(t + 98, 0x0FFF);                          /* P_LVL3_LAT > 1000: no C3 */
    t[108] = 0x32;                                /* CENTURY: CMOS index (devices/rtc146818.c) */
    w16(t + 109, 0x0003);                         /* IAPC_BOOT_ARCH: LEGACY_DEVICES | 8042 */
    /* Flags: WBINVD, PROC_C1 (HLT), PWR_BUTTON and SLP_BUTTON (no fixed
     * buttons), RESET_REG_SUP; TMR_VAL_EXT clear: the timer is 24 bits. */
    w32(t + 112, (1u << 0) | (1u << 2) | (1u << 4) | (1u << 5) | (1u << 10));
    gas_io(t + 116, DEV_PCI_RESET_PORT, 1);       /* RESET_REG */
    t[128] = DEV_PCI_RESET_VALUE;
    /* X_FIRMWARE_CTRL stays 0: with both set, an OS may load the FACS twice. */
    w64(t + 140, dsdt);                           /* X_DSDT */
    gas_io(t + 148, DEV_ACPI_PM1_EVT, DEV_ACPI_PM1_EVT_LEN);
    gas_io(t + 172, DEV_ACPI_PM1_CNT, DEV_ACPI_PM1_CNT_LEN);
    gas_io(t + 208, DEV_ACPI_PM_TMR, DEV_ACPI_PM_TMR_LEN);
    finish(t);
}

/* MADT (ACPI 2.0 5.2.10.4). */
static uint32_t build_madt(uint8_t *t)
{
    uint32_t n = HDR_LEN;
    w32(t + n, DEV_LAPIC_DEFAULT_BASE);
    w32(t + n + 4, 1);                            /* PCAT_COMPAT: 8259s present */
    n += 8;
    uint8_t *e = t + n;                           /* processor local APIC */
    e[0] = 0; e[1] = 8; e[2] = 0; e[3] = 0;       /* ACPI processor 0, APIC ID 0 */
    w32(e + 4, 1);                                /* enabled */
    n += 8;
    e = t + n;                                    /* I/O APIC */
    e[0] = 1; e[1] = 12; e[2] = 0; e[3] = 0;      /* ID 0 */
    w32(e + 4, DEV_IOAPIC_BASE);
    w32(e + 8, 0);                                /* GSI base */
    n += 12;
    static const struct { uint8_t irq; uint8_t gsi; uint16_t flags; } iso[] = {
        { 0, 2, 0 }, { 5, 5, 0xD }, { 9, 9, 0xD }, { 10, 10, 0xD }, { 11, 11, 0xD },
    };
    for (size_t i = 0; i < sizeof(iso) / sizeof(iso[0]); i++) {
        e = t + n;                                /* interrupt source override */
        e[0] = 2; e[1] = 10; e[2] = 0; e[3] = iso[i].irq;
        w32(e + 4, iso[i].gsi);
        w16(e + 8, iso[i].flags);                 /* 0xD: active high, level */
        n += 10;
    }
    e = t + n;                                    /* local APIC NMI: LINT1 */
    e[0] = 4; e[1] = 6; e[2] = 0xFF;
    w16(e + 3, 0);
    e[5] = 1;
    n += 6;
    header(t, "APIC", n, 1);
    finish(t);
    return n;
}

/* HPET description table (IA-PC HPET specification 1.0a, 3.2.4). */
static uint32_t build_hpet(uint8_t *t)
{
    uint32_t n = HDR_LEN + 20;
    w32(t + HDR_LEN, 0x8086A201);                 /* rev 1, 3 timers, 64-bit, legacy route */
    uint8_t *g = t + HDR_LEN + 4;                 /* base address: a GAS in memory space */
    g[0] = 0; g[1] = 64; g[2] = 0; g[3] = 0;
    w64(g + 4, DEV_HPET_BASE);
    t[HDR_LEN + 16] = 0;                          /* HPET number */
    w16(t + HDR_LEN + 17, 0);                     /* minimum clock tick */
    t[HDR_LEN + 19] = 0;                          /* no page protection */
    header(t, "HPET", n, 1);
    finish(t);
    return n;
}

uint32_t vm_acpi_build(uint8_t *ram, uint64_t ram_size)
{
    if (ram_size < VM_ACPI_END)
        return 0;
    uint8_t *base = ram + VM_ACPI_BASE;
    memset(base, 0, VM_ACPI_END - VM_ACPI_BASE);

    uint32_t rsdp = VM_ACPI_BASE;
    uint32_t facs = align(rsdp + 36, 64);         /* FACS: 64-byte aligned */
    uint32_t rsdt = facs + FACS_LEN;
    uint32_t xsdt = align(rsdt + HDR_LEN + 3 * 4, 16);
    uint32_t fadt = align(xsdt + HDR_LEN + 3 * 8, 16);
    uint32_t dsdt = align(fadt + FADT_LEN, 16);
    uint8_t *p;

    /* DSDT */
    p = ram + dsdt;
    size_t aml = build_aml(p + HDR_LEN);
    header(p, "DSDT", (uint32_t)(HDR_LEN + aml), 2);
    finish(p);
    uint32_t madt = align(dsdt + HDR_LEN + (uint32_t)aml, 16);
    uint32_t hpet = align(madt + build_madt(ram + madt), 16);
    build_hpet(ram + hpet);

    /* FACS: no firmware waking vector, global lock free, version 1. */
    p = ram + facs;
    memcpy(p, "FACS", 4);
    w32(p + 4, FACS_LEN);
    p[32] = 1;

    build_fadt(ram + fadt, facs, dsdt);

    p = ram + rsdt;
    header(p, "RSDT", HDR_LEN + 3 * 4, 1);
    w32(p + HDR_LEN, fadt);
    w32(p + HDR_LEN + 4, madt);
    w32(p + HDR_LEN + 8, hpet);
    finish(p);

    p = ram + xsdt;
    header(p, "XSDT", HDR_LEN + 3 * 8, 1);
    w64(p + HDR_LEN, fadt);
    w64(p + HDR_LEN + 8, madt);
    w64(p + HDR_LEN + 16, hpet);
    finish(p);

    /* RSDP: the first 20 bytes have their own checksum (ACPI 1.0 part),
     * all 36 the extended one. */
    p = ram + rsdp;
    memcpy(p, "RSD PTR ", 8);
    memcpy(p + 9, OEM_ID, 6);
    p[15] = 2;                                    /* revision: ACPI 2.0+ */
    w32(p + 16, rsdt);
    w32(p + 20, 36);
    w64(p + 24, xsdt);
    p[8] = checksum(p, 20);
    p[32] = checksum(p, 36);
    return rsdp;
}
