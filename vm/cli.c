/*
 * vm/cli.c — parses btvm's command line into struct vm_options.
 *
 * Owns the subcommands (run, help, version), every option with its btvm and
 * QEMU spelling, the limits on numbers, and the help text. It never exits or
 * prints on its own: errors come back as one line so tests can check them.
 *
 * IDE drives follow QEMU: -hda..-hdd FILE are indexes 0-3 (the argument is
 * the file name as is), -cdrom FILE is index 2 and read-only, and -drive
 * takes QEMU's KEY=VALUE,... list (",," is a comma in a value, a key alone
 * is KEY=on, the last of a repeated key counts); a drive without index takes
 * the first free slot in command-line order.
 */
#include "vm/cli.h"
#include "vm/display_cli.h"
#include "vm/net_cli.h"
#include "vm/monitor_cli.h"
#include "vm/gdb_cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum opt_id { O_KERNEL, O_APPEND, O_INITRD, O_MEM, O_STATS, O_TRACE, O_EXITCODE, O_CODECACHE,
              O_ENGINE, O_QUIET, O_REBOOT, O_NO_REBOOT, O_HDA, O_HDB, O_HDC, O_HDD, O_CDROM,
              O_DRIVE, O_HELP,
              O_DISPLAY, O_NOGRAPHIC, O_VNC, O_VGA, O_SCREENDUMP, O_SCREENDUMP_TEXT,
              O_BIOS, O_BIOS_LOG, O_BOOT, O_DEBUGCON, O_SNAPSHOT, O_NETDEV, O_DEVICE, O_NIC,
              O_MONITOR, O_QMP, O_GDB, O_GDB_S, O_START_PAUSED };

struct opt_def {
    const char *name;   /* as typed, with its dashes */
    enum opt_id id;
    int arg;            /* 0 none, 1 required, 2 optional (only as --name=value) */
};

/* Single-dash long names are QEMU's spellings. */
static const struct opt_def opt_defs[] = {
    { "-k", O_KERNEL, 1 },     { "--kernel", O_KERNEL, 1 },   { "-kernel", O_KERNEL, 1 },
    { "-a", O_APPEND, 1 },     { "--append", O_APPEND, 1 },   { "-append", O_APPEND, 1 },
    { "-i", O_INITRD, 1 },     { "-initrd", O_INITRD, 1 },    { "--initrd", O_INITRD, 1 },
    { "-m", O_MEM, 1 },        { "--memory", O_MEM, 1 },
    { "--stats", O_STATS, 2 },
    { "--trace", O_TRACE, 0 },
    { "--exit-code", O_EXITCODE, 1 },
    { "--code-cache", O_CODECACHE, 1 },
    { "--engine", O_ENGINE, 1 },
    { "-q", O_QUIET, 0 },      { "--quiet", O_QUIET, 0 },
    { "--reboot", O_REBOOT, 0 },
    { "--no-reboot", O_NO_REBOOT, 0 }, { "-no-reboot", O_NO_REBOOT, 0 },
    { "-hda", O_HDA, 1 },      { "--hda", O_HDA, 1 },
    { "-hdb", O_HDB, 1 },      { "--hdb", O_HDB, 1 },
    { "-hdc", O_HDC, 1 },      { "--hdc", O_HDC, 1 },
    { "-hdd", O_HDD, 1 },      { "--hdd", O_HDD, 1 },
    { "-cdrom", O_CDROM, 1 },  { "--cdrom", O_CDROM, 1 },
    { "-drive", O_DRIVE, 1 },  { "--drive", O_DRIVE, 1 },
    { "-snapshot", O_SNAPSHOT, 0 }, { "--snapshot", O_SNAPSHOT, 0 },
    { "-h", O_HELP, 0 },       { "--help", O_HELP, 0 },
    { "-display", O_DISPLAY, 1 }, { "--display", O_DISPLAY, 1 },
    { "-nographic", O_NOGRAPHIC, 0 }, { "--nographic", O_NOGRAPHIC, 0 },
    { "-vnc", O_VNC, 1 },      { "--vnc", O_VNC, 1 },
    { "-vga", O_VGA, 1 },      { "--vga", O_VGA, 1 },
    { "--screendump", O_SCREENDUMP, 1 },
    { "--screendump-text", O_SCREENDUMP_TEXT, 1 },
    { "-bios", O_BIOS, 1 },    { "--bios", O_BIOS, 1 },
    { "--bios-log", O_BIOS_LOG, 1 },
    { "-boot", O_BOOT, 1 },    { "--boot", O_BOOT, 1 },
    { "-debugcon", O_DEBUGCON, 1 }, { "--debugcon", O_DEBUGCON, 1 },
    { "-netdev", O_NETDEV, 1 }, { "--netdev", O_NETDEV, 1 },
    { "-device", O_DEVICE, 1 }, { "--device", O_DEVICE, 1 },
    { "-nic", O_NIC, 1 },       { "--nic", O_NIC, 1 },
    { "-monitor", O_MONITOR, 1 }, { "--monitor", O_MONITOR, 1 },
    { "-qmp", O_QMP, 1 }, { "--qmp", O_QMP, 1 }, { "-S", O_START_PAUSED, 0 },
    { "-gdb", O_GDB, 1 },       { "--gdb", O_GDB, 1 },
    { "-s", O_GDB_S, 0 },
};

static const char *fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static const char *fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(err, errlen, "btvm: ");
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < errlen)
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return err;
}

void vm_cli_defaults(struct vm_options *opt)
{
    memset(opt, 0, sizeof(*opt));
    opt->mem_mib = VM_MEM_MIB_DEFAULT;
    opt->boot_splash_ms = -1;
    opt->boot_reboot_ms = -1;
    opt->code_cache_size = VM_CODE_CACHE_DEFAULT;
}

/* Decimal digits only, no sign, no overflow past 2^32. */
static bool parse_u32(const char *s, const char **end, uint64_t *out)
{
    uint64_t v = 0;
    if (*s < '0' || *s > '9')
        return false;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > 0xffffffffull)
            return false;
        s++;
    }
    *end = s;
    *out = v;
    return true;
}

/* -m takes MiB, or a QEMU-style suffix: 512M, 1G. */
static const char *parse_mem(const char *name, const char *val, struct vm_options *opt,
                             char *err, size_t errlen)
{
    const char *end;
    uint64_t v;
    if (!parse_u32(val, &end, &v))
        return fail(err, errlen, "%s '%s': not a size in MiB (try 'btvm --help')", name, val);
    if ((*end == 'G' || *end == 'g') && end[1] == 0)
        v *= 1024;
    else if (!((*end == 'M' || *end == 'm') && end[1] == 0) && *end != 0)
        return fail(err, errlen, "%s '%s': not a size in MiB (try 'btvm --help')", name, val);
    if (v < VM_MEM_MIB_MIN || v > VM_MEM_MIB_MAX)
        return fail(err, errlen, "%s %s: memory size must be between %u and %u MiB", name, val,
                    VM_MEM_MIB_MIN, VM_MEM_MIB_MAX);
    opt->mem_mib = (uint32_t)v;
    return NULL;
}

static const char *parse_cache(const char *name, const char *val, struct vm_options *opt,
                               char *err, size_t errlen)
{
    const char *end;
    uint64_t v;
    if (!parse_u32(val, &end, &v) || *end)
        return fail(err, errlen, "%s '%s': not a size in KiB (try 'btvm --help')", name, val);
    if (v < VM_CODE_CACHE_KIB_MIN || v > VM_CODE_CACHE_KIB_MAX)
        return fail(err, errlen, "%s %s: code cache size must be between %u and %u KiB", name,
                    val, VM_CODE_CACHE_KIB_MIN, VM_CODE_CACHE_KIB_MAX);
    opt->code_cache_size = (size_t)v * 1024;
    return NULL;
}

/* ---- IDE drives: -hda..-hdd, -cdrom, -drive ---- */

static const char *const slot_name[VM_MAX_DRIVES] = {
    "primary master", "primary slave", "secondary master", "secondary slave",
};

/* Which option filled each IDE slot, as typed, for the error when a second
 * drive wants the same one. */
struct drive_src {
    const char *opt[VM_MAX_DRIVES];
    const char *arg[VM_MAX_DRIVES];
    int snap[VM_MAX_DRIVES];              /* snapshot= as said: -1 not, 0, 1 */
    int vsnap[VM_MAX_VIRTIO_DRIVES];
};

/* What a -drive (or -hda.., -cdrom) says about the drive besides its slot. */
struct drive_params {
    enum vm_media media;
    bool readonly;
    enum vm_drive_if iface;
    enum blk_format format;
    bool format_given;
    enum blk_cache cache;
    int snapshot;       /* -1: not said (then -snapshot decides), 0 off, 1 on */
};

static void drive_fill(struct vm_drive *d, const char *file, const struct drive_params *p)
{
    d->used = true;
    d->file = file;
    d->media = p->media;
    d->readonly = p->readonly || p->media == VM_MEDIA_CDROM;
    d->iface = p->iface;
    d->format = p->format;
    d->format_given = p->format_given;
    d->cache = p->cache;
    /* -snapshot may come after the drive: 1 on, 0 off, -1 decided at the end */
    d->snapshot = p->snapshot == 1;
}

/* Put a drive at index (-1: the first free slot, as QEMU does, in command
 * line order). file is copied into out->drive_file when copy is set. */
static const char *add_drive(struct vm_cli *out, struct drive_src *src, int index,
                             const char *name, const char *arg, const char *file, bool copy,
                             const struct drive_params *p, char *err, size_t errlen)
{
    if (index < 0) {
        for (index = 0; index < VM_MAX_DRIVES && out->opt.drives[index].used; index++)
            ;
        if (index == VM_MAX_DRIVES)
            return fail(err, errlen, "%s '%s': no free IDE slot (index 0 to %d are all taken)",
                        name, arg, VM_MAX_DRIVES - 1);
    }
    struct vm_drive *d = &out->opt.drives[index];
    if (d->used)
        return fail(err, errlen, "%s '%s': IDE index %d (%s) is already taken by %s '%s'", name,
                    arg, index, slot_name[index], src->opt[index], src->arg[index]);
    if (copy) {
        /* The caller checked the length against VM_CLI_FILE_MAX. */
        memcpy(out->drive_file[index], file, strlen(file) + 1);
        file = out->drive_file[index];
    }
    drive_fill(d, file, p);
    src->opt[index] = name;
    src->arg[index] = arg;
    src->snap[index] = p->snapshot;
    return NULL;
}

/* The next if=virtio drive, in command-line order. */
static const char *add_virtio_drive(struct vm_cli *out, struct drive_src *src, const char *name,
                                    const char *arg, const char *file,
                                    const struct drive_params *p, char *err, size_t errlen)
{
    int n = 0;
    while (n < VM_MAX_VIRTIO_DRIVES && out->opt.virtio_drives[n].used)
        n++;
    if (n == VM_MAX_VIRTIO_DRIVES)
        return fail(err, errlen, "%s '%s': at most %d if=virtio drives", name, arg,
                    VM_MAX_VIRTIO_DRIVES);
    memcpy(out->virtio_drive_file[n], file, strlen(file) + 1);
    drive_fill(&out->opt.virtio_drives[n], out->virtio_drive_file[n], p);
    src->vsnap[n] = p->snapshot;
    return NULL;
}

/* After the whole command line: -snapshot applies to every drive that did
 * not say snapshot=off (QEMU's rule), and if=virtio needs the device. */
static const char *drives_finish(struct vm_cli *out, const struct drive_src *src, char *err,
                                 size_t errlen)
{
    for (int i = 0; i < VM_MAX_DRIVES; i++)
        if (out->opt.drives[i].used && src->snap[i] < 0)
            out->opt.drives[i].snapshot = out->opt.snapshot;
    for (int i = 0; i < VM_MAX_VIRTIO_DRIVES; i++)
        if (out->opt.virtio_drives[i].used && src->vsnap[i] < 0)
            out->opt.virtio_drives[i].snapshot = out->opt.snapshot;
    if (!VM_HAVE_VIRTIO_BLK && out->opt.virtio_drives[0].used)
        return fail(err, errlen, "-drive file=%s,if=virtio: this btvm has no virtio-blk device "
                    "yet (use if=ide)", out->opt.virtio_drives[0].file);
    return NULL;
}

/* QEMU's boolean spellings (on/off, yes/no, true/false). */
static bool parse_onoff(const char *v, bool *out)
{
    if (!strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true"))
        *out = true;
    else if (!strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "false"))
        *out = false;
    else
        return false;
    return true;
}

static bool key_is(const char *key, size_t klen, const char *want)
{
    return strlen(want) == klen && !memcmp(key, want, klen);
}

/* -drive KEY=VALUE,...: QEMU's option syntax. In a value ",," stands for a
 * comma; a key alone means KEY=on; a later key overrides an earlier one. */
static const char *parse_drive(struct vm_cli *out, struct drive_src *src, const char *name,
                               const char *spec, char *err, size_t errlen)
{
    char file[VM_CLI_FILE_MAX], val[VM_CLI_FILE_MAX];
    bool have_file = false, snap = false;
    struct drive_params p = { .media = VM_MEDIA_DISK, .iface = VM_DRIVE_IF_IDE,
                              .format = BLK_FMT_RAW, .cache = BLK_CACHE_WRITEBACK,
                              .snapshot = -1 };
    int index = -1;

    for (const char *s = spec; *s;) {
        const char *key = s;
        size_t klen = strcspn(s, "=,");
        s += klen;
        if (klen == 0)
            return fail(err, errlen, "%s '%s': expected KEY=VALUE items separated by ','", name,
                        spec);
        size_t vlen = 0;
        if (*s == '=') {
            for (s++; *s && !(*s == ',' && s[1] != ','); s++) {
                if (*s == ',')
                    s++; /* ",," */
                if (vlen + 1 >= sizeof(val))
                    return fail(err, errlen, "%s: the value of '%.*s' is longer than %u bytes",
                                name, (int)klen, key, VM_CLI_FILE_MAX - 1);
                val[vlen++] = *s;
            }
        } else {
            memcpy(val, "on", 2);
            vlen = 2;
        }
        val[vlen] = 0;
        if (*s == ',')
            s++;

        if (key_is(key, klen, "file")) {
            if (!vlen)
                return fail(err, errlen, "%s '%s': file= needs a file name", name, spec);
            memcpy(file, val, vlen + 1);
            have_file = true;
        } else if (key_is(key, klen, "if")) {
            if (!strcmp(val, "ide"))
                p.iface = VM_DRIVE_IF_IDE;
            else if (!strcmp(val, "virtio"))
                p.iface = VM_DRIVE_IF_VIRTIO;
            else
                return fail(err, errlen, "%s if=%s: btvm has if=ide and if=virtio", name, val);
        } else if (key_is(key, klen, "index")) {
            const char *end;
            uint64_t v;
            if (!parse_u32(val, &end, &v) || *end || v >= VM_MAX_DRIVES)
                return fail(err, errlen,
                            "%s index=%s: the IDE index is 0 to 3 (primary master, primary "
                            "slave, secondary master, secondary slave)", name, val);
            index = (int)v;
        } else if (key_is(key, klen, "media")) {
            if (!strcmp(val, "disk"))
                p.media = VM_MEDIA_DISK;
            else if (!strcmp(val, "cdrom"))
                p.media = VM_MEDIA_CDROM;
            else
                return fail(err, errlen, "%s media=%s: expected media=disk or media=cdrom",
                            name, val);
        } else if (key_is(key, klen, "format")) {
            if (!strcmp(val, "raw"))
                p.format = BLK_FMT_RAW;
            else if (!strcmp(val, "qcow2"))
                p.format = BLK_FMT_QCOW2;
            else
                return fail(err, errlen, "%s format=%s: btvm reads format=raw and format=qcow2",
                            name, val);
            p.format_given = true;
        } else if (key_is(key, klen, "cache")) {
            if (!strcmp(val, "writeback"))
                p.cache = BLK_CACHE_WRITEBACK;
            else if (!strcmp(val, "none"))
                p.cache = BLK_CACHE_NONE;
            else
                return fail(err, errlen, "%s cache=%s: btvm has cache=writeback and cache=none",
                            name, val);
        } else if (key_is(key, klen, "snapshot")) {
            if (!parse_onoff(val, &snap))
                return fail(err, errlen, "%s snapshot=%s: expected snapshot=on or snapshot=off",
                            name, val);
            p.snapshot = snap;
        } else if (key_is(key, klen, "readonly")) {
            if (!parse_onoff(val, &p.readonly))
                return fail(err, errlen, "%s readonly=%s: expected readonly=on or readonly=off",
                            name, val);
        } else {
            return fail(err, errlen,
                        "%s '%s': unknown key '%.*s' (btvm knows file, if, index, media, "
                        "format, cache, snapshot and readonly)", name, spec, (int)klen, key);
        }
    }
    if (!have_file)
        return fail(err, errlen, "%s '%s': file=FILE is required", name, spec);
    if (p.iface == VM_DRIVE_IF_VIRTIO) {
        if (index >= 0)
            return fail(err, errlen, "%s '%s': index= is for if=ide (virtio drives are "
                        "numbered in command-line order)", name, spec);
        if (p.media == VM_MEDIA_CDROM)
            return fail(err, errlen, "%s '%s': media=cdrom needs if=ide", name, spec);
        return add_virtio_drive(out, src, name, spec, file, &p, err, errlen);
    }
    return add_drive(out, src, index, name, spec, file, true, &p, err, errlen);
}

/* -boot: QEMU's [order=]DRIVES[,menu=on|off] (DRIVES: c the first disk, d
 * the first CD-ROM); a bare DRIVES is the legacy spelling of order=. */
static const char *parse_boot(const char *name, const char *spec, struct vm_options *opt,
                              char *err, size_t errlen)
{
    for (const char *p = spec; *p;) {
        size_t len = strcspn(p, ",");
        const char *eq = memchr(p, '=', len);
        const char *val = eq ? eq + 1 : p;
        size_t klen = eq ? (size_t)(eq - p) : 0, vlen = len - (eq ? klen + 1 : 0);
        if (!eq || key_is(p, klen, "order")) {
            if (!vlen || vlen >= sizeof(opt->boot_order))
                return fail(err, errlen, "%s '%s': expected order=DRIVES (c, d)", name, spec);
            for (size_t i = 0; i < vlen; i++)
                if (val[i] != 'c' && val[i] != 'd')
                    return fail(err, errlen,
                                "%s '%s': boot device '%c': btvm boots from c (the first "
                                "disk) and d (the first CD-ROM) only", name, spec, val[i]);
            memcpy(opt->boot_order, val, vlen);
            opt->boot_order[vlen] = 0;
        } else if (key_is(p, klen, "menu")) {
            char v[8];
            if (vlen >= sizeof(v))
                return fail(err, errlen, "%s menu=%.*s: expected menu=on or menu=off", name,
                            (int)vlen, val);
            memcpy(v, val, vlen);
            v[vlen] = 0;
            if (!parse_onoff(v, &opt->boot_menu))
                return fail(err, errlen, "%s menu=%s: expected menu=on or menu=off", name, v);
        } else if (key_is(p, klen, "splash-time") || key_is(p, klen, "reboot-timeout")) {
            /* Milliseconds: how long the menu prompt waits; how long
             * SeaBIOS waits after "No bootable device" before rebooting. */
            char v[16];
            const char *end;
            uint64_t ms;
            bool splash = key_is(p, klen, "splash-time");
            memcpy(v, val, vlen < sizeof(v) ? vlen : sizeof(v) - 1);
            v[vlen < sizeof(v) ? vlen : sizeof(v) - 1] = 0;
            if (vlen >= sizeof(v) || !parse_u32(v, &end, &ms) || *end ||
                ms > (splash ? 0xFFFFu : 0xFFFFFFFEu))
                return fail(err, errlen, "%s %.*s: expected milliseconds, at most %u", name,
                            (int)len, p, splash ? 0xFFFFu : 0xFFFFFFFEu);
            if (splash)
                opt->boot_splash_ms = (int32_t)ms;
            else
                opt->boot_reboot_ms = (int64_t)ms;
        } else {
            return fail(err, errlen,
                        "%s '%s': unknown key '%.*s' (btvm knows order, menu, splash-time and "
                        "reboot-timeout)", name, spec, (int)klen, p);
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return NULL;
}

static const struct opt_def *find_opt(const char *tok, size_t len)
{
    for (size_t i = 0; i < sizeof(opt_defs) / sizeof(opt_defs[0]); i++)
        if (strlen(opt_defs[i].name) == len && !memcmp(opt_defs[i].name, tok, len))
            return &opt_defs[i];
    return NULL;
}

static const char *parse_run(int argc, char *const argv[], int i, struct vm_cli *out, char *err,
                             size_t errlen)
{
    struct vm_options *opt = &out->opt;
    struct drive_src src = { { NULL }, { NULL }, { 0 }, { 0 } };
    struct vm_cli_net net;
    memset(&net, 0, sizeof(net));
    for (; i < argc; i++) {
        const char *tok = argv[i];
        if (tok[0] != '-' || tok[1] == 0) {
            /* One bare argument is the kernel: "btvm run hello.elf". */
            if (opt->kernel)
                return fail(err, errlen, "unexpected argument '%s' (try 'btvm --help')", tok);
            opt->kernel = tok;
            continue;
        }
        const char *eq = tok[1] == '-' ? strchr(tok, '=') : NULL;
        size_t nlen = eq ? (size_t)(eq - tok) : strlen(tok);
        const struct opt_def *d = find_opt(tok, nlen);
        if (!d)
            return fail(err, errlen, "unknown option '%.*s' (try 'btvm --help')", (int)nlen, tok);
        const char *val = NULL;
        if (eq) {
            if (d->arg == 0)
                return fail(err, errlen, "option '%s' takes no value (try 'btvm --help')",
                            d->name);
            val = eq + 1;
        } else if (d->arg == 1) {
            if (i + 1 >= argc)
                return fail(err, errlen, "option '%s' needs a value (try 'btvm --help')", d->name);
            val = argv[++i];
        }
        const char *e = NULL;
        switch (d->id) {
        case O_KERNEL:
            if (!*val)
                return fail(err, errlen, "option '%s' needs a file name", d->name);
            opt->kernel = val;
            break;
        case O_APPEND:
            opt->cmdline = val;
            break;
        case O_INITRD:
            if (!*val)
                return fail(err, errlen, "option '%s' needs a file name", d->name);
            opt->initrd = val;
            break;
        case O_MEM:
            e = parse_mem(d->name, val, opt, err, errlen);
            break;
        case O_STATS:
            opt->stats = true;
            if (!val || !strcmp(val, "text"))
                opt->stats_json = false;
            else if (!strcmp(val, "json"))
                opt->stats_json = true;
            else
                return fail(err, errlen, "--stats=%s: expected --stats or --stats=json", val);
            break;
        case O_TRACE:
            opt->trace = true;
            break;
        case O_EXITCODE:
            if (!strcmp(val, "qemu"))
                opt->exit_code_qemu = true;
            else if (!strcmp(val, "plain"))
                opt->exit_code_qemu = false;
            else
                return fail(err, errlen, "--exit-code=%s: expected 'qemu' or 'plain'", val);
            break;
        case O_CODECACHE:
            e = parse_cache(d->name, val, opt, err, errlen);
            break;
        case O_ENGINE:
            if (!strcmp(val, "auto"))
                opt->engine = VM_ENGINE_AUTO;
            else if (!strcmp(val, "bt"))
                opt->engine = VM_ENGINE_BT;
            else if (!strcmp(val, "kvm"))
                opt->engine = VM_ENGINE_KVM;
            else
                return fail(err, errlen, "--engine=%s: expected auto, bt or kvm", val);
            break;
        case O_QUIET:
            opt->quiet = true;
            break;
        case O_REBOOT:
            /* The default; the last of --reboot and --no-reboot counts. */
            opt->no_reboot = false;
            break;
        case O_NO_REBOOT:
            opt->no_reboot = true;
            break;
        case O_HDA:
        case O_HDB:
        case O_HDC:
        case O_HDD:
            /* QEMU takes the argument as the file name itself: no ",,". */
            if (!*val)
                return fail(err, errlen, "option '%s' needs a file name", d->name);
            e = add_drive(out, &src, (int)(d->id - O_HDA), d->name, val, val, false,
                          &(struct drive_params){ .media = VM_MEDIA_DISK, .snapshot = -1 }, err,
                          errlen);
            break;
        case O_CDROM:
            if (!*val)
                return fail(err, errlen, "option '%s' needs a file name", d->name);
            e = add_drive(out, &src, 2, d->name, val, val, false,
                          &(struct drive_params){ .media = VM_MEDIA_CDROM, .readonly = true,
                                                  .snapshot = -1 }, err, errlen);
            break;
        case O_DRIVE:
            e = parse_drive(out, &src, d->name, val, err, errlen);
            break;
        case O_SNAPSHOT:
            opt->snapshot = true;
            break;
        case O_HELP:
            out->cmd = VM_CLI_HELP;
            return NULL;
        case O_DISPLAY:
        case O_NOGRAPHIC:
        case O_VNC:
        case O_VGA:
        case O_SCREENDUMP:
        case O_SCREENDUMP_TEXT:
            e = vm_cli_display_option(d->name, (int)(d->id - O_DISPLAY), val, opt, err, errlen);
            break;
        case O_BIOS:
            if (!*val)
                return fail(err, errlen, "option '%s' needs a file name", d->name);
            opt->bios = val;
            break;
        case O_BIOS_LOG:
            if (!*val)
                return fail(err, errlen, "option '%s' needs a file name", d->name);
            opt->bios_log = val;
            break;
        case O_BOOT:
            e = parse_boot(d->name, val, opt, err, errlen);
            break;
        case O_MONITOR:
            e = vm_cli_monitor_option(d->name, val, opt, err, errlen);
            break;
        case O_QMP:
            e = vm_cli_qmp_option(d->name, val, opt, err, errlen);
            break;
        case O_GDB:
            e = vm_cli_gdb_option(d->name, val, opt, err, errlen);
            break;
        case O_GDB_S:
            e = vm_cli_gdb_option(d->name, "tcp::1234", opt, err, errlen);
            break;
        case O_START_PAUSED:
            opt->start_paused = true;
            break;
        case O_DEBUGCON:
            /* QEMU's -debugcon CHARDEV for the port 0xE9 console; the
             * chardev kinds that make sense here. */
            if (!strcmp(val, "stdio")) {
                opt->debugcon = VM_DEBUGCON_STDIO;
            } else if (!strcmp(val, "null")) {
                opt->debugcon = VM_DEBUGCON_NULL;
            } else if (!strcmp(val, "none")) {
                opt->debugcon = VM_DEBUGCON_NONE;
            } else if (!strncmp(val, "file:", 5) && val[5]) {
                opt->debugcon = VM_DEBUGCON_FILE;
                opt->debugcon_file = val + 5;
            } else {
                return fail(err, errlen, "%s %s: expected stdio, file:FILE, null or none",
                            d->name, val);
            }
            break;
        case O_NETDEV:
        case O_DEVICE:
        case O_NIC:
            e = vm_cli_net_option(d->name, (int)(d->id - O_NETDEV), val, &net, err, errlen);
            break;
        }
        if (e)
            return e;
    }
    const char *ne = vm_cli_net_finish(&net, opt, err, errlen);
    if (ne)
        return ne;
    bool drives = false;
    for (int k = 0; k < VM_MAX_DRIVES; k++)
        drives |= opt->drives[k].used;
    for (int k = 0; k < VM_MAX_VIRTIO_DRIVES; k++)
        drives |= opt->virtio_drives[k].used;
    /* Firmware boot: asked for with -bios, or drives without a kernel. */
    opt->firmware = !opt->kernel && (opt->bios || drives);
    if (!opt->kernel && !opt->firmware)
        return fail(err, errlen, "no kernel given: use btvm run -k FILE, or boot a disk with "
                    "-hda/-cdrom (try 'btvm --help')");
    if (!opt->firmware && (opt->bios_log || opt->boot_order[0] || opt->boot_menu ||
                           opt->boot_splash_ms >= 0 || opt->boot_reboot_ms >= 0))
        return fail(err, errlen, "--bios-log and -boot apply to firmware boot only (no -kernel)");
    if (opt->firmware && !opt->bios)
        opt->bios = VM_BIOS_DEFAULT;
    /* -S: with a gdb stub, gdb starts the guest; else a monitor's cont. */
    if (opt->start_paused && opt->gdb) {
        opt->start_stopped = true;
        opt->start_paused = false;
    }
    if (opt->start_paused && !opt->monitor_path[0] && !opt->qmp_path[0])
        return fail(err, errlen, "-S needs -s/-gdb, -monitor or -qmp: nothing else could start the guest");
    return drives_finish(out, &src, err, errlen);
}

const char *vm_cli_parse(int argc, char *const argv[], struct vm_cli *out, char *err,
                         size_t errlen)
{
    memset(out, 0, sizeof(*out));
    vm_cli_defaults(&out->opt);
    out->cmd = VM_CLI_RUN;
    if (argc < 2)
        return fail(err, errlen, "no command given: use btvm run -k FILE (try 'btvm --help')");
    const char *c = argv[1];
    if (!strcmp(c, "help") || !strcmp(c, "--help") || !strcmp(c, "-h")) {
        out->cmd = VM_CLI_HELP;
        return NULL;
    }
    if (!strcmp(c, "version") || !strcmp(c, "--version") || !strcmp(c, "-V")) {
        out->cmd = VM_CLI_VERSION;
        return NULL;
    }
    if (!strcmp(c, "run"))
        return parse_run(argc, argv, 2, out, err, errlen);
    /* QEMU habit: "btvm -kernel x.elf" means run. */
    if (c[0] == '-')
        return parse_run(argc, argv, 1, out, err, errlen);
    return fail(err, errlen, "unknown command '%s' (try 'btvm --help')", c);
}

void vm_cli_usage(FILE *f)
{
    fprintf(f,
        "usage: btvm run -k KERNEL [options]\n"
        "       btvm run -hda DISK | -cdrom ISO [options]   boot them through the BIOS\n"
        "       btvm popek [-k POPEK_ELF] [--markdown]   the Popek-Goldberg table\n"
        "       btvm --help | --version\n"
        "\n"
        "Runs a 32-bit x86 PC: a Multiboot kernel or a Linux bzImage given with\n"
        "-k, or disks and CD-ROMs booted through the BIOS; by binary translation,\n"
        "or on KVM when the host has it (--engine). The guest's serial port\n"
        "(COM1) and debug console (port 0xE9) are this terminal.\n"
        "Ctrl-A X quits, Ctrl-A Ctrl-A sends Ctrl-A.\n"
        "\n"
        "options:\n"
        "  -k, -kernel FILE       Multiboot kernel (ELF32 or a.out kludge) or Linux bzImage\n"
        "  -a, -append STRING     kernel command line\n"
        "  -i, -initrd FILE[,..]  a bzImage's initramfs (one file), or a Multiboot\n"
        "                         kernel's modules, in order; text after a space\n"
        "                         in an item is passed on in the module string\n"
        "  -m MIB                 guest RAM in MiB (or 512M, 1G), %u..%u, default %u\n"
        "  --stats[=json]         print counters to stderr when the guest stops\n"
        "  --trace                trace translated blocks to stderr\n"
        "  --exit-code=qemu       debug-exit value v ends btvm with (v<<1)|1, like\n"
        "                         QEMU's isa-debug-exit (default: v itself)\n"
        "  --code-cache=KIB       translation cache size, %u..%u KiB, default %u\n"
        "  --engine=auto|bt|kvm   CPU engine (default auto: KVM when usable, else BT)\n"
        "  -q, --quiet            do not say which engine was chosen\n"
        "  -hda, -hdb, -hdc, -hdd FILE\n"
        "                         IDE disk (raw or qcow2 image) at index 0, 1, 2, 3\n"
        "  -cdrom FILE            IDE CD-ROM (read-only) at index 2\n"
        "  -drive file=FILE[,if=ide|virtio][,index=0..3][,media=disk|cdrom]\n"
        "         [,format=raw|qcow2][,cache=writeback|none][,snapshot=on|off]\n"
        "         [,readonly=on|off]\n"
        "                         a drive, QEMU's syntax: an IDE one without index\n"
        "                         takes the first free slot; cdrom is read-only;\n"
        "                         without format= a qcow2 image is recognized by\n"
        "                         its magic; ',,' is a comma in FILE\n"
        "  -snapshot              every drive writes to a throwaway overlay: the\n"
        "                         images stay as they were (not snapshot=off ones)\n"
        "  -bios FILE             firmware ROM (default: Debian's SeaBIOS,\n"
        "                         " VM_BIOS_DEFAULT ");\n"
        "                         drives without -kernel boot through it; with\n"
        "                         -kernel the ROM is only mapped\n"
        "  -boot [order=]DRIVES[,menu=on|off][,splash-time=MS][,reboot-timeout=MS]\n"
        "                         boot order, c = first disk, d = first CD-ROM\n"
        "                         (default cd); menu=on lets the BIOS wait for F12\n"
        "                         (splash-time: how long); reboot-timeout: reboot\n"
        "                         that long after no bootable device (default never)\n"
        "  --bios-log FILE        the BIOS's debug output (port 0x402) into FILE\n"
        "  -debugcon stdio|file:FILE|null|none\n"
        "                         where the port 0xE9 debug console goes (default\n"
        "                         stdio: this terminal)\n"
        "  --no-reboot            a guest reset ends btvm with status 6\n"
        "  --reboot               a guest reset restarts the machine (the default)\n"
        "%s"
        "%s"
        "%s"
        "%s"
        "  -h, --help             this text\n"
        "\n"
        "exit status: the guest's debug-exit value (port 0xf4), or 1 host error,\n"
        "2 bad command line or kernel, 3 guest halted with interrupts off,\n"
        "4 guest used something btvm does not support, 5 triple fault,\n"
        "6 the guest reset the machine (--no-reboot).\n",
        VM_MEM_MIB_MIN, VM_MEM_MIB_MAX, VM_MEM_MIB_DEFAULT, VM_CODE_CACHE_KIB_MIN,
        VM_CODE_CACHE_KIB_MAX, VM_CODE_CACHE_DEFAULT / 1024, vm_cli_display_help,
        vm_cli_net_help, vm_cli_monitor_help, vm_cli_gdb_help);
}

void vm_cli_version(FILE *f)
{
    fprintf(f, "btvm %s — 32-bit x86 guests by binary translation\n", BTVM_VERSION);
}
