# shellcheck shell=bash
# guests/bootimg/lib.sh — what the boot-image builders share (sourced by
# iso.sh, disk.sh and memtest.sh): paths, messages, and the grub.cfg that
# boots build/linux's kernel and initramfs. docs/guests.md, "Bootable
# images".
set -eu
BUILD=${BUILD:-build}
OUT=$BUILD/bootimg
LINUX_DIR=$BUILD/linux
GRUB_DIR=${GRUB_DIR:-/usr/lib/grub/i386-pc}
export PATH=$PATH:/usr/sbin:/sbin            # mke2fs, sfdisk
mkdir -p "$OUT"

say() { echo "bootimg: $*" >&2; }
die() { echo "bootimg: $*" >&2; exit 1; }

need_tools() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null ||
            die "$t missing (scripts/deps.sh installs it: run make, or apt-get install grub-pc-bin grub-common xorriso mtools fdisk e2fsprogs memtest86+)"
    done
}

# The command script the initramfs runs (guests/linux/init: btvm.cmd=),
# the same on every image: it prints markers the tests and the bench look
# for, then init prints "btvm-init: exit 0", writes 0 to the debug-exit
# port and powers off. bios_vendor comes from the SMBIOS tables, which only
# the firmware writes: a direct kernel boot has none.
bootimg_script() {
    cat <<'SH'
echo "btvm-fwboot: init ok"
echo "btvm-fwboot: cmdline $(cat /proc/cmdline | sed 's/ btvm.cmd=.*//')"
echo "btvm-fwboot: bios_vendor $(cat /sys/class/dmi/id/bios_vendor 2>/dev/null)"
SH
}

# bootimg_grub_serial: GRUB's own console on COM1 as well as the screen,
# then a marker line: the first thing the boot loader prints on serial.
bootimg_grub_serial() {
    cat <<'EOF2'
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
echo "btvm-fwboot: grub"
EOF2
}

# bootimg_linux_cfg <image tag>: a grub.cfg booting /boot/vmlinuz with
# /boot/initrd.img at once (timeout 0). The kernel's console goes to the
# VGA text screen and to COM1; the last console= is /dev/console, so init
# and its shell talk over serial. btvm.img=<tag> tells the boots apart.
bootimg_linux_cfg() {
    local b64
    b64=$(bootimg_script | base64 -w0)
    bootimg_grub_serial
    cat <<EOF2
set timeout=0
set default=0
menuentry "btvm Linux (busybox initramfs)" {
    echo "btvm-fwboot: loading linux"
    linux /boot/vmlinuz console=tty0 console=ttyS0 btvm.img=$1 btvm.cmd=$b64
    initrd /boot/initrd.img
}
EOF2
}

# bootimg_stage_linux <dir>: the kernel and the initramfs under <dir>/boot.
bootimg_stage_linux() {
    local f
    for f in vmlinuz initrd.img; do
        [ -f "$LINUX_DIR/$f" ] || die "$LINUX_DIR/$f missing (run 'make linux')"
    done
    mkdir -p "$1/boot/grub"
    cp "$LINUX_DIR/vmlinuz" "$LINUX_DIR/initrd.img" "$1/boot/"
}
