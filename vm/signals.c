/*
 * vm/signals.c — SIGTERM, SIGINT and SIGHUP end btvm in order, as QEMU's
 * "terminating on signal N": the running machine stops at its next
 * instruction boundary and leaves through the usual exit path — terminal
 * restored, --screendump files and --stats written, images closed — with
 * status 128 + N. A second signal (or one before a machine runs) ends btvm
 * at once, terminal restored.
 *
 * The signals are blocked in every thread (vm_signals_init runs before any
 * thread exists, and threads inherit the mask) and taken by one thread in
 * sigwait(), so stopping the machine needs no async-signal-safe tricks: it
 * is vm_kick() from an ordinary thread.
 */
#include "vm/signals.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "vm/console.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct vm *current;
static sigset_t handled;

static void *waiter(void *arg)
{
    (void)arg;
    bool stopping = false;
    for (;;) {
        int sig;
        if (sigwait(&handled, &sig) != 0)
            continue;
        pthread_mutex_lock(&lock);
        struct vm *vm = current;
        if (vm && !stopping) {
            stopping = true;
            fprintf(stderr, "btvm: terminating on signal %d\n", sig);
            vm->stop_status = 128 + sig;
            vm->stop_cause = VM_CAUSE_HOST_SIGNAL;
            vm->reset_requested = false;
            __atomic_store_n(&vm->stop_requested, 1, __ATOMIC_RELEASE);
            vm_kick(vm);
            pthread_mutex_unlock(&lock);
            continue;
        }
        pthread_mutex_unlock(&lock);
        vm_console_close();
        _exit(128 + sig);
    }
    return NULL;
}

int vm_signals_init(void)
{
    sigemptyset(&handled);
    sigaddset(&handled, SIGTERM);
    sigaddset(&handled, SIGINT);
    sigaddset(&handled, SIGHUP);
    if (pthread_sigmask(SIG_BLOCK, &handled, NULL) != 0)
        return -1;
    pthread_t t;
    if (pthread_create(&t, NULL, waiter, NULL) != 0)
        return -1;
    pthread_detach(t);
    return 0;
}

void vm_signals_attach(struct vm *vm)
{
    pthread_mutex_lock(&lock);
    current = vm;
    pthread_mutex_unlock(&lock);
}
