#!/usr/bin/env bash
# tests/guest/realtest.sh — runs the real-mode / v8086 test guest
# (guests/realtest) on btvm (status 0) and on qemu-system-i386 -accel tcg
# when installed (status 1 = guest 0), with the same expectations: every
# case must print "realtest: <name> ok", none may print FAIL, and the guest
# must end with "realtest: 0 failures".
set -u
BTVM=${BTVM:-build/btvm}   # override to test another build
cd "$(dirname "$0")/../.."
ELF=build/guests/realtest.elf
TESTS="enter arith wrap far ivt_int ivt_exceptions ivt_irq smc big_real mode_switch v86_iopl0 v86_iopl3"
fail=0
[ -f "$ELF" ] || { echo "realtest: $ELF missing (run make guests)"; exit 1; }
err=$(mktemp); trap 'rm -f "$err"' EXIT

. tests/guest/lib/suite.sh
SUITE=realtest
check() {
    if suite_check "$@"; then echo "realtest: $1: all $(echo $5 | wc -w) cases ok"; else fail=1; fi
}

out=$(timeout 60 "$BTVM" run -k "$ELF" </dev/null 2>"$err"); st=$?
check btvm "$st" 0 "$out" "$TESTS"

# Real-mode segment limits (a word at DS:FFFF is #GP, a big-real-mode FS
# is not): QEMU's TCG checks no data-segment limits, so btvm only.
out=$(timeout 60 "$BTVM" run -k "$ELF" -a limits </dev/null 2>"$err"); st=$?
check "btvm (limits)" "$st" 0 "$out" "$TESTS real_limit"

if command -v qemu-system-i386 >/dev/null; then
    out=$(timeout 60 qemu-system-i386 -accel tcg -kernel "$ELF" -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
          -display none -serial stdio -monitor none -no-reboot </dev/null 2>"$err"); st=$?
    check qemu "$st" 1 "$out" "$TESTS"
else
    echo "realtest: qemu-system-i386 not installed, reference run skipped"
fi
exit "$fail"
