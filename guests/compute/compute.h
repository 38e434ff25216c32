/*
 * guests/compute/compute.h — the compute benchmark, shared by the i686
 * guest (guest_main.c) and the host build compute-native (native_main.c).
 * Pure integer C with no library calls, so both builds do the same work.
 */
#ifndef BTVM_COMPUTE_H
#define BTVM_COMPUTE_H

#include <stdint.h>

/* Provided by each main: prints "<part>: <8 hex digits>" on one line. */
void compute_report(const char *part, uint32_t value);

/* Runs every part, reports each, returns the final checksum. */
uint32_t compute_run(void);

#endif
