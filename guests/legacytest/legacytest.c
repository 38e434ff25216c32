/*
 * guests/legacytest/legacytest.c — runs every input of legacy.h's sweep
 * (BCD adjusts, XLAT, SALC, ARPL) and compares each block's digest with
 * the host CPU's (build/guests/legacytest_expected.h). The first differing
 * block of an op is dumped line by line ("LT ..."), for
 * tests/guest/legacytest.sh to diff against the generator's dump.
 * Prints "legacytest: N inputs, F ops differ"; exits with F.
 */
#include "guest.h"
#include "legacy.h"
#include "dump.h"
#include "legacytest_expected.h"

_Static_assert(LT_EXPECTED_OPS == LT_NOPS, "legacytest_expected.h is stale");

int guest_main(uint32_t magic, uint32_t mbi)
{
    (void)magic;
    (void)mbi;
    unsigned inputs = 0, bad_ops = 0;
    for (unsigned k = 0; k < LT_NOPS; k++) {
        const struct lt_op *op = &lt_ops[k];
        unsigned bad_blocks = 0;
        for (unsigned b = 0; b < op->nblocks; b++) {
            inputs += 256;
            if (lt_block_digest(op, b) == lt_expected[k][b])
                continue;
            if (!bad_blocks++) {
                gprintf("FAIL %s: block %u differs from the host CPU; its results:\n", op->name, b);
                char line[LT_DUMP_LINE];
                for (unsigned i = 0; i < 256; i++) {
                    lt_dump_line(op, b, i, line);
                    gprintf("%s\n", line);
                }
            }
        }
        if (bad_blocks) {
            gprintf("FAIL %s: %u of %u blocks differ\n", op->name, bad_blocks, op->nblocks);
            bad_ops++;
        } else {
            gprintf("legacytest: %s: %u blocks match\n", op->name, op->nblocks);
        }
    }
    gprintf("legacytest: %u inputs, %u ops differ\n", inputs, bad_ops);
    return (int)bad_ops;
}
