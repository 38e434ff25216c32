/*
 * guests/popek/trap.S — the popek guest's low-level glue: 256 IDT entry
 * stubs that build one uniform frame and call popek_trap(), the drop to
 * ring 3 (popek_run_user: iret to a CPL-3 routine) and the way back
 * (popek_user_return, reached from the int 0x80 handler), and the
 * far-call target that hands back the CS its caller pushed.
 */
#define KDATA 0x10
#define UCODE 0x1b
#define UDATA 0x23

    .text
/* Stub n: push a dummy error code where the CPU pushes none, then n. */
    .globl popek_isr_stubs
    .balign 16
popek_isr_stubs:
    .set vec, 0
    .rept 256
    .balign 16
    .if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17)
    .else
    pushl $0
    .endif
    pushl $vec
    jmp isr_common
    .set vec, vec + 1
    .endr

/* Frame layout = struct popek_frame in popek.c. */
isr_common:
    pushal
    pushl %ds
    pushl %es
    movl $KDATA, %eax
    movl %eax, %ds
    movl %eax, %es
    pushl %esp
    call popek_trap
    addl $4, %esp
    popl %es
    popl %ds
    popal
    addl $8, %esp
    iret

/* void popek_run_user(void (*fn)(void), uint32_t user_esp, uint32_t eflags):
 * enter fn at CPL 3; returns when ring 3 executes int $0x80 with EAX=1. */
    .globl popek_run_user
popek_run_user:
    pushl %ebp
    pushl %ebx
    pushl %esi
    pushl %edi
    movl %esp, popek_kernel_esp
    movl 20(%esp), %ecx          /* fn */
    movl 24(%esp), %edx          /* user esp */
    movl 28(%esp), %eax          /* eflags */
    movl $UDATA, %ebx
    movl %ebx, %ds               /* CPL 3 may not keep DPL-0 data selectors */
    movl %ebx, %es
    pushl $UDATA
    pushl %edx
    pushl %eax
    pushl $UCODE
    pushl %ecx
    iret

/* Called (never returns) from popek_trap on the ring-0 stack from TSS.ESP0. */
    .globl popek_user_return
popek_user_return:
    movl popek_kernel_esp, %esp
    popl %edi
    popl %esi
    popl %ebx
    popl %ebp
    ret

/* Far-call target: returns in EAX the CS image the far CALL pushed. */
    .globl popek_far_target
popek_far_target:
    movl 4(%esp), %eax
    lret

    .data
    .globl popek_kernel_esp
popek_kernel_esp:
    .long 0

    .section .note.GNU-stack, "", @progbits
