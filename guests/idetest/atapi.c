/*
 * guests/idetest/atapi.c — idetest's ATAPI CD-ROM cases on the secondary
 * master: the packet-device signature after a channel reset and on
 * IDENTIFY DEVICE, IDENTIFY PACKET DEVICE, and PACKET commands in PIO —
 * TEST UNIT READY, INQUIRY, READ CAPACITY, READ TOC, READ(10) of the
 * primary volume descriptor, the root directory and the script's file —
 * one READ(10) through bus-master DMA with IRQ 15, and the sense data
 * after an invalid opcode and a read past the end.
 */
#include "idetest.h"

static uint8_t cdbuf[16384];
static uint8_t cddma[8192] __attribute__((aligned(8192)));
static struct prd cdprd[1] __attribute__((aligned(32)));
static uint16_t cdident[256];

static uint32_t be32(const uint8_t *b) { return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]; }
static uint32_t le32(const uint8_t *b) { return (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0]; }

static void cdb_read10(uint8_t *cdb, uint32_t lba, uint16_t count)
{
    memset(cdb, 0, 12);
    cdb[0] = 0x28;
    cdb[2] = (uint8_t)(lba >> 24);
    cdb[3] = (uint8_t)(lba >> 16);
    cdb[4] = (uint8_t)(lba >> 8);
    cdb[5] = (uint8_t)lba;
    cdb[7] = (uint8_t)(count >> 8);
    cdb[8] = (uint8_t)count;
}

/* Writes PACKET (features: dma), waits for the packet DRQ and sends cdb. */
static int send_packet(const uint8_t *cdb, uint16_t limit, int dma, const char *what)
{
    if (select_dev(&sec, 0) < 0)
        return -1;
    chan_out(&sec, R_FEAT, dma ? 1 : 0);
    chan_out(&sec, R_COUNT, 0);
    chan_out(&sec, R_LBA1, (uint8_t)limit);
    chan_out(&sec, R_LBA2, (uint8_t)(limit >> 8));
    chan_out(&sec, R_CMD, 0xa0);
    if (wait_drq(&sec, what) < 0)
        return -1;
    uint8_t ir = chan_in(&sec, R_COUNT) & 3;
    if (ir != 1) {
        fail("%s: interrupt reason %x before the packet, expected 1 (CoD)", what, ir);
        return -1;
    }
    pio_out16(&sec, cdb, 6);
    return 0;
}

/* A PIO PACKET command. Returns the bytes the device sent (those beyond
 * len are drained), -1 after a protocol failure (reported), or -2 - the
 * error register when it ended in CHECK CONDITION (sense key in bits 7-4). */
static int packet(const uint8_t *cdb, uint8_t *out, uint32_t len, uint16_t limit, const char *what)
{
    if (send_packet(cdb, limit, 0, what) < 0)
        return -1;
    uint32_t got = 0;
    for (int round = 0; round < 1000; round++) {
        int st = wait_idle(&sec, what);
        if (st < 0)
            return -1;
        if (st & ST_ERR)
            return -2 - chan_in(&sec, R_ERR);
        uint8_t ir = chan_in(&sec, R_COUNT) & 3;
        if (!(st & ST_DRQ)) {
            if (ir != 3)
                fail("%s: interrupt reason %x at completion, expected 3 (CoD|IO)", what, ir);
            return (int)got;
        }
        if (ir != 2) {
            fail("%s: interrupt reason %x in the data phase, expected 2 (IO)", what, ir);
            return -1;
        }
        uint32_t n = chan_in(&sec, R_LBA1) | (uint32_t)chan_in(&sec, R_LBA2) << 8;
        if (n == 0 || n > limit) {
            fail("%s: byte count %u (limit %u)", what, n, limit);
            return -1;
        }
        for (uint32_t i = 0; i < n; i += 2) {
            uint16_t w = inw(sec.cmd);
            if (got + i + 1 < len) {
                out[got + i] = (uint8_t)w;
                out[got + i + 1] = (uint8_t)(w >> 8);
            } else if (got + i < len) {
                out[got + i] = (uint8_t)w;
            }
        }
        got += n;
    }
    fail("%s: more than 1000 data phases", what);
    return -1;
}

/* REQUEST SENSE: returns sense key << 16 | ASC << 8 | ASCQ, or -1. */
static int request_sense(const char *what)
{
    uint8_t cdb[12] = { 0x03, 0, 0, 0, 18 };
    uint8_t s[18];
    memset(s, 0xee, sizeof(s));
    int n = packet(cdb, s, sizeof(s), 0xfffe, what);
    if (n < 0) {
        if (n < -1)
            fail("%s: REQUEST SENSE failed (error %x)", what, -2 - n);
        return -1;
    }
    if (n != 18 || (s[0] & 0x7f) != 0x70) {
        fail("%s: REQUEST SENSE gave %u bytes, response code %x", what, n, s[0]);
        return -1;
    }
    return (s[2] & 0xf) << 16 | s[12] << 8 | s[13];
}

static void test_signature(void)
{
    begin("atapi_signature");
    outb(sec.ctl, CTL_SRST);
    for (int i = 0; i < 2000; i++)
        alt_status(&sec);
    outb(sec.ctl, 0);
    if (wait_idle(&sec, "after SRST") >= 0) {
        chan_out(&sec, R_DEV, 0xa0);
        expect("signature after reset: LBA mid", 0x14, chan_in(&sec, R_LBA1));
        expect("signature after reset: LBA high", 0xeb, chan_in(&sec, R_LBA2));
    }
    /* IDENTIFY DEVICE to a packet device: aborted, the signature again. */
    if (select_dev(&sec, 0) == 0) {
        chan_out(&sec, R_LBA1, 0);
        chan_out(&sec, R_LBA2, 0);
        chan_out(&sec, R_CMD, 0xec);
        int st = wait_idle(&sec, "IDENTIFY DEVICE");
        if (st >= 0) {
            expect("IDENTIFY DEVICE: status ERR, no DRQ", ST_ERR, st & (ST_ERR | ST_DRQ));
            expect("IDENTIFY DEVICE: error ABRT", ER_ABRT, chan_in(&sec, R_ERR) & ER_ABRT);
            expect("IDENTIFY DEVICE: LBA mid", 0x14, chan_in(&sec, R_LBA1));
            expect("IDENTIFY DEVICE: LBA high", 0xeb, chan_in(&sec, R_LBA2));
        }
    }
    end();
}

static void test_identify_packet(void)
{
    char model[41];
    begin("atapi_identify");
    if (select_dev(&sec, 0) == 0) {
        chan_out(&sec, R_CMD, 0xa1);
        if (wait_drq(&sec, "IDENTIFY PACKET DEVICE") >= 0) {
            pio_in16(&sec, cdident, 256);
            int st = wait_idle(&sec, "IDENTIFY PACKET DEVICE");
            if (st >= 0)
                expect("status after the data (no DRQ/ERR)", 0, st & (ST_DRQ | ST_ERR | ST_BSY));
            identify_string(cdident, 27, 20, model);
            gprintf("idetest: cdrom model '%s'\n", model);
            if (!model[0])
                fail("empty model string");
            expect("word 0 bits 15-14 (ATAPI)", 2, cdident[0] >> 14);
            expect("word 0 bits 12-8 (CD-ROM)", 5, (cdident[0] >> 8) & 0x1f);
            expect("word 0 bit 7 (removable)", 0x80, cdident[0] & 0x80);
            expect("word 0 bits 1-0 (12-byte packets)", 0, cdident[0] & 3);
            expect("word 49 bit 8 (DMA)", 0x100, cdident[49] & 0x100);
        }
    }
    end();
}

static void test_tur(void)
{
    uint8_t cdb[12] = { 0 };
    begin("atapi_tur");
    int n = -1;
    /* A freshly inserted medium may report UNIT ATTENTION first. */
    for (int tries = 0; tries < 4; tries++) {
        n = packet(cdb, cdbuf, 0, 0xfffe, "TEST UNIT READY");
        if (n >= -1)
            break;
        int key = (-2 - n) >> 4;
        if (key != 6) {
            fail("TEST UNIT READY: sense key %x, expected none (or UNIT ATTENTION once)", key);
            break;
        }
        request_sense("after UNIT ATTENTION");
    }
    if (n > 0)
        fail("TEST UNIT READY transferred %u bytes", n);
    else if (n < -1)
        fail("TEST UNIT READY still failing (error %x)", -2 - n);
    end();
}

static void test_inquiry(void)
{
    uint8_t cdb[12] = { 0x12, 0, 0, 0, 36 };
    begin("atapi_inquiry");
    memset(cdbuf, 0, 64);
    int n = packet(cdb, cdbuf, 64, 0xfffe, "INQUIRY");
    if (n < -1)
        fail("INQUIRY: error %x", -2 - n);
    else if (n >= 0) {
        expect("INQUIRY length", 36, (uint32_t)n);
        expect("peripheral device type (CD/DVD)", 5, cdbuf[0] & 0x1f);
        expect("RMB (removable)", 0x80, cdbuf[1] & 0x80);
        char vendor[9], product[17];
        memcpy(vendor, cdbuf + 8, 8);
        memcpy(product, cdbuf + 16, 16);
        vendor[8] = product[16] = 0;
        gprintf("idetest: INQUIRY '%s' '%s'\n", vendor, product);
        if (product[0] == ' ' || product[0] == 0)
            fail("empty product identification");
    }
    end();
}

static void test_capacity(void)
{
    uint8_t cdb[12] = { 0x25 };
    begin("atapi_capacity");
    int n = packet(cdb, cdbuf, 8, 0xfffe, "READ CAPACITY");
    if (n < -1)
        fail("READ CAPACITY: error %x", -2 - n);
    else if (n >= 0) {
        expect("READ CAPACITY length", 8, (uint32_t)n);
        expect("last LBA (iso blocks - 1)", opt_iso_blocks - 1, be32(cdbuf));
        expect("block length", 2048, be32(cdbuf + 4));
    }
    end();
}

static void test_toc(void)
{
    uint8_t cdb[12] = { 0x43, 0, 0, 0, 0, 0, 1, 0, 20 };
    begin("atapi_toc");
    memset(cdbuf, 0xee, 20);
    int n = packet(cdb, cdbuf, 20, 0xfffe, "READ TOC");
    if (n < -1)
        fail("READ TOC: error %x", -2 - n);
    else if (n >= 0) {
        expect("READ TOC length", 20, (uint32_t)n);
        expect("TOC data length", 18, (uint32_t)cdbuf[0] << 8 | cdbuf[1]);
        expect("first track", 1, cdbuf[2]);
        expect("last track", 1, cdbuf[3]);
        expect("track 1: data track", 4, cdbuf[5] & 4);
        expect("track 1: number", 1, cdbuf[6]);
        expect("track 1: start LBA", 0, be32(cdbuf + 8));
        expect("lead-out: number", 0xaa, cdbuf[14]);
        expect("lead-out: LBA (iso blocks)", opt_iso_blocks, be32(cdbuf + 16));
    }
    end();
}

/* Filled by test_pvd / test_file for the later cases. */
static uint32_t root_lba, root_size, file_lba, file_size;

static void test_pvd(void)
{
    uint8_t cdb[12];
    begin("atapi_read_pvd");
    cdb_read10(cdb, 16, 1);
    memset(cdbuf, 0xee, 4096);
    int n = packet(cdb, cdbuf, 4096, 0xfffe, "READ(10) LBA 16");
    if (n < -1)
        fail("READ(10) LBA 16: error %x", -2 - n);
    else if (n >= 0) {
        expect("READ(10) length", 2048, (uint32_t)n);
        expect("descriptor type (primary)", 1, cdbuf[0]);
        if (memcmp(cdbuf + 1, "CD001", 5))
            fail("no CD001 identifier (%x %x %x %x %x)", cdbuf[1], cdbuf[2], cdbuf[3], cdbuf[4], cdbuf[5]);
        if (memcmp(cdbuf + 40, "IDETEST", 7))
            fail("volume identifier is not IDETEST");
        expect("logical block size", 2048, cdbuf[128] | cdbuf[129] << 8);
        uint32_t space = le32(cdbuf + 80);
        if (space > opt_iso_blocks)
            fail("volume space %u blocks > iso %u blocks", space, opt_iso_blocks);
        root_lba = le32(cdbuf + 156 + 2);
        root_size = le32(cdbuf + 156 + 10);
        gprintf("idetest: volume %u blocks, root directory at %u (%u bytes)\n", space, root_lba, root_size);
    }
    end();
}

static void test_file(void)
{
    uint8_t cdb[12];
    begin("atapi_read_file");
    if (!root_lba || root_size == 0 || root_size > sizeof(cdbuf)) {
        fail("no usable root directory (LBA %u, %u bytes)", root_lba, root_size);
        end();
        return;
    }
    uint16_t blocks = (uint16_t)((root_size + 2047) / 2048);
    cdb_read10(cdb, root_lba, blocks);
    int n = packet(cdb, cdbuf, sizeof(cdbuf), 0xfffe, "READ(10) root directory");
    if (n < 0) {
        if (n < -1)
            fail("READ(10) root directory: error %x", -2 - n);
        end();
        return;
    }
    expect("root directory length", blocks * 2048u, (uint32_t)n);
    size_t nl = strlen(PAT_FILE_NAME);
    for (uint32_t off = 0; off < root_size;) {
        const uint8_t *r = cdbuf + off;
        if (r[0] == 0) {                /* records do not cross blocks */
            off = (off / 2048 + 1) * 2048;
            continue;
        }
        if (r[32] >= nl && !memcmp(r + 33, PAT_FILE_NAME, nl) && (r[32] == nl || r[33 + nl] == ';')) {
            file_lba = le32(r + 2);
            file_size = le32(r + 10);
            break;
        }
        off += r[0];
    }
    if (!file_lba) {
        fail("%s not in the root directory", PAT_FILE_NAME);
        end();
        return;
    }
    gprintf("idetest: %s at block %u, %u bytes\n", PAT_FILE_NAME, file_lba, file_size);
    expect("file size", PAT_FILE_SIZE, file_size);
    /* All of it in one command; a 4 KiB byte-count limit forces several DRQ phases. */
    blocks = (uint16_t)((PAT_FILE_SIZE + 2047) / 2048);
    cdb_read10(cdb, file_lba, blocks);
    memset(cdbuf, 0xee, sizeof(cdbuf));
    n = packet(cdb, cdbuf, sizeof(cdbuf), 0x1000, "READ(10) file");
    if (n < -1)
        fail("READ(10) file: error %x", -2 - n);
    else if (n >= 0) {
        expect("READ(10) file length", blocks * 2048u, (uint32_t)n);
        for (uint32_t i = 0; i < PAT_FILE_SIZE; i++)
            if (cdbuf[i] != (uint8_t)pat_file_byte(i)) {
                fail("file byte %u is %x, expected %x", i, cdbuf[i], (uint8_t)pat_file_byte(i));
                break;
            }
    }
    end();
}

static void test_atapi_dma(void)
{
    uint8_t cdb[12];
    begin("atapi_dma");
    if (!sec.bm || !file_lba) {
        fail("no bus master (%x) or no file (%u)", sec.bm, file_lba);
        end();
        return;
    }
    memset(cddma, 0xee, sizeof(cddma));
    cdprd[0] = (struct prd){ (uint32_t)(uintptr_t)cddma, 4096 | 0x80000000u };
    bm_prepare(&sec, cdprd, 1);
    uint32_t c0 = irq_count[15];
    cdb_read10(cdb, file_lba, 2);
    if (send_packet(cdb, 0xfffe, 1, "READ(10) DMA") == 0) {
        outb((uint16_t)(sec.bm + BM_CMD), BMC_TOMEM | BMC_START);
        if (wait_irq(15, c0 + 1) < 0)
            fail("no IRQ 15 (status %x, BMIS %x)", alt_status(&sec), inb((uint16_t)(sec.bm + BM_STATUS)));
        uint8_t bmis = inb((uint16_t)(sec.bm + BM_STATUS));
        outb((uint16_t)(sec.bm + BM_CMD), BMC_TOMEM);
        expect("BMIS (INT, not ACTIVE/ERROR)", BMS_INT, bmis & (BMS_INT | BMS_ERROR | BMS_ACTIVE));
        int st = wait_idle(&sec, "READ(10) DMA");
        if (st >= 0)
            expect("final status (no ERR/DRQ)", 0, st & (ST_ERR | ST_DRQ));
        outb((uint16_t)(sec.bm + BM_STATUS), BMS_INT);
        for (uint32_t i = 0; i < 4096; i++)
            if (cddma[i] != (uint8_t)pat_file_byte(i)) {
                fail("DMA byte %u is %x, expected %x", i, cddma[i], (uint8_t)pat_file_byte(i));
                break;
            }
        expect("byte after the PRD untouched", 0xee, cddma[4096]);
    }
    end();
}

static void test_sense(void)
{
    uint8_t cdb[12] = { 0xff };
    begin("atapi_sense");
    int n = packet(cdb, cdbuf, 64, 0xfffe, "opcode 0xff");
    if (n >= 0)
        fail("invalid opcode 0xff succeeded");
    else if (n < -1) {
        expect("opcode 0xff: sense key in the error register", 5, (uint32_t)(-2 - n) >> 4);
        expect("REQUEST SENSE: ILLEGAL REQUEST / invalid opcode", 0x052000,
               (uint32_t)request_sense("opcode 0xff") & 0xffff00);
    }
    cdb_read10(cdb, opt_iso_blocks, 1);
    n = packet(cdb, cdbuf, sizeof(cdbuf), 0xfffe, "READ(10) past the end");
    if (n >= 0)
        fail("READ(10) past the end succeeded (%u bytes)", n);
    else if (n < -1) {
        expect("READ(10) past the end: sense key", 5, (uint32_t)(-2 - n) >> 4);
        expect("REQUEST SENSE: ILLEGAL REQUEST / LBA out of range", 0x052100,
               (uint32_t)request_sense("READ(10) past the end") & 0xffff00);
    }
    /* Sense is consumed: the next command succeeds. */
    uint8_t tur[12] = { 0 };
    n = packet(tur, cdbuf, 0, 0xfffe, "TEST UNIT READY after the errors");
    if (n < -1)
        fail("TEST UNIT READY after the errors: error %x", -2 - n);
    end();
}

void run_atapi_tests(void)
{
    test_signature();
    test_identify_packet();
    test_tur();
    test_inquiry();
    test_capacity();
    test_toc();
    test_pvd();
    test_file();
    test_atapi_dma();
    test_sense();
}
