/*
 * tests/unit/test_decoder.c — decoder/: lengths, classification, flag
 * summaries, error returns and Capstone text.
 *
 * The classification table is the heart: each row is guest bytes, the mode,
 * the expected length, bits that must be set and bits that must not be.
 * Rows cite the instruction so a failure message reads as an SDM claim.
 */
#include "decoder/decoder.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define B(...) ((const uint8_t[]){ __VA_ARGS__ }), sizeof((const uint8_t[]){ __VA_ARGS__ })

enum {
    INN = DEC_INNOCUOUS, CTL = DEC_CONTROL, PRV = DEC_PRIVILEGED, SEN = DEC_SENSITIVE,
    PIO = DEC_PORTIO, MEM = DEC_MEMORY, STK = DEC_STACK, STR = DEC_STRING, FPU = DEC_FPU,
    UND = DEC_UNDEFINED,
};

struct cls_case {
    const char *what;
    enum dec_mode mode;
    const uint8_t *bytes;
    size_t n;
    unsigned len;
    uint32_t must;      /* bits that must be set */
    uint32_t mustnot;   /* bits that must be clear */
};

/* The four virtualization bits are mutually informative: list the ones
 * that must be absent so "innocuous" can never sneak onto a sensitive row. */
#define NOTINN (INN)
#define NOTSYS (PRV | SEN | CTL | PIO)

static const struct cls_case cases[] = {
    { "nop", DEC_MODE_32, B(0x90), 1, INN, NOTSYS | MEM },
    { "add eax,ebx", DEC_MODE_32, B(0x01, 0xd8), 2, INN, NOTSYS | MEM | FPU },
    { "mov eax,[ebx+4]", DEC_MODE_32, B(0x8b, 0x43, 0x04), 3, INN | MEM, NOTSYS | STK },
    { "lea eax,[esp] (address only)", DEC_MODE_32, B(0x8d, 0x04, 0x24), 3, INN, NOTSYS | MEM },
    { "nop dword [eax] (hint)", DEC_MODE_32, B(0x0f, 0x1f, 0x00), 3, INN, NOTSYS | MEM },
    { "prefetchnta [eax] (hint)", DEC_MODE_32, B(0x0f, 0x18, 0x00), 3, INN, NOTSYS | MEM },
    { "mov eax,[moffs]", DEC_MODE_32, B(0xa1, 0x00, 0x10, 0x00, 0x00), 5, INN | MEM, NOTSYS },
    { "push ebx", DEC_MODE_32, B(0x53), 1, INN | MEM | STK, NOTSYS },
    { "pop dword [eax]", DEC_MODE_32, B(0x8f, 0x00), 2, INN | MEM | STK, NOTSYS },
    { "pushad", DEC_MODE_32, B(0x60), 1, INN | MEM | STK, NOTSYS },
    { "enter 16,0", DEC_MODE_32, B(0xc8, 0x10, 0x00, 0x00), 4, INN | MEM | STK, NOTSYS },
    { "leave", DEC_MODE_32, B(0xc9), 1, INN | MEM | STK, NOTSYS },
    { "xlat", DEC_MODE_32, B(0xd7), 1, INN | MEM, NOTSYS | STK },
    { "bound eax,[eax] (#BR at any CPL)", DEC_MODE_32, B(0x62, 0x00), 2, INN | MEM, NOTSYS },
    { "arpl ax,ax (pure arithmetic on a selector)", DEC_MODE_32, B(0x63, 0xc0), 2, INN, NOTSYS },
    { "cld", DEC_MODE_32, B(0xfc), 1, INN, NOTSYS },
    { "rep movsd", DEC_MODE_32, B(0xf3, 0xa5), 2, INN | STR | MEM, NOTSYS | STK },
    { "stosb", DEC_MODE_32, B(0xaa), 1, INN | STR | MEM, NOTSYS },
    { "repe cmpsb", DEC_MODE_32, B(0xf3, 0xa6), 2, INN | STR | MEM, NOTSYS },
    { "fld dword [eax]", DEC_MODE_32, B(0xd9, 0x00), 2, INN | FPU | MEM, NOTSYS },
    { "fninit", DEC_MODE_32, B(0xdb, 0xe3), 2, INN | FPU, NOTSYS | MEM },
    { "fwait", DEC_MODE_32, B(0x9b), 1, INN | FPU, NOTSYS },
    { "movdqa xmm0,[eax]", DEC_MODE_32, B(0x66, 0x0f, 0x6f, 0x00), 4, INN | FPU | MEM, NOTSYS },
    { "paddb mm0,mm1", DEC_MODE_32, B(0x0f, 0xfc, 0xc1), 3, INN | FPU, NOTSYS | MEM },
    { "emms", DEC_MODE_32, B(0x0f, 0x77), 2, INN | FPU, NOTSYS },
    { "fxsave [eax]", DEC_MODE_32, B(0x0f, 0xae, 0x00), 3, INN | FPU | MEM, NOTSYS },
    { "ldmxcsr [eax]", DEC_MODE_32, B(0x0f, 0xae, 0x10), 3, INN | FPU | MEM, NOTSYS },
    { "movnti [eax],eax (GPR only)", DEC_MODE_32, B(0x0f, 0xc3, 0x00), 3, INN | MEM, NOTSYS | FPU },
    { "clflush [eax]", DEC_MODE_32, B(0x0f, 0xae, 0x38), 3, INN | MEM, NOTSYS },

    /* Control flow. */
    { "jmp rel8", DEC_MODE_32, B(0xeb, 0xfe), 2, CTL, NOTINN | SEN | PRV | MEM },
    { "jz rel8", DEC_MODE_32, B(0x74, 0x10), 2, CTL, NOTINN | SEN | MEM },
    { "jz rel32", DEC_MODE_32, B(0x0f, 0x84, 0, 0, 0, 0), 6, CTL, NOTINN | SEN },
    { "call rel32", DEC_MODE_32, B(0xe8, 0, 0, 0, 0), 5, CTL | STK | MEM, NOTINN | SEN },
    { "call [eax]", DEC_MODE_32, B(0xff, 0x10), 2, CTL | STK | MEM, NOTINN | SEN },
    { "jmp eax", DEC_MODE_32, B(0xff, 0xe0), 2, CTL, NOTINN | SEN | MEM },
    { "ret", DEC_MODE_32, B(0xc3), 1, CTL | STK | MEM, NOTINN | SEN | PRV },
    { "ret 4", DEC_MODE_32, B(0xc2, 0x04, 0x00), 3, CTL | STK | MEM, NOTINN | SEN },
    { "loop", DEC_MODE_32, B(0xe2, 0xfe), 2, CTL, NOTINN | SEN },
    { "jecxz", DEC_MODE_32, B(0xe3, 0xfe), 2, CTL, NOTINN | SEN },
    { "ud2 (valid, always #UD)", DEC_MODE_32, B(0x0f, 0x0b), 2, CTL, NOTINN | UND | SEN },
    { "ud1 eax,[eax] (faults before access)", DEC_MODE_32, B(0x0f, 0xb9, 0x00), 3, CTL, NOTINN | MEM },

    /* Sensitive, unprivileged: the Popek-Goldberg gap. */
    { "sgdt [esp]", DEC_MODE_32, B(0x0f, 0x01, 0x04, 0x24), 4, SEN | MEM, NOTINN | PRV | CTL | STK },
    { "sidt [eax]", DEC_MODE_32, B(0x0f, 0x01, 0x08), 3, SEN | MEM, NOTINN | PRV },
    { "sldt eax", DEC_MODE_32, B(0x0f, 0x00, 0xc0), 3, SEN, NOTINN | PRV | MEM },
    { "str eax", DEC_MODE_32, B(0x0f, 0x00, 0xc8), 3, SEN, NOTINN | PRV },
    { "smsw eax", DEC_MODE_32, B(0x0f, 0x01, 0xe0), 3, SEN, NOTINN | PRV },
    { "pushfd", DEC_MODE_32, B(0x9c), 1, SEN | STK | MEM, NOTINN | PRV | CTL },
    { "popfd", DEC_MODE_32, B(0x9d), 1, SEN | STK | MEM, NOTINN | PRV | CTL },
    { "lar eax,eax", DEC_MODE_32, B(0x0f, 0x02, 0xc0), 3, SEN, NOTINN | PRV },
    { "lsl eax,eax", DEC_MODE_32, B(0x0f, 0x03, 0xc0), 3, SEN, NOTINN | PRV },
    { "verr ax", DEC_MODE_32, B(0x0f, 0x00, 0xe0), 3, SEN, NOTINN | PRV },
    { "verw ax", DEC_MODE_32, B(0x0f, 0x00, 0xe8), 3, SEN, NOTINN | PRV },
    { "mov ds,ax", DEC_MODE_32, B(0x8e, 0xd8), 2, SEN, NOTINN | PRV | MEM | CTL },
    { "mov eax,cs", DEC_MODE_32, B(0x8c, 0xc8), 2, SEN, NOTINN | PRV },
    { "push es", DEC_MODE_32, B(0x06), 1, SEN | STK | MEM, NOTINN | PRV },
    { "pop ss", DEC_MODE_32, B(0x17), 1, SEN | STK | MEM, NOTINN | PRV },
    { "push fs", DEC_MODE_32, B(0x0f, 0xa0), 2, SEN | STK | MEM, NOTINN },
    { "lds eax,[eax]", DEC_MODE_32, B(0xc5, 0x00), 2, SEN | MEM, NOTINN | PRV },
    { "lss esp,[eax]", DEC_MODE_32, B(0x0f, 0xb2, 0x20), 3, SEN | MEM, NOTINN },
    { "int 0x80", DEC_MODE_32, B(0xcd, 0x80), 2, CTL | SEN, NOTINN | PRV },
    { "int3", DEC_MODE_32, B(0xcc), 1, CTL | SEN, NOTINN | PRV },
    { "into", DEC_MODE_32, B(0xce), 1, CTL | SEN, NOTINN },
    { "iretd", DEC_MODE_32, B(0xcf), 1, CTL | SEN | STK | MEM, NOTINN | PRV },
    { "call far ptr16:32", DEC_MODE_32, B(0x9a, 0, 0, 0, 0, 0x08, 0x00), 7, CTL | SEN | STK, NOTINN | PRV },
    { "jmp far ptr16:32", DEC_MODE_32, B(0xea, 0, 0, 0, 0, 0x08, 0x00), 7, CTL | SEN, NOTINN | STK },
    { "jmp far [eax]", DEC_MODE_32, B(0xff, 0x28), 2, CTL | SEN | MEM, NOTINN },
    { "retf", DEC_MODE_32, B(0xcb), 1, CTL | SEN | STK | MEM, NOTINN | PRV },
    { "sysenter", DEC_MODE_32, B(0x0f, 0x34), 2, CTL | SEN, NOTINN | PRV },
    { "cpuid (host identity)", DEC_MODE_32, B(0x0f, 0xa2), 2, SEN, NOTINN | PRV | CTL },
    { "movdir64b (register operand is an address)", DEC_MODE_32, B(0x66, 0x0f, 0x38, 0xf8, 0x00), 5, SEN,
      NOTINN },
    { "enqcmds (register operand is an address)", DEC_MODE_32, B(0xf3, 0x0f, 0x38, 0xf8, 0x00), 5, SEN, NOTINN },
    { "rdtsc (host clock)", DEC_MODE_32, B(0x0f, 0x31), 2, SEN, NOTINN | PRV },
    { "rdtscp", DEC_MODE_32, B(0x0f, 0x01, 0xf9), 3, SEN, NOTINN | PRV },

    /* Privileged: trap at CPL>0. */
    { "hlt", DEC_MODE_32, B(0xf4), 1, PRV, NOTINN | SEN | CTL },
    { "lgdt [eax]", DEC_MODE_32, B(0x0f, 0x01, 0x10), 3, PRV | MEM, NOTINN | SEN },
    { "lidt [eax]", DEC_MODE_32, B(0x0f, 0x01, 0x18), 3, PRV | MEM, NOTINN | SEN },
    { "lldt ax", DEC_MODE_32, B(0x0f, 0x00, 0xd0), 3, PRV, NOTINN | SEN },
    { "ltr ax", DEC_MODE_32, B(0x0f, 0x00, 0xd8), 3, PRV, NOTINN | SEN },
    { "lmsw ax", DEC_MODE_32, B(0x0f, 0x01, 0xf0), 3, PRV, NOTINN | SEN },
    { "clts", DEC_MODE_32, B(0x0f, 0x06), 2, PRV, NOTINN | SEN },
    { "mov cr0,eax", DEC_MODE_32, B(0x0f, 0x22, 0xc0), 3, PRV, NOTINN | SEN },
    { "mov eax,cr3", DEC_MODE_32, B(0x0f, 0x20, 0xd8), 3, PRV, NOTINN | SEN },
    { "mov dr7,eax", DEC_MODE_32, B(0x0f, 0x23, 0xf8), 3, PRV, NOTINN | SEN },
    { "invd", DEC_MODE_32, B(0x0f, 0x08), 2, PRV, NOTINN },
    { "wbinvd", DEC_MODE_32, B(0x0f, 0x09), 2, PRV, NOTINN },
    { "invlpg [eax] (no access)", DEC_MODE_32, B(0x0f, 0x01, 0x38), 3, PRV, NOTINN | MEM },
    { "rdmsr", DEC_MODE_32, B(0x0f, 0x32), 2, PRV, NOTINN | SEN },
    { "wrmsr", DEC_MODE_32, B(0x0f, 0x30), 2, PRV, NOTINN | SEN },
    { "sysexit", DEC_MODE_32, B(0x0f, 0x35), 2, PRV | CTL, NOTINN | SEN },
    { "xsetbv", DEC_MODE_32, B(0x0f, 0x01, 0xd1), 3, PRV, NOTINN },
    { "clac", DEC_MODE_32, B(0x0f, 0x01, 0xca), 3, PRV, NOTINN | SEN },
    /* Privilege the guest can switch off (IOPL, CR4.PCE): both bits. */
    { "cli", DEC_MODE_32, B(0xfa), 1, PRV | SEN, NOTINN | CTL | MEM },
    { "sti", DEC_MODE_32, B(0xfb), 1, PRV | SEN, NOTINN | CTL },
    { "rdpmc", DEC_MODE_32, B(0x0f, 0x33), 2, PRV | SEN, NOTINN },
    { "in al,dx", DEC_MODE_32, B(0xec), 1, PRV | SEN | PIO, NOTINN | MEM | STR },
    { "out 0x80,al", DEC_MODE_32, B(0xe6, 0x80), 2, PRV | SEN | PIO, NOTINN | MEM },
    { "rep insb", DEC_MODE_32, B(0xf3, 0x6c), 2, PRV | SEN | PIO | STR | MEM, NOTINN },
    { "outsd", DEC_MODE_32, B(0x6f), 1, PRV | SEN | PIO | STR | MEM, NOTINN },

    /* 16-bit mode: operand and address size default to 16. */
    { "16: mov ax,imm16", DEC_MODE_16, B(0xb8, 0x34, 0x12), 3, INN, NOTSYS },
    { "16: mov eax,imm32 (66)", DEC_MODE_16, B(0x66, 0xb8, 0x78, 0x56, 0x34, 0x12), 6, INN, NOTSYS },
    { "16: mov ax,[bx+si]", DEC_MODE_16, B(0x8b, 0x00), 2, INN | MEM, NOTSYS },
    { "16: mov ax,[eax] (67)", DEC_MODE_16, B(0x67, 0x8b, 0x00), 3, INN | MEM, NOTSYS },
    { "16: int 0x10", DEC_MODE_16, B(0xcd, 0x10), 2, CTL | SEN, NOTINN },
    { "16: jmp far 0:7c00", DEC_MODE_16, B(0xea, 0x00, 0x7c, 0x00, 0x00), 5, CTL | SEN, NOTINN },
    { "16: call rel16", DEC_MODE_16, B(0xe8, 0x00, 0x00), 3, CTL | STK | MEM, NOTINN },
    { "16: pushf", DEC_MODE_16, B(0x9c), 1, SEN | STK | MEM, NOTINN },
    { "16: lgdt [bx]", DEC_MODE_16, B(0x0f, 0x01, 0x17), 3, PRV | MEM, NOTINN },
    { "32: mov eax,imm32", DEC_MODE_32, B(0xb8, 0x78, 0x56, 0x34, 0x12), 5, INN, NOTSYS },
};

START_TEST(test_classify_table)
{
    const struct cls_case *c = &cases[_i];
    struct dec_insn d;
    int rc = dec_decode(c->mode, 0x1000, c->bytes, c->n, &d);

    ck_assert_msg(rc == 0, "%s: dec_decode returned %d", c->what, rc);
    ck_assert_msg(d.len == c->len, "%s: len %u, want %u", c->what, d.len, c->len);
    /* dec_class_str() reuses one buffer: copy before the second call. */
    char got[128];
    snprintf(got, sizeof(got), "%s", dec_class_str(d.cls));
    ck_assert_msg((d.cls & c->must) == c->must, "%s: got %s, missing %s", c->what,
                  got, dec_class_str(c->must & ~d.cls));
    ck_assert_msg((d.cls & c->mustnot) == 0, "%s: got %s, must not have %s", c->what,
                  got, dec_class_str(c->mustnot & d.cls));
    ck_assert_uint_eq(d.eip, 0x1000);
    ck_assert_mem_eq(d.bytes, c->bytes, d.len);
}
END_TEST

/* Bytes that are no instruction in 32-bit mode. */
START_TEST(test_invalid)
{
    const struct { const uint8_t *b; size_t n; const char *what; } bad[] = {
        { B(0x0f, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), "0f 0a" },
        { B(0x0f, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), "0f 04 (64-bit-era syscall slot)" },
        { B(0x0f, 0x01, 0xf8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), "swapgs (64-bit only)" },
        { B(0xf0, 0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), "lock nop" },
        { B(0x8d, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), "lea with register source" },
        /* 15 prefixes then an opcode: longer than the architectural 15. */
        { B(0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x90),
          "16-byte instruction" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct dec_insn d;
        int rc = dec_decode(DEC_MODE_32, 0, bad[i].b, bad[i].n, &d);
        ck_assert_msg(rc == -1, "%s: rc %d (%s)", bad[i].what, rc, dec_class_str(d.cls));
        ck_assert_msg(d.cls == DEC_UNDEFINED, "%s: cls %s", bad[i].what, dec_class_str(d.cls));
        ck_assert_uint_eq(d.len, 0);
    }
}
END_TEST

/* A cut-short instruction asks for more bytes instead of failing. */
START_TEST(test_truncated)
{
    static const uint8_t movimm[] = { 0xb8, 0x78, 0x56, 0x34, 0x12 };
    static const uint8_t sgdt[] = { 0x0f, 0x01, 0x04, 0x24 };
    struct dec_insn d;

    for (size_t n = 0; n < sizeof(movimm); n++)
        ck_assert_int_eq(dec_decode(DEC_MODE_32, 0, movimm, n, &d), -2);
    ck_assert_int_eq(dec_decode(DEC_MODE_32, 0, movimm, sizeof(movimm), &d), 0);
    /* The same 3 bytes are a whole instruction in 16-bit mode. */
    ck_assert_int_eq(dec_decode(DEC_MODE_16, 0, movimm, 3, &d), 0);
    ck_assert_uint_eq(d.len, 3);
    ck_assert_int_eq(dec_decode(DEC_MODE_32, 0, sgdt, 3, &d), -2);
    ck_assert_int_eq(dec_decode(DEC_MODE_32, 0, sgdt, 1, &d), -2);
}
END_TEST

/* More bytes than the instruction: only its own are taken. */
START_TEST(test_length_and_bytes)
{
    static const uint8_t two[] = { 0x01, 0xd8, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90,
                                   0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90 };
    struct dec_insn d;

    ck_assert_int_eq(dec_decode(DEC_MODE_32, 0xc0100000u, two, sizeof(two), &d), 0);
    ck_assert_uint_eq(d.len, 2);
    ck_assert_uint_eq(d.eip, 0xc0100000u);
    ck_assert_uint_eq(d.bytes[0], 0x01);
    ck_assert_uint_eq(d.bytes[1], 0xd8);
    ck_assert_uint_eq(d.bytes[2], 0);
    ck_assert_int_eq(d.zi.mnemonic, ZYDIS_MNEMONIC_ADD);
    ck_assert_int_eq(d.ops[0].type, ZYDIS_OPERAND_TYPE_REGISTER);
    ck_assert_int_eq(d.ops[0].reg.value, ZYDIS_REGISTER_EAX);
}
END_TEST

static void expect_flags(const uint8_t *b, size_t n, uint32_t rd, uint32_t wr, uint32_t undef,
                         const char *what)
{
    struct dec_insn d;

    ck_assert_msg(dec_decode(DEC_MODE_32, 0, b, n, &d) == 0, "%s: decode", what);
    ck_assert_msg(d.flags_read == rd, "%s: read %#x want %#x", what, d.flags_read, rd);
    ck_assert_msg(d.flags_written == wr, "%s: written %#x want %#x", what, d.flags_written, wr);
    ck_assert_msg(d.flags_undefined == undef, "%s: undefined %#x want %#x", what,
                  d.flags_undefined, undef);
}

#define CF ZYDIS_CPUFLAG_CF
#define PF ZYDIS_CPUFLAG_PF
#define AF ZYDIS_CPUFLAG_AF
#define ZF ZYDIS_CPUFLAG_ZF
#define SF ZYDIS_CPUFLAG_SF
#define OF ZYDIS_CPUFLAG_OF
#define DF ZYDIS_CPUFLAG_DF
#define ARITH (CF | PF | AF | ZF | SF | OF)

START_TEST(test_flags)
{
    expect_flags(B(0x11, 0xc0), CF, ARITH, 0, "adc eax,eax");
    expect_flags(B(0x01, 0xc0), 0, ARITH, 0, "add eax,eax");
    expect_flags(B(0x74, 0x00), ZF, 0, 0, "jz");
    expect_flags(B(0x7c, 0x00), SF | OF, 0, 0, "jl");
    expect_flags(B(0x0f, 0x44, 0xc0), ZF, 0, 0, "cmovz");
    expect_flags(B(0x0f, 0x94, 0xc0), ZF, 0, 0, "setz");
    expect_flags(B(0xfd), 0, DF, 0, "std");
    expect_flags(B(0xfc), 0, DF, 0, "cld");
    expect_flags(B(0xf3, 0xa5), DF, 0, 0, "rep movsd");
    expect_flags(B(0x90), 0, 0, 0, "nop");
    expect_flags(B(0x8d, 0x04, 0x24), 0, 0, 0, "lea");
    /* and: OF/CF cleared, AF undefined (SDM AND). */
    expect_flags(B(0x21, 0xc0), 0, ARITH, AF, "and eax,eax");
    /* inc leaves CF alone: the liveness analysis must know. */
    expect_flags(B(0x40), 0, ARITH & ~CF, 0, "inc eax");
    /* pushfd reads every arithmetic flag and DF; system flags are masked. */
    expect_flags(B(0x9c), ARITH | DF, 0, 0, "pushfd");
    expect_flags(B(0x9d), 0, ARITH | DF, 0, "popfd");
    /* cli touches only IF: nothing for the arithmetic-flag summary. */
    expect_flags(B(0xfa), 0, 0, 0, "cli");
}
END_TEST

START_TEST(test_class_str)
{
    ck_assert_str_eq(dec_class_str(DEC_INNOCUOUS | DEC_MEMORY), "innocuous|memory");
    ck_assert_str_eq(dec_class_str(DEC_CONTROL), "control");
    ck_assert_str_eq(dec_class_str(DEC_CONTROL | DEC_SENSITIVE | DEC_STACK),
                     "control|sensitive|stack");
    ck_assert_str_eq(dec_class_str(DEC_UNDEFINED), "undefined");
    ck_assert_str_eq(dec_class_str(0), "none");
    ck_assert_str_eq(dec_class_str(0x3ff),
                     "innocuous|control|privileged|sensitive|portio|memory|stack|string|fpu|undefined");
}
END_TEST

static void expect_dis(int mode, const uint8_t *b, size_t n, size_t len, const char *text)
{
    char buf[128];

    ck_assert_uint_eq(dec_disasm(mode, 0x1000, b, n, buf, sizeof(buf)), len);
    ck_assert_str_eq(buf, text);
}

START_TEST(test_disasm)
{
    expect_dis(32, B(0x8b, 0x43, 0x04), 3, "mov eax, dword ptr [ebx + 4]");
    expect_dis(32, B(0x0f, 0x01, 0x04, 0x24), 4, "sgdt [esp]");
    expect_dis(32, B(0x90), 1, "nop");
    expect_dis(32, B(0xe8, 0, 0, 0, 0), 5, "call 0x1005");
    expect_dis(32, B(0x0f, 0x20, 0xc0), 3, "mov eax, cr0");
    expect_dis(16, B(0xb8, 0x34, 0x12), 3, "mov ax, 0x1234");
    expect_dis(64, B(0x48, 0x8b, 0x05, 0x10, 0, 0, 0), 7, "mov rax, qword ptr [rip + 0x10]");
    expect_dis(32, B(0x0f, 0x0a), 0, "");
    expect_dis(7, B(0x90), 0, "");

    /* Truncating output is safe and still reports the length. */
    char tiny[4];
    ck_assert_uint_eq(dec_disasm(32, 0, B(0x8b, 0x43, 0x04), tiny, sizeof(tiny)), 3);
    ck_assert_str_eq(tiny, "mov");
}
END_TEST

/* Every single-byte opcode (with ModRM/imm padding) either decodes with a
 * sane record or is reported undefined: no crash, no inconsistent state. */
START_TEST(test_sweep)
{
    for (int mode = 16; mode <= 32; mode += 16) {
        for (unsigned op = 0; op < 0x10000; op++) {
            uint8_t b[15] = { op & 0xff, op >> 8, 0x00, 0x00, 0x00, 0x00 };
            struct dec_insn d;
            int rc = dec_decode((enum dec_mode)mode, 0, b, sizeof(b), &d);

            ck_assert_int_ne(rc, -2);
            if (rc == -1) {
                ck_assert_uint_eq(d.cls, DEC_UNDEFINED);
                continue;
            }
            ck_assert_int_eq(rc, 0);
            ck_assert(d.len >= 1 && d.len <= 15);
            /* innocuous excludes every bit that needs the monitor. */
            if (d.cls & DEC_INNOCUOUS)
                ck_assert_uint_eq(d.cls & (DEC_PRIVILEGED | DEC_SENSITIVE | DEC_CONTROL | DEC_PORTIO), 0);
            else
                ck_assert_uint_ne(d.cls & (DEC_PRIVILEGED | DEC_SENSITIVE | DEC_CONTROL | DEC_PORTIO), 0);
            ck_assert_uint_eq(d.cls & DEC_UNDEFINED, 0);
            if (d.cls & (DEC_STACK | DEC_STRING))
                ck_assert_uint_ne(d.cls & DEC_MEMORY, 0);
        }
    }
}
END_TEST

static Suite *decoder_suite(void)
{
    Suite *s = suite_create("decoder");
    TCase *tc = tcase_create("core");

    tcase_add_loop_test(tc, test_classify_table, 0, (int)(sizeof(cases) / sizeof(cases[0])));
    tcase_add_test(tc, test_invalid);
    tcase_add_test(tc, test_truncated);
    tcase_add_test(tc, test_length_and_bytes);
    tcase_add_test(tc, test_flags);
    tcase_add_test(tc, test_class_str);
    tcase_add_test(tc, test_disasm);
    tcase_add_test(tc, test_sweep);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(decoder_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
