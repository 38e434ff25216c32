/*
 * guests/hostile/isr.S — one 16-byte stub per vector for the device modes
 * of the hostile guest (guests/hostile/devices.c): stub v sits at
 * hostile_isr_stubs + 16 * v, pushes a zero error code unless the CPU
 * pushed one (vectors 8 and 10-14, the only exceptions with one that the
 * guest can raise), then the vector, and joins the common path, which
 * calls hostile_isr(struct hostile_frame *) and irets. The C side may
 * rewrite the saved EIP (the #GP fix-up of wrmsr) and EFLAGS.IF (to end
 * an interrupt window flooded by a level-triggered source).
 */
    .text
    .balign 16
    .globl hostile_isr_stubs
hostile_isr_stubs:
    .set vec, 0
    .rept 256
    .balign 16
    .if (vec == 8) || ((vec >= 10) && (vec <= 14))
    .else
    pushl $0
    .endif
    pushl $vec
    jmp isr_common
    .set vec, vec + 1
    .endr

isr_common:
    pushal
    cld
    pushl %esp                  /* struct hostile_frame * */
    call hostile_isr
    addl $4, %esp
    popal
    addl $8, %esp               /* vector and error code */
    iret

    .section .note.GNU-stack, "", @progbits
