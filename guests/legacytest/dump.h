/*
 * guests/legacytest/dump.h — one result as a text line, identical on the
 * host and in the guest, so a differing block is compared line by line.
 */
#ifndef BTVM_LEGACYTEST_DUMP_H
#define BTVM_LEGACYTEST_DUMP_H

#include "legacy.h"

#define LT_DUMP_LINE 96

static inline char *lt_hex(char *p, uint32_t v, int digits)
{
    for (int d = digits - 1; d >= 0; d--)
        *p++ = "0123456789abcdef"[v >> (4 * d) & 15];
    return p;
}

static inline char *lt_str(char *p, const char *s)
{
    while (*s)
        *p++ = *s++;
    return p;
}

/* "LT daa imm=00 eax=c0de0199 fl=013 edx=5eed0000 -> eax=c0de01ff fl=095" */
static inline void lt_dump_line(const struct lt_op *op, unsigned block, unsigned i, char *line)
{
    struct lt_in in;
    uint32_t fl;
    lt_input(op, block, i, &in);
    uint32_t eax = lt_run(op, &in, &fl);
    char *p = lt_str(line, "LT ");
    p = lt_str(p, op->name);
    p = lt_hex(lt_str(p, " imm="), in.imm, 2);
    p = lt_hex(lt_str(p, " eax="), in.eax, 8);
    p = lt_hex(lt_str(p, " fl="), in.flags, 3);
    p = lt_hex(lt_str(p, " edx="), in.edx, 8);
    p = lt_hex(lt_str(p, " -> eax="), eax, 8);
    p = lt_hex(lt_str(p, " fl="), fl & op->mask, 3);
    *p = 0;
}

#endif
