#!/usr/bin/env python3
"""tests/tools/clockwatch.py SECONDS MIN MAX -- COMMAND...

Runs COMMAND for SECONDS of wall time and watches its output for a guest
clock shown as H:MM:SS (memtest86+'s elapsed time on the serial console).
Between the first and the last value seen, the guest's seconds divided by
the wall-clock seconds must lie in [MIN, MAX]. Prints the figures; exit
status 0 if so, 1 if not, 2 if fewer than two distinct values were seen.
The guest clock has a one-second resolution: keep the window long enough
(10 s or more) for the bounds chosen.
"""
import os
import re
import subprocess
import sys
import time


def main():
    if len(sys.argv) < 6 or sys.argv[4] != "--":
        sys.exit(__doc__)
    dur, lo, hi = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
    p = subprocess.Popen(sys.argv[5:], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    os.set_blocking(p.stdout.fileno(), False)
    t0 = time.monotonic()
    seen = []  # (wall seconds when a new guest value first appeared, guest seconds)
    tail = b""
    while time.monotonic() - t0 < dur and p.poll() is None:
        data = p.stdout.read(65536)
        if data:
            now = time.monotonic() - t0
            text = tail + data
            for m in re.finditer(rb"(\d+):(\d\d):(\d\d)", text):
                s = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3))
                if not seen or s > seen[-1][1]:
                    seen.append((now, s))
            tail = text[-16:]
        time.sleep(0.02)
    p.kill()
    p.wait()
    if len(seen) < 2:
        print("clockwatch: fewer than two guest clock values seen: %s" % seen)
        sys.exit(2)
    (w0, s0), (w1, s1) = seen[0], seen[-1]
    rate = (s1 - s0) / (w1 - w0)
    print("clockwatch: guest %d s in %.2f s of wall time (rate %.3f, want %.2f..%.2f)" %
          (s1 - s0, w1 - w0, rate, lo, hi))
    sys.exit(0 if lo <= rate <= hi else 1)


if __name__ == "__main__":
    main()
