# tests/guest/lib/suite.sh — judging a guest that reports "<suite>: <case> ok"
# lines, "... FAIL <why>" on failure and "<suite>: 0 failures" at the end
# (apictest, ioapictest, idetest, fwcfgtest). Sourced; the caller sets
# SUITE, err (a file with the run's stderr) and fail=0.

# suite_check <system> <status> <want-status> <output> <cases>: 0 if the run
# is as expected, else prints why (and the head of $err) and returns 1.
suite_check() {
    local out bad=0 t
    out=$(printf '%s\n' "$4" | tr -d '\r')
    if [ "$2" -ne "$3" ]; then
        echo "$SUITE: $1 exited with status $2, want $3$( [ "$2" -eq 124 ] && echo ' (timeout)')"; bad=1
    fi
    for t in $5; do
        printf '%s\n' "$out" | grep -qx "$SUITE: $t ok" || { echo "$SUITE: $1: no '$SUITE: $t ok'"; bad=1; }
    done
    if printf '%s\n' "$out" | grep -q "^$SUITE: .* FAIL\|^$SUITE: unexpected\|^$SUITE: no "; then
        printf '%s\n' "$out" | grep "^$SUITE: .* FAIL\|^$SUITE: unexpected\|^$SUITE: no " |
            sed "s/^/  $1: /" | head -40
        bad=1
    fi
    printf '%s\n' "$out" | grep -qx "$SUITE: 0 failures" || { echo "$SUITE: $1: no '$SUITE: 0 failures'"; bad=1; }
    if [ "$bad" -ne 0 ]; then
        head -20 "$err"
        return 1
    fi
    return 0
}
