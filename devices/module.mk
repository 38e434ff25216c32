# devices/: the bus, the device models, and the console that backs them
# (vm/console.c lives in vm/ but is listed here by agreement with vm/).
BTVM_SRCS += devices/bus.c devices/uart16550.c devices/debugexit.c devices/debugcon.c \
             vm/console.c
