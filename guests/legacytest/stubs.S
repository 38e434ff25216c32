/*
 * guests/legacytest/stubs.S — one cdecl function per legacy instruction,
 * assembled into both the i686 guest and the host's -m32 generator, so the
 * host CPU and the guest's CPU run the same bytes:
 *   uint32_t lt_<op>(uint32_t eax, uint32_t eflags, uint32_t *eflags_out, uint32_t edx)
 * EAX and EFLAGS are loaded, the instruction runs, EAX and EFLAGS come back.
 * AAM/AAD with every immediate: 256 stubs of 32 bytes each (lt_aam_tab,
 * lt_aad_tab), entry imm at tab + 32*imm.
 */
.macro PRO
    movl 4(%esp), %eax
    movl 16(%esp), %edx
    movl 8(%esp), %ecx
    pushl %ecx
    popfl
.endm
.macro EPI
    pushfl
    popl %ecx
    movl 12(%esp), %edx
    movl %ecx, (%edx)
    ret
.endm
.macro OP name
    .globl lt_\name
    .type lt_\name, @function
    .p2align 4
lt_\name:
    PRO
.endm

    .text
OP daa
    daa
    EPI
OP das
    das
    EPI
OP aaa
    aaa
    EPI
OP aas
    aas
    EPI
OP salc
    .byte 0xd6
    EPI
/* XLAT through lt_xlat_table (EBX saved: callee-saved in cdecl). */
OP xlat
    pushl %ebx
    movl $lt_xlat_table, %ebx
    xlat
    popl %ebx
    EPI
/* ARPL dest=AX, src=DX: register form and memory form. */
OP arpl_r
    arpl %dx, %ax
    EPI
OP arpl_m
    movw %ax, lt_arpl_word
    arpl %dx, lt_arpl_word
    movw lt_arpl_word, %ax
    EPI

.macro IMMTAB name, opcode
    .globl lt_\name\()_tab
    .p2align 5
lt_\name\()_tab:
    .set imm, 0
    .rept 256
    .p2align 5
    PRO
    .byte \opcode, imm
    EPI
    .set imm, imm + 1
    .endr
.endm
    IMMTAB aam, 0xd4
    IMMTAB aad, 0xd5

    .data
    .globl lt_xlat_table
    .p2align 4
lt_xlat_table:
    .set i, 0
    .rept 256
    .byte (i * 0x6d + 0x3b) & 0xff
    .set i, i + 1
    .endr
    .p2align 2
lt_arpl_word:
    .word 0

    .section .note.GNU-stack, "", @progbits
