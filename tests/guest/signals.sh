#!/usr/bin/env bash
# tests/guest/signals.sh — SIGTERM, SIGINT and SIGHUP end btvm in order
# (vm/signals.c; README "Exit status"): a guest that never stops
# (guests/hostile "spin-cli 0") runs on a pseudo-terminal, with the serial
# console in raw mode (-display none) and with the curses display; each
# signal must give status 128+N, "btvm: terminating on signal N", and the
# terminal's attributes exactly as they were before btvm started
# (tests/tools/sigterm_pty.py compares them).
set -u
BTVM=${BTVM:-build/btvm}
cd "$(dirname "$0")/../.."
ELF=build/guests/hostile.elf
[ -f "$ELF" ] || { echo "signals: $ELF missing (run make guests)"; exit 1; }
fail=0
for disp in none curses; do
    for s in TERM:15 INT:2 HUP:1; do
        name=${s%:*} n=${s#*:}
        out=$(TERM=xterm python3 tests/tools/sigterm_pty.py "$name" "$BTVM" run -k "$ELF" -a "spin-cli 0" \
              -display "$disp" 2>&1)
        st=$(sed -n 's/^status //p' <<<"$out" | head -1)
        if [ "$st" = $((128 + n)) ] && grep -q '^restored yes' <<<"$out" && grep -q '^raw yes' <<<"$out" &&
           grep -q "btvm: terminating on signal $n" <<<"$out"; then
            echo "signals: SIG$name with -display $disp: status $st, terminal restored"
        else
            echo "signals: SIG$name with -display $disp: want status $((128 + n)), the message and the terminal restored; got:"
            head -3 <<<"$out" | sed 's/^/  | /'; tail -3 <<<"$out" | tr -d '\033' | sed 's/^/  | /'
            fail=1
        fi
    done
done
exit "$fail"
