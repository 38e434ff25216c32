/*
 * guests/compute/compute.c — a CPU-bound integer workload: table CRC32,
 * SHA-256, a sieve of Eratosthenes and a quicksort of our own, over
 * pseudo-random data from a fixed xorshift seed. Sized so the x86-64
 * build runs for about a second; the checksum must be identical on every
 * build (i686 guest under btvm or QEMU, x86-64 native).
 */
#include <stddef.h>
#include "compute.h"

#define BUF_SIZE     (1u << 20)
#define CRC_ROUNDS   160
#define SHA_ROUNDS   32
#define SIEVE_LIMIT  (4u << 20)
#define SIEVE_ROUNDS 20
#define SORT_COUNT   (1u << 19)
#define SORT_ROUNDS  8

static uint8_t buf[BUF_SIZE];
static uint8_t sieve[SIEVE_LIMIT];
static uint32_t sort_a[SORT_COUNT];
static uint32_t crc_table[256];

static uint32_t rng_state;

static uint32_t rng(void)
{
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return rng_state = x;
}

static void fill_buf(uint32_t seed)
{
    rng_state = seed;
    for (size_t i = 0; i < BUF_SIZE; i += 4) {
        uint32_t v = rng();
        buf[i] = (uint8_t)v;
        buf[i + 1] = (uint8_t)(v >> 8);
        buf[i + 2] = (uint8_t)(v >> 16);
        buf[i + 3] = (uint8_t)(v >> 24);
    }
}

/* ---- CRC32 (IEEE, reflected, table-driven) ---- */
static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc32(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    while (n--)
        crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static uint32_t part_crc(void)
{
    uint32_t crc = 0;
    crc_init();
    for (int r = 0; r < CRC_ROUNDS; r++) {
        buf[r * 4099 % BUF_SIZE] ^= (uint8_t)r;   /* each round sees new data */
        crc = crc32(crc, buf, BUF_SIZE);
    }
    return crc;
}

/* ---- SHA-256 (FIPS 180-4) ---- */
static const uint32_t sha_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha_block(uint32_t h[8], const uint8_t *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = hh + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + sha_k[i] + w[i];
        uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g; g = f; f = e; e = d + t1;
        d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d;
    h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

/* Digest of n bytes (n a multiple of 64 here, plus the standard padding). */
static void sha256(const uint8_t *p, size_t n, uint32_t h[8])
{
    static const uint32_t init[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                      0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
    uint8_t tail[64] = { 0x80 };
    uint64_t bits = (uint64_t)n * 8;
    for (int i = 0; i < 8; i++)
        h[i] = init[i];
    for (size_t off = 0; off < n; off += 64)
        sha_block(h, p + off);
    for (int i = 0; i < 8; i++)
        tail[63 - i] = (uint8_t)(bits >> (8 * i));
    sha_block(h, tail);
}

static uint32_t part_sha(void)
{
    uint32_t h[8], acc = 0;
    for (int r = 0; r < SHA_ROUNDS; r++) {
        sha256(buf, BUF_SIZE, h);
        for (int i = 0; i < 8; i++) {   /* feed the digest back into the data */
            buf[32 * r + 4 * i] = (uint8_t)(h[i] >> 24);
            acc = ROR(acc, 5) ^ h[i];
        }
    }
    return acc;
}

/* ---- sieve of Eratosthenes ---- */
static uint32_t part_sieve(void)
{
    uint32_t acc = 0;
    for (int r = 0; r < SIEVE_ROUNDS; r++) {
        uint32_t limit = SIEVE_LIMIT - (uint32_t)r * 1000, count = 0, sum = 0;
        for (uint32_t i = 0; i < limit; i++)
            sieve[i] = 1;
        sieve[0] = sieve[1] = 0;
        for (uint32_t i = 2; i * i < limit; i++)
            if (sieve[i])
                for (uint32_t j = i * i; j < limit; j += i)
                    sieve[j] = 0;
        for (uint32_t i = 0; i < limit; i++)
            if (sieve[i]) {
                count++;
                sum += i;
            }
        acc = ROR(acc, 7) ^ count ^ sum;
    }
    return acc;
}

/* ---- quicksort (median of three, insertion sort for short runs) ---- */
static void insertion_sort(uint32_t *a, long lo, long hi)
{
    for (long i = lo + 1; i <= hi; i++) {
        uint32_t v = a[i];
        long j = i - 1;
        while (j >= lo && a[j] > v) {
            a[j + 1] = a[j];
            j--;
        }
        a[j + 1] = v;
    }
}

static void swap32(uint32_t *a, uint32_t *b)
{
    uint32_t t = *a;
    *a = *b;
    *b = t;
}

static void quicksort(uint32_t *a, long lo, long hi)
{
    while (hi - lo > 16) {
        long mid = lo + (hi - lo) / 2;
        if (a[mid] < a[lo]) swap32(&a[mid], &a[lo]);
        if (a[hi] < a[lo]) swap32(&a[hi], &a[lo]);
        if (a[hi] < a[mid]) swap32(&a[hi], &a[mid]);
        uint32_t pivot = a[mid];
        long i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i <= j) {
                swap32(&a[i], &a[j]);
                i++;
                j--;
            }
        }
        /* Recurse into the smaller side: stack depth stays O(log n). */
        if (j - lo < hi - i) {
            quicksort(a, lo, j);
            lo = i;
        } else {
            quicksort(a, i, hi);
            hi = j;
        }
    }
    insertion_sort(a, lo, hi);
}

static uint32_t part_sort(void)
{
    uint32_t acc = 0;
    for (int r = 0; r < SORT_ROUNDS; r++) {
        rng_state = 0x9e3779b9u + (uint32_t)r;
        for (uint32_t i = 0; i < SORT_COUNT; i++)
            sort_a[i] = rng() % (r & 1 ? 1000u : 0xffffffffu);   /* odd rounds: many duplicates */
        quicksort(sort_a, 0, SORT_COUNT - 1);
        uint32_t h = 0;
        for (uint32_t i = 0; i < SORT_COUNT; i++) {
            if (i && sort_a[i - 1] > sort_a[i])
                return 0xbadbad00u | (uint32_t)r;   /* not sorted: poison the checksum */
            h = h * 31 + sort_a[i];
        }
        acc = ROR(acc, 3) ^ h;
    }
    return acc;
}

uint32_t compute_run(void)
{
    uint32_t crc, sha, sv, so;
    fill_buf(0x12345678u);
    crc = part_crc();
    compute_report("crc32", crc);
    sha = part_sha();
    compute_report("sha256", sha);
    sv = part_sieve();
    compute_report("sieve", sv);
    so = part_sort();
    compute_report("qsort", so);
    return crc32(0, (const uint8_t *)(uint32_t[]){ crc, sha, sv, so }, 16);
}
