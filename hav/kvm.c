/*
 * hav/kvm.c — the hardware-assisted engine: btvm's machine run by KVM.
 *
 * The same guest RAM (the machine's memfd mapping) becomes KVM memory slot
 * 0; there is no in-kernel irqchip or PIT, so every port and MMIO access
 * leaves KVM_RUN and goes to the same device bus the BT engine uses, and
 * interrupts come from the same user-space 8259A pair: injected with
 * KVM_INTERRUPT when kvm_run says the guest can take one, else by asking
 * for an interrupt-window exit. HLT with IF=1 sleeps in vm_wait() until
 * the next device deadline or input, as in bt/engine.c.
 *
 * Getting the vcpu out of KVM_RUN from another thread (ticker, console,
 * stop requests): vm_kick() calls vm->kick_hook, which sets
 * kvm_run->immediate_exit (covers a vcpu about to enter) and sends SIGUSR1,
 * whose empty handler makes a running KVM_RUN return EINTR.
 */
#include "hav/hav_own.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include "cpu/cpu.h"

#define HAV_KICK_SIGNAL SIGUSR1
/* Intel needs three pages for its real-mode TSS; above any RAM btvm maps
 * (at most 3 GiB) and below the high BIOS/APIC area. AMD ignores it. */
#define HAV_TSS_ADDR 0xFFFBD000u

static void on_kick_signal(int sig)
{
    (void)sig; /* only here to interrupt KVM_RUN */
}

static void hav_kick(struct vm *vm)
{
    struct hav *h = vm->engine_priv;
    if (!h || !h->run)
        return;
    __atomic_store_n(&h->run->immediate_exit, 1, __ATOMIC_RELEASE);
    /* The vcpu thread kicking itself is outside KVM_RUN: the loop will see it. */
    if (__atomic_load_n(&h->thread_known, __ATOMIC_ACQUIRE) &&
        !pthread_equal(pthread_self(), h->thread))
        pthread_kill(h->thread, HAV_KICK_SIGNAL);
}

static void hav_free(struct hav *h)
{
    if (h->run && h->run != MAP_FAILED)
        munmap(h->run, h->run_size);
    if (h->vcpu_fd >= 0)
        close(h->vcpu_fd);
    if (h->vm_fd >= 0)
        close(h->vm_fd);
    if (h->kvm_fd >= 0)
        close(h->kvm_fd);
    free(h);
}

/*
 * Guest memory as KVM memslots (docs/hav.md): RAM below 0xC0000 (below
 * 0xA0000 when a device such as a VGA claims the legacy video window, whose
 * accesses must then exit) and above 1 MiB from vm->dram; each PAM segment of 0xC0000-0xFFFFF from the CPU's
 * view in vm->ram (RAM, the ROM or all-ones, as vm/firmware.c maps it),
 * read-only unless it is plain RAM; the ROM below 4 GiB read-only. A write
 * to a read-only slot exits as MMIO: it goes to RAM in a write-only PAM
 * segment (reads see the ROM there), else the bus drops it. The slots of the PAM segments are remade when
 * vm_engine_ops.mem_changed says a PAM byte changed.
 */
enum { SLOT_LOW, SLOT_HIGH, SLOT_ROM, SLOT_SEG0 };
#define LOW_END 0xC0000u
#define LEGACY_BASE 0xA0000u /* the legacy video window: RAM unless a device (VGA) has it */
#define HIGH_BASE 0x100000u

static int set_slot(struct hav *h, uint32_t slot, uint64_t gpa, uint64_t len, const void *host,
                    bool readonly)
{
    struct kvm_userspace_memory_region mr = {
        .slot = slot,
        .flags = readonly ? KVM_MEM_READONLY : 0,
        .guest_phys_addr = gpa,
        .memory_size = len,
        .userspace_addr = (uint64_t)(uintptr_t)host,
    };
    return ioctl(h->vm_fd, KVM_SET_USER_MEMORY_REGION, &mr);
}

/* Flags of a slot can only change by deleting it (size 0) first. */
static int map_segment(struct hav *h, unsigned i)
{
    struct vm *vm = h->vm;
    const struct vm_memseg *s = &vm->memseg[i];
    if (set_slot(h, SLOT_SEG0 + i, s->base, 0, NULL, false) < 0 && errno != EINVAL)
        return -1;
    return set_slot(h, SLOT_SEG0 + i, s->base, s->len, vm->ram + s->base,
                    !(s->reads_ram && s->writes_ram));
}

static int map_memory(struct hav *h, const char **what)
{
    struct vm *vm = h->vm;
    uint8_t *ram = vm->dram ? vm->dram : vm->ram;
    bool segs = vm->memseg[0].len != 0;
    if (!segs) /* no CPU view (a unit test's vm): all RAM, one slot */
        return set_slot(h, SLOT_LOW, 0, vm->ram_size, ram, false);
    bool legacy_ram = true;
    for (uint64_t a = LEGACY_BASE; a < LOW_END; a += 4096)
        legacy_ram &= !vm_mmio_claimed(vm, a);
    if (set_slot(h, SLOT_LOW, 0, legacy_ram ? LOW_END : LEGACY_BASE, ram, false) < 0 ||
        set_slot(h, SLOT_HIGH, HIGH_BASE, vm->ram_size - HIGH_BASE, ram + HIGH_BASE, false) < 0)
        return -1;
    bool ro_ok = ioctl(h->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) > 0;
    for (unsigned i = 0; i < VM_MEMSEGS; i++) {
        if (!(vm->memseg[i].reads_ram && vm->memseg[i].writes_ram) && !ro_ok) {
            *what = "read-only memory for the BIOS areas (KVM_CAP_READONLY_MEM)";
            errno = ENOTSUP;
            return -1;
        }
        if (map_segment(h, i) < 0)
            return -1;
    }
    if (vm->rom_base) {
        if (vm->rom_base < HAV_TSS_ADDR + 3 * 4096ull) {
            *what = "a ROM over 256 KiB: it would cover the TSS KVM needs at 0xFFFBD000";
            errno = ENOTSUP;
            return -1;
        }
        if (!ro_ok) {
            *what = "read-only memory for the BIOS ROM (KVM_CAP_READONLY_MEM)";
            errno = ENOTSUP;
            return -1;
        }
        if (set_slot(h, SLOT_ROM, vm->rom_base, (1ull << 32) - vm->rom_base,
                     vm->ram + vm->rom_base, true) < 0)
            return -1;
    }
    return 0;
}

static void hav_mem_changed(struct vm *vm, uint64_t gpa, uint64_t len)
{
    struct hav *h = vm->engine_priv;
    for (unsigned i = 0; h && i < VM_MEMSEGS; i++) {
        const struct vm_memseg *s = &vm->memseg[i];
        if (s->len && gpa < s->base + s->len && s->base < gpa + len && map_segment(h, i) < 0) {
            fprintf(stderr, "btvm: kvm: remapping 0x%x-0x%x: %s\n", s->base,
                    s->base + s->len - 1, strerror(errno));
            vm_request_stop(vm, 1);
        }
    }
}

static int hav_init(struct vm *vm)
{
    struct hav *h = calloc(1, sizeof(*h));
    if (!h) {
        vm_set_error(vm, "kvm: out of memory");
        return -ENOMEM;
    }
    h->vm = vm;
    h->kvm_fd = h->vm_fd = h->vcpu_fd = -1;
    const char *what = "open /dev/kvm";
    h->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (h->kvm_fd < 0)
        goto fail;
    what = "KVM_CREATE_VM";
    h->vm_fd = ioctl(h->kvm_fd, KVM_CREATE_VM, 0);
    if (h->vm_fd < 0)
        goto fail;
    what = "KVM_SET_TSS_ADDR";
    if (ioctl(h->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)HAV_TSS_ADDR) < 0)
        goto fail;
    what = "KVM_SET_USER_MEMORY_REGION";
    if (map_memory(h, &what) < 0)
        goto fail;
    what = "KVM_CREATE_VCPU";
    h->vcpu_fd = ioctl(h->vm_fd, KVM_CREATE_VCPU, 0);
    if (h->vcpu_fd < 0)
        goto fail;
    what = "KVM_GET_VCPU_MMAP_SIZE";
    int sz = ioctl(h->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (sz < (int)sizeof(struct kvm_run))
        goto fail;
    h->run_size = (size_t)sz;
    what = "mmap kvm_run";
    h->run = mmap(NULL, h->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, h->vcpu_fd, 0);
    if (h->run == MAP_FAILED) {
        h->run = NULL;
        goto fail;
    }
    /* The loaders fill a plain struct cpu; it goes into KVM at the first run(). */
    vm->cpu = calloc(1, sizeof(struct cpu));
    what = "allocate the vcpu state";
    if (!vm->cpu) {
        errno = ENOMEM;
        goto fail;
    }
    vm->cpu->pending_vector = -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_kick_signal;
    sa.sa_flags = SA_RESTART; /* console writes restart; KVM_RUN still returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(HAV_KICK_SIGNAL, &sa, NULL);
    vm->engine_priv = h;
    vm->kick_hook = hav_kick;
    return 0;
fail:;
    int e = errno;
    vm_set_error(vm, "kvm: %s: %s", what, strerror(e ? e : EINVAL));
    hav_free(h);
    return e ? -e : -EINVAL;
}

/* Complete a pending IN/MMIO read (KVM finishes it at the next entry) and
 * copy the vcpu into vm->cpu, for the report and EIP. */
static void sync_out(struct hav *h)
{
    h->run->immediate_exit = 1;
    ioctl(h->vcpu_fd, KVM_RUN, 0);
    h->run->immediate_exit = 0;
    hav_state_save(h);
}

static void finish(struct hav *h, struct vm_exit *ex, enum vm_exit_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* End run() with kind; the vcpu state is copied back first. */
static void finish(struct hav *h, struct vm_exit *ex, enum vm_exit_kind kind, const char *fmt, ...)
{
    if (kind != VM_EXIT_SHUTDOWN)
        sync_out(h);
    else
        hav_state_save(h);
    ex->kind = kind;
    ex->eip = h->vm->cpu->eip;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ex->msg, sizeof(ex->msg), fmt, ap);
        va_end(ap);
    }
}

static void do_pio(struct hav *h)
{
    struct kvm_run *run = h->run;
    bool out = run->io.direction == KVM_EXIT_IO_OUT;
    uint8_t *p = (uint8_t *)run + run->io.data_offset;
    unsigned size = run->io.size;
    for (uint32_t i = 0; i < run->io.count; i++, p += size) {
        uint32_t v = 0;
        if (out)
            memcpy(&v, p, size);
        vm_pio(h->vm, run->io.port, size, out, &v);
        if (!out)
            memcpy(p, &v, size);
    }
    h->st.pio += run->io.count;
}

/* A write that left a read-only slot of a PAM segment whose writes go to
 * RAM (write-only: reads see the ROM): true once it is in RAM. */
static bool pam_write(struct hav *h, uint64_t gpa, const void *data, unsigned len)
{
    struct vm *vm = h->vm;
    for (unsigned i = 0; i < VM_MEMSEGS; i++) {
        const struct vm_memseg *s = &vm->memseg[i];
        if (s->writes_ram && gpa >= s->base && gpa + len <= (uint64_t)s->base + s->len) {
            memcpy((vm->dram ? vm->dram : vm->ram) + gpa, data, len);
            return true;
        }
    }
    return false;
}

static void do_mmio(struct hav *h)
{
    struct kvm_run *run = h->run;
    uint64_t v = 0;
    unsigned len = run->mmio.len > 8 ? 8 : run->mmio.len;
    if (run->mmio.is_write && pam_write(h, run->mmio.phys_addr, run->mmio.data, len)) {
        h->st.mmio++;
        return;
    }
    if (run->mmio.is_write)
        memcpy(&v, run->mmio.data, len);
    vm_mmio(h->vm, run->mmio.phys_addr, len, run->mmio.is_write, &v);
    if (!run->mmio.is_write)
        memcpy(run->mmio.data, &v, len);
    h->st.mmio++;
}

/* First run(): this thread is the vcpu; the loaders' state goes into KVM. */
static int first_run(struct hav *h, struct vm_exit *ex)
{
    h->thread = pthread_self();
    __atomic_store_n(&h->thread_known, 1, __ATOMIC_RELEASE);
    int e = hav_set_cpuid(h);
    if (!e)
        e = hav_state_load(h);
    if (e) {
        ex->kind = VM_EXIT_ERROR;
        ex->eip = h->vm->cpu->eip;
        snprintf(ex->msg, sizeof(ex->msg), "kvm: cannot load the boot CPU state into the vcpu: %s",
                 strerror(-e));
        return e;
    }
    h->loaded = true;
    return 0;
}

static void hav_run(struct vm *vm, struct vm_exit *ex)
{
    struct hav *h = vm->engine_priv;
    struct kvm_run *run = h->run;
    bool check_timers = true;
    memset(ex, 0, sizeof(*ex));
    if (!h->loaded && first_run(h, ex))
        return;

    for (;;) {
        if (__atomic_load_n(&vm->stop_requested, __ATOMIC_ACQUIRE)) {
            finish(h, ex, VM_EXIT_STOP, NULL);
            return;
        }
        vm_service_input(vm);
        if (check_timers || __atomic_load_n(&vm->cpu->async_pending, __ATOMIC_ACQUIRE)) {
            __atomic_store_n(&vm->cpu->async_pending, 0, __ATOMIC_RELEASE);
            vm_run_timers(vm);
            check_timers = false;
        }
        bool intr = vm_intr_pending(vm);
        if (intr && run->ready_for_interrupt_injection) {
            struct kvm_interrupt irq = { .irq = (uint32_t)vm_intr_ack(vm) };
            if (ioctl(h->vcpu_fd, KVM_INTERRUPT, &irq) < 0) {
                finish(h, ex, VM_EXIT_ERROR, "kvm: KVM_INTERRUPT: %s", strerror(errno));
                return;
            }
            h->st.interrupts++;
            h->halted = false;
            /* One per entry: ready_for_interrupt_injection is stale now. */
            intr = vm_intr_pending(vm);
            run->ready_for_interrupt_injection = 0;
        }
        if (h->halted && !intr) {
            /* Idle: sleep until a device deadline or input. */
            h->st.halts++;
            vm_wait(vm, vm_run_timers(vm));
            check_timers = true;
            continue;
        }
        run->request_interrupt_window = intr;

        h->st.runs++;
        int r = ioctl(h->vcpu_fd, KVM_RUN, 0);
        __atomic_store_n(&run->immediate_exit, 0, __ATOMIC_RELEASE);
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                h->st.exits[HAV_X_INTR]++;
                continue;
            }
            finish(h, ex, VM_EXIT_ERROR, "kvm: KVM_RUN: %s", strerror(errno));
            return;
        }
        switch (run->exit_reason) {
        case KVM_EXIT_IO:
            h->st.exits[HAV_X_IO]++;
            do_pio(h);
            if (run->io.direction == KVM_EXIT_IO_OUT && vm_timers_moved(vm))
                check_timers = true;
            break;
        case KVM_EXIT_MMIO:
            h->st.exits[HAV_X_MMIO]++;
            do_mmio(h);
            if (run->mmio.is_write && vm_timers_moved(vm))
                check_timers = true;
            break;
        case KVM_EXIT_IRQ_WINDOW_OPEN:
            h->st.exits[HAV_X_IRQ_WINDOW]++;
            break;
        case KVM_EXIT_INTR:
            h->st.exits[HAV_X_INTR]++;
            break;
        case KVM_EXIT_HLT:
            h->st.exits[HAV_X_HLT]++;
            if (!run->if_flag || !vm_intr_possible(vm)) {
                /* Nothing can wake it: no NMI source exists. */
                finish(h, ex, VM_EXIT_HLT, NULL);
                return;
            }
            h->halted = true;
            break;
        case KVM_EXIT_SHUTDOWN:
            h->st.exits[HAV_X_SHUTDOWN]++;
            finish(h, ex, VM_EXIT_SHUTDOWN, "triple fault");
            /* AMD's KVM INITs the vcpu on shutdown: the registers are gone. */
            if (vm->cpu->eip == 0xFFF0 && vm->cpu->segs[CPU_CS].sel == 0xF000)
                snprintf(ex->msg, sizeof(ex->msg),
                         "triple fault (KVM reset the vcpu: registers below are its INIT state)");
            return;
        case KVM_EXIT_FAIL_ENTRY:
            h->st.exits[HAV_X_OTHER]++;
            finish(h, ex, VM_EXIT_ERROR, "kvm: VM entry failed, hardware reason 0x%llx",
                   (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
            return;
        case KVM_EXIT_INTERNAL_ERROR: {
            h->st.exits[HAV_X_OTHER]++;
            static const char *sub[] = { "?", "emulation failure", "simultaneous exceptions",
                                         "delivery event", "unexpected exit reason" };
            uint32_t s = run->internal.suberror;
            finish(h, ex, VM_EXIT_ERROR, "kvm: internal error %u (%s), data %llx %llx", s,
                   s < sizeof(sub) / sizeof(sub[0]) ? sub[s] : "?",
                   (unsigned long long)(run->internal.ndata > 0 ? run->internal.data[0] : 0),
                   (unsigned long long)(run->internal.ndata > 1 ? run->internal.data[1] : 0));
            return;
        }
        default:
            h->st.exits[HAV_X_OTHER]++;
            finish(h, ex, VM_EXIT_ERROR, "kvm: unexpected exit reason %u", run->exit_reason);
            return;
        }
    }
}

static const char *exit_names[HAV_X_KINDS] = {
    "io", "mmio", "hlt", "irq-window", "interrupted", "shutdown", "other",
};

static void hav_print_stats(struct vm *vm, void *stream, bool json)
{
    struct hav *h = vm->engine_priv;
    FILE *f = stream;
    const struct hav_stats *s = &h->st;
    typedef unsigned long long ull;
    if (json) {
        fprintf(f, "{\"engine\":\"kvm\",\"kvm_runs\":%llu,\"interrupts\":%llu,\"halts\":%llu,"
                   "\"pio\":%llu,\"mmio\":%llu,\"exits\":{",
                (ull)s->runs, (ull)s->interrupts, (ull)s->halts, (ull)s->pio, (ull)s->mmio);
        for (int i = 0; i < HAV_X_KINDS; i++)
            fprintf(f, "%s\"%s\":%llu", i ? "," : "", exit_names[i], (ull)s->exits[i]);
        fputs("}}", f);
        return;
    }
    fprintf(f, "kvm engine:\n"
               "  KVM_RUN calls          %llu\n"
               "  interrupts injected    %llu, halts slept %llu\n"
               "  port I/O %llu, MMIO %llu\n"
               "  exits:",
            (ull)s->runs, (ull)s->interrupts, (ull)s->halts, (ull)s->pio, (ull)s->mmio);
    for (int i = 0; i < HAV_X_KINDS; i++)
        fprintf(f, " %s %llu", exit_names[i], (ull)s->exits[i]);
    fputc('\n', f);
}

static void hav_destroy(struct vm *vm)
{
    struct hav *h = vm->engine_priv;
    vm->kick_hook = NULL;
    if (h) {
        __atomic_store_n(&h->thread_known, 0, __ATOMIC_RELEASE);
        hav_free(h);
    }
    /* Ignore, not default: a kick sent just before vm_wake_stop() may still
     * be on its way, and SIGUSR1's default action kills the process. */
    signal(HAV_KICK_SIGNAL, SIG_IGN);
    free(vm->cpu);
    vm->cpu = NULL;
    vm->engine_priv = NULL;
}

static int hav_sync_state(struct vm *vm)
{
    return hav_state_save(vm->engine_priv);
}

const struct vm_engine_ops hav_engine_ops = {
    .sync_state = hav_sync_state,
    .mem_changed = hav_mem_changed,
    .name = "kvm",
    .probe = hav_probe,
    .init = hav_init,
    .run = hav_run,
    .print_stats = hav_print_stats,
    .destroy = hav_destroy,
};
