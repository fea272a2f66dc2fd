#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Load for the monitoring test through an independent gRPC client.

Debian's python3-grpcio, no stubs: the few fields needed (DESIGN.md fixes
their numbers) are encoded by hand, so this shares no code with the kernel.

Usage: grpc_load.py HOST:PORT SCENARIO [ARGS]
  Tokens come from the environment: CAM_LOAD_TOKEN (read,write),
  CAM_LOAD_READER (read), CAM_LOAD_ADMIN (admin), CAM_LOAD_SLOW (read,
  a tiny rate limit).

  basic N      ping xN, observe, the seed's emit_metric and emit_trace, an
               unknown verb, a bad payload, HealthCheck
  security     no token, a bad token, a read-only token on a write verb, a
               caller_id that disagrees (auth failures by reason), and the
               rate-limited token past its burst (rate-limit hits)
  tpm          tpm_sign, tpm_verify, tpm_random, tpm_pcr_read,
               tpm_public_key, and a bad tpm_random
  memctx       context_write/read/versions/snapshot/delete
  memctx-down  context_write while Redis is down: UNAVAILABLE
  memctx-up    context_write until it succeeds again (Redis back)
  drivers      (re)load text_transform, kv_cache and crash, invoke them,
               and crash the crash driver once (a restart)
  crashloop    crash the crash driver 4 times, each after it came back
  scheduler    one worker held, tiny queues: caller_limit (one token's
               share of a class of 2 is 1 call) and deadline_exceeded
               rejections; then the settings restored
  tracing      emit_trace and calls with a W3C traceparent (spans)
  series N     emit_metric of N distinct label values on one family
               (past the per-family limit: series rejections)
  protocol     a connection that does not speak HTTP/2 (protocol error)
  mark N       sets the gauge monitoring_test_marker to N (emit_metric):
               once Prometheus has N, it has everything counted before
  hold         one ping, then keep the connection open until killed (an
               agent's idle connection, for the gRPC connections panel)

Prints one line per kind of call with the status codes seen; exits 1 if
the server could not be reached or a call got an unexpected status.
"""
import collections
import os
import socket
import sys
import threading
import time

import grpc

OK = "OK"
rc = 0


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(num, value):
    if isinstance(value, bool):
        return bytes([num << 3 | 0, 1 if value else 0])
    if isinstance(value, int):
        return varint(num << 3 | 0) + varint(value)
    data = value.encode() if isinstance(value, str) else value
    return varint(num << 3 | 2) + varint(len(data)) + data


def syscall(verb, payload="", caller="", priority=None):
    body = field(1, verb) + field(2, payload)
    if caller:
        body += field(3, caller)
    if priority is not None:
        body += field(5, priority)
    return body


class Client:
    def __init__(self, target):
        self.target = target
        self.ch = grpc.insecure_channel(target)
        grpc.channel_ready_future(self.ch).result(timeout=15)
        ident = lambda b: b  # noqa: E731
        self.execute = self.ch.unary_unary("/cam.SyscallService/Execute", ident, ident)
        self.health = self.ch.unary_unary("/cam.SyscallService/HealthCheck", ident, ident)

    @staticmethod
    def md(token, extra=()):
        m = list(extra)
        if token:
            m.append(("authorization", "Bearer " + token))
        return m

    def call(self, body, token, timeout=10, extra=(), stub=None):
        """Code name of one call."""
        try:
            (stub or self.execute)(body, timeout=timeout, metadata=self.md(token, extra))
            return OK
        except grpc.RpcError as e:
            return e.code().name

    def many(self, body, token, n, timeout=10, extra=(), stub=None):
        """n calls at once; a Counter of their codes."""
        futures = [(stub or self.execute).future(body, timeout=timeout,
                                                 metadata=self.md(token, extra))
                   for _ in range(n)]
        seen = collections.Counter()
        for f in futures:
            try:
                f.result()
                seen[OK] += 1
            except grpc.RpcError as e:
                seen[e.code().name] += 1
        return seen


def expect(name, seen, allowed, required=None):
    """Prints the codes; fails unless every code is allowed and each
    required one was seen."""
    global rc
    if isinstance(seen, str):
        seen = collections.Counter([seen])
    allowed = set(allowed)
    required = set(allowed if required is None else required)
    good = set(seen) <= allowed and required <= set(seen)
    print("%-34s %s%s" % (name, dict(seen), "" if good else "   <- expected %s" % sorted(required)))
    if not good:
        rc = 1


TOKEN = os.environ.get("CAM_LOAD_TOKEN", "")
READER = os.environ.get("CAM_LOAD_READER", "")
ADMIN = os.environ.get("CAM_LOAD_ADMIN", "")
SLOW = os.environ.get("CAM_LOAD_SLOW", "")


def basic(c, pings):
    expect("ping", c.many(syscall("ping", "hello:world"), TOKEN, pings), [OK])
    expect("observe", c.many(syscall("observe"), TOKEN, 5), [OK])
    expect("emit_metric (seed)", c.many(syscall(
        "emit_metric", "metric_name:custom_counter,value:1,labels:app=myapp,env=prod"), TOKEN, 3), [OK])
    expect("emit_trace (seed)", c.many(syscall(
        "emit_trace", "trace_id:abc123,span_id:def456,operation:syscall_execution"), TOKEN, 3), [OK])
    expect("unknown verb", c.many(syscall("no_such_verb"), TOKEN, 5), ["UNIMPLEMENTED"])
    expect("duplicate key", c.many(syscall("ping", "a:1,a:2"), TOKEN, 5), ["INVALID_ARGUMENT"])
    expect("HealthCheck detailed", c.many(field(1, "health-check") + field(2, True), TOKEN, 3,
                                          stub=c.health), [OK])


def security(c):
    ping = syscall("ping", "msg:x")
    expect("no token", c.many(ping, "", 20), ["UNAUTHENTICATED"])
    expect("bad token", c.many(ping, "not-a-token", 20), ["UNAUTHENTICATED"])
    expect("read-only token, emit_metric", c.many(
        syscall("emit_metric", "metric_name:mon_denied_total,value:1"), READER, 10), ["PERMISSION_DENIED"])
    expect("caller_id that disagrees", c.many(syscall("ping", "", caller="mallory"), TOKEN, 5),
           ["PERMISSION_DENIED"])
    expect("whoami", c.call(syscall("whoami"), TOKEN), [OK])
    # The slow token's burst is small: some pass, the rest are refused.
    seen = collections.Counter(c.call(ping, SLOW) for _ in range(8))
    expect("rate-limited token x8", seen, [OK, "RESOURCE_EXHAUSTED"], ["RESOURCE_EXHAUSTED"])


def tpm(c):
    expect("tpm_sign message", c.many(syscall("tpm_sign", "message:monitoring"), TOKEN, 4), [OK])
    expect("tpm_sign digest", c.call(syscall("tpm_sign", "digest:" + "ab" * 32), TOKEN), [OK])
    expect("tpm_random", c.many(syscall("tpm_random", "bytes:16"), TOKEN, 4), [OK])
    expect("tpm_pcr_read", c.call(syscall("tpm_pcr_read", "pcrs:0-7"), TOKEN), [OK])
    expect("tpm_public_key", c.call(syscall("tpm_public_key"), TOKEN), [OK])
    expect("tpm_verify (bad signature DER)", c.call(
        syscall("tpm_verify", "signature:3006020101020101ff,message:x"), TOKEN), ["INVALID_ARGUMENT"])
    expect("tpm_random bytes:0", c.call(syscall("tpm_random", "bytes:0"), TOKEN), ["INVALID_ARGUMENT"])


def memctx(c):
    seen = collections.Counter(
        c.call(syscall("context_write", "namespace:monitoring-test,key:k%d,value:v%d-%f"
                       % (i % 3, i, time.time())), TOKEN) for i in range(8))
    expect("context_write x8", seen, [OK])
    expect("context_read", c.many(syscall("context_read", "namespace:monitoring-test,key:k0"), TOKEN, 5), [OK])
    expect("context_versions", c.call(syscall("context_versions", "namespace:monitoring-test,key:k1"), TOKEN), [OK])
    expect("context_read of a missing key", c.call(
        syscall("context_read", "namespace:monitoring-test,key:nope"), TOKEN), ["NOT_FOUND"])
    expect("context_snapshot", c.call(syscall("context_snapshot", "namespace:monitoring-test"), TOKEN), [OK])
    expect("context_delete", c.call(syscall("context_delete", "namespace:monitoring-test,key:k2"), TOKEN), [OK])


def memctx_down(c):
    body = syscall("context_write", "namespace:monitoring-test,key:down,value:x")
    expect("context_write, Redis down", collections.Counter(c.call(body, TOKEN) for _ in range(6)),
           ["UNAVAILABLE"])


def memctx_up(c):
    body = syscall("context_write", "namespace:monitoring-test,key:back,value:x")
    deadline = time.monotonic() + 20
    seen = collections.Counter()
    while time.monotonic() < deadline:
        code = c.call(body, TOKEN)
        seen[code] += 1
        if code == OK:
            break
        time.sleep(0.2)
    expect("context_write until Redis is back", seen, [OK, "UNAVAILABLE"], [OK])
    # Each worker thread has its own connection and re-makes it (counted
    # as a reconnect) on its next context call: give every worker one.
    expect("context_read on every worker", c.many(
        syscall("context_read", "namespace:monitoring-test,key:back"), TOKEN, 20), [OK])


def until_ok(c, body, token, seconds):
    seen = collections.Counter()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        code = c.call(body, token)
        seen[code] += 1
        if code == OK:
            break
        time.sleep(0.1)
    return seen


def drivers(c):
    for d in ("text_transform", "kv_cache", "crash"):
        # Unload first (NOT_FOUND the first time), so that every round
        # observes a load in the same load-time series.
        expect("driver_unload " + d, c.call(syscall("driver_unload", "driver:" + d), ADMIN),
               [OK, "NOT_FOUND"], [])
        expect("driver_load " + d, c.call(syscall("driver_load", "driver:" + d), ADMIN), [OK])
    expect("driver_load by a writer", c.call(syscall("driver_load", "driver:kv_cache"), TOKEN),
           ["PERMISSION_DENIED"])
    expect("text_transform upper", c.many(syscall(
        "driver_invoke", "driver:text_transform,operation:upper,payload:hello, world"), TOKEN, 20), [OK])
    expect("text_transform explode", c.call(syscall(
        "driver_invoke", "driver:text_transform,operation:explode"), TOKEN), ["INVALID_ARGUMENT"])
    expect("kv_cache set", c.call(syscall("driver_invoke", "driver:kv_cache,operation:set,payload:a=1"),
                                  TOKEN), [OK])
    expect("kv_cache get", c.many(syscall("driver_invoke", "driver:kv_cache,operation:get,payload:a"),
                                  TOKEN, 10), [OK])
    expect("kv_cache get missing", c.call(syscall(
        "driver_invoke", "driver:kv_cache,operation:get,payload:nope"), TOKEN), ["NOT_FOUND"])
    echo = syscall("driver_invoke", "driver:crash,operation:echo,payload:x")
    expect("crash echo", until_ok(c, echo, TOKEN, 15), [OK, "UNAVAILABLE"], [OK])
    expect("crash crash", c.call(syscall("driver_invoke", "driver:crash,operation:crash"), TOKEN),
           ["UNAVAILABLE"])
    expect("crash echo after the restart", until_ok(c, echo, TOKEN, 15), [OK, "UNAVAILABLE"], [OK])


def crashloop(c):
    echo = syscall("driver_invoke", "driver:crash,operation:echo,payload:x")
    for i in range(4):
        expect("crash echo before crash %d" % (i + 1), until_ok(c, echo, TOKEN, 15),
               [OK, "UNAVAILABLE"], [OK])
        expect("crash crash %d" % (i + 1), c.call(syscall(
            "driver_invoke", "driver:crash,operation:crash"), TOKEN), ["UNAVAILABLE"])
    expect("crash echo after the last restart", until_ok(c, echo, TOKEN, 15),
           [OK, "UNAVAILABLE"], [OK])


def scheduler(c):
    tune = lambda p: c.call(syscall("tune_system", p), ADMIN)  # noqa: E731
    expect("tune_system workers:1,queue_limit:2", tune("workers:1,queue_limit:2"), [OK])
    results = {}

    def run(key, body, timeout):
        results[key] = c.call(body, TOKEN, timeout=timeout)

    hold = threading.Thread(target=run, args=("hold", syscall("ping", "delay_ms:1000", priority=5), 10))
    hold.start()
    time.sleep(0.2)                         # the one worker is busy
    # The queued calls ask for a worker (delay_ms): a plain ping never
    # blocks, runs at once on its I/O thread and would never queue.
    burst = [threading.Thread(target=run, args=("low%d" % i, syscall("ping", "delay_ms:1,n:%d" % i,
                                                                      priority=1), 10))
             for i in range(8)]
    for t in burst:
        t.start()
    time.sleep(0.2)                         # the token's share of low is full
    expire = c.call(syscall("ping", "delay_ms:1,n:expire", priority=5), TOKEN, timeout=0.2)
    for t in burst + [hold]:
        t.join()
    expect("held worker", results["hold"], [OK])
    expect("low burst, queue of 2", collections.Counter(results["low%d" % i] for i in range(8)),
           [OK, "RESOURCE_EXHAUSTED"], ["RESOURCE_EXHAUSTED"])
    expect("deadline passing in the queue", expire, ["DEADLINE_EXCEEDED"])
    expect("tune_system back to roomy queues", tune("workers:2,queue_limit:1024"), [OK])


def tracing(c):
    expect("emit_trace", c.many(syscall(
        "emit_trace", "trace_id:4bf92f3577b34da6a3ce929d0e0e4736,span_id:00f067aa0ba902b7,"
        "operation:monitoring.test,duration_ms:2.5"), TOKEN, 10), [OK])
    tp = ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    expect("traced ping", c.many(syscall("ping", "msg:traced"), TOKEN, 10, extra=[tp]), [OK])


def series(c, n):
    seen = collections.Counter()
    stamp = int(time.time() * 1000)
    for i in range(0, n, 50):
        futures = [c.execute.future(syscall("emit_metric", "metric_name:mon_cardinality_total,value:1,"
                                            "labels:id=%d-%d" % (stamp, j)),
                                    timeout=10, metadata=c.md(TOKEN)) for j in range(i, min(n, i + 50))]
        for f in futures:
            try:
                f.result()
                seen[OK] += 1
            except grpc.RpcError as e:
                seen[e.code().name] += 1
    expect("emit_metric, %d label values" % n, seen, [OK, "RESOURCE_EXHAUSTED"], ["RESOURCE_EXHAUSTED"])


def protocol(target):
    host, port = target.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=5)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + b"\0" * 64)
    try:
        while s.recv(4096):
            pass
        closed = "closed"
    except OSError as e:
        closed = "error %s" % e
    s.close()
    print("%-34s %s" % ("HTTP/1.1 on the gRPC port", closed))


def main():
    target, scenario, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if scenario == "protocol":
        protocol(target)
        return rc
    try:
        c = Client(target)
    except grpc.FutureTimeoutError:
        print("cannot connect to %s" % target)
        return 1
    if scenario == "hold":
        expect("ping, then hold the connection", c.call(syscall("ping", "msg:hold"), TOKEN), [OK])
        sys.stdout.flush()
        while True:
            time.sleep(60)
    if scenario == "mark":
        expect("marker " + args[0], c.call(syscall(
            "emit_metric", "metric_name:monitoring_test_marker,type:gauge,value:" + args[0]), TOKEN), [OK])
    elif scenario == "basic":
        basic(c, int(args[0]) if args else 200)
    elif scenario == "series":
        series(c, int(args[0]))
    else:
        {"security": security, "tpm": tpm, "memctx": memctx, "memctx-down": memctx_down,
         "memctx-up": memctx_up, "drivers": drivers, "crashloop": crashloop,
         "scheduler": scheduler,
         "tracing": tracing}[scenario](c)
    c.ch.close()
    return rc


if __name__ == "__main__":
    sys.exit(main())
