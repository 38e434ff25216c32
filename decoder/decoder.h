/*
 * decoder/decoder.h — guest bytes in, an instruction record out.
 *
 * Pure: no VM state. Wraps Zydis 4 for 16- and 32-bit guest code and adds
 * btvm's classification of every instruction (what the translator must do
 * with it). Capstone disassembly for humans lives in decoder/disasm.c.
 */
#ifndef BTVM_DECODER_H
#define BTVM_DECODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <Zydis/Zydis.h>

/* Classification bits (an instruction may have several). */
enum dec_class {
    DEC_INNOCUOUS   = 1u << 0,  /* same behaviour at any privilege: may run IDENT */
    DEC_CONTROL     = 1u << 1,  /* changes EIP other than falling through */
    DEC_PRIVILEGED  = 1u << 2,  /* #GP at CPL>0: traps, needs emulation (hlt, lgdt, mov cr, ...) */
    DEC_SENSITIVE   = 1u << 3,  /* sensitive but unprivileged: sgdt, pushf, mov sreg, iret ... */
    DEC_PORTIO      = 1u << 4,  /* in/out/ins/outs */
    DEC_MEMORY      = 1u << 5,  /* accesses memory (explicit or implicit operand) */
    DEC_STACK       = 1u << 6,  /* implicit stack access (push/pop/call/ret/enter/leave...) */
    DEC_STRING      = 1u << 7,  /* movs/stos/lods/cmps/scas/ins/outs */
    DEC_FPU         = 1u << 8,  /* x87 / MMX / SSE state */
    DEC_UNDEFINED   = 1u << 9,  /* not a valid instruction in this mode: #UD */
};

/* Conditional-branch / flag information uses Zydis' flag masks (ZYDIS_CPUFLAG_*),
 * restricted to the six arithmetic flags plus DF. */
struct dec_insn {
    uint32_t eip;                 /* guest linear address of the first byte */
    uint8_t len;
    uint8_t bytes[15];
    uint32_t cls;                 /* enum dec_class bits */
    uint32_t flags_read;          /* arithmetic flags + DF read (ZYDIS_CPUFLAG_* bits) */
    uint32_t flags_written;       /* written (modified, set, cleared or undefined) */
    uint32_t flags_undefined;     /* left undefined by the SDM */
    ZydisDecodedInstruction zi;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
};

enum dec_mode { DEC_MODE_16 = 16, DEC_MODE_32 = 32 };

/* Decode one instruction from up to avail bytes. Returns 0, or -1 when the
 * bytes are not a valid instruction in this mode (then cls = DEC_UNDEFINED,
 * len = 0) or more bytes are needed (avail too short: returns -2). */
int dec_decode(enum dec_mode mode, uint32_t eip, const uint8_t *bytes, size_t avail, struct dec_insn *out);

/* Human-readable name of a class set ("control|memory"), in a static buffer. */
const char *dec_class_str(uint32_t cls);

/* Capstone disassembly of guest (mode 16/32) or host (mode 64) bytes into
 * buf; returns the instruction length or 0 if Capstone cannot decode it. */
size_t dec_disasm(int mode, uint64_t addr, const uint8_t *bytes, size_t avail, char *buf, size_t bufsz);

#endif
