# shellcheck shell=bash
# guests/linux/lib.sh — booting build/linux/{vmlinuz,initrd.img} with a
# command script, on btvm or on qemu-system-i386 (sourced by tests/linux
# and bench/linux.sh; docs/linux.md). The script travels on the kernel
# command line as btvm.cmd=<base64>; guests/linux/init runs it, prints
# "btvm-init: exit N", writes N to the isa-debug-exit port 0xf4 and powers
# off. So btvm ends with status N, QEMU (with isa-debug-exit) with 2N+1.
# IDE media, when set: LINUX_HDA (a raw disk image, primary master) and
# LINUX_CDROM (an ISO 9660 image, secondary master, read-only) — QEMU's
# -hda and -cdrom (for QEMU spelt as -drive with format=raw, which spares
# its "probed raw" warning and write restriction on sector 0).
# Virtio disks, when set: LINUX_VIRTIO, a space-separated list of raw
# images, each optionally followed by ,readonly=on; -drive
# file=...,if=virtio,format=raw on both systems (QEMU also gets
# discard=unmap, which btvm always does), /dev/vda, /dev/vdb, ... in order.
LINUX_DIR=${LINUX_DIR:-build/linux}
LINUX_KERNEL=${LINUX_KERNEL:-$LINUX_DIR/vmlinuz}
LINUX_INITRD=${LINUX_INITRD:-$LINUX_DIR/initrd.img}
LINUX_MEM=${LINUX_MEM:-256}
BTVM=${BTVM:-build/btvm}
QEMU=${QEMU:-qemu-system-i386}

# linux_cmdline <script text> [extra kernel args]: the -append string.
linux_cmdline() {
    local b64
    b64=$(printf '%s\n' "$1" | base64 -w0)
    printf 'console=ttyS0 %sbtvm.cmd=%s' "${2:+$2 }" "$b64"
}

# linux_boot <btvm|qemu> <append>: boots, serial on stdout; the
# emulator's exit status. stdin must not be a terminal the caller needs.
# A guest reset ends the run (--no-reboot, QEMU's -no-reboot) unless
# LINUX_REBOOT=1. LINUX_BTVM_OPTS: more btvm options (word-split).
linux_boot() {
    local drv=() qdrv=() qnet=() nr=(--no-reboot)
    [ "${LINUX_REBOOT:-0}" = 1 ] && nr=()
    [ -n "${LINUX_HDA:-}" ] && drv+=(-hda "$LINUX_HDA") &&
        qdrv+=(-drive "file=$LINUX_HDA,format=raw,if=ide,index=0,media=disk")
    [ -n "${LINUX_CDROM:-}" ] && drv+=(-cdrom "$LINUX_CDROM") &&
        qdrv+=(-drive "file=$LINUX_CDROM,format=raw,if=ide,index=2,media=cdrom,readonly=on")
    local v
    for v in ${LINUX_VIRTIO:-}; do
        drv+=(-drive "file=$v,if=virtio,format=raw")
        qdrv+=(-drive "file=$v,if=virtio,format=raw,discard=unmap")
        qnet=(-nic none)   # QEMU's default NIC would take 00:03.0; btvm has none
    done
    case $1 in
    btvm) "$BTVM" run -q --engine bt ${LINUX_BTVM_OPTS:-} "${nr[@]}" -m "$LINUX_MEM" -k "$LINUX_KERNEL" -i "$LINUX_INITRD" -a "$2" "${drv[@]}" ;;
    btvm-ref) "$BTVM_REF" run -q --engine bt -m "$LINUX_MEM" -k "$LINUX_KERNEL" -i "$LINUX_INITRD" -a "$2" "${drv[@]}" ;;
    btvm-kvm) "$BTVM" run -q --engine kvm "${nr[@]}" -m "$LINUX_MEM" -k "$LINUX_KERNEL" -i "$LINUX_INITRD" -a "$2" "${drv[@]}" ;;
    qemu) "$QEMU" -accel tcg -m "$LINUX_MEM" -kernel "$LINUX_KERNEL" -initrd "$LINUX_INITRD" \
              -append "$2" -device isa-debug-exit,iobase=0xf4,iosize=0x04 "${qdrv[@]}" "${qnet[@]}" \
              -display none -serial stdio -monitor none -no-reboot ;;
    *) echo "linux_boot: unknown system '$1'" >&2; return 2 ;;
    esac
}

# linux_want_status <btvm|qemu> <guest status>: what the emulator returns.
linux_want_status() {
    case $1 in qemu) echo $(( ($2 << 1) | 1 )) ;; *) echo "$2" ;; esac
}
