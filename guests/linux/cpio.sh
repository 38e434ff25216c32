# shellcheck shell=bash
# guests/linux/cpio.sh — a newc cpio writer in shell (sourced by fetch.sh
# and disk-initrd.sh): each function writes one entry to stdout. newc is a
# 110-character ASCII header, the name and the data, each padded to 4
# bytes; mtime and uid are 0, so archives are reproducible. Neither the
# cpio tool nor root (for device nodes) is needed.
# Archives may be concatenated (the kernel unpacks one after the other):
# every file has nlink 1, so repeated inode numbers do not matter.

# cpio_hdr <name> <mode> <size> <rmaj> <rmin>: the header, the name and
# its padding.
CPIO_INO=1
cpio_hdr() {
    local name=$1 mode=$2 size=$3 rmaj=${4:-0} rmin=${5:-0} nlen
    nlen=$(( ${#name} + 1 ))
    printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
        "$CPIO_INO" "$mode" 0 0 1 0 "$size" 0 0 "$rmaj" "$rmin" "$nlen" 0
    CPIO_INO=$((CPIO_INO + 1))
    printf '%s\0' "$name"
    cpio_pad $(( (110 + nlen) ))
}
cpio_pad() { local n=$(( (4 - $1 % 4) % 4 )); [ "$n" -eq 0 ] || head -c "$n" /dev/zero; }
cpio_dir()  { cpio_hdr "$1" $((0040755)) 0; }
cpio_chr()  { cpio_hdr "$1" $((0020600)) 0 "$2" "$3"; }
cpio_link() { cpio_hdr "$1" $((0120777)) ${#2}; printf '%s' "$2"; cpio_pad ${#2}; }
cpio_file() {
    local size; size=$(stat -c %s "$2")
    cpio_hdr "$1" $(( $3 )) "$size"; cat "$2"; cpio_pad "$size"
}
cpio_trailer() { cpio_hdr 'TRAILER!!!' 0 0; }
