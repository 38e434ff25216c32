#!/usr/bin/env bash
# tests/guest/biosboot.sh — boots Debian's SeaBIOS (firmware boot: drives,
# no -kernel) with nothing bootable on btvm and on qemu-system-i386, and
# checks that both reach the same point: the serial console (SeaBIOS's
# sercon, fw_cfg key 0x04) shows the boot attempts in -boot order and "No
# bootable device." (QEMU: -nographic -nodefaults; btvm: -vga none, the same PCI devices), and the debug log (port 0x402) shows POST on QEMU's
# i440FX: PCI probing, ATA disk found, ACPI tables from the table loader.
# Two runs per system: -hda alone (no boot menu prompt), and -hda + -cdrom
# with -boot order=dc,menu=on.
# Then two boots: a hard-disk MBR (guests/biosboot/mbr.S: INT 10h output,
# the same line on port 0xE9 into -debugcon file:F, INT 13h read of sector
# 2, debug-exit 0x31) and an El Torito
# no-emulation CD (guests/biosboot/cd.S: debug-exit with DL = 0xE0), a
# boot sector checking the A20 wrap from real mode (guests/biosboot/a20.S:
# debug-exit 0x5A), and -boot reboot-timeout.
set -u
BTVM=${BTVM:-build/btvm}
cd "$(dirname "$0")/../.."
BIOS=/usr/share/seabios/bios-256k.bin
[ -f "$BIOS" ] || { echo "biosboot: $BIOS missing (apt-get install seabios)"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
truncate -s 1M "$tmp/disk.img"      # zeros: no boot signature
truncate -s 1M "$tmp/cd.iso"        # no ISO 9660 / El Torito: unreadable boot record
fail=0
MBR=build/guests/biosboot/mbr.bin CDBOOT=build/guests/biosboot/cd.bin
[ -f "$MBR" ] && [ -f "$CDBOOT" ] || { echo "biosboot: $MBR or $CDBOOT missing (run make guests)"; exit 1; }
cp "$MBR" "$tmp/mbr.img"; truncate -s 1M "$tmp/mbr.img"
A20=build/guests/biosboot/a20.bin
[ -f "$A20" ] || { echo "biosboot: $A20 missing (run make guests)"; exit 1; }
cp "$A20" "$tmp/a20.img"; truncate -s 1M "$tmp/a20.img"
mkdir "$tmp/isodir"; cp "$CDBOOT" "$tmp/isodir/boot.bin"
xorriso -as mkisofs -quiet -o "$tmp/boot.iso" -b boot.bin -no-emul-boot -boot-load-size 4 \
    "$tmp/isodir" 2>/dev/null || { echo "biosboot: xorriso failed"; exit 1; }

# run NAME OUT LOG CMD...: start CMD, wait until OUT shows "No bootable
# device." (or 60 s), stop it.
run() {
    local out=$2; shift 3
    "$@" </dev/null >"$out" 2>"$out.err" &
    local pid=$! t=0
    while [ $t -lt 600 ] && kill -0 $pid 2>/dev/null && ! grep -q "No bootable device\." "$out" 2>/dev/null; do
        sleep 0.1; t=$((t + 1))
    done
    sleep 0.2; kill $pid 2>/dev/null; wait $pid 2>/dev/null
    tr -d '\r' <"$out" >"$out.txt"
}

# expect NAME FILE LINE...: every LINE appears in FILE, in this order.
expect() {
    local name=$1 file=$2; shift 2
    local rest; rest=$(cat "$file")
    for line in "$@"; do
        local after=${rest#*"$line"}
        if [ "$after" = "$rest" ]; then
            echo "biosboot: $name: FAIL: missing (in order) '$line'"; fail=1; return
        fi
        rest=$after
    done
    echo "biosboot: $name ok"
}

serial_hd=("SeaBIOS (version" "Booting from Hard Disk..." "Boot failed: not a bootable disk"
           "No bootable device.")
serial_dc=("SeaBIOS (version" "Press ESC for boot menu." "Booting from DVD/CD..." "Boot failed: Could not read from CDROM"
           "Booting from Hard Disk..." "Boot failed: not a bootable disk" "No bootable device.")
debug=("Running on QEMU (i440fx)" "Found QEMU fw_cfg" "qemu/e820: addr 0x0000000000000000 len 0x0000000008000000 [RAM]"
       "Moving pm_base to 0x600" "Found 4 PCI devices" "PCI: map device bdf=00:01.1  bar 4, addr 0000c000, size 00000010 [io]"
       "sercon: using ioport 0x3f8" "ata0-0: " "HARDDISK ATA-7 Hard-Disk (1 MiBytes)"
       "Booting from Hard Disk...")

for sys in btvm qemu; do
    if [ $sys = qemu ]; then
        command -v qemu-system-i386 >/dev/null || { echo "biosboot: qemu-system-i386 not installed, reference run skipped"; continue; }
        hd=(qemu-system-i386 -accel tcg -m 128 -nodefaults -nographic -serial stdio -monitor none
            -no-reboot -drive file="$tmp/disk.img",format=raw,if=ide,index=0
            -chardev file,id=dbg,path="$tmp/$sys-hd.log" -device isa-debugcon,iobase=0x402,chardev=dbg)
        dc=(qemu-system-i386 -accel tcg -m 128 -nodefaults -nographic -serial stdio -monitor none
            -no-reboot -drive file="$tmp/disk.img",format=raw,if=ide,index=0
            -drive file="$tmp/cd.iso",format=raw,media=cdrom,index=2 -boot order=dc,menu=on)
    else
        hd=("$BTVM" run -q --engine=bt -vga none -m 128 -hda "$tmp/disk.img" --bios-log "$tmp/$sys-hd.log")
        dc=("$BTVM" run -q --engine=bt -vga none -m 128 -hda "$tmp/disk.img" -cdrom "$tmp/cd.iso" -boot order=dc,menu=on)
    fi
    run $sys "$tmp/$sys-hd.out" x "${hd[@]}"
    expect "$sys -hda serial" "$tmp/$sys-hd.out.txt" "${serial_hd[@]}"
    if grep -q "Press ESC" "$tmp/$sys-hd.out.txt"; then
        echo "biosboot: $sys: FAIL: a boot menu prompt without -boot menu=on"; fail=1
    fi
    expect "$sys -hda debug log" "$tmp/$sys-hd.log" "${debug[@]}"
    run $sys "$tmp/$sys-dc.out" x "${dc[@]}"
    expect "$sys -boot order=dc,menu=on serial" "$tmp/$sys-dc.out.txt" "${serial_dc[@]}"
done
# boot NAME WANT-STATUS FILE CMD...: CMD must exit with WANT-STATUS (the boot
# sector's debug-exit) within 60 s; its serial output goes to FILE.
boot() {
    local name=$1 want=$2 out=$3; shift 3
    timeout 60 "$@" </dev/null 2>"$out.err" | tr -d '\r' >"$out"
    local st=${PIPESTATUS[0]}
    if [ "$st" -ne "$want" ]; then
        echo "biosboot: $name: FAIL: exit status $st, want $want"; fail=1; head -5 "$out.err"
    else
        echo "biosboot: $name: status $st ok"
    fi
}

QEMU_EXIT=(-device isa-debug-exit,iobase=0xf4,iosize=0x04)
# -boot reboot-timeout=MS (etc/boot-fail-wait): SeaBIOS resets the machine
# after "No bootable device"; btvm --no-reboot then ends with 6, QEMU's
# -no-reboot with 0.
boot "btvm reboot-timeout" 6 "$tmp/btvm-rt" "$BTVM" run -q --engine=bt --no-reboot \
     -hda "$tmp/disk.img" -boot reboot-timeout=100
expect "btvm reboot-timeout serial" "$tmp/btvm-rt" "No bootable device.  Retrying in 0 seconds." "Rebooting"
boot "btvm mbr" $((0x31)) "$tmp/btvm-mbr" "$BTVM" run -q --engine=bt -hda "$tmp/mbr.img" \
     -debugcon file:"$tmp/btvm-mbr.dbg"
expect "btvm mbr -debugcon file:" "$tmp/btvm-mbr.dbg" "mbr: running"
expect "btvm mbr serial" "$tmp/btvm-mbr" "Booting from Hard Disk..." "mbr: running" \
       "sector 2: read through int 13h"
boot "btvm a20 (real mode, port 0x92)" $((0x5A)) "$tmp/btvm-a20" "$BTVM" run -q --engine=bt \
     -hda "$tmp/a20.img"
boot "btvm cd" $((0xE0)) "$tmp/btvm-cd" "$BTVM" run -q --engine=bt -cdrom "$tmp/boot.iso"
expect "btvm cd serial" "$tmp/btvm-cd" "Booting from DVD/CD..." "cd: El Torito boot image running"
if command -v qemu-system-i386 >/dev/null; then
    q=(qemu-system-i386 -accel tcg -m 128 -nodefaults -nographic -serial stdio -monitor none
       "${QEMU_EXIT[@]}")
    boot "qemu mbr" $(((0x31 << 1 | 1) & 255)) "$tmp/qemu-mbr" "${q[@]}" \
         -drive file="$tmp/mbr.img",format=raw,if=ide,index=0 -debugcon file:"$tmp/qemu-mbr.dbg"
    expect "qemu mbr -debugcon file:" "$tmp/qemu-mbr.dbg" "mbr: running"
    expect "qemu mbr serial" "$tmp/qemu-mbr" "Booting from Hard Disk..." "mbr: running" \
           "sector 2: read through int 13h"
    boot "qemu reboot-timeout" 0 "$tmp/qemu-rt" "${q[@]}" \
         -drive file="$tmp/disk.img",format=raw,if=ide,index=0 -boot reboot-timeout=100 -no-reboot
    expect "qemu reboot-timeout serial" "$tmp/qemu-rt" "No bootable device.  Retrying in 0 seconds." \
           "Rebooting"
    boot "qemu a20 (real mode, port 0x92)" $(((0x5A << 1 | 1) & 255)) "$tmp/qemu-a20" "${q[@]}" \
         -drive file="$tmp/a20.img",format=raw,if=ide,index=0
    boot "qemu cd" $(((0xE0 << 1 | 1) & 255)) "$tmp/qemu-cd" "${q[@]}" -cdrom "$tmp/boot.iso"
    expect "qemu cd serial" "$tmp/qemu-cd" "Booting from DVD/CD..." "cd: El Torito boot image running"
fi
exit "$fail"
