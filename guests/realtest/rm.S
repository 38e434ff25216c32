/*
 * guests/realtest/rm.S — realtest's mode switches and 16-bit code.
 *
 * rm_run() (32-bit, flat) far-jumps into 16-bit protected mode, loads
 * 16-bit data segments and FS with a 4 GiB limit, points IDTR at an IVT,
 * clears CR0.PE and far-jumps to real mode. The real-mode part runs every
 * case, storing results at RES_PHYS (realtest.h), switches once to 16-bit
 * protected mode and back, then sets PE and far-jumps (32-bit offset) back
 * to pm_back. The 16-bit code sits between rm_start and rm_end; realtest.c
 * copies it to RM_PHYS so that offsets from rm_start (O()) are offsets in
 * CS = RM_CS (real and v8086 mode) and in SEL_CODE16 (base RM_PHYS).
 *
 * v86_run(eflags) enters v8086 mode at v86_code through IRETD; the ring-0
 * stubs v86_gp/v86_int3/v86_int30 hand each event to v86_trap() in C,
 * which returns nonzero to leave v8086 mode (v86_run then returns).
 */
#include "realtest.h"

#define O(x) ((x) - rm_start)

    .text
    .code32
    .globl rm_run
rm_run:
    pushal
    pushfl
    cli
    movl %esp, rm_saved_esp
    ljmp $SEL_CODE16, $O(pm16_entry)

pm_back:
    movl $SEL_DATA32, %eax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %fs
    movw %ax, %gs
    movw %ax, %ss
    movl rm_saved_esp, %esp
    lidt idt_desc
    popfl
    popal
    ret

    .globl v86_run
v86_run:
    movl 4(%esp), %eax
    pushal
    movl %esp, v86_saved_esp
    pushl $0                /* GS */
    pushl $0                /* FS */
    pushl $RES_SEG          /* DS */
    pushl $SCRATCH_SEG      /* ES */
    pushl $V86_SS           /* SS */
    pushl $0xFFF0           /* ESP */
    pushl %eax              /* EFLAGS, VM set */
    pushl $RM_CS
    pushl $O(v86_code)
    iretl

    .globl v86_gp, v86_int3, v86_int30, v86_irq0
v86_irq0:
    pushl $0
    pushl $PIC_BASE
    jmp v86_common
v86_gp:
    pushl $13
    jmp v86_common
v86_int3:
    pushl $0
    pushl $3
    jmp v86_common
v86_int30:
    pushl $0
    pushl $0x30
v86_common:
    pushal
    movw %ds, %ax           /* what the CPU left in DS: 0 after v8086 */
    movzwl %ax, %eax
    pushl %eax
    movl $SEL_DATA32, %eax
    movw %ax, %ds
    movw %ax, %es
    cld
    pushl %esp
    call v86_trap
    addl $8, %esp
    testl %eax, %eax
    jnz 1f
    popal
    addl $8, %esp
    iretl
1:  movl v86_saved_esp, %esp
    movl $SEL_DATA32, %eax
    movw %ax, %fs
    movw %ax, %gs
    popal
    ret

    .globl pm_unexpected
pm_unexpected:
    movl $SEL_DATA32, %eax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movl $unexpected_stack_top, %esp
    call unexpected

    .data
rm_saved_esp:   .long 0
v86_saved_esp:  .long 0

/* ---- the 16-bit code, copied to RM_PHYS ----------------------------- */
    .section .rodata.rmblob, "a"
    .code16
    .globl rm_start, rm_end
rm_start:
pm16_entry:                         /* 16-bit protected mode, CS = SEL_CODE16 */
    movw $SEL_DATA16, %ax
    movw %ax, %ss
    movw %ax, %ds
    movw %ax, %gs
    movw $SEL_DATA32, %ax
    movw %ax, %fs                   /* 4 GiB limit: must survive PE = 0 */
    movw $SEL_RES16, %ax
    movw %ax, %es
    movw $0x1616, %es:R_PM16
    movw %cs, %es:R_PM16_CS
    movw $SEL_DATA16, %ax
    movw %ax, %es
    lidt %cs:O(ivt_desc)
    movl %cr0, %eax
    andl $~1, %eax
    movl %eax, %cr0
    ljmp $RM_CS, $O(real_entry)

ivt_desc:
    .word 0x3FF
    .long IVT_PHYS

real_entry:                         /* real mode, CS = RM_CS */
    movw $RM_SS, %ax
    movw %ax, %ss
    xorw %sp, %sp
    pushw $0x7777                   /* SP 0 -> FFFE */
    movw %sp, %bx
    popw %ax
    movw $RES_SEG, %ax
    movw %ax, %ds
    movw %bx, R_SP_PUSH
    movw $RES_MAGIC, R_MAGIC
    movl %cr0, %eax
    movl %eax, R_CR0

    /* 16-bit arithmetic and flags */
    movw $0x7fff, %ax
    addw $1, %ax
    pushfw
    popw R_ADD_FL
    movw %ax, R_ADD_AX
    xorw %ax, %ax
    subw $1, %ax
    pushfw
    popw R_SUB_FL
    movw %ax, R_SUB_AX
    stc
    movw $0xffff, %ax
    adcw $0, %ax
    pushfw
    popw R_ADC_FL
    movw %ax, R_ADC_AX
    movw $0x1234, %ax
    movw $0x100, %bx
    mulw %bx
    pushfw
    popw R_MUL_FL
    movw %ax, R_MUL_AX
    movw %dx, R_MUL_DX
    movw $1, %dx
    xorw %ax, %ax
    movw $3, %cx
    divw %cx
    movw %ax, R_DIV_AX
    movw %dx, R_DIV_DX
    movw $-3, %ax
    movw $7, %bx
    imulw %bx
    pushfw
    popw R_IMUL_FL
    movw %ax, R_IMUL_AX
    movw %dx, R_IMUL_DX
    movw $0x8001, %ax
    shlw $1, %ax
    pushfw
    popw R_SHL_FL
    movw %ax, R_SHL_AX
    stc
    pushfl                          /* 32-bit PUSHFD/POPFD in 16-bit code */
    popl %eax
    movl %eax, R_PUSHFD
    pushl $0x8D7
    popfl
    pushfl
    popl %eax
    movl %eax, R_POPFD
    pushl $2
    popfl
    movl $0x12345678, %eax          /* operand-size prefix */
    addl $0x11111111, %eax
    movl %eax, R_ADD32
    movl $(R_MAGIC + 0x100), %ebx   /* address-size prefix */
    movw -0x100(%ebx), %ax
    movw %ax, R_ADDR32

    /* offsets wrap at 64 KiB; segment:offset aliases */
    movw $SCRATCH_SEG, %ax
    movw %ax, %es
    movw $(SCRATCH_SEG + 0x1000), %ax
    movw %ax, %gs
    movw $0, %es:2
    movw $0, %gs:2
    movw $0xffff, %bx
    movw $0xabcd, %es:3(%bx)        /* FFFF + 3 = 0002 */
    movw %es:2, %ax
    movw %ax, R_WRAP_OFF
    movw %gs:2, %ax
    movw %ax, R_WRAP_HI
    movw $0x5aa5, %es:0x10
    movw $(SCRATCH_SEG + 1), %ax
    movw %ax, %gs
    movw %gs:0, %ax
    movw %ax, R_ALIAS

    /* far calls, jumps, returns */
    lcall $(RM_CS + 0x10), $(O(far_sub) - 0x100)
    movw %cs, R_FAR_CS2
    movw $O(far_sub2), 0xF0
    movw $RM_CS, 0xF2
    lcall *0xF0
    movw %sp, %si
    pushw $0x1111
    lcall $RM_CS, $O(far_ret2)
    subw %sp, %si
    movw %si, R_FAR_SP
    ljmp $(RM_CS + 0x10), $(O(after_fj) - 0x100)
after_fj:
    movw %cs, R_FAR_JMP
    ljmp $RM_CS, $O(after_fj2)
after_fj2:
    movw %sp, %si
    .byte 0x66, 0x9a                /* lcalll RM_CS:far32 (32-bit offset) */
    .long O(far32)
    .word RM_CS
    subw %sp, %si
    movw %si, R_FAR32

    /* IVT: INT n, #DE, INT3, INTO, #UD */
    movw $(IVT_PHYS >> 4), %ax
    movw %ax, %es
    movw $O(h_de), %es:0*4
    movw $RM_CS, %es:0*4+2
    movw $O(h_bp), %es:3*4
    movw $RM_CS, %es:3*4+2
    movw $O(h_of), %es:4*4
    movw $RM_CS, %es:4*4+2
    movw $O(h_ud), %es:6*4
    movw $RM_CS, %es:6*4+2
    movw $O(h_int40), %es:0x40*4
    movw $RM_CS, %es:0x40*4+2
    movw $O(h_irq0), %es:PIC_BASE*4
    movw $RM_CS, %es:PIC_BASE*4+2

    movw $O(ret_int40), R_INT_IPWANT
    xorw %ax, %ax
    sti
    int $0x40
ret_int40:
    cli
    movw %ax, R_INT_RET

    movw $O(de_insn), R_DE_IPWANT
    xorw %cx, %cx
    movw $1, %ax
de_insn:
    divw %cx
    int3
    movw $0x7fff, %ax
    addw $1, %ax                    /* OF = 1: INTO traps */
    into
    xorw %ax, %ax
    addw $1, %ax                    /* OF = 0: INTO does nothing */
    into
    movw $3, 0xF4
    lar %bx, %ax
    movw $3, 0xF4
    sldt %ax
    movw $2, 0xF4
    arpl %bx, %ax

    /* PIT IRQ 0 through the IVT (the PIT runs; IRQ 0 unmasked here) */
    inb $0x21, %al
    andb $0xfe, %al
    outb %al, $0x21
    sti
1:  hlt
    cmpw $3, R_IRQ_N
    jb 1b
    cli
    inb $0x21, %al
    orb $1, %al
    outb %al, $0x21

    /* self-modifying code: the running block, then through an alias */
    movw $R_SMC1, %bx
    movw $2, %cx
smc_loop:
smc_insn:
    movw $0x1111, %ax
    movw %ax, (%bx)
    addw $2, %bx
    movw $0x2222, %cs:O(smc_insn) + 1
    loop smc_loop
    xorw %ax, %ax
    movw %ax, %es
    movw $2, %cx
smc2_loop:
smc2_insn:
    movw $0x3333, %ax
    movw %ax, R_SMC3
    movw $0x4444, %es:RM_PHYS + O(smc2_insn) + 1
    loop smc2_loop

    /* big real mode: FS kept its 4 GiB limit through PE = 0 */
    movl $big_magic, %esi
    movl %fs:(%esi), %eax
    movl %eax, R_BIG1
    movl $0x5a5a5a5a, %fs:4(%esi)
    xorw %ax, %ax
    movw %ax, %fs                   /* base 0, limit still 4 GiB */
    movl %fs:(%esi), %eax
    movl %eax, R_BIG2

    /* Segment limits in real mode (btvm only: QEMU's TCG checks none):
     * a word at DS:FFFF crosses the 64 KiB limit, #GP through the IVT;
     * the same through FS (4 GiB limit kept) does not fault. */
    cmpw $0, R_WANT_LIMIT
    je 1f
    movw $(IVT_PHYS >> 4), %ax
    movw %ax, %es
    movw $O(h_gp), %es:13*4
    movw $RM_CS, %es:13*4+2
    movw $O(gp_insn), R_GP_IPWANT
    movw $3, 0xF4
gp_insn:
    movw 0xFFFF, %ax
    movw %fs:0xFFFF, %ax
    movw $1, R_LIMIT_DONE
    movw R_GP_IP, %ax
    movw %ax, R_GP_IP1
    /* An instruction at 5000:FFFE running past the CS limit: #GP; its
     * handler adds 3 to IP, which wraps to 0001, where a far JMP leads
     * back. The code is written through ES = 5000 and GS = 6000. */
    movw $0x5000, %ax
    movw %ax, %es
    movw $0x6000, %ax
    movw %ax, %gs
    movw $0x34B8, %es:0xFFFE         /* mov ax, 0x1234 */
    movb $0x12, %gs:0
    movb $0xEA, %es:1                /* jmp RM_CS:ipwrap_back */
    movw $O(ipwrap_back), %es:2
    movw $RM_CS, %es:4
    ljmp $0x5000, $0xFFFE
ipwrap_back:
    movw $1, R_IPWRAP
1:
    /* real -> 16-bit protected -> real */
    movl %cr0, %eax
    orl $1, %eax
    movl %eax, %cr0
    ljmp $SEL_CODE16, $O(pm16b)
pm16b:
    movw $SEL_RES16, %ax
    movw %ax, %es
    movw $0x1617, %es:R_PM16B
    movl %cr0, %eax
    andl $~1, %eax
    movl %eax, %cr0
    ljmp $RM_CS, $O(rm_back)
rm_back:
    movw $RES_SEG, %ax
    movw %ax, %ds
    movw $0x8086, R_BACK

    movw $0xD0E, R_DONE
    movl %cr0, %eax
    orl $1, %eax
    movl %eax, %cr0
    .byte 0x66, 0xea                /* ljmpl SEL_CODE32:pm_back */
    .long pm_back
    .word SEL_CODE32

far_sub:
    movw %cs, R_FAR_CS
    lret
far_sub2:
    movw %cs, R_FAR_IND
    lret
far_ret2:
    lret $2
far32:
    lretl

h_int40:
    pushfw
    popw R_INT_FL
    movw %sp, %bp
    movw (%bp), %ax
    movw %ax, R_INT_IP
    movw 2(%bp), %ax
    movw %ax, R_INT_CS
    movw 4(%bp), %ax
    movw %ax, R_INT_PUSHFL
    movw $0x4040, %ax
    iret
h_de:
    incw R_DE_N
    movw %sp, %bp
    movw (%bp), %ax
    movw %ax, R_DE_IP
    addw $2, (%bp)                  /* past DIV CX */
    iret
h_gp:
    incw R_GP_N
    movw %sp, %bp
    movw (%bp), %ax
    movw %ax, R_GP_IP
    movw 0xF4, %ax
    addw %ax, (%bp)
    iret
h_bp:
    incw R_BP_N
    iret
h_of:
    incw R_OF_N
    iret
h_ud:
    incw R_UD_N
    movw %sp, %bp
    movw 0xF4, %ax
    addw %ax, (%bp)
    iret
h_irq0:
    pushw %ax
    pushw %bp
    incw R_IRQ_N
    movw %sp, %bp
    movw 8(%bp), %ax
    movw %ax, R_IRQ_FL
    movb $0x20, %al
    outb %al, $0x20
    popw %bp
    popw %ax
    iret

/* v8086 mode: CS = RM_CS, DS = RES_SEG, SS:SP = V86_SS:FFF0 */
v86_code:
    movw $0x8686, R_V86_MARK
    cli
    sti
    int $0x30
    outb %al, $0x80                 /* allowed by the I/O bitmap */
    movw $1, R_V86_OUT
    inb $0x64, %al                  /* denied by the I/O bitmap */
    int3
    pushfw
    popw %ax
    movw %ax, R_V86_PF
    pushw $0x0202                   /* IF = 1, IOPL = 0 */
    popfw                           /* IOPL stays (3), or #GP at IOPL 0 */
    pushfw
    popw %ax
    movw %ax, R_V86_PF2
    pushfw                          /* IRET inside v8086 mode */
    pushw %cs
    pushw $O(v86_after_iret)
    iret
v86_after_iret:
    movw $1, R_V86_IRET
    cmpw $0, R_V86_WANTIRQ
    je 2f
    sti                             /* PIT interrupts go to the ring-0 monitor */
    movl $200000000, %ecx
1:  cmpw $2, R_V86_IRQ
    jae 2f
    decl %ecx
    jnz 1b
2:  cli
    movw $0xD0E, R_V86_DONE
    hlt                             /* #GP: the monitor ends the run */
rm_end:
