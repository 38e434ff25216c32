/*
 * guests/rtctest/rtctest.c — reads the CMOS clock the way a BIOS or an OS
 * does (wait for no update in progress, read until two reads agree, honour
 * register B's BCD and 12-hour modes, century from CMOS 0x32) and prints
 * "rtctest: YYYY-MM-DD HH:MM:SS" for tests/guest/rtctest.sh to compare
 * with the host's clock.
 */
#include "guest.h"

static uint8_t cmos(uint8_t reg)
{
    outb(0x70, reg);
    return inb(0x71);
}

struct rtc_time { uint8_t s, m, h, d, mo, y, c; };

static void read_once(struct rtc_time *t)
{
    while (cmos(0x0a) & 0x80)      /* UIP: an update is under way */
        ;
    t->s = cmos(0x00); t->m = cmos(0x02); t->h = cmos(0x04);
    t->d = cmos(0x07); t->mo = cmos(0x08); t->y = cmos(0x09); t->c = cmos(0x32);
}

static unsigned bin(uint8_t v, int bcd)
{
    return bcd ? (v >> 4) * 10 + (v & 15) : v;
}

int guest_main(uint32_t magic, uint32_t mbi)
{
    (void)magic;
    (void)mbi;
    struct rtc_time a, b;
    read_once(&b);
    do {
        a = b;
        read_once(&b);
    } while (memcmp(&a, &b, sizeof(a)));
    uint8_t regb = cmos(0x0b);
    int bcd = !(regb & 0x04), h12 = !(regb & 0x02);
    unsigned hour = bin(b.h & 0x7f, bcd);
    if (h12) {                      /* 12-hour mode: bit 7 is PM, 12 means 0 */
        hour %= 12;
        if (b.h & 0x80)
            hour += 12;
    }
    gprintf("rtctest: %02u%02u-%02u-%02u %02u:%02u:%02u (register B %02x)\n", bin(b.c, bcd),
            bin(b.y, bcd), bin(b.mo, bcd), bin(b.d, bcd), hour, bin(b.m, bcd), bin(b.s, bcd), regb);
    return 0;
}
