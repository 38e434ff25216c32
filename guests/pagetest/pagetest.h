/*
 * guests/pagetest/pagetest.h — what the parts of pagetest share: the GDT
 * selectors, the paging-structure bits, the physical memory plan, the
 * trap frame and the record of the last trap, the fault fixup, the
 * CPL-3 runner, the page-table helpers (mmu.c) and the per-test reporting.
 */
#ifndef PAGETEST_H
#define PAGETEST_H

#include "guest.h"

#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UCODE 0x1b
#define SEL_UDATA 0x23
#define SEL_TSS   0x28

#define PAGE    4096u
#define PG_P    0x001u
#define PG_W    0x002u
#define PG_U    0x004u
#define PG_A    0x020u
#define PG_D    0x040u
#define PG_PS   0x080u
#define PG_G    0x100u
#define PG_FRAME 0xfffff000u

/* #PF error code bits (SDM vol. 3 4.7). */
#define PF_P    0x01u
#define PF_W    0x02u
#define PF_U    0x04u
#define PF_ID   0x10u

#define CR0_WP  0x00010000u
#define CR0_PG  0x80000000u
#define CR4_PSE 0x00000010u
#define CR4_PAE 0x00000020u
#define CR4_PGE 0x00000080u

/* Physical memory plan (needs 16 MiB): the kernel image sits at 1 MiB and
 * is far smaller than 3 MiB; page frames come from POOL; the pse test's
 * 4 MiB page and the pae test's 2 MiB page are fixed, aligned frames above
 * the identity map, so only paging can reach them. */
#define POOL_BASE  0x00400000u
#define POOL_END   0x00800000u
#define IDENT_END  0x00800000u   /* kpd maps [0, IDENT_END) 1:1 */
#define BIG4M_PHYS 0x00800000u
#define BIG2M_PHYS 0x00c00000u
#define MEM_NEEDED 0x01000000u
/* Test linear addresses start here (never identity mapped). */
#define TEST_VA    0x40000000u

/* Built by trap_common (stubs.S); uesp/uss only exist for traps from CPL 3. */
struct frame {
    uint32_t es, ds;
    uint32_t edi, esi, ebp, esp_unused, ebx, edx, ecx, eax;
    uint32_t vec, err;
    uint32_t eip, cs, eflags;
    uint32_t uesp, uss;
};

struct trap_rec {
    uint32_t count, vec, err, cr2, eip, cs, ecx, esi, edi, uesp;
};
extern volatile struct trap_rec last;

/* Fixup: a test arms the instruction between local labels 1 and 2; a
 * fault there (the hook declining) resumes at 2. t_fip = its address. */
extern volatile uint32_t t_fip, t_resume;
#define ARM "movl $1f, t_fip\n\tmovl $2f, t_resume\n\t"
/* Called first for every #PF; returning 1 retries the faulting instruction. */
extern int (*volatile pf_hook)(struct frame *f);

#include "report.h" /* begin(), expect()/fail(), end() */
void skip(const char *name, const char *why);
/* Exactly one new #PF since count0 with this error code, CR2 and EIP. */
void expect_pf(const char *what, uint32_t count0, uint32_t err, uint32_t cr2, uint32_t eip);
void expect_no_trap(const char *what, uint32_t count0);

/* CPL 3: runs fn on the user stack (or at esp) until it does USER_EXIT. */
void run_user(void (*fn)(void));
void run_user_at(void (*fn)(void), uint32_t esp);
#define USER_EXIT "xorl %%eax, %%eax\n\tint $0x80"   /* for extended asm */
/* One 32-bit access at CPL 3 (armed; a fault skips it); returns the value
 * read, or `val` if it faulted. */
uint32_t user_read(uint32_t va, uint32_t val);
void user_write(uint32_t va, uint32_t val);

/* Armed 32-bit accesses at CPL 0; a read that faults returns `poison`. */
static inline uint32_t k_read(uint32_t va, uint32_t poison)
{
    uint32_t v = poison;
    __asm__ volatile(ARM "1:\tmovl (%1), %0\n2:" : "+r"(v) : "r"(va) : "memory");
    t_resume = 0;
    return v;
}

static inline void k_write(uint32_t va, uint32_t v)
{
    __asm__ volatile(ARM "1:\tmovl %1, (%0)\n2:" : : "r"(va), "r"(v) : "memory");
    t_resume = 0;
}

static inline uint32_t peek(uint32_t a) { return *(volatile uint32_t *)(uintptr_t)a; }
static inline void poke(uint32_t a, uint32_t v) { *(volatile uint32_t *)(uintptr_t)a = v; }

/* ---- control registers, TLB, CPUID, MSRs ---- */
#define CR_ACCESSORS(n) \
    static inline uint32_t get_cr##n(void) { uint32_t v; __asm__ volatile("movl %%cr" #n ", %0" : "=r"(v)); return v; } \
    static inline void set_cr##n(uint32_t v) { __asm__ volatile("movl %0, %%cr" #n : : "r"(v) : "memory"); }
CR_ACCESSORS(0)
CR_ACCESSORS(2)
CR_ACCESSORS(3)
CR_ACCESSORS(4)

static inline void invlpg(uint32_t va)
{
    __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

static inline void flush_tlb(void) { set_cr3(get_cr3()); }

static inline void cpuid(uint32_t leaf, uint32_t r[4])
{
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(0));
}

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (uint64_t)hi << 32 | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

/* ---- mmu.c: frames and 32-bit (non-PAE) page tables ---- */
extern uint32_t *kpd;                       /* the kernel's page directory */
uint32_t frame_alloc(void);                 /* a zeroed 4 KiB frame (identity mapped) */
void frame_fill(uint32_t pa, uint32_t tag); /* word i = tag + i */
uint32_t va_alloc(uint32_t pages);          /* fresh test linear range, never reused */
uint32_t va_alloc_pde(void);                /* fresh 4 MiB-aligned range with no PDE yet */
uint32_t *new_pd(void);                     /* a directory sharing the kernel's identity map */
uint32_t *pte_of(uint32_t *pd, uint32_t va); /* creates the page table (P|W|U PDE) */
void map(uint32_t *pd, uint32_t va, uint32_t pa, uint32_t flags);
void paging_build_kernel(void);             /* kpd: [0, IDENT_END) 1:1, P|W|U */

/* the tests */
void test_enable(void);
void test_demand(void);
void test_protect(void);
void test_cow(void);
void test_cross(void);
void test_ptemod(void);
void test_accessed_dirty(void);
void test_global(void);
void test_as16(void);
void test_alias(void);
void test_pt_write(void);
void test_pt_rmw(void);
void test_smc(void);
void test_xmc(void);
void test_shared_fault(void);
void test_pse(void);
void test_kview(void);
void test_pae(void);

/* stubs.S */
extern const uint32_t stub_table[], stub_table_end[];
void reload_segments(void);
void enter_user(uint32_t eip, uint32_t esp, uint32_t eflags);
void leave_user(void) __attribute__((noreturn));

#endif
