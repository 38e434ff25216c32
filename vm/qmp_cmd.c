/*
 * vm/qmp_cmd.c — QMP requests to answers (vm/qmp_cmd.h). The checks and
 * their texts follow QEMU's dispatcher: a request is an object with
 * "execute" (a string), optional "arguments" (an object) and "id" (any
 * value, echoed), nothing else; before qmp_capabilities only that command
 * is taken (CommandNotFound), after it never again; an unknown command is
 * CommandNotFound; arguments are checked against the command's parameters
 * (missing, unexpected, wrong type, value outside an enum: GenericError).
 * docs/monitor.md.
 */
#include "vm/qmp_cmd.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "vm/cli.h"
#include "vm/monitor.h"
#include "vm/monitor_cmd.h"
#include "vm/monitor_hmp.h"
#include "vm/qmp_stream.h"


struct qerr {
    const char *cls;      /* NULL: no error */
    char desc[512];
};

static void seterr(struct qerr *e, const char *cls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(struct qerr *e, const char *cls, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->desc, sizeof(e->desc), fmt, ap);
    va_end(ap);
    e->cls = cls;
}

/* ---- parameters ---- */

enum arg_type { T_STR, T_INT, T_STR_LIST };

struct arg {
    const char *name;
    enum arg_type type;
    bool optional;
    const char *const *values; /* an enum's values (NULL-terminated), or NULL */
};

static const char *const type_names[] = { "string", "integer", "array" };

static bool in_enum(const char *v, const char *const *values)
{
    for (; *values; values++)
        if (!strcmp(v, *values))
            return true;
    return false;
}

/* QEMU's order: each parameter in turn (missing, type, value), then the
 * members nobody asked for. */
static bool check_args(const struct arg *args, json_t *a, struct qerr *e)
{
    for (const struct arg *p = args; p && p->name; p++) {
        json_t *v = json_object_get(a, p->name);
        if (!v) {
            if (p->optional)
                continue;
            seterr(e, "GenericError", "Parameter '%s' is missing", p->name);
            return false;
        }
        bool ok = p->type == T_STR ? json_is_string(v)
                  : p->type == T_INT ? json_is_integer(v)
                                     : json_is_array(v);
        if (!ok) {
            seterr(e, "GenericError", "Invalid parameter type for '%s', expected: %s", p->name,
                   type_names[p->type]);
            return false;
        }
        if (p->type == T_STR && p->values && !in_enum(json_string_value(v), p->values)) {
            seterr(e, "GenericError", "Parameter '%s' does not accept value '%s'", p->name,
                   json_string_value(v));
            return false;
        }
        if (p->type == T_STR_LIST) {
            size_t i;
            json_t *x;
            json_array_foreach(v, i, x) {
                if (!json_is_string(x)) {
                    seterr(e, "GenericError", "Invalid parameter type for '%s[%zu]', expected: %s",
                           p->name, i, type_names[T_STR]);
                    return false;
                }
                if (p->values && !in_enum(json_string_value(x), p->values)) {
                    seterr(e, "GenericError", "Parameter '%s[%zu]' does not accept value '%s'",
                           p->name, i, json_string_value(x));
                    return false;
                }
            }
        }
    }
    const char *key;
    json_t *v;
    json_object_foreach(a, key, v) {
        const struct arg *p = args;
        while (p && p->name && strcmp(p->name, key))
            p++;
        if (!p || !p->name) {
            seterr(e, "GenericError", "Parameter '%s' is unexpected", key);
            return false;
        }
    }
    return true;
}

/* ---- the commands ---- */

typedef json_t *cmd_fn(struct vm_qmp_session *s, json_t *args, struct qerr *e);

static const char *const capabilities[] = { "oob", NULL };

static json_t *c_capabilities(struct vm_qmp_session *s, json_t *args, struct qerr *e)
{
    json_t *en = json_object_get(args, "enable");
    if (en && json_array_size(en)) {
        /* btvm offers none (no out-of-band execution). */
        seterr(e, "GenericError", "Capability '%s' not available",
               json_string_value(json_array_get(en, 0)));
        return NULL;
    }
    s->negotiated = true;
    return json_object();
}

static json_t *c_query_status(struct vm_qmp_session *s, json_t *args, struct qerr *e)
{
    (void)args, (void)e;
    enum vm_run_state st = vm_monitor_state(s->mon);
    /* singlestep: QEMU 7.2 still answers it (always false here). */
    return json_pack("{s:s, s:b, s:b}", "status", vm_run_state_name(st), "singlestep", 0,
                     "running", st == VM_RUN_RUNNING);
}

static json_t *c_stop(struct vm_qmp_session *s, json_t *args, struct qerr *e)
{
    (void)args, (void)e;
    vm_monitor_stop(s->mon);
    return json_object();
}

static json_t *c_cont(struct vm_qmp_session *s, json_t *args, struct qerr *e)
{
    (void)args, (void)e;
    vm_monitor_cont(s->mon);
    return json_object();
}

static const char no_machine[] = "no machine is running (btvm is between two runs)";

static json_t *c_system_reset(struct vm_qmp_session *s, json_t *args, struct qerr *e)
{
    (void)args;
    if (vm_monitor_reset(s->mon)) {
        seterr(e, "GenericError", "%s", no_machine);
        return NULL;
    }
    return json_object();
}

static json_t *c_system_powerdown(struct vm_qmp_session *s, json_t *args, struct qerr *e)
{
    (void)args;
    int r = vm_monitor_powerdown(s->mon);
    if (r) {
        seterr(e, "GenericError", "%s", r == -ESRCH ? no_machine : strerror(-r));
        return NULL;
    }
    return json_object();
}

static json_t *c_quit(struct vm_qmp_session *s, json_t *args, struct qerr *e)
{
    (void)args, (void)e;
    s->quit = true; /* the answer goes out first (vm/qmp.c), then btvm ends */
    return json_object();
}

static const char *const formats[] = { "ppm", "png", NULL };

static json_t *c_screendump(struct vm_qmp_session *s, json_t *args, struct qerr *e)
{
    const char *file = json_string_value(json_object_get(args, "filename"));
    json_t *dev = json_object_get(args, "device");
    json_t *head = json_object_get(args, "head");
    if (dev || (head && json_integer_value(head) != 0)) {
        seterr(e, "GenericError", "btvm has one display: no 'device', 'head' 0 only");
        return NULL;
    }
    struct vm_monitor_cmd *cmd = calloc(1, sizeof(*cmd));
    if (!cmd || strlen(file) >= sizeof(cmd->file)) {
        seterr(e, "GenericError", "%s", cmd ? "file name too long" : "out of memory");
        free(cmd);
        return NULL;
    }
    cmd->op = VM_MON_SCREENDUMP;
    strcpy(cmd->file, file);
    /* QEMU's default is PPM, whatever the name. */
    const char *fmt = json_string_value(json_object_get(args, "format"));
    cmd->format = fmt && !strcmp(fmt, "png") ? VM_MON_FMT_PNG : VM_MON_FMT_PPM;
    int r = vm_monitor_call(s->mon, cmd, NULL, 0);
    free(cmd);
    if (r == -ESRCH)
        seterr(e, "GenericError", "%s", no_machine);
    else if (r)
        seterr(e, "GenericError", "failed to open file '%s': %s", file, strerror(-r));
    return r ? NULL : json_object();
}

static json_t *c_query_cpus_fast(struct vm_qmp_session *s, json_t *args, struct qerr *e)
{
    (void)args, (void)e;
    /* One x86 CPU, named and placed as QEMU's pc machine does. */
    return json_pack("[{s:i, s:{s:i, s:i, s:i}, s:s, s:i, s:s}]", "thread-id",
                     vm_monitor_vcpu_tid(s->mon), "props", "core-id", 0, "thread-id", 0,
                     "socket-id", 0, "qom-path", "/machine/unattached/device[0]", "cpu-index", 0,
                     "target", "i386");
}

static json_t *c_hmp(struct vm_qmp_session *s, json_t *args, struct qerr *e)
{
    json_t *cpu = json_object_get(args, "cpu-index");
    if (cpu && json_integer_value(cpu) != 0) {
        seterr(e, "GenericError", "CPU %lld is not present (btvm has one, 0)",
               (long long)json_integer_value(cpu));
        return NULL;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out) {
        seterr(e, "GenericError", "out of memory");
        return NULL;
    }
    vm_hmp_exec(s->mon, json_string_value(json_object_get(args, "command-line")), out);
    fclose(out);
    /* QEMU's monitor ends lines with \r\n, also in this string. */
    char *crlf = malloc(2 * len + 1);
    size_t n = 0;
    for (size_t i = 0; crlf && i < len; i++) {
        if (text[i] == '\n')
            crlf[n++] = '\r';
        crlf[n++] = text[i];
    }
    json_t *r = crlf ? json_stringn(crlf, n) : NULL;
    free(crlf);
    free(text);
    if (!r)
        seterr(e, "GenericError", "out of memory");
    return r;
}

static json_t *c_query_version(struct vm_qmp_session *s, json_t *args, struct qerr *e)
{
    (void)s, (void)args, (void)e;
    /* QEMU's shape; the numbers are btvm's own. */
    int v[3] = { 0, 0, 0 };
    sscanf(BTVM_VERSION, "%d.%d.%d", &v[0], &v[1], &v[2]);
    return json_pack("{s:{s:i, s:i, s:i}, s:s}", "qemu", "micro", v[2], "minor", v[1], "major",
                     v[0], "package", "btvm " BTVM_VERSION);
}

static json_t *c_query_commands(struct vm_qmp_session *s, json_t *args, struct qerr *e);

static const struct arg a_caps[] = { { "enable", T_STR_LIST, true, capabilities }, { 0 } };
static const struct arg a_screendump[] = {
    { "filename", T_STR, false, NULL },
    { "device", T_STR, true, NULL },
    { "head", T_INT, true, NULL },
    { "format", T_STR, true, formats },
    { 0 },
};
static const struct arg a_hmp[] = {
    { "command-line", T_STR, false, NULL }, { "cpu-index", T_INT, true, NULL }, { 0 },
};

static const struct cmd {
    const char *name;
    const struct arg *args;
    cmd_fn *fn;
} cmds[] = {
    { "qmp_capabilities", a_caps, c_capabilities },
    { "query-status", NULL, c_query_status },
    { "stop", NULL, c_stop },
    { "cont", NULL, c_cont },
    { "system_powerdown", NULL, c_system_powerdown },
    { "system_reset", NULL, c_system_reset },
    { "quit", NULL, c_quit },
    { "screendump", a_screendump, c_screendump },
    { "query-cpus-fast", NULL, c_query_cpus_fast },
    { "human-monitor-command", a_hmp, c_hmp },
    { "query-version", NULL, c_query_version },
    { "query-commands", NULL, c_query_commands },
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

const char *const vm_qmp_command_names[] = {
    "qmp_capabilities", "query-status", "stop", "cont", "system_powerdown", "system_reset",
    "quit", "screendump", "query-cpus-fast", "human-monitor-command", "query-version",
    "query-commands", NULL,
};
_Static_assert(sizeof(vm_qmp_command_names) / sizeof(vm_qmp_command_names[0]) == NCMDS + 1,
               "vm_qmp_command_names lists every command");

static json_t *c_query_commands(struct vm_qmp_session *s, json_t *args, struct qerr *e)
{
    (void)s, (void)args, (void)e;
    json_t *list = json_array();
    for (size_t i = 0; list && i < NCMDS; i++)
        json_array_append_new(list, json_pack("{s:s}", "name", cmds[i].name));
    return list;
}

/* ---- requests ---- */

json_t *vm_qmp_greeting(void)
{
    json_t *ver = c_query_version(NULL, NULL, NULL);
    return json_pack("{s:{s:o, s:[]}}", "QMP", "version", ver, "capabilities");
}

json_t *vm_qmp_event(const char *name, json_t *data)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    json_t *ev = json_pack("{s:{s:I, s:I}, s:s}", "timestamp", "seconds", (json_int_t)tv.tv_sec,
                           "microseconds", (json_int_t)tv.tv_usec, "event", name);
    if (ev && data)
        json_object_set_new(ev, "data", data);
    else if (data)
        json_decref(data);
    return ev;
}

/* Check the request's members; the command, or NULL with e set. */
static const struct cmd *check_request(struct vm_qmp_session *s, json_t *req, json_t **args,
                                       struct qerr *e)
{
    if (!json_is_object(req)) {
        seterr(e, "GenericError", "QMP input must be a JSON object");
        return NULL;
    }
    const char *key;
    json_t *v;
    json_object_foreach(req, key, v) {
        if (!strcmp(key, "execute")) {
            if (!json_is_string(v)) {
                seterr(e, "GenericError", "QMP input member 'execute' must be a string");
                return NULL;
            }
        } else if (!strcmp(key, "arguments")) {
            if (!json_is_object(v)) {
                seterr(e, "GenericError", "QMP input member 'arguments' must be an object");
                return NULL;
            }
        } else if (strcmp(key, "id")) {
            seterr(e, "GenericError", "QMP input member '%s' is unexpected", key);
            return NULL;
        }
    }
    json_t *ex = json_object_get(req, "execute");
    if (!ex) {
        seterr(e, "GenericError", "QMP input lacks member 'execute'");
        return NULL;
    }
    const char *name = json_string_value(ex);
    bool caps = !strcmp(name, "qmp_capabilities");
    if (!s->negotiated && !caps) {
        seterr(e, "CommandNotFound", "Expecting capabilities negotiation with 'qmp_capabilities'");
        return NULL;
    }
    if (s->negotiated && caps) {
        seterr(e, "CommandNotFound", "Capabilities negotiation is already complete, command ignored");
        return NULL;
    }
    const struct cmd *c = NULL;
    for (size_t i = 0; i < NCMDS && !c; i++)
        if (!strcmp(cmds[i].name, name))
            c = &cmds[i];
    if (!c) {
        seterr(e, "CommandNotFound", "The command %s has not been found", name);
        return NULL;
    }
    *args = json_object_get(req, "arguments");
    return c;
}

json_t *vm_qmp_handle(struct vm_qmp_session *s, const char *text, size_t len, bool too_long)
{
    struct qerr e = { 0 };
    json_t *req = NULL, *ret = NULL;
    if (too_long) {
        seterr(&e, "GenericError", "JSON parse error, value longer than %u bytes or nested "
               "deeper than %d", VM_QMP_VALUE_MAX, VM_QMP_DEPTH_MAX);
    } else {
        json_error_t je;
        req = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
        if (!req)
            seterr(&e, "GenericError", "JSON parse error, %s", je.text);
    }
    if (req) {
        json_t *args = NULL;
        const struct cmd *c = check_request(s, req, &args, &e);
        json_t *empty = NULL;
        if (c && !args)
            args = empty = json_object();
        if (c && check_args(c->args, args, &e))
            ret = c->fn(s, args, &e);
        json_decref(empty);
        if (!ret && !e.cls)
            seterr(&e, "GenericError", "out of memory");
    }
    json_t *id = json_is_object(req) ? json_object_get(req, "id") : NULL;
    json_t *ans = json_object();
    /* QEMU's member order: "return" before "id", "id" before "error". */
    if (ans && ret) {
        json_object_set_new(ans, "return", ret);
        if (id)
            json_object_set(ans, "id", id);
    } else if (ans) {
        if (id)
            json_object_set(ans, "id", id);
        json_object_set_new(ans, "error",
                            json_pack("{s:s, s:s}", "class", e.cls, "desc", e.desc));
    } else {
        json_decref(ret);
    }
    json_decref(req);
    return ans;
}
