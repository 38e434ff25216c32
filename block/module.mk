# block/: the host side of disks (raw and qcow2 image files), below devices/
# in spirit: it includes nothing of the VMM. Devices see a disk through
# devices/blkdev.h.
BTVM_SRCS += block/blk.c block/file.c block/raw.c block/qcow2.c block/overlay.c
