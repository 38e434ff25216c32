/*
 * guests/systest/stubs.S — the IDT entry stubs (push a dummy error code
 * where the CPU pushes none, the vector, the registers and DS/ES, load the
 * kernel data segment, call trap_c, undo, iret), the far jump that reloads
 * CS after lgdt, the switch into and back out of the CPL-3 task, and the
 * CPL-0 targets of the call gate and SYSENTER tests, the CPL-1 targets of
 * the ring-1 tests. code16.S (the 16-bit routine) is included at the end.
 */
#define KDATA 0x10
#define UDATA 0x23
#define UCODE 0x1b

    .section .rodata
    .balign 4
    .globl stub_table
stub_table:

.macro STUB vec
    .text
stub_\vec:
    .if (\vec == 8) || (\vec == 10) || (\vec == 11) || (\vec == 12) || (\vec == 13) || (\vec == 14) || (\vec == 17)
    .else
    pushl $0
    .endif
    pushl $\vec
    jmp trap_common
    .section .rodata
    .long \vec, stub_\vec
.endm

    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19
    STUB \v
    .endr
    .irp v, 32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,128,129
    STUB \v
    .endr

    .section .rodata
    .globl stub_table_end
stub_table_end:

    .text
trap_common:
    pushal
    pushl %ds
    pushl %es
    movl $KDATA, %eax
    movw %ax, %ds
    movw %ax, %es
    cld                 /* C code wants DF=0; iret restores the guest's */
    pushl %esp
    call trap_c
    addl $4, %esp
    popl %es
    popl %ds
    popal
    addl $8, %esp
    iretl

    .globl reload_segments
reload_segments:
    ljmp $0x08, $1f
1:  movl $KDATA, %eax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %fs
    movw %ax, %gs
    movw %ax, %ss
    ret

/* enter_user(eip, esp, eflags): iret to CPL 3; returns when the task
 * makes the exit system call (leave_user). */
    .globl enter_user
enter_user:
    pushl %ebp
    pushl %ebx
    pushl %esi
    pushl %edi
    movl %esp, kernel_saved_esp
    movl 20(%esp), %eax
    movl 24(%esp), %ecx
    movl 28(%esp), %edx
    movl $UDATA, %ebx
    movw %bx, %ds
    movw %bx, %es
    movw %bx, %fs
    movw %bx, %gs
    pushl $UDATA
    pushl %ecx
    pushl %edx
    pushl $UCODE
    pushl %eax
    iretl

/* Called from trap_c on the TSS stack: drop that frame, back to enter_user's caller. */
    .globl leave_user
leave_user:
    movl $KDATA, %eax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %fs
    movw %ax, %gs
    movl kernel_saved_esp, %esp
    popl %edi
    popl %esi
    popl %ebx
    popl %ebp
    ret

/* Target of the call gates (2 parameters): records CS, SS, ESP and the six
 * dwords above ESP (EIP, CS, two parameters, and SS:ESP of the caller on a
 * privilege change), loads the kernel data selector into ES (a return to
 * CPL 3 must null it), returns with lret $8. DS is the caller's, flat. */
    .globl gate_k
gate_k:
    movl %esp, g_esp
    movl %cs, %eax
    movl %eax, g_cs
    movl %ss, %eax
    movl %eax, g_ss
    xorl %ecx, %ecx
1:  movl %ss:(%esp,%ecx,4), %eax
    movl %eax, g_frame(,%ecx,4)
    incl %ecx
    cmpl $6, %ecx
    jne 1b
    movl $KDATA, %eax
    movw %ax, %es
    lret $8

/* SYSENTER_EIP: records CS, SS, ESP, EFLAGS, returns with sysexit
 * (EDX = EIP, ECX = ESP, set by the caller). */
    .globl sysenter_k
sysenter_k:
    movl %esp, s_esp
    movl %cs, %eax
    movl %eax, s_cs
    movl %ss, %eax
    movl %eax, s_ss
    pushfl
    popl s_fl
    sysexit

/* CPL-1 targets (SEL_CODE1): record CS, SS, ESP and the n dwords above
 * ESP (EIP, CS, EFLAGS, ESP, SS from int; EIP, CS, ESP, SS from the gate;
 * no more: the stack segment ends there), then return to CPL 3. DS is the
 * caller's DPL-3 data, usable at CPL 1. */
.macro RING1_RECORD n
    movl %esp, r1_esp
    movl %cs, %eax
    movl %eax, r1_cs
    movl %ss, %eax
    movl %eax, r1_ss
    xorl %ecx, %ecx
1:  movl %ss:(%esp,%ecx,4), %eax
    movl %eax, r1_frame(,%ecx,4)
    incl %ecx
    cmpl $\n, %ecx
    jne 1b
.endm
    .globl ring1_int_k
ring1_int_k:
    RING1_RECORD 5
    iretl
    .globl ring1_gate_k
ring1_gate_k:
    RING1_RECORD 4
    lret

    .bss
    .balign 4
kernel_saved_esp:
    .long 0
    .globl g_esp, g_cs, g_ss, g_frame, s_esp, s_cs, s_ss, s_fl
g_esp: .long 0
g_cs: .long 0
g_ss: .long 0
g_frame: .fill 6, 4, 0
s_esp: .long 0
s_cs: .long 0
s_ss: .long 0
s_fl: .long 0
    .globl r1_esp, r1_cs, r1_ss, r1_frame
r1_esp: .long 0
r1_cs: .long 0
r1_ss: .long 0
r1_frame: .fill 5, 4, 0

/* The code16 test's 16-bit routine, kept in its own file. */
#include "code16.S"

    .section .note.GNU-stack, "", @progbits
