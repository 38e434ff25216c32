#!/usr/bin/env bash
# Runs each Check unit-test binary; Check prints its own summary line per
# binary. Ends with one "N passed, N failed" line over all binaries. A
# UBSan report fails its binary (halt_on_error): it used to print and pass.
set -u
pass=0; fail=0
for t in "$@"; do
    if CK_FORK=yes ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "$t"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAILED: $t"; fi
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
