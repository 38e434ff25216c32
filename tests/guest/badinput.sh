#!/usr/bin/env bash
# tests/guest/badinput.sh — every kind of bad command line or kernel file
# must end btvm with status 2, exactly one line on stderr naming the
# problem, nothing on stdout, and before any guest runs.
# BTVM=path overrides build/btvm (for testing the vm layer on its own).
set -u
cd "$(dirname "$0")/../.."
BTVM=${BTVM:-build/btvm}
[ -x "$BTVM" ] || { echo "badinput: $BTVM not built" >&2; exit 1; }
T=$(mktemp -d /tmp/btvm-badinput.XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0; fail=0

# expect "name" "substring of the error line" btvm-args...
expect() {
    local name=$1 want=$2; shift 2
    timeout 20 "$BTVM" "$@" </dev/null >"$T/out" 2>"$T/err"
    local rc=$? lines; lines=$(wc -l <"$T/err")
    local why=""
    [ "$rc" -eq 2 ] || why="exit status $rc, want 2"
    [ -s "$T/out" ] && why="${why:+$why; }stdout not empty: $(head -c 200 "$T/out")"
    [ "$lines" -eq 1 ] || why="${why:+$why; }$lines lines on stderr, want 1"
    head -n1 "$T/err" | grep -q '^btvm: ' || why="${why:+$why; }stderr does not start with 'btvm: '"
    grep -qF -- "$want" "$T/err" || why="${why:+$why; }stderr lacks '$want'"
    if [ -z "$why" ]; then
        pass=$((pass+1)); echo "ok   $name: $(head -n1 "$T/err")"
    else
        fail=$((fail+1)); echo "FAIL $name: $why"; sed 's/^/     | /' "$T/err" | head -5
    fi
}

# Kernels built here: a header-only i386 ELF with flags/checksum chosen per case.
cat >"$T/mb.S" <<'ASM'
    .text
    .globl _start
    .align 4
#ifndef NO_HEADER
    .long 0x1BADB002
    .long MB_FLAGS
    .long MB_CHECK
#endif
_start:
    cli
1:  hlt
    jmp 1b
ASM
kernel() { # kernel OUT LINK-ADDR FLAGS [CHECKSUM] [extra cpp flags]
    local out=$1 at=$2 fl=$3 ck=${4:-"(-(0x1BADB002+$3))"}; shift 4 2>/dev/null || shift $#
    gcc -m32 -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-Ttext-segment="$at" \
        -DMB_FLAGS="$fl" -DMB_CHECK="$ck" "$@" "$T/mb.S" -o "$out"
}
have_m32=1
kernel "$T/good.elf" 0x100000 3 || have_m32=0

# Command line.
expect "no arguments"      "no command"            
expect "unknown command"   "unknown command 'fly'" fly
expect "unknown option"    "unknown option '--warp'" run -k "$T/good.elf" --warp
expect "no kernel"         "no kernel"             run -m 64
expect "option w/o value"  "needs a value"         run -k
expect "-m too small"      "between 2 and 3072"    run -k "$T/good.elf" -m 1
expect "-m too large"      "between 2 and 3072"    run -k "$T/good.elf" -m 4096
expect "-m not a number"   "not a size"            run -k "$T/good.elf" -m lots
expect "bad --stats"       "--stats=json"          run -k "$T/good.elf" --stats=xml
expect "bad --code-cache"  "code cache size"       run -k "$T/good.elf" --code-cache=1
expect "-drive if=scsi"    "btvm has if=ide and if=virtio" run -k "$T/good.elf" \
    -drive file=d.img,if=scsi
expect "-drive format"     "btvm reads format=raw and format=qcow2" run -k "$T/good.elf" \
    -drive file=d.img,format=vmdk
expect "-drive cache"      "btvm has cache=writeback and cache=none" run -k "$T/good.elf" \
    -drive file=d.img,cache=directsync
expect "-drive snapshot"   "expected snapshot=on or snapshot=off" run -k "$T/good.elf" \
    -drive file=d.img,snapshot=2
expect "-drive aio"        "unknown key 'aio'" run -k "$T/good.elf" -drive file=d.img,aio=native
expect "virtio index"      "index= is for if=ide" run -k "$T/good.elf" \
    -drive file=d.img,if=virtio,index=0

# Images block/ cannot take: refused when the drives are opened, before the
# guest starts.
if command -v qemu-img >/dev/null; then
    qemu-img create -q -f raw "$T/src.raw" 1M && printf data >>"$T/src.raw"
    qemu-img convert -c -f raw -O qcow2 "$T/src.raw" "$T/comp.qcow2"
    expect "compressed qcow2"  "compressed clusters" run -q -k "$T/good.elf" -hda "$T/comp.qcow2"
    expect "raw as qcow2"      "not a qcow2 image" run -q -k "$T/good.elf" \
        -drive "file=$T/src.raw,format=qcow2"
    qemu-img create -q -f qcow2 -u -b "$T/gone.raw" -F raw "$T/orphan.qcow2" 1M
    expect "missing backing"   "gone.raw" run -q -k "$T/good.elf" -hda "$T/orphan.qcow2"
    qemu-img create -q -f qcow2 "$T/snap.qcow2" 1M && qemu-img snapshot -c s1 "$T/snap.qcow2"
    expect "qcow2 snapshots"   "internal snapshots" run -q -k "$T/good.elf" -hda "$T/snap.qcow2"
else
    echo "badinput: qemu-img missing (scripts/deps.sh): qcow2 cases not run" >&2; fail=$((fail+1))
fi
expect "two drives at 2"   "IDE index 2 (secondary master) is already taken by -hdc 'a.img'" \
    run -k "$T/good.elf" -hdc a.img -cdrom b.iso
# Network options (vm/net_cli.c, docs/network.md).
expect "-netdev tap"       "unsupported network backend 'tap'" run -k "$T/good.elf" -netdev tap,id=n0
expect "-netdev no id"     "needs id=ID" run -k "$T/good.elf" -netdev user
expect "-netdev key"       "unknown or unsupported key 'smb'" run -k "$T/good.elf" \
    -netdev user,id=n0,smb=/tmp -device virtio-net-pci,netdev=n0
expect "-netdev unused"    "no -device virtio-net-pci,netdev=n0 uses it" run -k "$T/good.elf" \
    -netdev user,id=n0
expect "-device e1000"     "unsupported device 'e1000'" run -k "$T/good.elf" -device e1000,netdev=n0
expect "-device no netdev" "needs netdev=ID" run -k "$T/good.elf" -device virtio-net-pci
expect "-device wrong id"  "netdev 'n1' is not a -netdev's id" run -k "$T/good.elf" \
    -netdev user,id=n0 -device virtio-net-pci,netdev=n1
expect "-device mac"       "expected a unicast" run -k "$T/good.elf" -nic user,mac=01:02:03:04:05:06
expect "-nic model"        "model 'e1000': unsupported" run -k "$T/good.elf" -nic user,model=e1000
expect "-nic twice"        "one network card" run -k "$T/good.elf" -nic user -nic user
expect "hostfwd syntax"    "hostfwd 'tcp:127.0.0.1:80'" run -k "$T/good.elf" \
    -nic user,hostfwd=tcp:127.0.0.1:80
expect "restrict value"    "restrict 'maybe'" run -k "$T/good.elf" -nic user,restrict=maybe
# A forwarded port somebody already listens on: refused before the guest runs
# (-q: the engine-choice line comes before the devices are built).
python3 -c 'import socket,sys,time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True); sys.stdout.close(); time.sleep(30)' >"$T/port" &
lpid=$!
for _ in $(seq 50); do [ -s "$T/port" ] && break; sleep 0.1; done
expect "hostfwd port busy" "could not listen there" run -q -k "$T/good.elf" \
    -nic "user,hostfwd=tcp:127.0.0.1:$(cat "$T/port")-:22"
kill "$lpid" 2>/dev/null; wait "$lpid" 2>/dev/null

# Files that cannot be read as a kernel.
expect "missing file"      "No such file"          run -k "$T/nope.elf"
mkdir "$T/dir"
expect "directory"         "is a directory"        run -k "$T/dir"
mkfifo "$T/fifo"
expect "fifo"              "not a regular file"    run -k "$T/fifo"
: >"$T/empty"
expect "empty file"        "empty"                 run -k "$T/empty"
printf '#!/bin/sh\necho hello\n' >"$T/script"
expect "not ELF"           "not an ELF file"       run -k "$T/script"
expect "ELF64 x86-64"      "64-bit ELF"            run -k /bin/true

if [ "$have_m32" = 1 ]; then
    kernel "$T/nohdr.elf" 0x100000 0 0 -DNO_HEADER
    expect "ELF32, no header"  "no Multiboot header"  run -k "$T/nohdr.elf"
    kernel "$T/badsum.elf" 0x100000 3 0x12345678
    expect "bad checksum"      "bad checksum"         run -k "$T/badsum.elf"
    kernel "$T/high.elf" 0x10000000 3
    expect "outside RAM"       "outside guest RAM"    run -k "$T/high.elf"
    kernel "$T/mid.elf" 0x300000 3
    expect "outside small RAM" "outside guest RAM"    run -k "$T/mid.elf" -m 2
    # A kernel across 0x9000 loads (the boot information moves above it and
    # the modules) and reaches its cli; hlt (status 3)...
    kernel "$T/low.elf" 0x8000 3
    timeout 20 "$BTVM" run -q -k "$T/low.elf" -m 2 </dev/null >"$T/out" 2>"$T/err"
    rc=$?
    if [ "$rc" -eq 3 ] && grep -q "halted with interrupts disabled" "$T/err"; then
        pass=$((pass+1)); echo "ok   kernel at 0x8000 runs: $(head -n1 "$T/err")"
    else
        fail=$((fail+1)); echo "FAIL kernel at 0x8000 runs: status $rc, want 3"
        sed 's/^/     | /' "$T/err" | head -5
    fi
    # ... unless the kernel and modules leave no room for it in RAM.
    truncate -s 1M "$T/1m"
    expect "no room for boot info" "no room in guest RAM for the boot information" \
        run -k "$T/low.elf" -m 2 -initrd "$T/1m"
    kernel "$T/feat.elf" 0x100000 0x20
    expect "required flag"     "requires features"    run -k "$T/feat.elf"
    expect "missing module"    "cannot open module"   run -k "$T/good.elf" -initrd "$T/nope.img"
    truncate -s 1536K "$T/big"
    expect "module too big"    "modules do not fit"   run -k "$T/good.elf" -m 2 -initrd "$T/good.elf,$T/big"
else
    echo "skip: gcc -m32 unavailable, ELF32 cases not run"
fi

echo "badinput: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
