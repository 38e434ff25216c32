/*
 * vm/popek.h — `btvm popek`: the Popek–Goldberg teaching table. One row
 * per x86 instruction that is sensitive but unprivileged: what the host CPU
 * gives a CPL-3 process (measured live), what a pure trap-and-emulate VMM
 * would miss, and what the popek guest (guests/popek/) sees under btvm.
 * docs/popek.md explains how to read it.
 */
#ifndef BTVM_VM_POPEK_H
#define BTVM_VM_POPEK_H

/* argv[0] is "popek". Returns the process exit status: 0 everything
 * measured, 1 the guest run failed (the reason is printed), 2 bad usage. */
int vm_popek_main(int argc, char **argv);

#endif
