#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""RFC 9113 conformance cases, sent as raw frames (h2raw.py) to a server.

The cases follow the sections of RFC 9113 that h2spec checks; each says
what the RFC requires and passes only when the server does exactly that.
A stream error is a RST_STREAM (or, as h2spec allows, a GOAWAY) with one of
the codes; a connection error is a GOAWAY with one of the codes or the
connection closing. Requests are plain `GET /` unless a case needs more,
so the same cases run against nghttpd (the reference) and the kernel.

usage: h2_conformance.py PORT [--only NAME,...] [--expect-fail NAME,...]
Prints one line per case and "N passed, N failed".
"""
import socket
import sys
import time

from h2raw import (ERR, Conn, ContinuationFrame, DataFrame, GoAwayFrame,
                   HeadersFrame, PingFrame, PriorityFrame, RstStreamFrame,
                   SettingsFrame, WindowUpdateFrame)

PORT = int(sys.argv[1])
REFERENCE = "--reference" in sys.argv  # a reference server: skip the kernel's own cases
CASES = []


def case(name):
    def deco(fn):
        CASES.append((name, fn))
        return fn
    return deco


class Fail(Exception):
    pass


def codes(*names):
    return {k for k, v in ERR.items() if v in names}


def until(c, match, timeout):
    """Reads frames until match(frame) is true (True), the connection
    closes (True, as h2spec counts it) or timeout passes (False); the
    frames seen are kept for the failure message."""
    deadline = time.monotonic() + timeout
    c.seen = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        try:
            f = c.recv_frame(left)
        except socket.timeout:
            return False
        if f is None:
            return True
        c.seen.append(describe(f))
        if match(f):
            return True


def stream_error(c, *names, timeout=2.0):
    want = codes(*names)
    if not until(c, lambda f: isinstance(f, (RstStreamFrame, GoAwayFrame)) and
                 f.error_code in want, timeout):
        raise Fail("wanted a stream error %s, got %s" % ("/".join(names), brief(c.seen)))


def connection_error(c, *names, timeout=2.0):
    want = codes(*names)
    if not until(c, lambda f: isinstance(f, GoAwayFrame) and f.error_code in want, timeout):
        raise Fail("wanted a connection error %s, got %s" % ("/".join(names), brief(c.seen)))


def stream_closes(c, sid, timeout=2.0):
    """Waits for the server to end stream sid (END_STREAM on HEADERS/DATA)."""
    seen = []
    while True:
        try:
            f = c.recv_frame(timeout)
        except socket.timeout:
            raise Fail("stream %d did not close: %s" % (sid, seen))
        if f is None:
            raise Fail("connection closed before stream %d ended" % sid)
        seen.append(describe(f))
        if f.stream_id == sid and isinstance(f, (HeadersFrame, DataFrame)) and "END_STREAM" in f.flags:
            return seen


def brief(seen):
    if not seen:
        return "nothing"
    return ", ".join(seen[:8]) + (" and %d more" % (len(seen) - 8) if len(seen) > 8 else "")


def describe(f):
    n = type(f).__name__.replace("Frame", "").upper()
    if isinstance(f, (RstStreamFrame, GoAwayFrame)):
        n += "(%s)" % ERR.get(f.error_code, f.error_code)
    if isinstance(f, HeadersFrame):
        n += str(dict(f.decoded).get(":status", ""))
    if isinstance(f, DataFrame):
        n += "[%d]" % len(f.data)
    return "%s@%d%s" % (n, f.stream_id, "+ES" if "END_STREAM" in f.flags else "")


def fresh(settings=None):
    c = Conn(PORT)
    c.handshake(settings)
    return c


def raw_frame(ftype, flags, sid, payload):
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + \
        sid.to_bytes(4, "big") + payload


# ---- 5.1 stream states -------------------------------------------------
@case("5.1/idle: DATA")
def _(c):
    c.send(DataFrame(1, b"test", flags=["END_STREAM"]))
    connection_error(c, "PROTOCOL_ERROR")


@case("5.1/idle: RST_STREAM")
def _(c):
    c.send(RstStreamFrame(1, error_code=8))
    connection_error(c, "PROTOCOL_ERROR")


@case("5.1/idle: WINDOW_UPDATE")
def _(c):
    c.send(WindowUpdateFrame(1, window_increment=100))
    connection_error(c, "PROTOCOL_ERROR")


@case("5.1/idle: CONTINUATION")
def _(c):
    f = ContinuationFrame(1, c.enc.encode([(":method", "GET")]), flags=["END_HEADERS"])
    c.send(f)
    connection_error(c, "PROTOCOL_ERROR")


@case("5.1/half closed (remote): DATA")
def _(c):
    c.send(c.request(1), DataFrame(1, b"test", flags=["END_STREAM"]))
    stream_error(c, "STREAM_CLOSED")


@case("5.1/half closed (remote): HEADERS")
def _(c):
    c.send(c.request(1), c.request(1))
    stream_error(c, "STREAM_CLOSED")


@case("5.1/half closed (remote): CONTINUATION")
def _(c):
    c.send(c.request(1), ContinuationFrame(1, c.enc.encode([("x-a", "b")]), flags=["END_HEADERS"]))
    stream_error(c, "STREAM_CLOSED", "PROTOCOL_ERROR")


@case("5.1/closed: DATA after RST_STREAM")
def _(c):
    c.send(c.request(1, end_stream=False), RstStreamFrame(1, error_code=8),
           DataFrame(1, b"test", flags=["END_STREAM"]))
    stream_error(c, "STREAM_CLOSED")


@case("5.1/closed: HEADERS after RST_STREAM")
def _(c):
    c.send(c.request(1, end_stream=False), RstStreamFrame(1, error_code=8), c.request(1))
    stream_error(c, "STREAM_CLOSED")


@case("5.1/closed: CONTINUATION after RST_STREAM")
def _(c):
    c.send(c.request(1, end_stream=False), RstStreamFrame(1, error_code=8),
           ContinuationFrame(1, c.enc.encode([("x-a", "b")]), flags=["END_HEADERS"]))
    stream_error(c, "STREAM_CLOSED", "PROTOCOL_ERROR")


@case("5.1/closed: DATA")
def _(c):
    c.send(c.request(1))
    stream_closes(c, 1)
    c.send(DataFrame(1, b"test", flags=["END_STREAM"]))
    connection_error(c, "STREAM_CLOSED")


@case("5.1/closed: HEADERS")
def _(c):
    c.send(c.request(1))
    stream_closes(c, 1)
    c.send(c.request(1))
    connection_error(c, "STREAM_CLOSED")


@case("5.1.1: even stream id")
def _(c):
    c.send(c.request(2))
    connection_error(c, "PROTOCOL_ERROR")


@case("5.1.1: stream id lower than a previous one")
def _(c):
    c.send(c.request(5), c.request(3))
    connection_error(c, "PROTOCOL_ERROR")


@case("5.1.2: more streams than SETTINGS_MAX_CONCURRENT_STREAMS")
def _(c):
    limit = c.settings.get(3)
    if limit is None:
        raise Fail("the server advertises no SETTINGS_MAX_CONCURRENT_STREAMS")
    c.send(SettingsFrame(0, settings={4: 0}))  # window 0: the answers cannot end
    block = []
    for i in range(limit + 1):
        block.append(c.request(1 + 2 * i))
        if len(block) == 256:
            c.send(*block)
            block = []
    c.send(*block)
    # RFC 9113 allows PROTOCOL_ERROR too; the kernel answers REFUSED_STREAM,
    # which tells the client the stream was not processed.
    if REFERENCE:
        stream_error(c, "REFUSED_STREAM", "PROTOCOL_ERROR", timeout=5)
    else:
        stream_error(c, "REFUSED_STREAM", timeout=5)


# ---- 5.3 priority ----------------------------------------------------
@case("5.3.1: HEADERS depends on itself")
def _(c):
    f = c.request(1)
    f.flags.add("PRIORITY")
    f.depends_on, f.stream_weight = 1, 16
    c.send(f)
    stream_error(c, "PROTOCOL_ERROR")


@case("5.3.1: PRIORITY depends on itself")
def _(c):
    c.send(PriorityFrame(1, depends_on=1, stream_weight=16))
    stream_error(c, "PROTOCOL_ERROR")


@case("5.3/PRIORITY on a half-closed stream is accepted")
def _(c):
    c.send(c.request(1), PriorityFrame(1, depends_on=0, stream_weight=16))
    stream_closes(c, 1)


@case("5.5: unknown frame type is ignored")
def _(c):
    c.send(raw_frame(0xFF, 0, 0, b"\x00" * 8), PingFrame(0, b"12345678"))
    if not until(c, lambda f: isinstance(f, PingFrame) and "ACK" in f.flags, 2):
        raise Fail("no PING ACK after an unknown frame")


# ---- 6.x frames ------------------------------------------------------
@case("6.1: DATA on stream 0")
def _(c):
    c.send(raw_frame(0, 1, 0, b"test"))
    connection_error(c, "PROTOCOL_ERROR")


@case("6.1: DATA with invalid pad length")
def _(c):
    c.send(c.request(1, end_stream=False), raw_frame(0, 0x9, 1, b"\x06test"))
    connection_error(c, "PROTOCOL_ERROR")


@case("6.2: HEADERS on stream 0")
def _(c):
    c.send(raw_frame(1, 0x5, 0, c.enc.encode([(":method", "GET")])))
    connection_error(c, "PROTOCOL_ERROR")


@case("6.2: HEADERS then PRIORITY before CONTINUATION")
def _(c):
    c.send(c.request(1, end_headers=False), PriorityFrame(1, depends_on=0, stream_weight=16))
    connection_error(c, "PROTOCOL_ERROR")


@case("6.3: PRIORITY on stream 0")
def _(c):
    c.send(raw_frame(2, 0, 0, b"\x00\x00\x00\x00\x10"))
    connection_error(c, "PROTOCOL_ERROR")


@case("6.3: PRIORITY of 4 octets")
def _(c):
    c.send(c.request(1, end_stream=False), raw_frame(2, 0, 1, b"\x00\x00\x00\x00"))
    stream_error(c, "FRAME_SIZE_ERROR")


@case("6.4: RST_STREAM on stream 0")
def _(c):
    c.send(raw_frame(3, 0, 0, b"\x00\x00\x00\x08"))
    connection_error(c, "PROTOCOL_ERROR")


@case("6.4: RST_STREAM of 3 octets")
def _(c):
    c.send(c.request(1, end_stream=False), raw_frame(3, 0, 1, b"\x00\x00\x08"))
    connection_error(c, "FRAME_SIZE_ERROR")


@case("6.5: SETTINGS ACK with a payload")
def _(c):
    c.send(raw_frame(4, 1, 0, b"\x00\x03\x00\x00\x00\x64"))
    connection_error(c, "FRAME_SIZE_ERROR")


@case("6.5: SETTINGS on a stream")
def _(c):
    c.send(raw_frame(4, 0, 1, b"\x00\x03\x00\x00\x00\x64"))
    connection_error(c, "PROTOCOL_ERROR")


@case("6.5: SETTINGS of 3 octets")
def _(c):
    c.send(raw_frame(4, 0, 0, b"\x00\x03\x00"))
    connection_error(c, "FRAME_SIZE_ERROR")


@case("6.5.2: SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1")
def _(c):
    c.send(raw_frame(4, 0, 0, b"\x00\x04\x80\x00\x00\x00"))
    connection_error(c, "FLOW_CONTROL_ERROR")


@case("6.5.2: SETTINGS_MAX_FRAME_SIZE below the minimum")
def _(c):
    c.send(raw_frame(4, 0, 0, b"\x00\x05\x00\x00\x3f\xff"))
    connection_error(c, "PROTOCOL_ERROR")


@case("6.7: PING is answered with the same data")
def _(c):
    c.send(PingFrame(0, b"h2raw!!!"))
    if not until(c, lambda f: isinstance(f, PingFrame) and "ACK" in f.flags and
                 f.opaque_data == b"h2raw!!!", 2):
        raise Fail("no PING ACK with the same data")


@case("6.7: PING on a stream")
def _(c):
    c.send(raw_frame(6, 0, 1, b"12345678"))
    connection_error(c, "PROTOCOL_ERROR")


@case("6.7: PING of 6 octets")
def _(c):
    c.send(raw_frame(6, 0, 0, b"123456"))
    connection_error(c, "FRAME_SIZE_ERROR")


@case("6.8: GOAWAY on a stream")
def _(c):
    c.send(raw_frame(7, 0, 1, b"\x00\x00\x00\x00\x00\x00\x00\x00"))
    connection_error(c, "PROTOCOL_ERROR")


@case("6.9: WINDOW_UPDATE of 0 on the connection")
def _(c):
    c.send(WindowUpdateFrame(0, window_increment=0) if False else raw_frame(8, 0, 0, b"\x00\x00\x00\x00"))
    connection_error(c, "PROTOCOL_ERROR")


@case("6.9: WINDOW_UPDATE of 0 on a half-closed stream")
def _(c):
    c.send(c.request(1), raw_frame(8, 0, 1, b"\x00\x00\x00\x00"))
    stream_error(c, "PROTOCOL_ERROR")


@case("6.9: WINDOW_UPDATE of 3 octets")
def _(c):
    c.send(raw_frame(8, 0, 0, b"\x00\x00\x01"))
    connection_error(c, "FRAME_SIZE_ERROR")


@case("6.9.1: connection window past 2^31-1")
def _(c):
    c.send(WindowUpdateFrame(0, window_increment=0x7FFFFFFF),
           WindowUpdateFrame(0, window_increment=0x7FFFFFFF))
    connection_error(c, "FLOW_CONTROL_ERROR")


@case("6.9.1: stream window past 2^31-1")
def _(c):
    c.send(c.request(1), WindowUpdateFrame(1, window_increment=0x7FFFFFFF),
           WindowUpdateFrame(1, window_increment=0x7FFFFFFF))
    stream_error(c, "FLOW_CONTROL_ERROR")


@case("6.9.1: initial window of 1 gives a 1-octet DATA frame")
def _(c):
    c.send(SettingsFrame(0, settings={4: 1}), c.request(1))
    if not until(c, lambda f: isinstance(f, DataFrame) and f.stream_id == 1, 2):
        raise Fail("no DATA frame")
    if not c.seen[-1].startswith("DATA[1]"):
        raise Fail("got %s" % c.seen[-1])


@case("6.9.2: window raised by SETTINGS after the request")
def _(c):
    c.send(SettingsFrame(0, settings={4: 0}), c.request(1))
    until(c, lambda f: False, 0.3)
    c.send(SettingsFrame(0, settings={4: 1}))
    if not until(c, lambda f: isinstance(f, DataFrame) and f.stream_id == 1 and
                 len(f.data) == 1, 2):
        raise Fail("no 1-octet DATA frame after the window grew: %s" % brief(c.seen))


@case("6.9.2: SETTINGS_INITIAL_WINDOW_SIZE of 2^31")
def _(c):
    c.send(SettingsFrame(0, settings={4: 0x80000000}))
    connection_error(c, "FLOW_CONTROL_ERROR")


# ---- 8.x HTTP --------------------------------------------------------
def bad_request(c, headers):
    c.send(c.headers(1, headers))
    stream_error(c, "PROTOCOL_ERROR")


BASE = [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "127.0.0.1")]


@case("8.2: upper-case header name")
def _(c):
    bad_request(c, BASE + [("X-Test", "ok")])


@case("8.3: unknown pseudo-header")
def _(c):
    bad_request(c, BASE + [(":test", "ok")])


@case("8.3: pseudo-header after a regular one")
def _(c):
    bad_request(c, BASE[:3] + [("x-test", "ok"), BASE[3]])


@case("8.2.2: connection-specific header")
def _(c):
    bad_request(c, BASE + [("connection", "keep-alive")])


@case("8.2.2: TE other than trailers")
def _(c):
    bad_request(c, BASE + [("te", "gzip")])


@case("8.3.1: no :method")
def _(c):
    bad_request(c, BASE[1:])


@case("8.3.1: empty :path")
def _(c):
    bad_request(c, [BASE[0], BASE[1], (":path", ""), BASE[3]])


@case("8.1.1: content-length does not match DATA")
def _(c):
    c.send(c.request(1, method="POST", extra=[("content-length", "1")], end_stream=False),
           DataFrame(1, b"test", flags=["END_STREAM"]))
    stream_error(c, "PROTOCOL_ERROR")


# ---- non-gRPC and gRPC answers (the kernel only) ---------------------
def answer(c, sid):
    status, body, trailers = None, b"", {}
    frames = []
    until(c, lambda f: frames.append(f) or (f.stream_id == sid and "END_STREAM" in f.flags), 2)
    for f in frames:
        if f.stream_id != sid:
            continue
        if isinstance(f, HeadersFrame):
            h = dict(f.decoded)
            if ":status" in h:
                status = h
            else:
                trailers = h
        if isinstance(f, DataFrame):
            body += f.data
        if "END_STREAM" in f.flags:
            break
    return status, body, trailers


@case("kernel: GET / is 404 with a text body")
def _(c):
    c.send(c.request(1))
    h, body, _t = answer(c, 1)
    if not h or h.get(":status") != "404" or not body or not h.get("content-type", "").startswith("text/plain"):
        raise Fail("got %s %r" % (h, body))


@case("kernel: POST to Execute with a wrong content-type is 415 with a text body")
def _(c):
    c.send(c.request(1, "/cam.SyscallService/Execute", "POST", [("content-type", "application/json")]))
    h, body, _t = answer(c, 1)
    if not h or h.get(":status") != "415" or not body:
        raise Fail("got %s %r" % (h, body))


@case("kernel: gRPC call of an unknown method is UNIMPLEMENTED")
def _(c):
    c.send(c.grpc_request(1, "/no.Such/Method"))
    h, _b, _t = answer(c, 1)
    if not h or h.get(":status") != "200" or h.get("grpc-status") != "12":
        raise Fail("got %s" % h)


def main():
    args = sys.argv[2:]
    only = expect_fail = set()
    if "--only" in args:
        only = set(args[args.index("--only") + 1].split(","))
    if "--expect-fail" in args:
        expect_fail = set(args[args.index("--expect-fail") + 1].split(","))
    skip_kernel = REFERENCE
    passed = failed = 0
    for name, fn in CASES:
        if only and name not in only:
            continue
        if skip_kernel and name.startswith("kernel:"):
            continue
        try:
            c = fresh()
        except Exception as e:  # noqa: BLE001
            print("not ok - %s: handshake: %s" % (name, e))
            failed += 1
            continue
        try:
            fn(c)
            err = None
        except Fail as e:
            err = str(e)
        except (OSError, RuntimeError) as e:
            err = "%s: %s" % (type(e).__name__, e)
        finally:
            c.close()
        if name in expect_fail:
            print("ok - %s (known miss%s)" % (name, ": " + err if err else ", but it passed"))
            passed += 1
        elif err:
            print("not ok - %s: %s" % (name, err))
            failed += 1
        else:
            print("ok - %s" % name)
            passed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
