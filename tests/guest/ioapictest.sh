#!/usr/bin/env bash
# tests/guest/ioapictest.sh — runs the I/O APIC test guest
# (guests/ioapictest) on btvm (status 0) and on qemu-system-i386 -accel tcg
# when installed (status 1 = guest 0): every case must print
# "ioapictest: <name> ok", none may print FAIL, and the guest must end with
# "ioapictest: 0 failures".
#
# btvm gets the command line "strict", which adds the polarity case (QEMU's
# I/O APIC ignores the polarity bit). The guest needs the local APIC too;
# "ioapictest: no local APIC" is a failure on either system.
set -u
BTVM=${BTVM:-build/btvm}   # override to test another build
cd "$(dirname "$0")/../.."
ELF=build/guests/ioapictest.elf
TESTS="id_version rte_rw pit_edge rtc_edge kbd_edge mask level_rirr level_masked eoi_reg"
STRICT="polarity"
fail=0
[ -f "$ELF" ] || { echo "ioapictest: $ELF missing (run make guests)"; exit 1; }
err=$(mktemp); trap 'rm -f "$err"' EXIT

. tests/guest/lib/suite.sh
SUITE=ioapictest
check() {
    if suite_check "$@"; then echo "ioapictest: $1: all $(echo $5 | wc -w) cases ok"; else fail=1; fi
}

out=$(timeout 60 "$BTVM" run -k "$ELF" -a strict </dev/null 2>"$err"); st=$?
check btvm "$st" 0 "$out" "$TESTS $STRICT"

if command -v qemu-system-i386 >/dev/null; then
    out=$(timeout 60 qemu-system-i386 -accel tcg -kernel "$ELF" -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
          -display none -serial stdio -monitor none -no-reboot </dev/null 2>"$err"); st=$?
    check qemu "$st" 1 "$out" "$TESTS"
else
    echo "ioapictest: qemu-system-i386 not installed, reference run skipped"
fi
exit "$fail"
