#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A write load over many namespaces and its check, for the Redis Cluster
tests (tests/integration/test_memctx_cluster.sh, test_memctx_hang.sh).
Debian's python3-grpcio; messages from the server's reflection
(memctx_client.classes).

usage: cluster_client.py load ADDR SECONDS LOG WRITERS NAMESPACES
           WRITERS threads writing over and over, each to its own key in
           every WRITERS-th of NAMESPACES namespaces ("ns-0" ...), in turn
           (so each namespace has one key, written by one thread); every
           answer goes to LOG (JSON lines); prints one JSON object of
           figures, "went_back" counting acknowledged versions of a key not
           above its previous one
       cluster_client.py verify ADDR LOG KEEP
           every acknowledged write in LOG among the KEEP latest versions of
           its key reads back intact at its version, and no key's latest is
           below its last acknowledged version; prints one JSON object
       cluster_client.py deadlines ADDR SECONDS THREADS DEADLINE_S
           writes with a deadline until SECONDS pass; prints one JSON
           object: codes (with the first message of each), the slowest
           answer, and how many came later than the deadline + 0.25 s
       cluster_client.py namespaces N   the N namespace names, one a line
"""
import json
import os
import random
import sys
import threading
import time

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from memctx_client import classes, parse  # noqa: E402


class Kernel:
    def __init__(self, addr):
        self.req, self.resp = classes(addr)
        self.ch = grpc.insecure_channel(addr)
        self.call = self.ch.unary_unary(
            "/cam.SyscallService/Execute",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=self.resp.FromString)

    def execute(self, verb, payload, timeout=5.0):
        try:
            r = self.call(self.req(verb=verb, payload=payload), timeout=timeout)
            return "OK", parse(r.result), r.data, ""
        except grpc.RpcError as e:
            return e.code().name, {}, b"", e.details() or ""


def names(n):
    return ["ns-%d" % i for i in range(n)]


def load(addr, seconds, path, writers, nspaces):
    out = open(path, "w")
    lock = threading.Lock()
    stats = {"calls": 0, "ok": 0, "codes": {}, "went_back": 0}
    stop_at = time.monotonic() + seconds
    spaces = names(nspaces)

    def writer(i):
        k = Kernel(addr)
        mine = spaces[i::writers]
        key, seq, last = "w%d-%x" % (i, random.randrange(1 << 30)), 0, {}
        while time.monotonic() < stop_at:
            seq += 1
            ns = mine[seq % len(mine)]
            value = "%d-%d-%x" % (i, seq, random.randrange(1 << 48))
            code, r, _, d = k.execute("context_write", "namespace:%s,key:%s,value:%s" % (ns, key, value),
                                      timeout=3)
            rec = {"ns": ns, "key": key, "code": code}
            with lock:
                stats["calls"] += 1
                stats["codes"][code] = stats["codes"].get(code, 0) + 1
                if code == "OK":
                    v = int(r["version"])
                    rec.update(version=v, value=value)
                    stats["ok"] += 1
                    if v <= last.get(ns, 0):
                        stats["went_back"] += 1
                    last[ns] = max(last.get(ns, 0), v)
                else:
                    rec["error"] = d[:200]
                out.write(json.dumps(rec) + "\n")
            if code != "OK":
                time.sleep(0.02)

    ts = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    out.close()
    print(json.dumps(stats), flush=True)
    return 0


def verify(addr, path, keep):
    acked = [json.loads(line) for line in open(path) if '"code": "OK"' in line]
    k = Kernel(addr)
    lost = wrong = back = unavailable = pruned = 0
    latest = {}
    for rec in acked:
        kk = (rec["ns"], rec["key"])
        latest[kk] = max(latest.get(kk, 0), rec["version"])
    for rec in acked:
        # One key per namespace: its versions are the namespace's, and the
        # KEEP latest are kept.
        if rec["version"] <= latest[(rec["ns"], rec["key"])] - keep:
            pruned += 1
            continue
        for _ in range(50):
            code, r, data, d = k.execute("context_read", "namespace:%s,key:%s,version:%d" %
                                         (rec["ns"], rec["key"], rec["version"]))
            if code != "UNAVAILABLE":
                break
            time.sleep(0.1)
        if code == "NOT_FOUND":
            lost += 1
        elif code == "UNAVAILABLE":
            unavailable += 1
        elif code != "OK" or data != rec["value"].encode():
            wrong += 1
    for (ns, key), v in latest.items():
        code, r, _, _ = k.execute("context_read", "namespace:%s,key:%s" % (ns, key))
        if code != "OK" or int(r.get("version", 0)) < v:
            back += 1
    print(json.dumps({"acked": len(acked), "lost": lost, "wrong": wrong, "unavailable": unavailable,
                      "latest_went_back": back, "keys": len(latest), "pruned": pruned}),
          flush=True)
    return 0


def deadlines(addr, seconds, threads, deadline):
    lock = threading.Lock()
    stats = {"calls": 0, "codes": {}, "slowest_s": 0.0, "over_deadline": 0, "why": {}}
    stop_at = time.monotonic() + seconds

    def run(i):
        k = Kernel(addr)
        n = 0
        while time.monotonic() < stop_at:
            n += 1
            t0 = time.monotonic()
            code, _, _, d = k.execute("context_write", "namespace:hang-%d,key:k,value:v%d" % (i, n),
                                      timeout=deadline)
            took = time.monotonic() - t0
            with lock:
                stats["calls"] += 1
                stats["codes"][code] = stats["codes"].get(code, 0) + 1
                stats["why"].setdefault(code, d[:160])
                stats["slowest_s"] = round(max(stats["slowest_s"], took), 3)
                if took > deadline + 0.25:
                    stats["over_deadline"] += 1

    ts = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(json.dumps(stats), flush=True)
    return 0


def main():
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    if a[0] == "load":
        return load(a[1], float(a[2]), a[3], int(a[4]), int(a[5]))
    if a[0] == "verify":
        return verify(a[1], a[2], int(a[3]))
    if a[0] == "deadlines":
        return deadlines(a[1], float(a[2]), int(a[3]), float(a[4]))
    if a[0] == "namespaces":
        print("\n".join(names(int(a[1]))))
        return 0
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
