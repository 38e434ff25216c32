# bt/: the binary translator (layer order: bt/bt.h)
BTVM_SRCS += bt/emit.c bt/blocks.c bt/runtime.c bt/enter.S bt/cache.c bt/emit_common.c \
             bt/classify.c bt/ident_tmpl.c bt/emit_mem.c bt/emit_memstub.c bt/emit_sreg.c bt/emit_iret.c bt/emit_sysenter.c bt/emit_stack.c bt/emit_ident.c bt/emit_string.c \
             bt/emit_vif.c bt/emit_invlpg.c bt/emit_ctrl.c bt/groups.c bt/trace.c bt/translate.c bt/xlatbench.c bt/engine.c
