#!/usr/bin/env python3
"""tests/tools/hmp.py SOCKET CMD... — a human-monitor client for the tests:
connects to a Unix socket (btvm's or QEMU's -monitor unix:...,server),
reads the banner up to the prompt ("(btvm) " or "(qemu) "), sends each
command and prints "> CMD" and the answer without the prompt. "quit" is
not answered: the emulator closes the socket. Waits up to 10 s for the
socket to appear and 30 s for each answer."""
import socket
import sys
import time

PROMPTS = (b"(btvm) ", b"(qemu) ")


def until_prompt(s):
    buf = b""
    while not buf.endswith(PROMPTS):
        d = s.recv(65536)
        if not d:
            break
        buf += d
    for p in PROMPTS:
        if buf.endswith(p):
            buf = buf[: -len(p)]
    # QEMU echoes the line and ends lines with \r\n; drop the echo's escapes.
    return buf.replace(b"\r", b"").decode(errors="replace")


def main():
    path, cmds = sys.argv[1], sys.argv[2:]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    deadline = time.time() + 10
    while True:
        try:
            s.connect(path)
            break
        except OSError:
            if time.time() > deadline:
                print("hmp: cannot connect to", path, file=sys.stderr)
                return 1
            time.sleep(0.05)
    s.settimeout(30)
    banner = until_prompt(s)
    print("banner:", banner.strip())
    for c in cmds:
        s.sendall(c.encode() + b"\n")
        print(">", c)
        if c in ("quit", "q"):
            rest = s.recv(65536)  # nothing, then end of stream
            while rest:
                rest = s.recv(65536)
            continue
        out = until_prompt(s)
        # QEMU's line editor echoes each key with cursor escapes: drop them.
        lines = [l for l in out.split("\n") if l.strip() and "\x1b" not in l
                 and l.strip() != c]
        for l in lines:
            print(l)
    return 0


if __name__ == "__main__":
    sys.exit(main())
