#!/usr/bin/python3
"""A slowloris client against cam-exporter, and a prober beside it.

Opens CONNS connections to 127.0.0.1:PORT from SOURCES loopback source
addresses (127.0.0.2, 127.0.0.3, ...), starts a request on each and sends
one more byte every INTERVAL seconds, reopening what the server closes, for
SECONDS seconds. Meanwhile it fetches /metrics, /healthz and /readyz from
127.0.0.1 every 0.2 s and times each answer. Prints one JSON object: probe
latencies and failures, how many connections the server held (its established sockets,
from /proc/net/tcp) at most and at least, how many it closed. Every loop is bounded in count and time.

usage: slowloris.py PORT CONNS SOURCES SECONDS INTERVAL [noreopen]

SPDX-License-Identifier: Apache-2.0
"""
import http.client
import json
import resource
import selectors
import socket
import sys
import time

PARTIAL = b"GET /metrics HTTP/1.1\r\nHost: x\r\n"
DRIP = b"X-Slow: "


def raise_fd_limit(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(hard, max(soft, want))
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def open_slow(port, source, sel, index):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    s.bind((source, 0))
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    sel.register(s, selectors.EVENT_READ, index)
    return s


def server_held(port):
    """Established connections whose local port is the server's."""
    n = 0
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if parts[3] == "01" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                        n += 1
        except OSError:
            pass
    return n


def probe(port, path):
    t0 = time.monotonic()
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", path, headers={"Accept-Encoding": "gzip"})
        r = c.getresponse()
        r.read()
        c.close()
        ok = r.status == 200 or (path == "/readyz" and r.status == 503)
    except OSError:
        ok = False
    return ok, (time.monotonic() - t0) * 1000


def main():
    port, conns, sources, seconds, interval = (int(sys.argv[1]), int(sys.argv[2]),
                                               int(sys.argv[3]), float(sys.argv[4]),
                                               float(sys.argv[5]))
    reopen_max = 0 if sys.argv[6:] == ["noreopen"] else 20 * conns
    raise_fd_limit(conns + 256)
    sel = selectors.DefaultSelector()
    addrs = ["127.0.0.%d" % (2 + i % sources) for i in range(conns)]
    socks = {}
    for i in range(conns):
        try:
            socks[i] = open_slow(port, addrs[i], sel, i)
        except OSError:
            pass
    time.sleep(0.5)
    for s in socks.values():
        try:
            s.send(PARTIAL)
        except OSError:
            pass
    lat = {"/metrics": [], "/healthz": [], "/readyz": []}
    failures = {k: 0 for k in lat}
    closed = 0
    peak_open = 0
    low_open = None
    start = time.monotonic()
    next_drip = start + interval
    next_probe = start
    reopens = 0
    while time.monotonic() - start < seconds:
        now = time.monotonic()
        if now >= next_probe:
            for path in lat:
                ok, ms = probe(port, path)
                lat[path].append(ms)
                failures[path] += not ok
            held = server_held(port)
            peak_open = max(peak_open, held)
            low_open = held if low_open is None else min(low_open, held)
            next_probe = now + 0.2
        if now >= next_drip:
            for s in list(socks.values()):
                try:
                    s.send(DRIP[:1])
                except OSError:
                    pass
            next_drip = now + interval
        for key, _ in sel.select(timeout=0.05):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if data:
                continue  # an answer (408 and the like): closed next
            i = key.data
            sel.unregister(s)
            s.close()
            closed += 1
            del socks[i]
            if reopens < reopen_max:  # bounded: reopen like slowloris does
                try:
                    socks[i] = open_slow(port, addrs[i], sel, i)
                    reopens += 1
                except OSError:
                    pass

    def stats(v):
        v = sorted(v)
        if not v:
            return {"n": 0}
        return {"n": len(v), "p50_ms": round(v[len(v) // 2], 1),
                "p95_ms": round(v[min(len(v) - 1, int(len(v) * 0.95))], 1),
                "p99_ms": round(v[min(len(v) - 1, int(len(v) * 0.99))], 1),
                "max_ms": round(v[-1], 1)}

    print(json.dumps({"conns": conns, "sources": sources, "closed_by_server": closed,
                      "reopened": reopens, "server_held_max": peak_open,
                      "server_held_min": low_open,
                      "latency": {k: stats(v) for k, v in lat.items()},
                      "failures": failures}))
    for s in socks.values():
        s.close()


if __name__ == "__main__":
    main()
