#!/usr/bin/env bash
# bench/virtio.sh — the "virtio" workload: the persistent image (make
# diskimg; root on virtio-blk, snapshot=on) on btvm's BT engine and QEMU
# TCG with the same devices, one boot per system and run, interleaved.
# Two blank 160 MiB raw scratch disks, made afresh for every boot: vdb on
# virtio-blk and sda on the PIIX IDE (ata_piix), the emulated-vs-
# paravirtual comparison; and virtio-net with user networking. Rows (the
# time of each, timed in the guest with adjtimex):
#   {virtio,ide}_seqwrite_128m  dd if=/dev/zero of=DISK bs=1M count=128 oflag=direct
#   {virtio,ide}_seqread_128m   dd if=DISK of=/dev/null bs=1M count=128 iflag=direct
#   {virtio,ide}_randread_4k    btvm-randread DISK 2000: 2000 reads of 4 KiB at
#                               random offsets, O_DIRECT (guests/diskimg/randread.c)
# The data is checked, outside the timed parts: the host writes a tag into
# every 4 KiB block of the scratch disks (block number times a constant);
# the random reads run first and each must find its block's tag; the
# sequential write then replaces the first 128 MiB with zeros, and an
# untimed read after the timed one must see exactly that (md5 of 128 MiB of
# zeros; the tags there are gone) — a device that drops or misplaces data
# fails the row.
#   net_rx_32m                  host->guest: busybox wget of 32 MiB from
#                               bench/netpeer.py (127.0.0.1) via 10.0.2.2
#   net_tx_32m                  guest->host: 32 MiB through busybox nc to
#                               netpeer.py's sink, which checks the count
# O_DIRECT: every MiB is a request to the device, none comes from the
# guest's page cache. Writes $BENCH_OUT/virtio.csv (these columns plus
# median_rate and rate_unit: MB/s as MiB/s, or IOPS; bench/report.sh
# reads column 3, the time, as the value) and puts the same rows into
# $BENCH_OUT/linux.csv (replacing earlier virtio rows; after bench/linux.sh
# in `make bench`). VIRTIO_BENCH_SYSTEMS (default "btvm-bt qemu-tcg").
set -u
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.." || exit 1
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
BUILD=${BUILD:-build}
BTVM=${BTVM:-$BUILD/btvm}
LINUX_DIR=$BUILD/linux
DISKIMG_DIR=$BUILD/diskimg
# shellcheck source=guests/diskimg/lib.sh
. guests/diskimg/lib.sh
csv=$BENCH_OUT/virtio.csv
MIB=128 NET_MIB=32 READS=2000
SYSTEMS=${VIRTIO_BENCH_SYSTEMS:-btvm-bt qemu-tcg}
DISK_ROWS="seqwrite_128m seqread_128m randread_4k"
ROWS="$(for d in virtio ide; do for r in $DISK_ROWS; do printf '%s_%s ' $d $r; done; done)net_rx_32m net_tx_32m"

script() { # script <http port> <sink port>
    printf 'M=%s N=%s R=%s HP=%s SP=%s Z=%s\n' "$MIB" "$NET_MIB" "$READS" "$1" "$2" \
        "$(head -c $((MIB << 20)) /dev/zero | md5sum | cut -d' ' -f1)"
    cat <<'SH'
dmesg -n 1
now() { adjtimex | awk '/tv_sec/ { s = $2 } /tv_usec/ { u = $2 } END { printf "%d.%06d\n", s, u }'; }
rep() { awk -v n="$1" -v a="$2" -v b="$3" -v ok="$4" 'BEGIN { printf "bench: %s %.6f %s\n", n, b - a, ok ? "ok" : "FAIL" }'; }
i=0; while { [ ! -b /dev/vdb ] || [ ! -b /dev/sda ]; } && [ $i -lt 300 ]; do usleep 100000; i=$((i + 1)); done
for p in virtio:vdb ide:sda; do
  n=${p%:*} d=/dev/${p#*:}
  a=$(now); btvm-randread $d $R 7 check >/tmp/rr.out; s=$?; b=$(now)
  rep ${n}_randread_4k $a $b $((s == 0))
  a=$(now); dd if=/dev/zero of=$d bs=1048576 count=$M oflag=direct 2>/tmp/dd.err; s=$?; b=$(now)
  grep -q "^$M+0 records out" /tmp/dd.err || s=1; rep ${n}_seqwrite_128m $a $b $((s == 0))
  a=$(now); dd if=$d of=/dev/null bs=1048576 count=$M iflag=direct 2>/tmp/dd.err; s=$?; b=$(now)
  grep -q "^$M+0 records in" /tmp/dd.err || s=1
  h=$(dd if=$d bs=1048576 count=$M iflag=direct 2>/dev/null | md5sum); [ "${h%% *}" = "$Z" ] || s=1
  rep ${n}_seqread_128m $a $b $((s == 0))
done
a=$(now); c=$(wget -q -O - "http://10.0.2.2:$HP/blob" | wc -c); b=$(now)
rep net_rx_32m $a $b $((c == N << 20))
a=$(now); dd if=/dev/zero bs=1048576 count=$N 2>/dev/null | nc 10.0.2.2 $SP; s=$?; b=$(now)
rep net_tx_32m $a $b $((s == 0))
SH
}

SAMPLES=$(mktemp)
PEER_OUT=$(mktemp)
peer=
cleanup() { [ -n "$peer" ] && kill "$peer" 2>/dev/null; rm -f "$SAMPLES" "$PEER_OUT"; }
trap cleanup EXIT
bench_csv_begin "$csv" '^bench: '
for f in "$LINUX_KERNEL" "$DISKIMG_INITRD" "$DISKIMG_DIR/root.img"; do
    [ -e "$f" ] || bench_die "$f is missing (run 'make diskimg' first)"
done
python3 bench/netpeer.py "$NET_MIB" $((NET_MIB << 20)) >"$PEER_OUT" 2>&1 &
peer=$!
for ((i = 0; i < 100; i++)); do grep -q '^ports ' "$PEER_OUT" && break; sleep 0.1; done
read -r _ HP SP < <(grep '^ports ' "$PEER_OUT") || bench_die "bench/netpeer.py did not start: $(cat "$PEER_OUT")"
APPEND=$(linux_cmdline "$(script "$HP" "$SP")" "root=/dev/vda quiet")
ROOT=$BENCH_OUT/virtio-root.img
cp --sparse=always "$DISKIMG_DIR/root.img" "$ROOT" || bench_die "cannot copy the root image"
# The root image is the user's and never rebuilt: put this build's helper
# into the copy (debugfs, e2fsprogs), so the rows run the randread.c here.
[ -x "$DISKIMG_DIR/btvm-randread" ] || bench_die "$DISKIMG_DIR/btvm-randread is missing (run 'make diskimg')"
debugfs -w -R "rm /usr/bin/btvm-randread" "$ROOT" >/dev/null 2>&1
{ debugfs -w -R "write $DISKIMG_DIR/btvm-randread /usr/bin/btvm-randread" "$ROOT" &&
    debugfs -w -R "sif /usr/bin/btvm-randread mode 0100755" "$ROOT"; } >/dev/null 2>&1 &&
    [ "$(debugfs -R "stat /usr/bin/btvm-randread" "$ROOT" 2>/dev/null | grep -c 'Mode:  0755')" = 1 ] ||
    bench_die "cannot put btvm-randread into $ROOT (debugfs)"

# tag_blocks <image>...: every 4 KiB block begins with its tag (randread.c).
tag_blocks() {
    python3 - "$@" <<'PY' || bench_die "cannot tag the scratch disks"
import struct, sys
for path in sys.argv[1:]:
    with open(path, 'r+b') as f:
        f.seek(0, 2)
        for b in range(f.tell() // 4096):
            f.seek(b * 4096)
            f.write(struct.pack('<Q', b * 0x9E3779B97F4A7C15 % (1 << 64)))
PY
}

# boot_once <btvm|qemu> <system> <run>
boot_once() {
    local emu=$1 sys=$2 log="$BENCH_OUT/logs/virtio-$2-$3.log" st want wl line t ok sinks
    rm -f "$BENCH_OUT/virtio-vdb.img" "$BENCH_OUT/virtio-sda.img"
    truncate -s 160M "$BENCH_OUT/virtio-vdb.img" "$BENCH_OUT/virtio-sda.img"
    tag_blocks "$BENCH_OUT/virtio-vdb.img" "$BENCH_OUT/virtio-sda.img"
    sinks=$(grep -c '^sink ' "$PEER_OUT")
    timeout -k 5 "$BENCH_TIMEOUT" bash -c '. guests/diskimg/lib.sh; diskimg_boot "$@"' _ "$emu" "$APPEND" \
        -drive "file=$ROOT,if=virtio,format=raw,snapshot=on" \
        -drive "file=$BENCH_OUT/virtio-vdb.img,if=virtio,format=raw" \
        -drive "file=$BENCH_OUT/virtio-sda.img,if=ide,index=0,format=raw" \
        -nic user,model=virtio-net-pci </dev/null 2>&1 | tr -d '\r' >"$log"
    st=${PIPESTATUS[0]}
    [ "$st" = 124 ] || [ "$st" = 137 ] && bench_die "$sys: timed out after ${BENCH_TIMEOUT}s (log: $log)"
    want=$(linux_want_status "$emu" 0)
    if [ "$st" != "$want" ] || ! grep -q '^btvm-init: exit 0$' "$log"; then
        tail -n 20 "$log" >&2
        bench_die "$sys: boot $3 exited $st, expected $want after 'btvm-init: exit 0' (log: $log)"
    fi
    sleep 0.2
    [ "$(grep -c '^sink ' "$PEER_OUT")" = $((sinks + 1)) ] &&
        [ "$(grep '^sink ' "$PEER_OUT" | tail -n 1)" = "sink $((NET_MIB << 20))" ] ||
        bench_die "$sys: the host's sink did not get $NET_MIB MiB from the guest ($(tail -n 1 "$PEER_OUT"); log: $log)"
    for wl in $ROWS; do
        line=$(grep -m1 "^bench: $wl " "$log") || bench_die "$sys: no $wl result (log: $log)"
        read -r _ _ t ok <<<"$line"
        [ "$ok" = ok ] || bench_die "$sys: $wl failed in the guest (log: $log)"
        echo "$wl $sys $t" >>"$SAMPLES"
    done
}

RUN_SYSTEMS=""
for sys in $SYSTEMS; do
    case $sys in
    btvm-bt) [ -x "$BTVM" ] || bench_die "$BTVM is missing (run 'make all' first)" ;;
    qemu-tcg) bench_qemu_present || continue ;;
    *) bench_die "unknown system '$sys' in VIRTIO_BENCH_SYSTEMS (btvm-bt, qemu-tcg)" ;;
    esac
    RUN_SYSTEMS="$RUN_SYSTEMS $sys"
done
bench_rounds virtio
rm -f "$ROOT" "$BENCH_OUT/virtio-vdb.img" "$BENCH_OUT/virtio-sda.img"
echo "workload,system,median_s,min_s,max_s,runs,median_rate,rate_unit" >"$BENCH_CSV.tmp"
for wl in $ROWS; do
    case $wl in
    *_128m) amount=$MIB unit=MB/s ;;
    *_32m) amount=$NET_MIB unit=MB/s ;;
    *_4k) amount=$READS unit=IOPS ;;
    esac
    for sys in $SYSTEMS; do
        bench_sample_row "$SAMPLES" "$wl" "$sys" |
            awk -F, -v n="$amount" -v unit="$unit" '{ printf "%s,%.1f,%s\n", $0, n / $3, unit }' \
            >>"$BENCH_CSV.tmp"
    done
done
bench_csv_end
# The same rows, in linux.csv's six columns.
lcsv=$BENCH_OUT/linux.csv
[ -f "$lcsv" ] || echo "workload,system,median_s,min_s,max_s,runs" >"$lcsv"
{
    awk -F, -v rows=" $ROWS " 'index(rows, " " $1 " ") == 0' "$lcsv"
    tail -n +2 "$csv" | cut -d, -f1-6
} >"$lcsv.tmp" && mv -f "$lcsv.tmp" "$lcsv"
bench_note "virtio rows put into $lcsv"
echo
column -t -s, "$csv" 2>/dev/null || cat "$csv"
for wl in $ROWS; do
    echo
    bench_ratios "$csv" "$wl" qemu-tcg/btvm-bt
done
