/*
 * tests/tools/vncgrab.c — a minimal VNC viewer for tests/guest/vgatest.sh
 * (libvncclient): connects to 127.0.0.1:PORT, takes framebuffer updates
 * for SECONDS, writes the picture as a binary PPM, then types the given
 * X keysyms (hex, each pressed and released) and waits a moment for them
 * to be sent.
 *   vncgrab PORT SECONDS OUT.ppm [KEYSYM...]
 * Exit status 0, or 1 with a line on stderr.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rfb/rfbclient.h>

static int updates;

static void got_update(rfbClient *cl, int x, int y, int w, int h)
{
    (void)cl; (void)x; (void)y; (void)w; (void)h;
    updates++;
}

static void quiet(const char *fmt, ...)
{
    (void)fmt;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* false: the server went away. */
static bool pump(rfbClient *cl, double seconds)
{
    double end = now() + seconds;
    while (now() < end) {
        int n = WaitForMessage(cl, 50000);
        if (n < 0 || (n > 0 && !HandleRFBServerMessage(cl)))
            return false;
    }
    return true;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: vncgrab PORT SECONDS OUT.ppm [KEYSYM...]\n");
        return 1;
    }
    rfbClientLog = quiet;
    rfbClientErr = quiet;
    rfbClient *cl = rfbGetClient(8, 3, 4);
    cl->serverHost = strdup("127.0.0.1");
    cl->serverPort = atoi(argv[1]);
    cl->GotFrameBufferUpdate = got_update;
    cl->appData.encodingsString = "raw";   /* lossless: Tight would send JPEG */
    if (!rfbInitClient(cl, NULL, NULL)) {   /* frees cl on failure */
        fprintf(stderr, "vncgrab: cannot connect to 127.0.0.1:%s\n", argv[1]);
        return 1;
    }
    if (!pump(cl, atof(argv[2]))) {
        fprintf(stderr, "vncgrab: connection lost\n");
        return 1;
    }
    if (!updates) {
        fprintf(stderr, "vncgrab: no framebuffer update\n");
        return 1;
    }
    FILE *f = fopen(argv[3], "wb");
    if (!f) {
        perror(argv[3]);
        return 1;
    }
    int w = cl->width, h = cl->height;
    fprintf(f, "P6\n%d %d\n255\n", w, h);
    const uint8_t *fb = cl->frameBuffer;   /* 32 bits, red in the lowest byte */
    for (int i = 0; i < w * h; i++)
        fwrite(fb + 4 * i, 1, 3, f);
    fclose(f);
    /* The last key may end the guest, and the server with it. */
    bool up = true;
    for (int i = 4; i < argc && up; i++) {
        uint32_t ks = (uint32_t)strtoul(argv[i], NULL, 16);
        SendKeyEvent(cl, ks, TRUE);
        SendKeyEvent(cl, ks, FALSE);
        up = pump(cl, 0.2);
    }
    if (up)
        pump(cl, 0.3);
    rfbClientCleanup(cl);
    return 0;
}
