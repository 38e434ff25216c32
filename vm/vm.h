/*
 * vm/vm.h — the machine: guest RAM, the device bus, options and the
 * interface every CPU engine (bt/, hav/) implements.
 *
 * Data flows top to bottom: vm/ owns the machine and the run loop; an engine
 * runs guest code until something needs the machine's attention and returns
 * a struct vm_exit (the same shape for every engine, like kvm_run).
 *
 * This is the only vm/ header engines include, and it includes no device
 * header: engines reach devices through the vm_* functions below (port and
 * MMIO accesses, console input, the CPU's interrupt input), so the machine
 * can change what sits behind them (a local APIC in front of the 8259A
 * pair) without touching an engine.
 */
#ifndef BTVM_VM_H
#define BTVM_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "block/blk.h"

struct dev_bus;
struct dev_pic;
struct dev_lapic;
struct dev_uart;
struct dev_timers;
struct cpu;
struct vm_wake;
struct vm_monitor;
struct vm_gdb;

/* Why an engine returned to the run loop. */
enum vm_exit_kind {
    VM_EXIT_STOP,        /* a device asked the machine to stop (debug-exit, Ctrl-A X, ...) */
    VM_EXIT_HLT,         /* HLT with nothing that could wake the guest */
    VM_EXIT_SHUTDOWN,    /* triple fault */
    VM_EXIT_UNSUPPORTED, /* guest did something btvm does not implement yet: msg says what */
    VM_EXIT_ERROR,       /* host-side failure: msg says what */
    VM_EXIT_DEBUG,       /* a debugger's stop (vm->debug.why says which); run again to go on */
};

struct vm_exit {
    enum vm_exit_kind kind;
    uint32_t eip;
    char msg[256];
};

struct vm;

/* What a debugger (vm/gdbstub.c, docs/gdb.md) asks of an engine. vm/ writes
 * it only while the vcpu is parked (between runs); the engine reads it. */
#define VM_DEBUG_MAX_BP 64
enum vm_debug_why {
    VM_DEBUG_WHY_NONE,
    VM_DEBUG_WHY_REQUEST, /* vm->debug_requested: Ctrl-C, a debugger connected */
    VM_DEBUG_WHY_STEP,    /* step: one instruction ran */
    VM_DEBUG_WHY_BREAK,   /* EIP reached a breakpoint (not yet executed) */
    VM_DEBUG_WHY_HOOK,    /* insn_hook returned true after an instruction */
};
struct vm_debug {
    /* Run one instruction with interrupts and device timers held off (as
     * QEMU's gdbstub steps by default), then VM_EXIT_DEBUG. */
    bool step;
    /* Non-NULL: run every instruction alone, interrupts as usual, calling
     * insn_hook(vm, false) just before it and insn_hook(vm, true) just after
     * (vcpu thread, vm->cpu current); true after: VM_EXIT_DEBUG. Exact
     * watchpoints use it. */
    bool (*insn_hook)(struct vm *vm, bool after);
    /* Linear addresses (CS base + EIP) to stop at before executing; the
     * instruction a run starts at is executed even if it is one. */
    unsigned nbp;
    uint32_t bp[VM_DEBUG_MAX_BP];
    enum vm_debug_why why; /* the engine's, with VM_EXIT_DEBUG */
};

static inline bool vm_debug_is_bp(const struct vm_debug *d, uint32_t lin)
{
    for (unsigned i = 0; i < d->nbp; i++)
        if (d->bp[i] == lin)
            return true;
    return false;
}

/* A CPU engine. Both engines use the same RAM memfd and the same bus. */
struct vm_engine_ops {
    const char *name;
    /* NULL: usable on any host. Else 0 if this host can run the engine, or
     * -errno; why gets a one-line reason either way. */
    int (*probe)(char *why, size_t n);
    /* Allocates vm->cpu (zeroed; the layout around it is the engine's) and
     * everything else it needs; 0 or -errno with the reason in vm->err
     * (vm_set_error), printed by vm/. vm/ attaches the cpu to the machine
     * (vm_cpu_env_attach) after init returns. */
    int (*init)(struct vm *vm);
    void (*run)(struct vm *vm, struct vm_exit *exit);
    void (*print_stats)(struct vm *vm, void *FILE_stream, bool json);
    /* A device wrote guest RAM [gpa, gpa + len) by DMA (vcpu thread): drop
     * what the engine derived from those bytes. NULL: nothing to drop. */
    void (*ram_written)(struct vm *vm, uint64_t gpa, uint64_t len);
    /* What the CPU sees in guest-physical [gpa, gpa + len) changed (a PAM
     * register, vm/firmware.c; vcpu thread): remap it. NULL: the engine
     * reads the map from vm->ram and is told otherwise (BT's MMU). */
    void (*mem_changed)(struct vm *vm, uint64_t gpa, uint64_t len);
    /* Copy the vcpu's state into vm->cpu (vcpu thread, between
     * instructions): 0 or -errno. NULL: vm->cpu is always current there. */
    int (*sync_state)(struct vm *vm);
    /* vm->debug's breakpoints changed (vcpu parked): drop what was
     * translated around the old ones. NULL: the engine cannot be debugged
     * (vm/ refuses the gdb stub with it). */
    int (*debug_changed)(struct vm *vm);
    /* Frees what init allocated, vm->cpu included. */
    void (*destroy)(struct vm *vm);
};

/* The engines (bt/engine.c, hav/kvm.c). */
extern const struct vm_engine_ops bt_engine_ops;
extern const struct vm_engine_ops hav_engine_ops;

enum vm_engine_choice { VM_ENGINE_AUTO, VM_ENGINE_BT, VM_ENGINE_KVM };

/* A drive (-hda..-hdd, -cdrom, -drive): an IDE one sits at index =
 * channel * 2 + unit, a virtio one in -drive order. */
enum vm_media { VM_MEDIA_DISK, VM_MEDIA_CDROM };
enum vm_drive_if { VM_DRIVE_IF_IDE, VM_DRIVE_IF_VIRTIO };
struct vm_drive {
    bool used;
    const char *file;
    enum vm_media media;
    bool readonly;
    enum vm_drive_if iface;
    enum blk_format format;    /* raw unless format= or the qcow2 magic says */
    bool format_given;         /* format= was on the command line: no probing */
    enum blk_cache cache;      /* cache=, default writeback */
    bool snapshot;             /* snapshot=on, or -snapshot without snapshot=off */
};
#define VM_MAX_DRIVES 4
#define VM_MAX_VIRTIO_DRIVES 8
/* Set to 1 by the virtio-blk device's wiring; until then the command line
 * refuses if=virtio. */
#ifndef VM_HAVE_VIRTIO_BLK
#define VM_HAVE_VIRTIO_BLK 1
#endif

/* The network card and its user-mode backend (-netdev, -device, -nic;
 * vm/net_cli.c, docs/network.md). Addresses and ports in host byte order. */
#define VM_NET_MAX_FWD 16
struct vm_net_fwd {
    bool udp;
    uint32_t host_addr;        /* 0: any address (QEMU's empty host address) */
    uint16_t host_port;
    uint32_t guest_addr;       /* 0: the first DHCP address, 10.0.2.15 */
    uint16_t guest_port;
};
struct vm_net_options {
    bool enabled;              /* a virtio-net card on a user network */
    bool restricted;           /* restrict=on: the guest reaches only slirp's services */
    uint8_t mac[6];
    unsigned nfwd;
    struct vm_net_fwd fwd[VM_NET_MAX_FWD];
};

struct vm_options {
    const char *kernel;
    const char *cmdline;
    const char *initrd;
    uint32_t mem_mib;          /* default 128 */
    bool stats, stats_json;
    bool trace;
    bool exit_code_qemu;       /* --exit-code=qemu: (v<<1)|1 */
    size_t code_cache_size;    /* --code-cache=KIB, default 64 MiB */
    enum vm_engine_choice engine; /* --engine, default auto */
    bool quiet;                /* --quiet: no engine-choice line */
    bool reboot;               /* --reboot: a guest reset reboots */
    bool no_reboot;            /* --no-reboot: a guest reset ends btvm (status 6) */
    struct vm_drive drives[VM_MAX_DRIVES]; /* by IDE index */
    struct vm_drive virtio_drives[VM_MAX_VIRTIO_DRIVES]; /* -drive if=virtio, in order */
    bool snapshot;             /* -snapshot: every drive writes to a throwaway overlay */
    /* Display (vm/display.c, docs/display.md). */
    enum vm_display_kind { VM_DISPLAY_NONE, VM_DISPLAY_CURSES, VM_DISPLAY_SDL } display;
    bool vnc;                  /* -vnc :N */
    unsigned vnc_display;      /* N: TCP port 5900 + N on 127.0.0.1 */
    bool no_vga;               /* -vga none */
    const char *screendump;    /* --screendump FILE: PNG of the screen at exit */
    const char *screendump_text; /* --screendump-text FILE: a text screen as UTF-8 */
    bool firmware;             /* boot through the BIOS (no -kernel) */
    const char *bios;          /* -bios FILE (firmware boot: set, default Debian's SeaBIOS) */
    const char *bios_log;      /* --bios-log FILE: port 0x402 output */
    char boot_order[8];        /* -boot order=: 'c', 'd' in order; "" = default */
    bool boot_menu;            /* -boot menu=on */
    int32_t boot_splash_ms;    /* -boot splash-time=MS, the menu prompt's wait; -1: BIOS default */
    int64_t boot_reboot_ms;    /* -boot reboot-timeout=MS; -1: never reboot (QEMU's default) */
    /* -debugcon: the port 0xE9 console's target (default: the console). */
    enum vm_debugcon { VM_DEBUGCON_STDIO, VM_DEBUGCON_FILE, VM_DEBUGCON_NULL,
                       VM_DEBUGCON_NONE } debugcon;
    const char *debugcon_file; /* file:FILE */
    struct vm_net_options net; /* -netdev/-device/-nic (vm/net_cli.c) */
    /* -monitor unix:PATH,server[,nowait] (vm/monitor.c); "": none. */
    char monitor_path[108];    /* a sockaddr_un's sun_path */
    bool monitor_wait;         /* wait for a client before the guest starts */
    /* -qmp unix:PATH,server=on[,wait=off] (vm/qmp.c); "": none. */
    char qmp_path[108];
    bool qmp_wait;
    bool start_paused;         /* -S: the machine waits for cont before its first instruction */
    /* -s / -gdb tcp:HOST:PORT (vm/gdb_cli.c); -S: stopped until gdb continues. */
    bool gdb;
    uint32_t gdb_addr;         /* IPv4, host byte order (loopback only) */
    uint16_t gdb_port;
    bool start_stopped;        /* -S with a gdb stub (cli.c turns start_paused into this) */
};

#define VM_MEMSEGS 13

struct vm {
    struct vm_options opt;
    int ram_fd;              /* memfd holding guest RAM */
    uint8_t *ram;            /* host mapping of guest-physical 0 as the CPU sees it
                              * (RAM, ROM, PAM areas; vm/ram.c) */
    uint64_t ram_size;
    struct dev_bus *bus;
    struct cpu *cpu;
    void *engine_priv;
    const struct vm_engine_ops *engine;
    char err[256];           /* why the last failing call failed (vm_set_error) */
    uint8_t *dram;           /* RAM alone, whatever the CPU sees (DMA, KVM); NULL: ram */
    /* The CPU's view where it is not plain RAM (vm/firmware.c), for an
     * engine that maps memory itself (KVM): the PAM segments of
     * 0xC0000-0xFFFFF, whose reads see vm->ram + base (RAM when reads_ram,
     * else ROM or all-ones) and whose writes reach RAM (vm->dram) when
     * writes_ram, else nothing; and the ROM [rom_base, 4 GiB), read-only
     * (rom_base 0: none). */
    struct vm_memseg { uint32_t base, len; bool reads_ram, writes_ram; } memseg[VM_MEMSEGS];
    uint64_t rom_base;

    /* Interrupts and time (vm/wake.c, vm/service.c). */
    struct dev_pic *pic;     /* vm/ only: engines use vm_intr_* */
    struct dev_lapic *lapic; /* vm/ only: in front of the PIC when present */
    struct dev_uart *uart;   /* vm/ only: engines use vm_service_input */
    struct dev_i8042 *kbc;   /* vm/ only: host keys and mouse, polled like the UART */
    /* The CPU's INTR input: a byte that is 1 while an interrupt waits for
     * the CPU (today the 8259A pair's output). NULL: nothing can interrupt. */
    const volatile uint8_t *intr_level;
    struct dev_timers *timers; /* the devices' timers; NULL: none */
    uint64_t next_deadline;  /* nearest device deadline, ns of CLOCK_MONOTONIC */
    struct vm_wake *wake;
    /* Set by the ticker thread when a deadline passed, before it kicks: an
     * engine taking a kick for an interrupt a device raised on the vcpu's
     * own thread need not read the clock (vm_timers_due). */
    int timer_kicked;
    /* vm_kick() calls this (any thread, vcpu alive) for an engine that needs
     * more than cpu->async_pending to notice: hav/ interrupts KVM_RUN. */
    void (*kick_hook)(struct vm *vm);
    volatile int input_pending; /* console/key input arrived: poll the UART and i8042 */
    struct vm_net_card *net;    /* vm/ only: frames for the network card (vm/net_machine.c) */
    struct vm_iothreads *iothreads; /* vm/ only: finished disk jobs, collected with input */
    struct vm_monitor *monitor; /* vm/ only: a monitor command waiting for the vcpu */
    struct vm_gdb *gdb;         /* vm/ only: the gdb stub (vm/gdbstub.c), or NULL */
    /* The debugger's requests (struct vm_debug above). debug_requested is
     * set from any thread (then vm_kick): the engine returns VM_EXIT_DEBUG
     * with why REQUEST at the next instruction boundary and clears it. */
    struct vm_debug debug;
    volatile int debug_requested;

    /* Set by devices (any thread) to make the engine return VM_EXIT_STOP. */
    volatile int stop_requested;
    int stop_status;         /* btvm's exit status when stopped by a device */
    int stop_cause;          /* enum vm_stop_cause: who ended the run (QMP's events) */
    bool reset_requested;    /* the stop is a machine reset (main() may boot again) */
};

/* Who ended a run, for the monitor's SHUTDOWN and RESET events (QEMU's
 * ShutdownCause; docs/monitor.md). */
enum vm_stop_cause {
    VM_CAUSE_HOST_ERROR,     /* btvm or the engine failed (vm_request_stop's default) */
    VM_CAUSE_GUEST_SHUTDOWN, /* ACPI S5, isa-debug-exit, HLT with interrupts off */
    VM_CAUSE_GUEST_RESET,    /* the reset line, a triple fault */
    VM_CAUSE_HOST_QUIT,      /* the monitor's quit */
    VM_CAUSE_HOST_RESET,     /* the monitor's system_reset */
    VM_CAUSE_HOST_SIGNAL,    /* SIGTERM, SIGINT, SIGHUP */
    VM_CAUSE_HOST_UI,        /* Ctrl-A X */
};

/* Ask the machine to stop with the given process exit status; safe from
 * any thread and from device handlers. vm_request_stop says the host
 * failed (what the engines mean); vm/ names the cause. */
void vm_request_stop(struct vm *vm, int status);
void vm_request_stop_cause(struct vm *vm, int status, enum vm_stop_cause cause);

/* Leave a one-line reason (no "btvm: " prefix, no newline) in vm->err for
 * the caller to print. */
void vm_set_error(struct vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Give the user's terminal back (idempotent; also from a fatal-signal
 * handler before re-raising). */
void vm_console_close(void);

/* ---- What engines and the CPU model ask of the machine (vm/service.c) ---- */

/* Point c at the machine for port I/O and stop requests (struct
 * cpu_env_ops); vm/ calls it after engine->init allocated c. */
void vm_cpu_env_attach(struct vm *vm, struct cpu *c);

/* Guest port and MMIO accesses that left the engine (size 1, 2, 4; MMIO
 * also 8). *val in for writes, out for reads. vm_mmio returns false when
 * no device claims addr (reads all-ones, writes dropped). */
void vm_pio(struct vm *vm, uint16_t port, unsigned size, bool write, uint32_t *val);
bool vm_mmio(struct vm *vm, uint64_t addr, unsigned size, bool write, uint64_t *val);
/* A device claims MMIO in addr's page (an engine that maps RAM itself must
 * leave it unmapped there, e.g. the VGA window inside low RAM). */
bool vm_mmio_claimed(struct vm *vm, uint64_t addr);

/* Console input arrived: hand it to the UART (vcpu thread, between guest
 * runs). Cheap when there is none. */
void vm_poll_input(struct vm *vm);
static inline void vm_service_input(struct vm *vm)
{
    if (__atomic_load_n(&vm->input_pending, __ATOMIC_ACQUIRE))
        vm_poll_input(vm);
}

/* Whether anything can ever interrupt the CPU (else HLT with IF=1 is final:
 * there is no NMI source). */
static inline bool vm_intr_possible(const struct vm *vm)
{
    return vm->intr_level != NULL;
}
/* INTR: an interrupt waits for the CPU (it takes it when IF=1 and no
 * interrupt shadow). */
bool vm_intr_check(struct vm *vm);
static inline bool vm_intr_pending(struct vm *vm)
{
    return vm->intr_level && __atomic_load_n(vm->intr_level, __ATOMIC_ACQUIRE) &&
           vm_intr_check(vm);
}
/* The INTR byte itself, for emitted code to read; NULL as above. With a
 * local APIC it may say 1 when nothing is deliverable (vm_intr_check, which
 * vm_intr_pending calls, settles it), never 0 when something is. */
static inline const volatile uint8_t *vm_intr_level(const struct vm *vm)
{
    return vm->intr_level;
}
/* INTA: the CPU takes the interrupt; returns its vector. Call only when
 * vm_intr_pending(). */
int vm_intr_ack(struct vm *vm);
/* vm_intr_pending() and, if so, vm_intr_ack() in one: the vector, or -1. */
int vm_intr_take(struct vm *vm);

/* Get the vcpu's attention from any thread: translated code leaves at its
 * next block entry and a vcpu sleeping in HLT wakes. */
void vm_kick(struct vm *vm);
/* vcpu thread: sleep until kicked, stopped, or deadline_ns (UINT64_MAX: none). */
void vm_wait(struct vm *vm, uint64_t deadline_ns);
/* vcpu thread: fire due device timers, re-arm the ticker; returns the next deadline. */
uint64_t vm_run_timers(struct vm *vm);
int vm_wake_init(struct vm *vm);
/* No kick touches vm->cpu after this returns (call before freeing it). */
void vm_wake_stop(struct vm *vm);
/* Ends the ticker thread and frees what vm_wake_init made (a reboot builds
 * the machine again; nothing may kick vm after this). */
void vm_wake_destroy(struct vm *vm);
/* True if a device moved a deadline earlier than the ticker is armed for
 * (after a guest I/O write): the vcpu must come back to run timers. */
bool vm_timers_moved(const struct vm *vm);
/* vcpu thread, at a kick: must vm_run_timers() run? Yes when the ticker
 * found a deadline passed (consumes that news) or a device moved one. */
bool vm_timers_due(struct vm *vm);

/* Guest-physical address to host pointer into RAM itself (what DMA reaches,
 * whatever the CPU sees in the PAM areas), or NULL if not RAM (len bytes). */
static inline uint8_t *vm_ram_ptr(struct vm *vm, uint64_t gpa, uint64_t len)
{
    if (gpa >= vm->ram_size || len > vm->ram_size - gpa)
        return NULL;
    return (vm->dram ? vm->dram : vm->ram) + gpa;
}

#endif
