#!/usr/bin/env bash
# One fuzzing campaign (docs/fuzzing.md): fuzz/run.sh SURFACE SECONDS MAXLEN.
# Runs build/fuzz/bin/SURFACE niced, its corpus growing in
# build/fuzz/SURFACE/corpus (seeded from fuzz/corpus/SURFACE), crashes in
# build/fuzz/SURFACE/crashes; the whole log in build/fuzz/SURFACE/log.txt.
# Ends with libFuzzer's final stats; fails if it found a crash.
set -u
s=$1 secs=$2 maxlen=$3
root=$(cd "$(dirname "$0")/.." && pwd)
work=$root/build/fuzz/$s
mkdir -p "$work/corpus" "$work/crashes"
cd "$work" || exit 1
nice -n 19 ../bin/"$s" -max_total_time="$secs" -max_len="$maxlen" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=crashes/ \
    corpus "$root/fuzz/corpus/$s" >log.txt 2>&1
st=$?
grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::|ERROR|BUG|SUMMARY|Test unit written' log.txt
n=$(ls crashes | wc -l)
echo "fuzz-$s: exit $st, $n file(s) in $work/crashes"
exit $st
