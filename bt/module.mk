# bt/: the binary translator
BTVM_SRCS += bt/engine.c bt/translate.c bt/emit.c bt/emit_mem.c bt/emit_ident.c \
             bt/emit_ctrl.c bt/emit_stack.c bt/memslow.c bt/groups.c bt/emit_vif.c bt/emit_string.c bt/cache.c bt/trace.c bt/enter.S
