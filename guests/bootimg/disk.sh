#!/usr/bin/env bash
# guests/bootimg/disk.sh — build/bootimg/linux-disk.img: a raw hard disk
# that boots from its MBR, made without root, mounts or loop devices:
#   sector 0        GRUB's boot.img (its first 440 bytes: the code; the
#                   disk signature and partition table stay sfdisk's)
#   sectors 1..     core.img (grub-mkimage -O i386-pc: diskboot.img, the
#                   kernel and the modules to read the partition) in the
#                   gap before the first partition. boot.img loads sector
#                   1 and diskboot.img the sectors after it: both default
#                   to exactly this layout, so nothing needs patching
#   partition 1     from 1 MiB, type 83, active: an ext2 file system
#                   made by `mke2fs -d` from a folder (kernel, initramfs,
#                   grub.cfg, GRUB's modules) and copied in with dd
# The partition table is written by sfdisk on the image file. Checked
# afterwards: sfdisk's view of the table and `e2fsck -fn` of the file
# system. docs/guests.md.
cd "$(dirname "$0")/../.."
. guests/bootimg/lib.sh
need_tools grub-mkimage sfdisk mke2fs e2fsck
for f in boot.img diskboot.img kernel.img moddep.lst; do
    [ -f "$GRUB_DIR/$f" ] || die "$GRUB_DIR/$f missing (apt-get install grub-pc-bin)"
done
PART_START=2048            # sectors: 1 MiB, the usual alignment
PART_MIB=${BOOTIMG_DISK_PART_MIB:-32}
tmp=$(mktemp -d "$OUT/.disk.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The file system's contents.
root=$tmp/root
bootimg_stage_linux "$root"
bootimg_linux_cfg disk >"$root/boot/grub/grub.cfg"
mkdir -p "$root/boot/grub/i386-pc"
cp "$GRUB_DIR"/*.mod "$GRUB_DIR"/*.lst "$root/boot/grub/i386-pc/"
mke2fs -q -F -t ext2 -L BTVMBOOT -d "$root" "$tmp/part.img" "${PART_MIB}M" >"$tmp/log" 2>&1 ||
    { cat "$tmp/log" >&2; die "mke2fs failed"; }
e2fsck -fn "$tmp/part.img" >"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; die "e2fsck found errors"; }

# core.img: only what it takes to reach $prefix; normal.mod and the rest
# come from the partition. (hd0) is the BIOS's first hard disk, 0x80.
grub-mkimage -d "$GRUB_DIR" -O i386-pc -p '(hd0,msdos1)/boot/grub' -o "$tmp/core.img" \
    biosdisk part_msdos ext2 ||
    die "grub-mkimage failed"
core_sectors=$(( ($(stat -c %s "$tmp/core.img") + 511) / 512 ))
[ "$core_sectors" -lt "$PART_START" ] ||
    die "core.img ($core_sectors sectors) does not fit before sector $PART_START"

img=$tmp/disk.img
truncate -s $(( PART_START * 512 + PART_MIB * 1048576 )) "$img"
# A fixed disk identifier keeps the image the same from build to build.
printf 'label: dos\nlabel-id: 0x6274766d\nstart=%d, size=%d, type=83, bootable\n' \
    "$PART_START" $(( PART_MIB * 2048 )) | sfdisk -q "$img" >"$tmp/log" 2>&1 ||
    { cat "$tmp/log" >&2; die "sfdisk failed"; }
dd if="$GRUB_DIR/boot.img" of="$img" bs=440 count=1 conv=notrunc status=none
dd if="$tmp/core.img" of="$img" bs=512 seek=1 conv=notrunc status=none
dd if="$tmp/part.img" of="$img" bs=1M seek=$(( PART_START / 2048 )) conv=notrunc status=none

# Check the result as a reader would see it.
sfdisk -d "$img" 2>/dev/null | grep -Eq "start= *$PART_START, size= *$(( PART_MIB * 2048 )), type=83, bootable" ||
    die "the partition table is not what was written: $(sfdisk -d "$img" 2>&1)"
[ "$(od -An -tx1 -j510 -N2 "$img" | tr -d ' ')" = 55aa ] || die "no boot signature in sector 0"
cmp -s -n 440 "$img" "$GRUB_DIR/boot.img" || die "sector 0 does not hold boot.img"
dd if="$img" of="$tmp/check.img" bs=1M skip=$(( PART_START / 2048 )) status=none
e2fsck -fn "$tmp/check.img" >"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; die "e2fsck of partition 1 found errors"; }
mv -f "$img" "$OUT/linux-disk.img"
say "built $OUT/linux-disk.img (core.img: $core_sectors sectors, partition 1: ext2, $PART_MIB MiB)"
