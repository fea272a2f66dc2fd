#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Concurrent Execute calls for the driver tests, with Debian's grpcio.

usage: drivers_load.py ADDR STREAMS CALLS_PER_STREAM VERB PAYLOAD [PAUSE_MS]
Runs STREAMS threads over one channel (so many HTTP/2 streams at once on
one connection), each making CALLS_PER_STREAM calls. Messages are encoded
by hand (SyscallRequest: verb = 1, payload = 2; SyscallResponse: success
= 1, result = 2, status_code = 6), so this client shares no code with the
kernel. Prints one line: ok=N failed=N codes=CODE:N,... p50_ms p99_ms max_ms rate.
A PAYLOAD containing {i} gets the call's global index. PAUSE_MS spaces
each stream's calls, to spread a few calls over a window of time.
"""
import sys
import threading
import time

import grpc


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(num, s):
    b = s.encode()
    return varint(num << 3 | 2) + varint(len(b)) + b


def parse(buf):
    """(success, result, status_code) of a SyscallResponse."""
    i, out = 0, {}
    while i < len(buf):
        key = buf[i]; i += 1
        num, wt = key >> 3, key & 7
        if wt == 0:
            v = 0; shift = 0
            while True:
                b = buf[i]; i += 1
                v |= (b & 0x7F) << shift; shift += 7
                if not b & 0x80:
                    break
            out[num] = v
        elif wt == 2:
            n = 0; shift = 0
            while True:
                b = buf[i]; i += 1
                n |= (b & 0x7F) << shift; shift += 7
                if not b & 0x80:
                    break
            out[num] = buf[i:i + n].decode(); i += n
        else:
            raise ValueError("unexpected wire type")
    return bool(out.get(1, 0)), out.get(2, ""), out.get(6, "")


def main():
    addr, streams, per, verb, payload = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
    pause = float(sys.argv[6]) / 1e3 if len(sys.argv) > 6 else 0.0
    ch = grpc.insecure_channel(addr)
    call = ch.unary_unary("/cam.SyscallService/Execute",
                          request_serializer=lambda b: b, response_deserializer=lambda b: b)
    lat, codes, lock = [], {}, threading.Lock()

    def worker(k):
        for j in range(per):
            req = field(1, verb) + field(2, payload.replace("{i}", str(k * per + j)))
            t0 = time.monotonic()
            try:
                ok, _, code = parse(call(req, timeout=20))
                code = code or ("OK" if ok else "UNKNOWN")
            except grpc.RpcError as e:
                code = e.code().name
            dt = time.monotonic() - t0
            with lock:
                lat.append(dt)
                codes[code] = codes.get(code, 0) + 1
            if pause:
                time.sleep(pause)

    t0 = time.monotonic()
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(streams)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.monotonic() - t0
    lat.sort()
    ok = codes.get("OK", 0)
    print("ok=%d failed=%d codes=%s p50_ms=%.3f p99_ms=%.3f max_ms=%.3f rate=%.0f" % (
        ok, len(lat) - ok, ",".join("%s:%d" % kv for kv in sorted(codes.items())),
        lat[len(lat) // 2] * 1e3, lat[int(len(lat) * 0.99)] * 1e3, lat[-1] * 1e3,
        len(lat) / wall))
    return 0


if __name__ == "__main__":
    sys.exit(main())
