/*
 * guests/idetest/idetest.h — what idetest's parts share: the channel
 * registers, bounded waits, the bus-master DMA helpers, the interrupt
 * counters and the command-line values the script passes.
 */
#ifndef IDETEST_H
#define IDETEST_H

#include "guest.h"
#include "report.h"
#include "pattern.h"

/* Task-file offsets from the command block base. */
#define R_DATA   0
#define R_ERR    1   /* read */
#define R_FEAT   1   /* write */
#define R_COUNT  2
#define R_LBA0   3
#define R_LBA1   4
#define R_LBA2   5
#define R_DEV    6
#define R_STATUS 7   /* read */
#define R_CMD    7   /* write */

#define ST_BSY  0x80
#define ST_DRDY 0x40
#define ST_DF   0x20
#define ST_DRQ  0x08
#define ST_ERR  0x01
#define ER_ABRT 0x04
#define ER_IDNF 0x10

#define CTL_NIEN 0x02
#define CTL_SRST 0x04
#define CTL_HOB  0x80

/* PIIX bus master, per channel at BAR4 + 0 (primary) / + 8 (secondary). */
#define BM_CMD    0
#define BM_STATUS 2
#define BM_PRD    4
#define BMC_START 0x01
#define BMC_TOMEM 0x08   /* device to memory (READ DMA) */
#define BMS_ACTIVE 0x01
#define BMS_ERROR  0x02
#define BMS_INT    0x04

struct chan {
    const char *name;
    uint16_t cmd, ctl, bm;
    int irq;
};
extern struct chan pri, sec;

/* Iterations of a status poll before a wait gives up (seconds on QEMU TCG). */
#define POLL_MAX 4000000u

extern volatile uint32_t irq_count[16];
extern volatile uint8_t irq_status[16], irq_bmis[16];

/* Command line (tests/guest/idetest.sh): disk=SECTORS iso=BLOCKS. */
extern uint64_t opt_disk_sectors;
extern uint32_t opt_iso_blocks;

static inline void chan_out(const struct chan *c, int reg, uint8_t v) { outb((uint16_t)(c->cmd + reg), v); }
static inline uint8_t chan_in(const struct chan *c, int reg) { return inb((uint16_t)(c->cmd + reg)); }
static inline uint8_t alt_status(const struct chan *c) { return inb(c->ctl); }

/* Waits for BSY clear; returns the status (regular register, so INTRQ is
 * acknowledged) or -1 after POLL_MAX polls (and reports it with fail()). */
int wait_idle(const struct chan *c, const char *what);
/* wait_idle, then fail() unless the status has DRQ and no ERR/DF. */
int wait_drq(const struct chan *c, const char *what);
/* Selects dev (0/1) with the LBA bit and the given head nibble. */
int select_dev(const struct chan *c, int dev);
/* Spins until irq_count[irq] passes want (interrupts on); 0 when it did. */
int wait_irq(int irq, uint32_t want);

void pio_in16(const struct chan *c, void *buf, uint32_t words);
void pio_out16(const struct chan *c, const void *buf, uint32_t words);
void pio_in32(const struct chan *c, void *buf, uint32_t dwords);
void pio_out32(const struct chan *c, const void *buf, uint32_t dwords);

struct prd { uint32_t addr; uint32_t count_eot; };
/* Loads a PRD table for the channel, clears BMIS INT/ERR, sets the direction. */
void bm_prepare(const struct chan *c, const struct prd *tab, int to_memory);

/* Reads a space-padded, byte-swapped IDENTIFY string into out (NUL-ended, trimmed). */
void identify_string(const uint16_t *id, int word, int words, char *out);

void run_atapi_tests(void);

#endif
