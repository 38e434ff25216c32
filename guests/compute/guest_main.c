/*
 * guests/compute/guest_main.c — the compute benchmark as a btvm guest:
 * per-part checksums and the final checksum on COM1, then exit 0.
 */
#include "guest.h"
#include "compute.h"

void compute_report(const char *part, uint32_t value)
{
    gprintf("%s: %08x\n", part, value);
}

int guest_main(uint32_t magic, uint32_t mbi)
{
    (void)magic;
    (void)mbi;
    gprintf("compute: start\n");
    gprintf("compute checksum: %08x\n", compute_run());
    return 0;
}
