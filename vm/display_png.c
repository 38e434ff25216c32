/*
 * vm/display_png.c — a minimal PNG encoder (PNG spec, ISO/IEC 15948):
 * signature, IHDR (8-bit truecolour, no interlace), one IDAT holding the
 * zlib stream of the rows (each with filter type 0), IEND. Chunk CRCs use
 * zlib's crc32, which is PNG's CRC.
 */
#include "vm/display_png.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static bool chunk(FILE *f, const char type[4], const uint8_t *data, uint32_t len)
{
    uint8_t hdr[8];
    be32(hdr, len);
    memcpy(hdr + 4, type, 4);
    uLong crc = crc32(0L, (const Bytef *)type, 4);
    if (len)
        crc = crc32(crc, data, len);
    uint8_t tail[4];
    be32(tail, (uint32_t)crc);
    return fwrite(hdr, 1, 8, f) == 8 && (!len || fwrite(data, 1, len, f) == len) &&
           fwrite(tail, 1, 4, f) == 4;
}

int vm_png_write(const char *path, const uint32_t *px, unsigned w, unsigned h)
{
    if (!w || !h || w > 16384 || h > 16384)
        return -EINVAL;
    size_t row = 1 + (size_t)w * 3, raw_len = row * h;
    uint8_t *raw = malloc(raw_len);
    uLongf z_len = compressBound((uLong)raw_len);
    uint8_t *z = malloc(z_len);
    if (!raw || !z) {
        free(raw);
        free(z);
        return -ENOMEM;
    }
    for (unsigned y = 0; y < h; y++) {
        uint8_t *o = raw + y * row;
        *o++ = 0;   /* filter: none */
        for (unsigned x = 0; x < w; x++) {
            uint32_t c = px[(size_t)y * w + x];
            *o++ = (uint8_t)(c >> 16);
            *o++ = (uint8_t)(c >> 8);
            *o++ = (uint8_t)c;
        }
    }
    int r = compress2(z, &z_len, raw, (uLong)raw_len, 6);
    free(raw);
    if (r != Z_OK) {
        free(z);
        return -ENOMEM;
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        r = -errno;
        free(z);
        return r;
    }
    static const uint8_t sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n' };
    uint8_t ihdr[13];
    be32(ihdr, w);
    be32(ihdr + 4, h);
    ihdr[8] = 8;    /* bit depth */
    ihdr[9] = 2;    /* truecolour */
    ihdr[10] = ihdr[11] = ihdr[12] = 0;
    bool ok = fwrite(sig, 1, 8, f) == 8 && chunk(f, "IHDR", ihdr, 13) &&
              chunk(f, "IDAT", z, (uint32_t)z_len) && chunk(f, "IEND", NULL, 0);
    free(z);
    if (fclose(f) != 0 || !ok)
        return -EIO;
    return 0;
}

int vm_ppm_write(const char *path, const uint32_t *px, unsigned w, unsigned h)
{
    if (!w || !h)
        return -EINVAL;
    FILE *f = fopen(path, "wb");
    if (!f)
        return -errno;
    bool ok = fprintf(f, "P6\n%u %u\n255\n", w, h) > 0;
    for (size_t i = 0; ok && i < (size_t)w * h; i++) {
        uint8_t rgb[3] = { (uint8_t)(px[i] >> 16), (uint8_t)(px[i] >> 8), (uint8_t)px[i] };
        ok = fwrite(rgb, 1, 3, f) == 3;
    }
    if (fclose(f) != 0 || !ok)
        return -EIO;
    return 0;
}
