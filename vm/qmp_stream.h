/*
 * vm/qmp_stream.h — cuts a QMP byte stream into JSON values, whatever the
 * reads' boundaries (a value split over reads, several in one read), as
 * QEMU's JSON streamer does: brackets and braces are counted outside
 * strings, and a value ends when they balance. Junk between values comes
 * out as a value of its own, for the parser to refuse. Pure (no I/O).
 * docs/monitor.md.
 */
#ifndef BTVM_VM_QMP_STREAM_H
#define BTVM_VM_QMP_STREAM_H

#include <stdbool.h>
#include <stddef.h>

/* A value longer than this is dropped with an error (QEMU has such a
 * limit too). */
#define VM_QMP_VALUE_MAX (1u << 20)
/* Deeper nesting is an error (QEMU's MAX_NESTING). */
#define VM_QMP_DEPTH_MAX 64

struct vm_qmp_stream {
    char *buf;
    size_t len, cap;
    int depth;            /* open [ and { */
    bool in_str, esc;     /* inside a string; after its backslash */
    bool scalar;          /* a value outside brackets: a string or a bare word */
    bool overflow;        /* this value went past a limit: drop it */
};

/* What feed hands out: len bytes of one value (not NUL-terminated), or,
 * with too_long, nothing but the news that a value was dropped. */
typedef void vm_qmp_value_fn(void *ctx, const char *text, size_t len, bool too_long);

void vm_qmp_stream_init(struct vm_qmp_stream *s);
void vm_qmp_stream_free(struct vm_qmp_stream *s);
/* Take n bytes; calls fn for each value they complete, in order. */
void vm_qmp_stream_feed(struct vm_qmp_stream *s, const char *data, size_t n,
                        vm_qmp_value_fn *fn, void *ctx);

#endif
