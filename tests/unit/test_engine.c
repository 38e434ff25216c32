/*
 * tests/unit/test_engine.c — the engine choice (vm/engine_choice.c): --engine=bt
 * always gets BT, auto gets KVM only with VT-x/AMD-V in CPUID and a working
 * /dev/kvm, --engine=kvm fails (NULL + reason) where auto would fall back.
 * Runs on any host: expectations follow what this host's /proc/cpuinfo and
 * /dev/kvm say, both probed by the test itself (not by hav_probe).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>

#include "vm/engine_choice.h"

static char why[256];

static struct vm_options opts(enum vm_engine_choice e)
{
    struct vm_options o;
    memset(&o, 0, sizeof(o));
    o.engine = e;
    o.quiet = true;
    return o;
}

/* vmx or svm among /proc/cpuinfo's flags (the kernel's view of CPUID). */
static bool cpuinfo_has_hav(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[8192];
    bool has = false;
    if (!f)
        return false;
    while (!has && fgets(line, sizeof(line), f))
        if (!strncmp(line, "flags", 5))
            has = strstr(line, " vmx") || strstr(line, " svm");
    fclose(f);
    return has;
}

/* Whether this host can run a KVM guest, probed here with the raw ioctls
 * rather than through hav_probe (the code under test): /dev/kvm opens,
 * speaks API 12, and makes a VM with one vCPU. */
static bool kvm_works(void)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = false;
    if (ioctl(fd, KVM_GET_API_VERSION, 0) == 12) {
        int vm = ioctl(fd, KVM_CREATE_VM, 0);
        if (vm >= 0) {
            int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
            ok = vcpu >= 0;
            if (vcpu >= 0)
                close(vcpu);
            close(vm);
        }
    }
    close(fd);
    return ok;
}

START_TEST(test_bt_forced)
{
    struct vm_options o = opts(VM_ENGINE_BT);
    ck_assert_ptr_eq(vm_engine_choose(&o, why, sizeof(why)), &bt_engine_ops);
    ck_assert_str_eq(why, "--engine=bt");
}
END_TEST

START_TEST(test_host_cpuid)
{
    bool hav = vm_engine_host_hav(why, sizeof(why));
    ck_assert_int_eq(hav, cpuinfo_has_hav());
    if (!hav)
        ck_assert_str_eq(why, "no VT-x/AMD-V: CPUID has neither vmx nor svm");
    else
        ck_assert_msg(strstr(why, "vmx") || strstr(why, "svm"), "%s", why);
}
END_TEST

START_TEST(test_auto)
{
    struct vm_options o = opts(VM_ENGINE_AUTO);
    const struct vm_engine_ops *e = vm_engine_choose(&o, why, sizeof(why));
    bool want_kvm = cpuinfo_has_hav() && kvm_works();
    ck_assert_ptr_eq(e, want_kvm ? &hav_engine_ops : &bt_engine_ops);
    ck_assert_msg(why[0] && !strchr(why, '\n'), "one-line reason: '%s'", why);
}
END_TEST

START_TEST(test_kvm_forced)
{
    struct vm_options o = opts(VM_ENGINE_KVM);
    const struct vm_engine_ops *e = vm_engine_choose(&o, why, sizeof(why));
    if (cpuinfo_has_hav() && kvm_works()) {
        ck_assert_ptr_eq(e, &hav_engine_ops);
    } else {
        ck_assert_ptr_null(e);
        ck_assert_msg(why[0] && !strchr(why, '\n'), "one-line reason: '%s'", why);
    }
}
END_TEST

START_TEST(test_ops_complete)
{
    ck_assert_str_eq(hav_engine_ops.name, "kvm");
    ck_assert_ptr_nonnull(hav_engine_ops.init);
    ck_assert_ptr_nonnull(hav_engine_ops.run);
    ck_assert_ptr_nonnull(hav_engine_ops.print_stats);
    ck_assert_ptr_nonnull(hav_engine_ops.destroy);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("engine");
    TCase *tc = tcase_create("choice");
    tcase_add_test(tc, test_bt_forced);
    tcase_add_test(tc, test_host_cpuid);
    tcase_add_test(tc, test_auto);
    tcase_add_test(tc, test_kvm_forced);
    tcase_add_test(tc, test_ops_complete);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
