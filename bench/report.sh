#!/usr/bin/env bash
# bench/report.sh — one report over every build/bench/*.csv:
#   build/bench/report.md   a markdown table per CSV: each system's value
#                           and its ratio to a baseline system, in the spirit
#                           of Adams & Agesen's software-vs-hardware tables
#   build/bench/report.png  bar charts of those ratios (gnuplot, png terminal;
#                           Debian's gnuplot-nox is installed when missing)
# and says whether the hardware-assisted engine could run here, with btvm's
# own reason (btvm run --engine=kvm on the hello guest).
#
# CSV shape: a header line, then rows "key,system,value,..." (column 3 is
# the number; a "unit" column, when present, gives its unit). The baseline
# is the first of native, btvm-kvm, qemu-tcg, btvm-bt that the CSV has.
# Env: BENCH_OUT (default build/bench), BTVM (default build/btvm).
set -u
export LC_ALL=C
cd "$(dirname "$0")/.."
OUT=${BENCH_OUT:-build/bench}
BTVM=${BTVM:-build/btvm}
MD=$OUT/report.md
PNG=$OUT/report.png
ORDER="native btvm-kvm btvm-bt qemu-tcg"

shopt -s nullglob
csvs=()
for f in "$OUT"/*.csv; do csvs+=("$f"); done
[ ${#csvs[@]} -gt 0 ] || { echo "report: no CSV in $OUT (run make bench)" >&2; exit 1; }

# --- can HAV run here? --------------------------------------------------------
hav_line() {
    local err st
    if [ ! -x "$BTVM" ] || [ ! -f build/guests/hello.elf ]; then
        echo "HAV: unknown ($BTVM or build/guests/hello.elf not built)"; return
    fi
    err=$(timeout 30 "$BTVM" run -k build/guests/hello.elf --engine kvm </dev/null 2>&1 >/dev/null)
    st=$?
    if [ "$st" -eq 0 ] && printf '%s\n' "$err" | grep -q '^btvm: engine kvm'; then
        echo "HAV: available ($(printf '%s\n' "$err" | sed -n 's/^btvm: engine kvm (\(.*\))$/\1/p' | head -n1))"
    elif [ "$st" -eq 0 ]; then
        echo "HAV: unknown ($BTVM ran the guest without saying which engine: built without hav/?)"
    else
        err=$(printf '%s\n' "$err" | head -n1 | sed 's/^btvm: //; s/^--engine=kvm: //')
        echo "HAV: not available on this host (${err:-btvm --engine=kvm exited $st})"
    fi
}
HAV=$(hav_line)
echo "$HAV"

# --- tables (markdown) and plot data (one .dat per CSV) -----------------------
TMP=$(mktemp -d /tmp/btvm-report.XXXXXX)
trap '[ -n "${REPORT_KEEP:-}" ] || rm -rf "$TMP"' EXIT
{
    echo "# btvm benchmark report"
    echo
    echo "Generated $(date -u '+%Y-%m-%d %H:%M UTC') from \`$OUT/*.csv\` by \`bench/report.sh\`."
    echo "Ratios are each system's value divided by the baseline's (for times and"
    echo "cycles: how many times slower than the baseline)."
    echo
    echo "**$HAV**"
} >"$MD"

n=0
for csv in "${csvs[@]}"; do
    name=$(basename "$csv" .csv)
    n=$((n + 1))
    awk -F, -v order="$ORDER" -v name="$name" -v dat="$TMP/$n.dat" -v ttl="$TMP/$n.title" '
        NR == 1 { metric = $3; paired = ($2 == "pair")
                  for (i = 1; i <= NF; i++) if ($i == "unit") ucol = i; next }
        NF >= 3 && $3 != "" {
            k = $1; s = $2
            if (!(k in seenk)) { seenk[k] = 1; keys[++nk] = k }
            if (!(s in seens)) { seens[s] = 1; sys[++ns] = s }
            val[k, s] = $3; cnt[s]++
            if (paired) { lo[k, s] = $4; hi[k, s] = $5 }
            if (ucol) unit[k] = $ucol
        }
        END {
            if (paired) {
                # Ratios measured pairwise in one run (A time / B time per
                # run): drawn as they are, one bar per pair.
                printf "\n## %s (%s: A / B time per run, median of the runs; above 1: B faster)\n\n", name, metric
                printf "| workload |"
                for (i = 1; i <= ns; i++) printf " %s |", sys[i]
                printf "\n|---|"
                for (i = 1; i <= ns; i++) printf "---:|"
                printf "\n"
                printf "%s", "key" > dat
                for (i = 1; i <= ns; i++) printf " \"%s\"", sys[i] > dat
                printf "\n" > dat
                for (r = 1; r <= nk; r++) {
                    k = keys[r]
                    printf "| %s |", k; printf "%s", k > dat
                    for (i = 1; i <= ns; i++) {
                        if ((k, sys[i]) in val) {
                            printf " %.2fx (%s-%s) |", val[k, sys[i]], lo[k, sys[i]], hi[k, sys[i]]
                            printf " %s", val[k, sys[i]] > dat
                        } else {
                            printf " n/a |"; printf " -" > dat
                        }
                    }
                    printf "\n"; printf "\n" > dat
                }
                printf "%s: paired ratios, same run (above 1: the second system is faster)\n", name > ttl
                exit
            }
            # Systems: the known ones in a fixed order, then any others.
            no = split(order, o, " ")
            for (i = 1; i <= no; i++) if (o[i] in seens) cols[++nc] = o[i]
            for (i = 1; i <= ns; i++) { known = 0
                for (j = 1; j <= no; j++) if (sys[i] == o[j]) known = 1
                if (!known) cols[++nc] = sys[i] }
            # The baseline: the system measured on the most rows (ties: the
            # order above), so rows without a native run still get ratios.
            base = cols[1]
            for (i = 2; i <= nc; i++) if (cnt[cols[i]] > cnt[base]) base = cols[i]
            for (i = 1; i <= nc; i++) if (cols[i] == base) { t = cols[1]; cols[1] = base; cols[i] = t }
            printf "\n## %s (%s; baseline %s)\n\n", name, metric, base
            printf "| %s |", (ucol ? "measure" : "workload")
            for (i = 1; i <= nc; i++) printf " %s |", cols[i]
            for (i = 2; i <= nc; i++) printf " %s / %s |", cols[i], base
            printf "\n|---|"
            for (i = 1; i <= 2 * nc - 1; i++) printf "---:|"
            printf "\n"
            printf "%s", "key" > dat
            for (i = 2; i <= nc; i++) printf " \"%s / %s\"", cols[i], base > dat
            printf "\n" > dat
            for (r = 1; r <= nk; r++) {
                k = keys[r]
                printf "| %s%s |", k, (ucol && unit[k] != "" ? " (" unit[k] ")" : "")
                for (i = 1; i <= nc; i++)
                    printf " %s |", ((k, cols[i]) in val) ? val[k, cols[i]] : "n/a"
                printf "%s", k > dat
                b = ((k, base) in val) ? val[k, base] + 0 : 0
                for (i = 2; i <= nc; i++) {
                    # 0 or less: the system could not run it (no bar).
                    if (((k, cols[i]) in val) && b > 0 && val[k, cols[i]] + 0 > 0) {
                        rt = val[k, cols[i]] / b
                        printf " %.2fx |", rt; printf " %.6g", rt > dat
                    } else {
                        printf " n/a |"; printf " -" > dat
                    }
                }
                printf "\n"; printf "\n" > dat
            }
            printf "%s: ratio to %s (%s)\n", name, base, metric > ttl
        }' "$csv" >>"$MD"
done
echo "report: wrote $MD"

# --- chart ----------------------------------------------------------------------
if ! command -v gnuplot >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        echo "report: installing gnuplot-nox (Debian) for the chart" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gnuplot-nox \
            >/dev/null 2>&1 || true
    fi
fi
if ! command -v gnuplot >/dev/null; then
    echo "report: gnuplot missing (apt-get install gnuplot-nox): no $PNG" >&2
    exit 0
fi
# A CSV with one system (translate.csv: btvm's own counters) has no ratio
# to draw: its table is in the markdown only.
panels=()
for i in $(seq 1 "$n"); do
    [ "$(head -n1 "$TMP/$i.dat" | awk -F'"' '{print int((NF - 1) / 2)}')" -ge 1 ] && panels+=("$i")
done
[ ${#panels[@]} -gt 0 ] || { echo "report: no CSV with two systems: no $PNG"; exit 0; }
{
    echo "set terminal pngcairo size 1100,$((330 * ${#panels[@]})) font 'sans,9'"
    echo "set output '$PNG'"
    echo "set multiplot layout ${#panels[@]},1"
    echo "set style data histograms"
    echo "set style histogram clustered gap 1"
    echo "set style fill solid 0.8 border -1"
    echo "set datafile missing '-'"
    echo "set logscale y 2"
    echo "set grid ytics"
    echo "set ylabel 'ratio (log scale)'"
    echo "set key top left"
    echo "set xtics rotate by -25 noenhanced"
    echo "set key noenhanced"
    for i in "${panels[@]}"; do
        cols=$(head -n1 "$TMP/$i.dat" | awk -F'"' '{print int((NF - 1) / 2)}')
        echo "set title \"$(sed 's/"//g' "$TMP/$i.title")\" noenhanced"
        # Below 1 and above every bar, so that ratios of 1 stay visible.
        range=$(awk 'NR > 1 { for (i = 2; i <= NF; i++) if ($i != "-") {
                      if (lo == "" || $i < lo) lo = $i; if ($i > hi) hi = $i } }
                 END { lo = (lo == "" || lo > 0.7) ? 0.5 : lo / 1.5; hi = (hi < 1.4) ? 2 : hi * 1.5
                       printf "[%g:%g]", lo, hi }' "$TMP/$i.dat")
        echo "set yrange $range"
        printf "plot for [c=2:%d] '%s' using c:xtic(1) title columnheader(c)\n" $((cols + 1)) "$TMP/$i.dat"
    done
    echo "unset multiplot"
} >"$TMP/plot.gp"
if gnuplot "$TMP/plot.gp" 2>"$TMP/gp.err"; then
    echo "report: wrote $PNG"
    printf '\n![ratios](%s)\n' "$(basename "$PNG")" >>"$MD"
else
    echo "report: gnuplot failed: $(head -n3 "$TMP/gp.err")" >&2
fi
