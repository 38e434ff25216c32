#!/usr/bin/env bash
# tests/guest/qmp.sh — QMP (-qmp unix:PATH,server=on,wait=off): guests/qmptest
# prints a tick every 20 ms and takes the ACPI power button;
# tests/tools/qmp.py drives it (each check printed, the exit status counts
# failures):
#   main   greeting, negotiation, bad JSON / unknown command / bad arguments
#          (QEMU's classes), split and batched requests, stop (STOP, paused,
#          no serial output, registers unchanged), screendump png/ppm while
#          paused (decoded), cont (RESUME), query-cpus-fast, query-version,
#          query-commands, system_reset (RESET), system_powerdown (POWERDOWN,
#          the guest's SCI handler powers off: SHUTDOWN guest-shutdown)
#          -> btvm's status 0
#   quit   a guest that ignores the button, stop, system_reset while paused
#          (stays stopped: prelaunch), quit (SHUTDOWN host-qmp-quit) -> 0
#   prelaunch  -S: no guest output until cont (RESUME), then quit
#   noreboot   --no-reboot: system_reset is SHUTDOWN host-qmp-system-reset
#              (btvm's status 6, as a guest reset under --no-reboot)
# then -qmp with the wait mode (the guest starts only once a client came),
# -monitor and -qmp together (stop through HMP, STOP on QMP), and the
# refused spellings (tcp:, stdio, -S without a monitor: status 2 before
# the guest starts). The
# same client and scenarios against QEMU's -qmp show the expectations are
# QEMU's.
set -u
BTVM=${BTVM:-build/btvm}
cd "$(dirname "$0")/../.."
ELF=build/guests/qmptest.elf
QMP="python3 tests/tools/qmp.py"
[ -f "$ELF" ] || { echo "qmp: $ELF missing (run make guests)"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "qmp: $*"; fail=1; }

# run_btvm NAME ARGS... : btvm in the background, its pid in $pid
run_btvm() {
    local n=$1; shift
    timeout 60 "$BTVM" run -q -k "$ELF" "$@" </dev/null >"$tmp/$n.serial" 2>"$tmp/$n.err" &
    pid=$!
}
# scenario NAME SCENARIO PEER [STATUS]: the client against $tmp/NAME.sock,
# then the emulator's exit status (default 0)
scenario() {
    local n=$1 sc=$2 peer=$3 want=${4:-0}
    $QMP "$sc" "$tmp/$n.sock" --serial "$tmp/$n.serial" --tmp "$tmp" >"$tmp/$n.out" 2>&1 ||
        bad "$peer $sc: $(grep -v ': ok:' "$tmp/$n.out")"
    wait "$pid"; local st=$?
    [ "$st" -eq "$want" ] || bad "$peer $sc: exit status $st, want $want ($(head -3 "$tmp/$n.err"))"
    [ "$peer" = qemu ] || [ ! -e "$tmp/$n.sock" ] || bad "$peer $sc: the socket file is left"
}

# 1. btvm.
run_btvm main -qmp "unix:$tmp/main.sock,server=on,wait=off"
scenario main main btvm
run_btvm quit -a nobutton -qmp "unix:$tmp/quit.sock,server,nowait"
scenario quit quit btvm
run_btvm pre -S -qmp "unix:$tmp/pre.sock,server=on,wait=off"
scenario pre prelaunch btvm
run_btvm nr --no-reboot -qmp "unix:$tmp/nr.sock,server=on,wait=off"
scenario nr noreboot btvm 6
[ "$fail" -eq 0 ] && echo "qmp: btvm: $(cat "$tmp"/{main,quit,pre,nr}.out | grep -c ': ok:') checks ok"

# 2. The wait mode: nothing runs before the client connects.
run_btvm wait -qmp "unix:$tmp/wait.sock,server=on"
for i in $(seq 100); do [ -S "$tmp/wait.sock" ] && break; sleep 0.1; done
sleep 0.5
[ -s "$tmp/wait.serial" ] && bad "wait: the guest ran before a QMP client connected"
grep -q "waiting for a QMP connection" "$tmp/wait.err" || bad "wait: no 'waiting' line: $(cat "$tmp/wait.err")"
scenario wait greet btvm

# 3. Both monitors: a stop typed on the human monitor is a STOP on QMP.
run_btvm both -monitor "unix:$tmp/hmp.sock,server,nowait" -qmp "unix:$tmp/both.sock,server=on,wait=off"
python3 - "$tmp/both.sock" "$tmp/hmp.sock" >"$tmp/both.out" 2>&1 <<'EOF' || bad "both monitors: $(cat "$tmp/both.out")"
import sys, subprocess
sys.path.insert(0, "tests/tools")
import qmp
q = qmp.QMP(sys.argv[1])
qmp.negotiate(q)
subprocess.run([sys.executable, "tests/tools/hmp.py", sys.argv[2], "stop", "info status"],
               check=True, capture_output=True)
qmp.check(qmp.is_event(q.event("STOP", 5), "STOP"), "HMP stop: STOP on QMP")
qmp.check(qmp.status(q).get("status") == "paused", "HMP stop: paused on QMP")
out = subprocess.run([sys.executable, "tests/tools/hmp.py", sys.argv[2], "info status", "c"],
                     check=True, capture_output=True, text=True).stdout
qmp.check("VM status: paused" in out, "HMP info status: paused", out)
qmp.check(qmp.is_event(q.event("RESUME", 5), "RESUME"), "HMP c: RESUME on QMP")
qmp.check(q.cmd("quit") == {"return": {}}, "quit")
sys.exit(qmp.failures)
EOF
wait "$pid"; st=$?
[ "$st" -eq 0 ] || bad "both monitors: status $st after quit"

# 4. What btvm does not do: refused before the guest starts (status 2).
out=$("$BTVM" run -q -k "$ELF" -S </dev/null 2>&1); st=$?
[ "$st" -eq 2 ] && grep -q "^btvm: -S needs -s/-gdb, -monitor or -qmp" <<<"$out" || bad "-S alone: status $st, '$out'"
for v in "tcp:127.0.0.1:4444,server=on,wait=off" stdio "unix:$tmp/x.sock"; do
    out=$("$BTVM" run -q -k "$ELF" -qmp "$v" </dev/null 2>&1); st=$?
    [ "$st" -eq 2 ] || bad "-qmp $v: status $st, want 2"
    grep -q "^btvm: -qmp $v: " <<<"$out" || bad "-qmp $v: '$out'"
    grep -q qmptest <<<"$out" && bad "-qmp $v: the guest ran"
done
[ "$fail" -eq 0 ] && echo "qmp: btvm: wait mode, both monitors, refused options ok"

# 5. QEMU with the same client and scenarios (its \_S5 is 0).
if command -v qemu-system-i386 >/dev/null; then
    for sc in main quit prelaunch noreboot; do
        app="s5=0"; [ "$sc" = quit ] && app="s5=0 nobutton"
        nr=; [ "$sc" = noreboot ] && nr=-no-reboot
        timeout 60 qemu-system-i386 -accel tcg -kernel "$ELF" -append "$app" \
            -device isa-debug-exit,iobase=0xf4,iosize=0x04 -display none \
            -serial "file:$tmp/q$sc.serial" -qmp "unix:$tmp/q$sc.sock,server=on,wait=off" \
            $([ "$sc" = prelaunch ] && echo -S) $nr \
            </dev/null >/dev/null 2>"$tmp/q$sc.err" &
        pid=$!
        scenario "q$sc" "$sc" qemu
    done
    [ "$fail" -eq 0 ] && echo "qmp: qemu: the same scenarios ok"
else
    echo "qmp: qemu-system-i386 not installed, reference run skipped"
fi
[ "$fail" -eq 0 ] && echo "qmp: ok"
exit "$fail"
