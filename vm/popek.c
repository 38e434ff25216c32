/*
 * vm/popek.c — `btvm popek`: the Popek–Goldberg teaching table.
 *
 * For each x86 instruction that is sensitive but unprivileged it shows, side
 * by side: (1) what this host CPU returns to a CPL-3 process, measured live
 * with inline asm (a SIGSEGV/SIGILL, e.g. from UMIP, is caught and shown);
 * (2) what a pure trap-and-emulate VMM would get wrong, since no trap ever
 * reaches it; (3) what the popek guest (guests/popek/) sees at CPL 0 and
 * CPL 3 when btvm runs it, parsed from its `popek:` lines. The guest runs in
 * a child `btvm run` so a guest failure cannot take the table down with it.
 */
#include "vm/popek.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CELL 256
#define MAXLINES 96

/* ---- host probes: run natively at CPL 3 in this process ---------------- */

static sigjmp_buf trap_env;
static volatile sig_atomic_t trap_sig;

static void on_trap(int sig)
{
    trap_sig = sig;
    siglongjmp(trap_env, 1);
}

typedef void (*probe_fn)(char *out, size_t n);

/* Inline asm that pushes first steps over the red zone (128 bytes). */
#define RZ_IN  "subq $128, %%rsp\n\t"
#define RZ_OUT "addq $128, %%rsp\n\t"

struct dtr64 {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

static void h_sgdt(char *o, size_t n)
{
    struct dtr64 d;
    __asm__ volatile("sgdt %0" : "=m"(d));
    snprintf(o, n, "base=0x%016llx limit=0x%04x (the host kernel's GDT)",
             (unsigned long long)d.base, d.limit);
}

static void h_sidt(char *o, size_t n)
{
    struct dtr64 d;
    __asm__ volatile("sidt %0" : "=m"(d));
    snprintf(o, n, "base=0x%016llx limit=0x%04x (the host kernel's IDT)",
             (unsigned long long)d.base, d.limit);
}

static void h_sldt(char *o, size_t n)
{
    uint16_t s;
    __asm__ volatile("sldt %0" : "=m"(s));
    snprintf(o, n, "sel=0x%04x (the host's LDTR)", s);
}

static void h_str(char *o, size_t n)
{
    uint16_t s;
    __asm__ volatile("str %0" : "=m"(s));
    snprintf(o, n, "sel=0x%04x (the host's TR)", s);
}

static void h_smsw(char *o, size_t n)
{
    uint32_t r;
    uint16_t m;
    __asm__ volatile("smsw %0" : "=r"(r));
    __asm__ volatile("smsw %0" : "=m"(m));
    snprintf(o, n, "reg=0x%08x mem=0x%04x (the host's CR0)", r, m);
}

static void h_pushf(char *o, size_t n)
{
    uint64_t f;
    __asm__ volatile(RZ_IN "pushfq\n\tpopq %0\n\t" RZ_OUT : "=r"(f) : : "memory");
    snprintf(o, n, "value=0x%08llx if=%u iopl=%u", (unsigned long long)f,
             (unsigned)(f >> 9) & 1, (unsigned)(f >> 12) & 3);
}

static void h_popf(char *o, size_t n)
{
    uint64_t before, after;
    __asm__ volatile(RZ_IN
                     "pushfq\n\tpopq %%rcx\n\t"
                     "pushfq\n\tpopq %0\n\t"
                     "pushfq\n\tandq $-0x201, (%%rsp)\n\torq $0x3000, (%%rsp)\n\tpopfq\n\t"
                     "pushfq\n\tpopq %1\n\t"
                     "pushq %%rcx\n\tpopfq\n\t" RZ_OUT
                     : "=r"(before), "=r"(after) : : "rcx", "cc", "memory");
    snprintf(o, n, "tried IF 1->0, IOPL 0->3: if=%u iopl=%u, no fault",
             (unsigned)(after >> 9) & 1, (unsigned)(after >> 12) & 3);
    (void)before;
}

static void h_lar(char *o, size_t n)
{
    uint32_t cs, ar = 0, lim = 0;
    uint8_t z1, z2;
    __asm__ volatile("movl %%cs, %0" : "=r"(cs));
    __asm__ volatile("larl %2, %0\n\tsetz %1" : "+r"(ar), "=q"(z1) : "r"(cs) : "cc");
    __asm__ volatile("lsll %2, %0\n\tsetz %1" : "+r"(lim), "=q"(z2) : "r"(cs) : "cc");
    snprintf(o, n, "lar sel=0x%04x zf=%u ar=0x%08x (DPL %u); lsl zf=%u limit=0x%08x", cs, z1, ar,
             (ar >> 13) & 3, z2, lim);
}

static void h_verr(char *o, size_t n)
{
    uint32_t ss, tr = 0;
    uint8_t r1, w1, r2, w2;
    __asm__ volatile("movl %%ss, %0" : "=r"(ss));
    __asm__ volatile("str %w0" : "=r"(tr));
    __asm__ volatile("verr %w2\n\tsetz %0\n\tverw %w2\n\tsetz %1"
                     : "=&q"(r1), "=&q"(w1) : "r"(ss) : "cc");
    __asm__ volatile("verr %w2\n\tsetz %0\n\tverw %w2\n\tsetz %1"
                     : "=&q"(r2), "=&q"(w2) : "r"(tr) : "cc");
    snprintf(o, n, "data 0x%04x: verr=%u verw=%u; system (TR) 0x%04x: verr=%u verw=%u",
             ss & 0xffff, r1, w1, tr & 0xffff, r2, w2);
}

static void h_movcs(char *o, size_t n)
{
    uint32_t cs;
    __asm__ volatile("movl %%cs, %0" : "=r"(cs));
    snprintf(o, n, "mov r,cs = 0x%04x rpl=%u (push cs: #UD in 64-bit mode)", cs & 0xffff, cs & 3);
}

static void h_movss(char *o, size_t n)
{
    uint32_t ss;
    __asm__ volatile("movl %%ss, %0" : "=r"(ss));
    snprintf(o, n, "value=0x%04x rpl=%u", ss & 0xffff, ss & 3);
}

static void h_far(char *o, size_t n)
{
    uint32_t cs;
    /* lretq to our own CS: the far transfer runs unhindered at CPL 3. */
    __asm__ volatile(RZ_IN
                     "xorl %%eax, %%eax\n\tmovw %%cs, %%ax\n\tpushq %%rax\n\t"
                     "leaq 1f(%%rip), %%rax\n\tpushq %%rax\n\tlretq\n"
                     "1:\txorl %%eax, %%eax\n\tmovw %%cs, %%ax\n\t" RZ_OUT
                     : "=a"(cs) : : "cc", "memory");
    snprintf(o, n, "far ret (lretq) to 0x%04x ran, no trap", cs);
}

static void h_int(char *o, size_t n)
{
    long r = 20; /* i386 __NR_getpid */
    __asm__ volatile("int $0x80" : "+a"(r) : : "r8", "r9", "r10", "r11", "cc", "memory");
    snprintf(o, n, "int 0x80 entered the host kernel's DPL-3 gate (returned %ld = pid %s)", r,
             r == (long)getpid() ? "yes" : "no");
}

static void h_iret(char *o, size_t n)
{
    uint64_t f;
    __asm__ volatile(RZ_IN
                     "pushfq\n\tpopq %%rdx\n\t"
                     "movq %%rsp, %%rcx\n\t"
                     "xorl %%eax, %%eax\n\tmovw %%ss, %%ax\n\tpushq %%rax\n\t"
                     "pushq %%rcx\n\t"
                     "pushfq\n\tandq $-0x201, (%%rsp)\n\t"
                     "xorl %%eax, %%eax\n\tmovw %%cs, %%ax\n\tpushq %%rax\n\t"
                     "leaq 1f(%%rip), %%rax\n\tpushq %%rax\n\tiretq\n"
                     "1:\tpushfq\n\tpopq %0\n\t"
                     "pushq %%rdx\n\tpopfq\n\t" RZ_OUT
                     : "=r"(f) : : "rax", "rcx", "rdx", "cc", "memory");
    snprintf(o, n, "iretq with IF=0 image: if=%u, no fault", (unsigned)(f >> 9) & 1);
}

static void probe(probe_fn fn, char *out, size_t n)
{
    struct sigaction sa, old[3];
    static const int sigs[3] = { SIGSEGV, SIGILL, SIGBUS };
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_trap;
    sa.sa_flags = SA_NODEFER;
    for (int i = 0; i < 3; i++)
        sigaction(sigs[i], &sa, &old[i]);
    if (sigsetjmp(trap_env, 1) == 0)
        fn(out, n);
    else if (trap_sig == SIGSEGV)
        snprintf(out, n, "traps (UMIP or #GP: SIGSEGV)");
    else
        snprintf(out, n, "traps (%s)", trap_sig == SIGILL ? "#UD: SIGILL" : "SIGBUS");
    for (int i = 0; i < 3; i++)
        sigaction(sigs[i], &old[i], NULL);
}

/* ---- the rows ---------------------------------------------------------- */

struct row {
    const char *insn;
    const char *keys;   /* guest line names, space separated */
    probe_fn host;
    const char *miss;   /* what pure trap-and-emulate gets wrong */
};

static const struct row rows[] = {
    { "SGDT", "sgdt", h_sgdt,
      "no trap: guest kernel reads the host's GDTR, not the one it loaded" },
    { "SIDT", "sidt", h_sidt,
      "no trap: guest reads the host's IDTR (the classic 'red pill')" },
    { "SLDT", "sldt", h_sldt, "no trap: guest reads the host's LDTR selector" },
    { "STR", "str", h_str, "no trap: guest reads the host's task register" },
    { "SMSW", "smsw", h_smsw,
      "no trap: guest sees the host's CR0 bits (PE/MP/ET/TS...), not its virtual CR0" },
    { "PUSHF", "pushf", h_pushf,
      "no trap: deprivileged guest kernel sees the real IF/IOPL, not its virtual IF" },
    { "POPF", "popf", h_popf,
      "no trap, no fault: the kernel's IF change is silently dropped (IF lost)" },
    { "LAR/LSL", "lar lsl", h_lar,
      "no trap: access checks use the real CPL 3; descriptors come from the host tables" },
    { "VERR/VERW", "verr verw", h_verr,
      "no trap: checked against the real CPL 3, kernel segments look inaccessible" },
    { "PUSH CS / MOV r,CS", "pushcs movcs", h_movcs,
      "no trap: RPL 3 shows the guest kernel it is not at CPL 0" },
    { "MOV r,SS", "movss", h_movss, "no trap: RPL 3 = wrong CPL for a guest kernel" },
    { "far CALL/RET", "farcall", h_far,
      "no trap: pushes/pops real selectors (RPL 3), privilege checks at the wrong CPL" },
    { "INT n", "int", h_int,
      "traps only if the gate's DPL forbids it; else goes through the host IDT" },
    { "IRET", "iret", h_iret,
      "no trap at CPL 3: an IF change in the image is silently ignored (IF lost)" },
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

/* ---- the guest run ----------------------------------------------------- */

struct gline {
    char name[16];
    int cpl;
    char rest[160];
};

struct guest {
    struct gline l[MAXLINES];
    int n;
    bool done;
    char gdt[64];          /* "base=0x... limit=0x..." the guest printed */
    char why[256];         /* set when the run failed */
};

static void parse_line(struct guest *g, char *s)
{
    char *cr = strchr(s, '\r');
    if (cr)
        *cr = 0;
    if (strncmp(s, "popek: ", 7))
        return;
    s += 7;
    if (!strcmp(s, "done")) {
        g->done = true;
        return;
    }
    if (!strncmp(s, "gdt ", 4)) {
        snprintf(g->gdt, sizeof(g->gdt), "%.60s", s + 4);
        return;
    }
    char *sp = strchr(s, ' ');
    if (!sp || strncmp(sp, " cpl=", 5) || g->n >= MAXLINES)
        return;
    struct gline *l = &g->l[g->n++];
    snprintf(l->name, sizeof(l->name), "%.*s", (int)(sp - s), s);
    l->cpl = atoi(sp + 5);
    char *rest = strchr(sp + 1, ' ');
    snprintf(l->rest, sizeof(l->rest), "%s", rest ? rest + 1 : "");
}

static int run_guest(const char *self, const char *elf, struct guest *g)
{
    int pfd[2];
    if (access(elf, R_OK)) {
        snprintf(g->why, sizeof(g->why), "cannot read %.160s (build it with make guests, or pass -k FILE)",
                 elf);
        return -1;
    }
    if (pipe(pfd)) {
        snprintf(g->why, sizeof(g->why), "pipe: %s", strerror(errno));
        return -1;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(g->why, sizeof(g->why), "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0)
            dup2(nul, 0);
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        alarm(60); /* a hung guest must not hang the lecture */
        execl(self, self, "run", "-k", elf, (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    FILE *f = fdopen(pfd[0], "r");
    char line[512];
    while (f && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = 0;
        parse_line(g, line);
    }
    if (f)
        fclose(f);
    int st;
    if (waitpid(pid, &st, 0) < 0) {
        snprintf(g->why, sizeof(g->why), "waitpid: %s", strerror(errno));
        return -1;
    }
    if (WIFSIGNALED(st))
        snprintf(g->why, sizeof(g->why), "btvm run -k %.160s killed by signal %d%s", elf,
                 WTERMSIG(st), WTERMSIG(st) == SIGALRM ? " (timeout)" : "");
    else if (WEXITSTATUS(st) != 0)
        snprintf(g->why, sizeof(g->why), "btvm run -k %.160s exited with status %d", elf,
                 WEXITSTATUS(st));
    else if (!g->done)
        snprintf(g->why, sizeof(g->why), "the guest never printed 'popek: done'");
    return g->why[0] ? -1 : 0;
}

/* Guest cell: every line of the row's keys at one CPL. */
static bool guest_cell(const struct guest *g, const struct row *r, int cpl, char *o, size_t n)
{
    char keys[64];
    bool multi = strchr(r->keys, ' ') != NULL, any = false;
    snprintf(keys, sizeof(keys), "%s", r->keys);
    o[0] = 0;
    for (char *save, *k = strtok_r(keys, " ", &save); k; k = strtok_r(NULL, " ", &save)) {
        bool first = true;
        for (int i = 0; i < g->n; i++) {
            const struct gline *l = &g->l[i];
            if (l->cpl != cpl || strcmp(l->name, k))
                continue;
            size_t len = strlen(o);
            unsigned sel, ok;
            char item[192];
            if (sscanf(l->rest, "sel=0x%x ok=%u", &sel, &ok) == 2)  /* verr/verw: compact */
                snprintf(item, sizeof(item), "0x%04x=%u", sel, ok);
            else
                snprintf(item, sizeof(item), "%s", l->rest);
            snprintf(o + len, n - len, "%s%s%s%s", len ? (first ? "; " : ", ") : "",
                     first && multi ? k : "", first && multi ? " " : "", item);
            first = false;
            any = true;
        }
    }
    return any;
}

/* ---- output ------------------------------------------------------------ */

static const char *header[] = {
    "Popek & Goldberg (1974): trap-and-emulate can virtualize a CPU only if every",
    "sensitive instruction (one that reads or changes privileged state, or acts",
    "differently by privilege) is privileged: it must trap when a deprivileged guest",
    "kernel runs it at CPL 3. 32-bit x86 fails: these run at CPL 3 without trapping.",
};

static const char *footer[] = {
    "btvm closes the gap by binary translation: the translator never runs these",
    "instructions natively. Each becomes inline code or a callout into cpu/ that",
    "answers from the virtual CPU (its GDTR/IDTR/LDTR/TR, CR0, EFLAGS.IF/IOPL, CPL),",
    "so the guest kernel sees CPL 0 and its own tables, and guest user code sees",
    "what real hardware at CPL 3 would give it.",
};

#define NCOLS 5

/* Print one text row, wrapping each cell at its width on spaces. */
static void text_row(char cells[NCOLS][CELL], const int *w)
{
    const char *p[NCOLS];
    for (int c = 0; c < NCOLS; c++)
        p[c] = cells[c];
    for (;;) {
        bool more = false;
        for (int c = 0; c < NCOLS; c++)
            if (*p[c])
                more = true;
        if (!more)
            break;
        for (int c = 0; c < NCOLS; c++) {
            const char *s = p[c];
            int len = (int)strlen(s);
            int take = len;
            if (len > w[c]) {
                take = w[c];
                while (take > 0 && s[take] != ' ')
                    take--;
                if (take == 0)
                    take = w[c];
            }
            printf("%s%-*.*s", c ? " | " : "", w[c], take, s);
            s += take;
            while (*s == ' ')
                s++;
            p[c] = s;
        }
        printf("\n");
    }
}

static void md_cell(const char *s)
{
    printf(" ");
    for (; *s; s++)
        fputs(*s == '|' ? "\\|" : (char[2]){ *s, 0 }, stdout);
    printf(" |");
}

static void usage(FILE *f)
{
    fprintf(f, "usage: btvm popek [-k POPEK.ELF] [--markdown]\n"
               "Prints the Popek-Goldberg table: host CPU at CPL 3 (measured now) vs. the\n"
               "popek guest under btvm. Default guest: <dir of btvm>/guests/popek.elf.\n");
}

int vm_popek_main(int argc, char **argv)
{
    const char *elf = NULL;
    bool md = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--markdown")) {
            md = true;
        } else if ((!strcmp(argv[i], "-k") || !strcmp(argv[i], "--kernel")) && i + 1 < argc) {
            elf = argv[++i];
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "btvm: popek: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    char self[PATH_MAX], def[PATH_MAX + 32];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (sl <= 0) {
        fprintf(stderr, "btvm: popek: cannot find my own binary: %s\n", strerror(errno));
        return 1;
    }
    self[sl] = 0;
    if (!elf) {
        char *slash = strrchr(self, '/');
        snprintf(def, sizeof(def), "%.*s/guests/popek.elf", (int)(slash ? slash - self : 1),
                 slash ? self : ".");
        elf = def;
    }

    static struct guest g;
    int grc = run_guest(self, elf, &g);

    static char cells[NROWS][NCOLS][CELL];
    bool missing = false;
    for (size_t r = 0; r < NROWS; r++) {
        snprintf(cells[r][0], CELL, "%s", rows[r].insn);
        probe(rows[r].host, cells[r][1], CELL);
        snprintf(cells[r][2], CELL, "%s", rows[r].miss);
        for (int cpl = 0; cpl < 2; cpl++)
            if (!guest_cell(&g, &rows[r], cpl * 3, cells[r][3 + cpl], CELL)) {
                snprintf(cells[r][3 + cpl], CELL, "(no result)");
                missing = true;
            }
    }
    if (grc == 0 && missing)
        snprintf(g.why, sizeof(g.why), "the guest left some rows without a result");

    static const char *titles[NCOLS] = { "instruction", "host CPU at CPL 3 (live)",
                                         "pure trap-and-emulate VMM", "guest CPL 0 under btvm",
                                         "guest CPL 3 under btvm" };
    for (size_t i = 0; i < sizeof(header) / sizeof(header[0]); i++)
        printf("%s\n", header[i]);
    printf("\n");
    if (g.gdt[0])
        printf("The popek guest loaded its own GDT at %s (it printed this itself).\n\n", g.gdt);
    if (md) {
        printf("|");
        for (int c = 0; c < NCOLS; c++)
            md_cell(titles[c]);
        printf("\n|");
        for (int c = 0; c < NCOLS; c++)
            printf("---|");
        printf("\n");
        for (size_t r = 0; r < NROWS; r++) {
            printf("|");
            for (int c = 0; c < NCOLS; c++)
                md_cell(cells[r][c]);
            printf("\n");
        }
    } else {
        static const int w[NCOLS] = { 11, 30, 30, 30, 30 };
        char t[NCOLS][CELL];
        for (int c = 0; c < NCOLS; c++)
            snprintf(t[c], CELL, "%s", titles[c]);
        text_row(t, w);
        for (int c = 0; c < NCOLS; c++)
            printf("%s%.*s", c ? "-+-" : "", w[c],
                   "------------------------------------------------------------");
        printf("\n");
        for (size_t r = 0; r < NROWS; r++) {
            text_row(cells[r], w);
            if (r + 1 < NROWS)
                printf("\n");
        }
    }
    printf("\n");
    for (size_t i = 0; i < sizeof(footer) / sizeof(footer[0]); i++)
        printf("%s\n", footer[i]);
    fflush(stdout);
    if (g.why[0]) {
        fprintf(stderr, "btvm: popek: guest run failed: %s\n", g.why);
        return 1;
    }
    return 0;
}
