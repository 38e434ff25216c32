/*
 * vm/gdb_proto.h — the GDB remote serial protocol's framing (pure: bytes
 * in, packets out; no sockets, no machine): "$data#cs" packets with a
 * modulo-256 checksum, '+'/'-' acknowledgements, the 0x03 interrupt byte,
 * '}' escapes, and hex helpers. docs/gdb.md.
 */
#ifndef BTVM_VM_GDB_PROTO_H
#define BTVM_VM_GDB_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VM_GDB_PACKET_MAX 4096u /* what qSupported announces (PacketSize) */

enum vm_gdb_rx_event {
    VM_GDB_RX_NONE,   /* byte taken, nothing complete */
    VM_GDB_RX_PACKET, /* rx->buf holds a packet (rx->len bytes, NUL after), checksum good */
    VM_GDB_RX_BAD,    /* a packet with a wrong checksum or too long: answer '-' */
    VM_GDB_RX_INTR,   /* 0x03 outside a packet: Ctrl-C */
    VM_GDB_RX_ACK,    /* '+' */
    VM_GDB_RX_NAK,    /* '-': send the last packet again */
};

struct vm_gdb_rx {
    enum { VM_GDB_RX_IDLE, VM_GDB_RX_DATA, VM_GDB_RX_SUM1, VM_GDB_RX_SUM2 } state;
    char buf[VM_GDB_PACKET_MAX + 1];
    size_t len;
    bool overflow;
    uint8_t sum, got;
};

void vm_gdb_rx_init(struct vm_gdb_rx *rx);
enum vm_gdb_rx_event vm_gdb_rx_byte(struct vm_gdb_rx *rx, uint8_t b);

/* "$" payload "#" checksum into out ('#', '$', '}' and '*' escaped);
 * returns its length, or 0 if it does not fit in cap. */
size_t vm_gdb_frame(const void *payload, size_t len, char *out, size_t cap);

/* Undo '}' escapes in place (X packets' binary data); returns the length. */
size_t vm_gdb_unescape(char *data, size_t len);

/* A hex digit's value, or -1. */
int vm_gdb_hexval(char c);
/* Hex number at *p (at least one digit, at most 16); advances *p. */
bool vm_gdb_parse_hex(const char **p, uint64_t *out);
/* len bytes as 2*len lower-case hex digits (NUL-terminated). */
void vm_gdb_tohex(const void *bytes, size_t len, char *out);
/* Exactly 2*len hex digits at s into bytes; false on anything else. */
bool vm_gdb_fromhex(const char *s, void *bytes, size_t len);

#endif
