/*
 * guests/idetest/pattern.h — the disk contents idetest and its host tool
 * (img.c) agree on. The scratch image is sparse: only the sectors in
 * PAT_FILLED are written by the host, each with pat_fill(lba, PAT_IMG).
 * The guest then overwrites the PAT_WRITES regions with their own tags;
 * the host checks every filled sector afterwards. Plain C, no headers
 * beyond <stdint.h>, so both the freestanding guest and the host use it.
 */
#ifndef IDETEST_PATTERN_H
#define IDETEST_PATTERN_H

#include <stdint.h>

#define PAT_SECTOR 512u
#define PAT_2_28   (1ull << 28)
/* The disk the script makes: 2^28 + 64 sectors (128 GiB + 32 KiB, sparse). */
#define PAT_DISK_SECTORS (PAT_2_28 + 64)

#define PAT_TAG(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
#define PAT_IMG  PAT_TAG('I', 'M', 'G', '0')  /* written by the host */
#define PAT_PIOW PAT_TAG('P', 'I', 'O', 'W')  /* WRITE SECTORS */
#define PAT_IRQW PAT_TAG('I', 'R', 'Q', 'W')  /* WRITE SECTORS, IRQ 14 counted */
#define PAT_P32W PAT_TAG('P', '3', '2', 'W')  /* WRITE SECTORS through 32-bit OUTs */
#define PAT_MULW PAT_TAG('M', 'U', 'L', 'W')  /* WRITE MULTIPLE */
#define PAT_DMAW PAT_TAG('D', 'M', 'A', 'W')  /* WRITE DMA */
#define PAT_EXTW PAT_TAG('E', 'X', 'T', 'W')  /* WRITE SECTORS EXT beyond 2^28 */
#define PAT_DXTW PAT_TAG('D', 'X', 'T', 'W')  /* WRITE DMA EXT beyond 2^28 */

struct pat_range { uint64_t lba; uint32_t count; uint32_t tag; };

/* The sectors the host fills; everything else reads as zeros. */
#define PAT_FILLED { { 0, 2048, PAT_IMG }, { PAT_2_28 - 32, 96, PAT_IMG } }
/* What the guest writes (inside the filled ranges, so neighbours are checked too). */
#define PAT_WRITES {                               \
    { 1000, 3, PAT_PIOW },                         \
    { 1010, 1, PAT_IRQW },                         \
    { 1020, 2, PAT_P32W },                         \
    { 1100, 12, PAT_MULW },                        \
    { 1200, 24, PAT_DMAW },                        \
    { PAT_2_28 + 8, 2, PAT_EXTW },                 \
    { PAT_2_28 + 16, 8, PAT_DXTW },                \
}

static inline uint8_t pat_byte(uint64_t lba, uint32_t tag, uint32_t i)
{
    return (uint8_t)((uint32_t)lba * 7u + (uint32_t)(lba >> 32) * 5u + (tag >> 3) + i * 13u);
}

/* One sector: le64 LBA, le32 tag, then pat_byte for bytes 12..511. */
static inline void pat_fill(uint8_t *b, uint64_t lba, uint32_t tag)
{
    for (uint32_t i = 0; i < 8; i++)
        b[i] = (uint8_t)(lba >> (8 * i));
    for (uint32_t i = 0; i < 4; i++)
        b[8 + i] = (uint8_t)(tag >> (8 * i));
    for (uint32_t i = 12; i < PAT_SECTOR; i++)
        b[i] = pat_byte(lba, tag, i);
}

/* 0 when b holds pat_fill(lba, tag), else 1 + the first differing byte offset. */
static inline uint32_t pat_check(const uint8_t *b, uint64_t lba, uint32_t tag)
{
    for (uint32_t i = 0; i < 8; i++)
        if (b[i] != (uint8_t)(lba >> (8 * i)))
            return 1 + i;
    for (uint32_t i = 0; i < 4; i++)
        if (b[8 + i] != (uint8_t)(tag >> (8 * i)))
            return 9 + i;
    for (uint32_t i = 12; i < PAT_SECTOR; i++)
        if (b[i] != pat_byte(lba, tag, i))
            return 1 + i;
    return 0;
}

/* The CD's file: PAT_FILE_LINES lines "line NNNN btvm idetest\n" (23 bytes each). */
#define PAT_FILE_NAME  "HELLO.TXT"
#define PAT_FILE_LINES 300
#define PAT_FILE_LINE  23
#define PAT_FILE_SIZE  (PAT_FILE_LINES * PAT_FILE_LINE)

static inline char pat_file_byte(uint32_t off)
{
    static const char tmpl[] = "line NNNN btvm idetest\n";
    uint32_t line = off / PAT_FILE_LINE, col = off % PAT_FILE_LINE;
    if (col >= 5 && col < 9) {
        uint32_t div = 1;
        for (uint32_t k = col; k < 8; k++)
            div *= 10;
        return (char)('0' + line / div % 10);
    }
    return tmpl[col];
}

#endif
