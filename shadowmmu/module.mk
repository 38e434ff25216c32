BTVM_SRCS += shadowmmu/smmu.c
BTVM_SRCS += shadowmmu/walk.c shadowmmu/shadow.c shadowmmu/window.c shadowmmu/kview.c
