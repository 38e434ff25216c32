#!/usr/bin/env bash
# tests/linux/disk-virtio.sh — Debian's i386 kernel with the disk initramfs
# (make linux-disk: virtio_pci and virtio_blk from the same kernel package)
# on two virtio disks:
#   host   makes vda, a blank 32 MiB raw image whose last MiB is 0xFF
#          bytes, and vdb, a 1 MiB raw image of random bytes attached
#          readonly=on;
#   guest  loads the modules, waits for /dev/vda and /dev/vdb, prints
#          vdb's md5sum and read-only flag, makes an ext2 file system on
#          the first 24 MiB of vda (busybox mke2fs), mounts it, writes
#          /newfile (a random line) and /big (1 MiB from /dev/urandom,
#          md5sum printed), syncs, unmounts, discards vda's last MiB
#          (blkdiscard), prints the virtio dmesg lines and powers off;
#   host   checks the lines, that vda and vdb are PCI 00:03.0 and 00:04.0,
#          `debugfs -R 'cat /newfile'`, /big's md5sum through `debugfs -R
#          dump`, `e2fsck -fn` (clean), and that the discarded MiB reads
#          back as zeroes.
# Systems: btvm (LINUX_TEST_BTVM=0 skips it) and qemu-system-i386 TCG with
# -drive if=virtio,format=raw as the reference (LINUX_TEST_QEMU=1).
# BTVM overrides the binary, LINUX_TEST_TIMEOUT the per-boot limit (600 s).
set -u
cd "$(dirname "$0")/../.." || exit 1
export PATH=$PATH:/usr/sbin:/sbin            # e2fsprogs
. guests/linux/lib.sh
LINUX_INITRD=$LINUX_DIR/initrd-disk.img
TIMEOUT=${LINUX_TEST_TIMEOUT:-600}
say() { echo "linux-disk-virtio: $*"; }

for f in "$LINUX_KERNEL" "$LINUX_INITRD"; do
    [ -f "$f" ] || { say "$f missing (run 'make linux-disk')"; exit 1; }
done
for t in debugfs e2fsck; do
    command -v "$t" >/dev/null || { say "$t missing (apt-get install e2fsprogs)"; exit 1; }
done

guest_script() {
    printf "NEW='%s'\n" "$1"
    cat <<'SH'
dmesg -n 1
echo "== modules"; btvm-disk-modules; echo "status $?"
i=0; while [ ! -b /dev/vda ] || [ ! -b /dev/vdb ]; do
[ $i -ge 300 ] && break; usleep 100000; i=$((i + 1)); done
echo "== blocks"; ls /sys/block | grep '^vd'
echo "== pci"; for d in /sys/block/vd?; do readlink -f $d/device | cut -d/ -f5; done
echo "== vdb"; md5sum </dev/vdb | cut -d' ' -f1; cat /sys/block/vdb/ro
echo "== mkfs"; mke2fs -q /dev/vda 24576 >/dev/null 2>&1; echo "status $?"
mkdir -p /mnt/d
echo "== write"; mount -t ext2 /dev/vda /mnt/d && echo "$NEW" >/mnt/d/newfile &&
dd if=/dev/urandom of=/mnt/d/big bs=4096 count=256 2>/dev/null && md5sum </mnt/d/big | cut -d' ' -f1 &&
sync && umount /mnt/d && echo written
echo "== discard"; blkdiscard -o 32505856 -l 1048576 /dev/vda; echo "status $?"
echo "== dmesg"; dmesg | grep -E 'virtio|vd[ab]|I/O error|EXT4'
echo "== end"
SH
}

section() { printf '%s\n' "$1" | awk -v s="== $2" '$0 == s { on = 1; next } /^== / { on = 0 } on'; }
has() { printf '%s\n' "$1" | grep -qE -- "$2"; }
not_has() { ! has "$@"; }
fail=0
check() { # check <system> <what> <condition...>
    local sys=$1 what=$2; shift 2
    if "$@"; then return 0; fi
    say "$sys: $what"; bad=1
}
rnd() { head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

run_one() {
    local sys=$1 tmp out st want log newline dm got fsck w vdbsum
    tmp=$(mktemp -d); bad=0
    newline="btvm virtio wrote $(rnd)"
    truncate -s 31M "$tmp/vda.img"
    head -c 1048576 /dev/zero | tr '\0' '\377' >>"$tmp/vda.img"
    head -c 1048576 /dev/urandom >"$tmp/vdb.img"
    vdbsum=$(md5sum <"$tmp/vdb.img" | cut -d' ' -f1)
    log=$tmp/serial.log
    LINUX_VIRTIO="$tmp/vda.img $tmp/vdb.img,readonly=on" LINUX_INITRD=$LINUX_INITRD \
        timeout -k 5 "$TIMEOUT" bash -c '. guests/linux/lib.sh; linux_boot "$1" "$2"' _ "$sys" \
        "$(linux_cmdline "$(guest_script "$newline")")" </dev/null >"$log" 2>&1
    st=$?
    out=$(tr -d '\r' <"$log")
    want=$(linux_want_status "$sys" 0)
    [ "$st" -eq 124 ] && say "$sys: timed out after ${TIMEOUT}s"
    check "$sys" "exit status $st, want $want" [ "$st" -eq "$want" ]
    check "$sys" "script did not finish with status 0" has "$out" '^btvm-init: exit 0$'
    check "$sys" "loading the modules failed: $(section "$out" modules | tr '\n' ' ')" \
        [ "$(section "$out" modules | tail -n1)" = "status 0" ]
    check "$sys" "no vda and vdb in /sys/block: $(section "$out" blocks | tr '\n' ' ')" \
        [ "$(section "$out" blocks | tr '\n' ' ')" = "vda vdb " ]
    check "$sys" "vdb: '$(section "$out" vdb | tr '\n' ' ')', want '$vdbsum 1 '" \
        [ "$(section "$out" vdb | tr '\n' ' ')" = "$vdbsum 1 " ]
    check "$sys" "mke2fs: $(section "$out" mkfs)" [ "$(section "$out" mkfs)" = "status 0" ]
    w=$(section "$out" write)
    check "$sys" "writing: '$(printf '%s' "$w" | tr '\n' ' ')'" [ "$(printf '%s\n' "$w" | tail -n1)" = written ]
    check "$sys" "blkdiscard: $(section "$out" discard)" [ "$(section "$out" discard)" = "status 0" ]
    dm=$(section "$out" dmesg)
    check "$sys" "vda, vdb not at PCI 00:03.0, 00:04.0: $(section "$out" pci | tr '\n' ' ')" \
        [ "$(section "$out" pci | tr '\n' ' ')" = "0000:00:03.0 0000:00:04.0 " ]
    check "$sys" "dmesg: no [vdb] of 2048 sectors" has "$dm" '\[vdb\] 2048 512-byte logical blocks'
    check "$sys" "dmesg: no [vda] of 65536 sectors" has "$dm" '\[vda\] 65536 512-byte logical blocks'
    check "$sys" "dmesg: I/O errors" not_has "$dm" 'I/O error'
    got=$(debugfs -R 'cat /newfile' "$tmp/vda.img" 2>/dev/null)
    check "$sys" "host: debugfs cat /newfile: '$got', want '$newline'" [ "$got" = "$newline" ]
    debugfs -R "dump /big $tmp/big" "$tmp/vda.img" >/dev/null 2>&1
    got=$(md5sum <"$tmp/big" 2>/dev/null | cut -d' ' -f1)
    check "$sys" "host: /big md5 '$got', guest said '$(printf '%s\n' "$w" | head -n1)'" \
        [ "$got" = "$(printf '%s\n' "$w" | head -n1)" ]
    got=$(e2fsck -fn "$tmp/vda.img" 2>&1); fsck=$?
    check "$sys" "host: e2fsck -fn exit status $fsck: $(printf '%s\n' "$got" | tail -n 3 | tr '\n' ' ')" \
        [ "$fsck" -eq 0 ]
    got=$(tail -c 1048576 "$tmp/vda.img" | tr -d '\0' | wc -c)
    check "$sys" "host: $got non-zero bytes left in the discarded MiB" [ "$got" -eq 0 ]
    check "$sys" "host: vdb changed" [ "$(md5sum <"$tmp/vdb.img" | cut -d' ' -f1)" = "$vdbsum" ]
    say "$sys: virtio dmesg:"
    printf '%s\n' "$dm" | sed 's/^/  | /'
    if [ "$bad" -ne 0 ]; then
        say "$sys: serial output from the script on (or its last 25 lines):"
        if has "$out" '^btvm-init: run$'; then printf '%s\n' "$out" | sed -n '/^btvm-init: run$/,$p'
        else printf '%s\n' "$out" | tail -n 25; fi | sed 's/^/  | /'
        fail=1
    else
        say "$sys: all checks ok (mke2fs, ext2 write, e2fsck clean, read-only vdb, discard)"
    fi
    rm -rf "$tmp"
}

if [ "${LINUX_TEST_BTVM:-1}" = 1 ]; then
    [ -x "$BTVM" ] || { say "$BTVM missing (run 'make')"; exit 1; }
    run_one btvm
fi
if [ "${LINUX_TEST_QEMU:-0}" = 1 ]; then
    if command -v "$QEMU" >/dev/null; then run_one qemu
    else say "$QEMU not installed, QEMU run skipped"; fi
fi
exit "$fail"
