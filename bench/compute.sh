#!/usr/bin/env bash
# bench/compute.sh — the "compute" workload: one CPU-bound guest
# (build/guests/compute.elf, checksum printed on COM1, exit via
# isa-debug-exit) on btvm's BT engine and QEMU TCG, against the same C
# built for the host. Writes $BENCH_OUT/compute.csv and prints ratios.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

BUILD=${BUILD:-build}
BTVM=${BTVM:-$BUILD/btvm}
QEMU=${QEMU:-qemu-system-i386}
ELF=$BUILD/guests/compute.elf
NATIVE=$BUILD/guests/compute-native
csv=$BENCH_OUT/compute.csv

bench_csv_begin "$csv" '^compute checksum: [0-9A-Fa-f]{8}$'
for f in "$ELF" "$NATIVE" "$BTVM"; do
    [ -e "$f" ] || bench_die "$f is missing (run 'make all' first)"
done
# Native first: its checksum is the reference every engine must match.
bench_csv_row compute native 0 "$NATIVE"
bench_csv_row compute btvm-bt 0 "$BTVM" run -q --engine bt -k "$ELF"
bench_kvm_usable && bench_csv_row compute btvm-kvm 0 "$BTVM" run -q --engine kvm -k "$ELF"
if command -v "$QEMU" >/dev/null 2>&1; then
    # isa-debug-exit turns the guest's write of 0 into status (0<<1)|1 = 1.
    bench_csv_row compute qemu-tcg 1 "$QEMU" -accel tcg -kernel "$ELF" \
        -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
        -display none -serial stdio -no-reboot -m 128
else
    bench_note "SKIP qemu-tcg rows: $QEMU not found (apt-get install qemu-system-x86)"
fi
bench_csv_end

echo
bench_ratios "$csv" compute btvm-bt/native qemu-tcg/native qemu-tcg/btvm-bt
