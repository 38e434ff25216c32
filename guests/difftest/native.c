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
    sys3(252, (uint32_t)dt_main(args), 0, 0);
}

__asm__(".text\n\t.globl _start\n_start:\n\t"
        "movl (%esp), %eax\n\tleal 4(%esp), %edx\n\tandl $-16, %esp\n\t"
        "subl $8, %esp\n\tpushl %edx\n\tpushl %eax\n\tcall dt_native_main\n\thlt\n");
