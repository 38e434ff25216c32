/*
 * hav/state.c — copying the virtual CPU between btvm's struct cpu (what the
 * loaders fill in and what the fatal report prints) and KVM's vcpu
 * (kvm_regs, kvm_sregs, FPU, SYSENTER MSRs, CPUID).
 *
 * struct cpu keeps segment attributes as descriptor bits 8..23 of the high
 * dword (type, S, DPL, P, AVL, L, D/B, G) and limits byte-granular, which is
 * what kvm_segment holds too, field by field. VMX checks guest state at
 * entry more strictly than a CPU checks a loaded descriptor, so the load
 * side repairs what a not-yet-loaded register (TR, LDTR after reset) would
 * otherwise fail with.
 */
#include "hav/hav_own.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include "cpu/cpu.h"

#define MSR_SYSENTER_CS  0x174
#define MSR_SYSENTER_ESP 0x175
#define MSR_SYSENTER_EIP 0x176

/* Virtual-8086 mode: every segment is base selector*16, limit FFFF,
 * a present DPL 3 read/write accessed data segment (VMX checks exactly
 * this on entry, SDM vol. 3 27.3.1.2). */
static void v86_seg(struct kvm_segment *k)
{
    k->base = (uint64_t)k->selector << 4;
    k->limit = 0xFFFF;
    k->type = 3; k->s = 1; k->dpl = 3; k->present = 1;
    k->avl = 0; k->l = 0; k->db = 0; k->g = 0; k->unusable = 0;
}

static void seg_to_kvm(const struct cpu_segment *s, struct kvm_segment *k, bool pe, bool code)
{
    uint32_t f = s->flags;
    memset(k, 0, sizeof(*k));
    k->base = s->base;
    k->limit = s->limit;
    k->selector = s->sel;
    k->type = f & CPU_SEGF_TYPE;
    k->s = !!(f & CPU_SEGF_S);
    k->dpl = (f & CPU_SEGF_DPL) >> CPU_SEGF_DPL_SHIFT;
    k->present = !!(f & CPU_SEGF_P);
    k->avl = !!(f & CPU_SEGF_AVL);
    k->l = !!(f & CPU_SEGF_L);
    k->db = !!(f & CPU_SEGF_DB);
    k->g = !!(f & CPU_SEGF_G);
    if (!pe && !k->present) {
        /* Real mode: the attributes are whatever reset left; make them usable. */
        k->present = 1;
        k->s = 1;
        k->type = code ? 0xB : 0x3;
    }
    k->unusable = !k->present;
    if (k->present && k->s)
        k->type |= 1; /* accessed: the CPU set it when loading; VMX insists */
    /* VMX: G must agree with the byte-granular limit. */
    if (k->limit > 0xFFFFF)
        k->g = 1;
    else if ((k->limit & 0xFFF) != 0xFFF)
        k->g = 0;
}

static void seg_from_kvm(const struct kvm_segment *k, struct cpu_segment *s)
{
    s->base = (uint32_t)k->base;
    s->limit = k->limit;
    s->sel = k->selector;
    s->flags = (k->type & CPU_SEGF_TYPE) | (k->s ? CPU_SEGF_S : 0) |
               ((uint32_t)(k->dpl & 3) << CPU_SEGF_DPL_SHIFT) |
               (k->present && !k->unusable ? CPU_SEGF_P : 0) | (k->avl ? CPU_SEGF_AVL : 0) |
               (k->l ? CPU_SEGF_L : 0) | (k->db ? CPU_SEGF_DB : 0) | (k->g ? CPU_SEGF_G : 0);
}

static int set_msrs(struct hav *h, const struct cpu *c)
{
    struct {
        struct kvm_msrs hdr;
        struct kvm_msr_entry e[3];
    } m;
    memset(&m, 0, sizeof(m));
    m.hdr.nmsrs = 3;
    m.e[0].index = MSR_SYSENTER_CS;  m.e[0].data = c->msr_sysenter_cs;
    m.e[1].index = MSR_SYSENTER_ESP; m.e[1].data = c->msr_sysenter_esp;
    m.e[2].index = MSR_SYSENTER_EIP; m.e[2].data = c->msr_sysenter_eip;
    int r = ioctl(h->vcpu_fd, KVM_SET_MSRS, &m);
    return r == 3 ? 0 : -EINVAL;
}

/* fxsave image (SDM vol. 1, 10.5.1) into KVM's kvm_fpu. */
static int set_fpu(struct hav *h, const struct cpu *c)
{
    const uint8_t *fx = c->fxstate;
    struct kvm_fpu f;
    memset(&f, 0, sizeof(f));
    memcpy(&f.fcw, fx + 0, 2);
    memcpy(&f.fsw, fx + 2, 2);
    f.ftwx = fx[4];
    memcpy(&f.last_opcode, fx + 6, 2);
    memcpy(&f.last_ip, fx + 8, 8);
    memcpy(&f.last_dp, fx + 16, 8);
    memcpy(&f.mxcsr, fx + 24, 4);
    memcpy(f.fpr, fx + 32, sizeof(f.fpr));
    memcpy(f.xmm, fx + 160, 8 * 16); /* a 32-bit guest has XMM0..7 */
    return ioctl(h->vcpu_fd, KVM_SET_FPU, &f) < 0 ? -errno : 0;
}

int hav_state_load(struct hav *h)
{
    const struct cpu *c = h->vm->cpu;
    struct kvm_sregs sr;
    struct kvm_regs r;
    if (ioctl(h->vcpu_fd, KVM_GET_SREGS, &sr) < 0)
        return -errno;
    bool pe = c->cr0 & CPU_CR0_PE;
    struct kvm_segment *ks[CPU_NSEG] = { &sr.es, &sr.cs, &sr.ss, &sr.ds, &sr.fs, &sr.gs };
    for (int i = 0; i < CPU_NSEG; i++) {
        seg_to_kvm(&c->segs[i], ks[i], pe, i == CPU_CS);
        if (pe && (c->eflags & CPU_FL_VM))
            v86_seg(ks[i]);
    }
    seg_to_kvm(&c->ldtr, &sr.ldt, true, false);
    if (!sr.ldt.selector)
        sr.ldt.unusable = 1, sr.ldt.present = 0;
    else
        sr.ldt.type = 2, sr.ldt.s = 0;
    seg_to_kvm(&c->tr, &sr.tr, true, false);
    if ((sr.tr.type != 3 && sr.tr.type != 11) || !sr.tr.present) {
        /* No LTR yet: VMX still wants a busy TSS; the guest loads its own
         * before it can use one. */
        sr.tr.type = 11; sr.tr.present = 1; sr.tr.s = 0; sr.tr.unusable = 0;
        sr.tr.dpl = 0; sr.tr.g = 0; sr.tr.db = 0;
        if (sr.tr.limit == 0 || sr.tr.limit > 0xFFFFF)
            sr.tr.limit = 0xFFFF;
    }
    sr.gdt.base = c->gdtr.base; sr.gdt.limit = c->gdtr.limit;
    sr.idt.base = c->idtr.base; sr.idt.limit = c->idtr.limit;
    sr.cr0 = c->cr0 | CPU_CR0_ET;
    sr.cr2 = c->cr2;
    sr.cr3 = c->cr3;
    sr.cr4 = c->cr4;
    sr.efer = c->efer; /* NXE at most: a 32-bit guest has no long mode */
    memset(sr.interrupt_bitmap, 0, sizeof(sr.interrupt_bitmap));
    if (ioctl(h->vcpu_fd, KVM_SET_SREGS, &sr) < 0)
        return -errno;

    memset(&r, 0, sizeof(r));
    r.rax = c->regs[CPU_EAX]; r.rcx = c->regs[CPU_ECX];
    r.rdx = c->regs[CPU_EDX]; r.rbx = c->regs[CPU_EBX];
    r.rsp = c->regs[CPU_ESP]; r.rbp = c->regs[CPU_EBP];
    r.rsi = c->regs[CPU_ESI]; r.rdi = c->regs[CPU_EDI];
    r.rip = c->eip;
    r.rflags = c->eflags | CPU_FL_FIX1;
    if (ioctl(h->vcpu_fd, KVM_SET_REGS, &r) < 0)
        return -errno;
    int e = set_fpu(h, c);
    if (e)
        return e;
    return set_msrs(h, c);
}

int hav_state_save(struct hav *h)
{
    struct cpu *c = h->vm->cpu;
    struct kvm_sregs sr;
    struct kvm_regs r;
    if (ioctl(h->vcpu_fd, KVM_GET_REGS, &r) < 0 || ioctl(h->vcpu_fd, KVM_GET_SREGS, &sr) < 0)
        return -errno;
    c->regs[CPU_EAX] = (uint32_t)r.rax; c->regs[CPU_ECX] = (uint32_t)r.rcx;
    c->regs[CPU_EDX] = (uint32_t)r.rdx; c->regs[CPU_EBX] = (uint32_t)r.rbx;
    c->regs[CPU_ESP] = (uint32_t)r.rsp; c->regs[CPU_EBP] = (uint32_t)r.rbp;
    c->regs[CPU_ESI] = (uint32_t)r.rsi; c->regs[CPU_EDI] = (uint32_t)r.rdi;
    c->eip = (uint32_t)r.rip;
    c->eflags = (uint32_t)r.rflags;
    const struct kvm_segment *ks[CPU_NSEG] = { &sr.es, &sr.cs, &sr.ss, &sr.ds, &sr.fs, &sr.gs };
    for (int i = 0; i < CPU_NSEG; i++) {
        seg_from_kvm(ks[i], &c->segs[i]);
        c->seg_base[i] = c->segs[i].base;
    }
    seg_from_kvm(&sr.ldt, &c->ldtr);
    seg_from_kvm(&sr.tr, &c->tr);
    c->gdtr.base = (uint32_t)sr.gdt.base; c->gdtr.limit = sr.gdt.limit;
    c->idtr.base = (uint32_t)sr.idt.base; c->idtr.limit = sr.idt.limit;
    c->cr0 = (uint32_t)sr.cr0; c->cr2 = (uint32_t)sr.cr2;
    c->cr3 = (uint32_t)sr.cr3; c->cr4 = (uint32_t)sr.cr4;
    c->efer = sr.efer;
    c->cpl = (c->cr0 & CPU_CR0_PE) ? sr.ss.dpl : 0;
    if (c->eflags & CPU_FL_VM)
        c->cpl = 3;
    for (int i = 0; i < CPU_NSEG; i++)
        cpu_seg_bounds(c, i);
    return 0;
}

int hav_set_cpuid(struct hav *h)
{
    /* What KVM can virtualize on this host: the feature words are masked
     * with it so the guest is never promised what the CPU cannot give. */
    int nent = 128;
    struct kvm_cpuid2 *sup = NULL;
    for (;;) {
        sup = calloc(1, sizeof(*sup) + (size_t)nent * sizeof(struct kvm_cpuid_entry2));
        if (!sup)
            return -ENOMEM;
        sup->nent = (uint32_t)nent;
        if (ioctl(h->kvm_fd, KVM_GET_SUPPORTED_CPUID, sup) == 0)
            break;
        int e = errno;
        free(sup);
        if (e != E2BIG || nent > 4096)
            return -e;
        nent *= 2;
    }
    /* Every leaf of the model up to its maxima (leaf 0 and 0x80000000). */
    enum { MAXN = 64 };
    struct {
        struct kvm_cpuid2 hdr;
        struct kvm_cpuid_entry2 e[MAXN];
    } set;
    memset(&set, 0, sizeof(set));
    uint32_t n = 0;
    static const uint32_t bases[2] = { 0, 0x80000000u };
    for (int b = 0; b < 2; b++) {
        uint32_t base = bases[b], out[4];
        cpu_cpuid(h->vm->cpu, base, 0, out);
        uint32_t max = out[0] < base ? base : out[0];
        for (uint32_t leaf = base; leaf <= max && n < MAXN; leaf++) {
            struct kvm_cpuid_entry2 *e = &set.e[n++];
            cpu_cpuid(h->vm->cpu, leaf, 0, out);
            e->function = leaf;
            e->eax = out[0]; e->ebx = out[1]; e->ecx = out[2]; e->edx = out[3];
            if (leaf != 1 && leaf != 7 && leaf != 0x80000001)
                continue;
            /* Feature words: never promise what KVM cannot give. */
            for (uint32_t k = 0; k < sup->nent; k++) {
                if (sup->entries[k].function == leaf && sup->entries[k].index == 0) {
                    /* ... but keep "hypervisor" (leaf 1 ECX bit 31). */
                    e->ecx &= sup->entries[k].ecx | (leaf == 1 ? 1u << 31 : 0);
                    e->edx &= sup->entries[k].edx;
                }
            }
        }
    }
    set.hdr.nent = n;
    free(sup);
    return ioctl(h->vcpu_fd, KVM_SET_CPUID2, &set) < 0 ? -errno : 0;
}
