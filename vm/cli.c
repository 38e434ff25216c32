/*
 * vm/cli.c — parses btvm's command line into struct vm_options.
 *
 * Owns the subcommands (run, help, version), every option with its btvm and
 * QEMU spelling, the limits on numbers, and the help text. It never exits or
 * prints on its own: errors come back as one line so tests can check them.
 */
#include "vm/cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#ifndef BTVM_VERSION
#define BTVM_VERSION "0.1"
#endif

enum opt_id { O_KERNEL, O_APPEND, O_INITRD, O_MEM, O_STATS, O_TRACE, O_EXITCODE, O_CODECACHE,
              O_ENGINE, O_QUIET, O_REBOOT, O_HELP };

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
    { "-h", O_HELP, 0 },       { "--help", O_HELP, 0 },
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
            opt->reboot = true;
            break;
        case O_HELP:
            out->cmd = VM_CLI_HELP;
            return NULL;
        }
        if (e)
            return e;
    }
    if (!opt->kernel)
        return fail(err, errlen, "no kernel given: use btvm run -k FILE (try 'btvm --help')");
    return NULL;
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
        "       btvm popek [-k POPEK_ELF] [--markdown]   the Popek-Goldberg table\n"
        "       btvm --help | --version\n"
        "\n"
        "Runs a 32-bit x86 Multiboot kernel by binary translation; the guest's\n"
        "serial port (COM1) and debug console (port 0xE9) are this terminal.\n"
        "Ctrl-A X quits, Ctrl-A Ctrl-A sends Ctrl-A.\n"
        "\n"
        "options:\n"
        "  -k, -kernel FILE       Multiboot kernel (ELF32 or a.out kludge)\n"
        "  -a, -append STRING     kernel command line\n"
        "  -i, -initrd FILE[,..]  Multiboot modules, in order; text after a space\n"
        "                         in an item is passed on in the module string\n"
        "  -m MIB                 guest RAM in MiB (or 512M, 1G), %u..%u, default %u\n"
        "  --stats[=json]         print counters to stderr when the guest stops\n"
        "  --trace                trace translated blocks to stderr\n"
        "  --exit-code=qemu       debug-exit value v ends btvm with (v<<1)|1, like\n"
        "                         QEMU's isa-debug-exit (default: v itself)\n"
        "  --code-cache=KIB       translation cache size, %u..%u KiB, default %u\n"
        "  --engine=auto|bt|kvm   CPU engine (default auto: KVM when usable, else BT)\n"
        "  -q, --quiet            do not say which engine was chosen\n"
        "  --reboot               not supported yet (refused): a guest reset ends\n"
        "                         btvm with status 6\n"
        "  -h, --help             this text\n"
        "\n"
        "exit status: the guest's debug-exit value (port 0xf4), or 1 host error,\n"
        "2 bad command line or kernel, 3 guest halted with interrupts off,\n"
        "4 guest used something btvm does not support, 5 triple fault,\n"
        "6 the guest reset the machine.\n",
        VM_MEM_MIB_MIN, VM_MEM_MIB_MAX, VM_MEM_MIB_DEFAULT, VM_CODE_CACHE_KIB_MIN,
        VM_CODE_CACHE_KIB_MAX, VM_CODE_CACHE_DEFAULT / 1024);
}

void vm_cli_version(FILE *f)
{
    fprintf(f, "btvm %s — 32-bit x86 guests by binary translation\n", BTVM_VERSION);
}
