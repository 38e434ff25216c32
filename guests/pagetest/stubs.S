/*
 * guests/pagetest/stubs.S — pagetest's IDT entry stubs (dummy error code
 * where the CPU pushes none, vector, registers, DS/ES; kernel data
 * segment; trap_c; undo; iret), the CS reload after lgdt, and the switch
 * into and back out of CPL 3 (enter_user returns when the user code makes
 * system call 0, which calls leave_user on the kernel stack).
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

    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,128
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

/* enter_user(eip, esp, eflags): iret to CPL 3. */
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

    .bss
    .balign 4
kernel_saved_esp:
    .long 0

    .section .note.GNU-stack, "", @progbits
