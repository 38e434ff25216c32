/* guests/lib/report.h — test reporting shared by the test guests (report.c). */
#ifndef BTVM_GUEST_REPORT_H
#define BTVM_GUEST_REPORT_H

#include <stdint.h>

void report_suite(const char *name);       /* the line prefix, e.g. "systest" */
void begin(const char *name);
void expect(const char *what, uint32_t want, uint32_t got);
void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void end(void);
int report_failures(void);
const char *report_current(void);       /* the test running now, or "setup" */                 /* prints "<suite>: N failures" */

#endif
