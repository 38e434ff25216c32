#!/usr/bin/env python3
"""tests/tools/sigterm_pty.py SIGNAL CMD... — runs CMD on a fresh
pseudo-terminal (its controlling terminal, stdin, stdout and stderr),
waits until it has put the terminal in raw mode (as btvm's console does),
sends SIGNAL (TERM, INT or HUP) to it and waits for it to end. Prints
"status N" (the exit status, or 128+signal if a signal killed it),
"restored yes|no" (the terminal's attributes after equal those before),
"raw yes|no" (it did change them while running) and the output."""
import os
import select
import signal
import subprocess
import sys
import termios
import time


def main():
    sig = getattr(signal, "SIG" + sys.argv[1])
    cmd = sys.argv[2:]
    master, slave = os.openpty()
    before = termios.tcgetattr(slave)
    p = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave,
                         start_new_session=True, close_fds=True,
                         preexec_fn=lambda: __import__("fcntl").ioctl(0, termios.TIOCSCTTY, 0))
    out = b""
    raw = False
    deadline = time.time() + 10
    while time.time() < deadline and p.poll() is None:
        if termios.tcgetattr(slave) != before:
            raw = True
            break
        r, _, _ = select.select([master], [], [], 0.05)
        if r:
            out += os.read(master, 65536)
    time.sleep(0.5)  # let the guest run a little in raw mode
    if p.poll() is None:
        p.send_signal(sig)
    deadline = time.time() + 10
    while time.time() < deadline and p.poll() is None:
        r, _, _ = select.select([master], [], [], 0.05)
        if r:
            try:
                out += os.read(master, 65536)
            except OSError:
                break
    if p.poll() is None:
        p.kill()
    rc = p.wait()
    while True:
        r, _, _ = select.select([master], [], [], 0.1)
        if not r:
            break
        try:
            d = os.read(master, 65536)
        except OSError:
            break
        if not d:
            break
        out += d
    after = termios.tcgetattr(slave)
    print("status %d" % (rc if rc >= 0 else 128 - rc))
    print("restored %s" % ("yes" if after == before else "no"))
    print("raw %s" % ("yes" if raw else "no"))
    sys.stdout.write(out.decode(errors="replace"))


if __name__ == "__main__":
    main()
