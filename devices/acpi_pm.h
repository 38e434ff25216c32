/*
 * devices/acpi_pm.h — the ACPI fixed hardware of a PIIX4-like chipset:
 * PM1a event block (status, enable), PM1a control block and the PM timer,
 * at the ports the FADT (vm/acpi_tables.c) names. Without firmware ACPI
 * mode is always on (no SMI_CMD), so SCI_EN reads 1; with firmware the OS
 * enables it through the APM port (SMI_CMD 0xB2). The block is relocatable: the PIIX4
 * ACPI function (devices/piix.c) moves it to its PMBA while PMREGMISC
 * enables it. docs/devices.md.
 */
#ifndef BTVM_DEV_ACPI_PM_H
#define BTVM_DEV_ACPI_PM_H

#include <stdbool.h>
#include <stdint.h>
#include "devices/bus.h"
#include "devices/irq.h"

/* Ports and lengths at the base the FADT names and dev_acpi_pm_new() uses
 * (QEMU's PIIX4 PM behind SeaBIOS has the same base). */
#define DEV_ACPI_PM_BASE     0x600u
#define DEV_ACPI_PM1_EVT     0x600u  /* PM1_STS (2 bytes), PM1_EN (2 bytes) */
#define DEV_ACPI_PM1_EVT_LEN 4u
#define DEV_ACPI_PM1_CNT     0x604u
#define DEV_ACPI_PM1_CNT_LEN 2u
#define DEV_ACPI_PM_TMR      0x608u
#define DEV_ACPI_PM_TMR_LEN  4u
#define DEV_ACPI_PM_LEN      12u     /* 0x600-0x60B */
#define DEV_ACPI_SCI_IRQ     9u

/* The SLP_TYP value \_S5 carries in the DSDT; writing it with SLP_EN
 * powers the machine off. Other values are ignored (no S1-S4). */
#define DEV_ACPI_SLP_TYP_S5  5u

/* PM timer rate (ACPI: 3.579545 MHz), a 24-bit counter. */
#define DEV_ACPI_PM_TMR_HZ   3579545u
/* Least host time between two PM_TMR reads (acpi_pm.c: as slow as the LPC bus,
 * roughly; a million reads take at least 0.2 s). */
#define DEV_ACPI_PM_TMR_GAP_NS 200u

struct dev_acpi_pm;

/* The registers are decoded at DEV_ACPI_PM_BASE (what the FADT says), as
 * firmware leaves a PIIX4. power_off(ctx) is called when the guest enters S5. */
struct dev_acpi_pm *dev_acpi_pm_new(struct dev_bus *bus, struct dev_timers *timers,
                                    struct dev_irq_line sci, void (*power_off)(void *ctx),
                                    void *ctx);
void dev_acpi_pm_free(struct dev_acpi_pm *pm);

/* Move the registers to ports base..base+DEV_ACPI_PM_LEN-1, or stop
 * decoding them (base 0). Registers keep their values. 0; -EEXIST if the
 * ports are taken (then nothing is decoded); -EINVAL past port 0xFFFF. */
int dev_acpi_pm_set_base(struct dev_acpi_pm *pm, uint16_t base);
/* Where the registers are decoded, 0 if nowhere. */
uint16_t dev_acpi_pm_base(const struct dev_acpi_pm *pm);

/* The PM timer's current value (24 bits), for tests. */
/* PM1_CNT.SCI_EN: 1 at creation (no SMI_CMD: always in ACPI mode); with
 * firmware, the PIIX4's APM port 0xB2 sets and clears it (ACPI_ENABLE /
 * ACPI_DISABLE, devices/piix.c). */
void dev_acpi_pm_set_sci_en(struct dev_acpi_pm *pm, bool on);
bool dev_acpi_pm_sci_en(const struct dev_acpi_pm *pm);
uint32_t dev_acpi_pm_timer(const struct dev_acpi_pm *pm);
/* The fixed-feature power button was pressed (the monitor's
 * system_powerdown): PWRBTN_STS, and the SCI, when the OS enabled it in
 * PM1_EN; nothing otherwise, as on QEMU's PIIX4 PM. Returns whether the
 * guest enabled it. */
bool dev_acpi_pm_power_button(struct dev_acpi_pm *pm);

#endif
