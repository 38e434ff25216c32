#!/usr/bin/env bash
# tests/fwboot/fwboot.sh — boots the images of guests/bootimg (make
# bootimg) through the PC firmware (SeaBIOS), the way a PC boots, on
# qemu-system-i386 (the reference) and on btvm, with the same
# expectations:
#   linux-iso       -cdrom build/bootimg/linux.iso (GRUB, El Torito)
#   linux-disk      -hda build/bootimg/linux-disk.img (GRUB in the MBR)
#       serial shows GRUB's marker, the kernel's console, then init's
#       markers: the command line GRUB gave (btvm.img=iso|disk), an
#       SMBIOS BIOS vendor (only firmware writes SMBIOS tables: QEMU's
#       say "SeaBIOS", the ones SeaBIOS makes itself "Bochs"), and
#       "btvm-init: exit 0" with the debug-exit status (btvm 0, QEMU 1)
#   order-dc, order-cd  both of them, -boot order=dc (the CD boots:
#       btvm.img=iso) and order=cd (the disk boots: btvm.img=disk)
#   memtest-serial  -cdrom build/bootimg/memtest-serial.iso (GRUB, linux16,
#       console=ttyS0): memtest86+'s screen on serial reaches its first
#       test ("[Address test"); then the emulator is stopped
#   memtest-screen  -cdrom build/bootimg/memtest86+ia32.iso (Debian's ISO,
#       floppy emulation, text screen only): the 80x25 text screen shows
#       "Memtest86+" and "Status: Testing". QEMU: read from VGA memory at
#       0xB8000 through the monitor (xp). btvm: on a pseudo-terminal
#       (script(1)), quit with Ctrl-A X after FWBOOT_MEMTEST_SECONDS
#       (memtest86+ never stops by itself); the stop writes --screendump
#       (a PNG, kept as build/bootimg/fwboot-memtest-btvm.png) and
#       --screendump-text (the text screen).
# Every boot has FWBOOT_TIMEOUT seconds (180: memtest86+ measures caches
# and memory before its first test, slow under TCG on a loaded host); a
# failure prints the tail of the serial output. FWBOOT_SYSTEMS picks systems ("qemu btvm"),
# FWBOOT_CASES the cases, BTVM the binary. Not in `make test` yet: run it
# with `make fwboot-test`. docs/guests.md, "Bootable images".
set -u
cd "$(dirname "$0")/../.." || exit 1
IMG=${BOOTIMG_DIR:-build/bootimg}
TIMEOUT=${FWBOOT_TIMEOUT:-180}
MT_SECONDS=${FWBOOT_MEMTEST_SECONDS:-20}
SYSTEMS=${FWBOOT_SYSTEMS:-qemu btvm}
CASES=${FWBOOT_CASES:-linux-iso linux-disk order-dc order-cd memtest-serial memtest-screen}
pass=0 fail=0
tmp=$(mktemp -d)
trap '[ -n "$BGPID" ] && kill "$BGPID" 2>/dev/null; rm -rf "$tmp"' EXIT
say() { echo "fwboot: $*"; }

for f in linux.iso linux-disk.img memtest-serial.iso memtest86+ia32.iso; do
    [ -f "$IMG/$f" ] || { say "$IMG/$f missing (run 'make bootimg')"; exit 1; }
done

. guests/bootimg/boot.sh
# emu <system> <case> [options...]: one boot of the case's image.
emu() {
    local sys=$1 c=$2; shift 2
    case $c in
    linux-iso) bootimg_boot "$sys" -cdrom "$IMG/linux.iso" "$@" ;;
    linux-disk) bootimg_boot "$sys" -hda "$IMG/linux-disk.img" "$@" ;;
    order-dc) bootimg_boot "$sys" -cdrom "$IMG/linux.iso" -hda "$IMG/linux-disk.img" -boot order=dc "$@" ;;
    order-cd) bootimg_boot "$sys" -cdrom "$IMG/linux.iso" -hda "$IMG/linux-disk.img" -boot order=cd "$@" ;;
    memtest-serial) bootimg_boot "$sys" -cdrom "$IMG/memtest-serial.iso" "$@" ;;
    memtest-screen) bootimg_boot "$sys" -cdrom "$IMG/memtest86+ia32.iso" "$@" ;;
    esac
}
# temu <seconds> <system> <case> [options...]: emu under timeout(1), as a
# simple command, so that `cmd &` makes $! timeout's own pid: a SIGTERM to
# it ends its whole process group, the emulator included.
EMU_SRC=". guests/bootimg/boot.sh; $(declare -f emu); $(declare -p IMG); emu \"\$@\""
temu() { local s=$1; shift; timeout -k 5 "$s" bash -c "$EMU_SRC" _ "$@"; }
BGPID=

failed() { # failed <system> <case> <log> <why>
    say "FAIL $1 $2: $4"
    if [ -s "$3" ]; then
        echo "---- last lines of the output ($1 $2):"
        tr -d '\r' <"$3" | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1bc//g' | tail -n 25
        echo "----"
    fi
    fail=$((fail + 1))
}
passed() { say "ok   $1 $2 ($3 s)"; pass=$((pass + 1)); }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# has <log> <fixed string>: the string anywhere in the output (the serial
# stream interleaves GRUB's own serial terminal, SeaBIOS's copy of the
# screen and the kernel's console, so lines are not whole).
has() { grep -aqF -- "$2" "$1" 2>/dev/null; }

# The kernel's console on the text screen: a line opening with a printk
# time stamp (tty0 is a console beside ttyS0; init talks to ttyS0 only).
kernel_screen_ok() { grep -qE '^\[ *[0-9]+\.[0-9]{6}\] ' "$1"; }

# linux_case <system> <case> <tag>. btvm: -nographic (COM1 on stdout)
# and the text screen as it was at the stop (--screendump-text). QEMU:
# COM1 into a file and the screen read while it runs (qemu_screen).
linux_case() {
    local sys=$1 c=$2 tag=$3 log=$tmp/$1-$2.log scr=$tmp/$1-$2.screen t0 st want m
    t0=$EPOCHREALTIME
    case $sys in
    btvm) temu "$TIMEOUT" btvm "$c" -nographic --screendump-text "$scr" </dev/null >"$log" 2>&1
          st=$? ;;
    qemu) qemu_screen "$c" "$log" "$scr" kernel_screen_ok 0; st=$QS ;;
    esac
    want=$(bootimg_want_status "$sys" 0)
    [ "$st" = 124 ] || [ "$st" = 137 ] && { failed "$sys" "$c" "$log" "no end within ${TIMEOUT}s"; return; }
    for m in "btvm-fwboot: grub" "Linux version" "btvm-fwboot: init ok" \
             "btvm-fwboot: cmdline BOOT_IMAGE=/boot/vmlinuz console=tty0 console=ttyS0 btvm.img=$tag" \
             "btvm-init: exit 0"; do
        has "$log" "$m" || { failed "$sys" "$c" "$log" "no '$m' on serial (exit status $st)"; return; }
    done
    grep -aqE 'btvm-fwboot: bios_vendor [^[:space:]]' "$log" ||
        { failed "$sys" "$c" "$log" "no SMBIOS BIOS vendor: no tables from firmware (exit status $st)"; return; }
    [ "$st" = "$want" ] || { failed "$sys" "$c" "$log" "exit status $st, expected $want"; return; }
    kernel_screen_ok "$scr" ||
        { failed "$sys" "$c" "$scr" "the text screen never showed the kernel's console"; return; }
    passed "$sys" "$c" "$(secs "$t0" "$EPOCHREALTIME")"
}

# run_until <system> <case> <log> <marker...> [-- extra options]: starts
# the emulator in the background and waits until every marker is in the
# log (status 0), it ends by itself (1) or the time runs out (2); then
# stops it.
run_until() {
    local sys=$1 c=$2 log=$3 pid r=2 m all t0; shift 3
    local marks=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do marks+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    : >"$log"
    timeout -k 5 "$TIMEOUT" bash -c "$EMU_SRC" _ "$sys" "$c" "$@" </dev/null >"$log" 2>&1 &
    pid=$! BGPID=$!
    t0=${EPOCHREALTIME%.*}
    while [ $(( ${EPOCHREALTIME%.*} - t0 )) -lt "$TIMEOUT" ]; do
        all=1
        for m in "${marks[@]}"; do has "$log" "$m" || { all=0; break; }; done
        [ $all = 1 ] && { r=0; break; }
        kill -0 "$pid" 2>/dev/null || { r=1; break; }
        sleep 0.5
    done
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; BGPID=
    return $r
}

memtest_serial_case() { # <system>
    local sys=$1 c=memtest-serial log=$tmp/$1-memtest-serial.log t0 r
    t0=$EPOCHREALTIME
    # shellcheck disable=SC2046
    run_until "$sys" $c "$log" "btvm-fwboot: grub" "Memtest86+ v6" "[Address test" -- $(bootimg_serial_opts "$sys")
    r=$?
    case $r in
    0) passed "$sys" $c "$(secs "$t0" "$EPOCHREALTIME")" ;;
    1) failed "$sys" $c "$log" "ended before memtest86+ ran its first test" ;;
    *) failed "$sys" $c "$log" "memtest86+ did not run its first test within ${TIMEOUT}s" ;;
    esac
}

# xp2txt: QEMU monitor `xp /2000hx 0xb8000` output (8 halfwords a line:
# attribute << 8 | character) to 25 lines of 80 characters.
xp2txt() {
    tr -d '\r' | awk '
        function hex(h,   i, n) {
            n = 0; h = tolower(substr(h, 3))
            for (i = 1; i <= length(h); i++) n = n * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
            return n
        }
        /^[0-9a-f]+: 0x/ { for (i = 2; i <= NF; i++) { v = hex($i) % 256; s = s ((v >= 32 && v < 127) ? sprintf("%c", v) : " ") } }
        END { for (r = 0; r < length(s) / 80; r++) print substr(s, r * 80 + 1, 80) }'
}
memtest_screen_ok() { grep -qF "Memtest86+" "$1" && grep -qF "Status: Testing" "$1"; }

# qemu_screen <case> <log> <screen> <predicate> <stop>: QEMU with COM1
# into <log> and its monitor on a FIFO; every second the text screen is
# read (xp2txt), and the last one the predicate holds for is kept in
# <screen>; stop=1 quits QEMU at the first. QS: QEMU's exit status (124
# when the time ran out).
qemu_screen() {
    local c=$1 log=$2 scr=$3 pred=$4 stop=$5 mon=$tmp/qemu-$1.mon snap=$tmp/qemu-$1.snap pid off
    rm -f "$tmp/mon.in"; mkfifo "$tmp/mon.in"
    : >"$scr"; : >"$mon"; : >"$log"
    timeout -k 5 "$TIMEOUT" bash -c "$EMU_SRC" _ qemu "$c" -display none -serial "file:$log" \
        -monitor stdio <"$tmp/mon.in" >"$mon" 2>&1 &
    pid=$! BGPID=$!
    exec 3>"$tmp/mon.in"
    trap '' PIPE        # QEMU may be gone between the check and the write
    while kill -0 "$pid" 2>/dev/null; do
        sleep 1
        off=$(stat -c %s "$mon")
        echo "xp /2000hx 0xb8000" >&3 2>/dev/null || break
        sleep 0.3
        tail -c +"$((off + 1))" "$mon" | xp2txt >"$snap"
        if "$pred" "$snap"; then
            cp "$snap" "$scr"
            [ "$stop" = 1 ] && break
        fi
    done
    echo quit >&3 2>/dev/null
    exec 3>&-
    trap - PIPE
    wait "$pid"; QS=$?; BGPID=
}

memtest_screen_qemu() {
    local c=memtest-screen t0
    t0=$EPOCHREALTIME
    qemu_screen $c "$tmp/qemu-$c.serial" "$tmp/qemu-$c.txt" memtest_screen_ok 1
    if memtest_screen_ok "$tmp/qemu-$c.txt"; then
        passed qemu $c "$(secs "$t0" "$EPOCHREALTIME")"
    else
        failed qemu $c "$tmp/qemu-$c.mon" "the text screen never showed memtest86+ testing within ${TIMEOUT}s"
    fi
}

# btvm takes Ctrl-A X (quit: an orderly stop, which writes the
# screendumps) only from a terminal: script(1) gives it a pseudo-terminal
# and passes on what this pipe sends after FWBOOT_MEMTEST_SECONDS.
memtest_screen_btvm() {
    local c=memtest-screen
    local log=$tmp/btvm-$c.log png=$tmp/btvm-$c.png txt=$tmp/btvm-$c.txt st t0 cmd
    t0=$EPOCHREALTIME
    # script(1) runs its command with $SHELL, which may be dash: hand it a
    # bash script file rather than bash-only $'...' quoting.
    cmd=$tmp/btvm-$c.sh
    { printf '%s\n' "$EMU_SRC"; } >"$cmd"
    { sleep "$MT_SECONDS"; printf '\001x'; sleep 5; } |
        timeout -k 5 $((MT_SECONDS + 30)) env SHELL=/bin/bash script -qefc \
            "bash $cmd btvm $c -nographic --screendump $png --screendump-text $txt" /dev/null >"$log" 2>&1
    st=${PIPESTATUS[1]}
    [ "$st" = 0 ] || { failed btvm $c "$log" "exit status $st, expected 0 after Ctrl-A X at ${MT_SECONDS}s"; return; }
    [ "$(head -c 8 "$png" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
        { failed btvm $c "$log" "no PNG in --screendump's file"; return; }
    [ -f "$txt" ] || { failed btvm $c "$log" "no --screendump-text file"; return; }
    memtest_screen_ok "$txt" || { failed btvm $c "$txt" "the text screen does not show memtest86+ testing"; return; }
    cp "$png" "$IMG/fwboot-memtest-btvm.png" 2>/dev/null
    passed btvm $c "$(secs "$t0" "$EPOCHREALTIME")"
}

for sys in $SYSTEMS; do
    case $sys in
    qemu) command -v "$QEMU" >/dev/null || { say "FAIL qemu: $QEMU not found (apt-get install qemu-system-x86)"; fail=$((fail + 1)); continue; } ;;
    btvm) [ -x "$BTVM" ] || { say "FAIL btvm: $BTVM not built"; fail=$((fail + 1)); continue; } ;;
    *) say "unknown system '$sys'"; exit 2 ;;
    esac
    for c in $CASES; do
        case $c in
        linux-iso) linux_case "$sys" "$c" iso ;;
        linux-disk) linux_case "$sys" "$c" disk ;;
        order-dc) linux_case "$sys" "$c" iso ;;
        order-cd) linux_case "$sys" "$c" disk ;;
        memtest-serial) memtest_serial_case "$sys" ;;
        memtest-screen) memtest_screen_"$sys" ;;
        *) say "unknown case '$c'"; exit 2 ;;
        esac
    done
done
echo "fwboot: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
