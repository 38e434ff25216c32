#!/usr/bin/env bash
# tests/guest/ioapictest.sh — runs the I/O APIC test guest
# (guests/ioapictest) on btvm (status 0) and on qemu-system-i386 -accel tcg
# when installed (status 1 = guest 0): every case must print
# "ioapictest: <name> ok", none may print FAIL, and the guest must end with
# "ioapictest: 0 failures".
#
# btvm gets the command line "strict", which adds the polarity case (QEMU's
# I/O APIC ignores the polarity bit). The guest needs the local APIC too:
# until btvm has one the guest says "ioapictest: no local APIC"
# (CPUID.1:EDX[9] clear) and the btvm run is skipped; once btvm claims an
# APIC every case must pass.
set -u
BTVM=${BTVM:-build/btvm}   # override to test another build
cd "$(dirname "$0")/../.."
ELF=build/guests/ioapictest.elf
TESTS="id_version rte_rw pit_edge rtc_edge kbd_edge mask level_rirr level_masked eoi_reg"
STRICT="polarity"
fail=0
[ -f "$ELF" ] || { echo "ioapictest: $ELF missing (run make guests)"; exit 1; }
err=$(mktemp); trap 'rm -f "$err"' EXIT

# check <engine> <status> <want-status> <output> <tests>
check() {
    local out bad=0 t
    out=$(printf '%s\n' "$4" | tr -d '\r')
    if [ "$2" -ne "$3" ]; then
        echo "ioapictest: $1 exited with status $2, want $3$( [ "$2" -eq 124 ] && echo ' (timeout)')"; bad=1
    fi
    for t in $5; do
        printf '%s\n' "$out" | grep -qx "ioapictest: $t ok" || { echo "ioapictest: $1: no 'ioapictest: $t ok'"; bad=1; }
    done
    if printf '%s\n' "$out" | grep -q '^ioapictest: .* FAIL\|^ioapictest: unexpected'; then
        printf '%s\n' "$out" | grep '^ioapictest: .* FAIL\|^ioapictest: unexpected' | sed "s/^/  $1: /" | head -40
        bad=1
    fi
    printf '%s\n' "$out" | grep -qx 'ioapictest: 0 failures' || { echo "ioapictest: $1: no 'ioapictest: 0 failures'"; bad=1; }
    if [ "$bad" -ne 0 ]; then
        head -20 "$err"; fail=1
    else
        echo "ioapictest: $1: all $(echo $5 | wc -w) cases ok"
    fi
}

out=$(timeout 60 "$BTVM" run -k "$ELF" -a strict </dev/null 2>"$err"); st=$?
if printf '%s\n' "$out" | tr -d '\r' | grep -q '^ioapictest: no local APIC'; then
    echo "ioapictest: btvm reports no local APIC (CPUID.1:EDX[9] = 0): btvm run skipped"
else
    check btvm "$st" 0 "$out" "$TESTS $STRICT"
fi

if command -v qemu-system-i386 >/dev/null; then
    out=$(timeout 60 qemu-system-i386 -accel tcg -kernel "$ELF" -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
          -display none -serial stdio -monitor none -no-reboot </dev/null 2>"$err"); st=$?
    check qemu "$st" 1 "$out" "$TESTS"
else
    echo "ioapictest: qemu-system-i386 not installed, reference run skipped"
fi
exit "$fail"
