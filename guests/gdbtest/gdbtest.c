/*
 * guests/gdbtest/gdbtest.c — the guest tests/guest/gdb.sh debugs (built
 * with -g): known globals to read, write and watch, a hand-written
 * function to single-step, and a second, paged view of its own image at
 * linear 0x40000000 to set a breakpoint and read memory through. It loads
 * its own GDT, so CS is 0x08 and DS 0x10 on btvm and on QEMU alike.
 * At the end it spins until the debugger (after a Ctrl-C) sets go_on.
 * Exit status 0 only if the debugger set poke to 0xbeef.
 */
#include "guest.h"

#define ALIAS_BASE 0x40000000u /* linear view of physical [1 MiB, 5 MiB) */
#define IMAGE_BASE 0x00100000u

volatile uint32_t counter;                 /* the watched global */
volatile uint32_t poke;                    /* gdb writes 0xbeef here */
volatile uint32_t table[4] = { 0x11111111, 0x22222222, 0x33333333, 0x44444444 };
volatile uint32_t alias_result;
volatile uint32_t go_on;                   /* spins until gdb interrupts and sets it */
volatile uint32_t spin_value;              /* code_target()'s result in the spin loop */

static uint64_t gdt[3] __attribute__((aligned(8))) = {
    0,
    0x00CF9A000000FFFFull, /* 0x08: code, flat */
    0x00CF92000000FFFFull, /* 0x10: data, flat */
};
static uint32_t page_dir[1024] __attribute__((aligned(4096)));
static uint32_t low_pt[1024] __attribute__((aligned(4096)));   /* identity, 0-4 MiB */
static uint32_t alias_pt[1024] __attribute__((aligned(4096))); /* 0x40000000 -> 1 MiB */

/* Four known instructions to stepi through: nop (1 byte), nop (1),
 * mov $0x1234, %eax (5), ret (1). */
void marker(void);
__asm__(".text\n.globl marker\n.type marker, @function\n"
        "marker:\n nop\n nop\n movl $0x1234, %eax\n ret\n"
        ".size marker, . - marker\n");

/* Called in the spin loop; gdb rewrites its immediate (1 -> 2) while the
 * loop's translation is in the cache: the next calls must see it. */
unsigned code_target(void);
__asm__(".text\n.globl code_target\n.type code_target, @function\n"
        "code_target:\n movl $1, %eax\n ret\n"
        ".size code_target, . - code_target\n");

/* Runs at its alias too: no absolute address inside. */
__attribute__((noinline)) int alias_fn(int x)
{
    return x * 3 + 1;
}

static void load_gdt(void)
{
    struct { uint16_t limit; uint32_t base; } __attribute__((packed)) d = { sizeof(gdt) - 1, (uint32_t)gdt };
    __asm__ volatile("lgdt %0\n"
                     "ljmp $0x08, $1f\n1:\n"
                     "movw $0x10, %%ax\nmovw %%ax, %%ds\nmovw %%ax, %%es\nmovw %%ax, %%ss\n"
                     "movw %%ax, %%fs\nmovw %%ax, %%gs\n" : : "m"(d) : "eax", "memory");
}

static void paging_on(void)
{
    for (uint32_t i = 0; i < 1024; i++) {
        low_pt[i] = (i << 12) | 3;
        alias_pt[i] = (IMAGE_BASE + (i << 12)) | 3;
    }
    page_dir[0] = (uint32_t)low_pt | 3;
    page_dir[ALIAS_BASE >> 22] = (uint32_t)alias_pt | 3;
    __asm__ volatile("movl %0, %%cr3\n"
                     "movl %%cr0, %%eax\norl $0x80000000, %%eax\nmovl %%eax, %%cr0\n"
                     : : "r"(page_dir) : "eax", "memory");
}

int guest_main(uint32_t magic, uint32_t mbi)
{
    (void)magic;
    (void)mbi;
    load_gdt();
    serial_puts("gdbtest: start\n");
    marker();
    for (int i = 0; i < 3; i++)
        counter = counter + 1;
    gprintf("gdbtest: counter=%u poke=%x table1=%x\n", (unsigned)counter, (unsigned)poke,
            (unsigned)table[1]);
    paging_on();
    /* midblock: one instruction into the block that starts where
     * paging_on returns (a breakpoint there must end that block). */
    __asm__ volatile("nop\n.globl midblock\nmidblock:\nnop");
    int (*fn)(int) = (int (*)(int))((uint32_t)alias_fn - IMAGE_BASE + ALIAS_BASE);
    alias_result = (uint32_t)fn(5);
    gprintf("gdbtest: alias_fn(5)=%u\n", (unsigned)alias_result);
    while (!go_on)
        spin_value = code_target();
    gprintf("gdbtest: released, code_target=%u\n", (unsigned)spin_value);
    return poke == 0xbeef ? 0 : 3;
}
