#!/usr/bin/env bash
# tests/guest/difftest.sh — differential instruction test, fixed seed
# (docs/difftest.md): 20,000 random instruction sequences run in the
# difftest guest under btvm and natively on the host CPU must leave the
# same registers, defined flags, segments, x87/MMX/SSE state and memory.
# A difference is narrowed to one sequence, disassembled and minimized.
set -u
cd "$(dirname "$0")/../.."
exec bash scripts/difftest.sh --seed 1 --count 20000 --reports 3
