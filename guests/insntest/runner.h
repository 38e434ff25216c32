/*
 * guests/insntest/runner.h — the case runner shared by the host generator
 * (x86-64, gen.c) and the i686 guest (insntest.c). Each case of cases.h
 * becomes one top-level asm function ist_run_<name>: it loads EAX..EDI and
 * EFLAGS from ist_in, runs the case's asm text unchanged, and stores the
 * registers and EFLAGS into ist_out. Only the prologue and epilogue differ
 * between the two builds; the case text is the same bytes of source.
 *
 * Memory operands name the scratch buffer absolutely ("ist_buf+32", macro
 * M); the generator is linked -no-pie so that address fits a sign-extended
 * disp32 in 64-bit code. Registers named in a case's ptrs mask hold offsets
 * from M: the runner's caller adds M's address before and subtracts it
 * after, so results compare equal although the buffer lives elsewhere.
 */
#ifndef BTVM_INSNTEST_RUNNER_H
#define BTVM_INSNTEST_RUNNER_H

#include <stdint.h>

#define IST_NREGS    6               /* eax ebx ecx edx esi edi */
#define IST_BUF_SIZE 128
#define IST_M_OFF    32              /* M = ist_buf + 32: room for negative offsets */
#define IST_BUF_WORDS (IST_BUF_SIZE / 4)

/* EFLAGS bits the test controls and compares. */
#define F_CF 0x001
#define F_PF 0x004
#define F_AF 0x010
#define F_ZF 0x040
#define F_SF 0x080
#define F_DF 0x400
#define F_OF 0x800
#define F_ARITH (F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF)
#define F_TESTED (F_ARITH | F_DF)

/* CPU features a case needs (CPUID.1:EDX bits are checked by the guest). */
#define N_NONE 0
#define N_FPU  1
#define N_MMX  2
#define N_SSE  4
#define N_SSE2 8
#define N_CMOV 16

struct ist_state {
    uint32_t r[IST_NREGS];
    uint32_t flags;
};

/* What one run observed (the whole buffer, as little-endian words). */
struct ist_result {
    uint32_t r[IST_NREGS];
    uint32_t flags;
    uint32_t mem[IST_BUF_WORDS];
};

/* The generated table: registers, flags, and the buffer words that differ
 * from the initial pattern (ist_mem_expected[mem_first .. +mem_count]). */
struct ist_expect {
    uint32_t r[IST_NREGS];
    uint16_t flags;
    uint16_t mem_first;
    uint8_t mem_count;
};

struct ist_memword {
    uint8_t word;
    uint32_t val;
};

extern struct ist_state ist_in, ist_out;
extern uint8_t ist_buf[IST_BUF_SIZE];

static const char *const ist_reg_names[IST_NREGS] = { "eax", "ebx", "ecx", "edx", "esi", "edi" };

/* The initial buffer contents: a byte permutation, so every byte differs. */
static inline uint8_t ist_pattern_byte(unsigned i)
{
    return (uint8_t)(i * 0x1d + 0x35);
}

static inline uint32_t ist_pattern_word(unsigned w)
{
    return ist_pattern_byte(4 * w) | (uint32_t)ist_pattern_byte(4 * w + 1) << 8 |
           (uint32_t)ist_pattern_byte(4 * w + 2) << 16 | (uint32_t)ist_pattern_byte(4 * w + 3) << 24;
}

static inline void ist_fill_buf(void)
{
    for (unsigned i = 0; i < IST_BUF_SIZE; i++)
        ist_buf[i] = ist_pattern_byte(i);
}

#define IST_LOADS \
    "movl ist_in+0, %eax\n\tmovl ist_in+4, %ebx\n\tmovl ist_in+8, %ecx\n\t" \
    "movl ist_in+12, %edx\n\tmovl ist_in+16, %esi\n\tmovl ist_in+20, %edi\n\t"
#define IST_STORES \
    "movl %eax, ist_out+0\n\tmovl %ebx, ist_out+4\n\tmovl %ecx, ist_out+8\n\t" \
    "movl %edx, ist_out+12\n\tmovl %esi, ist_out+16\n\tmovl %edi, ist_out+20\n\t"

#if defined(__x86_64__)
/* SysV x86-64: rbx and rbp are callee-saved; the rest of EAX..EDI are not. */
#define IST_PRO \
    "pushq %rbx\n\tpushq %rbp\n\tmovl ist_in+24, %eax\n\tpushq %rax\n\tpopfq\n\t" IST_LOADS
#define IST_EPI \
    "pushfq\n\t" IST_STORES "popq %rax\n\tmovl %eax, ist_out+24\n\tcld\n\t" \
    "popq %rbp\n\tpopq %rbx\n\tret\n\t"
#elif defined(__i386__)
/* cdecl: ebx, esi, edi, ebp are callee-saved. */
#define IST_PRO \
    "pushl %ebx\n\tpushl %esi\n\tpushl %edi\n\tpushl %ebp\n\t" \
    "movl ist_in+24, %eax\n\tpushl %eax\n\tpopfl\n\t" IST_LOADS
#define IST_EPI \
    "pushfl\n\t" IST_STORES "popl %eax\n\tmovl %eax, ist_out+24\n\tcld\n\t" \
    "popl %ebp\n\tpopl %edi\n\tpopl %esi\n\tpopl %ebx\n\tret\n\t"
#else
#error "insntest runs on x86 only"
#endif

/* One function per case; included once per program with CASE defined so. */
#define IST_DEFINE_RUNNER(name, text) \
    void ist_run_##name(void); \
    __asm__(".text\n\t.p2align 4\n\t.globl ist_run_" #name "\n\t.type ist_run_" #name ", @function\n" \
            "ist_run_" #name ":\n\t" IST_PRO "\n\t" text "\n\t" IST_EPI \
            ".size ist_run_" #name ", .-ist_run_" #name "\n\t.previous\n");

/* A case as data: the same table on both sides, from cases.h. */
struct ist_case {
    const char *name;
    void (*run)(void);
    uint32_t mask, ptrs, needs;
    uint32_t in[IST_NREGS];
    uint32_t flags;
};

#define IST_CASE_ENTRY(name, text, mask, ptrs, needs, a, b, c, d, s, di, fl) \
    { #name, ist_run_##name, (mask), (ptrs), (needs), { (a), (b), (c), (d), (s), (di) }, (fl) },

/* Runs one case from a fresh buffer; pointer registers come back as offsets. */
static inline void ist_exec(const struct ist_case *c, struct ist_result *res)
{
    uint32_t base = (uint32_t)(uintptr_t)(ist_buf + IST_M_OFF);
    for (int i = 0; i < IST_NREGS; i++)
        ist_in.r[i] = c->in[i] + ((c->ptrs >> i & 1) ? base : 0);
    ist_in.flags = (c->flags & F_TESTED) | 0x2;
    ist_fill_buf();
    c->run();
    for (int i = 0; i < IST_NREGS; i++)
        res->r[i] = ist_out.r[i] - ((c->ptrs >> i & 1) ? base : 0);
    res->flags = ist_out.flags & F_TESTED;
    for (int i = 0; i < IST_BUF_WORDS; i++) {
        const uint8_t *p = ist_buf + 4 * i;
        res->mem[i] = p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    }
}

#endif
