#!/usr/bin/env bash
# tests/linux/durability.sh — what the guest fsync'd survives a SIGKILL of
# the emulator (raw and qcow2): the guest (root on virtio-blk, a fresh
# image from guests/diskimg/build.sh) writes /root/durable.bin (2 MiB of
# /dev/urandom) with `dd conv=fsync`, fsyncs /root (the new directory
# entry; on ext4 the file's fsync commits it with the journal anyway),
# prints "durable <sha256>" and keeps writing other files without syncing.
# The test kills the emulator with SIGKILL as soon as that line is on the
# serial port; then, on the host:
#   qcow2  `qemu-img check` finds no corruption (exit 0, or 3: leaked
#          clusters only, which a kill may leave) and the image is
#          converted to raw;
#   both   `e2fsck -fy` replays the journal and repairs what needs it
#          (exit 0 or 1), `e2fsck -fn` is clean afterwards, and debugfs
#          reads /root/durable.bin with the sha256 the guest printed.
# Systems and knobs as in tests/linux/virtio_blk.sh.
set -u
cd "$(dirname "$0")/../.." || exit 1
export PATH=$PATH:/usr/sbin:/sbin
. guests/diskimg/lib.sh
TIMEOUT=${LINUX_TEST_TIMEOUT:-240}
say() { echo "durability: $*"; }
for f in "$LINUX_KERNEL" "$DISKIMG_INITRD" "$DISKIMG_DIR/btvm-randread"; do
    [ -f "$f" ] || { say "$f missing (run 'make diskimg')"; exit 1; }
done

SCRIPT=$(cat <<'SH'
dmesg -n 1
dd if=/dev/urandom of=/tmp/d.bin bs=65536 count=32 2>/dev/null
dd if=/tmp/d.bin of=/root/durable.bin bs=65536 conv=fsync 2>/dev/null && sync /root && \
  echo "durable $(sha256sum /root/durable.bin | cut -d' ' -f1)"
i=0; while :; do dd if=/dev/zero of=/root/junk$((i % 4)) bs=4096 count=64 2>/dev/null; i=$((i + 1)); done
SH
)
fail=0
check() { local what=$1; shift; "$@" && return 0; say "$sys/$fmt: $what"; bad=1; }

run_one() {
    local tmp pid drv img raw sum="" i got st
    tmp=$(mktemp -d); bad=0
    diskimg_new "$tmp/root.img" || { say "$sys/$fmt: building the image failed"; fail=1; return; }
    if [ "$fmt" = raw ]; then img=$tmp/root.img
    else img=$tmp/root.qcow2; qemu-img convert -f raw -O qcow2 "$tmp/root.img" "$img"; rm -f "$tmp/root.img"; fi
    drv=(-drive "file=$img,if=virtio,format=$fmt")
    : >"$tmp/serial.log"
    diskimg_boot "$sys" "$(linux_cmdline "$SCRIPT" "root=/dev/vda quiet")" "${drv[@]}" </dev/null >"$tmp/serial.log" 2>&1 &
    pid=$!
    for ((i = 0; i < TIMEOUT * 10; i++)); do
        sum=$(tr -d '\r' <"$tmp/serial.log" | sed -n 's/^durable \([0-9a-f]\{64\}\)$/\1/p')
        [ -n "$sum" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    # The emulator is diskimg_boot's child when it is a function in a
    # subshell: kill the whole job's processes by their ids.
    local kids; kids=$(pgrep -P "$pid")
    kill -9 $kids "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    # The killed emulator is nobody's child now: wait until it is gone
    # (its image lock and file descriptors with it).
    for ((i = 0; i < 100; i++)); do
        kill -0 $kids 2>/dev/null || break
        sleep 0.1
    done
    check "the guest never reported the fsync'd file (serial: $(tail -n 3 "$tmp/serial.log" | tr -d '\r' | tr '\n' ' '))" [ -n "$sum" ]
    if [ "$fmt" = qcow2 ]; then
        got=$(qemu-img check "$img" 2>&1); st=$?
        check "host: qemu-img check: status $st: $(echo "$got" | tail -n 3 | tr '\n' ' ')" [ "$st" -eq 0 -o "$st" -eq 3 ]
        raw=$tmp/root.raw
        qemu-img convert -f qcow2 -O raw "$img" "$raw" || check "host: qemu-img convert failed" false
    else raw=$img; fi
    got=$(e2fsck -fy "$raw" 2>&1); st=$?
    check "host: e2fsck -fy: status $st (not repairable): $(echo "$got" | tail -n 3 | tr '\n' ' ')" [ "$st" -le 1 ]
    got=$(e2fsck -fn "$raw" 2>&1); st=$?
    check "host: e2fsck -fn after the repair: status $st: $(echo "$got" | tail -n 3 | tr '\n' ' ')" [ "$st" -eq 0 ]
    got=$(debugfs -R 'cat /root/durable.bin' "$raw" 2>/dev/null | sha256sum | cut -d' ' -f1)
    check "host: /root/durable.bin sha256 $got, the guest fsync'd ${sum:-nothing}" [ "$got" = "${sum:-none}" ]
    if [ "$bad" -ne 0 ]; then
        say "$sys/$fmt: serial (last 15 lines):"; tail -n 15 "$tmp/serial.log" | tr -d '\r' | sed 's/^/  | /'
        fail=1
    else
        say "$sys/$fmt: all checks ok (SIGKILL after fsync; file system repaired, fsync'd data intact)"
    fi
    rm -rf "$tmp"
}

for sys in $(diskimg_systems); do
    for fmt in ${DISKIMG_TEST_FORMATS:-raw qcow2}; do run_one; done
done
exit "$fail"
