/*
 * devices/ide.c — two IDE channels (ATA/ATAPI-6 task file), ATA disks,
 * ATAPI CD-ROMs (MMC/SPC packet commands) and the Intel PIIX bus-master
 * DMA engine (BMIC/BMIS/BMIDTP, PRD tables).
 *
 * Model:
 *  - Each drive keeps its own copy of the task file; register writes go to
 *    both drives of a channel, as on the cable. LBA48 registers are two-deep
 *    FIFOs (the previous value becomes the "HOB" byte); HOB in the device
 *    control register selects it for reads.
 *  - PIO moves one DRQ block at a time through a per-drive 64 KiB buffer: a
 *    sector, a READ/WRITE MULTIPLE block (up to 16 sectors), an IDENTIFY
 *    page, the 12-byte CDB, or one ATAPI data block (up to the byte count
 *    limit). Nothing is allocated per command, whatever the sector count.
 *  - DMA runs inside the port write that makes it possible (the BMIC start
 *    bit, or the command when the engine is already started), in chunks of
 *    the same buffer, walking the PRD table through struct dev_dma. A PRD
 *    table shorter than the transfer, longer than 64 KiB (8192 entries)
 *    without EOT, or pointing outside RAM ends the command with an error and
 *    BMIS.ERR, never a hang.
 *  - INTRQ of the channel is one flag: raised at the events ATA-6 lists,
 *    dropped by reading Status or writing Command; the IRQ line carries it
 *    unless nIEN. Every raise also sets BMIS.INT, as the PIIX latches the
 *    drive's interrupt whether or not DMA was used.
 *  - Absent drives: a channel with no drive reads 0x7F as status (the host's
 *    pull-down on DD7, ATA-6 §5.2.13) and 0xFF elsewhere, so Linux's
 *    register echo test finds nothing; an absent slave behind a master reads
 *    status and error 0, echoes the shared registers and has signature
 *    FF/FF, and ignores commands (what QEMU does, which Linux's ata_piix
 *    probes as "no device").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/ide.h"

/* Status register */
#define ST_BSY  0x80
#define ST_DRDY 0x40
#define ST_DF   0x20
#define ST_DSC  0x10
#define ST_DRQ  0x08
#define ST_ERR  0x01
/* Error register */
#define ER_UNC  0x40
#define ER_IDNF 0x10
#define ER_ABRT 0x04
/* Device control */
#define CTL_NIEN 0x02
#define CTL_SRST 0x04
#define CTL_HOB  0x80
/* ATAPI interrupt reason (sector count register) */
#define IR_COD 0x01
#define IR_IO  0x02
/* Bus master */
#define BMIC_START 0x01
#define BMIC_TOMEM 0x08      /* "read/write control": 1 = bus master writes memory */
#define BMIS_ACTIVE 0x01
#define BMIS_ERROR  0x02
#define BMIS_INT    0x04
#define BMIS_CAP    0x60     /* drive 0/1 DMA capable, read/write */

/* SCSI sense */
#define SK_NOT_READY       0x02
#define SK_MEDIUM_ERROR    0x03
#define SK_ILLEGAL_REQUEST 0x05
#define ASC_UNRECOVERED_READ   0x11
#define ASC_INVALID_OPCODE     0x20
#define ASC_LBA_OUT_OF_RANGE   0x21
#define ASC_INVALID_FIELD      0x24
#define ASC_SAVING_UNSUPPORTED 0x39
#define ASC_MEDIUM_NOT_PRESENT 0x3a

#define SECTOR      512u
#define CD_BLOCK    2048u
#define IO_BUF      (64u * 1024)     /* one DRQ block or one DMA chunk */
#define MAX_MULT    16u
#define PRD_MAX     8192u            /* 64 KiB of 8-byte entries */
#define REPLY_MAX   512u

enum op {
    OP_NONE,
    OP_PIO_IN_BUF,   /* one buffer to the host, then done (IDENTIFY) */
    OP_READ_PIO,
    OP_WRITE_PIO,
    OP_READ_DMA,
    OP_WRITE_DMA,
    OP_PACKET,       /* receiving the 12-byte CDB */
    OP_ATAPI_PIO,    /* reply data to the host, DRQ block by block */
    OP_ATAPI_DMA,
};

struct drive {
    bool present;
    enum dev_ide_media media;
    bool has_medium;
    struct dev_blkdev blk;
    int index;                   /* channel * 2 + unit, for the serial number */

    /* Task file (each drive's copy) */
    uint8_t feature, nsect, lbal, lbam, lbah;
    uint8_t hob_feature, hob_nsect, hob_lbal, hob_lbam, hob_lbah;
    uint8_t device, status, error;

    /* Settings */
    uint8_t mult;                /* READ/WRITE MULTIPLE block, 0 = off */
    uint8_t xfer_mode;           /* last SET FEATURES 03h value */
    bool wcache;
    uint16_t cyls, heads, spt;   /* default geometry */
    uint16_t cur_heads, cur_spt; /* INITIALIZE DEVICE PARAMETERS */

    /* The command in progress */
    enum op op;
    uint64_t lba;                /* ATA: next sector */
    uint32_t left;               /* ATA: sectors still to move */
    uint32_t per_block;          /* ATA PIO: sectors per DRQ block */
    uint32_t cur_n;              /* ATA PIO: sectors in the current block */
    uint8_t *buf;                /* IO_BUF + 4 bytes */
    uint32_t pos, end;           /* PIO position in buf */

    /* ATAPI */
    bool atapi_dma;
    uint32_t bcl;                /* byte count limit (even) */
    uint8_t sense_key, asc;
    uint64_t pkt_left;           /* reply bytes still to send */
    bool stream;                 /* reply comes from the image (READ) */
    uint64_t cd_lba;             /* stream: next block to load */
    uint32_t cd_off;             /* stream: bytes of secbuf used (CD_BLOCK = empty) */
    uint8_t secbuf[CD_BLOCK];
    uint8_t reply[REPLY_MAX];
    uint32_t reply_pos;
};

struct channel {
    struct dev_ide *ide;
    int idx;
    struct drive d[2];
    int unit;                    /* selected drive */
    uint8_t devctl;
    bool intrq;
    int line_level;
    struct dev_irq_line irq;
    uint16_t base, ctl;
    bool decode;
    uint8_t bmic, bmis;
    uint32_t prdt;
};

struct dev_ide {
    struct dev_bus *bus;
    struct dev_dma dma;
    struct channel ch[2];
    uint16_t bm_base;
    bool bus_master;     /* the PCI function's Bus Master Enable */
};

/* ---------------------------------------------------------------- helpers */

static inline struct drive *cur(struct channel *ch)
{
    return &ch->d[ch->unit];
}

static bool channel_empty(const struct channel *ch)
{
    return !ch->d[0].present && !ch->d[1].present;
}

static void put_be16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t be16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t min_u32(uint64_t a, uint64_t b)
{
    return (uint32_t)(a < b ? a : b);
}

static void update_irq(struct channel *ch)
{
    int level = ch->intrq && !(ch->devctl & CTL_NIEN);
    if (level != ch->line_level) {
        ch->line_level = level;
        dev_irq_set(&ch->irq, level);
    }
}

static void raise_irq(struct channel *ch)
{
    ch->intrq = true;
    ch->bmis |= BMIS_INT;
    update_irq(ch);
}

static void lower_irq(struct channel *ch)
{
    ch->intrq = false;
    update_irq(ch);
}

static uint64_t cd_blocks(const struct drive *d)
{
    return d->has_medium ? d->blk.sectors / (CD_BLOCK / SECTOR) : 0;
}

static void set_signature(struct drive *d)
{
    d->device &= 0xf0;
    d->nsect = 1;
    d->lbal = 1;
    if (!d->present) {
        d->lbam = 0xff;
        d->lbah = 0xff;
    } else if (d->media == DEV_IDE_CDROM) {
        d->lbam = 0x14;
        d->lbah = 0xeb;
    } else {
        d->lbam = 0;
        d->lbah = 0;
    }
}

/* Power-on / hardware reset state of one drive. */
static void drive_reset(struct drive *d)
{
    d->feature = d->nsect = d->lbal = d->lbam = d->lbah = 0;
    d->hob_feature = d->hob_nsect = d->hob_lbal = d->hob_lbam = d->hob_lbah = 0;
    d->device = 0xa0;
    d->error = 0x01;                           /* diagnostics passed */
    d->status = d->media == DEV_IDE_DISK ? ST_DRDY | ST_DSC : 0;
    d->mult = MAX_MULT;
    d->xfer_mode = 0x45;                       /* UDMA5 selected, as QEMU starts */
    d->wcache = true;
    d->cur_heads = d->heads;
    d->cur_spt = d->spt;
    d->op = OP_NONE;
    d->pos = d->end = 0;
    d->sense_key = d->asc = 0;
    d->pkt_left = 0;
    d->stream = false;
    d->cd_off = CD_BLOCK;
    set_signature(d);
}

/* End the command: status, no data phase, INTRQ. */
static void finish(struct channel *ch, struct drive *d, uint8_t status, uint8_t error)
{
    d->op = OP_NONE;
    d->status = status;
    d->error = error;
    raise_irq(ch);
}

static void abort_cmd(struct channel *ch, struct drive *d)
{
    finish(ch, d, ST_DRDY | ST_ERR, ER_ABRT);
}

static void ok_cmd(struct channel *ch, struct drive *d)
{
    finish(ch, d, ST_DRDY | ST_DSC, 0);
}

/* ---------------------------------------------------------------- IDENTIFY */

/* ATA strings: two characters per word, the first in the high byte. */
static void put_str(uint8_t *id, unsigned word, const char *s, unsigned len)
{
    for (unsigned i = 0; i < len; i++) {
        char c = *s ? *s++ : ' ';
        id[word * 2 + (i ^ 1)] = (uint8_t)c;
    }
}

static void put_w(uint8_t *id, unsigned word, uint32_t v)
{
    id[word * 2] = (uint8_t)v;
    id[word * 2 + 1] = (uint8_t)(v >> 8);
}

/* Words 63 and 88: supported modes in the low byte, the selected one above. */
static void put_dma_modes(const struct drive *d, uint8_t *id)
{
    unsigned w63 = 0x07, w88 = 0x3f;
    unsigned mode = d->xfer_mode & 7;
    if ((d->xfer_mode & 0xf8) == 0x20)
        w63 |= 1u << (8 + mode);
    else if ((d->xfer_mode & 0xf8) == 0x40)
        w88 |= 1u << (8 + mode);
    put_w(id, 62, 0x07);
    put_w(id, 63, w63);
    put_w(id, 88, w88);
}

static void identify_disk(const struct drive *d, uint8_t *id)
{
    char serial[21];
    snprintf(serial, sizeof(serial), "BTVM%05d", d->index + 1);
    uint64_t n = d->blk.sectors;
    uint32_t cur_cyls = d->cur_heads && d->cur_spt
                        ? min_u32(n / ((uint32_t)d->cur_heads * d->cur_spt), 65535) : 0;
    uint32_t cur_chs = cur_cyls * d->cur_heads * d->cur_spt;

    memset(id, 0, SECTOR);
    put_w(id, 0, 0x0040);                      /* fixed device, ATA */
    put_w(id, 1, d->cyls);
    put_w(id, 3, d->heads);
    put_w(id, 6, d->spt);
    put_str(id, 10, serial, 20);
    put_str(id, 23, "1.0", 8);                 /* firmware revision */
    put_str(id, 27, "BTVM HARDDISK", 40);
    put_w(id, 47, 0x8000 | MAX_MULT);
    put_w(id, 48, 1);                          /* 32-bit PIO allowed */
    put_w(id, 49, (1u << 11) | (1u << 9) | (1u << 8));   /* IORDY, LBA, DMA */
    put_w(id, 50, 0x4000);
    put_w(id, 51, 0x200);
    put_w(id, 52, 0x200);
    put_w(id, 53, 0x7);                        /* words 54-58, 64-70, 88 valid */
    put_w(id, 54, cur_cyls);
    put_w(id, 55, d->cur_heads);
    put_w(id, 56, d->cur_spt);
    put_w(id, 57, cur_chs & 0xffff);
    put_w(id, 58, cur_chs >> 16);
    if (d->mult)
        put_w(id, 59, 0x100 | d->mult);
    uint32_t lba28 = n > 0x0fffffff ? 0x0fffffff : (uint32_t)n;
    put_w(id, 60, lba28 & 0xffff);
    put_w(id, 61, lba28 >> 16);
    put_dma_modes(d, id);
    put_w(id, 64, 0x03);                       /* PIO 3 and 4 */
    put_w(id, 65, 120);
    put_w(id, 66, 120);
    put_w(id, 67, 120);
    put_w(id, 68, 120);
    put_w(id, 80, 0xf0);                       /* ATA-4 .. ATA-7 */
    put_w(id, 81, 0x16);
    put_w(id, 82, (1u << 14) | (1u << 5));     /* NOP, write cache */
    put_w(id, 83, (1u << 14) | (1u << 13) | (1u << 12) | (1u << 10));  /* FLUSH EXT, FLUSH, LBA48 */
    put_w(id, 84, 1u << 14);
    put_w(id, 85, (1u << 14) | (d->wcache ? 1u << 5 : 0));
    put_w(id, 86, (1u << 13) | (1u << 12) | (1u << 10));
    put_w(id, 87, 1u << 14);
    put_w(id, 93, 1 | (1u << 14) | 0x2000);    /* reset result, 80-wire cable */
    put_w(id, 100, n & 0xffff);
    put_w(id, 101, (n >> 16) & 0xffff);
    put_w(id, 102, (n >> 32) & 0xffff);
    put_w(id, 103, (n >> 48) & 0xffff);
}

static void identify_cdrom(const struct drive *d, uint8_t *id)
{
    char serial[21];
    snprintf(serial, sizeof(serial), "BTVM%05d", d->index + 1);
    memset(id, 0, SECTOR);
    /* ATAPI, CD-ROM, removable, DRQ within 50 us, 12-byte packets */
    put_w(id, 0, (2u << 14) | (5u << 8) | (1u << 7) | (2u << 5));
    put_str(id, 10, serial, 20);
    put_str(id, 23, "1.0", 8);
    put_str(id, 27, "BTVM CD-ROM", 40);
    put_w(id, 48, 1);
    put_w(id, 49, (1u << 9) | (1u << 8));      /* LBA, DMA */
    put_w(id, 50, 0x4000);
    put_w(id, 53, 0x7);
    put_dma_modes(d, id);
    put_w(id, 64, 0x03);
    put_w(id, 65, 0xb4);
    put_w(id, 66, 0xb4);
    put_w(id, 67, 0x12c);
    put_w(id, 68, 0xb4);
    put_w(id, 71, 30);
    put_w(id, 72, 30);
    put_w(id, 80, 0x1e);                       /* ATA/ATAPI-1 .. 4 */
    put_w(id, 82, 1u << 4);                    /* PACKET feature set */
    put_w(id, 93, 1 | (1u << 14) | 0x2000);
}

static void start_pio_in_buf(struct channel *ch, struct drive *d, uint32_t len)
{
    d->op = OP_PIO_IN_BUF;
    d->pos = 0;
    d->end = len;
    d->status = ST_DRDY | ST_DSC | ST_DRQ;
    d->error = 0;
    raise_irq(ch);
}

/* ---------------------------------------------------------------- ATA data */

/* The sector count and address of an ATA command; false for a CHS address
 * outside the current geometry. */
static bool ata_addr(const struct drive *d, bool lba48, uint64_t *lba, uint32_t *count)
{
    if (lba48) {
        *count = (uint32_t)d->nsect | (uint32_t)d->hob_nsect << 8;
        if (!*count)
            *count = 65536;
        *lba = (uint64_t)d->lbal | (uint64_t)d->lbam << 8 | (uint64_t)d->lbah << 16 |
               (uint64_t)d->hob_lbal << 24 | (uint64_t)d->hob_lbam << 32 |
               (uint64_t)d->hob_lbah << 40;
        return true;
    }
    *count = d->nsect ? d->nsect : 256;
    if (d->device & 0x40) {
        *lba = (uint64_t)d->lbal | (uint64_t)d->lbam << 8 | (uint64_t)d->lbah << 16 |
               (uint64_t)(d->device & 0x0f) << 24;
        return true;
    }
    uint32_t cyl = (uint32_t)d->lbam | (uint32_t)d->lbah << 8;
    uint32_t head = d->device & 0x0f, sect = d->lbal;
    if (sect == 0 || sect > d->cur_spt || head >= d->cur_heads)
        return false;
    *lba = ((uint64_t)cyl * d->cur_heads + head) * d->cur_spt + (sect - 1);
    return true;
}

static bool in_range(const struct drive *d, uint64_t lba, uint64_t count)
{
    return lba <= d->blk.sectors && count <= d->blk.sectors - lba;
}

static void ata_read_block(struct channel *ch, struct drive *d)
{
    uint32_t n = min_u32(d->left, d->per_block);
    if (d->blk.read(d->blk.ctx, d->lba, n, d->buf) != 0) {
        finish(ch, d, ST_DRDY | ST_ERR, ER_UNC);
        return;
    }
    d->cur_n = n;
    d->pos = 0;
    d->end = n * SECTOR;
    d->status = ST_DRDY | ST_DSC | ST_DRQ;
    raise_irq(ch);
}

static void ata_write_block(struct channel *ch, struct drive *d, bool irq)
{
    d->cur_n = min_u32(d->left, d->per_block);
    d->pos = 0;
    d->end = d->cur_n * SECTOR;
    d->status = ST_DRDY | ST_DSC | ST_DRQ;
    if (irq)
        raise_irq(ch);
}

static int ata_write_sectors(struct drive *d, uint64_t lba, uint32_t n, const void *buf)
{
    int rc = d->blk.write(d->blk.ctx, lba, n, buf);
    if (rc == 0 && !d->wcache && d->blk.flush)
        rc = d->blk.flush(d->blk.ctx);
    return rc;
}

static void dma_try(struct channel *ch);

enum xfer { X_PIO, X_MULT, X_DMA };

static void ata_rw(struct channel *ch, struct drive *d, bool write, bool lba48, enum xfer x)
{
    uint64_t lba;
    uint32_t count;
    if (write && (d->blk.readonly || !d->blk.write)) {
        abort_cmd(ch, d);
        return;
    }
    if (x == X_MULT && !d->mult) {
        abort_cmd(ch, d);
        return;
    }
    if (!ata_addr(d, lba48, &lba, &count) || !in_range(d, lba, count)) {
        finish(ch, d, ST_DRDY | ST_ERR, ER_IDNF);
        return;
    }
    d->lba = lba;
    d->left = count;
    d->per_block = x == X_MULT ? d->mult : 1;
    if (x == X_DMA) {
        d->op = write ? OP_WRITE_DMA : OP_READ_DMA;
        d->status = ST_DRDY | ST_DSC | ST_DRQ;
        dma_try(ch);
    } else if (write) {
        d->op = OP_WRITE_PIO;
        ata_write_block(ch, d, false);      /* the first block asks for data without INTRQ */
    } else {
        d->op = OP_READ_PIO;
        ata_read_block(ch, d);
    }
}

static void ata_verify(struct channel *ch, struct drive *d, bool lba48)
{
    uint64_t lba;
    uint32_t count;
    if (!ata_addr(d, lba48, &lba, &count) || !in_range(d, lba, count)) {
        finish(ch, d, ST_DRDY | ST_ERR, ER_IDNF);
        return;
    }
    while (count) {                         /* read the media, a chunk at a time */
        uint32_t n = min_u32(count, IO_BUF / SECTOR);
        if (d->blk.read(d->blk.ctx, lba, n, d->buf) != 0) {
            finish(ch, d, ST_DRDY | ST_ERR, ER_UNC);
            return;
        }
        lba += n;
        count -= n;
    }
    ok_cmd(ch, d);
}

/* ---------------------------------------------------------------- ATAPI */

static void atapi_ok(struct channel *ch, struct drive *d)
{
    d->sense_key = 0;
    d->asc = 0;
    d->nsect = (d->nsect & ~7) | IR_IO | IR_COD;
    finish(ch, d, ST_DRDY | ST_DSC, 0);
}

static void atapi_check(struct channel *ch, struct drive *d, uint8_t key, uint8_t asc)
{
    d->sense_key = key;
    d->asc = asc;
    d->nsect = (d->nsect & ~7) | IR_IO | IR_COD;
    finish(ch, d, ST_DRDY | ST_ERR, (uint8_t)(key << 4));
}

/* Next n bytes of the reply: from reply[] or streamed from the image. */
static int atapi_produce(struct drive *d, uint8_t *dst, uint32_t n)
{
    if (!d->stream) {
        if (d->reply_pos + n > REPLY_MAX)
            return -EINVAL;
        memcpy(dst, d->reply + d->reply_pos, n);
        d->reply_pos += n;
        return 0;
    }
    const uint32_t per = CD_BLOCK / SECTOR;
    while (n) {
        if (d->cd_off == CD_BLOCK && n >= CD_BLOCK) {
            uint32_t k = n / CD_BLOCK;
            int rc = d->blk.read(d->blk.ctx, d->cd_lba * per, k * per, dst);
            if (rc)
                return rc;
            d->cd_lba += k;
            dst += k * CD_BLOCK;
            n -= k * CD_BLOCK;
            continue;
        }
        if (d->cd_off == CD_BLOCK) {
            int rc = d->blk.read(d->blk.ctx, d->cd_lba * per, per, d->secbuf);
            if (rc)
                return rc;
            d->cd_lba++;
            d->cd_off = 0;
        }
        uint32_t m = min_u32(n, CD_BLOCK - d->cd_off);
        memcpy(dst, d->secbuf + d->cd_off, m);
        d->cd_off += m;
        dst += m;
        n -= m;
    }
    return 0;
}

static void atapi_pio_block(struct channel *ch, struct drive *d)
{
    uint32_t n = min_u32(d->pkt_left, d->bcl);
    if (atapi_produce(d, d->buf, n) != 0) {
        atapi_check(ch, d, SK_MEDIUM_ERROR, ASC_UNRECOVERED_READ);
        return;
    }
    d->pos = 0;
    d->end = n;
    d->lbam = (uint8_t)n;
    d->lbah = (uint8_t)(n >> 8);
    d->nsect = (d->nsect & ~7) | IR_IO;
    d->status = ST_DRDY | ST_DSC | ST_DRQ;
    raise_irq(ch);
}

/* Send len bytes of reply (from reply[] or the stream set up by the caller). */
static void atapi_send(struct channel *ch, struct drive *d, uint64_t len)
{
    d->pkt_left = len;
    if (len == 0) {
        atapi_ok(ch, d);
    } else if (d->atapi_dma) {
        d->op = OP_ATAPI_DMA;
        d->nsect = (d->nsect & ~7) | IR_IO;
        d->status = ST_DRDY | ST_DSC | ST_DRQ;
        dma_try(ch);
    } else {
        d->op = OP_ATAPI_PIO;
        atapi_pio_block(ch, d);
    }
}

static void reply(struct channel *ch, struct drive *d, uint32_t len, uint32_t alloc)
{
    d->stream = false;
    d->reply_pos = 0;
    atapi_send(ch, d, len < alloc ? len : alloc);
}

static void put_addr(uint8_t *p, uint32_t lba, bool msf)
{
    if (msf) {
        uint32_t f = lba + 150;
        p[0] = 0;
        p[1] = (uint8_t)(f / (75 * 60));
        p[2] = (uint8_t)((f / 75) % 60);
        p[3] = (uint8_t)(f % 75);
    } else {
        put_be32(p, lba);
    }
}

static void atapi_read_toc(struct channel *ch, struct drive *d, const uint8_t *c)
{
    bool msf = c[1] & 0x02;
    unsigned fmt = c[2] & 0x0f;
    if (!fmt && (c[9] >> 6))
        fmt = c[9] >> 6;               /* the older place for the format */
    unsigned start = c[6];
    uint8_t *r = d->reply;
    uint32_t p = 4;
    uint32_t blocks = (uint32_t)cd_blocks(d);
    memset(r, 0, 32);
    switch (fmt) {
    case 0:                            /* the TOC: track 1 (data), lead-out */
        if (start > 1 && start != 0xaa) {
            atapi_check(ch, d, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD);
            return;
        }
        if (start <= 1) {
            r[p + 1] = 0x14;           /* ADR 1, data track */
            r[p + 2] = 1;
            put_addr(r + p + 4, 0, msf);
            p += 8;
        }
        r[p + 1] = 0x14;
        r[p + 2] = 0xaa;
        put_addr(r + p + 4, blocks, msf);
        p += 8;
        break;
    case 1:                            /* session information: one session */
        r[p + 1] = 0x14;
        r[p + 2] = 1;
        put_addr(r + p + 4, 0, msf);
        p += 8;
        break;
    default:
        atapi_check(ch, d, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD);
        return;
    }
    put_be16(r, p - 2);
    r[2] = 1;
    r[3] = 1;
    reply(ch, d, p, be16(c + 7));
}

static void atapi_mode_sense(struct channel *ch, struct drive *d, const uint8_t *c)
{
    unsigned pc = c[2] >> 6, page = c[2] & 0x3f;
    uint8_t *r = d->reply;
    uint32_t p = 8;
    if (pc == 3) {
        atapi_check(ch, d, SK_ILLEGAL_REQUEST, ASC_SAVING_UNSUPPORTED);
        return;
    }
    if (page != 0x01 && page != 0x2a && page != 0x3f) {
        atapi_check(ch, d, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD);
        return;
    }
    memset(r, 0, 64);
    if (page == 0x01 || page == 0x3f) {    /* read error recovery */
        r[p] = 0x01;
        r[p + 1] = 0x06;
        r[p + 3] = 5;                      /* read retry count */
        p += 8;
    }
    if (page == 0x2a || page == 0x3f) {    /* CD capabilities and mechanical status */
        uint8_t *q = r + p;
        q[0] = 0x2a;
        q[1] = 0x12;
        q[4] = 0x70;                       /* mode 2 form 1/2, multisession */
        q[6] = 0x29;                       /* tray, eject, lock */
        put_be16(q + 8, 706);              /* maximum read speed, kB/s */
        put_be16(q + 10, 2);               /* volume levels */
        put_be16(q + 12, 512);             /* buffer, KiB */
        put_be16(q + 14, 706);             /* current read speed */
        p += 20;
    }
    put_be16(r, p - 2);
    reply(ch, d, p, be16(c + 7));
}

static void atapi_get_configuration(struct channel *ch, struct drive *d, const uint8_t *c)
{
    unsigned rt = c[1] & 3, start = be16(c + 2);
    uint8_t *r = d->reply;
    uint32_t p = 8;
    bool med = d->has_medium;
    memset(r, 0, 128);
    struct feat { uint16_t code; uint8_t flags; uint8_t len; uint8_t data[8]; };
    const struct feat feats[] = {
        /* profile list: CD-ROM, current when a disc is in */
        { 0x0000, 0x03, 4, { 0x00, 0x08, med ? 0x01 : 0x00, 0 } },
        /* core: ATAPI interface, DBE */
        { 0x0001, 0x0b, 8, { 0, 0, 0, 2, 0x01, 0, 0, 0 } },
        /* morphing: operational change events (we answer GESN) */
        { 0x0002, 0x07, 4, { 0x02, 0, 0, 0 } },
        /* removable medium: tray, eject, lock */
        { 0x0003, 0x03, 4, { 0x29, 0, 0, 0 } },
        /* random readable, 2048-byte blocks */
        { 0x0010, (uint8_t)(med ? 0x01 : 0x00), 8, { 0, 0, 0x08, 0x00, 0, 1, 0, 0 } },
        /* CD read */
        { 0x001e, (uint8_t)(0x08 | (med ? 0x01 : 0x00)), 4, { 0, 0, 0, 0 } },
    };
    for (size_t i = 0; i < sizeof(feats) / sizeof(feats[0]); i++) {
        const struct feat *f = &feats[i];
        bool want = rt == 2 ? f->code == start : f->code >= start;
        if (rt == 1 && !(f->flags & 1))
            want = false;
        if (!want)
            continue;
        put_be16(r + p, f->code);
        r[p + 2] = f->flags;
        r[p + 3] = f->len;
        memcpy(r + p + 4, f->data, f->len);
        p += 4u + f->len;
    }
    put_be32(r, p - 4);
    put_be16(r + 6, med ? 0x0008 : 0x0000);    /* current profile */
    reply(ch, d, p, be16(c + 7));
}

static void atapi_exec(struct channel *ch, struct drive *d)
{
    uint8_t c[12];
    memcpy(c, d->buf, 12);
    uint8_t *r = d->reply;
    uint8_t op = c[0];
    bool needs_medium = op == 0x00 || op == 0x25 || op == 0x28 || op == 0xa8 ||
                        op == 0x43 || op == 0x51;
    if (needs_medium && !d->has_medium) {
        atapi_check(ch, d, SK_NOT_READY, ASC_MEDIUM_NOT_PRESENT);
        return;
    }
    switch (op) {
    case 0x00:                                 /* TEST UNIT READY */
    case 0x1b:                                 /* START STOP UNIT */
    case 0x1e:                                 /* PREVENT ALLOW MEDIUM REMOVAL */
    case 0x2b:                                 /* SEEK(10) */
    case 0xbb:                                 /* SET CD SPEED */
        atapi_ok(ch, d);
        return;
    case 0x03: {                               /* REQUEST SENSE (fixed format) */
        memset(r, 0, 18);
        r[0] = 0x70;
        r[2] = d->sense_key;
        r[7] = 10;
        r[12] = d->asc;
        reply(ch, d, 18, c[4]);
        return;
    }
    case 0x12:                                 /* INQUIRY */
        if (c[1] & 1) {                        /* no vital product data pages */
            atapi_check(ch, d, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD);
            return;
        }
        memset(r, 0, 36);
        r[0] = 0x05;                           /* CD/DVD device */
        r[1] = 0x80;                           /* removable */
        r[2] = 0x00;                           /* as ATAPI drives report it */
        r[3] = 0x21;
        r[4] = 31;
        memcpy(r + 8, "BTVM    ", 8);
        memcpy(r + 16, "CD-ROM          ", 16);
        memcpy(r + 32, "1.0 ", 4);
        reply(ch, d, 36, be16(c + 3));
        return;
    case 0x25: {                               /* READ CAPACITY */
        uint64_t blocks = cd_blocks(d);
        put_be32(r, blocks ? (uint32_t)(blocks - 1) : 0);
        put_be32(r + 4, CD_BLOCK);
        reply(ch, d, 8, 8);
        return;
    }
    case 0x28:                                 /* READ(10) */
    case 0xa8: {                               /* READ(12) */
        uint64_t lba = be32(c + 2);
        uint64_t count = op == 0x28 ? be16(c + 7) : be32(c + 6);
        uint64_t blocks = cd_blocks(d);
        if (lba > blocks || count > blocks - lba) {
            atapi_check(ch, d, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
            return;
        }
        d->stream = true;
        d->cd_lba = lba;
        d->cd_off = CD_BLOCK;
        atapi_send(ch, d, count * CD_BLOCK);
        return;
    }
    case 0x43:                                 /* READ TOC/PMA/ATIP */
        atapi_read_toc(ch, d, c);
        return;
    case 0x46:                                 /* GET CONFIGURATION */
        atapi_get_configuration(ch, d, c);
        return;
    case 0x4a:                                 /* GET EVENT STATUS NOTIFICATION */
        if (!(c[1] & 1)) {                     /* only polled operation */
            atapi_check(ch, d, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD);
            return;
        }
        memset(r, 0, 8);
        if (c[4] & 0x10) {                     /* media class: no change */
            put_be16(r, 6);
            r[2] = 0x04;
            r[3] = 0x10;
            r[5] = d->has_medium ? 0x02 : 0x00;
            reply(ch, d, 8, be16(c + 7));
        } else {
            put_be16(r, 2);
            r[2] = 0x80;                       /* no event available */
            r[3] = 0x10;
            reply(ch, d, 4, be16(c + 7));
        }
        return;
    case 0x51:                                 /* READ DISC INFORMATION */
        memset(r, 0, 34);
        put_be16(r, 32);
        r[2] = 0x0e;                           /* complete disc, complete session */
        r[3] = 1;                              /* first track */
        r[4] = 1;                              /* sessions */
        r[5] = 1;                              /* first track of last session */
        r[6] = 1;                              /* last track of last session */
        r[8] = 0x00;                           /* CD-DA or CD-ROM */
        reply(ch, d, 34, be16(c + 7));
        return;
    case 0x5a:                                 /* MODE SENSE(10) */
        atapi_mode_sense(ch, d, c);
        return;
    default:
        atapi_check(ch, d, SK_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
        return;
    }
}

static void start_packet(struct drive *d)
{
    d->atapi_dma = d->feature & 1;
    uint32_t bcl = (uint32_t)d->lbam | (uint32_t)d->lbah << 8;
    if (bcl == 0 || bcl == 0xffff)
        bcl = 0xfffe;
    d->bcl = bcl & ~1u ? bcl & ~1u : 2;
    d->op = OP_PACKET;
    d->pos = 0;
    d->end = 12;
    d->nsect = (d->nsect & ~7) | IR_COD;
    d->status = ST_DRDY | ST_DRQ;
    d->error = 0;
    /* No INTRQ: IDENTIFY PACKET DEVICE word 0 says DRQ within 50 us. */
}

/* ---------------------------------------------------------------- commands */

static bool set_features(struct drive *d)
{
    switch (d->feature) {
    case 0x02:                                 /* enable write cache */
        d->wcache = true;
        return true;
    case 0x82:                                 /* disable write cache */
        d->wcache = false;
        if (d->present && d->blk.flush && !d->blk.readonly)
            d->blk.flush(d->blk.ctx);
        return true;
    case 0x03: {                               /* set transfer mode */
        unsigned mode = d->nsect, n = mode & 7;
        switch (mode & 0xf8) {
        case 0x00:
            if (n > 1)
                return false;
            break;
        case 0x08:
            if (n > 4)
                return false;
            break;
        case 0x20:
            if (n > 2)
                return false;
            break;
        case 0x40:
            if (n > 5)
                return false;
            break;
        default:
            return false;
        }
        if ((mode & 0xf8) == 0x20 || (mode & 0xf8) == 0x40)
            d->xfer_mode = (uint8_t)mode;
        return true;
    }
    case 0x05: case 0x85:                      /* APM */
    case 0x31:                                 /* media status notification off */
    case 0x42: case 0xc2:                      /* acoustic management */
    case 0x55: case 0xaa:                      /* read look-ahead */
    case 0x66: case 0xcc:                      /* revert to power-on defaults */
        return true;
    default:
        return false;
    }
}

static void exec_cmd(struct channel *ch, uint8_t cmd)
{
    struct drive *d = cur(ch);
    if (!d->present)
        return;                                /* nobody there to take it */
    if ((d->status & (ST_BSY | ST_DRQ)) && cmd != 0x08)
        return;
    lower_irq(ch);
    bool disk = d->media == DEV_IDE_DISK;

    switch (cmd) {
    case 0xec:                                 /* IDENTIFY DEVICE */
        if (!disk) {
            set_signature(d);
            abort_cmd(ch, d);
            return;
        }
        identify_disk(d, d->buf);
        start_pio_in_buf(ch, d, SECTOR);
        return;
    case 0xa1:                                 /* IDENTIFY PACKET DEVICE */
        if (disk) {
            abort_cmd(ch, d);
            return;
        }
        identify_cdrom(d, d->buf);
        start_pio_in_buf(ch, d, SECTOR);
        return;
    case 0xa0:                                 /* PACKET */
        if (disk) {
            abort_cmd(ch, d);
            return;
        }
        start_packet(d);
        return;
    case 0x08:                                 /* DEVICE RESET */
        if (disk) {
            abort_cmd(ch, d);
            return;
        }
        drive_reset(d);
        d->status = 0;                         /* no INTRQ for this one */
        return;
    case 0x90:                                 /* EXECUTE DEVICE DIAGNOSTIC */
        for (int u = 0; u < 2; u++) {
            struct drive *e = &ch->d[u];
            if (!e->present)
                continue;
            set_signature(e);
            e->op = OP_NONE;
            e->error = 0x01;
            e->status = e->media == DEV_IDE_DISK ? ST_DRDY | ST_DSC : 0;
        }
        raise_irq(ch);
        return;
    case 0xe5: case 0x98:                      /* CHECK POWER MODE: active */
        d->nsect = 0xff;
        ok_cmd(ch, d);
        return;
    case 0xe0: case 0x94:                      /* STANDBY IMMEDIATE */
    case 0xe1: case 0x95:                      /* IDLE IMMEDIATE */
    case 0xe2: case 0x96:                      /* STANDBY */
    case 0xe3: case 0x97:                      /* IDLE */
    case 0xe6: case 0x99:                      /* SLEEP */
        ok_cmd(ch, d);
        return;
    case 0xef:                                 /* SET FEATURES */
        if (set_features(d))
            ok_cmd(ch, d);
        else
            abort_cmd(ch, d);
        return;
    case 0xe7: case 0xea:                      /* FLUSH CACHE (EXT) */
        if (disk && !d->blk.readonly && d->blk.flush && d->blk.flush(d->blk.ctx) != 0) {
            abort_cmd(ch, d);
            return;
        }
        ok_cmd(ch, d);
        return;
    default:
        break;
    }

    if (!disk) {
        abort_cmd(ch, d);
        return;
    }
    switch (cmd) {
    case 0x20: case 0x21:                      /* READ SECTORS */
        ata_rw(ch, d, false, false, X_PIO);
        return;
    case 0x24:                                 /* READ SECTORS EXT */
        ata_rw(ch, d, false, true, X_PIO);
        return;
    case 0x30: case 0x31:                      /* WRITE SECTORS */
        ata_rw(ch, d, true, false, X_PIO);
        return;
    case 0x34:                                 /* WRITE SECTORS EXT */
        ata_rw(ch, d, true, true, X_PIO);
        return;
    case 0xc4:                                 /* READ MULTIPLE */
        ata_rw(ch, d, false, false, X_MULT);
        return;
    case 0x29:                                 /* READ MULTIPLE EXT */
        ata_rw(ch, d, false, true, X_MULT);
        return;
    case 0xc5:                                 /* WRITE MULTIPLE */
        ata_rw(ch, d, true, false, X_MULT);
        return;
    case 0x39:                                 /* WRITE MULTIPLE EXT */
        ata_rw(ch, d, true, true, X_MULT);
        return;
    case 0xc8: case 0xc9:                      /* READ DMA */
        ata_rw(ch, d, false, false, X_DMA);
        return;
    case 0x25:                                 /* READ DMA EXT */
        ata_rw(ch, d, false, true, X_DMA);
        return;
    case 0xca: case 0xcb:                      /* WRITE DMA */
        ata_rw(ch, d, true, false, X_DMA);
        return;
    case 0x35:                                 /* WRITE DMA EXT */
        ata_rw(ch, d, true, true, X_DMA);
        return;
    case 0x40: case 0x41:                      /* READ VERIFY SECTORS */
        ata_verify(ch, d, false);
        return;
    case 0x42:                                 /* READ VERIFY SECTORS EXT */
        ata_verify(ch, d, true);
        return;
    case 0xc6:                                 /* SET MULTIPLE MODE */
        if (d->nsect > MAX_MULT || (d->nsect & (d->nsect - 1))) {
            abort_cmd(ch, d);
            return;
        }
        d->mult = d->nsect;
        ok_cmd(ch, d);
        return;
    case 0x91:                                 /* INITIALIZE DEVICE PARAMETERS */
        if (!d->nsect) {
            abort_cmd(ch, d);
            return;
        }
        d->cur_spt = d->nsect;
        d->cur_heads = (uint16_t)((d->device & 0x0f) + 1);
        ok_cmd(ch, d);
        return;
    case 0x70:                                 /* SEEK */
        ok_cmd(ch, d);
        return;
    default:
        if (cmd >= 0x10 && cmd <= 0x1f) {      /* RECALIBRATE */
            ok_cmd(ch, d);
            return;
        }
        abort_cmd(ch, d);
        return;
    }
}

/* ---------------------------------------------------------------- PIO data */

static bool pio_in(enum op op)
{
    return op == OP_PIO_IN_BUF || op == OP_READ_PIO || op == OP_ATAPI_PIO;
}

static bool pio_out(enum op op)
{
    return op == OP_WRITE_PIO || op == OP_PACKET;
}

/* The host has read the whole DRQ block. */
static void pio_in_done(struct channel *ch, struct drive *d)
{
    switch (d->op) {
    case OP_READ_PIO:
        d->lba += d->cur_n;
        d->left -= d->cur_n;
        if (d->left) {
            ata_read_block(ch, d);
            return;
        }
        d->op = OP_NONE;
        d->status = ST_DRDY | ST_DSC;          /* no INTRQ after the last block */
        return;
    case OP_ATAPI_PIO:
        d->pkt_left -= d->end;
        if (d->pkt_left)
            atapi_pio_block(ch, d);
        else
            atapi_ok(ch, d);
        return;
    default:
        d->op = OP_NONE;
        d->status = ST_DRDY | ST_DSC;
        return;
    }
}

/* The host has written the whole DRQ block. */
static void pio_out_done(struct channel *ch, struct drive *d)
{
    if (d->op == OP_PACKET) {
        d->status = ST_DRDY;
        atapi_exec(ch, d);
        return;
    }
    if (ata_write_sectors(d, d->lba, d->cur_n, d->buf) != 0) {
        abort_cmd(ch, d);
        return;
    }
    d->lba += d->cur_n;
    d->left -= d->cur_n;
    if (d->left)
        ata_write_block(ch, d, true);
    else
        ok_cmd(ch, d);
}

static uint32_t data_read(struct channel *ch, unsigned size)
{
    struct drive *d = cur(ch);
    if (!d->present || !(d->status & ST_DRQ) || !pio_in(d->op))
        return 0xffffffffu;
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        if (d->pos + i < d->end)
            v |= (uint32_t)d->buf[d->pos + i] << (8 * i);
    d->pos += size;
    if (d->pos >= d->end)
        pio_in_done(ch, d);
    return v;
}

static void data_write(struct channel *ch, unsigned size, uint32_t v)
{
    struct drive *d = cur(ch);
    if (!d->present || !(d->status & ST_DRQ) || !pio_out(d->op))
        return;
    for (unsigned i = 0; i < size; i++)
        if (d->pos + i < d->end)
            d->buf[d->pos + i] = (uint8_t)(v >> (8 * i));
    d->pos += size;
    if (d->pos >= d->end)
        pio_out_done(ch, d);
}

/* ---------------------------------------------------------------- DMA */

struct prd_walk {
    uint32_t table, idx;
    uint32_t addr, left;
    bool eot;
};

/* Load the next PRD entry: 0, or -1 when the table ended (EOT seen, 8192
 * entries without EOT) or is not in RAM. */
static int prd_next(struct dev_ide *ide, struct prd_walk *w)
{
    if (w->eot || w->idx >= PRD_MAX)
        return -1;
    uint8_t e[8];
    if (dev_dma_read(&ide->dma, (uint64_t)w->table + 8ull * w->idx, e, 8) != 0)
        return -1;
    w->idx++;
    w->addr = ((uint32_t)e[0] | (uint32_t)e[1] << 8 | (uint32_t)e[2] << 16 |
               (uint32_t)e[3] << 24) & ~1u;
    w->left = ((uint32_t)e[4] | (uint32_t)e[5] << 8) & 0xfffe;
    if (!w->left)
        w->left = 0x10000;
    w->eot = e[7] & 0x80;
    return 0;
}

/* Move n bytes between buf and the PRD regions. 0 or -1 (table error). */
static int prd_copy(struct dev_ide *ide, struct prd_walk *w, uint8_t *buf, uint32_t n, bool to_mem)
{
    while (n) {
        if (!w->left && prd_next(ide, w) != 0)
            return -1;
        uint32_t k = min_u32(n, w->left);
        int rc = to_mem ? dev_dma_write(&ide->dma, w->addr, buf, k)
                        : dev_dma_read(&ide->dma, w->addr, buf, k);
        if (rc)
            return -1;
        w->addr += k;
        w->left -= k;
        buf += k;
        n -= k;
    }
    return 0;
}

static void run_dma(struct channel *ch, struct drive *d)
{
    struct dev_ide *ide = ch->ide;
    bool atapi = d->op == OP_ATAPI_DMA;
    bool to_mem = d->op != OP_WRITE_DMA;
    uint64_t total = atapi ? d->pkt_left : (uint64_t)d->left * SECTOR;
    struct prd_walk w = { .table = ch->prdt };
    enum { OK, BUS_ERR, DEV_ERR } res = OK;

    while (total && res == OK) {
        uint32_t n = min_u32(total, IO_BUF);
        if (to_mem) {
            int rc = atapi ? atapi_produce(d, d->buf, n)
                           : d->blk.read(d->blk.ctx, d->lba, n / SECTOR, d->buf);
            if (rc) {
                res = DEV_ERR;
                break;
            }
            if (prd_copy(ide, &w, d->buf, n, true) != 0)
                res = BUS_ERR;
        } else {
            if (prd_copy(ide, &w, d->buf, n, false) != 0)
                res = BUS_ERR;
            else if (ata_write_sectors(d, d->lba, n / SECTOR, d->buf) != 0)
                res = DEV_ERR;
        }
        if (!atapi) {
            d->lba += n / SECTOR;
            d->left -= n / SECTOR;
        } else {
            d->pkt_left -= n;
        }
        total -= n;
    }

    ch->bmis &= (uint8_t)~BMIS_ACTIVE;
    if (res == BUS_ERR)
        ch->bmis |= BMIS_ERROR;
    if (atapi) {
        if (res == OK)
            atapi_ok(ch, d);
        else if (res == DEV_ERR)
            atapi_check(ch, d, SK_MEDIUM_ERROR, ASC_UNRECOVERED_READ);
        else
            finish(ch, d, ST_DRDY | ST_ERR, ER_ABRT);
    } else {
        if (res == OK)
            ok_cmd(ch, d);
        else
            finish(ch, d, ST_DRDY | ST_ERR, res == DEV_ERR && to_mem ? ER_UNC : ER_ABRT);
    }
}

static bool dma_op(enum op op)
{
    return op == OP_READ_DMA || op == OP_WRITE_DMA || op == OP_ATAPI_DMA;
}

/* Run the waiting DMA command if the engine is started. */
static void dma_try(struct channel *ch)
{
    if (!(ch->bmic & BMIC_START) || !ch->ide->bus_master)
        return;
    for (int i = 0; i < 2; i++) {
        struct drive *d = &ch->d[(ch->unit + i) & 1];
        if (d->present && dma_op(d->op)) {
            run_dma(ch, d);
            return;
        }
    }
}

/* ---------------------------------------------------------------- ports */

static uint8_t tf_read(struct channel *ch, unsigned reg)
{
    if (channel_empty(ch)) {
        if (reg == 7)
            return 0x7f;
        return 0xff;
    }
    struct drive *d = cur(ch);
    bool hob = ch->devctl & CTL_HOB;
    switch (reg) {
    case 1:
        if (!d->present)
            return 0;
        return hob ? d->hob_feature : d->error;
    case 2: return hob ? d->hob_nsect : d->nsect;
    case 3: return hob ? d->hob_lbal : d->lbal;
    case 4: return hob ? d->hob_lbam : d->lbam;
    case 5: return hob ? d->hob_lbah : d->lbah;
    case 6: return d->device;
    default:
        lower_irq(ch);
        return d->present ? d->status : 0;
    }
}

static void tf_write(struct channel *ch, unsigned reg, uint8_t v)
{
    if (reg == 7) {
        exec_cmd(ch, v);
        return;
    }
    ch->devctl &= (uint8_t)~CTL_HOB;
    for (int u = 0; u < 2; u++) {
        struct drive *d = &ch->d[u];
        switch (reg) {
        case 1: d->hob_feature = d->feature; d->feature = v; break;
        case 2: d->hob_nsect = d->nsect; d->nsect = v; break;
        case 3: d->hob_lbal = d->lbal; d->lbal = v; break;
        case 4: d->hob_lbam = d->lbam; d->lbam = v; break;
        case 5: d->hob_lbah = d->lbah; d->lbah = v; break;
        case 6: d->device = v; break;
        default: break;
        }
    }
    if (reg == 6)
        ch->unit = (v >> 4) & 1;
}

static void cmd_io(void *opaque, uint64_t off, unsigned size, bool is_write, uint64_t *data)
{
    struct channel *ch = opaque;
    if (off == 0 && size >= 2) {
        if (channel_empty(ch)) {
            if (!is_write)
                *data = 0xffffffffu;
            return;
        }
        if (is_write)
            data_write(ch, size, (uint32_t)*data);
        else
            *data = data_read(ch, size);
        return;
    }
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++) {
        unsigned reg = (unsigned)off + i;
        if (reg == 0 || reg > 7) {             /* a byte of the data port, or past the block */
            v |= (uint64_t)0xff << (8 * i);
            continue;
        }
        if (is_write)
            tf_write(ch, reg, (uint8_t)(*data >> (8 * i)));
        else
            v |= (uint64_t)tf_read(ch, reg) << (8 * i);
    }
    if (!is_write)
        *data = v;
}

static void ctl_write(struct channel *ch, uint8_t v)
{
    uint8_t old = ch->devctl;
    if ((v & CTL_SRST) && !(old & CTL_SRST)) {
        for (int u = 0; u < 2; u++) {
            struct drive *d = &ch->d[u];
            d->op = OP_NONE;
            d->status = ST_BSY | ST_DSC;
            d->error = 0x01;
        }
        ch->intrq = false;
    } else if (!(v & CTL_SRST) && (old & CTL_SRST)) {
        for (int u = 0; u < 2; u++) {
            struct drive *d = &ch->d[u];
            d->status = d->media == DEV_IDE_DISK && d->present ? ST_DRDY | ST_DSC : 0;
            d->error = 0x01;
            d->hob_nsect = d->hob_lbal = d->hob_lbam = d->hob_lbah = 0;
            set_signature(d);
        }
    }
    ch->devctl = v;
    update_irq(ch);
}

static void ctl_io(void *opaque, uint64_t off, unsigned size, bool is_write, uint64_t *data)
{
    struct channel *ch = opaque;
    (void)off;
    (void)size;
    if (is_write) {
        ctl_write(ch, (uint8_t)*data);
        return;
    }
    /* Alternate status: the status without acknowledging the interrupt. */
    uint8_t st;
    if (channel_empty(ch))
        st = 0x7f;
    else
        st = cur(ch)->present ? cur(ch)->status : 0;
    *data = size == 1 ? st : (st | ~(uint64_t)0xff);
}

static uint8_t bm_read8(struct dev_ide *ide, unsigned off)
{
    struct channel *ch = &ide->ch[off >> 3];
    switch (off & 7) {
    case 0: return ch->bmic;
    case 2: return ch->bmis;
    case 4: case 5: case 6: case 7:
        return (uint8_t)(ch->prdt >> (8 * ((off & 7) - 4)));
    default: return 0;
    }
}

static void bm_write8(struct dev_ide *ide, unsigned off, uint8_t v)
{
    struct channel *ch = &ide->ch[off >> 3];
    switch (off & 7) {
    case 0: {
        uint8_t old = ch->bmic;
        ch->bmic = v & (BMIC_START | BMIC_TOMEM);
        if ((v & BMIC_START) && !(old & BMIC_START)) {
            ch->bmis |= BMIS_ACTIVE;
            dma_try(ch);
        } else if (!(v & BMIC_START)) {
            ch->bmis &= (uint8_t)~BMIS_ACTIVE;
        }
        return;
    }
    case 2:
        ch->bmis &= (uint8_t)~(v & (BMIS_ERROR | BMIS_INT));
        ch->bmis = (uint8_t)((ch->bmis & ~BMIS_CAP) | (v & BMIS_CAP));
        return;
    case 4: case 5: case 6: case 7: {
        unsigned sh = 8 * ((off & 7) - 4);
        ch->prdt = (ch->prdt & ~(0xffu << sh)) | ((uint32_t)v << sh);
        ch->prdt &= ~3u;
        return;
    }
    default:
        return;
    }
}

static void bm_io(void *opaque, uint64_t off, unsigned size, bool is_write, uint64_t *data)
{
    struct dev_ide *ide = opaque;
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++) {
        unsigned o = (unsigned)off + i;
        if (o >= 16) {
            v |= (uint64_t)0xff << (8 * i);
            continue;
        }
        if (is_write)
            bm_write8(ide, o, (uint8_t)(*data >> (8 * i)));
        else
            v |= (uint64_t)bm_read8(ide, o) << (8 * i);
    }
    if (!is_write)
        *data = v;
}

/* ---------------------------------------------------------------- API */

int dev_ide_set_decode(struct dev_ide *ide, int channel, bool on)
{
    if (channel < 0 || channel > 1)
        return -EINVAL;
    struct channel *ch = &ide->ch[channel];
    if (on == ch->decode)
        return 0;
    if (on) {
        int rc = dev_bus_register_pio(ide->bus, ch->base, 8, channel ? "ide1" : "ide0",
                                      cmd_io, ch);
        if (rc)
            return rc;
        rc = dev_bus_register_pio(ide->bus, ch->ctl, 1, channel ? "ide1-ctl" : "ide0-ctl",
                                  ctl_io, ch);
        if (rc) {
            dev_bus_unregister_pio(ide->bus, ch->base);
            return rc;
        }
    } else {
        dev_bus_unregister_pio(ide->bus, ch->base);
        dev_bus_unregister_pio(ide->bus, ch->ctl);
    }
    ch->decode = on;
    return 0;
}

void dev_ide_set_bus_master(struct dev_ide *ide, bool enabled)
{
    ide->bus_master = enabled;
    if (enabled)
        for (int c = 0; c < 2; c++)
            dma_try(&ide->ch[c]);
}

int dev_ide_set_bm_base(struct dev_ide *ide, uint16_t port)
{
    port &= (uint16_t)~0xf;
    if (port == ide->bm_base)
        return 0;
    if (ide->bm_base) {
        dev_bus_unregister_pio(ide->bus, ide->bm_base);
        ide->bm_base = 0;
    }
    if (port) {
        int rc = dev_bus_register_pio(ide->bus, port, 16, "ide-bm", bm_io, ide);
        if (rc)
            return rc;
        ide->bm_base = port;
    }
    return 0;
}

static void channel_reset(struct channel *ch)
{
    ch->unit = 0;
    ch->devctl = 0;
    ch->bmic = 0;
    ch->bmis &= BMIS_CAP;
    ch->prdt = 0;
    for (int u = 0; u < 2; u++)
        drive_reset(&ch->d[u]);
    ch->intrq = false;
    update_irq(ch);
}

void dev_ide_reset(struct dev_ide *ide)
{
    for (int c = 0; c < 2; c++)
        channel_reset(&ide->ch[c]);
}

struct dev_ide *dev_ide_new(struct dev_bus *bus, struct dev_irq_line irq14,
                            struct dev_irq_line irq15, struct dev_dma dma)
{
    struct dev_ide *ide = calloc(1, sizeof(*ide));
    if (!ide) {
        fprintf(stderr, "btvm: ide: out of memory\n");
        return NULL;
    }
    ide->bus = bus;
    ide->dma = dma;
    for (int c = 0; c < 2; c++) {
        struct channel *ch = &ide->ch[c];
        ch->ide = ide;
        ch->idx = c;
        ch->irq = c ? irq15 : irq14;
        ch->base = c ? DEV_IDE_SECONDARY_BASE : DEV_IDE_PRIMARY_BASE;
        ch->ctl = c ? DEV_IDE_SECONDARY_CTL : DEV_IDE_PRIMARY_CTL;
        for (int u = 0; u < 2; u++) {
            ch->d[u].index = c * 2 + u;
            ch->d[u].buf = calloc(1, IO_BUF + 4);
            if (!ch->d[u].buf) {
                fprintf(stderr, "btvm: ide: out of memory\n");
                dev_ide_free(ide);
                return NULL;
            }
        }
        channel_reset(ch);
        int rc = dev_ide_set_decode(ide, c, true);
        if (rc) {
            fprintf(stderr, "btvm: ide: cannot claim ports %#x/%#x: %s\n",
                    ch->base, ch->ctl, strerror(-rc));
            dev_ide_free(ide);
            return NULL;
        }
    }
    return ide;
}

void dev_ide_free(struct dev_ide *ide)
{
    if (!ide)
        return;
    for (int c = 0; c < 2; c++) {
        dev_ide_set_decode(ide, c, false);
        for (int u = 0; u < 2; u++)
            free(ide->ch[c].d[u].buf);
    }
    dev_ide_set_bm_base(ide, 0);
    free(ide);
}

int dev_ide_attach(struct dev_ide *ide, int channel, int unit,
                   const struct dev_blkdev *blk, enum dev_ide_media media)
{
    if (channel < 0 || channel > 1 || unit < 0 || unit > 1)
        return -EINVAL;
    if (media != DEV_IDE_DISK && media != DEV_IDE_CDROM)
        return -EINVAL;
    if (media == DEV_IDE_DISK && (!blk || !blk->read))
        return -EINVAL;
    struct drive *d = &ide->ch[channel].d[unit];
    if (d->present)
        return -EEXIST;
    d->present = true;
    d->media = media;
    d->has_medium = blk != NULL && blk->read != NULL;
    if (blk)
        d->blk = *blk;
    else
        memset(&d->blk, 0, sizeof(d->blk));
    if (media == DEV_IDE_CDROM)
        d->blk.readonly = true;
    d->heads = 16;
    d->spt = 63;
    uint64_t cyl = d->blk.sectors / (16 * 63);
    d->cyls = (uint16_t)(cyl > 16383 ? 16383 : cyl);
    /* Both drives' signatures depend on who is present. */
    struct channel *ch = &ide->ch[channel];
    for (int u = 0; u < 2; u++)
        drive_reset(&ch->d[u]);
    return 0;
}
