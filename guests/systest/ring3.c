/*
 * guests/systest/ring3.c — the CPL-3 task: entered by iret with user
 * selectors (RPL 3) and its own stack, it makes int 0x80 system calls
 * (the kernel stack comes from TSS.ESP0) and tries privileged things that
 * must #GP: cli, hlt, mov cr0, loading a DPL-0 data selector, I/O denied by
 * the TSS bitmap, int 0x81 through a DPL-0 gate. It records what it saw in
 * globals (flat user segments reach them) and exits with system call 0;
 * the kernel checks the records afterwards.
 */
#include "systest.h"

enum { R_SYSCALL, R_INT3, R_INT81, R_CLI, R_HLT, R_CR0, R_DS0, R_DS13, R_INB71, R_INW3FE, R_N };

static uint8_t user_stack[8192] __attribute__((aligned(16)));
static struct trap_rec rec[R_N];
static uint32_t rec_n0[R_N], rec_fip[R_N], rec_after[R_N];
/* Global, not static: the asm names them. */
uint32_t u_cs, u_ss, u_ds, u_esp_before, u_sys_ret, u_scratch, u_fl_before, u_fl_after;
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
    TRY(R_INB71, "inb $0x71, %%al", "a"(0) : "memory");
    TRY(R_INW3FE, "inw %%dx, %%ax", "a"(0), "d"(0x3fe) : "memory");
    /* Allowed by the bitmap: the UART scratch register at 0x3ff. */
    __asm__ volatile("movb $0x5a, %%al\n\toutb %%al, %%dx\n\tmovb $0, %%al\n\tinb %%dx, %%al\n\t"
                     "movzbl %%al, %%eax\n\tmovl %%eax, u_scratch" : : "d"(0x3ff) : "eax", "memory");

    /* popf at CPL 3 > IOPL: IF and IOPL keep their values, CF changes. */
    __asm__ volatile("pushfl\n\tpopl %%eax\n\tmovl %%eax, u_fl_before\n\t"
                     "andl $~0x200, %%eax\n\torl $0x3001, %%eax\n\tpushl %%eax\n\tpopfl\n\t"
                     "pushfl\n\tpopl u_fl_after\n\tclc" : : : "eax", "memory", "cc");

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

void run_ring3_tests(void)
{
    uint32_t top = (uint32_t)(uintptr_t)(user_stack + sizeof(user_stack));
    for (int k = 0; k < R_N; k++)
        rec_n0[k] = rec[k].count = 0xdead;
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
}
