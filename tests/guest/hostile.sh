#!/usr/bin/env bash
# tests/guest/hostile.sh — runs guests/hostile in every mode (random modes
# with 25 seeds each, device modes with 10) and checks that btvm ends with a
# clean stop of an allowed kind, or keeps running where that is allowed, is
# never killed by a signal (SIGSEGV/SIGBUS/SIGABRT/...) and never prints a
# sanitizer or assertion report. See docs/guests.md, "hostile".
# BTVM=path overrides build/btvm (build/san/btvm: the same under ASan+UBSan);
# SEEDS=n runs n seeds of every random mode; DEV_SEEDS=n only the device modes.
set -u
cd "$(dirname "$0")/../.."
BTVM=${BTVM:-build/btvm}
ELF=build/guests/hostile.elf
DEV_SEEDS=${DEV_SEEDS:-${SEEDS:-10}}   # SEEDS=n alone sets both
SEEDS=${SEEDS:-25}
[ -x "$BTVM" ] || { echo "hostile: $BTVM not built"; exit 1; }
[ -f "$ELF" ] || { echo "hostile: $ELF missing (run make guests)"; exit 1; }
T=$(mktemp -d /tmp/btvm-hostile.XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0; fail=0

signame() { local n=$(( $1 - 128 )); kill -l "$n" 2>/dev/null || echo "$n"; }

# check NAME "MODE SEED" ALLOWED-STATUSES STDOUT-WANT
#   ALLOWED: space-separated statuses; 124 means "still running after 20 s"
#   (timeout killed it with SIGTERM). Status 3 must say "guest halted",
#   4 must give a one-line "btvm: " reason, 5 must say "triple fault".
#   STDOUT-WANT: a substring the guest's serial output must contain, or "".
#   EXTRA (the 4th argument, optional): more btvm options (-hda ...).
check() {
    local args=$1 allowed=$2 want=${3:-} extra=${4:-}
    # shellcheck disable=SC2086  # EXTRA is a list of options
    timeout 20 "$BTVM" run -k "$ELF" $extra -a "$args" </dev/null >"$T/out" 2>"$T/err"
    local rc=$? why="" first; first=$(grep -v "^btvm: engine " "$T/err" | head -n1)
    case " $allowed " in
    *" $rc "*) ;;
    *)  if [ "$rc" -gt 128 ] && [ "$rc" -ne 124 ]; then
            why="killed by signal SIG$(signame "$rc") (status $rc), allowed: $allowed"
        else
            why="exit status $rc, allowed: $allowed"
        fi ;;
    esac
    if [ -z "$why" ]; then
        case $rc in
        3) grep -q 'guest halted' "$T/err" || why="status 3 but stderr lacks 'guest halted'" ;;
        4) printf '%s\n' "$first" | grep -q '^btvm: ' ||
               why="status 4 but stderr does not start with a 'btvm: ' reason" ;;
        5) grep -q 'triple fault' "$T/err" || why="status 5 but stderr lacks 'triple fault'" ;;
        esac
    fi
    if [ -z "$why" ] && [ -n "$want" ] && ! tr -d '\r' <"$T/out" | grep -qF -- "$want"; then
        why="serial output lacks '$want'"
    fi
    if [ -z "$why" ] && grep -qE 'AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:|Assertion .* failed' "$T/err"; then
        why="a sanitizer or assertion report on stderr"
    fi
    if [ -z "$why" ]; then
        pass=$((pass+1)); echo "ok   $args: status $rc${first:+ ($first)}"
    else
        fail=$((fail+1)); echo "FAIL $args: $why"
        sed 's/^/     | /' "$T/err" | head -5
        tr -d '\r' <"$T/out" | tail -3 | sed 's/^/     > /'
    fi
}

# Deterministic modes.
check "triple 0"        "5"
check "hlt-cli 0"       "3"
# 20000 rewrites: each one invalidates and retranslates a block (~50 us).
check "smc-storm 20000" "0" "hostile: smc-storm ok"
check "selfmod-stack 0" "0" "hostile: selfmod-stack ok"

# Random modes: every run replays exactly with the same "mode seed".
for s in $(seq 1 "$SEEDS"); do
    check "idt-random $s"  "4 5 124"
    check "wild-farjmp $s" "4 5"
    check "wild-jump $s"   "4 5 124"
done

# Device modes: seeded abuse of the local APIC, I/O APIC, fw_cfg, HPET and
# IDE bus-master DMA; the guest then checks the device still works and
# exits with 0. ide-dma gets a scratch 1 MiB disk and CD image: both must
# keep their size (no DMA or write lands past the end of an image).
truncate -s 1M "$T/disk.img" "$T/cd.img"
for s in $(seq 1 "$DEV_SEEDS"); do
    check "lapic-random $s"  "0" "hostile: lapic-random ok"
    check "ioapic-random $s" "0" "hostile: ioapic-random ok"
    check "fwcfg-random $s"  "0" "hostile: fwcfg-random ok"
    check "hpet-random $s"   "0" "hostile: hpet-random ok"
    check "ide-dma $s"       "0" "hostile: ide-dma ok" "-hda $T/disk.img -cdrom $T/cd.img"
    check "virtio-net $s"    "0" "hostile: virtio-net ok" "-nic user"
    for img in disk cd; do
        sz=$(stat -c %s "$T/$img.img" 2>/dev/null || echo missing)
        if [ "$sz" != 1048576 ]; then
            fail=$((fail+1)); echo "FAIL ide-dma $s: $img.img is $sz bytes, want 1048576"
            truncate -s 1M "$T/$img.img"
        fi
    done
done

# spin-cli never stops by itself: timeout must kill it (status 124).
timeout -s TERM 2 "$BTVM" run -k "$ELF" -a "spin-cli 0" </dev/null >/dev/null 2>"$T/err"; rc=$?
if [ "$rc" -eq 124 ]; then
    pass=$((pass+1)); echo "ok   spin-cli: still running after 2 s, stopped by SIGTERM"
else
    fail=$((fail+1)); echo "FAIL spin-cli: timeout -s TERM 2 gave status $rc, want 124"
    sed 's/^/     | /' "$T/err" | head -5
fi

# The same with Ctrl-A X on a non-terminal stdin: btvm only honours the
# escape on a terminal, so it keeps running; SIGTERM must then end it by
# that very signal (143), not by SIGSEGV/SIGBUS/SIGABRT on the way out.
printf '\001x' | "$BTVM" run -k "$ELF" -a "spin-cli 0" >/dev/null 2>"$T/err" &
pid=$!
sleep 1
if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"; wait "$pid"; rc=$?
    if [ "$rc" -eq 143 ]; then
        pass=$((pass+1)); echo "ok   spin-cli (stdin ^A x): running after 1 s, ended by SIGTERM"
    else
        fail=$((fail+1))
        echo "FAIL spin-cli (stdin ^A x): after SIGTERM status $rc ($( [ "$rc" -gt 128 ] && echo "SIG$(signame "$rc")")), want 143 (SIGTERM)"
        sed 's/^/     | /' "$T/err" | head -5
    fi
else
    wait "$pid"; rc=$?
    fail=$((fail+1)); echo "FAIL spin-cli (stdin ^A x): stopped by itself within 1 s, status $rc"
    sed 's/^/     | /' "$T/err" | head -5
fi

echo "hostile: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
