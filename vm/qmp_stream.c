/*
 * vm/qmp_stream.c — JSON values out of a byte stream (vm/qmp_stream.h).
 * A value starts at the first byte that is not blank: [ or { opens a
 * bracketed value, which ends when the brackets balance (counted outside
 * strings, escapes honoured); " a string; anything else a bare word
 * (number, keyword, junk), which ends before a blank or a structural
 * character. A stray ] or } is a value of its own. docs/monitor.md.
 */
#include "vm/qmp_stream.h"

#include <stdlib.h>
#include <string.h>

void vm_qmp_stream_init(struct vm_qmp_stream *s)
{
    memset(s, 0, sizeof(*s));
}

void vm_qmp_stream_free(struct vm_qmp_stream *s)
{
    free(s->buf);
    memset(s, 0, sizeof(*s));
}

static void push(struct vm_qmp_stream *s, char c)
{
    if (s->overflow)
        return;
    if (s->len == VM_QMP_VALUE_MAX) {
        s->overflow = true;
        return;
    }
    if (s->len == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        char *b = realloc(s->buf, cap);
        if (!b) {
            s->overflow = true;
            return;
        }
        s->buf = b;
        s->cap = cap;
    }
    s->buf[s->len++] = c;
}

static void finish(struct vm_qmp_stream *s, vm_qmp_value_fn *fn, void *ctx)
{
    if (s->overflow)
        fn(ctx, NULL, 0, true);
    else
        fn(ctx, s->buf, s->len, false);
    s->len = 0;
    s->depth = 0;
    s->in_str = s->esc = s->scalar = s->overflow = false;
    if (s->cap > 4096) { /* do not keep a big value's buffer */
        free(s->buf);
        s->buf = NULL;
        s->cap = 0;
    }
}

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool structural(char c)
{
    return c == '{' || c == '}' || c == '[' || c == ']' || c == ',' || c == ':' || c == '"';
}

void vm_qmp_stream_feed(struct vm_qmp_stream *s, const char *data, size_t n,
                        vm_qmp_value_fn *fn, void *ctx)
{
    for (size_t i = 0; i < n; i++) {
        char c = data[i];
        bool idle = s->len == 0 && !s->overflow && !s->depth && !s->scalar && !s->in_str;
        if (s->in_str) {
            push(s, c);
            if (s->esc)
                s->esc = false;
            else if (c == '\\')
                s->esc = true;
            else if (c == '"') {
                s->in_str = false;
                if (s->scalar) /* a string on its own */
                    finish(s, fn, ctx);
            }
            continue;
        }
        if (s->scalar) {
            if (!blank(c) && !structural(c)) {
                push(s, c);
                continue;
            }
            finish(s, fn, ctx); /* the word ends here; c starts what follows */
            idle = true;
        }
        if (idle) {
            if (blank(c))
                continue;
            push(s, c);
            if (c == '{' || c == '[') {
                s->depth = 1;
            } else if (c == '"') {
                s->in_str = s->scalar = true;
            } else if (c == '}' || c == ']' || c == ',' || c == ':') {
                finish(s, fn, ctx);
            } else {
                s->scalar = true;
            }
            continue;
        }
        push(s, c);
        if (c == '"') {
            s->in_str = true;
        } else if (c == '{' || c == '[') {
            if (++s->depth > VM_QMP_DEPTH_MAX)
                s->overflow = true;
        } else if (c == '}' || c == ']') {
            if (--s->depth == 0)
                finish(s, fn, ctx);
        }
    }
}
