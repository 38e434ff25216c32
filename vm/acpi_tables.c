/*
 * vm/acpi_tables.c — builds the ACPI 2.0 tables in guest RAM at boot, as a
 * PC BIOS leaves them: RSDP (revision 2) -> RSDT and XSDT -> FADT
 * (revision 3) -> FACS and DSDT, MADT, HPET. The FADT describes the fixed
 * hardware of devices/acpi_pm.c (PM1a event/control blocks, PM timer, SCI
 * on IRQ 9), the reset register at 0xCF9 (devices/pci_host.c) and a legacy
 * PC (8042, ISA devices). No SMI_CMD when the tables are loaded without
 * firmware: the machine is then in ACPI mode from reset; with firmware
 * (vm/firmware.c relocates them through QEMU's table loader) SMI_CMD is
 * the APM port, as on QEMU. The MADT names the local APIC, the I/O APIC (GSI 0-23) and the
 * interrupt source overrides of QEMU's pc machine (IRQ 0 on GSI 2; IRQs 5,
 * 9, 10, 11 level-triggered, active high: the SCI and the PIRQ routes
 * devices/piix.c presets); the HPET table the timer block at 0xFED00000.
 *
 * The DSDT is hand-assembled AML (ACPI 2.0 section 16) for this ASL:
 *
 *   Name (_S5, Package () { 5, 5, 0, 0 })     // SLP_TYP for PM1a, PM1b
 *   Scope (\_SB) {
 *     Device (PCI0) {
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
 *       Name (_PRT, Package () {              // slots 0-31, pins 0-3 (INTA-D)
 *           Package () { 0xFFFF, 0, LNKD, 0 },
 *           Package () { 0xFFFF, 1, LNKA, 0 }, ...
 *           Package () { 0x1FFFF, 0, LNKS, 0 }, // 00:01.3 (PIIX4 PM): the SCI
 *           ...                               // else LNK[A-D][(slot + pin - 1) % 4]
 *       })
 *       Device (ISA) {                        // 00:01.0, the PIIX3 ISA bridge
 *           Name (_ADR, 0x00010000)
 *           OperationRegion (P40C, PCI_Config, 0x60, 4)
 *           Device (KBD) {                    // the i8042 and its keyboard
 *               Name (_HID, EisaId ("PNP0303"))
 *               Name (_CRS, ResourceTemplate () {
 *                   IO (Decode16, 0x60, 0x60, 1, 1)
 *                   IO (Decode16, 0x64, 0x64, 1, 1)
 *                   IRQNoFlags () { 1 } })
 *           }
 *           Device (MOU) {                    // its PS/2 mouse
 *               Name (_HID, EisaId ("PNP0F13"))
 *               Name (_CRS, ResourceTemplate () { IRQNoFlags () { 12 } })
 *           }
 *       }
 *     }
 *     Field (PCI0.ISA.P40C, ByteAcc, NoLock, Preserve) {
 *         PRQ0, 8, PRQ1, 8, PRQ2, 8, PRQ3, 8  // PIRQA-D route control
 *     }
 *     Method (IQST, 1) {                      // _STA of a route value
 *         If (And (0x80, Arg0)) { Return (0x09) }  // bit 7: not routed
 *         Return (0x0B)
 *     }
 *     Method (IQCR, 1) {                      // _CRS of a route value
 *         Store (ResourceTemplate () {
 *             Interrupt (ResourceConsumer, Level, ActiveHigh, Shared) { 0 }
 *         }, Local0)
 *         If (LLess (Arg0, 0x80)) { Store (Arg0, Index (Local0, 5)) }
 *         Return (Local0)
 *     }
 *     Device (LNKA) {                         // LNKB-D: _UID 1-3, PRQ1-3
 *         Name (_HID, EisaId ("PNP0C0F"))     // PCI interrupt link
 *         Name (_UID, 0)
 *         Name (_PRS, ResourceTemplate () {
 *             Interrupt (ResourceConsumer, Level, ActiveHigh, Shared) { 5, 10, 11 }
 *         })
 *         Method (_STA) { Return (IQST (PRQ0)) }
 *         Method (_DIS) { Or (PRQ0, 0x80, PRQ0) }
 *         Method (_CRS) { Return (IQCR (PRQ0)) }
 *         Method (_SRS, 1) { Store (DerefOf (Index (Arg0, 5)), PRQ0) }
 *     }
 *     Device (LNKS) {                         // the SCI: IRQ 9, fixed
 *         Name (_HID, EisaId ("PNP0C0F"))
 *         Name (_UID, 4)
 *         Name (_PRS, ResourceTemplate () {
 *             Interrupt (ResourceConsumer, Level, ActiveHigh, Shared) { 9 }
 *         })
 *         Method (_STA) { Return (0x0B) }
 *         Method (_DIS) { }
 *         Method (_CRS) { Return (_PRS) }
 *         Method (_SRS, 1) { }
 *     }
 *   }
 *
 * Linux needs the host bridge in the DSDT to scan PCI at all when ACPI is
 * on (it then takes PCI from ACPI, not from a legacy probe). The PCI
 * interrupt routing is QEMU's `pc` machine's: the PIIX3 swizzle (slot s,
 * pin p to PIRQ (s + p - 1) mod 4, so 00:01 INTA is PIRQA) in _PRT, each
 * PIRQ a link device whose current IRQ is the PIIX3 route register
 * (devices/piix.c; a routed PIRQ drives ISA IRQ k on the 8259A and I/O APIC
 * pin k alike, devices/irqroute.c), so the same table serves the PIC and
 * the I/O APIC mode and needs no _PIC. The IRQs are level, active high, as
 * the MADT's overrides for 5, 9, 10 and 11 say. 00:01 INTA is the one
 * exception, as in QEMU: the PIIX4 PM function's pin is the SCI (IRQ 9,
 * devices/acpi_pm.c), link LNKS. The _SRS buffer is the Interrupt
 * descriptor of _PRS (byte 5: the IRQ, below 16). None of the methods
 * creates a named object, so all are NotSerialized. tests/unit/test_acpi.c
 * walks the AML, disassembles it with iasl and runs the links' methods
 * under acpiexec.
 */
#include "vm/acpi_tables.h"

#include <string.h>

#include "devices/acpi_pm.h"
#include "devices/hpet.h"
#include "devices/ioapic.h"
#include "devices/lapic.h"
#include "devices/pci_host.h"
#include "devices/piix.h"

#define OEM_ID       "BTVM  "    /* 6 bytes */
#define OEM_TABLE_ID "BTVM    "  /* 8 bytes */
#define CREATOR_ID   "BTVM"
#define HDR_LEN      36u
#define FADT_LEN     244u        /* ACPI 2.0 FADT, revision 3 */
#define FACS_LEN     64u
#define PCI_MEM_LO   0xC0000000u /* btvm RAM ends at or below 3 GiB */
#define PCI_MEM_HI   0xFEBFFFFFu /* below the I/O APIC / local APIC range */
#define PCI_SLOTS    32u
#define PIIX_SLOT    (DEV_PIIX_DEVFN_ISA >> 3)   /* 1 */
#define PIIX_ISA_FN  (DEV_PIIX_DEVFN_ISA & 7u)   /* 0 */
#define STA_ON       0x0Bu       /* _STA: present, enabled, functioning */
#define STA_OFF      0x09u       /* _STA: present, functioning, disabled */

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

enum {
    ZERO_OP = 0x00, ONE_OP = 0x01, NAME_OP = 0x08, BYTE_PREFIX = 0x0A,
    WORD_PREFIX = 0x0B, DWORD_PREFIX = 0x0C, SCOPE_OP = 0x10, BUFFER_OP = 0x11,
    PACKAGE_OP = 0x12, METHOD_OP = 0x14, DUAL_NAME = 0x2E, MULTI_NAME = 0x2F,
    EXT_OP = 0x5B, ROOT_CHAR = 0x5C, LOCAL0_OP = 0x60, ARG0_OP = 0x68,
    STORE_OP = 0x70, AND_OP = 0x7B, OR_OP = 0x7D, DEREF_OF_OP = 0x83,
    INDEX_OP = 0x88, LLESS_OP = 0x95, IF_OP = 0xA0, RETURN_OP = 0xA4,
    /* after EXT_OP */
    OP_REGION_OP = 0x80, FIELD_OP = 0x81, DEVICE_OP = 0x82,
};

/* PkgLength (section 16.2.4) counts itself; body is the bytes after it.
 * Writes it at start after moving the body (start..a->n) up. */
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

/* A construct with a PkgLength: begin() writes its opcode (ext: after
 * EXT_OP) and returns where the PkgLength goes; end() writes it there. */
static size_t begin(struct aml *a, uint8_t op)
{
    put1(a, op);
    return a->n;
}

static size_t begin_ext(struct aml *a, uint8_t op)
{
    put1(a, EXT_OP);
    return begin(a, op);
}

static void end(struct aml *a, size_t start) { wrap_pkglen(a, start); }

/* NameString from ASL spelling: "\\_SB.PCI0", "PRQ0", "PCI0.ISA.P40C";
 * segments shorter than 4 characters are padded with '_'. */
static void name(struct aml *a, const char *path)
{
    if (*path == '\\') {
        put1(a, ROOT_CHAR);
        path++;
    }
    unsigned segs = 1;
    for (const char *c = path; *c; c++)
        segs += *c == '.';
    if (segs == 2) {
        put1(a, DUAL_NAME);
    } else if (segs > 2) {
        put1(a, MULTI_NAME);
        put1(a, (uint8_t)segs);
    }
    for (;;) {
        unsigned i = 0;
        for (; *path && *path != '.'; path++, i++)
            put1(a, (uint8_t)*path);
        for (; i < 4; i++)
            put1(a, '_');
        if (!*path++)
            break;
    }
}

/* The shortest integer encoding, as iasl emits it. */
static void integer(struct aml *a, uint32_t v)
{
    if (v <= 1) {
        put1(a, v ? ONE_OP : ZERO_OP);
    } else if (v <= 0xFF) {
        put1(a, BYTE_PREFIX);
        put1(a, (uint8_t)v);
    } else if (v <= 0xFFFF) {
        put1(a, WORD_PREFIX);
        put1(a, (uint8_t)v);
        put1(a, (uint8_t)(v >> 8));
    } else {
        put1(a, DWORD_PREFIX);
        uint8_t d[4];
        w32(d, v);
        put(a, d, 4);
    }
}

/* Name (seg, v) for an integer v. */
static void name_int(struct aml *a, const char *seg, uint32_t v)
{
    put1(a, NAME_OP);
    name(a, seg);
    integer(a, v);
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
    name(a, seg);
    put(a, v, sizeof(v));
}

/* Method (seg, args, NotSerialized) { ...; end() (none of these methods
 * creates named objects, so none needs to be Serialized) */
static size_t method(struct aml *a, const char *seg, unsigned args)
{
    size_t m = begin(a, METHOD_OP);
    name(a, seg);
    put1(a, (uint8_t)args);
    return m;
}

/* ResourceTemplate () { ...; rt_end(): a Buffer whose size (a ByteConst:
 * templates here are short) is patched at the end, after the end tag. */
static size_t rt_begin(struct aml *a)
{
    size_t b = begin(a, BUFFER_OP);
    put1(a, BYTE_PREFIX);
    put1(a, 0);
    return b;
}

static void rt_end(struct aml *a, size_t b)
{
    put1(a, 0x79);                                  /* end tag, */
    put1(a, 0);                                     /* checksum 0: not computed */
    a->p[b + 1] = (uint8_t)(a->n - (b + 2));
    end(a, b);
}

/* Interrupt (ResourceConsumer, Level, ActiveHigh, Shared) { irqs }: the
 * extended interrupt descriptor (ACPI 2.0 6.4.3.6); the first interrupt
 * number is at byte 5 (IRQ_FIRST below). */
#define IRQ_FIRST 5
static void irq_desc(struct aml *a, const uint8_t *irqs, unsigned n)
{
    uint8_t d[5] = { 0x89, 0, 0, 0x09, (uint8_t)n };  /* consumer | shared */
    w16(d + 1, (uint16_t)(2 + 4 * n));
    put(a, d, sizeof(d));
    for (unsigned i = 0; i < n; i++) {
        uint8_t v[4];
        w32(v, irqs[i]);
        put(a, v, 4);
    }
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

/* Small resource descriptors (ACPI 2.0 6.4.2): a fixed 16-bit-decoded I/O
 * port, and an ISA IRQ (edge, active high: IRQNoFlags). */
static void io_port(struct aml *a, uint16_t port)
{
    uint8_t d[8] = { 0x47, 0x01, 0, 0, 0, 0, 1, 1 };
    w16(d + 2, port);
    w16(d + 4, port);
    put(a, d, sizeof(d));
}

static void irq_noflags(struct aml *a, unsigned irq)
{
    uint8_t d[3] = { 0x22, 0, 0 };
    w16(d + 1, (uint16_t)(1u << irq));
    put(a, d, sizeof(d));
}

/* Device (KBD) and Device (MOU): the PS/2 controller as QEMU's DSDT
 * describes it, so OSes find it through ACPI (Linux's i8042 through PNP). */
static void ps2_devices(struct aml *a)
{
    size_t d = begin_ext(a, DEVICE_OP);
    name(a, "KBD");
    name_eisaid(a, "_HID", "PNP0303");
    put1(a, NAME_OP);
    name(a, "_CRS");
    size_t rt = rt_begin(a);
    io_port(a, 0x60);
    io_port(a, 0x64);
    irq_noflags(a, 1);
    rt_end(a, rt);
    end(a, d);
    d = begin_ext(a, DEVICE_OP);
    name(a, "MOU");
    name_eisaid(a, "_HID", "PNP0F13");
    put1(a, NAME_OP);
    name(a, "_CRS");
    rt = rt_begin(a);
    irq_noflags(a, 12);
    rt_end(a, rt);
    end(a, d);
}

/* PCI0's _CRS: what bus 0 decodes. */
static void pci0_crs(struct aml *a)
{
    put1(a, NAME_OP);
    name(a, "_CRS");
    size_t b = rt_begin(a);
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
    rt_end(a, b);
}

/* Name (_PRT, Package () { Package () { slot << 16 | 0xFFFF, pin, LNKx, 0 },
 * ... }) for every slot's INTA-D: the PIIX3 swizzle sends slot s, pin p
 * (0 = INTA) to PIRQ (s + p - 1) mod 4; 00:01 INTA (the PIIX4 PM
 * function) is the SCI, LNKS. */
static void pci0_prt(struct aml *a)
{
    put1(a, NAME_OP);
    name(a, "_PRT");
    size_t pkg = begin(a, PACKAGE_OP);
    put1(a, PCI_SLOTS * 4);
    for (unsigned slot = 0; slot < PCI_SLOTS; slot++) {
        for (unsigned pin = 0; pin < 4; pin++) {
            char link[5] = "LNKA";
            link[3] = slot == PIIX_SLOT && pin == 0 ? 'S' : (char)('A' + (slot + pin + 3) % 4);
            size_t e = begin(a, PACKAGE_OP);
            put1(a, 4);
            integer(a, slot << 16 | 0xFFFF);    /* _ADR form: any function */
            integer(a, pin);
            name(a, link);
            integer(a, 0);                      /* source index */
            end(a, e);
        }
    }
    end(a, pkg);
}

static const uint8_t pirq_irqs[] = { 5, 10, 11 };   /* QEMU's choice */
static const uint8_t sci_irq[] = { DEV_ACPI_SCI_IRQ };

/* Name (_PRS, ResourceTemplate () { Interrupt (...) { irqs } }) */
static void name_prs(struct aml *a, const uint8_t *irqs, unsigned n)
{
    put1(a, NAME_OP);
    name(a, "_PRS");
    size_t b = rt_begin(a);
    irq_desc(a, irqs, n);
    rt_end(a, b);
}

/* Index (obj, IRQ_FIRST): the byte of a one-interrupt template that holds
 * its (first) interrupt number. */
static void index_irq(struct aml *a, uint8_t obj)
{
    put1(a, INDEX_OP);
    put1(a, obj);
    integer(a, IRQ_FIRST);
    put1(a, ZERO_OP);                           /* no target */
}

/* Method (IQST, 1) { If (And (0x80, Arg0)) { Return (0x09) } Return (0x0B) }
 * Method (IQCR, 1) {
 *     Store (ResourceTemplate () { Interrupt (...) { 0 } }, Local0)
 *     If (LLess (Arg0, 0x80)) { Store (Arg0, Index (Local0, 5)) }
 *     Return (Local0)
 * } */
static void link_helpers(struct aml *a)
{
    size_t m = method(a, "IQST", 1);
    size_t i = begin(a, IF_OP);
    put1(a, AND_OP);
    integer(a, DEV_PIIX_PIRQ_DISABLE);
    put1(a, ARG0_OP);
    put1(a, ZERO_OP);                           /* no target */
    put1(a, RETURN_OP);
    integer(a, STA_OFF);
    end(a, i);
    put1(a, RETURN_OP);
    integer(a, STA_ON);
    end(a, m);

    m = method(a, "IQCR", 1);
    put1(a, STORE_OP);
    size_t b = rt_begin(a);
    irq_desc(a, (const uint8_t[]){ 0 }, 1);
    rt_end(a, b);
    put1(a, LOCAL0_OP);
    i = begin(a, IF_OP);
    put1(a, LLESS_OP);
    put1(a, ARG0_OP);
    integer(a, DEV_PIIX_PIRQ_DISABLE);
    put1(a, STORE_OP);
    put1(a, ARG0_OP);
    index_irq(a, LOCAL0_OP);
    end(a, i);
    put1(a, RETURN_OP);
    put1(a, LOCAL0_OP);
    end(a, m);
}

/* Device (LNKx) for PIRQ n: PNP0C0F, _UID n, _PRS, and _STA, _DIS, _CRS,
 * _SRS on route register PRQn (see the file comment). */
static void link_device(struct aml *a, unsigned n)
{
    char dev[5] = "LNKA", prq[5] = "PRQ0";
    dev[3] = (char)('A' + n);
    prq[3] = (char)('0' + n);
    size_t d = begin_ext(a, DEVICE_OP);
    name(a, dev);
    name_eisaid(a, "_HID", "PNP0C0F");
    name_int(a, "_UID", n);
    name_prs(a, pirq_irqs, sizeof(pirq_irqs));

    size_t m = method(a, "_STA", 0);            /* Return (IQST (PRQn)) */
    put1(a, RETURN_OP);
    name(a, "IQST");
    name(a, prq);
    end(a, m);

    m = method(a, "_DIS", 0);                   /* Or (PRQn, 0x80, PRQn) */
    put1(a, OR_OP);
    name(a, prq);
    integer(a, DEV_PIIX_PIRQ_DISABLE);
    name(a, prq);
    end(a, m);

    m = method(a, "_CRS", 0);                   /* Return (IQCR (PRQn)) */
    put1(a, RETURN_OP);
    name(a, "IQCR");
    name(a, prq);
    end(a, m);

    m = method(a, "_SRS", 1);                   /* Store (DerefOf (Index */
    put1(a, STORE_OP);                          /*   (Arg0, 5)), PRQn) */
    put1(a, DEREF_OF_OP);
    index_irq(a, ARG0_OP);
    name(a, prq);
    end(a, m);
    end(a, d);
}

/* Device (LNKS): the SCI, fixed on IRQ 9 (devices/acpi_pm.c). */
static void link_sci(struct aml *a)
{
    size_t d = begin_ext(a, DEVICE_OP);
    name(a, "LNKS");
    name_eisaid(a, "_HID", "PNP0C0F");
    name_int(a, "_UID", 4);
    name_prs(a, sci_irq, 1);
    size_t m = method(a, "_STA", 0);            /* Return (0x0B) */
    put1(a, RETURN_OP);
    integer(a, STA_ON);
    end(a, m);
    end(a, method(a, "_DIS", 0));               /* {} */
    m = method(a, "_CRS", 0);                   /* Return (_PRS) */
    put1(a, RETURN_OP);
    name(a, "_PRS");
    end(a, m);
    end(a, method(a, "_SRS", 1));               /* {} */
    end(a, d);
}

static size_t build_aml(uint8_t *out)
{
    struct aml a = { out, 0 };

    /* Name (_S5, Package () { S5, S5, 0, 0 }) */
    put1(&a, NAME_OP);
    name(&a, "_S5");
    size_t pkg = begin(&a, PACKAGE_OP);
    put1(&a, 4);
    integer(&a, DEV_ACPI_SLP_TYP_S5);
    integer(&a, DEV_ACPI_SLP_TYP_S5);
    integer(&a, 0);
    integer(&a, 0);
    end(&a, pkg);

    size_t sb = begin(&a, SCOPE_OP);                /* Scope (\_SB) */
    name(&a, "\\_SB");

    size_t pci0 = begin_ext(&a, DEVICE_OP);         /* Device (PCI0) */
    name(&a, "PCI0");
    name_eisaid(&a, "_HID", "PNP0A03");
    name_int(&a, "_ADR", 0);
    name_int(&a, "_UID", 0);
    pci0_crs(&a);
    pci0_prt(&a);
    size_t isa = begin_ext(&a, DEVICE_OP);          /* Device (ISA) */
    name(&a, "ISA");
    name_int(&a, "_ADR", PIIX_SLOT << 16 | PIIX_ISA_FN);
    put1(&a, EXT_OP);                               /* OperationRegion (P40C, */
    put1(&a, OP_REGION_OP);                         /*   PCI_Config, 0x60, 4) */
    name(&a, "P40C");
    put1(&a, 2);                                    /* PCI_Config */
    integer(&a, DEV_PIIX_PIRQC);
    integer(&a, 4);
    ps2_devices(&a);
    end(&a, isa);
    end(&a, pci0);

    size_t f = begin_ext(&a, FIELD_OP);             /* Field (PCI0.ISA.P40C, */
    name(&a, "PCI0.ISA.P40C");
    put1(&a, 0x01);                                 /* ByteAcc, NoLock, Preserve) */
    for (unsigned n = 0; n < 4; n++) {
        char prq[5] = "PRQ0";
        prq[3] = (char)('0' + n);
        name(&a, prq);                              /* PRQn, 8 */
        put1(&a, 8);
    }
    end(&a, f);

    link_helpers(&a);
    for (unsigned n = 0; n < 4; n++)
        link_device(&a, n);
    link_sci(&a);
    end(&a, sb);
    return a.n;
}

/* ---- the tables ---- */

static uint32_t align(uint32_t v, uint32_t a) { return (v + a - 1) & ~(a - 1); }

static void build_fadt(uint8_t *t, uint32_t facs, uint32_t dsdt, bool smi_cmd)
{
    memset(t, 0, FADT_LEN);
    header(t, "FACP", FADT_LEN, 3);
    w32(t + 36, facs);                            /* FIRMWARE_CTRL */
    w32(t + 40, dsdt);
    t[45] = 0;                                    /* preferred PM profile: unspecified */
    w16(t + 46, DEV_ACPI_SCI_IRQ);
    /* SMI_CMD, ACPI_ENABLE, ACPI_DISABLE: with firmware, the PIIX4's APM
     * port, as QEMU's (devices/piix.c); else 0: always in ACPI mode. */
    if (smi_cmd) {
        w32(t + 48, DEV_PIIX_APM_PORT);
        t[52] = DEV_PIIX_APM_ACPI_ENABLE;
        t[53] = DEV_PIIX_APM_ACPI_DISABLE;
    }
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
    /* Flags: WBINVD, PROC_C1 (HLT), SLP_BUTTON (no fixed sleep button),
     * RESET_REG_SUP; PWR_BUTTON clear: the fixed power button is there
     * (devices/acpi_pm.c, the monitor's system_powerdown), as on QEMU's
     * PC; TMR_VAL_EXT clear: the timer is 24 bits. */
    w32(t + 112, (1u << 0) | (1u << 2) | (1u << 5) | (1u << 10));
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
    struct vm_acpi_layout l;
    vm_acpi_build_at(ram + VM_ACPI_BASE, VM_ACPI_BASE, false, &l);
    return l.rsdp;
}

void vm_acpi_build_at(uint8_t *area, uint32_t base, bool smi_cmd, struct vm_acpi_layout *l)
{
    memset(area, 0, VM_ACPI_END - VM_ACPI_BASE);
    /* ram + a is where address a is built (a >= base). */
    uint8_t *ram = area - base;

    uint32_t rsdp = base;
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
    uint32_t end = hpet + build_hpet(ram + hpet);

    /* FACS: no firmware waking vector, global lock free, version 1. */
    p = ram + facs;
    memcpy(p, "FACS", 4);
    w32(p + 4, FACS_LEN);
    p[32] = 1;

    build_fadt(ram + fadt, facs, dsdt, smi_cmd);
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
    *l = (struct vm_acpi_layout){ .rsdp = rsdp, .facs = facs, .rsdt = rsdt, .xsdt = xsdt,
                                  .fadt = fadt, .dsdt = dsdt, .madt = madt, .hpet = hpet,
                                  .end = end };
}
