#!/usr/bin/env bash
# tests/guest/apictest.sh — runs the local APIC test guest (guests/apictest)
# on btvm (status 0) and on qemu-system-i386 -accel tcg when installed
# (status 1 = guest 0): every case must print "apictest: <name> ok", none
# may print FAIL, and the guest must end with "apictest: 0 failures".
#
# btvm gets the command line "strict", which adds the cases QEMU's TCG APIC
# does not model (software-disable masking the LVT, ESR latching and the
# illegal-vector bits, the error LVT) and TSC-deadline mode (QEMU TCG has
# no CPUID.1:ECX[24], so the guest skips it there). A guest that finds no
# local APIC says "apictest: no local APIC": a failure on either system.
set -u
BTVM=${BTVM:-build/btvm}   # override to test another build
cd "$(dirname "$0")/../.."
ELF=build/guests/apictest.elf
TESTS="boot_state id_version svr tpr ppr nested isr_irr eoi self_ipi esr timer_oneshot timer_periodic
       timer_rate timer_divide lint0_extint"
STRICT="svr_disable esr_clear esr_vector error_lvt tsc_deadline"
fail=0
[ -f "$ELF" ] || { echo "apictest: $ELF missing (run make guests)"; exit 1; }
err=$(mktemp); trap 'rm -f "$err"' EXIT

. tests/guest/lib/suite.sh
SUITE=apictest
check() {
    if suite_check "$@"; then echo "apictest: $1: all $(echo $5 | wc -w) cases ok"; else fail=1; fi
}

out=$(timeout 60 "$BTVM" run -k "$ELF" -a strict </dev/null 2>"$err"); st=$?
check btvm "$st" 0 "$out" "$TESTS $STRICT"

if command -v qemu-system-i386 >/dev/null; then
    out=$(timeout 60 qemu-system-i386 -accel tcg -kernel "$ELF" -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
          -display none -serial stdio -monitor none -no-reboot </dev/null 2>"$err"); st=$?
    check qemu "$st" 1 "$out" "$TESTS"
else
    echo "apictest: qemu-system-i386 not installed, reference run skipped"
fi
exit "$fail"
