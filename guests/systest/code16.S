/*
 * guests/systest/code16.S — the code16 test's routine: 32-bit code far-calls
 * (lcall, 32-bit CS:EIP pushed) a 16-bit code segment whose base is
 * c16_start. The routine saves the flat SS:ESP in its data segment
 * (c16_data), moves to a 16-bit stack segment (B=0, base c16_stack, ESP[31:16]
 * nonzero on purpose), runs 16-bit stack ops, near call/ret, loop/jcxz on CX,
 * 16-bit addressing modes, rep movsb on SI/DI/CX, enter/leave, lea and an SP
 * wrap at 0, storing every result in c16_data, then switches back and
 * returns with lretl. Included by stubs.S (so it needs no build rule);
 * offsets and selectors are in code16.h, systest.c checks the results.
 */
#include "code16.h"

    .text
    .code32
/* code16_run(void): IF stays clear while SS is the 16-bit segment (an IRQ
 * there would run the C handler on a 16-bit stack). */
    .globl code16_run, c16_ret32
code16_run:
    pushal
    pushfl
    cli
    pushl %ds
    pushl %es
    lcall $SEL_CODE16, $0
c16_ret32:
    popl %es
    popl %ds
    popfl
    popal
    ret

    .code16
    .globl c16_start
c16_start:
    movw $SEL_DATA16, %ax
    movw %ax, %ds
    movw %ax, %es
    movl (%esp), %eax                  /* SS still flat and 32-bit here */
    movl %eax, C16_ENTRY_EIP
    movl 4(%esp), %eax
    movl %eax, C16_ENTRY_CS
    movl %esp, C16_OLD_ESP
    movw %ss, C16_OLD_SS
    movw %cs, C16_CS
    movw $SEL_STACK16, %ax
    movw %ax, %ss
    movl $(C16_ESP_HI + C16_SP0), %esp
    movw %ss, C16_SS

    /* push/pop */
    movw $0x1234, %ax
    xorw %bx, %bx
    movw %sp, %dx
    pushw %ax
    movw %sp, %si
    popw %bx
    movw %bx, C16_PUSH_BX
    subw %si, %dx
    movw %dx, C16_PUSH_DELTA
    pushw $0x5678
    popw %cx
    movw %cx, C16_PUSH_IMM16
    pushw $-2
    popw %dx
    movw %dx, C16_PUSH_IMM8
    movl %esp, C16_ESP_PUSH

    /* near call, ret $2 */
    pushw $0x7777
    call c16_sub
c16_after_call:
    movl %esp, C16_ESP_RET2
    movw $(c16_after_call - c16_start), C16_CALL_EXP

    /* loop and jcxz count CX only */
    movl $0xabcd0005, %ecx
    xorw %ax, %ax
1:  incw %ax
    loop 1b
    movw %ax, C16_LOOP_N
    movl %ecx, C16_LOOP_ECX
    movl $0x10000, %ecx
    xorw %ax, %ax
    jcxz 1f
    jmp 2f
1:  movw $1, %ax
2:  movw %ax, C16_JCXZ0
    movl $1, %ecx
    xorw %ax, %ax
    jcxz 1f
    jmp 2f
1:  movw $1, %ax
2:  movw %ax, C16_JCXZ1

    /* addressing modes; effective addresses wrap at 64 KiB */
    movw $0xf0, %bx
    movw $0x10, %si
    movw 0x104(%bx,%si), %ax
    movw %ax, C16_BXSI
    movw $0xfff0, %bx
    movw $0x110, %si
    movw 0x104(%bx,%si), %ax
    movw %ax, C16_BXSI_WRAP
    movw $0xbbbb, %ax
    movw %ax, %ss:C16_SAME
    movw $0x100, %bp
    movw $0x100, %bx
    movw $(C16_SAME - 0x100), %di
    movw (%bp,%di), %ax
    movw %ax, C16_BPDI
    movw (%bx,%di), %ax
    movw %ax, C16_BXDI
    movw %ds:(%bp,%di), %ax
    movw %ax, C16_BPDI_DS
    movw $0xfff8, %bx
    movw $0x10, %si
    movw $0xffff, %ax
    leaw 0x10(%bx,%si), %ax
    movw %ax, C16_LEA16
    movl $0xffffffff, %eax
    leal 0x10(%bx,%si), %eax
    movl %eax, C16_LEA32

    /* rep movsb: SI, DI, CX; the high halves must stay */
    cld
    movl $(0x55550000 + C16_SRC), %esi
    movl $(0x66660000 + C16_DST), %edi
    movl $0x77770008, %ecx
    rep movsb
    movl %esi, C16_MOVS_ESI
    movl %edi, C16_MOVS_EDI
    movl %ecx, C16_MOVS_ECX

    /* enter/leave, 16-bit operand size on a 16-bit stack */
    movw $0x5a5a, %bp
    movw %sp, %dx
    enterw $4, $0
    movw %dx, %ax
    subw %sp, %ax
    movw %ax, C16_ENTER_DELTA
    movw %bp, C16_ENTER_BP
    movw (%bp), %ax
    movw %ax, C16_ENTER_OLDBP
    leavew
    movl %esp, C16_LEAVE_ESP
    movw %bp, C16_LEAVE_BP
    enterw $2, $1
    movw %dx, %ax
    subw %sp, %ax
    movw %ax, C16_ENTER1_DELTA
    movw %bp, C16_ENTER1_BP
    movw -2(%bp), %ax
    movw %ax, C16_ENTER1_FRAME
    leavew
    movl %esp, C16_LEAVE1_ESP

    /* pushf, pusha */
    movw %sp, %dx
    pushfw
    movw %dx, %ax
    subw %sp, %ax
    movw %ax, C16_PUSHF_DELTA
    popfw
    pushaw
    movw %dx, %ax
    subw %sp, %ax
    movw %ax, C16_PUSHA_DELTA
    movw %sp, %bp
    movw 6(%bp), %ax        /* DI SI BP SP ... from the bottom */
    movw %ax, C16_PUSHA_SP
    popaw
    movl %esp, C16_POPA_ESP

    /* SP wraps from 0 to 0xfffe */
    movl $C16_ESP_HI, %esp
    movw $0xbeef, %ax
    pushw %ax
    movl %esp, C16_WRAP_ESP
    movw %ss:0xfffe, %bx
    movw %bx, C16_WRAP_VAL
    popw %cx
    movw %cx, C16_WRAP_POP
    movl %esp, C16_WRAP_ESP2

    movw $0xc0de, C16_DONE
    movw C16_OLD_SS, %ss
    movl C16_OLD_ESP, %esp
    lretl

/* Near callee: return IP at [bp], argument at [bp+2], drops it. */
c16_sub:
    movw %sp, %bp
    movw (%bp), %ax
    movw %ax, C16_CALL_RET
    movw 2(%bp), %ax
    movw %ax, C16_CALL_ARG
    movl %esp, C16_ESP_CALLEE
    retw $2
    .code32

    .data
    .balign 16
    .globl c16_data
c16_data:
    .skip C16_SRC
    .ascii "16bit ok"
    .skip C16_SAME - (. - c16_data)
    .word 0xaaaa
    .skip C16_TABLE - (. - c16_data)
    .word 0x4321
    .skip C16_DATA_SIZE - (. - c16_data)

/* 64 KiB for SP 0..0xffff, a guard below and slack above: an engine that
 * wrongly uses ESP[31:16] (C16_ESP_HI) hits the slack, not other data. */
    .bss
    .balign 16
    .globl c16_guard, c16_stack
c16_guard:
    .skip 16
c16_stack:
    .skip 0x10000 + 0x1000
