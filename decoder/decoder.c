/*
 * decoder/decoder.c — dec_decode(): guest bytes in, struct dec_insn out.
 *
 * Owns the Zydis decoders (one per guest mode, initialised once and then
 * only read, so concurrent decoding is safe), the translation of Zydis'
 * status codes into btvm's three outcomes (ok / invalid / need more bytes),
 * and the arithmetic-flag summary the translator's liveness analysis uses.
 * What an instruction *means* for virtualization is decided in
 * decoder/classify.c; this file only fills the record.
 */
#include "decoder/decoder.h"
#include "decoder/classify.h"

#include <pthread.h>
#include <stddef.h>
#include <string.h>

/* The flags the translator keeps in host RFLAGS: CF PF AF ZF SF OF and DF.
 * System flags (IF, IOPL, ...) live in the virtual CPU and are the
 * classifier's business, not the liveness analysis'. */
#define DEC_ARITH_FLAGS (ZYDIS_CPUFLAG_CF | ZYDIS_CPUFLAG_PF | ZYDIS_CPUFLAG_AF | \
                         ZYDIS_CPUFLAG_ZF | ZYDIS_CPUFLAG_SF | ZYDIS_CPUFLAG_OF | \
                         ZYDIS_CPUFLAG_DF)

/* x86 caps an instruction at 15 bytes (SDM Vol. 2, 2.3.11); longer is #GP. */
#define DEC_MAX_LEN 15

static ZydisDecoder dec16, dec32;
static pthread_once_t dec_once = PTHREAD_ONCE_INIT;

static void dec_init(void)
{
    /* Both calls only fail on bad arguments, which these are not. */
    ZydisDecoderInit(&dec16, ZYDIS_MACHINE_MODE_LEGACY_16, ZYDIS_STACK_WIDTH_16);
    ZydisDecoderInit(&dec32, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
}

int dec_decode(enum dec_mode mode, uint32_t eip, const uint8_t *bytes, size_t avail,
               struct dec_insn *out)
{
    const ZydisDecoder *d;
    ZyanStatus st;

    /* The fields before zi only: a successful decode writes all of zi and
     * ops (those past the count zeroed); the failures below clear them. */
    memset(out, 0, offsetof(struct dec_insn, zi));
    out->eip = eip;
    pthread_once(&dec_once, dec_init);

    switch (mode) {
    case DEC_MODE_16: d = &dec16; break;
    case DEC_MODE_32: d = &dec32; break;
    default:
        memset(&out->zi, 0, sizeof(out->zi));
        memset(out->ops, 0, sizeof(out->ops));
        out->cls = DEC_UNDEFINED;
        return -1;
    }
    if (avail > DEC_MAX_LEN)
        avail = DEC_MAX_LEN;
    if (avail == 0) {
        memset(&out->zi, 0, sizeof(out->zi));
        memset(out->ops, 0, sizeof(out->ops));
        return -2;
    }

    st = ZydisDecoderDecodeFull(d, bytes, avail, &out->zi, out->ops);
    if (!ZYAN_SUCCESS(st)) {
        /* Running out of bytes before 15 means the caller cut the
         * instruction short (end of a page, end of a buffer): fetch more
         * and retry. At 15 bytes it can never become valid. */
        memset(&out->zi, 0, sizeof(out->zi));
        memset(out->ops, 0, sizeof(out->ops));
        if (st == ZYDIS_STATUS_NO_MORE_DATA && avail < DEC_MAX_LEN)
            return -2;
        out->cls = DEC_UNDEFINED;
        return -1;
    }

    out->len = out->zi.length;
    memcpy(out->bytes, bytes, out->len);

    /* cpu_flags points into Zydis' static tables; it is never NULL for a
     * successfully decoded instruction in 4.0, but do not bet on it. */
    if (out->zi.cpu_flags) {
        const ZydisAccessedFlags *f = out->zi.cpu_flags;
        out->flags_read = f->tested & DEC_ARITH_FLAGS;
        out->flags_written = (f->modified | f->set_0 | f->set_1 | f->undefined) & DEC_ARITH_FLAGS;
        out->flags_undefined = f->undefined & DEC_ARITH_FLAGS;
    }

    out->cls = dec_classify(&out->zi, out->ops);
    return 0;
}
