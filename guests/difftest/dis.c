/*
 * guests/difftest/dis.c — difftest-dis: disassembles the sequence in a
 * difftest dump (the "code" and "items" lines, read from stdin) with
 * Capstone, one item per block, at the addresses the code runs at.
 */
#include <capstone/capstone.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DT_CODE 0x00600000u

int main(void)
{
    static char line[1 << 16];
    static uint8_t code[4096];
    size_t len = 0;
    unsigned off[64], noff = 0;
    while (fgets(line, sizeof line, stdin)) {
        if (!strncmp(line, "code ", 5)) {
            for (const char *p = line + 5; p[0] && p[1] && p[0] != '\n' && len < sizeof code; p += 2) {
                unsigned v;
                if (sscanf(p, "%2x", &v) != 1)
                    break;
                code[len++] = (uint8_t)v;
            }
        } else if (!strncmp(line, "items", 5)) {
            char *p = line + 5, *e;
            while (noff < 64) {
                unsigned long v = strtoul(p, &e, 10);
                if (e == p)
                    break;
                off[noff++] = (unsigned)v;
                p = e;
            }
            break;
        }
    }
    if (!len) {
        fprintf(stderr, "difftest-dis: no code line on stdin\n");
        return 1;
    }
    csh h;
    if (cs_open(CS_ARCH_X86, CS_MODE_32, &h) != CS_ERR_OK)
        return 1;
    cs_insn *insn;
    size_t n = cs_disasm(h, code, len, DT_CODE, 0, &insn);
    unsigned item = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned o = (unsigned)(insn[i].address - DT_CODE);
        while (item < noff && off[item] <= o) {
            if (item + 1 < noff && off[item + 1] > off[item])
                printf("  -- item %u\n", item);
            item++;
        }
        if (item >= noff && noff && o >= off[noff - 1] && (i == 0 || insn[i - 1].address - DT_CODE < off[noff - 1]))
            printf("  -- back to the runner\n");
        printf("  %08llx  ", (unsigned long long)insn[i].address);
        for (int j = 0; j < 10; j++)
            printf(j < insn[i].size ? "%02x" : "  ", insn[i].bytes[j]);
        printf(" %s %s\n", insn[i].mnemonic, insn[i].op_str);
    }
    if (n)
        cs_free(insn, n);
    cs_close(&h);
    return 0;
}
