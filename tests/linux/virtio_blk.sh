#!/usr/bin/env bash
# tests/linux/virtio_blk.sh — the persistent image (make diskimg) on
# virtio-blk, end to end, for raw and for qcow2 with a backing file:
#   host   makes a fresh root image (guests/diskimg/build.sh; raw) and a
#          blank 32 MiB data disk; qcow2: the root disk is an overlay
#          (qemu-img create -b root.img -F raw) and the data disk qcow2;
#   boot 1 (root=/dev/vda, data on /dev/vdb) mke2fs's vdb, writes
#          /data.txt (a random line) and /blob (1 MiB of /dev/urandom) on
#          it and /root/persist.txt on the root, prints the hashes, syncs,
#          unmounts and powers off (the init remounts / read-only);
#   boot 2 mounts vdb again and prints the files and the hash it reads;
#   host   checks every line, then the images: `e2fsck -fn` clean (root
#          and data; qcow2 converted to raw first), the files' contents
#          equal through debugfs; qcow2: `qemu-img check` clean and the
#          backing file's sha256 unchanged.
# Systems: DISKIMG_TEST_SYSTEMS (default "btvm qemu": qemu-system-i386 TCG
# is the reference, same expectations); DISKIMG_TEST_FORMATS (default
# "raw qcow2"); LINUX_TEST_TIMEOUT per boot (240 s; a boot takes
# well under a minute on either system).
set -u
cd "$(dirname "$0")/../.." || exit 1
export PATH=$PATH:/usr/sbin:/sbin
. guests/diskimg/lib.sh
TIMEOUT=${LINUX_TEST_TIMEOUT:-240}
say() { echo "virtio-blk: $*"; }
for f in "$LINUX_KERNEL" "$DISKIMG_INITRD" "$DISKIMG_DIR/btvm-randread"; do
    [ -f "$f" ] || { say "$f missing (run 'make diskimg')"; exit 1; }
done
for t in mke2fs debugfs e2fsck qemu-img; do
    command -v "$t" >/dev/null || { say "$t missing (scripts/deps.sh)"; exit 1; }
done

script1() {
    printf "LINE='%s'\n" "$1"
    cat <<'SH'
dmesg -n 1
echo "== blocks"; ls /sys/block | grep vd
mke2fs -q /dev/vdb >/dev/null && mkdir -p /mnt/d && mount -t ext2 /dev/vdb /mnt/d || echo "mkfs/mount FAIL"
echo "$LINE" >/mnt/d/data.txt
dd if=/dev/urandom of=/mnt/d/blob bs=65536 count=16 2>/dev/null
echo "$LINE root" >/root/persist.txt
echo "== sums"; sha256sum /mnt/d/blob | cut -d' ' -f1
sync && umount /mnt/d && echo "== written"
SH
}
script2() {
    cat <<'SH'
dmesg -n 1
mkdir -p /mnt/d && mount -t ext2 /dev/vdb /mnt/d || echo "mount FAIL"
echo "== data"; cat /mnt/d/data.txt
echo "== sums"; sha256sum /mnt/d/blob | cut -d' ' -f1
echo "== root"; cat /root/persist.txt
umount /mnt/d
echo "== dmesg"; dmesg | grep -iE 'virtio_blk|EXT4-fs|I/O error'
echo "== end"
SH
}

section() { printf '%s\n' "$1" | awk -v s="== $2" '$0 == s { on = 1; next } /^== / { on = 0 } on'; }
has() { printf '%s\n' "$1" | grep -qE -- "$2"; }
check() { # check <what> <condition...>
    local what=$1; shift
    "$@" && return 0
    say "$sys/$fmt: $what"; bad=1
}
rnd() { head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
fail=0

boot() { # boot <log> <script> <drive options...>
    local log=$1 sc=$2 st want; shift 2
    timeout -k 5 "$TIMEOUT" bash -c '. guests/diskimg/lib.sh; diskimg_boot "$@"' _ "$sys" \
        "$(linux_cmdline "$sc" "root=/dev/vda quiet")" "$@" </dev/null >"$log" 2>&1
    st=$?
    want=$(linux_want_status "$sys" 0)
    [ "$st" -eq 124 ] && say "$sys/$fmt: timed out after ${TIMEOUT}s"
    check "$(basename "$log"): exit status $st, want $want" [ "$st" -eq "$want" ]
    check "$(basename "$log"): the script did not end with status 0" grep -qx 'btvm-init: exit 0' <(tr -d '\r' <"$log")
    tr -d '\r' <"$log"
}

run_one() {
    local tmp line out1 out2 sum got fsck drv rootraw dataraw base_sum
    tmp=$(mktemp -d); bad=0; line="btvm virtio-blk $(rnd)"
    diskimg_new "$tmp/root.img" || { say "$sys/$fmt: building the image failed"; fail=1; return; }
    if [ "$fmt" = raw ]; then
        truncate -s 32M "$tmp/data.img"
        drv=(-drive "file=$tmp/root.img,if=virtio,format=raw" -drive "file=$tmp/data.img,if=virtio,format=raw")
    else
        base_sum=$(sha256sum <"$tmp/root.img")
        qemu-img create -q -f qcow2 -b "$tmp/root.img" -F raw "$tmp/root.qcow2"
        qemu-img create -q -f qcow2 "$tmp/data.qcow2" 32M
        drv=(-drive "file=$tmp/root.qcow2,if=virtio,format=qcow2" -drive "file=$tmp/data.qcow2,if=virtio,format=qcow2")
    fi
    out1=$(boot "$tmp/boot1.log" "$(script1 "$line")" "${drv[@]}")
    check "boot 1: no vda and vdb: $(section "$out1" blocks | tr '\n' ' ')" [ "$(section "$out1" blocks | tr '\n' ' ')" = "vda vdb " ]
    check "boot 1: mkfs or mount failed" not_has "$out1" 'FAIL'
    check "boot 1: writing did not finish" has "$out1" '^== written$'
    sum=$(section "$out1" sums)
    out2=$(boot "$tmp/boot2.log" "$(script2)" "${drv[@]}")
    check "boot 2: mount failed" not_has "$out2" 'FAIL'
    check "boot 2: /data.txt '$(section "$out2" data)', want '$line'" [ "$(section "$out2" data)" = "$line" ]
    check "boot 2: /blob sha256 '$(section "$out2" sums)', boot 1 wrote '$sum'" \
        [ "$(section "$out2" sums)" = "${sum:-none}" ]
    check "boot 2: /root/persist.txt '$(section "$out2" root)'" [ "$(section "$out2" root)" = "$line root" ]
    check "boot 2: I/O or file system errors: $(section "$out2" dmesg | grep -iE 'error|warning' | head -n 3 | tr '\n' ' ')" \
        not_has "$(section "$out2" dmesg)" 'I/O error|EXT4-fs (error|warning)'
    if [ "$fmt" = raw ]; then
        rootraw=$tmp/root.img dataraw=$tmp/data.img
    else
        got=$(qemu-img check "$tmp/root.qcow2" 2>&1); check "host: qemu-img check root.qcow2: $(echo "$got" | tail -n 2 | tr '\n' ' ')" [ $? -eq 0 ]
        got=$(qemu-img check "$tmp/data.qcow2" 2>&1); check "host: qemu-img check data.qcow2: $(echo "$got" | tail -n 2 | tr '\n' ' ')" [ $? -eq 0 ]
        check "host: the backing file root.img changed" [ "$(sha256sum <"$tmp/root.img")" = "$base_sum" ]
        qemu-img convert -f qcow2 -O raw "$tmp/root.qcow2" "$tmp/root.raw" && rootraw=$tmp/root.raw
        qemu-img convert -f qcow2 -O raw "$tmp/data.qcow2" "$tmp/data.raw" && dataraw=$tmp/data.raw
    fi
    got=$(e2fsck -fn "$rootraw" 2>&1); fsck=$?
    check "host: e2fsck -fn root: status $fsck: $(echo "$got" | tail -n 3 | tr '\n' ' ')" [ "$fsck" -eq 0 ]
    got=$(e2fsck -fn "$dataraw" 2>&1); fsck=$?
    check "host: e2fsck -fn data: status $fsck: $(echo "$got" | tail -n 3 | tr '\n' ' ')" [ "$fsck" -eq 0 ]
    got=$(debugfs -R 'cat /data.txt' "$dataraw" 2>/dev/null)
    check "host: debugfs /data.txt '$got', want '$line'" [ "$got" = "$line" ]
    got=$(debugfs -R 'cat /blob' "$dataraw" 2>/dev/null | sha256sum | cut -d' ' -f1)
    check "host: debugfs /blob sha256 $got, want $sum" [ "$got" = "$sum" ]
    got=$(debugfs -R 'cat /root/persist.txt' "$rootraw" 2>/dev/null)
    check "host: debugfs /root/persist.txt '$got'" [ "$got" = "$line root" ]
    if [ "$bad" -ne 0 ]; then
        for l in boot1 boot2; do
            say "$sys/$fmt: $l serial (last 20 lines):"; tail -n 20 "$tmp/$l.log" | sed 's/^/  | /'
        done
        fail=1
    else
        say "$sys/$fmt: all checks ok (two boots, e2fsck clean, contents equal${base_sum:+, qemu-img check clean, backing unchanged})"
    fi
    rm -rf "$tmp"
}
not_has() { ! has "$@"; }

for sys in $(diskimg_systems); do
    for fmt in ${DISKIMG_TEST_FORMATS:-raw qcow2}; do
        base_sum=; run_one
    done
done
exit "$fail"
