/*
 * bt/xlatbench.c — the translator's speed alone (BTVM_XLAT_BENCH=N).
 *
 * A boot's own figure (--stats: translate_us_per_block) moves with the
 * guest's timing and with what the guest's execution left in the host's
 * caches. This one does not: when the VM ends, every block of the code
 * cache that the CPU's final state can fetch again (the same mode key, CS
 * base and code page) is translated N more times, the cache flushed before
 * each round, in the order they were first made. It measures the
 * translator with warm host caches, so it suits comparing two versions of
 * it (bench/translate.sh), not a boot's cost (docs/translation.md §10).
 */
#include "bt/translate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <x86intrin.h>

struct xb_block {
    uint32_t eip, key;
};

void bt_xlat_bench(struct bt *bt, int rounds, FILE *out)
{
    struct cpu *c = bt->cpu;
    uint32_t mk = bt_mode_key(c), cs_base = c->seg_base[CPU_CS];
    struct xb_block *v = malloc((bt->pool_used + 1) * sizeof(*v));
    size_t n = 0;
    if (!v || rounds <= 0) {
        free(v);
        return;
    }
    for (size_t i = 0; i < bt->pool_used; i++) {
        const struct bt_block *b = &bt->blocks_pool[i];
        uint32_t key = b->key & ~(BT_KEY_VSHARED | BT_KEY_STEP);
        if (!b->valid || (key & ~(BT_KEY_SAFE | BT_KEY_SAFE2)) != mk || b->cs_base != cs_base)
            continue;
        if (smmu_exec_page(&bt->mmu, cs_base + b->eip) != (int64_t)b->phys_page)
            continue;
        v[n++] = (struct xb_block){ b->eip, key };
    }
    uint64_t ticks = 0, best = UINT64_MAX, blocks = 0, insns0 = bt->st.insns, bytes0 = bt->st.cache_bytes;
    for (int r = 0; r < rounds && n; r++) {
        bt_cache_flush(bt);
        memset(bt->la, 0, sizeof(bt->la));
        uint64_t t0 = __rdtsc(), made = 0;
        for (size_t i = 0; i < n; i++)
            made += bt_translate(bt, v[i].eip, v[i].key) != NULL;
        uint64_t dt = __rdtsc() - t0;
        ticks += dt;
        blocks += made;
        if (made && dt / made < best)
            best = dt / made; /* the quietest round: host noise only adds */
    }
    uint64_t hz = cpu_host_tsc_hz();
    double insns = (double)(bt->st.insns - insns0);
    fprintf(out, "btvm: translation bench: %zu blocks x %d rounds: %.3f us per block (best round %.3f), "
            "%.2f host bytes per guest insn\n",
            n, rounds, blocks && hz ? (double)ticks * 1e6 / (double)hz / (double)blocks : 0.0,
            blocks && hz ? (double)best * 1e6 / (double)hz : 0.0,
            insns > 0 ? (double)(bt->st.cache_bytes - bytes0) / insns : 0.0);
    free(v);
}
