/*
 * vm/machine.h — building the PC-like machine around a struct vm and
 * running it. (A header of the vm layer's own; vm/vm.h stays the contract
 * shared with the engines and devices.)
 */
#ifndef BTVM_VM_MACHINE_H
#define BTVM_VM_MACHINE_H

#include <stdbool.h>
#include "devices/irq.h"
#include "vm/multiboot.h"
#include "vm/vm.h"

/* btvm's own exit statuses; a guest chooses any other through debug-exit. */
#define VM_STATUS_HOST_ERROR   1  /* btvm itself failed (host resources, engine) */
#define VM_STATUS_BAD_INPUT    2  /* bad command line or kernel/module file */
#define VM_STATUS_HALTED       3  /* HLT with interrupts disabled: nothing can wake it */
#define VM_STATUS_UNSUPPORTED  4  /* guest used something btvm does not implement */
#define VM_STATUS_TRIPLE_FAULT 5  /* shutdown (triple fault) */
#define VM_STATUS_RESET        6  /* the guest reset the machine (i8042 0xFE, ...) */

/* Guest I/O ports of the fixed devices. */
#define VM_PORT_COM1       0x3f8
#define VM_PORT_DEBUGCON   0xe9
#define VM_PORT_DEBUGEXIT  0xf4

struct dev_uart;
struct dev_acpi_pm;
struct dev_pci_host;
struct dev_lapic;
struct dev_ioapic;
struct dev_irqroute;
struct dev_imcr;
struct dev_hpet;
struct dev_piix;
struct dev_ide;
struct dev_fw_cfg;
struct blk;
struct dev_vga;
struct vm_display;
struct dev_virtio_blk;
struct vm_vdisk;
struct vm_iothreads;
struct vm_net_card;

struct vm_machine {
    struct vm vm;              /* first: device callbacks get &m->vm */
    struct dev_uart *uart;
    struct dev_pic *pic;
    struct dev_pit *pit;
    struct dev_rtc *rtc;
    struct dev_i8042 *kbc;
    struct dev_acpi_pm *acpi_pm;
    struct dev_pci_host *pci;
    struct dev_lapic *lapic;
    uint8_t lapic_readable[256]; /* its slots the shadow MMU may read directly */
    uint8_t lapic_writable[256]; /* and the ones stores may go straight to */
    struct dev_ioapic *ioapic;
    struct dev_irqroute *irq;  /* ISA and PCI lines to the PIC and the I/O APIC */
    struct dev_imcr *imcr;
    struct dev_hpet *hpet;
    struct dev_piix *piix;
    struct dev_ide *ide;
    struct dev_fw_cfg *fw_cfg;
    struct dev_vga *vga;       /* -vga std (vm/display_machine.c) */
    struct vm_display *display;
    struct blk *blk[VM_MAX_DRIVES]; /* open disk images, by IDE index */
    struct dev_virtio_blk *virtio_blk[VM_MAX_VIRTIO_DRIVES]; /* -drive if=virtio (vm/virtio_machine.c) */
    struct vm_vdisk *vdisk[VM_MAX_VIRTIO_DRIVES];            /* their images */
    struct vm_iothreads *iothreads;                          /* their I/O threads */
    struct vm_net_card *net;   /* -nic/-netdev + -device (vm/net_machine.c) */
    struct dev_timers timers;  /* vm.timers points here */
    struct vm_mb_result boot;
    bool console_open, engine_ready;
};

/* RAM, kernel, bus, devices, console, CPU, engine — in that order, so a bad
 * kernel is refused before the terminal is touched. Returns 0, or the exit
 * status to end with (its message already printed); call
 * vm_machine_destroy() either way. */
int vm_machine_create(struct vm_machine *m, const struct vm_options *opt);
void vm_machine_destroy(struct vm_machine *m);

/* The VGA at PCI 00:02.0 with its BIOS, and the display (vm/display_machine.c). */
int vm_machine_vga_setup(struct vm_machine *m);
void vm_machine_vga_close_display(struct vm_machine *m);
void vm_machine_vga_free(struct vm_machine *m);

/* The virtio devices and their I/O threads (vm/virtio_machine.c). */
int vm_machine_virtio_setup(struct vm_machine *m);
void vm_machine_virtio_free(struct vm_machine *m);

/* The network card on the user network (vm/net_machine.c). */
int vm_machine_net_setup(struct vm_machine *m);
void vm_machine_net_free(struct vm_machine *m);

/* Run the guest until it stops; restores the terminal, prints why it
 * stopped (if btvm's reason) and --stats; returns the exit status. */
int vm_run(struct vm *vm);

#endif
