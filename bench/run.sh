#!/usr/bin/env bash
# bench/run.sh — runs the benchmark workloads named on the command line
# (default: all of them), each a bench/<workload>.sh writing
# $BENCH_OUT/<workload>.csv. Stops at the first workload that fails.
set -u
here=$(cd "$(dirname "$0")" && pwd)
[ $# -gt 0 ] || set -- compute
for wl in "$@"; do
    [ -f "$here/$wl.sh" ] || { echo "bench: no workload '$wl' ($here/$wl.sh)" >&2; exit 1; }
    echo "== bench: $wl"
    bash "$here/$wl.sh" || { echo "bench: workload '$wl' FAILED" >&2; exit 1; }
done
