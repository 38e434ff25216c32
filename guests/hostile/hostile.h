/*
 * guests/hostile/hostile.h — what hostile.c shares with the device modes
 * in devices.c: the seeded generator and the mode entry points.
 */
#ifndef BTVM_HOSTILE_H
#define BTVM_HOSTILE_H

#include "guest.h"

/* The seeded xorshift32 of hostile.c: every random choice comes from it. */
uint32_t hostile_rnd(void);

/* Device modes (devices.c): each returns the guest's exit status, 0 when
 * it finished its abuse and the final sanity checks passed. ram_top is
 * the end of RAM from the Multiboot information. */
int hostile_lapic_random(uint32_t ram_top);
int hostile_ioapic_random(uint32_t ram_top);
int hostile_ide_dma(uint32_t ram_top);
int hostile_fwcfg_random(uint32_t ram_top);
int hostile_hpet_random(uint32_t ram_top);
/* virtio_net.c (run with -nic user). */
int hostile_virtio_net(uint32_t ram_top);

#endif
