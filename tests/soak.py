#!/usr/bin/env python3
"""tests/soak.py — `make soak`: Debian's i386 kernel on the persistent image
(make diskimg) under mixed load for SOAK_SECONDS (default 600), then a short
run (SOAK_SHORT, default 30 s) of the same script as the reference.

Each round the guest runs 50 fork+execs of /bin/true, gzip -1 of a fixed
1.3 MB text (`seq 1 200000`), writes that text to an ext2 file system on a
virtio-blk data disk, drops its caches and reads it back, fetches a fixed
1 MiB file from the host over virtio-net + libslirp (python3 http.server on
127.0.0.1, seen as 10.0.2.2), and prints "C <round> <gzip md5> <disk md5>
<net md5>" and "T <uptime>" (/proc/uptime). At the end it prints its kernel
log's warnings. The host timestamps every serial line, samples btvm's RSS
every 5 s, and checks:
  - every round's checksums equal the short run's (and the net file's md5);
  - the guest clock (uptime between the first T after warm-up and the last)
    against the host's monotonic clock: drift < 0.1%;
  - btvm's own heap (RssAnon) after warm-up (SOAK_WARMUP, default 120 s)
    grows by less than SOAK_RSS_SLACK_MB (default 8) from its warm-up value
    to its maximum; guest RAM and the code cache (RssShmem) are reported:
    they fill as the guest first touches pages, up to their fixed sizes;
  - no kernel warning (WARNING, BUG, Oops, soft lockup, RCU stall, hung task);
  - btvm exits 0 (the script ran to its end).
The RSS curve goes to build/soak/rss.csv, the report to build/soak/report.txt.
Exit status 0 when every check holds."""
import hashlib
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD", "build")
BTVM = os.environ.get("BTVM", os.path.join(BUILD, "btvm"))
KERNEL = os.path.join(BUILD, "linux", "vmlinuz")
INITRD = os.path.join(BUILD, "diskimg", "initrd.img")
SECONDS = int(os.environ.get("SOAK_SECONDS", "600"))
SHORT = int(os.environ.get("SOAK_SHORT", "30"))
WARMUP = int(os.environ.get("SOAK_WARMUP", "120"))
RSS_SLACK_MB = float(os.environ.get("SOAK_RSS_SLACK_MB", "8"))
OUT = os.path.join(BUILD, "soak")

SCRIPT = r"""dmesg -n 1
mke2fs -q /dev/vdb && mkdir -p /mnt/d && mount -t ext2 /dev/vdb /mnt/d || echo "SOAK FAIL mount"
seq 1 200000 >/tmp/src
end=$(( $(cut -d. -f1 /proc/uptime) + DUR ))
i=0
while [ "$(cut -d. -f1 /proc/uptime)" -lt "$end" ]; do
    i=$((i + 1))
    j=0; while [ $j -lt 50 ]; do /bin/true; j=$((j + 1)); done
    g=$(gzip -1 -c /tmp/src | md5sum | cut -c1-32)
    cp /tmp/src /mnt/d/f$((i % 4)) && sync && echo 3 >/proc/sys/vm/drop_caches
    d=$(md5sum </mnt/d/f$((i % 4)) | cut -c1-32)
    n=$(wget -q -O - "http://10.0.2.2:$HP/blob" | md5sum | cut -c1-32)
    echo "C $i $g $d $n"
    echo "T $(cut -d' ' -f1 /proc/uptime)"
done
umount /mnt/d
echo "W $(dmesg | grep -ciE 'WARNING|BUG:|Oops|soft lockup|rcu.*stall|hung task')"
dmesg | grep -iE 'WARNING|BUG:|Oops|soft lockup|rcu.*stall|hung task' | head -5 | sed 's/^/W: /'
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def rss_kb(pid):
    """(RssAnon, RssShmem) in KiB: btvm's own heap, and shared memory —
    guest RAM and the code cache, which grow as the guest first touches
    its pages and are bounded by their sizes."""
    v = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k = line.split(":")[0]
                if k in ("RssAnon", "RssShmem"):
                    v[k] = int(line.split()[1])
    except OSError:
        return None
    return (v["RssAnon"], v["RssShmem"]) if len(v) == 2 else None


def cmdline(script):
    import base64
    b64 = base64.b64encode((script + "\n").encode()).decode()
    return "console=ttyS0 root=/dev/vda quiet btvm.cmd=" + b64


def run(tmp, seconds, port, tag):
    """One boot; returns (status, [(host_t, line)], [(t, rss_kb)])."""
    root = os.path.join(tmp, tag + "-root.img")
    data = os.path.join(tmp, tag + "-data.img")
    r = subprocess.run(["bash", "guests/diskimg/build.sh", "image", root, "64M"],
                       env=dict(os.environ, BUILD=BUILD), stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    if r.returncode:
        sys.exit("soak: building the root image failed")
    with open(data, "wb") as f:
        f.truncate(64 << 20)
    script = "DUR=%d\nHP=%d\n" % (seconds, port) + SCRIPT
    cmd = [BTVM, "run", "-q", "--engine", "bt", "--no-reboot", "-m", "256", "-k", KERNEL,
           "-i", INITRD, "-a", cmdline(script),
           "-drive", "file=%s,if=virtio,format=raw" % root,
           "-drive", "file=%s,if=virtio,format=raw" % data,
           "-nic", "user,model=virtio-net-pci", "--stats"]
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    t0 = time.monotonic()
    lines, rss = [], []
    stop = threading.Event()

    def sampler():
        while not stop.is_set():
            v = rss_kb(p.pid)
            if v is not None:
                rss.append((time.monotonic() - t0, v))
            stop.wait(5)

    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    for raw in p.stdout:
        lines.append((time.monotonic() - t0, raw.decode(errors="replace").rstrip("\r\n")))
    st = p.wait()
    stop.set()
    th.join()
    return st, lines, rss


def main():
    os.chdir(ROOT)
    for f in (BTVM, KERNEL, INITRD):
        if not os.path.exists(f):
            sys.exit("soak: %s missing (run 'make' and 'make diskimg')" % f)
    os.makedirs(OUT, exist_ok=True)
    tmp = tempfile.mkdtemp()
    srv = os.path.join(tmp, "srv")
    os.makedirs(srv)
    blob = random.Random(20261206).randbytes(1 << 20)
    with open(os.path.join(srv, "blob"), "wb") as f:
        f.write(blob)
    net_md5 = hashlib.md5(blob).hexdigest()
    port = free_port()
    http = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                             "--directory", srv, str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    report = []
    ok = True

    def say(s):
        report.append(s)
        print("soak: " + s, flush=True)

    def bad(s):
        nonlocal ok
        ok = False
        say("FAIL " + s)

    try:
        time.sleep(0.5)
        say("short run (%d s) for the reference checksums" % SHORT)
        st_s, lines_s, _ = run(tmp, SHORT, port, "short")
        ref = sorted({tuple(l.split()[2:5]) for _, l in lines_s if l.startswith("C ")})
        if st_s != 0 or len(ref) != 1:
            bad("short run: status %d, checksum sets %s" % (st_s, ref))
            for _, l in lines_s[-15:]:
                print("  | " + l)
            return 1
        ref = ref[0]
        say("reference: gzip %s disk %s net %s" % ref)
        if ref[2] != net_md5:
            bad("short run: net md5 %s, the host's file has %s" % (ref[2], net_md5))
        say("long run (%d s)" % SECONDS)
        st, lines, rss = run(tmp, SECONDS, port, "long")
    finally:
        http.terminate()
        http.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    rounds = [(t, l.split()) for t, l in lines if l.startswith("C ")]
    wrong = [w for _, w in rounds if tuple(w[2:5]) != ref]
    say("rounds: %d, checksums equal to the short run's: %d" % (len(rounds), len(rounds) - len(wrong)))
    if not rounds:
        bad("no rounds ran")
    if wrong:
        bad("%d rounds with other checksums, first: %s" % (len(wrong), " ".join(wrong[0])))
    if st != 0:
        bad("btvm exited %d" % st)
    if any("SOAK FAIL" in l for _, l in lines):
        bad("the guest could not mount its data disk")
    warn = [l for _, l in lines if l.startswith("W ")]
    if not warn or warn[0] != "W 0":
        bad("kernel warnings: %s; %s" % (warn[:1], [l for _, l in lines if l.startswith("W: ")]))
    else:
        say("kernel warnings: 0")

    ts = [(t, float(l.split()[1])) for t, l in lines if l.startswith("T ")]
    after = [x for x in ts if x[0] >= WARMUP] or ts
    if len(after) >= 2:
        (h0, g0), (h1, g1) = after[0], after[-1]
        drift = (g1 - g0) / (h1 - h0) - 1
        say("guest clock: %.3f s of uptime in %.3f s of host time: drift %+.4f%%" %
            (g1 - g0, h1 - h0, drift * 100))
        if abs(drift) >= 0.001:
            bad("guest clock drift %.4f%% (limit 0.1%%)" % (drift * 100))
    else:
        bad("too few clock samples")

    with open(os.path.join(OUT, "rss.csv"), "w") as f:
        f.write("seconds,anon_kib,shmem_kib\n")
        for t, (a, m) in rss:
            f.write("%.1f,%d,%d\n" % (t, a, m))
    post = [v[0] for t, v in rss if t >= WARMUP]
    if post:
        base, top, last = post[0], max(post), post[-1]
        step = max(1, len(rss) // 12)
        curve = " ".join("%d:%.1f" % (t, v[0] / 1024) for t, v in rss[::step])
        say("host heap (RssAnon, MiB) at warm-up end %.1f, max after %.1f, last %.1f; curve s:MiB %s" %
            (base / 1024, top / 1024, last / 1024, curve))
        say("guest RAM + code cache (RssShmem, MiB): %s" %
            " ".join("%d:%.0f" % (t, v[1] / 1024) for t, v in rss[::step]))
        if (top - base) / 1024 > RSS_SLACK_MB:
            bad("host heap grew %.1f MiB after warm-up (limit %.0f)" % ((top - base) / 1024, RSS_SLACK_MB))
    else:
        bad("no RSS samples after warm-up")
    for _, l in lines:
        if re.search(r"code cache flushes|blocks translated|ms translating", l):
            say("stats: " + l.replace("btvm: stats: ", "").strip())
    say("result: %s" % ("ok" if ok else "FAILED"))
    with open(os.path.join(OUT, "report.txt"), "w") as f:
        f.write("\n".join(report) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
