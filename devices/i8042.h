/*
 * devices/i8042.h — the 8042 keyboard controller (0x60/0x64) with a PS/2
 * keyboard on its first port and a PS/2 mouse on its aux port, and the
 * POST-code port 0x80.
 *
 * Host input (keys, mouse) may come from any thread: dev_i8042_key and
 * dev_i8042_mouse only put an event in a lock-free ring and call the
 * input notifier; the vcpu thread moves events into the devices in
 * dev_i8042_poll (and at every guest access to 0x60/0x64). Everything
 * else is for the vcpu thread only.
 */
#ifndef BTVM_DEV_I8042_H
#define BTVM_DEV_I8042_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/irq.h"

struct dev_i8042;

/* reset(ctx) is called when the guest pulses the CPU reset line. */
struct dev_i8042 *dev_i8042_new(struct dev_bus *bus, void (*reset)(void *ctx), void *ctx,
                                struct dev_irq_line irq1, struct dev_irq_line irq12);
void dev_i8042_free(struct dev_i8042 *k);

/* a20(ctx, on) is called when the guest changes output port bit 1 (A20;
 * on at power-on, so the first call is normally an 'off'). */
void dev_i8042_set_a20_cb(struct dev_i8042 *k, void (*a20)(void *ctx, bool on), void *ctx);
/* The clock for typematic repeat. Without one, the host's own repeated
 * key-down events are passed on as the repeats. */
void dev_i8042_set_timers(struct dev_i8042 *k, struct dev_timers *timers);
/* fn(ctx) is called on the input thread after it queued an event, to get
 * the vcpu thread to call dev_i8042_poll (set input_pending and kick). */
void dev_i8042_set_input_notify(struct dev_i8042 *k, void (*fn)(void *ctx), void *ctx);
/* vcpu thread: move queued host input into the keyboard and mouse.
 * dev_i8042_free must not run while another thread may still call
 * dev_i8042_key/_mouse on k. */
void dev_i8042_poll(struct dev_i8042 *k);

/* ---- host input: any thread ---- */

/* Pause/Break: it has no set-1 make code of its own, so it goes by the
 * code it sends with Ctrl held (Break, E0 46). */
#define DEV_I8042_KEY_PAUSE 0xE046

/* A key went down or up: its set-1 make code, 0xE0 in bits 8-15 for the
 * extended keys (0xE048 = Up, 0xE01D = Right Ctrl, 0xE037 = Print
 * Screen). The keyboard sends it in the set the guest chose. */
void dev_i8042_key(struct dev_i8042 *k, uint16_t set1code, bool down);
/* Mouse movement since the last call (dy > 0: towards the user, as
 * screens count; dz > 0: wheel turned towards the user) and the buttons
 * now down: bit 0 left, 1 right, 2 middle, 3 and 4 the side buttons. */
void dev_i8042_mouse(struct dev_i8042 *k, int dx, int dy, int dz, unsigned buttons);
/* The keyboard LEDs the guest set: bit 0 Scroll, 1 Num, 2 Caps Lock. */
unsigned dev_i8042_leds(const struct dev_i8042 *k);

/* Port 0x80 (POST codes): writes are accepted and ignored, reads give 0xFF...
 * 0 or -errno. */
int dev_port80_init(struct dev_bus *bus);

#endif
