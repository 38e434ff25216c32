#!/usr/bin/env bash
# bench/translate.sh — the "translate" workload: what translation costs on
# a Debian kernel boot to /init (make linux, `quiet`), from btvm's own
# --stats=json: microseconds per translated block and host code bytes per
# guest instruction, medians of BENCH_RUNS boots; and blocks translated per
# warm start of a dynamically linked program (coreutils:i386 `true` with
# Debian's glibc, ASLR on): boots that start it 21 and 41 times, the
# difference in "blocks translated" over 20 (the second start translates
# its libraries shared, docs/translation.md §8b; later ones reuse them).
# The first boot also retranslates its kernel blocks three times when it
# ends (BTVM_XLAT_BENCH=3, bt/xlatbench.c): hot_us_per_block, the
# translator alone with warm caches, steadier between runs.
# Writes
# $BENCH_OUT/translate.csv (measure,system,value,unit). QEMU TCG has no
# such counters; the row is btvm's alone.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.." || exit 1
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
BUILD=${BUILD:-build}
BTVM=${BTVM:-$BUILD/btvm}
LINUX_DIR=$BUILD/linux
# shellcheck source=guests/linux/lib.sh
. guests/linux/lib.sh
csv=$BENCH_OUT/translate.csv
[ -x "$BTVM" ] || bench_die "$BTVM is missing (run 'make all' first)"
for f in "$LINUX_KERNEL" "$LINUX_INITRD"; do
    [ -e "$f" ] || bench_die "$f is missing (run 'make linux' first)"
done
mkdir -p "$BENCH_OUT/logs"
[[ $BENCH_RUNS =~ ^[1-9][0-9]*$ ]] || bench_die "BENCH_RUNS must be >= 1"

samples=$(mktemp)
trap 'rm -f "$samples"' EXIT
# stats_boot <log> <guest command>: one boot; its engine's --stats=json.
stats_boot() {
    local log=$1 st
    BTVM_XLAT_BENCH=${3:-} timeout -k 5 "$BENCH_TIMEOUT" "$BTVM" run -q --engine bt --no-reboot -m "$LINUX_MEM" \
        -k "$LINUX_KERNEL" -i "$LINUX_INITRD" -a "$(linux_cmdline "$2") quiet" --stats=json \
        </dev/null >"$log.out" 2>"$log"
    st=$?
    [ "$st" = 0 ] || bench_die "btvm-bt: boot exited $st (log: $log, $log.out)"
    grep -q '^btvm-init: exit 0' "$log.out" || bench_die "btvm-bt: the guest command failed (log: $log.out)"
}
DYN='D=/usr/lib/btvm-dyn; n=$1; i=0; $D/true || exit 1; while [ $i -lt $n ]; do $D/true || exit 1; i=$((i + 1)); done'
for ((i = 1; i <= BENCH_RUNS; i++)); do
    log=$BENCH_OUT/logs/translate-btvm-bt-$i.log
    stats_boot "$log" true 3
    stats_boot "$log.dyn21" "set -- 20; $DYN"
    stats_boot "$log.dyn41" "set -- 40; $DYN"
    python3 - "$log" "$log.dyn21" "$log.dyn41" >>"$samples" <<'PY' || bench_die "btvm-bt: no --stats=json in $log"
import json, sys
def stats(f):
    line = [l for l in open(f) if l.startswith('{"engine"')][-1]
    return json.loads(line)["engine_stats"]
e = stats(sys.argv[1])
print("us_per_block", e["translate_us_per_block"])
print("bytes_per_insn", e["host_bytes_per_guest_insn"])
print("blocks", e["blocks_translated"])
one, more = stats(sys.argv[2]), stats(sys.argv[3])
print("blocks_per_dynexec", (more["blocks_translated"] - one["blocks_translated"]) / 20)
import re
hot = [re.search(r"([0-9.]+) us per block", l) for l in open(sys.argv[1]) if l.startswith("btvm: translation bench:")]
if hot and hot[-1]:
    print("hot_us_per_block", hot[-1].group(1))
PY
done
{
    echo "measure,system,value,unit"
    for m in us_per_block:us bytes_per_insn:B blocks:blocks blocks_per_dynexec:blocks hot_us_per_block:us; do
        awk -v m="${m%%:*}" '$1 == m { print $2 }' "$samples" | sort -g |
            awk -v m="${m%%:*}" -v u="${m#*:}" '{ v[NR] = $1 }
                END { x = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
                      printf "translate_%s,btvm-bt,%.3f,%s\n", m, x, u }' 
    done
} >"$csv"
bench_note "wrote $csv"
column -s, -t "$csv"
