/*
 * vm/gdb_proto.c — GDB remote protocol framing and hex (see gdb_proto.h).
 */
#include "vm/gdb_proto.h"

#include <string.h>

void vm_gdb_rx_init(struct vm_gdb_rx *rx)
{
    memset(rx, 0, sizeof(*rx));
}

int vm_gdb_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

enum vm_gdb_rx_event vm_gdb_rx_byte(struct vm_gdb_rx *rx, uint8_t b)
{
    switch (rx->state) {
    case VM_GDB_RX_IDLE:
        if (b == '$') {
            rx->state = VM_GDB_RX_DATA;
            rx->len = 0;
            rx->sum = 0;
            rx->overflow = false;
            return VM_GDB_RX_NONE;
        }
        if (b == 0x03)
            return VM_GDB_RX_INTR;
        if (b == '+')
            return VM_GDB_RX_ACK;
        if (b == '-')
            return VM_GDB_RX_NAK;
        return VM_GDB_RX_NONE; /* noise between packets */
    case VM_GDB_RX_DATA:
        if (b == '#') {
            rx->state = VM_GDB_RX_SUM1;
            return VM_GDB_RX_NONE;
        }
        rx->sum = (uint8_t)(rx->sum + b);
        if (rx->len < VM_GDB_PACKET_MAX)
            rx->buf[rx->len++] = (char)b;
        else
            rx->overflow = true;
        return VM_GDB_RX_NONE;
    case VM_GDB_RX_SUM1: {
        int v = vm_gdb_hexval((char)b);
        rx->got = (uint8_t)((v < 0 ? 0 : v) << 4);
        rx->overflow |= v < 0;
        rx->state = VM_GDB_RX_SUM2;
        return VM_GDB_RX_NONE;
    }
    case VM_GDB_RX_SUM2: {
        int v = vm_gdb_hexval((char)b);
        rx->state = VM_GDB_RX_IDLE;
        rx->buf[rx->len] = 0;
        if (v < 0 || rx->overflow || (uint8_t)(rx->got | v) != rx->sum)
            return VM_GDB_RX_BAD;
        return VM_GDB_RX_PACKET;
    }
    }
    return VM_GDB_RX_NONE;
}

size_t vm_gdb_frame(const void *payload, size_t len, char *out, size_t cap)
{
    const uint8_t *p = payload;
    size_t o = 0;
    uint8_t sum = 0;
    if (cap < 5)
        return 0;
    out[o++] = '$';
    for (size_t i = 0; i < len; i++) {
        uint8_t c = p[i];
        if (o + 2 + 3 > cap)
            return 0;
        if (c == '#' || c == '$' || c == '}' || c == '*') {
            out[o++] = '}';
            sum = (uint8_t)(sum + '}');
            c ^= 0x20;
        }
        out[o++] = (char)c;
        sum = (uint8_t)(sum + c);
    }
    static const char hex[] = "0123456789abcdef";
    out[o++] = '#';
    out[o++] = hex[sum >> 4];
    out[o++] = hex[sum & 15];
    return o;
}

size_t vm_gdb_unescape(char *data, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (data[i] == '}' && i + 1 < len)
            data[o++] = (char)(data[++i] ^ 0x20);
        else
            data[o++] = data[i];
    }
    return o;
}

bool vm_gdb_parse_hex(const char **p, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    int n = 0, d;
    while ((d = vm_gdb_hexval(*s)) >= 0) {
        if (++n > 16)
            return false;
        v = v << 4 | (uint64_t)d;
        s++;
    }
    if (n == 0)
        return false;
    *p = s;
    *out = v;
    return true;
}

void vm_gdb_tohex(const void *bytes, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *b = bytes;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[2 * len] = 0;
}

bool vm_gdb_fromhex(const char *s, void *bytes, size_t len)
{
    uint8_t *b = bytes;
    for (size_t i = 0; i < len; i++) {
        int hi = vm_gdb_hexval(s[2 * i]), lo = hi < 0 ? -1 : vm_gdb_hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        b[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}
