/*
 * cpu/portio.c — IN and OUT (imm8 or DX port; 1, 2 or 4 bytes) onto the
 * device bus, and the protected-mode I/O permission check (SDM vol. 1,
 * 19.5): at CPL > IOPL every byte of the access must be clear in the TSS
 * I/O bitmap, else #GP(0). The string forms live in cpu/string.c.
 */
#include "cpu/internal.h"

int cpu_io_allowed(struct cpu *c, uint16_t port, unsigned size)
{
    if (!(c->cr0 & CPU_CR0_PE))
        return 0;
    if (!(c->eflags & CPU_FL_VM) && c->cpl <= cpu_iopl(c))
        return 0;
    unsigned t = SEGF_TYPE(c->tr.flags);
    if ((t != 0x9 && t != 0xB) || c->tr.limit < 0x67)
        return CPU_FAULT(CPU_VEC_GP, 0);
    uint16_t iobase, bits;
    int f = cpu_sys_read(c, c->tr.base + 0x66, &iobase, 2);
    if (f)
        return f;
    uint32_t at = (uint32_t)iobase + port / 8;
    if (at + 1 > c->tr.limit)
        return CPU_FAULT(CPU_VEC_GP, 0);
    if ((f = cpu_sys_read(c, c->tr.base + at, &bits, 2)))
        return f;
    if ((bits >> (port & 7)) & ((1u << size) - 1))
        return CPU_FAULT(CPU_VEC_GP, 0);
    return 0;
}

static uint16_t port_of(const struct cpu *c, const ZydisDecodedOperand *op)
{
    if (op->type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
        return (uint16_t)(op->imm.value.u & 0xFF);
    return (uint16_t)c->regs[CPU_EDX];
}

/* IN AL/AX/EAX, imm8|DX */
int cpu_co_in(struct cpu *c, const struct dec_insn *d)
{
    uint16_t port = port_of(c, &d->ops[1]);
    unsigned size = d->ops[0].size / 8;
    int f = cpu_io_allowed(c, port, size);
    if (f)
        return co_fault(c, d, f);
    uint32_t v = 0;
    c->env->pio(c->env_ctx, port, size, false, &v);
    cpu_set_reg(c, d->ops[0].reg.value, v);
    return CPU_CO_CONTINUE;
}

/* OUT imm8|DX, AL/AX/EAX. Exit afterwards: a device may have asked the
 * machine to stop or raised an interrupt. */
int cpu_co_out(struct cpu *c, const struct dec_insn *d)
{
    uint16_t port = port_of(c, &d->ops[0]);
    unsigned size = d->ops[1].size / 8;
    int f = cpu_io_allowed(c, port, size);
    if (f)
        return co_fault(c, d, f);
    uint32_t v = cpu_get_reg(c, d->ops[1].reg.value);
    c->env->pio(c->env_ctx, port, size, true, &v);
    if (c->env->io_done(c->env_ctx))
        c->async_pending = 1; /* the dispatcher re-arms the ticker at the next block */
    if (c->env->stop_requested(c->env_ctx)) {
        c->eip = next_eip(d);
        return CPU_CO_EXIT;
    }
    return CPU_CO_CONTINUE;
}
