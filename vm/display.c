/*
 * vm/display.c — the curses display and the screendump.
 *
 * Sampling and drawing are split so neither costs the vcpu much nor races
 * with it: a 30 Hz device timer (it fires on the vcpu thread, between
 * guest instructions, where the VGA's state is consistent) copies the text
 * cells (about 4 KiB for 80x25) when they changed and wakes the display
 * thread, which turns the difference into escapes and writes them to the
 * terminal. A slow terminal delays only the display thread; frames in
 * between are skipped. docs/display.md.
 */
#include "vm/display.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/i8042.h"
#include "devices/irq.h"
#include "devices/vga.h"
#include "vm/console.h"
#include "vm/display_png.h"
#include "vm/display_text.h"
#include "vm/display_vnc.h"
#include "vm/keymap.h"

#define DISPLAY_PERIOD_NS (1000000000ull / 30)

/* Alternate screen, cursor shown, colours reset: the terminal as it was. */
static const char leave_screen[] = "\033[0m\033[?25h\033[?1049l";

struct vm_display {
    struct vm *vm;
    struct dev_vga *vga;
    struct dev_i8042 *kbc;
    struct dev_timer timer;
    bool curses;
    struct vm_keymap keymap;
    uint64_t last_key_ns;      /* when the last terminal byte came */
    /* -vnc (vcpu thread only): the last text frame sent, the pixels. */
    struct vm_vnc *vnc;
    bool vnc_sent_text;
    struct dev_vga_text vnc_last;
    uint32_t *px;
    size_t px_cap;

    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool dirty, quit;
    /* Under mu: the latest sample. */
    bool next_text;
    unsigned gfx_w, gfx_h;
    struct dev_vga_text next;
    /* vcpu thread only. */
    struct dev_vga_text sample;
    /* Display thread only. */
    struct dev_vga_text shown;
    bool shown_valid, shown_gfx;
};

static void null_write(void *ctx, const uint8_t *buf, size_t n)
{
    (void)ctx; (void)buf; (void)n;
}

static int null_read(void *ctx, uint8_t *byte)
{
    (void)ctx; (void)byte;
    return 0;
}

static const struct dev_chardev null_chardev = { .write = null_write, .read = null_read };

const struct dev_chardev *vm_display_null_chardev(void)
{
    return &null_chardev;
}

bool vm_display_owns_terminal(const struct vm_options *opt)
{
    return opt->display == VM_DISPLAY_CURSES;
}

static void emit_key(void *opaque, uint16_t set1code, bool down)
{
    struct vm_display *d = opaque;
    if (d->kbc)
        dev_i8042_key(d->kbc, set1code, down);
}

/* Terminal bytes (the console's input ring) to PS/2 key events; a lone
 * ESC is the Escape key once no byte followed it for a while. */
static void feed_keys(struct vm_display *d, uint64_t now)
{
    const struct dev_chardev *con = vm_console_chardev();
    uint8_t b;
    bool any = false;
    while (con->read(con->ctx, &b) == 1) {
        vm_keymap_feed(&d->keymap, b, emit_key, d);
        d->last_key_ns = now;
        any = true;
    }
    if (vm_keymap_pending(&d->keymap) &&
        now - d->last_key_ns >= VM_KEYMAP_ESC_TIMEOUT_MS * 1000000ull) {
        vm_keymap_flush(&d->keymap, emit_key, d);
        any = true;
    }
    /* We are on the vcpu thread: move the keys into the keyboard now
     * (its output buffer, IRQ 1) instead of waiting for a guest access. */
    if (any && d->kbc)
        dev_i8042_poll(d->kbc);
}

static size_t text_bytes(const struct dev_vga_text *t)
{
    return offsetof(struct dev_vga_text, cell) + sizeof(uint16_t) * t->cols * t->rows;
}

/* VNC: render only while a viewer looks, and a text screen only when its
 * cells or cursor changed (rendering costs the vcpu; comparing does not). */
static void vnc_tick(struct vm_display *d, bool text)
{
    bool fresh = vm_vnc_take_new_client(d->vnc);
    if (!fresh && !vm_vnc_has_clients(d->vnc))
        return;
    if (text && !fresh && d->vnc_sent_text &&
        !memcmp(&d->vnc_last, &d->sample, text_bytes(&d->sample)))
        return;
    unsigned w, h;
    if (dev_vga_render(d->vga, &d->px, &d->px_cap, &w, &h) != 0)
        return;
    if (!w || !h) {   /* blank: a black frame of the last size */
        w = 640;
        h = 480;
        if (d->px_cap < (size_t)w * h) {
            free(d->px);
            d->px = calloc((size_t)w * h, sizeof(*d->px));
            d->px_cap = d->px ? (size_t)w * h : 0;
            if (!d->px)
                return;
        }
        memset(d->px, 0, (size_t)w * h * sizeof(*d->px));
    }
    vm_vnc_frame(d->vnc, d->px, w, h);
    d->vnc_sent_text = text;
    if (text)
        memcpy(&d->vnc_last, &d->sample, text_bytes(&d->sample));
}

/* vcpu thread: sample the screen, hand keys to the keyboard. */
static void display_tick(void *ctx, uint64_t now)
{
    struct vm_display *d = ctx;
    dev_timer_set(&d->timer, now + DISPLAY_PERIOD_NS);

    if (d->curses)
        feed_keys(d, now);
    bool text = dev_vga_text(d->vga, &d->sample);
    if (d->vnc) {
        vnc_tick(d, text);
        if (d->kbc)
            dev_i8042_poll(d->kbc);   /* the viewer's keys and pointer, queued by its thread */
    }
    if (!d->curses)
        return;
    pthread_mutex_lock(&d->mu);
    if (text) {
        size_t n = text_bytes(&d->sample);
        if (!d->next_text || memcmp(&d->next, &d->sample, n) != 0) {
            memcpy(&d->next, &d->sample, n);
            d->next_text = true;
            d->dirty = true;
        }
    } else if (d->next_text) {
        d->next_text = false;
        d->dirty = true;
    }
    if (d->dirty)
        pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

static void write_out(const char *buf, size_t n)
{
    while (n && vm_console_screen_owned()) {
        ssize_t w = write(STDOUT_FILENO, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        buf += w;
        n -= (size_t)w;
    }
}

static void *display_main(void *arg)
{
    struct vm_display *d = arg;
    static struct dev_vga_text cur;
    for (;;) {
        pthread_mutex_lock(&d->mu);
        while (!d->dirty && !d->quit)
            pthread_cond_wait(&d->cv, &d->mu);
        if (d->quit) {
            pthread_mutex_unlock(&d->mu);
            return NULL;
        }
        bool text = d->next_text;
        if (text)
            memcpy(&cur, &d->next, sizeof(cur));
        d->dirty = false;
        pthread_mutex_unlock(&d->mu);

        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
            continue;
        if (text) {
            vm_text_to_ansi(f, d->shown_valid ? &d->shown : NULL, &cur);
            memcpy(&d->shown, &cur, sizeof(cur));
            d->shown_valid = true;
            d->shown_gfx = false;
        } else if (!d->shown_gfx) {
            fputs("\033[0m\033[2J\033[H\033[?25l"
                  "btvm: the guest's screen is blank or in a graphics mode "
                  "(-display curses shows text modes only)", f);
            d->shown_valid = false;
            d->shown_gfx = true;
        }
        fclose(f);
        write_out(buf, len);
        free(buf);
    }
}

int vm_display_open(struct vm_display **out, struct vm *vm, struct dev_vga *vga,
                    struct dev_i8042 *kbc)
{
    const struct vm_options *opt = &vm->opt;
    *out = NULL;
    bool curses = opt->display == VM_DISPLAY_CURSES;
    if (!curses && !opt->vnc)
        return 0;
    if (!vga) {
        fprintf(stderr, "btvm: %s needs the VGA (not -vga none)\n",
                curses ? "-display curses" : "-vnc");
        return 2;
    }
    if (curses && !isatty(STDOUT_FILENO)) {
        fprintf(stderr, "btvm: -display curses: standard output is not a terminal\n");
        return 2;
    }
    struct vm_display *d = calloc(1, sizeof(*d));
    if (!d)
        return 1;
    d->vm = vm;
    d->vga = vga;
    d->kbc = kbc;
    d->curses = curses;
    vm_keymap_init(&d->keymap);
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    *out = d;   /* vm_display_close undoes whatever was done below */
    if (opt->vnc) {
        char err[160];
        d->vnc = vm_vnc_open(opt->vnc_display, kbc, err, sizeof(err));
        if (!d->vnc) {
            fprintf(stderr, "btvm: -vnc :%u: %s\n", opt->vnc_display, err);
            return 1;
        }
        if (!opt->quiet)
            fprintf(stderr, "btvm: VNC server on 127.0.0.1:%u (display :%u)\n",
                    5900 + opt->vnc_display, opt->vnc_display);
    }
    if (curses) {
        /* The alternate screen keeps the user's scrollback untouched. */
        static const char enter_screen[] = "\033[?1049h\033[2J";
        vm_console_take_screen(leave_screen);
        write_out(enter_screen, strlen(enter_screen));
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);   /* signals are the vcpu thread's */
        int r = pthread_create(&d->thread, NULL, display_main, d);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r) {
            fprintf(stderr, "btvm: cannot start the display thread: %s\n", strerror(r));
            return 1;
        }
        d->thread_started = true;
    }
    d->timer.fire = display_tick;
    d->timer.ctx = d;
    dev_timer_set(&d->timer, dev_clock_ns() + DISPLAY_PERIOD_NS);
    dev_timers_add(vm->timers, &d->timer);
    return 0;
}

void vm_display_close(struct vm_display *d)
{
    if (!d)
        return;
    /* Off the machine's timer list: the list outlives this struct. */
    for (struct dev_timer **pp = &d->vm->timers->head; *pp; pp = &(*pp)->next)
        if (*pp == &d->timer) {
            *pp = d->timer.next;
            break;
        }
    if (d->thread_started) {
        pthread_mutex_lock(&d->mu);
        d->quit = true;
        pthread_cond_signal(&d->cv);
        pthread_mutex_unlock(&d->mu);
        pthread_join(d->thread, NULL);
    }
    if (d->curses)
        vm_console_close();
    vm_vnc_close(d->vnc);
    free(d->px);
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
    free(d);
}

int vm_display_screendump_file(struct dev_vga *vga, const char *file, bool ppm)
{
    uint32_t *px = NULL;
    size_t cap = 0;
    unsigned w = 0, h = 0;
    int r = vga ? dev_vga_render(vga, &px, &cap, &w, &h) : 0;
    if (r == 0 && (!w || !h)) {
        /* Blank (or no VGA): a black 640x480 frame, what a monitor shows. */
        w = 640;
        h = 480;
        free(px);
        px = calloc((size_t)w * h, sizeof(*px));
        r = px ? 0 : -ENOMEM;
    }
    if (r == 0)
        r = ppm ? vm_ppm_write(file, px, w, h) : vm_png_write(file, px, w, h);
    free(px);
    return r;
}

bool vm_display_file_is_ppm(const char *file)
{
    size_t n = strlen(file);
    return n > 4 && !strcmp(file + n - 4, ".ppm");
}

int vm_display_screendump(const struct vm_options *opt, struct dev_vga *vga)
{
    int st = 0;
    if (opt->screendump) {
        int r = vm_display_screendump_file(vga, opt->screendump,
                                           vm_display_file_is_ppm(opt->screendump));
        if (r) {
            fprintf(stderr, "btvm: --screendump %s: %s\n", opt->screendump, strerror(-r));
            st = -1;
        }
    }
    if (opt->screendump_text) {
        struct dev_vga_text *t = malloc(sizeof(*t));
        if (!t || !vga || !dev_vga_text(vga, t)) {
            fprintf(stderr, "btvm: --screendump-text %s: the screen is not in a text mode\n",
                    opt->screendump_text);
            free(t);
            return -1;
        }
        FILE *f = fopen(opt->screendump_text, "w");
        if (!f) {
            fprintf(stderr, "btvm: --screendump-text %s: %s\n", opt->screendump_text,
                    strerror(errno));
            free(t);
            return -1;
        }
        vm_text_dump(f, t);
        free(t);
        if (fclose(f) != 0) {
            fprintf(stderr, "btvm: --screendump-text %s: write failed\n", opt->screendump_text);
            st = -1;
        }
    }
    return st;
}
