/*
 * cpu/internal.h — helpers shared by the callout files of cpu/ (not a
 * public interface: only the files of cpu/ include it).
 *
 * Guest faults found by a helper travel as a *fault code* (int): 0 = no
 * fault, CPU_FAULT(vec, err) = a guest exception to raise, CPU_FAULT_STOP =
 * btvm cannot do it (c->unsupported says what). Helpers never call
 * cpu_raise() themselves, so exception delivery can use them too and decide
 * about #DF; a callout turns a fault code into its result with co_fault().
 */
#ifndef BTVM_CPU_INTERNAL_H
#define BTVM_CPU_INTERNAL_H

#include <stdarg.h>
#include "cpu/callout.h"

#define CPU_FAULT(vec, err) (0x1000000 | ((vec) << 16) | ((err) & 0xFFFF))
#define CPU_FAULT_STOP (-2)
#define CPU_FAULT_VEC(f) (((f) >> 16) & 0xFF)
#define CPU_FAULT_ERR(f) ((uint32_t)(f) & 0xFFFF)

/* Selector error code (SDM vol. 3, 6.13): index+TI, RPL bits dropped. */
#define SEL_ERR(sel) ((sel) & 0xFFFCu)

/* Descriptor high-dword fields as kept in struct cpu_segment.flags (bits 8..23). */
#define SEGF_TYPE(f)  ((f) & CPU_SEGF_TYPE)
#define SEGF_S(f)     (((f) & CPU_SEGF_S) != 0)
#define SEGF_DPL(f)   (((f) & CPU_SEGF_DPL) >> CPU_SEGF_DPL_SHIFT)
#define SEGF_P(f)     (((f) & CPU_SEGF_P) != 0)
#define SEGF_DB(f)    (((f) & CPU_SEGF_DB) != 0)

static inline uint32_t next_eip(const struct dec_insn *d) { return d->eip + d->len; }
static inline bool cpu_pmode(const struct cpu *c)
{
    return (c->cr0 & CPU_CR0_PE) && !(c->eflags & CPU_FL_VM);
}
static inline unsigned cpu_iopl(const struct cpu *c) { return (c->eflags >> 12) & 3; }

/* callout.c: results, registers, operands. */
bool cpu_vec_has_error(int vec);
int co_fault(struct cpu *c, const struct dec_insn *d, int fault);
int co_stop(struct cpu *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int co_stop_mnemonic(struct cpu *c, const struct dec_insn *d);
int fault_stop(struct cpu *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
uint32_t cpu_get_reg(const struct cpu *c, ZydisRegister r);
void cpu_set_reg(struct cpu *c, ZydisRegister r, uint32_t v);
int cpu_mem_read(struct cpu *c, uint32_t lin, void *buf, unsigned len);
int cpu_mem_write(struct cpu *c, uint32_t lin, const void *buf, unsigned len);
int cpu_sys_read(struct cpu *c, uint32_t lin, void *buf, unsigned len);
int cpu_sys_write(struct cpu *c, uint32_t lin, const void *buf, unsigned len);
int cpu_read_op(struct cpu *c, const struct dec_insn *d, const ZydisDecodedOperand *op, uint32_t *v);
int cpu_write_op(struct cpu *c, const struct dec_insn *d, const ZydisDecodedOperand *op, uint32_t v);
/* Stack: work on a local ESP copy so a fault part-way commits nothing. */
uint32_t cpu_stack_mask(const struct cpu *c);
int cpu_push(struct cpu *c, uint32_t *esp, uint32_t v, unsigned bytes);
int cpu_pop(struct cpu *c, uint32_t *esp, uint32_t *v, unsigned bytes);
void cpu_commit_esp(struct cpu *c, uint32_t esp);

/* segment.c: descriptors and segment loads. */
/* ext: the EXT bit (1) added to selector error codes while delivering an event. */
int cpu_read_desc(struct cpu *c, uint16_t sel, uint32_t *lo, uint32_t *hi, int errvec, unsigned ext);
void cpu_desc_parse(uint16_t sel, uint32_t lo, uint32_t hi, struct cpu_segment *s);
void cpu_set_seg(struct cpu *c, int seg, const struct cpu_segment *s);
int cpu_mark_accessed(struct cpu *c, uint16_t sel, uint32_t hi);
int cpu_load_seg(struct cpu *c, int seg, uint16_t sel);
int cpu_check_ss(struct cpu *c, uint16_t sel, unsigned cpl, int errvec, unsigned ext,
                 struct cpu_segment *out);
void cpu_null_outer_segs(struct cpu *c);

/* exception.c: one event through the IDT (or IVT in real mode). */
int cpu_deliver(struct cpu *c, int vec, bool has_error, uint32_t error, bool soft,
                uint32_t ret_eip);

/* deliver_fast.c: the same delivery for a CPL 0 gate into the current CS
 * with everything mapped; false: declined, nothing changed. */
/* IRETD's common case (cpu/deliver_fast.c): true if done, else nothing
 * changed and the general path must run. */
bool cpu_iret_fast(struct cpu *c);
bool cpu_deliver_fast(struct cpu *c, int vec, bool has_error, uint32_t error, bool soft,
                      uint32_t ret_eip);

/* sysinsn.c: an IOPL-sensitive instruction must #GP(0) now. */
bool cpu_iopl_denied(const struct cpu *c);

/* portio.c */
int cpu_io_allowed(struct cpu *c, uint16_t port, unsigned size);

/* flags.c */
#include "cpu/flags.h"

/* The callouts (one per instruction family). */
#define CO(name) int cpu_co_##name(struct cpu *c, const struct dec_insn *d)
CO(ud); CO(unsupported);
CO(movs); CO(stos); CO(lods); CO(cmps); CO(scas); CO(ins); CO(outs);
CO(in); CO(out);
CO(hlt); CO(cli); CO(sti); CO(pushf); CO(popf); CO(cpuid); CO(rdtsc); CO(rdmsr); CO(wrmsr);
CO(rdpmc); CO(nop_priv); CO(invlpg); CO(sysenter); CO(sysexit);
CO(int); CO(int3); CO(int1); CO(into); CO(iret);
CO(lgdt_lidt); CO(sgdt_sidt); CO(lldt); CO(sldt); CO(ltr); CO(str); CO(smsw); CO(lmsw);
CO(clts); CO(mov_cr); CO(mov_dr); CO(lar_lsl); CO(verr_verw);
CO(mov_to_sreg); CO(mov_from_sreg); CO(push_sreg); CO(pop_sreg); CO(lxs);
CO(jmp_far); CO(call_far); CO(ret_far);
CO(daa); CO(das); CO(aaa); CO(aas); CO(aam); CO(aad); CO(pusha); CO(popa); CO(xlat);
CO(bound); CO(arpl); CO(salc); CO(enter); CO(incdec);
#undef CO

#endif
