/*
 * bt/trace.c — --trace: each translated block, guest instructions
 * (Capstone) beside the host code emitted for them.
 */
#include "bt/bt.h"

#include <stdio.h>

static void host_range(const uint8_t *p, uint32_t len, uint64_t addr)
{
    uint32_t off = 0;
    char buf[128];
    while (off < len) {
        size_t n = dec_disasm(64, addr + off, p + off, len - off, buf, sizeof(buf));
        if (!n) {
            fprintf(stderr, "        %016llx  .byte 0x%02x\n", (unsigned long long)(addr + off), p[off]);
            n = 1;
        } else {
            fprintf(stderr, "        %016llx  %s\n", (unsigned long long)(addr + off), buf);
        }
        off += (uint32_t)n;
    }
}

void bt_trace_block(struct bt *bt, const struct bt_block *blk, const struct dec_insn *insns, int n)
{
    (void)bt;
    char buf[128];
    fprintf(stderr, "btvm trace: block %08x key %x, %d guest instructions, %u host bytes at %p\n",
            blk->eip, blk->key, n, blk->host_len, (void *)blk->host);
    for (int k = 0; k < n; k++) {
        const struct dec_insn *d = &insns[k];
        if (!dec_disasm(blk->key & BT_KEY_CODE32 ? 32 : 16, d->eip, d->bytes, d->len ? d->len : 1, buf, sizeof(buf)))
            snprintf(buf, sizeof(buf), "(undefined)");
        fprintf(stderr, "  %08x  %-40s [%s]\n", d->eip, buf, dec_class_str(d->cls));
        uint32_t a = blk->map_host[k], b = blk->map_host[k + 1];
        host_range(blk->code + a, b - a, (uint64_t)(uintptr_t)(blk->code + a));
    }
    uint32_t tail = blk->map_host[n];
    fprintf(stderr, "  -- block exit and out-of-line paths --\n");
    host_range(blk->code + tail, blk->host_len - tail, (uint64_t)(uintptr_t)(blk->code + tail));
}
