/*
 * vm/iothread.h — a small pool of host threads that run blocking jobs
 * (disk transfers, fdatasync) off the vcpu thread, and hand each finished
 * job back to the vcpu thread: the pool calls wake(), the vcpu calls
 * vm_iothreads_poll() and each job's complete() runs there. docs/virtio.md.
 */
#ifndef BTVM_VM_IOTHREAD_H
#define BTVM_VM_IOTHREAD_H

struct vm_io_job {
    void (*run)(struct vm_io_job *j);       /* on an I/O thread: may block */
    void (*complete)(struct vm_io_job *j);  /* then on the vcpu thread; may free j */
    struct vm_io_job *next;                 /* the pool's */
};

struct vm_iothreads;

/* nthreads threads; wake(ctx) is called (from an I/O thread) when jobs
 * finished and the vcpu should poll. NULL on failure. */
struct vm_iothreads *vm_iothreads_new(unsigned nthreads, void (*wake)(void *ctx), void *ctx);
/* Queue j (vcpu thread). */
void vm_iothreads_submit(struct vm_iothreads *p, struct vm_io_job *j);
/* vcpu thread: run the complete() of every finished job. */
void vm_iothreads_poll(struct vm_iothreads *p);
/* vcpu thread: wait until no job is queued or running, then poll. */
void vm_iothreads_drain(struct vm_iothreads *p);
/* Drain, end the threads, free. NULL is ignored. */
void vm_iothreads_free(struct vm_iothreads *p);

#endif
