#!/usr/bin/env bash
# tests/linux/ps2.sh — Debian's i386 kernel probes the i8042 and both PS/2
# devices with its own drivers: i8042 (self-test, AUX loopback, MUX and
# AUX IRQ tests), atkbd (built in: GETID, LEDs, typematic) and psmouse
# (the module, loaded from a cpio appended to the busybox initramfs: its
# protocol probes Synaptics, ALPS, Elantech, ... and settles on the
# IntelliMouse Explorer). Checks that Linux finds the controller through
# the DSDT's PNP0303/PNP0F13 devices, that both input devices appear with the
# names and IDs Linux gives them on QEMU, that IRQ 1 and 12 were taken,
# and that no i8042/psmouse errors were logged.
# Systems: btvm (LINUX_TEST_BTVM=0 skips it) and qemu-system-i386 TCG as
# the reference (LINUX_TEST_QEMU=1). BTVM overrides the binary,
# LINUX_TEST_TIMEOUT the per-boot limit in seconds (600).
set -u
cd "$(dirname "$0")/../.." || exit 1
. guests/linux/lib.sh
. guests/linux/cpio.sh
TIMEOUT=${LINUX_TEST_TIMEOUT:-600}
CACHE=${CACHE:-build/cache/debian}
say() { echo "linux-ps2: $*"; }

for f in "$LINUX_KERNEL" "$LINUX_INITRD"; do
    [ -f "$f" ] || { say "$f missing (run 'make linux')"; exit 1; }
done

# The busybox initramfs plus a second cpio member with psmouse.ko (the
# kernel unpacks concatenated archives in order).
deb=$(ls "$CACHE"/linux-image-6.1.0-*-686_*_i386.deb 2>/dev/null | sort -V | tail -n1)
[ -n "$deb" ] || { say "no linux-image .deb in $CACHE (run 'make linux')"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" --wildcards './lib/modules/*/psmouse.ko' ||
    { say "no psmouse.ko in $deb"; exit 1; }
ko=$(ls "$tmp"/lib/modules/*/kernel/drivers/input/mouse/psmouse.ko)
LINUX_INITRD=$tmp/initrd-ps2.img
{ cat "$LINUX_DIR/initrd.img"; { cpio_file psmouse.ko "$ko" 0100644; cpio_trailer; } | gzip -9; } >"$LINUX_INITRD"
export LINUX_INITRD

read -r -d '' SCRIPT <<'SH'
insmod /psmouse.ko
i=0; while ! grep -q Mouse /proc/bus/input/devices; do
[ $i -ge 100 ] && break; usleep 100000; i=$((i + 1)); done
echo "== devices"; grep -E '^(I|N|B: LED)' /proc/bus/input/devices
echo "== irqs"; grep i8042 /proc/interrupts
echo "== dmesg"; dmesg | grep -E 'i8042|serio|psmouse|atkbd'
echo "== end"
SH
APPEND=$(linux_cmdline "$SCRIPT")

section() { printf '%s\n' "$1" | awk -v s="== $2" '$0 == s { on = 1; next } /^== / { on = 0 } on'; }
has() { printf '%s\n' "$1" | grep -qE -- "$2"; }
fail=0
check() { # check <system> <what> <condition...>
    local sys=$1 what=$2; shift 2
    "$@" && return 0
    say "$sys: $what"; bad=1
}

run_one() {
    local sys=$1 out st log dev irq dm
    log=$(mktemp); bad=0
    timeout -k 5 "$TIMEOUT" bash -c '. guests/linux/lib.sh; linux_boot "$1" "$2"' _ "$sys" "$APPEND" \
        </dev/null >"$log" 2>&1
    st=$?
    out=$(tr -d '\r' <"$log")
    rm -f "$log"
    check "$sys" "exit status $st, want $(linux_want_status "$sys" 0)" [ "$st" -eq "$(linux_want_status "$sys" 0)" ]
    check "$sys" "script did not finish" has "$out" '^btvm-init: exit 0$'
    dev=$(section "$out" devices)
    check "$sys" "no 'AT Translated Set 2 keyboard' (atkbd)" has "$dev" '^N: Name="AT Translated Set 2 keyboard"$'
    check "$sys" "keyboard ID is not ab41 (MF2, translated)" has "$dev" '^I: Bus=0011 Vendor=0001 Product=0001 Version=ab41$'
    check "$sys" "keyboard has not the three LEDs" has "$dev" '^B: LED=7$'
    check "$sys" "no 'ImExPS/2 Generic Explorer Mouse' (psmouse, ID 4)" has "$dev" '^N: Name="ImExPS/2 Generic Explorer Mouse"$'
    irq=$(section "$out" irqs)
    check "$sys" "IRQ 1 not taken" has "$irq" '^ *1: +[1-9][0-9]* .*1-edge +i8042$'
    check "$sys" "IRQ 12 not taken" has "$irq" '^ *12: +[1-9][0-9]* .*12-edge +i8042$'
    dm=$(section "$out" dmesg)
    check "$sys" "the DSDT's KBD/MOU devices not found (PNP0303, PNP0F13)" \
        has "$dm" 'i8042: PNP: PS/2 Controller \[PNP0303:KBD,PNP0f13:MOU\] at 0x60,0x64 irq 1,12'
    check "$sys" "no KBD port" has "$dm" 'serio: i8042 KBD port at 0x60,0x64 irq 1'
    check "$sys" "no AUX port" has "$dm" 'serio: i8042 AUX port at 0x60,0x64 irq 12'
    check "$sys" "errors: $(printf '%s\n' "$dm" | grep -iE 'fail|error|timeout|bad|lost' | head -n 3 | tr '\n' ' ')" \
        bash -c '! printf "%s\n" "$1" | grep -qiE "fail|error|timeout|bad|lost"' _ "$dm"
    if [ "$bad" -ne 0 ]; then
        printf '%s\n' "$out" | tail -n 25 | sed 's/^/  | /'
        fail=1
    else
        say "$sys: keyboard and mouse probed ok"
    fi
}

[ "${LINUX_TEST_QEMU:-0}" = 1 ] && run_one qemu
[ "${LINUX_TEST_BTVM:-1}" = 1 ] && run_one btvm
exit "$fail"
