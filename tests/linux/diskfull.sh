#!/usr/bin/env bash
# tests/linux/diskfull.sh — a full host disk becomes guest I/O errors, not
# corruption and not a dead emulator. The data disk (32 MiB, raw sparse or
# qcow2) lives on an 8 MiB tmpfs, so the host runs out of space midway:
#   guest  (root on virtio-blk as in virtio_blk.sh; data on vdb) writes
#          1 MiB of /dev/urandom to the start of vdb with conv=fsync and
#          prints its sha256, then writes 24 MiB more behind it with
#          conv=fsync — which must fail —, drops its caches and reads the
#          first MiB back;
#   checks the fill failed in the guest with I/O errors in dmesg, the
#          first MiB reads back unchanged, the guest's script ran to its
#          end and btvm exited 0 (the machine lived on);
#   host   raw: the image's first MiB has that sha256; qcow2: `qemu-img
#          check` finds no corruption (0, or 3: leaked clusters only) and
#          the converted image's first MiB has that sha256.
# Needs root to mount the tmpfs; says so and skips otherwise. Systems:
# DISKIMG_TEST_SYSTEMS (default "btvm qemu"; QEMU runs with werror=report,
# since by default it pauses the guest on ENOSPC), formats:
# DISKIMG_TEST_FORMATS (default "raw qcow2").
set -u
cd "$(dirname "$0")/../.." || exit 1
export PATH=$PATH:/usr/sbin:/sbin
. guests/diskimg/lib.sh
TIMEOUT=${LINUX_TEST_TIMEOUT:-240}
say() { echo "diskfull: $*"; }
for f in "$LINUX_KERNEL" "$DISKIMG_INITRD"; do
    [ -f "$f" ] || { say "$f missing (run 'make diskimg')"; exit 1; }
done
command -v qemu-img >/dev/null || { say "qemu-img missing (scripts/deps.sh)"; exit 1; }

SCRIPT=$(cat <<'SH'
dmesg -n 1
dd if=/dev/urandom of=/tmp/a bs=65536 count=16 2>/dev/null
dd if=/tmp/a of=/dev/vdb bs=65536 conv=fsync 2>/dev/null && echo "== first written"
echo "== sum"; sha256sum /tmp/a | cut -d' ' -f1
dd if=/dev/urandom of=/dev/vdb bs=65536 seek=16 count=384 conv=fsync 2>/dev/null
echo "== fill status $?"
sync; echo 3 >/proc/sys/vm/drop_caches
echo "== reread"; dd if=/dev/vdb bs=65536 count=16 2>/dev/null | sha256sum | cut -d' ' -f1
echo "== ioerrors"; dmesg | grep -ciE 'I/O error'
echo "== end"
SH
)

section() { printf '%s\n' "$1" | awk -v s="== $2" '$0 == s { on = 1; next } /^== / { on = 0 } on'; }
fail=0 bad=0
check() { # check <what> <condition...>
    local what=$1; shift
    "$@" && return 0
    say "$sys/$fmt: $what"; bad=1
}

run_one() {
    local tmp out st want sum got opt=
    tmp=$(mktemp -d); bad=0
    mkdir "$tmp/fs"
    if ! mount -t tmpfs -o size=8m tmpfs "$tmp/fs" 2>/dev/null; then
        say "cannot mount a tmpfs (not root?): skipped"; rm -rf "$tmp"; return 2
    fi
    diskimg_new "$tmp/root.img" || { say "building the image failed"; umount "$tmp/fs"; rm -rf "$tmp"; fail=1; return; }
    if [ "$fmt" = raw ]; then truncate -s 32M "$tmp/fs/data.img"
    else qemu-img create -q -f qcow2 "$tmp/fs/data.img" 32M; fi
    [ "$sys" = qemu ] && opt=,werror=report
    timeout -k 5 "$TIMEOUT" bash -c '. guests/diskimg/lib.sh; diskimg_boot "$@"' _ "$sys" \
        "$(linux_cmdline "$SCRIPT" "root=/dev/vda quiet")" \
        -drive "file=$tmp/root.img,if=virtio,format=raw" \
        -drive "file=$tmp/fs/data.img,if=virtio,format=$fmt$opt" </dev/null >"$tmp/log" 2>&1
    st=$?
    out=$(tr -d '\r' <"$tmp/log")
    want=$(linux_want_status "$sys" 0)
    check "exit status $st, want $want (the machine must live on)" [ "$st" -eq "$want" ]
    check "the script did not reach its end" grep -qx '== end' <<<"$out"
    check "the first MiB was not written" grep -qx '== first written' <<<"$out"
    sum=$(section "$out" sum)
    check "the fill did not fail in the guest" grep -qE '^== fill status [1-9]' <<<"$out"
    check "no I/O error in the guest's log" [ "$(section "$out" ioerrors)" -gt 0 ] 2>/dev/null
    check "the first MiB reads back as $(section "$out" reread), written ${sum:-?}" \
        [ "$(section "$out" reread)" = "${sum:-none}" ]
    if [ "$fmt" = qcow2 ]; then
        got=$(qemu-img check "$tmp/fs/data.img" 2>&1); st=$?
        check "qemu-img check: status $st: $(tail -n 2 <<<"$got" | tr '\n' ' ')" [ "$st" -eq 0 -o "$st" -eq 3 ]
        qemu-img convert -f qcow2 -O raw "$tmp/fs/data.img" "$tmp/data.raw" 2>/dev/null || check "qemu-img convert failed" false
        got=$(head -c 1048576 "$tmp/data.raw" 2>/dev/null | sha256sum | cut -d' ' -f1)
    else
        got=$(head -c 1048576 "$tmp/fs/data.img" | sha256sum | cut -d' ' -f1)
    fi
    check "host: the image's first MiB is $got, the guest wrote ${sum:-?}" [ "$got" = "${sum:-none}" ]
    if [ "$bad" -ne 0 ]; then
        say "$sys/$fmt: serial (last 15 lines):"; tail -n 15 <<<"$out" | sed 's/^/  | /'
        fail=1
    else
        say "$sys/$fmt: ok (fill failed with $(section "$out" ioerrors) I/O errors in the guest, first MiB intact${got:+ on the host})"
    fi
    umount "$tmp/fs"; rm -rf "$tmp"
}

for sys in $(diskimg_systems); do
    for fmt in ${DISKIMG_TEST_FORMATS:-raw qcow2}; do
        run_one; [ $? -eq 2 ] && exit 0
    done
done
exit "$fail"
