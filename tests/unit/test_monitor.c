/*
 * tests/unit/test_monitor.c — the monitor's pure parts: HMP lines to
 * commands (vm/monitor_cmd.c: words, quotes, screendump's -f before or
 * after the file, errors) and the -monitor and -qmp options
 * (vm/monitor_cli.c: unix:PATH keys, none, stdio and tcp: refused, path
 * length).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "vm/cli.h"
#include "vm/monitor_cmd.h"

static struct vm_monitor_cmd cmd;
static char err[256];

static int parse(const char *line)
{
    err[0] = 0;
    int r = vm_monitor_parse(line, &cmd, err, sizeof(err));
    if (r)
        ck_assert_msg(err[0] && !strchr(err, '\n'), "one-line error for '%s': '%s'", line, err);
    return r;
}

START_TEST(simple_commands)
{
    ck_assert_int_eq(parse(""), 0);
    ck_assert_int_eq(cmd.op, VM_MON_NOTHING);
    ck_assert_int_eq(parse("  \t\r\n"), 0);
    ck_assert_int_eq(cmd.op, VM_MON_NOTHING);
    ck_assert_int_eq(parse("help"), 0);
    ck_assert_int_eq(cmd.op, VM_MON_HELP);
    ck_assert_int_eq(parse("?"), 0);
    ck_assert_int_eq(cmd.op, VM_MON_HELP);
    ck_assert_int_eq(parse("info"), 0);
    ck_assert_int_eq(cmd.op, VM_MON_INFO);
    ck_assert_int_eq(parse("  info   status \r\n"), 0);
    ck_assert_int_eq(cmd.op, VM_MON_INFO_STATUS);
    ck_assert_int_eq(parse("info registers"), 0);
    ck_assert_int_eq(cmd.op, VM_MON_INFO_REGISTERS);
    ck_assert_int_eq(parse("stop"), 0);
    ck_assert_int_eq(cmd.op, VM_MON_STOP);
    ck_assert_int_eq(parse("cont"), 0);
    ck_assert_int_eq(cmd.op, VM_MON_CONT);
    ck_assert_int_eq(parse("c"), 0);
    ck_assert_int_eq(cmd.op, VM_MON_CONT);
    ck_assert_int_eq(parse("system_powerdown"), 0);
    ck_assert_int_eq(cmd.op, VM_MON_SYSTEM_POWERDOWN);
    ck_assert_int_ne(parse("stop now"), 0);
    ck_assert_ptr_nonnull(strstr(err, "takes no arguments"));
    ck_assert_int_eq(parse("system_reset"), 0);
    ck_assert_int_eq(cmd.op, VM_MON_SYSTEM_RESET);
    ck_assert_int_eq(parse("quit"), 0);
    ck_assert_int_eq(cmd.op, VM_MON_QUIT);
    ck_assert_int_eq(parse("q"), 0);
    ck_assert_int_eq(cmd.op, VM_MON_QUIT);
}
END_TEST

START_TEST(bad_commands)
{
    ck_assert_int_ne(parse("bogus"), 0);
    ck_assert_ptr_nonnull(strstr(err, "bogus"));
    ck_assert_int_ne(parse("info mtree"), 0);
    ck_assert_int_ne(parse("info status now"), 0);
    ck_assert_int_ne(parse("quit now"), 0);
    ck_assert_int_ne(parse("system_reset 1"), 0);
    ck_assert_int_ne(parse("QUIT"), 0); /* HMP is case-sensitive */
    ck_assert_int_ne(parse("screendump 'open"), 0);
    ck_assert_int_ne(parse("a b c d e f g h i"), 0); /* more words than any command */
    char *big = malloc(VM_MONITOR_LINE_MAX + 10);
    memset(big, 'x', VM_MONITOR_LINE_MAX + 9);
    big[VM_MONITOR_LINE_MAX + 9] = 0;
    ck_assert_int_ne(parse(big), 0);
    free(big);
}
END_TEST

START_TEST(screendump_args)
{
    ck_assert_int_eq(parse("screendump /tmp/a.png"), 0);
    ck_assert_int_eq(cmd.op, VM_MON_SCREENDUMP);
    ck_assert_str_eq(cmd.file, "/tmp/a.png");
    ck_assert_int_eq(cmd.format, VM_MON_FMT_AUTO);
    ck_assert_int_eq(parse("screendump out -f ppm"), 0); /* QEMU's order */
    ck_assert_str_eq(cmd.file, "out");
    ck_assert_int_eq(cmd.format, VM_MON_FMT_PPM);
    ck_assert_int_eq(parse("screendump -f png x.ppm"), 0);
    ck_assert_str_eq(cmd.file, "x.ppm");
    ck_assert_int_eq(cmd.format, VM_MON_FMT_PNG);
    ck_assert_int_eq(parse("screendump \"a b.png\""), 0);
    ck_assert_str_eq(cmd.file, "a b.png");
    ck_assert_int_eq(parse("screendump 'c d'"), 0);
    ck_assert_str_eq(cmd.file, "c d");
    ck_assert_int_eq(parse("screendump -"), 0); /* a plain name, not an option */
    ck_assert_str_eq(cmd.file, "-");

    ck_assert_int_ne(parse("screendump"), 0);
    ck_assert_int_ne(parse("screendump -f png"), 0);
    ck_assert_int_ne(parse("screendump x -f"), 0);
    ck_assert_int_ne(parse("screendump x -f jpeg"), 0);
    ck_assert_int_ne(parse("screendump x -d vga0"), 0);
    ck_assert_int_ne(parse("screendump x vga0"), 0);
    ck_assert_int_ne(parse("screendump ''"), 0);
}
END_TEST

static struct vm_cli cli;
static char cerr[512];

static const char *cli_parse_opt(const char *opt, const char *val)
{
    const char *args[] = { "btvm", "run", "-k", "x.elf", opt, val, NULL };
    const char *e = vm_cli_parse(6, (char *const *)args, &cli, cerr, sizeof(cerr));
    if (e) {
        ck_assert_msg(!strncmp(e, "btvm: ", 6) && !strchr(e, '\n'), "one-line error: %s", e);
    }
    return e;
}

static const char *cli_parse(const char *val)
{
    return cli_parse_opt("-monitor", val);
}

START_TEST(monitor_option)
{
    ck_assert_ptr_null(cli_parse("unix:/tmp/m.sock,server,nowait"));
    ck_assert_str_eq(cli.opt.monitor_path, "/tmp/m.sock");
    ck_assert(!cli.opt.monitor_wait);
    ck_assert_ptr_null(cli_parse("unix:rel/m,server=on,wait=off"));
    ck_assert_str_eq(cli.opt.monitor_path, "rel/m");
    ck_assert(!cli.opt.monitor_wait);
    ck_assert_ptr_null(cli_parse("unix:m,server"));
    ck_assert(cli.opt.monitor_wait);   /* QEMU's default for a server */
    ck_assert_ptr_null(cli_parse("unix:m,nowait,wait=on,server"));
    ck_assert(cli.opt.monitor_wait);
    ck_assert_ptr_null(cli_parse("none"));
    ck_assert_str_eq(cli.opt.monitor_path, "");

    ck_assert_ptr_nonnull(cli_parse("stdio"));
    ck_assert_ptr_nonnull(strstr(cerr, "serial console"));
    ck_assert_ptr_nonnull(cli_parse("mon:stdio"));
    ck_assert_ptr_nonnull(cli_parse("unix:m"));          /* a client: not supported */
    ck_assert_ptr_nonnull(cli_parse("unix:m,server=off"));
    ck_assert_ptr_nonnull(cli_parse("unix:,server"));
    ck_assert_ptr_nonnull(cli_parse("unix:m,server,bogus"));
    ck_assert_ptr_nonnull(cli_parse("tcp:127.0.0.1:4444,server"));
    char path[200] = "unix:";
    memset(path + 5, 'p', 120);
    strcpy(path + 125, ",server");
    ck_assert_ptr_nonnull(cli_parse(path));
    ck_assert_ptr_nonnull(strstr(cerr, "too long"));
}
END_TEST

/* -qmp: the same syntax into its own fields. */
START_TEST(qmp_option)
{
    ck_assert_ptr_null(cli_parse_opt("-qmp", "unix:/tmp/q.sock,server=on,wait=off"));
    ck_assert_str_eq(cli.opt.qmp_path, "/tmp/q.sock");
    ck_assert(!cli.opt.qmp_wait);
    ck_assert_str_eq(cli.opt.monitor_path, "");
    ck_assert_ptr_null(cli_parse_opt("-qmp", "unix:q,server,nowait"));
    ck_assert(!cli.opt.qmp_wait);
    ck_assert_ptr_null(cli_parse_opt("-qmp", "unix:q,server=on"));
    ck_assert(cli.opt.qmp_wait);
    ck_assert_ptr_nonnull(cli_parse_opt("-qmp", "tcp:127.0.0.1:4444,server=on,wait=off"));
    ck_assert_ptr_nonnull(strstr(cerr, "-qmp"));
    ck_assert_ptr_nonnull(strstr(cerr, "only Unix sockets"));
    ck_assert_ptr_nonnull(cli_parse_opt("-qmp", "stdio"));
    ck_assert_ptr_nonnull(cli_parse_opt("-qmp", "unix:q"));

    /* -S: only with a monitor that could say cont. */
    const char *with[] = { "btvm", "run", "-S", "-k", "x.elf", "-qmp", "unix:q,server", NULL };
    ck_assert_ptr_null(vm_cli_parse(7, (char *const *)with, &cli, cerr, sizeof(cerr)));
    ck_assert(cli.opt.start_paused);
    const char *alone[] = { "btvm", "run", "-S", "-k", "x.elf", NULL };
    ck_assert_ptr_nonnull(vm_cli_parse(5, (char *const *)alone, &cli, cerr, sizeof(cerr)));
    ck_assert_ptr_nonnull(strstr(cerr, "-S needs -s/-gdb, -monitor or -qmp"));
}
END_TEST

static Suite *monitor_suite(void)
{
    Suite *s = suite_create("monitor");
    TCase *t = tcase_create("core");
    tcase_add_test(t, simple_commands);
    tcase_add_test(t, bad_commands);
    tcase_add_test(t, screendump_args);
    tcase_add_test(t, monitor_option);
    tcase_add_test(t, qmp_option);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(monitor_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
