#!/usr/bin/env bash
# tests/guest/monitor.sh — the human monitor (-monitor unix:PATH,server):
# guests/vgatest draws mode 13h and polls the keyboard (it keeps running);
# tests/tools/hmp.py connects and types commands:
#   info status      -> "VM status: running"
#   screendump F.png, screendump F -f ppm, screendump F.ppm -f png
#                    -> files that decode (tests/tools/image.py) to the same
#                       pixels as the --screendump btvm writes at exit
#   info registers   -> EIP= and the code segment (selector 0008)
#   bad commands     -> one-line errors, the monitor goes on
#   quit             -> btvm ends with status 0
# then system_reset with --no-reboot (status 6), a server without nowait
# (btvm waits for the client before the guest starts), -monitor stdio
# refused before the guest starts (status 2). The same client and
# commands against QEMU's monitor (-monitor unix:...) show the test's
# expectations are QEMU's: its screendump of the same screen equals
# btvm's within 4 per colour byte (DAC scaling, docs/display.md).
set -u
BTVM=${BTVM:-build/btvm}
cd "$(dirname "$0")/../.."
ELF=build/guests/vgatest.elf
HMP="python3 tests/tools/hmp.py"
IMG="python3 tests/tools/image.py"
[ -f "$ELF" ] || { echo "monitor: $ELF missing (run make guests)"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "monitor: $*"; fail=1; }

wait_drawn() {   # wait_drawn SERIAL-LOG
    local i
    for i in $(seq 300); do grep -q "vgatest: drawn" "$1" 2>/dev/null && return 0; sleep 0.1; done
    bad "the guest did not draw (no 'vgatest: drawn' in $1)"
}

# 1. The command set on btvm.
timeout 60 "$BTVM" run -q -k "$ELF" -a "screen=13h keys" -monitor "unix:$tmp/m.sock,server,nowait" \
    --screendump "$tmp/exit.ppm" </dev/null >"$tmp/serial" 2>"$tmp/err" &
pid=$!
wait_drawn "$tmp/serial"
$HMP "$tmp/m.sock" "info status" "screendump $tmp/a.png" "screendump $tmp/b -f ppm" \
    "screendump $tmp/c.ppm -f png" "bogus" "screendump" "screendump $tmp/no/such.png" \
    "info status" "info registers" quit >"$tmp/hmp.out" 2>&1 || bad "hmp client failed: $(cat "$tmp/hmp.out")"
wait "$pid"; st=$?
[ "$st" -eq 0 ] || bad "btvm after quit: status $st, want 0 ($(head -3 "$tmp/err"))"
[ ! -e "$tmp/m.sock" ] || bad "the socket file is left after exit"
out=$(cat "$tmp/hmp.out")
grep -q "^banner: btvm monitor" <<<"$out" || bad "no banner: $out"
[ "$(grep -c '^VM status: running$' <<<"$out")" -eq 2 ] || bad "info status: $out"
grep -q "^unknown command: 'bogus'" <<<"$out" || bad "no error for a bad command: $out"
regs_ok() { grep -Eq 'EIP=[0-9a-f]{8}' <<<"$1" && grep -Eiq '^ *cs *=0008' <<<"$1"; }
regs_ok "$out" || bad "info registers: no EIP= or CS 0008 line: $out"
grep -q "^screendump: needs a file name" <<<"$out" || bad "no error for a missing file name"
grep -q "^screendump: $tmp/no/such.png: No such file or directory" <<<"$out" ||
    bad "no error for an unwritable file"
head -c 8 "$tmp/a.png" | od -An -tx1 | grep -q '89 50 4e 47 0d 0a 1a 0a' || bad "a.png is not a PNG"
head -c 2 "$tmp/b" | grep -q P6 || bad "-f ppm did not write a PPM"
head -c 4 "$tmp/c.ppm" | grep -q PNG || bad "-f png did not win over the .ppm name"
for f in a.png b c.ppm; do
    $IMG same "$tmp/exit.ppm" "$tmp/$f" || bad "$f differs from btvm's exit screendump"
done
[ "$($IMG info "$tmp/a.png")" = "640 400" ] || bad "mode 13h dump is not 640x400"
[ "$fail" -eq 0 ] && echo "monitor: btvm: info status, screendump png/ppm, errors, quit ok"

# 2. system_reset: a reset of the machine, which --no-reboot turns into status 6.
timeout 60 "$BTVM" run -q --no-reboot -k "$ELF" -a "screen=text keys" \
    -monitor "unix:$tmp/r.sock,server=on,wait=off" </dev/null >"$tmp/serial2" 2>"$tmp/err2" &
pid=$!
wait_drawn "$tmp/serial2"
$HMP "$tmp/r.sock" system_reset >/dev/null 2>&1
wait "$pid"; st=$?
[ "$st" -eq 6 ] || bad "system_reset with --no-reboot: status $st, want 6"

# 3. Without nowait btvm waits for a client before the guest starts.
timeout 60 "$BTVM" run -q -k "$ELF" -a "screen=text keys" -monitor "unix:$tmp/w.sock,server" \
    </dev/null >"$tmp/serial3" 2>"$tmp/err3" &
pid=$!
for i in $(seq 100); do [ -S "$tmp/w.sock" ] && break; sleep 0.1; done
sleep 1
grep -q "vgatest" "$tmp/serial3" && bad "the guest ran before a monitor client connected"
grep -q "waiting for a monitor connection" "$tmp/err3" || bad "no 'waiting' line: $(cat "$tmp/err3")"
$HMP "$tmp/w.sock" "info status" quit >"$tmp/hmp3.out" 2>&1
wait "$pid"; st=$?
[ "$st" -eq 0 ] || bad "wait mode: status $st after quit"

# 4. stdio is the serial console: refused before the guest starts.
out=$("$BTVM" run -q -k "$ELF" -monitor stdio </dev/null 2>&1); st=$?
[ "$st" -eq 2 ] || bad "-monitor stdio: status $st, want 2"
grep -q "^btvm: -monitor stdio: .*does not multiplex" <<<"$out" || bad "-monitor stdio: '$out'"
grep -q vgatest <<<"$out" && bad "-monitor stdio: the guest ran"

# 5. QEMU with the same client and commands.
if command -v qemu-system-i386 >/dev/null; then
    timeout 60 qemu-system-i386 -accel tcg -kernel "$ELF" -append "screen=13h wait" \
        -device isa-debug-exit,iobase=0xf4,iosize=0x04 -display none -serial "file:$tmp/qserial" \
        -monitor "unix:$tmp/q.sock,server,nowait" -no-reboot </dev/null >/dev/null 2>"$tmp/qerr" &
    pid=$!
    wait_drawn "$tmp/qserial"
    $HMP "$tmp/q.sock" "info status" "screendump $tmp/q.png -f png" "screendump $tmp/q.ppm" \
        "bogus" "info registers" quit >"$tmp/qhmp.out" 2>&1
    wait "$pid"; st=$?
    [ "$st" -eq 0 ] || bad "qemu after quit: status $st"
    out=$(cat "$tmp/qhmp.out")
    grep -q '^VM status: running$' <<<"$out" || bad "qemu: info status: $out"
    grep -q "^unknown command: 'bogus'" <<<"$out" || bad "qemu: bad command: $out"
    regs_ok "$out" || bad "qemu: info registers: $out"
    $IMG same "$tmp/q.png" "$tmp/q.ppm" || bad "qemu's PNG and PPM differ (image.py is wrong)"
    $IMG same "$tmp/q.png" "$tmp/a.png" 4 || bad "qemu's and btvm's screendumps differ"
    [ "$fail" -eq 0 ] && echo "monitor: qemu: the same commands and screen ok"
else
    echo "monitor: qemu-system-i386 not installed, reference run skipped"
fi
[ "$fail" -eq 0 ] && echo "monitor: ok"
exit "$fail"
