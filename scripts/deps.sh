#!/usr/bin/env bash
# Installs the Debian packages btvm needs when they are missing (as root),
# or names them and fails when not root. Called by the Makefile once per
# build tree (build/.deps-ok stamps it).
set -u
need=()
have_hdr() { [ -e "$1" ]; }
have_hdr /usr/include/Zydis/Zydis.h        || need+=(libzydis-dev)
have_hdr /usr/include/capstone/capstone.h  || need+=(libcapstone-dev)
have_hdr /usr/include/xxhash.h             || need+=(libxxhash-dev)
have_hdr /usr/include/check.h              || need+=(check)
have_hdr /usr/lib/gcc/x86_64-linux-gnu/12/32/libgcc.a || need+=(gcc-multilib)
command -v pkg-config >/dev/null           || need+=(pkg-config)
command -v qemu-system-i386 >/dev/null     || need+=(qemu-system-x86)
# The Linux disk test (tests/linux/disk.sh) makes an ext2 image and an ISO.
# (e2fsprogs lives in /sbin, which a user's PATH may not have.)
have_sbin() { PATH=$PATH:/usr/sbin:/sbin command -v "$1" >/dev/null; }
have_sbin mke2fs && have_sbin debugfs && have_sbin e2fsck || need+=(e2fsprogs)
command -v xorriso >/dev/null              || need+=(xorriso)   # disk.sh, idetest.sh: ISOs
# guests/bootimg (make bootimg): GRUB for BIOS PCs (grub-mkrescue,
# grub-mkimage, boot.img), sfdisk for the disk image's partition table,
# and memtest86+'s BIOS ISO and binary.
command -v grub-mkrescue >/dev/null && command -v grub-mkimage >/dev/null || need+=(grub-common)
[ -f /usr/lib/grub/i386-pc/boot.img ]     || need+=(grub-pc-bin)
have_sbin sfdisk                           || need+=(fdisk)
[ -f /usr/lib/memtest86+/memtest86+ia32.iso ] || need+=(memtest86+)
# tests/unit/test_acpi: iasl -d and acpiexec check the DSDT btvm writes.
command -v iasl >/dev/null && command -v acpiexec >/dev/null || need+=(acpica-tools)
# The VGA's BIOS (vgabios-stdvga.bin) and --screendump's PNG (zlib).
[ -e /usr/share/seabios/vgabios-stdvga.bin ] || need+=(seabios)
have_hdr /usr/include/zlib.h               || need+=(zlib1g-dev)
have_hdr /usr/include/rfb/rfb.h            || need+=(libvncserver-dev)   # -vnc
# Firmware boot (vm/firmware.c, tests/guest/biosboot.sh): the SeaBIOS QEMU uses.
have_hdr /usr/share/seabios/bios-256k.bin || need+=(seabios)
# block/ tests (tests/unit/test_blk*.c, tests/linux/qcow2.sh): qemu-img
# makes, checks and compares qcow2 images.
command -v qemu-img >/dev/null             || need+=(qemu-utils)
# -netdev user: libslirp (its slirp.pc needs glib's .pc: libglib2.0-dev).
have_hdr /usr/include/slirp/libslirp.h     || need+=(libslirp-dev)
have_hdr /usr/include/glib-2.0/glib.h      || need+=(libglib2.0-dev)
# guests/diskimg (make diskimg): a static i386 libc for the benchmark's
# helper.
have_hdr /usr/lib32/libc.a                 || need+=(libc6-dev-i386)
# -qmp (vm/qmp*.c): QMP's JSON.
have_hdr /usr/include/jansson.h            || need+=(libjansson-dev)
# The gdb stub's test (tests/guest/gdb.sh): Debian's gdb, and ss to see
# the stub listen without connecting.
command -v gdb >/dev/null                  || need+=(gdb)
command -v ss >/dev/null                   || need+=(iproute2)
# fuzz/ (make fuzz-*, docs/fuzzing.md): clang with libFuzzer and the
# sanitizer runtimes (libclang-rt-14-dev is only recommended by clang).
command -v clang >/dev/null                || need+=(clang)
compgen -G '/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a' >/dev/null ||
    need+=(libclang-rt-14-dev)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "btvm: missing Debian packages: ${need[*]}" >&2
    echo "btvm: install them with: sudo apt-get install ${need[*]}" >&2
    exit 1
fi
echo "btvm: installing Debian packages: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# A partial index update (one mirror mid-sync) must not stop us.
apt-get update -qq >/dev/null 2>&1 || true
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null || {
    echo "btvm: apt-get install ${need[*]} failed" >&2; exit 1; }
