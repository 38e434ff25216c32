#!/usr/bin/env bash
# guests/linux/disk-initrd.sh — builds $BUILD/linux/initrd-disk.img, the
# initramfs of the Linux disk test (tests/linux/disk.sh) and the disk
# benchmark (bench/disk.sh): the default initrd.img, unchanged, followed by
# a second gzip'd newc archive (the kernel unpacks concatenated archives
# one after the other) holding
#   /lib/modules/<ver>/kernel/...ko   the IDE/SCSI/ext2/ISO 9660 modules of
#                                     the same Debian kernel package
#   /lib/modules/<ver>/btvm-disk.order their load order, one path a line
#   /sbin/btvm-disk-modules           loads them with insmod (the guest
#                                     helper guests/linux/disk-modules)
# build/linux/initrd.img itself (make run, the boot test, bench/linux.sh)
# is not touched.
#
# The module set is the dependency closure of ROOTS, computed here from
# each .ko's .modinfo section: "depends=" (symbols it needs) and
# "softdep=pre: ..." (what modprobe would load first). Debian's package
# has no modules.dep (depmod runs when the package is installed), and
# Debian 12's modules are plain .ko (CONFIG_MODULE_COMPRESS_NONE=y), so
# nothing is decompressed. A softdep that is not a module name must be in
# SOFTDEP_MAP, otherwise the build stops: a new kernel with new soft
# dependencies is noticed, not silently half-loaded. Run by `make
# linux-disk` after fetch.sh (it uses the kernel .deb in the cache).
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
CACHE=${BTVM_DEBIAN_CACHE:-$BUILD/cache/debian}
OUT=$BUILD/linux
die() { echo "linux-disk: $*" >&2; exit 1; }

# ata_piix: the PIIX3 IDE function (8086:7010) of QEMU's pc machine and
# btvm's; sd_mod: ATA disks (/dev/sda); sr_mod: ATAPI CD-ROMs (/dev/sr0);
# ext4: mounts ext2 (CONFIG_EXT4_USE_FOR_EXT2=y, there is no ext2.ko);
# isofs: ISO 9660; virtio_pci, virtio_blk: virtio disks (/dev/vda).
ROOTS="ata_piix sd_mod sr_mod ext4 isofs virtio_pci virtio_blk"
# Soft dependencies named by a crypto algorithm: the generic C module
# (crc32c-intel needs SSE4.2, which neither QEMU's default CPU nor btvm
# has).
declare -A SOFTDEP_MAP=([crypto-crc32c]=crc32c_generic [crc32c]=crc32c_generic
                        [crct10dif]=crct10dif_generic [crypto-crct10dif]=crct10dif_generic)

deb=$(ls "$CACHE"/linux-image-6.1.0-*-686_*_i386.deb 2>/dev/null | sort -V | tail -n1)
[ -n "$deb" ] || die "no linux-image-6.1.0-*-686 .deb in $CACHE (run 'make linux')"
[ -f "$OUT/initrd.img" ] || die "$OUT/initrd.img missing (run 'make linux')"
tmp=$(mktemp -d "$OUT/.d.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" ./lib/modules
ver=$(ls "$tmp/lib/modules")
[ "$(echo "$ver" | wc -l)" = 1 ] || die "not one kernel version in $deb: $ver"
[ "$ver" = "$(cat "$OUT/kernel-version" 2>/dev/null)" ] ||
    die "modules are $ver, build/linux/vmlinuz is $(cat "$OUT/kernel-version" 2>/dev/null) (run 'make linux')"
mdir=$tmp/lib/modules/$ver

# Module names: '-' and '_' are the same to the kernel and to modprobe.
norm() { printf '%s' "${1//-/_}"; }
declare -A PATH_OF
while IFS= read -r f; do
    n=${f##*/}; n=${n%.ko}
    PATH_OF[$(norm "$n")]=$f
done < <(cd "$mdir" && find kernel -name '*.ko')
[ ${#PATH_OF[@]} -gt 0 ] || die "no .ko files under $mdir (compressed modules?)"

# modinfo_field <file> <key>: the values of key=... in .modinfo, one a line.
modinfo_field() { tr '\0' '\n' <"$mdir/$1" | sed -n "s/^$2=//p"; }
resolve() { # a softdep name -> a module name
    local n; n=$(norm "$1")
    if [ -n "${PATH_OF[$n]:-}" ]; then echo "$n"
    elif [ -n "${SOFTDEP_MAP[$1]:-}" ]; then norm "${SOFTDEP_MAP[$1]}"
    else die "softdep '$1' is neither a module nor in SOFTDEP_MAP"; fi
}

ORDER=()
declare -A STATE   # 1 visiting, 2 done
visit() {
    local m=$1 f d w pre post
    [ -n "$m" ] || die "an unresolved dependency (see above)"
    [ "${STATE[$m]:-0}" = 2 ] && return 0
    [ "${STATE[$m]:-0}" = 1 ] && die "dependency cycle at $m"
    f=${PATH_OF[$m]:-}
    [ -n "$f" ] || die "module $m is not in $deb (built in? see modules.builtin)"
    STATE[$m]=1
    for d in $(modinfo_field "$f" depends | tr ',' ' '); do visit "$(norm "$d")"; done
    pre=; post=
    while IFS= read -r line; do   # "pre: a b post: c"
        local mode=
        for w in $line; do
            case $w in pre:) mode=pre ;; post:) mode=post ;;
            *) [ -n "$mode" ] || die "$m: softdep '$line' not understood"
               if [ "$mode" = pre ]; then pre="$pre $w"; else post="$post $w"; fi ;;
            esac
        done
    done < <(modinfo_field "$f" softdep)
    for w in $pre; do visit "$(resolve "$w")"; done
    STATE[$m]=2
    ORDER+=("$m")
    for w in $post; do visit "$(resolve "$w")"; done
}
for r in $ROOTS; do visit "$(norm "$r")"; done

. guests/linux/cpio.sh
order_file=$tmp/btvm-disk.order
for m in "${ORDER[@]}"; do echo "${PATH_OF[$m]}"; done >"$order_file"
{
    declare -A dirs=()
    for d in lib lib/modules "lib/modules/$ver" sbin; do cpio_dir "$d"; dirs[$d]=1; done
    for m in "${ORDER[@]}"; do
        f=${PATH_OF[$m]} p=
        IFS=/ read -ra parts <<<"${f%/*}"
        for c in "${parts[@]}"; do
            p=${p:+$p/}$c
            [ -n "${dirs[lib/modules/$ver/$p]:-}" ] || { cpio_dir "lib/modules/$ver/$p"; dirs[lib/modules/$ver/$p]=1; }
        done
        cpio_file "lib/modules/$ver/$f" "$mdir/$f" 0100644
    done
    cpio_file "lib/modules/$ver/btvm-disk.order" "$order_file" 0100644
    cpio_file sbin/btvm-disk-modules guests/linux/disk-modules 0100755
    cpio_trailer
} | gzip -9n >"$tmp/addon.gz"
cat "$OUT/initrd.img" "$tmp/addon.gz" >"$OUT/initrd-disk.img.tmp"
mv -f "$OUT/initrd-disk.img.tmp" "$OUT/initrd-disk.img"
echo "linux-disk: built $OUT/initrd-disk.img (initrd.img + $(stat -c %s "$tmp/addon.gz") bytes:" \
     "${#ORDER[@]} modules: ${ORDER[*]})" >&2
