#!/usr/bin/env bash
# tests/linux/virtio_snapshot.sh — `-snapshot` and `snapshot=on` leave the
# image alone: the guest (root on virtio-blk, a fresh raw image from
# guests/diskimg/build.sh, and the same again as a qcow2 data disk on vdb)
# writes a file on /, mke2fs's vdb and writes to it, syncs, reads both
# back within the run and powers off; the images' sha256 after the run
# must equal the sha256 before. Runs:
#   opt   -snapshot before the -drive options (every drive)
#   drive snapshot=on on each -drive
# Systems and knobs as in tests/linux/virtio_blk.sh.
set -u
cd "$(dirname "$0")/../.." || exit 1
export PATH=$PATH:/usr/sbin:/sbin
. guests/diskimg/lib.sh
TIMEOUT=${LINUX_TEST_TIMEOUT:-240}
say() { echo "virtio-snapshot: $*"; }
for f in "$LINUX_KERNEL" "$DISKIMG_INITRD" "$DISKIMG_DIR/btvm-randread"; do
    [ -f "$f" ] || { say "$f missing (run 'make diskimg')"; exit 1; }
done

SCRIPT=$(cat <<'SH'
dmesg -n 1
echo "snapshot write $$" >/root/scratch.txt && sync && echo "root $(cat /root/scratch.txt)"
mke2fs -q /dev/vdb >/dev/null && mkdir -p /mnt/d && mount -t ext2 /dev/vdb /mnt/d &&
  dd if=/dev/urandom of=/mnt/d/blob bs=65536 count=16 2>/dev/null && sync &&
  echo "data $(wc -c </mnt/d/blob)" && umount /mnt/d
SH
)
fail=0
check() { local what=$1; shift; "$@" && return 0; say "$sys/$mode: $what"; bad=1; }

run_one() {
    local tmp st want out s1 s2 d1 d2 opts=() sn=
    tmp=$(mktemp -d); bad=0
    diskimg_new "$tmp/root.img" || { say "$sys/$mode: building the image failed"; fail=1; return; }
    qemu-img create -q -f qcow2 "$tmp/data.qcow2" 32M
    s1=$(sha256sum <"$tmp/root.img") d1=$(sha256sum <"$tmp/data.qcow2")
    if [ "$mode" = opt ]; then opts=(-snapshot); else sn=,snapshot=on; fi
    opts+=(-drive "file=$tmp/root.img,if=virtio,format=raw$sn" -drive "file=$tmp/data.qcow2,if=virtio,format=qcow2$sn")
    timeout -k 5 "$TIMEOUT" bash -c '. guests/diskimg/lib.sh; diskimg_boot "$@"' _ "$sys" \
        "$(linux_cmdline "$SCRIPT" "root=/dev/vda quiet")" "${opts[@]}" </dev/null >"$tmp/serial.log" 2>&1
    st=$?; want=$(linux_want_status "$sys" 0)
    out=$(tr -d '\r' <"$tmp/serial.log")
    check "exit status $st, want $want" [ "$st" -eq "$want" ]
    check "the guest did not write to / ('root ...' missing)" grep -q '^root snapshot write' <<<"$out"
    check "the guest did not write to vdb ('data 1048576' missing)" grep -qx 'data 1048576' <<<"$out"
    s2=$(sha256sum <"$tmp/root.img") d2=$(sha256sum <"$tmp/data.qcow2")
    check "host: root.img changed (sha256)" [ "$s1" = "$s2" ]
    check "host: data.qcow2 changed (sha256)" [ "$d1" = "$d2" ]
    if [ "$bad" -ne 0 ]; then
        say "$sys/$mode: serial (last 15 lines):"; tail -n 15 <<<"$out" | sed 's/^/  | /'; fail=1
    else
        say "$sys/$mode: all checks ok (the guest wrote; raw and qcow2 images byte-identical)"
    fi
    rm -rf "$tmp"
}

for sys in $(diskimg_systems); do
    for mode in opt drive; do run_one; done
done
exit "$fail"
