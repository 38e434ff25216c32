/*
 * vm/display_cli.h — the display options of btvm's command line (-display,
 * -nographic, -vnc, -vga, --screendump, --screendump-text), parsed for
 * vm/cli.c so the display's options live beside the display.
 */
#ifndef BTVM_VM_DISPLAY_CLI_H
#define BTVM_VM_DISPLAY_CLI_H

#include <stddef.h>
#include "vm/vm.h"

/* which: 0 -display, 1 -nographic, 2 -vnc, 3 -vga, 4 --screendump,
 * 5 --screendump-text (vm/cli.c's order). NULL, or err filled with a
 * one-line "btvm: ..." message. */
const char *vm_cli_display_option(const char *name, int which, const char *val,
                                  struct vm_options *opt, char *err, size_t errlen);
extern const char vm_cli_display_help[];

#endif
