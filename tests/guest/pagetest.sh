#!/usr/bin/env bash
# tests/guest/pagetest.sh — runs the paging test guest (demand paging,
# protection, copy-on-write, TLB invalidation, A/D bits, PSE, PGE, 16
# address spaces, aliases, self-/cross-modifying code, a fault right
# after code translated shared, page-crossing
# faults, page-table writes through an alias, PAE and NX) on btvm (status
# 0) and on qemu-system-i386 when installed (status 1 = guest 0). Every
# test must print "pagetest: <name> ok"; none may FAIL or be skipped (PAE
# and NX included: QEMU gets a CPU model that has them, btvm advertises
# them). PAGETEST_QEMU_ONLY=1 skips the btvm run (to check the guest itself).
set -u
BTVM=${BTVM:-build/btvm}   # override to test another build
cd "$(dirname "$0")/../.."
ELF=build/guests/pagetest.elf
TESTS="enable demand protect cow ptemod accessed_dirty pse global as16 alias smc xmc shared_fault cross pt_write kview pae nx"
# qemu32 has PAE, PSE and PGE but no NX; +nx adds it (CPUID 0x80000001 EDX bit 20).
QEMU_CPU=${QEMU_CPU:-qemu32,+nx}
fail=0
[ -f "$ELF" ] || { echo "pagetest: $ELF missing (run make guests)"; exit 1; }
err=$(mktemp); trap 'rm -f "$err"' EXIT

# check <engine> <status> <want-status> <output>
check() {
    local out bad=0 t
    out=$(printf '%s\n' "$4" | tr -d '\r')
    if [ "$2" -ne "$3" ]; then
        echo "pagetest: $1 exited with status $2, want $3$( [ "$2" -eq 124 ] && echo ' (timeout)')"; bad=1
    fi
    for t in $TESTS; do
        printf '%s\n' "$out" | grep -qx "pagetest: $t ok" || { echo "pagetest: $1: no 'pagetest: $t ok'"; bad=1; }
    done
    if printf '%s\n' "$out" | grep -q '^pagetest: .* FAIL\|^pagetest: unexpected\|skipped'; then
        printf '%s\n' "$out" | grep '^pagetest: .* FAIL\|^pagetest: unexpected\|skipped' | sed "s/^/  $1: /" | head -40
        bad=1
    fi
    printf '%s\n' "$out" | grep -qx 'pagetest: 0 failures' || { echo "pagetest: $1: no 'pagetest: 0 failures'"; bad=1; }
    if [ "$bad" -ne 0 ]; then
        head -20 "$err"; fail=1
    else
        echo "pagetest: $1: all $(echo $TESTS | wc -w) tests ok"
    fi
}

if [ -z "${PAGETEST_QEMU_ONLY:-}" ]; then
    out=$(timeout 60 "$BTVM" run -k "$ELF" </dev/null 2>"$err"); st=$?
    check btvm "$st" 0 "$out"
fi

if command -v qemu-system-i386 >/dev/null; then
    out=$(timeout 60 qemu-system-i386 -cpu "$QEMU_CPU" -m 128 -kernel "$ELF" \
          -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
          -display none -serial stdio -monitor none -no-reboot </dev/null 2>"$err"); st=$?
    check "qemu ($QEMU_CPU)" "$st" 1 "$out"
else
    echo "pagetest: qemu-system-i386 not installed, reference run skipped"
fi
exit "$fail"
