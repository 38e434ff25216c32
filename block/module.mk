# block/: the host side of disks (raw image files), below devices/ in spirit:
# it includes nothing of the VMM. Devices see a disk through devices/blkdev.h.
BTVM_SRCS += block/blk.c
