/*
 * guests/idetest/stubs.S — idetest's interrupt entry points: one stub per
 * exception vector 0-31 (all fatal: exc_report prints and exits) and one
 * per PIC IRQ 0-15 (vectors 0x20-0x2f, irq_handler counts and EOIs), plus
 * the CS/data segment reload after lgdt.
 */
#define KCODE 0x08
#define KDATA 0x10

    .text
    .globl reload_segments
reload_segments:
    ljmp $KCODE, $1f
1:  movw $KDATA, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %fs
    movw %ax, %gs
    movw %ax, %ss
    ret

/* Exceptions: push the vector; exc_report(vec, word above it) never returns. */
.macro EXC n
exc_\n:
    pushl $\n
    jmp exc_common
.endm
.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    EXC \n
.endr
exc_common:
    call exc_report
1:  cli
    hlt
    jmp 1b

.macro IRQ n
irq_\n:
    pushal
    cld
    pushl $\n
    call irq_handler
    addl $4, %esp
    popal
    iret
.endm
.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    IRQ \n
.endr

    .section .rodata
    .balign 4
    .globl exc_table
exc_table:
.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .long exc_\n
.endr
    .globl irq_table
irq_table:
.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    .long irq_\n
.endr

    .section .note.GNU-stack, "", @progbits
