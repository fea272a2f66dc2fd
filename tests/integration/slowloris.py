#!/usr/bin/python3
"""A slowloris client against cam-exporter, and a prober beside it.

Opens CONNS connections to 127.0.0.1:PORT from SOURCES loopback source
addresses (127.0.0.2, 127.0.0.3, ...), starts a request on each and sends
one more byte every INTERVAL seconds, reopening what the server closes, for
SECONDS seconds. Meanwhile it fetches /metrics, /healthz and /readyz from
127.0.0.1 every 0.2 s, in a process of its own, and times each answer. Prints one JSON object: probe
latencies and failures, how many connections the server held (its established sockets,
from /proc/net/tcp, which counts connections still waiting to be accepted
too) at most, at least, and at most between 1.5 s and 4.5 s (settled: the
refused ones closed, none timed out yet), how many it closed. Every loop is bounded in count and time.

usage: slowloris.py PORT CONNS SOURCES SECONDS INTERVAL [noreopen]

SPDX-License-Identifier: Apache-2.0
"""
import http.client
import json
import multiprocessing
import resource
import selectors
import socket
import sys
import time

PARTIAL = b"GET /metrics HTTP/1.1\r\nHost: x\r\n"
DRIP = b"X-Slow: "
REOPENS_PER_S = 500


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


def prober(port, seconds, out):
    """Probes every 0.2 s for seconds, in its own process so the attacker's
    loop never delays a probe; puts its figures on out."""
    lat = {"/metrics": [], "/healthz": [], "/readyz": []}
    failures = {k: 0 for k in lat}
    peak, low, settled = 0, None, 0
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        t0 = time.monotonic()
        for path in lat:
            ok, ms = probe(port, path)
            lat[path].append(ms)
            failures[path] += not ok
        held = server_held(port)
        peak = max(peak, held)
        low = held if low is None else min(low, held)
        if 1.5 <= t0 - start <= 4.5:  # refused ones gone, none timed out yet
            settled = max(settled, held)
        time.sleep(max(0.0, 0.2 - (time.monotonic() - t0)))
    out.put((lat, failures, peak, low, settled))


def stats(v):
    v = sorted(v)
    if not v:
        return {"n": 0}
    return {"n": len(v), "p50_ms": round(v[len(v) // 2], 1),
            "p95_ms": round(v[min(len(v) - 1, int(len(v) * 0.95))], 1),
            "p99_ms": round(v[min(len(v) - 1, int(len(v) * 0.99))], 1),
            "max_ms": round(v[-1], 1)}


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
    results = multiprocessing.Queue()
    probes = multiprocessing.Process(target=prober, args=(port, seconds, results))
    probes.start()
    closed = reopens = 0
    pending = []  # closed slots to reopen, REOPENS_PER_S at most
    start = time.monotonic()
    tokens, last = 0.0, start
    next_drip = start + interval
    while time.monotonic() - start < seconds:
        now = time.monotonic()
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
            sel.unregister(s)
            s.close()
            closed += 1
            del socks[key.data]
            pending.append(key.data)
        # Reopen like slowloris does, bounded in count and paced, so the
        # client does not spin on an address the server keeps refusing.
        now = time.monotonic()
        tokens = min(REOPENS_PER_S / 10, tokens + (now - last) * REOPENS_PER_S)
        last = now
        while pending and reopens < reopen_max and tokens >= 1:
            i = pending.pop(0)
            tokens -= 1
            try:
                socks[i] = open_slow(port, addrs[i], sel, i)
                reopens += 1
            except OSError:
                pass
    lat, failures, peak_open, low_open, settled = results.get(timeout=30)
    probes.join(timeout=10)
    print(json.dumps({"conns": conns, "sources": sources, "closed_by_server": closed,
                      "reopened": reopens, "server_held_max": peak_open,
                      "server_held_min": low_open, "server_held_settled": settled,
                      "latency": {k: stats(v) for k, v in lat.items()},
                      "failures": failures}))
    for s in socks.values():
        s.close()


if __name__ == "__main__":
    main()
