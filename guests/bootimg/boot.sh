# shellcheck shell=bash
# guests/bootimg/boot.sh — booting a bootable image through the firmware
# on btvm or on qemu-system-i386, alike on both (sourced by tests/fwboot
# and bench/fwboot.sh). The machine: BOOTIMG_MEM MiB (256), no NIC (btvm
# has none, and QEMU's iPXE ROM would add its own start-up time), a guest
# reset ends the run, the debug-exit port at 0xf4 (btvm always has it;
# btvm exits with the value v, QEMU with (v<<1)|1). Media as QEMU spells
# them with -drive (format=raw spares its "probed raw" warning).
BTVM=${BTVM:-build/btvm}
QEMU=${QEMU:-qemu-system-i386}
BOOTIMG_MEM=${BOOTIMG_MEM:-256}

# bootimg_boot <btvm|qemu> [-cdrom ISO] [-hda DISK] [options...]: runs
# the emulator in the foreground with those media (QEMU's spelling, turned
# into -drive for QEMU) and the options added (display, serial, -boot are
# the caller's, e.g. -nographic); its exit status.
bootimg_boot() {
    local sys=$1 drv=(); shift
    case $sys in qemu|btvm) ;; *) echo "bootimg_boot: unknown system '$sys'" >&2; return 2 ;; esac
    while [ $# -ge 2 ]; do
        case $sys:$1 in
        qemu:-cdrom) drv+=(-drive "file=$2,format=raw,if=ide,index=2,media=cdrom,readonly=on") ;;
        qemu:-hda) drv+=(-drive "file=$2,format=raw,if=ide,index=0,media=disk") ;;
        btvm:-cdrom|btvm:-hda) drv+=("$1" "$2") ;;
        *) break ;;
        esac
        shift 2
    done
    case $sys in
    qemu) "$QEMU" -accel tcg -m "$BOOTIMG_MEM" -net none -no-reboot \
              -device isa-debug-exit,iobase=0xf4,iosize=0x04 "${drv[@]}" "$@" ;;
    btvm) "$BTVM" run -q --engine bt --no-reboot -m "$BOOTIMG_MEM" "${drv[@]}" "$@" ;;
    esac
}

# bootimg_serial_opts <btvm|qemu>: no display, COM1 on stdout (SeaBIOS
# turns its serial console on: QEMU tells it through fw_cfg under
# -nographic), and for QEMU no monitor on that stdout either.
bootimg_serial_opts() {
    case $1 in qemu) echo "-nographic -monitor none" ;; *) echo "-nographic" ;; esac
}

# bootimg_want_status <btvm|qemu> <guest status>: what the emulator returns.
bootimg_want_status() {
    case $1 in qemu) echo $(( ($2 << 1) | 1 )) ;; *) echo "$2" ;; esac
}
