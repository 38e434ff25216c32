/*
 * vm/loadutil.h — small helpers both boot loaders (multiboot.c,
 * linuxboot.c) use: the one-line error they return, and little-endian
 * reads and writes of boot structures in guest RAM or the kernel file,
 * and opening the files they load.
 */
#ifndef BTVM_VM_LOADUTIL_H
#define BTVM_VM_LOADUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Fills err with a formatted line; returns -1 for `return vm_ld_fail(...)`. */
static inline int vm_ld_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline int vm_ld_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* loadutil.c: opens a regular file for reading (FIFOs and devices are
 * refused without blocking); returns the fd and its size, or -1 with err
 * filled ("btvm: cannot open kernel 'x': ..."). */
int vm_ld_open(const char *what, const char *path, uint64_t *size, char *err, size_t errlen);

static inline uint16_t vm_rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t vm_rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t vm_rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline void vm_wr16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static inline void vm_wr32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void vm_wr64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

#endif
