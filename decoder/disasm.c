/*
 * decoder/disasm.c — dec_disasm(): Capstone text for traces and debugging.
 *
 * Owns one Capstone handle per mode (16/32-bit guest code, 64-bit host code
 * from the code cache), opened once and kept for the life of the process.
 * Capstone is a second, independent decoder: when a trace shows Zydis and
 * Capstone disagreeing about a length, that is worth a look.
 */
#include "decoder/decoder.h"

#include <capstone/capstone.h>
#include <pthread.h>
#include <stdio.h>

enum { DIS_16, DIS_32, DIS_64, DIS_NMODES };

static csh dis_handle[DIS_NMODES];
static bool dis_ok[DIS_NMODES];
static pthread_once_t dis_once = PTHREAD_ONCE_INIT;

static void dis_init(void)
{
    static const cs_mode modes[DIS_NMODES] = { CS_MODE_16, CS_MODE_32, CS_MODE_64 };

    for (int i = 0; i < DIS_NMODES; i++) {
        /* Intel syntax is Capstone's default for x86; say it anyway. */
        dis_ok[i] = cs_open(CS_ARCH_X86, modes[i], &dis_handle[i]) == CS_ERR_OK &&
                    cs_option(dis_handle[i], CS_OPT_SYNTAX, CS_OPT_SYNTAX_INTEL) == CS_ERR_OK;
    }
}

size_t dec_disasm(int mode, uint64_t addr, const uint8_t *bytes, size_t avail, char *buf, size_t bufsz)
{
    cs_insn *insn = NULL;
    size_t len = 0;
    int m;

    if (bufsz)
        buf[0] = '\0';
    switch (mode) {
    case 16: m = DIS_16; break;
    case 32: m = DIS_32; break;
    case 64: m = DIS_64; break;
    default: return 0;
    }
    pthread_once(&dis_once, dis_init);
    if (!dis_ok[m] || avail == 0)
        return 0;

    if (cs_disasm(dis_handle[m], bytes, avail, addr, 1, &insn) == 1) {
        len = insn->size;
        if (bufsz)
            snprintf(buf, bufsz, "%s%s%s", insn->mnemonic, insn->op_str[0] ? " " : "", insn->op_str);
    }
    if (insn)
        cs_free(insn, 1);
    return len;
}
