#!/usr/bin/env bash
# tests/layers.sh — the layer rule of docs/architecture.md, checked over the
# `#include "..."` lines of every .c, .h and .S file in the layered folders.
#
#   bash tests/layers.sh             check the tree; exit 1 on any violation
#   bash tests/layers.sh --selftest  prove on a copy that the check passes a
#                                    clean tree and fails an injected include
#
# A file may include headers of its own folder, of the folders listed for it
# below, and the single files listed (vm/vm.h: the engine contract). An
# include without a folder ("x.h") is taken as its own folder.
set -euo pipefail

FOLDERS="decoder devices block shadowmmu cpu bt hav vm"
declare -A MAY=(
    [decoder]=""
    [devices]=""
    [block]=""
    [shadowmmu]="decoder devices"
    [cpu]="decoder devices shadowmmu"
    [bt]="decoder shadowmmu cpu vm/vm.h"
    [hav]="decoder shadowmmu cpu vm/vm.h"
    [vm]="decoder devices block shadowmmu cpu bt hav"
)

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# allowed FOLDER INCLUDE
allowed() {
    local folder=$1 inc=$2 a
    [[ $inc != */* || ${inc%%/*} == "$folder" ]] && return 0
    for a in ${MAY[$folder]}; do
        if [[ $a == */* ]]; then [[ $inc == "$a" ]] && return 0
        else [[ ${inc%%/*} == "$a" ]] && return 0; fi
    done
    return 1
}

# check ROOT: print each violation as file:line: ..., return 1 if any.
check() {
    local root=$1 n=0 nfiles=0 f a file line text inc list
    for f in $FOLDERS; do
        [[ -d $root/$f ]] || continue
        list="$f/"
        for a in ${MAY[$f]}; do list+=" ${a%/}"; [[ $a == */* ]] || list+=/; done
        while IFS= read -r file; do
            nfiles=$((nfiles + 1))
            while IFS=: read -r line text; do
                inc=$(sed -E 's/^[^"]*"([^"]*)".*/\1/' <<<"$text")
                if ! allowed "$f" "$inc"; then
                    echo "$file:$line: includes $inc (folder $f may include: $list)"
                    n=$((n + 1))
                fi
            done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$root/$file" || true)
        done < <(cd "$root" && find "$f" -type f \( -name '*.c' -o -name '*.h' -o -name '*.S' \) | sort)
    done
    if ((n)); then
        echo "layers: $n forbidden include(s) (rules: tests/layers.sh, docs/architecture.md)"
        return 1
    fi
    echo "layers: $nfiles files in $FOLDERS: every include goes down or stays in its folder"
}

# expect PASS|FAIL WHAT [GREP]: run check on $tmp, compare, and when failing
# is expected, require GREP in the output.
expect() {
    local want=$1 what=$2 pattern=${3:-} got=PASS extra=""
    [[ -n $pattern ]] && extra=" with '$pattern'"
    check "$tmp" >"$tmp/out" || got=FAIL
    if [[ $got != "$want" ]] || { [[ -n $pattern ]] && ! grep -qF -- "$pattern" "$tmp/out"; }; then
        echo "layers selftest: $what: expected $want$extra, got $got:" >&2
        cat "$tmp/out" >&2
        exit 1
    fi
}

selftest() {
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    for f in $FOLDERS; do cp -r "$ROOT/$f" "$tmp/"; done
    # Blank out whatever the tree violates today (same line numbers kept).
    check "$tmp" >"$tmp/out" || true
    { grep ': includes ' "$tmp/out" || true; } | while IFS=: read -r file line _; do
        sed -i "${line}s|.*|/* removed by the layers selftest */|" "$tmp/$file"
    done
    expect PASS "cleaned copy"
    local cpu_c bt_c n
    cpu_c=$(cd "$tmp" && find cpu -name '*.c' | sort | head -n1)
    bt_c=$(cd "$tmp" && find bt -name '*.c' | sort | head -n1)
    echo '#include "vm/vm.h"' >>"$tmp/$bt_c"
    expect PASS "bt/ including vm/vm.h"
    echo '#include "vm/machine.h"' >>"$tmp/$cpu_c"
    n=$(wc -l <"$tmp/$cpu_c")
    expect FAIL "cpu/ including vm/machine.h" "$cpu_c:$n: includes vm/machine.h"
    sed -i '$d' "$tmp/$cpu_c"
    echo '#include "vm/machine.h"' >>"$tmp/$bt_c"
    n=$(wc -l <"$tmp/$bt_c")
    expect FAIL "bt/ including vm/machine.h" "$bt_c:$n: includes vm/machine.h"
    echo "layers selftest: passes a clean copy, fails $cpu_c and $bt_c including vm/machine.h"
}

case ${1:-} in
    --selftest) selftest ;;
    "") check "$ROOT" ;;
    *) echo "usage: $0 [--selftest]" >&2; exit 2 ;;
esac
