/*
 * guests/lib/report.c — the test guests' reporting: begin(name), any number
 * of expect()/fail(), end(); each test prints "<suite>: <name> ok" or
 * "<suite>: <name> FAIL: ..." lines that the tests/guest scripts judge, and
 * report_failures() the closing "<suite>: N failures" count.
 */
#include "guest.h"
#include "report.h"

static const char *suite = "guest";
static const char *cur;
static int cur_bad, failures;

void report_suite(const char *name) { suite = name; }

const char *report_current(void) { return cur ? cur : "setup"; }

void begin(const char *name)
{
    cur = name;
    cur_bad = 0;
}

void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    gprintf("%s: %s FAIL: ", suite, cur);
    gvprintf(fmt, ap);
    serial_putc('\n');
    va_end(ap);
    cur_bad++;
}

void expect(const char *what, uint32_t want, uint32_t got)
{
    if (want != got)
        fail("%s: expected %x got %x", what, want, got);
}

void end(void)
{
    if (cur_bad)
        failures++;
    else
        gprintf("%s: %s ok\n", suite, cur);
}

int report_failures(void)
{
    gprintf("%s: %d failures\n", suite, failures);
    return failures;
}
