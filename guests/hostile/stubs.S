/*
 * guests/hostile/stubs.S — the self-modifying parts of the hostile guest,
 * in asm because their layout is the point: smc-storm rewrites the
 * immediate and the opcode of instructions it is about to execute, on
 * every iteration; selfmod-stack runs with ESP inside the page (and a
 * few bytes after) the code it executes, so every push is a write to a
 * code page. Both write their results to out[] for the C side to check.
 */
    .text

/* void hostile_smc_storm(uint32_t n, uint32_t out[3])
 * out[0] = sum of the patched immediates (n..1), out[1] = count of
 * iterations with even ECX (patched to inc %esi), out[2] = odd (inc %edi). */
    .globl hostile_smc_storm
    .type hostile_smc_storm, @function
hostile_smc_storm:
    pushl %ebx
    pushl %esi
    pushl %edi
    movl 16(%esp), %ecx
    xorl %ebx, %ebx
    xorl %esi, %esi
    xorl %edi, %edi
1:  movl %ecx, 2f+1           /* patch the imm32 of the mov below */
    movl %ecx, %eax
    andl $1, %eax
    addb $0x46, %al           /* 0x46 = inc %esi, 0x47 = inc %edi */
    movb %al, 3f              /* patch the opcode two instructions on */
2:  movl $0, %eax
    addl %eax, %ebx
3:  incl %esi
    loop 1b
    movl 20(%esp), %eax
    movl %ebx, 0(%eax)
    movl %esi, 4(%eax)
    movl %edi, 8(%eax)
    popl %edi
    popl %esi
    popl %ebx
    ret
    .size hostile_smc_storm, . - hostile_smc_storm

/* void hostile_selfmod_stack(uint32_t n, uint32_t out[1])
 * out[0] = sum over iterations of (ECX + 0x12345678). */
    .balign 4096
    .globl hostile_selfmod_stack
    .type hostile_selfmod_stack, @function
hostile_selfmod_stack:
    pushl %ebx
    pushl %esi
    pushl %edi
    pushl %ebp
    movl 20(%esp), %ecx
    movl 24(%esp), %edx
    movl %esp, selfmod_saved_esp
    movl $selfmod_stack_top, %esp
    xorl %ebx, %ebx
1:  pushl %ecx
    pushl $0x12345678
    call 3f                   /* return address goes to the code page */
    popl %eax
    popl %esi
    addl %eax, %ebx
    addl %esi, %ebx
    pushal
    pushfl
    popfl
    popal
    loop 1b
    movl selfmod_saved_esp, %esp
    movl %ebx, 0(%edx)
    popl %ebp
    popl %edi
    popl %esi
    popl %ebx
    ret
    /* A small stack between two pieces of code on the same page. */
    .skip 96, 0xcc
selfmod_stack_top:
3:  pushl %ecx
    popl %ecx
    ret
    .size hostile_selfmod_stack, . - hostile_selfmod_stack
    .balign 4096

    .data
    .balign 4
selfmod_saved_esp:
    .long 0

    .section .note.GNU-stack, "", @progbits
