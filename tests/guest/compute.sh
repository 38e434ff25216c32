#!/usr/bin/env bash
# tests/guest/compute.sh — runs the compute benchmark guest on btvm and
# checks its final checksum against compute-native (the same C code built
# for the host) and its exit status (0).
set -u
BTVM=${BTVM:-build/btvm}   # override to test another build
cd "$(dirname "$0")/../.."
ELF=build/guests/compute.elf
NATIVE=build/guests/compute-native
for f in "$ELF" "$NATIVE"; do
    [ -f "$f" ] || { echo "compute: $f missing (run make guests)"; exit 1; }
done
err=$(mktemp); trap 'rm -f "$err"' EXIT
fail=0

want=$("$NATIVE" | grep -E '^compute checksum: [0-9a-f]{8}$')
if [ -z "$want" ]; then
    echo "compute: compute-native printed no checksum"; exit 1
fi

out=$(timeout 600 "$BTVM" run -k "$ELF" </dev/null 2>"$err"); st=$?
got=$(printf '%s\n' "$out" | tr -d '\r' | grep -E '^compute checksum: ' | tail -1)
if [ "$st" -ne 0 ]; then
    echo "compute: btvm exited with status $st, want 0"; head -20 "$err"; fail=1
fi
if [ "$got" != "$want" ]; then
    echo "compute: btvm printed \"${got:-no checksum}\", native \"$want\"; btvm output:"
    printf '%s\n' "$out" | tr -d '\r' | head -20; fail=1
fi
[ "$fail" -eq 0 ] && echo "compute: ok ($want)"
exit "$fail"
