/*
 * guests/lib/irqstubs.S — one IDT entry stub per vector (irq_stub_table):
 * push a dummy error code where the CPU pushes none, the vector, the
 * registers, call irq_dispatch(frame) (irqlib.c), undo, iret. Everything
 * runs at CPL 0 with flat segments, so no segment register is touched.
 */
    .altmacro
.macro STUB n
    .text
irq_stub_\n:
    .if (\n == 8) || (\n == 10) || (\n == 11) || (\n == 12) || (\n == 13) || (\n == 14) || (\n == 17)
    .else
    pushl $0
    .endif
    pushl $\n
    jmp irq_common
.endm

.macro ENTRY n
    .long irq_stub_\n
.endm

    .set i, 0
    .rept 256
    STUB %i
    .set i, i + 1
    .endr

    .section .rodata
    .balign 4
    .globl irq_stub_table
irq_stub_table:
    .set i, 0
    .rept 256
    ENTRY %i
    .set i, i + 1
    .endr

    .text
irq_common:
    pushal
    cld
    pushl %esp
    call irq_dispatch
    addl $4, %esp
    popal
    addl $8, %esp
    iretl

    .globl irq_reload_segments
irq_reload_segments:
    ljmp $0x08, $1f
1:  movl $0x10, %eax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %fs
    movw %ax, %gs
    movw %ax, %ss
    ret

    .section .note.GNU-stack, "", @progbits
