#!/usr/bin/env bash
# bench/disk.sh — the "disk" workload: Debian's i386 kernel with the disk
# initramfs (make linux-disk) reading an IDE disk through ata_piix, on
# btvm's BT engine and QEMU TCG. Writes $BENCH_OUT/disk.csv. Row:
#   disk_read_64m   dd if=/dev/sda of=/dev/null bs=1M count=64 iflag=direct
#                   (O_DIRECT: every MiB is a request to the emulated
#                   controller, none comes from the guest's page cache),
#                   timed inside the guest with adjtimex; median_s as in
#                   linux.csv, and median_mb_s = 64 MiB / median_s
#                   (MiB/s, 2^20 bytes).
# The disk is a 64 MiB raw image of random bytes made once per run in
# $BENCH_OUT; after the timed read the guest's md5sum of /dev/sda must
# match the host's, or the run fails. A separate workload and boot from
# bench/linux.sh: the modules and the larger initramfs would otherwise
# weigh on linux.csv's boot rows.
# Systems: DISK_BENCH_SYSTEMS (default "btvm-bt qemu-tcg"). BENCH_RUNS
# boots per system, interleaved round by round as in bench/linux.sh.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.." || exit 1
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
BUILD=${BUILD:-build}
BTVM=${BTVM:-$BUILD/btvm}
LINUX_DIR=$BUILD/linux
# shellcheck source=guests/linux/lib.sh
. guests/linux/lib.sh
LINUX_INITRD=$LINUX_DIR/initrd-disk.img
csv=$BENCH_OUT/disk.csv
MIB=64

SYSTEMS=${DISK_BENCH_SYSTEMS:-btvm-bt qemu-tcg}

script() {
    cat <<SH
M=$MIB
SH
    cat <<'SH'
dmesg -n 1
now() { adjtimex | awk '/tv_sec/ { s = $2 } /tv_usec/ { u = $2 } END { printf "%d.%06d\n", s, u }'; }
btvm-disk-modules || echo "bench: modules FAIL"
i=0; while [ ! -b /dev/sda ] && [ $i -lt 300 ]; do usleep 100000; i=$((i + 1)); done
a=$(now); dd if=/dev/sda of=/dev/null bs=1048576 count=$M iflag=direct 2>/tmp/dd.err; s=$?; b=$(now)
grep -q "^$M+0 records in" /tmp/dd.err || s=1
awk -v a="$a" -v b="$b" -v ok=$((s == 0)) 'BEGIN { printf "bench: disk_read_64m %.6f %s\n", b - a, ok ? "ok" : "FAIL" }'
echo "bench: md5 $(md5sum </dev/sda | cut -d' ' -f1)"
SH
}

SAMPLES=$(mktemp)
trap 'rm -f "$SAMPLES"' EXIT
bench_csv_begin "$csv" '^bench: '
for f in "$LINUX_KERNEL" "$LINUX_INITRD"; do
    [ -e "$f" ] || bench_die "$f is missing (run 'make linux-disk' first)"
done
IMG=$BENCH_OUT/disk-bench.img
head -c $((MIB << 20)) /dev/urandom >"$IMG" || bench_die "cannot write $IMG"
SUM=$(md5sum <"$IMG" | cut -d' ' -f1)
APPEND=$(linux_cmdline "$(script)" quiet)

# boot_once <btvm|qemu> <system> <run>
boot_once() {
    local emu=$1 sys=$2 log="$BENCH_OUT/logs/disk-$2-$3.log" st want line t ok
    LINUX_HDA=$IMG LINUX_INITRD=$LINUX_INITRD timeout -k 5 "$BENCH_TIMEOUT" \
        bash -c '. guests/linux/lib.sh; linux_boot "$1" "$2"' _ "$emu" "$APPEND" </dev/null 2>&1 |
        tr -d '\r' >"$log"
    st=${PIPESTATUS[0]}
    [ "$st" = 124 ] || [ "$st" = 137 ] && bench_die "$sys: timed out after ${BENCH_TIMEOUT}s (log: $log)"
    want=$(linux_want_status "$emu" 0)
    if [ "$st" != "$want" ] || ! grep -q '^btvm-init: exit 0$' "$log"; then
        tail -n 20 "$log" >&2
        bench_die "$sys: boot $3 exited $st, expected $want after 'btvm-init: exit 0' (log: $log)"
    fi
    grep -q '^bench: modules FAIL' "$log" && bench_die "$sys: loading the modules failed (log: $log)"
    grep -qx "bench: md5 $SUM" "$log" || bench_die "$sys: the guest read other data than the image holds (log: $log)"
    line=$(grep -m1 '^bench: disk_read_64m ' "$log") || bench_die "$sys: no disk_read_64m result (log: $log)"
    read -r _ _ t ok <<<"$line"
    [ "$ok" = ok ] || bench_die "$sys: the timed dd failed in the guest (log: $log)"
    echo "disk_read_64m $sys $t" >>"$SAMPLES"
}

RUN_SYSTEMS=""
for sys in $SYSTEMS; do
    case $sys in
    btvm-bt) [ -x "$BTVM" ] || bench_die "$BTVM is missing (run 'make all' first)" ;;
    qemu-tcg) bench_qemu_present || continue ;;
    *) bench_die "unknown system '$sys' in DISK_BENCH_SYSTEMS (btvm-bt, qemu-tcg)" ;;
    esac
    RUN_SYSTEMS="$RUN_SYSTEMS $sys"
done
bench_rounds disk
rm -f "$IMG"
echo "workload,system,median_s,min_s,max_s,runs,median_mb_s" >"$BENCH_CSV.tmp"
for sys in $SYSTEMS; do
    bench_sample_row "$SAMPLES" disk_read_64m "$sys" |
        awk -F, -v mib="$MIB" '{ printf "%s,%.1f\n", $0, mib / $3 }' >>"$BENCH_CSV.tmp"
done
bench_csv_end
echo
column -t -s, "$csv" 2>/dev/null || cat "$csv"
echo
bench_ratios "$csv" disk_read_64m qemu-tcg/btvm-bt
