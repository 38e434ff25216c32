#!/usr/bin/env bash
# tests/guest/kbdtest.sh — runs the keyboard-controller test guest
# (guests/kbdtest) on btvm (status 0) and on qemu-system-i386 (status 1 =
# guest 0): every case must print "kbdtest: <name> ok", none FAIL.
set -u
BTVM=${BTVM:-build/btvm}   # override to test another build
cd "$(dirname "$0")/../.."
ELF=build/guests/kbdtest.elf
TESTS="selftest cmdbyte obuf keyboard mouse"
fail=0
[ -f "$ELF" ] || { echo "kbdtest: $ELF missing (run make guests)"; exit 1; }
err=$(mktemp); trap 'rm -f "$err"' EXIT

. tests/guest/lib/suite.sh
SUITE=kbdtest
check() {
    if suite_check "$@" "$TESTS"; then echo "kbdtest: $1: all $(echo $TESTS | wc -w) cases ok"; else fail=1; fi
}

out=$(timeout 60 "$BTVM" run -k "$ELF" -m 32 </dev/null 2>"$err"); st=$?
check btvm "$st" 0 "$out"

if command -v qemu-system-i386 >/dev/null; then
    out=$(timeout 60 qemu-system-i386 -accel tcg -m 32 -kernel "$ELF" \
          -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
          -display none -serial stdio -monitor none -no-reboot </dev/null 2>"$err"); st=$?
    check qemu "$st" 1 "$out"
else
    echo "kbdtest: qemu-system-i386 not installed, reference run skipped"
fi
exit "$fail"
