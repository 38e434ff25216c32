#!/usr/bin/env bash
# tests/guest/codecache.sh — a code cache far too small for the guest's code
# must be flushed and refilled while the guest keeps running correctly:
# insntest and compute with --code-cache=16 (KiB) give their normal results,
# and --stats=json shows that flushes really happened.
set -u
BTVM=${BTVM:-build/btvm}
cd "$(dirname "$0")/../.."
fail=0
for g in insntest compute; do
    err=$(mktemp)
    out=$(timeout 600 "$BTVM" run -k build/guests/$g.elf --code-cache=16 --stats=json </dev/null 2>"$err"); st=$?
    flushes=$(grep -o '"cache_flushes":[0-9]*' "$err" | cut -d: -f2)
    if [ "$st" -ne 0 ]; then
        echo "codecache: $g exited $st"; head -5 "$err"; fail=1
    elif [ -z "$flushes" ] || [ "$flushes" -eq 0 ]; then
        echo "codecache: $g never flushed the 16 KiB cache (stats: $(cat "$err"))"; fail=1
    else
        case $g in
        insntest) printf '%s\n' "$out" | tr -d '\r' | grep -q ' 0 failures' || { echo "codecache: insntest failed"; fail=1; } ;;
        compute) want=$(build/guests/compute-native | grep checksum)
                 printf '%s\n' "$out" | tr -d '\r' | grep -qx "$want" || { echo "codecache: compute checksum wrong"; fail=1; } ;;
        esac
        [ "$fail" -eq 0 ] && echo "codecache: $g ok with 16 KiB cache ($flushes flushes)"
    fi
    rm -f "$err"
done
exit "$fail"
