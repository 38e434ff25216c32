#!/usr/bin/env bash
# bench/linux.sh — the "linux" workload: Debian's i386 kernel + busybox
# initramfs (make linux) on btvm's BT engine and QEMU TCG, and the same
# busybox commands run natively on the host: busybox-static:amd64
# ("native", the issue's reference) and the guest's own busybox-static:i386
# ("native-i386": the same code btvm runs, so btvm-bt/native-i386 is the
# translation's own cost; docs/bench.md).
# Writes $BENCH_OUT/linux.csv and prints ratios. Rows:
#   boot_to_init         guest uptime when /init starts (VMs only)
#   boot_to_prompt_wall  host wall time from launch to init running the
#                        command script (VMs only)
#   sha256_32m md5_32m gzip1_16m shloop_100k forkexec_300 dd_bs1_200k
#   dynexec_20           20 warm starts of a dynamically linked glibc
#                        program (coreutils:i386 `true`; on the host the
#                        same binary with the host's i386 glibc)
#                        timed inside the guest (adjtimex, microseconds) on
#                        data made from /dev/urandom in tmpfs beforehand
# One boot yields one sample of every row; BENCH_RUNS boots per system.
# LINUX_BENCH_SYSTEMS picks systems (default "btvm-bt qemu-tcg native
# native-i386");
# "btvm-ref" runs the binary BTVM_REF (an older build) beside btvm-bt, for
# before/after comparisons in one interleaved run. LINUX_BENCH_APPEND adds
# kernel parameters to the VMs' command line.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.." || exit 1
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
BUILD=${BUILD:-build}
BTVM=${BTVM:-$BUILD/btvm}
LINUX_DIR=$BUILD/linux
# shellcheck source=guests/linux/lib.sh
. guests/linux/lib.sh
SYSTEMS=${LINUX_BENCH_SYSTEMS:-btvm-bt qemu-tcg native native-i386}
[ -z "${LINUX_BENCH_SYSTEMS:-}" ] && bench_kvm_usable && SYSTEMS="btvm-bt btvm-kvm qemu-tcg native native-i386"
csv=$BENCH_OUT/linux.csv
WORKLOADS="sha256_32m md5_32m gzip1_16m shloop_100k forkexec_300 dd_bs1_200k dynexec_20"

# The commands, for guest and host alike. The data is the same everywhere:
# a 64 KiB block from the ZX81 LCG (exact in any awk's doubles, bytes
# 1..255) doubled up to 32 MiB; its period is twice deflate's 32 KiB
# window, so gzip finds it as incompressible as random data. So every
# system's sha256, md5 and gzip output (one "bench-hash:" line) must equal
# the first system's, native included, or the bench fails.
# $T is a tmpfs folder, $B holds
# busybox's applet links, $D the dynamically linked program. Busybox date
# has no %N; adjtimex shows µs, or ns when the kernel keeps time in
# nanoseconds (status STA_NANO, 0x2000: this host's, not the guest's).
script() {
    printf 'T=%s; B=%s; D=%s\n' "$1" "$2" "$3"
    cat <<'SH'
now() { adjtimex | awk '/status/ { n = int($2 / 8192) % 2 } /tv_sec/ { s = $2 } /tv_usec/ { u = $2 } END { printf n ? "%d.%09d\n" : "%d.%06d\n", s, u }'; }
rep() { awk -v n="$1" -v a="$2" -v b="$3" -v ok="$4" 'BEGIN { printf "bench: %s %.6f %s\n", n, b - a, ok ? "ok" : "FAIL" }'; }
awk 'BEGIN{for(;i++<65536;)printf"%c",(x=(x*75+74)%65537)%255+1}'>$T/d32
for k in 1 2 3 4 5 6 7 8 9;do cat $T/d32 $T/d32>$T/e;mv $T/e $T/d32;done
dd if=$T/d32 of=$T/d16 bs=1048576 count=16 2>/dev/null
[ "$(wc -c <$T/d32)" -eq 33554432 ] && [ "$(wc -c <$T/d16)" -eq 16777216 ] || echo "bench: data FAIL"
a=$(now); sha256sum <$T/d32 >$T/o1; s=$?; b=$(now); rep sha256_32m $a $b $((s == 0))
a=$(now); md5sum <$T/d32 >$T/o2; s=$?; b=$(now); rep md5_32m $a $b $((s == 0))
a=$(now); gzip -1 -c $T/d16 >$T/o3; s=$?; b=$(now); rep gzip1_16m $a $b $((s == 0))
echo bench-hash: $(cat $T/o1 $T/o2) $(md5sum <$T/o3); rm $T/o?
i=0; a=$(now); while [ $i -lt 100000 ]; do i=$((i + 1)); done; b=$(now); rep shloop_100k $a $b $((i == 100000))
n=0; j=0; a=$(now); while [ $j -lt 300 ]; do $B/true && n=$((n + 1)); j=$((j + 1)); done; b=$(now); rep forkexec_300 $a $b $((n == 300))
a=$(now); dd if=/dev/zero of=/dev/null bs=1 count=200000 2>/dev/null; s=$?; b=$(now); rep dd_bs1_200k $a $b $((s == 0))
$D/true; n=0; j=0; a=$(now); while [ $j -lt 20 ]; do $D/true && n=$((n + 1)); j=$((j + 1)); done; b=$(now); rep dynexec_20 $a $b $((n == 20))
rm -f $T/d32 $T/d16
SH
}

SAMPLES=$(mktemp) HASHES=$(mktemp)
trap 'rm -f "$SAMPLES" "$HASHES"' EXIT

# parse_log <system> <log>: the "bench:" lines into samples; all must be ok.
parse_log() {
    local sys=$1 log=$2 wl line
    grep -q '^bench: data FAIL' "$log" && bench_die "$sys: test data not made (log: $log)"
    # "bench-hash: SHA256 - MD5 - GZIP-MD5 -", the first system's the reference.
    line=$(grep -m1 -E '^bench-hash: [0-9a-f]{64} - [0-9a-f]{32} - [0-9a-f]{32} -$' "$log") ||
        bench_die "$sys: no bench-hash line (log: $log)"
    ref=$(cat "$HASHES")
    if [ -z "$ref" ]; then echo "$line" >"$HASHES"
    elif [ "$line" != "$ref" ]; then bench_die "$sys: '$line', the first system gave '$ref' (log: $log)"
    fi
    for wl in $WORKLOADS; do
        line=$(grep -m1 "^bench: $wl " "$log") || bench_die "$sys: no '$wl' result (log: $log)"
        set -- $line
        [ "$4" = ok ] || bench_die "$sys: $wl failed in the guest (log: $log)"
        echo "$wl $sys $3" >>"$SAMPLES"
    done
}

# boot_once <btvm|qemu> <system> <run>: one boot; samples boot_to_init,
# boot_to_prompt_wall (launch to the "btvm-init: run" line) and the rest.
boot_once() {
    local emu=$1 sys=$2 log="$BENCH_OUT/logs/linux-$2-$3.log" t0 tm="" line st="" want up
    : >"$log"
    t0=$(bench_now)
    while IFS= read -r line; do
        line=${line%$'\r'}
        case $line in
        "btvm-bench-status "*) st=${line#btvm-bench-status }; continue ;;
        "btvm-init: run"*) [ -n "$tm" ] || tm=$(bench_now) ;;
        esac
        printf '%s\n' "$line" >>"$log"
    done < <(timeout -k 5 "$BENCH_TIMEOUT" bash -c '. guests/linux/lib.sh; linux_boot "$1" "$2"' \
                 _ "$emu" "$APPEND" </dev/null 2>&1; echo "btvm-bench-status $?")
    [ "$st" = 124 ] || [ "$st" = 137 ] && bench_die "$sys: timed out after ${BENCH_TIMEOUT}s (log: $log)"
    want=$(linux_want_status "$emu" 0)
    if [ "$st" != "$want" ] || ! grep -q '^btvm-init: exit 0$' "$log" || [ -z "$tm" ]; then
        tail -n 20 "$log" >&2
        bench_die "$sys: boot $3 exited $st, expected $want after 'btvm-init: exit 0' (log: $log)"
    fi
    up=$(sed -n 's/^btvm-init: uptime //p' "$log" | head -n1)
    echo "boot_to_init $sys $up" >>"$SAMPLES"
    echo "boot_to_prompt_wall $sys $(awk -v a="$t0" -v b="$tm" 'BEGIN { printf "%.6f", b - a }')" >>"$SAMPLES"
    parse_log "$sys" "$log"
}

# native_once <round> <native|native-i386>: the script on the host, with
# that system's busybox ($LINUX_DIR/<system>/busybox, applet links in bin/).
native_once() {
    local log="$BENCH_OUT/logs/linux-$2-$1.log" t bb="$LINUX_DIR/$2/busybox" bin="$LINUX_DIR/$2/bin"
    t=$(mktemp -d -p "${LINUX_BENCH_TMP:-/dev/shm}") || bench_die "$2: no tmp folder"
    env -i PATH="$(pwd)/$bin" "$bb" sh -c "$(script "$t" "$(pwd)/$bin" "$(pwd)/$LINUX_DIR/native/dyn")" >"$log" 2>&1
    rm -rf "$t"
    parse_log "$2" "$log"
}

bench_csv_begin "$csv" '^bench: '
for f in "$LINUX_KERNEL" "$LINUX_INITRD" "$LINUX_DIR/native/busybox"; do
    [ -e "$f" ] || bench_die "$f is missing (run 'make linux' first)"
done
# LINUX_BENCH_APPEND adds kernel parameters (e.g. norandmaps: ASLR off).
APPEND=$(linux_cmdline "$(script /tmp /bin /usr/lib/btvm-dyn)" "quiet${LINUX_BENCH_APPEND:+ $LINUX_BENCH_APPEND}")
# Check every system first; then run them interleaved (run 1 of each, run 2
# of each, ...), so that load on this shared host drifting during the
# bench weighs on every system alike and the ratios stay fair.
RUN_SYSTEMS=""
for sys in $SYSTEMS; do
    case $sys in
    btvm-bt)
        [ -x "$BTVM" ] || bench_die "$BTVM is missing (run 'make all' first)" ;;
    btvm-ref)
        [ -x "${BTVM_REF:-}" ] || bench_die "btvm-ref needs BTVM_REF=<an older btvm binary>" ;;
    btvm-kvm) ;;
    qemu-tcg) bench_qemu_present || continue ;;
    native | native-i386)
        bb=$LINUX_DIR/$sys/busybox
        [ -e "$bb" ] || bench_die "$bb is missing (run 'make linux' first)"
        # An x86-64 kernel built without IA-32 emulation cannot run i386.
        if ! "$bb" true 2>/dev/null; then
            bench_note "SKIP $sys rows: $bb does not run on this host"
            continue
        fi
        mkdir -p "$LINUX_DIR/$sys/bin"
        [ -e "$LINUX_DIR/$sys/bin/true" ] || "$bb" --install -s "$(pwd)/$LINUX_DIR/$sys/bin" ||
            bench_die "$sys: cannot install busybox links in $LINUX_DIR/$sys/bin"
        for ((i = 0; i < BENCH_WARMUP; i++)); do native_once warmup "$sys"; done
        sed -i "/ $sys /d" "$SAMPLES" ;;
    *) bench_die "unknown system '$sys' in LINUX_BENCH_SYSTEMS" ;;
    esac
    RUN_SYSTEMS="$RUN_SYSTEMS $sys"
done
bench_rounds linux
# Rows in a fixed order: workload, then system as listed.
for wl in boot_to_init boot_to_prompt_wall $WORKLOADS; do
    for sys in $SYSTEMS; do
        bench_sample_row "$SAMPLES" "$wl" "$sys" >>"$BENCH_CSV.tmp"
    done
done
bench_csv_end

echo
column -t -s, "$csv" 2>/dev/null || cat "$csv"
for wl in boot_to_init boot_to_prompt_wall $WORKLOADS; do
    echo
    bench_ratios "$csv" "$wl" btvm-bt/native qemu-tcg/native btvm-bt/qemu-tcg btvm-bt/native-i386
done

# Run by run: QEMU's time over btvm's in the same interleaved round, whose
# median is steadier than the ratio of medians when the host's load drifts.
paired=$BENCH_OUT/linux-paired.csv
echo "workload,pair,median_ratio,min_ratio,max_ratio,runs" >"$paired"
# pair_ratios <num system> <den system>: their time ratio round by round.
pair_ratios() {
    local wl
    for wl in boot_to_init boot_to_prompt_wall $WORKLOADS; do
        awk -v wl="$wl" -v num="$1" -v den="$2" '
                         $1 == wl && $2 == den { b[++nb] = $3 }
                         $1 == wl && $2 == num { q[++nq] = $3 }
                         END {
                             n = nb < nq ? nb : nq
                             for (i = 1; i <= n; i++) if (b[i] > 0) r[++m] = q[i] / b[i]
                             if (m == 0) exit
                             for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++)
                                 if (r[j] < r[i]) { t = r[i]; r[i] = r[j]; r[j] = t }
                             med = (m % 2) ? r[(m + 1) / 2] : (r[m / 2] + r[m / 2 + 1]) / 2
                             printf "%s,%s/%s,%.3f,%.3f,%.3f,%d\n", wl, num, den, med, r[1], r[m], m
                         }' "$SAMPLES" >>"$paired"
    done
}
pair_ratios qemu-tcg btvm-bt
pair_ratios btvm-ref btvm-bt
pair_ratios btvm-bt native-i386
if [ "$(wc -l <"$paired")" -gt 1 ]; then
    echo
    echo "time ratios, round by round ($paired):"
    column -t -s, "$paired" 2>/dev/null || cat "$paired"
fi
