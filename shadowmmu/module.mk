BTVM_SRCS += shadowmmu/smmu.c
