#!/usr/bin/env python3
"""tests/tools/qmp.py SCENARIO SOCKET [--serial FILE] [--tmp DIR]
-- a QMP client for the tests (Debian 12 has no python3-qemu.qmp): drives
btvm's or QEMU's -qmp unix:SOCKET,server running guests/qmptest and checks
what QEMU's protocol promises: the greeting, capabilities negotiation,
answers with "id" echoed, errors as {"error": {"class", "desc"}} with
QEMU's classes, events with a timestamp. Prints "qmp: ok: ..." per check
and "qmp: FAIL: ..." per failure; the exit status is the number of
failures (capped at 100).

Scenarios (tests/guest/qmp.sh):
  main   protocol, errors, stop/cont (STOP/RESUME, the serial output stops
         growing while paused, the registers stay put), screendump (PNG and
         PPM decoded by tests/tools/image.py), human-monitor-command,
         query-cpus-fast, query-version, query-commands, system_reset
         (RESET), system_powerdown (POWERDOWN; the guest takes the ACPI
         power button and powers off: SHUTDOWN guest-shutdown)
  quit   system_powerdown to a guest that ignores the button (nothing
         happens), stop, system_reset while paused (RESET, stays stopped),
         quit (SHUTDOWN host-qmp-quit)
  greet  connect, negotiate, query-status, then quit
  prelaunch  started with -S: "prelaunch", no guest output; cont (RESUME),
         the guest runs; quit
  noreboot  with --no-reboot (QEMU's -no-reboot): system_reset ends the
         run: SHUTDOWN host-qmp-system-reset
"""
import json
import os
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
failures = 0


def ok(what):
    print("qmp: ok:", what, flush=True)


def check(cond, what, detail=""):
    global failures
    if cond:
        ok(what)
    else:
        failures += 1
        print("qmp: FAIL:", what, detail, flush=True)
    return cond


class QMP:
    def __init__(self, path, timeout=10):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        deadline = time.time() + timeout
        while True:
            try:
                self.s.connect(path)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        self.buf = b""
        self.events = []
        self.closed = False

    def send_raw(self, data):
        self.s.sendall(data if isinstance(data, bytes) else data.encode())

    def read_msg(self, timeout=30):
        """The next JSON line, or None at the end of the stream / timeout."""
        deadline = time.time() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.time()
            if left <= 0 or self.closed:
                return None
            self.s.settimeout(left)
            try:
                d = self.s.recv(65536)
            except socket.timeout:
                return None
            except ConnectionResetError:  # QEMU's way of closing, at times
                d = b""
            if not d:
                self.closed = True
                return None
            self.buf += d
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def answer(self, timeout=30):
        """The next answer (return or error); events met on the way are kept."""
        while True:
            m = self.read_msg(timeout)
            if m is None or "event" not in m:
                return m
            self.events.append(m)

    def cmd(self, name, args=None, id=None):
        req = {"execute": name}
        if args is not None:
            req["arguments"] = args
        if id is not None:
            req["id"] = id
        self.send_raw(json.dumps(req) + "\n")
        return self.answer()

    def event(self, name, timeout=30, pred=lambda e: True):
        """The first kept or coming event called name that pred accepts."""
        deadline = time.time() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e["event"] == name and pred(e):
                    return self.events.pop(i)
            left = deadline - time.time()
            if left <= 0:
                return None
            m = self.read_msg(left)
            if m is None:
                return None
            if "event" in m:
                self.events.append(m)


def is_error(r, cls):
    return isinstance(r, dict) and "error" in r and r["error"].get("class") == cls and \
        isinstance(r["error"].get("desc"), str)


def is_event(e, name):
    ts = e and e.get("timestamp")
    return e is not None and e.get("event") == name and isinstance(ts, dict) and \
        set(ts) == {"seconds", "microseconds"} and all(isinstance(v, int) for v in ts.values())


def serial_size(path):
    return os.path.getsize(path) if path else 0


def negotiate(q):
    g = q.read_msg()
    ver = g and g.get("QMP", {}).get("version", {})
    check(g is not None and isinstance(g["QMP"].get("capabilities"), list) and
          set(ver.get("qemu", {})) == {"major", "minor", "micro"} and
          isinstance(ver.get("package"), str), "greeting", g)
    r = q.cmd("query-status")
    check(is_error(r, "CommandNotFound") and "qmp_capabilities" in r["error"]["desc"],
          "query-status before negotiation: CommandNotFound", r)
    r = q.cmd("qmp_capabilities", id="neg-1")
    check(r == {"return": {}, "id": "neg-1"}, "qmp_capabilities, id echoed", r)


def status(q):
    r = q.cmd("query-status")
    return r.get("return", {}) if r else {}


def scenario_greet(q, a):
    negotiate(q)
    st = status(q)
    check(st.get("status") == "running" and st.get("running") is True, "running", st)
    r = q.cmd("quit")
    check(r == {"return": {}}, "quit", r)
    check(is_event(q.event("SHUTDOWN"), "SHUTDOWN"), "SHUTDOWN after quit")


def scenario_prelaunch(q, a):
    negotiate(q)
    st = status(q)
    check(st.get("status") == "prelaunch" and st.get("running") is False, "-S: prelaunch", st)
    time.sleep(0.5)
    check(serial_size(a.serial) == 0, "-S: no guest output before cont")
    r = q.cmd("cont")
    check(r == {"return": {}} and is_event(q.event("RESUME", 5), "RESUME"), "cont: RESUME", r)
    deadline = time.time() + 10
    while serial_size(a.serial) == 0 and time.time() < deadline:
        time.sleep(0.05)
    check(serial_size(a.serial) > 0, "the guest runs after cont")
    check(status(q).get("status") == "running", "running after cont")
    check(q.cmd("quit") == {"return": {}} and is_event(q.event("SHUTDOWN"), "SHUTDOWN"), "quit")


def scenario_noreboot(q, a):
    negotiate(q)
    r = q.cmd("system_reset")
    e = q.event("SHUTDOWN", 10)
    check(r == {"return": {}} and is_event(e, "SHUTDOWN") and
          e.get("data") == {"guest": False, "reason": "host-qmp-system-reset"},
          "system_reset under --no-reboot: SHUTDOWN host-qmp-system-reset", (r, e))
    check(q.event("RESET", 0.5) is None, "no RESET event")


def decoded_size(path):
    p = subprocess.run([sys.executable, os.path.join(HERE, "image.py"), "info", path],
                       capture_output=True, text=True)
    return p.stdout.strip() if p.returncode == 0 else None


def scenario_main(q, a):
    negotiate(q)
    # Protocol errors: each answered, the session goes on.
    r = q.cmd("qmp_capabilities")
    check(is_error(r, "CommandNotFound"), "qmp_capabilities twice: CommandNotFound", r)
    q.send_raw("junk\n")
    r = q.answer()
    check(is_error(r, "GenericError") and "JSON parse error" in r["error"]["desc"],
          "junk: GenericError 'JSON parse error'", r)
    q.send_raw('{"execute": }\n')
    check(is_error(q.answer(), "GenericError"), "bad JSON in an object: GenericError")
    q.send_raw("[1, 2]\n")
    r = q.answer()
    check(is_error(r, "GenericError") and "JSON object" in r["error"]["desc"],
          "an array: 'QMP input must be a JSON object'", r)
    r = q.cmd("no-such-command", id=[1, "x"])
    check(is_error(r, "CommandNotFound") and r.get("id") == [1, "x"],
          "unknown command: CommandNotFound, id echoed", r)
    r = q.cmd("screendump", {})
    check(is_error(r, "GenericError") and "filename" in r["error"]["desc"],
          "screendump without filename: GenericError", r)
    r = q.cmd("screendump", {"filename": 3})
    check(is_error(r, "GenericError"), "screendump filename 3: GenericError", r)
    r = q.cmd("screendump", {"filename": a.tmp + "/x", "format": "jpg"})
    check(is_error(r, "GenericError"), "screendump format jpg: GenericError", r)
    q.send_raw('{"execute": "query-status", "bogus": 1}\n')
    check(is_error(q.answer(), "GenericError"), "unexpected request member: GenericError")
    # Stream: a request split over writes, two in one write.
    q.send_raw('{"execute": "query-')
    time.sleep(0.2)
    q.send_raw('status", "id": 7}')
    r = q.answer()
    check(r and r.get("id") == 7 and r["return"]["running"] is True,
          "a request split over two writes", r)
    q.send_raw('{"execute": "query-status", "id": 8}{"execute": "query-status", "id": 9}\n')
    r1, r2 = q.answer(), q.answer()
    check(r1 and r2 and r1.get("id") == 8 and r2.get("id") == 9, "two requests in one write",
          (r1, r2))

    st = status(q)
    check(set(st) >= {"status", "running"} and st["status"] == "running" and
          st["running"] is True, "query-status: running", st)

    # stop: STOP, paused, the guest's output stops, its registers stay.
    grow0 = serial_size(a.serial)
    time.sleep(0.3)
    check(serial_size(a.serial) > grow0, "the guest ticks while running")
    r = q.cmd("stop")
    check(r == {"return": {}}, "stop", r)
    check(is_event(q.event("STOP", 5), "STOP"), "STOP event")
    st = status(q)
    check(st.get("status") == "paused" and st.get("running") is False, "query-status: paused",
          st)
    r = q.cmd("human-monitor-command", {"command-line": "info status"})
    check(r and r.get("return", "").strip() == "VM status: paused",
          "human-monitor-command info status: paused", r)
    size = serial_size(a.serial)
    r1 = q.cmd("human-monitor-command", {"command-line": "info registers"})
    time.sleep(0.6)
    r2 = q.cmd("human-monitor-command", {"command-line": "info registers"})
    check(serial_size(a.serial) == size, "no serial output while paused",
          "%d -> %d bytes" % (size, serial_size(a.serial)))
    regs = r1.get("return", "") if r1 else ""
    check("EIP=" in regs, "info registers: EIP=", r1)
    check(r1 == r2, "the registers stay put while paused")
    r = q.cmd("stop")
    check(r == {"return": {}} and q.event("STOP", 0.3) is None, "stop when stopped: no event")
    # A screendump while paused (the mailbox is served in the pause).
    png, ppm = a.tmp + "/q.png", a.tmp + "/q.ppm"
    r = q.cmd("screendump", {"filename": png, "format": "png"})
    check(r == {"return": {}} and decoded_size(png), "screendump png decodes",
          (r, decoded_size(png)))
    r = q.cmd("screendump", {"filename": ppm})
    with open(ppm, "rb") as f:
        magic = f.read(2)
    check(r == {"return": {}} and magic == b"P6" and decoded_size(ppm) == decoded_size(png),
          "screendump without format: PPM, the same size", (r, magic))
    r = q.cmd("screendump", {"filename": a.tmp + "/no/such/dir.ppm"})
    check(is_error(r, "GenericError"), "screendump to a bad path: GenericError", r)
    r = q.cmd("cont")
    check(r == {"return": {}}, "cont", r)
    check(is_event(q.event("RESUME", 5), "RESUME"), "RESUME event")
    size = serial_size(a.serial)
    time.sleep(0.3)
    check(serial_size(a.serial) > size, "the guest ticks again after cont")
    r = q.cmd("cont")
    check(r == {"return": {}} and q.event("RESUME", 0.3) is None, "cont when running: no event")

    r = q.cmd("query-cpus-fast")
    cpus = r.get("return") if r else None
    c = cpus[0] if isinstance(cpus, list) and len(cpus) == 1 else {}
    check(set(c) >= {"cpu-index", "qom-path", "thread-id", "props", "target"} and
          c["cpu-index"] == 0 and c["target"] == "i386" and
          isinstance(c["thread-id"], int) and isinstance(c["props"], dict),
          "query-cpus-fast: one i386 CPU", r)
    try:
        exe = os.path.basename(os.readlink("/proc/%d/exe" % c.get("thread-id", 0)))
    except OSError:
        exe = None
    check(exe in ("btvm", "qemu-system-i386"),
          "query-cpus-fast: thread-id is a thread of the emulator", (c.get("thread-id"), exe))
    r = q.cmd("query-version")
    v = r.get("return", {}) if r else {}
    check(set(v.get("qemu", {})) == {"major", "minor", "micro"} and "package" in v,
          "query-version", r)
    r = q.cmd("query-commands")
    names = {x.get("name") for x in r.get("return", [])} if r else set()
    used = {"qmp_capabilities", "query-status", "stop", "cont", "system_powerdown",
            "system_reset", "quit", "screendump", "query-cpus-fast", "human-monitor-command",
            "query-version", "query-commands"}
    check(names >= used, "query-commands lists the commands", used - names)

    # system_reset: RESET (QEMU's firmware adds guest resets of its own).
    r = q.cmd("system_reset")
    check(r == {"return": {}}, "system_reset", r)
    e = q.event("RESET", 10, lambda e: e.get("data", {}).get("reason") == "host-qmp-system-reset")
    check(is_event(e, "RESET") and e["data"]["guest"] is False,
          "RESET event: guest false, host-qmp-system-reset", e)
    deadline = time.time() + 10
    while time.time() < deadline:
        with open(a.serial, errors="replace") as f:
            if f.read().count("qmptest: running") >= 2:
                break
        time.sleep(0.1)
    check(time.time() < deadline, "the guest started again after system_reset")
    st = status(q)
    check(st.get("status") == "running", "running after system_reset", st)

    # The power button: the guest powers off.
    r = q.cmd("system_powerdown")
    check(r == {"return": {}}, "system_powerdown", r)
    check(is_event(q.event("POWERDOWN", 5), "POWERDOWN"), "POWERDOWN event")
    e = q.event("SHUTDOWN", 15)
    check(is_event(e, "SHUTDOWN") and e.get("data") == {"guest": True,
                                                       "reason": "guest-shutdown"},
          "SHUTDOWN event: guest true, guest-shutdown", e)
    with open(a.serial, errors="replace") as f:
        check("qmptest: power button" in f.read(), "the guest saw the power button (SCI)")


def scenario_quit(q, a):
    negotiate(q)
    r = q.cmd("system_powerdown")
    check(r == {"return": {}} and is_event(q.event("POWERDOWN", 5), "POWERDOWN"),
          "system_powerdown to a guest that ignores it: POWERDOWN", r)
    time.sleep(0.5)
    st = status(q)
    check(st.get("status") == "running" and q.event("SHUTDOWN", 0.2) is None,
          "the guest ignored the power button", st)
    r = q.cmd("stop")
    check(r == {"return": {}} and is_event(q.event("STOP", 5), "STOP"), "stop")
    r = q.cmd("system_reset")
    e = q.event("RESET", 10, lambda e: e.get("data", {}).get("reason") == "host-qmp-system-reset")
    check(r == {"return": {}} and is_event(e, "RESET"), "system_reset while paused: RESET", e)
    time.sleep(0.3)
    st = status(q)
    check(st.get("running") is False and st.get("status") == "prelaunch",
          "stays stopped after the reset (prelaunch)", st)
    size = serial_size(a.serial)
    time.sleep(0.4)
    check(serial_size(a.serial) == size, "no serial output while stopped after the reset")
    r = q.cmd("quit", id="bye")
    check(r == {"return": {}, "id": "bye"}, "quit", r)
    e = q.event("SHUTDOWN", 10)
    check(is_event(e, "SHUTDOWN") and e.get("data") == {"guest": False,
                                                       "reason": "host-qmp-quit"},
          "SHUTDOWN event: guest false, host-qmp-quit", e)
    check(q.read_msg(10) is None and q.closed, "the connection closes after quit")


def main(argv):
    import argparse
    p = argparse.ArgumentParser()
    p.add_argument("scenario", choices=["main", "quit", "greet", "prelaunch", "noreboot"])
    p.add_argument("socket")
    p.add_argument("--serial")
    p.add_argument("--tmp", default="/tmp")
    a = p.parse_args(argv)
    try:
        q = QMP(a.socket)
    except OSError as e:
        print("qmp: FAIL: cannot connect to", a.socket, e)
        return 1
    {"main": scenario_main, "quit": scenario_quit, "greet": scenario_greet,
     "prelaunch": scenario_prelaunch, "noreboot": scenario_noreboot}[a.scenario](q, a)
    return min(failures, 100)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
