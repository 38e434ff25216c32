/*
 * guests/lib/runtime.c — serial output on the 16550 at COM1 (polled, no
 * interrupts), a printf subset, the mem* functions gcc expects, and exit
 * through the debug-exit port. Nothing here relies on the BIOS, paging or
 * interrupts, so it runs the same under btvm and qemu-system-i386.
 */
#include "guest.h"

#define UART_THR 0
#define UART_LSR 5
#define UART_LSR_THRE 0x20

void serial_putc(char c)
{
    if (c == '\n')
        serial_putc('\r');
    /* A bounded poll: a broken UART model must not hang the guest forever. */
    for (uint32_t i = 0; i < 1000000; i++)
        if (inb(GUEST_COM1 + UART_LSR) & UART_LSR_THRE)
            break;
    outb(GUEST_COM1 + UART_THR, (uint8_t)c);
}

void serial_puts(const char *s)
{
    while (*s)
        serial_putc(*s++);
}

static int put_num(uint32_t v, unsigned base, int width, char pad, int neg, int upper)
{
    char buf[16];
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    int n = 0, out = 0;
    do {
        buf[n++] = digits[v % base];
        v /= base;
    } while (v);
    if (neg && pad == '0') {
        serial_putc('-');
        out++;
        width--;
    }
    for (int w = n + (neg && pad != '0'); w < width; w++, out++)
        serial_putc(pad);
    if (neg && pad != '0') {
        serial_putc('-');
        out++;
    }
    while (n)
        serial_putc(buf[--n]), out++;
    return out;
}

int gvprintf(const char *fmt, va_list ap)
{
    int out = 0;
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            serial_putc(*fmt);
            out++;
            continue;
        }
        fmt++;
        char pad = ' ';
        int width = 0;
        if (*fmt == '0')
            pad = '0', fmt++;
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l')
            fmt++;
        switch (*fmt) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            int len = (int)strlen(s);
            for (; len < width; len++, out++)
                serial_putc(' ');
            serial_puts(s);
            out += (int)strlen(s);
            break;
        }
        case 'c':
            serial_putc((char)va_arg(ap, int));
            out++;
            break;
        case 'd': {
            int32_t v = va_arg(ap, int32_t);
            out += put_num(v < 0 ? -(uint32_t)v : (uint32_t)v, 10, width, pad, v < 0, 0);
            break;
        }
        case 'u':
            out += put_num(va_arg(ap, uint32_t), 10, width, pad, 0, 0);
            break;
        case 'x':
        case 'X':
            out += put_num(va_arg(ap, uint32_t), 16, width, pad, 0, *fmt == 'X');
            break;
        case 'p':
            out += put_num((uint32_t)(uintptr_t)va_arg(ap, void *), 16, 8, '0', 0, 0);
            break;
        case '%':
            serial_putc('%');
            out++;
            break;
        case '\0':
            return out;
        default:
            serial_putc('%');
            serial_putc(*fmt);
            out += 2;
        }
    }
    return out;
}

int gprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = gvprintf(fmt, ap);
    va_end(ap);
    return n;
}

void guest_exit(uint32_t v)
{
    outl(GUEST_DEBUG_EXIT, v);
    /* Without a debug-exit device: stop here rather than run off. */
    for (;;)
        __asm__ volatile("cli; hlt");
}

void *memset(void *d, int c, size_t n)
{
    uint8_t *p = d;
    while (n--)
        *p++ = (uint8_t)c;
    return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
    uint8_t *p = d;
    const uint8_t *q = s;
    while (n--)
        *p++ = *q++;
    return d;
}

void *memmove(void *d, const void *s, size_t n)
{
    uint8_t *p = d;
    const uint8_t *q = s;
    if (p < q) {
        while (n--)
            *p++ = *q++;
    } else {
        while (n--)
            p[n] = q[n];
    }
    return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const uint8_t *p = a, *q = b;
    for (; n; n--, p++, q++)
        if (*p != *q)
            return *p - *q;
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

int cmdline_has(uint32_t magic, uint32_t mbi, const char *word)
{
    if (magic != MULTIBOOT_BOOTLOADER_MAGIC || !(((const uint32_t *)(uintptr_t)mbi)[0] & 4))
        return 0;
    const char *s = (const char *)(uintptr_t)((const uint32_t *)(uintptr_t)mbi)[4];
    size_t n = strlen(word);
    for (; *s; s++)
        if (!memcmp(s, word, n) && (s[n] == 0 || s[n] == ' '))
            return 1;
    return 0;
}
