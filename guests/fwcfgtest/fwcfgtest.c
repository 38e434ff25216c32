/*
 * guests/fwcfgtest/fwcfgtest.c — QEMU's fw_cfg device as a guest sees it
 * (QEMU docs/specs/fw_cfg.rst; tests/guest/fwcfgtest.sh): the signature
 * "QEMU" through selector 0x510 and data port 0x511, the ID's DMA bit, the
 * DMA register's "QEMU CFG", the CPU count (key 0x05) and RAM size (0x03,
 * against mem=MIB on the command line), the file directory (0x19) with
 * etc/e820, etc/e820 read through the data port and through DMA
 * (FWCfgDmaAccess, big-endian, at 0x514/0x518: SELECT|READ, SELECT|SKIP
 * then READ), the memory map itself, a DMA WRITE refused with the error
 * bit, and a key nothing is stored under reading as zeros.
 * Without the signature it prints "fwcfgtest: no fw_cfg" and stops.
 * Only what QEMU's pc machine and btvm must share is checked: the list of
 * files and the other keys' values may differ by design.
 */
#include "guest.h"
#include "report.h"

#define FW_SEL  0x510
#define FW_DATA 0x511
#define FW_DMA  0x514

#define KEY_SIGNATURE 0x00
#define KEY_ID        0x01
#define KEY_RAM_SIZE  0x03
#define KEY_NB_CPUS   0x05
#define KEY_FILE_DIR  0x19
#define KEY_UNUSED    0x0100   /* nothing is stored here, in QEMU or btvm */

#define DMA_ERROR  0x01
#define DMA_READ   0x02
#define DMA_SKIP   0x04
#define DMA_SELECT 0x08
#define DMA_WRITE  0x10

struct dma_access { uint32_t control, length; uint32_t addr_hi, addr_lo; } __attribute__((packed));

static struct dma_access desc __attribute__((aligned(16)));
static uint8_t dir[64 * 1024];
static uint8_t e820_pio[4096], e820_dma[4096 + 64];
static uint32_t opt_mem_mib;

static uint32_t bswap(uint32_t v) { return __builtin_bswap32(v); }
static uint32_t be32(const uint8_t *b) { return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]; }
static uint32_t le32(const uint8_t *b) { return (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0]; }
static uint64_t le64(const uint8_t *b) { return (uint64_t)le32(b + 4) << 32 | le32(b); }

static void fw_select(uint16_t key) { outw(FW_SEL, key); }

static void fw_read(void *out, uint32_t n)
{
    uint8_t *b = out;
    for (uint32_t i = 0; i < n; i++)
        b[i] = inb(FW_DATA);
}

/* Runs one DMA descriptor; returns its control word afterwards (0 = done). */
static uint32_t fw_dma(uint32_t control, void *addr, uint32_t length)
{
    desc.control = bswap(control);
    desc.length = bswap(length);
    desc.addr_hi = 0;
    desc.addr_lo = bswap((uint32_t)(uintptr_t)addr);
    __asm__ volatile("" : : : "memory");
    outl(FW_DMA, 0);                                     /* high half of the address */
    outl(FW_DMA + 4, bswap((uint32_t)(uintptr_t)&desc)); /* low half: runs it */
    uint32_t c = 0;
    for (uint32_t i = 0; i < 1000000; i++) {   /* QEMU completes synchronously; the spec allows later */
        c = bswap(*(volatile uint32_t *)&desc.control);
        if (!(c & ~DMA_ERROR))
            break;
    }
    return c;
}

static uint64_t cmdline_num(const char *s, const char *key, uint64_t dflt)
{
    size_t n = strlen(key);
    for (const char *start = s; s && *s; s++)
        if ((s == start || s[-1] == ' ') && !memcmp(s, key, n) && s[n] == '=') {
            uint64_t v = 0;
            for (s += n + 1; *s >= '0' && *s <= '9'; s++)
                v = v * 10 + (uint64_t)(*s - '0');
            return v;
        }
    return dflt;
}

static uint32_t e820_key, e820_size;

static int test_signature(void)
{
    char sig[6];
    begin("signature");
    fw_select(KEY_SIGNATURE);
    fw_read(sig, 5);
    if (memcmp(sig, "QEMU", 4)) {
        gprintf("fwcfgtest: no fw_cfg (signature %x %x %x %x)\n", sig[0] & 0xff, sig[1] & 0xff, sig[2] & 0xff,
                sig[3] & 0xff);
        return -1;
    }
    expect("byte past the signature", 0, (uint8_t)sig[4]);
    /* Selecting again starts over at offset 0. */
    fw_select(KEY_SIGNATURE);
    expect("first byte after reselecting", 'Q', inb(FW_DATA));
    end();
    return 0;
}

static void test_id(void)
{
    uint8_t b[4];
    begin("id");
    fw_select(KEY_ID);
    fw_read(b, 4);
    uint32_t id = le32(b);
    gprintf("fwcfgtest: ID %x\n", id);
    expect("ID bit 0 (traditional interface)", 1, id & 1);
    expect("ID bit 1 (DMA)", 2, id & 2);
    char dsig[9];
    for (int i = 0; i < 8; i++)
        dsig[i] = (char)inb((uint16_t)(FW_DMA + i));
    dsig[8] = 0;
    if (memcmp(dsig, "QEMU CFG", 8))
        fail("DMA register reads '%s', expected 'QEMU CFG'", dsig);
    end();
}

static void test_cpus(void)
{
    uint8_t b[2];
    begin("cpus");
    fw_select(KEY_NB_CPUS);
    fw_read(b, 2);
    expect("CPU count (key 0x05)", 1, (uint32_t)b[0] | (uint32_t)b[1] << 8);
    end();
}

static void test_ram_size(void)
{
    uint8_t b[8];
    begin("ram_size");
    fw_select(KEY_RAM_SIZE);
    fw_read(b, 8);
    uint64_t size = le64(b);
    gprintf("fwcfgtest: RAM size %x%08x\n", (uint32_t)(size >> 32), (uint32_t)size);
    if (!opt_mem_mib)
        fail("no mem=MIB on the command line");
    else
        expect("RAM size (key 0x03) in MiB", opt_mem_mib, (uint32_t)(size >> 20));
    expect("RAM size: whole MiB", 0, (uint32_t)size & 0xfffff);
    end();
}

static void test_file_dir(void)
{
    uint8_t b[4];
    begin("file_dir");
    fw_select(KEY_FILE_DIR);
    fw_read(b, 4);
    uint32_t count = be32(b);
    gprintf("fwcfgtest: %u files\n", count);
    if (count == 0 || count > sizeof(dir) / 64) {
        fail("file count %u", count);
        end();
        return;
    }
    fw_read(dir, count * 64);
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *f = dir + i * 64;
        uint32_t size = be32(f);
        uint16_t sel = (uint16_t)(f[4] << 8 | f[5]);
        const char *name = (const char *)f + 8;
        int k = 0;
        while (k < 56 && name[k])
            k++;
        if (k == 0 || k == 56) {
            fail("file %u: name empty or not NUL-terminated", i);
            continue;
        }
        gprintf("fwcfgtest: file %x %u %s\n", sel, size, name);
        if (sel < 0x20)
            fail("file %s: selector %x below 0x20", name, sel);
        if (!memcmp(name, "etc/e820", 9)) {
            e820_key = sel;
            e820_size = size;
        }
    }
    if (!e820_key)
        fail("no etc/e820 in the directory");
    else if (e820_size == 0 || e820_size % 20 || e820_size > sizeof(e820_pio))
        fail("etc/e820 is %u bytes, not a whole number of 20-byte entries", e820_size);
    end();
}

static const char *e820_type(uint32_t t)
{
    switch (t) {
    case 1: return "RAM";
    case 2: return "reserved";
    case 3: return "ACPI";
    case 4: return "NVS";
    default: return "?";
    }
}

static void test_e820_pio(void)
{
    begin("e820_pio");
    if (!e820_key || !e820_size || e820_size % 20 || e820_size > sizeof(e820_pio)) {
        fail("no usable etc/e820");
        end();
        return;
    }
    fw_select((uint16_t)e820_key);
    fw_read(e820_pio, e820_size);
    uint32_t n = e820_size / 20;
    uint64_t mem = (uint64_t)opt_mem_mib << 20, ram = 0;
    int has0 = 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = e820_pio + i * 20;
        uint64_t a = le64(e), l = le64(e + 8);
        uint32_t t = le32(e + 16);
        gprintf("fwcfgtest: e820 %x%08x-%x%08x %s\n", (uint32_t)(a >> 32), (uint32_t)a,
                (uint32_t)((a + l - 1) >> 32), (uint32_t)(a + l - 1), e820_type(t));
        if (l == 0 || t < 1 || t > 5)
            fail("entry %u: length %x type %u", i, (uint32_t)l, t);
        if (t == 1) {
            ram += l;
            if (a == 0)
                has0 = 1;
            if (a + l > mem)
                fail("RAM entry %u ends at %x, above -m %u MiB", i, (uint32_t)(a + l), opt_mem_mib);
        }
    }
    if (!has0)
        fail("no RAM entry at address 0");
    /* The RAM entries cover [1 MiB, -m) without a gap. */
    uint64_t p = 0x100000;
    while (p < mem) {
        uint64_t next = p;
        for (uint32_t i = 0; i < n; i++) {
            const uint8_t *e = e820_pio + i * 20;
            uint64_t a = le64(e), l = le64(e + 8);
            if (le32(e + 16) == 1 && a <= p && a + l > p && a + l > next)
                next = a + l;
        }
        if (next == p) {
            fail("no RAM entry covers %x (below -m %u MiB)", (uint32_t)p, opt_mem_mib);
            break;
        }
        p = next;
    }
    if (ram > mem)
        fail("RAM entries add up to %x bytes, more than -m", (uint32_t)ram);
    end();
}

static void test_e820_dma(void)
{
    begin("e820_dma");
    if (!e820_key || !e820_size || e820_size > sizeof(e820_pio)) {
        fail("no usable etc/e820");
        end();
        return;
    }
    /* SELECT|READ of the whole file plus 16 bytes: zeros past the end, no error. */
    memset(e820_dma, 0xee, sizeof(e820_dma));
    uint32_t c = fw_dma(e820_key << 16 | DMA_SELECT | DMA_READ, e820_dma, e820_size + 16);
    expect("control after SELECT|READ", 0, c);
    if (memcmp(e820_dma, e820_pio, e820_size))
        fail("DMA data differs from the data port's");
    for (uint32_t i = 0; i < 16; i++)
        if (e820_dma[e820_size + i]) {
            fail("byte %u past the end is %x, expected 0", i, e820_dma[e820_size + i]);
            break;
        }
    expect("byte after the transfer untouched", 0xee, e820_dma[e820_size + 16]);
    /* SELECT|SKIP 4, then READ 8 and READ 8 more: the offset carries over. */
    memset(e820_dma, 0xee, 32);
    expect("control after SELECT|SKIP", 0, fw_dma(e820_key << 16 | DMA_SELECT | DMA_SKIP, e820_dma, 4));
    expect("SKIP wrote nothing", 0xee, e820_dma[0]);
    expect("control after READ", 0, fw_dma(DMA_READ, e820_dma, 8));
    expect("control after the second READ", 0, fw_dma(DMA_READ, e820_dma + 8, 8));
    if (memcmp(e820_dma, e820_pio + 4, 16))
        fail("SKIP 4 + READ 8 + READ 8 did not give bytes 4-19");
    /* A data port read goes on from the DMA offset (20). */
    if (e820_size >= 21)
        expect("data port after DMA (byte 20)", e820_pio[20], inb(FW_DATA));
    /* SELECT alone selects; the data port then reads from offset 0. */
    expect("control after SELECT", 0, fw_dma(e820_key << 16 | DMA_SELECT, 0, 0));
    uint8_t first[4];
    fw_read(first, 4);
    if (memcmp(first, e820_pio, 4))
        fail("data port after a DMA SELECT does not start at offset 0");
    end();
}

static void test_dma_error(void)
{
    static uint8_t junk[32];
    begin("dma_error");
    memset(junk, 0x5a, sizeof(junk));
    uint32_t c = fw_dma(e820_key << 16 | DMA_SELECT | DMA_WRITE, junk, 20);
    expect("control after a WRITE (error bit)", DMA_ERROR, c);
    c = fw_dma(KEY_SIGNATURE << 16 | DMA_SELECT | DMA_WRITE, junk, 4);
    expect("control after a WRITE to the signature", DMA_ERROR, c);
    /* Nothing changed. */
    fw_select(KEY_SIGNATURE);
    char sig[4];
    fw_read(sig, 4);
    if (memcmp(sig, "QEMU", 4))
        fail("signature changed by the refused WRITE");
    if (e820_key && e820_size <= sizeof(e820_dma)) {
        memset(e820_dma, 0xee, sizeof(e820_dma));
        expect("control after reading etc/e820 again", 0,
               fw_dma(e820_key << 16 | DMA_SELECT | DMA_READ, e820_dma, e820_size));
        if (memcmp(e820_dma, e820_pio, e820_size))
            fail("etc/e820 changed by the refused WRITE");
    }
    end();
}

static void test_missing_key(void)
{
    uint8_t b[8];
    begin("missing_key");
    fw_select(KEY_UNUSED);
    fw_read(b, 8);
    for (int i = 0; i < 8; i++)
        if (b[i]) {
            fail("key %x byte %d reads %x, expected 0", KEY_UNUSED, i, b[i]);
            break;
        }
    memset(b, 0xee, sizeof(b));
    expect("control after DMA SELECT|READ of the missing key", 0,
           fw_dma(KEY_UNUSED << 16 | DMA_SELECT | DMA_READ, b, 8));
    for (int i = 0; i < 8; i++)
        if (b[i]) {
            fail("DMA byte %d of key %x is %x, expected 0", i, KEY_UNUSED, b[i]);
            break;
        }
    end();
}

int guest_main(uint32_t magic, uint32_t mbi)
{
    report_suite("fwcfgtest");
    const char *cmdline = 0;
    if (magic == MULTIBOOT_BOOTLOADER_MAGIC && (((const uint32_t *)(uintptr_t)mbi)[0] & 4))
        cmdline = (const char *)(uintptr_t)((const uint32_t *)(uintptr_t)mbi)[4];
    opt_mem_mib = (uint32_t)cmdline_num(cmdline, "mem", 0);
    gprintf("fwcfgtest: start (mem %u MiB)\n", opt_mem_mib);
    if (test_signature() < 0)
        return 0;
    test_id();
    test_cpus();
    test_ram_size();
    test_file_dir();
    test_e820_pio();
    test_e820_dma();
    test_dma_error();
    test_missing_key();
    return report_failures();
}
