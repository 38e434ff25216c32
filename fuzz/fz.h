/*
 * fuzz/fz.h — what the fuzz harnesses share (docs/fuzzing.md): a cursor
 * over the fuzz input, fake guest RAM behind a struct dev_dma, an
 * in-memory disk behind a struct dev_blkdev, and the "guest player" that
 * turns the input into RAM stores and port, MMIO and PCI configuration
 * accesses on a struct dev_bus.
 *
 * Every check here that fails is a bug in the code under test, never in
 * the input: fz_bug() prints it and aborts, so the fuzzer keeps the input.
 */
#ifndef BTVM_FUZZ_FZ_H
#define BTVM_FUZZ_FZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/blkdev.h"
#include "devices/bus.h"
#include "devices/dma.h"

/* libFuzzer's entry point; each harness defines it. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

_Noreturn void fz_bug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A folder of this process's own for files a harness hands to the code
 * under test: /dev/shm/btvm-fuzz-<pid> (/tmp without /dev/shm), emptied
 * at exit; folders of processes that died (a crash) are removed here. */
const char *fz_scratch_dir(void);

/* The lowest free file descriptor: the same after a run as before it, or
 * the code under test leaked one (fz_check_fds aborts). */
int fz_lowest_fd(void);
void fz_check_fds(int before, const char *what);

/* ---- the input: reads past the end give zeroes ---- */
struct fz_in {
    const uint8_t *p;
    size_t n;
};
uint8_t fz_u8(struct fz_in *in);
uint16_t fz_u16(struct fz_in *in);
uint32_t fz_u32(struct fz_in *in);
uint64_t fz_u64(struct fz_in *in);
/* Up to max bytes (fewer at the end); returns how many, *p points at them. */
size_t fz_take(struct fz_in *in, size_t max, const uint8_t **p);
static inline bool fz_left(const struct fz_in *in) { return in->n != 0; }

/* ---- guest RAM: [0, size), DMA outside it is refused as vm/dma.c does ---- */
struct fz_ram {
    uint8_t *mem;
    uint64_t size;
};
void fz_ram_init(struct fz_ram *r, uint64_t size);   /* once; aborts without memory */
void fz_ram_clear(struct fz_ram *r);                 /* each run */
void fz_ram_free(struct fz_ram *r);
struct dev_dma fz_ram_dma(struct fz_ram *r);

/* ---- a disk in memory: the device must never ask outside it ---- */
struct fz_disk {
    uint8_t *data;
    uint64_t sectors;
    bool readonly;
    const char *name;
    /* Host I/O errors on demand: the fail_in-th request from now fails
     * with -EIO (0: none). */
    unsigned fail_in;
    /* Asynchronous requests (virtio-blk) wait here until completed. */
    struct dev_blk_req *pend[1024];
    unsigned npend;
};
void fz_disk_init(struct fz_disk *d, const char *name, uint64_t sectors, bool readonly);
void fz_disk_fill(struct fz_disk *d);                /* a known pattern, each run */
void fz_disk_free(struct fz_disk *d);
/* Synchronous callbacks; with async, submit/drain too. */
struct dev_blkdev fz_disk_blkdev(struct fz_disk *d, bool async);
/* Complete the i-th waiting request (i taken modulo the count); false if none. */
bool fz_disk_complete(struct fz_disk *d, unsigned i);

/* ---- the guest player ---- */
struct fz_pio_range {
    uint16_t base;
    uint16_t len;
};
struct fz_mmio_range {
    uint64_t base;
    uint32_t len;
};

struct fz_guest {
    struct dev_bus *bus;
    struct fz_ram *ram;
    const struct fz_pio_range *pio;
    unsigned npio;
    const struct fz_mmio_range *mmio;
    unsigned nmmio;
    /* Opcode 7: the harness's own (complete a request, inject a frame...). */
    void (*extra)(void *ctx, struct fz_in *in);
    void *ctx;
};

/* Play the input: one opcode byte, then its operands, until the input or
 * max_ops ends (docs/fuzzing.md lists the opcodes). */
void fz_guest_play(struct fz_guest *g, struct fz_in *in, unsigned max_ops);

#endif
