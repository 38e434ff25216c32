/*
 * tests/unit/test_cli.c — btvm's command line: subcommands, btvm and QEMU
 * option spellings, defaults, limits, and the one-line errors.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "vm/cli.h"

static struct vm_cli cli;
static char err[512];

/* Parse a NULL-terminated list after "btvm"; returns the error or NULL. */
#define PARSE(...) parse((const char *[]){ "btvm", __VA_ARGS__, NULL })

static const char *parse(const char **args)
{
    int argc = 0;
    while (args[argc])
        argc++;
    memset(err, 0, sizeof(err));
    const char *e = vm_cli_parse(argc, (char *const *)args, &cli, err, sizeof(err));
    if (e) {
        ck_assert_ptr_eq(e, err);
        ck_assert_msg(strncmp(e, "btvm: ", 6) == 0, "error must start with 'btvm: ': %s", e);
        ck_assert_msg(!strchr(e, '\n'), "error must be one line: %s", e);
    }
    return e;
}

static void assert_error(const char *e, const char *needle)
{
    ck_assert_msg(e != NULL, "expected an error containing '%s'", needle);
    ck_assert_msg(strstr(e, needle) != NULL, "error '%s' lacks '%s'", e, needle);
}

START_TEST(test_defaults)
{
    ck_assert_ptr_null(PARSE("run", "-k", "k.elf"));
    ck_assert_int_eq(cli.cmd, VM_CLI_RUN);
    ck_assert_str_eq(cli.opt.kernel, "k.elf");
    ck_assert_ptr_null(cli.opt.cmdline);
    ck_assert_ptr_null(cli.opt.initrd);
    ck_assert_uint_eq(cli.opt.mem_mib, 128);
    ck_assert_uint_eq(cli.opt.code_cache_size, 64u << 20);
    ck_assert(!cli.opt.stats && !cli.opt.stats_json && !cli.opt.trace && !cli.opt.exit_code_qemu);
}
END_TEST

START_TEST(test_help_version)
{
    const char *help[] = { "help", "--help", "-h" };
    for (unsigned i = 0; i < 3; i++) {
        ck_assert_ptr_null(parse((const char *[]){ "btvm", help[i], NULL }));
        ck_assert_int_eq(cli.cmd, VM_CLI_HELP);
    }
    ck_assert_ptr_null(PARSE("--version"));
    ck_assert_int_eq(cli.cmd, VM_CLI_VERSION);
    ck_assert_ptr_null(PARSE("version"));
    ck_assert_int_eq(cli.cmd, VM_CLI_VERSION);
    ck_assert_ptr_null(PARSE("run", "--help"));
    ck_assert_int_eq(cli.cmd, VM_CLI_HELP);
}
END_TEST

START_TEST(test_all_options)
{
    ck_assert_ptr_null(PARSE("run", "-k", "k.elf", "-a", "console=ttyS0 quiet", "-m", "256",
                             "--stats=json", "--trace", "--exit-code=qemu",
                             "--code-cache=2048", "-initrd", "a.img,b.img arg"));
    ck_assert_str_eq(cli.opt.kernel, "k.elf");
    ck_assert_str_eq(cli.opt.cmdline, "console=ttyS0 quiet");
    ck_assert_str_eq(cli.opt.initrd, "a.img,b.img arg");
    ck_assert_uint_eq(cli.opt.mem_mib, 256);
    ck_assert(cli.opt.stats && cli.opt.stats_json && cli.opt.trace && cli.opt.exit_code_qemu);
    ck_assert_uint_eq(cli.opt.code_cache_size, 2048u * 1024);
}
END_TEST

START_TEST(test_qemu_spellings)
{
    ck_assert_ptr_null(PARSE("run", "-kernel", "vmlinux", "-append", "root=/dev/ram0",
                             "-initrd", "initrd.img"));
    ck_assert_str_eq(cli.opt.kernel, "vmlinux");
    ck_assert_str_eq(cli.opt.cmdline, "root=/dev/ram0");
    ck_assert_str_eq(cli.opt.initrd, "initrd.img");
    /* Without "run", as one would type it for QEMU. */
    ck_assert_ptr_null(PARSE("-kernel", "k.elf", "-m", "1G"));
    ck_assert_int_eq(cli.cmd, VM_CLI_RUN);
    ck_assert_str_eq(cli.opt.kernel, "k.elf");
    ck_assert_uint_eq(cli.opt.mem_mib, 1024);
    ck_assert_ptr_null(PARSE("run", "--kernel=k.elf", "--append=x", "--memory=512M"));
    ck_assert_str_eq(cli.opt.kernel, "k.elf");
    ck_assert_str_eq(cli.opt.cmdline, "x");
    ck_assert_uint_eq(cli.opt.mem_mib, 512);
}
END_TEST

START_TEST(test_separate_values)
{
    ck_assert_ptr_null(PARSE("run", "k.elf", "--exit-code", "qemu", "--code-cache", "1024",
                             "--stats"));
    ck_assert_str_eq(cli.opt.kernel, "k.elf");
    ck_assert(cli.opt.exit_code_qemu);
    ck_assert_uint_eq(cli.opt.code_cache_size, 1u << 20);
    ck_assert(cli.opt.stats && !cli.opt.stats_json);
    ck_assert_ptr_null(PARSE("run", "-k", "k.elf", "--exit-code=qemu", "--exit-code=plain"));
    ck_assert(!cli.opt.exit_code_qemu);
}
END_TEST

START_TEST(test_memory_limits)
{
    ck_assert_ptr_null(PARSE("run", "-k", "k", "-m", "2"));
    ck_assert_uint_eq(cli.opt.mem_mib, 2);
    ck_assert_ptr_null(PARSE("run", "-k", "k", "-m", "3072"));
    ck_assert_uint_eq(cli.opt.mem_mib, 3072);
    ck_assert_ptr_null(PARSE("run", "-k", "k", "-m", "3G"));
    ck_assert_uint_eq(cli.opt.mem_mib, 3072);
    assert_error(PARSE("run", "-k", "k", "-m", "1"), "between 2 and 3072 MiB");
    assert_error(PARSE("run", "-k", "k", "-m", "0"), "between 2 and 3072 MiB");
    assert_error(PARSE("run", "-k", "k", "-m", "3073"), "between 2 and 3072 MiB");
    assert_error(PARSE("run", "-k", "k", "-m", "4G"), "between 2 and 3072 MiB");
    assert_error(PARSE("run", "-k", "k", "-m", "99999999999"), "not a size");
    assert_error(PARSE("run", "-k", "k", "-m", "12x"), "not a size");
    assert_error(PARSE("run", "-k", "k", "-m", "-5"), "not a size");
    assert_error(PARSE("run", "-k", "k", "-m", ""), "not a size");
}
END_TEST

START_TEST(test_code_cache_limits)
{
    assert_error(PARSE("run", "-k", "k", "--code-cache=10"), "between 16 and");
    assert_error(PARSE("run", "-k", "k", "--code-cache=2000000"), "between 16 and");
    assert_error(PARSE("run", "-k", "k", "--code-cache=64M"), "not a size in KiB");
    ck_assert_ptr_null(PARSE("run", "-k", "k", "--code-cache=1048576"));
    ck_assert_uint_eq(cli.opt.code_cache_size, (size_t)1 << 30);
}
END_TEST

START_TEST(test_errors)
{
    assert_error(parse((const char *[]){ "btvm", NULL }), "no command");
    assert_error(PARSE("fly"), "unknown command 'fly'");
    assert_error(PARSE("fly"), "--help");
    assert_error(PARSE("run", "-k", "k", "--bogus"), "unknown option '--bogus'");
    assert_error(PARSE("run", "-k", "k", "--bogus=3"), "unknown option '--bogus'");
    assert_error(PARSE("run", "-k", "k", "--bogus"), "--help");
    assert_error(PARSE("-x"), "unknown option '-x'");
    assert_error(PARSE("run", "-k"), "needs a value");
    assert_error(PARSE("run", "-k", "k", "-append"), "needs a value");
    assert_error(PARSE("run"), "no kernel");
    assert_error(PARSE("run", "-m", "64"), "no kernel");
    assert_error(PARSE("run", "-k", "k", "--trace=1"), "takes no value");
    assert_error(PARSE("run", "-k", "k", "--stats=xml"), "--stats=json");
    assert_error(PARSE("run", "-k", "k", "--exit-code=bochs"), "'qemu'");
    assert_error(PARSE("run", "-k", "k", "extra"), "unexpected argument 'extra'");
    assert_error(PARSE("run", "-k", ""), "needs a file name");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_help_version);
    tcase_add_test(tc, test_all_options);
    tcase_add_test(tc, test_qemu_spellings);
    tcase_add_test(tc, test_separate_values);
    tcase_add_test(tc, test_memory_limits);
    tcase_add_test(tc, test_code_cache_limits);
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
