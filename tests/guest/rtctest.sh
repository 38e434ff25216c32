#!/usr/bin/env bash
# tests/guest/rtctest.sh — the date and time a guest reads from the CMOS
# clock (guests/rtctest) against the host's wall clock (date -u), on btvm
# and on qemu-system-i386 when installed (-rtc base=utc, btvm's default):
# they must agree within a few seconds.
set -u
BTVM=${BTVM:-build/btvm}   # override to test another build
cd "$(dirname "$0")/../.."
ELF=build/guests/rtctest.elf
SLACK=5                    # seconds: boot time and the RTC's 1 s resolution
fail=0
[ -f "$ELF" ] || { echo "rtctest: $ELF missing (run make guests)"; exit 1; }
err=$(mktemp); trap 'rm -f "$err"' EXIT

# check <engine> <status> <want-status> <output> <host-seconds-before>
check() {
    local line when got after
    after=$(date -u +%s)
    line=$(printf '%s\n' "$4" | tr -d '\r' | grep -E '^rtctest: [0-9]{4}-' | tail -1)
    when=$(printf '%s\n' "$line" | sed -nE 's/^rtctest: ([0-9-]+ [0-9:]+) .*/\1/p')
    got=$(date -u -d "$when" +%s 2>/dev/null)
    if [ "$2" -ne "$3" ] || [ -z "$got" ]; then
        echo "rtctest: $1 exited with status $2 (want $3), line \"${line:-missing}\""; head -5 "$err"; fail=1
    elif (( got < $5 - SLACK || got > after + SLACK )); then
        echo "rtctest: $1 reads $when UTC, the host clock says $(date -u -d @"$after" '+%F %T') UTC"; fail=1
    else
        echo "rtctest: $1 reads $when UTC, host $(date -u -d @"$after" '+%F %T'): within ${SLACK}s"
    fi
}

t0=$(date -u +%s)
out=$(timeout 30 "$BTVM" run -k "$ELF" </dev/null 2>"$err"); st=$?
check btvm "$st" 0 "$out" "$t0"

if command -v qemu-system-i386 >/dev/null; then
    t0=$(date -u +%s)
    out=$(timeout 30 qemu-system-i386 -rtc base=utc -kernel "$ELF" -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
          -display none -serial stdio -monitor none -no-reboot </dev/null 2>"$err"); st=$?
    check qemu "$st" 1 "$out" "$t0"
else
    echo "rtctest: qemu-system-i386 not installed, reference run skipped"
fi
exit "$fail"
