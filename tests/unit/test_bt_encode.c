/*
 * tests/unit/test_bt_encode.c — IDENT translation (bt/emit_ident.c): a
 * 32-bit guest instruction decoded by dec_decode and run through
 * bt_emit_ident, its 64-bit output decoded again, must be the same
 * instruction: same mnemonic, operand count, operand types and sizes,
 * registers, immediates, and the memory operand rewritten as documented.
 * Then the emitter's own templates and memo against Zydis.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt/emit.h"
#include "bt/translate.h"
#include "cpu/cpu.h"
#include "decoder/decoder.h"

static const char *const rt[] = {
    "01 c8",                /* add eax,ecx */
    "29 d3",                /* sub ebx,edx */
    "66 01 c8",             /* add ax,cx */
    "00 c8",                /* add al,cl */
    "00 e5",                /* add ch,ah */
    "30 f7",                /* xor bh,dh */
    "05 78 56 34 12",       /* add eax,imm32 */
    "83 c1 ff",             /* add ecx,-1 */
    "66 81 ce 01 80",       /* or si,0x8001 */
    "80 c4 7f",             /* add ah,0x7f */
    "a9 00 00 00 80",       /* test eax,imm32 */
    "f7 d8",                /* neg eax */
    "ff c0",                /* inc eax (FF form) */
    "b8 78 56 34 12",       /* mov eax,imm32 */
    "b4 12",                /* mov ah,imm8 */
    "01 03",                /* add [ebx],eax */
    "03 4c 8e 10",          /* add ecx,[esi+ecx*4+0x10] */
    "8b 87 00 01 00 00",    /* mov eax,[edi+0x100] */
    "66 f7 5b 08",          /* neg word [ebx+8] */
    "81 73 0c 78 56 34 12", /* xor dword [ebx+12],imm32 */
    "8a 6b 02",             /* mov ch,[ebx+2] */
    "c1 e0 04",             /* shl eax,4 */
    "d3 e8",                /* shr eax,cl */
    "d2 e4",                /* shl ah,cl */
    "d1 f8",                /* sar eax,1 */
    "0f a4 d0 05",          /* shld eax,edx,5 */
    "f7 e1",                /* mul ecx */
    "0f af c1",             /* imul eax,ecx */
    "6b c1 f9",             /* imul eax,ecx,-7 */
    "0f 94 c0",             /* sete al */
    "0f 4f c1",             /* cmovg eax,ecx */
    "87 ca",                /* xchg edx,ecx */
    "91",                   /* xchg ecx,eax */
    "0f c1 03",             /* xadd [ebx],eax */
    "0f b1 0b",             /* cmpxchg [ebx],ecx */
    /* bt [ebx],ecx folds its bit offset into R10's address: never on the
     * direct path (bt/groups.c), so not here. */
    "0f ba 6b 00 45",       /* bts dword [ebx],0x45 */
    "0f bc c1",             /* bsf eax,ecx */
    "0f c8",                /* bswap eax */
    "0f b6 c4",             /* movzx eax,ah */
    "0f bf 4b 06",          /* movsx ecx,word [ebx+6] */
    "8d 44 8b 10",          /* lea eax,[ebx+ecx*4+0x10] */
    "99",                   /* cdq */
    "66 98",                /* cbw */
    "f0 0f b1 0b",          /* lock cmpxchg [ebx],ecx */
    "66 0f 6f c1",          /* movdqa xmm0,xmm1 */
    "0f 28 11",             /* movaps xmm2,[ecx] */
    "01 e0",                /* add eax,esp (guest ESP is R12D) */
    "66 89 e1",             /* mov cx,sp */
    "8b 44 24 08",          /* mov eax,[esp+8] */
    "00 63 01",             /* add [ebx+1],ah (high byte beside R14) */
};
#define NRT ((int)(sizeof(rt) / sizeof(rt[0])))

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

/* The register a guest register becomes in emitted code (docs/translation.md:
 * guest ESP lives in R12D, SP in R12W; the others are themselves). */
static ZydisRegister host_reg(ZydisRegister r)
{
    return r == ZYDIS_REGISTER_ESP ? ZYDIS_REGISTER_R12D : r == ZYDIS_REGISTER_SP ? ZYDIS_REGISTER_R12W : r;
}

static bool high_byte(ZydisRegister r)
{
    return r == ZYDIS_REGISTER_AH || r == ZYDIS_REGISTER_CH || r == ZYDIS_REGISTER_DH || r == ZYDIS_REGISTER_BH;
}

/* A fresh emitter (static buffers) and a translation context for d in
 * code of this key, everything else zero. */
static struct bt_tctx *ident_ctx(const struct dec_insn *d, uint32_t key)
{
    static struct bt_emit e;
    static uint8_t b0[BT_BUF_CAP], b1[BT_BUF_CAP];
    static struct bt_tctx t;
    e.buf[0] = b0;
    e.buf[1] = b1;
    bt_emit_reset(&e);
    memset(&t, 0, sizeof(t));
    t.e = &e;
    t.d = d;
    t.key = key;
    return &t;
}

/*
 * bt_emit_ident itself (bt/emit_ident.c), on the path a block takes once
 * its memory operands are covered by a group check (direct_mem, group -1:
 * the addend in R14). DIV/IDIV by a register are not here: their inline
 * zero test calls out (#DE), which needs a whole translator (insntest's
 * de_* cases and difftest run them). The emitted bytes
 * are decoded: the guest instruction must be there, same mnemonic, operand
 * count, widths, actions, immediates and registers (ESP as R12D, a high
 * byte next to a REX-needing memory operand as R13B between two RORX);
 * a memory operand must address [base64 + R14 + disp], or, when indexed,
 * [R10 + R14] after LEA R10D, [base + index*scale + disp].
 */
START_TEST(roundtrip)
{
    const char *hex = rt[_i];
    uint8_t b[16];
    size_t n = parse_hex(hex, b);
    struct dec_insn d;
    ck_assert_msg(dec_decode(DEC_MODE_32, 0x1000, b, n, &d) == 0 && d.len == n, "[%s] does not decode", hex);

    struct bt_tctx *t = ident_ctx(&d, 0);
    t->direct_mem = true;
    t->mem_slot = -1;
    t->r11_group = -1;
    t->live_in = CPU_FL_ARITH;
    struct bt_emit *e = t->e;
    const uint8_t *b0 = e->buf[BT_MAIN];
    ck_assert_msg(bt_emit_ident(t), "[%s] bt_emit_ident refused it", hex);
    ck_assert_msg(!e->failed, "[%s] emitter failed", hex);
    ck_assert_msg(bt_here(e, BT_OOL) == 0, "[%s] out-of-line code emitted", hex);

    ZydisDecoder dec;
    ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    ZydisDecodedInstruction zi[8];
    ZydisDecodedOperand ops[8][ZYDIS_MAX_OPERAND_COUNT];
    int ni = 0;
    for (uint32_t at = 0, len = bt_here(e, BT_MAIN); at < len; at += zi[ni++].length) {
        ck_assert_msg(ni < 8, "[%s] too many instructions emitted", hex);
        ck_assert_msg(ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, b0 + at, len - at, &zi[ni], ops[ni])),
                      "[%s] emitted bytes at %u do not decode", hex, at);
    }

    int mi = -1, hb = -1;
    for (int i = 0; i < d.zi.operand_count_visible; i++) {
        if (d.ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY && d.zi.mnemonic != ZYDIS_MNEMONIC_LEA)
            mi = i;
        if (d.ops[i].type == ZYDIS_OPERAND_TYPE_REGISTER && high_byte(d.ops[i].reg.value))
            hb = i;
    }
    bool rotate = mi >= 0 && hb >= 0;
    bool indexed = mi >= 0 && d.ops[mi].mem.index != ZYDIS_REGISTER_NONE;
    int k = 0;  /* the guest instruction's place among the emitted ones */
    if (rotate) {
        ck_assert_msg(zi[k].mnemonic == ZYDIS_MNEMONIC_RORX && ops[k][0].reg.value == ZYDIS_REGISTER_R13 &&
                      ops[k][2].imm.value.u == 8, "[%s] no RORX R13, parent, 8 before the instruction", hex);
        k++;
    }
    if (indexed) {
        const ZydisDecodedOperand *a = &d.ops[mi], *l = &ops[k][1];
        ck_assert_msg(zi[k].mnemonic == ZYDIS_MNEMONIC_LEA && ops[k][0].reg.value == ZYDIS_REGISTER_R10D &&
                      l->mem.base == a->mem.base && l->mem.index == a->mem.index && l->mem.scale == a->mem.scale &&
                      l->mem.disp.value == a->mem.disp.value, "[%s] no LEA R10D of the guest address", hex);
        k++;
    }
    ck_assert_msg(k < ni, "[%s] the instruction itself is missing", hex);
    ck_assert_int_eq(ni, k + 1 + (rotate && (d.ops[hb].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) ? 2 : 0));
    const ZydisDecodedInstruction *z = &zi[k];
    const ZydisDecodedOperand *o = ops[k];

    ck_assert_msg(z->mnemonic == d.zi.mnemonic, "[%s] mnemonic %s became %s", hex,
                  ZydisMnemonicGetString(d.zi.mnemonic), ZydisMnemonicGetString(z->mnemonic));
    ck_assert_msg(z->operand_count_visible == d.zi.operand_count_visible, "[%s] %d operands became %d", hex,
                  d.zi.operand_count_visible, z->operand_count_visible);
    ck_assert_msg(z->operand_width == d.zi.operand_width, "[%s] operand width %d became %d", hex,
                  d.zi.operand_width, z->operand_width);
    ck_assert_msg((z->attributes & ZYDIS_ATTRIB_HAS_LOCK) == (d.zi.attributes & ZYDIS_ATTRIB_HAS_LOCK),
                  "[%s] lock prefix changed", hex);
    for (int i = 0; i < d.zi.operand_count_visible; i++) {
        const ZydisDecodedOperand *a = &d.ops[i], *x = &o[i];
        ck_assert_msg(a->type == x->type, "[%s] operand %d type %d became %d", hex, i, a->type, x->type);
        ck_assert_msg(a->size == x->size, "[%s] operand %d size %d became %d", hex, i, a->size, x->size);
        ck_assert_msg(a->actions == x->actions, "[%s] operand %d actions %x became %x", hex, i,
                      a->actions, x->actions);
        switch (a->type) {
        case ZYDIS_OPERAND_TYPE_REGISTER: {
            ZydisRegister want = i == hb && rotate ? ZYDIS_REGISTER_R13B : host_reg(a->reg.value);
            ck_assert_msg(x->reg.value == want, "[%s] operand %d register %s became %s, want %s", hex, i,
                          ZydisRegisterGetString(a->reg.value), ZydisRegisterGetString(x->reg.value),
                          ZydisRegisterGetString(want));
            break;
        }
        case ZYDIS_OPERAND_TYPE_IMMEDIATE:
            ck_assert_msg(a->imm.value.u == x->imm.value.u, "[%s] operand %d immediate %llx became %llx", hex,
                          i, (unsigned long long)a->imm.value.u, (unsigned long long)x->imm.value.u);
            break;
        case ZYDIS_OPERAND_TYPE_MEMORY: {
            ZydisRegister wb, wi;
            int ws;
            int64_t wd;
            if (i != mi) {          /* LEA: the guest's own address arithmetic */
                wb = host_reg(a->mem.base); wi = host_reg(a->mem.index); ws = a->mem.scale; wd = a->mem.disp.value;
            } else if (indexed) {
                wb = ZYDIS_REGISTER_R10; wi = ZYDIS_REGISTER_R14; ws = 1; wd = 0;
            } else {
                wb = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, host_reg(a->mem.base));
                wi = ZYDIS_REGISTER_R14; ws = 1; wd = a->mem.disp.value;
            }
            ck_assert_msg(x->mem.base == wb && x->mem.index == wi && x->mem.scale == ws && x->mem.disp.value == wd,
                          "[%s] operand %d memory %s+%s*%d+%lld, want %s+%s*%d+%lld", hex, i,
                          ZydisRegisterGetString(x->mem.base), ZydisRegisterGetString(x->mem.index),
                          x->mem.scale, (long long)x->mem.disp.value, ZydisRegisterGetString(wb),
                          ZydisRegisterGetString(wi), ws, (long long)wd);
            break;
        }
        default:
            break;
        }
    }
}
END_TEST

/* bt_emit_rel32's templates (bt/emit.c): every JMP/CALL/Jcc it writes
 * decodes (Zydis, 64-bit) as that branch with a rel32 and equals what the
 * encoder makes of the same request. */
static const ZydisMnemonic rel32_mn[] = {
    ZYDIS_MNEMONIC_JMP, ZYDIS_MNEMONIC_CALL, ZYDIS_MNEMONIC_JO, ZYDIS_MNEMONIC_JNO,
    ZYDIS_MNEMONIC_JB, ZYDIS_MNEMONIC_JNB, ZYDIS_MNEMONIC_JZ, ZYDIS_MNEMONIC_JNZ,
    ZYDIS_MNEMONIC_JBE, ZYDIS_MNEMONIC_JNBE, ZYDIS_MNEMONIC_JS, ZYDIS_MNEMONIC_JNS,
    ZYDIS_MNEMONIC_JP, ZYDIS_MNEMONIC_JNP, ZYDIS_MNEMONIC_JL, ZYDIS_MNEMONIC_JNL,
    ZYDIS_MNEMONIC_JLE, ZYDIS_MNEMONIC_JNLE,
};
#define NREL ((int)(sizeof(rel32_mn) / sizeof(rel32_mn[0])))

/*
 * MOV r64, imm64 is written from a template when the value needs 64 bits
 * (bt/emit.c movabs_template): for every register and a spread of values,
 * the bytes must be Zydis's own encoding of the request, and values that
 * fit a sign-extended imm32 must still get Zydis's shorter form.
 */
START_TEST(movabs_template)
{
    static struct bt_emit e;
    static uint8_t b0[BT_BUF_CAP], b1[BT_BUF_CAP];
    e.buf[0] = b0;
    e.buf[1] = b1;
    static const uint64_t vals[] = {
        0x1122334455667788ull, 0x00007F0012345678ull, 0x0000000080000000ull, 0xFFFFFFFF7FFFFFFFull,
        0x00000000FFFFFFFFull, 0x8000000000000000ull, 0x7FFFFFFFull, 0xFFFFFFFF80000000ull, 0, 1,
    };
    ZydisRegister r = (ZydisRegister)(ZYDIS_REGISTER_RAX + _i);
    for (size_t k = 0; k < sizeof(vals) / sizeof(vals[0]); k++) {
        bt_emit_reset(&e);
        bt_ins(&e, 0, ZYDIS_MNEMONIC_MOV, 2, bt_r(r), bt_i((int64_t)vals[k]));
        ck_assert(!e.failed);
        ZydisEncoderRequest req;
        memset(&req, 0, sizeof(req));
        req.machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
        req.mnemonic = ZYDIS_MNEMONIC_MOV;
        req.operand_count = 2;
        req.operands[0].type = ZYDIS_OPERAND_TYPE_REGISTER;
        req.operands[0].reg.value = r;
        req.operands[1].type = ZYDIS_OPERAND_TYPE_IMMEDIATE;
        req.operands[1].imm.u = vals[k];
        uint8_t out[ZYDIS_MAX_INSTRUCTION_LENGTH];
        ZyanUSize olen = sizeof(out);
        ck_assert(ZYAN_SUCCESS(ZydisEncoderEncodeInstruction(&req, out, &olen)));
        ck_assert_msg(olen == bt_here(&e, 0) && !memcmp(out, b0, olen), "%s, %llx: %u bytes vs Zydis's %u",
                      ZydisRegisterGetString(r), (unsigned long long)vals[k], bt_here(&e, 0), (unsigned)olen);
    }
}
END_TEST

/*
 * The encoder memo keys displacements and immediates by class and writes a
 * hit's own values into the remembered bytes (bt/emit.c). For the shapes
 * the translator emits, with values at every class boundary and random
 * ones, through one emitter (so later requests hit entries earlier ones
 * made, in the shared table and in a call site's own entry), bt_ins must
 * give exactly Zydis's bytes for the same request.
 */
enum { S_MOV_RM, S_MOV_MI, S_LEA, S_CMP_MI, S_ADD_RI, S_SHR_RI, S_MOV_RI, S_TEST_RI, S_AND_MI8, S_JMP_REL,
       NSHAPE };

/* The shape's request for value v: its operands in ops (what bt_ins
 * takes) and, through bt_zop, in req (what Zydis and bt_enc take). */
static void shape_req(int shape, int64_t v, ZydisEncoderRequest *req, struct bt_op ops[2])
{
    memset(req, 0, sizeof(*req));
    req->machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
    req->operand_count = 2;
    struct bt_op m = bt_m(ZYDIS_REGISTER_R15, ZYDIS_REGISTER_NONE, 0, v, 4);
    switch (shape) {
    case S_MOV_RM:  req->mnemonic = ZYDIS_MNEMONIC_MOV;  ops[0] = bt_r(ZYDIS_REGISTER_R11D);
                    ops[1] = bt_m(ZYDIS_REGISTER_R13, ZYDIS_REGISTER_NONE, 0, v, 4); break;
    case S_MOV_MI:  req->mnemonic = ZYDIS_MNEMONIC_MOV;  ops[0] = m; ops[1] = bt_i(v); break;
    case S_LEA:     req->mnemonic = ZYDIS_MNEMONIC_LEA;  ops[0] = bt_r(ZYDIS_REGISTER_ECX);
                    ops[1] = bt_m(ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_R9, 1, v, 8); break;
    case S_CMP_MI:  req->mnemonic = ZYDIS_MNEMONIC_CMP;
                    ops[0] = bt_m(ZYDIS_REGISTER_R15, ZYDIS_REGISTER_R11, 8, v, 8);
                    ops[1] = bt_i(v / 3); break;
    case S_ADD_RI:  req->mnemonic = ZYDIS_MNEMONIC_ADD;  ops[0] = bt_r(ZYDIS_REGISTER_EAX);
                    ops[1] = bt_i(v); break;
    case S_SHR_RI:  req->mnemonic = ZYDIS_MNEMONIC_SHR;  ops[0] = bt_r(ZYDIS_REGISTER_R9);
                    ops[1] = bt_i(v & 63); break;
    case S_MOV_RI:  req->mnemonic = ZYDIS_MNEMONIC_MOV;  ops[0] = bt_r(ZYDIS_REGISTER_R10);
                    ops[1] = bt_i(v); break;
    case S_TEST_RI: req->mnemonic = ZYDIS_MNEMONIC_TEST; ops[0] = bt_r(ZYDIS_REGISTER_R10B);
                    ops[1] = bt_i(v & 0xFF); break;
    case S_AND_MI8: req->mnemonic = ZYDIS_MNEMONIC_AND;
                    ops[0] = bt_m(ZYDIS_REGISTER_RBP, ZYDIS_REGISTER_NONE, 0, v, 1);
                    ops[1] = bt_i((int8_t)v); break;
    default:        req->mnemonic = ZYDIS_MNEMONIC_JMP;  req->operand_count = 1;
                    ops[0] = bt_i(v); break;
    }
    for (int i = 0; i < req->operand_count; i++)
        req->operands[i] = bt_zop(ops[i]);
}

START_TEST(memo_values)
{
    static struct bt_emit e;
    static uint8_t b0[BT_BUF_CAP], b1[BT_BUF_CAP];
    e.buf[0] = b0;
    e.buf[1] = b1;
    static const int64_t edge[] = {
        0, 1, 2, 3, -1, -2, 4, 127, 128, -128, -129, 255, 256, 32767, 32768, -32768, -32769,
        65535, 65536, INT32_MAX, INT32_MIN, (int64_t)INT32_MAX + 1, (int64_t)INT32_MIN - 1, INT64_MIN,
    };
    srand(1234 + _i);
    for (int k = 0; k < 600; k++) {
        int64_t v;
        if (k < 2 * (int)(sizeof(edge) / sizeof(edge[0])))
            v = edge[k % (sizeof(edge) / sizeof(edge[0]))];
        else if (k % 3 == 0)
            v = (int8_t)rand();
        else
            v = (int32_t)((uint32_t)rand() << 1 ^ (uint32_t)rand());
        ZydisEncoderRequest req, mine;
        struct bt_op ops[2];
        shape_req(_i, v, &req, ops);
        uint8_t out[ZYDIS_MAX_INSTRUCTION_LENGTH];
        ZyanUSize olen = sizeof(out);
        bool ok = ZYAN_SUCCESS(ZydisEncoderEncodeInstruction(&req, out, &olen));
        /* Through bt_enc (a whole request), bt_ins_ops (struct bt_op),
         * then a call site's own memo entry, which the values before
         * filled (bt_ins). */
        static struct bt_site_memo site;
        for (int way = 0; way < 3; way++) {
            bt_emit_reset(&e);
            shape_req(_i, v, &mine, ops);
            if (way == 0)
                bt_enc(&e, 0, &mine);
            else if (way == 1)
                bt_ins_ops(&e, 0, mine.mnemonic, mine.operand_count, ops);
            else
                bt_ins_site(&e, 0, mine.mnemonic, mine.operand_count, ops, &site);
            ck_assert_msg(ok != e.failed, "shape %d value %lld way %d: Zydis %s, bt_enc %s", _i, (long long)v,
                          way, ok ? "encodes" : "refuses", e.failed ? "refuses" : "encodes");
            if (!ok)
                continue;
            ck_assert_msg(olen == bt_here(&e, 0) && !memcmp(out, b0, olen), "shape %d value %lld way %d: %u bytes, Zydis %u",
                          _i, (long long)v, way, bt_here(&e, 0), (unsigned)olen);
        }
    }
}
END_TEST

/*
 * bt_ident_copyable (bt/emit_ident.c): every guest instruction it lets
 * through is copied byte for byte, so its bytes, decoded in 64-bit mode,
 * must be the same instruction: length, mnemonic, operand width, and each
 * visible operand's type, size, register, immediate and actions. Every
 * one- and two-byte opcode with no prefix and with 66, every register
 * ModRM, two immediates: all the forms there are, not a sample.
 */
START_TEST(copied_forms)
{
    ZydisDecoder d64;
    ZydisDecoderInit(&d64, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    static const uint8_t imm[2][4] = { { 0x7f, 0x80, 0x01, 0xfe }, { 0x81, 0x00, 0x00, 0x80 } };
    int copied = 0, mnemonics = 0;
    bool seen[ZYDIS_MNEMONIC_MAX_VALUE + 1] = { false };
    for (int pfx = 0; pfx < 2; pfx++)
        for (int esc = 0; esc < 2; esc++)
            for (int op = 0; op < 256; op++)
                for (int modrm = 0; modrm < 256; modrm++)
                    for (int k = 0; k < 2; k++) {
                        uint8_t b[16];
                        size_t n = 0;
                        if (pfx)
                            b[n++] = 0x66;
                        if (esc)
                            b[n++] = 0x0F;
                        b[n++] = (uint8_t)op;
                        b[n++] = (uint8_t)modrm;
                        memcpy(b + n, imm[k], 4);
                        n += 4;
                        memset(b + n, 0x90, sizeof(b) - n);
                        struct dec_insn d;
                        if (dec_decode(DEC_MODE_32, 0x1000, b, sizeof(b), &d) != 0 ||
                            !bt_ident_copyable(BT_KEY_CODE32, &d))
                            continue;
                        ck_assert(!bt_ident_copyable(0, &d)); /* never in 16-bit code */
                        ZydisDecodedInstruction zi;
                        ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
                        char hex[40];
                        int h = 0;
                        for (unsigned i = 0; i < d.len; i++)
                            h += snprintf(hex + h, sizeof(hex) - (size_t)h, "%02x ", d.bytes[i]);
                        ck_assert_msg(ZYAN_SUCCESS(ZydisDecoderDecodeFull(&d64, d.bytes, d.len, &zi, ops)),
                                      "[%s] does not decode in 64-bit mode", hex);
                        ck_assert_msg(zi.length == d.len && zi.mnemonic == d.zi.mnemonic &&
                                          zi.operand_width == d.zi.operand_width &&
                                          zi.operand_count_visible == d.zi.operand_count_visible,
                                      "[%s] is %s/%u/%u in 64-bit mode, %s/%u/%u in 32-bit code", hex,
                                      ZydisMnemonicGetString(zi.mnemonic), zi.operand_width, zi.length,
                                      ZydisMnemonicGetString(d.zi.mnemonic), d.zi.operand_width, d.len);
                        for (int i = 0; i < zi.operand_count_visible; i++) {
                            const ZydisDecodedOperand *a = &ops[i], *g = &d.ops[i];
                            ck_assert_msg(a->type == g->type && a->size == g->size && a->actions == g->actions,
                                          "[%s] operand %d differs", hex, i);
                            if (a->type == ZYDIS_OPERAND_TYPE_REGISTER)
                                ck_assert_msg(a->reg.value == g->reg.value, "[%s] operand %d: %s, guest %s", hex, i,
                                              ZydisRegisterGetString(a->reg.value),
                                              ZydisRegisterGetString(g->reg.value));
                            else
                                ck_assert_msg(a->type == ZYDIS_OPERAND_TYPE_IMMEDIATE && a->imm.value.u == g->imm.value.u,
                                              "[%s] operand %d is not the same immediate", hex, i);
                        }
                        /* The emitter copies exactly these bytes. */
                        struct bt_tctx *t = ident_ctx(&d, BT_KEY_CODE32);
                        ck_assert(bt_emit_ident(t));
                        ck_assert_msg(bt_here(t->e, BT_MAIN) == d.len && !memcmp(t->e->buf[BT_MAIN], d.bytes, d.len),
                                      "[%s] not copied", hex);
                        copied++;
                        if (!seen[d.zi.mnemonic])
                            mnemonics++;
                        seen[d.zi.mnemonic] = true;
                    }
    /* The forms the list names: tens of mnemonics, tens of thousands of forms. */
    ck_assert_int_gt(mnemonics, 60);
    ck_assert_int_gt(copied, 20000);
    printf("copied_forms: %d forms, %d mnemonics, each the same in 64-bit mode\n", copied, mnemonics);
}
END_TEST

/*
 * IDENT memory forms from a byte template (bt_ident_tmpl_make/_emit,
 * bt/emit_ident.c) against the encoder path they replace, over every
 * one- and two-byte opcode (and the 0F 38 / 0F 3A maps behind 66) with
 * memory ModRM forms, prefix sets and immediates, then random bytes. For
 * each host memory operand the translator uses, the template's bytes are
 * decoded (Zydis, 64-bit) and must be the guest instruction: mnemonic,
 * widths, LOCK/REP, every operand (type, size, actions; registers as
 * mapped, ESP as R12D; immediates) with the memory operand the one asked
 * for; and they must equal what Zydis' encoder makes of the request the
 * encoder path builds (bt/emit_ident.c), byte for byte.
 */
struct tmpl_mem { ZydisRegister base, index; uint8_t scale; int64_t disp; };
static const struct tmpl_mem tmpl_mems[] = {
    { ZYDIS_REGISTER_R10, ZYDIS_REGISTER_R11, 1, 0 },       /* checked access */
    { ZYDIS_REGISTER_R10, ZYDIS_REGISTER_R14, 1, 0 },       /* compared with R14 */
    { ZYDIS_REGISTER_RBP, ZYDIS_REGISTER_R14, 1, -0x18 },   /* a group's direct access */
    { ZYDIS_REGISTER_R12, ZYDIS_REGISTER_R14, 1, 0x1234 },  /* the stack */
    { ZYDIS_REGISTER_R13, ZYDIS_REGISTER_NONE, 0, 0 },      /* R13: always a displacement */
    { ZYDIS_REGISTER_R15, ZYDIS_REGISTER_NONE, 0, 0x40 },   /* a device store's ARG0 */
    { ZYDIS_REGISTER_RDI, ZYDIS_REGISTER_R12, 4, 0x7fff0000 },
};
#define NTMPL_MEM ((int)(sizeof(tmpl_mems) / sizeof(tmpl_mems[0])))

static int tmpl_forms, tmpl_checked, tmpl_other_form;

/* One guest form: false if it is not a template form. */
static bool check_tmpl_form(const uint8_t *b, size_t n)
{
    struct dec_insn d;
    if (dec_decode(DEC_MODE_32, 0x1000, b, n, &d) != 0 || bt_emit_kind(&d) != BT_EMIT_IDENT)
        return false;
    struct bt_ident_tmpl tp;
    if (!bt_ident_tmpl_make(&d, &tp))
        return false;
    char hex[64];
    int h = 0;
    for (unsigned i = 0; i < d.len; i++)
        h += snprintf(hex + h, sizeof(hex) - (size_t)h, "%02x ", d.bytes[i]);
    int mi = -1;
    for (int i = 0; i < d.zi.operand_count_visible; i++)
        if (d.ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY)
            mi = i;
    ck_assert_msg(mi >= 0, "[%s] template without a memory operand", hex);
    static struct bt_emit e;
    static uint8_t b0[BT_BUF_CAP], b1[BT_BUF_CAP];
    e.buf[0] = b0;
    e.buf[1] = b1;
    ZydisDecoder dec;
    ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    for (int k = 0; k < NTMPL_MEM; k++) {
        const struct tmpl_mem *m = &tmpl_mems[k];
        bt_emit_reset(&e);
        ck_assert_msg(bt_ident_tmpl_emit(&e, 0, &tp, m->base, m->index, m->scale, m->disp) && !e.failed,
                      "[%s] template refused memory form %d", hex, k);
        uint32_t len = bt_here(&e, 0);

        /* The encoder path's request (bt_emit_ident). */
        ZydisEncoderRequest req;
        ck_assert(ZYAN_SUCCESS(ZydisEncoderDecodedInstructionToEncoderRequest(&d.zi, d.ops,
                                                                            d.zi.operand_count_visible, &req)));
        req.prefixes &= ~(ZydisInstructionAttributes)(ZYDIS_ATTRIB_HAS_SEGMENT_CS | ZYDIS_ATTRIB_HAS_SEGMENT_SS |
                          ZYDIS_ATTRIB_HAS_SEGMENT_DS | ZYDIS_ATTRIB_HAS_SEGMENT_ES |
                          ZYDIS_ATTRIB_HAS_SEGMENT_FS | ZYDIS_ATTRIB_HAS_SEGMENT_GS |
                          ZYDIS_ATTRIB_HAS_BND | ZYDIS_ATTRIB_HAS_NOTRACK);
        req.address_size_hint = ZYDIS_ADDRESS_SIZE_HINT_NONE;
        req.machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
        for (int i = 0; i < d.zi.operand_count_visible; i++)
            if (d.ops[i].type == ZYDIS_OPERAND_TYPE_REGISTER)
                req.operands[i].reg.value = host_reg(d.ops[i].reg.value);
        req.operands[mi].mem.base = m->base;
        req.operands[mi].mem.index = m->index;
        req.operands[mi].mem.scale = m->scale;
        req.operands[mi].mem.displacement = m->disp;
        uint8_t out[ZYDIS_MAX_INSTRUCTION_LENGTH];
        ZyanUSize olen = sizeof(out);
        ck_assert_msg(ZYAN_SUCCESS(ZydisEncoderEncodeInstruction(&req, out, &olen)), "[%s] Zydis refuses form %d",
                      hex, k);
        char th[64], oh[64];
        int a = 0, c = 0;
        for (uint32_t i = 0; i < len; i++)
            a += snprintf(th + a, sizeof(th) - (size_t)a, "%02x ", b0[i]);
        for (ZyanUSize i = 0; i < olen; i++)
            c += snprintf(oh + c, sizeof(oh) - (size_t)c, "%02x ", out[i]);
        /* The bytes are the guest's instruction. */
        ZydisDecodedInstruction zi;
        ZydisDecodedOperand o[ZYDIS_MAX_OPERAND_COUNT];
        ck_assert_msg(ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, b0, len, &zi, o)) && zi.length == len,
                      "[%s] form %d: %s does not decode", hex, k, th);
        if (len != olen || memcmp(b0, out, olen)) {
            /* Only another form of the same instruction: the guest's own
             * immediate width where the encoder picks a shorter one. */
            ZydisDecodedInstruction zo;
            ZydisDecodedOperand oo[ZYDIS_MAX_OPERAND_COUNT];
            ck_assert(ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, out, olen, &zo, oo)));
            bool same = zo.mnemonic == zi.mnemonic && zo.operand_width == zi.operand_width &&
                        zo.operand_count_visible == zi.operand_count_visible && zo.attributes == zi.attributes;
            for (int i = 0; same && i < zi.operand_count_visible; i++)
                same = oo[i].type == o[i].type && oo[i].actions == o[i].actions &&
                       (o[i].type == ZYDIS_OPERAND_TYPE_IMMEDIATE || oo[i].size == o[i].size) &&
                       (o[i].type != ZYDIS_OPERAND_TYPE_IMMEDIATE || oo[i].imm.value.u == o[i].imm.value.u) &&
                       (o[i].type != ZYDIS_OPERAND_TYPE_REGISTER || oo[i].reg.value == o[i].reg.value) &&
                       (o[i].type != ZYDIS_OPERAND_TYPE_MEMORY ||
                        (oo[i].mem.base == o[i].mem.base && oo[i].mem.index == o[i].mem.index &&
                         oo[i].mem.scale == o[i].mem.scale && oo[i].mem.disp.value == o[i].mem.disp.value));
            ck_assert_msg(same && zo.raw.imm[0].size != zi.raw.imm[0].size,
                          "[%s] form %d: template %s, encoder %s", hex, k, th, oh);
            tmpl_other_form++;
        }
        ck_assert_msg(zi.mnemonic == d.zi.mnemonic && zi.operand_width == d.zi.operand_width &&
                          zi.operand_count_visible == d.zi.operand_count_visible &&
                          (zi.attributes & (ZYDIS_ATTRIB_HAS_LOCK | ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE |
                                            ZYDIS_ATTRIB_HAS_REPNE)) ==
                              (d.zi.attributes & (ZYDIS_ATTRIB_HAS_LOCK | ZYDIS_ATTRIB_HAS_REP |
                                                  ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE)),
                      "[%s] form %d: %s is another instruction", hex, k, th);
        for (int i = 0; i < d.zi.operand_count_visible; i++) {
            const ZydisDecodedOperand *g = &d.ops[i], *x = &o[i];
            ck_assert_msg(g->type == x->type && g->size == x->size && g->actions == x->actions,
                          "[%s] form %d: operand %d differs", hex, k, i);
            if (g->type == ZYDIS_OPERAND_TYPE_REGISTER)
                ck_assert_msg(x->reg.value == host_reg(g->reg.value), "[%s] form %d: register %d", hex, k, i);
            else if (g->type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
                ck_assert_msg(x->imm.value.u == g->imm.value.u, "[%s] form %d: immediate %d", hex, k, i);
            else if (g->type == ZYDIS_OPERAND_TYPE_MEMORY)
                ck_assert_msg(x->mem.base == m->base && x->mem.index == m->index &&
                                  (m->index == ZYDIS_REGISTER_NONE || x->mem.scale == m->scale) &&
                                  x->mem.disp.value == m->disp && x->mem.segment != ZYDIS_REGISTER_FS &&
                                  x->mem.segment != ZYDIS_REGISTER_GS,
                              "[%s] form %d: memory operand", hex, k);
        }
        tmpl_checked++;
    }
    tmpl_forms++;
    return true;
}

START_TEST(ident_templates)
{
    static const uint8_t pfx[][3] = { { 0 }, { 1, 0x66 }, { 1, 0xf3 }, { 1, 0xf2 }, { 1, 0xf0 }, { 1, 0x64 },
                                      { 2, 0xf0, 0x66 }, { 2, 0x3e, 0x66 } };
    static const uint8_t modrms[] = { 0x00, 0x04, 0x05, 0x0b, 0x14, 0x24, 0x3c, 0x43, 0x4c, 0x64, 0x7d, 0x84, 0xb5, 0xbc };
    static const uint8_t tail[2][6] = { { 0x44, 0x7f, 0x80, 0x01, 0xfe, 0x12 }, { 0xe1, 0x81, 0x00, 0x00, 0x80, 0x34 } };
    bool seen[ZYDIS_MNEMONIC_MAX_VALUE + 1] = { false };
    int mnemonics = 0;
    for (size_t p = 0; p < sizeof(pfx) / sizeof(pfx[0]); p++)
        for (int map = 0; map < 4; map++)
            for (int op = 0; op < 256; op++)
                for (size_t m = 0; m < sizeof(modrms); m++)
                    for (int k = 0; k < 2; k++) {
                        uint8_t b[16];
                        size_t n = 0;
                        for (int i = 0; i < pfx[p][0]; i++)
                            b[n++] = pfx[p][1 + i];
                        if (map)
                            b[n++] = 0x0f;
                        if (map == 2)
                            b[n++] = 0x38;
                        if (map == 3)
                            b[n++] = 0x3a;
                        b[n++] = (uint8_t)op;
                        b[n++] = modrms[m];
                        memcpy(b + n, tail[k], 6); /* SIB, displacement, immediate: as much as it takes */
                        n += 6;
                        memset(b + n, 0x90, sizeof(b) - n);
                        struct dec_insn d;
                        if (check_tmpl_form(b, sizeof(b)) && dec_decode(DEC_MODE_32, 0x1000, b, sizeof(b), &d) == 0 &&
                            !seen[d.zi.mnemonic]) {
                            seen[d.zi.mnemonic] = true;
                            mnemonics++;
                        }
                    }
    /* Random bytes: whatever decodes to a template form. */
    srand(4321);
    for (int r = 0; r < 150000; r++) {
        uint8_t b[16];
        for (int i = 0; i < 16; i++)
            b[i] = (uint8_t)rand();
        check_tmpl_form(b, sizeof(b));
    }
    printf("ident_templates: %d forms (%d mnemonics in the sweep), %d encodings: %d the encoder's bytes, "
           "%d the guest's wider immediate\n", tmpl_forms, mnemonics, tmpl_checked, tmpl_checked - tmpl_other_form,
           tmpl_other_form);
    ck_assert_int_gt(mnemonics, 100);
    ck_assert_int_gt(tmpl_forms, 50000);
}
END_TEST

START_TEST(rel32_templates)
{
    static struct bt_emit e;
    static uint8_t b0[BT_BUF_CAP], b1[BT_BUF_CAP];
    e.buf[0] = b0;
    e.buf[1] = b1;
    bt_emit_reset(&e);
    ZydisMnemonic m = rel32_mn[_i];
    uint32_t at = bt_emit_rel32(&e, 0, m);
    ck_assert(!e.failed);
    uint32_t len = bt_here(&e, 0);
    ck_assert_uint_eq(at, len - 4);

    ZydisDecoder dec;
    ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    ZydisDecodedInstruction zi;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    ck_assert(ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, b0, len, &zi, ops)));
    ck_assert_uint_eq(zi.length, len);
    ck_assert_msg(zi.mnemonic == m, "%s became %s", ZydisMnemonicGetString(m),
                  ZydisMnemonicGetString(zi.mnemonic));
    ck_assert_uint_eq(zi.raw.imm[0].size, 32);
    ck_assert_uint_eq(zi.raw.imm[0].value.u & 0xFFFFFFFFu, 0x12345678u);

    ZydisEncoderRequest req;
    memset(&req, 0, sizeof(req));
    req.machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
    req.mnemonic = m;
    req.branch_type = ZYDIS_BRANCH_TYPE_NEAR;
    req.branch_width = ZYDIS_BRANCH_WIDTH_32;
    req.operand_count = 1;
    req.operands[0].type = ZYDIS_OPERAND_TYPE_IMMEDIATE;
    req.operands[0].imm.u = 0x12345678;
    uint8_t out[ZYDIS_MAX_INSTRUCTION_LENGTH];
    ZyanUSize olen = sizeof(out);
    ck_assert(ZYAN_SUCCESS(ZydisEncoderEncodeInstruction(&req, out, &olen)));
    ck_assert_uint_eq(olen, len);
    ck_assert(!memcmp(out, b0, len));
}
END_TEST

/*
 * bt_emit_const: the first emission runs gen, later ones copy its bytes —
 * the same bytes, at any position and in either buffer; a gen that makes
 * a label is never cached (it runs every time).
 */
static int gen_calls;
static void gen_two(struct bt_emit *e, int b)
{
    gen_calls++;
    bt_ins(e, b, ZYDIS_MNEMONIC_MOV, 2, bt_r(ZYDIS_REGISTER_R9), bt_r(ZYDIS_REGISTER_RAX));
    bt_ins(e, b, ZYDIS_MNEMONIC_LAHF, 0);
}
static void gen_label(struct bt_emit *e, int b)
{
    gen_calls++;
    int l = bt_label(e);
    bt_bind(e, b, l);
    bt_ins(e, b, ZYDIS_MNEMONIC_SAHF, 0);
}

START_TEST(const_sequences)
{
    struct bt_emit *e = ident_ctx(NULL, 0)->e;
    gen_calls = 0;
    gen_two(e, 0); /* the reference bytes, straight from the encoder */
    uint32_t n = bt_here(e, 0);
    ck_assert_uint_gt(n, 0);
    bt_emit_reset(e);
    for (int k = 0; k < 4; k++) {
        int b = k & 1;
        uint32_t at = bt_here(e, b);
        bt_emit_const(e, b, BT_SEQ_FLAGS_SAVE, gen_two);
        ck_assert_uint_eq(bt_here(e, b) - at, n);
        uint8_t ref[64];
        struct bt_emit *f = calloc(1, sizeof(*f));
        ck_assert_ptr_nonnull(f);
        bt_emit_reset(f);
        gen_two(f, 0);
        memcpy(ref, f->buf[0], n);
        free(f->buf[0]);
        free(f->buf[1]);
        free(f);
        ck_assert(!memcmp(e->buf[b] + at, ref, n));
    }
    ck_assert_int_eq(gen_calls, 1 + 4 + 1); /* the first reference, one per round, one caching run */
    gen_calls = 0;
    bt_emit_const(e, 0, BT_SEQ_FLAGS_RESTORE, gen_label);
    bt_emit_const(e, 0, BT_SEQ_FLAGS_RESTORE, gen_label);
    ck_assert_int_eq(gen_calls, 2);
    ck_assert(!e->failed);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bt_encode");
    TCase *tc = tcase_create("roundtrip");
    tcase_add_loop_test(tc, roundtrip, 0, NRT);
    tcase_add_loop_test(tc, rel32_templates, 0, NREL);
    tcase_add_loop_test(tc, movabs_template, 0, 16);
    tcase_add_loop_test(tc, memo_values, 0, NSHAPE);
    tcase_add_test(tc, const_sequences);
    tcase_add_test(tc, copied_forms);
    tcase_add_test(tc, ident_templates);
    tcase_set_timeout(tc, 120); /* ident_templates: ~700k encodings, slower under ASan */
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
