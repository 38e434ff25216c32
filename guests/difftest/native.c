/*
 * guests/difftest/native.c — the reference side (docs/difftest.md): the
 * same generator and runner as the guest, in a static 32-bit Linux program
 * with no libc, so the host CPU executes every sequence at CPL 3 with the
 * selectors the guest copies (CS 0x23, DS 0x2b). Arguments are the guest's
 * command-line words: "seed=1 count=20000 mode=b".
 */
#include "dt.h"

static int32_t sys3(uint32_t nr, uint32_t a, uint32_t b, uint32_t c)
{
    int32_t r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
    return r;
}

static int32_t sys_mmap2(uint32_t addr, uint32_t len, uint32_t prot, uint32_t flags)
{
    int32_t r;
    /* mmap2(addr, len, prot, flags, fd=-1, pgoff=0); EBP is the sixth argument. */
    __asm__ volatile("pushl %%ebp\n\txorl %%ebp, %%ebp\n\tint $0x80\n\tpopl %%ebp"
                     : "=a"(r) : "a"(192), "b"(addr), "c"(len), "d"(prot), "S"(flags), "D"(-1) : "memory");
    return r;
}

void dt_plat_write(const char *s, uint32_t n)
{
    while (n) {
        int32_t w = sys3(4, 1, (uint32_t)(uintptr_t)s, n);
        if (w <= 0)
            break;
        s += w;
        n -= (uint32_t)w;
    }
}

static void die(const char *m)
{
    uint32_t n = 0;
    while (m[n]) n++;
    sys3(4, 2, (uint32_t)(uintptr_t)m, n);
    sys3(252, 2, 0, 0); /* exit_group */
}

/* A sequence's exception arrives as a signal. The handler copies the state
 * at the fault from the i386 sigcontext (after uc_flags, uc_link and
 * uc_stack: offset 20) and sends the sigreturn to the runner instead. */
enum { SC_GS, SC_FS, SC_ES, SC_DS, SC_EDI, SC_ESI, SC_EBP, SC_ESP, SC_EBX, SC_EDX, SC_ECX, SC_EAX,
       SC_TRAPNO, SC_ERR, SC_EIP, SC_CS, SC_EFLAGS, SC_ESP_AT_SIGNAL, SC_SS, SC_FPSTATE, SC_OLDMASK, SC_CR2 };

static void on_fault(int sig, void *info, void *ucv)
{
    uint32_t *sc = (uint32_t *)((uint8_t *)ucv + 20);
    (void)sig;
    (void)info;
    if (sc[SC_EIP] - DT_CODE >= 0x1000)
        die("difftest-native: exception outside the sequence\n");
    dt_out.r[DT_EAX] = sc[SC_EAX]; dt_out.r[DT_ECX] = sc[SC_ECX]; dt_out.r[DT_EDX] = sc[SC_EDX];
    dt_out.r[DT_EBX] = sc[SC_EBX]; dt_out.r[DT_ESP] = sc[SC_ESP]; dt_out.r[DT_EBP] = sc[SC_EBP];
    dt_out.r[DT_ESI] = sc[SC_ESI]; dt_out.r[DT_EDI] = sc[SC_EDI];
    dt_out.eflags = sc[SC_EFLAGS];
    dt_out.seg[DT_ES] = sc[SC_ES] & 0xffff; dt_out.seg[DT_CS] = sc[SC_CS] & 0xffff;
    dt_out.seg[DT_SS] = sc[SC_SS] & 0xffff; dt_out.seg[DT_DS] = sc[SC_DS] & 0xffff;
    dt_out.seg[DT_FS] = sc[SC_FS] & 0xffff; dt_out.seg[DT_GS] = sc[SC_GS] & 0xffff;
    dt_out.vec = sc[SC_TRAPNO];
    dt_out.err = sc[SC_ERR];
    dt_out.eip = sc[SC_EIP];
    dt_out.cr2 = sc[SC_CR2];
    sc[SC_EIP] = (uint32_t)(uintptr_t)dt_fault_back;
    sc[SC_DS] = sc[SC_ES] = DT_SEL_DS;
    sc[SC_EFLAGS] &= ~0x400u; /* DF */
}

void dt_sigreturn(void);
__asm__(".text\n\t.globl dt_sigreturn\ndt_sigreturn:\n\tmovl $173, %eax\n\tint $0x80\n"); /* rt_sigreturn */

static void catch_faults(void)
{
    static const int sigs[] = { 4, 5, 7, 8, 11 }; /* SIGILL SIGTRAP SIGBUS SIGFPE SIGSEGV */
    struct {
        void (*handler)(int, void *, void *);
        uint32_t flags;
        void (*restorer)(void);
        uint32_t mask[2];
    } sa = { on_fault, 0x0c000004u /* SA_ONSTACK | SA_RESTORER | SA_SIGINFO */, dt_sigreturn, { 0, 0 } };
    /* The handler runs on its own stack: the kernel's signal frame would
     * otherwise land below the sequence's ESP, in the compared window. */
    static uint8_t altstack[65536] __attribute__((aligned(16)));
    struct { void *sp; int32_t flags; uint32_t size; } ss = { altstack, 0, sizeof altstack };
    if (sys3(186, (uint32_t)(uintptr_t)&ss, 0, 0)) /* sigaltstack */
        die("difftest-native: sigaltstack failed\n");
    for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        int32_t r;
        __asm__ volatile("int $0x80" : "=a"(r) : "a"(174), "b"(sigs[i]), "c"(&sa), "d"(0), "S"(8) : "memory");
        if (r)
            die("difftest-native: rt_sigaction failed\n");
    }
}

static char args[1024];

void dt_native_main(int argc, char **argv);
void dt_native_main(int argc, char **argv)
{
    uint32_t n = 0;
    for (int i = 1; i < argc; i++) {
        for (const char *p = argv[i]; *p && n < sizeof args - 2; p++)
            args[n++] = *p;
        args[n++] = ' ';
    }
    args[n] = 0;
    /* PROT_READ|WRITE|EXEC, MAP_PRIVATE|ANONYMOUS|FIXED */
    if (sys_mmap2(DT_CODE, 0x1000 * ((DT_CODE_MAX + 0xfff) / 0x1000), 7, 0x32) != (int32_t)DT_CODE ||
        sys_mmap2(DT_DATA, 0x2000, 3, 0x32) != (int32_t)DT_DATA)
        die("difftest-native: cannot map the fixed code and data pages\n");
    uint32_t cs, ds;
    __asm__ volatile("movl %%cs, %0\n\tmovl %%ds, %1" : "=r"(cs), "=r"(ds));
    if ((cs & 0xffff) != DT_SEL_CS || (ds & 0xffff) != DT_SEL_DS)
        die("difftest-native: unexpected selectors (not a 32-bit process on x86-64 Linux?)\n");
    catch_faults();
    sys3(252, (uint32_t)dt_main(args), 0, 0);
}

__asm__(".text\n\t.globl _start\n_start:\n\t"
        "movl (%esp), %eax\n\tleal 4(%esp), %edx\n\tandl $-16, %esp\n\t"
        "subl $8, %esp\n\tpushl %edx\n\tpushl %eax\n\tcall dt_native_main\n\thlt\n");
