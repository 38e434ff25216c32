/*
 * tests/unit/test_cli.c — btvm's command line: subcommands, btvm and QEMU
 * option spellings, defaults, limits, and the one-line errors; the IDE drive
 * options (-hda..-hdd, -cdrom, -drive with QEMU's syntax) and --no-reboot.
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
    ck_assert(!cli.opt.no_reboot);
    for (unsigned i = 0; i < VM_MAX_DRIVES; i++)
        ck_assert(!cli.opt.drives[i].used);
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

/* Exact error text: the whole line. */
static void assert_error_is(const char *e, const char *want)
{
    ck_assert_msg(e != NULL, "expected the error '%s'", want);
    ck_assert_str_eq(e, want);
}

static void assert_drive(unsigned i, const char *file, enum vm_media media, bool ro)
{
    const struct vm_drive *d = &cli.opt.drives[i];
    ck_assert_msg(d->used, "drive %u unused", i);
    ck_assert_str_eq(d->file, file);
    ck_assert_int_eq(d->media, media);
    ck_assert_int_eq(d->readonly, ro);
}

static void assert_unused(unsigned i)
{
    ck_assert_msg(!cli.opt.drives[i].used, "drive %u used", i);
}

START_TEST(test_reboot)
{
    ck_assert_ptr_null(PARSE("run", "-k", "k", "--no-reboot"));
    ck_assert(cli.opt.no_reboot);
    ck_assert_ptr_null(PARSE("-kernel", "k", "-no-reboot"));
    ck_assert(cli.opt.no_reboot);
    /* --reboot is the default and accepted; the last one counts. */
    ck_assert_ptr_null(PARSE("run", "-k", "k", "--reboot"));
    ck_assert(!cli.opt.no_reboot);
    ck_assert_ptr_null(PARSE("run", "-k", "k", "--reboot", "--no-reboot"));
    ck_assert(cli.opt.no_reboot);
    ck_assert_ptr_null(PARSE("run", "-k", "k", "--no-reboot", "--reboot"));
    ck_assert(!cli.opt.no_reboot);
    assert_error_is(PARSE("run", "-k", "k", "--no-reboot=1"),
                    "btvm: option '--no-reboot' takes no value (try 'btvm --help')");
}
END_TEST

START_TEST(test_hd_options)
{
    ck_assert_ptr_null(PARSE("run", "-k", "k", "-hda", "a.img", "-hdb", "b.img", "-hdc",
                             "c.img", "-hdd", "d,x.img"));
    assert_drive(0, "a.img", VM_MEDIA_DISK, false);
    assert_drive(1, "b.img", VM_MEDIA_DISK, false);
    assert_drive(2, "c.img", VM_MEDIA_DISK, false);
    /* -hdX takes its argument literally, commas included (as QEMU). */
    assert_drive(3, "d,x.img", VM_MEDIA_DISK, false);
    /* The file name is the argument itself. */
    ck_assert_ptr_null(PARSE("run", "-k", "k", "-hdb", "only.img"));
    assert_unused(0);
    assert_drive(1, "only.img", VM_MEDIA_DISK, false);
    assert_unused(2);
    assert_unused(3);
    /* btvm's --name=value and --name value spellings. */
    ck_assert_ptr_null(PARSE("run", "-k", "k", "--hda=x.img", "--hdd", "y.img"));
    assert_drive(0, "x.img", VM_MEDIA_DISK, false);
    assert_drive(3, "y.img", VM_MEDIA_DISK, false);
    assert_error_is(PARSE("run", "-k", "k", "-hda"),
                    "btvm: option '-hda' needs a value (try 'btvm --help')");
    assert_error_is(PARSE("run", "-k", "k", "-hdc", ""), "btvm: option '-hdc' needs a file name");
    assert_error_is(PARSE("run", "-k", "k", "-hda=x.img"),
                    "btvm: unknown option '-hda=x.img' (try 'btvm --help')");
}
END_TEST

START_TEST(test_cdrom)
{
    ck_assert_ptr_null(PARSE("-kernel", "k", "-cdrom", "d.iso", "-hda", "a.img"));
    assert_drive(2, "d.iso", VM_MEDIA_CDROM, true);
    assert_drive(0, "a.img", VM_MEDIA_DISK, false);
    ck_assert_ptr_null(PARSE("run", "-k", "k", "--cdrom=e.iso"));
    assert_drive(2, "e.iso", VM_MEDIA_CDROM, true);
    assert_error_is(PARSE("run", "-k", "k", "-cdrom", ""),
                    "btvm: option '-cdrom' needs a file name");
}
END_TEST

START_TEST(test_drive)
{
    ck_assert_ptr_null(PARSE("run", "-k", "k", "-drive",
                             "file=a.img,if=ide,index=1,media=disk,format=raw,readonly=on"));
    assert_drive(1, "a.img", VM_MEDIA_DISK, true);
    assert_unused(0);
    /* Defaults: ide, raw, disk, writable; the order of keys does not matter. */
    ck_assert_ptr_null(PARSE("run", "-k", "k", "-drive", "index=3,file=b.img"));
    assert_drive(3, "b.img", VM_MEDIA_DISK, false);
    ck_assert_ptr_null(PARSE("run", "-k", "k", "-drive", "file=b.img,readonly=off"));
    assert_drive(0, "b.img", VM_MEDIA_DISK, false);
    /* media=cdrom implies read-only, even against readonly=off (QEMU). */
    ck_assert_ptr_null(PARSE("run", "-k", "k", "-drive", "file=c.iso,media=cdrom,index=2"));
    assert_drive(2, "c.iso", VM_MEDIA_CDROM, true);
    ck_assert_ptr_null(PARSE("run", "-k", "k", "-drive", "file=c.iso,media=cdrom,readonly=off"));
    assert_drive(0, "c.iso", VM_MEDIA_CDROM, true);
    /* QEMU's other boolean spellings, and a key alone meaning KEY=on. */
    ck_assert_ptr_null(PARSE("run", "-k", "k", "-drive", "file=a,readonly=yes", "-drive",
                             "file=b,readonly=true", "-drive", "file=c,readonly=no", "-drive",
                             "readonly,file=d"));
    ck_assert(cli.opt.drives[0].readonly && cli.opt.drives[1].readonly);
    ck_assert(!cli.opt.drives[2].readonly && cli.opt.drives[3].readonly);
    /* A later key overrides an earlier one; a trailing comma is fine. */
    ck_assert_ptr_null(PARSE("run", "-k", "k", "-drive", "file=x,file=y,index=0,index=2,"));
    assert_drive(2, "y", VM_MEDIA_DISK, false);
    assert_unused(0);
    /* btvm's double-dash spellings. */
    ck_assert_ptr_null(PARSE("run", "-k", "k", "--drive=file=z.img,index=1"));
    assert_drive(1, "z.img", VM_MEDIA_DISK, false);
    ck_assert_ptr_null(PARSE("run", "-k", "k", "--drive", "file=z.img"));
    assert_drive(0, "z.img", VM_MEDIA_DISK, false);
}
END_TEST

START_TEST(test_drive_escaping)
{
    ck_assert_ptr_null(PARSE("run", "-k", "k", "-drive", "file=a,,b.img,index=1"));
    assert_drive(1, "a,b.img", VM_MEDIA_DISK, false);
    ck_assert_ptr_null(PARSE("run", "-k", "k", "-drive", "file=,,,,lead,,,media=cdrom"));
    assert_drive(0, ",,lead,", VM_MEDIA_CDROM, true);
    ck_assert_ptr_null(PARSE("run", "-k", "k", "-drive", "file=end,,"));
    assert_drive(0, "end,", VM_MEDIA_DISK, false);
    /* "=" inside a value is just a character. */
    ck_assert_ptr_null(PARSE("run", "-k", "k", "-drive", "file=a=b"));
    assert_drive(0, "a=b", VM_MEDIA_DISK, false);
    /* A single comma ends the value: "b.img" is then a key. */
    assert_error_is(PARSE("run", "-k", "k", "-drive", "file=a,b.img"),
                    "btvm: -drive 'file=a,b.img': unknown key 'b.img' (btvm knows file, if, "
                    "index, media, format, cache, snapshot and readonly)");
    /* The unescaped name is kept when argv's string is not. */
    ck_assert_ptr_null(PARSE("run", "-k", "k", "-drive", "file=p,,q,index=2", "-drive",
                             "file=r,,s,index=0"));
    assert_drive(2, "p,q", VM_MEDIA_DISK, false);
    assert_drive(0, "r,s", VM_MEDIA_DISK, false);
    /* Too long for a path. */
    char *lng = malloc(VM_CLI_FILE_MAX + 16);
    strcpy(lng, "file=");
    memset(lng + 5, 'x', VM_CLI_FILE_MAX);
    lng[5 + VM_CLI_FILE_MAX] = 0;
    assert_error_is(PARSE("run", "-k", "k", "-drive", lng),
                    "btvm: -drive: the value of 'file' is longer than 4095 bytes");
    lng[5 + VM_CLI_FILE_MAX - 1] = 0; /* 4095 bytes: fits */
    ck_assert_ptr_null(PARSE("run", "-k", "k", "-drive", lng));
    ck_assert_uint_eq(strlen(cli.opt.drives[0].file), VM_CLI_FILE_MAX - 1);
    free(lng);
}
END_TEST

START_TEST(test_drive_errors)
{
    assert_error_is(PARSE("run", "-k", "k", "-drive", "if=ide,index=0"),
                    "btvm: -drive 'if=ide,index=0': file=FILE is required");
    assert_error_is(PARSE("run", "-k", "k", "-drive", "file="),
                    "btvm: -drive 'file=': file= needs a file name");
    assert_error_is(PARSE("run", "-k", "k", "-drive", "file=a,if=scsi"),
                    "btvm: -drive if=scsi: btvm has if=ide and if=virtio");
    assert_error_is(PARSE("run", "-k", "k", "-drive", "file=a,format=vmdk"),
                    "btvm: -drive format=vmdk: btvm reads format=raw and format=qcow2");
    assert_error_is(PARSE("run", "-k", "k", "-drive", "file=a,cache=unsafe"),
                    "btvm: -drive cache=unsafe: btvm has cache=writeback and cache=none");
    assert_error_is(PARSE("run", "-k", "k", "-drive", "file=a,snapshot=perhaps"),
                    "btvm: -drive snapshot=perhaps: expected snapshot=on or snapshot=off");
    assert_error_is(PARSE("run", "-k", "k", "-drive", "file=a,if=virtio,index=1"),
                    "btvm: -drive 'file=a,if=virtio,index=1': index= is for if=ide (virtio "
                    "drives are numbered in command-line order)");
    assert_error_is(PARSE("run", "-k", "k", "-drive", "file=a,if=virtio,media=cdrom"),
                    "btvm: -drive 'file=a,if=virtio,media=cdrom': media=cdrom needs if=ide");
#if !VM_HAVE_VIRTIO_BLK
    assert_error_is(PARSE("run", "-k", "k", "-drive", "file=a,if=virtio"),
                    "btvm: -drive file=a,if=virtio: this btvm has no virtio-blk device yet "
                    "(use if=ide)");
#endif
    assert_error_is(PARSE("run", "-k", "k", "-drive", "file=a,media=floppy"),
                    "btvm: -drive media=floppy: expected media=disk or media=cdrom");
    assert_error_is(PARSE("run", "-k", "k", "-drive", "file=a,readonly=maybe"),
                    "btvm: -drive readonly=maybe: expected readonly=on or readonly=off");
    const char *idx_err = "the IDE index is 0 to 3 (primary master, primary slave, secondary "
                          "master, secondary slave)";
    char want[256];
    const char *bad_idx[] = { "4", "-1", "x", "", "1x", "99999999999" };
    for (unsigned i = 0; i < sizeof(bad_idx) / sizeof(bad_idx[0]); i++) {
        char spec[64];
        snprintf(spec, sizeof(spec), "file=a,index=%s", bad_idx[i]);
        snprintf(want, sizeof(want), "btvm: -drive index=%s: %s", bad_idx[i], idx_err);
        assert_error_is(parse((const char *[]){ "btvm", "run", "-k", "k", "-drive", spec, NULL }),
                        want);
    }
    assert_error_is(PARSE("run", "-k", "k", "-drive", "file=a,aio=native"),
                    "btvm: -drive 'file=a,aio=native': unknown key 'aio' (btvm knows file, "
                    "if, index, media, format, cache, snapshot and readonly)");
    assert_error_is(PARSE("run", "-k", "k", "-drive", "disk.img"),
                    "btvm: -drive 'disk.img': unknown key 'disk.img' (btvm knows file, if, "
                    "index, media, format, cache, snapshot and readonly)");
    assert_error_is(PARSE("run", "-k", "k", "-drive", ",file=a"),
                    "btvm: -drive ',file=a': expected KEY=VALUE items separated by ','");
    assert_error_is(PARSE("run", "-k", "k", "-drive", "=a"),
                    "btvm: -drive '=a': expected KEY=VALUE items separated by ','");
    assert_error_is(PARSE("run", "-k", "k", "-drive"),
                    "btvm: option '-drive' needs a value (try 'btvm --help')");
    /* Keys and values are case-sensitive, as in QEMU. */
    assert_error_is(PARSE("run", "-k", "k", "-drive", "file=a,if=IDE"),
                    "btvm: -drive if=IDE: btvm has if=ide and if=virtio");
    assert_error_is(PARSE("run", "-k", "k", "-drive", "file=a,format=QCOW2"),
                    "btvm: -drive format=QCOW2: btvm reads format=raw and format=qcow2");
}
END_TEST

/* format=, cache=, snapshot= and -snapshot (QEMU's rule: -snapshot covers
 * every drive that does not say snapshot=off, wherever it stands). */
START_TEST(test_drive_storage_keys)
{
    ck_assert_ptr_null(PARSE("run", "-k", "k", "-drive", "file=a.qcow2,format=qcow2,cache=none",
                             "-drive", "file=b.img,format=raw,snapshot=on", "-hdc", "c.img"));
    const struct vm_drive *d = cli.opt.drives;
    ck_assert(d[0].format == BLK_FMT_QCOW2 && d[0].format_given);
    ck_assert(d[0].cache == BLK_CACHE_NONE && !d[0].snapshot);
    ck_assert(d[0].iface == VM_DRIVE_IF_IDE);
    ck_assert(d[1].format == BLK_FMT_RAW && d[1].format_given);
    ck_assert(d[1].cache == BLK_CACHE_WRITEBACK && d[1].snapshot);
    ck_assert(!d[2].format_given && !d[2].snapshot && !cli.opt.snapshot);

    ck_assert_ptr_null(PARSE("run", "-k", "k", "-hda", "a.img", "-drive",
                             "file=b.img,snapshot=off", "-drive", "file=c.img,snapshot=on",
                             "-snapshot", "-drive", "file=d.img"));
    ck_assert(cli.opt.snapshot);
    ck_assert(d[0].snapshot && !d[1].snapshot && d[2].snapshot && d[3].snapshot);
    ck_assert_ptr_null(PARSE("run", "-k", "k", "-drive", "file=e.img,snapshot"));
    ck_assert(d[0].snapshot);
    ck_assert_ptr_null(PARSE("run", "-k", "k", "--snapshot", "-cdrom", "x.iso"));
    ck_assert(d[2].snapshot && d[2].readonly);
#if VM_HAVE_VIRTIO_BLK
    /* if=virtio drives go in their own list, in order, not in IDE slots. */
    ck_assert_ptr_null(PARSE("run", "-k", "k", "-drive", "file=v0,,x,if=virtio,format=qcow2",
                             "-drive", "file=i.img", "-drive", "file=v1,if=virtio,readonly=on"));
    const struct vm_drive *v = cli.opt.virtio_drives;
    ck_assert_str_eq(v[0].file, "v0,x");
    ck_assert(v[0].iface == VM_DRIVE_IF_VIRTIO && v[0].format == BLK_FMT_QCOW2);
    ck_assert_str_eq(v[1].file, "v1");
    ck_assert(v[1].readonly && !v[2].used);
    assert_drive(0, "i.img", VM_MEDIA_DISK, false);
    assert_unused(1);
#endif
}
END_TEST

START_TEST(test_drive_slots)
{
    /* Without index: the first free slot, in command line order. */
    ck_assert_ptr_null(PARSE("run", "-k", "k", "-hda", "a", "-drive", "file=b", "-cdrom", "c",
                             "-drive", "file=d"));
    assert_drive(0, "a", VM_MEDIA_DISK, false);
    assert_drive(1, "b", VM_MEDIA_DISK, false);
    assert_drive(2, "c", VM_MEDIA_CDROM, true);
    assert_drive(3, "d", VM_MEDIA_DISK, false);
    ck_assert_ptr_null(PARSE("run", "-k", "k", "-drive", "file=x,index=0", "-drive",
                             "file=y,media=cdrom"));
    assert_drive(1, "y", VM_MEDIA_CDROM, true);
    /* A free-slot drive does not move a later explicit one out of the way. */
    assert_error_is(PARSE("run", "-k", "k", "-drive", "file=x", "-hda", "y"),
                    "btvm: -hda 'y': IDE index 0 (primary master) is already taken by -drive "
                    "'file=x'");
    /* Two drives in one slot: both named. */
    assert_error_is(PARSE("run", "-k", "k", "-hdc", "a.img", "-cdrom", "b.iso"),
                    "btvm: -cdrom 'b.iso': IDE index 2 (secondary master) is already taken by "
                    "-hdc 'a.img'");
    assert_error_is(PARSE("run", "-k", "k", "-cdrom", "b.iso", "--hdc=a.img"),
                    "btvm: --hdc 'a.img': IDE index 2 (secondary master) is already taken by "
                    "-cdrom 'b.iso'");
    assert_error_is(PARSE("run", "-k", "k", "-hda", "a", "-hda", "b"),
                    "btvm: -hda 'b': IDE index 0 (primary master) is already taken by -hda 'a'");
    assert_error_is(PARSE("run", "-k", "k", "-hdb", "a", "-drive", "file=b,,c,index=1"),
                    "btvm: -drive 'file=b,,c,index=1': IDE index 1 (primary slave) is already "
                    "taken by -hdb 'a'");
    assert_error_is(PARSE("run", "-k", "k", "-drive", "file=s,index=3", "-hdd", "t"),
                    "btvm: -hdd 't': IDE index 3 (secondary slave) is already taken by -drive "
                    "'file=s,index=3'");
    /* All four taken. */
    assert_error_is(PARSE("run", "-k", "k", "-hda", "a", "-hdb", "b", "-hdc", "c", "-hdd", "d",
                          "-drive", "file=e"),
                    "btvm: -drive 'file=e': no free IDE slot (index 0 to 3 are all taken)");
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
    tcase_add_test(tc, test_reboot);
    tcase_add_test(tc, test_hd_options);
    tcase_add_test(tc, test_cdrom);
    tcase_add_test(tc, test_drive);
    tcase_add_test(tc, test_drive_escaping);
    tcase_add_test(tc, test_drive_errors);
    tcase_add_test(tc, test_drive_slots);
    tcase_add_test(tc, test_drive_storage_keys);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
