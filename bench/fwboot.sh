#!/usr/bin/env bash
# bench/fwboot.sh — the "fwboot" workload: a PC booting from CD-ROM the
# way a PC boots: SeaBIOS, then GRUB from build/bootimg/linux.iso (make
# bootimg), then Debian's i386 kernel and the busybox initramfs, on btvm's
# BT engine and QEMU TCG with the same machine (guests/bootimg/boot.sh)
# and -nographic. Writes $BENCH_OUT/fwboot.csv (linux.csv's columns).
# Rows, all host wall time from launching the emulator ("power-on") to a
# line on the guest's serial port:
#   fw_post            SeaBIOS's "Booting from" line: its POST, the
#                      option ROMs, the boot menu's wait (none), the
#                      boot device probe. Needs SeaBIOS's serial console
#                      (QEMU turns it on with -nographic); a system whose
#                      serial never shows the line gets no row, and a note
#   fw_boot_to_loader  GRUB's first serial output (the marker grub.cfg
#                      echoes once its serial terminal is up)
#   fw_boot_to_init    the initramfs's /init starting ("btvm-init: uptime")
# Each boot runs to init's "btvm-init: exit 0" and the debug-exit status.
# FWBOOT_BENCH_SYSTEMS picks systems (default "btvm-bt qemu-tcg");
# BENCH_RUNS boots per system, interleaved round by round as in
# bench/linux.sh. btvm's rows are left out, with a note, while btvm cannot
# boot firmware (no -bios in `btvm run --help`).
set -u
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.." || exit 1
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
BUILD=${BUILD:-build}
BTVM=${BTVM:-$BUILD/btvm}
# shellcheck source=guests/bootimg/boot.sh
. guests/bootimg/boot.sh
ISO=${BOOTIMG_DIR:-$BUILD/bootimg}/linux.iso
csv=$BENCH_OUT/fwboot.csv
SYSTEMS=${FWBOOT_BENCH_SYSTEMS:-btvm-bt qemu-tcg}
ROWS="fw_post fw_boot_to_loader fw_boot_to_init"

SAMPLES=$(mktemp)
trap 'rm -f "$SAMPLES"' EXIT

# boot_once <btvm|qemu> <system> <run>: one boot, timestamping serial
# lines as they arrive. Markers are matched anywhere in a line: GRUB's
# serial terminal, SeaBIOS's copy of the screen and the kernel share it.
boot_once() {
    local emu=$1 sys=$2 log="$BENCH_OUT/logs/fwboot-$2-$3.log" t0 line st="" want
    local tpost="" tload="" tinit="" s
    : >"$log"
    t0=$(bench_now)
    # shellcheck disable=SC2046
    while IFS= read -r line; do
        line=${line%$'\r'}
        case $line in
        "btvm-bench-status "*) st=${line#btvm-bench-status }; continue ;;
        *"Booting from "*) [ -n "$tpost" ] || tpost=$(bench_now) ;;
        *"btvm-fwboot: grub"*) [ -n "$tload" ] || tload=$(bench_now) ;;
        *"btvm-init: uptime"*) [ -n "$tinit" ] || tinit=$(bench_now) ;;
        esac
        printf '%s\n' "$line" >>"$log"
    done < <(timeout -k 5 "$BENCH_TIMEOUT" bash -c '. guests/bootimg/boot.sh; bootimg_boot "$@"' \
                 _ "$emu" -cdrom "$ISO" $(bootimg_serial_opts "$emu") </dev/null 2>&1; echo "btvm-bench-status $?")
    [ "$st" = 124 ] || [ "$st" = 137 ] && bench_die "$sys: timed out after ${BENCH_TIMEOUT}s (log: $log)"
    want=$(bootimg_want_status "$emu" 0)
    if [ "$st" != "$want" ] || ! grep -q 'btvm-init: exit 0' "$log" || [ -z "$tload" ] || [ -z "$tinit" ]; then
        tail -n 20 "$log" >&2
        bench_die "$sys: boot $3 exited $st, expected $want after GRUB's marker and 'btvm-init: exit 0' (log: $log)"
    fi
    for s in "fw_post $tpost" "fw_boot_to_loader $tload" "fw_boot_to_init $tinit"; do
        # shellcheck disable=SC2086
        set -- $s
        [ $# = 2 ] && echo "$1 $sys $(awk -v a="$t0" -v b="$2" 'BEGIN { printf "%.6f", b - a }')" >>"$SAMPLES"
    done
}

bench_csv_begin "$csv" '^btvm-fwboot: '
[ -f "$ISO" ] || bench_die "$ISO is missing (run 'make bootimg' first)"
RUN_SYSTEMS=""
for sys in $SYSTEMS; do
    case $sys in
    btvm-bt)
        [ -x "$BTVM" ] || bench_die "$BTVM is missing (run 'make all' first)"
        if ! "$BTVM" run --help 2>&1 | grep -qE -- ' --?bios '; then
            bench_note "SKIP btvm-bt rows: this btvm boots no firmware yet (no -bios in 'btvm run --help')"
            continue
        fi ;;
    qemu-tcg) bench_qemu_present || continue ;;
    *) bench_die "unknown system '$sys' in FWBOOT_BENCH_SYSTEMS (btvm-bt, qemu-tcg)" ;;
    esac
    RUN_SYSTEMS="$RUN_SYSTEMS $sys"
done
bench_rounds fwboot
for sys in $RUN_SYSTEMS; do
    grep -q "^fw_post $sys " "$SAMPLES" ||
        bench_note "no fw_post row for $sys: no 'Booting from' line on its serial port (SeaBIOS's serial console off?)"
done
for wl in $ROWS; do
    for sys in $SYSTEMS; do
        bench_sample_row "$SAMPLES" "$wl" "$sys" >>"$BENCH_CSV.tmp"
    done
done
bench_csv_end
echo
column -t -s, "$csv" 2>/dev/null || cat "$csv"
for wl in $ROWS; do
    echo
    bench_ratios "$csv" "$wl" qemu-tcg/btvm-bt
done
