/*
 * tests/unit/test_bt.c — the binary translator (bt/) run end to end on raw
 * guest code (tests/unit/bt_harness.h), no kernel involved.
 *
 * Native comparison: each table instruction runs on the host (x86-64: with
 * 32-bit operands and no stack or absolute-address operands it means the
 * same there) inside a fixed wrapper, and through the engine; registers and
 * the arithmetic flags the SDM defines for it (dec_decode's
 * flags_undefined) must agree, and so must a memory buffer that [reg]
 * operands address (a host buffer below 4 GiB natively, guest RAM at
 * GBUF in the VM). Then engine-level behaviour without a native reference:
 * stack instructions, loops, indirect branches and the inline table,
 * chaining, self-modifying code, exceptions through a guest IDT,
 * page-crossing and unmapped accesses, and a code cache that must flush.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "decoder/decoder.h"
#include "devices/clock_own.h"
#include "tests/unit/bt_harness.h"

/* ---------------------------------------------------------------------- */
/* Native runner                                                           */

/* void bth_native_call(uint64_t st[9], void *code): st[0..7] = EAX..EDI
 * (ESP slot ignored), st[8] = RFLAGS; code ends with RET. */
void bth_native_call(uint64_t *st, void *code);
__asm__(
    ".intel_syntax noprefix\n"
    ".text\n"
    ".globl bth_native_call\n"
    ".type bth_native_call, @function\n"
    "bth_native_call:\n"
    "  push rbx\n  push rbp\n  push r12\n  push r13\n  push r14\n  push r15\n"
    "  sub rsp, 8\n"
    "  mov r15, rdi\n"
    "  mov r11, rsi\n"
    "  push qword ptr [r15 + 64]\n"
    "  popfq\n"
    "  mov eax, [r15 + 0]\n  mov ecx, [r15 + 8]\n  mov edx, [r15 + 16]\n  mov ebx, [r15 + 24]\n"
    "  mov ebp, [r15 + 40]\n  mov esi, [r15 + 48]\n  mov edi, [r15 + 56]\n"
    "  call r11\n"
    "  pushfq\n"
    "  pop qword ptr [r15 + 64]\n"
    "  mov [r15 + 0], rax\n  mov [r15 + 8], rcx\n  mov [r15 + 16], rdx\n  mov [r15 + 24], rbx\n"
    "  mov [r15 + 40], rbp\n  mov [r15 + 48], rsi\n  mov [r15 + 56], rdi\n"
    "  cld\n"
    "  add rsp, 8\n"
    "  pop r15\n  pop r14\n  pop r13\n  pop r12\n  pop rbp\n  pop rbx\n"
    "  ret\n"
    ".size bth_native_call, . - bth_native_call\n"
    ".att_syntax prefix\n");

#define BUFSZ  4096u
#define BUFOFF 0x800u      /* the [reg] operand points here inside the buffer */
#define GBUF   0x20000u    /* guest-physical copy of the buffer */

struct ncase {
    const char *name;
    const char *hex;       /* instruction bytes */
    int memreg;            /* -1, or the register that points at the buffer */
    uint8_t ovmask;        /* registers forced to ov[] in every run */
    uint32_t ov[8];
};

#define NM -1
#define OV(r, v) .ovmask = 1u << (r), .ov = { [r] = (v) }
#define OV2(r1, v1, r2, v2) .ovmask = (1u << (r1)) | (1u << (r2)), .ov = { [r1] = (v1), [r2] = (v2) }
#define OV3(r1, v1, r2, v2, r3, v3) .ovmask = (1u << (r1)) | (1u << (r2)) | (1u << (r3)), \
    .ov = { [r1] = (v1), [r2] = (v2), [r3] = (v3) }

#define C(n, h, m) .name = n, .hex = h, .memreg = m

static const struct ncase ncases[] = {
    /* ALU reg/reg, 32/16/8 bits incl. high bytes */
    { C("add eax,ecx", "01 c8", NM) },
    { C("sub ebx,edx", "29 d3", NM) },
    { C("and eax,esi", "21 f0", NM) },
    { C("or ecx,edi", "09 f9", NM) },
    { C("xor edx,ebp", "31 ea", NM) },
    { C("adc eax,ecx", "11 c8", NM) },
    { C("sbb eax,ecx", "19 c8", NM) },
    { C("cmp eax,ecx", "39 c8", NM) },
    { C("test eax,ecx", "85 c8", NM) },
    { C("add ax,cx", "66 01 c8", NM) },
    { C("sub bx,dx", "66 29 d3", NM) },
    { C("adc ax,di", "66 11 f8", NM) },
    { C("add al,cl", "00 c8", NM) },
    { C("sub al,ah", "28 e0", NM) },
    { C("add ch,ah", "00 e5", NM) },
    { C("xor bh,dh", "30 f7", NM) },
    { C("sbb ah,al", "18 c4", NM) },
    { C("adc ah,cl", "12 e1", NM) },
    { C("test ah,ah", "84 e4", NM) },
    /* ALU reg/imm */
    { C("add eax,imm32", "05 78 56 34 12", NM) },
    { C("add ecx,-1", "83 c1 ff", NM) },
    { C("sub ebx,0x80000000", "81 eb 00 00 00 80", NM) },
    { C("and edi,-16", "83 e7 f0", NM) },
    { C("or si,0x8001", "66 81 ce 01 80", NM) },
    { C("add ah,0x7f", "80 c4 7f", NM) },
    { C("xor bh,0x55", "80 f7 55", NM) },
    { C("cmp al,0x80", "3c 80", NM) },
    { C("test eax,0x80000000", "a9 00 00 00 80", NM) },
    { C("neg eax", "f7 d8", NM) },
    { C("not ecx", "f7 d1", NM) },
    { C("neg ah", "f6 dc", NM) },
    { C("inc eax (ff)", "ff c0", NM) },
    { C("dec ecx (ff)", "ff c9", NM) },
    { C("inc ah", "fe c4", NM) },
    { C("mov ah,0x12", "b4 12", NM) },
    { C("cdq", "99", NM) },
    { C("cwde", "98", NM) },
    { C("cbw", "66 98", NM) },
    { C("lea eax,[ebx+ecx*4+0x10]", "8d 44 8b 10", NM) },
    /* memory operands addressed via a register */
    { C("add [ebx],eax", "01 03", CPU_EBX) },
    { C("add ecx,[ebx]", "03 0b", CPU_EBX) },
    { C("add eax,[esi]", "03 06", CPU_ESI) },
    { C("add ah,[ebx]", "02 23", CPU_EBX) },
    { C("add [esi+4],bh", "00 7e 04", CPU_ESI) },
        { C("mov [ebx-1],dh", "88 73 ff", CPU_EBX) },
    { C("mov ch,[ebx+2]", "8a 6b 02", CPU_EBX) },
    { C("xchg [ebx+3],ah", "86 63 03", CPU_EBX) },
    { C("sub dh,[edi+1]", "2a 77 01", CPU_EDI) },
    { C("cmp [esi],ah", "38 26", CPU_ESI) },
    { C("movzx eax,byte [ebx+5]", "0f b6 43 05", CPU_EBX) },
    { C("movsx ecx,word [ebx+6]", "0f bf 4b 06", CPU_EBX) },
    { C("neg word [ebx+8]", "66 f7 5b 08", CPU_EBX) },
    { C("xor dword [ebx+12],imm32", "81 73 0c 78 56 34 12", CPU_EBX) },
    { C("shl dword [ebx+16],1", "d1 63 10", CPU_EBX) },
    { C("xadd [ebx],eax", "0f c1 03", CPU_EBX) },
    { C("cmpxchg [ebx],ecx", "0f b1 0b", CPU_EBX) },
    { C("cmpxchg [ebx],ecx (equal)", "0f b1 0b", CPU_EBX), OV(CPU_EAX, 0x7a55300b) },
    { C("mul dword [ebx]", "f7 23", CPU_EBX) },
    { C("imul eax,[ebx+4]", "0f af 43 04", CPU_EBX) },
    { C("cmovs eax,[ebx+4]", "0f 48 43 04", CPU_EBX) },
    /* bit tests: register bit offsets reach outside the addressed dword */
    { C("bt [ebx],ecx (1017)", "0f a3 0b", CPU_EBX), OV(CPU_ECX, 1017) },
    { C("bts [ebx],ecx (-100)", "0f ab 0b", CPU_EBX), OV(CPU_ECX, (uint32_t)-100) },
    { C("btr [ebx],ecx (1017)", "0f b3 0b", CPU_EBX), OV(CPU_ECX, 1017) },
    { C("btc [ebx],ecx (2047)", "0f bb 0b", CPU_EBX), OV(CPU_ECX, 2047) },
    { C("btc [ebx],ecx (-16384)", "0f bb 0b", CPU_EBX), OV(CPU_ECX, (uint32_t)-16384) },
    { C("bts [ebx],cx (-253)", "66 0f ab 0b", CPU_EBX), OV(CPU_ECX, 0x5555ff03) },
    { C("btr [ebx],dx (2032)", "66 0f b3 13", CPU_EBX), OV(CPU_EDX, 0x123407f0) },
    { C("bt dword [ebx+4],37", "0f ba 63 04 25", CPU_EBX) },
    { C("bts dword [ebx],0x45", "0f ba 6b 00 45", CPU_EBX) },
    { C("bt eax,ecx (reg)", "0f a3 c8", NM) },
    { C("btc edx,33", "0f ba fa 21", NM) },
    /* shifts and rotates */
    { C("shl eax,4", "c1 e0 04", NM) },
    { C("shr eax,31", "c1 e8 1f", NM) },
    { C("sar ecx,5", "c1 f9 05", NM) },
    { C("rol edx,8", "c1 c2 08", NM) },
    { C("ror ebx,3", "c1 cb 03", NM) },
    { C("rcl esi,2", "c1 d6 02", NM) },
    { C("rcr edi,7", "c1 df 07", NM) },
    { C("shl eax,0", "c1 e0 00", NM) },
    { C("shl eax,cl", "d3 e0", NM) },
    { C("shr eax,cl (0)", "d3 e8", NM), OV(CPU_ECX, 0) },
    { C("sar eax,cl (32)", "d3 f8", NM), OV(CPU_ECX, 32) },
    { C("rol eax,cl", "d3 c0", NM) },
    { C("shl ah,cl", "d2 e4", NM) },
    { C("shr dx,cl", "66 d3 ea", NM) },
    { C("sar eax,1", "d1 f8", NM) },
    { C("shld eax,edx,5", "0f a4 d0 05", NM) },
    { C("shrd eax,edx,cl", "0f ad d0", NM) },
    { C("rcr ecx,cl (0)", "d3 d9", NM), OV(CPU_ECX, 0) },
    /* multiply and divide */
    { C("mul ecx", "f7 e1", NM) },
    { C("imul ecx", "f7 e9", NM) },
    { C("imul eax,ecx", "0f af c1", NM) },
    { C("imul eax,ecx,-7", "6b c1 f9", NM) },
    { C("imul edx,ebx,10000", "69 d3 10 27 00 00", NM) },
    { C("mul cl", "f6 e1", NM) },
    { C("imul ch", "f6 ed", NM) },
    { C("div ecx", "f7 f1", NM), OV2(CPU_EDX, 0x1234, CPU_ECX, 0x9abcdef0) },
    { C("idiv ecx", "f7 f9", NM), OV3(CPU_EDX, 0xffffffff, CPU_EAX, 0x87654321, CPU_ECX, 0x1000) },
    { C("div cl", "f6 f1", NM), OV2(CPU_EAX, 0x1234, CPU_ECX, 0x80) },
    { C("div bx", "66 f7 f3", NM), OV3(CPU_EDX, 0x12, CPU_EBX, 0x1000, CPU_EAX, 0xabcd) },
    { C("idiv bh", "f6 ff", NM), OV2(CPU_EAX, 0xff00, CPU_EBX, 0x0300) },
    /* setcc / cmovcc */
    { C("sete al", "0f 94 c0", NM) },
    { C("setl ah", "0f 9c c4", NM) },
    { C("seta bl", "0f 97 c3", NM) },
    { C("setp dh", "0f 9a c6", NM) },
    { C("cmovg eax,ecx", "0f 4f c1", NM) },
    { C("cmovb edx,esi", "0f 42 d6", NM) },
    { C("cmovo ax,bx", "66 0f 40 c3", NM) },
    /* exchange */
    { C("xchg edx,ecx", "87 ca", NM) },
    { C("xchg ecx,eax (91)", "91", NM) },
    { C("xchg al,ah", "86 e0", NM) },
    { C("xadd eax,edx", "0f c1 d0", NM) },
    { C("cmpxchg ecx,edx", "0f b1 d1", NM) },
    { C("cmpxchg ecx,edx (equal)", "0f b1 d1", NM), OV2(CPU_EAX, 5, CPU_ECX, 5) },
    { C("cmpxchg cl,ah", "0f b0 e1", NM) },
    /* bit scan, byte swap, extension */
    { C("bsf eax,ecx", "0f bc c1", NM) },
    { C("bsr edx,ebx", "0f bd d3", NM) },
    { C("bsf eax,edx (0)", "0f bc c2", NM), OV(CPU_EDX, 0) },
    { C("bswap eax", "0f c8", NM) },
    { C("bswap ebx", "0f cb", NM) },
    { C("bswap edi", "0f cf", NM) },
    { C("movzx eax,ah", "0f b6 c4", NM) },
    { C("movsx ecx,bl", "0f be cb", NM) },
    { C("movzx edx,si", "0f b7 d6", NM) },
    { C("movsx eax,di", "0f bf c7", NM) },
    { C("movsx edi,ch", "0f be fd", NM) },
    { C("movzx ax,bh", "66 0f b6 c7", NM) },
    { C("lahf", "9f", NM) },
};
#define NCASES ((int)(sizeof(ncases) / sizeof(ncases[0])))

static const uint32_t seeds[2][8] = {
    { 0x12345678, 0x9abcdef0, 0x0f0f0f0f, 0x80000001, 0, 0x7fffffff, 0x00000005, 0xffffffff },
    { 0x00000080, 0x00000021, 0x00000000, 0x0000ffff, 0, 0x80000000, 0xdeadbeef, 0x00000001 },
};
static const uint32_t flag_seeds[2] = { CPU_FL_FIX1, CPU_FL_FIX1 | CPU_FL_ARITH };

static size_t parse_hex(const char *s, uint8_t *out)
{
    size_t n = 0;
    while (*s) {
        if (*s == ' ') {
            s++;
            continue;
        }
        unsigned v;
        ck_assert_int_eq(sscanf(s, "%2x", &v), 1);
        out[n++] = (uint8_t)v;
        s += 2;
    }
    return n;
}

static uint8_t *native_code, *native_buf;

static void native_setup(void)
{
    native_code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(native_code, MAP_FAILED);
    native_buf = mmap(NULL, BUFSZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    ck_assert_ptr_ne(native_buf, MAP_FAILED);
    ck_assert_uint_lt((uintptr_t)native_buf + BUFSZ, 1ull << 32);
}

static void native_teardown(void)
{
    munmap(native_code, 4096);
    munmap(native_buf, BUFSZ);
}

static void fill_buf(uint8_t *b)
{
    for (unsigned i = 0; i < BUFSZ; i++)
        b[i] = (uint8_t)(i * 37 + 11);
}

/* --stats' list of the most frequent callouts: more kinds than slots, in
 * every order; the slots start out as garbage (an earlier version read the
 * last one before writing it). */
START_TEST(top_callouts)
{
    struct bt *bt = calloc(1, sizeof(*bt));
    bt->callout_counts = calloc(ZYDIS_MNEMONIC_MAX_VALUE + 1, sizeof(uint64_t));
    for (int round = 0; round < 3; round++) {
        for (int m = 0; m <= ZYDIS_MNEMONIC_MAX_VALUE; m++)
            bt->callout_counts[m] = 0;
        for (int k = 0; k < 40; k++) /* 40 kinds, counts 1..40 in three orders */
            bt->callout_counts[100 + k] = round == 0 ? (uint64_t)k + 1
                                        : round == 1 ? 40 - (uint64_t)k : (uint64_t)(k * 7 % 40) + 1;
        int idx[12];
        for (int i = 0; i < 12; i++)
            idx[i] = 0x3fffffff;
        ck_assert_int_eq(bt_top_callouts(bt, idx, 12), 12);
        for (int i = 0; i < 12; i++)
            ck_assert_uint_eq(bt->callout_counts[idx[i]], 40 - (uint64_t)i);
    }
    for (int m = 0; m <= ZYDIS_MNEMONIC_MAX_VALUE; m++)
        bt->callout_counts[m] = 0;
    bt->callout_counts[7] = 5;
    int idx[12];
    ck_assert_int_eq(bt_top_callouts(bt, idx, 12), 1);
    ck_assert_int_eq(idx[0], 7);
    free(bt->callout_counts);
    free(bt);
}
END_TEST

START_TEST(native_compare)
{
    const struct ncase *nc = &ncases[_i];
    uint8_t bytes[16];
    size_t len = parse_hex(nc->hex, bytes);
    struct dec_insn d;
    ck_assert_msg(dec_decode(DEC_MODE_32, BTH_CODE, bytes, len, &d) == 0 && d.len == len,
                  "%s: bytes do not decode as one instruction", nc->name);
    uint32_t mask = CPU_FL_ARITH & ~d.flags_undefined;

    for (int seed = 0; seed < 2; seed++) {
        for (int fs = 0; fs < 2; fs++) {
            uint32_t in[8];
            memcpy(in, seeds[seed], sizeof(in));
            for (int r = 0; r < 8; r++)
                if (nc->ovmask & (1u << r))
                    in[r] = nc->ov[r];

            /* native */
            uint64_t st[9];
            for (int r = 0; r < 8; r++)
                st[r] = in[r];
            if (nc->memreg >= 0)
                st[nc->memreg] = (uint32_t)(uintptr_t)(native_buf + BUFOFF);
            st[8] = flag_seeds[fs];
            fill_buf(native_buf);
            memcpy(native_code, bytes, len);
            native_code[len] = 0xC3;
            bth_native_call(st, native_code);

            /* translated */
            struct bth h;
            bth_init(&h, 0);
            fill_buf(h.vm.ram + GBUF);
            bth_put(&h, BTH_CODE, bytes, len);
            /* hlt, then pushfd: tells the translator's flag liveness that
             * the flags at the HLT are observed. */
            h.vm.ram[BTH_CODE + len] = 0xF4;
            h.vm.ram[BTH_CODE + len + 1] = 0x9C;
            for (int r = 0; r < 8; r++)
                if (r != CPU_ESP)
                    h.c->regs[r] = in[r];
            if (nc->memreg >= 0)
                h.c->regs[nc->memreg] = GBUF + BUFOFF;
            h.c->eflags = flag_seeds[fs];
            bth_run_hlt(&h);

            for (int r = 0; r < 8; r++) {
                if (r == CPU_ESP)
                    continue;
                uint32_t want = (uint32_t)st[r], got = h.c->regs[r];
                if (r == nc->memreg) {
                    want -= (uint32_t)(uintptr_t)native_buf;
                    got -= GBUF;
                }
                ck_assert_msg(want == got, "%s [%s] seed %d flags %#x: %s native %08x translated %08x",
                              nc->name, nc->hex, seed, flag_seeds[fs], cpu_reg_name(r), want, got);
            }
            ck_assert_msg(((uint32_t)st[8] & mask) == (h.c->eflags & mask),
                          "%s [%s] seed %d flags in %#x: eflags native %03x translated %03x (mask %03x)",
                          nc->name, nc->hex, seed, flag_seeds[fs], (uint32_t)st[8] & mask,
                          h.c->eflags & mask, mask);
            ck_assert_uint_eq(h.c->regs[CPU_ESP], BTH_STACK);
            for (unsigned i = 0; i < BUFSZ; i++)
                ck_assert_msg(native_buf[i] == h.vm.ram[GBUF + i],
                              "%s [%s] seed %d: buffer byte %+d native %02x translated %02x",
                              nc->name, nc->hex, seed, (int)i - (int)BUFOFF, native_buf[i],
                              h.vm.ram[GBUF + i]);
            bth_destroy(&h);
        }
    }
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Translated-only single instructions (ESP involved): computed results.   */

struct tcase {
    const char *name;
    const char *hex;
    int reg;             /* register checked */
    uint32_t want;       /* its expected value (ESP = BTH_STACK, others seed 0) */
    uint32_t want_esp;
};

static const struct tcase tcases[] = {
    { "lea eax,[esp+8]", "8d 44 24 08", CPU_EAX, BTH_STACK + 8, BTH_STACK },
    { "lea ecx,[esp]", "8d 0c 24", CPU_ECX, BTH_STACK, BTH_STACK },
    { "lea edx,[esp+ecx*4-4]", "8d 54 8c fc", CPU_EDX, BTH_STACK + 0x9abcdef0u * 4 - 4, BTH_STACK },
    { "lea esp,[esp-16]", "8d 64 24 f0", CPU_ESP, BTH_STACK - 16, BTH_STACK - 16 },
    { "lea ax,[esp+4]", "66 8d 44 24 04", CPU_EAX, 0x12340000u | ((BTH_STACK + 4) & 0xffff), BTH_STACK },
    { "lea ebx,[esp+eax]", "8d 1c 04", CPU_EBX, 0x12345678u + BTH_STACK, BTH_STACK },
    { "mov eax,esp", "89 e0", CPU_EAX, BTH_STACK, BTH_STACK },
    { "add esp,ecx", "01 cc", CPU_ESP, BTH_STACK + 0x9abcdef0u, BTH_STACK + 0x9abcdef0u },
    { "xchg esp,esi", "87 e6", CPU_ESI, BTH_STACK, 0x00000005 },
    { "movzx esp,ah", "0f b6 e4", CPU_ESP, 0x56, 0x56 },
    { "mov eax,[esp+4]", "8b 44 24 04", CPU_EAX, 0xcafef00d, BTH_STACK },
    { "bswap esp", "0f cc", CPU_ESP, 0x00000800, 0x00000800 },
};
#define TCASES ((int)(sizeof(tcases) / sizeof(tcases[0])))

START_TEST(translated_esp)
{
    const struct tcase *tc = &tcases[_i];
    uint8_t bytes[16];
    size_t len = parse_hex(tc->hex, bytes);
    struct bth h;
    bth_init(&h, 0);
    bth_put(&h, BTH_CODE, bytes, len);
    h.vm.ram[BTH_CODE + len] = 0xF4;
    for (int r = 0; r < 8; r++)
        if (r != CPU_ESP)
            h.c->regs[r] = seeds[0][r];
    bth_wr32(&h, BTH_STACK + 4, 0xcafef00d);
    bth_run_hlt(&h);
    ck_assert_msg(h.c->regs[tc->reg] == tc->want, "%s: %s = %08x, want %08x", tc->name,
                  cpu_reg_name(tc->reg), h.c->regs[tc->reg], tc->want);
    ck_assert_msg(h.c->regs[CPU_ESP] == tc->want_esp, "%s: esp = %08x, want %08x", tc->name,
                  h.c->regs[CPU_ESP], tc->want_esp);
    bth_destroy(&h);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Engine-level tests                                                      */

static struct bth H;

static void eng_setup(void)
{
    bth_init(&H, 0);
}

static void eng_teardown(void)
{
    bth_destroy(&H);
}

static void code(uint32_t at, const char *hex)
{
    uint8_t b[256];
    size_t n = parse_hex(hex, b);
    bth_put(&H, at, b, n);
}

START_TEST(push_pop)
{
    code(BTH_CODE,
         "68 78 56 34 12 "        /* push 0x12345678 */
         "6a ff "                 /* push -1 */
         "66 6a 05 "              /* push word 5 */
         "50 "                    /* push eax */
         "5b "                    /* pop ebx */
         "66 5a "                 /* pop dx */
         "5e "                    /* pop esi */
         "5f "                    /* pop edi */
         "ff 35 00 00 02 00 "     /* push dword [0x20000] */
         "8f 05 04 00 02 00 "     /* pop dword [0x20004] */
         "f4");
    H.c->regs[CPU_EAX] = 0xaabbccdd;
    H.c->regs[CPU_EDX] = 0x77770000;
    bth_wr32(&H, 0x20000, 0x31415926);
    bth_run_hlt(&H);
    ck_assert_uint_eq(H.c->regs[CPU_EBX], 0xaabbccdd);
    ck_assert_uint_eq(H.c->regs[CPU_EDX], 0x77770005);
    ck_assert_uint_eq(H.c->regs[CPU_ESI], 0xffffffff);
    ck_assert_uint_eq(H.c->regs[CPU_EDI], 0x12345678);
    ck_assert_uint_eq(H.c->regs[CPU_ESP], BTH_STACK);
    ck_assert_uint_eq(bth_rd32(&H, BTH_STACK - 4), 0x31415926); /* the last push */
    ck_assert_uint_eq(bth_rd32(&H, BTH_STACK - 8), 0xffffffff);
    ck_assert_uint_eq(bth_rd32(&H, BTH_STACK - 14), 0xaabbccdd);
    ck_assert_uint_eq(H.vm.ram[BTH_STACK - 10], 5);
    ck_assert_uint_eq(bth_rd32(&H, 0x20004), 0x31415926);
}
END_TEST

/* A callout (CPUID) between flag-setting code and PUSHFD: the trampoline
 * puts every live flag back, DF and OF included (bt/enter.S LOAD_GUEST). */
START_TEST(flags_survive_callout)
{
    code(BTH_CODE,
         "b8 ff ff ff 7f "        /* mov eax, 0x7fffffff */
         "05 01 00 00 00 "        /* add eax, 1: OF SF AF PF set, ZF CF clear */
         "f9 fd "                 /* stc; std */
         "0f a2 "                 /* cpuid (leaf 0x80000000): a callout */
         "9c 5e "                 /* pushfd; pop esi */
         "31 c0 fc "              /* xor eax, eax (ZF PF); cld */
         "0f a2 "                 /* cpuid (leaf 0) */
         "9c 5f "                 /* pushfd; pop edi */
         "f4");
    bth_run_hlt(&H);
    const uint32_t arith = 0x8D5 | 0x400; /* OF DF SF ZF AF PF CF */
    ck_assert_uint_eq(H.c->regs[CPU_ESI] & arith, 0xC95);
    ck_assert_uint_eq(H.c->regs[CPU_EDI] & arith, 0x44);
}
END_TEST

START_TEST(call_enter_leave_ret)
{
    code(BTH_CODE, "6a 07 e8 f9 00 00 00 f4");   /* push 7; call 0x10100; hlt */
    code(BTH_CODE + 0x100,
         "c8 10 00 00 "           /* enter 16,0 */
         "8b 45 08 "              /* mov eax,[ebp+8] */
         "8b 55 04 "              /* mov edx,[ebp+4] */
         "89 e1 "                 /* mov ecx,esp */
         "89 eb "                 /* mov ebx,ebp */
         "c9 "                    /* leave */
         "c2 04 00");             /* ret 4 */
    H.c->regs[CPU_EBP] = 0x55555555;
    bth_run_hlt(&H);
    ck_assert_uint_eq(H.c->regs[CPU_EAX], 7);
    ck_assert_uint_eq(H.c->regs[CPU_EDX], BTH_CODE + 7);
    ck_assert_uint_eq(H.c->regs[CPU_ECX], BTH_STACK - 12 - 16);
    ck_assert_uint_eq(H.c->regs[CPU_EBX], BTH_STACK - 12);
    ck_assert_uint_eq(H.c->regs[CPU_EBP], 0x55555555);
    ck_assert_uint_eq(H.c->regs[CPU_ESP], BTH_STACK);
    ck_assert_uint_eq(bth_rd32(&H, BTH_STACK - 12), 0x55555555);
    ck_assert_uint_eq(bth_rd32(&H, BTH_STACK - 8), BTH_CODE + 7);
    ck_assert_uint_eq(H.ex.eip, BTH_CODE + 8);
}
END_TEST

START_TEST(loop_jecxz)
{
    code(BTH_CODE,
         "b9 0a 00 00 00 "        /* mov ecx,10 */
         "31 c0 "                 /* xor eax,eax */
         "01 c8 "                 /* L: add eax,ecx */
         "e2 fc "                 /* loop L */
         "e3 02 "                 /* jecxz +2 (taken) */
         "31 db "                 /* xor ebx,ebx (skipped) */
         "41 "                    /* inc ecx */
         "e3 02 "                 /* jecxz +2 (not taken) */
         "31 f6 "                 /* xor esi,esi */
         "f4");
    H.c->regs[CPU_EBX] = 0x777;
    H.c->regs[CPU_ESI] = 0x999;
    bth_run_hlt(&H);
    ck_assert_uint_eq(H.c->regs[CPU_EAX], 55);
    ck_assert_uint_eq(H.c->regs[CPU_ECX], 1);
    ck_assert_uint_eq(H.c->regs[CPU_EBX], 0x777);
    ck_assert_uint_eq(H.c->regs[CPU_ESI], 0);
}
END_TEST

/* A block goes on past a conditional jump (bt/translate.c): the taken way
 * leaves through its own exit, the fall-through runs on in the block. */
START_TEST(block_passes_jcc)
{
    code(BTH_CODE,
         "b9 06 00 00 00 "        /* mov ecx,6 */
         "31 c0 31 db "           /* xor eax,eax ; xor ebx,ebx */
         "f6 c1 01 "              /* L: test cl,1 */
         "74 07 "                 /* jz E (passed: the block goes on) */
         "83 c0 01 "              /* add eax,1 (odd) */
         "49 "                    /* dec ecx */
         "75 f5 "                 /* jnz L */
         "f4 "                    /* hlt */
         "83 c3 01 "              /* E: add ebx,1 (even) */
         "49 "                    /* dec ecx */
         "75 ee "                 /* jnz L */
         "f4");
    bth_run_hlt(&H);
    ck_assert_uint_eq(H.c->regs[CPU_EAX], 3); /* 5, 3, 1 */
    ck_assert_uint_eq(H.c->regs[CPU_EBX], 3); /* 6, 4, 2 */
    ck_assert_uint_eq(H.c->regs[CPU_ECX], 0);
    ck_assert_uint_eq(H.ex.eip, BTH_CODE + 21); /* past the first HLT */
}
END_TEST

START_TEST(indirect_call_ret)
{
    code(BTH_CODE,
         "b8 00 01 01 00 "        /* mov eax,0x10100 */
         "ba 08 00 00 00 "        /* mov edx,8 */
         "ff d0 "                 /* L: call eax */
         "4a "                    /* dec edx */
         "75 fb "                 /* jnz L */
         "f4");
    code(BTH_CODE + 0x100, "01 d1 c3");   /* add ecx,edx; ret */
    bth_run_hlt(&H);
    ck_assert_uint_eq(H.c->regs[CPU_ECX], 8 + 7 + 6 + 5 + 4 + 3 + 2 + 1);
    ck_assert_uint_eq(H.c->regs[CPU_ESP], BTH_STACK);
    /* 16 indirect branches; after the first round trip or two, hits stay
     * in the code cache. */
    ck_assert_uint_le(H.bt->st.exits[BT_EXIT_INDIRECT], 4);
    ck_assert_uint_lt(H.bt->st.dispatches, 16);
}
END_TEST

START_TEST(direct_chain)
{
    code(BTH_CODE,
         "b9 64 00 00 00 "        /* mov ecx,100 */
         "31 c0 "                 /* xor eax,eax */
         "01 c8 "                 /* L: add eax,ecx */
         "eb 00 "                 /* jmp M */
         "49 "                    /* M: dec ecx */
         "75 f9 "                 /* jnz L */
         "f4");
    bth_run_hlt(&H);
    ck_assert_uint_eq(H.c->regs[CPU_EAX], 5050);
    ck_assert_uint_gt(H.bt->st.chains, 0);
    ck_assert_uint_lt(H.bt->st.dispatches, 20);
}
END_TEST

START_TEST(smc_other_block)
{
    code(BTH_CODE,
         "e8 fb 00 00 00 "              /* call 0x10100 */
         "89 c3 "                       /* mov ebx,eax */
         "c6 05 01 01 01 00 42 "        /* mov byte [0x10101],0x42 */
         "e8 ed 00 00 00 "              /* call 0x10100 */
         "f4");
    code(BTH_CODE + 0x100, "b8 11 00 00 00 c3");  /* mov eax,0x11; ret */
    bth_run_hlt(&H);
    ck_assert_uint_eq(H.c->regs[CPU_EBX], 0x11);
    ck_assert_uint_eq(H.c->regs[CPU_EAX], 0x42);
}
END_TEST

START_TEST(smc_same_block)
{
    code(BTH_CODE,
         "c6 05 08 00 01 00 42 "        /* mov byte [0x10008],0x42 */
         "b8 11 00 00 00 "              /* 0x10007: mov eax,0x11 */
         "f4");
    bth_run_hlt(&H);
    ck_assert_uint_eq(H.c->regs[CPU_EAX], 0x42);
}
END_TEST

START_TEST(smc_loop_patch)
{
    /* A loop body translated and run many times, then patched by a
     * dword store (not a byte) from another block. */
    code(BTH_CODE,
         "b9 03 00 00 00 "              /* mov ecx,3 */
         "31 db "                       /* xor ebx,ebx */
         "e8 f4 00 00 00 "              /* L: call 0x10100 */
         "01 c3 "                       /* add ebx,eax */
         "c7 05 01 01 01 00 00 01 00 00 " /* mov dword [0x10101],0x100 */
         "e2 ed "                       /* loop L */
         "f4");
    code(BTH_CODE + 0x100, "b8 01 00 00 00 c3");  /* mov eax,1; ret */
    bth_run_hlt(&H);
    ck_assert_uint_eq(H.c->regs[CPU_EBX], 1 + 0x100 + 0x100);
    ck_assert_uint_gt(H.bt->st.invalidations, 0);
}
END_TEST

START_TEST(div_zero_idt)
{
    bth_gate(&H, CPU_VEC_DE, BTH_CODE + 0x200);
    code(BTH_CODE + 0x200, "f4");
    code(BTH_CODE,
         "31 c9 "                       /* xor ecx,ecx */
         "b8 05 00 00 00 "              /* mov eax,5 */
         "f7 f1 "                       /* 0x10007: div ecx */
         "f4");
    bth_run_hlt(&H);
    ck_assert_uint_eq(H.ex.eip, BTH_CODE + 0x201);
    ck_assert_uint_eq(H.c->regs[CPU_ESP], BTH_STACK - 12);
    ck_assert_uint_eq(bth_rd32(&H, BTH_STACK - 12), BTH_CODE + 7);
    ck_assert_uint_eq(bth_rd32(&H, BTH_STACK - 8), 0x08);
    ck_assert_uint_eq(H.c->regs[CPU_EAX], 5);
    ck_assert_uint_eq(H.c->regs[CPU_ECX], 0);
}
END_TEST

/* DIV with a memory divisor on a page not touched before: the access takes
 * the out-of-line slow path and the host fault happens there; it must
 * still map back to the DIV (not to the block's last instruction). */
START_TEST(div_zero_mem_slowpath)
{
    bth_gate(&H, CPU_VEC_DE, BTH_CODE + 0x200);
    code(BTH_CODE + 0x200, "f4");
    code(BTH_CODE,
         "b8 05 00 00 00 "              /* mov eax,5 */
         "31 d2 "                       /* xor edx,edx */
         "f7 35 00 00 03 00 "           /* 0x10007: div dword [0x30000] (zero) */
         "41 "                          /* inc ecx */
         "42 "                          /* inc edx */
         "f4");
    bth_run_hlt(&H);
    ck_assert_uint_eq(H.ex.eip, BTH_CODE + 0x201);
    ck_assert_uint_eq(bth_rd32(&H, BTH_STACK - 12), BTH_CODE + 7);
    ck_assert_uint_eq(H.c->regs[CPU_EAX], 5);
}
END_TEST

START_TEST(idiv_overflow_idt)
{
    bth_gate(&H, CPU_VEC_DE, BTH_CODE + 0x200);
    code(BTH_CODE + 0x200, "f4");
    code(BTH_CODE,
         "b8 00 00 00 80 "              /* mov eax,0x80000000 */
         "99 "                          /* cdq */
         "b9 ff ff ff ff "              /* mov ecx,-1 */
         "90 "                          /* nop */
         "f7 f9 "                       /* 0x1000c: idiv ecx */
         "f4");
    bth_run_hlt(&H);
    ck_assert_uint_eq(bth_rd32(&H, BTH_STACK - 12), BTH_CODE + 12);
    ck_assert_uint_eq(H.c->regs[CPU_EAX], 0x80000000);
    ck_assert_uint_eq(H.c->regs[CPU_EDX], 0xffffffff);
}
END_TEST

START_TEST(ud2_idt)
{
    bth_gate(&H, CPU_VEC_UD, BTH_CODE + 0x200);
    code(BTH_CODE + 0x200, "f4");
    code(BTH_CODE, "b8 05 00 00 00 90 0f 0b f4");   /* mov eax,5; nop; ud2 */
    bth_run_hlt(&H);
    ck_assert_uint_eq(H.ex.eip, BTH_CODE + 0x201);
    ck_assert_uint_eq(H.c->regs[CPU_ESP], BTH_STACK - 12);
    ck_assert_uint_eq(bth_rd32(&H, BTH_STACK - 12), BTH_CODE + 6);
    ck_assert_uint_eq(H.c->regs[CPU_EAX], 5);
}
END_TEST

/* MOVDIR64B and ENQCMD are not offered (CPUID leaf 7): #UD, not a native
 * run with a guest address in a host register, not a translator error. */
START_TEST(movdir64b_ud)
{
    bth_gate(&H, CPU_VEC_UD, BTH_CODE + 0x200);
    code(BTH_CODE + 0x200, "f4");
    code(BTH_CODE, "b8 00 30 00 00 66 0f 38 f8 00 f4");   /* mov eax,0x3000; movdir64b eax,[eax] */
    bth_run_hlt(&H);
    ck_assert_uint_eq(H.ex.eip, BTH_CODE + 0x201);
    ck_assert_uint_eq(bth_rd32(&H, BTH_STACK - 12), BTH_CODE + 5);
}
END_TEST

/* CR0.TS set: an SSE instruction raises #NM (CR0.EM: #UD); after CLTS it
 * runs natively again. */
START_TEST(fpu_ts_nm)
{
    bth_gate(&H, CPU_VEC_NM, BTH_CODE + 0x200);
    code(BTH_CODE + 0x200, "0f 06 cf");                   /* clts; iret */
    code(BTH_CODE,
         "0f 20 c0 83 c8 08 0f 22 c0 "                    /* mov eax,cr0; or eax,8 (TS); mov cr0,eax */
         "66 0f ef c0 "                                   /* pxor xmm0,xmm0: #NM, handler clears TS */
         "66 0f 7e c3 "                                   /* movd ebx,xmm0: runs */
         "f4");
    H.c->regs[CPU_EBX] = 0x1234;
    bth_run_hlt(&H);
    ck_assert_uint_eq(H.c->regs[CPU_EBX], 0);
    ck_assert_uint_eq(H.c->cr0 & CPU_CR0_TS, 0);
    /* The #NM frame pointed at the pxor. */
    ck_assert_uint_eq(bth_rd32(&H, BTH_STACK - 12), BTH_CODE + 9);
}
END_TEST

/* A read-only data segment in DS (SDM vol. 3 5.4.1): reads work, a write
 * raises #GP(0) before anything is stored; a CS-override write too. */
START_TEST(readonly_ds_gp)
{
    H.c->gdtr.limit = 4 * 8 - 1;
    bth_gdt_entry(H.vm.ram + BTH_GDT + 24, 0x1);        /* 0x18: read-only data, accessed */
    bth_wr32(&H, 0x20000, 0x11223344);
    bth_gate(&H, CPU_VEC_GP, BTH_CODE + 0x200);
    code(BTH_CODE + 0x200, "f4");
    code(BTH_CODE,
         "b8 18 00 00 00 8e d8 "                        /* mov eax,0x18; mov ds,ax */
         "8b 1d 00 00 02 00 "                           /* 0x10007: mov ebx,[0x20000] */
         "89 0d 00 00 02 00 "                           /* 0x1000d: mov [0x20000],ecx -> #GP */
         "f4");
    H.c->regs[CPU_ECX] = 0x55;
    bth_run_hlt(&H);
    ck_assert_uint_eq(H.c->regs[CPU_EBX], 0x11223344);
    ck_assert_uint_eq(bth_rd32(&H, 0x20000), 0x11223344);   /* nothing written */
    ck_assert_uint_eq(bth_rd32(&H, BTH_STACK - 16), 0);      /* error code 0 */
    ck_assert_uint_eq(bth_rd32(&H, BTH_STACK - 12), BTH_CODE + 0xd); /* the faulting write */
}
END_TEST

START_TEST(page_cross)
{
    code(BTH_CODE,
         "b8 44 33 22 11 "              /* mov eax,0x11223344 */
         "a3 fe 0f 01 00 "              /* mov [0x10ffe],eax */
         "8b 1d fe 0f 01 00 "           /* mov ebx,[0x10ffe] */
         "be fd 1f 02 00 "              /* mov esi,0x21ffd */
         "89 06 "                       /* mov [esi],eax */
         "66 8b 56 02 "                 /* mov dx,[esi+2] */
         "01 46 00 "                    /* add [esi+0],eax */
         "8b 3e "                       /* mov edi,[esi] */
         "f4");
    bth_run_hlt(&H);
    ck_assert_uint_eq(H.c->regs[CPU_EBX], 0x11223344);
    ck_assert_uint_eq(bth_rd32(&H, 0x10ffe), 0x11223344);
    ck_assert_uint_eq(H.vm.ram[0x11000], 0x22);
    ck_assert_uint_eq(H.c->regs[CPU_EDX] & 0xffff, 0x1122);
    ck_assert_uint_eq(H.c->regs[CPU_EDI], 0x22446688);
    ck_assert_uint_eq(bth_rd32(&H, 0x21ffd), 0x22446688);
    ck_assert_uint_eq(H.vm.ram[0x22000], 0x22);
    ck_assert_uint_eq(H.vm.ram[0x22001], 0);
}
END_TEST

START_TEST(unmapped_access)
{
    code(BTH_CODE,
         "a1 00 00 00 10 "              /* mov eax,[0x10000000] */
         "89 1d 00 00 00 10 "           /* mov [0x10000000],ebx */
         "8b 0d 00 00 00 10 "           /* mov ecx,[0x10000000] */
         "be fe ff 3f 00 "              /* mov esi,0x3ffffe (2 bytes below the top of RAM) */
         "89 1e "                       /* mov [esi],ebx (half dropped) */
         "8b 16 "                       /* mov edx,[esi] */
         "8a 3d 00 00 00 f0 "           /* mov bh,[0xf0000000] */
         "f4");
    H.c->regs[CPU_EBX] = 0x5a5a1234;
    bth_run_hlt(&H);
    ck_assert_uint_eq(H.c->regs[CPU_EAX], 0xffffffff);
    ck_assert_uint_eq(H.c->regs[CPU_ECX], 0xffffffff);
    ck_assert_uint_eq(H.vm.ram[BTH_RAM - 2], 0x34);
    ck_assert_uint_eq(H.vm.ram[BTH_RAM - 1], 0x12);
    ck_assert_uint_eq(H.c->regs[CPU_EDX], 0xffff1234);
    ck_assert_uint_eq(H.c->regs[CPU_EBX], 0x5a5aff34);
}
END_TEST

/* A device register write that arms a timer (a local APIC initial count,
 * an HPET comparator) must bring the vcpu back to the run loop to fire it,
 * as an OUT does: hostile "lapic-random" found a guest spinning with
 * interrupts on never taking a timer armed by a MOV to MMIO. The device
 * here arms its timer due at once; its fire sets a flag the guest polls. */
static struct dev_timers arm_timers;
static struct dev_timer arm_timer;

static void arm_fire(void *ctx, uint64_t now)
{
    (void)now;
    ((struct bth *)ctx)->vm.ram[0x2000] = 1;
    dev_timer_set(&arm_timer, UINT64_MAX);
}

static void arm_mmio(void *opaque, uint64_t off, unsigned size, bool is_write, uint64_t *data)
{
    (void)opaque;
    (void)off;
    (void)size;
    if (is_write)
        dev_timer_set(&arm_timer, dev_clock_ns());
    else
        *data = 0;
}

START_TEST(mmio_write_arms_timer)
{
    arm_timers = (struct dev_timers){ .head = NULL };
    arm_timer = (struct dev_timer){ .deadline_ns = UINT64_MAX, .fire = arm_fire, .ctx = &H };
    dev_timers_add(&arm_timers, &arm_timer);
    H.vm.timers = &arm_timers;
    ck_assert_int_eq(dev_bus_register_mmio(H.vm.bus, 0xf0000000u, 0x1000, "arm", arm_mmio, NULL), 0);
    code(BTH_CODE,
         "c7 05 00 00 00 f0 01 00 00 00 "  /* mov dword [0xf0000000],1: arms the timer */
         "b9 00 00 10 00 "                 /* mov ecx,0x100000 */
         "80 3d 00 20 00 00 00 "           /* 1: cmp byte [0x2000],0 */
         "75 03 "                          /* jne 2f */
         "49 "                             /* dec ecx */
         "75 f4 "                          /* jnz 1b */
         "f4");                            /* 2: hlt */
    bth_run_hlt(&H);
    H.vm.timers = NULL;
    ck_assert_msg(H.vm.ram[0x2000] == 1, "the timer never fired: the loop ran out");
    ck_assert_uint_gt(H.c->regs[CPU_ECX], 0);
}
END_TEST

START_TEST(tiny_cache_flush)
{
    bth_destroy(&H);
    bth_init(&H, 64u << 10);
    /* 3 × 2000 distinct blocks: add eax,imm32; jmp next. */
    uint8_t *p = H.vm.ram + BTH_CODE;
    const uint8_t head[] = { 0xb9, 3, 0, 0, 0, 0x31, 0xc0 }; /* mov ecx,3; xor eax,eax */
    memcpy(p, head, sizeof(head));
    p += sizeof(head);
    uint8_t *loop = p;
    uint32_t sum = 0;
    for (uint32_t i = 0; i < 2000; i++) {
        uint32_t v = i * 7 + 1;
        sum += v;
        *p++ = 0x05;
        memcpy(p, &v, 4);
        p += 4;
        *p++ = 0xeb;
        *p++ = 0x00;
    }
    *p++ = 0x49;                          /* dec ecx */
    *p++ = 0x0f; *p++ = 0x85;             /* jnz loop */
    int32_t rel = (int32_t)(loop - (p + 4));
    memcpy(p, &rel, 4);
    p += 4;
    *p++ = 0xf4;
    bth_run_hlt(&H);
    ck_assert_uint_eq(H.c->regs[CPU_EAX], 3 * sum);
    ck_assert_uint_gt(H.bt->st.flushes, 0);
    ck_assert_uint_le(H.bt->cache_used, 64u << 10);
}
END_TEST

START_TEST(unsupported_fetch)
{
    /* Jumping outside RAM is reported, not crashed on. */
    code(BTH_CODE, "b8 00 00 00 20 ff e0");   /* mov eax,0x20000000; jmp eax */
    enum vm_exit_kind k = bth_run(&H);
    ck_assert_int_eq(k, VM_EXIT_UNSUPPORTED);
    ck_assert_uint_eq(H.ex.eip, 0x20000000);
}
END_TEST

static Suite *bt_suite(void)
{
    Suite *s = suite_create("bt");
    TCase *tc = tcase_create("native");
    tcase_add_checked_fixture(tc, native_setup, native_teardown);
    tcase_add_loop_test(tc, native_compare, 0, NCASES);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tc = tcase_create("esp");
    tcase_add_loop_test(tc, translated_esp, 0, TCASES);
    suite_add_tcase(s, tc);

    tc = tcase_create("engine");
    tcase_add_checked_fixture(tc, eng_setup, eng_teardown);
    tcase_add_test(tc, push_pop);
    tcase_add_test(tc, flags_survive_callout);
    tcase_add_test(tc, call_enter_leave_ret);
    tcase_add_test(tc, loop_jecxz);
    tcase_add_test(tc, block_passes_jcc);
    tcase_add_test(tc, indirect_call_ret);
    tcase_add_test(tc, direct_chain);
    tcase_add_test(tc, smc_other_block);
    tcase_add_test(tc, smc_same_block);
    tcase_add_test(tc, smc_loop_patch);
    tcase_add_test(tc, div_zero_idt);
    tcase_add_test(tc, idiv_overflow_idt);
    tcase_add_test(tc, ud2_idt);
    tcase_add_test(tc, movdir64b_ud);
    tcase_add_test(tc, readonly_ds_gp);
    tcase_add_test(tc, div_zero_mem_slowpath);
    tcase_add_test(tc, fpu_ts_nm);
    tcase_add_test(tc, page_cross);
    tcase_add_test(tc, unmapped_access);
    tcase_add_test(tc, mmio_write_arms_timer);
    tcase_add_test(tc, tiny_cache_flush);
    tcase_add_test(tc, unsupported_fetch);
    tcase_add_test(tc, top_callouts);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bt_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
