#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A steady stream of Execute(ping) calls from Debian's python3-grpcio, for
the connection-lifetime and fleet tests: K concurrent callers for D seconds
over one channel, every failure counted by status code.

usage: steady_client.py TARGET SECONDS [--callers K] [--round-robin] [--retry]
                        [--rate R] [--verb V --payload P]
TARGET is a gRPC target ("127.0.0.1:50051", or "ipv4:127.0.0.1:1,127.0.0.1:2"
with --round-robin). --retry adds a retry policy on UNAVAILABLE (4 attempts).
Prints one JSON object: calls, ok, failed, codes, and the first few
failures' messages (errors).
"""
import argparse
import json
import sys
import threading
import time

import grpc

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from make_ping_body import request_bytes  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("target")
p.add_argument("seconds", type=float)
p.add_argument("--callers", type=int, default=4)
p.add_argument("--round-robin", action="store_true")
p.add_argument("--retry", action="store_true")
p.add_argument("--rate", type=float, default=0, help="calls/s per caller (0: as fast as possible)")
p.add_argument("--verb", default="ping")
p.add_argument("--payload", default="msg:steady")
a = p.parse_args()

config = {}
if a.round_robin:
    config["loadBalancingConfig"] = [{"round_robin": {}}]
if a.retry:
    config["methodConfig"] = [{
        "name": [{"service": "cam.SyscallService"}],
        "retryPolicy": {"maxAttempts": 4, "initialBackoff": "0.05s", "maxBackoff": "0.5s",
                        "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]},
    }]
opts = [("grpc.service_config", json.dumps(config))] if config else []
if a.retry:
    opts.append(("grpc.enable_retries", 1))
ch = grpc.insecure_channel(a.target, options=opts)
execute = ch.unary_unary("/cam.SyscallService/Execute",
                         request_serializer=lambda b: b, response_deserializer=lambda b: b)
body = request_bytes(a.verb, a.payload)
lock = threading.Lock()
stats = {"calls": 0, "ok": 0, "failed": 0, "codes": {}, "errors": []}
stop_at = time.monotonic() + a.seconds


def caller():
    while time.monotonic() < stop_at:
        t0 = time.monotonic()
        try:
            execute(body, timeout=5, wait_for_ready=True)
            code = None
        except grpc.RpcError as e:
            code = e.code().name
            detail = "%.3f %s: %s" % (time.time(), code, (e.details() or "")[:160])
        with lock:
            stats["calls"] += 1
            if code is None:
                stats["ok"] += 1
            else:
                stats["failed"] += 1
                stats["codes"][code] = stats["codes"].get(code, 0) + 1
                if len(stats["errors"]) < 5:
                    stats["errors"].append(detail)
        if a.rate:
            time.sleep(max(0.0, 1.0 / a.rate - (time.monotonic() - t0)))


threads = [threading.Thread(target=caller) for _ in range(a.callers)]
for t in threads:
    t.start()
for t in threads:
    t.join()
ch.close()
print(json.dumps(stats), flush=True)
