/*
 * vm/qmp_cmd.h — QMP's requests: one JSON value in, the answer out, as
 * QEMU's dispatcher checks and words them (capabilities negotiation
 * first, "id" echoed, errors as {"error": {"class", "desc"}}), and the
 * commands themselves over the monitors' common part (vm/monitor.h). No
 * I/O: vm/qmp.c reads and writes the socket. docs/monitor.md.
 */
#ifndef BTVM_VM_QMP_CMD_H
#define BTVM_VM_QMP_CMD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct vm_monitor;

/* One client's session. */
struct vm_qmp_session {
    struct vm_monitor *mon;
    bool negotiated;      /* qmp_capabilities done: commands and events */
    bool quit;            /* quit answered: the caller sends that, then quits */
};

/* The greeting a session starts with. */
json_t *vm_qmp_greeting(void);
/* The answer to one value of the stream (text, len: vm/qmp_stream.h;
 * too_long: a dropped value). Never NULL but when out of memory. */
json_t *vm_qmp_handle(struct vm_qmp_session *s, const char *text, size_t len, bool too_long);
/* An event as QMP sends it: {"timestamp": ..., "event": name[, "data"]}. */
json_t *vm_qmp_event(const char *name, json_t *data);

/* The commands, for query-commands and the docs. */
extern const char *const vm_qmp_command_names[];

#endif
