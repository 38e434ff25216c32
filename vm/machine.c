/*
 * vm/machine.c — assembles the machine: guest RAM, the BIOS ROM
 * (vm/firmware.c) or the kernel (Multiboot ELF or Linux bzImage, chosen by
 * the file's content) with the ACPI tables, the device bus with COM1, the
 * debug console and debug-exit, the PC platform (PIC, PIT, RTC, i8042,
 * port 0x92, ACPI PM, PCI host bridge), the user's terminal, the virtual
 * CPU at the reset vector or in its loader's entry state, and the engine.
 * Also vm_request_stop(), the one way devices end the run.
 */
#include "vm/machine.h"
#include "vm/engine_choice.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"
#include <x86intrin.h>
#include "devices/acpi_pm.h"
#include "devices/bus.h"
#include "devices/debugcon.h"
#include "devices/debugexit.h"
#include "devices/hpet.h"
#include "devices/i8042.h"
#include "devices/ide.h"
#include "devices/imcr.h"
#include "devices/ioapic.h"
#include "devices/irqroute.h"
#include "devices/lapic.h"
#include "devices/pci_host.h"
#include "devices/pic8259.h"
#include "devices/port92.h"
#include "devices/piix.h"
#include "devices/pit8254.h"
#include "devices/rtc146818.h"
#include "devices/uart16550.h"
#include "devices/fw_cfg.h"
#include "vm/acpi_tables.h"
#include "vm/console.h"
#include "vm/display.h"
#include "vm/dma.h"
#include "vm/firmware.h"
#include "vm/fwcfg.h"
#include "vm/linuxboot.h"
#include "vm/mptable.h"
#include "vm/ram.h"
#include "vm/storage.h"
#include "shadowmmu/smmu.h"

void vm_request_stop(struct vm *vm, int status)
{
    vm_request_stop_cause(vm, status, VM_CAUSE_HOST_ERROR);
}

void vm_request_stop_cause(struct vm *vm, int status, enum vm_stop_cause cause)
{
    vm->stop_status = status;
    vm->stop_cause = (int)cause;
    /* Release: whoever sees stop_requested also sees stop_status. */
    __atomic_store_n(&vm->stop_requested, 1, __ATOMIC_RELEASE);
    /* Make translated code leave at its next block entry, wake a halted vcpu. */
    vm_kick(vm);
}

/* isa-debug-exit: the status is v, or QEMU's (v<<1)|1; a process exit
 * status only keeps 8 bits. */
static void on_debug_exit(void *ctx, uint32_t v)
{
    struct vm *vm = ctx;
    uint32_t s = vm->opt.exit_code_qemu ? (v << 1) | 1 : v;
    vm_request_stop_cause(vm, (int)(s & 0xff), VM_CAUSE_GUEST_SHUTDOWN);
}

/* The guest pulsed the CPU reset line (i8042 or 0xCF9): the run ends and
 * main() builds the machine again (or, with --no-reboot, exits with
 * VM_STATUS_RESET). */
static void on_reset(void *ctx)
{
    struct vm *vm = ctx;
    vm->reset_requested = true;
    vm_request_stop_cause(vm, VM_STATUS_RESET, VM_CAUSE_GUEST_RESET);
}

/* ACPI S5 (soft off): the guest powered the machine off, a success. */
static void on_power_off(void *ctx)
{
    vm_request_stop_cause(ctx, 0, VM_CAUSE_GUEST_SHUTDOWN);
}

/* Something may have become deliverable at the local APIC: the vcpu must
 * look (leave translated code, wake from HLT). */
static void on_intr(void *ctx)
{
    vm_kick(ctx);
}

/* The PIC's INTR reaches the CPU through the local APIC's LINT0. */
static void on_pic_intr(void *ctx)
{
    struct vm_machine *m = ctx;
    dev_lapic_extint_changed(m->lapic);
}

static bool pic_intr(void *ctx)
{
    return dev_pic_intr(ctx);
}

static int pic_ack(void *ctx)
{
    return dev_pic_ack(ctx);
}

/* The TSC the guest reads with RDTSC, for the APIC's TSC-deadline mode. */
static uint64_t guest_tsc(void *ctx)
{
    struct vm *vm = ctx;
    return __rdtsc() + (vm->cpu ? vm->cpu->tsc_offset : 0);
}

static void on_console_input(void *ctx)
{
    struct vm *vm = ctx;
    __atomic_store_n(&vm->input_pending, 1, __ATOMIC_RELEASE);
    vm_kick(vm);
}

/* The PIIX's configuration registers steer interrupts and IDE decoding. */
static void on_pirq(void *ctx, unsigned n, uint8_t value)
{
    struct vm_machine *m = ctx;
    dev_irqroute_set_pirq(m->irq, (int)n, value);
}

static void on_ide_decode(void *ctx, unsigned channel, bool enabled)
{
    struct vm_machine *m = ctx;
    dev_ide_set_decode(m->ide, (int)channel, enabled);
}

static void on_bm_base(void *ctx, uint16_t port)
{
    struct vm_machine *m = ctx;
    dev_ide_set_bm_base(m->ide, port);
}

static void on_bm_enable(void *ctx, bool enabled)
{
    struct vm_machine *m = ctx;
    dev_ide_set_bus_master(m->ide, enabled);
}

/* PAM registers of the 440FX: what the CPU sees at 0xC0000-0xFFFFF. */
static void on_pam(void *ctx, unsigned reg, uint8_t value)
{
    vm_firmware_pam(ctx, reg, value);
}

static void on_port92_a20(void *ctx, bool on)
{
    vm_a20_set(ctx, VM_A20_PORT92, on);
}

static void on_kbc_a20(void *ctx, bool on)
{
    vm_a20_set(ctx, VM_A20_KBC, on);
}

/* Stores the MMU's direct page lets through (TPR, EOI): the lapic's own
 * write, which kicks the vcpu at most (smmu_direct_page's contract). */
static void on_lapic_store(void *ctx, uint32_t offset, uint32_t value)
{
    dev_lapic_write(ctx, offset, value);
}

/* The local APIC's register page may serve guest reads of its window
 * (dev_lapic_direct): tell the shadow MMU (BT engine) which page and
 * whether it may now; it drops its entries when not. */
static void on_lapic_direct(void *ctx)
{
    struct vm_machine *m = ctx;
    struct smmu *mmu = m->vm.cpu ? m->vm.cpu->mmu : NULL;
    if (!mmu)
        return;
    uint64_t base;
    bool ok = dev_lapic_direct(m->lapic, &base);
    if (ok) {
        struct smmu_direct_page p = {
            .ppage = base >> 12,
            .host = dev_lapic_regs_page(m->lapic),
            .readable = m->lapic_readable,
            .writable = m->lapic_writable,
            .write = on_lapic_store,
            .ctx = m->lapic,
        };
        smmu_direct_set(mmu, &p);
    }
    smmu_direct_allow(mmu, ok);
}

/* Interrupt controllers: the 8259A pair, the local APIC in front of it
 * (LINT0 as ExtINT, as firmware leaves it: the virtual wire), the I/O
 * APIC, and the routing that gives every ISA IRQ to both controllers
 * (IRQ 0 on pin 2) and PIRQA-D to the PIC by the PIIX's route registers. */
static int setup_irqchips(struct vm_machine *m)
{
    struct vm *vm = &m->vm;
    m->pic = dev_pic_new(vm->bus);
    if (!m->pic)
        return -1;
    vm->pic = m->pic;
    struct dev_lapic_config lc = {
        .bus = vm->bus,
        .timers = vm->timers,
        .extint = { .intr = pic_intr, .ack = pic_ack, .ctx = m->pic },
        .tsc_now = guest_tsc,
        .tsc_ctx = vm,
        .tsc_hz_fn = cpu_host_tsc_hz, /* lazily: learning it may take 20 ms */
        .apic_id = 0,
        .bsp = true,
    };
    m->lapic = dev_lapic_new(&lc);
    if (!m->lapic)
        return -1;
    dev_lapic_reset(m->lapic, true);
    vm->lapic = m->lapic;
    vm->intr_level = dev_lapic_intr_byte(m->lapic); /* the CPU's INTR */
    dev_lapic_set_notify(m->lapic, on_intr, vm);
    dev_pic_set_notify(m->pic, on_pic_intr, m);
    m->ioapic = dev_ioapic_new(vm->bus, DEV_IOAPIC_BASE, dev_lapic_sink(m->lapic));
    if (!m->ioapic)
        return -1;
    struct dev_apic_eoi eoi = dev_ioapic_eoi_target(m->ioapic);
    dev_lapic_set_eoi(m->lapic, &eoi);
    m->irq = dev_irqroute_new(m->pic, m->ioapic);
    m->imcr = dev_imcr_new(vm->bus, NULL, NULL);
    return m->irq && m->imcr ? 0 : -1;
}

/* The PC platform: interrupt controllers, HPET (in front of the PIT's and
 * RTC's IRQs for its legacy replacement route), 8254 PIT, CMOS RTC, i8042,
 * port 0x80, the ACPI fixed hardware (SCI on IRQ 9), the PCI host bridge
 * with QEMU's PIIX functions, IDE, fw_cfg. */
static int setup_platform(struct vm_machine *m)
{
    struct vm *vm = &m->vm;
    vm->next_deadline = 0;
    int r = vm_wake_init(vm);
    if (r) {
        fprintf(stderr, "btvm: cannot start the timer thread: %s\n", strerror(-r));
        return VM_STATUS_HOST_ERROR;
    }
    if (setup_irqchips(m)) {
        fprintf(stderr, "btvm: cannot create the interrupt controllers\n");
        return VM_STATUS_HOST_ERROR;
    }
    struct dev_hpet_config hc = {
        .base = DEV_HPET_BASE,
        .intcap = DEV_HPET_INTCAP_PC,
        .legacy_irq0 = dev_irqroute_isa_line(m->irq, 0),
        .legacy_irq8 = dev_irqroute_isa_line(m->irq, 8),
    };
    hc.gsi[2] = dev_irqroute_isa_line(m->irq, 0); /* pin 2 = ISA IRQ 0's pin */
    m->hpet = dev_hpet_new(vm->bus, vm->timers, &hc);
    if (!m->hpet) {
        fprintf(stderr, "btvm: cannot create the HPET\n");
        return VM_STATUS_HOST_ERROR;
    }
    m->pit = dev_pit_new(vm->bus, vm->timers, dev_hpet_legacy_input(m->hpet, 0));
    m->rtc = dev_rtc_new(vm->bus, vm->timers, dev_hpet_legacy_input(m->hpet, 8), vm->ram_size);
    m->kbc = dev_i8042_new(vm->bus, on_reset, vm, dev_irqroute_isa_line(m->irq, 1),
                           dev_irqroute_isa_line(m->irq, 12));
    m->acpi_pm = dev_acpi_pm_new(vm->bus, vm->timers,
                                 dev_irqroute_isa_line(m->irq, DEV_ACPI_SCI_IRQ), on_power_off, vm);
    if (m->kbc)
        dev_i8042_set_a20_cb(m->kbc, on_kbc_a20, m); /* output port bit 1 */
    m->pci = dev_pci_host_new(vm->bus, on_reset, vm);
    m->ide = dev_ide_new(vm->bus, dev_irqroute_isa_line(m->irq, 14),
                         dev_irqroute_isa_line(m->irq, 15), vm_dma(vm));
    if (!m->pit || !m->rtc || !m->kbc || !m->acpi_pm || !m->pci || !m->ide ||
        dev_port80_init(vm->bus) != 0) {
        fprintf(stderr, "btvm: cannot create the PC platform devices\n");
        return VM_STATUS_HOST_ERROR;
    }
    struct dev_piix_ops po = {
        .pirq_changed = on_pirq, .ide_decode = on_ide_decode, .bm_base = on_bm_base,
        .bm_enable = on_bm_enable, .ctx = m,
    };
    m->piix = dev_piix_new(m->pci, m->acpi_pm, &po);
    /* Without firmware, what SeaBIOS leaves: PIRQs routed, IDE decoding
     * with BAR4 mapped, the PM registers at 0x600 (where the FADT says).
     * With it, the power-on values: SeaBIOS sets them up itself. */
    if (!m->piix || (!vm->opt.firmware && dev_piix_firmware_setup(m->piix) != 0)) {
        fprintf(stderr, "btvm: cannot create the PIIX functions\n");
        return VM_STATUS_HOST_ERROR;
    }
    dev_uart_set_irq(m->uart, dev_irqroute_isa_line(m->irq, 4));
    vm->uart = m->uart;
    vm_console_set_notify(on_console_input, vm);
    /* Host keys and mouse (displays) reach the i8042 like console input
     * reaches the UART: queued, then polled on the vcpu thread. */
    vm->kbc = m->kbc;
    dev_i8042_set_input_notify(m->kbc, on_console_input, vm);
    dev_i8042_set_timers(m->kbc, vm->timers);
    r = vm_storage_attach(vm, m->ide, m->blk);
    if (r)
        return r;
    r = vm_fw_cfg_setup(vm, &m->fw_cfg);
    if (r)
        return r;
    r = vm_machine_vga_setup(m);
    if (r)
        return r;
    r = vm_machine_virtio_setup(m);
    if (r)
        return r;
    r = vm_machine_net_setup(m);
    if (r)
        return r;
    /* m is also &m->vm (its first member), which on_reset takes. */
    struct dev_port92_ops p92 = { .a20 = on_port92_a20, .reset = on_reset, .ctx = m };
    if (dev_port92_init(vm->bus, &p92) != 0) {
        fprintf(stderr, "btvm: cannot add port 0x92\n");
        return VM_STATUS_HOST_ERROR;
    }
    dev_pci_host_set_pam_notify(m->pci, on_pam, m);
    if (vm->opt.firmware) {
        /* As QEMU's piix4: ACPI mode off until the OS writes ACPI_ENABLE
         * to the APM port the FADT names (SMI_CMD). */
        dev_acpi_pm_set_sci_en(m->acpi_pm, false);
        r = vm_firmware_config(m);
        if (!r)
            r = vm_firmware_log_attach(m);
        if (r)
            return r;
    } else {
        /* No BIOS: RAM at 0xC0000-0xFFFFF readable and writable, the
         * state a BIOS that shadowed nothing would leave. */
        for (unsigned i = 0; i < DEV_I440FX_NPAM; i++)
            dev_pci_config_write(m->pci, 0, 0, DEV_I440FX_PAM0 + i, 1, i ? 0x33 : 0x30);
    }
    return 0;
}

static int setup_devices(struct vm_machine *m)
{
    struct vm *vm = &m->vm;
    int r;

    vm->bus = dev_bus_new();
    if (!vm->bus) {
        fprintf(stderr, "btvm: out of memory creating the device bus\n");
        return VM_STATUS_HOST_ERROR;
    }
    r = vm_console_open(vm);
    if (r) {
        fprintf(stderr, "btvm: cannot set up the console: %s\n", strerror(-r));
        return VM_STATUS_HOST_ERROR;
    }
    m->console_open = true;
    const struct dev_chardev *con = vm_display_owns_terminal(&vm->opt)
                                        ? vm_display_null_chardev() : vm_console_chardev();
    m->uart = dev_uart_new(vm->bus, VM_PORT_COM1, con);
    if (!m->uart)
        return VM_STATUS_HOST_ERROR; /* dev_uart_new printed why */
    /* -debugcon: the port 0xE9 console to the terminal, a file, nowhere,
     * or no device at all (the port then reads all-ones, as unclaimed). */
    const struct dev_chardev *dbg = vm->opt.debugcon == VM_DEBUGCON_FILE ? &m->debugcon.chr
                                  : vm->opt.debugcon == VM_DEBUGCON_NULL ? vm_null_chardev() : con;
    r = vm->opt.debugcon == VM_DEBUGCON_NONE ? 0
      : dev_debugcon_init(vm->bus, VM_PORT_DEBUGCON, dbg);
    if (r) {
        fprintf(stderr, "btvm: cannot add the debug console at port 0x%x: %s\n",
                VM_PORT_DEBUGCON, strerror(-r));
        return VM_STATUS_HOST_ERROR;
    }
    r = dev_debugexit_init(vm->bus, VM_PORT_DEBUGEXIT, on_debug_exit, vm);
    if (r) {
        fprintf(stderr, "btvm: cannot add debug-exit at port 0x%x: %s\n", VM_PORT_DEBUGEXIT,
                strerror(-r));
        return VM_STATUS_HOST_ERROR;
    }
    return setup_platform(m);
}

/* Direct boot: the BIOS's tables, then the kernel (and modules or initrd)
 * in RAM. 0 or VM_STATUS_BAD_INPUT. */
static int load_kernel(struct vm_machine *m, struct vm_linux_result *linux_boot, bool *is_linux_out)
{
    struct vm *vm = &m->vm;
    const struct vm_options *opt = &vm->opt;
    char err[512];
    /* What a PC BIOS leaves in its area (0xF0000-0xFFFFF, reserved in every
     * memory map): the ACPI tables and the MP tables. A kernel that loads
     * itself over them simply replaces them. */
    uint32_t cpuid1[4];
    cpu_cpuid(NULL, 1, 0, cpuid1);
    vm_acpi_build(vm->dram, vm->ram_size);
    vm_mptable_build(vm->dram, vm->ram_size, cpuid1[0], cpuid1[3]);
    /* The loader is chosen by content: a bzImage has "HdrS" at 0x202;
     * everything else (including unreadable files, which it reports) goes
     * to the Multiboot loader as before. */
    bool is_linux = vm_linux_probe_file(opt->kernel);
    int lr = is_linux ? vm_linux_load_files(vm->dram, vm->ram_size, opt->kernel, opt->cmdline,
                                            opt->initrd, linux_boot, err, sizeof(err))
                      : vm_multiboot_load_files(vm->dram, vm->ram_size, opt->kernel,
                                                opt->cmdline, opt->initrd, &m->boot, err,
                                                sizeof(err));
    if (lr) {
        fprintf(stderr, "%s\n", err);
        return VM_STATUS_BAD_INPUT;
    }
    *is_linux_out = is_linux;
    return 0;
}

int vm_machine_create(struct vm_machine *m, const struct vm_options *opt)
{
    struct vm *vm = &m->vm;
    char err[512];
    int r;

    memset(m, 0, sizeof(*m));
    vm->opt = *opt;
    vm->ram_fd = -1;
    vm->timers = &m->timers;

    if (vm_ram_create(vm, (uint64_t)opt->mem_mib << 20, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        return VM_STATUS_HOST_ERROR;
    }
    struct vm_linux_result linux_boot;
    bool is_linux = false;
    if (opt->bios) {
        /* The ROM (with -kernel it is only mapped, not run, as a test
         * guest may want to see it). */
        int fr = vm_firmware_load(m, opt->bios, err, sizeof(err));
        if (fr) {
            fprintf(stderr, "%s\n", err);
            return fr;
        }
    }
    if (opt->bios_log && (r = vm_firmware_log_open(m, opt->bios_log)) != 0)
        return r;
    if (opt->debugcon == VM_DEBUGCON_FILE && (r = vm_filechr_open(&m->debugcon, opt->debugcon_file))) {
        fprintf(stderr, "btvm: -debugcon file:%s: %s\n", opt->debugcon_file, strerror(-r));
        return VM_STATUS_BAD_INPUT;
    }
    vm_firmware_memmap_init(m);
    /* With firmware, the BIOS finds the disks, builds its tables and loads
     * the boot sector itself: no loader. */
    if (!opt->firmware && (r = load_kernel(m, &linux_boot, &is_linux)) != 0)
        return r;

    vm->engine = vm_engine_select(opt);
    if (!vm->engine)
        return VM_STATUS_BAD_INPUT; /* vm_engine_select printed why */

    int st = setup_devices(m);
    if (st)
        return st;
    if (is_linux) {
        /* What a BIOS does for ACPI's SCI: IRQ 9 level-triggered in the
         * ELCR (0x4D1 bit 1), so the OS need not reprogram it. */
        uint32_t elcr2 = 1u << (DEV_ACPI_SCI_IRQ - 8);
        dev_bus_pio(vm->bus, 0x4D1, 1, true, &elcr2);
    }

    /* The engine allocates the vcpu: emitted code addresses its shadow
     * tables relative to it, so the layout is the engine's. */
    if (vm->engine->init(vm)) {
        fprintf(stderr, "btvm: %s engine: %s\n", vm->engine->name,
                vm->err[0] ? vm->err : "initialization failed");
        return VM_STATUS_HOST_ERROR;
    }
    vm->cpu->platform = CPU_PLAT_APIC;
    /* TSC-deadline mode needs the guest's MSR writes; under KVM without an
     * in-kernel local APIC they never reach btvm (docs/hav.md). */
    if (vm->engine != &hav_engine_ops)
        vm->cpu->platform |= CPU_PLAT_TSC_DEADLINE;
    vm_cpu_env_attach(vm, vm->cpu);
    if (vm->cpu->mmu) {
        /* BT: APIC reads from translated code served by the register page. */
        dev_lapic_readable(m->lapic_readable, m->lapic_writable);
        dev_lapic_set_direct_notify(m->lapic, on_lapic_direct, m);
        on_lapic_direct(m);
    }
    /* The CPU's view of 0xC0000-0xFFFFF and of the ROM, as the PAM bytes
     * say, now that the engine exists to be told; A20 on, as the i8042's
     * output port starts. */
    if (vm_firmware_pam_all(m))
        return VM_STATUS_HOST_ERROR;
    vm_a20_set(m, VM_A20_KBC, true);
    if (opt->firmware) {
        cpu_power_on(vm->cpu); /* F000:FFF0, CS base 0xFFFF0000: the ROM's reset vector */
    } else if (is_linux) {
        vm_linux_cpu_entry(vm->cpu, &linux_boot); /* 32-bit boot protocol */
    } else {
        cpu_reset_flat32(vm->cpu);
        /* Multiboot machine state (spec 3.2). */
        vm->cpu->regs[CPU_EAX] = VM_MB_BOOT_MAGIC;
        vm->cpu->regs[CPU_EBX] = m->boot.info_addr;
        vm->cpu->eip = m->boot.entry;
    }
    m->engine_ready = true;
    return 0;
}

void vm_machine_destroy(struct vm_machine *m)
{
    struct vm *vm = &m->vm;

    if (m->engine_ready)
        vm_display_screendump(&vm->opt, m->vga);
    vm_machine_vga_close_display(m);
    /* Terminal first: whatever happens below, the user gets it back. */
    if (m->console_open)
        vm_console_close();
    m->console_open = false;
    vm_wake_stop(vm);
    if (m->lapic)
        dev_lapic_set_direct_notify(m->lapic, NULL, NULL); /* the MMU goes with the engine */
    if (m->engine_ready)
        vm->engine->destroy(vm);
    m->engine_ready = false;
    vm_console_set_notify(NULL, NULL);
    /* Devices before the bus they are registered on; the PIIX before the
     * PCI host and the ACPI PM it uses; IDE before the images it reads. */
    if (m->fw_cfg)
        dev_fw_cfg_free(m->fw_cfg);
    vm_machine_vga_free(m);
    vm_machine_virtio_free(m);
    vm_machine_net_free(m);
    if (m->piix)
        dev_piix_free(m->piix);
    if (m->ide)
        dev_ide_free(m->ide);
    vm_storage_close(m->blk);
    if (m->pci)
        dev_pci_host_free(m->pci);
    if (m->acpi_pm)
        dev_acpi_pm_free(m->acpi_pm);
    m->fw_cfg = NULL; m->piix = NULL; m->ide = NULL; m->pci = NULL; m->acpi_pm = NULL;
    vm->kbc = NULL;
    if (m->kbc)
        dev_i8042_free(m->kbc);
    if (m->rtc)
        dev_rtc_free(m->rtc);
    if (m->pit)
        dev_pit_free(m->pit);
    if (m->hpet)
        dev_hpet_free(m->hpet);
    m->kbc = NULL; m->rtc = NULL; m->pit = NULL; m->hpet = NULL;
    if (m->imcr)
        dev_imcr_free(m->imcr);
    if (m->irq)
        dev_irqroute_free(m->irq);
    if (m->ioapic)
        dev_ioapic_free(m->ioapic);
    if (m->lapic)
        dev_lapic_free(m->lapic);
    if (m->pic)
        dev_pic_free(m->pic);
    m->imcr = NULL; m->irq = NULL; m->ioapic = NULL; m->lapic = NULL; m->pic = NULL;
    vm->pic = NULL;
    vm->lapic = NULL;
    vm->intr_level = NULL;
    vm->uart = NULL;
    if (m->uart)
        dev_uart_free(m->uart);
    m->uart = NULL;
    if (vm->bus)
        dev_bus_free(vm->bus);
    vm->bus = NULL;
    vm->cpu = NULL; /* freed by the engine */
    vm_wake_destroy(vm);
    vm_firmware_unload(m);
    vm_filechr_close(&m->debugcon);
    vm_ram_destroy(vm);
}
