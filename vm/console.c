/*
 * vm/console.c — the user's terminal as the guest's serial line.
 *
 * Output: bytes go to stdout with write(2) directly (no stdio buffer), with
 * partial writes, EINTR and non-blocking stdout handled.
 *
 * Input: a reader thread reads stdin into a lock-free single-producer /
 * single-consumer ring; the device side pops bytes without any syscall
 * (the UART polls it whenever the guest reads LSR or RBR). End of input
 * ends the thread quietly.
 *
 * Terminal: when stdin is a terminal in our foreground process group it is
 * put in raw mode like QEMU's -serial stdio / -nographic: no echo, no line
 * editing, no signals from keys (Ctrl-C goes to the guest), but output
 * processing (OPOST, with the user's ONLCR) is kept so a guest's bare "\n"
 * still starts a new line. The saved state is put back on every exit path:
 * vm_console_close(), atexit, and a handler for each fatal signal that
 * restores it and re-raises the signal with its default action. Ctrl-A is
 * the escape key (see docs/devices.md): only on a terminal; piped input is
 * delivered byte for byte.
 *
 * The console is process-wide by nature (there is one stdin), so its state
 * is a single static struct.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "vm/console.h"

/* Exit status after Ctrl-A X: a user's deliberate quit is a success, as
 * with QEMU's Ctrl-A X (QEMU exits 0). */
#define CONSOLE_QUIT_STATUS 0
#define CONSOLE_ESCAPE 0x01   /* Ctrl-A */
#define RING_SIZE 4096        /* power of two */

static const int fatal_signals[] = {
    SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT,
    SIGPIPE, SIGTRAP, SIGSYS, SIGXCPU, SIGXFSZ,
};

static struct {
    struct vm *vm;
    bool opened;
    bool is_tty;              /* escape keys active */
    struct termios saved;
    atomic_int raw;           /* 1 while the terminal is ours to restore */
    bool out_broken;          /* stdout failed for good: drop output */

    uint8_t ring[RING_SIZE];
    atomic_size_t head;       /* written by the reader thread only */
    atomic_size_t tail;       /* written by the consumer only */
    bool escape;              /* reader thread: Ctrl-A seen */
} con;

/* ---- terminal state: everything here is async-signal-safe ---- */

/* A full-screen display (vm/display.c) owns the screen: leave it (the
 * sequence it gave) before the terminal modes go back. */
static const char *screen_restore;
static atomic_int screen_owned;

static void restore_terminal(void)
{
    if (atomic_exchange(&screen_owned, 0) && screen_restore) {
        ssize_t r = write(STDOUT_FILENO, screen_restore, strlen(screen_restore));
        (void)r;   /* best effort, async-signal-safe */
    }
    if (!atomic_exchange(&con.raw, 0))
        return;
    /* A background process changing the terminal gets SIGTTOU (stopped);
     * block it so the restore always goes through. */
    sigset_t ttou, old;
    sigemptyset(&ttou);
    sigaddset(&ttou, SIGTTOU);
    pthread_sigmask(SIG_BLOCK, &ttou, &old);
    tcsetattr(STDIN_FILENO, TCSANOW, &con.saved);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void fatal_signal_handler(int sig)
{
    int saved_errno = errno;
    restore_terminal();
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    /* Pending until we return (sig is blocked in its handler), then the
     * default action runs; a fault signal would also recur by itself. */
    raise(sig);
    errno = saved_errno;
}

void vm_console_close(void)
{
    restore_terminal();
}

void vm_console_take_screen(const char *restore)
{
    screen_restore = restore;
    atomic_store(&screen_owned, 1);
}

bool vm_console_screen_owned(void)
{
    return atomic_load(&screen_owned);
}

/* Installs our handler only where nobody else has one: an engine's SIGSEGV
 * handler (host faults in the code cache) must keep working, and such a
 * handler calls vm_console_close() itself before dying. */
static void install_signal_handlers(void)
{
    for (size_t i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++) {
        struct sigaction old, sa;
        if (sigaction(fatal_signals[i], NULL, &old) != 0)
            continue;
        if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL)
            continue;   /* ignored or already handled */
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = fatal_signal_handler;
        sigfillset(&sa.sa_mask);
        sigaction(fatal_signals[i], &sa, NULL);
    }
}

static int enter_raw_mode(void)
{
    if (tcgetattr(STDIN_FILENO, &con.saved) != 0)
        return -errno;
    struct termios t = con.saved;
    cfmakeraw(&t);
    /* cfmakeraw clears OPOST; keep the user's output processing. */
    t.c_oflag = con.saved.c_oflag;
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    install_signal_handlers();
    atomic_store(&con.raw, 1);   /* before the change: a signal in between still restores */
    if (tcsetattr(STDIN_FILENO, TCSANOW, &t) != 0) {
        int err = -errno;
        atomic_store(&con.raw, 0);
        return err;
    }
    return 0;
}

/* ---- output ---- */

static void write_all(int fd, const uint8_t *buf, size_t n)
{
    while (n && !con.out_broken) {
        ssize_t w = write(fd, buf, n);
        if (w > 0) {
            buf += w;
            n -= (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd p = { .fd = fd, .events = POLLOUT };
            poll(&p, 1, -1);
        } else {
            con.out_broken = true;   /* EPIPE, EIO, ...: the reader is gone */
        }
    }
}

static void console_write(void *ctx, const uint8_t *buf, size_t n)
{
    (void)ctx;
    write_all(STDOUT_FILENO, buf, n);
}

static void say(const char *s)
{
    ssize_t r = write(STDERR_FILENO, s, strlen(s));
    (void)r;   /* best effort: a message to the user */
}

/* ---- input ring (one producer: the reader thread; one consumer) ---- */

static int console_read(void *ctx, uint8_t *byte)
{
    (void)ctx;
    size_t t = atomic_load_explicit(&con.tail, memory_order_relaxed);
    size_t h = atomic_load_explicit(&con.head, memory_order_acquire);
    if (t == h)
        return 0;
    *byte = con.ring[t % RING_SIZE];
    atomic_store_explicit(&con.tail, t + 1, memory_order_release);
    return 1;
}

/* Blocks (napping) while the guest is not draining the ring: we then stop
 * reading stdin and the terminal's own buffer holds the rest. */
static void ring_push(uint8_t b)
{
    size_t h = atomic_load_explicit(&con.head, memory_order_relaxed);
    while (h - atomic_load_explicit(&con.tail, memory_order_acquire) == RING_SIZE) {
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    con.ring[h % RING_SIZE] = b;
    atomic_store_explicit(&con.head, h + 1, memory_order_release);
}

/* Escape keys; returns false when input should stop (quit). */
static bool input_byte(uint8_t b)
{
    if (!con.is_tty) {
        ring_push(b);
        return true;
    }
    if (!con.escape) {
        if (b == CONSOLE_ESCAPE)
            con.escape = true;
        else
            ring_push(b);
        return true;
    }
    con.escape = false;
    switch (b) {
    case 'x':
    case 'X':
        say("\nbtvm: Ctrl-A X: quitting\n");
        if (con.vm)
            vm_request_stop_cause(con.vm, CONSOLE_QUIT_STATUS, VM_CAUSE_HOST_UI);
        return false;
    case CONSOLE_ESCAPE:
        ring_push(CONSOLE_ESCAPE);
        return true;
    case 'h':
    case 'H':
    case '?':
        say("\nbtvm console keys:\n"
            "  Ctrl-A X       quit (exit status 0)\n"
            "  Ctrl-A Ctrl-A  send Ctrl-A to the guest\n"
            "  Ctrl-A H       this help\n"
            "  Ctrl-C and other keys go to the guest\n");
        return true;
    default:
        return true;   /* unknown escape: swallowed, as QEMU does */
    }
}

static void (*notify_fn)(void *ctx);
static void *notify_ctx;

void vm_console_set_notify(void (*fn)(void *ctx), void *ctx)
{
    notify_ctx = ctx;
    notify_fn = fn;
}

static void *reader_main(void *arg)
{
    (void)arg;
    uint8_t buf[256];
    for (;;) {
        ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return NULL;   /* end of input (or stdin unusable): quietly done */
        for (ssize_t i = 0; i < n; i++)
            if (!input_byte(buf[i]))
                return NULL;
        if (notify_fn)
            notify_fn(notify_ctx);
    }
}

/* ---- setup ---- */

static const struct dev_chardev console_chardev = {
    .write = console_write,
    .read = console_read,
    .ctx = NULL,
};

const struct dev_chardev *vm_console_chardev(void)
{
    return &console_chardev;
}

int vm_console_open(struct vm *vm)
{
    if (con.opened) {
        /* A reboot builds the machine again: the reader thread and the
         * input it buffered carry over; the terminal goes raw again. */
        con.vm = vm;
        if (con.is_tty && !atomic_load(&con.raw))
            return enter_raw_mode();
        return 0;
    }
    con.vm = vm;
    bool tty = isatty(STDIN_FILENO);
    /* A background job must neither change nor read the terminal (it
     * would be stopped by SIGTTOU/SIGTTIN): no raw mode, no input. */
    if (tty && tcgetpgrp(STDIN_FILENO) != getpgrp()) {
        con.opened = true;
        return 0;
    }
    if (tty) {
        int err = enter_raw_mode();
        if (err)
            return err;
        atexit(vm_console_close);
        con.is_tty = true;
    }
    /* The reader must not take the fatal signals meant for the CPU thread's
     * handlers, and never runs at exit: it is detached and simply dies. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    pthread_t th;
    int err = pthread_create(&th, NULL, reader_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err) {
        restore_terminal();
        return -err;
    }
    pthread_detach(th);
    con.opened = true;
    return 0;
}
