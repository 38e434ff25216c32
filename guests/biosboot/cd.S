/*
 * guests/biosboot/cd.S — an El Torito no-emulation boot image for
 * tests/guest/biosboot.sh: the BIOS loads it at 0x7C00 from the CD's boot
 * catalog; it prints through INT 10h and leaves through debug-exit with
 * the drive number the BIOS passed in DL (0xE0 for SeaBIOS's first CD).
 */
    .code16
    .text
    .globl _start
_start:
    cli
    xor %ax, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $0x7c00, %sp
    sti
    mov $msg - _start + 0x7c00, %si
1:  lodsb
    test %al, %al
    jz 2f
    mov $0x0e, %ah
    mov $7, %bx
    int $0x10
    jmp 1b
2:  push %dx
    /* SeaBIOS's serial console writes lazily, on timer ticks (18.2 Hz): wait 200 ms
     * (INT 15h AH=86h) so all of the text is out before debug-exit. */
    mov $0x86, %ah
    mov $0x0003, %cx
    mov $0x0D40, %dx
    int $0x15
    pop %dx
    mov %dl, %al
    out %al, $0xf4
3:  hlt
    jmp 3b
msg: .asciz "cd: El Torito boot image running\r\n"
    .org 2048
