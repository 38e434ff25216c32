#!/usr/bin/env bash
# tests/linux/sigterm.sh — SIGTERM while the guest writes leaves a clean
# image: the persistent image's kernel (root on virtio-blk) writes to a
# qcow2 data disk (vdb) without end; as soon as it says it is writing,
# the test sends SIGTERM. btvm must stop in order (status 143, "btvm:
# terminating on signal 15") with the image closed: `qemu-img check` finds
# neither corruption nor leaked clusters (status 0 — a SIGKILL may leak,
# tests/linux/durability.sh; an orderly stop must not). btvm only: QEMU
# is not held to it.
set -u
cd "$(dirname "$0")/../.." || exit 1
export PATH=$PATH:/usr/sbin:/sbin
. guests/diskimg/lib.sh
say() { echo "sigterm: $*"; }
for f in "$LINUX_KERNEL" "$DISKIMG_INITRD"; do
    [ -f "$f" ] || { say "$f missing (run 'make diskimg')"; exit 1; }
done
SCRIPT=$(cat <<'SH'
dmesg -n 1
echo "== writing"
i=0; while :; do dd if=/dev/urandom of=/dev/vdb bs=65536 seek=$((i % 400)) count=16 2>/dev/null; i=$((i + 16)); done
SH
)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
diskimg_new "$tmp/root.img" || { say "building the image failed"; exit 1; }
qemu-img create -q -f qcow2 "$tmp/data.qcow2" 32M
# btvm itself in the background (not diskimg_boot, a shell function: $!
# would be the subshell's pid and the signal would miss btvm).
"$BTVM" run -q --engine bt --no-reboot -m "$LINUX_MEM" -k "$LINUX_KERNEL" -i "$DISKIMG_INITRD" \
    -a "$(linux_cmdline "$SCRIPT" "root=/dev/vda quiet")" \
    -drive "file=$tmp/root.img,if=virtio,format=raw" -drive "file=$tmp/data.qcow2,if=virtio,format=qcow2" \
    </dev/null >"$tmp/log" 2>&1 &
pid=$!
for i in $(seq 600); do grep -q '^== writing' "$tmp/log" 2>/dev/null && break; kill -0 $pid 2>/dev/null || break; sleep 0.1; done
sleep 1   # clusters being allocated
kill -TERM $pid 2>/dev/null; wait $pid; st=$?
fail=0
[ "$st" -eq 143 ] || { say "status $st, want 143"; fail=1; }
grep -q 'btvm: terminating on signal 15' "$tmp/log" || { say "no 'terminating on signal 15'"; fail=1; }
got=$(qemu-img check "$tmp/data.qcow2" 2>&1); cst=$?
[ "$cst" -eq 0 ] || { say "qemu-img check: status $cst: $(tail -n 3 <<<"$got" | tr '\n' ' ')"; fail=1; }
if [ "$fail" -eq 0 ]; then
    say "btvm stopped in order while writing (status 143); qemu-img check clean"
else
    tail -n 8 "$tmp/log" | sed 's/^/  | /'
fi
exit "$fail"
