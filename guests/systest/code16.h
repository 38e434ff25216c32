/*
 * guests/systest/code16.h — what the code16 test's 16-bit routine
 * (code16.S, assembled into stubs.o) and its checker (systest.c) share:
 * the selectors of its three 16-bit segments and the layout of its data
 * segment (saved 32-bit SS:ESP, one dword per result, then the operands of
 * the string and addressing-mode tests). Included from assembly too, so
 * only #defines.
 */
#ifndef CODE16_H
#define CODE16_H

#define SEL_CODE16  0x60   /* 16-bit code, base c16_start, limit 0xffff */
#define SEL_STACK16 0x68   /* 16-bit (B=0) expand-up data, base c16_stack, limit 0xffff */
#define SEL_DATA16  0x70   /* 16-bit data, base c16_data, limit 0xffff */

/* Initial ESP on the 16-bit stack: ESP[31:16] must survive every stack op. */
#define C16_ESP_HI   0x00010000
#define C16_SP0      0x0200

/* Offsets in the data segment (c16_data). */
#define C16_OLD_ESP       0x00
#define C16_OLD_SS        0x04
#define C16_ENTRY_EIP     0x08   /* pushed by the 32-bit lcall, seen at entry */
#define C16_ENTRY_CS      0x0c
#define C16_CS            0x10
#define C16_SS            0x14
#define C16_PUSH_BX       0x18   /* push ax(0x1234); pop bx */
#define C16_PUSH_DELTA    0x1c   /* SP change of push ax */
#define C16_PUSH_IMM16    0x20   /* push $0x5678; pop cx */
#define C16_PUSH_IMM8     0x24   /* push $-2 (6a fe); pop dx */
#define C16_ESP_PUSH      0x28   /* ESP after the pushes and pops */
#define C16_CALL_RET      0x2c   /* return IP seen at [bp] in the callee */
#define C16_CALL_EXP      0x30   /* what it should be (assembler's offset) */
#define C16_CALL_ARG      0x34   /* argument at [bp+2] */
#define C16_ESP_CALLEE    0x38
#define C16_ESP_RET2      0x3c   /* after ret $2 */
#define C16_LOOP_N        0x40   /* iterations of loop with ECX = 0xabcd0005 */
#define C16_LOOP_ECX      0x44
#define C16_JCXZ0         0x48   /* jcxz taken with ECX = 0x10000 (CX = 0) */
#define C16_JCXZ1         0x4c   /* jcxz taken with CX = 1 */
#define C16_BXSI          0x50   /* [bx+si+0x104], bx = 0xf0, si = 0x10 */
#define C16_BXSI_WRAP     0x54   /* same, bx = 0xfff0, si = 0x110 (sum wraps) */
#define C16_BPDI          0x58   /* [bp+di] = 0x180: from SS */
#define C16_BXDI          0x5c   /* [bx+di] = 0x180: from DS */
#define C16_BPDI_DS       0x60   /* ds:[bp+di] */
#define C16_LEA16         0x64   /* lea 0x10(bx,si), ax with bx = 0xfff8, si = 0x10 */
#define C16_LEA32         0x68   /* same into EAX (was -1) */
#define C16_MOVS_ESI      0x6c   /* rep movsb, ESI/EDI/ECX = 0x5555_0100/0x6666_0140/0x7777_0008 */
#define C16_MOVS_EDI      0x70
#define C16_MOVS_ECX      0x74
#define C16_ENTER_DELTA   0x78   /* enter $4, $0 at SP 0x200 */
#define C16_ENTER_BP      0x7c
#define C16_ENTER_OLDBP   0x80   /* ss:[bp] after enter (BP was 0x5a5a) */
#define C16_LEAVE_ESP     0x84
#define C16_LEAVE_BP      0x88
#define C16_ENTER1_DELTA  0x8c   /* enter $2, $1 */
#define C16_ENTER1_BP     0x90
#define C16_ENTER1_FRAME  0x94   /* ss:[bp-2]: the frame pointer it pushed */
#define C16_LEAVE1_ESP    0x98
#define C16_PUSHF_DELTA   0x9c
#define C16_PUSHA_DELTA   0xa0
#define C16_PUSHA_SP      0xa4   /* the SP slot pusha stored */
#define C16_POPA_ESP      0xa8
#define C16_WRAP_ESP      0xac   /* push ax at SP = 0 */
#define C16_WRAP_VAL      0xb0   /* ss:[0xfffe] after it */
#define C16_WRAP_POP      0xb4
#define C16_WRAP_ESP2     0xb8
#define C16_DONE          0xbc   /* 0xc0de when the routine got to the end */
#define C16_SRC           0x100  /* 8 bytes copied by rep movsb ... */
#define C16_DST           0x140  /* ... to here */
#define C16_SAME          0x180  /* DS: 0xaaaa, SS: 0xbbbb */
#define C16_TABLE         0x204  /* 0x4321, read through [bx+si+disp] */
#define C16_DATA_SIZE     0x210

#endif
