/*
 * vm/display_vnc.c — -vnc :N through libvncserver. The server runs its
 * own thread (rfbRunEventLoop in the background); the display's sampling
 * tick (vcpu thread) renders only while a viewer is connected and copies
 * the frame in, marking the rows that changed. Viewers' keys arrive as X
 * keysyms and become PS/2 key events by the physical key that types them
 * (the viewer sends Shift separately); pointer positions become relative
 * PS/2 mouse motion. docs/display.md.
 */
#include "vm/display_vnc.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rfb/rfb.h>

#include "devices/i8042.h"

struct vm_vnc {
    rfbScreenInfoPtr screen;
    struct dev_i8042 *kbc;
    uint32_t *fb;              /* what viewers see, in the server's byte order */
    unsigned w, h;
    int last_x, last_y, last_buttons;
    bool have_pos;
    int clients;               /* server thread writes, vcpu thread reads */
    int new_client;
};

static const uint8_t ascii_set1[128] = {
    [' '] = 0x39, ['!'] = 0x02, ['"'] = 0x28, ['#'] = 0x04, ['$'] = 0x05, ['%'] = 0x06,
    ['&'] = 0x08, ['\''] = 0x28, ['('] = 0x0A, [')'] = 0x0B, ['*'] = 0x09, ['+'] = 0x0D,
    [','] = 0x33, ['-'] = 0x0C, ['.'] = 0x34, ['/'] = 0x35, ['0'] = 0x0B, ['1'] = 0x02,
    ['2'] = 0x03, ['3'] = 0x04, ['4'] = 0x05, ['5'] = 0x06, ['6'] = 0x07, ['7'] = 0x08,
    ['8'] = 0x09, ['9'] = 0x0A, [':'] = 0x27, [';'] = 0x27, ['<'] = 0x33, ['='] = 0x0D,
    ['>'] = 0x34, ['?'] = 0x35, ['@'] = 0x03, ['['] = 0x1A, ['\\'] = 0x2B, [']'] = 0x1B,
    ['^'] = 0x07, ['_'] = 0x0C, ['`'] = 0x29, ['{'] = 0x1A, ['|'] = 0x2B, ['}'] = 0x1B,
    ['~'] = 0x29,
    ['a'] = 0x1E, ['b'] = 0x30, ['c'] = 0x2E, ['d'] = 0x20, ['e'] = 0x12, ['f'] = 0x21,
    ['g'] = 0x22, ['h'] = 0x23, ['i'] = 0x17, ['j'] = 0x24, ['k'] = 0x25, ['l'] = 0x26,
    ['m'] = 0x32, ['n'] = 0x31, ['o'] = 0x18, ['p'] = 0x19, ['q'] = 0x10, ['r'] = 0x13,
    ['s'] = 0x1F, ['t'] = 0x14, ['u'] = 0x16, ['v'] = 0x2F, ['w'] = 0x11, ['x'] = 0x2D,
    ['y'] = 0x15, ['z'] = 0x2C,
};

static const struct { uint16_t keysym; uint16_t set1; } special[] = {
    { 0xFF08, 0x0E },   { 0xFF09, 0x0F },   { 0xFE20, 0x0F },   { 0xFF0D, 0x1C },
    { 0xFF1B, 0x01 },   { 0xFFFF, 0xE053 }, { 0xFF50, 0xE047 }, { 0xFF51, 0xE04B },
    { 0xFF52, 0xE048 }, { 0xFF53, 0xE04D }, { 0xFF54, 0xE050 }, { 0xFF55, 0xE049 },
    { 0xFF56, 0xE051 }, { 0xFF57, 0xE04F }, { 0xFF63, 0xE052 }, { 0xFF61, 0xE037 },
    { 0xFF13, DEV_I8042_KEY_PAUSE },
    { 0xFFC8, 0x57 },   { 0xFFC9, 0x58 },   /* F11, F12 */
    { 0xFFE1, 0x2A },   { 0xFFE2, 0x36 },   { 0xFFE3, 0x1D },   { 0xFFE4, 0xE01D },
    { 0xFFE9, 0x38 },   { 0xFFEA, 0xE038 }, { 0xFE03, 0xE038 }, { 0xFFE5, 0x3A },
    { 0xFFEB, 0xE05B }, { 0xFFEC, 0xE05C }, { 0xFFE7, 0xE05B }, { 0xFFE8, 0xE05C },
    { 0xFF67, 0xE05D }, { 0xFF7F, 0x45 },   { 0xFF14, 0x46 },
    { 0xFF8D, 0xE01C }, { 0xFFAE, 0x53 },   { 0xFFAB, 0x4E },   { 0xFFAD, 0x4A },
    { 0xFFAA, 0x37 },   { 0xFFAF, 0xE035 }, { 0xFF9F, 0x53 },   { 0xFF9E, 0x52 },
    { 0xFF95, 0x47 },   { 0xFF96, 0x4B },   { 0xFF97, 0x48 },   { 0xFF98, 0x4D },
    { 0xFF99, 0x50 },   { 0xFF9A, 0x49 },   { 0xFF9B, 0x51 },   { 0xFF9C, 0x4F },
    { 0xFF9D, 0x4C },
};

uint16_t vm_vnc_keysym_set1(uint32_t ks)
{
    if (ks < 0x80)
        return ks >= 'A' && ks <= 'Z' ? ascii_set1[ks + 32] : ascii_set1[ks];
    if (ks >= 0xFFBE && ks <= 0xFFC7)          /* F1-F10 */
        return (uint16_t)(0x3B + (ks - 0xFFBE));
    if (ks >= 0xFFB0 && ks <= 0xFFB9) {        /* keypad digits */
        static const uint8_t kp[10] = { 0x52, 0x4F, 0x50, 0x51, 0x4B, 0x4C, 0x4D, 0x47, 0x48,
                                        0x49 };
        return kp[ks - 0xFFB0];
    }
    for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++)
        if (special[i].keysym == ks)
            return special[i].set1;
    return 0;
}

static void on_key(rfbBool down, rfbKeySym ks, rfbClientPtr cl)
{
    struct vm_vnc *v = cl->screen->screenData;
    uint16_t code = vm_vnc_keysym_set1((uint32_t)ks);
    if (code && v->kbc)
        dev_i8042_key(v->kbc, code, down);
}

static void on_pointer(int mask, int x, int y, rfbClientPtr cl)
{
    struct vm_vnc *v = cl->screen->screenData;
    int dx = v->have_pos ? x - v->last_x : 0, dy = v->have_pos ? y - v->last_y : 0;
    int prev = v->last_buttons;
    /* RFB: bit 0 left, 1 middle, 2 right, 3/4 wheel up/down (a press per
     * notch). PS/2 here: bit 0 left, 1 right, 2 middle. */
    unsigned buttons = (mask & 1) | (mask & 4 ? 2 : 0) | (mask & 2 ? 4 : 0);
    unsigned before = (prev & 1) | (prev & 4 ? 2 : 0) | (prev & 2 ? 4 : 0);
    int dz = ((mask & 16) && !(prev & 16)) - ((mask & 8) && !(prev & 8));
    v->last_x = x;
    v->last_y = y;
    v->last_buttons = mask;
    v->have_pos = true;
    if (v->kbc && (dx || dy || dz || buttons != before))
        dev_i8042_mouse(v->kbc, dx, dy, dz, buttons);
    rfbDefaultPtrAddEvent(mask, x, y, cl);
}

static void on_gone(rfbClientPtr cl)
{
    struct vm_vnc *v = cl->screen->screenData;
    __atomic_sub_fetch(&v->clients, 1, __ATOMIC_RELEASE);
}

static enum rfbNewClientAction on_new(rfbClientPtr cl)
{
    struct vm_vnc *v = cl->screen->screenData;
    cl->clientGoneHook = on_gone;
    __atomic_add_fetch(&v->clients, 1, __ATOMIC_RELEASE);
    __atomic_store_n(&v->new_client, 1, __ATOMIC_RELEASE);
    return RFB_CLIENT_ACCEPT;
}

static void quiet_log(const char *fmt, ...)
{
    (void)fmt;
}

struct vm_vnc *vm_vnc_open(unsigned display, struct dev_i8042 *kbc, char *err, size_t errlen)
{
    struct vm_vnc *v = calloc(1, sizeof(*v));
    if (!v) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    v->kbc = kbc;
    v->w = 640;
    v->h = 480;
    v->fb = calloc((size_t)v->w * v->h, 4);
    rfbLog = quiet_log;
    rfbErr = quiet_log;
    int argc = 1;
    char *argv[] = { "btvm", NULL };
    v->screen = v->fb ? rfbGetScreen(&argc, argv, (int)v->w, (int)v->h, 8, 3, 4) : NULL;
    if (!v->screen) {
        snprintf(err, errlen, "cannot create the VNC server");
        free(v->fb);
        free(v);
        return NULL;
    }
    rfbScreenInfoPtr s = v->screen;
    s->screenData = v;
    s->frameBuffer = (char *)v->fb;
    s->desktopName = "btvm";
    s->alwaysShared = TRUE;
    s->port = 5900 + (int)display;
    s->ipv6port = 5900 + (int)display;
    s->listenInterface = htonl(INADDR_LOOPBACK);
    s->listen6Interface = "::1";
    s->httpPort = -1;
    s->cursor = NULL;   /* the guest draws its own pointer, if any */
    s->kbdAddEvent = on_key;
    s->ptrAddEvent = on_pointer;
    s->newClientHook = on_new;
    rfbInitServer(s);
    if (s->listenSock == RFB_INVALID_SOCKET) {
        snprintf(err, errlen, "cannot listen on 127.0.0.1:%d", s->port);
        rfbScreenCleanup(s);
        free(v->fb);
        free(v);
        return NULL;
    }
    /* Its thread must not take the signals meant for the vcpu thread. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    rfbRunEventLoop(s, 20000, TRUE);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return v;
}

void vm_vnc_close(struct vm_vnc *v)
{
    if (!v)
        return;
    rfbShutdownServer(v->screen, TRUE);
    rfbScreenCleanup(v->screen);
    free(v->fb);
    free(v);
}

bool vm_vnc_has_clients(struct vm_vnc *v)
{
    return __atomic_load_n(&v->clients, __ATOMIC_ACQUIRE) > 0;
}

bool vm_vnc_take_new_client(struct vm_vnc *v)
{
    return __atomic_exchange_n(&v->new_client, 0, __ATOMIC_ACQ_REL);
}

void vm_vnc_frame(struct vm_vnc *v, const uint32_t *px, unsigned w, unsigned h)
{
    if (!w || !h)
        return;
    if (w != v->w || h != v->h) {
        uint32_t *nfb = calloc((size_t)w * h, 4);
        if (!nfb)
            return;
        uint32_t *old = v->fb;
        v->fb = nfb;
        v->w = w;
        v->h = h;
        rfbNewFramebuffer(v->screen, (char *)nfb, (int)w, (int)h, 8, 3, 4);
        free(old);
        memset(nfb, 0xFF, (size_t)w * h * 4);   /* differs from any frame: all sent */
    }
    /* The server's default 32-bit format has red in the lowest byte. */
    int top = -1, bottom = -1;
    static uint32_t row[16384];
    for (unsigned y = 0; y < h; y++) {
        const uint32_t *src = px + (size_t)y * w;
        for (unsigned x = 0; x < w; x++) {
            uint32_t c = src[x];
            row[x] = (c >> 16 & 0xFF) | (c & 0xFF00) | (c & 0xFF) << 16;
        }
        uint32_t *dst = v->fb + (size_t)y * w;
        if (memcmp(dst, row, (size_t)w * 4)) {
            memcpy(dst, row, (size_t)w * 4);
            if (top < 0)
                top = (int)y;
            bottom = (int)y;
        }
    }
    if (top >= 0)
        rfbMarkRectAsModified(v->screen, 0, top, (int)w, bottom + 1);
}
