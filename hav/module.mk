# hav/: the hardware-assisted engine over /dev/kvm, and the engine choice
# (vm/engine_choice.c, listed here with the engine it chooses).
BTVM_SRCS += hav/kvm.c hav/state.c hav/probe.c vm/engine_choice.c
