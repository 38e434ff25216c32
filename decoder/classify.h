/*
 * decoder/classify.h — private to decoder/: the classifier dec_decode() calls.
 * Exposed only so decoder.c and classify.c stay one concern each.
 */
#ifndef BTVM_DECODER_CLASSIFY_H
#define BTVM_DECODER_CLASSIFY_H

#include <stdint.h>
#include <Zydis/Zydis.h>

/* enum dec_class bits for a successfully decoded instruction. */
uint32_t dec_classify(const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *ops);

#endif
