# shellcheck shell=bash
# guests/diskimg/lib.sh — booting the persistent image's kernel + initramfs
# (make diskimg) with QEMU-spelt devices, on btvm or qemu-system-i386
# (sourced by tests/linux/{virtio,net,durability}*.sh and bench/virtio.sh).
# The device options (-drive ..., -snapshot, -nic ...) are passed to both
# emulators unchanged: btvm takes QEMU's spelling. The command script
# travels as btvm.cmd=<base64> (linux_cmdline, guests/linux/lib.sh);
# guests/diskimg/init runs it, syncs, remounts / read-only and reports the
# status through the debug-exit port: btvm exits with N, QEMU with 2N+1
# (linux_want_status).
. guests/linux/lib.sh
DISKIMG_DIR=${DISKIMG_DIR:-build/diskimg}
DISKIMG_INITRD=${DISKIMG_INITRD:-$DISKIMG_DIR/initrd.img}

# diskimg_boot <btvm|qemu> <append> [device options...]: serial on stdout.
diskimg_boot() {
    local sys=$1 app=$2; shift 2
    case $sys in
    btvm) "$BTVM" run -q --engine bt --no-reboot -m "$LINUX_MEM" -k "$LINUX_KERNEL" \
              -i "$DISKIMG_INITRD" -a "$app" "$@" ;;
    qemu) "$QEMU" -accel tcg -m "$LINUX_MEM" -kernel "$LINUX_KERNEL" -initrd "$DISKIMG_INITRD" \
              -append "$app" -device isa-debug-exit,iobase=0xf4,iosize=0x04 "$@" \
              -display none -serial stdio -monitor none -no-reboot ;;
    *) echo "diskimg_boot: unknown system '$sys'" >&2; return 2 ;;
    esac
}

# diskimg_new <file> [size]: a fresh root image (guests/diskimg/build.sh).
diskimg_new() { BUILD=${BUILD:-build} bash guests/diskimg/build.sh image "$1" "${2:-64M}" 2>/dev/null; }

# diskimg_free_port: a TCP port on 127.0.0.1 nobody listens on right now.
diskimg_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# diskimg_systems: the systems a test runs on, from DISKIMG_TEST_SYSTEMS
# (default "btvm qemu"); qemu is left out with a note when not installed.
diskimg_systems() {
    local s
    for s in ${DISKIMG_TEST_SYSTEMS:-btvm qemu}; do
        case $s in
        qemu) command -v "$QEMU" >/dev/null || { echo "note: $QEMU not installed, QEMU run skipped" >&2; continue; } ;;
        btvm) [ -x "$BTVM" ] || { echo "note: $BTVM missing (run 'make')" >&2; echo btvm; continue; } ;;
        esac
        echo "$s"
    done
}
