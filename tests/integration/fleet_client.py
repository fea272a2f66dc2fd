#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The fleet test's client (tests/integration/test_fleet.sh): Debian's
python3-grpcio against several kernels sharing one Redis.

usage: fleet_client.py shared A,B,C          one store through three kernels:
                                             "ok"/"FAIL" lines
       fleet_client.py load A,B,C SECONDS LOG [WRITERS]
                                             writes spread over the kernels
                                             (round_robin, retry on UNAVAILABLE);
                                             every answer goes to LOG
       fleet_client.py verify A,B,C LOG      every acknowledged write in LOG
                                             reads back intact through every
                                             kernel; prints one JSON object
       fleet_client.py after LOG T           seconds from Unix time T to the
                                             end of the first acknowledged
                                             write sent after T

Messages come from the server's reflection (memctx_client.classes). Each
writer owns a key and writes it over and over, so "a version went back"
means: an acknowledged version not above the writer's previous one.
"""
import json
import os
import random
import sys
import threading
import time

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from memctx_client import classes  # noqa: E402

passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
        print(f"  ok   {what}", flush=True)
    else:
        failed += 1
        print(f"  FAIL {what}", flush=True)


def parse(result):
    out, last = {}, None
    for tok in result.split(","):
        k, sep, v = tok.partition(":")
        if sep and k:
            out[k] = v
            last = k
        elif last:
            out[last] += "," + tok
    return out


class Kernel:
    """One channel: to one address, or round_robin over several."""

    def __init__(self, addrs, retry=False):
        self.req, self.resp = classes(addrs[0])
        config = {"loadBalancingConfig": [{"round_robin": {}}]}
        if retry:
            config["methodConfig"] = [{
                "name": [{"service": "cam.SyscallService"}],
                "retryPolicy": {"maxAttempts": 4, "initialBackoff": "0.1s",
                                "maxBackoff": "1s", "backoffMultiplier": 2,
                                "retryableStatusCodes": ["UNAVAILABLE"]},
            }]
        opts = [("grpc.service_config", json.dumps(config)), ("grpc.enable_retries", 1)]
        self.ch = grpc.insecure_channel("ipv4:" + ",".join(addrs), options=opts)
        self.call = self.ch.unary_unary(
            "/cam.SyscallService/Execute",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=self.resp.FromString)

    def execute(self, verb, payload, timeout=5):
        """(code name, result dict, response data)"""
        try:
            r = self.call(self.req(verb=verb, payload=payload), timeout=timeout,
                          wait_for_ready=True)
            return "OK", parse(r.result), r.data
        except grpc.RpcError as e:
            return e.code().name, {"error": e.details() or ""}, b""


def shared(addrs):
    ks = [Kernel([a]) for a in addrs]
    ns = "shared-%d" % random.randrange(1 << 30)
    race_ns = ns + "-race"
    code, r, _ = ks[0].execute("context_write", f"namespace:{ns},key:k,value:one")
    check(code == "OK" and r.get("version") == "1", f"write through kernel 1: version 1 ({code} {r})")
    code, r, _ = ks[1].execute("context_read", f"namespace:{ns},key:k")
    check(code == "OK" and r.get("value") == "one", f"read through kernel 2 ({code} {r})")
    code, r, _ = ks[2].execute("context_write", f"namespace:{ns},key:k,value:two,expected_version:1")
    check(code == "OK" and r.get("version") == "2", f"compare-and-set through kernel 3 ({code} {r})")
    code, r, _ = ks[0].execute("context_write", f"namespace:{ns},key:k,value:stale,expected_version:1")
    check(code == "ABORTED" and "latest is 2" in r.get("error", ""),
          f"kernel 1's stale compare-and-set is ABORTED naming the latest ({code} {r})")
    code, r, _ = ks[1].execute("context_versions", f"namespace:{ns},key:k")
    check(code == "OK" and r.get("count") == "2" and r.get("latest") == "2",
          f"versions through kernel 2 ({code} {r})")
    code, r, _ = ks[1].execute("context_snapshot", f"namespace:{ns}")
    sid = r.get("snapshot_id", "")
    check(code == "OK" and len(sid) == 24, f"snapshot through kernel 2 ({code} {r})")
    ks[0].execute("context_write", f"namespace:{ns},key:k,value:three")
    code, r, _ = ks[2].execute("context_restore", f"snapshot_id:{sid}")
    check(code == "OK" and r.get("keys") == "1", f"restore through kernel 3 ({code} {r})")
    code, r, _ = ks[0].execute("context_read", f"namespace:{ns},key:k")
    check(code == "OK" and r.get("value") == "two",
          f"kernel 1 reads what the snapshot held ({code} {r})")

    # Compare-and-set race: 3 callers per kernel, each reading the latest
    # and writing latest+1 until 60 versions exist. Every version is won
    # exactly once; every loss is ABORTED.
    key, target = "race", 60
    wins, codes, lock = [], {}, threading.Lock()

    def racer(k):
        for _ in range(400):
            code, r, _ = k.execute("context_read", f"namespace:{race_ns},key:{key}")
            cur = int(r.get("version", "0")) if code == "OK" else 0
            if cur >= target:
                return
            code, r, _ = k.execute("context_write",
                                   f"namespace:{race_ns},key:{key},value:v{cur + 1},expected_version:{cur}")
            with lock:
                codes[code] = codes.get(code, 0) + 1
                if code == "OK":
                    wins.append(int(r["version"]))
    threads = [threading.Thread(target=racer, args=(k,)) for k in ks for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(sorted(wins) == list(range(1, target + 1)),
          f"compare-and-set race over 3 kernels: versions 1-{target} each won once ({len(wins)} wins)")
    check(set(codes) <= {"OK", "ABORTED"} and codes.get("ABORTED", 0) > 0,
          f"every lost compare-and-set is ABORTED ({codes})")
    print(f"fleet_client shared: {passed} passed, {failed} failed")
    return 1 if failed else 0


def load(addrs, seconds, path, writers):
    k = Kernel(addrs, retry=True)
    ns = "fleet"
    out = open(path, "a")
    lock = threading.Lock()
    stats = {"calls": 0, "ok": 0, "failed": 0, "codes": {}, "went_back": 0}
    stop_at = time.monotonic() + seconds

    def writer(i):
        key, seq, last = f"w{i}-{random.randrange(1 << 30)}", 0, 0
        while time.monotonic() < stop_at:
            seq += 1
            value = f"{i}-{seq}-{random.randrange(1 << 48):x}"
            t0 = time.time()
            code, r, _ = k.execute("context_write", f"namespace:{ns},key:{key},value:{value}")
            t1 = time.time()
            rec = {"t0": t0, "t1": t1, "code": code, "key": key}
            with lock:
                stats["calls"] += 1
                if code == "OK":
                    v = int(r["version"])
                    rec.update(version=v, value=value)
                    stats["ok"] += 1
                    if v <= last:
                        stats["went_back"] += 1
                    last = max(last, v)
                else:
                    rec["error"] = r.get("error", "")[:200]
                    stats["failed"] += 1
                    stats["codes"][code] = stats["codes"].get(code, 0) + 1
                out.write(json.dumps(rec) + "\n")
            time.sleep(0.02)
    threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.close()
    print(json.dumps(stats), flush=True)
    return 0


def verify(addrs, path):
    acked = [json.loads(line) for line in open(path) if '"code": "OK"' in line]
    ks = [Kernel([a]) for a in addrs]
    lost, back, bad, latest = 0, 0, 0, {}
    for rec in acked:
        latest[rec["key"]] = max(latest.get(rec["key"], 0), rec["version"])
    for i, rec in enumerate(acked):
        k = ks[i % len(ks)]
        code, r, data = k.execute("context_read", f"namespace:fleet,key:{rec['key']},version:{rec['version']}")
        if code == "NOT_FOUND":
            lost += 1
        elif code != "OK" or data != rec["value"].encode():
            bad += 1
    for key, v in latest.items():
        for k in ks:
            code, r, _ = k.execute("context_read", f"namespace:fleet,key:{key}")
            if code != "OK" or int(r.get("version", 0)) < v:
                back += 1
    print(json.dumps({"acked": len(acked), "lost": lost, "wrong": bad,
                      "latest_went_back": back, "keys": len(latest), "kernels": len(ks)}), flush=True)
    return 0


def after(path, t):
    best = None
    for line in open(path):
        rec = json.loads(line)
        if rec["code"] == "OK" and rec["t0"] >= t:
            best = rec["t1"] if best is None else min(best, rec["t1"])
    print("none" if best is None else f"{best - t:.2f}")
    return 0


def main():
    what = sys.argv[1]
    if what == "after":
        return after(sys.argv[2], float(sys.argv[3]))
    addrs = sys.argv[2].split(",")
    if what == "shared":
        return shared(addrs)
    if what == "load":
        return load(addrs, float(sys.argv[3]), sys.argv[4],
                    int(sys.argv[5]) if len(sys.argv) > 5 else 6)
    if what == "verify":
        return verify(addrs, sys.argv[3])
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
