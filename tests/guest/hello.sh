#!/usr/bin/env bash
# tests/guest/hello.sh — boots guests/hello on btvm (status 0 + greeting on
# the serial console) and, when installed, on qemu-system-i386 (greeting +
# status 1, QEMU's encoding of a debug-exit write of 0).
set -u
BTVM=${BTVM:-build/btvm}   # override to test another build
cd "$(dirname "$0")/../.."
ELF=build/guests/hello.elf
GREETING="Hello from btvm guest!"
fail=0
[ -f "$ELF" ] || { echo "hello: $ELF missing (run make guests)"; exit 1; }
err=$(mktemp); trap 'rm -f "$err"' EXIT

out=$(timeout 30 "$BTVM" run -k "$ELF" </dev/null 2>"$err"); st=$?
if [ "$st" -ne 0 ]; then
    echo "hello: btvm exited with status $st, want 0"; head -20 "$err"; fail=1
fi
if ! printf '%s\n' "$out" | tr -d '\r' | grep -qxF "$GREETING"; then
    echo "hello: btvm output lacks \"$GREETING\"; got:"; printf '%s\n' "$out" | head -20; fail=1
fi

if command -v qemu-system-i386 >/dev/null; then
    out=$(timeout 60 qemu-system-i386 -kernel "$ELF" -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
          -display none -serial stdio -monitor none -no-reboot </dev/null 2>"$err"); st=$?
    if [ "$st" -ne 1 ]; then
        echo "hello: qemu exited with status $st, want 1"; head -20 "$err"; fail=1
    fi
    if ! printf '%s\n' "$out" | tr -d '\r' | grep -qxF "$GREETING"; then
        echo "hello: qemu output lacks \"$GREETING\"; got:"; printf '%s\n' "$out" | head -20; fail=1
    fi
else
    echo "hello: qemu-system-i386 not installed, reference run skipped"
fi
[ "$fail" -eq 0 ] && echo "hello: ok"
exit "$fail"
