/*
 * cpu/cpu.h — the virtual CPU's architectural state.
 *
 * One struct cpu per vcpu, holding guest-visible state only: an engine keeps
 * its own per-vcpu state in its own struct (bt/bt.h struct bt_vcpu, hav/).
 * The translated code keeps the eight general registers in host registers
 * while it runs and spills them here on every exit and callout; everything
 * else (EIP, EFLAGS system bits, segments, control registers) lives here all
 * the time. Offsets of the hot part are used by emitted host code, so its
 * layout is part of the contract with bt/ (bt/offsets.h names them and bt/
 * pins them with static asserts).
 */
#ifndef BTVM_CPU_H
#define BTVM_CPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Guest general registers in x86 encoding order. */
enum cpu_reg { CPU_EAX, CPU_ECX, CPU_EDX, CPU_EBX, CPU_ESP, CPU_EBP, CPU_ESI, CPU_EDI };

enum cpu_seg { CPU_ES, CPU_CS, CPU_SS, CPU_DS, CPU_FS, CPU_GS, CPU_NSEG };

/* EFLAGS bits (SDM vol. 1, 3.4.3). */
#define CPU_FL_CF   0x00000001u
#define CPU_FL_FIX1 0x00000002u /* always 1 */
#define CPU_FL_PF   0x00000004u
#define CPU_FL_AF   0x00000010u
#define CPU_FL_ZF   0x00000040u
#define CPU_FL_SF   0x00000080u
#define CPU_FL_TF   0x00000100u
#define CPU_FL_IF   0x00000200u
#define CPU_FL_DF   0x00000400u
#define CPU_FL_OF   0x00000800u
#define CPU_FL_IOPL 0x00003000u
#define CPU_FL_NT   0x00004000u
#define CPU_FL_RF   0x00010000u
#define CPU_FL_VM   0x00020000u
#define CPU_FL_AC   0x00040000u
#define CPU_FL_VIF  0x00080000u
#define CPU_FL_VIP  0x00100000u
#define CPU_FL_ID   0x00200000u
/* Flags that live in the host RFLAGS while translated code runs. */
#define CPU_FL_ARITH (CPU_FL_CF | CPU_FL_PF | CPU_FL_AF | CPU_FL_ZF | CPU_FL_SF | CPU_FL_OF)
#define CPU_FL_HOSTLIVE (CPU_FL_ARITH | CPU_FL_DF)

#define CPU_CR0_PE 0x00000001u
#define CPU_CR0_MP 0x00000002u
#define CPU_CR0_EM 0x00000004u
#define CPU_CR0_TS 0x00000008u
#define CPU_CR0_ET 0x00000010u
#define CPU_CR0_NE 0x00000020u
#define CPU_CR0_WP 0x00010000u
#define CPU_CR0_PG 0x80000000u

/* struct cpu_segment flags: the descriptor's high dword bits 8..23
 * (SDM vol. 3, 3.4.5), shifted down by 8. */
#define CPU_SEGF_TYPE  0x000Fu
#define CPU_SEGF_S     0x0010u /* code or data (clear: system descriptor) */
#define CPU_SEGF_DPL   0x0060u
#define CPU_SEGF_DPL_SHIFT 5
#define CPU_SEGF_P     0x0080u
#define CPU_SEGF_AVL   0x1000u
#define CPU_SEGF_L     0x2000u
#define CPU_SEGF_DB    0x4000u /* D/B: 32-bit code, stack or expand-down bound */
#define CPU_SEGF_G     0x8000u /* limit in 4 KiB units */

struct cpu_segment {
    uint16_t sel;
    uint32_t base;
    uint32_t limit; /* byte-granular effective limit */
    uint32_t flags; /* CPU_SEGF_*: type, S, DPL, P, AVL, L, D/B, G */
};

struct cpu_dtr {
    uint32_t base;
    uint16_t limit;
};

/* Exception vectors (SDM vol. 3, 6.3.1). */
enum cpu_vector {
    CPU_VEC_DE = 0, CPU_VEC_DB = 1, CPU_VEC_NMI = 2, CPU_VEC_BP = 3, CPU_VEC_OF = 4,
    CPU_VEC_BR = 5, CPU_VEC_UD = 6, CPU_VEC_NM = 7, CPU_VEC_DF = 8, CPU_VEC_TS = 10,
    CPU_VEC_NP = 11, CPU_VEC_SS = 12, CPU_VEC_GP = 13, CPU_VEC_PF = 14, CPU_VEC_MF = 16,
    CPU_VEC_AC = 17, CPU_VEC_MC = 18, CPU_VEC_XM = 19,
};

/* What the CPU model needs from the machine it sits in (vm/ fills it in:
 * vm_cpu_env_attach). The CPU model calls it only from callouts (IN, OUT,
 * INS, OUTS), never on a path emitted code takes inline. */
struct cpu_env_ops {
    /* Port access of size bytes: *val is the value written or read. */
    void (*pio)(void *ctx, uint16_t port, unsigned size, bool write, uint32_t *val);
    /* After a guest write to a device (port, platform MSR): true if the
     * engine must come back to the machine at the next block (a device
     * moved a timer deadline earlier). */
    bool (*io_done)(void *ctx);
    /* A device asked the machine to stop (any thread may set it). */
    bool (*stop_requested)(void *ctx);
    /* MSRs that belong to the platform, not the core (IA32_APIC_BASE 0x1B,
     * IA32_TSC_DEADLINE 0x6E0): 0 with the value, or -1 when the machine has
     * no such MSR or refuses the value (the guest gets #GP). A write may
     * also return 1: the physical memory map changed (the APIC window
     * moved), so every mapping derived from it must go. NULL: none. */
    int (*msr_read)(void *ctx, uint32_t msr, uint64_t *val);
    int (*msr_write)(void *ctx, uint32_t msr, uint64_t val);
};

/* What the machine around the CPU has, for CPUID (vm/ sets it). */
#define CPU_PLAT_APIC         0x1u /* a local APIC (CPUID.1:EDX.APIC, while enabled) */
#define CPU_PLAT_TSC_DEADLINE 0x2u /* its timer has TSC-deadline mode (CPUID.1:ECX[24]) */

struct cpu {
    /* --- hot part: offsets used by emitted code (bt/offsets.h); keep first --- */
    uint32_t regs[8];       /* EAX..EDI, valid while not in translated code */
    uint32_t eip;
    uint32_t eflags;        /* full guest EFLAGS; arith+DF only valid outside code */
    uint32_t seg_base[CPU_NSEG]; /* copy of segs[i].base for inline address math */
    volatile uint32_t async_pending; /* nonzero: leave guest code at the next block entry */
    /* x87/MMX/SSE state while not in guest code (fxsave image). */
    uint8_t fxstate[512] __attribute__((aligned(16)));

    /* --- architectural state --- */
    struct cpu_segment segs[CPU_NSEG];
    /* Valid offsets [seg_lo, seg_hi] per segment (limit, expand-down,
     * unusable), kept by cpu_seg_bounds(); emitted code checks them when
     * segments are not flat. */
    uint32_t seg_lo[CPU_NSEG], seg_hi[CPU_NSEG];
    /* The same for writes (empty for read-only data and code segments). */
    uint32_t seg_wlo[CPU_NSEG], seg_whi[CPU_NSEG];
    struct cpu_dtr gdtr, idtr;
    struct cpu_segment ldtr, tr;
    uint32_t cr0, cr2, cr3, cr4;
    uint64_t efer;          /* IA32_EFER: only NXE is modelled */
    int sys_access;         /* > 0: memory accesses are implicit supervisor ones (GDT, IDT, TSS, inner stacks) */
    uint32_t dr[8];
    unsigned cpl;
    bool halted;
    /* Exception raised by a callout, delivered by the engine before resuming. */
    int pending_vector;     /* -1: none */
    uint32_t pending_error;
    bool pending_has_error;
    uint32_t shadow_eip;    /* interrupts are held off at this EIP (after STI, MOV SS) */
    bool shadow;
    struct smmu *mmu;       /* guest memory accesses from callouts */
    char unsupported[160];  /* what a callout could not do (VM_EXIT_UNSUPPORTED) */
    uint64_t tsc_offset;
    uint64_t msr_sysenter_cs, msr_sysenter_esp, msr_sysenter_eip;
    uint64_t msr_apic_base, msr_misc_enable;

    /* --- the machine (set after allocation, vm_cpu_env_attach) --- */
    const struct cpu_env_ops *env;
    void *env_ctx;
    unsigned platform;      /* CPU_PLAT_* */

};

struct smmu_cpu_view;
/* Point v at c's paging registers (for smmu_init). */
void cpu_smmu_view(const struct cpu *c, struct smmu_cpu_view *v);

/* Record an exception for delivery (callouts call this, then return to the
 * dispatcher). */
void cpu_raise(struct cpu *c, int vector, bool has_error, uint32_t error);

/* What delivering an event did. */
enum cpu_delivery {
    CPU_DELIVERED = 0,           /* handler entered (or nothing was pending) */
    CPU_DELIVERY_SHUTDOWN = -1,  /* triple fault: the machine must shut down */
    CPU_DELIVERY_UNSUPPORTED = -2, /* btvm cannot deliver it yet (c->unsupported says why) */
};

/* Deliver the pending exception through the guest IDT (protected mode);
 * returns an enum cpu_delivery. */
int cpu_deliver_pending(struct cpu *c);

/* Deliver external interrupt `vector` now (caller checked IF and the
 * interrupt shadow). Same returns as cpu_deliver_pending. */
int cpu_interrupt(struct cpu *c, int vector);

/* The flat CS/SS cache SYSENTER and SYSEXIT load (type 0xB code or 3
 * data, DPL dpl, base 0, 4 GiB, 32-bit): cpu/sysinsn.c, and bt/'s inline
 * SYSENTER/SYSEXIT. */
struct cpu_segment cpu_fast_flat_seg(uint16_t sel, unsigned type, unsigned dpl);

/* Recompute seg_lo/seg_hi of segment i from segs[i]. */
void cpu_seg_bounds(struct cpu *c, int i);

/* CS/DS/ES/SS not all base 0, 4 GiB, writable data: translated code must
 * add bases and check bounds (bt/ keys blocks on it; inline: the
 * dispatcher asks at every block entry). FS and GS accesses always add
 * their base and check their bounds, so they do not count. */
static inline bool cpu_segs_nonflat(const struct cpu *c)
{
    static const int main_segs[4] = { CPU_ES, CPU_CS, CPU_SS, CPU_DS };
    for (int i = 0; i < 4; i++) {
        int s = main_segs[i];
        if (c->seg_base[s] || c->seg_lo[s] || c->seg_hi[s] != 0xFFFFFFFFu)
            return true;
        if (s != CPU_CS && (c->seg_wlo[s] || c->seg_whi[s] != 0xFFFFFFFFu))
            return true; /* a read-only DS/ES/SS: writes must be checked */
    }
    return false;
}

/* Reset to the state of a Multiboot entry (flat 32-bit protected mode, CPL 0). */
void cpu_reset_flat32(struct cpu *c);

/* Power-on / RESET state (SDM vol. 3 table 9-1): real mode at F000:FFF0
 * with CS base FFFF0000, EDX = the CPUID signature. Set c->platform first. */
void cpu_power_on(struct cpu *c);

/* Fill EAX..EDX for CPUID leaf eax/subleaf ecx from btvm's documented model. */
void cpu_cpuid(const struct cpu *c, uint32_t leaf, uint32_t subleaf, uint32_t out[4]);
/* The host TSC rate in Hz (CPUID leaf 0x15 reports it to the guest). */
uint64_t cpu_host_tsc_hz(void);
/* hostvuln.c: IA32_ARCH_CAPABILITIES "not affected" bits the host vouches for. */
uint64_t cpu_host_arch_caps(void);

/* Short names for printing. */
const char *cpu_reg_name(enum cpu_reg r);

/* Print EIP, EFLAGS and registers (for fatal reports). */
void cpu_dump(const struct cpu *c, void *FILE_stream);

#endif
