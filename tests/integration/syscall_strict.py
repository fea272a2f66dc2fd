#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Requests no well-behaved gRPC library would send (raw frames, h2raw.py),
against the kernel's syscall layer. One JSON object per run.

  PORT strings       NUL bytes and invalid UTF-8 in verb, payload, caller_id,
                     and HealthCheck's caller_id: the grpc-status and message of each
  PORT twoauth       Execute with two authorization headers
  PORT flood SECONDS failing calls as fast as one connection can for SECONDS
"""
import json
import socket
import sys
import time

from h2raw import (Conn, DataFrame, HeadersFrame, grpc_message, pb_string)


def answer(c, sid, timeout=3.0):
    """(grpc-status, grpc-message, response message bytes) of stream sid."""
    deadline = time.monotonic() + timeout
    body = b""
    while time.monotonic() < deadline:
        try:
            f = c.recv_frame(max(0.05, deadline - time.monotonic()))
        except socket.timeout:
            break
        if f is None:
            break
        if f.stream_id != sid:
            continue
        if isinstance(f, DataFrame):
            body += f.data
        if isinstance(f, HeadersFrame):
            h = dict(f.decoded)
            if "grpc-status" in h:
                return h["grpc-status"], h.get("grpc-message", ""), body[5:]
    return None, None, body


def call(port, msg, path="/cam.SyscallService/Execute", extra=()):
    c = Conn(port)
    c.handshake()
    c.send(c.grpc_request(1, path, extra=extra, end_stream=False),
           DataFrame(1, grpc_message(msg), flags=["END_STREAM"]))
    st, text, body = answer(c, 1)
    c.close()
    return st, text, body


def result_of(body):
    """SyscallResponse.result (field 2) as raw bytes, or None."""
    i = 0
    while i < len(body):
        tag = body[i]
        i += 1
        n, shift = 0, 0
        while True:
            b = body[i]
            i += 1
            n |= (b & 0x7f) << shift
            shift += 7
            if not b & 0x80:
                break
        if tag & 7 == 2:
            if tag >> 3 == 2:
                return body[i:i + n]
            i += n
    return None


def strings(port):
    out = {}
    cases = {
        "payload_nul": pb_string(1, "ping") + pb_string(2, b"a:1\x00b:2"),
        "payload_bad_utf8": pb_string(1, "ping") + pb_string(2, b"msg:\xff\xfe"),
        "payload_overlong": pb_string(1, "ping") + pb_string(2, b"msg:\xc0\xaf"),
        "verb_nul": pb_string(1, b"ping\x00evil") + pb_string(2, "a:b"),
        "caller_bad_utf8": pb_string(1, "ping") + pb_string(2, "a:b") + pb_string(3, b"\xed\xa0\x80"),
        "context_value_nul": pb_string(1, "context_write") +
                             pb_string(2, b"namespace:n,key:k,value:abc\x00secret"),
        "good_utf8": pb_string(1, "ping") + pb_string(2, "msg:h\xe9llo \u2603"),
    }
    for name, msg in cases.items():
        st, text, body = call(port, msg)
        out[name] = {"status": st, "message": text}
        if name == "good_utf8":
            r = result_of(body)
            out[name]["result"] = r.decode("utf-8") if r is not None else None
    st, text, _b = call(port, pb_string(1, b"caller\x00x"), "/cam.SyscallService/HealthCheck")
    out["health_caller_nul"] = {"status": st, "message": text}
    print(json.dumps(out, ensure_ascii=False))


def twoauth(port):
    msg = pb_string(1, "ping") + pb_string(2, "a:b")
    st, text, _b = call(port, msg, extra=[("authorization", "Bearer a"), ("authorization", "Bearer b")])
    print(json.dumps({"status": st, "message": text}))


def flood(port, seconds):
    c = Conn(port, timeout=10)
    c.handshake()
    msg = grpc_message(pb_string(1, "no_such_verb") + pb_string(2, "a:b"))
    sent = answered = 0
    sid = 1
    deadline = time.monotonic() + seconds
    inflight = 0
    while time.monotonic() < deadline:
        while inflight < 64:
            c.send(c.grpc_request(sid, end_stream=False), DataFrame(sid, msg, flags=["END_STREAM"]))
            sid += 2
            sent += 1
            inflight += 1
        try:
            f = c.recv_frame(1)
        except socket.timeout:
            break
        if f is None:
            break
        if isinstance(f, HeadersFrame) and "grpc-status" in dict(f.decoded):
            answered += 1
            inflight -= 1
    print(json.dumps({"sent": sent, "answered": answered}))


if __name__ == "__main__":
    port = int(sys.argv[1])
    what = sys.argv[2]
    if what == "strings":
        strings(port)
    elif what == "twoauth":
        twoauth(port)
    elif what == "flood":
        flood(port, float(sys.argv[3]))
