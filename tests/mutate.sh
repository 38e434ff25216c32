#!/usr/bin/env bash
# tests/mutate.sh — mutation testing (make mutate): each line of
# tests/mutations.txt is applied alone to a scratch copy of the tree (the
# working tree is never touched), btvm (or the named unit test) is rebuilt
# and the line's tests run. A mutation is caught when at least one of them
# fails, survived when all pass. Before any mutation the same tests run on
# the unmutated copy: they must pass there, or a "catch" would mean nothing.
# Prints a table; exits 1 if any mutation survived, was not applied or did
# not build, 2 if the baseline fails.
#   tests/mutate.sh [ID...]        only the named mutations
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
LIST=${MUTATIONS:-tests/mutations.txt}
JOBS=${JOBS:-2}
want=" $* "

[ -x build/btvm ] || { echo "mutate: build/btvm missing (run make first)"; exit 2; }
mapfile -t lines < <(grep -vE '^[[:space:]]*(#|$)' "$LIST")
sel=()
for l in "${lines[@]}"; do
    id=${l%%[[:space:]]*}
    [ $# -eq 0 ] || [[ "$want" == *" $id "* ]] && sel+=("$l")
done
[ ${#sel[@]} -gt 0 ] || { echo "mutate: no mutation selected"; exit 2; }

SCR=$(mktemp -d "${TMPDIR:-/tmp}/btvm-mutate.XXXXXX")
trap 'rm -rf "$SCR"' EXIT
echo "mutate: scratch copy in $SCR"
# Sources as they are in the working tree (committed or not), with their
# mtimes, so the copied objects stay up to date and only a mutated file
# rebuilds. Objects and guests are copied (a rebuild writes in place, so
# hard links would reach the real tree); the large read-only downloads and
# images are linked.
git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$SCR"
mkdir -p "$SCR/build"
for f in build/* build/.deps-ok; do
    [ -e "$f" ] || continue
    case "$(basename "$f")" in
    obj|san|guests|tests|btvm|libbtvm.a|.deps-ok) cp -a "$f" "$SCR/build/" ;;
    *) ln -s "$ROOT/$f" "$SCR/$f" ;;
    esac
done

# run_tests <comma-list> <log>: 0 if all pass; prints the failing ones.
run_tests() {
    local failed="" t
    for t in ${1//,/ }; do
        case "$t" in
        guest:*) timeout 600 bash "tests/guest/${t#guest:}.sh" >>"$2" 2>&1 ;;
        unit:*) make -j"$JOBS" "build/tests/${t#unit:}" >>"$2" 2>&1 &&
                CK_FORK=yes timeout 600 "build/tests/${t#unit:}" >>"$2" 2>&1 ;;
        sh:*) timeout 600 bash "${t#sh:}" >>"$2" 2>&1 ;;
        *) echo "mutate: unknown test kind $t" >>"$2"; false ;;
        esac || failed+="${failed:+,}$t"
    done
    printf '%s' "$failed"
}

cd "$SCR"
t0=$(date +%s)
alltests=$(for l in "${sel[@]}"; do read -r _ _ tests _ <<<"$l"; echo "${tests//,/ }"; done | tr ' ' '\n' | sort -u | paste -sd,)
echo "mutate: baseline (unmutated copy): $alltests"
if ! make -j"$JOBS" build/btvm >"$SCR/baseline.log" 2>&1; then
    echo "mutate: the unmutated copy does not build"; tail -20 "$SCR/baseline.log"; exit 2
fi
bad=$(run_tests "$alltests" "$SCR/baseline.log")
if [ -n "$bad" ]; then
    echo "mutate: baseline fails ($bad), mutations would prove nothing:"; tail -30 "$SCR/baseline.log"; exit 2
fi

printf '%-18s %-24s %-9s %5s  %s\n' ID FILE RESULT SECS "CAUGHT BY / NOTE"
caught=0 survived=0 broken=0
for l in "${sel[@]}"; do
    read -r id file tests script <<<"$l"
    log="$SCR/$id.log"; s=$(date +%s)
    cp -p "$file" "$SCR/orig"
    sed -i -e "$script" "$file"
    if cmp -s "$file" "$SCR/orig"; then
        res=NOT-APPLIED note="sed script changed nothing"; broken=$((broken+1))
    elif ! make -j"$JOBS" build/btvm >"$log" 2>&1; then
        res=NO-BUILD note="$(grep -m1 -E 'error' "$log")"; broken=$((broken+1))
    else
        by=$(run_tests "$tests" "$log")
        if [ -n "$by" ]; then res=caught note=$by; caught=$((caught+1))
        else res=SURVIVED note="passed: $tests"; survived=$((survived+1)); fi
    fi
    # Restore with a fresh mtime so the next build recompiles it.
    cp "$SCR/orig" "$file" && touch "$file"
    printf '%-18s %-24s %-9s %5d  %s\n' "$id" "$file" "$res" $(( $(date +%s) - s )) "$note"
done
make -j"$JOBS" build/btvm >/dev/null 2>&1
echo "mutate: ${#sel[@]} mutations: $caught caught, $survived survived, $broken not applied or not built ($(( $(date +%s) - t0 )) s)"
[ "$survived" -eq 0 ] && [ "$broken" -eq 0 ]
