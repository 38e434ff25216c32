/*
 * guests/idetest/idetest.c — IDE test guest (tests/guest/idetest.sh): the
 * PIIX3 IDE function at PCI 00:01.1 and the ATA disk on the primary master
 * — IDENTIFY, software reset, PIO READ/WRITE SECTORS (16- and 32-bit data
 * port), READ/WRITE MULTIPLE, LBA48 beyond 2^28, FLUSH CACHE, IRQ 14
 * through the 8259 and nIEN, bus-master DMA read/write (LBA28 and LBA48)
 * and out-of-range errors. The ATAPI CD-ROM cases are in atapi.c.
 * The disk holds pattern.h's pattern; the script checks the guest's
 * writes in the host file afterwards. Every wait is bounded.
 */
#include "idetest.h"

struct chan pri = { "primary", 0x1f0, 0x3f6, 0, 14 };
struct chan sec = { "secondary", 0x170, 0x376, 0, 15 };

volatile uint32_t irq_count[16];
volatile uint8_t irq_status[16], irq_bmis[16];
uint64_t opt_disk_sectors;
uint32_t opt_iso_blocks;

/* DMA buffers: 64 KiB aligned, so no PRD region crosses a 64 KiB boundary. */
static uint8_t buf[65536] __attribute__((aligned(65536)));
static uint8_t buf2[65536] __attribute__((aligned(65536)));
static struct prd prd_tab[4] __attribute__((aligned(32)));
static uint16_t ident[256];

/* ---- descriptors, interrupts ------------------------------------------- */

static uint64_t gdt[3] __attribute__((aligned(8)));
static uint64_t idt[256] __attribute__((aligned(8)));
extern const uint32_t exc_table[32], irq_table[16];
void reload_segments(void);
void exc_report(uint32_t vec, uint32_t w0, uint32_t w1, uint32_t w2);
void irq_handler(uint32_t irq);

static uint64_t seg_desc(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
    return (uint64_t)(limit & 0xffff) | (uint64_t)(base & 0xffffff) << 16 | (uint64_t)access << 40 |
           (uint64_t)((limit >> 16) & 0xf) << 48 | (uint64_t)(flags & 0xf) << 52 |
           (uint64_t)(base >> 24) << 56;
}

static uint64_t int_gate(uint32_t off)
{
    return (uint64_t)(off & 0xffff) | (uint64_t)0x08 << 16 | (uint64_t)0x8e << 40 |
           (uint64_t)(off >> 16) << 48;
}

void exc_report(uint32_t vec, uint32_t w0, uint32_t w1, uint32_t w2)
{
    gprintf("idetest: unexpected exception %u during %s (stack %x %x %x)\n", vec, report_current(),
            w0, w1, w2);
    guest_exit(100);
}

void irq_handler(uint32_t irq)
{
    irq_count[irq]++;
    if (irq == 14 || irq == 15) {
        const struct chan *c = irq == 14 ? &pri : &sec;
        irq_status[irq] = chan_in(c, R_STATUS);   /* acknowledges INTRQ */
        irq_bmis[irq] = c->bm ? inb((uint16_t)(c->bm + BM_STATUS)) : 0;
    }
    if (irq >= 8)
        outb(0xa0, 0x20);
    outb(0x20, 0x20);
}

static void setup_cpu(void)
{
    struct __attribute__((packed)) { uint16_t limit; uint32_t base; } gd, id;
    gdt[0] = 0;
    gdt[1] = seg_desc(0, 0xfffff, 0x9a, 0xc);
    gdt[2] = seg_desc(0, 0xfffff, 0x92, 0xc);
    for (int i = 0; i < 32; i++)
        idt[i] = int_gate(exc_table[i]);
    for (int i = 0; i < 16; i++)
        idt[0x20 + i] = int_gate(irq_table[i]);
    gd.limit = sizeof(gdt) - 1;
    gd.base = (uint32_t)(uintptr_t)gdt;
    id.limit = sizeof(idt) - 1;
    id.base = (uint32_t)(uintptr_t)idt;
    __asm__ volatile("lgdt %0" : : "m"(gd) : "memory");
    reload_segments();
    __asm__ volatile("lidt %0" : : "m"(id) : "memory");
    /* 8259 pair at 0x20/0x28; only the cascade and IRQ 14/15 unmasked. */
    outb(0x20, 0x11); outb(0xa0, 0x11);
    outb(0x21, 0x20); outb(0xa1, 0x28);
    outb(0x21, 0x04); outb(0xa1, 0x02);
    outb(0x21, 0x01); outb(0xa1, 0x01);
    outb(0x21, 0xfb); outb(0xa1, 0x3f);
    __asm__ volatile("sti" : : : "memory");
}

/* ---- command line -------------------------------------------------------- */

static uint64_t cmdline_num(const char *s, const char *key, uint64_t dflt)
{
    size_t n = strlen(key);
    for (const char *start = s; s && *s; s++) {
        if ((s == start || s[-1] == ' ') && !memcmp(s, key, n) && s[n] == '=') {
            uint64_t v = 0;
            for (s += n + 1; *s >= '0' && *s <= '9'; s++)
                v = v * 10 + (uint64_t)(*s - '0');
            return v;
        }
    }
    return dflt;
}

/* ---- channel helpers (idetest.h) ----------------------------------------- */

int wait_idle(const struct chan *c, const char *what)
{
    /* After three timeouts the channel is taken as stuck (a floating bus
     * reads 0xff): later waits give up quickly so the run still ends. */
    static uint32_t timeouts;
    uint32_t max = timeouts >= 3 ? 10000 : POLL_MAX;
    uint8_t st = 0;
    for (int i = 0; i < 4; i++)   /* the 400 ns before status is valid */
        alt_status(c);
    for (uint32_t i = 0; i < max; i++) {
        st = alt_status(c);
        if (!(st & ST_BSY))
            return chan_in(c, R_STATUS);
    }
    timeouts++;
    fail("%s: %s still busy (status %x) after %u polls", what, c->name, st, max);
    return -1;
}

int wait_drq(const struct chan *c, const char *what)
{
    int st = wait_idle(c, what);
    if (st < 0)
        return -1;
    if ((st & (ST_DRQ | ST_ERR | ST_DF)) != ST_DRQ) {
        fail("%s: status %x error %x, expected DRQ", what, st, chan_in(c, R_ERR));
        return -1;
    }
    return st;
}

int select_dev(const struct chan *c, int dev)
{
    chan_out(c, R_DEV, (uint8_t)(0xe0 | dev << 4));
    return wait_idle(c, "select") < 0 ? -1 : 0;
}

int wait_irq(int irq, uint32_t want)
{
    for (uint32_t i = 0; i < POLL_MAX * 4; i++) {
        if (irq_count[irq] >= want)
            return 0;
        __asm__ volatile("pause" : : : "memory");
    }
    return -1;
}

void pio_in16(const struct chan *c, void *b, uint32_t words)
{
    __asm__ volatile("rep insw" : "+D"(b), "+c"(words) : "d"(c->cmd) : "memory");
}

void pio_out16(const struct chan *c, const void *b, uint32_t words)
{
    __asm__ volatile("rep outsw" : "+S"(b), "+c"(words) : "d"(c->cmd) : "memory");
}

void pio_in32(const struct chan *c, void *b, uint32_t dwords)
{
    __asm__ volatile("rep insl" : "+D"(b), "+c"(dwords) : "d"(c->cmd) : "memory");
}

void pio_out32(const struct chan *c, const void *b, uint32_t dwords)
{
    __asm__ volatile("rep outsl" : "+S"(b), "+c"(dwords) : "d"(c->cmd) : "memory");
}

void bm_prepare(const struct chan *c, const struct prd *tab, int to_memory)
{
    outb((uint16_t)(c->bm + BM_CMD), to_memory ? BMC_TOMEM : 0);
    outl((uint16_t)(c->bm + BM_PRD), (uint32_t)(uintptr_t)tab);
    outb((uint16_t)(c->bm + BM_STATUS), BMS_INT | BMS_ERROR);
}

void identify_string(const uint16_t *id, int word, int words, char *out)
{
    int n = 0;
    for (int i = 0; i < words; i++) {
        out[n++] = (char)(id[word + i] >> 8);
        out[n++] = (char)id[word + i];
    }
    while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == 0))
        n--;
    out[n] = 0;
}

/* ---- PCI ----------------------------------------------------------------- */

#define IDE_DEV 1
#define IDE_FN  1

static uint32_t pci_read(int dev, int fn, int reg)
{
    outl(0xcf8, 0x80000000u | (uint32_t)dev << 11 | (uint32_t)fn << 8 | (uint32_t)(reg & 0xfc));
    return inl(0xcfc);
}

static void pci_write(int dev, int fn, int reg, uint32_t v)
{
    outl(0xcf8, 0x80000000u | (uint32_t)dev << 11 | (uint32_t)fn << 8 | (uint32_t)(reg & 0xfc));
    outl(0xcfc, v);
}

static void pci_write16(int dev, int fn, int reg, uint16_t v)
{
    outl(0xcf8, 0x80000000u | (uint32_t)dev << 11 | (uint32_t)fn << 8 | (uint32_t)(reg & 0xfc));
    outw((uint16_t)(0xcfc + (reg & 2)), v);
}

static void test_pci(void)
{
    begin("pci");
    expect("00:01.0 vendor:device (PIIX3 ISA)", 0x70008086, pci_read(1, 0, 0));
    uint32_t id = pci_read(IDE_DEV, IDE_FN, 0);
    expect("00:01.1 vendor:device (PIIX3 IDE)", 0x70108086, id);
    uint32_t cls = pci_read(IDE_DEV, IDE_FN, 8) >> 8;
    expect("class/subclass (IDE)", 0x0101, cls >> 8);
    expect("prog-if bit 7 (bus master)", 0x80, cls & 0x80);
    uint32_t bar4 = pci_read(IDE_DEV, IDE_FN, 0x20);
    expect("BAR4 is I/O", 1, bar4 & 1);
    /* BAR sizing: the bus-master block is 16 ports. */
    pci_write(IDE_DEV, IDE_FN, 0x20, 0xffffffffu);
    expect("BAR4 size mask", 0xfff1, pci_read(IDE_DEV, IDE_FN, 0x20) & 0xffff);
    if (!(bar4 & ~3u))
        bar4 = 0xc041;   /* no firmware assigned it */
    pci_write(IDE_DEV, IDE_FN, 0x20, bar4);
    expect("BAR4 read back", bar4 & 0xfff0, pci_read(IDE_DEV, IDE_FN, 0x20) & 0xfff0);
    uint16_t cmd = (uint16_t)pci_read(IDE_DEV, IDE_FN, 4);
    pci_write16(IDE_DEV, IDE_FN, 4, (uint16_t)(cmd | 0x5));  /* I/O space, bus master */
    expect("command I/O + bus master", 0x5, pci_read(IDE_DEV, IDE_FN, 4) & 0x5);
    /* IDETIM: decode enable on both channels, as a driver leaves it. */
    pci_write16(IDE_DEV, IDE_FN, 0x40, 0x8000);
    pci_write16(IDE_DEV, IDE_FN, 0x42, 0x8000);
    if (id == 0x70108086 && (bar4 & 1)) {
        pri.bm = (uint16_t)(bar4 & 0xfff0);
        sec.bm = (uint16_t)(pri.bm + 8);
        expect("BMIS primary: not active", 0, inb((uint16_t)(pri.bm + BM_STATUS)) & BMS_ACTIVE);
        expect("BMIS secondary: not active", 0, inb((uint16_t)(sec.bm + BM_STATUS)) & BMS_ACTIVE);
    }
    gprintf("idetest: PIIX IDE bus master at %x\n", pri.bm);
    end();
}

/* ---- ATA commands -------------------------------------------------------- */

static int ata_cmd(int lba48, uint8_t cmd, uint64_t lba, uint32_t count, uint8_t feat)
{
    if (select_dev(&pri, 0) < 0)
        return -1;
    if (lba48) {
        chan_out(&pri, R_FEAT, 0);
        chan_out(&pri, R_COUNT, (uint8_t)(count >> 8));
        chan_out(&pri, R_LBA0, (uint8_t)(lba >> 24));
        chan_out(&pri, R_LBA1, (uint8_t)(lba >> 32));
        chan_out(&pri, R_LBA2, (uint8_t)(lba >> 40));
        chan_out(&pri, R_FEAT, feat);
        chan_out(&pri, R_COUNT, (uint8_t)count);
        chan_out(&pri, R_LBA0, (uint8_t)lba);
        chan_out(&pri, R_LBA1, (uint8_t)(lba >> 8));
        chan_out(&pri, R_LBA2, (uint8_t)(lba >> 16));
        chan_out(&pri, R_DEV, 0x40);
    } else {
        chan_out(&pri, R_FEAT, feat);
        chan_out(&pri, R_COUNT, (uint8_t)count);
        chan_out(&pri, R_LBA0, (uint8_t)lba);
        chan_out(&pri, R_LBA1, (uint8_t)(lba >> 8));
        chan_out(&pri, R_LBA2, (uint8_t)(lba >> 16));
        chan_out(&pri, R_DEV, (uint8_t)(0xe0 | ((lba >> 24) & 0xf)));
    }
    chan_out(&pri, R_CMD, cmd);
    return 0;
}

/* Completion of a command without (more) data: idle, DRDY, no ERR/DRQ/DF. */
static int expect_done(const char *what)
{
    int st = wait_idle(&pri, what);
    if (st < 0)
        return -1;
    if ((st & (ST_DRDY | ST_DF | ST_DRQ | ST_ERR)) != ST_DRDY) {
        fail("%s: final status %x error %x, expected DRDY only", what, st, chan_in(&pri, R_ERR));
        return -1;
    }
    return 0;
}

/* A PIO data-in command: count sectors in DRQ blocks of `block` sectors. */
static int pio_read(uint8_t cmd, int lba48, uint64_t lba, uint32_t count, uint32_t block, int io32,
                    uint8_t *out, const char *what)
{
    if (ata_cmd(lba48, cmd, lba, count, 0) < 0)
        return -1;
    for (uint32_t done = 0, n; done < count; done += n) {
        n = count - done < block ? count - done : block;
        if (wait_drq(&pri, what) < 0)
            return -1;
        if (io32)
            pio_in32(&pri, out + done * 512, n * 128);
        else
            pio_in16(&pri, out + done * 512, n * 256);
    }
    return expect_done(what);
}

static int pio_write(uint8_t cmd, int lba48, uint64_t lba, uint32_t count, uint32_t block, int io32,
                     const uint8_t *in, const char *what)
{
    if (ata_cmd(lba48, cmd, lba, count, 0) < 0)
        return -1;
    for (uint32_t done = 0, n; done < count; done += n) {
        n = count - done < block ? count - done : block;
        if (wait_drq(&pri, what) < 0)
            return -1;
        if (io32)
            pio_out32(&pri, in + done * 512, n * 128);
        else
            pio_out16(&pri, in + done * 512, n * 256);
    }
    return expect_done(what);
}

/* Are the sectors at b the host pattern, except those inside [wlba, wlba+wcount) tagged wtag? */
static void check_sectors(const uint8_t *b, uint64_t lba, uint32_t count, uint64_t wlba, uint32_t wcount,
                          uint32_t wtag, const char *what)
{
    for (uint32_t i = 0; i < count; i++) {
        uint64_t l = lba + i;
        uint32_t tag = (l >= wlba && l < wlba + wcount) ? wtag : PAT_IMG;
        uint32_t at = pat_check(b + i * 512, l, tag);
        if (at) {
            fail("%s: sector %u (LBA %x%08x): byte %u is %x, not the %c%c%c%c pattern", what, i,
                 (uint32_t)(l >> 32), (uint32_t)l, at - 1, b[i * 512 + at - 1], tag & 0xff,
                 (tag >> 8) & 0xff, (tag >> 16) & 0xff, tag >> 24);
            return;
        }
    }
}

static void fill_sectors(uint8_t *b, uint64_t lba, uint32_t count, uint32_t tag)
{
    for (uint32_t i = 0; i < count; i++)
        pat_fill(b + i * 512, lba + i, tag);
}

static int identify(const char *what)
{
    if (ata_cmd(0, 0xec, 0, 0, 0) < 0 || wait_drq(&pri, what) < 0)
        return -1;
    pio_in16(&pri, ident, 256);
    return expect_done(what);
}

/* ---- the cases ----------------------------------------------------------- */

static void test_reset(void)
{
    begin("reset");
    outb(pri.ctl, CTL_SRST);
    for (int i = 0; i < 2000; i++)
        alt_status(&pri);
    outb(pri.ctl, 0);    /* nIEN clear: interrupts on from here */
    if (wait_idle(&pri, "after SRST") >= 0) {
        chan_out(&pri, R_DEV, 0xa0);
        expect("signature: count", 1, chan_in(&pri, R_COUNT));
        expect("signature: LBA low", 1, chan_in(&pri, R_LBA0));
        expect("signature: LBA mid", 0, chan_in(&pri, R_LBA1));
        expect("signature: LBA high", 0, chan_in(&pri, R_LBA2));
        expect("status DRDY after reset", ST_DRDY, alt_status(&pri) & (ST_BSY | ST_DRDY | ST_ERR));
    }
    end();
}

static void test_identify(void)
{
    char model[41], serial[21];
    begin("identify");
    if (identify("IDENTIFY DEVICE") == 0) {
        identify_string(ident, 27, 20, model);
        identify_string(ident, 10, 10, serial);
        gprintf("idetest: disk model '%s' serial '%s'\n", model, serial);
        if (!model[0])
            fail("empty model string");
        expect("word 0 bit 15 (ATA device)", 0, ident[0] & 0x8000);
        expect("word 49: LBA and DMA supported", 0x300, ident[49] & 0x300);
        expect("word 83: valid, FLUSH CACHE (EXT), 48-bit", 0x7400, ident[83] & 0xf400);
        expect("word 86: 48-bit enabled", 0x400, ident[86] & 0x400);
        uint32_t lba28 = (uint32_t)ident[60] | (uint32_t)ident[61] << 16;
        uint64_t lba48 = (uint64_t)ident[100] | (uint64_t)ident[101] << 16 |
                         (uint64_t)ident[102] << 32 | (uint64_t)ident[103] << 48;
        uint64_t want28 = opt_disk_sectors > 0x0fffffff ? 0x0fffffff : opt_disk_sectors;
        expect("LBA28 capacity (words 60-61)", (uint32_t)want28, lba28);
        expect("LBA48 capacity (words 100-101)", (uint32_t)opt_disk_sectors, (uint32_t)lba48);
        expect("LBA48 capacity (words 102-103)", (uint32_t)(opt_disk_sectors >> 32), (uint32_t)(lba48 >> 32));
        if ((ident[47] & 0xff) == 0)
            fail("word 47: no READ/WRITE MULTIPLE (max sectors 0)");
    }
    end();
}

static void test_pio_read(void)
{
    begin("pio_read");
    memset(buf, 0xee, 8 * 512);
    if (pio_read(0x20, 0, 0, 4, 1, 0, buf, "READ SECTORS LBA 0") == 0)
        check_sectors(buf, 0, 4, 0, 0, 0, "READ SECTORS LBA 0");
    /* The top of LBA28: the device register carries LBA bits 24-27. */
    if (pio_read(0x20, 0, 0x0ffffffe, 2, 1, 0, buf, "READ SECTORS LBA 0xffffffe") == 0)
        check_sectors(buf, 0x0ffffffe, 2, 0, 0, 0, "READ SECTORS LBA 0xffffffe");
    end();
}

static void test_pio_write(void)
{
    begin("pio_write");
    fill_sectors(buf, 1000, 3, PAT_PIOW);
    if (pio_write(0x30, 0, 1000, 3, 1, 0, buf, "WRITE SECTORS") == 0) {
        memset(buf, 0xee, 5 * 512);
        if (pio_read(0x20, 0, 999, 5, 1, 0, buf, "read back") == 0)
            check_sectors(buf, 999, 5, 1000, 3, PAT_PIOW, "read back");
    }
    end();
}

static void test_irq14(void)
{
    begin("irq14");
    uint32_t c0 = irq_count[14];
    if (ata_cmd(0, 0x20, 7, 1, 0) == 0) {
        if (wait_irq(14, c0 + 1) < 0) {
            fail("no IRQ 14 for READ SECTORS (status %x)", alt_status(&pri));
            wait_idle(&pri, "READ SECTORS");
        } else {
            expect("status in the IRQ handler (DRQ)", ST_DRQ, irq_status[14] & (ST_BSY | ST_DRQ | ST_ERR));
        }
        if (alt_status(&pri) & ST_DRQ) {
            pio_in16(&pri, buf, 256);
            check_sectors(buf, 7, 1, 0, 0, 0, "READ SECTORS");
        }
        expect_done("READ SECTORS");
        for (int i = 0; i < 20000; i++)
            alt_status(&pri);
        expect("IRQs for a one-sector read", 1, irq_count[14] - c0);
    }
    /* A write: no interrupt for the first DRQ, one at completion. */
    c0 = irq_count[14];
    fill_sectors(buf, 1010, 1, PAT_IRQW);
    if (ata_cmd(0, 0x30, 1010, 1, 0) == 0 && wait_drq(&pri, "WRITE SECTORS") >= 0) {
        expect("IRQs before the data", 0, irq_count[14] - c0);
        pio_out16(&pri, buf, 256);
        if (wait_irq(14, c0 + 1) < 0)
            fail("no IRQ 14 at WRITE SECTORS completion (status %x)", alt_status(&pri));
        else
            expect("status in the IRQ handler (done)", 0, irq_status[14] & (ST_BSY | ST_DRQ | ST_ERR));
        expect_done("WRITE SECTORS");
        if (pio_read(0x20, 0, 1010, 1, 1, 0, buf, "read back") == 0)
            check_sectors(buf, 1010, 1, 1010, 1, PAT_IRQW, "read back");
    }
    /* nIEN set: the same read raises no interrupt. */
    outb(pri.ctl, CTL_NIEN);
    c0 = irq_count[14];
    if (pio_read(0x20, 0, 8, 1, 1, 0, buf, "READ SECTORS with nIEN") == 0)
        check_sectors(buf, 8, 1, 0, 0, 0, "READ SECTORS with nIEN");
    for (int i = 0; i < 20000; i++)
        alt_status(&pri);
    expect("IRQs with nIEN set", 0, irq_count[14] - c0);
    outb(pri.ctl, 0);
    end();
}

static void test_multiple(void)
{
    begin("multiple");
    /* (IDENTIFY word 59 is not checked: QEMU keeps the first IDENTIFY's data.) */
    if (ata_cmd(0, 0xc6, 0, 8, 0) == 0)
        expect_done("SET MULTIPLE MODE 8");
    /* One interrupt per DRQ block: 8 + 8 + 4 sectors. */
    memset(buf, 0xee, 20 * 512);
    uint32_t c0 = irq_count[14];
    if (pio_read(0xc4, 0, 100, 20, 8, 0, buf, "READ MULTIPLE") == 0) {
        check_sectors(buf, 100, 20, 0, 0, 0, "READ MULTIPLE");
        wait_irq(14, c0 + 3);
        expect("IRQs for READ MULTIPLE of 20 in blocks of 8", 3, irq_count[14] - c0);
    }
    /* 8 + 4 sectors: one interrupt after each block. */
    fill_sectors(buf, 1100, 12, PAT_MULW);
    c0 = irq_count[14];
    int wr = pio_write(0xc5, 0, 1100, 12, 8, 0, buf, "WRITE MULTIPLE");
    if (wr == 0) {
        wait_irq(14, c0 + 2);
        expect("IRQs for WRITE MULTIPLE of 12 in blocks of 8", 2, irq_count[14] - c0);
    }
    if (wr == 0) {
        memset(buf, 0xee, 14 * 512);
        if (pio_read(0x20, 0, 1099, 14, 1, 0, buf, "read back") == 0)
            check_sectors(buf, 1099, 14, 1100, 12, PAT_MULW, "read back");
    }
    end();
}

static void test_pio32(void)
{
    begin("pio32");
    memset(buf, 0xee, 2 * 512);
    if (pio_read(0x20, 0, 200, 2, 1, 1, buf, "READ SECTORS (inl)") == 0)
        check_sectors(buf, 200, 2, 0, 0, 0, "READ SECTORS (inl)");
    fill_sectors(buf, 1020, 2, PAT_P32W);
    if (pio_write(0x30, 0, 1020, 2, 1, 1, buf, "WRITE SECTORS (outl)") == 0) {
        memset(buf, 0xee, 4 * 512);
        if (pio_read(0x20, 0, 1019, 4, 1, 0, buf, "read back") == 0)
            check_sectors(buf, 1019, 4, 1020, 2, PAT_P32W, "read back");
    }
    end();
}

static void test_lba48(void)
{
    uint64_t top = PAT_2_28;
    begin("lba48");
    memset(buf, 0xee, 4 * 512);
    if (pio_read(0x24, 1, 3, 2, 1, 0, buf, "READ SECTORS EXT LBA 3") == 0)
        check_sectors(buf, 3, 2, 0, 0, 0, "READ SECTORS EXT LBA 3");
    if (opt_disk_sectors < top + 16) {
        fail("disk=%u sectors: too small for the cases beyond 2^28", (uint32_t)opt_disk_sectors);
        end();
        return;
    }
    memset(buf, 0xee, 4 * 512);
    if (pio_read(0x24, 1, top - 2, 4, 1, 0, buf, "READ SECTORS EXT across 2^28") == 0)
        check_sectors(buf, top - 2, 4, 0, 0, 0, "READ SECTORS EXT across 2^28");
    fill_sectors(buf, top + 8, 2, PAT_EXTW);
    if (pio_write(0x34, 1, top + 8, 2, 1, 0, buf, "WRITE SECTORS EXT 2^28+8") == 0) {
        memset(buf, 0xee, 4 * 512);
        if (pio_read(0x24, 1, top + 7, 4, 1, 0, buf, "read back") == 0)
            check_sectors(buf, top + 7, 4, top + 8, 2, PAT_EXTW, "read back");
    }
    end();
}

static void test_flush(void)
{
    begin("flush");
    if (ata_cmd(0, 0xe7, 0, 0, 0) == 0)
        expect_done("FLUSH CACHE");
    if (ata_cmd(1, 0xea, 0, 0, 0) == 0)
        expect_done("FLUSH CACHE EXT");
    end();
}

/* One bus-master transfer on the primary channel; returns 0 when the IRQ,
 * BMIS (INT set, ACTIVE and ERROR clear) and the final status were right. */
static int dma_run(uint8_t cmd, int lba48, uint64_t lba, uint32_t count, int to_memory, const char *what)
{
    if (!pri.bm) {
        fail("%s: no bus-master BAR", what);
        return -1;
    }
    bm_prepare(&pri, prd_tab, to_memory);
    uint32_t c0 = irq_count[14];
    if (ata_cmd(lba48, cmd, lba, count, 0) < 0)
        return -1;
    outb((uint16_t)(pri.bm + BM_CMD), (uint8_t)((to_memory ? BMC_TOMEM : 0) | BMC_START));
    int bad = 0;
    if (wait_irq(14, c0 + 1) < 0) {
        fail("%s: no IRQ 14 (status %x, BMIS %x)", what, alt_status(&pri), inb((uint16_t)(pri.bm + BM_STATUS)));
        bad = 1;
    }
    uint8_t bmis = inb((uint16_t)(pri.bm + BM_STATUS));
    outb((uint16_t)(pri.bm + BM_CMD), to_memory ? BMC_TOMEM : 0);
    if (!bad && (bmis & (BMS_INT | BMS_ERROR | BMS_ACTIVE)) != BMS_INT) {
        fail("%s: BMIS %x, expected INT without ACTIVE/ERROR", what, bmis);
        bad = 1;
    }
    if (expect_done(what) < 0)
        bad = 1;
    outb((uint16_t)(pri.bm + BM_STATUS), BMS_INT);
    expect("BMIS INT cleared by writing 1", 0, inb((uint16_t)(pri.bm + BM_STATUS)) & BMS_INT);
    return bad ? -1 : 0;
}

static void test_dma_read(void)
{
    begin("dma_read");
    /* 24 sectors: 4 KiB into buf, 8 KiB into buf2. */
    prd_tab[0] = (struct prd){ (uint32_t)(uintptr_t)buf, 4096 };
    prd_tab[1] = (struct prd){ (uint32_t)(uintptr_t)buf2, 8192 | 0x80000000u };
    memset(buf, 0xee, 8192);
    memset(buf2, 0xee, 16384);
    if (dma_run(0xc8, 0, 300, 24, 1, "READ DMA") == 0) {
        check_sectors(buf, 300, 8, 0, 0, 0, "READ DMA (PRD 0)");
        check_sectors(buf2, 308, 16, 0, 0, 0, "READ DMA (PRD 1)");
        expect("byte after PRD 0 untouched", 0xee, buf[4096]);
        expect("byte after PRD 1 untouched", 0xee, buf2[8192]);
    }
    end();
}

static void test_dma_write(void)
{
    begin("dma_write");
    prd_tab[0] = (struct prd){ (uint32_t)(uintptr_t)buf, 4096 };
    prd_tab[1] = (struct prd){ (uint32_t)(uintptr_t)buf2, 8192 | 0x80000000u };
    fill_sectors(buf, 1200, 8, PAT_DMAW);
    fill_sectors(buf2, 1208, 16, PAT_DMAW);
    if (dma_run(0xca, 0, 1200, 24, 0, "WRITE DMA") == 0) {
        memset(buf, 0xee, 26 * 512);
        if (pio_read(0x20, 0, 1199, 26, 1, 0, buf, "read back") == 0)
            check_sectors(buf, 1199, 26, 1200, 24, PAT_DMAW, "read back");
    }
    end();
}

static void test_dma_lba48(void)
{
    uint64_t top = PAT_2_28;
    begin("dma_lba48");
    prd_tab[0] = (struct prd){ (uint32_t)(uintptr_t)buf, 4096 | 0x80000000u };
    memset(buf, 0xee, 8192);
    if (dma_run(0x25, 1, top - 4, 8, 1, "READ DMA EXT across 2^28") == 0)
        check_sectors(buf, top - 4, 8, 0, 0, 0, "READ DMA EXT across 2^28");
    fill_sectors(buf, top + 16, 8, PAT_DXTW);
    if (dma_run(0x35, 1, top + 16, 8, 0, "WRITE DMA EXT 2^28+16") == 0) {
        memset(buf, 0xee, 10 * 512);
        if (pio_read(0x24, 1, top + 15, 10, 1, 0, buf, "read back") == 0)
            check_sectors(buf, top + 15, 10, top + 16, 8, PAT_DXTW, "read back");
    }
    end();
}

/* An out-of-range PIO command must end with ERR and ABRT or IDNF. A
 * device may first move the sectors that are in range (QEMU transfers the
 * data of a WRITE before it checks the range), so DRQ blocks are served,
 * at most `blocks` of them, before the error is due. */
static void expect_range_error(int write, const char *what)
{
    uint32_t served = 0;
    for (;;) {
        int st = wait_idle(&pri, what);
        if (st < 0)
            return;
        if (st & ST_DRQ) {
            if (served++ >= 1) {
                fail("%s: DRQ for another sector (status %x)", what, st);
                return;
            }
            if (write) {
                memset(buf, 0xee, 512);
                pio_out16(&pri, buf, 256);
            } else {
                pio_in16(&pri, buf, 256);
            }
            continue;
        }
        if (!(st & ST_ERR))
            fail("%s: status %x, expected ERR", what, st);
        else if (!(chan_in(&pri, R_ERR) & (ER_ABRT | ER_IDNF)))
            fail("%s: error register %x, expected ABRT or IDNF", what, chan_in(&pri, R_ERR));
        return;
    }
}

static void test_range_error(void)
{
    uint64_t n = opt_disk_sectors;
    begin("range_error");
    if (ata_cmd(1, 0x24, n, 1, 0) == 0)
        expect_range_error(0, "READ SECTORS EXT at the capacity");
    if (ata_cmd(1, 0x24, n - 1, 2, 0) == 0)
        expect_range_error(0, "READ SECTORS EXT across the end");
    if (ata_cmd(1, 0x34, n, 1, 0) == 0)
        expect_range_error(1, "WRITE SECTORS EXT at the capacity");
    /* DMA: the transfer ends with ERR and an interrupt, nothing written. */
    if (pri.bm) {
        prd_tab[0] = (struct prd){ (uint32_t)(uintptr_t)buf, 512 | 0x80000000u };
        memset(buf, 0xee, 512);
        bm_prepare(&pri, prd_tab, 1);
        uint32_t c0 = irq_count[14];
        if (ata_cmd(1, 0x25, n, 1, 0) == 0) {
            outb((uint16_t)(pri.bm + BM_CMD), BMC_TOMEM | BMC_START);
            if (wait_irq(14, c0 + 1) < 0)
                fail("READ DMA EXT at the capacity: no IRQ 14");
            /* BMIS ACTIVE is not checked: QEMU clears it, a PIIX keeps it
             * set (with INT) when the drive ends a command before its PRDs. */
            outb((uint16_t)(pri.bm + BM_CMD), BMC_TOMEM);
            expect_range_error(0, "READ DMA EXT at the capacity");
            expect("buffer untouched", 0xee, buf[0]);
            outb((uint16_t)(pri.bm + BM_STATUS), BMS_INT | BMS_ERROR);
        }
    }
    /* The device goes on working. */
    if (pio_read(0x20, 0, 9, 1, 1, 0, buf, "READ SECTORS after the errors") == 0)
        check_sectors(buf, 9, 1, 0, 0, 0, "READ SECTORS after the errors");
    end();
}

int guest_main(uint32_t magic, uint32_t mbi)
{
    report_suite("idetest");
    const char *cmdline = 0;
    if (magic == MULTIBOOT_BOOTLOADER_MAGIC && (((const uint32_t *)(uintptr_t)mbi)[0] & 4))
        cmdline = (const char *)(uintptr_t)((const uint32_t *)(uintptr_t)mbi)[4];
    opt_disk_sectors = cmdline_num(cmdline, "disk", PAT_DISK_SECTORS);
    opt_iso_blocks = (uint32_t)cmdline_num(cmdline, "iso", 0);
    gprintf("idetest: start (disk %u sectors, iso %u blocks)\n", (uint32_t)opt_disk_sectors, opt_iso_blocks);
    setup_cpu();
    test_pci();
    test_reset();
    test_identify();
    test_pio_read();
    test_pio_write();
    test_irq14();
    test_multiple();
    test_pio32();
    test_lba48();
    test_dma_read();
    test_dma_write();
    test_dma_lba48();
    test_range_error();
    test_flush();
    run_atapi_tests();
    return report_failures();
}
