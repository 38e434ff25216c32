/*
 * guests/realtest/realtest.h — what realtest.c (32-bit protected mode, the
 * checks) and rm.S (the 16-bit code it copies below 1 MiB) share: GDT
 * selectors, the low-memory layout and the offsets of the result words the
 * real-mode and v8086 code store.
 */
#ifndef REALTEST_H
#define REALTEST_H

/* GDT (realtest.c builds it). */
#define SEL_CODE32 0x08
#define SEL_DATA32 0x10   /* flat 4 GiB: also FS for big real mode */
#define SEL_CODE16 0x18   /* 16-bit code, base RM_PHYS, limit FFFF */
#define SEL_DATA16 0x20   /* 16-bit data, base 0, limit FFFF */
#define SEL_RES16  0x28   /* 16-bit data, base RES_PHYS: the results */
#define SEL_TSS    0x30

/* Low memory. The 16-bit code runs at RM_CS:offset-in-blob in real and
 * v8086 mode and at SEL_CODE16:the same offset in 16-bit protected mode. */
#define RM_PHYS    0x8000
#define RM_CS      0x0800
#define IVT_PHYS   0x1000   /* real mode's LIDT base */
#define RES_PHYS   0x2000
#define RES_SEG    0x0200
#define RM_SS      0x3000   /* SP starts at 0: the first push wraps it */
#define SCRATCH_SEG 0x4000  /* segment wrap tests: 0x40000-0x5FFFF */
#define V86_SS     0x6000   /* v8086 stack: 0x60000-0x6FFFF */

/* PIC vector base realtest programs (IRQ0 = PIC_BASE). */
#define PIC_BASE   0x20

/* Result words, offsets from RES_PHYS (DS = RES_SEG in real mode). */
#define R_MAGIC      0x000  /* 16: set by real mode on entry */
#define R_ADD_AX     0x002
#define R_ADD_FL     0x004
#define R_SUB_AX     0x006
#define R_SUB_FL     0x008
#define R_ADC_AX     0x00A
#define R_ADC_FL     0x00C
#define R_MUL_AX     0x00E
#define R_MUL_DX     0x010
#define R_MUL_FL     0x012
#define R_DIV_AX     0x014
#define R_DIV_DX     0x016
#define R_IMUL_AX    0x018
#define R_IMUL_DX    0x01A
#define R_IMUL_FL    0x01C
#define R_SHL_AX     0x01E
#define R_SHL_FL     0x020
#define R_ADD32      0x024  /* 32 */
#define R_ADDR32     0x028  /* 16: addr32 load */
#define R_WRAP_OFF   0x02A  /* 16: word stored at FFFF+3 read back at 2 */
#define R_WRAP_HI    0x02C  /* 16: the same at 0x10002 (must stay 0) */
#define R_SP_PUSH    0x02E  /* 16: SP after the first push from SP = 0 */
#define R_ALIAS      0x030  /* 16: 4000:0010 read back as 4001:0000 */
#define R_FAR_CS     0x032  /* 16: CS inside a far-called routine */
#define R_FAR_CS2    0x034  /* 16: CS after its RETF */
#define R_FAR_IND    0x036  /* 16: CS inside the routine called through m16:16 */
#define R_FAR_SP     0x038  /* 16: SP change over CALLF + RETF 2 (want 0) */
#define R_FAR_JMP    0x03A  /* 16: CS after a far JMP */
#define R_FAR32      0x03C  /* 16: SP change over a 32-bit CALLF/RETFD */
#define R_INT_FL     0x03E  /* 16: FLAGS inside INT 40h */
#define R_INT_PUSHFL 0x040  /* 16: FLAGS image INT 40h pushed */
#define R_INT_CS     0x042  /* 16: CS pushed */
#define R_INT_IP     0x044  /* 16: IP pushed (want the next insn's offset) */
#define R_INT_IPWANT 0x046
#define R_INT_RET    0x048  /* 16: AX after IRET (set by the handler) */
#define R_DE_N       0x04A  /* 16: divide errors taken */
#define R_DE_IP      0x04C  /* 16: IP the #DE pushed */
#define R_DE_IPWANT  0x04E
#define R_BP_N       0x050  /* 16: INT3 taken */
#define R_OF_N       0x052  /* 16: INTO taken (OF=1), not taken (OF=0) */
#define R_UD_N       0x054  /* 16: #UD taken (LAR, SLDT, ARPL) */
#define R_IRQ_N      0x056  /* 16: PIT interrupts through the IVT */
#define R_IRQ_FL     0x058  /* 16: FLAGS image the IRQ pushed (IF set) */
#define R_SMC1       0x05A  /* 16: before patching */
#define R_SMC2       0x05C  /* 16: after patching the running block */
#define R_SMC3       0x05E  /* 16: after patching through a 0000: alias */
#define R_BIG1       0x060  /* 32: FS:[ESI] above 1 MiB, FS from protected mode */
#define R_BIG2       0x064  /* 32: after MOV FS in real mode (limit kept) */
#define R_PM16       0x068  /* 16: stored in 16-bit protected mode on the way in */
#define R_PM16_CS    0x06A  /* 16: CS there */
#define R_PM16B      0x06C  /* 16: stored in 16-bit PM entered from real mode */
#define R_BACK       0x06E  /* 16: stored in real mode after that round trip */
#define R_CR0        0x070  /* 32: CR0 read in real mode */
#define R_DONE       0x074  /* 16: last word real mode stores */
#define R_PUSHFD     0x078  /* 32: PUSHFD image after STC (66h in 16-bit code) */
#define R_POPFD      0x07C  /* 32: EFLAGS after POPFD of 0x8D7 */
#define R_V86_MARK   0x080
#define R_WANT_LIMIT 0x090  /* 16: set by realtest.c ("limits" on the command line) */
#define R_GP_N       0x092  /* 16: #GP (INT 13) taken in real mode */
#define R_GP_IP      0x094  /* 16: IP it pushed */
#define R_GP_IPWANT  0x096
#define R_LIMIT_DONE 0x098
#define R_GP_IP1     0x09A  /* 16: IP the first #GP pushed */
#define R_IPWRAP     0x09C  /* 16: back after the IP ran past FFFF (#GP) */  /* 16: stored by v8086 code (DS = RES_SEG) */
#define R_V86_OUT    0x082  /* 16: v8086 reached the instruction after OUT 80h */
#define R_V86_PF     0x084  /* 16: PUSHF image at IOPL 3 */
#define R_V86_DONE   0x086
#define R_V86_PF2    0x088  /* 16: FLAGS after POPF of 0x0202 */
#define R_V86_IRET   0x08A  /* 16: reached the IRET's target */
#define R_V86_WANTIRQ 0x08C /* 16: set by realtest.c: wait for PIT interrupts */
#define R_V86_IRQ    0x08E  /* 16: PIT interrupts the monitor took from v8086 mode */

#define RES_MAGIC 0x5245  /* "RE" */

#endif
