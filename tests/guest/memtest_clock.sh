#!/usr/bin/env bash
# tests/guest/memtest_clock.sh — memtest86+ (Debian's memtest86+ia32.bin,
# loaded with -kernel, serial console) keeps time on btvm: its elapsed-time
# clock must advance at the wall clock's rate (within 12% over ~15 s; its
# one-second resolution is most of that). memtest86+ calibrates the TSC
# against the ACPI PM timer in a loop capped at a million reads, which it
# expects to last at least 50 ms; when btvm read the PM timer in ~30 ns the
# cap ended the loop early and memtest's clock ran 1.35x fast
# (devices/acpi_pm.c spaces the reads now). QEMU TCG gets 0.98-1.0 here.
set -u
BTVM=${BTVM:-build/btvm}
cd "$(dirname "$0")/../.."
MT=${MEMTEST_BIN:-/boot/memtest86+ia32.bin}
[ -f "$MT" ] || { echo "memtest_clock: $MT missing (scripts/deps.sh installs memtest86+)"; exit 1; }
python3 tests/tools/clockwatch.py 20 0.88 1.12 -- \
    "$BTVM" run -q --engine bt -m 256 -k "$MT" -a "console=ttyS0,115200" || {
    echo "memtest_clock: FAIL"; exit 1; }
echo "memtest_clock: ok"
