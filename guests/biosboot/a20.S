/*
 * guests/biosboot/a20.S — a boot sector for tests/guest/biosboot.sh that
 * checks the A20 gate from real mode, where it matters: FFFF:0510 is
 * linear 0x100500 with A20 on and wraps to 0x000500 with it off (port 0x92
 * bit 1). Leaves through debug-exit with 0x5A when every step holds, else
 * with the number of the first step that did not (1-4).
 */
    .code16
    .text
    .globl _start
_start:
    cli
    xor %ax, %ax
    mov %ax, %ds
    mov %ax, %ss
    mov $0x7c00, %sp
    mov $0xffff, %ax
    mov %ax, %es
    /* 1: A20 on: the two addresses are different bytes. */
    in $0x92, %al
    or $2, %al
    and $0xfe, %al                  /* never the fast-reset bit */
    out %al, $0x92
    movb $0x11, 0x0500
    movb $0x22, %es:0x0510
    mov $1, %bl
    cmpb $0x11, 0x0500
    jne done
    /* 2: A20 off: FFFF:0510 reads 0000:0500. */
    in $0x92, %al
    and $0xfc, %al
    out %al, $0x92
    mov $2, %bl
    cmpb $0x11, %es:0x0510
    jne done
    /* 3: and a write there lands at 0000:0500. */
    movb $0x33, %es:0x0510
    mov $3, %bl
    cmpb $0x33, 0x0500
    jne done
    /* 4: A20 on again: the byte above 1 MiB is still 0x22. */
    in $0x92, %al
    or $2, %al
    and $0xfe, %al
    out %al, $0x92
    mov $4, %bl
    cmpb $0x22, %es:0x0510
    jne done
    mov $0x5a, %bl
done:
    mov %bl, %al
    out %al, $0xf4
1:  hlt
    jmp 1b
    .org 510
    .byte 0x55, 0xaa
