#!/usr/bin/env bash
# tests/guest/insntest.sh — runs the self-checking ISA test guest on btvm
# (status 0, "0 failures") and on qemu-system-i386 -cpu core2duo, the model
# btvm's CPUID imitates (docs/cpuid.md), when installed (status 1, "0
# failures"): passing on QEMU shows the test checks real x86, not btvm.
# Counts are checked too, so cases cannot vanish silently: the guest's table
# must hold IST_EXPECTED_COUNT cases (generated on the host from cases.h),
# every one must run (a case skipped for a CPUID feature fails unless QEMU's
# model lacks the same feature — tests/guest/cpuid.sh compares the two
# CPUIDs), and btvm's case total must equal QEMU's.
set -u
BTVM=${BTVM:-build/btvm}   # override to test another build
cd "$(dirname "$0")/../.."
ELF=build/guests/insntest.elf
HDR=build/guests/insntest_expected.h
fail=0
[ -f "$ELF" ] || { echo "insntest: $ELF missing (run make guests)"; exit 1; }
host_count=$(sed -nE 's/^#define IST_EXPECTED_COUNT ([0-9]+)$/\1/p' "$HDR")
[ -n "$host_count" ] || { echo "insntest: no IST_EXPECTED_COUNT in $HDR"; exit 1; }
err=$(mktemp); trap 'rm -f "$err"' EXIT

# check <engine> <status> <want-status> <output>; sets total, skipline.
check() {
    local out summary
    out=$(printf '%s\n' "$4" | tr -d '\r')
    summary=$(printf '%s\n' "$out" | grep -E '^insntest: [0-9]+ cases, [0-9]+ failures$' | tail -1)
    skipline=$(printf '%s\n' "$out" | grep -E '^insntest: table [0-9]+, run ' | tail -1)
    total=$(printf '%s\n' "$summary" | sed -nE 's/^insntest: ([0-9]+) cases.*/\1/p')
    if [ "$2" -ne "$3" ]; then
        echo "insntest: $1 exited with status $2, want $3"; fail=1
    fi
    if ! printf '%s\n' "$summary" | grep -qE ' [0-9]+ cases, 0 failures$'; then
        echo "insntest: $1 summary is \"${summary:-missing}\"; failing cases:"
        printf '%s\n' "$out" | grep -E '^FAIL' | head -50
        head -20 "$err"; fail=1
    else
        echo "insntest: $1: $summary"
    fi
    if ! printf '%s\n' "$skipline" | grep -qE "^insntest: table $host_count, run "; then
        echo "insntest: $1 table line is \"${skipline:-missing}\", want $host_count cases (host generator)"
        fail=1
    fi
}

out=$(timeout 120 "$BTVM" run -k "$ELF" </dev/null 2>"$err"); st=$?
check btvm "$st" 0 "$out"
btvm_total=$total btvm_skip=$skipline

if command -v qemu-system-i386 >/dev/null; then
    out=$(timeout 120 qemu-system-i386 -cpu core2duo -kernel "$ELF" \
          -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
          -display none -serial stdio -monitor none -no-reboot </dev/null 2>"$err"); st=$?
    check qemu "$st" 1 "$out"
    if [ "$btvm_skip" != "$skipline" ]; then
        echo "insntest: btvm ran \"$btvm_skip\" but QEMU -cpu core2duo \"$skipline\""; fail=1
    fi
    if [ "$btvm_total" != "$total" ]; then
        echo "insntest: btvm ran ${btvm_total:-no} cases, QEMU ${total:-no}"; fail=1
    fi
elif ! printf '%s\n' "$btvm_skip" | grep -qE ', skipped 0 '; then
    # Without the reference, btvm's documented model (docs/cpuid.md) has every feature.
    echo "insntest: btvm skipped cases: \"$btvm_skip\""; fail=1
else
    echo "insntest: qemu-system-i386 not installed, reference run skipped"
fi
exit "$fail"
