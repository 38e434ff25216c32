/*
 * guests/insntest/insntest.h — glue between insntest.c (table-driven
 * cases) and stackcases.c (guest-only checks with C-computed expectations).
 */
#ifndef BTVM_INSNTEST_H
#define BTVM_INSNTEST_H

/* Runs the stack, call/ret, cpuid and rdtsc checks; adds to the counters. */
void ist_guest_only_checks(int *ncases, int *fails);

/* REP STOS with DF=1 into code that already ran (smccases.c). */
void ist_smc_checks(int *ncases, int *fails);

#endif
