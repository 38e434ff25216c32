/*
 * cpu/hostvuln.c — IA32_ARCH_CAPABILITIES from the host's own verdicts.
 *
 * Under binary translation the guest's instructions run as host
 * instructions on the host CPU, so whether the guest can be attacked
 * through a CPU data-sampling or Meltdown-class flaw is the host CPU's
 * property. The guest's own mitigations would not help: its VERW (the MDS
 * buffer clear) is emulated, not executed. So the model reports the
 * "not affected" bits exactly where the host kernel says "Not affected"
 * (/sys/devices/system/cpu/vulnerabilities), and a guest on an unaffected
 * host skips mitigations that cost it a callout per system call. On an
 * affected host the bits stay clear and the guest sees what it would see
 * on that hardware. See docs/cpuid.md.
 */
#include "cpu/cpu.h"

#include <stdio.h>
#include <string.h>

static bool host_not_affected(const char *name)
{
    char path[128], line[64];
    snprintf(path, sizeof(path), "/sys/devices/system/cpu/vulnerabilities/%s", name);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool no = fgets(line, sizeof(line), f) && strncmp(line, "Not affected", 12) == 0;
    fclose(f);
    return no;
}

uint64_t cpu_host_arch_caps(void)
{
    static const struct { const char *file; uint64_t bits; } map[] = {
        { "meltdown", 1ull << 0 },                 /* RDCL_NO */
        { "spec_store_bypass", 1ull << 4 },        /* SSB_NO */
        { "mds", 1ull << 5 },                      /* MDS_NO */
        { "itlb_multihit", 1ull << 6 },            /* PSCHANGE_MC_NO */
        { "tsx_async_abort", 1ull << 8 },          /* TAA_NO */
        /* SBDR_SSDP_NO, FBSDP_NO, PSDP_NO */
        { "mmio_stale_data", (1ull << 13) | (1ull << 14) | (1ull << 15) },
        { "gather_data_sampling", 1ull << 26 },    /* GDS_NO */
        { "reg_file_data_sampling", 1ull << 27 },  /* RFDS_NO */
        { "indirect_target_selection", 1ull << 62 }, /* ITS_NO */
    };
    static bool done;
    static uint64_t caps;
    if (!done) {
        for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
            if (host_not_affected(map[i].file))
                caps |= map[i].bits;
        done = true;
    }
    return caps;
}
