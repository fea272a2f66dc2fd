#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""What the health checks say while a kernel drains (issue 19, item 5).

usage: drain_health.py PORT SECONDS

Opens one raw HTTP/2 connection (h2raw.py) with a call left open, so the
drain lasts, and prints {"ready": true}. The test then sends SIGTERM. At
the first GOAWAY (the drain's notice, last stream id 2^31-1, after which
streams may still be opened) this asks, on the same connection,
cam.SyscallService/HealthCheck and grpc.health.v1.Health/Check, and prints
one JSON object: the status each answered (or null).
"""
import json
import socket
import sys
import time

from h2raw import DataFrame, GoAwayFrame, HeadersFrame, Conn

# grpc.health.v1.HealthCheckResponse.status (field 1, enum)
HEALTH_V1 = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}


def frame(msg):
    return b"\x00" + len(msg).to_bytes(4, "big") + msg


def field1(body):
    """Field 1 of a protobuf message: (wire type, value)."""
    if not body or body[0] >> 3 != 1:
        return None, None
    wt = body[0] & 7
    if wt == 0:
        return 0, body[1]
    if wt == 2:
        n = body[1]
        return 2, body[2:2 + n].decode()
    return wt, None


def main():
    port, seconds = int(sys.argv[1]), float(sys.argv[2])
    c = Conn(port, timeout=seconds)
    c.handshake()
    c.send(c.grpc_request(1, end_stream=False))  # left open: the drain waits for it
    print(json.dumps({"ready": True}), flush=True)
    out = {"goaway": None, "cam": None, "v1": None}
    bodies = {}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and (out["cam"] is None or out["v1"] is None):
        try:
            f = c.recv_frame(max(0.05, deadline - time.monotonic()))
        except socket.timeout:
            break
        if f is None:
            break
        if isinstance(f, GoAwayFrame) and out["goaway"] is None:
            out["goaway"] = f.last_stream_id
            c.send(c.grpc_request(3, "/cam.SyscallService/HealthCheck", end_stream=False))
            c.send(DataFrame(3, frame(b"\x0a\x05drain"), flags=["END_STREAM"]))
            c.send(c.grpc_request(5, "/grpc.health.v1.Health/Check", end_stream=False))
            c.send(DataFrame(5, frame(b""), flags=["END_STREAM"]))
        elif isinstance(f, DataFrame) and f.stream_id in (3, 5):
            bodies[f.stream_id] = bodies.get(f.stream_id, b"") + f.data
        elif isinstance(f, HeadersFrame) and f.stream_id in (3, 5) and \
                "grpc-status" in dict(f.decoded):
            body = bodies.get(f.stream_id, b"")[5:]
            wt, v = field1(body)
            if f.stream_id == 3:
                out["cam"] = v if wt == 2 else "grpc-status " + dict(f.decoded)["grpc-status"]
            else:
                out["v1"] = HEALTH_V1.get(v, str(v)) if wt == 0 else \
                    ("UNKNOWN" if not body else "grpc-status " + dict(f.decoded)["grpc-status"])
    c.close()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
