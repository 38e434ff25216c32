#!/usr/bin/env bash
# tests/guest/difftest.sh — differential instruction test, fixed seed
# (docs/difftest.md): 20,000 random instruction sequences run in the
# difftest guest under btvm at CPL 3 and natively on the host CPU must
# leave the same registers, defined flags, segments, x87/MMX/SSE state,
# memory and exceptions; then 10,000 more with the guest at CPL 0. A
# difference is narrowed to one sequence, disassembled and minimized.
set -u
cd "$(dirname "$0")/../.."
st=0
bash scripts/difftest.sh --seed 1 --count 20000 --reports 3 || st=1
bash scripts/difftest.sh --seed 2 --count 10000 --reports 3 --cpl0 || st=1
exit "$st"
