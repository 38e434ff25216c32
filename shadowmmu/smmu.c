/*
 * shadowmmu/smmu.c — the shadow TLB and its slow path (paging off: linear
 * addresses are guest-physical). Guest paging plugs into smmu_translate().
 */
#include "shadowmmu/smmu.h"

#include <stdlib.h>
#include <string.h>
#include "devices/bus.h"
#include "vm/vm.h"

void (*smmu_code_write_hook)(void *opaque, uint64_t phys, unsigned len);
void *smmu_code_write_opaque;

int smmu_init(struct smmu *m, struct vm *vm, uint64_t *base)
{
    memset(m, 0, sizeof(*m));
    m->vm = vm;
    m->tlb = base;
    m->npages = vm->ram_size >> 12;
    m->code_pages = calloc(m->npages ? m->npages : 1, 1);
    return m->code_pages ? 0 : -1;
}

void smmu_flush(struct smmu *m)
{
    memset(m->tlb, 0, 2ull * SMMU_TLB_ENTRIES * 8);
}

bool smmu_translate(struct smmu *m, uint32_t lin, bool write, uint64_t *phys)
{
    (void)m; (void)write;
    *phys = lin; /* paging off */
    return true;
}

uint8_t *smmu_fill(struct smmu *m, uint32_t lin, bool write)
{
    uint64_t phys;
    if (!smmu_translate(m, lin, write, &phys))
        return NULL;
    uint64_t ppage = phys >> 12;
    if (ppage >= m->npages || dev_bus_mmio_page(m->vm->bus, phys & ~0xFFFull))
        return NULL;
    if (write && m->code_pages[ppage])
        return NULL;
    uint8_t *host = m->vm->ram + (phys & ~0xFFFull);
    uint64_t addend = (uint64_t)(uintptr_t)host - (lin & ~0xFFFu);
    if (write) {
        m->tlb[SMMU_TLB_ENTRIES + (lin >> 12)] = addend;
        m->stats.fills_write++;
    } else {
        m->stats.fills_read++;
    }
    m->tlb[lin >> 12] = addend; /* writable implies readable */
    return host + (lin & 0xFFF);
}

/* One access that stays inside a page. */
static int access_page(struct smmu *m, uint32_t lin, uint8_t *buf, unsigned len, bool write)
{
    uint64_t phys;
    if (!smmu_translate(m, lin, write, &phys))
        return 14;
    uint8_t *ram = vm_ram_ptr(m->vm, phys, len);
    if (ram && !dev_bus_mmio_page(m->vm->bus, phys & ~0xFFFull)) {
        if (write) {
            memcpy(ram, buf, len);
            if (m->code_pages[phys >> 12] && smmu_code_write_hook)
                smmu_code_write_hook(smmu_code_write_opaque, phys, len);
        } else {
            memcpy(buf, ram, len);
        }
        return 0;
    }
    /* Device or hole: split into naturally sized pieces the bus understands. */
    while (len) {
        unsigned sz = len >= 8 && !(phys & 7) ? 8 : len >= 4 && !(phys & 3) ? 4
                    : len >= 2 && !(phys & 1) ? 2 : 1;
        uint64_t v = 0;
        if (write)
            memcpy(&v, buf, sz);
        m->stats.mmio++;
        if (!dev_bus_mmio(m->vm->bus, phys, sz, write, &v)) {
            m->stats.unmapped++;
            if (write) m->vm->stats.unmapped_writes++;
            else m->vm->stats.unmapped_reads++;
        }
        if (!write)
            memcpy(buf, &v, sz);
        phys += sz; buf += sz; len -= sz;
    }
    return 0;
}

static int access(struct smmu *m, uint32_t lin, uint8_t *buf, unsigned len, bool write)
{
    while (len) {
        unsigned chunk = 4096 - (lin & 0xFFF);
        if (chunk > len)
            chunk = len;
        int r = access_page(m, lin, buf, chunk, write);
        if (r)
            return r;
        lin += chunk; buf += chunk; len -= chunk;
    }
    return 0;
}

int smmu_read(struct smmu *m, uint32_t lin, void *buf, unsigned len)
{
    m->stats.slow_reads++;
    return access(m, lin, buf, len, false);
}

int smmu_write(struct smmu *m, uint32_t lin, const void *buf, unsigned len)
{
    m->stats.slow_writes++;
    return access(m, lin, (uint8_t *)buf, len, true);
}

void smmu_mark_code(struct smmu *m, uint64_t phys_page)
{
    if (phys_page >= m->npages || m->code_pages[phys_page])
        return;
    m->code_pages[phys_page] = 1;
    /* Paging off: the only linear alias is the identity one. With paging,
     * every write entry mapping this page must go (reverse map). */
    if (phys_page < SMMU_TLB_ENTRIES)
        m->tlb[SMMU_TLB_ENTRIES + phys_page] = 0;
}

void smmu_unmark_code(struct smmu *m, uint64_t phys_page)
{
    if (phys_page < m->npages)
        m->code_pages[phys_page] = 0;
}
