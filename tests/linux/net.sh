#!/usr/bin/env bash
# tests/linux/net.sh — virtio-net with user networking (libslirp on btvm,
# QEMU's slirp as the reference) on the persistent image, loopback only:
#   DHCP   the init's udhcpc got 10.0.2.15/24, a default route via 10.0.2.2
#          and the DNS server 10.0.2.3 (QEMU's user network addresses);
#   in     the test serves a 1 MiB random file with `python3 -m
#          http.server --bind 127.0.0.1`; the guest fetches it with busybox
#          wget from 10.0.2.2:PORT (slirp's alias for the host's loopback)
#          and prints its sha256;
#   out    the guest serves a 1 MiB random file with busybox httpd on port
#          80; the test fetches it through hostfwd=tcp:127.0.0.1:HPORT-:80
#          and compares the sha256 with the guest's; then it puts "done" on
#          its server, which the guest polls for before powering off.
# A fresh root image per run (guests/diskimg/build.sh), not the user's.
# Systems: DISKIMG_TEST_SYSTEMS (default "btvm qemu"); LINUX_TEST_TIMEOUT.
set -u
cd "$(dirname "$0")/../.." || exit 1
export PATH=$PATH:/usr/sbin:/sbin
. guests/diskimg/lib.sh
TIMEOUT=${LINUX_TEST_TIMEOUT:-240}
say() { echo "net: $*"; }
for f in "$LINUX_KERNEL" "$DISKIMG_INITRD" "$DISKIMG_DIR/btvm-randread"; do
    [ -f "$f" ] || { say "$f missing (run 'make diskimg')"; exit 1; }
done
command -v curl >/dev/null || { say "curl missing"; exit 1; }

script() {
    printf 'HP=%s\n' "$1"
    cat <<'SH'
dmesg -n 1
echo "== ip"; ip -4 -o addr show eth0 | awk '{ print $4 }'
echo "== route"; ip route | awk '$1 == "default" { print $3 }'
echo "== dns"; awk '$1 == "nameserver" { print $2 }' /etc/resolv.conf
echo "== in"; wget -q -O /tmp/blob "http://10.0.2.2:$HP/blob" && sha256sum /tmp/blob | cut -d' ' -f1
mkdir -p /tmp/www && dd if=/dev/urandom of=/tmp/www/gblob bs=65536 count=16 2>/dev/null
echo "== out"; sha256sum /tmp/www/gblob | cut -d' ' -f1
echo "== serve"; httpd -p 80 -h /tmp/www && echo "httpd ready"
i=0; while ! wget -q -O /dev/null "http://10.0.2.2:$HP/done" 2>/dev/null; do
[ $i -ge 1200 ] && echo "no done from the host" && break; usleep 250000; i=$((i + 1)); done
echo "== end"
SH
}
section() { printf '%s\n' "$1" | awk -v s="== $2" '$0 == s { on = 1; next } /^== / { on = 0 } on'; }
fail=0
check() { local what=$1; shift; "$@" && return 0; say "$sys: $what"; bad=1; }

run_one() {
    local tmp hp fp spid pid i out st want insum outsum got
    tmp=$(mktemp -d); bad=0
    mkdir "$tmp/srv"
    head -c 1048576 /dev/urandom >"$tmp/srv/blob"
    insum=$(sha256sum <"$tmp/srv/blob" | cut -d' ' -f1)
    hp=$(diskimg_free_port)
    python3 -m http.server --bind 127.0.0.1 --directory "$tmp/srv" "$hp" >"$tmp/http.log" 2>&1 &
    spid=$!
    fp=$(diskimg_free_port)
    diskimg_new "$tmp/root.img" || { say "$sys: building the image failed"; fail=1; kill "$spid"; return; }
    : >"$tmp/serial.log"
    timeout -k 5 "$TIMEOUT" bash -c '. guests/diskimg/lib.sh; diskimg_boot "$@"' _ "$sys" \
        "$(linux_cmdline "$(script "$hp")" "root=/dev/vda quiet")" \
        -drive "file=$tmp/root.img,if=virtio,format=raw" \
        -nic "user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:$fp-:80" </dev/null >"$tmp/serial.log" 2>&1 &
    pid=$!
    for ((i = 0; i < TIMEOUT * 10; i++)); do
        grep -q '^httpd ready' "$tmp/serial.log" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    got=
    if grep -q '^httpd ready' "$tmp/serial.log"; then
        curl -s --max-time 120 -o "$tmp/gblob" "http://127.0.0.1:$fp/gblob" &&
            got=$(sha256sum <"$tmp/gblob" | cut -d' ' -f1)
    fi
    echo 'done' >"$tmp/srv/done"
    wait "$pid"; st=$?
    kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
    out=$(tr -d '\r' <"$tmp/serial.log")
    want=$(linux_want_status "$sys" 0)
    [ "$st" -eq 124 ] && say "$sys: timed out after ${TIMEOUT}s"
    check "exit status $st, want $want" [ "$st" -eq "$want" ]
    check "DHCP: eth0 has '$(section "$out" ip)', want 10.0.2.15/24" [ "$(section "$out" ip)" = 10.0.2.15/24 ]
    check "DHCP: default route via '$(section "$out" route)', want 10.0.2.2" [ "$(section "$out" route)" = 10.0.2.2 ]
    check "DHCP: DNS server '$(section "$out" dns)', want 10.0.2.3" [ "$(section "$out" dns)" = 10.0.2.3 ]
    check "host->guest: the guest's sha256 '$(section "$out" in)', want $insum" [ "$(section "$out" in)" = "$insum" ]
    outsum=$(section "$out" out)
    check "guest->host (hostfwd 127.0.0.1:$fp): sha256 '${got:-no download}', the guest's $outsum" \
        [ "${got:-none}" = "$outsum" ]
    check "the guest saw no 'done' from the host" not_has "$out" '^no done from the host'
    if [ "$bad" -ne 0 ]; then
        say "$sys: serial (from the script on, or the last 20 lines):"
        if grep -q '^btvm-init: run' <<<"$out"; then sed -n '/^btvm-init: run/,$p' <<<"$out"; else tail -n 20 <<<"$out"; fi | sed 's/^/  | /'
        fail=1
    else
        say "$sys: all checks ok (DHCP, 1 MiB in from 127.0.0.1:$hp, 1 MiB out through hostfwd)"
    fi
    rm -rf "$tmp"
}
not_has() { ! grep -qE -- "$2" <<<"$1"; }

for sys in $(diskimg_systems); do run_one; done
exit "$fail"
