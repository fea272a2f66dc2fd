#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A load of syscalls that each leave one access-log line, for the log
shipping test: N calls to every ADDR, paced over SECONDS, with caller ids
PREFIX-0 ... PREFIX-(N-1). Every 5th call is a verb the kernel does not
know (an UNIMPLEMENTED WARN line), every 7th carries a W3C traceparent (a
trace_id in its line). Hand-encoded SyscallRequest bytes over Debian's
grpcio: nothing is generated from the kernel's .proto.

usage: log_load.py PREFIX N SECONDS ADDR...    prints the calls made
"""
import sys
import time

import grpc

METHOD = "/cam.SyscallService/Execute"


def _varint(n):
    out = b""
    while n >= 0x80:
        out += bytes([n & 0x7F | 0x80])
        n >>= 7
    return out + bytes([n])


def _string(num, s):
    data = s.encode()
    return bytes([num << 3 | 2]) + _varint(len(data)) + data


def main():
    prefix, n, seconds, addrs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4:]
    calls = []
    for a in addrs:
        ch = grpc.insecure_channel(a)
        calls.append(ch.unary_unary(METHOD, request_serializer=None, response_deserializer=None))
    start, made = time.monotonic(), 0
    for i in range(n):
        verb = "no_such_verb" if i % 5 == 4 else "ping"
        req = _string(1, verb) + _string(2, "msg:load %d" % i) + _string(3, "%s-%d" % (prefix, i))
        md = []
        if i % 7 == 0:
            md.append(("traceparent", "00-%032x-%016x-01" % (0x4BF92F3577B34DA6A3CE929D0E0E4736 + i, 0xA3CE929D0E0E4736)))
        for call in calls:
            try:
                call(req, metadata=md, timeout=5)
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.UNIMPLEMENTED:
                    raise
            made += 1
        # Paced: call i goes out at i/n of the way through SECONDS.
        lag = start + seconds * (i + 1) / n - time.monotonic()
        if lag > 0:
            time.sleep(lag)
    print(made)


if __name__ == "__main__":
    main()
