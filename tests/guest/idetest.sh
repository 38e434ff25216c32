#!/usr/bin/env bash
# tests/guest/idetest.sh — runs the IDE test guest (guests/idetest: PIIX3
# IDE at 00:01.1, an ATA disk on the primary master, an ATAPI CD-ROM on the
# secondary master) on btvm (status 0) and on qemu-system-i386 (status 1 =
# guest 0). Each run gets a fresh sparse scratch disk of 2^28 + 64 sectors
# (build/guests/idetest-img: pattern.h's pattern, LBA48 reads and writes
# beyond 2^28 are real) and the ISO made here with HELLO.TXT in it; every
# case must print "idetest: <name> ok", none FAIL, and afterwards the host
# file must hold exactly the guest's writes (idetest-img check).
set -u
BTVM=${BTVM:-build/btvm}   # override to test another build
cd "$(dirname "$0")/../.."
ELF=build/guests/idetest.elf
IMG=build/guests/idetest-img
TESTS="pci reset identify pio_read pio_write irq14 multiple pio32 lba48 dma_read dma_write dma_lba48
       range_error flush atapi_signature atapi_identify atapi_tur atapi_inquiry atapi_capacity atapi_toc
       atapi_read_pvd atapi_read_file atapi_dma atapi_sense"
fail=0
[ -f "$ELF" ] && [ -x "$IMG" ] || { echo "idetest: $ELF or $IMG missing (run make guests)"; exit 1; }
command -v xorriso >/dev/null || { echo "idetest: xorriso missing (scripts/deps.sh installs it)"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
err=$tmp/stderr

# The CD: HELLO.TXT (idetest-img cdfile) in a plain ISO 9660 volume IDETEST.
mkdir "$tmp/cd" && "$IMG" cdfile >"$tmp/cd/HELLO.TXT" || exit 1
xorriso -as mkisofs -quiet -V IDETEST -o "$tmp/cd.iso" "$tmp/cd" 2>"$err" ||
    { echo "idetest: xorriso failed"; cat "$err"; exit 1; }
iso_blocks=$(( $(stat -c %s "$tmp/cd.iso") / 2048 ))
DISK=$tmp/disk.img
APPEND="disk=$("$IMG" sectors) iso=$iso_blocks"

. tests/guest/lib/suite.sh
SUITE=idetest
# check <system> <status> <want-status> <output>: the cases, then the host image.
check() {
    local bad=0
    suite_check "$1" "$2" "$3" "$4" "$TESTS" || bad=1
    "$IMG" check "$DISK" | sed "s/^/  $1: /" | grep -v 'host image ok' ; [ "${PIPESTATUS[0]}" -eq 0 ] || bad=1
    if [ "$bad" -ne 0 ]; then
        fail=1
    else
        echo "idetest: $1: all $(echo $TESTS | wc -w) tests ok, host image holds the guest's writes"
    fi
}

if [ ! -x "$BTVM" ]; then
    echo "idetest: $BTVM missing (run make)"; fail=1
else
    "$IMG" disk "$DISK" || exit 1
    out=$(timeout 60 "$BTVM" run -k "$ELF" -a "$APPEND" -hda "$DISK" -cdrom "$tmp/cd.iso" </dev/null 2>"$err"); st=$?
    check btvm "$st" 0 "$out"
fi

# The reference run: QEMU's ATAPI signature after SRST has read 0 once in
# many runs on a loaded host (session 12, QEMU 7.2); one retry keeps a
# reference-side flake from failing the suite (btvm's run gets none).
qemu_run() {
    "$IMG" disk "$DISK" || exit 1
    out=$(timeout 60 qemu-system-i386 -accel tcg -kernel "$ELF" -append "$APPEND" \
          -drive "file=$DISK,format=raw,if=ide,index=0,media=disk" \
          -drive "file=$tmp/cd.iso,format=raw,if=ide,index=2,media=cdrom,readonly=on" \
          -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
          -display none -serial stdio -monitor none -no-reboot </dev/null 2>"$err"); st=$?
}
if command -v qemu-system-i386 >/dev/null; then
    qemu_run
    if [ "$st" -ne 1 ]; then
        echo "idetest: qemu: status $st, retrying the reference run once"
        qemu_run
    fi
    check qemu "$st" 1 "$out"
else
    echo "idetest: qemu-system-i386 not installed, reference run skipped"
fi
exit "$fail"
