#!/usr/bin/env bash
# tests/guest/vgabios.sh — SeaBIOS and its VGA BIOS (vgabios-stdvga.bin,
# run from the VGA's PCI ROM BAR) on btvm's screen: a firmware boot with
# an empty disk, ended with Ctrl-A X on a pseudo-terminal (script(1)) once
# SeaBIOS gave up; btvm's --screendump-text must show SeaBIOS's banner and
# its "No bootable device." drawn by the VGA BIOS in text mode, and the
# PNG must be the 720x400 text raster. Needs a btvm that boots firmware
# (-bios in its help); without one it says so and passes.
set -u
BTVM=${BTVM:-build/btvm}   # override to test another build
cd "$(dirname "$0")/../.."
if ! "$BTVM" --help 2>&1 | grep -q -- '-bios'; then
    echo "vgabios: this btvm boots no firmware (no -bios option): nothing to check"
    exit 0
fi
command -v script >/dev/null || { echo "vgabios: script(1) missing (util-linux)"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
truncate -s 1M "$tmp/empty.img"
mkfifo "$tmp/in"
timeout 150 script -qec "$BTVM run -q --engine=bt -m 64 -hda $tmp/empty.img \
    --screendump $tmp/screen.png --screendump-text $tmp/screen.txt" /dev/null \
    <"$tmp/in" >"$tmp/out" 2>&1 &
pid=$!
exec 3>"$tmp/in"
for i in $(seq 1200); do
    grep -aq "No bootable device" "$tmp/out" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
sleep 0.5
printf '\001x' >&3
exec 3>&-
wait "$pid"; st=$?
[ "$st" -eq 0 ] || { echo "vgabios: btvm under script exited with status $st"; tail -c 600 "$tmp/out"; fail=1; }
if [ -f "$tmp/screen.txt" ]; then
    head -1 "$tmp/screen.txt" | grep -q '^SeaBIOS (version ' ||
        { echo "vgabios: row 1 is not SeaBIOS's banner:"; head -3 "$tmp/screen.txt"; fail=1; }
    grep -qx 'No bootable device.' "$tmp/screen.txt" ||
        { echo "vgabios: the screen lacks 'No bootable device.':"; cat "$tmp/screen.txt"; fail=1; }
else
    echo "vgabios: no text dump written"; fail=1
fi
if [ -f "$tmp/screen.png" ]; then
    # IHDR: width and height, big-endian, at bytes 16-23.
    dims=$(od -An -tu1 -j16 -N8 "$tmp/screen.png" | awk '{ print $3*256+$4, $7*256+$8 }')
    [ "$dims" = "720 400" ] || { echo "vgabios: the PNG is $dims, want 720 400"; fail=1; }
else
    echo "vgabios: no PNG written"; fail=1
fi
[ "$fail" -eq 0 ] && echo "vgabios: SeaBIOS's VGA text is on the screen"
exit "$fail"
