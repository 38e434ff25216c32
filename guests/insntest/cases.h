/*
 * guests/insntest/cases.h — the insntest case list, written once and
 * included by both the host generator and the i686 guest with CASE defined:
 *
 *   CASE(name, asm_text, flag_mask, ptrs, needs, eax, ebx, ecx, edx, esi, edi, eflags_in)
 *
 * asm_text is AT&T assembly that means the same in 32- and 64-bit mode:
 * 32-bit (or 16/8-bit) registers only, memory through M ("ist_buf+32") or
 * through a register listed in ptrs (bit i = register i holds an offset
 * from M), no push/pop/call or ESP use (those cases live in stackcases.c).
 * flag_mask holds the EFLAGS bits that are defined after the instruction
 * (SDM "Flags Affected"); undefined ones are not compared. Registers, the
 * masked flags and the whole 128-byte buffer are compared.
 *
 * Divide by zero (#DE) is not here: it needs an IDT, and exception
 * delivery is covered by the exception guest tests.
 */

#define M "ist_buf+32"
#define MO(off) "ist_buf+32+" #off

/* Flag masks, from the SDM "Flags Affected" paragraphs. */
#define M_ALL   F_TESTED                       /* all defined (or unaffected)     */
#define M_LOGIC (F_TESTED & ~F_AF)             /* and/or/xor/test: AF undefined   */
#define M_MUL   (F_CF | F_OF | F_DF)           /* mul/imul: SF ZF AF PF undefined */
#define M_DIV   F_DF                           /* div/idiv: all undefined         */
#define M_BT    (F_CF | F_ZF | F_DF)           /* bt*: OF SF AF PF undefined      */
#define M_BS    (F_ZF | F_DF)                  /* bsf/bsr: only ZF defined        */
#define M_SH1   (F_TESTED & ~F_AF)             /* shift by 1                      */
#define M_SHN   (F_TESTED & ~F_AF & ~F_OF)     /* shift by >1: OF undefined       */
#define M_SHBIG (F_TESTED & ~F_AF & ~F_OF & ~F_CF) /* count >= width: CF undefined */
#define M_ROTN  (F_TESTED & ~F_OF)             /* rotate by >1: OF undefined      */
#define M_FCOMI (F_ZF | F_PF | F_CF | F_DF)    /* fcomi: see the case             */

#define ALLF (F_ARITH)
#define R_ESI 0x10
#define R_EDI 0x20

/* Two integer operands in EAX/EBX, other registers fixed but non-trivial. */
#define C(n, t, m, a, b, fl) \
    CASE(n, t, m, 0, N_NONE, a, b, 0xc001d00d, 0x5eed1234, 0x0badf00d, 0x600dcafe, fl)
#define CX(n, t, m, a, b, c, d, fl) \
    CASE(n, t, m, 0, N_NONE, a, b, c, d, 0x0badf00d, 0x600dcafe, fl)

/* Operand sets: zero, one, sign bit, all ones, per-size edges, random. */
#define V8(n, t, m) \
    C(n##_1, t, m, 0x00000000, 0x00000000, 0) \
    C(n##_2, t, m, 0x00000001, 0xffffffff, F_CF) \
    C(n##_3, t, m, 0x7fffffff, 0x00000001, 0) \
    C(n##_4, t, m, 0x80000000, 0x80000000, ALLF) \
    C(n##_5, t, m, 0x7f7f7f7f, 0x01010101, 0) \
    C(n##_6, t, m, 0x12345678, 0x9abcdef0, F_CF) \
    C(n##_7, t, m, 0xdeadbeef, 0xfeedface, F_SF | F_AF) \
    C(n##_8, t, m, 0x80008080, 0x0000ff80, F_CF | F_OF)
#define V4(n, t, m) \
    C(n##_1, t, m, 0x00000001, 0xffffffff, F_CF) \
    C(n##_2, t, m, 0x7fffffff, 0x00000001, 0) \
    C(n##_3, t, m, 0x12345678, 0x9abcdef0, F_CF) \
    C(n##_4, t, m, 0x80008080, 0x0000ff80, ALLF)

/* ---- binary ALU ops: reg/mem/imm forms, 8/16/32-bit ---- */
#define ALU(op, m) \
    V8(op##_l_rr, #op "l %ebx, %eax", m) \
    V8(op##_w_rr, #op "w %bx, %ax", m) \
    V8(op##_b_rr, #op "b %bl, %al", m) \
    V4(op##_b_hh, #op "b %bh, %ah", m) \
    V4(op##_l_mr, "movl %eax, " M "\n\t" #op "l %ebx, " M, m) \
    V4(op##_l_rm, "movl %ebx, " M "\n\t" #op "l " M ", %eax", m) \
    V4(op##_b_mr, "movl %eax, " M "\n\t" #op "b %bl, " MO(1), m) \
    V4(op##_l_i32, #op "l $0x12345678, %eax", m) \
    V4(op##_l_i8, #op "l $-3, %eax", m) \
    V4(op##_b_i, #op "b $0x80, %al", m) \
    V4(op##_w_mi, "movw %ax, " M "\n\t" #op "w $0x7fff, " M, m)

ALU(add, M_ALL)
ALU(or,  M_LOGIC)
ALU(adc, M_ALL)
ALU(sbb, M_ALL)
ALU(and, M_LOGIC)
ALU(sub, M_ALL)
ALU(xor, M_LOGIC)
ALU(cmp, M_ALL)
V8(test_l_rr, "testl %ebx, %eax", M_LOGIC)
V4(test_b_rr, "testb %bl, %al", M_LOGIC)
V4(test_w_i, "testw $0x8001, %ax", M_LOGIC)
V4(test_l_mi, "movl %eax, " M "\n\ttestl $0x80000001, " M, M_LOGIC)

/* ---- unary ---- */
V8(neg_l, "negl %eax", M_ALL)
V4(neg_w, "negw %ax", M_ALL)
V4(neg_b, "negb %al", M_ALL)
V4(neg_m, "movl %eax, " M "\n\tnegl " M, M_ALL)
V4(not_l, "notl %eax", M_ALL)
V4(not_b, "notb %ah", M_ALL)
V4(not_m, "notw " M, M_ALL)
V8(inc_l, "incl %eax", M_ALL)
V4(inc_w, "incw %ax", M_ALL)
V4(inc_b, "incb %al", M_ALL)
V4(inc_m, "movl %eax, " M "\n\tincl " M, M_ALL)
V8(dec_l, "decl %eax", M_ALL)
V4(dec_w, "decw %ax", M_ALL)
V4(dec_b, "decb %bh", M_ALL)
V4(dec_m, "movl %eax, " M "\n\tdecb " MO(2), M_ALL)

/* ---- mov and friends (no flags affected: all flags must survive) ---- */
V4(mov_l_rr, "movl %ebx, %eax", M_ALL)
V4(mov_w_rr, "movw %bx, %ax", M_ALL)
V4(mov_b_hl, "movb %bh, %al\n\tmovb %bl, %ch", M_ALL)
V4(mov_l_mr, "movl %eax, " MO(4) "\n\tmovl " MO(4) ", %ebx", M_ALL)
V4(mov_m_load, "movl " MO(-8) ", %eax\n\tmovw " MO(6) ", %bx\n\tmovb " MO(63) ", %cl", M_ALL)
V4(mov_m_imm, "movl $0xcafebabe, " M "\n\tmovw $0x1234, " MO(8) "\n\tmovb $0x99, " MO(13), M_ALL)
V4(movzbl, "movzbl %bl, %eax\n\tmovzbl %bh, %ecx", M_ALL)
V4(movsbl, "movsbl %bl, %eax\n\tmovsbl %bh, %ecx", M_ALL)
V4(movzwl, "movzwl %bx, %eax", M_ALL)
V4(movswl, "movswl %bx, %eax", M_ALL)
V4(movsbw, "movsbw %bl, %ax", M_ALL)
V4(movzbw, "movzbw %bl, %ax", M_ALL)
V4(movsx_m, "movl %ebx, " M "\n\tmovsbl " MO(1) ", %eax\n\tmovswl " MO(2) ", %ecx\n\tmovzwl " MO(2) ", %edx", M_ALL)
V4(lea_bis, "leal 4(%ebx,%eax,8), %ecx", M_ALL)
V4(lea_neg, "leal -1(%ebx), %ecx\n\tleal (,%eax,4), %edx", M_ALL)
V4(lea_wrap, "leal 0x7fffffff(%ebx,%eax,2), %ecx", M_ALL)
V4(lea_w, "leaw 3(%ebx,%eax), %cx", M_ALL)
V4(bswap, "bswap %eax\n\tbswap %ebx", M_ALL)
V4(xchg_rr, "xchgl %eax, %ebx\n\txchgl %ecx, %edx", M_ALL)
V4(xchg_b, "xchgb %al, %bh\n\txchgw %cx, %dx", M_ALL)
V4(xchg_m, "movl %eax, " M "\n\txchgl %ebx, " M, M_ALL)
V4(cbw, "cbtw", M_ALL)
V4(cwde, "cwtl", M_ALL)
V4(cwd, "cwtd", M_ALL)
V4(cdq, "cltd", M_ALL)
C(cwd_neg, "cwtd", M_ALL, 0x00008000, 0, 0)
C(cdq_neg, "cltd", M_ALL, 0x80000000, 0, 0)
V4(lahf, "lahf", M_ALL)
V4(sahf, "movb %bl, %ah\n\tsahf", M_ALL)
V4(flagops, "stc\n\tsetc %al\n\tcmc\n\tsetc %ah\n\tclc\n\tsetc %bl\n\tcmc", M_ALL)
V4(std, "std", M_ALL)
C(cld, "cld", M_ALL, 0, 0, F_DF | F_CF)

/* ---- shifts and rotates: by 1, by imm, by CL ---- */
#define SH1(op, m) \
    V4(op##_l_1, #op "l $1, %eax", m) \
    V4(op##_w_1, #op "w $1, %ax", m) \
    V4(op##_b_1, #op "b $1, %al", m) \
    V4(op##_m_1, "movl %eax, " M "\n\t" #op "l " M, m)
#define SHIMM(op, mn) \
    V4(op##_l_i4, #op "l $4, %eax", mn) \
    V4(op##_l_i31, #op "l $31, %eax", mn) \
    V4(op##_w_i9, #op "w $9, %ax", mn) \
    V4(op##_b_i3, #op "b $3, %bl", mn) \
    V4(op##_m_i7, "movl %eax, " M "\n\t" #op "l $7, " M, mn)
/* count in CL: 0 leaves every flag alone, 1 defines OF, 32 masks to 0. */
#define SHCL(op, m1, mn, mbig) \
    CX(op##_cl_0, #op "l %cl, %eax", M_ALL, 0x80000001, 0, 0, 0, ALLF) \
    CX(op##_cl_1, #op "l %cl, %eax", m1, 0x80000001, 0, 1, 0, F_CF) \
    CX(op##_cl_5, #op "l %cl, %eax", mn, 0x12345678, 0, 5, 0, 0) \
    CX(op##_cl_31, #op "l %cl, %eax", mn, 0xdeadbeef, 0, 31, 0, F_CF) \
    CX(op##_cl_32, #op "l %cl, %eax", M_ALL, 0xdeadbeef, 0, 32, 0, F_OF | F_ZF) \
    CX(op##_cl_33, #op "l %cl, %eax", m1, 0xc0000003, 0, 33, 0, 0) \
    CX(op##_clw_7, #op "w %cl, %ax", mn, 0x0000c0de, 0, 7, 0, F_CF) \
    CX(op##_clw_20, #op "w %cl, %ax", mbig, 0x0000c0de, 0, 20, 0, 0) \
    CX(op##_clb_6, #op "b %cl, %al", mn, 0x000000a5, 0, 6, 0, 0) \
    CX(op##_clb_12, #op "b %cl, %dl", mbig, 0, 0, 12, 0x5a, F_CF)

SH1(shl, M_SH1) SHIMM(shl, M_SHN) SHCL(shl, M_SH1, M_SHN, M_SHBIG)
SH1(shr, M_SH1) SHIMM(shr, M_SHN) SHCL(shr, M_SH1, M_SHN, M_SHBIG)
SH1(sar, M_SH1) SHIMM(sar, M_SHN) SHCL(sar, M_SH1, M_SHN, M_SHBIG)
SH1(rol, M_ALL) SHIMM(rol, M_ROTN) SHCL(rol, M_ALL, M_ROTN, M_ROTN)
SH1(ror, M_ALL) SHIMM(ror, M_ROTN) SHCL(ror, M_ALL, M_ROTN, M_ROTN)
SH1(rcl, M_ALL) SHIMM(rcl, M_ROTN) SHCL(rcl, M_ALL, M_ROTN, M_ROTN)
SH1(rcr, M_ALL) SHIMM(rcr, M_ROTN) SHCL(rcr, M_ALL, M_ROTN, M_ROTN)
/* C1 /4 ib with an immediate of 1 (not the D1 form the assembler picks). */
V4(shl_c1_1, ".byte 0xc1, 0xe0, 0x01", M_SH1)

/* ---- double shifts ---- */
V4(shld_i4, "shldl $4, %ebx, %eax", M_SHN)
V4(shld_i1, "shldl $1, %ebx, %eax", M_SH1)
V4(shrd_i12, "shrdl $12, %ebx, %eax", M_SHN)
V4(shrd_i1, "shrdl $1, %ebx, %eax", M_SH1)
V4(shld_w_i3, "shldw $3, %bx, %ax", M_SHN)
V4(shrd_w_i5, "shrdw $5, %bx, %ax", M_SHN)
V4(shld_m, "movl %eax, " M "\n\tshldl $7, %ebx, " M, M_SHN)
V4(shrd_m_cl, "movl %eax, " M "\n\tmovb $9, %cl\n\tshrdl %cl, %ebx, " M, M_SHN)
CX(shld_cl_0, "shldl %cl, %ebx, %eax", M_ALL, 0x12345678, 0x9abcdef0, 0, 0, ALLF)
CX(shld_cl_1, "shldl %cl, %ebx, %eax", M_SH1, 0x42345678, 0x9abcdef0, 1, 0, 0)
CX(shld_cl_31, "shldl %cl, %ebx, %eax", M_SHN, 0x12345678, 0x9abcdef0, 31, 0, 0)
CX(shld_cl_36, "shldl %cl, %ebx, %eax", M_SHN, 0x12345678, 0x9abcdef0, 36, 0, 0)
CX(shrd_cl_0, "shrdl %cl, %ebx, %eax", M_ALL, 0x12345678, 0x9abcdef0, 0, 0, ALLF)
CX(shrd_cl_1, "shrdl %cl, %ebx, %eax", M_SH1, 0x12345679, 0x9abcdef0, 1, 0, F_CF)
CX(shrd_cl_17, "shrdl %cl, %ebx, %eax", M_SHN, 0x12345678, 0xfabcdef0, 17, 0, 0)
CX(shrd_clw_15, "shrdw %cl, %bx, %ax", M_SHN, 0x12345678, 0x9abcdef0, 15, 0, 0)

/* ---- multiply ---- */
V8(mul_l, "mull %ebx", M_MUL)
V4(mul_w, "mulw %bx", M_MUL)
V4(mul_b, "mulb %bl", M_MUL)
V4(mul_m, "movl %ebx, " M "\n\tmull " M, M_MUL)
V8(imul1_l, "imull %ebx", M_MUL)
V4(imul1_w, "imulw %bx", M_MUL)
V4(imul1_b, "imulb %bl", M_MUL)
V8(imul2_l, "imull %ebx, %eax", M_MUL)
V4(imul2_w, "imulw %bx, %ax", M_MUL)
V4(imul2_m, "movl %ebx, " M "\n\timull " M ", %eax", M_MUL)
V4(imul3_i8, "imull $-7, %ebx, %eax", M_MUL)
V4(imul3_i32, "imull $0x12345, %ebx, %eax", M_MUL)
V4(imul3_w, "imulw $300, %bx, %ax", M_MUL)
V4(imul3_m, "movl %ebx, " M "\n\timull $100, " M ", %ecx", M_MUL)

/* ---- divide (operands chosen so the quotient fits: no #DE) ---- */
CX(div_l_1, "divl %ebx", M_DIV, 100, 7, 0, 0, 0)
CX(div_l_2, "divl %ebx", M_DIV, 0xffffffff, 0x10, 0, 0x0f, 0)
CX(div_l_3, "divl %ebx", M_DIV, 0x12345678, 0x9abcdef0, 0, 0x1234, ALLF)
CX(div_l_4, "divl %ebx", M_DIV, 0, 0xffffffff, 0, 0xfffffffe, 0)
CX(div_w_1, "divw %bx", M_DIV, 0x1234, 0x1000, 0, 0x0012, 0)
CX(div_w_2, "divw %bx", M_DIV, 0xffff, 0xffff, 0, 0xfffe, F_CF)
CX(div_b_1, "divb %bl", M_DIV, 0x1234, 0x80, 0, 0, 0)
CX(div_b_2, "divb %bh", M_DIV, 0x00ff, 0x0300, 0, 0, 0)
CX(div_m, "movl %ebx, " M "\n\tdivl " M, M_DIV, 0x87654321, 0x12345, 0, 0x1000, 0)
CX(idiv_l_1, "idivl %ebx", M_DIV, 0xffffff9c, 7, 0, 0xffffffff, 0)
CX(idiv_l_2, "idivl %ebx", M_DIV, 100, 0xfffffff9, 0, 0, 0)
CX(idiv_l_3, "idivl %ebx", M_DIV, 0x80000000, 1, 0, 0xffffffff, 0)
CX(idiv_l_4, "idivl %ebx", M_DIV, 0x12345678, 0x40000000, 0, 1, 0)
CX(idiv_w_1, "idivw %bx", M_DIV, 0x8000, 0x0100, 0, 0xffff, 0)
CX(idiv_w_2, "idivw %bx", M_DIV, 0x1234, 0xfff0, 0, 0x0001, 0)
CX(idiv_b_1, "idivb %bl", M_DIV, 0xff80, 0x03, 0, 0, 0)
CX(idiv_b_2, "idivb %bl", M_DIV, 0x007f, 0xfe, 0, 0, 0)
CX(idiv_m, "movl %ebx, " M "\n\tidivl " M, M_DIV, 0x87654321, 0xfff12345, 0, 0x1000, 0)

/* ---- bit test / scan ---- */
#define BTOP(op, m) \
    CX(op##_rr_3, #op "l %ebx, %eax", m, 0x12345678, 3, 0, 0, 0) \
    CX(op##_rr_36, #op "l %ebx, %eax", m, 0x12345678, 36, 0, 0, ALLF) \
    CX(op##_w_rr, #op "w %bx, %ax", m, 0x12345678, 0x1f, 0, 0, 0) \
    CX(op##_ri_31, #op "l $31, %eax", m, 0x80000000, 0, 0, 0, 0) \
    CX(op##_mr_5, #op "l %ebx, " M, m, 0, 5, 0, 0, 0) \
    CX(op##_mr_70, #op "l %ebx, " M, m, 0, 70, 0, 0, F_CF) \
    CX(op##_mr_200, #op "l %ebx, " M, m, 0, 200, 0, 0, 0) \
    CX(op##_mr_neg9, #op "l %ebx, " M, m, 0, 0xfffffff7, 0, 0, 0) \
    CX(op##_mr_neg70, #op "l %ebx, " M, m, 0, 0xffffffba, 0, 0, ALLF) \
    CX(op##_mw_neg5, #op "w %bx, " MO(8), m, 0, 0xfffb, 0, 0, 0) \
    CX(op##_mw_100, #op "w %bx, " M, m, 0, 100, 0, 0, 0) \
    CX(op##_mi_35, #op "l $35, " M, m, 0, 0, 0, 0, 0) \
    CX(op##_mwi_13, #op "w $13, " MO(2), m, 0, 0, 0, 0, F_CF)
BTOP(bt, M_BT)
BTOP(bts, M_BT)
BTOP(btr, M_BT)
BTOP(btc, M_BT)
CX(lock_bts, "lock btsl %ebx, " M, M_BT, 0, 45, 0, 0, 0)
CX(lock_btr, "lock btrl %ebx, " M, M_BT, 0, 0xfffffffe, 0, 0, 0)
#define BSCAN(op) \
    CX(op##_1, #op "l %ebx, %eax", M_BS, 0x11111111, 1, 0, 0, 0) \
    CX(op##_2, #op "l %ebx, %eax", M_BS, 0x11111111, 0x80000000, 0, 0, ALLF) \
    CX(op##_3, #op "l %ebx, %eax", M_BS, 0x11111111, 0x00f0f000, 0, 0, 0) \
    CX(op##_4, #op "l %ebx, %eax", M_BS, 0x11111111, 0x12345678, 0, 0, 0) \
    CX(op##_w, #op "w %bx, %ax", M_BS, 0x11111111, 0x00000f00, 0, 0, 0) \
    CX(op##_m, "movl %ebx, " M "\n\t" #op "l " M ", %ecx", M_BS, 0, 0x00010100, 0, 0, 0) \
    CX(op##_zero, #op "l %ebx, %eax", M_BS, 0x11111111, 0, 0, 0, 0)
BSCAN(bsf)
BSCAN(bsr)

/* ---- condition codes: setcc, cmovcc, jcc under four flag patterns ---- */
#define CCF(n, t, need, fl) \
    CASE(n, t, M_ALL, 0, need, 0x11111111, 0x22222222, 0xc001d00d, 0x5eed1234, 0x0badf00d, 0x600dcafe, fl)
#define CC_FLAGS(n, t, need) \
    CCF(n##_none, t, need, 0) CCF(n##_all, t, need, ALLF) \
    CCF(n##_sf, t, need, F_SF) CCF(n##_ofcf, t, need, F_OF | F_CF)
#define CC_ALL(X) X(o) X(no) X(b) X(ae) X(e) X(ne) X(be) X(a) \
                  X(s) X(ns) X(p) X(np) X(l) X(ge) X(le) X(g)
#define SETCC(cc) CC_FLAGS(set##cc, "set" #cc " %al\n\tset" #cc " " MO(3), N_NONE)
#define CMOVCC(cc) CC_FLAGS(cmov##cc, "cmov" #cc "l %ebx, %eax\n\tcmov" #cc "w " M ", %cx", N_CMOV)
#define JCC(cc) CC_FLAGS(j##cc, "movl $1, %eax\n\tj" #cc " 1f\n\tmovl $2, %eax\n1:", N_NONE)
CC_ALL(SETCC)
CC_ALL(CMOVCC)
CC_ALL(JCC)
/* rel32 jcc forms (0f 8x) and an ALU-produced condition. */
V4(jl_long, "cmpl %ebx, %eax\n\tjl 2f\n\t.skip 200, 0x90\n\tmovl $7, %ecx\n2:", M_ALL)
V4(jbe_long, "cmpl %ebx, %eax\n\tjbe 2f\n\t.skip 200, 0x90\n\tmovl $7, %ecx\n2:", M_ALL)

/* ---- loops (ECX never starts at 0 for loop*: 64-bit would count RCX) ---- */
CX(loop_5, "1:\n\taddl $3, %eax\n\tloop 1b", M_ALL, 0, 0, 5, 0, 0)
CX(loope_all, "1:\n\tincl %eax\n\tcmpl $0, %edx\n\tloope 1b", M_ALL, 0, 0, 6, 0, 0)
CX(loope_exit, "1:\n\tincl %eax\n\tcmpl $0, %edx\n\tloope 1b", M_ALL, 0, 0, 6, 1, 0)
CX(loopne_4, "1:\n\tincl %eax\n\tcmpl %eax, %ebx\n\tloopne 1b", M_ALL, 0, 4, 10, 0, 0)
CX(loopne_all, "1:\n\tincl %eax\n\tcmpl %eax, %ebx\n\tloopne 1b", M_ALL, 0, 40, 10, 0, 0)
CX(jecxz_0, "jecxz 1f\n\tmovl $1, %eax\n1:", M_ALL, 0, 0, 0, 0, 0)
CX(jecxz_5, "jecxz 1f\n\tmovl $1, %eax\n1:", M_ALL, 0, 0, 5, 0, 0)
CX(jecxz_hi, "jecxz 1f\n\tmovl $1, %eax\n1:", M_ALL, 0, 0, 0x10000, 0, 0)

/* ---- atomics and compare-exchange ---- */
CX(cmpxchg_eq, "cmpxchgl %ebx, %ecx", M_ALL, 5, 9, 5, 0, 0)
CX(cmpxchg_ne, "cmpxchgl %ebx, %ecx", M_ALL, 5, 9, 6, 0, 0)
CX(cmpxchg_b, "cmpxchgb %bl, %cl", M_ALL, 0x80, 9, 0x7f, 0, 0)
CX(cmpxchg_w, "cmpxchgw %bx, %cx", M_ALL, 0x1234, 9, 0xff1234, 0, 0)
CX(cmpxchg_m_eq, "movl %edx, " M "\n\tlock cmpxchgl %ebx, " M, M_ALL, 0x12345678, 0xabcdef, 0, 0x12345678, 0)
CX(cmpxchg_m_ne, "movl %edx, " M "\n\tlock cmpxchgl %ebx, " M, M_ALL, 0x12345678, 0xabcdef, 0, 0x87654321, ALLF)
CX(cmpxchg_m_nolock, "movl %edx, " M "\n\tcmpxchgw %bx, " MO(2), M_ALL, 0x12345678, 0xabcdef, 0, 0x87654321, 0)
CASE(cmpxchg8b_eq, "movl %esi, " M "\n\tmovl %edi, " MO(4) "\n\tlock cmpxchg8b " M, M_ALL, 0, N_NONE,
     0x11112222, 0x55556666, 0x77778888, 0x33334444, 0x11112222, 0x33334444, 0)
CASE(cmpxchg8b_ne, "movl %esi, " M "\n\tmovl %edi, " MO(4) "\n\tcmpxchg8b " M, M_ALL, 0, N_NONE,
     0x11112222, 0x55556666, 0x77778888, 0x33334444, 0x11112222, 0x33334445, ALLF)
V4(xadd_rr, "xaddl %ebx, %eax", M_ALL)
V4(xadd_w, "xaddw %bx, %ax", M_ALL)
V4(xadd_b, "xaddb %bl, %al", M_ALL)
V4(xadd_m, "movl %eax, " M "\n\tlock xaddl %ebx, " M, M_ALL)
V4(lock_add, "movl %eax, " M "\n\tlock addl %ebx, " M, M_ALL)
V4(lock_sub_b, "movl %eax, " M "\n\tlock subb %bl, " MO(3), M_ALL)
V4(lock_or_w, "movl %eax, " M "\n\tlock orw $0x8001, " M, M_LOGIC)
V4(lock_inc, "movl %eax, " M "\n\tlock incl " M, M_ALL)
V4(lock_neg, "movl %eax, " M "\n\tlock negl " M, M_ALL)

/* ---- string instructions (ESI/EDI are offsets from M) ---- */
#define S(n, t, m, a, c, si, di, fl) \
    CASE(n, t, m, R_ESI | R_EDI, N_NONE, a, 0x5a5a5a5a, c, 0x12345678, si, di, fl)
S(movsb, "movsb", M_ALL, 0, 0, 0, 40, 0)
S(movsw, "movsw", M_ALL, 0, 0, 0, 40, 0)
S(movsl, "movsl", M_ALL, 0, 0, 0, 40, 0)
S(movsb_df, "movsb", M_ALL, 0, 0, 8, 40, F_DF)
S(rep_movsb, "rep movsb", M_ALL, 0, 13, 0, 40, 0)
S(rep_movsw, "rep movsw", M_ALL, 0, 7, 2, 41, 0)
S(rep_movsl, "rep movsl", M_ALL, 0, 5, 0, 40, 0)
S(rep_movsl_df, "rep movsl", M_ALL, 0, 4, 12, 60, F_DF)
S(rep_movsb_df, "std\n\trep movsb\n\tcld", M_ALL, 0, 9, 20, 70, 0)
S(rep_movsb_0, "rep movsb", M_ALL, 0, 0, 0, 40, ALLF)
S(rep_movsb_ovl, "rep movsb", M_ALL, 0, 16, 0, 3, 0)
S(stosb, "stosb", M_ALL, 0xa1b2c3d4, 0, 0, 5, 0)
S(stosw_df, "stosw", M_ALL, 0xa1b2c3d4, 0, 0, 6, F_DF)
S(rep_stosl, "rep stosl", M_ALL, 0xa1b2c3d4, 6, 0, 4, 0)
S(rep_stosw, "rep stosw", M_ALL, 0xa1b2c3d4, 9, 0, 1, 0)
S(rep_stosb_df, "rep stosb", M_ALL, 0xa1b2c3d4, 11, 0, 50, F_DF)
S(lodsb, "lodsb", M_ALL, 0xffffffff, 0, 5, 0, 0)
S(lodsw_df, "lodsw", M_ALL, 0xffffffff, 0, 6, 0, F_DF)
S(lodsl, "lodsl", M_ALL, 0xffffffff, 0, -8, 0, 0)
S(rep_lodsb, "rep lodsb", M_ALL, 0, 4, 0, 0, 0)
S(cmpsb, "cmpsb", M_ALL, 0, 0, 0, 1, 0)
S(cmpsl_df, "cmpsl", M_ALL, 0, 0, 8, 4, F_DF)
#define EQ16 "movl $0x11223344, " M "\n\tmovl $0x11223344, " MO(16) "\n\t" \
             "movl $0x55667788, " MO(4) "\n\tmovl $0x55667799, " MO(20) "\n\t"
S(repe_cmpsb, EQ16 "repe cmpsb", M_ALL, 0, 10, 0, 16, 0)
S(repe_cmpsw, EQ16 "repe cmpsw", M_ALL, 0, 10, 0, 16, 0)
S(repe_cmpsl, EQ16 "repe cmpsl", M_ALL, 0, 10, 0, 16, 0)
S(repe_cmpsb_all, EQ16 "repe cmpsb", M_ALL, 0, 3, 0, 16, 0)
S(repne_cmpsb, EQ16 "repne cmpsb", M_ALL, 0, 10, 1, 17, 0)
S(repne_cmpsb_df, EQ16 "std\n\trepne cmpsb\n\tcld", M_ALL, 0, 10, 7, 23, 0)
S(scasb, "scasb", M_ALL, 0x35, 0, 0, 0, 0)
S(repne_scasb, "movb $0xa5, " MO(9) "\n\trepne scasb", M_ALL, 0xa5, 20, 0, 0, 0)
S(repne_scasb_nf, "repne scasb", M_ALL, 0x00, 6, 0, 0, 0)
S(repe_scasl, "movl $0, " M "\n\tmovl $0, " MO(4) "\n\trepe scasl", M_ALL, 0, 5, 0, 0, 0)
S(repne_scasw_df, "movw $0xbeef, " MO(2) "\n\trepne scasw", M_ALL, 0xbeef, 8, 0, 10, F_DF)
S(rep_movsl_16, "rep movsl\n\trep movsw", M_ALL, 0, 3, 0, 32, 0)

/* ---- multi-byte nops (0f 1f /0) and 66 90 ---- */
V4(nop_forms,
   ".byte 0x90\n\t.byte 0x66, 0x90\n\t.byte 0x0f, 0x1f, 0x00\n\t"
   ".byte 0x0f, 0x1f, 0x40, 0x00\n\t.byte 0x0f, 0x1f, 0x44, 0x00, 0x00\n\t"
   ".byte 0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00\n\t.byte 0x0f, 0x1f, 0x80, 0, 0, 0, 0\n\t"
   ".byte 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0\n\t.byte 0x66, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0\n\t"
   ".byte 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0", M_ALL)

/* ---- 16-bit operand size: mixed forms ---- */
V4(w_mov_imm, "movw $0x8000, %ax\n\tmovw $-1, %cx", M_ALL)
V4(w_add_mem, "movl %ebx, " M "\n\taddw " MO(2) ", %ax\n\tadcw %ax, " M, M_ALL)
V4(w_shl_cl, "movb $3, %cl\n\tshlw %cl, %ax", M_SHN)
V4(w_imul_i8, "imulw $-3, %ax, %bx", M_MUL)

/* ---- x87 (memory operands; doubles given as EAX:EBX and ECX:EDX) ---- */
#define FILLD "movl %eax, " M "\n\tmovl %ebx, " MO(4) "\n\tmovl %ecx, " MO(8) "\n\tmovl %edx, " MO(12) "\n\t"
#define FP2(n, t, m, need) \
    CASE(n##_1, FILLD t, m, 0, need, 0x00000000, 0x3ff80000, 0x9999999a, 0x3fb99999, 0, 0, 0) \
    CASE(n##_2, FILLD t, m, 0, need, 0x00000000, 0xc0080000, 0x00000000, 0x40240000, 0, 0, ALLF) \
    CASE(n##_3, FILLD t, m, 0, need, 0x54442d18, 0x400921fb, 0x00000000, 0xbff00000, 0, 0, 0)
FP2(fadd, "fldl " M "\n\tfaddl " MO(8) "\n\tfstpl " MO(16), M_ALL, N_FPU)
FP2(fsub, "fldl " M "\n\tfsubl " MO(8) "\n\tfstpl " MO(16), M_ALL, N_FPU)
FP2(fmul, "fldl " M "\n\tfmull " MO(8) "\n\tfstpl " MO(16), M_ALL, N_FPU)
FP2(fdiv, "fldl " M "\n\tfdivl " MO(8) "\n\tfstpl " MO(16), M_ALL, N_FPU)
FP2(fsqrt, "fldl " M "\n\tfabs\n\tfsqrt\n\tfstpl " MO(16), M_ALL, N_FPU)
FP2(fistp, "fldl " M "\n\tfmull " MO(8) "\n\tfistpl " MO(16) "\n\tfldl " M "\n\tfistpll " MO(20), M_ALL, N_FPU)
FP2(fild, "fildl " M "\n\tfildl " MO(8) "\n\tfaddp\n\tfstpl " MO(16), M_ALL, N_FPU)
FP2(fst_s, "fldl " M "\n\tfstps " MO(16) "\n\tflds " MO(16) "\n\tfchs\n\tfstpl " MO(20), M_ALL, N_FPU)
/* fcomi: only ZF PF CF are compared. Hardware also clears OF SF AF; QEMU
 * TCG leaves them as they were, and insntest must pass on both. */
FP2(fcomi, "fldl " MO(8) "\n\tfldl " M "\n\tfcomip %st(1), %st\n\tfstp %st(0)", M_FCOMI, N_FPU)
FP2(fconst, "fld1\n\tfldpi\n\tfmulp\n\tfldz\n\tfaddp\n\tfstpl " MO(16), M_ALL, N_FPU)

/* ---- MMX (eight bytes in EAX:EBX and ECX:EDX) ---- */
#define MMX2(n, op) \
    CASE(n##_1, FILLD "movq " M ", %mm0\n\tmovq " MO(8) ", %mm1\n\t" op " %mm1, %mm0\n\tmovq %mm0, " MO(16) "\n\temms", \
         M_ALL, 0, N_MMX, 0x7fff8000, 0x0001ffff, 0x00018000, 0x7fff0002, 0, 0, 0) \
    CASE(n##_2, FILLD "movq " M ", %mm2\n\t" op " " MO(8) ", %mm2\n\tmovq %mm2, " MO(16) "\n\temms", \
         M_ALL, 0, N_MMX, 0x12345678, 0x9abcdef0, 0xfedcba98, 0x76543210, 0, 0, 0)
MMX2(paddw, "paddw")
MMX2(paddb, "paddb")
MMX2(paddsw, "paddsw")
MMX2(psubusb, "psubusb")
MMX2(pmullw, "pmullw")
MMX2(pmaddwd, "pmaddwd")
MMX2(pcmpeqb, "pcmpeqb")
MMX2(pcmpgtw, "pcmpgtw")
MMX2(pxor_mmx, "pxor")
MMX2(pandn, "pandn")
MMX2(punpcklbw, "punpcklbw")
MMX2(packsswb, "packsswb")
CASE(psllq_mmx, FILLD "movq " M ", %mm3\n\tpsllq $12, %mm3\n\tmovd %mm3, %eax\n\tpsrlq $40, %mm3\n\tmovd %mm3, %ebx\n\temms",
     M_ALL, 0, N_MMX, 0x12345678, 0x9abcdef0, 0, 0, 0, 0, 0)

/* ---- SSE/SSE2 (two 16-byte vectors from the six registers) ---- */
#define FILLV "movl %eax, " M "\n\tmovl %ebx, " MO(4) "\n\tmovl %ecx, " MO(8) "\n\tmovl %edx, " MO(12) "\n\t" \
              "movl %esi, " MO(16) "\n\tmovl %edi, " MO(20) "\n\tmovl %eax, " MO(24) "\n\tmovl %ebx, " MO(28) "\n\t"
#define VEC(n, t, m, need) \
    CASE(n##_1, FILLV t, m, 0, need, 0x3fc00000, 0xc0100000, 0x40400000, 0x3dcccccd, 0x42c80000, 0x3a83126f, 0) \
    CASE(n##_2, FILLV t, m, 0, need, 0x00000000, 0x3ff80000, 0x9999999a, 0x3fb99999, 0x00000000, 0xc0240000, ALLF)
#define SSEOP(n, op, need) \
    VEC(n, "movups " M ", %xmm0\n\tmovups " MO(16) ", %xmm1\n\t" op " %xmm1, %xmm0\n\tmovups %xmm0, " MO(32), M_ALL, need)
#define SSEMEM(n, op, need) \
    VEC(n, "movdqu " M ", %xmm2\n\t" op " " MO(16) ", %xmm2\n\tmovdqu %xmm2, " MO(40), M_ALL, need)
SSEOP(addps, "addps", N_SSE)
SSEOP(mulps, "mulps", N_SSE)
SSEOP(subps, "subps", N_SSE)
SSEOP(divps, "divps", N_SSE)
SSEOP(minps, "minps", N_SSE)
SSEOP(maxps, "maxps", N_SSE)
SSEOP(andps, "andps", N_SSE)
SSEOP(unpcklps, "unpcklps", N_SSE)
SSEOP(addsd, "addsd", N_SSE2)
SSEOP(mulsd, "mulsd", N_SSE2)
SSEOP(divsd, "divsd", N_SSE2)
SSEOP(sqrtsd, "sqrtsd", N_SSE2)
SSEOP(addpd, "addpd", N_SSE2)
SSEOP(cvtsd2ss, "cvtsd2ss", N_SSE2)
SSEOP(cvtps2pd, "cvtps2pd", N_SSE2)
SSEMEM(pxor, "pxor", N_SSE2)
SSEMEM(paddq, "paddq", N_SSE2)
SSEMEM(paddd, "paddd", N_SSE2)
SSEMEM(psubq, "psubq", N_SSE2)
SSEMEM(pmuludq, "pmuludq", N_SSE2)
SSEMEM(pcmpgtd, "pcmpgtd", N_SSE2)
SSEMEM(punpckldq, "punpckldq", N_SSE2)
SSEMEM(mulpd_m, "mulpd", N_SSE2)
VEC(pshufd, "movdqu " M ", %xmm3\n\tpshufd $0x1b, %xmm3, %xmm4\n\tpsrldq $3, %xmm4\n\tmovdqu %xmm4, " MO(32), M_ALL, N_SSE2)
VEC(cvtsi2sd, "cvtsi2sd %ebx, %xmm5\n\tmovsd %xmm5, " MO(32) "\n\tcvtsi2sd %edi, %xmm5\n\tcvttsd2si %xmm5, %ecx", M_ALL, N_SSE2)
VEC(cvtss2si, "movss " MO(16) ", %xmm6\n\tcvtss2si %xmm6, %eax\n\tcvttss2si " MO(8) ", %edx", M_ALL, N_SSE)
VEC(movd_sse, "movd %ecx, %xmm7\n\tpsllq $4, %xmm7\n\tmovd %xmm7, %eax\n\tmovq %xmm7, " MO(40), M_ALL, N_SSE2)
VEC(ucomisd, "movsd " M ", %xmm0\n\tucomisd " MO(8) ", %xmm0", M_ALL, N_SSE2)
VEC(comiss, "movss " MO(4) ", %xmm0\n\tcomiss " MO(16) ", %xmm0", M_ALL, N_SSE)

/* ---- found by difftest (docs/difftest.md): minimized mismatches ---- */
/* 16-bit LEA of an absolute address whose disp32 is negative: the
 * translator's MOV r16, imm16 got the zero-extended value and failed to encode. */
C(dt_lea16_negdisp, "leaw 0xfffffff6, %bx\n\tleaw 0x12345678, %cx", M_ALL, 0x11112222, 0x33334444, F_CF)
/* REPE CMPSB with ECX=0 leaves every flag as it was, so the flags before
 * it stay live: CMPXCHG8B (ZF only) must keep CF, AF, SF, PF, OF. */
CASE(dt_cmpxchg8b_repcmps0, "movl %eax, " MO(64) "\n\tmovl %edx, " MO(68) "\n\tcmpxchg8b " MO(64)
     "\n\trepe cmpsb\n\tlahf\n\tseto %cl", M_ALL, R_ESI | R_EDI, N_NONE,
     0x11112222, 0x5555, 0, 0x3333, 4, 8, F_CF | F_AF | F_SF | F_PF | F_OF)
CASE(dt_cmpxchg8b_repcmps0_b, "movl %eax, " MO(64) "\n\tmovl %edx, " MO(68) "\n\tcmpxchg8b " MO(64)
     "\n\trepne scasb\n\tlahf\n\tseto %cl", M_ALL, R_ESI | R_EDI, N_NONE,
     0x11112222, 0x5555, 0, 0x3333, 4, 8, F_CF | F_AF)
CASE(dt_cmpxchg8b_repcmps0_c, "movl %eax, " MO(64) "\n\tmovl %edx, " MO(68) "\n\tcmpxchg8b " MO(64)
     "\n\tcld\n\t.byte 0x36\n\trepe cmpsb\n\tmovw $2, %ax\n\tlahf\n\txaddw %ax, %bx", M_ALL, R_ESI | R_EDI, N_NONE,
     0x11112222, 0x5555, 0, 0x3333, 4, 8, F_CF | F_AF | F_SF | F_PF | F_OF)
CASE(dt_cmpxchg8b_repcmps0_d, "movl %eax, " MO(64) "\n\tmovl %edx, " MO(68) "\n\tcmpxchg8b " MO(64)
     "\n\tcld\n\trepe cmpsb\n\tmovw $2, %ax\n\tlahf\n\txaddw %ax, %bx", M_ALL, R_ESI | R_EDI, N_NONE,
     0x11112222, 0x5555, 0, 0x3333, 4, 8, F_CF | F_AF | F_SF | F_PF | F_OF)
