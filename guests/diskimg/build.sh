#!/usr/bin/env bash
# guests/diskimg/build.sh — the persistent Linux disk image (docs/guests.md):
#   build.sh initrd        $BUILD/diskimg/initrd.img: busybox-static:i386,
#                          guests/diskimg/initramfs-init as /init, and the
#                          virtio (pci, blk, net), IDE (ata_piix, sd_mod) and
#                          ext4 modules of Debian's kernel with their
#                          dependencies, in load order
#   build.sh image FILE [SIZE]
#                          a fresh raw ext4 root file system image FILE
#                          (default size 256M, sparse): busybox and its
#                          applet links, guests/diskimg/init as /sbin/init,
#                          /etc, the udhcpc script, the benchmark helper
# Neither needs root, a loop device or a mount: the initramfs is a newc
# cpio written by guests/linux/cpio.sh, the image is made by
# `mke2fs -d DIR` from a staging folder plus debugfs for the one device
# node (/dev/console). Uses the .debs `make linux` fetched into
# $BUILD/cache/debian and $BUILD/linux/kernel-version.
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
CACHE=${BTVM_DEBIAN_CACHE:-$BUILD/cache/debian}
OUT=$BUILD/diskimg
export PATH=$PATH:/usr/sbin:/sbin
die() { echo "diskimg: $*" >&2; exit 1; }

# The root devices this image is meant for, and its file system.
ROOTS="virtio_pci virtio_blk virtio_net ata_piix sd_mod ext4"
# Soft dependencies named by a crypto algorithm: the generic C module
# (crc32c-intel needs SSE4.2, which neither QEMU's default CPU nor btvm has).
declare -A SOFTDEP_MAP=([crypto-crc32c]=crc32c_generic [crc32c]=crc32c_generic
                        [crct10dif]=crct10dif_generic [crypto-crct10dif]=crct10dif_generic)

kdeb=$(ls "$CACHE"/linux-image-6.1.0-*-686_*_i386.deb 2>/dev/null | sort -V | tail -n1)
bdeb=$(ls "$CACHE"/busybox-static_*_i386.deb 2>/dev/null | sort -V | tail -n1)
[ -n "$kdeb" ] && [ -n "$bdeb" ] || die "Debian packages missing in $CACHE (run 'make linux')"
mkdir -p "$OUT"
tmp=$(mktemp -d "$OUT/.b.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
dpkg-deb -x "$bdeb" "$tmp/bb"
BUSYBOX=$tmp/bb/bin/busybox

# modules: fills ORDER (module paths under lib/modules/$ver, dependencies
# first) from each .ko's .modinfo "depends=" and "softdep=pre:/post:", as
# modprobe would (Debian's package ships no modules.dep; depmod runs on
# install). Debian 12's modules are plain .ko.
modules() {
    dpkg-deb --fsys-tarfile "$kdeb" | tar -x -C "$tmp" ./lib/modules
    ver=$(ls "$tmp/lib/modules")
    [ "$ver" = "$(cat "$BUILD/linux/kernel-version" 2>/dev/null)" ] ||
        die "modules are $ver, $BUILD/linux/vmlinuz is not (run 'make linux')"
    mdir=$tmp/lib/modules/$ver
    declare -gA PATH_OF=() STATE=()
    local f n
    while IFS= read -r f; do n=${f##*/}; n=${n%.ko}; PATH_OF[${n//-/_}]=$f; done \
        < <(cd "$mdir" && find kernel -name '*.ko')
    ORDER=()
    for n in $ROOTS; do visit "$n"; done
}
field() { tr '\0' '\n' <"$mdir/$1" | sed -n "s/^$2=//p"; }
softdep_name() {
    local n=${1//-/_}
    if [ -n "${PATH_OF[$n]:-}" ]; then echo "$n"
    elif [ -n "${SOFTDEP_MAP[$1]:-}" ]; then echo "${SOFTDEP_MAP[$1]}"
    else die "softdep '$1' is neither a module nor in SOFTDEP_MAP"; fi
}
visit() {
    local m=${1//-/_} f d w mode pre="" post=""
    [ "${STATE[$m]:-0}" = 2 ] && return 0
    [ "${STATE[$m]:-0}" = 1 ] && die "dependency cycle at $m"
    f=${PATH_OF[$m]:-}
    [ -n "$f" ] || die "module $m is not in $kdeb (built in?)"
    STATE[$m]=1
    for d in $(field "$f" depends | tr ',' ' '); do visit "$d"; done
    for w in $(field "$f" softdep); do
        case $w in pre:|post:) mode=${w%:} ;;
        *) if [ "${mode:-}" = pre ]; then pre="$pre $w"; else post="$post $w"; fi ;;
        esac
    done
    for w in $pre; do visit "$(softdep_name "$w")"; done
    STATE[$m]=2
    ORDER+=("$f")
    for w in $post; do visit "$(softdep_name "$w")"; done
}

build_initrd() {
    . guests/linux/cpio.sh
    modules
    local f p c out=$OUT/initrd.img
    declare -A dirs=()
    printf '%s\n' "${ORDER[@]}" >"$tmp/order"
    {
        for d in bin sbin usr usr/bin usr/sbin dev proc sys newroot lib lib/modules "lib/modules/$ver"; do
            cpio_dir "$d"; dirs[$d]=1
        done
        cpio_chr dev/console 5 1
        cpio_file bin/busybox "$BUSYBOX" 0100755
        cpio_link bin/sh busybox
        cpio_file init guests/diskimg/initramfs-init 0100755
        for f in "${ORDER[@]}"; do
            p=lib/modules/$ver
            IFS=/ read -ra parts <<<"${f%/*}"
            for c in "${parts[@]}"; do
                p=$p/$c
                [ -n "${dirs[$p]:-}" ] || { cpio_dir "$p"; dirs[$p]=1; }
            done
            cpio_file "lib/modules/$ver/$f" "$mdir/$f" 0100644
        done
        cpio_file "lib/modules/$ver/btvm-diskimg.order" "$tmp/order" 0100644
        cpio_trailer
    } | gzip -9n >"$out.tmp"
    mv -f "$out.tmp" "$out"
    echo "diskimg: built $out (${#ORDER[@]} modules: $(printf '%s\n' "${ORDER[@]}" | sed 's,.*/,,; s,\.ko$,,' | tr '\n' ' '))" >&2
}

build_image() {
    local img=$1 size=${2:-256M} r=$tmp/root a helper=$OUT/btvm-randread
    [ -x "$BUILD/linux/native/busybox" ] || die "$BUILD/linux/native/busybox missing (run 'make linux')"
    [ -x "$helper" ] || die "$helper missing (run 'make diskimg')"
    mkdir -p "$r"
    for d in bin sbin usr/bin usr/sbin dev proc sys tmp run root mnt home var/www etc/udhcpc; do mkdir -p "$r/$d"; done
    chmod 1777 "$r/tmp"
    chmod 700 "$r/root"
    install -m 755 "$BUSYBOX" "$r/bin/busybox"
    # The applet links, listed by the host's busybox-static:amd64 of the
    # same Debian source package and configuration (the i386 binary cannot
    # run here); an i386 applet that is missing shows up as "not found".
    while IFS= read -r a; do
        [ "$a" = /bin/busybox ] || [ -e "$r/$a" ] || ln -s /bin/busybox "$r/$a"
    done < <("$BUILD/linux/native/busybox" --list-full | sed 's,^,/,; s,^//,/,')
    install -m 755 guests/diskimg/init "$r/sbin/init"
    install -m 755 guests/diskimg/udhcpc.script "$r/etc/udhcpc/default.script"
    install -m 755 "$helper" "$r/usr/bin/btvm-randread"
    echo btvm >"$r/etc/hostname"
    printf 'root::0:0:root:/root:/bin/sh\n' >"$r/etc/passwd"
    printf 'root:x:0:\n' >"$r/etc/group"
    printf '127.0.0.1 localhost\n127.0.1.1 btvm\n' >"$r/etc/hosts"
    ln -s /run/resolv.conf "$r/etc/resolv.conf"
    printf 'export PS1='"'"'\\h:\\w\\$ '"'"'\n' >"$r/etc/profile"
    echo "btvm persistent root, built $(date -u +%F) by guests/diskimg/build.sh" >"$r/etc/btvm-release"
    echo '<html><body>btvm guest</body></html>' >"$r/var/www/index.html"
    rm -f "$img.tmp"
    mke2fs -q -F -t ext4 -L btvmroot -E root_owner=0:0 -d "$r" "$img.tmp" "$size" >/dev/null ||
        die "mke2fs -d failed"
    printf 'cd /dev\nmknod console c 5 1\nsif console mode 020600\n' | debugfs -w -f - "$img.tmp" >/dev/null 2>&1 ||
        die "debugfs mknod /dev/console failed"
    e2fsck -fn "$img.tmp" >/dev/null 2>&1 || die "e2fsck -fn found errors in the new image"
    mv -f "$img.tmp" "$img"
    echo "diskimg: built $img ($size raw ext4, $(du -k "$img" | cut -f1) KiB used)" >&2
}

case ${1:-} in
initrd) build_initrd ;;
image) [ -n "${2:-}" ] || die "usage: build.sh image FILE [SIZE]"; build_image "$2" "${3:-}" ;;
*) die "usage: build.sh initrd | image FILE [SIZE]" ;;
esac
