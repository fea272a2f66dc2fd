#!/usr/bin/python3
"""A short, mixed syscall load through an independent gRPC client.

Debian's python3-grpcio, no stubs: the few fields needed (DESIGN.md fixes
their numbers) are encoded by hand, so this works without generated code.
Usage: grpc_load.py HOST:PORT [PINGS]
Prints one line per kind of call with the status codes seen; exits 1 if
the server could not be reached or a call got an unexpected status.
"""
import collections
import sys

import grpc


def field(num, value):
    if isinstance(value, bool):
        return bytes([num << 3 | 0, 1 if value else 0])
    data = value.encode()
    n, out = len(data), bytearray([num << 3 | 2])
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            break
    return bytes(out) + data


def syscall(verb, payload="", caller="monitoring-test"):
    return field(1, verb) + field(2, payload) + field(3, caller)


def main():
    target = sys.argv[1]
    pings = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    ident = lambda b: b  # noqa: E731
    ch = grpc.insecure_channel(target)
    try:
        grpc.channel_ready_future(ch).result(timeout=10)
    except grpc.FutureTimeoutError:
        print("cannot connect to %s" % target)
        return 1
    execute = ch.unary_unary("/cam.SyscallService/Execute", ident, ident)
    health = ch.unary_unary("/cam.SyscallService/HealthCheck", ident, ident)
    calls = [
        ("ping", execute, syscall("ping", "hello:world"), grpc.StatusCode.OK, pings),
        ("observe", execute, syscall("observe"), grpc.StatusCode.OK, 5),
        ("emit_metric (seed)", execute,
         syscall("emit_metric", "metric_name:custom_counter,value:1,labels:app=myapp,env=prod"),
         grpc.StatusCode.OK, 3),
        ("emit_trace (seed)", execute,
         syscall("emit_trace", "trace_id:abc123,span_id:def456,operation:syscall_execution"),
         grpc.StatusCode.OK, 3),
        ("unknown verb", execute, syscall("no_such_verb"), grpc.StatusCode.UNIMPLEMENTED, 5),
        ("duplicate key", execute, syscall("ping", "a:1,a:2"), grpc.StatusCode.INVALID_ARGUMENT, 5),
        ("HealthCheck detailed", health, field(1, "health-check") + field(2, True),
         grpc.StatusCode.OK, 3),
    ]
    rc = 0
    for name, stub, body, want, n in calls:
        seen = collections.Counter()
        futures = [stub.future(body, timeout=10) for _ in range(n)]
        for f in futures:
            try:
                f.result()
                seen["OK"] += 1
            except grpc.RpcError as e:
                seen[e.code().name] += 1
        print("%-22s %s" % (name, dict(seen)))
        if set(seen) != {want.name}:
            rc = 1
    ch.close()
    return rc


if __name__ == "__main__":
    sys.exit(main())
