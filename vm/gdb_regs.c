/*
 * vm/gdb_regs.c — register numbering, values and target description for
 * gdb (see gdb_regs.h). x87 and SSE state comes from the FXSAVE image in
 * struct cpu: gdb wants the full x87 tag word where FXSAVE keeps one
 * "not empty" bit a register, so the tags are recomputed from the values
 * (SDM vol. 1, 8.1.7).
 */
#include "vm/gdb_regs.h"

#include <errno.h>
#include <string.h>

#include "cpu/cpu.h"

const char vm_gdb_target_xml[] =
    "<?xml version=\"1.0\"?>\n"
    "<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n"
    "<target version=\"1.0\">\n"
    "<architecture>i386</architecture>\n"
    "<feature name=\"org.gnu.gdb.i386.core\">\n"
    "<flags id=\"i386_eflags\" size=\"4\">"
    "<field name=\"CF\" start=\"0\" end=\"0\"/><field name=\"\" start=\"1\" end=\"1\"/>"
    "<field name=\"PF\" start=\"2\" end=\"2\"/><field name=\"AF\" start=\"4\" end=\"4\"/>"
    "<field name=\"ZF\" start=\"6\" end=\"6\"/><field name=\"SF\" start=\"7\" end=\"7\"/>"
    "<field name=\"TF\" start=\"8\" end=\"8\"/><field name=\"IF\" start=\"9\" end=\"9\"/>"
    "<field name=\"DF\" start=\"10\" end=\"10\"/><field name=\"OF\" start=\"11\" end=\"11\"/>"
    "<field name=\"NT\" start=\"14\" end=\"14\"/><field name=\"RF\" start=\"16\" end=\"16\"/>"
    "<field name=\"VM\" start=\"17\" end=\"17\"/><field name=\"AC\" start=\"18\" end=\"18\"/>"
    "<field name=\"VIF\" start=\"19\" end=\"19\"/><field name=\"VIP\" start=\"20\" end=\"20\"/>"
    "<field name=\"ID\" start=\"21\" end=\"21\"/></flags>\n"
    "<reg name=\"eax\" bitsize=\"32\" type=\"int32\" regnum=\"0\"/>\n"
    "<reg name=\"ecx\" bitsize=\"32\" type=\"int32\"/>\n"
    "<reg name=\"edx\" bitsize=\"32\" type=\"int32\"/>\n"
    "<reg name=\"ebx\" bitsize=\"32\" type=\"int32\"/>\n"
    "<reg name=\"esp\" bitsize=\"32\" type=\"data_ptr\"/>\n"
    "<reg name=\"ebp\" bitsize=\"32\" type=\"data_ptr\"/>\n"
    "<reg name=\"esi\" bitsize=\"32\" type=\"int32\"/>\n"
    "<reg name=\"edi\" bitsize=\"32\" type=\"int32\"/>\n"
    "<reg name=\"eip\" bitsize=\"32\" type=\"code_ptr\"/>\n"
    "<reg name=\"eflags\" bitsize=\"32\" type=\"i386_eflags\"/>\n"
    "<reg name=\"cs\" bitsize=\"32\" type=\"int32\"/>\n"
    "<reg name=\"ss\" bitsize=\"32\" type=\"int32\"/>\n"
    "<reg name=\"ds\" bitsize=\"32\" type=\"int32\"/>\n"
    "<reg name=\"es\" bitsize=\"32\" type=\"int32\"/>\n"
    "<reg name=\"fs\" bitsize=\"32\" type=\"int32\"/>\n"
    "<reg name=\"gs\" bitsize=\"32\" type=\"int32\"/>\n"
    "<reg name=\"st0\" bitsize=\"80\" type=\"i387_ext\"/>\n"
    "<reg name=\"st1\" bitsize=\"80\" type=\"i387_ext\"/>\n"
    "<reg name=\"st2\" bitsize=\"80\" type=\"i387_ext\"/>\n"
    "<reg name=\"st3\" bitsize=\"80\" type=\"i387_ext\"/>\n"
    "<reg name=\"st4\" bitsize=\"80\" type=\"i387_ext\"/>\n"
    "<reg name=\"st5\" bitsize=\"80\" type=\"i387_ext\"/>\n"
    "<reg name=\"st6\" bitsize=\"80\" type=\"i387_ext\"/>\n"
    "<reg name=\"st7\" bitsize=\"80\" type=\"i387_ext\"/>\n"
    "<reg name=\"fctrl\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
    "<reg name=\"fstat\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
    "<reg name=\"ftag\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
    "<reg name=\"fiseg\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
    "<reg name=\"fioff\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
    "<reg name=\"foseg\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
    "<reg name=\"fooff\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
    "<reg name=\"fop\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
    "</feature>\n"
    "<feature name=\"org.gnu.gdb.i386.sse\">\n"
    "<vector id=\"v4f\" type=\"ieee_single\" count=\"4\"/>\n"
    "<vector id=\"v2d\" type=\"ieee_double\" count=\"2\"/>\n"
    "<vector id=\"v16i8\" type=\"int8\" count=\"16\"/>\n"
    "<vector id=\"v8i16\" type=\"int16\" count=\"8\"/>\n"
    "<vector id=\"v4i32\" type=\"int32\" count=\"4\"/>\n"
    "<vector id=\"v2i64\" type=\"int64\" count=\"2\"/>\n"
    "<union id=\"vec128\"><field name=\"v4_float\" type=\"v4f\"/>"
    "<field name=\"v2_double\" type=\"v2d\"/><field name=\"v16_int8\" type=\"v16i8\"/>"
    "<field name=\"v8_int16\" type=\"v8i16\"/><field name=\"v4_int32\" type=\"v4i32\"/>"
    "<field name=\"v2_int64\" type=\"v2i64\"/><field name=\"uint128\" type=\"uint128\"/></union>\n"
    "<flags id=\"i386_mxcsr\" size=\"4\">"
    "<field name=\"IE\" start=\"0\" end=\"0\"/><field name=\"DE\" start=\"1\" end=\"1\"/>"
    "<field name=\"ZE\" start=\"2\" end=\"2\"/><field name=\"OE\" start=\"3\" end=\"3\"/>"
    "<field name=\"UE\" start=\"4\" end=\"4\"/><field name=\"PE\" start=\"5\" end=\"5\"/>"
    "<field name=\"DAZ\" start=\"6\" end=\"6\"/><field name=\"IM\" start=\"7\" end=\"7\"/>"
    "<field name=\"DM\" start=\"8\" end=\"8\"/><field name=\"ZM\" start=\"9\" end=\"9\"/>"
    "<field name=\"OM\" start=\"10\" end=\"10\"/><field name=\"UM\" start=\"11\" end=\"11\"/>"
    "<field name=\"PM\" start=\"12\" end=\"12\"/><field name=\"FZ\" start=\"15\" end=\"15\"/></flags>\n"
    "<reg name=\"xmm0\" bitsize=\"128\" type=\"vec128\" regnum=\"32\"/>\n"
    "<reg name=\"xmm1\" bitsize=\"128\" type=\"vec128\"/>\n"
    "<reg name=\"xmm2\" bitsize=\"128\" type=\"vec128\"/>\n"
    "<reg name=\"xmm3\" bitsize=\"128\" type=\"vec128\"/>\n"
    "<reg name=\"xmm4\" bitsize=\"128\" type=\"vec128\"/>\n"
    "<reg name=\"xmm5\" bitsize=\"128\" type=\"vec128\"/>\n"
    "<reg name=\"xmm6\" bitsize=\"128\" type=\"vec128\"/>\n"
    "<reg name=\"xmm7\" bitsize=\"128\" type=\"vec128\"/>\n"
    "<reg name=\"mxcsr\" bitsize=\"32\" type=\"i386_mxcsr\" group=\"vector\"/>\n"
    "</feature>\n"
    "<feature name=\"org.btvm.i386.sys\">\n"
    "<reg name=\"fs_base\" bitsize=\"32\" type=\"int32\" regnum=\"41\" group=\"system\"/>\n"
    "<reg name=\"gs_base\" bitsize=\"32\" type=\"int32\" group=\"system\"/>\n"
    "<reg name=\"cr0\" bitsize=\"32\" type=\"int32\" group=\"system\"/>\n"
    "<reg name=\"cr2\" bitsize=\"32\" type=\"int32\" group=\"system\"/>\n"
    "<reg name=\"cr3\" bitsize=\"32\" type=\"int32\" group=\"system\"/>\n"
    "<reg name=\"cr4\" bitsize=\"32\" type=\"int32\" group=\"system\"/>\n"
    "<reg name=\"efer\" bitsize=\"32\" type=\"int32\" group=\"system\"/>\n"
    "</feature>\n"
    "</target>\n";

/* gdb's segment order (cs ss ds es fs gs) in struct cpu's. */
static const int seg_of[6] = { CPU_CS, CPU_SS, CPU_DS, CPU_ES, CPU_FS, CPU_GS };

/* EFLAGS bits a debugger may change: the status flags, DF and IF (the
 * others change the CPU's mode, which needs more than a new value). */
#define GDB_EFLAGS_WRITABLE (0x8D5u | CPU_FL_DF | CPU_FL_IF)

unsigned vm_gdb_reg_size(unsigned n)
{
    if (n < 16)
        return 4;
    if (n < 24)
        return 10;
    if (n < 32)
        return 4;
    if (n < 40)
        return 16;
    if (n < VM_GDB_NREGS)
        return 4;
    return 0;
}

static uint16_t u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t u32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/* The full tag of x87 register value r (10 bytes) FXSAVE marks in use. */
static unsigned tag_of(const uint8_t *r)
{
    unsigned exp = u16(r + 8) & 0x7FFF;
    uint64_t mant;
    memcpy(&mant, r, 8);
    if (exp == 0x7FFF)
        return 2;
    if (exp == 0)
        return mant ? 2 : 1;
    return (mant >> 63) ? 0 : 2;
}

static uint16_t full_tag(const struct cpu *c)
{
    const uint8_t *fx = c->fxstate;
    unsigned top = (u16(fx + 2) >> 11) & 7;
    uint16_t tw = 0;
    for (unsigned phys = 0; phys < 8; phys++) {
        unsigned st = (phys - top) & 7; /* ST(st) lives in physical register phys */
        unsigned t = (fx[4] >> phys) & 1 ? tag_of(fx + 32 + 16 * st) : 3;
        tw |= (uint16_t)(t << (2 * phys));
    }
    return tw;
}

unsigned vm_gdb_reg_get(const struct cpu *c, unsigned n, uint8_t *out)
{
    const uint8_t *fx = c->fxstate;
    uint32_t v = 0;
    unsigned size = vm_gdb_reg_size(n);
    if (n < 8)
        v = c->regs[n];
    else if (n == 8)
        v = c->eip;
    else if (n == 9)
        v = c->eflags;
    else if (n < 16)
        v = c->segs[seg_of[n - 10]].sel;
    else if (n < 24) {
        memcpy(out, fx + 32 + 16 * (n - 16), 10);
        return 10;
    } else if (n < 32) {
        switch (n - 24) {
        case 0: v = u16(fx); break;           /* FCW */
        case 1: v = u16(fx + 2); break;       /* FSW */
        case 2: v = full_tag(c); break;
        case 3: v = u16(fx + 12); break;      /* FCS */
        case 4: v = u32(fx + 8); break;       /* FIP */
        case 5: v = u16(fx + 20); break;      /* FDS */
        case 6: v = u32(fx + 16); break;      /* FDP */
        default: v = u16(fx + 6) & 0x7FF; break; /* FOP */
        }
    } else if (n < 40) {
        memcpy(out, fx + 160 + 16 * (n - 32), 16);
        return 16;
    } else if (n == 40)
        v = u32(fx + 24);
    else if (n == 41)
        v = c->segs[CPU_FS].base;
    else if (n == 42)
        v = c->segs[CPU_GS].base;
    else if (n == 43)
        v = c->cr0;
    else if (n == 44)
        v = c->cr2;
    else if (n == 45)
        v = c->cr3;
    else if (n == 46)
        v = c->cr4;
    else if (n == 47)
        v = (uint32_t)c->efer;
    else
        return 0;
    memcpy(out, &v, 4);
    return size;
}

int vm_gdb_reg_set(struct cpu *c, unsigned n, const uint8_t *in)
{
    uint8_t *fx = c->fxstate;
    uint8_t cur[16];
    unsigned size = vm_gdb_reg_get(c, n, cur);
    if (!size)
        return -ENOENT;
    if (!memcmp(cur, in, size))
        return 0;
    uint32_t v = size == 4 ? u32(in) : 0;
    if (n < 8) {
        c->regs[n] = v;
    } else if (n == 8) {
        c->eip = v;
    } else if (n == 9) {
        if ((v ^ c->eflags) & ~GDB_EFLAGS_WRITABLE)
            return -EPERM;
        c->eflags = v;
    } else if (n >= 16 && n < 24) {
        memcpy(fx + 32 + 16 * (n - 16), in, 10);
    } else if (n == 24) {
        memcpy(fx, in, 2);
    } else if (n == 25) {
        memcpy(fx + 2, in, 2);
    } else if (n == 26) {
        uint8_t abridged = 0;
        for (unsigned phys = 0; phys < 8; phys++)
            if (((v >> (2 * phys)) & 3) != 3)
                abridged |= (uint8_t)(1u << phys);
        fx[4] = abridged;
    } else if (n == 27) {
        memcpy(fx + 12, in, 2);
    } else if (n == 28) {
        memcpy(fx + 8, in, 4);
    } else if (n == 29) {
        memcpy(fx + 20, in, 2);
    } else if (n == 30) {
        memcpy(fx + 16, in, 4);
    } else if (n == 31) {
        uint16_t op = (uint16_t)(v & 0x7FF);
        memcpy(fx + 6, &op, 2);
    } else if (n >= 32 && n < 40) {
        memcpy(fx + 160 + 16 * (n - 32), in, 16);
    } else if (n == 40) {
        memcpy(fx + 24, in, 4);
    } else {
        return -EPERM; /* selectors, bases, control registers */
    }
    return 0;
}
