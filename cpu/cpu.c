/*
 * cpu/cpu.c — vcpu reset (Multiboot entry state, power-on state), the CPUID model and the register dump.
 *
 * The CPUID model advertises only what btvm virtualizes correctly (see
 * docs/cpuid.md); never VMX/SVM.
 */
#include "cpu/cpu.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>
#include "shadowmmu/smmu.h"

void cpu_smmu_view(const struct cpu *c, struct smmu_cpu_view *v)
{
    *v = (struct smmu_cpu_view){
        .cr0 = &c->cr0, .cr3 = &c->cr3, .cr4 = &c->cr4, .efer = &c->efer,
        .cpl = &c->cpl, .sys_access = &c->sys_access,
    };
}

static void flat_seg(struct cpu_segment *s, uint16_t sel, uint32_t type)
{
    s->sel = sel;
    s->base = 0;
    s->limit = 0xFFFFFFFF;
    s->flags = type | CPU_SEGF_S | CPU_SEGF_P | CPU_SEGF_DB | CPU_SEGF_G;
}

void cpu_seg_bounds(struct cpu *c, int i)
{
    const struct cpu_segment *s = &c->segs[i];
    unsigned type = s->flags & CPU_SEGF_TYPE;
    bool present = s->flags & CPU_SEGF_P;
    if (!present && (c->cr0 & CPU_CR0_PE)) {
        c->seg_lo[i] = 1; /* unusable (null): every access faults */
        c->seg_hi[i] = 0;
    } else if ((s->flags & CPU_SEGF_S) && !(type & 8) && (type & 4)) {
        /* Expand-down data: offsets above the limit, up to 64 KiB or 4 GiB. */
        c->seg_lo[i] = s->limit + 1;
        c->seg_hi[i] = (s->flags & CPU_SEGF_DB) ? 0xFFFFFFFFu : 0xFFFFu;
    } else {
        c->seg_lo[i] = 0;
        c->seg_hi[i] = s->limit;
    }
    bool code = (s->flags & CPU_SEGF_S) && (type & 8);
    if (present && code && !(type & 2) && (c->cr0 & CPU_CR0_PE)) {
        c->seg_lo[i] = 1; /* execute-only code: no data reads */
        c->seg_hi[i] = 0;
    }
    /* Writes need a writable data segment (SDM vol. 3 5.4.1). */
    bool writable = !(c->cr0 & CPU_CR0_PE) || ((s->flags & CPU_SEGF_S) && !(type & 8) && (type & 2));
    c->seg_wlo[i] = writable ? c->seg_lo[i] : 1;
    c->seg_whi[i] = writable ? c->seg_hi[i] : 0;
}

void cpu_reset_flat32(struct cpu *c)
{
    memset(c->regs, 0, sizeof(c->regs));
    c->eflags = CPU_FL_FIX1;
    c->eip = 0;
    for (int i = 0; i < CPU_NSEG; i++) {
        flat_seg(&c->segs[i], 0x10, 0x3); /* read/write data, accessed */
        c->seg_base[i] = 0;
    }
    flat_seg(&c->segs[CPU_CS], 0x08, 0xB); /* execute/read code, accessed */
    c->cr0 = CPU_CR0_PE | CPU_CR0_ET;
    for (int i = 0; i < CPU_NSEG; i++)
        cpu_seg_bounds(c, i);
    c->cr0 = CPU_CR0_PE | CPU_CR0_ET;
    c->cr2 = c->cr3 = c->cr4 = 0;
    c->cpl = 0;
    c->halted = false;
    c->pending_vector = -1;
    c->shadow = false;
    c->gdtr.base = 0; c->gdtr.limit = 0xFFFF;
    c->idtr.base = 0; c->idtr.limit = 0xFFFF;
    c->msr_apic_base = 0xFEE00900;
    /* Fast strings on (bit 0), BTS and PEBS unavailable (bits 11, 12). */
    c->msr_misc_enable = 1u | (1u << 11) | (1u << 12);
    c->efer = 0;
    /* Default x87/SSE state: FCW 0x37F, MXCSR 0x1F80 (SDM vol. 1, 10.5.1). */
    memset(c->fxstate, 0, sizeof(c->fxstate));
    c->fxstate[0] = 0x7F; c->fxstate[1] = 0x03;
    uint32_t mxcsr = 0x1F80, mask = 0xFFFF;
    memcpy(&c->fxstate[24], &mxcsr, 4);
    memcpy(&c->fxstate[28], &mask, 4);
}

/* Power-on / RESET state (SDM vol. 3 9.1.1, table 9-1): real mode, CS
 * selector F000 with the hidden base FFFF0000 so the first fetch is at
 * FFFFFFF0 (the base becomes selector * 16 at the first CS load), every
 * other segment 0 with a 64 KiB limit, EDX the processor signature. The
 * hidden attributes are those of a present, writable, accessed data
 * segment (0x93), CS included, as the table gives them. */
void cpu_power_on(struct cpu *c)
{
    memset(c->regs, 0, sizeof(c->regs));
    c->eip = 0xFFF0;
    c->eflags = CPU_FL_FIX1;
    c->cr0 = 0x60000000u | CPU_CR0_ET; /* CD, NW, ET */
    c->cr2 = c->cr3 = c->cr4 = 0;
    for (int i = 0; i < CPU_NSEG; i++)
        c->segs[i] = (struct cpu_segment){ .sel = 0, .base = 0, .limit = 0xFFFF,
                                           .flags = CPU_SEGF_P | CPU_SEGF_S | 0x3 };
    c->segs[CPU_CS].sel = 0xF000;
    c->segs[CPU_CS].base = 0xFFFF0000u;
    for (int i = 0; i < CPU_NSEG; i++) {
        c->seg_base[i] = c->segs[i].base;
        cpu_seg_bounds(c, i);
    }
    c->gdtr = (struct cpu_dtr){ .base = 0, .limit = 0xFFFF };
    c->idtr = (struct cpu_dtr){ .base = 0, .limit = 0xFFFF };
    /* LDTR and TR: selector 0, limit FFFF, "present, R/W" (type 2). */
    c->ldtr = (struct cpu_segment){ .limit = 0xFFFF, .flags = CPU_SEGF_P | 0x2 };
    c->tr = (struct cpu_segment){ .limit = 0xFFFF, .flags = CPU_SEGF_P | 0x2 };
    memset(c->dr, 0, sizeof(c->dr));
    c->dr[6] = 0xFFFF0FF0u;
    c->dr[7] = 0x400;
    c->efer = 0;
    c->cpl = 0;
    c->sys_access = 0;
    c->halted = false;
    c->pending_vector = -1;
    c->shadow = false;
    c->msr_sysenter_cs = c->msr_sysenter_esp = c->msr_sysenter_eip = 0;
    c->msr_apic_base = 0xFEE00900; /* enabled, BSP */
    c->msr_misc_enable = 1u | (1u << 11) | (1u << 12);
    /* x87 after power-up: FCW 0040, FSW 0, all tags "zero" (5555: the
     * abridged fxsave tag byte has every register valid), MXCSR 1F80. */
    memset(c->fxstate, 0, sizeof(c->fxstate));
    c->fxstate[0] = 0x40;
    c->fxstate[4] = 0xFF;
    uint32_t mxcsr = 0x1F80, mask = 0xFFFF;
    memcpy(&c->fxstate[24], &mxcsr, 4);
    memcpy(&c->fxstate[28], &mask, 4);
    uint32_t sig[4];
    cpu_cpuid(c, 1, 0, sig);
    c->regs[CPU_EDX] = sig[0];
}

static void put_str(uint32_t *dst, const char *s12)
{
    memcpy(dst, s12, 12);
}

/* The host TSC's rate (the guest's TSC is the host's), measured against
 * CLOCK_MONOTONIC from process start to the first question: by then the
 * interval is long enough for parts-per-million accuracy. */
static uint64_t tsc0, ns0;

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

__attribute__((constructor)) static void tsc_start(void)
{
    ns0 = mono_ns();
    tsc0 = __rdtsc();
}

uint64_t cpu_host_tsc_hz(void)
{
    static uint64_t hz;
    if (hz)
        return hz;
    uint64_t ns;
    while ((ns = mono_ns()) - ns0 < 20000000u)
        ; /* at least 20 ms */
    uint64_t t = __rdtsc();
    hz = (uint64_t)((unsigned __int128)(t - tsc0) * 1000000000u / (ns - ns0));
    return hz;
}

void cpu_cpuid(const struct cpu *c, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
    (void)c;
    static const char brand[48] = "btvm virtual CPU (binary translation)";
    memset(out, 0, 16);
    switch (leaf) {
    case 0: {
        uint32_t v[3];
        put_str(v, "GenuineIntel");
        out[0] = 0x15; out[1] = v[0]; out[3] = v[1]; out[2] = v[2];
        break;
    }
    case 1:
        /* Family 6, model 15, stepping 1 (a Core 2: the last i686 generation). */
        out[0] = (6 << 8) | (15 << 4) | 1;
        out[1] = (1 << 16) | (8 << 8); /* 1 logical processor, clflush 64 bytes */
        /* ECX: SSE3, hypervisor present. */
        out[2] = (1u << 0) | (1u << 31);
        /* EDX: FPU PSE TSC PAE CX8 SEP PGE CMOV MMX FXSR SSE SSE2 (virtualized exactly). */
        out[3] = (1u << 0) | (1u << 3) | (1u << 4) | (1u << 6) | (1u << 8) | (1u << 11) |
                 (1u << 13) | (1u << 15) | (1u << 23) | (1u << 24) | (1u << 25) | (1u << 26);
        if (c && (c->platform & CPU_PLAT_APIC)) {
            /* APIC follows IA32_APIC_BASE's global enable (SDM vol. 3
             * 10.4.3); the initial APIC ID is in EBX[31:24] (0: the BSP). */
            uint64_t base = 0;
            if (!c->env || !c->env->msr_read || c->env->msr_read(c->env_ctx, 0x1B, &base) ||
                (base & (1u << 11)))
                out[3] |= 1u << 9;
            if (c->platform & CPU_PLAT_TSC_DEADLINE)
                out[2] |= 1u << 24;
        }
        break;
    case 7:
        /* EDX bit 29: IA32_ARCH_CAPABILITIES, when the host gives it any
         * bit (cpu/hostvuln.c); subleaf 0 only. */
        if (subleaf == 0 && cpu_host_arch_caps())
            out[3] = 1u << 29;
        break;
    case 0x15: {
        /* TSC/crystal ratio and crystal Hz: the guest learns the TSC rate
         * without calibrating it against the PIT, which a busy host makes
         * fail (docs/cpuid.md). Crystal = TSC (ratio 1, or 2 past 4 GHz). */
        uint64_t hz = cpu_host_tsc_hz();
        uint32_t div = hz > 0xFFFFFFFFull ? 2 : 1;
        out[0] = 1;
        out[1] = div;
        out[2] = (uint32_t)(hz / div);
        break;
    }
    case 0x80000000:
        out[0] = 0x80000004;
        break;
    case 0x80000001:
        out[3] = 1u << 20; /* NX (PAE paging, EFER.NXE) */
        break;
    case 0x80000002: case 0x80000003: case 0x80000004:
        memcpy(out, brand + 16 * (leaf - 0x80000002), 16);
        break;
    default:
        /* Leaves past the maximum return the highest basic leaf's values on
         * Intel; btvm answers zeros and keeps the maximum small instead. */
        break;
    }
}

const char *cpu_reg_name(enum cpu_reg r)
{
    static const char *n[8] = { "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi" };
    return n[r & 7];
}

void cpu_dump(const struct cpu *c, void *stream)
{
    FILE *f = stream;
    fprintf(f, "  EIP=%08x EFLAGS=%08x CPL=%u CR0=%08x CR2=%08x CR3=%08x CR4=%08x\n",
            c->eip, c->eflags, c->cpl, c->cr0, c->cr2, c->cr3, c->cr4);
    for (int i = 0; i < 8; i++)
        fprintf(f, "  %s=%08x%s", cpu_reg_name(i), c->regs[i], (i % 4 == 3) ? "\n" : "");
    static const char *sn[CPU_NSEG] = { "es", "cs", "ss", "ds", "fs", "gs" };
    for (int i = 0; i < CPU_NSEG; i++)
        fprintf(f, "  %s=%04x base=%08x limit=%08x flags=%04x\n", sn[i], c->segs[i].sel,
                c->segs[i].base, c->segs[i].limit, c->segs[i].flags);
    fprintf(f, "  GDTR=%08x/%04x IDTR=%08x/%04x\n", c->gdtr.base, c->gdtr.limit, c->idtr.base,
            c->idtr.limit);
}
