/*
 * guests/nano/stubs.S — the nano guest's hand-written parts: the timed
 * loops (one per workload, so the measured code is exactly what we say),
 * the minimal IDT handlers they exercise (#DE skip, int 0x80 iret, IRQ0
 * timestamp), the CS reload after lgdt, and the switch to and from CPL 3.
 * Every loop is: rdtsc, N times { body; dec ecx; jnz }, rdtsc; it returns
 * the 64-bit TSC delta, so the C side subtracts the empty loop's delta.
 * The paging loops (nano.c's `paging` mode, page tables set up there) may
 * load registers between the first rdtsc and the loop: once per run.
 */
#define PG_VA 0x40000000
#define KCODE 0x08
#define KDATA 0x10
#define UCODE 0x1b
#define UDATA 0x23

/* uint64_t nano_<name>(uint32_t n); LOOP_BEGIN = LOOP_ENTRY + LOOP_TOP */
.macro LOOP_ENTRY name
    .text
    .globl nano_\name
    .type nano_\name, @function
    .balign 16
nano_\name:
    pushl %ebx
    pushl %esi
    pushl %edi
    movl 16(%esp), %ecx
    xorl %ebx, %ebx
    rdtsc
    movl %eax, %esi
    movl %edx, %edi
.endm

.macro LOOP_TOP
    .balign 16
1:
.endm

.macro LOOP_BEGIN name
    LOOP_ENTRY \name
    LOOP_TOP
.endm

.macro LOOP_END name
    decl %ecx
    jnz 1b
    rdtsc
    subl %esi, %eax
    sbbl %edi, %edx
    popl %edi
    popl %esi
    popl %ebx
    ret
    .size nano_\name, . - nano_\name
.endm

LOOP_BEGIN empty
LOOP_END empty

LOOP_BEGIN in
    inb $0x61, %al
LOOP_END in

/* The local APIC (apic mode, nano.c): read the ID register; write EOI
 * with nothing in service (a no-op the guest still pays for). */
LOOP_BEGIN apic_id_read
    movl 0xfee00020, %eax
LOOP_END apic_id_read

LOOP_BEGIN apic_eoi
    movl $0, 0xfee000b0
LOOP_END apic_eoi

LOOP_BEGIN cli_sti
    cli
    sti
LOOP_END cli_sti

LOOP_BEGIN call_ret
    call nano_leaf
LOOP_END call_ret

LOOP_BEGIN pushf_popf
    pushfl
    popfl
LOOP_END pushf_popf

/* divl %ebx with EBX = 0: 2 bytes (f7 f3); the #DE handler skips them. */
LOOP_BEGIN divzero
    divl %ebx
LOOP_END divzero

/* Same-privilege round trip, kept for comparison with the CPL-3 one. */
LOOP_BEGIN int80_cpl0
    int $0x80
LOOP_END int80_cpl0

/* ---- paging (CR0.PG on, CR3 = pg_dir_a on entry and exit) ---- */

/* A true #PF: the load from the not-present page faults, isr_pf sets P,
 * the load is retried; then P is cleared again, with INVLPG. */
LOOP_BEGIN pgfault
    movl PG_VA+0x1000, %eax
    andl $~1, pg_pt_a+4
    invlpg PG_VA+0x1000
LOOP_END pgfault

/* A PTE write (the frame flips between two) and its INVLPG. */
LOOP_BEGIN ptemod
    xorl $0x1000, pg_pt_a+8
    invlpg PG_VA+0x2000
LOOP_END ptemod

/* One CR3 switch (A and B alternate) and one access through the new space. */
LOOP_ENTRY cr3switch
    movl $pg_dir_a, %ebx
    movl $pg_dir_a, %edx
    xorl $pg_dir_b, %edx
LOOP_TOP
    xorl %edx, %ebx
    movl %ebx, %cr3
    movl PG_VA, %eax
LOOP_END cr3switch

/* Reload the same CR3, then touch a page: the access needs a fresh walk. */
LOOP_ENTRY hidden
    movl %cr3, %ebx
LOOP_TOP
    movl %ebx, %cr3
    movl PG_VA, %eax
LOOP_END hidden

    .text
nano_leaf:
    ret

/* ---- IDT handlers ---- */
    .globl isr_de, isr_iret, isr_irq0, isr_spurious, isr_unexpected, isr_leave_user, isr_pf
isr_de:
    addl $2, (%esp)
    iretl

isr_iret:
    iretl

/* The keyboard IRQ through the I/O APIC (apic mode): timestamp on entry,
 * take the byte (OBF falls, so does IRQ1), EOI to the local APIC. */
    .globl isr_kbd_apic
isr_kbd_apic:
    pushl %eax
    pushl %edx
    rdtsc
    movl %eax, kbd_tsc
    movl %edx, kbd_tsc+4
    inb $0x60, %al
    movl $0, 0xfee000b0
    popl %edx
    popl %eax
    iret

/* IRQ0: timestamp into irq_tsc[irq_count] while there is room, count, EOI. */
isr_irq0:
    pushl %eax
    pushl %edx
    pushl %ecx
    rdtsc
    movl irq_count, %ecx
    cmpl irq_cap, %ecx
    jae 1f
    movl %eax, irq_tsc(,%ecx,8)
    movl %edx, irq_tsc+4(,%ecx,8)
1:  incl %ecx
    movl %ecx, irq_count
    movb $0x20, %al
    outb %al, $0x20
    popl %ecx
    popl %edx
    popl %eax
    iretl

isr_spurious:
    iretl

/* #PF from nano_pgfault: make its page present, drop the error code, retry. */
isr_pf:
    orl $1, pg_pt_a+4
    incl pg_faults
    addl $4, %esp
    iretl

isr_unexpected:
    movl $102, %eax
    outl %eax, $0xf4
2:  cli
    hlt
    jmp 2b

    .globl nano_reload_segments
nano_reload_segments:
    ljmp $KCODE, $1f
1:  movl $KDATA, %eax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %fs
    movw %ax, %gs
    movw %ax, %ss
    ret

/* ---- CPL 3 ----
 * nano_user_syscall(n): iret to CPL 3, where user_syscall_loop times n
 * int 0x80 round trips (ring 3 -> 0 -> 3) into user_t0/user_t1, then
 * int 0x81 (isr_leave_user) returns here. Returns t1 - t0. */
    .globl nano_user_syscall
nano_user_syscall:
    pushl %ebp
    pushl %ebx
    pushl %esi
    pushl %edi
    movl %esp, kernel_saved_esp
    movl 20(%esp), %ecx
    movl $UDATA, %eax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %fs
    movw %ax, %gs
    pushl $UDATA
    pushl $user_stack_top
    pushl $0x2
    pushl $UCODE
    pushl $user_syscall_loop
    iretl

    .balign 16
user_syscall_loop:
    rdtsc
    movl %eax, user_t0
    movl %edx, user_t0+4
    .balign 16
1:  int $0x80
    decl %ecx
    jnz 1b
    rdtsc
    movl %eax, user_t1
    movl %edx, user_t1+4
    int $0x81
    ud2

isr_leave_user:
    movl $KDATA, %eax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %fs
    movw %ax, %gs
    movl kernel_saved_esp, %esp
    movl user_t1, %eax
    movl user_t1+4, %edx
    subl user_t0, %eax
    sbbl user_t0+4, %edx
    popl %edi
    popl %esi
    popl %ebx
    popl %ebp
    ret

    .bss
    .balign 8
kernel_saved_esp: .long 0
user_t0: .quad 0
user_t1: .quad 0
    .balign 16
user_stack: .skip 4096
user_stack_top:

    .section .note.GNU-stack, "", @progbits
