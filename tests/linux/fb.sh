#!/usr/bin/env bash
# tests/linux/fb.sh — Linux's framebuffer drivers on the VGA, bochs-drm
# and vesafb.
# bochs-drm, on the Bochs VBE (PCI 1234:1111): Debian's bochs.ko and its dependencies (drm,
# drm_kms_helper, ttm, drm_ttm_helper, drm_vram_helper and the fbdev
# helpers, the closure of the .ko files' "depends=") are appended to the
# busybox initramfs and loaded with insmod. The guest checks that fb0 is
# "bochs-drmdrmfb" (dmesg: "fb0: bochs-drmdrmfb frame buffer device"),
# unbinds the framebuffer console, writes a known pattern (eight colour
# bars, reversed on the lower half: tests/tools/fbpattern.py) into
# /dev/fb0 with busybox dd, prints "btvm-fb: drawn" and waits. The test
# then takes a screendump through the emulator's monitor (-monitor unix:,
# screendump -f png) and checks every pixel; `quit` ends the run.
# vesafb (built in): the same guest script on a GRUB ISO booted through
# SeaBIOS with gfxpayload=1024x768x32 (the VGA BIOS's VBE mode set), so
# fb0 is "VESA VGA" (see below why not -kernel).
# Systems: btvm (LINUX_TEST_BTVM=0 skips it) and qemu-system-i386 TCG with
# -vga std as the reference (LINUX_TEST_QEMU=1, the default here: it shows
# the pattern and the check are right). LINUX_TEST_TIMEOUT: seconds per
# boot (600).
set -u
cd "$(dirname "$0")/../.." || exit 1
. guests/linux/lib.sh
. guests/linux/cpio.sh
TIMEOUT=${LINUX_TEST_TIMEOUT:-600}
CACHE=${CACHE:-build/cache/debian}
say() { echo "linux-fb: $*"; }

for f in "$LINUX_KERNEL" "$LINUX_INITRD"; do
    [ -f "$f" ] || { say "$f missing (run 'make linux')"; exit 1; }
done
deb=$(ls "$CACHE"/linux-image-6.1.0-*-686_*_i386.deb 2>/dev/null | sort -V | tail -n1)
[ -n "$deb" ] || { say "no linux-image .deb in $CACHE (run 'make linux')"; exit 1; }
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" --wildcards './lib/modules/*/kernel/drivers/gpu/*' \
    './lib/modules/*/kernel/drivers/video/*' || { say "cannot unpack $deb"; exit 1; }
mdir=$(ls -d "$tmp"/lib/modules/*/kernel)

# The load order: dependencies first (depends= in each module's .modinfo).
declare -A KO DONE
while IFS= read -r f; do n=${f##*/}; n=${n%.ko}; KO[${n//-/_}]=$f; done < <(find "$mdir" -name '*.ko')
ORDER=()
visit() {
    local m=${1//-/_} d
    [ -n "${DONE[$m]:-}" ] && return 0
    [ -n "${KO[$m]:-}" ] || { say "module $m not in $deb"; exit 1; }
    DONE[$m]=1
    for d in $(tr '\0' '\n' <"${KO[$m]}" | sed -n 's/^depends=//p' | tr ',' ' '); do visit "$d"; done
    ORDER+=("$m")
}
visit bochs
# The guest: modules in order; fb0 must be bochs-drm's; fbcon let go so
# it draws nothing more (no cursor); then one line of the pattern per
# half (BGRX, 32 bpp) repeated over each half with dd.
cat >"$tmp/draw.sh" <<SH
[ "\$1" = drm ] && for m in ${ORDER[*]}; do insmod /fb/\$m.ko || echo "btvm-fb: insmod \$m failed"; done
i=0; while [ ! -e /dev/fb0 ] && [ \$i -lt 100 ]; do usleep 100000; i=\$((i + 1)); done
echo "== fb"; cat /proc/fb
echo "== dmesg"; dmesg | grep -E 'bochs|fb0|drm|vesafb' | sed 's/^\[[ 0-9.]*\] //'
echo "== geometry"
G=/sys/class/graphics/fb0
echo "size \$(cat \$G/virtual_size) bpp \$(cat \$G/bits_per_pixel) stride \$(cat \$G/stride)"
for v in /sys/class/vtconsole/vtcon*; do grep -q 'frame buffer' \$v/name && echo 0 >\$v/bind; done
W=\$(cut -d, -f1 \$G/virtual_size); H=\$(cut -d, -f2 \$G/virtual_size)
# Escapes stay text (a shell variable cannot hold NUL bytes): a line's
# printf format is built as text, and printf repeats a format once per
# argument (%.0s prints nothing of it).
rep() { n=\$2; s=; while [ \$n -gt 0 ]; do s=\$s\$1; n=\$((n - 1)); done; echo "\$s"; }
B0='\\000\\000\\377\\000'; B1='\\000\\377\\000\\000'; B2='\\377\\000\\000\\000'; B3='\\377\\377\\377\\000'
B4='\\000\\377\\377\\000'; B5='\\377\\377\\000\\000'; B6='\\377\\000\\377\\000'; B7='\\200\\200\\200\\000'
UP=; for b in "\$B0" "\$B1" "\$B2" "\$B3" "\$B4" "\$B5" "\$B6" "\$B7"; do UP=\$UP\$(rep "\$b" \$((W / 8))); done
DOWN=; for b in "\$B7" "\$B6" "\$B5" "\$B4" "\$B3" "\$B2" "\$B1" "\$B0"; do DOWN=\$DOWN\$(rep "\$b" \$((W / 8))); done
{ printf "\$UP%.0s" \$(seq \$((H / 2))); printf "\$DOWN%.0s" \$(seq \$((H - H / 2))); } >/tmp/frame
# One write() for the frame: Linux 6.1's fbdev emulation turns a write
# that ends on a line boundary within one line into an empty damage
# rectangle (drm_fb_helper_memory_range_to_clip: x2 = 0), so bs=4096
# on a 4096-byte line would never reach VRAM.
dd if=/tmp/frame of=/dev/fb0 bs=\$(wc -c </tmp/frame) count=1 2>/dev/null && echo "btvm-fb: frame written (\$(wc -c </tmp/frame) bytes)"
# fbdev writes reach VRAM through the DRM helper's damage worker.
sleep 2
echo "btvm-fb: drawn"
sleep 600
SH
LINUX_INITRD=$tmp/initrd-fb.img
{
    cat "$LINUX_DIR/initrd.img"
    { cpio_dir fb
      for m in "${ORDER[@]}"; do cpio_file "fb/$m.ko" "${KO[$m]}" 0100644; done
      cpio_file fb/draw.sh "$tmp/draw.sh" 0100755
      cpio_trailer; } | gzip -9
} >"$LINUX_INITRD"

# The script is a file in the initramfs: the command line (2 KiB) is too short.
APPEND=$(linux_cmdline "sh /fb/draw.sh drm" "vt.global_cursor_default=0")

# vesafb (built into Debian's kernel) takes the mode the boot loader set
# and describes in the boot parameters' screen_info (VIDEO_TYPE_VLFB). A
# -kernel boot has no such mode (btvm's loader enters the kernel through
# the 32-bit boot protocol and leaves screen_info's video fields zero; the
# vga= parameter is read only by the kernel's 16-bit setup code), so
# this part boots a GRUB ISO through SeaBIOS, whose gfxpayload asks the
# VGA BIOS (vgabios-stdvga) for a VBE mode: 1024x768x32.
GRUB_DIR=${GRUB_DIR:-/usr/lib/grub/i386-pc}
ISO=$tmp/fb.iso
if command -v grub-mkrescue >/dev/null && [ -f "$GRUB_DIR/cdboot.img" ]; then
    mkdir -p "$tmp/iso/boot/grub"
    cp "$LINUX_KERNEL" "$tmp/iso/boot/vmlinuz"
    cp "$LINUX_INITRD" "$tmp/iso/boot/initrd.img"
    cat >"$tmp/iso/boot/grub/grub.cfg" <<EOF2
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
set timeout=0
set default=0
insmod vbe
menuentry "btvm vesafb" {
    set gfxpayload=1024x768x32
    linux /boot/vmlinuz $(linux_cmdline "sh /fb/draw.sh vesa" "vt.global_cursor_default=0")
    initrd /boot/initrd.img
}
EOF2
    grub-mkrescue -d "$GRUB_DIR" -o "$ISO" "$tmp/iso" >"$tmp/mkrescue.log" 2>&1 ||
        { say "grub-mkrescue failed: $(tail -3 "$tmp/mkrescue.log")"; ISO=; }
else
    say "grub-mkrescue or grub-pc-bin missing: the vesafb part is skipped"; ISO=
fi

section() { printf '%s\n' "$1" | awk -v s="== $2" '$0 == s { on = 1; next } /^== / { on = 0 } on'; }
has() { printf '%s\n' "$1" | grep -qE -- "$2"; }
fail=0

run_one() {   # run_one btvm|qemu drm|vesa
    local sys=$1 drv=$2 log=$tmp/$1-$2.log sock=$tmp/$1-$2.sock png=$tmp/$1-$2.png st pid i out geo bad=0
    local name=bochs-drmdrmfb boot=(-kernel "$LINUX_KERNEL" -initrd "$LINUX_INITRD" -append "$APPEND")
    [ "$drv" = vesa ] && name="VESA VGA" boot=(-cdrom "$ISO")
    case $sys in
    btvm) timeout -k 5 "$TIMEOUT" "$BTVM" run -q --engine bt --no-reboot -m "$LINUX_MEM" "${boot[@]}" \
              -monitor "unix:$sock,server,nowait" </dev/null >"$log" 2>&1 & ;;
    qemu) timeout -k 5 "$TIMEOUT" "$QEMU" -accel tcg -m "$LINUX_MEM" "${boot[@]}" -vga std -display none -serial stdio \
              -device isa-debug-exit,iobase=0xf4,iosize=0x04 -no-reboot \
              -monitor "unix:$sock,server,nowait" </dev/null >"$log" 2>&1 & ;;
    esac
    pid=$!; pids+=("$pid")
    for i in $(seq "$((TIMEOUT * 2))"); do
        grep -q '^btvm-fb: drawn' "$log" 2>/dev/null && break
        grep -q '^btvm-init: exit' "$log" 2>/dev/null && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    python3 tests/tools/hmp.py "$sock" "screendump $png -f png" quit >"$tmp/$sys-$drv.hmp" 2>&1 ||
        { say "$sys $drv: monitor: $(cat "$tmp/$sys-$drv.hmp")"; bad=1; }
    wait "$pid"; st=$?
    out=$(tr -d '\r' <"$log")
    [ "$st" -eq 0 ] || { say "$sys $drv: exit status $st after quit, want 0"; bad=1; }
    has "$out" '^btvm-fb: drawn' || { say "$sys $drv: the guest did not draw"; bad=1; }
    has "$out" '^btvm-fb: frame written' || { say "$sys $drv: dd to /dev/fb0 failed"; bad=1; }
    has "$out" 'insmod .* failed' && { say "$sys $drv: $(printf '%s\n' "$out" | grep 'insmod .* failed' | head -1)"; bad=1; }
    has "$(section "$out" fb)" "^0 $name\$" || { say "$sys $drv: /proc/fb has no '0 $name'"; bad=1; }
    has "$(section "$out" dmesg)" "fb0: $name frame buffer device" ||
        { say "$sys $drv: no 'fb0: $name frame buffer device' in dmesg"; bad=1; }
    [ "$drv" = vesa ] && { has "$(section "$out" dmesg)" 'vesafb: mode is 1024x768x32' ||
        { say "$sys $drv: no 'vesafb: mode is 1024x768x32'"; bad=1; }; }
    geo=$(section "$out" geometry | grep -m1 '^size ')  # printk lines may interleave
    if [[ $geo =~ ^size\ ([0-9]+),([0-9]+)\ bpp\ 32\ stride\ ([0-9]+)$ ]] &&
       [ "${BASH_REMATCH[3]}" -eq $((BASH_REMATCH[1] * 4)) ]; then
        python3 tests/tools/fbpattern.py "$png" "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" ||
            { say "$sys $drv: the screendump is not the pattern"; bad=1; }
    else
        say "$sys $drv: unexpected fb0 geometry '$geo' (want 32 bpp, stride = width * 4)"; bad=1
    fi
    [ -n "${FB_KEEP:-}" ] && cp "$png" "$FB_KEEP/fb-$sys-$drv.png"   # to look at
    if [ "$bad" -ne 0 ]; then
        printf '%s\n' "$out" | tail -n 25 | sed 's/^/  | /'
        fail=1
    else
        say "$sys $drv: '$name' bound (fb0, $geo), pattern on the screen ok"
    fi
}

for drv in drm ${ISO:+vesa}; do
    [ "${LINUX_TEST_QEMU:-1}" = 1 ] && run_one qemu "$drv"
    [ "${LINUX_TEST_BTVM:-1}" = 1 ] && run_one btvm "$drv"
done
exit "$fail"
