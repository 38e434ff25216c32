#!/usr/bin/env bash
# tests/guest/vgatest.sh — the VGA programmed directly by guests/vgatest:
# its self-checked cases on btvm (status 0) and qemu-system-i386 (status 1
# = guest 0), then the screens it leaves, compared:
#   screen=text, text50: btvm's --screendump-text must show the guest's
#     lines (80x25 and 80x50), and its PNG must be 720x400;
#   screen=13h, 12h, vbe (800x600x32 through the LFB and the bank window):
#     btvm's --screendump (PPM) against QEMU's monitor
#     screendump of the same guest: same size, every colour byte within 4
#     (btvm scales the DAC's 6 bits to 8 by v*255/63, QEMU by shifting).
set -u
BTVM=${BTVM:-build/btvm}   # override to test another build
cd "$(dirname "$0")/../.."
ELF=build/guests/vgatest.elf
TESTS="pci vbe retrace text_roundtrip write_modes"
fail=0
[ -f "$ELF" ] || { echo "vgatest: $ELF missing (run make guests)"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
err=$tmp/err

. tests/guest/lib/suite.sh
SUITE=vgatest

btvm_run() {   # btvm_run SCREEN: runs, checks the suite, leaves dumps in $tmp
    local out st
    out=$(timeout 60 "$BTVM" run -q -k "$ELF" -a "screen=$1" --screendump "$tmp/btvm-$1.ppm" \
          $( [ "${1#text}" != "$1" ] && echo --screendump-text "$tmp/btvm-$1.txt" ) \
          </dev/null 2>"$err"); st=$?
    suite_check "btvm ($1)" "$st" 0 "$out" "$TESTS" || fail=1
}

expect_line() {   # expect_line FILE ROW TEXT
    local got
    got=$(sed -n "$2p" "$1")
    [ "$got" = "$3" ] || { echo "vgatest: $(basename "$1") row $2: want '$3', got '$got'"; fail=1; }
}

btvm_run text
if [ -f "$tmp/btvm-text.txt" ]; then
    [ "$(wc -l < "$tmp/btvm-text.txt")" -eq 25 ] || { echo "vgatest: text dump is not 25 rows"; fail=1; }
    expect_line "$tmp/btvm-text.txt" 1 "vgatest: text screen"
    expect_line "$tmp/btvm-text.txt" 2 "  white on red"
    expect_line "$tmp/btvm-text.txt" 25 "$(printf '%70s%s' '' 'last row')"
    head -2 "$tmp/btvm-text.ppm" | tr '\n' ' ' | grep -qx 'P6 720 400 ' ||
        { echo "vgatest: text screendump is not 720x400"; fail=1; }
else
    echo "vgatest: btvm wrote no text dump"; fail=1
fi
btvm_run text50
if [ -f "$tmp/btvm-text50.txt" ]; then
    [ "$(wc -l < "$tmp/btvm-text50.txt")" -eq 50 ] || { echo "vgatest: 80x50 dump is not 50 rows"; fail=1; }
    expect_line "$tmp/btvm-text50.txt" 50 "$(printf '%70s%s' '' 'last row')"
else
    echo "vgatest: btvm wrote no 80x50 text dump"; fail=1
fi
btvm_run 13h
btvm_run 12h
TESTS="$TESTS vbe_lfb" btvm_run vbe

# -display curses on a pseudo-terminal (script(1)): the screen drawn with
# escapes inside the alternate screen, left on exit; "ab" then Escape typed
# reach the guest's keyboard as set-1 scancodes (the guest shows them on
# row 4 and stops at Escape's make code).
if command -v script >/dev/null; then
    (sleep 1; printf 'ab\033'; sleep 3) | timeout 30 script -qec "$BTVM run -q -k $ELF \
        -a 'screen=text keys' -display curses --screendump-text $tmp/curses.txt" /dev/null \
        >"$tmp/curses.out" 2>"$err"; st=$?
    [ "$st" -eq 0 ] || { echo "vgatest: curses run exited with status $st"; fail=1; }
    grep -q $'\e\[?1049h' "$tmp/curses.out" && grep -q $'\e\[?1049l' "$tmp/curses.out" ||
        { echo "vgatest: curses did not enter and leave the alternate screen"; fail=1; }
    # Frames may catch a line half written: look for its colours (yellow
    # on blue, attribute 0x1E) and a piece of it.
    grep -q $'\e\[0;93;44mv' "$tmp/curses.out" ||
        { echo "vgatest: curses output lacks the guest's first line"; fail=1; }
    expect_line "$tmp/curses.txt" 4 "1e 9e 30 b0 01"
    [ "$fail" -eq 0 ] && echo "vgatest: curses display and keys ok"
else
    echo "vgatest: script(1) not installed, curses run skipped"
fi

# -vnc: tests/tools/vncgrab (libvncclient, raw encoding) takes the mode 13h
# screen and must get exactly btvm's own screendump; the server listens on
# loopback only; the keys it types reach the guest's keyboard.
VNCGRAB=build/tests/vncgrab
if [ -x "$VNCGRAB" ]; then
    n=$(( 40 + $$ % 50 )); port=$((5900 + n))
    timeout 60 "$BTVM" run -q -k "$ELF" -a "screen=13h keys" -vnc ":$n" \
        --screendump "$tmp/vnc-btvm.ppm" </dev/null >"$tmp/vnc-serial" 2>"$err" &
    vpid=$!
    for i in $(seq 300); do grep -q "vgatest: drawn" "$tmp/vnc-serial" 2>/dev/null && break; sleep 0.1; done
    if command -v ss >/dev/null; then
        ss -ltnH "sport = :$port" | awk '{ print $4 }' | grep -v '^127\.0\.0\.1:\|^\[::1\]:' |
            grep -q . && { echo "vgatest: the VNC server listens beyond loopback"; fail=1; }
    fi
    "$VNCGRAB" "$port" 1.5 "$tmp/vnc-grab.ppm" 61 62 ff1b || fail=1
    wait "$vpid"; st=$?
    [ "$st" -eq 0 ] || { echo "vgatest: btvm -vnc exited with status $st"; head -5 "$err"; fail=1; }
    keys=$(tr -d '\r' < "$tmp/vnc-serial" | grep '^vgatest: key ' | tr '\n' ' ')
    [ "$keys" = "vgatest: key 1e vgatest: key 9e vgatest: key 30 vgatest: key b0 vgatest: key 1 " ] ||
        { echo "vgatest: keys typed over VNC did not reach the guest"; fail=1; }
    if [ -s "$tmp/vnc-grab.ppm" ] && cmp -s "$tmp/vnc-grab.ppm" "$tmp/vnc-btvm.ppm"; then
        echo "vgatest: VNC frame and keys ok"
    else
        echo "vgatest: the VNC viewer's frame differs from btvm's screendump"; fail=1
    fi
else
    echo "vgatest: $VNCGRAB missing (make it)"; fail=1
fi

# QEMU: the guest halts after drawing ("wait"); its monitor (on a FIFO)
# takes the screendump, then quits.
qemu_shot() {   # qemu_shot SCREEN
    local fifo=$tmp/mon-$1 log=$tmp/qemu-$1.log i
    mkfifo "$fifo"
    timeout 60 qemu-system-i386 -accel tcg -kernel "$ELF" -append "screen=$1 wait" \
        -device isa-debug-exit,iobase=0xf4,iosize=0x04 -display none -serial "file:$log" \
        -monitor stdio -no-reboot <"$fifo" >"$tmp/mon-$1.out" 2>"$err" &
    local pid=$!
    exec 3>"$fifo"
    for i in $(seq 300); do
        grep -q "vgatest: drawn" "$log" 2>/dev/null && break
        sleep 0.1
    done
    echo "screendump $tmp/qemu-$1.ppm" >&3
    for i in $(seq 100); do [ -s "$tmp/qemu-$1.ppm" ] && break; sleep 0.1; done
    sleep 0.5
    echo quit >&3
    exec 3>&-
    wait "$pid"
    suite_check "qemu ($1)" 0 0 "$(cat "$log")" "$TESTS$( [ "$1" = vbe ] && echo ' vbe_lfb')" || fail=1
}

same_screen() {   # same_screen A.ppm B.ppm
    local ha hb bad
    ha=$(head -c 15 "$1" | head -2 | tr '\n' ' '); hb=$(head -c 15 "$2" | head -2 | tr '\n' ' ')
    if [ "$ha" != "$hb" ]; then echo "vgatest: $(basename "$1") is '$ha', $(basename "$2") '$hb'"; return 1; fi
    # cmp -l: offset and both bytes in octal for every difference.
    bad=$(cmp -l "$1" "$2" | awk 'function o(s,  v, i) { v = 0; for (i = 1; i <= length(s); i++) v = v * 8 + substr(s, i, 1); return v }
            { d = o($2) - o($3); if (d < 0) d = -d; if (d > 4) n++ } END { print n + 0 }')
    if [ "$bad" -ne 0 ]; then echo "vgatest: $(basename "$1") and $(basename "$2") differ in $bad bytes"; return 1; fi
    return 0
}

if command -v qemu-system-i386 >/dev/null; then
    for s in 13h 12h vbe; do
        qemu_shot "$s"
        if [ -s "$tmp/qemu-$s.ppm" ] && [ -s "$tmp/btvm-$s.ppm" ]; then
            same_screen "$tmp/btvm-$s.ppm" "$tmp/qemu-$s.ppm" && echo "vgatest: screen $s matches QEMU's" || fail=1
        else
            echo "vgatest: no screendump for $s (btvm or QEMU)"; fail=1
        fi
    done
else
    echo "vgatest: qemu-system-i386 not installed, reference run skipped"
fi
# The comparison itself must be able to fail: one colour byte off by 128.
if [ -s "$tmp/btvm-13h.ppm" ]; then
    cp "$tmp/btvm-13h.ppm" "$tmp/bad.ppm"
    b=$(( ($(od -An -tu1 -j1000 -N1 "$tmp/bad.ppm") + 128) % 256 ))
    printf "\\$(printf %03o "$b")" | dd of="$tmp/bad.ppm" bs=1 seek=1000 conv=notrunc 2>/dev/null
    same_screen "$tmp/btvm-13h.ppm" "$tmp/bad.ppm" >/dev/null &&
        { echo "vgatest: the screen comparison did not notice a changed byte"; fail=1; }
fi
[ "$fail" -eq 0 ] && echo "vgatest: ok"
exit "$fail"
