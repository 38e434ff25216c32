/*
 * bt/enter.S — entering and leaving translated code.
 *
 * Inside the code cache: guest EAX..EDI live in RAX..RDI (upper halves zero)
 * except ESP, which lives in R12; R15 = struct cpu * (the shadow tables
 * follow it), R14 = the addend most guest pages share (emit_mem.c);
 * R8-R11, R13 are scratch; the engine's per-vcpu fields (struct bt_vcpu)
 * sit right below R15 (BT_OFF_*); the host RFLAGS carries the guest's arithmetic
 * flags and DF; the host FPU/SSE registers hold the guest's. See
 * docs/translation.md.
 */
#include "bt/offsets.h"

    .intel_syntax noprefix
    .text

/* Save the eight guest registers and merge the host flags into cpu->eflags. */
.macro SAVE_GUEST
    mov [r15 + 0], eax
    mov [r15 + 4], ecx
    mov [r15 + 8], edx
    mov [r15 + 12], ebx
    mov [r15 + 16], r12d
    mov [r15 + 20], ebp
    mov [r15 + 24], esi
    mov [r15 + 28], edi
    pushfq
    pop rax
    and eax, BT_HOSTLIVE_FLAGS
    mov ecx, [r15 + CPU_OFF_EFLAGS]
    and ecx, ~BT_HOSTLIVE_FLAGS
    or eax, ecx
    mov [r15 + CPU_OFF_EFLAGS], eax
    cld
.endm

/* The guest's flags back into RFLAGS without POPFQ (~25 cycles here): DF
 * with STD (C code returns with DF clear), OF from ADD AL,0x7F (it
 * overflows exactly when AL = 1), then SAHF for SF ZF AF PF CF. */
.macro LOAD_GUEST
    mov eax, [r15 + CPU_OFF_EFLAGS]
    bt eax, 10
    jnc 77f
    std
77:
    mov ecx, eax
    shr ecx, 11
    and ecx, 1
    mov ah, al
    mov al, cl
    add al, 0x7F
    sahf
    mov eax, [r15 + 0]
    mov ecx, [r15 + 4]
    mov edx, [r15 + 8]
    mov ebx, [r15 + 12]
    mov r12d, [r15 + 16]
    mov ebp, [r15 + 20]
    mov esi, [r15 + 24]
    mov edi, [r15 + 28]
.endm

/*
 * A callout's C code (and the C library under it) may use the XMM
 * registers but never the x87 stack and never writes MXCSR, so only the
 * guest's XMM0-7 are parked in the fxsave image around it — a fraction of
 * FXSAVE + FXRSTOR. A 32-bit guest has no XMM8-15 and translated code
 * keeps nothing in them. MXCSR stays the guest's in the register (STMXCSR
 * + LDMXCSR cost ~25 cycles here); the image's copy is brought up to date
 * by the FXSAVE of a callout that leaves to the dispatcher.
 */
.macro SAVE_XMM
    .irp i, 0,1,2,3,4,5,6,7
    movaps [r15 + CPU_OFF_FXSTATE + 160 + 16 * \i], xmm\i
    .endr
.endm

.macro LOAD_XMM
    .irp i, 0,1,2,3,4,5,6,7
    movaps xmm\i, [r15 + CPU_OFF_FXSTATE + 160 + 16 * \i]
    .endr
.endm

/* Back to bt_enter's caller with eax = bt_vcpu exit_reason. */
.macro LEAVE_TO_C
    fninit
    ldmxcsr [rip + host_mxcsr]
    mov eax, [r15 + BT_OFF_EXIT]
    mov rsp, [r15 + BT_OFF_HOST_RSP]
    add rsp, 8
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbp
    pop rbx
    ret
.endm

/* uint32_t bt_enter(struct cpu *c, void *host_code, void *fast_addend) */
    .globl bt_enter
    .type bt_enter, @function
bt_enter:
    push rbx
    push rbp
    push r12
    push r13
    push r14
    push r15
    sub rsp, 8
    stmxcsr [rip + host_mxcsr]
    mov [rdi + BT_OFF_HOST_RSP], rsp
    mov r15, rdi
    mov r14, rdx
    mov r11, rsi
    fxrstor [r15 + CPU_OFF_FXSTATE]
    LOAD_GUEST
    jmp r11
    .size bt_enter, . - bt_enter

/* Jumped to from translated code; cpu->eip and the bt_vcpu exit_reason are set. */
    .globl bt_exit_tramp
    .type bt_exit_tramp, @function
bt_exit_tramp:
    SAVE_GUEST
    fxsave [r15 + CPU_OFF_FXSTATE]
    LEAVE_TO_C
    .size bt_exit_tramp, . - bt_exit_tramp

/*
 * Called from translated code with r11 = int fn(struct cpu *, const void *insn)
 * and the decoded instruction pointer in the bt_vcpu co_insn; calls it through
 * bt_callout_dispatch (runtime.c). R13 survives. Returns to the caller unless
 * fn returns nonzero (an exit reason), in which case it leaves to C.
 * bt_mem_callout_tramp, jumped to by the memory access stubs
 * (emit_memstub.c), also hands bt_mem_slow's result back: R10D = the
 * linear address, R11 = the addend the access uses.
 */
.macro CALLOUT_TRAMP name, memret
    .globl \name
    .type \name, @function
\name:
    mov dword ptr [r15 + BT_OFF_LOOP_DIRTY], 1
    SAVE_GUEST
    SAVE_XMM
    mov rbx, rsp
    and rsp, -16
    mov rdi, r15
    mov rsi, [r15 + BT_OFF_CO_INSN]
    mov rdx, r11
    call bt_callout_dispatch
    mov rsp, rbx
    test eax, eax
    jnz 1f
    LOAD_XMM
    LOAD_GUEST
.if \memret
    mov r10d, [r15 + BT_OFF_ARG1]
    mov r11, [r15 + BT_OFF_MEM_ADDEND]
.endif
    ret
1:  cmp eax, BT_CO_JUMP
    jne 2f
    /* Continue at another block: drop our return address (LEA: the
     * guest's flags are already back in RFLAGS). */
    mov r11, [r15 + BT_OFF_EXIT_SITE]
    mov r14, [r15 + BT_OFF_MEM_ADDEND]
    LOAD_XMM
    LOAD_GUEST
    lea rsp, [rsp + 8]
    jmp r11
2:  mov [r15 + BT_OFF_EXIT], eax
    LOAD_XMM
    fxsave [r15 + CPU_OFF_FXSTATE]
    LEAVE_TO_C
    .size \name, . - \name
.endm
    CALLOUT_TRAMP bt_callout_tramp, 0
    CALLOUT_TRAMP bt_mem_callout_tramp, 1

/*
 * Records and the trampolines below hold guest EIPs. In blocks found by
 * physical address (bt/bt.h bt_key_shared) they are relative to the
 * bt_vcpu vbase, and the _vb variants add it with LEA (the guest's flags
 * are live) into R9, which is free at every one of them (C code clobbers
 * it anyway). Other blocks hold absolute EIPs and use the plain ones.
 */
.macro ADD_VBASE reg32, reg64, vb
.if \vb
    mov r9d, [r15 + BT_OFF_VBASE]
    lea \reg32, [\reg64 + r9]
.endif
.endm

/*
 * The memory slow path's two callouts (emit_mem.c), compact: the block
 * sets only R11 = ARG0 in the low half and the guest EIP in the high half
 * (one MOV) and calls here; R10 holds the linear address. This fills
 * ARG0, EIP, ARG1 and CO_INSN (internal: none) as the generic callout
 * sequence would, with moves only (the guest's flags are live in RFLAGS),
 * and goes on as bt_callout_tramp with the C function in R11. About 30
 * bytes less per call site.
 */
.macro MEM_TRAMP name, fn, vb
    .globl \name
    .type \name, @function
\name:
    mov [r15 + BT_OFF_ARG0], r11
    mov r11d, [r15 + BT_OFF_ARG1]
    ADD_VBASE r11d, r11, \vb
    mov [r15 + CPU_OFF_EIP], r11d
    mov [r15 + BT_OFF_ARG1], r10d
    mov qword ptr [r15 + BT_OFF_CO_INSN], 0
    lea r11, [rip + \fn]
    jmp bt_callout_tramp
    .size \name, . - \name
.endm
    MEM_TRAMP bt_mem_slow_tramp, bt_mem_slow, 0
    MEM_TRAMP bt_mem_done_tramp, bt_mem_done, 0
    MEM_TRAMP bt_mem_slow_tramp_vb, bt_mem_slow, 1
    MEM_TRAMP bt_mem_done_tramp_vb, bt_mem_done, 1

/*
 * Every other callout (emit_common.c): R11 = its struct bt_co_site
 * {fn, insn, eip}. R10 is free here: a callout never keeps it (the C
 * code clobbers it). Moves only: the guest's flags are live in RFLAGS.
 */
.macro SITE_TRAMP name, vb
    .globl \name
    .type \name, @function
\name:
    mov r10, [r11 + 8]
    mov [r15 + BT_OFF_CO_INSN], r10
    mov r10d, [r11 + 16]
    ADD_VBASE r10d, r10, \vb
    mov [r15 + CPU_OFF_EIP], r10d
    mov r11, [r11]
    jmp bt_callout_tramp
    .size \name, . - \name
.endm
    SITE_TRAMP bt_site_tramp, 0
    SITE_TRAMP bt_site_tramp_vb, 1

/* A block entry whose code page is not in the execute table (translate.c):
 * CALL here, 5 bytes; bt_entry_refill finds the block by the return
 * address (ARG0 and ARG1, one move) and sets EIP itself. */
    .globl bt_refill_tramp
    .type bt_refill_tramp, @function
bt_refill_tramp:
    mov r11, [rsp]
    mov [r15 + BT_OFF_ARG0], r11
    mov qword ptr [r15 + BT_OFF_CO_INSN], 0
    lea r11, [rip + bt_entry_refill]
    jmp bt_callout_tramp
    .size bt_refill_tramp, . - bt_refill_tramp

/*
 * A chainable block exit (emit_common.c, exit_stub_reason): R11 = its
 * record {site, -, eip, reason} (struct bt_co_site). R10 is scratch at an
 * exit. Moves only, then the usual exit.
 */
.macro EXIT_SITE_TRAMP name, vb
    .globl \name
    .type \name, @function
\name:
    mov r10, [r11]
    mov [r15 + BT_OFF_EXIT_SITE], r10
    mov r10d, [r11 + 16]
    ADD_VBASE r10d, r10, \vb
    mov [r15 + CPU_OFF_EIP], r10d
    mov r10d, [r11 + 20]
    mov [r15 + BT_OFF_EXIT], r10d
    jmp bt_exit_tramp
    .size \name, . - \name
.endm
    EXIT_SITE_TRAMP bt_exit_site_tramp, 0
    EXIT_SITE_TRAMP bt_exit_site_tramp_vb, 1

/*
 * An out-of-line exit (emit_common.c, ra_exit): CALL here, 5 bytes. Its
 * return address goes to exit_site for the dispatcher to find the exit's
 * record by (engine.c exit_by_ra); the return address is dropped, the way
 * out is the usual exit.
 */
    .globl bt_exit_ra_tramp
    .type bt_exit_ra_tramp, @function
bt_exit_ra_tramp:
    pop r11
    mov [r15 + BT_OFF_EXIT_SITE], r11
    mov dword ptr [r15 + BT_OFF_EXIT], BT_EXIT_RA_CODE
    jmp bt_exit_tramp
    .size bt_exit_ra_tramp, . - bt_exit_ra_tramp

/* A block's tombstone (translate.c): the same, with ARG0 = the block's key
 * from the record's insn field. */
.macro TOMB_TRAMP name, next
    .globl \name
    .type \name, @function
\name:
    mov r10d, [r11 + 8]
    mov [r15 + BT_OFF_ARG0], r10d
    jmp \next
    .size \name, . - \name
.endm
    TOMB_TRAMP bt_tomb_tramp, bt_exit_site_tramp
    TOMB_TRAMP bt_tomb_tramp_vb, bt_exit_site_tramp_vb

/*
 * The exact page-crossing test of a misaligned access (emit_mem.c,
 * emit_cross_check), shared: R10 = the linear address; leaves the flags
 * of CMP (R10 & 0xFFF), 0x1000 - size, so the caller's JA goes to its slow
 * path. Clobbers R9. One per access size.
 */
.macro CROSS size
    .globl bt_cross\size
    .type bt_cross\size, @function
bt_cross\size:
    mov r9d, r10d
    and r9d, 0xfff
    cmp r9d, 0x1000 - \size
    ret
    .size bt_cross\size, . - bt_cross\size
.endm
    CROSS 2
    CROSS 4
    CROSS 8
    CROSS 16

/* A signal handler redirected here: guest state is already in struct cpu
 * (taken from the signal frame) and r15 = struct cpu *. */
    .globl bt_signal_leave
    .type bt_signal_leave, @function
bt_signal_leave:
    LEAVE_TO_C
    .size bt_signal_leave, . - bt_signal_leave

    .data
    .align 4
host_mxcsr: .long 0x1f80
/*
 * A light callout: called from a store site of the direct device page
 * (emit_mem.c) with the value in the bt_vcpu arg0 and the linear address in
 * arg1; calls bt_dev_store(cpu) (runtime.c), which hands the store to the
 * device (smmu_direct_write). No guest spill: only what the C ABI lets the
 * callee clobber is saved — RAX RCX RDX RSI RDI R8-R11, XMM0-7 (the guest's, in the
 * fxsave image, as SAVE_XMM does), DF (cleared for C, set again after) —
 * so the callee must not read or change guest state in struct cpu (the
 * registers there are stale) or raise anything: the smmu_direct_page
 * contract. The arithmetic flags are the caller's to save when live.
 */
    .text
    .globl bt_light_tramp
    .type bt_light_tramp, @function
bt_light_tramp:
    mov dword ptr [r15 + BT_OFF_LOOP_DIRTY], 1
    push rax
    push rcx
    push rdx
    push rsi
    push rdi
    push r8
    push r9
    push r10
    push r11
    push rbp
    pushfq
    cld
    SAVE_XMM
    mov rbp, rsp
    and rsp, -16
    mov rdi, r15
    call bt_dev_store
    mov rsp, rbp
    LOAD_XMM
    test dword ptr [rsp], 0x400
    jz 1f
    std
1:  lea rsp, [rsp + 8]
    pop rbp
    pop r11
    pop r10
    pop r9
    pop r8
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rax
    ret
    .size bt_light_tramp, . - bt_light_tramp

    .section .note.GNU-stack,"",@progbits

