/*
 * guests/difftest/run.S — runs one generated sequence (docs/difftest.md).
 * dt_run loads dt_in (FPU/SSE control, XMM, segments, EFLAGS, the eight
 * GPRs with ESP inside the data window) and jumps to DT_CODE; the code ends
 * with a jmp to dt_run_back, which stores everything into dt_out and
 * dt_fx. Stores go through SS: a sequence may leave FS/GS null, and SS is
 * the one data segment it can only reload with the flat selector.
 */
#define DT_CODE 0x00600000

    .text
    .globl dt_run
    .type dt_run, @function
dt_run:
    pushal
    movl %esp, dt_saved_esp
    xorl %eax, %eax
    movw %ds, %ax
    movl %eax, dt_saved_ds
    movw %fs, %ax
    movl %eax, dt_saved_fs
    movw %gs, %ax
    movl %eax, dt_saved_gs
    /* Zero the physical x87 registers so a run never sees an earlier one's. */
    fninit
    fldz; fldz; fldz; fldz; fldz; fldz; fldz; fldz
    fninit
    fldcw dt_in+60
    ldmxcsr dt_in+64
    movups dt_in+80, %xmm0
    movups dt_in+96, %xmm1
    movups dt_in+112, %xmm2
    movups dt_in+128, %xmm3
    movups dt_in+144, %xmm4
    movups dt_in+160, %xmm5
    movups dt_in+176, %xmm6
    movups dt_in+192, %xmm7
    movl dt_in+56, %eax
    movw %ax, %gs
    movl dt_in+52, %eax
    movw %ax, %fs
    movl dt_in+36, %eax
    movw %ax, %es
    pushl dt_in+32
    popfl
    movl dt_in+48, %eax
    movw %ax, %ds
    movl %ss:dt_in+0, %eax
    movl %ss:dt_in+4, %ecx
    movl %ss:dt_in+8, %edx
    movl %ss:dt_in+12, %ebx
    movl %ss:dt_in+20, %ebp
    movl %ss:dt_in+24, %esi
    movl %ss:dt_in+28, %edi
    movl %ss:dt_in+16, %esp
    jmp DT_CODE

    .globl dt_run_back
dt_run_back:
    movl %eax, %ss:dt_out+0
    movl %ecx, %ss:dt_out+4
    movl %edx, %ss:dt_out+8
    movl %ebx, %ss:dt_out+12
    movl %esp, %ss:dt_out+16
    movl %ebp, %ss:dt_out+20
    movl %esi, %ss:dt_out+24
    movl %edi, %ss:dt_out+28
    movl %ss:dt_saved_esp, %esp
    pushfl
    popl %ss:dt_out+32
    xorl %eax, %eax
    movw %es, %ax
    movl %eax, %ss:dt_out+36
    movw %cs, %ax
    movl %eax, %ss:dt_out+40
    movw %ss, %ax
    movl %eax, %ss:dt_out+44
    movw %ds, %ax
    movl %eax, %ss:dt_out+48
    movw %fs, %ax
    movl %eax, %ss:dt_out+52
    movw %gs, %ax
    movl %eax, %ss:dt_out+56
    movl $0xffffffff, %ss:dt_out+68
    jmp 1f

    /* An exception ended the sequence: the platform's handler stored the
     * state at the fault into dt_out and resumes here. */
    .globl dt_fault_back
dt_fault_back:
    movl %ss:dt_saved_esp, %esp
1:
    movl %ss:dt_saved_ds, %eax
    movw %ax, %ds
    movw %ax, %es
    movl dt_saved_fs, %eax
    movw %ax, %fs
    movl dt_saved_gs, %eax
    movw %ax, %gs
    cld
    fxsave dt_fx
    fninit
    popal
    ret
    .size dt_run, . - dt_run

    .bss
    .balign 16
    .globl dt_fx
dt_fx:
    .skip 512
dt_saved_esp: .skip 4
dt_saved_ds:  .skip 4
dt_saved_fs:  .skip 4
dt_saved_gs:  .skip 4

    .section .note.GNU-stack, "", @progbits
