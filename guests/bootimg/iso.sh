#!/usr/bin/env bash
# guests/bootimg/iso.sh — build/bootimg/linux.iso: a GRUB El Torito CD-ROM
# (grub-mkrescue for i386-pc: cdboot.img + core.img as the no-emulation
# boot image, GRUB's modules in /boot/grub/i386-pc) holding Debian's i386
# kernel and the project's initramfs, with lib.sh's grub.cfg. The image is
# also a hybrid (boot_hybrid.img in its MBR). No root, no loop device:
# grub-mkrescue hands a folder to xorriso. docs/guests.md.
cd "$(dirname "$0")/../.."
. guests/bootimg/lib.sh
need_tools grub-mkrescue xorriso
[ -f "$GRUB_DIR/cdboot.img" ] || die "$GRUB_DIR/cdboot.img missing (apt-get install grub-pc-bin)"
tmp=$(mktemp -d "$OUT/.iso.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
bootimg_stage_linux "$tmp/root"
bootimg_linux_cfg iso >"$tmp/root/boot/grub/grub.cfg"
grub-mkrescue -d "$GRUB_DIR" -o "$tmp/linux.iso" "$tmp/root" >"$tmp/log" 2>&1 ||
    { cat "$tmp/log" >&2; die "grub-mkrescue failed"; }
# Check what came out: an El Torito no-emulation BIOS boot image.
xorriso -indev "$tmp/linux.iso" -report_el_torito plain 2>/dev/null |
    grep -Eq 'El Torito boot img : +1 +BIOS +y +none' ||
    die "linux.iso has no El Torito no-emulation BIOS boot image"
mv -f "$tmp/linux.iso" "$OUT/linux.iso"
say "built $OUT/linux.iso"
