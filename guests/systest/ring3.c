/*
 * guests/systest/ring3.c — the CPL-3 task: entered by iret with user
 * selectors (RPL 3) and its own stack, it makes int 0x80 system calls
 * (the kernel stack comes from TSS.ESP0) and tries privileged things that
 * must #GP: cli, hlt, mov cr0, loading a DPL-0 data selector, I/O denied by
 * the TSS bitmap, int 0x81 through a DPL-0 gate. It records what it saw in
 * globals (flat user segments reach them) and exits with system call 0;
 * the kernel checks the records afterwards.
 *
 * The privilege transfers that are not interrupts live here too: far calls
 * and jumps through call gates (same level at CPL 0; CPL 3 -> 0 with two parameters
 * copied to the TSS stack and lret $8 back; a DPL-0 gate from CPL 3 must
 * #GP) and SYSENTER/SYSEXIT (CPL 3 -> 0 -> 3; SYSENTER_CS = 0 and SYSEXIT
 * at CPL 3 must #GP(0)).
 *
 * With IOPL 3 (system call 2) CLI, STI and POPF may change IF at CPL 3.
 * int $VEC_RING1 and the SEL_GATE1 call gate go to CPL 1, whose stack
 * TSS.SS1:ESP1 the task sets itself: bad SS1 selectors must raise #TS,
 * a too small stack #SS (btvm-only, like the other limit checks).
 */
#include "systest.h"

enum { R_SYSCALL, R_INT3, R_INT81, R_CLI, R_HLT, R_CR0, R_DS0, R_DS13, R_FS0, R_INB71, R_INW3FE,
       R_GATE0, R_SYSEXIT, R_SYSENTER0, R_CLI3, R_STI, R_TS0, R_TS_LAST = R_TS0 + 4, R_GATE1_SS, R_N };

/* TSS.SS1 values that must make int $VEC_RING1 raise #TS, and the error
 * codes (SDM INT n: null -> #TS(0); RPL or DPL not 1, not a writable data
 * segment, beyond the GDT limit -> #TS(selector)). */
static const struct { uint16_t ss; uint16_t err; const char *what; } ts_case[] = {
    { 0, 0, "TSS.SS1 null" },
    { SEL_KDATA | 1, SEL_KDATA, "TSS.SS1 DPL 0" },
    { SEL_KDATA, SEL_KDATA, "TSS.SS1 RPL 0" },
    { SEL_CODE1 | 1, SEL_CODE1, "TSS.SS1 a code segment" },
    { 0x3f9, 0x3f8, "TSS.SS1 beyond the GDT limit" },
};

static uint8_t user_stack[8192] __attribute__((aligned(16)));
static uint8_t sysenter_stack[1024] __attribute__((aligned(16)));
static struct trap_rec rec[R_N];
static uint32_t rec_n0[R_N], rec_fip[R_N], rec_after[R_N];
/* Global, not static: the asm names them. */
uint32_t u_cs, u_ss, u_ds, u_esp_before, u_sys_ret, u_scratch, u_fl_before, u_fl_after;
uint32_t u_g_esp, u_g_ret, u_g_esp_after, u_g_es, u_g_cs, u_g_ss;
uint32_t u_s_esp, u_s_esp_after, u_s_cs, u_s_ss, u_s_fl;
uint32_t u_fl_cli, u_fl_sti, u_fl_popf0, u_fl_popf1, u_fl_iopl0, u_iopl_n0, u_iopl_n1;
uint32_t u_r1_esp, u_r1_ret, u_r1g_esp, u_r1g_ret;
static uint32_t u_r1int[8]; /* what ring1_int_k saw: ESP, CS, SS, frame */
static volatile uint32_t user_done;

/* Runs at CPL 3, like user_main (which is reached only through iret). */
static void snap(int k, uint32_t n0)
{
    rec_n0[k] = n0;
    rec[k].count = last.count;
    rec[k].vec = last.vec;
    rec[k].err = last.err;
    rec[k].eip = last.eip;
    rec[k].cs = last.cs;
    rec[k].eflags = last.eflags;
    rec[k].uesp = last.uesp;
    rec[k].uss = last.uss;
    rec[k].frame_end = last.frame_end;
    rec_fip[k] = t_fip;
    rec_after[k] = t_after;
}

#define TRY(k, body, ...) do { uint32_t n0_ = last.count; \
        __asm__ volatile(ARM "1:\t" body "\n2:" : : __VA_ARGS__); snap(k, n0_); } while (0)

static void __attribute__((noinline, used)) user_main(void)
{
    uint32_t n0, r;
    __asm__ volatile("movl %%cs, %0\n\tmovl %%ss, %1\n\tmovl %%ds, %2" : "=r"(u_cs), "=r"(u_ss), "=r"(u_ds));

    n0 = last.count;
    __asm__ volatile("movl %%esp, u_esp_before\n\tmovl $1, %%eax\n\tmovl $41, %%ebx\n\t" ARM
                     "1:\tint $0x80\n2:" : "=a"(r) : : "ebx", "memory");
    u_sys_ret = r;
    snap(R_SYSCALL, n0);

    TRY(R_INT3, "int3", "a"(0) : "memory");
    TRY(R_INT81, "int $0x81", "a"(0) : "memory");
    TRY(R_CLI, "cli", "a"(0) : "memory");
    TRY(R_HLT, "hlt", "a"(0) : "memory");
    TRY(R_CR0, "movl %%cr0, %%eax", "a"(0) : "memory");
    /* If the load wrongly succeeds, the user data selector goes back. */
    TRY(R_DS0, "movw %%ax, %%ds\n2:\tmovl $0x23, %%eax\n\tmovw %%ax, %%ds\n3:", "a"(SEL_KDATA) : "memory");
    TRY(R_DS13, "movw %%ax, %%ds\n2:\tmovl $0x23, %%eax\n\tmovw %%ax, %%ds\n3:", "a"(SEL_KDATA | 3) : "memory");
    /* FS too (btvm loads FS from a memo of descriptors it loaded, here
     * 0x10 at CPL 0: that must not carry over to CPL 3). */
    TRY(R_FS0, "movw %%ax, %%fs\n2:\txorl %%eax, %%eax\n\tmovw %%ax, %%fs\n3:", "a"(SEL_KDATA) : "memory");
    TRY(R_INB71, "inb $0x71, %%al", "a"(0) : "memory");
    TRY(R_INW3FE, "inw %%dx, %%ax", "a"(0), "d"(0x3fe) : "memory");
    /* Allowed by the bitmap: the UART scratch register at 0x3ff. */
    __asm__ volatile("movb $0x5a, %%al\n\toutb %%al, %%dx\n\tmovb $0, %%al\n\tinb %%dx, %%al\n\t"
                     "movzbl %%al, %%eax\n\tmovl %%eax, u_scratch" : : "d"(0x3ff) : "eax", "memory");

    /* popf at CPL 3 > IOPL: IF and IOPL keep their values, CF changes. */
    __asm__ volatile("pushfl\n\tpopl %%eax\n\tmovl %%eax, u_fl_before\n\t"
                     "andl $~0x200, %%eax\n\torl $0x3001, %%eax\n\tpushl %%eax\n\tpopfl\n\t"
                     "pushfl\n\tpopl u_fl_after\n\tclc" : : : "eax", "memory", "cc");

    TRY(R_STI, "sti", "a"(0) : "memory");

    /* IOPL 3 (system call 2): CLI, STI and POPF change IF at CPL 3, POPF
     * still leaves IOPL alone; then back to IOPL 0. */
    __asm__ volatile("int $0x80" : : "a"(2), "b"(3) : "memory");
    u_iopl_n0 = last.count;
    __asm__ volatile("cli\n\tpushfl\n\tpopl u_fl_cli\n\t"
                     "sti\n\tpushfl\n\tpopl u_fl_sti\n\t"
                     "pushfl\n\tandl $~0x3200, (%%esp)\n\tpopfl\n\tpushfl\n\tpopl u_fl_popf0\n\t"
                     "pushfl\n\torl $0x200, (%%esp)\n\tpopfl\n\tpushfl\n\tpopl u_fl_popf1"
                     : : : "memory", "cc");
    u_iopl_n1 = last.count;
    __asm__ volatile("int $0x80\n\tpushfl\n\tpopl u_fl_iopl0" : : "a"(2), "b"(0) : "memory");

    /* int $VEC_RING1 switches to TSS.SS1:ESP1: bad SS1 values raise #TS
     * (delivered at CPL 0 through TSS.SS0), a good one reaches CPL 1. */
    for (unsigned i = 0; i < sizeof(ts_case) / sizeof(ts_case[0]); i++) {
        tss_set_ring1(ts_case[i].ss, sizeof(stk1_buf));
        n0 = last.count;
        __asm__ volatile(ARM "1:\tint $0x82\n2:" : : : "eax", "ecx", "memory");
        snap(R_TS0 + (int)i, n0);
    }
    tss_set_ring1(SEL_STK1 | 1, sizeof(stk1_buf));
    __asm__ volatile("movl %%esp, u_r1_esp\n\tmovl $1f, u_r1_ret\n\tint $0x82\n1:"
                     : : : "eax", "ecx", "memory");
    u_r1int[0] = r1_esp;
    u_r1int[1] = r1_cs;
    u_r1int[2] = r1_ss;
    for (int i = 0; i < 5; i++)
        u_r1int[3 + i] = r1_frame[i];
    /* The call gate to CPL 1 (no parameters), then one whose new stack
     * has 12 bytes where 16 are needed: #SS(SS1). QEMU's TCG does not
     * check stack room, so that one is btvm-only. */
    __asm__ volatile("movl %%esp, u_r1g_esp\n\tmovl $1f, u_r1g_ret\n\tlcall $0x88, $0\n1:"
                     : : : "eax", "ecx", "memory");
    if (opt_limits) {
        tss_set_ring1(SEL_STK1 | 1, 12);
        n0 = last.count;
        __asm__ volatile(ARM "1:\tlcall $0x88, $0\n2:" : : : "eax", "ecx", "memory");
        snap(R_GATE1_SS, n0);
        tss_set_ring1(SEL_STK1 | 1, sizeof(stk1_buf));
    }

    /* Call gate to CPL 0 with two parameters; gate_k sets ES to the kernel
     * data selector, which the return to CPL 3 must null. */
    __asm__ volatile("pushl $0x2222\n\tpushl $0x1111\n\tmovl %%esp, u_g_esp\n\tmovl $1f, u_g_ret\n\t"
                     "lcall $0x5b, $0\n"
                     "1:\tmovl %%esp, u_g_esp_after\n\tmovl %%es, %%eax\n\tmovl %%eax, u_g_es\n\t"
                     "movl %%cs, %%eax\n\tmovl %%eax, u_g_cs\n\tmovl %%ss, %%eax\n\tmovl %%eax, u_g_ss\n\t"
                     "movl $0x23, %%eax\n\tmovw %%ax, %%es"
                     : : : "eax", "ecx", "memory");
    TRY(R_GATE0, "lcall $0x50, $0", "a"(0) : "memory");
    /* If sysexit wrongly works at CPL 3 it lands after itself. */
    n0 = last.count;
    __asm__ volatile("movl %%esp, %%ecx\n\tmovl $2f, %%edx\n\t" ARM "1:\tsysexit\n2:"
                     : : : "ecx", "edx", "memory");
    snap(R_SYSEXIT, n0);
    /* SYSENTER_CS = 0 (system call 3 sets the MSR): #GP(0) at CPL 3. */
    __asm__ volatile("int $0x80" : : "a"(3), "b"(0) : "memory");
    TRY(R_SYSENTER0, "sysenter", "a"(0) : "memory");
    __asm__ volatile("int $0x80" : : "a"(3), "b"(SEL_KCODE) : "memory");
    /* Last: SYSENTER clears IF and SYSEXIT leaves it clear; the arithmetic
     * flags (CF ZF PF OF from the ADD) go through both; CLI after it must
     * #GP (CPL 3 again, IOPL 0). */
    __asm__ volatile("movl %%esp, u_s_esp\n\tmovl %%esp, %%ecx\n\tmovl $1f, %%edx\n\t"
                     "movl $0x80000000, %%eax\n\taddl %%eax, %%eax\n\tsysenter\n"
                     "1:\tpushfl\n\tpopl u_s_fl\n\tmovl %%esp, u_s_esp_after\n\tmovl %%cs, %%eax\n\tmovl %%eax, u_s_cs\n\t"
                     "movl %%ss, %%eax\n\tmovl %%eax, u_s_ss"
                     : : : "eax", "ecx", "edx", "memory", "cc");
    TRY(R_CLI3, "cli", "a"(0) : "memory");

    user_done = 1;
    __asm__ volatile("xorl %%eax, %%eax\n\tint $0x80" : : : "memory");
    for (;;)
        ;
}

static void expect_rec(const char *what, int k, uint32_t vec, uint32_t err, uint32_t eip)
{
    struct trap_rec *t = &rec[k];
    if (t->count != rec_n0[k] + 1) {
        fail("%s: %u traps, expected 1 (vector %x)", what, t->count - rec_n0[k], vec);
        return;
    }
    if (t->vec != vec || t->err != err || t->eip != eip || t->cs != SEL_UCODE || t->uss != SEL_UDATA)
        fail("%s: got vector %x err %x eip %x cs %x ss %x, expected vector %x err %x eip %x cs %x ss %x",
             what, t->vec, t->err, t->eip, t->cs, t->uss, vec, err, eip, SEL_UCODE, SEL_UDATA);
}

static uint64_t call_gate_to(uint16_t sel, void (*fn)(void), unsigned dpl, unsigned nparam)
{
    uint32_t off = (uint32_t)(uintptr_t)fn;
    return (off & 0xffff) | (uint64_t)sel << 16 | (uint64_t)(nparam & 31) << 32 |
           (uint64_t)(0x8c | dpl << 5) << 40 | (uint64_t)(off >> 16) << 48;
}

static uint64_t call_gate(void (*fn)(void), unsigned dpl, unsigned nparam)
{
    return call_gate_to(SEL_KCODE, fn, dpl, nparam);
}

static void wrmsr(uint32_t msr, uint32_t v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"(v), "d"(0) : "memory");
}

/* Kernel side: call gate at the same level, SYSENTER with SYSENTER_CS = 0. */
static void run_cpl0_gate_tests(void)
{
    uint32_t esp0, esp1, es1, n0;
    gdt[SEL_GATE0 >> 3] = call_gate(gate_k, 0, 2);
    gdt[SEL_GATE3 >> 3] = call_gate(gate_k, 3, 2);
    gdt[SEL_GATE1 >> 3] = call_gate_to(SEL_CODE1, ring1_gate_k, 3, 0);

    begin("call_gate_same");
    g_cs = g_ss = 0;
    __asm__ volatile("pushl $0x2222\n\tpushl $0x1111\n\tmovl %%esp, %0\n\tmovl $1f, u_g_ret\n\t"
                     "lcall $0x50, $0\n"
                     "1:\tmovl %%esp, %1\n\tmovl %%es, %2"
                     : "=&r"(esp0), "=&r"(esp1), "=&r"(es1) : : "eax", "ecx", "memory");
    expect("CS in the target", SEL_KCODE, g_cs & 0xffff);
    expect("SS in the target (no stack switch)", SEL_KDATA, g_ss & 0xffff);
    expect("ESP in the target", esp0 - 8, g_esp);
    expect("pushed EIP", u_g_ret, g_frame[0]);
    expect("pushed CS", SEL_KCODE, g_frame[1] & 0xffff);
    expect("parameter 0 in place", 0x1111, g_frame[2]);
    expect("parameter 1 in place", 0x2222, g_frame[3]);
    expect("ESP after lret $8", esp0 + 8, esp1);
    expect("ES kept at the same level", SEL_KDATA, es1 & 0xffff);
    /* JMP through the gate pushes nothing: gate_k's lret uses the frame
     * pushed here by hand. */
    g_cs = 0;
    __asm__ volatile("pushl $0x2222\n\tpushl $0x1111\n\tpushl $0x08\n\tpushl $1f\n\t"
                     "movl %%esp, %0\n\tljmp $0x50, $0\n"
                     "1:\tmovl %%esp, %1"
                     : "=&r"(esp0), "=&r"(esp1) : : "eax", "ecx", "memory");
    expect("CS in the target (jmp)", SEL_KCODE, g_cs & 0xffff);
    expect("ESP in the target (jmp pushes nothing)", esp0, g_esp);
    expect("ESP after lret $8 (jmp)", esp0 + 16, esp1);
    end();

    begin("sysenter_gp");
    wrmsr(0x174, 0);
    n0 = last.count;
    __asm__ volatile(ARM "1:\tsysenter\n2:" : : : "memory");
    expect_trap("sysenter with SYSENTER_CS = 0", n0, 13, 0, t_fip, SEL_KCODE);
    end();

    wrmsr(0x174, SEL_KCODE);
    wrmsr(0x175, (uint32_t)(uintptr_t)(sysenter_stack + sizeof(sysenter_stack)));
    wrmsr(0x176, (uint32_t)(uintptr_t)sysenter_k);
}

static void check_ring3_gate_tests(void)
{
    uint32_t ktop = (uint32_t)(uintptr_t)(kstack + sizeof(kstack));
    begin("call_gate_ring3");
    expect("CS in the target", SEL_KCODE, g_cs & 0xffff);
    expect("SS from TSS.SS0", SEL_KDATA, g_ss & 0xffff);
    expect("ESP from TSS.ESP0 minus 6 dwords", ktop - 24, g_esp);
    expect("pushed EIP", u_g_ret, g_frame[0]);
    expect("pushed CS", SEL_UCODE, g_frame[1] & 0xffff);
    expect("parameter 0 copied", 0x1111, g_frame[2]);
    expect("parameter 1 copied", 0x2222, g_frame[3]);
    expect("pushed caller ESP", u_g_esp, g_frame[4]);
    expect("pushed caller SS", SEL_UDATA, g_frame[5] & 0xffff);
    expect("CS after lret $8", SEL_UCODE, u_g_cs & 0xffff);
    expect("SS after lret $8", SEL_UDATA, u_g_ss & 0xffff);
    expect("ESP after lret $8 (parameters dropped)", u_g_esp + 8, u_g_esp_after);
    expect("ES (kernel data) nulled on the return to CPL 3", 0, u_g_es & 0xffff);
    end();

    begin("call_gate_gp");
    expect_rec("lcall through the DPL-0 gate at CPL 3", R_GATE0, 13, SEL_GATE0, rec_fip[R_GATE0]);
    end();

    begin("sysenter");
    expect("CS after sysenter", SEL_KCODE, s_cs & 0xffff);
    expect("SS after sysenter", SEL_KDATA, s_ss & 0xffff);
    expect("ESP = SYSENTER_ESP", (uint32_t)(uintptr_t)(sysenter_stack + sizeof(sysenter_stack)), s_esp);
    expect("IF cleared", 0, s_fl & 0x200);
    expect("CS after sysexit (CPL 3)", SEL_UCODE, u_s_cs & 0xffff);
    expect("SS after sysexit", SEL_UDATA, u_s_ss & 0xffff);
    expect("ESP = ECX after sysexit", u_s_esp, u_s_esp_after);
    expect_rec("sysexit at CPL 3", R_SYSEXIT, 13, 0, rec_fip[R_SYSEXIT]);
    expect("CF ZF PF OF into the kernel", 0x845, s_fl & 0x8d5);
    expect("CF ZF PF OF back after sysexit, IF clear", 0x845, u_s_fl & 0xad5);
    expect_rec("sysenter with SYSENTER_CS = 0 at CPL 3", R_SYSENTER0, 13, 0, rec_fip[R_SYSENTER0]);
    expect_rec("cli after sysexit (CPL 3, IOPL 0)", R_CLI3, 13, 0, rec_fip[R_CLI3]);
    end();
}

static void check_ring3_iopl_tests(void)
{
    begin("ring3_iopl");
    expect_rec("sti at IOPL 0", R_STI, 13, 0, rec_fip[R_STI]);
    expect("traps with IOPL 3", 0, u_iopl_n1 - u_iopl_n0);
    expect("IF after cli (IOPL 3)", 0, u_fl_cli & 0x200);
    expect("IF after sti (IOPL 3)", 0x200, u_fl_sti & 0x200);
    expect("IF after popf clearing it (IOPL 3)", 0, u_fl_popf0 & 0x200);
    expect("IOPL after popf clearing it", 0x3000, u_fl_popf0 & 0x3000);
    expect("IF after popf setting it (IOPL 3)", 0x200, u_fl_popf1 & 0x200);
    expect("IOPL back to 0", 0, u_fl_iopl0 & 0x3000);
    end();

    begin("ring3_ts");
    for (unsigned i = 0; i < sizeof(ts_case) / sizeof(ts_case[0]); i++)
        expect_rec(ts_case[i].what, R_TS0 + (int)i, 10, ts_case[i].err, rec_fip[R_TS0 + i]);
    end();

    begin("ring1_int");
    expect("CS at CPL 1", SEL_CODE1 | 1, u_r1int[1] & 0xffff);
    expect("SS from TSS.SS1", SEL_STK1 | 1, u_r1int[2] & 0xffff);
    expect("ESP from TSS.ESP1 minus 5 dwords", sizeof(stk1_buf) - 20, u_r1int[0]);
    expect("pushed EIP", u_r1_ret, u_r1int[3]);
    expect("pushed CS", SEL_UCODE, u_r1int[4] & 0xffff);
    expect("pushed EFLAGS.IF (trap gate)", 0x200, u_r1int[5] & 0x200);
    expect("pushed ESP", u_r1_esp, u_r1int[6]);
    expect("pushed SS", SEL_UDATA, u_r1int[7] & 0xffff);
    end();

    begin("ring1_gate");
    expect("CS at CPL 1", SEL_CODE1 | 1, r1_cs & 0xffff);
    expect("SS from TSS.SS1", SEL_STK1 | 1, r1_ss & 0xffff);
    expect("ESP from TSS.ESP1 minus 4 dwords", sizeof(stk1_buf) - 16, r1_esp);
    expect("pushed EIP", u_r1g_ret, r1_frame[0]);
    expect("pushed CS", SEL_UCODE, r1_frame[1] & 0xffff);
    expect("pushed ESP", u_r1g_esp, r1_frame[2]);
    expect("pushed SS", SEL_UDATA, r1_frame[3] & 0xffff);
    end();

    if (opt_limits) {
        begin("gate_ss");
        expect_rec("lcall to CPL 1 with 12 bytes of new stack", R_GATE1_SS, 12, SEL_STK1,
                   rec_fip[R_GATE1_SS]);
        end();
    }
}

void run_ring3_tests(void)
{
    uint32_t top = (uint32_t)(uintptr_t)(user_stack + sizeof(user_stack));
    for (int k = 0; k < R_N; k++)
        rec_n0[k] = rec[k].count = 0xdead;
    run_cpl0_gate_tests();
    g_cs = g_ss = s_cs = s_ss = 0;
    enter_user((uint32_t)(uintptr_t)user_main, top - 16, 0x202);
    t_resume = 0;

    uint32_t cs, ds, ss;
    __asm__ volatile("movl %%cs, %0\n\tmovl %%ds, %1\n\tmovl %%ss, %2" : "=r"(cs), "=r"(ds), "=r"(ss));

    begin("ring3_enter");
    expect("user task finished", 1, user_done);
    expect("CS seen at CPL 3", SEL_UCODE, u_cs & 0xffff);
    expect("SS seen at CPL 3", SEL_UDATA, u_ss & 0xffff);
    expect("DS seen at CPL 3", SEL_UDATA, u_ds & 0xffff);
    expect("kernel CS after return", SEL_KCODE, cs & 0xffff);
    expect("kernel DS after return", SEL_KDATA, ds & 0xffff);
    expect("kernel SS after return", SEL_KDATA, ss & 0xffff);
    end();

    begin("ring3_syscall");
    expect_rec("int 0x80", R_SYSCALL, VEC_SYSCALL, 0, rec_after[R_SYSCALL]);
    expect("syscall result (41+1)", 42, u_sys_ret);
    expect("pushed user ESP", u_esp_before, rec[R_SYSCALL].uesp);
    expect("kernel frame ends at TSS.ESP0", (uint32_t)(uintptr_t)(kstack + sizeof(kstack)),
           rec[R_SYSCALL].frame_end);
    expect("pushed EFLAGS.IF", 0x200, rec[R_SYSCALL].eflags & 0x200);
    end();

    begin("ring3_gp");
    expect_rec("cli", R_CLI, 13, 0, rec_fip[R_CLI]);
    expect_rec("hlt", R_HLT, 13, 0, rec_fip[R_HLT]);
    expect_rec("mov cr0, eax", R_CR0, 13, 0, rec_fip[R_CR0]);
    expect_rec("DS <- 0x10", R_DS0, 13, SEL_KDATA, rec_fip[R_DS0]);
    expect_rec("DS <- 0x13", R_DS13, 13, SEL_KDATA, rec_fip[R_DS13]);
    expect_rec("FS <- 0x10", R_FS0, 13, SEL_KDATA, rec_fip[R_FS0]);
    end();

    begin("ring3_io");
    expect_rec("inb 0x71 (denied)", R_INB71, 13, 0, rec_fip[R_INB71]);
    expect_rec("inw 0x3fe (0x3fe denied, 0x3ff allowed)", R_INW3FE, 13, 0, rec_fip[R_INW3FE]);
    expect("UART scratch through allowed port 0x3ff", 0x5a, u_scratch);
    end();

    begin("ring3_int");
    expect_rec("int3 (DPL 3 gate)", R_INT3, 3, 0, rec_after[R_INT3]);
    expect_rec("int 0x81 (DPL 0 gate)", R_INT81, 13, VEC_PRIV * 8 + 2, rec_fip[R_INT81]);
    end();

    begin("ring3_popf");
    expect("IF before", 0x200, u_fl_before & 0x200);
    expect("IOPL before", 0, u_fl_before & 0x3000);
    expect("IF after popf clearing it", 0x200, u_fl_after & 0x200);
    expect("IOPL after popf setting 3", 0, u_fl_after & 0x3000);
    expect("CF after popf setting it", 1, u_fl_after & 1);
    end();

    check_ring3_gate_tests();
    check_ring3_iopl_tests();
}
