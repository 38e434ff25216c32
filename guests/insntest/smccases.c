/*
 * guests/insntest/smccases.c — string stores into code that already ran
 * (self-modifying code the translator must notice). REP STOSB with DF=1
 * starting near the top of a data page writes downward across into the
 * code page below it, which holds a function already called once; the
 * next call must run the new bytes. Guest-only: the host generator runs
 * in a process whose text is not writable.
 */
#include "guest.h"
#include "insntest.h"

/* smc_fn sits in the last 4 bytes of a page ("movb $1, %al; ret; nop");
 * smc_data is the next page. Both in .text: without paging it is writable. */
__asm__(".section .text.smc, \"ax\"\n\t.p2align 12\n\t.skip 4092\n"
        "smc_fn:\n\tmovb $1, %al\n\tret\n\tnop\n"
        "smc_data:\n\t.skip 4096\n\t.previous\n");
uint32_t smc_before, smc_after, smc_edi;

void ist_smc_checks(int *ncases, int *fails)
{
    /* Call it (translated), then overwrite smc_data+4 .. smc_fn with 0xC3
     * (RET) downward: 9 bytes, 4 of them smc_fn's. */
    __asm__ volatile("xorl %%eax, %%eax\n\tcall smc_fn\n\tmovl %%eax, smc_before\n\t"
                     "leal smc_data+4, %%edi\n\tmovl $9, %%ecx\n\tmovb $0xc3, %%al\n\t"
                     "std\n\trep stosb\n\tcld\n\tmovl %%edi, smc_edi\n\t"
                     "xorl %%eax, %%eax\n\tcall smc_fn\n\tmovl %%eax, smc_after"
                     : : : "eax", "ecx", "edi", "memory", "cc");
    extern char smc_data[];
    const struct { const char *what; uint32_t want, got; } c[] = {
        { "first call", 1, smc_before },
        { "edi after the downward store", (uint32_t)(uintptr_t)smc_data - 5, smc_edi },
        { "call after the store (stale translation?)", 0, smc_after },
    };
    for (unsigned i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        (*ncases)++;
        if (c[i].want != c[i].got) {
            gprintf("FAIL rep_stos_down_smc: %s expected %08x got %08x\n", c[i].what, c[i].want, c[i].got);
            (*fails)++;
        }
    }
}
