#!/usr/bin/env bash
# Runs every tests/guest/*.sh (each boots guests and exits 0 on success).
set -u
cd "$(dirname "$0")/.."
pass=0; fail=0
for t in tests/guest/*.sh; do
    echo "== $t"
    if bash "$t"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAILED: $t"; fi
done
echo "guest: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
