#!/usr/bin/env bash
# scripts/difftest.sh — differential instruction testing (docs/difftest.md):
# random instruction sequences run in the difftest guest under btvm (the
# system under test) and natively on the host CPU (the reference); batch
# digests are compared, and each differing batch is narrowed to its first
# differing sequence, which is shown (disassembly, differing state) and
# minimized (items dropped while the difference stays).
#
#   scripts/difftest.sh [-s SEED] [-n COUNT] [-i START] [-c CHUNK] [-r REPORTS]
#                       [--sut btvm|qemu] [--ref native|qemu] [--one IDX [--drop MASK]]
#                       [--skip KINDS] [--cpl0] [--no-minimize]
# KINDS is a mask of item kinds to leave out (DT_K_* in guests/difftest/dt.h:
# 1 ALU, 2 MUL/DIV, 4 shifts, 8 bit ops, 0x10 BCD, 0x20 moves, 0x40 strings,
# 0x80 stack, 0x100 segments, 0x200 branches, 0x400 x87, 0x800 MMX/SSE,
# 0x1000 BOUND/ARPL/LAR/INTO/moffs/16-bit LEA and LOOP, 0x2000 self-modifying
# code and backward loops). --cpl0 runs the guest's sequences at CPL 0 (without
# the kinds whose results depend on the CPL; the host stays the reference).
# Exit status: 0 when every sequence matched, 1 on a difference, 2 on usage.
set -u
cd "$(dirname "$0")/.."
BTVM=${BTVM:-build/btvm}
ELF=build/guests/difftest.elf
NATIVE=build/guests/difftest-native
DIS=build/guests/difftest-dis
seed=1 count=20000 start=0 chunk=5000 reports=5 sut=btvm ref=native one= drop=0 minimize=1 batch=1000 skip=0 cpl=3
while [ $# -gt 0 ]; do
    case $1 in
    -s|--seed) seed=$2; shift ;;
    -n|--count) count=$2; shift ;;
    -i|--start) start=$2; shift ;;
    -c|--chunk) chunk=$2; shift ;;
    -r|--reports) reports=$2; shift ;;
    --sut) sut=$2; shift ;;
    --ref) ref=$2; shift ;;
    --one) one=$2; shift ;;
    --drop) drop=$2; shift ;;
    --skip) skip=$2; shift ;;
    --cpl0) cpl=0 ;;
    --no-minimize) minimize=0 ;;
    *) sed -n '2,21p' "$0" >&2; exit 2 ;;
    esac
    shift
done
for f in "$ELF" "$NATIVE" "$DIS"; do
    [ -x "$f" ] || [ -f "$f" ] || { echo "difftest: $f missing (run make)"; exit 2; }
done
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# run <engine> <args> <out>: the loop's output (debugcon, or stdout natively) in <out>.
run() {
    case $1 in
    btvm)   timeout 3600 "$BTVM" run -k "$ELF" -a "$2" -debugcon "file:$3" </dev/null >"$3.log" 2>&1 ;;
    qemu)   timeout 3600 qemu-system-i386 -kernel "$ELF" -append "$2" -debugcon "file:$3" -display none \
                -serial none -monitor none -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
                </dev/null >"$3.log" 2>&1 ;;
    native) timeout 3600 "$NATIVE" $2 >"$3" 2>"$3.log" ;;
    esac
    return 0
}

# dumps <idx> <drop>: full state of one sequence from both sides into $tmp/sut.d, $tmp/ref.d.
dumps() {
    local a="seed=$seed start=$1 count=1 mode=d drop=$2 skip=$skip cpl=$cpl"
    run "$sut" "$a" "$tmp/sut.d" & run "$ref" "$a" "$tmp/ref.d"; wait
}

differs() { ! cmp -s "$tmp/sut.d" "$tmp/ref.d"; }

# report <idx>: show one differing sequence, minimized.
report() {
    local idx=$1 d=$drop n i try
    dumps "$idx" "$d"
    if ! differs; then
        # It needs what ran before it in the same boot (translations, caches):
        # show it after the sequences of its batch, without minimizing.
        local from=${2:-$idx} a
        if [ "$from" -ge "$idx" ]; then
            echo "difftest: seed=$seed idx=$idx drop=$d: $sut and $ref agree"; return
        fi
        echo "=== mismatch: seed=$seed idx=$idx, only after idx $from..$((idx - 1)) ran in the same boot ($sut against $ref)"
        a="seed=$seed start=$from count=$((idx - from + 1)) mode=d skip=$skip cpl=$cpl"
        run "$sut" "$a" "$tmp/sut.c" & run "$ref" "$a" "$tmp/ref.c"; wait
        awk '/^seq /{n++} n && /^seq /{buf=""} {buf=buf $0 "\n"} END{printf "%s", buf}' "$tmp/ref.c" >"$tmp/ref.d"
        awk '/^seq /{n++} n && /^seq /{buf=""} {buf=buf $0 "\n"} END{printf "%s", buf}' "$tmp/sut.c" >"$tmp/sut.d"
        echo "    reproduce: scripts/difftest.sh -s $seed -i $from -n $((idx - from + 1)) --sut $sut --ref $ref$([ "$skip" != 0 ] && echo " --skip $skip")"
        "$DIS" <"$tmp/ref.d"
        grep -m1 '^in ' "$tmp/ref.d" | sed 's/^/  /'
        echo "  differing state ($ref | $sut):"
        diff <(grep -v '^seq\|^code\|^items\|^in ' "$tmp/ref.d") <(grep -v '^seq\|^code\|^items\|^in ' "$tmp/sut.d") |
            grep '^[<>]' | sed "s/^</  $ref:/; s/^>/  $sut:/" | head -40
        return
    fi
    if [ "$minimize" = 1 ]; then
        n=$(grep -m1 '^items' "$tmp/ref.d" | wc -w); n=$((n - 2))
        for ((i = 0; i < n; i++)); do
            try=$(printf '0x%x' $((d | (1 << i))))
            dumps "$idx" "$try"
            # Keep the drop only if the reference still runs the sequence.
            if differs && grep -q '^END' "$tmp/ref.d"; then d=$try; fi
        done
        dumps "$idx" "$d"
    fi
    echo "=== mismatch: seed=$seed idx=$idx drop=$d ($sut against $ref)"
    echo "    reproduce: scripts/difftest.sh -s $seed --one $idx --drop $d$([ "$skip" != 0 ] && echo " --skip $skip")$([ "$cpl" = 0 ] && echo " --cpl0")"
    "$DIS" <"$tmp/ref.d"
    grep -m1 '^in ' "$tmp/ref.d" | sed 's/^/  /'
    echo "  differing state ($ref | $sut):"
    diff <(grep -v '^seq\|^code\|^items\|^in ' "$tmp/ref.d") <(grep -v '^seq\|^code\|^items\|^in ' "$tmp/sut.d") |
        grep '^[<>]' | sed "s/^</  $ref:/; s/^>/  $sut:/" | head -40
    grep -h '^EXC\|translator\|error' "$tmp/sut.d" "$tmp/sut.d.log" 2>/dev/null | sed 's/^/  /' | head -5
}

if [ -n "$one" ]; then
    report "$one"; exit 0
fi

t0=$(date +%s.%N)
bad_batches=0 shown=0 done_n=0
while [ "$done_n" -lt "$count" ]; do
    n=$((count - done_n)); [ "$n" -gt "$chunk" ] && n=$chunk
    s=$((start + done_n))
    a="seed=$seed start=$s count=$n mode=b batch=$batch skip=$skip cpl=$cpl"
    run "$sut" "$a" "$tmp/sut.b" & run "$ref" "$a" "$tmp/ref.b"; wait
    grep -q "^END $n\$" "$tmp/ref.b" || { echo "difftest: reference ($ref) did not finish: $(tail -c 300 "$tmp/ref.b.log" "$tmp/ref.b" 2>/dev/null)"; exit 2; }
    # Batches that differ, or are missing (the run under test stopped).
    mapfile -t bad < <(join -a 1 -o 1.1,1.2,2.2 <(grep '^B ' "$tmp/ref.b" | cut -d' ' -f2,3 | sort) \
                                                 <(grep '^B ' "$tmp/sut.b" | cut -d' ' -f2,3 | sort) |
                       awk '$2 != $3 { print $1 }' | sort -n)
    bad_batches=$((bad_batches + ${#bad[@]}))
    for b in "${bad[@]}"; do
        [ "$shown" -ge "$reports" ] && break
        shown=$((shown + 1))
        a="seed=$seed start=$b count=$batch mode=b batch=1 skip=$skip cpl=$cpl"
        run "$sut" "$a" "$tmp/sut.s" & run "$ref" "$a" "$tmp/ref.s"; wait
        first=$(join -a 1 -o 1.1,1.2,2.2 <(grep '^B ' "$tmp/ref.s" | cut -d' ' -f2,3 | sort) \
                                         <(grep '^B ' "$tmp/sut.s" | cut -d' ' -f2,3 | sort) |
                awk '$2 != $3 { print $1 }' | sort -n)
        nd=$(printf '%s\n' "$first" | grep -c .)
        echo "difftest: batch $b: $nd of $batch sequences differ"
        report "$(printf '%s\n' "$first" | head -1)" "$b"
    done
    done_n=$((done_n + n))
done
t1=$(date +%s.%N)
printf 'difftest: %d sequences (seed %s, from %s%s), %s against %s, %d batches of %d differ, %.1f s\n' \
    "$count" "$seed" "$start" "$([ "$cpl" = 0 ] && echo ', CPL 0')" "$sut" "$ref" "$bad_batches" "$batch" "$(echo "$t1 - $t0" | bc)"
[ "$bad_batches" -eq 0 ]
