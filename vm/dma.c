/*
 * vm/dma.c — devices/dma.h over guest RAM: a device's bus-master or fw_cfg
 * DMA reaches RAM only inside [0, ram_size), and a write tells the engine
 * (vm_engine_ops.ram_written), which drops translations and shadow entries
 * derived from the bytes, as a CPU store would.
 */
#include "vm/dma.h"

#include <errno.h>
#include <string.h>

static int dma_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    struct vm *vm = ctx;
    uint8_t *p = vm_ram_ptr(vm, gpa, len);
    if (!p)
        return -EFAULT;
    memcpy(buf, p, len);
    return 0;
}

static int dma_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
    struct vm *vm = ctx;
    uint8_t *p = vm_ram_ptr(vm, gpa, len);
    if (!p)
        return -EFAULT;
    memcpy(p, buf, len);
    if (len && vm->engine && vm->engine->ram_written && vm->cpu)
        vm->engine->ram_written(vm, gpa, len);
    return 0;
}

static void *dma_map(void *ctx, uint64_t gpa, size_t len)
{
    return vm_ram_ptr(ctx, gpa, len);
}

static void dma_written(void *ctx, uint64_t gpa, size_t len)
{
    struct vm *vm = ctx;
    if (len && vm->engine && vm->engine->ram_written && vm->cpu)
        vm->engine->ram_written(vm, gpa, len);
}

struct dev_dma vm_dma(struct vm *vm)
{
    return (struct dev_dma){ .read = dma_read, .write = dma_write, .ctx = vm,
                             .map = dma_map, .written = dma_written };
}
