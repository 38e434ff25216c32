/*
 * vm/gdb_mem.c — the debugger's page walk (SDM vol. 3, 4.3 and 4.4) and
 * linear reads and writes. Not the shadow MMU's walk: that one checks
 * permissions for an access kind and sets accessed/dirty bits, as the CPU
 * does; a debugger reads any mapped page and leaves the tables alone (as
 * QEMU's debug walk does). It also works whatever the engine.
 */
#include "vm/gdb_mem.h"

#include <errno.h>
#include <string.h>

#include "cpu/cpu.h"

#define PTE_P  0x1u
#define PTE_PS 0x80u
#define CR4_PSE 0x10u
#define CR4_PAE 0x20u

static bool rd(const uint8_t *ram, uint64_t ram_size, uint64_t pa, unsigned size, uint64_t *v)
{
    if (pa >= ram_size || size > ram_size - pa)
        return false;
    *v = 0;
    memcpy(v, ram + pa, size);
    return true;
}

bool vm_gdb_lin2phys(const struct cpu *c, const uint8_t *ram, uint64_t ram_size, uint32_t lin,
                     uint64_t *phys)
{
    uint64_t e;
    if ((c->cr0 & (CPU_CR0_PG | 1u)) != (CPU_CR0_PG | 1u)) {
        *phys = lin;
        return true;
    }
    if (c->cr4 & CR4_PAE) {
        const uint64_t addr = 0x0000000FFFFFF000ull;
        if (!rd(ram, ram_size, (c->cr3 & 0xFFFFFFE0u) + 8u * (lin >> 30), 8, &e) || !(e & PTE_P))
            return false;
        if (!rd(ram, ram_size, (e & addr) + 8u * ((lin >> 21) & 0x1FF), 8, &e) || !(e & PTE_P))
            return false;
        if (e & PTE_PS) {
            *phys = (e & 0x0000000FFFE00000ull) | (lin & 0x1FFFFFu);
            return true;
        }
        if (!rd(ram, ram_size, (e & addr) + 8u * ((lin >> 12) & 0x1FF), 8, &e) || !(e & PTE_P))
            return false;
        *phys = (e & addr) | (lin & 0xFFFu);
        return true;
    }
    if (!rd(ram, ram_size, (c->cr3 & 0xFFFFF000u) + 4u * (lin >> 22), 4, &e) || !(e & PTE_P))
        return false;
    if ((e & PTE_PS) && (c->cr4 & CR4_PSE)) {
        *phys = (e & 0xFFC00000u) | (lin & 0x3FFFFFu);
        return true;
    }
    if (!rd(ram, ram_size, (e & 0xFFFFF000u) + 4u * ((lin >> 12) & 0x3FF), 4, &e) || !(e & PTE_P))
        return false;
    *phys = (e & 0xFFFFF000u) | (lin & 0xFFFu);
    return true;
}

/* Page by page: each may map anywhere. */
static int access(struct vm *vm, uint32_t lin, void *buf, size_t len, bool write)
{
    uint8_t *b = buf;
    while (len) {
        size_t n = 4096 - (lin & 0xFFFu);
        if (n > len)
            n = len;
        uint64_t pa;
        /* Device memory (the VGA window, the APIC page) is not RAM: what
         * lies beneath would mislead, and a device read may have effects. */
        if (!vm_gdb_lin2phys(vm->cpu, vm->ram, vm->ram_size, lin, &pa) || vm_mmio_claimed(vm, pa))
            return -EFAULT;
        if (write) {
            uint8_t *p = vm_ram_ptr(vm, pa, n);
            if (!p)
                return -EFAULT;
            memcpy(p, b, n);
            if (vm->engine->ram_written)
                vm->engine->ram_written(vm, pa, n);
        } else {
            if (pa >= vm->ram_size || n > vm->ram_size - pa)
                return -EFAULT;
            memcpy(b, vm->ram + pa, n); /* what the CPU reads there (ROM too) */
        }
        b += n;
        len -= n;
        lin += (uint32_t)n;
    }
    return 0;
}

int vm_gdb_mem_read(struct vm *vm, uint32_t lin, void *buf, size_t len)
{
    return access(vm, lin, buf, len, false);
}

int vm_gdb_mem_write(struct vm *vm, uint32_t lin, const void *buf, size_t len)
{
    return access(vm, lin, (void *)buf, len, true);
}
