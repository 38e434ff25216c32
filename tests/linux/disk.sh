#!/usr/bin/env bash
# tests/linux/disk.sh — Debian's i386 kernel with the disk initramfs
# (make linux-disk: build/linux/initrd-disk.img) reading and writing an
# IDE disk and reading an ATAPI CD-ROM through ata_piix:
#   host   makes a 16 MiB raw image with an ext2 file system (mke2fs -d, no
#          loop device, no root) holding /known.txt, and an ISO 9660 image
#          (xorriso) holding /known.txt, each with a fresh random line;
#   guest  (-hda disk.img -cdrom cd.iso) loads the modules (btvm-disk-modules:
#          insmod in dependency order), waits for /dev/sda and /dev/sr0
#          (devtmpfs), mounts sda as ext2, prints /known.txt, writes
#          /newfile with a third random line, syncs, unmounts, mounts sr0
#          as iso9660 and prints its /known.txt, prints its ata/scsi dmesg
#          lines, and powers off through debug-exit with status 0;
#   host   checks every printed line, that ata_piix bound the PIIX IDE
#          function, set up no slave (no ataN.01: both slaves are absent)
#          and configured both drives for DMA (MWDMA or UDMA),
#          then `debugfs -R 'cat /newfile'` against the third line and
#          `e2fsck -fn` (exit 0: clean).
# Systems: btvm (LINUX_TEST_BTVM=0 skips it) and qemu-system-i386 TCG as
# the reference (LINUX_TEST_QEMU=1; off by default to keep make test short). BTVM overrides the binary,
# LINUX_TEST_TIMEOUT the per-boot limit in seconds (600).
set -u
cd "$(dirname "$0")/../.." || exit 1
export PATH=$PATH:/usr/sbin:/sbin            # e2fsprogs
. guests/linux/lib.sh
LINUX_INITRD=$LINUX_DIR/initrd-disk.img
TIMEOUT=${LINUX_TEST_TIMEOUT:-600}
say() { echo "linux-disk: $*"; }

for f in "$LINUX_KERNEL" "$LINUX_INITRD"; do
    [ -f "$f" ] || { say "$f missing (run 'make linux-disk')"; exit 1; }
done
for t in mke2fs debugfs e2fsck xorriso; do
    command -v "$t" >/dev/null || { say "$t missing (apt-get install e2fsprogs xorriso; scripts/deps.sh)"; exit 1; }
done

# The guest script travels base64'd on the command line (at most ~1500
# bytes of script): kept terse. $1 is the line /newfile gets.
guest_script() {
    printf "NEW='%s'\n" "$1"
    cat <<'SH'
dmesg -n 1
echo "== modules"; btvm-disk-modules; echo "status $?"
i=0; while [ ! -b /dev/sda ] || [ ! -b /dev/sr0 ]; do
[ $i -ge 300 ] && break; usleep 100000; i=$((i + 1)); done
echo "== blocks"; ls /sys/block | grep -E '^(sd|sr)'
mkdir -p /mnt/d /mnt/c
echo "== known"; mount -t ext2 /dev/sda /mnt/d && cat /mnt/d/known.txt
echo "== write"; echo "$NEW" >/mnt/d/newfile && sync && umount /mnt/d && echo written
echo "== cd"; mount -t iso9660 -o ro /dev/sr0 /mnt/c && cat /mnt/c/known.txt && umount /mnt/c
echo "== xfer"; for d in /sys/class/ata_device/dev*; do echo "${d##*/} $(cat $d/xfer_mode)"; done
echo "== dmesg"; dmesg | grep -E 'ata_piix|ata[0-9]|scsi|sd [0-9]|sr [0-9]|\[sd|EXT4|ISO|I/O error|Buffer I/O'
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
    local sys=$1 tmp out st want log known cdline newline dm got fsck
    tmp=$(mktemp -d); bad=0
    known="btvm disk test $(rnd)" cdline="btvm cdrom test $(rnd)" newline="btvm wrote $(rnd)"
    mkdir "$tmp/root" "$tmp/cd"
    printf '%s\n' "$known" >"$tmp/root/known.txt"
    printf '%s\n' "$cdline" >"$tmp/cd/known.txt"
    mke2fs -q -F -t ext2 -L btvmdisk -d "$tmp/root" "$tmp/disk.img" 16M >/dev/null ||
        { say "$sys: mke2fs failed"; fail=1; rm -rf "$tmp"; return; }
    xorriso -as mkisofs -quiet -R -V BTVMCD -o "$tmp/cd.iso" "$tmp/cd" 2>"$tmp/xorriso.err" ||
        { say "$sys: xorriso failed: $(cat "$tmp/xorriso.err")"; fail=1; rm -rf "$tmp"; return; }
    log=$tmp/serial.log
    LINUX_HDA=$tmp/disk.img LINUX_CDROM=$tmp/cd.iso LINUX_INITRD=$LINUX_INITRD \
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
    check "$sys" "no sda and sr0 in /sys/block: $(section "$out" blocks | tr '\n' ' ')" \
        [ "$(section "$out" blocks | tr '\n' ' ')" = "sda sr0 " ]
    check "$sys" "ext2 /known.txt: '$(section "$out" known)', want '$known'" [ "$(section "$out" known)" = "$known" ]
    check "$sys" "writing /newfile: '$(section "$out" write)'" [ "$(section "$out" write)" = written ]
    check "$sys" "iso9660 /known.txt: '$(section "$out" cd)', want '$cdline'" [ "$(section "$out" cd)" = "$cdline" ]
    dm=$(section "$out" dmesg)
    check "$sys" "dmesg: ata_piix did not bind (no 'scsi hostN: ata_piix')" has "$dm" 'scsi host[0-9]+: ata_piix'
    check "$sys" "dmesg: no ATA disk found" has "$dm" 'ata[0-9]+\.00: ATA-[0-9]+:'
    check "$sys" "dmesg: no ATAPI CD-ROM found" has "$dm" 'ata[0-9]+\.00: ATAPI:'
    # The absent slaves: libata finds them by the register echo, reads error
    # 0 and signature FF/FF after SRST ("ataN: found unknown device (class
    # 0)", on QEMU too) and sends IDENTIFY, which status 0 ends as "no
    # device": nothing is attached as ataN.01 (devN.1 stays in sysfs, class
    # unknown, on QEMU too).
    check "$sys" "dmesg: a slave device was set up: $(printf '%s\n' "$dm" | grep -E 'ata[0-9]+\.01' | head -n 2 | tr '\n' ' ')" \
        not_has "$dm" 'ata[0-9]+\.01'
    # libata prints "configured for <mode>" only after a hard reset, which
    # PATA never does: the mode in use is in sysfs (XFER_MW_DMA_2, ...).
    local xf; xf=$(section "$out" xfer)
    check "$sys" "the drives do not both use DMA: $(printf '%s\n' "$xf" | tr '\n' ' ')" \
        [ "$(printf '%s\n' "$xf" | grep -cE '^dev[0-9]+\.0 XFER_(UDMA|MW_DMA)_[0-9]$')" -eq 2 ]
    check "$sys" "dmesg: I/O errors" not_has "$dm" 'I/O error'
    got=$(debugfs -R 'cat /newfile' "$tmp/disk.img" 2>/dev/null)
    check "$sys" "host: debugfs cat /newfile: '$got', want '$newline'" [ "$got" = "$newline" ]
    got=$(debugfs -R 'cat /known.txt' "$tmp/disk.img" 2>/dev/null)
    check "$sys" "host: /known.txt changed: '$got'" [ "$got" = "$known" ]
    got=$(e2fsck -fn "$tmp/disk.img" 2>&1); fsck=$?
    check "$sys" "host: e2fsck -fn exit status $fsck: $(printf '%s\n' "$got" | tail -n 3 | tr '\n' ' ')" \
        [ "$fsck" -eq 0 ]
    # The driver's own account, so a failure (or a PIO fallback) is readable.
    say "$sys: dmesg and transfer modes:"
    printf '%s\n' "$dm" | grep -E 'ata_piix|ata[0-9]' | sed 's/^/  | /'
    [ -z "$xf" ] || printf '%s\n' "$xf" | sed 's/^/  | xfer_mode /'
    if [ "$bad" -ne 0 ]; then
        say "$sys: serial output from the script on (or its last 25 lines):"
        if has "$out" '^btvm-init: run$'; then printf '%s\n' "$out" | sed -n '/^btvm-init: run$/,$p'
        else printf '%s\n' "$out" | tail -n 25; fi | sed 's/^/  | /'
        fail=1
    else
        say "$sys: all checks ok (ext2 read+write, e2fsck clean, ISO 9660 read)"
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
