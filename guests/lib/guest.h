/*
 * guests/lib/guest.h — the tiny freestanding runtime every btvm guest links:
 * port I/O, the COM1 UART, a printf subset and exit through debug-exit.
 * The machine contract (Multiboot v1, COM1 at 0x3f8, debug-exit at 0xf4)
 * is described in docs/guests.md.
 */
#ifndef BTVM_GUEST_H
#define BTVM_GUEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_COM1       0x3f8
#define GUEST_DEBUG_EXIT 0xf4
#define GUEST_DEBUGCON   0xe9
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002u

static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline void outw(uint16_t port, uint16_t v)
{
    __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint16_t inw(uint16_t port)
{
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

/* Entry point every guest provides; its return value is the exit code. */
int guest_main(uint32_t magic, uint32_t mbi);

void serial_putc(char c);
void serial_puts(const char *s);
/* %s %c %d %u %x %X %p %%, optional '0' flag and width, 'l' ignored. */
int gprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int gvprintf(const char *fmt, va_list ap);
/* Writes v to the debug-exit port; btvm exits with v, QEMU with (v<<1)|1. */
void guest_exit(uint32_t v) __attribute__((noreturn));

/* gcc may emit calls to these even in freestanding code. */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* Does the Multiboot command line contain word? */
int cmdline_has(uint32_t magic, uint32_t mbi, const char *word);

#endif
