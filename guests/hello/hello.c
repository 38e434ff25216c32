/*
 * guests/hello/hello.c — the smallest btvm guest: one greeting on COM1,
 * then exit 0 through debug-exit. The first thing to boot on a new engine.
 */
#include "guest.h"

int guest_main(uint32_t magic, uint32_t mbi)
{
    (void)magic;
    (void)mbi;
    serial_puts("Hello from btvm guest!\n");
    return 0;
}
