#!/usr/bin/env python3
"""bench/netpeer.py — the host's end of bench/virtio.sh's TCP rows, on
127.0.0.1 only: an HTTP server whose GET /blob returns BLOB_MIB MiB of
random bytes (host->guest: the guest's busybox wget through slirp's
10.0.2.2), and a sink that reads exactly SINK_BYTES bytes from each
connection, closes it and prints "sink <bytes received>" (guest->host:
the guest's busybox nc; closing after the last byte ends nc, whatever nc
does at the end of its input). Prints "ports <http> <sink>" when ready.
Usage: netpeer.py BLOB_MIB SINK_BYTES"""
import http.server
import os
import socket
import sys
import threading

blob = os.urandom(int(sys.argv[1]) << 20)
sink_bytes = int(sys.argv[2])


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/blob":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(blob)))
        self.end_headers()
        self.wfile.write(blob)

    def log_message(self, *args):
        pass


def sink(lsock):
    while True:
        conn, _ = lsock.accept()
        got = 0
        while got < sink_bytes:
            b = conn.recv(min(1 << 20, sink_bytes - got))
            if not b:
                break
            got += len(b)
        conn.close()
        print(f"sink {got}", flush=True)


httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
lsock = socket.create_server(("127.0.0.1", 0))
threading.Thread(target=sink, args=(lsock,), daemon=True).start()
print(f"ports {httpd.server_address[1]} {lsock.getsockname()[1]}", flush=True)
httpd.serve_forever()
