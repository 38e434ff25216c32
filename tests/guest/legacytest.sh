#!/usr/bin/env bash
# tests/guest/legacytest.sh — DAA DAS AAA AAS AAM AAD XLAT SALC ARPL over
# every input (guests/legacytest), on btvm and on qemu-system-i386 when
# installed, both checked against the host CPU's block digests
# (build/guests/legacytest-gen, built -m32: the host is real hardware). On
# a mismatch the guest dumps the first differing block and this script
# diffs it against the host's dump to name the first differing input.
set -u
BTVM=${BTVM:-build/btvm}   # override to test another build
cd "$(dirname "$0")/../.."
ELF=build/guests/legacytest.elf
GEN=build/guests/legacytest-gen
fail=0
for f in "$ELF" "$GEN"; do [ -f "$f" ] || { echo "legacytest: $f missing (run make guests)"; exit 1; }; done
err=$(mktemp); trap 'rm -f "$err"' EXIT

# check <engine> <status> <want-status> <output>
check() {
    local out summary op block
    out=$(printf '%s\n' "$4" | tr -d '\r')
    summary=$(printf '%s\n' "$out" | grep -E '^legacytest: [0-9]+ inputs, [0-9]+ ops differ$' | tail -1)
    if [ "$2" -ne "$3" ] || [ "$summary" != "legacytest: 2621440 inputs, 0 ops differ" ]; then
        echo "legacytest: $1 exited with status $2 (want $3), summary \"${summary:-missing}\""
        printf '%s\n' "$out" | grep -E '^FAIL .* blocks differ$'
        # The first differing input of each failing op, host vs guest.
        printf '%s\n' "$out" | sed -nE 's/^FAIL ([a-z_]+): block ([0-9]+) differs.*/\1 \2/p' |
        while read -r op block; do
            diff <("$GEN" "$op" "$block") <(printf '%s\n' "$out" | grep -E "^LT $op ") |
                grep -E '^[<>]' | head -2 | sed "s/^</  host:/; s/^>/  $1:/"
        done
        head -5 "$err"; fail=1
    else
        echo "legacytest: $1: $summary"
    fi
}

out=$(timeout 60 "$BTVM" run -k "$ELF" </dev/null 2>"$err"); st=$?
check btvm "$st" 0 "$out"

if command -v qemu-system-i386 >/dev/null; then
    out=$(timeout 60 qemu-system-i386 -kernel "$ELF" -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
          -display none -serial stdio -monitor none -no-reboot </dev/null 2>"$err"); st=$?
    check qemu "$st" 1 "$out"
else
    echo "legacytest: qemu-system-i386 not installed, reference run skipped"
fi
exit "$fail"
