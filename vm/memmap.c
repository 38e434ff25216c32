/* vm/memmap.c — see vm/memmap.h. */
#include "vm/memmap.h"

#define MIB 0x100000u
#define LOW_RAM_END 0x9FC00u /* the EBDA's 1 KiB below 640 KiB, as on a PC */

unsigned vm_memmap(uint64_t ram_size, struct vm_mem_range out[VM_MEMMAP_MAX])
{
    out[0] = (struct vm_mem_range){ 0, LOW_RAM_END, VM_MEM_RAM };
    out[1] = (struct vm_mem_range){ LOW_RAM_END, 0xA0000, VM_MEM_RESERVED };
    out[2] = (struct vm_mem_range){ 0xF0000, MIB, VM_MEM_RESERVED };
    out[3] = (struct vm_mem_range){ MIB, ram_size, VM_MEM_RAM };
    return VM_MEMMAP_MAX;
}
