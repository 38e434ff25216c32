/*
 * tests/unit/test_acpi.c — the ACPI tables vm_acpi_build() writes: the
 * RSDP's two checksums, every table reached from the RSDT and XSDT (and the
 * FADT's FACS and DSDT) with its length and checksum; the DSDT's AML, whose
 * top-level objects must fill the table exactly, and its _PRT (every slot's
 * INTA-D on the PIIX3 swizzle, 00:01 INTA on LNKS). Then, when Debian's
 * acpica-tools is installed (scripts/deps.sh installs it), the DSDT goes
 * through `iasl -d` (no error, no warning; the ASL it prints must hold the
 * link devices), and `acpiexec` runs the links' methods on its simulated
 * PCI configuration space: _DIS, _SRS, _CRS and _STA round-trip a route.
 * Without iasl/acpiexec those two tests say so and pass.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vm/acpi_tables.h"

#define RAM_SIZE 0x100000u

static uint8_t *ram;
static uint32_t rsdp;
static char dir[32];

static uint32_t r32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

static uint8_t sum(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    while (n--)
        s = (uint8_t)(s + *p++);
    return s;
}

static void setup(void)
{
    ram = calloc(1, RAM_SIZE);
    ck_assert_ptr_nonnull(ram);
    rsdp = vm_acpi_build(ram, RAM_SIZE);
}

static void teardown(void) { free(ram); }

/* The table at addr with signature sig: inside the BIOS area, checksum 0. */
static const uint8_t *table(uint32_t addr, const char *sig)
{
    ck_assert_uint_ge(addr, VM_ACPI_BASE);
    ck_assert_uint_lt(addr, VM_ACPI_END);
    const uint8_t *t = ram + addr;
    ck_assert_msg(memcmp(t, sig, 4) == 0, "table at 0x%x is not %s", addr, sig);
    uint32_t len = r32(t + 4);
    ck_assert_uint_ge(len, 36);
    ck_assert_uint_le(addr + len, VM_ACPI_END);
    ck_assert_msg(sum(t, len) == 0, "%s checksum", sig);
    return t;
}

static const uint8_t *dsdt(void)
{
    const uint8_t *rsdt = ram + r32(ram + rsdp + 16);
    return table(r32(table(r32(rsdt + 36), "FACP") + 40), "DSDT");
}

START_TEST(pointers_and_checksums)
{
    ck_assert_uint_eq(rsdp, VM_ACPI_BASE);
    const uint8_t *p = ram + rsdp;
    ck_assert(memcmp(p, "RSD PTR ", 8) == 0);
    ck_assert_uint_eq(sum(p, 20), 0);
    ck_assert_uint_eq(sum(p, 36), 0);
    ck_assert_uint_eq(p[15], 2);
    const uint8_t *rsdt = table(r32(p + 16), "RSDT");
    const uint8_t *xsdt = table(r32(p + 24), "XSDT");
    static const char *const sigs[] = { "FACP", "APIC", "HPET" };
    ck_assert_uint_eq(r32(rsdt + 4), 36 + 4 * 3);
    ck_assert_uint_eq(r32(xsdt + 4), 36 + 8 * 3);
    for (int i = 0; i < 3; i++) {
        table(r32(rsdt + 36 + 4 * i), sigs[i]);
        ck_assert_uint_eq(r32(xsdt + 36 + 8 * i), r32(rsdt + 36 + 4 * i));
        ck_assert_uint_eq(r32(xsdt + 40 + 8 * i), 0);
    }
    const uint8_t *fadt = table(r32(rsdt + 36), "FACP");
    ck_assert(memcmp(ram + r32(fadt + 36), "FACS", 4) == 0);
    ck_assert_uint_eq(r32(fadt + 140), r32(fadt + 40));      /* X_DSDT */
    /* PWR_BUTTON clear: a fixed power button (QMP's system_powerdown),
     * as on QEMU's PC; SLP_BUTTON set: no fixed sleep button. */
    ck_assert_uint_eq(r32(fadt + 112) & (3u << 4), 2u << 4);
    const uint8_t *d = table(r32(fadt + 40), "DSDT");
    ck_assert_uint_eq(d[8], 2);
}
END_TEST

/* PkgLength at *p (ACPI 2.0 16.2.4); advances p past it. */
static uint32_t pkglen(const uint8_t **p)
{
    uint8_t b0 = *(*p)++;
    unsigned extra = b0 >> 6;
    if (!extra)
        return b0 & 0x3F;
    uint32_t len = b0 & 0x0F;
    for (unsigned i = 0; i < extra; i++)
        len |= (uint32_t)*(*p)++ << (4 + 8 * i);
    return len;
}

/* An integer constant at *p; advances p past it. */
static uint32_t integer(const uint8_t **p)
{
    uint8_t op = *(*p)++;
    uint32_t v;
    switch (op) {
    case 0x00: return 0;
    case 0x01: return 1;
    case 0x0A: return *(*p)++;
    case 0x0B: v = (*p)[0] | (*p)[1] << 8; *p += 2; return v;
    case 0x0C: v = r32(*p); *p += 4; return v;
    }
    ck_abort_msg("not an integer constant: opcode 0x%02x", op);
    return 0;
}

/* The first occurrence of the 4 bytes s in the AML (NULL if none). */
static const uint8_t *find(const uint8_t *aml, size_t n, const char *s)
{
    for (size_t i = 0; i + 4 <= n; i++)
        if (memcmp(aml + i, s, 4) == 0)
            return aml + i;
    return NULL;
}

START_TEST(aml_layout)
{
    const uint8_t *d = dsdt();
    const uint8_t *p = d + 36, *e = d + r32(d + 4);
    /* Name (_S5_, Package (4) {...}) */
    ck_assert(p[0] == 0x08 && memcmp(p + 1, "_S5_", 4) == 0 && p[5] == 0x12);
    p += 6;
    const uint8_t *q = p;
    p = q + pkglen(&q);
    /* Scope (\_SB) { ... } reaches the end of the table exactly. */
    ck_assert_uint_eq(*p++, 0x10);
    q = p;
    p = q + pkglen(&q);
    ck_assert(q[0] == '\\' && memcmp(q + 1, "_SB_", 4) == 0);
    ck_assert_ptr_eq(p, e);
    static const char *const names[] = {
        "PCI0", "_PRT", "ISA_", "P40C", "PRQ0", "PRQ3", "IQST", "IQCR",
        "LNKA", "LNKB", "LNKC", "LNKD", "LNKS", "_SRS", "_DIS",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        ck_assert_msg(find(d + 36, (size_t)(e - d - 36), names[i]), "no %s", names[i]);
}
END_TEST

START_TEST(prt_swizzle)
{
    const uint8_t *d = dsdt();
    const uint8_t *p = find(d + 36, r32(d + 4) - 36, "_PRT");
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(p[-1], 0x08);                 /* Name (_PRT, */
    p += 4;
    ck_assert_uint_eq(*p++, 0x12);                  /* Package ( */
    const uint8_t *q = p, *end = q + pkglen(&q);
    p = q;
    ck_assert_uint_eq(*p++, 128);                   /* 32 slots x INTA-D */
    for (unsigned slot = 0; slot < 32; slot++) {
        for (unsigned pin = 0; pin < 4; pin++) {
            ck_assert_uint_eq(*p++, 0x12);
            q = p;
            const uint8_t *next = q + pkglen(&q);
            p = q;
            ck_assert_uint_eq(*p++, 4);
            ck_assert_uint_eq(integer(&p), slot << 16 | 0xFFFF);
            ck_assert_uint_eq(integer(&p), pin);
            char want[5] = "LNKA";
            want[3] = slot == 1 && pin == 0 ? 'S' : (char)('A' + (slot + pin + 3) % 4);
            ck_assert_msg(memcmp(p, want, 4) == 0, "slot %u pin %u: %.4s, want %s",
                          slot, pin, (const char *)p, want);
            p += 4;
            ck_assert_uint_eq(integer(&p), 0);
            ck_assert_ptr_eq(p, next);
        }
    }
    ck_assert_ptr_eq(p, end);
}
END_TEST

/* Runs cmd (stdout and stderr) into out; its exit status. */
static int run(const char *cmd, char *out, size_t size)
{
    FILE *f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(out, 1, size - 1, f);
    out[n] = 0;
    return pclose(f);
}

static int have(const char *tool)
{
    char cmd[128], out[256];
    snprintf(cmd, sizeof(cmd), "command -v %s 2>&1", tool);
    if (run(cmd, out, sizeof(out)) == 0)
        return 1;
    printf("test_acpi: %s not installed (Debian acpica-tools): skipped\n", tool);
    return 0;
}

/* Writes the DSDT to dir/dsdt.aml. */
static void write_dsdt(void)
{
    strcpy(dir, "/tmp/btvm-acpi-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof(path), "%s/dsdt.aml", dir);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    const uint8_t *d = dsdt();
    ck_assert_uint_eq(fwrite(d, 1, r32(d + 4), f), r32(d + 4));
    fclose(f);
}

static void remove_dir(void)
{
    char cmd[96], out[16];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    run(cmd, out, sizeof(out));
}

static char out[1 << 16];

/* A failed check on a tool's output: the output goes to stderr (Check's
 * messages are too short to carry it), then the test fails with what. */
#define expect(cond, ...) do {                                              \
        if (!(cond)) {                                                      \
            fputs(out, stderr);                                             \
            ck_abort_msg(__VA_ARGS__);                                      \
        }                                                                   \
    } while (0)

START_TEST(iasl_disassembles)
{
    if (!have("iasl"))
        return;
    write_dsdt();
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "cd %s && iasl -d dsdt.aml 2>&1 && cat dsdt.dsl", dir);
    int st = run(cmd, out, sizeof(out));
    remove_dir();
    expect(st == 0, "iasl -d failed (status %d)", st);
    expect(!strstr(out, "Error") && !strstr(out, "Warning"), "iasl -d: an error or a warning");
    static const char *const want[] = {
        "Device (PCI0)", "Name (_PRT, Package (0x80)", "Device (ISA)",
        "OperationRegion (P40C, PCI_Config, 0x60, 0x04)",
        "Field (PCI0.ISA.P40C, ByteAcc, NoLock, Preserve)",
        "Device (LNKA)", "Device (LNKD)", "Device (LNKS)",
        "Name (_HID, EisaId (\"PNP0C0F\")",
        "Interrupt (ResourceConsumer, Level, ActiveHigh, Shared, ,, )",
        "Method (_SRS, 1, NotSerialized)", "PRQ1 = DerefOf (Arg0 [0x05])",
        "Local0 [0x05] = Arg0",
        "Return (IQCR (PRQ3))", "PRQ2 |= 0x80",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        expect(strstr(out, want[i]), "no '%s' in iasl -d output", want[i]);
}
END_TEST

/* acpiexec runs the links' methods, its PCI configuration space a zeroed
 * fake: _SRS (Interrupt {11}) then _STA and _CRS, _DIS then _STA and _CRS
 * on LNKB; LNKA's route (another register) stays 0; LNKS is IRQ 9. */
START_TEST(acpiexec_links)
{
    if (!have("acpiexec"))
        return;
    write_dsdt();
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "cd %s && acpiexec -b '"
             "execute \\_SB.LNKB._SRS (89 06 00 09 01 0b 00 00 00 79 00);"
             "execute \\_SB.LNKB._STA; execute \\_SB.LNKB._CRS;"
             "execute \\_SB.LNKB._DIS; execute \\_SB.LNKB._STA; execute \\_SB.LNKB._CRS;"
             "execute \\_SB.LNKA._CRS; execute \\_SB.LNKS._STA; execute \\_SB.LNKS._CRS"
             "' dsdt.aml 2>&1", dir);
    int st = run(cmd, out, sizeof(out));
    remove_dir();
    expect(st == 0, "acpiexec failed (status %d)", st);
    expect(!strstr(out, "Error") && !strstr(out, "Warning") && !strstr(out, "AE_"),
           "acpiexec: an error or a warning");
    static const char *const want[] = {
        "Evaluating \\_SB.LNKB._SRS", "No object was returned",
        "Evaluating \\_SB.LNKB._STA", "[Integer] = 000000000000000B",
        "Evaluating \\_SB.LNKB._CRS", "89 06 00 09 01 0B 00 00 00 79 00",
        "Evaluating \\_SB.LNKB._DIS", "No object was returned",
        "Evaluating \\_SB.LNKB._STA", "[Integer] = 0000000000000009",
        "Evaluating \\_SB.LNKB._CRS", "89 06 00 09 01 00 00 00 00 79 00",
        "Evaluating \\_SB.LNKA._CRS", "89 06 00 09 01 00 00 00 00 79 00",
        "Evaluating \\_SB.LNKS._STA", "[Integer] = 000000000000000B",
        "Evaluating \\_SB.LNKS._CRS", "89 06 00 09 01 09 00 00 00 79 00",
    };
    const char *at = out;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        at = strstr(at, want[i]);
        expect(at, "acpiexec: no '%s' (in order)", want[i]);
        at += strlen(want[i]);
    }
}
END_TEST

static Suite *acpi_suite(void)
{
    Suite *s = suite_create("acpi");
    TCase *tc = tcase_create("acpi");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, pointers_and_checksums);
    tcase_add_test(tc, aml_layout);
    tcase_add_test(tc, prt_swizzle);
    tcase_add_test(tc, iasl_disassembles);
    tcase_add_test(tc, acpiexec_links);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(acpi_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
