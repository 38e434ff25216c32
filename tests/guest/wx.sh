#!/usr/bin/env bash
# tests/guest/wx.sh — no host page of a running btvm is writable and
# executable at once (W^X): while guests/vgatest runs (it keeps polling the
# keyboard), /proc/PID/maps must hold no "rwx" mapping, and on the BT engine
# the code cache must show its two views of the same shared memory (one
# r-xs where code runs, one rw-s where the translator writes, same inode;
# bt/cache.c, docs/translation.md). The
# KVM engine, when /dev/kvm works, is checked the same way (no rwx).
set -u
BTVM=${BTVM:-build/btvm}
cd "$(dirname "$0")/../.."
ELF=build/guests/vgatest.elf
[ -f "$ELF" ] || { echo "wx: $ELF missing (run make guests)"; exit 1; }
fail=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

check() {   # check ENGINE
    "$BTVM" run -q -k "$ELF" -a "screen=13h keys" --engine "$1" -display none </dev/null >"$tmp/out" 2>"$tmp/err" &
    local pid=$! i
    for i in $(seq 50); do   # up to 5 s for translated code to have run
        grep -q . "$tmp/out" 2>/dev/null && break
        sleep 0.1
    done
    sleep 0.3
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "wx: $1: btvm ended early: $(head -3 "$tmp/err")"; fail=1; return
    fi
    cp "/proc/$pid/maps" "$tmp/maps"
    kill "$pid"; wait "$pid" 2>/dev/null
    local rwx
    rwx=$(awk '$2 ~ /^rwx/' "$tmp/maps")
    if [ -n "$rwx" ]; then
        echo "wx: $1: writable and executable host mappings:"; printf '%s\n' "$rwx"; fail=1
    fi
    if [ "$1" = bt ]; then
        local x w
        x=$(awk '$2 == "r-xs" && $6 == "/dev/zero" { print $5 }' "$tmp/maps")
        w=$(awk '$2 == "rw-s" && $6 == "/dev/zero" { print $5 }' "$tmp/maps")
        if [ "$(wc -w <<<"$x")" -ne 1 ] || [ -z "$w" ] || ! grep -qx "$x" <<<"$w"; then
            echo "wx: bt: want one r-xs code-cache view and an rw-s view of the same memory, have r-xs [$x] rw-s [$w]"; fail=1
        fi
    fi
    [ "$fail" -eq 0 ] && echo "wx: $1: no rwx mapping among $(wc -l <"$tmp/maps") while the guest runs"
}

check bt
if [ -r /dev/kvm ] && "$BTVM" run -k build/guests/hello.elf --engine kvm </dev/null >/dev/null 2>&1; then
    check kvm
else
    echo "wx: kvm engine not usable here, checked bt only"
fi
exit "$fail"
