/*
 * vm/console.h — the user's terminal as the guest's serial console.
 *
 * When stdin is a terminal it is put in raw mode and restored on every exit
 * path (normal exit, fatal signals, SIGTERM/SIGINT/SIGHUP). Ctrl-A X quits,
 * Ctrl-A Ctrl-A sends a literal Ctrl-A. stdin/stdout may also be files or
 * pipes; end of input is not an error.
 */
#ifndef BTVM_VM_CONSOLE_H
#define BTVM_VM_CONSOLE_H

#include <stdbool.h>
#include "devices/chardev.h"
#include "vm/vm.h"

/* Set up the terminal and input reader; 0 or -errno. */
int vm_console_open(struct vm *vm);
/* vm_console_close() (restore the terminal) is declared in vm/vm.h: the
 * engines' fatal-signal paths call it. */
/* fn(ctx) is called from the input thread after input arrived. */
void vm_console_set_notify(void (*fn)(void *ctx), void *ctx);
/* The chardev devices use to reach the console. */
const struct dev_chardev *vm_console_chardev(void);

/* A full-screen display draws on stdout from now on; restore (a static
 * string) is written when the terminal is given back, on every exit path. */
void vm_console_take_screen(const char *restore);
/* False once the terminal was given back: draw nothing more. */
bool vm_console_screen_owned(void);

#endif
