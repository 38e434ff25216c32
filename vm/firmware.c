/*
 * vm/firmware.c — the BIOS ROM, the PAM shadow areas and the A20 gate as
 * the CPU sees them (docs/machine.md, "Firmware and the ROM map").
 *
 * vm->ram is a 4 GiB reservation (vm/ram.c): RAM at 0, and here the ROM
 * image read-only at 4 GiB - size. Each PAM segment of 0xC0000-0xFFFFF
 * shows, at vm->ram + address, what a CPU read returns: DRAM (a mapping of
 * the RAM memfd), the ROM (0xE0000-0xFFFFF, a mapping of the image's
 * memfd), or an all-ones page (PCI side, nothing there). Writes follow the
 * PAM write enable; the engine is told which pages take no direct writes
 * (BT: smmu_set_page_flags; KVM: vm_engine_ops.mem_changed).
 */
#include "vm/firmware.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpu/cpu.h"
#include "devices/bus.h"
#include "devices/debugcon.h"
#include "devices/fw_cfg.h"
#include "devices/pci_host.h"
#include "shadowmmu/smmu.h"
#include "vm/acpi_tables.h"
#include "vm/cli.h"
#include "vm/ram.h"

#define PAGE 4096u
#define PAM_RE 1u /* read enable: reads from DRAM */
#define PAM_WE 2u /* write enable: writes to DRAM */

void vm_pam_segment(unsigned i, uint32_t *base, uint32_t *len, unsigned *reg, unsigned *shift)
{
    if (i == 0) { /* PAM0 bits 5:4: 0xF0000-0xFFFFF; bits 3:0 reserved */
        *base = 0xF0000;
        *len = 0x10000;
        *reg = DEV_I440FX_PAM0;
        *shift = 4;
        return;
    }
    *base = 0xC0000 + (i - 1) * 0x4000;
    *len = 0x4000;
    *reg = DEV_I440FX_PAM0 + 1 + (i - 1) / 2;
    *shift = (i - 1) % 2 ? 4 : 0;
}

/* One all-ones page to show where reads go to the PCI side and find no
 * device (0xC0000-0xDFFFF, and the ROM's place without a ROM). */
static int ff_fd(struct vm_machine *m)
{
    if (m->ff_fd > 0)
        return m->ff_fd;
    int fd = memfd_create("btvm-unassigned", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, PAGE) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    uint8_t ones[PAGE];
    memset(ones, 0xFF, sizeof(ones));
    if (pwrite(fd, ones, PAGE, 0) != PAGE) {
        close(fd);
        return -1;
    }
    m->ff_fd = fd;
    return fd;
}

int vm_firmware_load(struct vm_machine *m, const char *path, char *err, size_t errlen)
{
    struct vm *vm = &m->vm;
    int in = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (in < 0 || fstat(in, &st) < 0) {
        snprintf(err, errlen, "btvm: cannot open the firmware '%s': %s%s", path, strerror(errno),
                 errno == ENOENT && !strcmp(path, VM_BIOS_DEFAULT)
                     ? " (install Debian's seabios package)" : "");
        if (in >= 0)
            close(in);
        return VM_STATUS_BAD_INPUT;
    }
    uint64_t size = (uint64_t)st.st_size;
    /* QEMU's rule: a whole number of 64 KiB, and it must fit below 4 GiB
     * above the devices (16 MiB here). */
    if (!S_ISREG(st.st_mode) || size == 0 || size % 0x10000 || size > VM_BIOS_SIZE_MAX) {
        snprintf(err, errlen, "btvm: firmware '%s': the size must be a multiple of 64 KiB, "
                 "at most %u MiB (it is %llu bytes)", path, VM_BIOS_SIZE_MAX >> 20,
                 (unsigned long long)size);
        close(in);
        return VM_STATUS_BAD_INPUT;
    }
    int fd = memfd_create("btvm-bios", MFD_CLOEXEC);
    int r = fd < 0 ? -1 : ftruncate(fd, (off_t)size);
    for (uint64_t off = 0; r == 0 && off < size;) {
        uint8_t buf[65536];
        ssize_t n = pread(in, buf, sizeof(buf), (off_t)off);
        if (n <= 0 || pwrite(fd, buf, (size_t)n, (off_t)off) != n)
            r = -1;
        off += n > 0 ? (uint64_t)n : 0;
    }
    int e = errno;
    close(in);
    void *p = MAP_FAILED;
    if (r == 0)
        p = mmap(vm->ram + VM_PHYS_SPACE - size, size, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0);
    if (p == MAP_FAILED) {
        if (r == 0)
            e = errno;
        snprintf(err, errlen, "btvm: cannot load the firmware '%s': %s", path, strerror(e));
        if (fd >= 0)
            close(fd);
        return VM_STATUS_BAD_INPUT;
    }
    m->bios_fd = fd;
    m->bios_size = size;
    return 0;
}

void vm_firmware_unload(struct vm_machine *m)
{
    /* The mappings go with vm->ram's reservation (vm_ram_destroy). */
    if (m->bios_fd > 0)
        close(m->bios_fd);
    if (m->ff_fd > 0)
        close(m->ff_fd);
    vm_filechr_close(&m->bios_log);
    m->bios_fd = m->ff_fd = 0;
}

/* What a read of [base, base + len) shows: DRAM, ROM, or all-ones. */
static int map_segment(struct vm_machine *m, uint32_t base, uint32_t len, unsigned mode)
{
    struct vm *vm = &m->vm;
    uint8_t *at = vm->ram + base;
    uint32_t isa = m->bios_size < VM_ISA_BIOS_SIZE ? (uint32_t)m->bios_size : VM_ISA_BIOS_SIZE;
    if (mode & PAM_RE) {
        if (mmap(at, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, vm->ram_fd, base) ==
            MAP_FAILED)
            return -errno;
    } else if (m->bios_fd > 0 && base >= 0x100000 - isa) {
        off_t off = (off_t)(m->bios_size - (0x100000 - base));
        if (mmap(at, len, PROT_READ, MAP_SHARED | MAP_FIXED, m->bios_fd, off) == MAP_FAILED)
            return -errno;
    } else {
        int fd = ff_fd(m);
        if (fd < 0)
            return -ENOMEM;
        for (uint32_t o = 0; o < len; o += PAGE)
            if (mmap(at + o, PAGE, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED)
                return -errno;
    }
    return 0;
}

static void apply_segment(struct vm_machine *m, unsigned i)
{
    struct vm *vm = &m->vm;
    uint32_t base, len;
    unsigned reg, shift;
    vm_pam_segment(i, &base, &len, &reg, &shift);
    unsigned mode = (m->pam[reg - DEV_I440FX_PAM0] >> shift) & 3u;
    if (mode == m->pam_mapped[i])
        return;
    bool shown_changed = m->pam_mapped[i] > 3 || ((mode ^ m->pam_mapped[i]) & PAM_RE);
    if (shown_changed) {
        int r = map_segment(m, base, len, mode);
        if (r) {
            fprintf(stderr, "btvm: cannot remap 0x%x-0x%x for PAM: %s\n", base, base + len - 1,
                    strerror(-r));
            vm_request_stop(vm, VM_STATUS_HOST_ERROR);
            return;
        }
    }
    m->pam_mapped[i] = (uint8_t)mode;
    vm->memseg[i] = (struct vm_memseg){ base, len, mode & PAM_RE, mode & PAM_WE };
    struct smmu *mmu = vm->cpu ? vm->cpu->mmu : NULL;
    if (mmu) {
        uint8_t flags = mode == (PAM_RE | PAM_WE) ? 0
                      : mode == PAM_WE ? SMMU_PG_WALIAS : SMMU_PG_WDROP;
        smmu_set_page_flags(mmu, base / PAGE, len / PAGE, flags, shown_changed);
    }
    if (vm->cpu && vm->engine && vm->engine->mem_changed)
        vm->engine->mem_changed(vm, base, len);
}

void vm_firmware_pam(struct vm_machine *m, unsigned reg, uint8_t value)
{
    if (reg < DEV_I440FX_PAM0 || reg >= DEV_I440FX_PAM0 + DEV_I440FX_NPAM)
        return;
    m->pam[reg - DEV_I440FX_PAM0] = value;
    for (unsigned i = 0; i < VM_PAM_SEGMENTS; i++) {
        uint32_t base, len;
        unsigned r, shift;
        vm_pam_segment(i, &base, &len, &r, &shift);
        if (r == reg)
            apply_segment(m, i);
    }
}

void vm_firmware_memmap_init(struct vm_machine *m)
{
    struct vm *vm = &m->vm;
    for (unsigned i = 0; i < VM_PAM_SEGMENTS; i++) {
        uint32_t base, len;
        unsigned reg, shift;
        vm_pam_segment(i, &base, &len, &reg, &shift);
        vm->memseg[i] = (struct vm_memseg){ base, len, true, true }; /* RAM until PAM says */
    }
    vm->rom_base = m->bios_size ? VM_PHYS_SPACE - m->bios_size : 0;
}

int vm_firmware_pam_all(struct vm_machine *m)
{
    struct vm *vm = &m->vm;
    if (vm->cpu && vm->cpu->mmu)
        smmu_set_ram_alias(vm->cpu->mmu, vm->dram);
    if (vm->cpu && vm->cpu->mmu && m->bios_size)
        smmu_set_rom(vm->cpu->mmu, VM_PHYS_SPACE - m->bios_size);
    for (unsigned i = 0; i < VM_PAM_SEGMENTS; i++) {
        m->pam_mapped[i] = 0xFF; /* unknown: map it */
        apply_segment(m, i);
    }
    return vm->stop_requested ? VM_STATUS_HOST_ERROR : 0;
}

void vm_a20_set(struct vm_machine *m, int source, bool on)
{
    /* As QEMU wires them: both sources drive one line, the last write
     * wins. (The PIIX3 ORs them; guests toggle one source, and tests
     * compare with QEMU.) */
    m->a20_src[source] = on;
    bool a20 = on;
    struct smmu *mmu = m->vm.cpu ? m->vm.cpu->mmu : NULL;
    if (mmu)
        smmu_set_a20(mmu, a20);
    /* KVM: no A20 masking (docs/hav.md); the gate stays open there. */
}

int vm_firmware_log_open(struct vm_machine *m, const char *path)
{
    int r = vm_filechr_open(&m->bios_log, path);
    if (r) {
        fprintf(stderr, "btvm: --bios-log '%s': %s\n", path, strerror(-r));
        return VM_STATUS_BAD_INPUT;
    }
    return 0;
}

int vm_firmware_log_attach(struct vm_machine *m)
{
    if (!m->bios_log.open)
        return 0;
    int r = dev_debugcon_init(m->vm.bus, VM_PORT_BIOS_DEBUG, &m->bios_log.chr);
    if (r) {
        fprintf(stderr, "btvm: cannot add the debug console at port 0x%x: %s\n",
                VM_PORT_BIOS_DEBUG, strerror(-r));
        return VM_STATUS_HOST_ERROR;
    }
    return 0;
}

/* CMOS bytes 0x3D and 0x38 (bits 7:4): up to three boot devices, 2 = hard
 * disk, 3 = CD-ROM, as QEMU's pc machine writes them for -boot order= and
 * SeaBIOS reads them when no bootorder file names devices. */
static void cmos_write(struct vm *vm, uint8_t index, uint8_t value)
{
    uint32_t i = index, v = value;
    dev_bus_pio(vm->bus, 0x70, 1, true, &i);
    dev_bus_pio(vm->bus, 0x71, 1, true, &v);
}

/*
 * QEMU's ACPI table loader (etc/table-loader): 128-byte commands the
 * firmware runs in order. ALLOCATE places a fw_cfg file's bytes in a zone
 * (HIGH: top of RAM, FSEG: 0xE0000-0xFFFFF, where an OS finds the RSDP);
 * ADD_POINTER adds the address where a file landed to a field of another;
 * ADD_CHECKSUM fixes a checksum byte over a range after that.
 */
enum { LOADER_ALLOCATE = 1, LOADER_ADD_POINTER = 2, LOADER_ADD_CHECKSUM = 3 };
enum { ZONE_HIGH = 1, ZONE_FSEG = 2 };
#define LOADER_ENTRY 128u
#define LOADER_MAX   32u
#define ACPI_TABLES  "etc/acpi/tables"
#define ACPI_RSDP    "etc/acpi/rsdp"

struct loader {
    uint8_t cmd[LOADER_MAX * LOADER_ENTRY];
    unsigned n;
};

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint8_t *loader_cmd(struct loader *ld, uint32_t op)
{
    uint8_t *c = ld->cmd + ld->n++ * LOADER_ENTRY; /* LOADER_MAX covers what is built below */
    put32(c, op);
    return c + 4;
}

static void loader_alloc(struct loader *ld, const char *file, uint32_t align, uint8_t zone)
{
    uint8_t *c = loader_cmd(ld, LOADER_ALLOCATE);
    strcpy((char *)c, file);
    put32(c + DEV_FW_CFG_NAME_MAX, align);
    c[DEV_FW_CFG_NAME_MAX + 4] = zone;
}

static void loader_pointer(struct loader *ld, const char *dest, const char *src, uint32_t offset,
                           uint8_t size)
{
    uint8_t *c = loader_cmd(ld, LOADER_ADD_POINTER);
    strcpy((char *)c, dest);
    strcpy((char *)c + DEV_FW_CFG_NAME_MAX, src);
    put32(c + 2 * DEV_FW_CFG_NAME_MAX, offset);
    c[2 * DEV_FW_CFG_NAME_MAX + 4] = size;
}

static void loader_checksum(struct loader *ld, const char *file, uint32_t offset, uint32_t start,
                            uint32_t len)
{
    uint8_t *c = loader_cmd(ld, LOADER_ADD_CHECKSUM);
    strcpy((char *)c, file);
    put32(c + DEV_FW_CFG_NAME_MAX, offset);
    put32(c + DEV_FW_CFG_NAME_MAX + 4, start);
    put32(c + DEV_FW_CFG_NAME_MAX + 8, len);
}

static uint32_t table_len(const uint8_t *t)
{
    return (uint32_t)t[4] | (uint32_t)t[5] << 8 | (uint32_t)t[6] << 16 | (uint32_t)t[7] << 24;
}

/* The platform's ACPI tables (vm/acpi_tables.c), built at offset 0 of one
 * blob and relocated by the firmware; the RSDP a blob of its own in the
 * F segment. 0 or -ENOMEM. */
static int acpi_tables(struct vm_machine *m)
{
    static uint8_t area[VM_ACPI_END - VM_ACPI_BASE];
    struct vm_acpi_layout l;
    vm_acpi_build_at(area, 0, true, &l);
    uint8_t rsdp[36];
    memcpy(rsdp, area, sizeof(rsdp));
    memset(area, 0, l.facs); /* the RSDP lives in its own blob */
    struct loader *ld = calloc(1, sizeof(*ld));
    if (!ld)
        return -ENOMEM;
    loader_alloc(ld, ACPI_TABLES, 64, ZONE_HIGH); /* 64: the FACS's alignment */
    loader_alloc(ld, ACPI_RSDP, 16, ZONE_FSEG);
    loader_pointer(ld, ACPI_TABLES, ACPI_TABLES, l.fadt + 36, 4); /* FIRMWARE_CTRL */
    loader_pointer(ld, ACPI_TABLES, ACPI_TABLES, l.fadt + 40, 4); /* DSDT */
    loader_pointer(ld, ACPI_TABLES, ACPI_TABLES, l.fadt + 140, 8); /* X_DSDT */
    loader_checksum(ld, ACPI_TABLES, l.fadt + 9, l.fadt, table_len(area + l.fadt));
    for (uint32_t i = 0; i < 3; i++) { /* FADT, MADT, HPET */
        loader_pointer(ld, ACPI_TABLES, ACPI_TABLES, l.rsdt + 36 + 4 * i, 4);
        loader_pointer(ld, ACPI_TABLES, ACPI_TABLES, l.xsdt + 36 + 8 * i, 8);
    }
    loader_checksum(ld, ACPI_TABLES, l.rsdt + 9, l.rsdt, table_len(area + l.rsdt));
    loader_checksum(ld, ACPI_TABLES, l.xsdt + 9, l.xsdt, table_len(area + l.xsdt));
    loader_pointer(ld, ACPI_RSDP, ACPI_TABLES, 16, 4); /* RsdtAddress */
    loader_pointer(ld, ACPI_RSDP, ACPI_TABLES, 24, 8); /* XsdtAddress */
    loader_checksum(ld, ACPI_RSDP, 8, 0, 20);          /* ACPI 1.0 part first */
    loader_checksum(ld, ACPI_RSDP, 32, 0, 36);
    int r = dev_fw_cfg_add_file(m->fw_cfg, ACPI_TABLES, area, l.end);
    if (!r)
        r = dev_fw_cfg_add_file(m->fw_cfg, ACPI_RSDP, rsdp, sizeof(rsdp));
    if (!r)
        r = dev_fw_cfg_add_file(m->fw_cfg, "etc/table-loader", ld->cmd, ld->n * LOADER_ENTRY);
    free(ld);
    return r;
}

int vm_firmware_config(struct vm_machine *m)
{
    struct vm *vm = &m->vm;
    const char *order = vm->opt.boot_order[0] ? vm->opt.boot_order : "cd";
    uint8_t dev[3] = { 0, 0, 0 };
    for (unsigned i = 0; i < 3 && order[i]; i++)
        dev[i] = order[i] == 'c' ? 2 : 3;
    cmos_write(vm, 0x3D, (uint8_t)(dev[1] << 4 | dev[0]));
    cmos_write(vm, 0x38, (uint8_t)(dev[2] << 4)); /* bit 0 clear: no floppy signature check */
    uint32_t fw = (uint32_t)vm->opt.boot_reboot_ms; /* -1 stays all-ones */
    uint8_t fail_wait[4] = { (uint8_t)fw, (uint8_t)(fw >> 8), (uint8_t)(fw >> 16), (uint8_t)(fw >> 24) };
    uint16_t mw = (uint16_t)vm->opt.boot_splash_ms;
    uint8_t menu_wait[2] = { (uint8_t)mw, (uint8_t)(mw >> 8) };
    /* No display (QEMU's -nographic): SeaBIOS then also puts its text
     * console on COM1 (sercon), which is what the user sees. */
    bool nographic = vm->opt.display == VM_DISPLAY_NONE && !vm->opt.vnc;
    if (dev_fw_cfg_add_i16(m->fw_cfg, DEV_FW_CFG_NOGRAPHIC, nographic ? 1 : 0) ||
        dev_fw_cfg_add_i16(m->fw_cfg, DEV_FW_CFG_BOOT_MENU, vm->opt.boot_menu ? 1 : 0) ||
        dev_fw_cfg_add_i16(m->fw_cfg, DEV_FW_CFG_MAX_CPUS, 1) ||
        /* -boot reboot-timeout (QEMU's default -1: after "No bootable
         * device" wait forever instead of rebooting), little-endian. */
        dev_fw_cfg_add_file(m->fw_cfg, "etc/boot-fail-wait", fail_wait, 4) ||
        (vm->opt.boot_splash_ms >= 0 &&
         dev_fw_cfg_add_file(m->fw_cfg, "etc/boot-menu-wait", menu_wait, 2)) ||
        acpi_tables(m)) {
        fprintf(stderr, "btvm: cannot fill the fw_cfg device\n");
        return VM_STATUS_HOST_ERROR;
    }
    return 0;
}
