#!/usr/bin/env bash
# tests/guest/gdb.sh — Debian's gdb debugs guests/gdbtest through btvm's
# gdb stub (-gdb tcp::PORT -S) with the session in gdb.gdb: connect before
# the first instruction, breakpoint, registers (a segment register, CR0),
# stepi, memory reads and writes, write and read watchpoints, a
# breakpoint and memory at linear addresses that paging maps elsewhere,
# an unmapped page, "monitor info registers", Ctrl-C, and the guest's exit
# as gdb sees it. The same session runs against qemu-system-i386 when it
# is installed, to show the expectations are QEMU's. docs/gdb.md.
set -u
BTVM=${BTVM:-build/btvm}
cd "$(dirname "$0")/../.."
ELF=build/guests/gdbtest.elf
fail=0
[ -f "$ELF" ] || { echo "gdb: $ELF missing (run make guests)"; exit 1; }
command -v gdb >/dev/null || { echo "gdb: gdb not installed (scripts/deps.sh)"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# want NAME REGEX: the gdb log must have a line matching REGEX.
want() {
    if ! grep -Eq -- "$2" "$tmp/log"; then
        echo "gdb[$who]: $1: no line matching /$2/"; fail=1; bad=1
    fi
}

# session WHO: run gdb.gdb against the emulator started in the background.
session() {
    who=$1; bad=0
    local port=$2 pid=$3
    for _ in $(seq 50); do  # until it listens (a probe connection would be a debugger)
        ss -Hltn "sport = :$port" | grep -q . && break
        sleep 0.1
    done
    GDBTEST_OUT="$tmp/out" timeout 60 gdb -batch -nx -ex "file $ELF" -ex "target remote :$port" \
        -x tests/guest/gdb.gdb >"$tmp/log" 2>&1
    wait "$pid"; st=$?
    want "no guest output before continue (-S)" '^CHK no-output-yet$'
    # QEMU's -kernel starts in its firmware (reset vector), btvm's at the kernel's entry.
    [ "$who" = btvm ] && want "stopped at the entry point" '^CHK at-start 1$'
    want "breakpoint reported" '^Breakpoint 1, 0x[0-9a-f]+ in marker'
    want "EIP at the breakpoint" '^CHK at-marker 1$'
    want "info registers eip" '^eip +0x[0-9a-f]+ +0x[0-9a-f]+ <marker>'
    want "segment registers and CR0.PE" '^CHK segs cs=8 ds=10 ss=10 pe=1$'
    want "stepi over a 1-byte nop" '^CHK step1 1$'
    want "stepi over mov imm32 (EIP +5, EAX set)" '^CHK step3 1 eax=1234$'
    want "x/4xw on a global" '<table>:[[:space:]]+0x11111111[[:space:]]+0x22222222[[:space:]]+0x33333333[[:space:]]+0x44444444'
    want "set var and read back" '^CHK poke beef 55667788$'
    want "write watchpoint reported" '^Hardware watchpoint [0-9]+: counter'
    want "old value" '^Old value = 0$'
    want "new value" '^New value = 1$'
    want "stopped right after the write" '^CHK watch-counter 1$'
    want "watch stop at the loop's line" '^[0-9]+[[:space:]]+for \(int i = 0; i < 3; i\+\+\)'
    want "read watchpoint reported" '^Hardware read watchpoint [0-9]+: table\[1\]'
    want "read watchpoint value" '^Value = 1432778632$'
    want "read watchpoint in guest_main" '^CHK rwatch-pc-in-gprintf-args 1$'
    want "hardware breakpoint inside a block" '^CHK midblock-hbreak 1 pg=1$'
    want "hardware breakpoint reported" '^Breakpoint [0-9]+, guest_main .* at guests/gdbtest/gdbtest.c:[0-9]+$|^Breakpoint [0-9]+, 0x[0-9a-f]+ in guest_main'
    want "breakpoint at a paged linear address" '^CHK alias-bp 1 pg=1$'
    want "memory read through the page tables" '^0x40001008:[[:space:]]+0x11111111[[:space:]]+0x55667788[[:space:]]+0x33333333[[:space:]]+0x44444444'
    want "unmapped page is an error" 'CHK unmapped: Cannot access memory at address 0x50000000$'
    want "memory write through the page tables" '^CHK alias-write abcdef01$'
    want "monitor info registers" 'EIP=40000[0-9a-f]{3}'
    want "Ctrl-C stops the guest" 'Program received signal SIGINT'
    want "stopped in the spin loop" '^CHK spinning 1$'
    want "the spin loop is guest_main's" '^(guest_main|code_target)( \+ [0-9]+)? in section \.text'
    want "breakpoint in code translated and chained before it" '^CHK spin-bp 1$'
    want "code ran before the patch" '^CHK before-patch 1$'
    want "patched code runs (its translation was dropped)" '^CHK after-patch 2$'
    want "code ran before the patch" '^CHK before-patch 1$'
    want "patched code runs (its translation was dropped)" '^CHK after-patch 2$'
    if ! grep -q 'gdbtest: released, code_target=2' "$tmp/out" || ! grep -q 'poke=beef table1=55667788' "$tmp/out"; then
        echo "gdb[$who]: guest output lacks what gdb set:"; tr -d '\r' <"$tmp/out" | head; fail=1; bad=1
    fi
    if [ "$bad" -ne 0 ]; then
        echo "--- gdb log ($who) ---"; head -120 "$tmp/log"; echo "--- stderr ---"; head -20 "$tmp/err"
    fi
}

# attach WHO ENDCMD WANTST START...: start the emulator (listening on
# $port, its guest's serial on stdout) without -S, let the
# guest reach its spin loop, attach (which stops it), release the loop and
# end the session with ENDCMD (detach: the guest runs on and exits 3, as
# poke was not set; kill: the emulator ends at once).
attach() {
    who=$1; local endcmd=$2 want_st=$3; shift 3
    : >"$tmp/out"
    "$@" >"$tmp/out" 2>"$tmp/err" </dev/null &
    local pid=$!
    for _ in $(seq 100); do grep -q 'alias_fn(5)=16' "$tmp/out" && break; sleep 0.1; done
    timeout 30 gdb -batch -nx -ex "file $ELF" -ex "target remote :$port" \
        -ex 'printf "CHK attached spinning=%d in-main=%d\n", go_on == 0, ($pc > (unsigned)guest_main && $pc < (unsigned)guest_main + 400) || ($pc >= (unsigned)code_target && $pc < (unsigned)code_target + 6)' -ex 'set var go_on = 1' -ex "$endcmd" \
        >"$tmp/log" 2>&1
    wait "$pid"; local st=$?
    bad=0
    want "$endcmd: attaching stops the running guest" '^CHK attached spinning=1 in-main=1$'
    if [ "$st" -ne "$want_st" ]; then
        echo "gdb[$who]: $endcmd: exit status $st, want $want_st"; fail=1; bad=1
    fi
    if [ "$endcmd" = detach ] && ! grep -q 'gdbtest: released' "$tmp/out"; then
        echo "gdb[$who]: detach: the guest did not run on"; fail=1; bad=1
    fi
    if [ "$endcmd" = kill ] && grep -q 'gdbtest: released' "$tmp/out"; then
        echo "gdb[$who]: kill: the guest ran on"; fail=1; bad=1
    fi
    [ "$bad" -eq 0 ] || { echo "--- gdb log ($who, $endcmd) ---"; head -30 "$tmp/log"; }
}

port=$((20000 + RANDOM % 20000))
: >"$tmp/out"
timeout 90 "$BTVM" run -q -k "$ELF" -gdb tcp::$port -S >"$tmp/out" 2>"$tmp/err" </dev/null &
session btvm $port $!
want "gdb sees the guest exit (status 0)" '^\[Inferior 1 \(Remote target\) exited normally\]'
[ "$st" -eq 0 ] || { echo "gdb[btvm]: btvm exited with status $st, want 0"; fail=1; }
for end in detach kill; do
    [ $end = detach ] && st_want=3 || st_want=0
    port=$((port + 1))
    attach btvm $end $st_want timeout 60 "$BTVM" run -q -k "$ELF" -gdb tcp::$port
done

if command -v qemu-system-i386 >/dev/null; then
    port=$((port + 1))
    : >"$tmp/out"
    timeout 90 qemu-system-i386 -kernel "$ELF" -gdb tcp::$port -S -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
        -display none -serial file:"$tmp/out" -monitor none -no-reboot </dev/null 2>"$tmp/err" &
    session qemu $port $!
    # QEMU's debug-exit status is (v << 1) | 1; it closes the connection
    # without a W packet.
    want "gdb sees the connection close" 'Remote connection closed'
    [ "$st" -eq 1 ] || { echo "gdb[qemu]: qemu exited with status $st, want 1"; fail=1; }
    for end in detach kill; do
        [ $end = detach ] && st_want=7 || st_want=0   # debug-exit 3 is (3 << 1) | 1
        port=$((port + 1))
        attach qemu $end $st_want timeout 60 qemu-system-i386 -kernel "$ELF" -gdb tcp::$port \
            -device isa-debug-exit,iobase=0xf4,iosize=0x04 -display none -serial stdio -monitor none -no-reboot
    done
else
    echo "gdb: qemu-system-i386 not installed, reference run skipped"
fi
[ "$fail" -eq 0 ] && echo "gdb: ok"
exit "$fail"
