/*
 * vm/display_vnc.h — the VNC server behind -vnc :N (libvncserver):
 * frames pushed from the display's sampling tick, keys and pointer from
 * viewers to the PS/2 keyboard and mouse. docs/display.md.
 */
#ifndef BTVM_VM_DISPLAY_VNC_H
#define BTVM_VM_DISPLAY_VNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm_vnc;
struct dev_i8042;

/* Listen on 127.0.0.1 (and ::1) port 5900 + display. NULL with a
 * one-line reason in err. */
struct vm_vnc *vm_vnc_open(unsigned display, struct dev_i8042 *kbc, char *err, size_t errlen);
void vm_vnc_close(struct vm_vnc *v);
/* Whether a viewer is connected (no viewer: no need to render). */
bool vm_vnc_has_clients(struct vm_vnc *v);
/* A viewer connected since the last call: it needs a whole frame. */
bool vm_vnc_take_new_client(struct vm_vnc *v);
/* Show w x h pixels 0xRRGGBB (only the changed rows are sent). */
void vm_vnc_frame(struct vm_vnc *v, const uint32_t *px, unsigned w, unsigned h);

/* An X keysym (what RFB key events carry) to the set-1 make code of the
 * key that types it on a US keyboard (0xE0xx for extended keys); 0: none. */
uint16_t vm_vnc_keysym_set1(uint32_t keysym);

#endif
