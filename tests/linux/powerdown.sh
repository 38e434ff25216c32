#!/usr/bin/env bash
# tests/linux/powerdown.sh — QMP's system_powerdown under Linux's ACPI
# button driver, btvm and QEMU with the same expectations.
#
# Debian's kernel has the driver as a module (button.ko), which the test
# initramfs lacks: it is taken from the same kernel package and appended
# to initrd.img (as guests/linux/disk-initrd.sh appends the disk modules).
# The guest loads it, which installs the fixed-event handler and enables
# PWRBTN_EN, prints "btvm-pwr: ready", and waits for the press. The host
# sends system_powerdown over QMP (POWERDOWN event). Linux takes the SCI
# (IRQ 9, "acpi" in /proc/interrupts), counts the fixed event
# (/sys/firmware/acpi/interrupts/ff_pwr_btn) and reports KEY_POWER to user
# space; powering off is user space's job (acpid, logind) and the busybox
# initramfs has none, so the guest only records the press, on QEMU too.
# It then exits through debug-exit (status 0: btvm 0, QEMU 1).
set -u
cd "$(dirname "$0")/../.." || exit 1
. guests/linux/lib.sh
. guests/linux/cpio.sh
for f in "$LINUX_KERNEL" "$LINUX_INITRD"; do
    [ -f "$f" ] || { echo "powerdown: $f missing (run 'make linux')"; exit 1; }
done
CACHE=${BTVM_DEBIAN_CACHE:-build/cache/debian}
deb=$(ls "$CACHE"/linux-image-6.1.0-*-686_*_i386.deb 2>/dev/null | sort -V | tail -n1)
[ -n "$deb" ] || { echo "powerdown: no linux-image .deb in $CACHE (run 'make linux')"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
ver=$(cat "$LINUX_DIR/kernel-version")
dpkg-deb --fsys-tarfile "$deb" | tar -xO "./lib/modules/$ver/kernel/drivers/acpi/button.ko" \
    >"$tmp/button.ko" || { echo "powerdown: no button.ko for $ver in $deb"; exit 1; }
{ cpio_dir lib; cpio_file lib/button.ko "$tmp/button.ko" 0100644; cpio_trailer; } |
    gzip -9n >"$tmp/addon.gz"
cat "$LINUX_INITRD" "$tmp/addon.gz" >"$tmp/initrd.img"

read -r -d '' SCRIPT <<'SH'
f=/sys/firmware/acpi/interrupts/ff_pwr_btn
insmod /lib/button.ko || echo "btvm-pwr: insmod failed"
echo "== before"; cat $f
echo "btvm-pwr: ready"
i=0; while [ $i -lt 300 ]; do set -- $(cat $f); [ "$1" -gt 0 ] && break; sleep 0.1; i=$((i+1)); done
echo "== after"; cat $f
echo "== sci"; grep -E '^ *9:' /proc/interrupts
echo "== button"; dmesg | grep -i 'power button'
echo "== end"
SH
APPEND=$(linux_cmdline "$SCRIPT")
fail=0

# drive SYSTEM SOCKET SERIAL: system_powerdown once the guest is ready.
drive() {
    python3 - "$2" "$3" <<'EOF'
import sys, time
sys.path.insert(0, "tests/tools")
import qmp
q = qmp.QMP(sys.argv[1], timeout=30)
qmp.negotiate(q)
t0 = time.time()
while "btvm-pwr: ready" not in open(sys.argv[2], errors="replace").read():
    if time.time() - t0 > 240:
        qmp.check(False, "the guest got ready")
        sys.exit(1)
    time.sleep(0.2)
qmp.check(q.cmd("system_powerdown") == {"return": {}}, "system_powerdown")
qmp.check(qmp.is_event(q.event("POWERDOWN", 10), "POWERDOWN"), "POWERDOWN event")
sys.exit(qmp.failures)
EOF
}

section() { tr -d '\r' <"$1" | awk -v s="== $2" '$0 == s { on = 1; next } /^== / { on = 0 } on'; }

for sys in btvm qemu; do
    log=$tmp/$sys.serial sock=$tmp/$sys.sock was=$fail fail=0
    case $sys in
    btvm) timeout 300 "$BTVM" run -q --engine bt --no-reboot -m "$LINUX_MEM" -k "$LINUX_KERNEL" \
              -i "$tmp/initrd.img" -a "$APPEND" -qmp "unix:$sock,server=on,wait=off" \
              </dev/null >"$log" 2>"$tmp/$sys.err" & want=0 ;;
    qemu) command -v "$QEMU" >/dev/null || { echo "powerdown: no $QEMU, skipped"; continue; }
          timeout 300 "$QEMU" -accel tcg -m "$LINUX_MEM" -kernel "$LINUX_KERNEL" \
              -initrd "$tmp/initrd.img" -append "$APPEND" \
              -device isa-debug-exit,iobase=0xf4,iosize=0x04 -display none -monitor none \
              -serial "file:$log" -no-reboot -qmp "unix:$sock,server=on,wait=off" \
              </dev/null >/dev/null 2>"$tmp/$sys.err" & want=1 ;;
    esac
    pid=$!
    drive "$sys" "$sock" "$log" >"$tmp/$sys.qmp" 2>&1 || { echo "powerdown: $sys: $(grep -v ': ok:' "$tmp/$sys.qmp")"; fail=1; }
    wait "$pid"; st=$?
    [ "$st" -eq "$want" ] || { echo "powerdown: $sys: exit status $st, want $want ($(tail -3 "$log"))"; fail=1; }
    # ff_pwr_btn: "COUNT [EN|enabled] ..." (the count, then whether it is enabled)
    before=$(section "$log" before | head -1 | awk '{print $1}')
    after=$(section "$log" after | head -1)
    sci=$(section "$log" sci | awk '{print $2}')
    [ "$before" = 0 ] && [ "$(awk '{print $1}' <<<"$after")" = 1 ] && grep -qE 'EN|enabled' <<<"$after" ||
        { echo "powerdown: $sys: ff_pwr_btn $before -> '$after', want 0 -> 1 enabled"; fail=1; }
    [ "${sci:-0}" -ge 1 ] 2>/dev/null || { echo "powerdown: $sys: no SCI counted: $(section "$log" sci)"; fail=1; }
    section "$log" button | grep -q "Power Button" ||
        { echo "powerdown: $sys: the button driver found no power button"; fail=1; }
    [ "$fail" -eq 0 ] && echo "powerdown: $sys: ff_pwr_btn 0 -> 1, $sci SCI, POWERDOWN ok"
    fail=$((fail | was))
done
[ "$fail" -eq 0 ] && echo "powerdown: ok"
exit "$fail"
