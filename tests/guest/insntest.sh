#!/usr/bin/env bash
# tests/guest/insntest.sh — runs the self-checking ISA test guest on btvm
# (status 0, "0 failures") and on qemu-system-i386 when installed (status
# 1, "0 failures"): passing on QEMU shows the test checks real x86, not btvm.
set -u
BTVM=${BTVM:-build/btvm}   # override to test another build
cd "$(dirname "$0")/../.."
ELF=build/guests/insntest.elf
fail=0
[ -f "$ELF" ] || { echo "insntest: $ELF missing (run make guests)"; exit 1; }
err=$(mktemp); trap 'rm -f "$err"' EXIT

# check <engine> <status> <want-status> <output>
check() {
    local summary
    summary=$(printf '%s\n' "$4" | tr -d '\r' | grep -E '^insntest: [0-9]+ cases, [0-9]+ failures$' | tail -1)
    if [ "$2" -ne "$3" ]; then
        echo "insntest: $1 exited with status $2, want $3"; fail=1
    fi
    if ! printf '%s\n' "$summary" | grep -qE ' [0-9]+ cases, 0 failures$'; then
        echo "insntest: $1 summary is \"${summary:-missing}\"; failing cases:"
        printf '%s\n' "$4" | tr -d '\r' | grep -E '^FAIL' | head -50
        head -20 "$err"; fail=1
    else
        echo "insntest: $1: $summary"
    fi
}

out=$(timeout 120 "$BTVM" run -k "$ELF" </dev/null 2>"$err"); st=$?
check btvm "$st" 0 "$out"

if command -v qemu-system-i386 >/dev/null; then
    out=$(timeout 120 qemu-system-i386 -kernel "$ELF" -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
          -display none -serial stdio -monitor none -no-reboot </dev/null 2>"$err"); st=$?
    check qemu "$st" 1 "$out"
else
    echo "insntest: qemu-system-i386 not installed, reference run skipped"
fi
exit "$fail"
