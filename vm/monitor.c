/*
 * vm/monitor.c — what both monitors do to the machine (vm/monitor.h).
 *
 * Commands that only ask the machine to stop (quit, system_reset) do what
 * the devices do: set the stop fields and vm_kick (vm_request_stop_cause),
 * safe from any thread. What must touch the machine's state (a screendump
 * reads the VGA, info registers the CPU, the power button the ACPI
 * registers) runs on the vcpu thread: the monitor thread leaves the
 * command in the mailbox, raises input_pending and kicks; the vcpu calls
 * vm_monitor_poll at its next instruction boundary (vm_poll_input) and
 * the monitor thread waits for the result.
 *
 * Pausing (stop) uses the same path: the vcpu, in vm_monitor_poll, waits
 * on the condition variable until cont, serving the mailbox meanwhile.
 * A stop request must also end the wait; the monitor's own (quit, reset)
 * broadcast, others (a signal, Ctrl-A X, a device) only kick the vcpu, so
 * the wait also looks at stop_requested every PAUSE_POLL_MS.
 * docs/monitor.md.
 */
#include "vm/monitor.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cpu/cpu.h"
#include "devices/acpi_pm.h"
#include "vm/display.h"
#include "vm/machine.h"
#include "vm/monitor_cmd.h"
#include "vm/monitor_hmp.h"
#include "vm/qmp.h"

#define PAUSE_POLL_MS 50

struct vm_monitor {
    pthread_mutex_t lock;
    pthread_cond_t cv;          /* any change below: waiters recheck */
    struct vm_machine *m;       /* the running machine, or NULL */
    bool quit;                  /* quit asked for (main builds no new machine) */
    bool paused;                /* stop: the vcpu is to wait in vm_monitor_poll */
    bool prelaunch;             /* paused across a reset: QEMU's "prelaunch" */
    bool vcpu_paused;           /* the vcpu waits in vm_monitor_poll */
    bool finished;              /* the last run ended and none follows */
    int vcpu_tid;
    /* The mailbox for the vcpu; busy: a caller owns it until it has the
     * result (both monitors may ask at once). */
    bool busy, pending, done;
    const struct vm_monitor_cmd *req;
    int result;                 /* 0 or -errno */
    char *text;                 /* info registers: what the vcpu wrote */
    size_t cap;
    vm_monitor_event_fn *event;
    void *event_ctx;
    struct vm_hmp *hmp;
    struct vm_qmp *qmp;
};

static bool stopping(const struct vm_machine *m)
{
    return __atomic_load_n(&m->vm.stop_requested, __ATOMIC_ACQUIRE);
}

static void emit(struct vm_monitor *mon, enum vm_monitor_event ev, bool guest, const char *why)
{
    if (mon->event)
        mon->event(mon->event_ctx, ev, guest, why);
}

/* Wait on the condition variable at most PAUSE_POLL_MS (see the top). */
static void wait_a_while(struct vm_monitor *mon)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += PAUSE_POLL_MS * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&mon->cv, &mon->lock, &ts);
}

/* Get the vcpu into vm_monitor_poll (under lock). */
static void call_vcpu(struct vm_monitor *mon)
{
    __atomic_store_n(&mon->m->vm.input_pending, 1, __ATOMIC_RELEASE);
    vm_kick(&mon->m->vm);
    pthread_cond_broadcast(&mon->cv); /* a paused vcpu waits there already */
}

int vm_monitor_call(struct vm_monitor *mon, const struct vm_monitor_cmd *cmd, char *text,
                    size_t cap)
{
    pthread_mutex_lock(&mon->lock);
    while (mon->busy)
        pthread_cond_wait(&mon->cv, &mon->lock);
    if (!mon->m) {
        pthread_mutex_unlock(&mon->lock);
        return -ESRCH;
    }
    mon->req = cmd;
    mon->text = text;
    mon->cap = cap;
    mon->busy = true;
    mon->pending = true;
    mon->done = false;
    call_vcpu(mon);
    while (!mon->done)
        pthread_cond_wait(&mon->cv, &mon->lock);
    int r = mon->result;
    mon->busy = false;
    pthread_cond_broadcast(&mon->cv);
    pthread_mutex_unlock(&mon->lock);
    return r;
}

/* The mailbox's command, on the vcpu thread (under lock). */
static int carry_out(struct vm_monitor *mon, const struct vm_monitor_cmd *c)
{
    struct vm_machine *m = mon->m;
    struct vm *vm = &m->vm;
    switch (c->op) {
    case VM_MON_SCREENDUMP: {
        bool ppm = c->format == VM_MON_FMT_PPM ||
                   (c->format == VM_MON_FMT_AUTO && vm_display_file_is_ppm(c->file));
        return vm_display_screendump_file(m->vga, c->file, ppm);
    }
    case VM_MON_INFO_REGISTERS: {
        /* Between instructions; an engine that keeps the state elsewhere
         * (KVM) copies it into vm->cpu first. */
        FILE *f = fmemopen(mon->text, mon->cap, "w");
        if (!f)
            return -ENOMEM;
        int r = vm->engine->sync_state ? vm->engine->sync_state(vm) : 0;
        if (r == 0)
            cpu_dump(vm->cpu, f);
        fclose(f);
        return r ? -EIO : 0;
    }
    case VM_MON_SYSTEM_POWERDOWN:
        dev_acpi_pm_power_button(m->acpi_pm);
        return 0;
    default:
        return -EINVAL;
    }
}

static void serve_mailbox(struct vm_monitor *mon)
{
    if (!mon->pending)
        return;
    mon->result = carry_out(mon, mon->req);
    mon->pending = false;
    mon->done = true;
    pthread_cond_broadcast(&mon->cv);
}

void vm_monitor_poll(struct vm_monitor *mon)
{
    pthread_mutex_lock(&mon->lock);
    serve_mailbox(mon);
    if (mon->paused && !stopping(mon->m)) {
        mon->vcpu_paused = true;
        pthread_cond_broadcast(&mon->cv);
        while (mon->paused && !stopping(mon->m)) {
            wait_a_while(mon);
            serve_mailbox(mon);
        }
        mon->vcpu_paused = false;
        pthread_cond_broadcast(&mon->cv);
    }
    pthread_mutex_unlock(&mon->lock);
}

void vm_monitor_stop(struct vm_monitor *mon)
{
    pthread_mutex_lock(&mon->lock);
    if (mon->paused) {
        pthread_mutex_unlock(&mon->lock);
        return;
    }
    mon->paused = true;
    if (mon->m)
        call_vcpu(mon);
    /* Synchronous, as QEMU's: when stop answers, no guest code runs. A run
     * that is ending (or none) counts as stopped; a cont from the other
     * monitor meanwhile ends the wait too. */
    while (mon->m && mon->paused && !mon->vcpu_paused && !stopping(mon->m))
        wait_a_while(mon);
    pthread_mutex_unlock(&mon->lock);
    emit(mon, VM_MON_EV_STOP, false, NULL);
}

void vm_monitor_cont(struct vm_monitor *mon)
{
    pthread_mutex_lock(&mon->lock);
    bool was = mon->paused;
    mon->paused = false;
    mon->prelaunch = false;
    pthread_cond_broadcast(&mon->cv);
    pthread_mutex_unlock(&mon->lock);
    if (was)
        emit(mon, VM_MON_EV_RESUME, false, NULL);
}

int vm_monitor_reset(struct vm_monitor *mon)
{
    pthread_mutex_lock(&mon->lock);
    int r = -ESRCH;
    if (mon->m) {
        mon->m->vm.reset_requested = true;
        vm_request_stop_cause(&mon->m->vm, VM_STATUS_RESET, VM_CAUSE_HOST_RESET);
        pthread_cond_broadcast(&mon->cv);
        r = 0;
    }
    pthread_mutex_unlock(&mon->lock);
    return r;
}

void vm_monitor_quit(struct vm_monitor *mon)
{
    pthread_mutex_lock(&mon->lock);
    mon->quit = true;
    if (mon->m) {
        mon->m->vm.reset_requested = false;
        vm_request_stop_cause(&mon->m->vm, 0, VM_CAUSE_HOST_QUIT);
        pthread_cond_broadcast(&mon->cv);
    }
    pthread_mutex_unlock(&mon->lock);
}

int vm_monitor_powerdown(struct vm_monitor *mon)
{
    struct vm_monitor_cmd *cmd = calloc(1, sizeof(*cmd));
    if (!cmd)
        return -ENOMEM;
    cmd->op = VM_MON_SYSTEM_POWERDOWN;
    int r = vm_monitor_call(mon, cmd, NULL, 0);
    free(cmd);
    if (r == 0)
        emit(mon, VM_MON_EV_POWERDOWN, false, NULL);
    return r;
}

enum vm_run_state vm_monitor_state(struct vm_monitor *mon)
{
    pthread_mutex_lock(&mon->lock);
    enum vm_run_state s = mon->finished ? VM_RUN_SHUTDOWN
                          : mon->prelaunch ? VM_RUN_PRELAUNCH
                          : mon->paused ? VM_RUN_PAUSED
                                        : VM_RUN_RUNNING;
    pthread_mutex_unlock(&mon->lock);
    return s;
}

const char *vm_run_state_name(enum vm_run_state s)
{
    static const char *const names[] = { "running", "paused", "prelaunch", "shutdown" };
    return names[s];
}

int vm_monitor_vcpu_tid(struct vm_monitor *mon)
{
    pthread_mutex_lock(&mon->lock);
    int t = mon->vcpu_tid;
    pthread_mutex_unlock(&mon->lock);
    return t;
}

void vm_monitor_set_event_sink(struct vm_monitor *mon, vm_monitor_event_fn *fn, void *ctx)
{
    mon->event = fn;
    mon->event_ctx = ctx;
}

const char *vm_stop_cause_name(int cause, bool *guest)
{
    *guest = cause == VM_CAUSE_GUEST_SHUTDOWN || cause == VM_CAUSE_GUEST_RESET;
    switch (cause) {
    case VM_CAUSE_GUEST_SHUTDOWN: return "guest-shutdown";
    case VM_CAUSE_GUEST_RESET:    return "guest-reset";
    case VM_CAUSE_HOST_QUIT:      return "host-qmp-quit";
    case VM_CAUSE_HOST_RESET:     return "host-qmp-system-reset";
    case VM_CAUSE_HOST_SIGNAL:    return "host-signal";
    case VM_CAUSE_HOST_UI:        return "host-ui";
    default:                      return "host-error";
    }
}

void vm_monitor_run_ended(struct vm_monitor *mon, const struct vm *vm, bool reboot)
{
    if (!mon)
        return;
    bool guest;
    const char *why = vm_stop_cause_name(vm->stop_cause, &guest);
    if (!reboot) {
        pthread_mutex_lock(&mon->lock);
        mon->finished = true;
        pthread_mutex_unlock(&mon->lock);
    }
    emit(mon, reboot ? VM_MON_EV_RESET : VM_MON_EV_SHUTDOWN, guest, why);
}

void vm_monitor_attach(struct vm_monitor *mon, struct vm_machine *m)
{
    if (!mon)
        return;
    pthread_mutex_lock(&mon->lock);
    if (m) {
        m->vm.monitor = mon;
        mon->vcpu_tid = (int)syscall(SYS_gettid);
    } else if (mon->m) {
        mon->m->vm.monitor = NULL;
    }
    mon->m = m;
    if (!m && mon->pending) {
        /* The run ended before the vcpu took the command. */
        mon->result = -ESRCH;
        mon->pending = false;
        mon->done = true;
    }
    if (m && mon->quit)
        vm_request_stop_cause(&m->vm, 0, VM_CAUSE_HOST_QUIT);
    if (m && mon->paused) {
        /* Paused across a reset: the new machine waits before its first
         * instruction, as QEMU's reset of a paused machine leaves it in
         * "prelaunch" until cont. */
        mon->prelaunch = true;
        __atomic_store_n(&m->vm.input_pending, 1, __ATOMIC_RELEASE);
    }
    pthread_cond_broadcast(&mon->cv);
    pthread_mutex_unlock(&mon->lock);
}

bool vm_monitor_quit_requested(struct vm_monitor *mon)
{
    if (!mon)
        return false;
    pthread_mutex_lock(&mon->lock);
    bool q = mon->quit;
    pthread_mutex_unlock(&mon->lock);
    return q;
}

struct vm_monitor *vm_monitor_new(void)
{
    struct vm_monitor *mon = calloc(1, sizeof(*mon));
    if (mon) {
        pthread_mutex_init(&mon->lock, NULL);
        pthread_cond_init(&mon->cv, NULL);
    }
    return mon;
}

int vm_monitor_open(struct vm_monitor **out, const struct vm_options *opt)
{
    *out = NULL;
    if (!opt->monitor_path[0] && !opt->qmp_path[0])
        return 0;
    struct vm_monitor *mon = vm_monitor_new();
    if (!mon) {
        fprintf(stderr, "btvm: monitor: out of memory\n");
        return -1;
    }
    mon->paused = opt->start_paused; /* -S: attach makes it "prelaunch" */
    /* The monitors' threads live until the process ends: a failure here
     * ends it too, so nothing is torn down. */
    if (vm_hmp_open(&mon->hmp, mon, opt) || vm_qmp_open(&mon->qmp, mon, opt)) {
        vm_monitor_close(mon);
        return -1;
    }
    *out = mon;
    return 0;
}

void vm_monitor_close(struct vm_monitor *mon)
{
    if (!mon)
        return;
    vm_hmp_close(mon->hmp);
    vm_qmp_close(mon->qmp);
}
