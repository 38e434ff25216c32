/*
 * guests/biosboot/mbr.S — a hard-disk boot sector for tests/guest/biosboot.sh:
 * loaded by the BIOS at 0x7C00, it prints through INT 10h (SeaBIOS's serial
 * console without a display) and to the debug console at port 0xE9, reads sector 2 of the boot drive through
 * INT 13h AH=02 and prints the text found there, then leaves through
 * debug-exit with 0x31 (0x7F if the read failed). 1024 bytes: the boot
 * sector (0x55AA at 510) and sector 2.
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
    mov $msg1 - _start + 0x7c00, %si
    call puts
    /* The same line on the debug console (port 0xE9: QEMU's -debugcon). */
    push %dx                          /* DL: the boot drive */
    mov $msg1 - _start + 0x7c00, %si
    mov $0xe9, %dx
    mov $14, %cx
    rep outsb
    pop %dx
    /* INT 13h AH=02: sector 2 (CHS 0/0/2) of the boot drive (DL) to 0x7E00. */
    mov $0x0201, %ax
    mov $0x0002, %cx
    xor %dh, %dh
    mov $0x7e00, %bx
    int $0x13
    jc bad
    mov $0x7e00, %si
    call puts
    call flush
    mov $0x31, %al
    out %al, $0xf4
bad:
    mov $msg2 - _start + 0x7c00, %si
    call puts
    call flush
    mov $0x7f, %al
    out %al, $0xf4
1:  hlt
    jmp 1b
/* SeaBIOS's serial console writes lazily, on timer ticks (18.2 Hz): wait 200 ms
 * (INT 15h AH=86h) so all of the text is out before debug-exit. */
flush:
    mov $0x86, %ah
    mov $0x0003, %cx
    mov $0x0D40, %dx
    int $0x15
    ret
puts:
    lodsb
    test %al, %al
    jz 2f
    mov $0x0e, %ah
    mov $7, %bx
    int $0x10
    jmp puts
2:  ret
msg1: .asciz "mbr: running\r\n"
msg2: .asciz "mbr: int 13h failed\r\n"
    .org 510
    .byte 0x55, 0xaa
sector2: .asciz "sector 2: read through int 13h\r\n"
    .org 1024
