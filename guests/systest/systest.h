/*
 * guests/systest/systest.h — what the parts of systest share: the GDT
 * selectors, the trap frame the asm stubs build, the record of the last
 * trap, the fault-fixup globals and the per-test pass/fail reporting.
 */
#ifndef SYSTEST_H
#define SYSTEST_H

#include "guest.h"
#include "code16.h"

#define SEL_KCODE  0x08
#define SEL_KDATA  0x10
#define SEL_UCODE  0x1b   /* GDT 3, RPL 3 */
#define SEL_UDATA  0x23   /* GDT 4, RPL 3 */
#define SEL_TSS    0x28
#define SEL_NP     0x30   /* data segment, not present */
#define SEL_SMALL  0x38   /* expand-up data, base lim_buf, limit 15 */
#define SEL_EXPDN  0x40   /* expand-down data, base lim_buf, limit 15 */
#define SEL_SSLIM  0x48   /* stack segment with a page-granular limit */
#define SEL_GATE0  0x50   /* 32-bit call gate, DPL 0, 2 parameters, to gate_k */
#define SEL_GATE3  0x58   /* 32-bit call gate, DPL 3, 2 parameters, to gate_k */
/* 0x60-0x70: the code16 test's 16-bit segments, see code16.h */
#define SEL_CODE1  0x78   /* flat code, DPL 1: the ring-1 targets below */
#define SEL_STK1   0x80   /* data, DPL 1, base stk1_buf: TSS.SS1 for the ring-1 tests */
#define SEL_GATE1  0x88   /* 32-bit call gate, DPL 3, no parameters, to ring1_gate_k */
#define GDT_ENTRIES 18

#define VEC_IRQ0    0x20
#define VEC_SYSCALL 0x80
#define VEC_PRIV    0x81  /* DPL 0 gate: int 0x81 at CPL 3 must #GP */
#define VEC_RING1   0x82  /* DPL 3 trap gate to ring1_int_k (CPL 1) */

/* Built by trap_common (stubs.S); uesp/uss only exist for traps from CPL 3. */
struct frame {
    uint32_t es, ds;
    uint32_t edi, esi, ebp, esp_unused, ebx, edx, ecx, eax;
    uint32_t vec, err;
    uint32_t eip, cs, eflags;
    uint32_t uesp, uss;
};

struct trap_rec {
    uint32_t count, vec, err, eip, cs, eflags, uesp, uss, frame_end;
};

extern volatile struct trap_rec last;
/* Set by a test right before a faulting instruction (labels 1: and 2:
 * around it): t_fip = its address, t_after = the next one; t_resume is
 * where the handler continues (consumed by the handler). */
extern volatile uint32_t t_fip, t_after, t_resume;
/* Arms the fixup for the instruction between local labels 1 and 2. */
#define ARM "movl $1f, t_fip\n\tmovl $2f, t_after\n\tmovl $2f, t_resume\n\t"

extern uint64_t gdt[GDT_ENTRIES];
extern uint8_t lim_buf[64];
extern uint8_t stk1_buf[256];
/* Set by guest_main: the btvm-only checks QEMU's TCG skips are on. */
extern int opt_limits;
extern uint8_t kstack[8192];
extern volatile uint32_t ticks, irq_isr_in, irq_isr_after, irq_cs, irq_eflags, irq_sampled;

/* stubs.S */
extern const uint32_t stub_table[], stub_table_end[];
void reload_segments(void);
void enter_user(uint32_t eip, uint32_t esp, uint32_t eflags);
void leave_user(void) __attribute__((noreturn));
void gate_k(void);
void sysenter_k(void);
/* What gate_k and sysenter_k saw. */
extern volatile uint32_t g_esp, g_cs, g_ss, g_frame[6], s_esp, s_cs, s_ss, s_fl;
/* CPL-1 targets of int $VEC_RING1 (iret) and of SEL_GATE1 (lret): they
 * record CS, SS, ESP and the return frame above ESP (5 or 4 dwords). */
void ring1_int_k(void);
void ring1_gate_k(void);
extern volatile uint32_t r1_esp, r1_cs, r1_ss, r1_frame[5];
/* TSS.SS1:ESP1 (systest.c). */
void tss_set_ring1(uint16_t ss, uint32_t esp);
/* code16.S: far-calls the 16-bit routine at c16_start (IF clear meanwhile). */
void code16_run(void);
extern const char c16_start[], c16_ret32[];
extern uint8_t c16_data[C16_DATA_SIZE], c16_guard[16], c16_stack[0x11000];

#include "report.h" /* begin(), expect()/fail(), end() */
/* The last trap must be exactly one new trap with these values. */
void expect_trap(const char *what, uint32_t count0, uint32_t vec, uint32_t err, uint32_t eip,
                 uint32_t cs);

void run_ring3_tests(void);
void pic_setup(void);
void run_rtc_test(void);
void run_irq_tests(void);

#endif
