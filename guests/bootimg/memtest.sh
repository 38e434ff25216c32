#!/usr/bin/env bash
# guests/bootimg/memtest.sh — memtest86+ from Debian's memtest86+ package:
#   build/bootimg/memtest86+ia32.iso  the package's own BIOS ISO, copied
#       unchanged (El Torito in 1.44 MB floppy emulation: its boot sector
#       loads memtest, which uses the 80x25 text screen; no serial output)
#   build/bootimg/memtest-serial.iso  GRUB (grub-mkrescue) booting the
#       package's memtest86+ia32.bin with linux16 and
#       `console=ttyS0,115200 nopause`: the same program drawing its screen
#       on COM1 as well, for checks without a display
# docs/guests.md.
cd "$(dirname "$0")/../.."
. guests/bootimg/lib.sh
need_tools grub-mkrescue xorriso
MT_ISO=${MEMTEST_ISO:-/usr/lib/memtest86+/memtest86+ia32.iso}
MT_BIN=${MEMTEST_BIN:-/boot/memtest86+ia32.bin}
for f in "$MT_ISO" "$MT_BIN"; do
    [ -f "$f" ] || die "$f missing (apt-get install memtest86+)"
done
tmp=$(mktemp -d "$OUT/.memtest.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cp "$MT_ISO" "$tmp/memtest86+ia32.iso"
mkdir -p "$tmp/root/boot/grub"
cp "$MT_BIN" "$tmp/root/boot/memtest86+ia32.bin"
{
    bootimg_grub_serial
    cat <<'CFG'
set timeout=0
set default=0
menuentry "memtest86+ (serial console)" {
    linux16 /boot/memtest86+ia32.bin console=ttyS0,115200 nopause
}
CFG
} >"$tmp/root/boot/grub/grub.cfg"
grub-mkrescue -d "$GRUB_DIR" -o "$tmp/memtest-serial.iso" "$tmp/root" >"$tmp/log" 2>&1 ||
    { cat "$tmp/log" >&2; die "grub-mkrescue failed"; }
mv -f "$tmp/memtest86+ia32.iso" "$OUT/memtest86+ia32.iso"
mv -f "$tmp/memtest-serial.iso" "$OUT/memtest-serial.iso"
say "built $OUT/memtest86+ia32.iso and $OUT/memtest-serial.iso"
