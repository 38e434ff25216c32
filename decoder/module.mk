# decoder/: Zydis decode + sensitivity classification, Capstone disassembly.
BTVM_SRCS += decoder/decoder.c decoder/classify.c decoder/disasm.c
