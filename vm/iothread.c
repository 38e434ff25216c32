/*
 * vm/iothread.c — the I/O thread pool: one mutex, a FIFO of submitted jobs
 * that the threads take, and a list of finished ones the vcpu collects.
 * A thread that finishes a job while the finished list was empty calls
 * wake() once (the vcpu is kicked once per batch, not once per job).
 * docs/virtio.md.
 */
#include "vm/iothread.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/prctl.h>

#define MAX_THREADS 8

struct vm_iothreads {
    pthread_mutex_t lock;
    pthread_cond_t work;       /* a job was queued, or quit */
    pthread_cond_t idle;       /* busy dropped to 0 */
    struct vm_io_job *head, *tail;   /* queued */
    struct vm_io_job *done;    /* finished, newest first */
    unsigned busy;             /* queued + running */
    bool quit;
    void (*wake)(void *ctx);
    void *ctx;
    unsigned nthreads;
    pthread_t thread[MAX_THREADS];
};

static void *worker(void *arg)
{
    struct vm_iothreads *p = arg;
    prctl(PR_SET_NAME, "btvm-io");
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->head && !p->quit)
            pthread_cond_wait(&p->work, &p->lock);
        if (!p->head)
            break;
        struct vm_io_job *j = p->head;
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        pthread_mutex_unlock(&p->lock);
        j->run(j);
        pthread_mutex_lock(&p->lock);
        bool first = !p->done;
        j->next = p->done;
        p->done = j;
        if (--p->busy == 0)
            pthread_cond_broadcast(&p->idle);
        if (first && p->wake) {
            pthread_mutex_unlock(&p->lock);
            p->wake(p->ctx);
            pthread_mutex_lock(&p->lock);
        }
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

struct vm_iothreads *vm_iothreads_new(unsigned nthreads, void (*wake)(void *ctx), void *ctx)
{
    if (nthreads == 0 || nthreads > MAX_THREADS)
        return NULL;
    struct vm_iothreads *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->idle, NULL);
    p->wake = wake;
    p->ctx = ctx;
    for (; p->nthreads < nthreads; p->nthreads++)
        if (pthread_create(&p->thread[p->nthreads], NULL, worker, p)) {
            vm_iothreads_free(p);
            return NULL;
        }
    return p;
}

void vm_iothreads_submit(struct vm_iothreads *p, struct vm_io_job *j)
{
    j->next = NULL;
    pthread_mutex_lock(&p->lock);
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    p->busy++;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->lock);
}

void vm_iothreads_poll(struct vm_iothreads *p)
{
    pthread_mutex_lock(&p->lock);
    struct vm_io_job *j = p->done;
    p->done = NULL;
    pthread_mutex_unlock(&p->lock);
    /* Oldest first: completions reach the guest in the order they ended. */
    struct vm_io_job *rev = NULL;
    while (j) {
        struct vm_io_job *n = j->next;
        j->next = rev;
        rev = j;
        j = n;
    }
    while (rev) {
        struct vm_io_job *n = rev->next;
        rev->complete(rev);
        rev = n;
    }
}

void vm_iothreads_drain(struct vm_iothreads *p)
{
    pthread_mutex_lock(&p->lock);
    while (p->busy)
        pthread_cond_wait(&p->idle, &p->lock);
    pthread_mutex_unlock(&p->lock);
    vm_iothreads_poll(p);
}

void vm_iothreads_free(struct vm_iothreads *p)
{
    if (!p)
        return;
    vm_iothreads_drain(p);
    pthread_mutex_lock(&p->lock);
    p->quit = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->thread[i], NULL);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->idle);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
