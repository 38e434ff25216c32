/*
 * tests/unit/test_gdb.c — the gdb stub's pure parts: packet framing and
 * acknowledgements (vm/gdb_proto.c), the -s/-gdb/-S options (vm/cli.c,
 * vm/gdb_cli.c), register numbering and the writes it refuses
 * (vm/gdb_regs.c), the debugger's page walk (vm/gdb_mem.c) and the data
 * accesses watchpoints are judged by (vm/gdb_watch.c).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"
#include "vm/cli.h"
#include "vm/gdb_mem.h"
#include "vm/gdb_proto.h"
#include "vm/gdb_regs.h"
#include "vm/gdb_watch.h"

/* Feed s to rx; the last event. */
static enum vm_gdb_rx_event feed(struct vm_gdb_rx *rx, const char *s)
{
    enum vm_gdb_rx_event ev = VM_GDB_RX_NONE;
    while (*s)
        ev = vm_gdb_rx_byte(rx, (uint8_t)*s++);
    return ev;
}

START_TEST(framing)
{
    struct vm_gdb_rx rx;
    vm_gdb_rx_init(&rx);
    /* "g": checksum 0x67. */
    ck_assert_int_eq(feed(&rx, "$g#67"), VM_GDB_RX_PACKET);
    ck_assert_str_eq(rx.buf, "g");
    ck_assert_int_eq(feed(&rx, "$g#68"), VM_GDB_RX_BAD);
    ck_assert_int_eq(feed(&rx, "$g#6"), VM_GDB_RX_NONE);
    ck_assert_int_eq(feed(&rx, "z"), VM_GDB_RX_BAD); /* not a hex digit */
    ck_assert_int_eq(feed(&rx, "+"), VM_GDB_RX_ACK);
    ck_assert_int_eq(feed(&rx, "-"), VM_GDB_RX_NAK);
    ck_assert_int_eq(feed(&rx, "\x03"), VM_GDB_RX_INTR);
    ck_assert_int_eq(feed(&rx, "$qC#b4"), VM_GDB_RX_PACKET);
    ck_assert_str_eq(rx.buf, "qC");

    char out[64];
    size_t n = vm_gdb_frame("OK", 2, out, sizeof(out));
    ck_assert_int_eq(n, 6);
    ck_assert(!memcmp(out, "$OK#9a", 6));
    /* '#' '$' '}' '*' go escaped: '}' then the byte ^ 0x20. */
    n = vm_gdb_frame("a#b", 3, out, sizeof(out));
    ck_assert(!memcmp(out, "$a}\x03" "b#", 6));
    vm_gdb_rx_init(&rx);
    out[n] = 0;
    ck_assert_int_eq(feed(&rx, out), VM_GDB_RX_PACKET);
    ck_assert_int_eq(vm_gdb_unescape(rx.buf, rx.len), 3);
    ck_assert(!memcmp(rx.buf, "a#b", 3));
    ck_assert_int_eq(vm_gdb_frame("OK", 2, out, 5), 0); /* does not fit */

    /* A packet longer than the announced size is refused, not cut. */
    vm_gdb_rx_init(&rx);
    vm_gdb_rx_byte(&rx, '$');
    for (unsigned i = 0; i < VM_GDB_PACKET_MAX + 10; i++)
        vm_gdb_rx_byte(&rx, 'a');
    ck_assert_int_eq(feed(&rx, "#00"), VM_GDB_RX_BAD);
}
END_TEST

START_TEST(hex)
{
    const char *p = "1f2a,4:";
    uint64_t v;
    ck_assert(vm_gdb_parse_hex(&p, &v));
    ck_assert_uint_eq(v, 0x1f2a);
    ck_assert_int_eq(*p, ',');
    p = ",";
    ck_assert(!vm_gdb_parse_hex(&p, &v));
    uint8_t b[3] = { 0x00, 0xab, 0x7f };
    char h[7];
    vm_gdb_tohex(b, 3, h);
    ck_assert_str_eq(h, "00ab7f");
    uint8_t back[3];
    ck_assert(vm_gdb_fromhex("00AB7f", back, 3));
    ck_assert(!memcmp(b, back, 3));
    ck_assert(!vm_gdb_fromhex("00xb7f", back, 3));
}
END_TEST

static const char *cli(struct vm_cli *c, const char *a, const char *b, const char *d)
{
    static char err[256];
    char *argv[] = { "btvm", "run", "-k", "x.elf", (char *)a, (char *)b, (char *)d, NULL };
    int argc = 4 + (a != NULL) + (b != NULL) + (d != NULL);
    return vm_cli_parse(argc, argv, c, err, sizeof(err));
}

START_TEST(options)
{
    static struct vm_cli c;
    ck_assert_ptr_null(cli(&c, NULL, NULL, NULL));
    ck_assert(!c.opt.gdb);
    ck_assert_ptr_null(cli(&c, "-s", NULL, NULL));
    ck_assert(c.opt.gdb && c.opt.gdb_addr == 0x7F000001u && c.opt.gdb_port == 1234);
    ck_assert(!c.opt.start_stopped);
    ck_assert_ptr_null(cli(&c, "-s", "-S", NULL));
    ck_assert(c.opt.start_stopped);
    ck_assert_ptr_null(cli(&c, "-gdb", "tcp::4321", NULL));
    ck_assert(c.opt.gdb && c.opt.gdb_addr == 0x7F000001u && c.opt.gdb_port == 4321);
    ck_assert_ptr_null(cli(&c, "-gdb", "tcp:localhost:99", NULL));
    ck_assert(c.opt.gdb_port == 99);
    ck_assert_ptr_null(cli(&c, "-gdb", "tcp:127.1.2.3:7", NULL));
    ck_assert(c.opt.gdb_addr == 0x7F010203u);
    ck_assert_ptr_null(cli(&c, "-s", "-gdb", "none"));
    ck_assert(!c.opt.gdb);
    const char *e = cli(&c, "-gdb", "tcp:0.0.0.0:1234", NULL);
    ck_assert_ptr_nonnull(e);
    ck_assert_ptr_nonnull(strstr(e, "loopback"));
    ck_assert_ptr_nonnull(cli(&c, "-gdb", "tcp:example.com:1234", NULL));
    e = cli(&c, "-gdb", "stdio", NULL);
    ck_assert_ptr_nonnull(e);
    ck_assert_ptr_nonnull(strstr(e, "only tcp"));
    ck_assert_ptr_nonnull(cli(&c, "-gdb", "tcp::1234,server=on", NULL));
    ck_assert_ptr_nonnull(cli(&c, "-gdb", "tcp::0", NULL));
    ck_assert_ptr_nonnull(cli(&c, "-gdb", "tcp::70000", NULL));
    ck_assert_ptr_nonnull(cli(&c, "-gdb", "tcp:1234", NULL));
    e = cli(&c, "-S", NULL, NULL);
    ck_assert_ptr_nonnull(e);
    ck_assert_ptr_nonnull(strstr(e, "-S needs"));
}
END_TEST

START_TEST(registers)
{
    static struct cpu c;
    uint8_t v[16];
    unsigned total = 0;
    cpu_reset_flat32(&c);
    for (unsigned n = 0; n < VM_GDB_NREGS; n++)
        total += vm_gdb_reg_size(n);
    ck_assert_uint_eq(total, VM_GDB_REGS_BYTES);
    ck_assert_uint_eq(vm_gdb_reg_size(VM_GDB_NREGS), 0);
    c.regs[CPU_EBX] = 0x11223344;
    c.eip = 0x100000;
    ck_assert_uint_eq(vm_gdb_reg_get(&c, 3, v), 4);
    ck_assert(!memcmp(v, "\x44\x33\x22\x11", 4));
    ck_assert_uint_eq(vm_gdb_reg_get(&c, 10, v), 4); /* cs */
    ck_assert_uint_eq(v[0] | v[1] << 8, c.segs[CPU_CS].sel);
    c.cr0 = 0x80000011;
    ck_assert_uint_eq(vm_gdb_reg_get(&c, 43, v), 4);
    ck_assert(!memcmp(v, "\x11\0\0\x80", 4));
    /* Writes: GPRs and EIP yes; a selector or CR0 no, unless unchanged. */
    uint32_t w = 0xdeadbeef;
    ck_assert_int_eq(vm_gdb_reg_set(&c, 8, (uint8_t *)&w), 0);
    ck_assert_uint_eq(c.eip, 0xdeadbeef);
    w = 0x23;
    ck_assert_int_ne(vm_gdb_reg_set(&c, 10, (uint8_t *)&w), 0);
    vm_gdb_reg_get(&c, 10, v);
    ck_assert_int_eq(vm_gdb_reg_set(&c, 10, v), 0);
    w = 0;
    ck_assert_int_ne(vm_gdb_reg_set(&c, 43, (uint8_t *)&w), 0);
    ck_assert_uint_eq(c.cr0, 0x80000011);
    /* EFLAGS: ZF may change, VM may not. */
    w = c.eflags | 0x40;
    ck_assert_int_eq(vm_gdb_reg_set(&c, 9, (uint8_t *)&w), 0);
    w = c.eflags | CPU_FL_VM;
    ck_assert_int_ne(vm_gdb_reg_set(&c, 9, (uint8_t *)&w), 0);
    /* x87 tags: empty unless FXSAVE's bit says in use; ST0 = 1.0 valid. */
    memset(c.fxstate, 0, sizeof(c.fxstate));
    ck_assert_uint_eq(vm_gdb_reg_get(&c, 26, v), 4);
    ck_assert_uint_eq(v[0] | v[1] << 8, 0xFFFF);
    c.fxstate[2 + 1] = 7 << 3; /* FSW.TOP = 7 */
    c.fxstate[4] = 1u << 7;   /* physical register 7 = ST0 in use */
    c.fxstate[32 + 7] = 0x80; /* 1.0: integer bit set */
    c.fxstate[32 + 8] = 0xFF;
    c.fxstate[32 + 9] = 0x3F;
    vm_gdb_reg_get(&c, 26, v);
    ck_assert_uint_eq(v[0] | v[1] << 8, 0x3FFF);
    ck_assert_str_eq(vm_gdb_target_xml + strlen(vm_gdb_target_xml) - 10, "</target>\n");
}
END_TEST

/* A 64 KiB RAM with 32-bit page tables: directory at 0x1000, a table at
 * 0x2000 mapping linear 0x400000 -> physical 0x5000, 0x401000 not present,
 * and a 4 MiB PSE page at linear 0x800000 -> physical 0. */
START_TEST(page_walk)
{
    static uint8_t ram[0x10000];
    static struct cpu c;
    uint64_t pa;
    uint32_t e;
    memset(ram, 0, sizeof(ram));
    cpu_reset_flat32(&c);
    ck_assert(vm_gdb_lin2phys(&c, ram, sizeof(ram), 0x12345, &pa));
    ck_assert_uint_eq(pa, 0x12345); /* paging off */
    e = 0x2000 | 1;
    memcpy(ram + 0x1000 + 4 * 1, &e, 4);
    e = 0x5000 | 1; /* read-only, supervisor: a debugger still reads it */
    memcpy(ram + 0x2000, &e, 4);
    e = 0x00000000 | 0x80 | 1;
    memcpy(ram + 0x1000 + 4 * 2, &e, 4);
    c.cr3 = 0x1000;
    c.cr0 |= CPU_CR0_PG;
    ck_assert(vm_gdb_lin2phys(&c, ram, sizeof(ram), 0x400123, &pa));
    ck_assert_uint_eq(pa, 0x5123);
    ck_assert(!vm_gdb_lin2phys(&c, ram, sizeof(ram), 0x401000, &pa));
    ck_assert(!vm_gdb_lin2phys(&c, ram, sizeof(ram), 0xC00000, &pa));
    ck_assert(!vm_gdb_lin2phys(&c, ram, sizeof(ram), 0x800010, &pa)); /* PSE off: a table at 0 */
    c.cr4 |= 0x10;
    ck_assert(vm_gdb_lin2phys(&c, ram, sizeof(ram), 0x800010, &pa));
    ck_assert_uint_eq(pa, 0x10);
    /* Accessed bits stay as they were. */
    memcpy(&e, ram + 0x2000, 4);
    ck_assert_uint_eq(e, 0x5001);
    /* PAE: PDPT at 0x3000, directory at 0x4000, 2 MiB page at linear 0. */
    uint64_t q = 0x4000 | 1;
    memcpy(ram + 0x3000, &q, 8);
    q = 0x200000 | 0x80 | 1;
    memcpy(ram + 0x4000, &q, 8);
    c.cr3 = 0x3000;
    c.cr4 = 0x20;
    ck_assert(vm_gdb_lin2phys(&c, ram, sizeof(ram), 0x1234, &pa));
    ck_assert_uint_eq(pa, 0x201234);
    ck_assert(!vm_gdb_lin2phys(&c, ram, sizeof(ram), 0x40000000, &pa));
}
END_TEST

static int accesses(struct cpu *c, const uint8_t *bytes, size_t n, struct vm_gdb_access *a)
{
    struct dec_insn d;
    ck_assert_int_eq(dec_decode(DEC_MODE_32, c->eip, bytes, n, &d), 0);
    return vm_gdb_insn_accesses(c, &d, a, VM_GDB_MAX_ACCESSES);
}

START_TEST(watch_accesses)
{
    static struct cpu c;
    struct vm_gdb_access a[VM_GDB_MAX_ACCESSES];
    cpu_reset_flat32(&c);
    c.regs[CPU_ESP] = 0x8000;
    c.regs[CPU_EBX] = 0x1000;
    /* mov [ebx+4], eax: a 4-byte write at 0x1004. */
    ck_assert_int_eq(accesses(&c, (const uint8_t[]){ 0x89, 0x43, 0x04 }, 3, a), 1);
    ck_assert(a[0].lin == 0x1004 && a[0].len == 4 && a[0].write && !a[0].read);
    /* push eax writes below ESP; pop reads at ESP. */
    ck_assert_int_eq(accesses(&c, (const uint8_t[]){ 0x50 }, 1, a), 1);
    ck_assert(a[0].lin == 0x7FFC && a[0].len == 4 && a[0].write);
    ck_assert_int_eq(accesses(&c, (const uint8_t[]){ 0x58 }, 1, a), 1);
    ck_assert(a[0].lin == 0x8000 && a[0].read && !a[0].write);
    /* add [ebx], 1 reads and writes. */
    ck_assert_int_eq(accesses(&c, (const uint8_t[]){ 0x83, 0x03, 0x01 }, 3, a), 1);
    ck_assert(a[0].read && a[0].write && a[0].lin == 0x1000);
    /* lea touches nothing. */
    ck_assert_int_eq(accesses(&c, (const uint8_t[]){ 0x8d, 0x43, 0x04 }, 3, a), 0);
    /* rep movsd, ECX = 3, forwards then backwards (DF). */
    c.regs[CPU_ESI] = 0x2000;
    c.regs[CPU_EDI] = 0x3000;
    c.regs[CPU_ECX] = 3;
    int n = accesses(&c, (const uint8_t[]){ 0xf3, 0xa5 }, 2, a);
    ck_assert_int_eq(n, 2);
    for (int i = 0; i < n; i++) {
        ck_assert_uint_eq(a[i].len, 12);
        ck_assert(a[i].write ? a[i].lin == 0x3000 : a[i].lin == 0x2000);
    }
    c.eflags |= CPU_FL_DF;
    n = accesses(&c, (const uint8_t[]){ 0xf3, 0xa5 }, 2, a);
    for (int i = 0; i < n; i++)
        ck_assert(a[i].write ? a[i].lin == 0x3000 - 8 : a[i].lin == 0x2000 - 8);
    c.regs[CPU_ECX] = 0;
    ck_assert_int_eq(accesses(&c, (const uint8_t[]){ 0xf3, 0xa5 }, 2, a), 0);
    /* A segment base counts: mov eax, fs:[ebx]. */
    c.seg_base[CPU_FS] = 0x10000;
    ck_assert_int_eq(accesses(&c, (const uint8_t[]){ 0x64, 0x8b, 0x03 }, 3, a), 1);
    ck_assert_uint_eq(a[0].lin, 0x11000);
    ck_assert(vm_gdb_overlaps(0x1000, 4, 0x1003, 1));
    ck_assert(!vm_gdb_overlaps(0x1000, 4, 0x1004, 4));
}
END_TEST

static Suite *gdb_suite(void)
{
    Suite *s = suite_create("gdb");
    TCase *t = tcase_create("core");
    tcase_add_test(t, framing);
    tcase_add_test(t, hex);
    tcase_add_test(t, options);
    tcase_add_test(t, registers);
    tcase_add_test(t, page_walk);
    tcase_add_test(t, watch_accesses);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(gdb_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
