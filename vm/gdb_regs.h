/*
 * vm/gdb_regs.h — the registers gdb sees (g/G/p/P packets) and the target
 * description announcing them (qXfer:features:read:target.xml): gdb's i386
 * core and sse features, then the system registers QEMU also shows
 * (fs_base, gs_base, cr0, cr2, cr3, cr4, efer). docs/gdb.md.
 */
#ifndef BTVM_VM_GDB_REGS_H
#define BTVM_VM_GDB_REGS_H

#include <stddef.h>
#include <stdint.h>

struct cpu;

#define VM_GDB_NREGS 48
#define VM_GDB_REGS_BYTES 336 /* all of them in a g packet */

extern const char vm_gdb_target_xml[];

/* Register n's bytes (little-endian) into out; its size, or 0 if there is
 * no register n. */
unsigned vm_gdb_reg_get(const struct cpu *c, unsigned n, uint8_t *out);
/* Set register n from its bytes: 0; -ENOENT no such register; -EPERM a
 * value btvm does not let a debugger change (selectors, control
 * registers, mode bits of EFLAGS): writing the current value is fine. */
int vm_gdb_reg_set(struct cpu *c, unsigned n, const uint8_t *in);
/* Register n's size in bytes (0: none). */
unsigned vm_gdb_reg_size(unsigned n);

#endif
