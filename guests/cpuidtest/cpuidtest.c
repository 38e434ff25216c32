/*
 * guests/cpuidtest/cpuidtest.c — prints the CPUID leaves a guest keys its
 * code paths off ("cpuid LEAF: EAX EBX ECX EDX"), for tests/guest/cpuid.sh
 * to compare with QEMU's CPU model and the host's. Judges nothing itself.
 */
#include "guest.h"

static void show(uint32_t leaf)
{
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(leaf), "c"(0));
    gprintf("cpuid %08x: %08x %08x %08x %08x\n", leaf, a, b, c, d);
}

int guest_main(uint32_t magic, uint32_t mbi)
{
    (void)magic;
    (void)mbi;
    static const uint32_t leaves[] = { 0, 1, 7, 0x80000000u, 0x80000001u };
    for (unsigned i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++)
        show(leaves[i]);
    gprintf("cpuidtest: done\n");
    return 0;
}
