/*
 * guests/compute/native_main.c — hosted main for compute-native: the same
 * compute.c built for the x86-64 host, printing what the guest prints.
 */
#include <stdio.h>
#include "compute.h"

void compute_report(const char *part, uint32_t value)
{
    printf("%s: %08x\n", part, (unsigned)value);
}

int main(void)
{
    printf("compute checksum: %08x\n", (unsigned)compute_run());
    return 0;
}
