/*
 * tests/unit/test_qmp.c — QMP without a socket: the stream cutter
 * (vm/qmp_stream.c: values split over reads, several in one, strings with
 * brackets and escapes, junk, nesting limit) and the request dispatch
 * (vm/qmp_cmd.c over a vm/monitor.c with no machine: negotiation, QEMU's
 * error classes and texts, "id" echoed, stop/cont with their events and
 * states, human-monitor-command's \r\n, query-commands).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "vm/monitor.h"
#include "vm/qmp_cmd.h"
#include "vm/qmp_stream.h"

/* ---- the stream ---- */

#define MAXV 16
static char got[MAXV][256];
static int ngot, ntoolong;

static void collect(void *ctx, const char *text, size_t len, bool too_long)
{
    (void)ctx;
    if (too_long) {
        ntoolong++;
        return;
    }
    ck_assert_int_lt(ngot, MAXV);
    ck_assert_uint_lt(len, sizeof(got[0]));
    memcpy(got[ngot], text, len);
    got[ngot++][len] = 0;
}

/* Feed s in pieces of step bytes (0: at once). */
static void feed(const char *s, size_t step)
{
    struct vm_qmp_stream st;
    vm_qmp_stream_init(&st);
    ngot = ntoolong = 0;
    size_t n = strlen(s);
    if (!step)
        step = n;
    for (size_t i = 0; i < n; i += step)
        vm_qmp_stream_feed(&st, s + i, i + step < n ? step : n - i, collect, NULL);
    vm_qmp_stream_free(&st);
}

START_TEST(stream_values)
{
    static const char in[] =
        "  {\"execute\": \"a\", \"arguments\": {\"x\": [1, {\"y\": \"}]{\\\"\"}]}}\r\n"
        "{\"execute\":\"b\"}{\"execute\":\"c\"}\n";
    for (size_t step = 0; step <= 3; step++) {
        feed(in, step);
        ck_assert_int_eq(ngot, 3);
        ck_assert_str_eq(got[0],
                         "{\"execute\": \"a\", \"arguments\": {\"x\": [1, {\"y\": \"}]{\\\"\"}]}}");
        ck_assert_str_eq(got[1], "{\"execute\":\"b\"}");
        ck_assert_str_eq(got[2], "{\"execute\":\"c\"}");
    }
    /* An unfinished value waits for more. */
    feed("{\"execute\": \"a\"", 0);
    ck_assert_int_eq(ngot, 0);
}
END_TEST

START_TEST(stream_junk)
{
    feed("junk {\"a\":1} 3 \"s\" ] x\n", 1);
    ck_assert_int_eq(ngot, 6);
    ck_assert_str_eq(got[0], "junk");
    ck_assert_str_eq(got[1], "{\"a\":1}");
    ck_assert_str_eq(got[2], "3");
    ck_assert_str_eq(got[3], "\"s\"");
    ck_assert_str_eq(got[4], "]");
    ck_assert_str_eq(got[5], "x");
    /* A word ends at a structural character, which starts the next value. */
    feed("abc{\"b\":2}", 0);
    ck_assert_int_eq(ngot, 2);
    ck_assert_str_eq(got[0], "abc");
    ck_assert_str_eq(got[1], "{\"b\":2}");
}
END_TEST

START_TEST(stream_limits)
{
    char deep[2 * (VM_QMP_DEPTH_MAX + 1) + 16];
    size_t n = 0;
    for (int i = 0; i <= VM_QMP_DEPTH_MAX; i++)
        deep[n++] = '[';
    for (int i = 0; i <= VM_QMP_DEPTH_MAX; i++)
        deep[n++] = ']';
    strcpy(deep + n, "{\"ok\":1}");
    feed(deep, 7);
    ck_assert_int_eq(ntoolong, 1);
    ck_assert_int_eq(ngot, 1); /* the stream goes on after the dropped value */
    ck_assert_str_eq(got[0], "{\"ok\":1}");

    size_t big = VM_QMP_VALUE_MAX + 100;
    char *s = malloc(big + 1);
    ck_assert_ptr_nonnull(s);
    s[0] = '"';
    memset(s + 1, 'a', big - 2);
    s[big - 1] = '"';
    s[big] = 0;
    feed(s, 0);
    free(s);
    ck_assert_int_eq(ntoolong, 1);
    ck_assert_int_eq(ngot, 0);
}
END_TEST

/* ---- the dispatch ---- */

static struct vm_monitor *mon;
static struct vm_qmp_session ses;
static char events[8][16];
static int nevents;

static void on_event(void *ctx, enum vm_monitor_event ev, bool guest, const char *reason)
{
    (void)ctx, (void)guest, (void)reason;
    static const char *const names[] = { "STOP", "RESUME", "RESET", "SHUTDOWN", "POWERDOWN" };
    if (nevents < 8)
        strcpy(events[nevents++], names[ev]);
}

static void setup(void)
{
    mon = vm_monitor_new();
    ck_assert_ptr_nonnull(mon);
    vm_monitor_set_event_sink(mon, on_event, NULL);
    ses = (struct vm_qmp_session){ .mon = mon };
    nevents = 0;
}

static void teardown(void)
{
    free(mon); /* no thread, no machine: nothing else to free */
}

/* The answer to req, as compact JSON text (object keys sorted). */
static char ans[4096];
static const char *ask(const char *req)
{
    json_t *a = vm_qmp_handle(&ses, req, strlen(req), false);
    ck_assert_ptr_nonnull(a);
    char *s = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(a);
    ck_assert_ptr_nonnull(s);
    snprintf(ans, sizeof(ans), "%s", s);
    free(s);
    return ans;
}

#define ERR(cls, desc) "{\"error\":{\"class\":\"" cls "\",\"desc\":\"" desc "\"}}"

START_TEST(negotiation)
{
    ck_assert_str_eq(ask("{\"execute\":\"query-status\"}"),
                     ERR("CommandNotFound",
                         "Expecting capabilities negotiation with 'qmp_capabilities'"));
    ck_assert(!ses.negotiated);
    ck_assert_str_eq(ask("{\"execute\":\"qmp_capabilities\",\"arguments\":{\"enable\":[\"oob\"]}}"),
                     ERR("GenericError", "Capability 'oob' not available"));
    ck_assert_str_eq(ask("{\"execute\":\"qmp_capabilities\",\"arguments\":{\"enable\":[\"x\"]}}"),
                     ERR("GenericError", "Parameter 'enable[0]' does not accept value 'x'"));
    ck_assert_str_eq(ask("{\"execute\":\"qmp_capabilities\",\"id\":{\"n\":1}}"),
                     "{\"id\":{\"n\":1},\"return\":{}}");
    ck_assert(ses.negotiated);
    ck_assert_str_eq(ask("{\"execute\":\"qmp_capabilities\"}"),
                     ERR("CommandNotFound",
                         "Capabilities negotiation is already complete, command ignored"));
    json_t *g = vm_qmp_greeting();
    char *s = json_dumps(g, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(g);
    ck_assert_ptr_nonnull(strstr(s, "\"capabilities\":[]"));
    ck_assert_ptr_nonnull(strstr(s, "\"qemu\":{\"major\":"));
    free(s);
}
END_TEST

START_TEST(errors)
{
    ses.negotiated = true;
    ck_assert_str_eq(ask("junk"), ERR("GenericError", "JSON parse error, invalid token near 'junk'"));
    ck_assert_str_eq(ask("[1]"), ERR("GenericError", "QMP input must be a JSON object"));
    ck_assert_str_eq(ask("{\"id\":3}"),
                     "{\"error\":{\"class\":\"GenericError\",\"desc\":\"QMP input lacks member "
                     "'execute'\"},\"id\":3}");
    ck_assert_str_eq(ask("{\"execute\":1}"),
                     ERR("GenericError", "QMP input member 'execute' must be a string"));
    ck_assert_str_eq(ask("{\"execute\":\"stop\",\"arguments\":[]}"),
                     ERR("GenericError", "QMP input member 'arguments' must be an object"));
    ck_assert_str_eq(ask("{\"execute\":\"stop\",\"x\":1}"),
                     ERR("GenericError", "QMP input member 'x' is unexpected"));
    ck_assert_str_eq(ask("{\"execute\":\"nope\",\"id\":\"i\"}"),
                     "{\"error\":{\"class\":\"CommandNotFound\",\"desc\":\"The command nope has "
                     "not been found\"},\"id\":\"i\"}");
    ck_assert_str_eq(ask("{\"execute\":\"screendump\"}"),
                     ERR("GenericError", "Parameter 'filename' is missing"));
    ck_assert_str_eq(ask("{\"execute\":\"screendump\",\"arguments\":{\"filename\":3}}"),
                     ERR("GenericError", "Invalid parameter type for 'filename', expected: string"));
    ck_assert_str_eq(ask("{\"execute\":\"screendump\",\"arguments\":{\"filename\":\"f\",\"format\":\"jpg\"}}"),
                     ERR("GenericError", "Parameter 'format' does not accept value 'jpg'"));
    ck_assert_str_eq(ask("{\"execute\":\"stop\",\"arguments\":{\"now\":true}}"),
                     ERR("GenericError", "Parameter 'now' is unexpected"));
    /* No machine attached: the commands that need one say so. */
    ck_assert_ptr_nonnull(strstr(ask("{\"execute\":\"screendump\",\"arguments\":{\"filename\":\"f\"}}"),
                                 "no machine is running"));
    ck_assert_ptr_nonnull(strstr(ask("{\"execute\":\"system_reset\"}"), "GenericError"));
    json_t *a = vm_qmp_handle(&ses, NULL, 0, true);
    char *s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    ck_assert_ptr_nonnull(strstr(s, "\"class\":\"GenericError\""));
    free(s);
    ck_assert_int_eq(nevents, 0);
}
END_TEST

START_TEST(stop_cont)
{
    ses.negotiated = true;
    ck_assert_str_eq(ask("{\"execute\":\"query-status\"}"),
                     "{\"return\":{\"running\":true,\"singlestep\":false,\"status\":\"running\"}}");
    ck_assert_str_eq(ask("{\"execute\":\"stop\",\"id\":1}"), "{\"id\":1,\"return\":{}}");
    ck_assert_int_eq(nevents, 1);
    ck_assert_str_eq(events[0], "STOP");
    ck_assert_str_eq(ask("{\"execute\":\"query-status\"}"),
                     "{\"return\":{\"running\":false,\"singlestep\":false,\"status\":\"paused\"}}");
    ck_assert_str_eq(ask("{\"execute\":\"human-monitor-command\",\"arguments\":{\"command-line\":\"info status\"}}"),
                     "{\"return\":\"VM status: paused\\r\\n\"}");
    ask("{\"execute\":\"stop\"}");
    ck_assert_int_eq(nevents, 1); /* already stopped: no event */
    ck_assert_str_eq(ask("{\"execute\":\"cont\"}"), "{\"return\":{}}");
    ck_assert_int_eq(nevents, 2);
    ck_assert_str_eq(events[1], "RESUME");
    ask("{\"execute\":\"cont\"}");
    ck_assert_int_eq(nevents, 2);
    ck_assert_ptr_nonnull(strstr(ask("{\"execute\":\"query-status\"}"), "\"status\":\"running\""));
    /* quit is answered; the caller then quits. */
    ck_assert(!ses.quit);
    ck_assert_str_eq(ask("{\"execute\":\"quit\"}"), "{\"return\":{}}");
    ck_assert(ses.quit);
}
END_TEST

START_TEST(commands)
{
    ses.negotiated = true;
    static const char req[] = "{\"execute\":\"query-commands\"}";
    json_t *a = vm_qmp_handle(&ses, req, strlen(req), false);
    json_t *list = json_object_get(a, "return");
    size_t n = 0;
    while (vm_qmp_command_names[n])
        n++;
    ck_assert_uint_eq(json_array_size(list), n);
    for (size_t i = 0; i < n; i++) {
        const char *name = json_string_value(json_object_get(json_array_get(list, i), "name"));
        ck_assert_str_eq(name, vm_qmp_command_names[i]);
    }
    json_decref(a);
    ck_assert_str_eq(ask("{\"execute\":\"query-cpus-fast\"}"),
                     "{\"return\":[{\"cpu-index\":0,\"props\":{\"core-id\":0,\"socket-id\":0,"
                     "\"thread-id\":0},\"qom-path\":\"/machine/unattached/device[0]\","
                     "\"target\":\"i386\",\"thread-id\":0}]}");
    ck_assert_ptr_nonnull(strstr(ask("{\"execute\":\"human-monitor-command\",\"arguments\":{\"command-line\":\"bogus\"}}"),
                                 "unknown command: 'bogus' (try 'help')\\r\\n"));
}
END_TEST

static Suite *qmp_suite(void)
{
    Suite *s = suite_create("qmp");
    TCase *t = tcase_create("stream");
    tcase_add_test(t, stream_values);
    tcase_add_test(t, stream_junk);
    tcase_add_test(t, stream_limits);
    suite_add_tcase(s, t);
    t = tcase_create("dispatch");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, negotiation);
    tcase_add_test(t, errors);
    tcase_add_test(t, stop_cont);
    tcase_add_test(t, commands);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(qmp_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
