/*
 * guests/lib/entry.S — Multiboot v1 header and the entry point shared by
 * every btvm guest. The loader enters _start in 32-bit flat protected mode
 * at CPL 0 with EAX=0x2BADB002, EBX=multiboot info, interrupts off, no
 * paging. We only set up a stack, call guest_main(magic, mbi) and hand its
 * return value to guest_exit (debug-exit port), never touching segments.
 */
#define MB_MAGIC  0x1BADB002
#define MB_FLAGS  0x00000002        /* bit 1: memory info; ELF path, no a.out kludge */

    .section .multiboot, "a"
    .balign 4
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)

    .text
    .globl _start
    .type _start, @function
_start:
    movl $guest_stack_top, %esp
    xorl %ebp, %ebp
    cld
    pushl %ebx
    pushl %eax
    call guest_main
    pushl %eax
    call guest_exit
1:  cli
    hlt
    jmp 1b
    .size _start, . - _start

    .bss
    .balign 16
guest_stack:
    .skip 65536
guest_stack_top:

    .section .note.GNU-stack, "", @progbits
