/*
 * vm/gdbstub.c — the gdb remote stub: a thread that owns the TCP
 * connection (framing in gdb_proto.c) and answers packets, and the vcpu's
 * side, vm_gdb_park.
 *
 * Threads: while the guest runs, the stub thread only reads the socket,
 * for Ctrl-C (0x03): it sets vm->debug_requested and kicks, and the engine
 * returns VM_EXIT_DEBUG at the next instruction boundary. The run loop
 * then calls vm_gdb_park on the vcpu thread, which publishes the stop and
 * sleeps. Only while it sleeps does the stub thread read or write the CPU
 * state, guest memory or vm->debug (the mutex orders those accesses), and
 * a continue or step wakes it. Breakpoints, single-step and watchpoints
 * are the engine's (struct vm_debug); docs/gdb.md explains them.
 */
#include "vm/gdbstub.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cpu/cpu.h"
#include "decoder/decoder.h"
#include "vm/gdb_mem.h"
#include "vm/gdb_proto.h"
#include "vm/gdb_regs.h"
#include "vm/gdb_watch.h"
#include "vm/machine.h"
#include "vm/monitor_cmd.h"

#define GDB_SIGINT  2
#define GDB_SIGTRAP 5
#define MAX_WATCH   16

enum watch_type { WATCH_WRITE = 2, WATCH_READ = 3, WATCH_ACCESS = 4 }; /* Z2, Z3, Z4 */

struct vm_gdb {
    int listen_fd;
    int fd;                   /* the debugger's connection, -1: none */
    int wake[2];              /* the vcpu parked with a stop to report */
    uint32_t addr;
    uint16_t port;
    bool start_stopped;       /* -S, for the first machine */
    pthread_t thread;
    pthread_mutex_t lock;     /* everything below, and vm->debug */
    pthread_mutex_t send_lock;
    pthread_cond_t cv;
    struct vm *vm;            /* the attached machine, or NULL */
    bool parked;              /* the vcpu sleeps in vm_gdb_park */
    bool go;                  /* ... until this is set */
    bool running;             /* gdb waits for a stop reply */
    bool stop_unsent;
    bool ctrl_c;              /* the stop asked for was a Ctrl-C */
    char stop_reply[96];
    bool noack;
    char last_tx[VM_GDB_PACKET_MAX * 2 + 8]; /* for a '-' */
    size_t last_len;
    /* What the debugger set (changed only while the vcpu is parked). */
    unsigned nbp;
    uint32_t bp[VM_DEBUG_MAX_BP];
    uint8_t bp_kind[VM_DEBUG_MAX_BP]; /* 0 Z0, 1 Z1 */
    unsigned engine_nbp;      /* the breakpoints the engine last heard of */
    uint32_t engine_bp[VM_DEBUG_MAX_BP];
    unsigned nwp;
    struct { uint32_t addr, len; enum watch_type type; } wp[MAX_WATCH];
    /* The watch hook's state (vcpu thread). */
    int nacc;
    struct vm_gdb_access acc[VM_GDB_MAX_ACCESSES];
    enum watch_type hit_type;
    uint32_t hit_addr;
    struct vm_gdb_rx rx;
};

/* ---- sending (the stub thread, or vm_gdb_close) ---- */

static void send_raw(struct vm_gdb *g, const char *s, size_t n)
{
    while (n && g->fd >= 0) {
        ssize_t w = send(g->fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* the reader side notices the close */
        s += w;
        n -= (size_t)w;
    }
}

static void send_packet_n(struct vm_gdb *g, const char *payload, size_t len)
{
    pthread_mutex_lock(&g->send_lock);
    size_t n = vm_gdb_frame(payload, len, g->last_tx, sizeof(g->last_tx));
    if (n) {
        g->last_len = n;
        send_raw(g, g->last_tx, n);
    }
    pthread_mutex_unlock(&g->send_lock);
}

static void send_packet(struct vm_gdb *g, const char *payload)
{
    send_packet_n(g, payload, strlen(payload));
}

static void send_packetf(struct vm_gdb *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void send_packetf(struct vm_gdb *g, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    send_packet(g, buf);
}

/* ---- the debugger's settings into vm->debug (vcpu parked, lock held) ---- */

/* Copy the breakpoints (Z0 and Z1 alike, once each) into vm->debug. */
static void apply_breakpoints(struct vm_gdb *g, struct vm *vm)
{
    struct vm_debug *d = &vm->debug;
    d->nbp = 0;
    for (unsigned i = 0; i < g->nbp; i++)
        if (!vm_debug_is_bp(d, g->bp[i]))
            d->bp[d->nbp++] = g->bp[i];
}

/* gdb takes its breakpoints out at every stop and puts them back at every
 * resume: the engine hears of a change only at a resume, and only if the
 * set differs from the one it had. */
static void tell_engine(struct vm_gdb *g, struct vm *vm)
{
    const struct vm_debug *d = &vm->debug;
    bool same = g->engine_nbp == d->nbp;
    for (unsigned i = 0; same && i < g->engine_nbp; i++)
        same = vm_debug_is_bp(d, g->engine_bp[i]);
    if (!same && vm->engine->debug_changed)
        vm->engine->debug_changed(vm);
    g->engine_nbp = d->nbp;
    memcpy(g->engine_bp, d->bp, sizeof(g->engine_bp));
}

static bool watch_hook(struct vm *vm, bool after);

/* Let the parked vcpu go: run on (step false) or one instruction. */
static void release(struct vm_gdb *g, bool step)
{
    struct vm *vm = g->vm;
    tell_engine(g, vm);
    vm->debug.step = step;
    vm->debug.insn_hook = g->nwp ? watch_hook : NULL;
    g->go = true;
    pthread_cond_broadcast(&g->cv);
}

/* Ask a running guest to stop at its next instruction boundary (also one
 * released but not yet awake: it must not run off). */
static void request_stop(struct vm_gdb *g)
{
    if (g->vm && (!g->parked || g->go)) {
        __atomic_store_n(&g->vm->debug_requested, 1, __ATOMIC_RELEASE);
        vm_kick(g->vm);
    }
}

/* Wait until the vcpu sleeps in vm_gdb_park; false when no machine
 * runs (lock held). */
static bool wait_parked(struct vm_gdb *g)
{
    while (g->vm && (!g->parked || g->go))
        pthread_cond_wait(&g->cv, &g->lock);
    return g->vm != NULL;
}

/* ---- the watchpoint hook (vcpu thread, inside the engine) ---- */

static bool watch_hook(struct vm *vm, bool after)
{
    struct vm_gdb *g = vm->gdb;
    struct cpu *c = vm->cpu;
    if (!after) {
        uint8_t b[15];
        struct dec_insn d;
        uint32_t lin = c->seg_base[CPU_CS] + c->eip;
        size_t avail = sizeof(b);
        g->nacc = 0;
        /* The instruction may end on an unmapped page: read what there is. */
        while (avail && vm_gdb_mem_read(vm, lin, b, avail))
            avail = avail > 4096 - (lin & 0xFFFu) ? 4096 - (lin & 0xFFFu) : avail - 1;
        enum dec_mode mode = (c->segs[CPU_CS].flags & CPU_SEGF_DB) && (c->cr0 & 1) &&
                             !(c->eflags & CPU_FL_VM) ? DEC_MODE_32 : DEC_MODE_16;
        if (avail && dec_decode(mode, c->eip, b, avail, &d) == 0)
            g->nacc = vm_gdb_insn_accesses(c, &d, g->acc, VM_GDB_MAX_ACCESSES);
        return false;
    }
    for (int a = 0; a < g->nacc; a++) {
        const struct vm_gdb_access *x = &g->acc[a];
        for (unsigned i = 0; i < g->nwp; i++) {
            enum watch_type t = g->wp[i].type;
            bool kind = t == WATCH_ACCESS || (t == WATCH_WRITE && x->write) ||
                        (t == WATCH_READ && x->read);
            if (kind && vm_gdb_overlaps(x->lin, x->len, g->wp[i].addr, g->wp[i].len)) {
                g->hit_type = t;
                g->hit_addr = x->lin > g->wp[i].addr ? x->lin : g->wp[i].addr;
                return true;
            }
        }
    }
    return false;
}

/* ---- the vcpu's side ---- */

void vm_gdb_park(struct vm_gdb *g, struct vm *vm)
{
    pthread_mutex_lock(&g->lock);
    int sig = GDB_SIGTRAP;
    if (vm->debug.why == VM_DEBUG_WHY_REQUEST && g->ctrl_c)
        sig = GDB_SIGINT;
    g->ctrl_c = false;
    /* A Ctrl-C that raced with another stop is answered by this one. */
    __atomic_store_n(&vm->debug_requested, 0, __ATOMIC_RELEASE);
    if (vm->debug.why == VM_DEBUG_WHY_HOOK)
        snprintf(g->stop_reply, sizeof(g->stop_reply), "T%02xthread:01;%swatch:%x;", sig,
                 g->hit_type == WATCH_READ ? "r" : g->hit_type == WATCH_ACCESS ? "a" : "",
                 g->hit_addr);
    else
        snprintf(g->stop_reply, sizeof(g->stop_reply), "T%02xthread:01;", sig);
    vm->debug.step = false;
    g->parked = true;
    g->go = false;
    if (g->running) {
        g->stop_unsent = true;
        char one = 1;
        if (write(g->wake[1], &one, 1) < 0) {
            /* a full pipe already wakes the stub thread */
        }
    }
    pthread_cond_broadcast(&g->cv);
    /* A stop request (SIGTERM, Ctrl-A X, the monitor's quit) ends the
     * wait too: the engine then stops the machine at once. */
    while (!g->go && !__atomic_load_n(&vm->stop_requested, __ATOMIC_ACQUIRE)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g->cv, &g->lock, &ts);
    }
    g->parked = false;
    g->go = false;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->lock);
}

/* ---- packets (the stub thread, vcpu parked) ---- */

static void reply_hex_text(struct vm_gdb *g, const char *text)
{
    /* Console output for gdb's "monitor": O packets of hex. */
    char buf[VM_GDB_PACKET_MAX];
    size_t n = strlen(text);
    while (n) {
        size_t k = n < (sizeof(buf) - 2) / 2 ? n : (sizeof(buf) - 2) / 2;
        buf[0] = 'O';
        vm_gdb_tohex(text, k, buf + 1);
        send_packet(g, buf);
        text += k;
        n -= k;
    }
}

static void handle_rcmd(struct vm_gdb *g, const char *hex)
{
    char line[VM_MONITOR_LINE_MAX], err[256];
    size_t n = strlen(hex) / 2;
    if (n >= sizeof(line) || !vm_gdb_fromhex(hex, line, n)) {
        send_packet(g, "E01");
        return;
    }
    line[n] = 0;
    struct vm_monitor_cmd *cmd = malloc(sizeof(*cmd));
    if (!cmd) {
        send_packet(g, "E0c");
        return;
    }
    struct vm *vm = g->vm;
    if (vm_monitor_parse(line, cmd, err, sizeof(err))) {
        strncat(err, "\n", sizeof(err) - strlen(err) - 1);
        reply_hex_text(g, err);
    } else {
        char text[4096] = "";
        FILE *f;
        switch (cmd->op) {
        case VM_MON_NOTHING:
            break;
        case VM_MON_HELP:
            reply_hex_text(g, vm_monitor_help);
            break;
        case VM_MON_INFO:
            reply_hex_text(g, "info registers -- the CPU's registers\n"
                              "info status -- the machine's state\n");
            break;
        case VM_MON_INFO_STATUS:
            reply_hex_text(g, "VM status: paused (debug)\n");
            break;
        case VM_MON_INFO_REGISTERS:
            /* The vcpu is parked: its state is still, and current (BT). */
            f = fmemopen(text, sizeof(text), "w");
            if (f) {
                cpu_dump(vm->cpu, f);
                fclose(f);
            }
            reply_hex_text(g, text);
            break;
        case VM_MON_SCREENDUMP:
            reply_hex_text(g, "screendump: not available through gdb; use -monitor\n");
            break;
        case VM_MON_STOP:
            reply_hex_text(g, "stop: gdb holds the guest stopped already\n");
            break;
        case VM_MON_CONT:
            reply_hex_text(g, "cont: use gdb's continue\n");
            break;
        case VM_MON_SYSTEM_POWERDOWN:
            reply_hex_text(g, "system_powerdown: not available through gdb; use -monitor or -qmp\n");
            break;
        case VM_MON_SYSTEM_RESET:
            vm->reset_requested = true;
            vm_request_stop_cause(vm, VM_STATUS_RESET, VM_CAUSE_HOST_RESET);
            reply_hex_text(g, "system_reset: the machine resets when the guest is continued\n");
            break;
        case VM_MON_QUIT:
            vm->reset_requested = false;
            vm_request_stop_cause(vm, 0, VM_CAUSE_HOST_QUIT);
            send_packet(g, "OK");
            free(cmd);
            release(g, false); /* the engine stops at once; vm_gdb_close says W */
            return;
        }
    }
    free(cmd);
    send_packet(g, "OK");
}

static void handle_xfer(struct vm_gdb *g, const char *args)
{
    static const char prefix[] = "features:read:target.xml:";
    uint64_t off, len;
    const char *p = args + strlen(prefix);
    if (strncmp(args, prefix, strlen(prefix))) {
        send_packet(g, "");
        return;
    }
    if (!vm_gdb_parse_hex(&p, &off) || *p++ != ',' || !vm_gdb_parse_hex(&p, &len)) {
        send_packet(g, "E01");
        return;
    }
    size_t total = strlen(vm_gdb_target_xml);
    if (off >= total) {
        send_packet(g, "l");
        return;
    }
    if (len > VM_GDB_PACKET_MAX / 2)
        len = VM_GDB_PACKET_MAX / 2; /* room for escapes */
    size_t n = total - off < len ? total - off : len;
    char buf[VM_GDB_PACKET_MAX / 2 + 2];
    buf[0] = off + n < total ? 'm' : 'l';
    memcpy(buf + 1, vm_gdb_target_xml + off, n);
    send_packet_n(g, buf, n + 1);
}

/* addr,len into *a, *l; p after them. */
static bool parse_addr_len(const char **p, uint64_t *a, uint64_t *l)
{
    return vm_gdb_parse_hex(p, a) && *(*p)++ == ',' && vm_gdb_parse_hex(p, l);
}

static void handle_z(struct vm_gdb *g, const char *pkt)
{
    bool insert = pkt[0] == 'Z';
    int type = pkt[1] - '0';
    const char *p = pkt + 2;
    uint64_t addr, kind;
    if (type < 0 || type > 4 || *p++ != ',' || !parse_addr_len(&p, &addr, &kind) || addr > 0xFFFFFFFFu) {
        send_packet(g, "E01");
        return;
    }
    struct vm *vm = g->vm;
    if (type <= 1) {
        unsigned i;
        for (i = 0; i < g->nbp; i++)
            if (g->bp[i] == addr && g->bp_kind[i] == type)
                break;
        if (insert && i == g->nbp) {
            if (g->nbp == VM_DEBUG_MAX_BP) {
                send_packet(g, "E28"); /* ENOSPC */
                return;
            }
            g->bp[g->nbp] = (uint32_t)addr;
            g->bp_kind[g->nbp++] = (uint8_t)type;
        } else if (!insert && i < g->nbp) {
            g->nbp--;
            g->bp[i] = g->bp[g->nbp];
            g->bp_kind[i] = g->bp_kind[g->nbp];
        }
        apply_breakpoints(g, vm);
        send_packet(g, "OK");
        return;
    }
    if (kind == 0 || kind > 4096 || addr + kind > 0x100000000ull) {
        send_packet(g, "E22");
        return;
    }
    unsigned i;
    for (i = 0; i < g->nwp; i++)
        if (g->wp[i].addr == addr && g->wp[i].len == kind && (int)g->wp[i].type == type)
            break;
    if (insert && i == g->nwp) {
        if (g->nwp == MAX_WATCH) {
            send_packet(g, "E28");
            return;
        }
        g->wp[g->nwp].addr = (uint32_t)addr;
        g->wp[g->nwp].len = (uint32_t)kind;
        g->wp[g->nwp++].type = (enum watch_type)type;
    } else if (!insert && i < g->nwp) {
        g->wp[i] = g->wp[--g->nwp];
    }
    send_packet(g, "OK");
}

static void handle_mem(struct vm_gdb *g, char *pkt, size_t len)
{
    const char *p = pkt + 1;
    uint64_t addr, n;
    struct vm *vm = g->vm;
    if (!parse_addr_len(&p, &addr, &n) || addr > 0xFFFFFFFFu) {
        send_packet(g, "E01");
        return;
    }
    if (pkt[0] == 'm') {
        uint8_t buf[VM_GDB_PACKET_MAX / 2];
        char hex[VM_GDB_PACKET_MAX + 1];
        if (n > sizeof(buf) - 1)
            n = sizeof(buf) - 1;
        if (vm_gdb_mem_read(vm, (uint32_t)addr, buf, n)) {
            send_packet(g, "E14"); /* EFAULT, as QEMU answers */
            return;
        }
        vm_gdb_tohex(buf, n, hex);
        send_packet(g, hex);
        return;
    }
    if (*p++ != ':' || n > VM_GDB_PACKET_MAX) {
        send_packet(g, "E01");
        return;
    }
    uint8_t buf[VM_GDB_PACKET_MAX];
    if (pkt[0] == 'M') {
        if (strlen(p) != 2 * n || !vm_gdb_fromhex(p, buf, n)) {
            send_packet(g, "E01");
            return;
        }
    } else { /* X: binary, '}'-escaped */
        char *data = (char *)p;
        size_t dl = vm_gdb_unescape(data, len - (size_t)(p - pkt));
        if (dl != n) {
            send_packet(g, "E01");
            return;
        }
        memcpy(buf, data, n);
    }
    send_packet(g, n && vm_gdb_mem_write(vm, (uint32_t)addr, buf, n) ? "E14" : "OK");
}

static void handle_regs(struct vm_gdb *g, const char *pkt)
{
    struct cpu *c = g->vm->cpu;
    uint8_t v[16];
    char hex[2 * VM_GDB_REGS_BYTES + 1];
    if (pkt[0] == 'g') {
        size_t o = 0;
        for (unsigned n = 0; n < VM_GDB_NREGS; n++) {
            unsigned s = vm_gdb_reg_get(c, n, v);
            vm_gdb_tohex(v, s, hex + o);
            o += 2 * s;
        }
        send_packet(g, hex);
        return;
    }
    if (pkt[0] == 'G') {
        const char *p = pkt + 1;
        int r = 0;
        for (unsigned n = 0; n < VM_GDB_NREGS && *p; n++) {
            unsigned s = vm_gdb_reg_size(n);
            if (strlen(p) < 2 * s || !vm_gdb_fromhex(p, v, s)) {
                r = -EINVAL;
                break;
            }
            int e = vm_gdb_reg_set(c, n, v);
            if (e)
                r = e;
            p += 2 * s;
        }
        send_packet(g, r ? "E01" : "OK");
        return;
    }
    const char *p = pkt + 1;
    uint64_t n;
    if (!vm_gdb_parse_hex(&p, &n) || n >= VM_GDB_NREGS) {
        send_packet(g, "E45");
        return;
    }
    unsigned s = vm_gdb_reg_size((unsigned)n);
    if (pkt[0] == 'p') {
        vm_gdb_reg_get(c, (unsigned)n, v);
        vm_gdb_tohex(v, s, hex);
        send_packet(g, hex);
        return;
    }
    if (*p++ != '=' || strlen(p) != 2 * s || !vm_gdb_fromhex(p, v, s)) {
        send_packet(g, "E01");
        return;
    }
    send_packet(g, vm_gdb_reg_set(c, (unsigned)n, v) ? "E01" : "OK");
}

/* c, s, C, S [addr]; vCont;ACTION[:thread][;...]: the first action
 * decides (one thread). */
static void resume(struct vm_gdb *g, bool step, const char *addr)
{
    uint64_t a;
    if (addr && *addr && vm_gdb_parse_hex(&addr, &a))
        g->vm->cpu->eip = (uint32_t)a;
    g->running = true;
    release(g, step);
}

static void forget_debug(struct vm_gdb *g)
{
    g->nbp = 0;
    g->nwp = 0;
    if (g->vm)
        apply_breakpoints(g, g->vm);
}

/* One packet; false: drop the connection (D, k). Lock held. */
static bool handle(struct vm_gdb *g, char *pkt, size_t len)
{
    if (!wait_parked(g)) {
        send_packet(g, "E01"); /* no machine: between a reset and the next one */
        return true;
    }
    switch (pkt[0]) {
    case '?':
        send_packet(g, g->stop_reply[0] ? g->stop_reply : "T05thread:01;");
        return true;
    case 'g': case 'G': case 'p': case 'P':
        handle_regs(g, pkt);
        return true;
    case 'm': case 'M': case 'X':
        handle_mem(g, pkt, len);
        return true;
    case 'c': case 's':
        resume(g, pkt[0] == 's', pkt + 1);
        return true;
    case 'C': case 'S': { /* a signal to deliver: a guest has none; resume */
        const char *semi = strchr(pkt, ';');
        resume(g, pkt[0] == 'S', semi ? semi + 1 : NULL);
        return true;
    }
    case 'Z': case 'z':
        handle_z(g, pkt);
        return true;
    case 'H': case 'T':
        send_packet(g, "OK"); /* one thread, always alive */
        return true;
    case 'k':
        fprintf(stderr, "btvm: terminated by gdb (k)\n");
        g->vm->reset_requested = false;
        vm_request_stop_cause(g->vm, 0, VM_CAUSE_HOST_QUIT);
        forget_debug(g);
        release(g, false);
        return false;
    case 'D':
        forget_debug(g);
        send_packet(g, "OK");
        release(g, false);
        return false;
    case 'v':
        if (!strcmp(pkt, "vCont?")) {
            send_packet(g, "vCont;c;C;s;S");
        } else if (!strncmp(pkt, "vCont;", 6)) {
            char a = pkt[6];
            if (a == 'c' || a == 'C' || a == 's' || a == 'S')
                resume(g, a == 's' || a == 'S', NULL);
            else
                send_packet(g, "E01");
        } else {
            send_packet(g, ""); /* vMustReplyEmpty and everything else */
        }
        return true;
    case 'q':
        if (!strncmp(pkt, "qSupported", 10))
            send_packetf(g, "PacketSize=%x;qXfer:features:read+;QStartNoAckMode+;vContSupported+",
                         VM_GDB_PACKET_MAX);
        else if (!strncmp(pkt, "qXfer:", 6))
            handle_xfer(g, pkt + 6);
        else if (!strcmp(pkt, "qAttached") || !strncmp(pkt, "qAttached:", 10))
            send_packet(g, "1");
        else if (!strcmp(pkt, "qC"))
            send_packet(g, "QC1");
        else if (!strcmp(pkt, "qfThreadInfo"))
            send_packet(g, "m1");
        else if (!strcmp(pkt, "qsThreadInfo"))
            send_packet(g, "l");
        else if (!strncmp(pkt, "qRcmd,", 6))
            handle_rcmd(g, pkt + 6);
        else
            send_packet(g, "");
        return true;
    case 'Q':
        if (!strcmp(pkt, "QStartNoAckMode")) {
            send_packet(g, "OK");
            g->noack = true; /* after this reply, which is still acknowledged */
        } else {
            send_packet(g, "");
        }
        return true;
    default:
        send_packet(g, "");
        return true;
    }
}

/* ---- the stub thread ---- */

static void serve(struct vm_gdb *g)
{
    for (;;) {
        struct pollfd p[2] = { { .fd = g->fd, .events = POLLIN }, { .fd = g->wake[0], .events = POLLIN } };
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        if (p[1].revents) {
            char junk[64];
            if (read(g->wake[0], junk, sizeof(junk)) < 0 && errno != EAGAIN)
                return;
            pthread_mutex_lock(&g->lock);
            if (g->stop_unsent) {
                g->stop_unsent = false;
                g->running = false;
                send_packet(g, g->stop_reply);
            }
            pthread_mutex_unlock(&g->lock);
        }
        if (!p[0].revents)
            continue;
        char buf[4096];
        ssize_t n = recv(g->fd, buf, sizeof(buf), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        for (ssize_t i = 0; i < n; i++) {
            switch (vm_gdb_rx_byte(&g->rx, (uint8_t)buf[i])) {
            case VM_GDB_RX_INTR:
                pthread_mutex_lock(&g->lock);
                if (g->running) {
                    g->ctrl_c = true;
                    request_stop(g);
                }
                pthread_mutex_unlock(&g->lock);
                break;
            case VM_GDB_RX_BAD:
                if (!g->noack)
                    send_raw(g, "-", 1);
                break;
            case VM_GDB_RX_NAK:
                pthread_mutex_lock(&g->send_lock);
                send_raw(g, g->last_tx, g->last_len);
                pthread_mutex_unlock(&g->send_lock);
                break;
            case VM_GDB_RX_PACKET: {
                if (!g->noack)
                    send_raw(g, "+", 1);
                pthread_mutex_lock(&g->lock);
                bool more = handle(g, g->rx.buf, g->rx.len);
                pthread_mutex_unlock(&g->lock);
                if (!more)
                    return;
                break;
            }
            default:
                break;
            }
        }
    }
}

static void *thread_main(void *arg)
{
    struct vm_gdb *g = arg;
    for (;;) {
        int fd = accept4(g->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return NULL;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        pthread_mutex_lock(&g->lock);
        pthread_mutex_lock(&g->send_lock);
        g->fd = fd;
        pthread_mutex_unlock(&g->send_lock);
        g->noack = false;
        g->running = false;
        g->stop_unsent = false;
        g->stop_reply[0] = 0;
        vm_gdb_rx_init(&g->rx);
        request_stop(g); /* a debugger that connects stops the guest, as with QEMU */
        pthread_mutex_unlock(&g->lock);
        serve(g);
        /* Gone (or detached, or killed): the guest runs on without it. */
        pthread_mutex_lock(&g->lock);
        if (g->vm && !g->vm->stop_requested) {
            request_stop(g);
            if (wait_parked(g)) {
                forget_debug(g);
                release(g, false);
            }
        } else {
            g->nbp = g->nwp = 0;
        }
        g->running = false;
        pthread_mutex_lock(&g->send_lock);
        g->fd = -1;
        pthread_mutex_unlock(&g->send_lock);
        pthread_mutex_unlock(&g->lock);
        close(fd);
    }
}

int vm_gdb_open(struct vm_gdb **out, const struct vm_options *opt)
{
    *out = NULL;
    if (!opt->gdb)
        return 0;
    struct vm_gdb *g = calloc(1, sizeof(*g));
    if (!g) {
        fprintf(stderr, "btvm: -gdb: out of memory\n");
        return -1;
    }
    g->fd = -1;
    g->addr = opt->gdb_addr;
    g->port = opt->gdb_port;
    g->start_stopped = opt->start_stopped;
    pthread_mutex_init(&g->lock, NULL);
    pthread_mutex_init(&g->send_lock, NULL);
    pthread_cond_init(&g->cv, NULL);
    char where[64];
    struct in_addr ia = { .s_addr = htonl(g->addr) };
    snprintf(where, sizeof(where), "tcp:%s:%u", inet_ntoa(ia), g->port);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(g->port), .sin_addr = ia };
    int one = 1;
    g->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (g->listen_fd < 0 || setsockopt(g->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
        bind(g->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(g->listen_fd, 1) ||
        pipe2(g->wake, O_CLOEXEC | O_NONBLOCK)) {
        fprintf(stderr, "btvm: -gdb %s: %s\n", where, strerror(errno));
        if (g->listen_fd >= 0)
            close(g->listen_fd);
        free(g);
        return -1;
    }
    if (pthread_create(&g->thread, NULL, thread_main, g) != 0) {
        fprintf(stderr, "btvm: -gdb: cannot start its thread\n");
        close(g->listen_fd);
        free(g);
        return -1;
    }
    pthread_detach(g->thread);
    if (g->start_stopped)
        fprintf(stderr, "btvm: -S: the guest waits for gdb to continue it (%s)\n", where);
    *out = g;
    return 0;
}

void vm_gdb_attach(struct vm_gdb *g, struct vm *vm)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->lock);
    if (vm) {
        vm->gdb = g;
        memset(&vm->debug, 0, sizeof(vm->debug));
        apply_breakpoints(g, vm);
        g->engine_nbp = vm->debug.nbp; /* a new engine: nothing translated yet */
        memcpy(g->engine_bp, vm->debug.bp, sizeof(g->engine_bp));
        /* -S stops the first machine before its first instruction; one
         * rebuilt by a reset stops if the debugger had it stopped. */
        if (g->start_stopped || (g->fd >= 0 && !g->running))
            __atomic_store_n(&vm->debug_requested, 1, __ATOMIC_RELEASE);
        g->start_stopped = false;
    } else if (g->vm) {
        g->vm->gdb = NULL;
    }
    g->vm = vm;
    g->parked = false;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->lock);
}

void vm_gdb_close(struct vm_gdb *g, int status)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->send_lock);
    if (g->fd >= 0) {
        char w[8];
        snprintf(w, sizeof(w), "W%02x", status & 0xff);
        size_t n = vm_gdb_frame(w, strlen(w), g->last_tx, sizeof(g->last_tx));
        send_raw(g, g->last_tx, n);
        shutdown(g->fd, SHUT_RDWR);
    }
    pthread_mutex_unlock(&g->send_lock);
}
