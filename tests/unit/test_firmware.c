/*
 * tests/unit/test_firmware.c — what vm/firmware.c gives the BIOS through
 * fw_cfg and CMOS (docs/machine.md, "fw_cfg for the firmware"): key 0x04
 * (no display: serial console), 0x0e (boot menu), etc/boot-fail-wait, the
 * boot order in CMOS 0x3D/0x38, and the ACPI tables through QEMU's table
 * loader — run here by a small loader as SeaBIOS runs it, after which the
 * RSDP, RSDT, XSDT and FADT must be where their pointers say, with valid
 * checksums and the FADT's SMI_CMD on the APM port. Also the PAM segment
 * layout.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "devices/bus.h"
#include "devices/fw_cfg.h"
#include "devices/pci_host.h"
#include "devices/piix.h"
#include "devices/rtc146818.h"
#include "vm/dma.h"
#include "vm/cli.h"
#include "vm/firmware.h"

static struct vm_machine mach;
static struct dev_rtc *rtc;
static struct dev_timers timers;

static void irq_set(void *ctx, int line, int level)
{
    (void)ctx; (void)line; (void)level;
}

static int nodma(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    (void)ctx; (void)gpa; (void)buf; (void)len;
    return -1;
}

static void setup_with(const char *order, bool menu)
{
    memset(&mach, 0, sizeof(mach));
    mach.vm.bus = dev_bus_new();
    ck_assert_ptr_nonnull(mach.vm.bus);
    struct dev_dma dma = { .read = nodma, .write = (int (*)(void *, uint64_t, const void *, size_t))nodma };
    mach.fw_cfg = dev_fw_cfg_new(mach.vm.bus, &dma);
    memset(&timers, 0, sizeof(timers));
    rtc = dev_rtc_new(mach.vm.bus, &timers, (struct dev_irq_line){ .set = irq_set, .line = 8 },
                      128u << 20);
    ck_assert(mach.fw_cfg && rtc);
    vm_cli_defaults(&mach.vm.opt);
    mach.vm.opt.firmware = true;
    strcpy(mach.vm.opt.boot_order, order);
    mach.vm.opt.boot_menu = menu;
    ck_assert_int_eq(vm_firmware_config(&mach), 0);
}

static void teardown(void)
{
    dev_fw_cfg_free(mach.fw_cfg);
    dev_rtc_free(rtc);
    dev_bus_free(mach.vm.bus);
}

/* A fw_cfg item through the selector and data ports, as firmware reads it. */
static void item(uint16_t key, void *out, size_t n)
{
    uint32_t v = key;
    dev_bus_pio(mach.vm.bus, DEV_FW_CFG_PORT_SEL, 2, true, &v);
    for (size_t i = 0; i < n; i++) {
        dev_bus_pio(mach.vm.bus, DEV_FW_CFG_PORT_DATA, 1, false, &v);
        ((uint8_t *)out)[i] = (uint8_t)v;
    }
}

static size_t file(const char *name, uint8_t *out, size_t cap)
{
    int key = dev_fw_cfg_file_key(mach.fw_cfg, name);
    ck_assert_msg(key >= 0, "no fw_cfg file %s", name);
    /* Its size, from the directory. */
    uint8_t cnt[4];
    item(DEV_FW_CFG_FILE_DIR, cnt, 4);
    uint32_t n = (uint32_t)cnt[0] << 24 | cnt[1] << 16 | cnt[2] << 8 | cnt[3];
    size_t dirlen = 4 + n * 64u;
    uint8_t *dir = malloc(dirlen);
    item(DEV_FW_CFG_FILE_DIR, dir, dirlen);
    size_t size = 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = dir + 4 + 64 * i;
        if (!strcmp((const char *)e + 8, name))
            size = (size_t)e[0] << 24 | e[1] << 16 | e[2] << 8 | e[3];
    }
    free(dir);
    ck_assert_uint_le(size, cap);
    item((uint16_t)key, out, size);
    return size;
}

static uint8_t cmos(uint8_t index)
{
    uint32_t v = index;
    dev_bus_pio(mach.vm.bus, 0x70, 1, true, &v);
    dev_bus_pio(mach.vm.bus, 0x71, 1, false, &v);
    return (uint8_t)v;
}

static uint32_t le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint8_t sum(const uint8_t *p, size_t n) { uint8_t s = 0; while (n--) s += *p++; return s; }

START_TEST(keys_and_boot_order)
{
    setup_with("", false);
    uint8_t b[4];
    item(DEV_FW_CFG_NOGRAPHIC, b, 2);
    ck_assert_uint_eq(b[0] | b[1] << 8, 1);
    item(DEV_FW_CFG_BOOT_MENU, b, 2);
    ck_assert_uint_eq(b[0] | b[1] << 8, 0);
    ck_assert_uint_eq(file("etc/boot-fail-wait", b, 4), 4);
    ck_assert_uint_eq(le32(b), 0xFFFFFFFFu);
    ck_assert_uint_eq(cmos(0x3D), 0x32);     /* disk, then CD-ROM */
    ck_assert_uint_eq(cmos(0x38) & 0xF0, 0);
    teardown();
    setup_with("dc", true);
    item(DEV_FW_CFG_BOOT_MENU, b, 2);
    ck_assert_uint_eq(b[0] | b[1] << 8, 1);
    ck_assert_uint_eq(cmos(0x3D), 0x23);
    teardown();
    setup_with("d", false);
    ck_assert_uint_eq(cmos(0x3D), 0x03);
    ck_assert_int_lt(dev_fw_cfg_file_key(mach.fw_cfg, "etc/boot-menu-wait"), 0);
    teardown();
    /* -boot splash-time / reboot-timeout: QEMU's files. */
    memset(&mach, 0, sizeof(mach));
    mach.vm.bus = dev_bus_new();
    struct dev_dma dma = { .read = nodma, .write = (int (*)(void *, uint64_t, const void *, size_t))nodma };
    mach.fw_cfg = dev_fw_cfg_new(mach.vm.bus, &dma);
    vm_cli_defaults(&mach.vm.opt);
    mach.vm.opt.firmware = true;
    mach.vm.opt.boot_splash_ms = 1500;
    mach.vm.opt.boot_reboot_ms = 5000;
    ck_assert_int_eq(vm_firmware_config(&mach), 0);
    ck_assert_uint_eq(file("etc/boot-menu-wait", b, 4), 2);
    ck_assert_uint_eq(b[0] | b[1] << 8, 1500);
    ck_assert_uint_eq(file("etc/boot-fail-wait", b, 4), 4);
    ck_assert_uint_eq(le32(b), 5000);
    dev_fw_cfg_free(mach.fw_cfg);
    dev_bus_free(mach.vm.bus);
}
END_TEST

/* Runs etc/table-loader over the two blobs placed at the given addresses. */
START_TEST(acpi_through_the_table_loader)
{
    setup_with("", false);
    static uint8_t loader[4096], tables[65536], rsdp[64];
    size_t nl = file("etc/table-loader", loader, sizeof(loader));
    size_t nt = file("etc/acpi/tables", tables, sizeof(tables));
    size_t nr = file("etc/acpi/rsdp", rsdp, sizeof(rsdp));
    ck_assert_uint_eq(nl % 128, 0);
    ck_assert_uint_eq(nr, 36);
    ck_assert_mem_eq(rsdp, "RSD PTR ", 8);
    const uint32_t at_tables = 0x07FE0000, at_rsdp = 0xF5A50;
    int allocs = 0;
    for (size_t off = 0; off < nl; off += 128) {
        const uint8_t *c = loader + off;
        uint32_t cmd = le32(c);
        const char *f = (const char *)c + 4;
        uint8_t *blob = !strcmp(f, "etc/acpi/tables") ? tables : rsdp;
        if (cmd == 1) {                                   /* ALLOCATE */
            allocs++;
            uint32_t align = le32(c + 4 + 56);
            uint8_t zone = c[4 + 60];
            ck_assert_uint_eq(zone, blob == rsdp ? 2 : 1); /* FSEG / HIGH */
            ck_assert_uint_eq((blob == rsdp ? at_rsdp : at_tables) % align, 0);
        } else if (cmd == 2) {                            /* ADD_POINTER */
            const char *src = (const char *)c + 4 + 56;
            ck_assert_str_eq(src, "etc/acpi/tables");
            uint32_t o = le32(c + 4 + 112);
            uint8_t size = c[4 + 116];
            ck_assert(size == 4 || size == 8);
            uint64_t v = 0;
            memcpy(&v, blob + o, size);
            v += at_tables;
            memcpy(blob + o, &v, size);
        } else if (cmd == 3) {                            /* ADD_CHECKSUM */
            uint32_t o = le32(c + 4 + 56), start = le32(c + 4 + 60), len = le32(c + 4 + 64);
            blob[o] = (uint8_t)(blob[o] - sum(blob + start, len));
        } else {
            ck_abort_msg("unexpected loader command %u", cmd);
        }
    }
    ck_assert_int_eq(allocs, 2);
    ck_assert_uint_eq(sum(rsdp, 20), 0);
    ck_assert_uint_eq(sum(rsdp, 36), 0);
    uint32_t rsdt = le32(rsdp + 16) - at_tables, xsdt = (uint32_t)(le32(rsdp + 24) - at_tables);
    ck_assert_uint_lt(rsdt, nt);
    ck_assert_mem_eq(tables + rsdt, "RSDT", 4);
    ck_assert_mem_eq(tables + xsdt, "XSDT", 4);
    ck_assert_uint_eq(sum(tables + rsdt, le32(tables + rsdt + 4)), 0);
    ck_assert_uint_eq(sum(tables + xsdt, le32(tables + xsdt + 4)), 0);
    static const char *const sig[3] = { "FACP", "APIC", "HPET" };
    for (int i = 0; i < 3; i++) {
        uint32_t t = le32(tables + rsdt + 36 + 4 * i) - at_tables;
        ck_assert_mem_eq(tables + t, sig[i], 4);
        ck_assert_uint_eq(le32(tables + xsdt + 36 + 8 * i) - at_tables, t);
        ck_assert_uint_eq(sum(tables + t, le32(tables + t + 4)), 0);
    }
    uint32_t fadt = le32(tables + rsdt + 36) - at_tables;
    uint32_t facs = le32(tables + fadt + 36) - at_tables, dsdt = le32(tables + fadt + 40) - at_tables;
    ck_assert_mem_eq(tables + facs, "FACS", 4);
    ck_assert_uint_eq((at_tables + facs) % 64, 0);
    ck_assert_mem_eq(tables + dsdt, "DSDT", 4);
    ck_assert_uint_eq(le32(tables + fadt + 140) - at_tables, dsdt);
    ck_assert_uint_eq(le32(tables + fadt + 48), DEV_PIIX_APM_PORT);      /* SMI_CMD */
    ck_assert_uint_eq(tables[fadt + 52], DEV_PIIX_APM_ACPI_ENABLE);
    ck_assert_uint_eq(tables[fadt + 53], DEV_PIIX_APM_ACPI_DISABLE);
    /* The stale RSDP copy at the start of the tables blob is gone. */
    ck_assert(memcmp(tables, "RSD PTR ", 8) != 0);
    teardown();
}
END_TEST

START_TEST(pam_segments)
{
    uint32_t base, len;
    unsigned reg, shift;
    vm_pam_segment(0, &base, &len, &reg, &shift);
    ck_assert(base == 0xF0000 && len == 0x10000 && reg == DEV_I440FX_PAM0 && shift == 4);
    vm_pam_segment(1, &base, &len, &reg, &shift);
    ck_assert(base == 0xC0000 && len == 0x4000 && reg == 0x5A && shift == 0);
    vm_pam_segment(2, &base, &len, &reg, &shift);
    ck_assert(base == 0xC4000 && reg == 0x5A && shift == 4);
    vm_pam_segment(12, &base, &len, &reg, &shift);
    ck_assert(base == 0xEC000 && len == 0x4000 && reg == 0x5F && shift == 4);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("firmware");
    TCase *t = tcase_create("firmware");
    tcase_add_test(t, keys_and_boot_order);
    tcase_add_test(t, acpi_through_the_table_loader);
    tcase_add_test(t, pam_segments);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
