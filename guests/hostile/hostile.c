/*
 * guests/hostile/hostile.c — a guest that misbehaves on purpose, to check
 * that btvm ends every run with a clean stop (or keeps running) and never
 * crashes the host process. The Multiboot command line picks the mode and
 * a seed: "<mode> <seed>". Random modes derive all their garbage (IDT and
 * GDT contents, selectors, offsets, jump targets) from the seed, so a
 * failing run can be replayed exactly. tests/guest/hostile.sh runs it;
 * docs/guests.md lists the modes and what each one expects.
 */
#include "hostile.h"

/* smc-storm and selfmod-stack live in stubs.S; for them a nonzero seed
 * is the iteration count (default 100000), to bisect a failure. */
void hostile_smc_storm(uint32_t n, uint32_t out[3]);
void hostile_selfmod_stack(uint32_t n, uint32_t out[1]);

static uint32_t rng;

/* xorshift32: tiny, deterministic, never 0 for a nonzero seed. */
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

struct dtr {
    uint16_t limit;
    uint32_t base;
} __attribute__((packed));

static uint8_t idt[256 * 8] __attribute__((aligned(8)));
static uint8_t gdt[64 * 8] __attribute__((aligned(8)));
static uint8_t junk[8192] __attribute__((aligned(16)));

static void lidt(uint32_t base, uint16_t limit)
{
    struct dtr d = { limit, base };
    __asm__ volatile("lidt %0" : : "m"(d) : "memory");
}

static void lgdt(uint32_t base, uint16_t limit)
{
    struct dtr d = { limit, base };
    __asm__ volatile("lgdt %0" : : "m"(d) : "memory");
}

static void fill_random(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i += 4) {
        uint32_t v = rnd();
        memcpy(p + i, &v, n - i < 4 ? n - i : 4);
    }
}

/* Byte strings the CPU could execute as port I/O or hlt would let random
 * code write the debug-exit port or halt: outcomes that say nothing about
 * btvm. Replace those opcode bytes with nop. */
static void defuse(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t b = p[i];
        if ((b >= 0xe4 && b <= 0xe7) || (b >= 0xec && b <= 0xef) || (b >= 0x6c && b <= 0x6f) ||
            b == 0xf4)
            p[i] = 0x90;
    }
}

uint32_t hostile_rnd(void)
{
    return rnd();
}

static void raise_one(unsigned which)
{
    switch (which & 3) {
    case 0:
        __asm__ volatile("ud2");
        break;
    case 1:
        __asm__ volatile("int3");
        break;
    case 2: {
        volatile uint32_t zero = 0;
        uint32_t q;
        __asm__ volatile("xorl %%edx, %%edx\n\tdivl %2" : "=a"(q) : "a"(1), "r"(zero) : "edx");
        (void)q;
        break;
    }
    default:
        /* #GP: DS <- a selector far beyond any sane GDT limit. */
        __asm__ volatile("movl $0xfff8, %%eax\n\tmovw %%ax, %%ds\n\t"
                         "movl $0x10, %%eax\n\tmovw %%ax, %%ds" : : : "eax");
        break;
    }
}

static void mode_triple(void)
{
    lidt(0, 0);
    __asm__ volatile("int3");
}

static void mode_idt_random(void)
{
    fill_random(idt, sizeof(idt));
    uint16_t limit = (uint16_t)rnd();
    if (rnd() & 1)
        limit &= 0x7ff;               /* half the time inside the table */
    lidt((uint32_t)(uintptr_t)idt, limit);
    unsigned first = rnd();
    for (unsigned i = 0; i < 4; i++)
        raise_one(first + i);
}

/* A descriptor with base/limit/access/flags given. */
static void put_desc(uint8_t *d, uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
    d[0] = limit & 0xff;
    d[1] = (limit >> 8) & 0xff;
    d[2] = base & 0xff;
    d[3] = (base >> 8) & 0xff;
    d[4] = (base >> 16) & 0xff;
    d[5] = access;
    d[6] = (uint8_t)((flags & 0xf0) | ((limit >> 16) & 0x0f));
    d[7] = (base >> 24) & 0xff;
}

static void mode_wild_farjmp(void)
{
    /* Exceptions must end the run: either no IDT or a garbage one. */
    if (rnd() & 1) {
        lidt(0, 0);
    } else {
        fill_random(idt, sizeof(idt));
        lidt((uint32_t)(uintptr_t)idt, (uint16_t)rnd());
    }
    fill_random(gdt, sizeof(gdt));
    memset(gdt, 0, 8);
    /* Some plausible code segments too, so the jump sometimes succeeds
     * into code with an odd base/limit/size/DPL/conforming bit. */
    for (unsigned i = 1; i < 64; i += 1 + (rnd() & 3))
        put_desc(gdt + 8 * i, rnd(), rnd(), (uint8_t)(0x98 | (rnd() & 0x67)),
                 (uint8_t)(rnd() & 0xf0));
    struct {
        uint32_t off;
        uint16_t sel;
    } __attribute__((packed)) fp = { rnd(), (uint16_t)rnd() };
    if (rnd() & 1)
        fp.sel &= 0x1ff;              /* usually inside the table */
    uint16_t glimit = (rnd() & 1) ? sizeof(gdt) - 1 : (uint16_t)rnd();
    lgdt((uint32_t)(uintptr_t)gdt, glimit);
    __asm__ volatile("ljmp *%0" : : "m"(fp) : "memory");
}

static void mode_wild_jump(uint32_t ram_top)
{
    lidt(0, 0);                       /* every exception ends the run */
    fill_random(junk, sizeof(junk));
    defuse(junk, sizeof(junk));
    uint32_t target;
    switch (rnd() & 3) {
    case 0:                           /* far above RAM */
        target = 0xc0000000u | rnd();
        break;
    case 1:                           /* mid-instruction inside data */
        target = (uint32_t)(uintptr_t)junk + (rnd() & 4095);
        break;
    case 2:                           /* just below the end of RAM: fetches cross it */
        target = ram_top - 1 - (rnd() & 15);
        break;
    default:                          /* anywhere */
        target = rnd();
        break;
    }
    gprintf("hostile: wild-jump to %x\n", target);
    __asm__ volatile("jmp *%0" : : "r"(target) : "memory");
}

static uint32_t parse_u32(const char *s)
{
    uint32_t v = 0;
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (uint32_t)(*s++ - '0');
    return v;
}

static int word_is(const char *s, const char *w)
{
    size_t n = strlen(w);
    return !memcmp(s, w, n) && (s[n] == ' ' || s[n] == 0);
}

int guest_main(uint32_t magic, uint32_t mbi)
{
    const uint32_t *mb = (const uint32_t *)(uintptr_t)mbi;
    if (magic != MULTIBOOT_BOOTLOADER_MAGIC || !(mb[0] & 4)) {
        gprintf("hostile: no command line\n");
        return 100;
    }
    /* "<kernel path> <mode> <seed>": skip the path. */
    const char *s = (const char *)(uintptr_t)mb[4];
    while (*s && *s != ' ')
        s++;
    while (*s == ' ')
        s++;
    const char *mode = s;
    while (*s && *s != ' ')
        s++;
    while (*s == ' ')
        s++;
    uint32_t seed = parse_u32(s);
    rng = seed * 2654435761u + 0x9e3779b9u;
    if (!rng)
        rng = 1;
    for (int i = 0; i < 8; i++)
        rnd();
    /* mem_upper (KiB above 1 MiB) when flags bit 0 says it is valid. */
    uint32_t ram_top = (mb[0] & 1) ? 0x100000u + mb[2] * 1024u : 0x200000u;

    gprintf("hostile: mode %s\n", mode);
    if (word_is(mode, "triple")) {
        mode_triple();
    } else if (word_is(mode, "idt-random")) {
        mode_idt_random();
    } else if (word_is(mode, "wild-farjmp")) {
        mode_wild_farjmp();
    } else if (word_is(mode, "wild-jump")) {
        mode_wild_jump(ram_top);
    } else if (word_is(mode, "spin-cli")) {
        __asm__ volatile("cli\n1:\tjmp 1b");
    } else if (word_is(mode, "hlt-cli")) {
        __asm__ volatile("cli\n\thlt");
    } else if (word_is(mode, "smc-storm")) {
        uint32_t n = seed ? seed : 100000, out[3];
        hostile_smc_storm(n, out);
        uint32_t want = (uint32_t)((uint64_t)n * (n + 1) >> 1);
        int bad = out[0] != want || out[1] != n / 2 || out[2] != n - n / 2;
        gprintf("hostile: smc-storm %s: sum %x (want %x), even %u, odd %u\n", bad ? "FAIL" : "ok",
                out[0], want, out[1], out[2]);
        return bad;
    } else if (word_is(mode, "selfmod-stack")) {
        uint32_t n = seed ? seed : 100000, out[1];
        hostile_selfmod_stack(n, out);
        uint32_t want = (uint32_t)((uint64_t)n * (n + 1) >> 1) + n * 0x12345678u;
        int bad = out[0] != want;
        gprintf("hostile: selfmod-stack %s: sum %x (want %x)\n", bad ? "FAIL" : "ok", out[0], want);
        return bad;
    } else if (word_is(mode, "lapic-random")) {
        return hostile_lapic_random(ram_top);
    } else if (word_is(mode, "ioapic-random")) {
        return hostile_ioapic_random(ram_top);
    } else if (word_is(mode, "ide-dma")) {
        return hostile_ide_dma(ram_top);
    } else if (word_is(mode, "fwcfg-random")) {
        return hostile_fwcfg_random(ram_top);
    } else if (word_is(mode, "hpet-random")) {
        return hostile_hpet_random(ram_top);
    } else if (word_is(mode, "virtio-net")) {
        return hostile_virtio_net(ram_top);
    } else {
        gprintf("hostile: unknown mode\n");
        return 100;
    }
    /* Only reached if a hostile act was survived by the guest itself. */
    gprintf("hostile: survived\n");
    return 99;
}
