# cpu/: virtual CPU state and the C side of every instruction the
# translator does not emit inline (callouts). shadowmmu/smmu.c was listed
# here before shadowmmu/ had its own module.mk line.
BTVM_SRCS += cpu/cpu.c cpu/callout.c cpu/exception.c cpu/segment.c cpu/sysinsn.c \
             cpu/string.c cpu/portio.c cpu/legacy.c cpu/flags.c cpu/hostvuln.c \
             cpu/deliver_fast.c
