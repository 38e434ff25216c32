#!/usr/bin/env bash
# tests/guest/fwcfgtest.sh — runs the fw_cfg test guest (guests/fwcfgtest)
# with -m 64 on btvm (status 0) and on qemu-system-i386 (status 1 = guest
# 0): every case must print "fwcfgtest: <name> ok", none FAIL; "fwcfgtest:
# no fw_cfg" (no signature at 0x510/0x511) is a failure on either system.
set -u
BTVM=${BTVM:-build/btvm}   # override to test another build
cd "$(dirname "$0")/../.."
ELF=build/guests/fwcfgtest.elf
MEM=64
TESTS="signature id cpus ram_size file_dir e820_pio e820_dma dma_error missing_key"
fail=0
[ -f "$ELF" ] || { echo "fwcfgtest: $ELF missing (run make guests)"; exit 1; }
err=$(mktemp); trap 'rm -f "$err"' EXIT

. tests/guest/lib/suite.sh
SUITE=fwcfgtest
check() {
    if suite_check "$@" "$TESTS"; then echo "fwcfgtest: $1: all $(echo $TESTS | wc -w) cases ok"; else fail=1; fi
}

out=$(timeout 60 "$BTVM" run -k "$ELF" -m "$MEM" -a "mem=$MEM" </dev/null 2>"$err"); st=$?
check btvm "$st" 0 "$out"

if command -v qemu-system-i386 >/dev/null; then
    out=$(timeout 60 qemu-system-i386 -accel tcg -m "$MEM" -kernel "$ELF" -append "mem=$MEM" \
          -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
          -display none -serial stdio -monitor none -no-reboot </dev/null 2>"$err"); st=$?
    check qemu "$st" 1 "$out"
else
    echo "fwcfgtest: qemu-system-i386 not installed, reference run skipped"
fi
exit "$fail"
