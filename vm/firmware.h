/*
 * vm/firmware.h — the BIOS ROM and the memory the CPU sees around it: the
 * image mapped read-only at the top of 4 GiB, its last 128 KiB (or less)
 * at 0xE0000-0xFFFFF, and the i440FX PAM registers choosing, per shadow
 * segment of 0xC0000-0xFFFFF, whether reads and writes reach DRAM or the
 * PCI side (the ROM, or nothing). Also the firmware's fw_cfg items and
 * CMOS boot order, port 0x92 and the A20 gate. docs/machine.md.
 */
#ifndef BTVM_VM_FIRMWARE_H
#define BTVM_VM_FIRMWARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "vm/machine.h"

#define VM_BIOS_SIZE_MAX   (16u << 20)
#define VM_ISA_BIOS_SIZE   0x20000u     /* what of the image shows below 1 MiB */
#define VM_PAM_SEGMENTS    13u          /* 0xF0000 (64 KiB), then 12 of 16 KiB from 0xC0000 */
_Static_assert(VM_PAM_SEGMENTS == VM_MEMSEGS, "one vm_memseg per PAM segment");

/* Read the -bios image into its memfd and map it below 4 GiB in the CPU's
 * view (vm->ram). 0, or VM_STATUS_BAD_INPUT with err filled. */
int vm_firmware_load(struct vm_machine *m, const char *path, char *err, size_t errlen);
void vm_firmware_unload(struct vm_machine *m);

/* The PAM byte reg (0x59-0x5F) now holds value: remap its segments. */
void vm_firmware_pam(struct vm_machine *m, unsigned reg, uint8_t value);
/* vm->memseg and rom_base as the window shows them before any PAM byte is
 * applied (RAM everywhere, the ROM if loaded): what an engine maps at init. */
void vm_firmware_memmap_init(struct vm_machine *m);
/* Map every segment as the PAM bytes say (after the engine exists). */
int vm_firmware_pam_all(struct vm_machine *m);
/* Segment i: guest-physical base and length, the PAM byte and its shift. */
void vm_pam_segment(unsigned i, uint32_t *base, uint32_t *len, unsigned *reg, unsigned *shift);

/* The A20 gate: port 0x92 bit 1 and the i8042's output port bit 1 drive
 * it, the last write winning (as in QEMU); a change reaches the shadow MMU. */
void vm_a20_set(struct vm_machine *m, int source, bool on);
enum { VM_A20_PORT92, VM_A20_KBC };

/* The firmware's debug port (0x402, SeaBIOS's QEMU debug console) into
 * the --bios-log file: open it (with the other input checks: 0 or
 * VM_STATUS_BAD_INPUT), then put the port on the bus (0 or
 * VM_STATUS_HOST_ERROR; nothing without a log). */
int vm_firmware_log_open(struct vm_machine *m, const char *path);
int vm_firmware_log_attach(struct vm_machine *m);

/* fw_cfg items and CMOS bytes the firmware reads: boot order, boot menu,
 * nographic. 0 or VM_STATUS_HOST_ERROR. */
int vm_firmware_config(struct vm_machine *m);

#endif
