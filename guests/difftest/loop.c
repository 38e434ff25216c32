/*
 * guests/difftest/loop.c — the shared test loop (docs/difftest.md): for
 * each index, generate the sequence, run it, reduce what is compared to
 * a dt_result and report it in one of three modes:
 *   mode=b  one line per batch: "B <first index> <hash of the batch>"
 *   mode=s  one line per sequence: "S <index> <hash>"
 *   mode=d  every compared field of each sequence, one per line
 *   mode=g  the generated code only, not run
 * skip=MASK leaves out the item kinds of dt.h (DT_K_*), drop=MASK items by number.
 * The output ends with "END <count>", so a run cut short shows.
 */
#include "dt.h"

static struct dt_seq seq __attribute__((aligned(16)));
static int cpl0;
struct dt_state dt_in __attribute__((aligned(16))), dt_out __attribute__((aligned(16)));

static char obuf[4096];
static uint32_t olen;

static void flush(void)
{
    dt_plat_write(obuf, olen);
    olen = 0;
}

static void put(const char *s)
{
    while (*s) {
        if (olen == sizeof obuf)
            flush();
        obuf[olen++] = *s++;
    }
}

static void hex(uint32_t v, int digits)
{
    char t[9];
    for (int i = digits - 1; i >= 0; i--, v >>= 4)
        t[i] = "0123456789abcdef"[v & 15];
    t[digits] = 0;
    put(t);
}

static void dec(uint32_t v)
{
    char t[11];
    int i = 10;
    t[i] = 0;
    do t[--i] = (char)('0' + v % 10); while (v /= 10);
    put(t + i);
}

static void bytes(const uint8_t *p, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        hex(p[i], 2);
}

static uint32_t num(const char **s)
{
    uint32_t v = 0, base = 10;
    if ((*s)[0] == '0' && ((*s)[1] == 'x' || (*s)[1] == 'X')) {
        base = 16;
        *s += 2;
    }
    for (;; (*s)++) {
        char c = **s;
        uint32_t d = c >= '0' && c <= '9' ? (uint32_t)(c - '0')
                   : c >= 'a' && c <= 'f' ? (uint32_t)(c - 'a' + 10)
                   : c >= 'A' && c <= 'F' ? (uint32_t)(c - 'A' + 10) : 99;
        if (d >= base)
            return v;
        v = v * base + d;
    }
}

/* The value of "key=" in args, or def. */
static uint32_t arg(const char *args, const char *key, uint32_t def)
{
    for (const char *p = args; *p; p++) {
        if (p != args && p[-1] != ' ')
            continue;
        const char *k = key, *q = p;
        while (*k && *q == *k) k++, q++;
        if (!*k && *q == '=') {
            q++;
            if (*q >= 'a' && *q <= 'z' && q[1] != 'x')
                return (uint32_t)*q; /* mode=b|s|d */
            return num(&q);
        }
    }
    return def;
}

static void mem_copy(void *d, const void *s, uint32_t n)
{
    uint8_t *dp = d;
    const uint8_t *sp = s;
    while (n--) *dp++ = *sp++;
}

static void reduce(struct dt_result *r)
{
    uint8_t *z = (uint8_t *)r;
    for (uint32_t i = 0; i < sizeof *r; i++)
        z[i] = 0;
    for (int i = 0; i < 8; i++)
        r->r[i] = dt_out.r[i];
    r->eflags = dt_out.eflags & seq.flag_mask;
    for (int i = 0; i < 6; i++)
        r->seg[i] = dt_out.seg[i];
    if (cpl0) /* the guest's CPL-0 CS and SS cannot be the host's 0x23/0x2b */
        r->seg[DT_CS] = r->seg[DT_SS] = 0;
    r->fcw = dt_fx[0] | (uint32_t)dt_fx[1] << 8;
    r->fsw = dt_fx[2] | (uint32_t)dt_fx[3] << 8;
    r->ftw = dt_fx[4];
    r->mxcsr = dt_fx[24] | (uint32_t)dt_fx[25] << 8 | (uint32_t)dt_fx[26] << 16 | (uint32_t)dt_fx[27] << 24;
    /* FXSAVE stores ST(i); the abridged tag has one bit per physical register. */
    uint32_t top = r->fsw >> 11 & 7;
    for (uint32_t i = 0; i < 8; i++)
        if (r->ftw >> ((top + i) & 7) & 1)
            mem_copy(r->st[i], dt_fx + 32 + 16 * i, 10);
    mem_copy(r->xmm, dt_fx + 160, 128);
    mem_copy(r->win, (const void *)(uintptr_t)DT_WIN, DT_WIN_SIZE);
    mem_copy(r->win2, (const void *)(uintptr_t)DT_WIN2, DT_WIN2_SIZE);
    r->vec = dt_out.vec;
    if (r->vec != DT_NO_FAULT) {
        /* Error codes only where the CPU pushes one; CR2 only for #PF. */
        r->err = (r->vec >= 10 && r->vec <= 14) || r->vec == 8 || r->vec == 17 ? dt_out.err : 0;
        r->eip = dt_out.eip;
        r->cr2 = r->vec == 14 ? dt_out.cr2 : 0;
    }
}

static uint64_t hash(const struct dt_result *r)
{
    const uint32_t *w = (const uint32_t *)r;
    uint64_t h = 0x243f6a8885a308d3ull;
    for (uint32_t i = 0; i < sizeof *r / 4; i++) {
        h ^= w[i];
        h *= 0x100000001b3ull;
        h ^= h >> 29;
    }
    return h;
}

static void dump(uint32_t seed, uint32_t idx, uint32_t drop, uint32_t skip, const struct dt_result *r)
{
    static const char *const rn[8] = { "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi" };
    static const char *const sn[6] = { "es", "cs", "ss", "ds", "fs", "gs" };
    put("seq seed="); dec(seed); put(" idx="); dec(idx); put(" drop=0x"); hex(drop, 8);
    put(" skip=0x"); hex(skip, 4); put("\n");
    put("code "); bytes(seq.code, seq.item_off[seq.nitems]); put("\nitems"); /* not the jmp back: it differs */
    for (uint32_t i = 0; i <= seq.nitems; i++) { put(" "); dec(seq.item_off[i]); }
    put("\nin");
    for (int i = 0; i < 8; i++) { put(" "); put(rn[i]); put("="); hex(seq.in.r[i], 8); }
    put(" eflags="); hex(seq.in.eflags, 8);
    put(" fs="); hex(seq.in.seg[DT_FS], 4); put(" gs="); hex(seq.in.seg[DT_GS], 4);
    put(" fcw="); hex(seq.in.fcw, 4); put(" mxcsr="); hex(seq.in.mxcsr, 8); put("\n");
    for (int i = 0; i < 8; i++) { put(rn[i]); put(" "); hex(r->r[i], 8); put("\n"); }
    put("eflags "); hex(r->eflags, 8); put(" (compared bits "); hex(seq.flag_mask, 3); put(")\n");
    for (int i = 0; i < 6; i++) { put(sn[i]); put(" "); hex(r->seg[i], 4); put("\n"); }
    put("fcw "); hex(r->fcw, 4); put("\nfsw "); hex(r->fsw, 4); put("\nftw "); hex(r->ftw, 2);
    put("\nmxcsr "); hex(r->mxcsr, 8); put("\n");
    for (int i = 0; i < 8; i++) {
        put("st"); dec((uint32_t)i); put(" ");
        for (int j = 9; j >= 0; j--) hex(r->st[i][j], 2);
        put("\n");
    }
    for (int i = 0; i < 8; i++) {
        put("xmm"); dec((uint32_t)i); put(" ");
        for (int j = 15; j >= 0; j--) hex(r->xmm[i][j], 2);
        put("\n");
    }
    for (uint32_t i = 0; i < DT_WIN_SIZE; i += 16) {
        put("mem "); hex(DT_WIN + i, 8); put(" "); bytes(r->win + i, 16); put("\n");
    }
    for (uint32_t i = 0; i < DT_WIN2_SIZE; i += 16) {
        put("mem "); hex(DT_WIN2 + i, 8); put(" "); bytes(r->win2 + i, 16); put("\n");
    }
    if (r->vec == DT_NO_FAULT) {
        put("fault none\n");
    } else {
        put("fault vector="); dec(r->vec); put(" error="); hex(r->err, 4); put(" eip="); hex(r->eip, 8);
        put(" cr2="); hex(r->cr2, 8); put("\n");
    }
}

int dt_main(const char *args)
{
    uint32_t seed = arg(args, "seed", 1), start = arg(args, "start", 0);
    uint32_t count = arg(args, "count", 1000), mode = arg(args, "mode", 'b');
    uint32_t drop = arg(args, "drop", 0), batch = arg(args, "batch", 1000), skip = arg(args, "skip", 0);
    cpl0 = arg(args, "cpl", 3) == 0;
    if (cpl0)
        skip |= DT_CPL0;
    uint64_t bh = 0;
    static struct dt_result res;

    if (!batch)
        batch = 1;
    for (uint32_t n = 0; n < count; n++) {
        uint32_t idx = start + n;
        dt_generate(seed, idx, drop, skip, &seq, (uint32_t)(uintptr_t)dt_run_back);
        if (mode == 'g') { /* the code only, not run: for a sequence that crashes */
            put("seq seed="); dec(seed); put(" idx="); dec(idx); put("\ncode "); bytes(seq.code, seq.len);
            put("\nitems");
            for (uint32_t i = 0; i <= seq.nitems; i++) { put(" "); dec(seq.item_off[i]); }
            put("\n");
            continue;
        }
        mem_copy((void *)(uintptr_t)DT_CODE, seq.code, seq.len);
        mem_copy((void *)(uintptr_t)DT_WIN, seq.win, DT_WIN_SIZE);
        mem_copy((void *)(uintptr_t)DT_WIN2, seq.win2, DT_WIN2_SIZE);
        dt_in = seq.in;
        dt_run();
        reduce(&res);
        uint64_t h = hash(&res);
        if (mode == 'd') {
            dump(seed, idx, drop, skip, &res);
        } else if (mode == 's') {
            put("S "); dec(idx); put(" "); hex((uint32_t)(h >> 32), 8); hex((uint32_t)h, 8); put("\n");
        } else {
            bh = (bh ^ h) * 0x9e3779b97f4a7c15ull + idx;
            if ((n + 1) % batch == 0 || n + 1 == count) {
                put("B "); dec(start + n - n % batch); put(" ");
                hex((uint32_t)(bh >> 32), 8); hex((uint32_t)bh, 8); put("\n");
                bh = 0;
                flush();
            }
        }
    }
    put("END "); dec(count); put("\n");
    flush();
    return 0;
}
