#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Well-behaved raw HTTP/2 calls and probes for the hostile-client tests
(h2raw.py). One JSON object is printed per run.

  PORT N                       N Execute(ping) calls, each on a new connection;
                               each must be answered OK within 2 s
  PORT 1 --write PAYLOAD FILE  one context_write whose value is FILE (as data)
  PORT probe-idle              a connection with no stream: GOAWAY, and its code?
  PORT probe-cap N             N idle connections, then one more: is it served,
                               and is the oldest told GOAWAY?
  PORT probe-admission         (grpc_test_server --require x-test-token=ok)
                               no token, the token twice, the token once
  PORT probe-pings N           a call left open, then N PINGs at once: does
                               the server say GOAWAY ENHANCE_YOUR_CALM?
  PORT probe-goaways SECONDS   a connection with a call left open; prints the
                               GOAWAYs that come in SECONDS (the drain test
                               sends SIGTERM meanwhile)
"""
import json
import socket
import sys
import time

from h2raw import (ERR, Conn, DataFrame, GoAwayFrame, HeadersFrame, PingFrame,
                   RstStreamFrame, WindowUpdateFrame, execute_body)


def say(**kw):
    print(json.dumps(kw), flush=True)


def status_of(c, sid, timeout=2.0):
    """The grpc-status of stream sid, or None (also on RST_STREAM/GOAWAY)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            f = c.recv_frame(left)
        except socket.timeout:
            return None
        if f is None:
            return None
        if isinstance(f, HeadersFrame) and f.stream_id == sid:
            h = dict(f.decoded)
            if "grpc-status" in h:
                return h["grpc-status"]
        if isinstance(f, (RstStreamFrame,)) and f.stream_id == sid:
            return None
        if isinstance(f, GoAwayFrame):
            return None


def send_body(c, sid, body):
    """Sends body on sid in frames of 16 KiB, ending the stream. For bodies
    that fit the initial windows (1 MiB stream, the server's connection
    window) only."""
    for off in range(0, len(body), 16384):
        end = off + 16384 >= len(body)
        c.send(DataFrame(sid, body[off:off + 16384], flags=["END_STREAM"] if end else []))


def call(port, verb, payload, data=None, extra=(), timeout=2.0):
    c = Conn(port, timeout=timeout)
    try:
        c.handshake()
        c.send(c.grpc_request(1, extra=extra, end_stream=False))
        send_body(c, 1, execute_body(verb, payload, data=data))
        return status_of(c, 1, timeout)
    except OSError:
        return None
    finally:
        c.close()


def pings(port, n):
    ok = failed = 0
    worst = 0.0
    for _ in range(n):
        t0 = time.monotonic()
        st = call(port, "ping", b"hello:world")
        worst = max(worst, time.monotonic() - t0)
        if st == "0":
            ok += 1
        else:
            failed += 1
    say(ok=ok, failed=failed, max_ms=round(worst * 1000, 1))


def write(port, payload, path):
    st = call(port, "context_write", payload.encode(), data=open(path, "rb").read(), timeout=10)
    say(ok=1 if st == "0" else 0, status=st)


def goaway_within(c, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            f = c.recv_frame(max(0.05, deadline - time.monotonic()))
        except socket.timeout:
            return None
        if f is None:
            return "closed"
        if isinstance(f, GoAwayFrame):
            return ERR.get(f.error_code, str(f.error_code))
    return None


def probe_idle(port):
    c = Conn(port)
    c.handshake()
    t0 = time.monotonic()
    code = goaway_within(c, 3)
    say(goaway=code, after_ms=round((time.monotonic() - t0) * 1000))


def probe_cap(port, n):
    conns = []
    for _ in range(n):
        c = Conn(port)
        c.handshake()
        conns.append(c)
        time.sleep(0.01)  # so "oldest" is well defined
    st = call(port, "ping", b"hello:world", extra=[("x-test-token", "ok")])
    code = goaway_within(conns[0], 1)
    say(newest_served=st == "0", oldest_goaway=code is not None, code=code)


def stats(port):
    c = Conn(port)
    try:
        c.handshake()
        c.send(c.grpc_request(1, extra=[("x-test-token", "ok")], end_stream=False))
        send_body(c, 1, execute_body("stats", b""))
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            f = c.recv_frame(2)
            if isinstance(f, DataFrame) and f.stream_id == 1 and len(f.data) > 5:
                text = f.data[5:].decode("latin-1")
                i = text.find("buffered:")
                return int(text[i + 9:].split(",")[0].split("\x12")[0].strip("\x00")) if i >= 0 else None
    finally:
        c.close()
    return None


def probe_admission(port):
    out = {}
    # No token: answered at its headers, while a 3 MB body is on its way.
    c = Conn(port)
    c.handshake()
    c.send(c.grpc_request(1, end_stream=False))
    c.send(DataFrame(1, b"\x00" + (3000000).to_bytes(4, "big") + b"x" * 16000))
    out["missing"] = status_of(c, 1)
    for _ in range(40):  # keep sending: none of it may be kept
        try:
            c.send(DataFrame(1, b"x" * 16000))
        except OSError:
            break
    time.sleep(0.2)
    out["buffered_after_refusal"] = stats(port)
    c.close()
    out["twice"] = call(port, "ping", b"a:b", extra=[("x-test-token", "ok"), ("x-test-token", "ok")])
    out["good"] = call(port, "ping", b"a:b", extra=[("x-test-token", "ok")])
    say(**out)


def probe_pings(port, n):
    c = Conn(port)
    c.handshake()
    c.send(c.grpc_request(1, end_stream=False))  # a call in flight: pings allowed, but not this often
    for i in range(n):
        c.send(PingFrame(0, b"%08d" % i))
        time.sleep(0.01)
    deadline = time.monotonic() + 3
    got = None
    while time.monotonic() < deadline and got is None:
        try:
            f = c.recv_frame(max(0.05, deadline - time.monotonic()))
        except socket.timeout:
            break
        if f is None:
            break
        if isinstance(f, GoAwayFrame):
            got = (ERR.get(f.error_code, str(f.error_code)), f.additional_data.decode("latin-1"))
    say(goaway=got[0] if got else None, debug=got[1] if got else None)


def probe_goaways(port, seconds):
    c = Conn(port)
    c.handshake()
    c.send(c.grpc_request(1, end_stream=False))
    print(json.dumps({"ready": True}), flush=True)
    goaways = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            f = c.recv_frame(max(0.05, deadline - time.monotonic()))
        except socket.timeout:
            break
        if f is None:
            break
        if isinstance(f, GoAwayFrame):
            goaways.append([f.last_stream_id, ERR.get(f.error_code, str(f.error_code))])
    say(goaways=goaways)


def main():
    port = int(sys.argv[1])
    what = sys.argv[2]
    if what == "probe-pings":
        return probe_pings(port, int(sys.argv[3]))
    if what == "probe-goaways":
        return probe_goaways(port, float(sys.argv[3]))
    if what == "probe-idle":
        probe_idle(port)
    elif what == "probe-cap":
        probe_cap(port, int(sys.argv[3]))
    elif what == "probe-admission":
        probe_admission(port)
    elif len(sys.argv) > 3 and sys.argv[3] == "--write":
        write(port, sys.argv[4], sys.argv[5])
    else:
        pings(port, int(what))


if __name__ == "__main__":
    main()
