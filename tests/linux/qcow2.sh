#!/usr/bin/env bash
# tests/linux/qcow2.sh — Debian's i386 kernel with the disk initramfs
# writing an ext2 file system on an IDE disk that is a qcow2 image with a
# qcow2 backing file (block/qcow2.c under devices/ide.c):
#   host   makes a 16 MiB ext2 image (mke2fs -d) holding /known.txt,
#          converts it to base.qcow2 (qemu-img convert) and puts
#          top.qcow2 over it (qemu-img create -b base.qcow2 -F qcow2);
#   guest  (-drive file=top.qcow2,format=qcow2,if=ide) mounts sda, prints
#          /known.txt, writes /newfile (a random line) and /big (2 MiB of
#          /dev/urandom) and prints the md5sum of /big, syncs, unmounts,
#          powers off with status 0;
#   host   qemu-img check top.qcow2 (no errors, no leaks), base.qcow2
#          unchanged (sha256), then reads top.qcow2 back through qemu-img
#          convert: debugfs finds /newfile's line and /big's md5sum, and
#          e2fsck -fn is clean.
# A second boot with -snapshot writes the same way and must leave
# top.qcow2 byte-identical; a third writes through virtio-blk with
# cache=none (-drive if=virtio: its I/O threads call block/ at once) and
# is checked as the first.
# Systems: btvm (LINUX_TEST_BTVM=0 skips it) and qemu-system-i386 TCG as
# the reference (LINUX_TEST_QEMU=1). BTVM overrides the binary,
# LINUX_TEST_TIMEOUT the per-boot limit in seconds (600).
set -u
cd "$(dirname "$0")/../.." || exit 1
export PATH=$PATH:/usr/sbin:/sbin            # e2fsprogs
. guests/linux/lib.sh
LINUX_INITRD=$LINUX_DIR/initrd-disk.img
TIMEOUT=${LINUX_TEST_TIMEOUT:-600}
say() { echo "linux-qcow2: $*"; }

for f in "$LINUX_KERNEL" "$LINUX_INITRD"; do
    [ -f "$f" ] || { say "$f missing (run 'make linux-disk')"; exit 1; }
done
for t in mke2fs debugfs e2fsck qemu-img; do
    command -v "$t" >/dev/null || { say "$t missing (scripts/deps.sh)"; exit 1; }
done

guest_script() { # guest_script <line for /newfile> [disk device, default sda]
    printf "NEW='%s'\nDEV=/dev/%s\n" "$1" "${2:-sda}"
    cat <<'SH'
dmesg -n 1
echo "== modules"; btvm-disk-modules; echo "status $?"
i=0; while [ ! -b $DEV ]; do [ $i -ge 300 ] && break; usleep 100000; i=$((i + 1)); done
mkdir -p /mnt/d
echo "== known"; mount -t ext2 $DEV /mnt/d && cat /mnt/d/known.txt
echo "== write"; echo "$NEW" >/mnt/d/newfile && dd if=/dev/urandom of=/mnt/d/big bs=64k count=32 2>/dev/null && echo written
echo "== md5"; md5sum /mnt/d/big | cut -d' ' -f1
sync && umount /mnt/d
echo "== errors"; dmesg | grep -E 'I/O error|Buffer I/O|EXT4-fs error'
echo "== end"
SH
}

section() { printf '%s\n' "$1" | awk -v s="== $2" '$0 == s { on = 1; next } /^== / { on = 0 } on'; }
has() { printf '%s\n' "$1" | grep -qE -- "$2"; }
rnd() { head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
fail=0
check() { # check <system> <what> <condition...>
    local sys=$1 what=$2; shift 2
    if "$@"; then return 0; fi
    say "$sys: $what"; bad=1
}

# boot <system> <drive options> <append> <log>
boot() {
    local sys=$1 drive=$2 append=$3 log=$4 extra=()
    [ -n "${5:-}" ] && extra=("$5")
    case $sys in
    btvm) timeout -k 5 "$TIMEOUT" "$BTVM" run -q --engine bt --no-reboot -m "$LINUX_MEM" \
              -k "$LINUX_KERNEL" -i "$LINUX_INITRD" -a "$append" -drive "$drive" "${extra[@]}" ;;
    qemu) timeout -k 5 "$TIMEOUT" "$QEMU" -accel tcg -m "$LINUX_MEM" -kernel "$LINUX_KERNEL" \
              -initrd "$LINUX_INITRD" -append "$append" \
              -device isa-debug-exit,iobase=0xf4,iosize=0x04 -drive "$drive" "${extra[@]}" \
              -display none -serial stdio -monitor none -no-reboot ;;
    esac </dev/null >"$log" 2>&1
}

# guest_checks <system> <status> <log> <known> — what the guest printed.
guest_checks() {
    local sys=$1 st=$2 out want
    out=$(tr -d '\r' <"$3")
    want=$(linux_want_status "$sys" 0)
    [ "$st" -eq 124 ] && say "$sys: timed out after ${TIMEOUT}s"
    check "$sys" "exit status $st, want $want" [ "$st" -eq "$want" ]
    check "$sys" "script did not finish with status 0" has "$out" '^btvm-init: exit 0$'
    check "$sys" "modules: $(section "$out" modules | tr '\n' ' ')" \
        [ "$(section "$out" modules | tail -n1)" = "status 0" ]
    check "$sys" "ext2 /known.txt: '$(section "$out" known)', want '$4'" [ "$(section "$out" known)" = "$4" ]
    check "$sys" "writing: '$(section "$out" write)'" [ "$(section "$out" write)" = written ]
    check "$sys" "guest I/O errors: $(section "$out" errors | head -n 3 | tr '\n' ' ')" \
        [ -z "$(section "$out" errors)" ]
    md5=$(section "$out" md5)
    if [ "$bad" -ne 0 ]; then
        say "$sys: serial output (last 25 lines):"
        printf '%s\n' "$out" | tail -n 25 | sed 's/^/  | /'
    fi
}

run_one() {
    local sys=$1 tmp st known newline got md5 sum
    tmp=$(mktemp -d); bad=0
    known="btvm qcow2 test $(rnd)" newline="btvm wrote $(rnd)"
    mkdir "$tmp/root"
    printf '%s\n' "$known" >"$tmp/root/known.txt"
    mke2fs -q -F -t ext2 -d "$tmp/root" "$tmp/disk.raw" 16M >/dev/null &&
        qemu-img convert -f raw -O qcow2 "$tmp/disk.raw" "$tmp/base.qcow2" &&
        qemu-img create -q -f qcow2 -b "$tmp/base.qcow2" -F qcow2 "$tmp/top.qcow2" ||
        { say "$sys: making the images failed"; fail=1; rm -rf "$tmp"; return; }
    (cd "$tmp" && sha256sum base.qcow2 >base.sum)

    boot "$sys" "file=$tmp/top.qcow2,format=qcow2,if=ide,index=0,media=disk" \
        "$(linux_cmdline "$(guest_script "$newline")")" "$tmp/serial.log"
    st=$?
    guest_checks "$sys" "$st" "$tmp/serial.log" "$known"
    got=$(qemu-img check "$tmp/top.qcow2" 2>&1); st=$?
    check "$sys" "host: qemu-img check status $st: $(printf '%s\n' "$got" | tail -n 3 | tr '\n' ' ')" \
        [ "$st" -eq 0 ]
    check "$sys" "host: base.qcow2 changed" bash -c "cd '$tmp' && sha256sum -c --quiet base.sum"
    qemu-img convert -f qcow2 -O raw "$tmp/top.qcow2" "$tmp/out.raw"
    got=$(debugfs -R 'cat /newfile' "$tmp/out.raw" 2>/dev/null)
    check "$sys" "host: /newfile '$got', want '$newline'" [ "$got" = "$newline" ]
    sum=$(debugfs -R 'cat /big' "$tmp/out.raw" 2>/dev/null | md5sum | cut -d' ' -f1)
    check "$sys" "host: /big md5 $sum, guest said '$md5'" [ "$sum" = "$md5" ]
    got=$(e2fsck -fn "$tmp/out.raw" 2>&1); st=$?
    check "$sys" "host: e2fsck -fn status $st: $(printf '%s\n' "$got" | tail -n 3 | tr '\n' ' ')" \
        [ "$st" -eq 0 ]

    # -snapshot: the same writes, and top.qcow2 stays as it is.
    (cd "$tmp" && sha256sum top.qcow2 base.qcow2 >top.sum)
    boot "$sys" "file=$tmp/top.qcow2,format=qcow2,if=ide,index=0,media=disk" \
        "$(linux_cmdline "$(guest_script "second $newline")")" "$tmp/serial2.log" -snapshot
    st=$?
    guest_checks "$sys" "$st" "$tmp/serial2.log" "$known"
    check "$sys" "host: -snapshot changed the images" bash -c "cd '$tmp' && sha256sum -c --quiet top.sum"

    # virtio-blk with cache=none: requests from the I/O threads at once.
    newline="btvm virtio wrote $(rnd)"
    boot "$sys" "file=$tmp/top.qcow2,format=qcow2,if=virtio,cache=none" \
        "$(linux_cmdline "$(guest_script "$newline" vda)")" "$tmp/serial3.log"
    st=$?
    guest_checks "$sys" "$st" "$tmp/serial3.log" "$known"
    got=$(qemu-img check "$tmp/top.qcow2" 2>&1); st=$?
    check "$sys" "host: virtio: qemu-img check status $st: $(printf '%s\n' "$got" | tail -n 3 | tr '\n' ' ')" \
        [ "$st" -eq 0 ]
    qemu-img convert -f qcow2 -O raw "$tmp/top.qcow2" "$tmp/out.raw"
    got=$(debugfs -R 'cat /newfile' "$tmp/out.raw" 2>/dev/null)
    check "$sys" "host: virtio: /newfile '$got', want '$newline'" [ "$got" = "$newline" ]
    sum=$(debugfs -R 'cat /big' "$tmp/out.raw" 2>/dev/null | md5sum | cut -d' ' -f1)
    check "$sys" "host: virtio: /big md5 $sum, guest said '$md5'" [ "$sum" = "$md5" ]
    got=$(e2fsck -fn "$tmp/out.raw" 2>&1); st=$?
    check "$sys" "host: virtio: e2fsck -fn status $st" [ "$st" -eq 0 ]

    if [ "$bad" -ne 0 ]; then fail=1
    else say "$sys: all checks ok (ext2 on qcow2 over qcow2 via IDE and virtio cache=none: qemu-img check clean, data read back, -snapshot left the image alone)"
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
