/*
 * cpu/flags.h — arithmetic flags computed in C, for the callouts that
 * compare (cmps/scas) or adjust (BCD, inc/dec) outside translated code.
 */
#ifndef BTVM_CPU_FLAGS_H
#define BTVM_CPU_FLAGS_H

#include <stdint.h>

/* CF PF AF ZF SF OF of `a - b` at width bits (8, 16, 32), as CMP/SUB set them. */
uint32_t cpu_flags_sub(uint32_t a, uint32_t b, unsigned bits);
/* CF PF AF ZF SF OF of `a + b`. */
uint32_t cpu_flags_add(uint32_t a, uint32_t b, unsigned bits);
/* PF ZF SF of a result (the rest clear). */
uint32_t cpu_flags_szp(uint32_t r, unsigned bits);

#endif
