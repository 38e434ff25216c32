/*
 * cpu/flags.c — arithmetic flags of add/sub results (SDM vol. 1, 3.4.3.1),
 * for callouts that must produce them without the host ALU's help.
 */
#include "cpu/flags.h"
#include "cpu/cpu.h"

uint32_t cpu_flags_szp(uint32_t r, unsigned bits)
{
    uint32_t mask = bits == 32 ? 0xFFFFFFFFu : (1u << bits) - 1;
    uint32_t f = 0;
    r &= mask;
    if (r == 0)
        f |= CPU_FL_ZF;
    if (r >> (bits - 1))
        f |= CPU_FL_SF;
    if (!(__builtin_popcount(r & 0xFF) & 1)) /* PF: even parity of the low byte */
        f |= CPU_FL_PF;
    return f;
}

uint32_t cpu_flags_sub(uint32_t a, uint32_t b, unsigned bits)
{
    uint32_t mask = bits == 32 ? 0xFFFFFFFFu : (1u << bits) - 1;
    uint32_t sign = 1u << (bits - 1);
    a &= mask; b &= mask;
    uint32_t r = (a - b) & mask;
    uint32_t f = cpu_flags_szp(r, bits);
    if (a < b)
        f |= CPU_FL_CF;
    if ((a ^ b ^ r) & 0x10)
        f |= CPU_FL_AF;
    if ((a ^ b) & (a ^ r) & sign)
        f |= CPU_FL_OF;
    return f;
}

uint32_t cpu_flags_add(uint32_t a, uint32_t b, unsigned bits)
{
    uint32_t mask = bits == 32 ? 0xFFFFFFFFu : (1u << bits) - 1;
    uint32_t sign = 1u << (bits - 1);
    a &= mask; b &= mask;
    uint32_t r = (a + b) & mask;
    uint32_t f = cpu_flags_szp(r, bits);
    if (r < a)
        f |= CPU_FL_CF;
    if ((a ^ b ^ r) & 0x10)
        f |= CPU_FL_AF;
    if (~(a ^ b) & (a ^ r) & sign)
        f |= CPU_FL_OF;
    return f;
}
