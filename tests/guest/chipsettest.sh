#!/usr/bin/env bash
# tests/guest/chipsettest.sh — runs guests/chipsettest (BIOS ROM at 0xF0000
# and 0xFFFF0000, i440FX PAM shadowing, A20 through port 0x92 and the
# i8042's output port, the APM
# port's ACPI enable) on btvm with Debian's SeaBIOS ROM mapped (-kernel
# with -bios: mapped, not run; status 0) and on qemu-system-i386 (status 1
# = guest 0). QEMU maps a write-only PAM segment as RAM, so its run leaves
# out pam_wo (wo=skip), which btvm runs with the chipset's rule.
set -u
BTVM=${BTVM:-build/btvm}
cd "$(dirname "$0")/../.."
ELF=build/guests/chipsettest.elf
BIOS=/usr/share/seabios/bios-256k.bin
TESTS="rom pam_rw pam_ro pam_off pam_back a20_port92 a20_kbc apm"
fail=0
[ -f "$ELF" ] || { echo "chipsettest: $ELF missing (run make guests)"; exit 1; }
[ -f "$BIOS" ] || { echo "chipsettest: $BIOS missing (apt-get install seabios)"; exit 1; }
err=$(mktemp); trap 'rm -f "$err"' EXIT

. tests/guest/lib/suite.sh
SUITE=chipsettest
check() {
    if suite_check "$@"; then echo "chipsettest: $1: all $(echo $5 | wc -w) cases ok"; else fail=1; fi
}

for engine in bt; do
    out=$(timeout 60 "$BTVM" run -q --engine=$engine -k "$ELF" -bios "$BIOS" </dev/null 2>"$err"); st=$?
    check "btvm ($engine)" "$st" 0 "$out" "$TESTS pam_wo"
done

if command -v qemu-system-i386 >/dev/null; then
    out=$(timeout 60 qemu-system-i386 -accel tcg -kernel "$ELF" -append "wo=skip" \
          -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
          -display none -serial stdio -monitor none -no-reboot </dev/null 2>"$err"); st=$?
    check qemu "$st" 1 "$out" "$TESTS"
else
    echo "chipsettest: qemu-system-i386 not installed, reference run skipped"
fi
exit "$fail"
