/*
 * guests/difftest/dt.h — differential instruction testing (docs/difftest.md).
 *
 * The same i686 objects (generator, loop, runner) are linked twice: into a
 * Multiboot guest that btvm (or QEMU) runs at CPL 3, and into a static
 * 32-bit Linux program that runs them on the host CPU, the reference. Both
 * place the sequence's code, data window and stack at the same fixed
 * linear addresses, so registers holding pointers compare equal.
 */
#ifndef BTVM_DIFFTEST_H
#define BTVM_DIFFTEST_H

#include <stdint.h>

#define DT_CODE      0x00600000u  /* one sequence, then a jmp back to the runner */
#define DT_CODE_MAX  2048u
#define DT_DATA      0x00700000u  /* two pages; the window straddles the boundary */
#define DT_WIN       0x00700f80u
#define DT_WIN_SIZE  256u
#define DT_STACK_TOP (DT_WIN + 0xc0u) /* initial ESP of a sequence, inside the window */
#define DT_WIN2      0x00701fc0u  /* the last bytes before DT_HOLE, also compared */
#define DT_WIN2_SIZE 64u
#define DT_HOLE      0x00702000u  /* not mapped: string instructions run into it */
#define DT_UNMAPPED  0x3ff00000u  /* not mapped either, on both sides */
#define DT_MAX_ITEMS 24

/* Selectors of a 32-bit process on x86-64 Linux; the guest's GDT copies them. */
#define DT_SEL_CS 0x23
#define DT_SEL_DS 0x2b

/* EFLAGS bits compared when defined. */
#define DT_CF 0x001
#define DT_PF 0x004
#define DT_AF 0x010
#define DT_ZF 0x040
#define DT_SF 0x080
#define DT_IF 0x200
#define DT_DF 0x400
#define DT_OF 0x800
#define DT_ARITH (DT_CF | DT_PF | DT_AF | DT_ZF | DT_SF | DT_OF)

/* Register order is the hardware's (ModRM reg numbers). */
enum { DT_EAX, DT_ECX, DT_EDX, DT_EBX, DT_ESP, DT_EBP, DT_ESI, DT_EDI };
enum { DT_ES, DT_CS, DT_SS, DT_DS, DT_FS, DT_GS };

/* The runner's input and output (offsets used by run.S: keep in step). */
struct dt_state {
    uint32_t r[8];       /*   0 */
    uint32_t eflags;     /*  32 */
    uint32_t seg[6];     /*  36 */
    uint32_t fcw;        /*  60 */
    uint32_t mxcsr;      /*  64 */
    uint32_t vec;        /*  68: out: exception vector, or DT_NO_FAULT */
    uint32_t err;        /*  72: out: its error code */
    uint32_t eip;        /*  76: out: the EIP it reported */
    uint8_t xmm[8][16];  /*  80: 16-aligned within the struct */
    uint32_t cr2;        /* 208: out: CR2 of a #PF */
};
#define DT_NO_FAULT 0xffffffffu

/* One generated sequence: code, where each item starts, initial state. */
struct dt_seq {
    uint32_t len, nitems;
    uint16_t item_off[DT_MAX_ITEMS + 1];
    uint32_t flag_mask;            /* EFLAGS bits defined at the end */
    struct dt_state in __attribute__((aligned(16)));
    uint8_t win[DT_WIN_SIZE];
    uint8_t win2[DT_WIN2_SIZE];
    uint8_t code[DT_CODE_MAX];
};

/* What is compared (built from dt_state, the window and FXSAVE). */
struct dt_result {
    uint32_t r[8];
    uint32_t eflags;   /* masked */
    uint32_t seg[6];
    uint32_t fcw, fsw, ftw, mxcsr;
    uint8_t st[8][10]; /* ST(i); empty registers zeroed */
    uint8_t xmm[8][16];
    uint8_t win[DT_WIN_SIZE];
    uint8_t win2[DT_WIN2_SIZE];
    uint32_t vec, err, eip, cr2; /* the exception a sequence ended with, if any */
};

/* Item kinds, for "skip=" (bit 1 << kind). */
enum { DT_K_ALU, DT_K_MULDIV, DT_K_SHIFT, DT_K_BIT, DT_K_BCD, DT_K_MOVE, DT_K_STRING,
       DT_K_STACK, DT_K_SEG, DT_K_BRANCH, DT_K_X87, DT_K_VEC, DT_K_MISC, DT_K_CODE, DT_K_FAULT, DT_K_COUNT };
#define DT_K_ALL ((1u << DT_K_COUNT) - 1)
#define DT_CPL0  0x80000000u /* in skip: sequences for a guest at CPL 0 ("cpl=0") */

/* Generator (gen.c): sequence idx of seed, with the items in drop left out
 * and no item of a kind in skip. */
void dt_generate(uint32_t seed, uint32_t idx, uint32_t drop, uint32_t skip, struct dt_seq *s, uint32_t back);

/* Runner (run.S): runs the code at DT_CODE from dt_in; fills dt_out, dt_fx. */
extern struct dt_state dt_in, dt_out;
extern uint8_t dt_fx[512];
void dt_run(void);
void dt_run_back(void);
/* Where a platform's exception handler resumes, dt_out already filled. */
void dt_fault_back(void);

/* Loop (loop.c): parses "seed= start= count= mode= drop= batch=" and runs. */
int dt_main(const char *args);

/* Platform (guest.c or native.c). */
void dt_plat_write(const char *s, uint32_t n);

#endif
