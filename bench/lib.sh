# shellcheck shell=bash
# bench/lib.sh — shared helpers for the benchmark scripts (sourced, not run).
# Owns: timing one whole process, checking its exit status and result line,
# writing one CSV row (median/min/max over N runs), and printing ratio
# tables from a finished CSV. Workload scripts (bench/<workload>.sh) only
# say which commands to run; everything about measuring lives here.
#
# Contract for a workload script:
#   bench_csv_begin <csv> <result-regex>   start a CSV, say what line to check
#   bench_csv_row <workload> <system> <expected-status> <cmd...>
#   bench_csv_end                          publish the CSV (atomically)
#   bench_ratios <csv> <workload> <sysA/sysB>...
# The first row's result line becomes the reference; every later run of
# every system must print the same line, or the benchmark fails loudly.

set -u
export LC_ALL=C            # '.' as decimal separator in EPOCHREALTIME and awk

BENCH_RUNS=${BENCH_RUNS:-5}
BENCH_WARMUP=${BENCH_WARMUP:-1}      # untimed runs before the timed ones
BENCH_TIMEOUT=${BENCH_TIMEOUT:-600}  # seconds; a hung engine must not hang make
BENCH_OUT=${BENCH_OUT:-build/bench}

bench_die() {
    echo "bench: FAIL: $*" >&2
    [ -n "${BENCH_CSV:-}" ] && rm -f "$BENCH_CSV.tmp"
    exit 1
}
bench_note() { echo "bench: $*"; }

# Seconds since the epoch, microsecond resolution, without forking
# (a fork of date(1) would add ~1 ms of noise to every sample). It is the
# realtime clock, so an NTP step during a run would skew that one sample.
bench_now() {
    if [ -n "${EPOCHREALTIME:-}" ]; then printf '%s\n' "$EPOCHREALTIME"
    else date +%s.%N; fi
}

bench_csv_begin() {
    [[ $BENCH_RUNS =~ ^[1-9][0-9]*$ ]] || bench_die "BENCH_RUNS must be >= 1"
    BENCH_CSV=$1 BENCH_RESULT_RE=$2 BENCH_REF=
    mkdir -p "$(dirname "$BENCH_CSV")" "$BENCH_OUT/logs"
    # Rows go to a temp file and the old CSV goes at once: a failed
    # benchmark leaves neither a half-written CSV nor stale numbers.
    rm -f "$BENCH_CSV"
    echo "workload,system,median_s,min_s,max_s,runs" > "$BENCH_CSV.tmp"
}

bench_csv_end() {
    mv -f "$BENCH_CSV.tmp" "$BENCH_CSV"
    bench_note "wrote $BENCH_CSV"
}

# Run once with output in $log; check status and result line. Sets BENCH_T.
_bench_run_once() {
    local log=$1 want=$2; shift 2
    local t0 t1 rc line
    t0=$(bench_now)
    timeout -k 5 "$BENCH_TIMEOUT" "$@" </dev/null >"$log" 2>&1
    rc=$?
    t1=$(bench_now)
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        bench_die "$BENCH_SYS: $* timed out after ${BENCH_TIMEOUT}s (log: $log)"
    fi
    if [ "$rc" != "$want" ]; then
        tail -n 20 "$log" >&2
        bench_die "$BENCH_SYS: $* exited $rc, expected $want (log: $log)"
    fi
    # Serial output may carry CRs; take the first matching line only.
    line=$(tr -d '\r' <"$log" | grep -m1 -E "$BENCH_RESULT_RE")
    if [ -z "$line" ]; then
        tail -n 20 "$log" >&2
        bench_die "$BENCH_SYS: $* printed no line matching /$BENCH_RESULT_RE/ (log: $log)"
    fi
    if [ -z "$BENCH_REF" ]; then
        BENCH_REF=$line
    elif [ "$line" != "$BENCH_REF" ]; then
        bench_die "$BENCH_SYS: $* printed '$line', reference is '$BENCH_REF' (log: $log)"
    fi
    BENCH_T=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')
}

# bench_csv_row <workload> <system> <expected-status> <cmd...>
bench_csv_row() {
    local wl=$1 sys=$2 want=$3; shift 3
    local log="$BENCH_OUT/logs/$wl-$sys.log" i times=()
    BENCH_SYS=$sys
    [ -n "${BENCH_CSV:-}" ] || bench_die "bench_csv_row before bench_csv_begin"
    for ((i = 0; i < BENCH_WARMUP; i++)); do
        _bench_run_once "$log" "$want" "$@"
    done
    for ((i = 0; i < BENCH_RUNS; i++)); do
        _bench_run_once "$log" "$want" "$@"
        times+=("$BENCH_T")
    done
    printf '%s\n' "${times[@]}" | sort -g | awk -v wl="$wl" -v sys="$sys" '
        { t[NR] = $1 }
        END {
            m = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
            printf "%s,%s,%.6f,%.6f,%.6f,%d\n", wl, sys, m, t[1], t[NR], NR
        }' >> "$BENCH_CSV.tmp"
    bench_note "$wl/$sys: $(tail -n 1 "$BENCH_CSV.tmp" | cut -d, -f3)s median of $BENCH_RUNS"
}

# bench_ratios <csv> <workload> <sysA/sysB>... — table of median ratios;
# "n/a" where a system has no row (e.g. QEMU not installed).
bench_ratios() {
    local csv=$1 wl=$2; shift 2
    printf '%s\n' "$@" | awk -F, -v csv="$csv" -v wl="$wl" '
        BEGIN {
            while ((getline l < csv) > 0) {
                split(l, f, ","); if (f[1] == wl) med[f[2]] = f[3]
            }
            printf "%-20s %12s\n", wl, "median ratio"
        }
        {
            split($0, p, "/")
            if ((p[1] in med) && (p[2] in med) && med[p[2]] > 0)
                printf "%-20s %11.2fx\n", $0, med[p[1]] / med[p[2]]
            else
                printf "%-20s %12s\n", $0, "n/a"
        }'
}

# bench_kvm_usable: true when `btvm --engine kvm` runs the hello guest here
# (the engine choice's own checks: VT-x/AMD-V, /dev/kvm, API 12). Its
# reason is in $BENCH_KVM_WHY either way.
bench_kvm_usable() {
    if [ -z "${BENCH_KVM_CHECKED:-}" ]; then
        BENCH_KVM_CHECKED=1
        local b=${BTVM:-${BUILD:-build}/btvm} h=${BUILD:-build}/guests/hello.elf err
        err=$(timeout 30 "$b" run --engine kvm -k "$h" </dev/null 2>&1 >/dev/null)
        BENCH_KVM_OK=$?
        BENCH_KVM_WHY=$(printf '%s\n' "$err" | head -n1)
    fi
    [ "$BENCH_KVM_OK" -eq 0 ]
}

# bench_rounds <name>: BENCH_RUNS rounds over $RUN_SYSTEMS, one boot of each
# system per round (interleaved: load drifting on this shared host weighs
# on every system alike). The workload defines boot_once <emu> <system>
# <round> (and native_once <round> <system> when it has native systems).
bench_rounds() {
    local i sys
    for ((i = 1; i <= BENCH_RUNS; i++)); do
        for sys in $RUN_SYSTEMS; do
            case $sys in
            btvm-bt) boot_once btvm btvm-bt "$i" ;;
            qemu-tcg) boot_once qemu qemu-tcg "$i" ;;
            native | native-i386) native_once "$i" "$sys" ;;
            *) boot_once "$sys" "$sys" "$i" ;;
            esac
        done
        bench_note "$1: run $i of $BENCH_RUNS done ($RUN_SYSTEMS )"
    done
}

# bench_qemu_present: true when $QEMU runs here, else a SKIP note.
bench_qemu_present() {
    command -v "$QEMU" >/dev/null 2>&1 && return 0
    bench_note "SKIP qemu-tcg rows: $QEMU not found (apt-get install qemu-system-x86)"
    return 1
}

# bench_sample_row <samples> <workload> <system>: the CSV row
# "workload,system,median,min,max,runs" of the "workload system seconds"
# lines in samples; nothing when there are none.
bench_sample_row() {
    awk -v wl="$2" -v sys="$3" '$1 == wl && $2 == sys { print $3 }' "$1" | sort -g |
        awk -v wl="$2" -v sys="$3" '
            { t[NR] = $1 }
            END {
                if (NR == 0) exit
                m = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
                printf "%s,%s,%.6f,%.6f,%.6f,%d\n", wl, sys, m, t[1], t[NR], NR
            }'
}
