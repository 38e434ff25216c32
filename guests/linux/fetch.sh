#!/usr/bin/env bash
# guests/linux/fetch.sh — fetches Debian's i386 Linux kernel and busybox
# from the Debian package registry and builds the guest pair ($BUILD is
# build unless set)
#   $BUILD/linux/vmlinuz     the bzImage of linux-image-6.1.0-*-686:i386
#   $BUILD/linux/initrd.img  a gzip'd newc initramfs: busybox-static:i386 +
#                            guests/linux/init as /init, followed by an
#                            uncompressed archive with glibc (libc6:i386:
#                            ld-linux.so.2, libc.so.6) and coreutils:i386's
#                            dynamically linked `true` as /usr/lib/btvm-dyn/true
#                            (bench/linux.sh dynexec_20; uncompressed, so
#                            the boot does not pay for inflating 2 MiB)
# plus $BUILD/linux/native/busybox (busybox-static:amd64) and native/dyn/true
# and native-i386/busybox (the initramfs' busybox-static:i386)
# (coreutils:i386), run on the host by bench/linux.sh.
# The .debs are kept in $BUILD/cache/debian/ and reused; nothing is fetched
# when they are there. The cpio archive is written by hand (newc is a
# text header per file; guests/linux/cpio.sh), so neither the cpio tool
# nor root (for the /dev/console node) is needed. Docs: docs/linux.md.
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
CACHE=${BTVM_DEBIAN_CACHE:-$BUILD/cache/debian}
OUT=$BUILD/linux
mkdir -p "$CACHE" "$OUT"

say() { echo "linux: $*" >&2; }
die() { echo "linux: $*" >&2; exit 1; }

deb_kernel() { ls "$CACHE"/linux-image-6.1.0-*-686_*_i386.deb 2>/dev/null | sort -V | tail -n1; }
deb_bb()     { ls "$CACHE"/busybox-static_*_"$1".deb 2>/dev/null | sort -V | tail -n1; }
deb_i386()   { ls "$CACHE"/"$1"_*_i386.deb 2>/dev/null | sort -V | tail -n1; }

# apt-get update; a partial failure (one index mid-sync) is not fatal, and
# one retry is worth it when nothing at all came down.
apt_update() {
    [ "$(id -u)" = 0 ] || die "apt-get update needs root (or put the .debs in $CACHE)"
    if ! dpkg --print-foreign-architectures | grep -qx i386; then
        say "dpkg --add-architecture i386"
        dpkg --add-architecture i386
    fi
    say "apt-get update"
    apt-get update -qq >/dev/null 2>&1 || { sleep 2; apt-get update -qq >/dev/null 2>&1 || true; }
}

# Only the packages we use: the concrete kernel behind the metapackage.
fetch_debs() {
    local kpkg
    if [ -z "$(deb_kernel)" ] || [ -z "$(deb_bb i386)" ] || [ -z "$(deb_bb amd64)" ] ||
       [ -z "$(deb_i386 libc6)" ] || [ -z "$(deb_i386 coreutils)" ]; then
        apt-cache show linux-image-686:i386 >/dev/null 2>&1 || apt_update
        apt-cache show linux-image-686:i386 >/dev/null 2>&1 || apt_update
        kpkg=$(apt-cache depends linux-image-686:i386 2>/dev/null |
               awk '$1 == "Depends:" && $2 ~ /^linux-image-6\.1\.0-.*-686(:i386)?$/ { print $2; exit }')
        [ -n "$kpkg" ] || die "cannot resolve linux-image-686:i386 to a linux-image-6.1.0-*-686 package"
        kpkg=${kpkg%:i386}
        (
            cd "$CACHE"
            [ -n "$(ls linux-image-6.1.0-*-686_*_i386.deb 2>/dev/null)" ] || {
                say "apt-get download $kpkg:i386"; apt-get download -q -o APT::Sandbox::User=root "$kpkg:i386" >/dev/null; }
            [ -n "$(ls busybox-static_*_i386.deb 2>/dev/null)" ] || {
                say "apt-get download busybox-static:i386"; apt-get download -q -o APT::Sandbox::User=root busybox-static:i386 >/dev/null; }
            for p in libc6 coreutils; do
                [ -n "$(ls ${p}_*_i386.deb 2>/dev/null)" ] || {
                    say "apt-get download $p:i386"; apt-get download -q -o APT::Sandbox::User=root "$p:i386" >/dev/null; }
            done
            [ -n "$(ls busybox-static_*_amd64.deb 2>/dev/null)" ] || {
                say "apt-get download busybox-static:amd64"; apt-get download -q -o APT::Sandbox::User=root busybox-static:amd64 >/dev/null; }
        ) || die "apt-get download failed"
    fi
    [ -n "$(deb_kernel)" ] && [ -n "$(deb_bb i386)" ] && [ -n "$(deb_bb amd64)" ] &&
        [ -n "$(deb_i386 libc6)" ] && [ -n "$(deb_i386 coreutils)" ] ||
        die "packages missing in $CACHE after download"
}

# The newc cpio writer (cpio_dir, cpio_file, ...).
. guests/linux/cpio.sh

build_initrd() {
    local bb=$1 out=$2 dyn=$3
    {
        for d in bin sbin usr usr/bin usr/sbin dev proc sys tmp root etc; do cpio_dir "$d"; done
        # The kernel opens /dev/console for init's stdio before /init runs.
        cpio_chr dev/console 5 1
        cpio_file bin/busybox "$bb" 0100755
        cpio_link bin/sh busybox
        cpio_file init guests/linux/init 0100755
        cpio_trailer
    } | gzip -9n > "$out.tmp"
    {
        for d in lib lib/i386-linux-gnu usr/lib usr/lib/btvm-dyn; do cpio_dir "$d"; done
        cpio_file lib/i386-linux-gnu/ld-linux.so.2 "$dyn/lib/i386-linux-gnu/ld-linux.so.2" 0100755
        cpio_link lib/ld-linux.so.2 i386-linux-gnu/ld-linux.so.2
        cpio_file lib/i386-linux-gnu/libc.so.6 "$dyn/lib/i386-linux-gnu/libc.so.6" 0100755
        cpio_file usr/lib/btvm-dyn/true "$dyn/bin/true" 0100755
        cpio_trailer
    } >> "$out.tmp"
    mv -f "$out.tmp" "$out"
}

fetch_debs
tmp=$(mktemp -d "$OUT/.x.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
dpkg-deb -x "$(deb_kernel)" "$tmp/k"
dpkg-deb -x "$(deb_bb i386)" "$tmp/b32"
dpkg-deb -x "$(deb_bb amd64)" "$tmp/b64"
vmlinuz=$(ls "$tmp"/k/boot/vmlinuz-* | head -n1)
[ -f "$vmlinuz" ] || die "no /boot/vmlinuz-* in $(deb_kernel)"
cp "$vmlinuz" "$OUT/vmlinuz.tmp" && mv -f "$OUT/vmlinuz.tmp" "$OUT/vmlinuz"
basename "$vmlinuz" | sed 's/^vmlinuz-//' > "$OUT/kernel-version"
dpkg-deb -x "$(deb_i386 libc6)" "$tmp/dyn"
dpkg-deb -x "$(deb_i386 coreutils)" "$tmp/dyn"
for f in lib/i386-linux-gnu/ld-linux.so.2 lib/i386-linux-gnu/libc.so.6 bin/true; do
    [ -f "$tmp/dyn/$f" ] || die "no /$f in libc6:i386 or coreutils:i386"
done
build_initrd "$tmp/b32/bin/busybox" "$OUT/initrd.img" "$tmp/dyn"
mkdir -p "$OUT/native"
cp "$tmp/b64/bin/busybox" "$OUT/native/busybox"
mkdir -p "$OUT/native/dyn"
cp "$tmp/dyn/bin/true" "$OUT/native/dyn/true"
# The guest's own i386 busybox, for the bench's native-i386 system.
mkdir -p "$OUT/native-i386"
cp "$tmp/b32/bin/busybox" "$OUT/native-i386/busybox"
say "built $OUT/vmlinuz ($(cat "$OUT/kernel-version")) and $OUT/initrd.img"
