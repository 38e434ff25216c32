/*
 * vm/display.h — what shows the guest's VGA to the user: the curses
 * display (text screen drawn in this terminal with escapes, keys to the
 * PS/2 keyboard), and the screendump written when the guest stops.
 * docs/display.md.
 */
#ifndef BTVM_VM_DISPLAY_H
#define BTVM_VM_DISPLAY_H

#include "devices/chardev.h"
#include "vm/vm.h"

struct dev_vga;
struct dev_i8042;
struct vm_display;

/* Start the display opt->display/opt->vnc ask for (NULL with 0 when they
 * ask for none). It samples the screen from a 30 Hz device timer on
 * vm->timers (the vcpu thread) and draws from a thread of its own.
 * 0, or an exit status after printing why. */
int vm_display_open(struct vm_display **out, struct vm *vm, struct dev_vga *vga,
                    struct dev_i8042 *kbc);
/* Stop drawing (the timer must not fire again: call after the run). */
void vm_display_close(struct vm_display *d);

/* Whether the display takes the terminal (then COM1 must not write there). */
bool vm_display_owns_terminal(const struct vm_options *opt);
/* A chardev that drops output and has no input: COM1 while the curses
 * display owns the terminal, as QEMU's serial on a hidden console. */
const struct dev_chardev *vm_display_null_chardev(void);

/* --screendump / --screendump-text: write what the VGA shows now. Prints
 * a line per failure; 0 or -1. */
int vm_display_screendump(const struct vm_options *opt, struct dev_vga *vga);
/* What the VGA shows now into file, as PNG or binary PPM (also the
 * monitor's screendump; call on the vcpu thread or with it stopped).
 * 0 or -errno. */
int vm_display_screendump_file(struct dev_vga *vga, const char *file, bool ppm);
/* Whether a screendump file name asks for PPM (it ends in .ppm). */
bool vm_display_file_is_ppm(const char *file);

#endif
