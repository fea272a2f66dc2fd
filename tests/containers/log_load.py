#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A load of syscalls that each leave one access-log line, for the log
shipping test: N calls to every ADDR, paced over SECONDS, with caller ids
PREFIX-0 ... PREFIX-(N-1). Every 5th call is a verb the kernel does not
know (an UNIMPLEMENTED WARN line), every 7th carries a W3C traceparent (a
trace_id in its line). Hand-encoded SyscallRequest bytes over Debian's
grpcio: nothing is generated from the kernel's .proto.

usage: log_load.py PREFIX N SECONDS ADDR...    prints the calls made
       log_load.py --audit TOKEN ADMIN_TOKEN ROUNDS ADDR...
  The second form leaves every kind of audit record in kernels run with
  CAM_AUDIT_EVENTS=all and a tokens file where TOKEN is agent-a's (read,
  write) and ADMIN_TOKEN root's (admin): per round a ping, a traced ping, a
  context_write (a "call" and a "write" record), a context_read of root's
  namespace (PERMISSION_DENIED), a ping with a bad token (UNAUTHENTICATED),
  an agent's tune_system (PERMISSION_DENIED), and root's agent_register and
  agent_revoke ("admin"). Each call goes to every ADDR in turn, so kernels
  given the same calls write their records in the same order.
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


def audit(token, admin, rounds, addrs):
    calls = []
    for a in addrs:
        ch = grpc.insecure_channel(a)
        calls.append(ch.unary_unary(METHOD, request_serializer=None, response_deserializer=None))
    made = 0
    for r in range(rounds):
        tp = "00-%032x-%016x-01" % (0x0AF7651916CD43DD8448EB211C80319C + r, 0xB7AD6B7169203331)
        steps = [
            (token, "ping", "msg:hello", []),
            (token, "ping", "msg:traced", [("traceparent", tp)]),
            (token, "context_write", "namespace:agent-a,key:k%d,value:secret-%d" % (r, r), []),
            (token, "context_read", "namespace:root,key:k%d" % r, []),
            ("not-a-token", "ping", "", []),
            (token, "tune_system", "workers:2", []),
            (admin, "agent_register", "agent:agent-z%d,scopes:read" % r, []),
            (admin, "agent_revoke", "agent:agent-z%d" % r, []),
        ]
        for tok, verb, payload, md in steps:
            req = _string(1, verb) + _string(2, payload)
            for call in calls:
                try:
                    call(req, metadata=md + [("authorization", "Bearer " + tok)], timeout=5)
                except grpc.RpcError:
                    pass  # the refusals are what the audit records
                made += 1
    print(made)


def main():
    if sys.argv[1] == "--audit":
        return audit(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5:])
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
