/*
 * vm/monitor_sock.h — a monitor's listening Unix socket and the thread that
 * serves its clients, one at a time (the human monitor's and QMP's).
 * docs/monitor.md.
 */
#ifndef BTVM_VM_MONITOR_SOCK_H
#define BTVM_VM_MONITOR_SOCK_H

#include <stdbool.h>
#include <stddef.h>

struct vm_monitor_sock;

/* Serve one client on fd until it leaves (the thread closes fd after). */
typedef void vm_monitor_serve_fn(void *ctx, int fd);

/* Listen on path (a socket file left by an earlier run is replaced; any
 * other file is an error); with wait, accept the first client before
 * returning. Then a thread serves clients with serve(ctx, fd). opt names
 * the option in messages ("-monitor"). 0, or -1 after printing why. */
int vm_monitor_sock_open(struct vm_monitor_sock **out, const char *opt, const char *path,
                         bool wait, vm_monitor_serve_fn *serve, void *ctx);
/* Remove the socket's file (the process is ending: the thread may sit in
 * accept or in a client's read, and its descriptors stay until exit). */
void vm_monitor_sock_close(struct vm_monitor_sock *s);

/* Write all of s (len bytes) to fd, ignoring a client that left (its read
 * side notices). */
void vm_monitor_sock_put(int fd, const char *s, size_t len);

#endif
