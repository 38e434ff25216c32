/*
 * tests/unit/test_net_cli.c — the network options of btvm's command line
 * (vm/net_cli.c through vm_cli_parse): -netdev user, -device
 * virtio-net-pci, -nic user|none, hostfwd rules, restrict, mac, and the
 * one-line errors for everything btvm does not do.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "vm/cli.h"
#include "vm/net_cli.h"

static struct vm_cli cli;
static char err[512];

#define PARSE(...) parse((const char *[]){ "btvm", "run", "-k", "k.elf", __VA_ARGS__, NULL })

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

static const uint8_t qemu_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

START_TEST(test_no_network_by_default)
{
    ck_assert_ptr_null(parse((const char *[]){ "btvm", "run", "-k", "k.elf", NULL }));
    ck_assert(!cli.opt.net.enabled);
    ck_assert_ptr_null(PARSE("-nic", "none"));
    ck_assert(!cli.opt.net.enabled);
}
END_TEST

START_TEST(test_netdev_device)
{
    ck_assert_ptr_null(PARSE("-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0"));
    ck_assert(cli.opt.net.enabled);
    ck_assert(!cli.opt.net.restricted);
    ck_assert_uint_eq(cli.opt.net.nfwd, 0);
    ck_assert_mem_eq(cli.opt.net.mac, qemu_mac, 6);
    /* Either order, with a mac, restrict and two forwards. */
    ck_assert_ptr_null(PARSE("-device", "virtio-net-pci,netdev=lan,mac=52:54:00:AB:cd:01",
                             "-netdev",
                             "user,id=lan,restrict=on,hostfwd=tcp:127.0.0.1:8080-:80,"
                             "hostfwd=udp::5353-10.0.2.15:53"));
    ck_assert(cli.opt.net.enabled && cli.opt.net.restricted);
    ck_assert_mem_eq(cli.opt.net.mac, ((uint8_t[]){ 0x52, 0x54, 0, 0xab, 0xcd, 1 }), 6);
    ck_assert_uint_eq(cli.opt.net.nfwd, 2);
    const struct vm_net_fwd *f = cli.opt.net.fwd;
    ck_assert(!f[0].udp);
    ck_assert_uint_eq(f[0].host_addr, 0x7f000001u);
    ck_assert_uint_eq(f[0].host_port, 8080);
    ck_assert_uint_eq(f[0].guest_addr, 0);
    ck_assert_uint_eq(f[0].guest_port, 80);
    ck_assert(f[1].udp);
    ck_assert_uint_eq(f[1].host_addr, 0);
    ck_assert_uint_eq(f[1].host_port, 5353);
    ck_assert_uint_eq(f[1].guest_addr, 0x0a00020fu);
    ck_assert_uint_eq(f[1].guest_port, 53);
    /* Double-dash spellings too. */
    ck_assert_ptr_null(PARSE("--netdev=user,id=a", "--device=virtio-net-pci,netdev=a"));
    ck_assert(cli.opt.net.enabled);
}
END_TEST

START_TEST(test_nic)
{
    ck_assert_ptr_null(PARSE("-nic", "user"));
    ck_assert(cli.opt.net.enabled);
    ck_assert_mem_eq(cli.opt.net.mac, qemu_mac, 6);
    ck_assert_ptr_null(PARSE("-nic", "user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:2222-:22,"
                                     "restrict=yes,mac=02:00:00:00:00:07"));
    ck_assert(cli.opt.net.enabled && cli.opt.net.restricted);
    ck_assert_uint_eq(cli.opt.net.nfwd, 1);
    ck_assert_uint_eq(cli.opt.net.fwd[0].host_port, 2222);
    ck_assert_uint_eq(cli.opt.net.mac[5], 7);
}
END_TEST

START_TEST(test_hostfwd_syntax)
{
    struct vm_net_fwd f;
    const char *ok[] = { "tcp:127.0.0.1:1-:2", ":127.0.0.1:1-:2", "udp::65535-10.0.2.16:65535",
                         "tcp::80-:8080" };
    for (unsigned i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        ck_assert_msg(vm_cli_net_parse_hostfwd(ok[i], strlen(ok[i]), &f), "%s", ok[i]);
    const char *bad[] = { "", "tcp", "sctp::1-:2", "tcp:127.0.0.1:1", "tcp:127.0.0.1:1-2",
                          "tcp:1.2.3:1-:2", "tcp:1.2.3.256:1-:2", "tcp::65536-:2", "tcp::1-:0",
                          "tcp::-:2", "tcp::1-:x", "tcp:1.2.3.4.5:1-:2", "tcp::1-:2x" };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(!vm_cli_net_parse_hostfwd(bad[i], strlen(bad[i]), &f), "%s", bad[i]);
}
END_TEST

START_TEST(test_errors)
{
    assert_error(PARSE("-netdev", "tap,id=n0"), "unsupported network backend 'tap'");
    assert_error(PARSE("-netdev", "user"), "needs id=ID");
    assert_error(PARSE("-netdev", "user,id=n0,net=10.1.0.0/24"), "unknown or unsupported key 'net'");
    assert_error(PARSE("-netdev", "user,id=n0"), "no -device virtio-net-pci,netdev=n0 uses it");
    assert_error(PARSE("-netdev", "user,id=n0,restrict=maybe", "-device",
                       "virtio-net-pci,netdev=n0"), "restrict 'maybe'");
    assert_error(PARSE("-netdev", "user,id=n0,hostfwd=tcp::80", "-device",
                       "virtio-net-pci,netdev=n0"), "hostfwd 'tcp::80'");
    assert_error(PARSE("-device", "e1000,netdev=n0"), "unsupported device 'e1000'");
    assert_error(PARSE("-device", "virtio-net-pci"), "needs netdev=ID");
    assert_error(PARSE("-device", "virtio-net-pci,netdev=x", "-netdev", "user,id=y"),
                 "netdev 'x' is not a -netdev's id");
    assert_error(PARSE("-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0,mac=01:00:00:00:00:01"),
                 "unicast");
    assert_error(PARSE("-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0,mac=52:54:00:12:34"),
                 "mac '52:54:00:12:34'");
    assert_error(PARSE("-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0,vectors=4"),
                 "unknown or unsupported key 'vectors'");
    assert_error(PARSE("-nic", "user,model=e1000"), "model 'e1000': unsupported");
    assert_error(PARSE("-nic", "tap"), "unsupported network backend 'tap'");
    assert_error(PARSE("-nic", "user", "-nic", "user"), "one network card");
    assert_error(PARSE("-nic", "user", "-nic", "none"), "already asked for");
    assert_error(PARSE("-nic", "none,model=virtio"), "none takes no keys");
    assert_error(PARSE("-nic", "user,hostfwd"), "'hostfwd' needs a value");
    assert_error(PARSE("-netdev", "user,id=n0", "-netdev", "user,id=n1"), "one network backend");
    assert_error(PARSE("-netdev", "user,id=0123456789012345678901234567890123456789"),
                 "must be 1 to 31 characters");
    assert_error(PARSE("-netdev"), "needs a value");
}
END_TEST

START_TEST(test_too_many_forwards)
{
    char spec[4096] = "user,id=n0";
    for (int i = 0; i <= VM_NET_MAX_FWD; i++) {
        char r[64];
        snprintf(r, sizeof(r), ",hostfwd=tcp:127.0.0.1:%d-:%d", 10000 + i, 80 + i);
        strcat(spec, r);
    }
    assert_error(PARSE("-netdev", spec), "more than 16 hostfwd rules");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("net_cli");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_no_network_by_default);
    tcase_add_test(tc, test_netdev_device);
    tcase_add_test(tc, test_nic);
    tcase_add_test(tc, test_hostfwd_syntax);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_too_many_forwards);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
