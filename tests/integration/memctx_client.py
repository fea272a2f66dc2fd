#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""An independent client of the memory context verbs, for the tests.

Built on Debian's python3-grpcio; like grpcurl.py it learns the messages
from the server's reflection service (no generated CAM-OS code).

usage: memctx_client.py check ADDR BACKEND     functional checks, "ok"/"FAIL" lines
       memctx_client.py race ADDR STREAMS N    compare-and-set race, "ok"/"FAIL" lines
       memctx_client.py load ADDR SECONDS OUT THREADS
                                               writes until SECONDS pass; each
                                               acknowledged write goes to OUT
       memctx_client.py verify ADDR IN         every write in IN reads back intact
       memctx_client.py call ADDR VERB PAYLOAD prints CODE and result
"""
import hashlib
import os
import sys
import threading
import time

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpcurl  # noqa: E402  (load_reflection)

_classes = None


def classes(addr):
    """SyscallRequest and SyscallResponse classes from reflection (once)."""
    global _classes
    if _classes:
        return _classes
    pb2, pb2_grpc = grpcurl.load_reflection()
    ch = grpc.insecure_channel(addr)
    stub = pb2_grpc.ServerReflectionStub(ch)
    req = pb2.ServerReflectionRequest(file_containing_symbol="cam.SyscallService")
    r = list(stub.ServerReflectionInfo(iter([req]), timeout=10))[0]
    pool = descriptor_pool.DescriptorPool()
    protos = [descriptor_pb2.FileDescriptorProto.FromString(b)
              for b in r.file_descriptor_response.file_descriptor_proto]
    added = set()
    while len(added) < len(protos):
        for fd in protos:
            if fd.name not in added and all(d in added for d in fd.dependency):
                pool.Add(fd)
                added.add(fd.name)
    factory = message_factory.MessageFactory(pool)
    _classes = (factory.GetPrototype(pool.FindMessageTypeByName("cam.SyscallRequest")),
                factory.GetPrototype(pool.FindMessageTypeByName("cam.SyscallResponse")))
    ch.close()
    return _classes


class Cam:
    def __init__(self, addr):
        self.req, self.resp = classes(addr)
        self.ch = grpc.insecure_channel(addr)
        self.call_ = self.ch.unary_unary(
            "/cam.SyscallService/Execute",
            request_serializer=lambda x: x.SerializeToString(),
            response_deserializer=self.resp.FromString)

    def call(self, verb, payload="", data=b"", timeout=5):
        """(code name, result dict, data bytes, details)."""
        try:
            r = self.call_(self.req(verb=verb, payload=payload, data=data), timeout=timeout)
        except grpc.RpcError as e:
            return e.code().name, {}, b"", e.details() or ""
        return "OK", parse(r.result), r.data, ""


def parse(result):
    """The payload grammar: a token without ':' continues the last value."""
    out, last = {}, None
    for tok in result.split(",") if result else []:
        if ":" in tok:
            k, v = tok.split(":", 1)
            out[k] = v
            last = k
        elif last:
            out[last] += "," + tok
    return out


class Checker:
    def __init__(self):
        self.failed = 0

    def check(self, what, cond, detail=""):
        print(("  ok   %s" if cond else "  FAIL %s") % what + ("" if cond else "  (%s)" % (detail,)),
              flush=True)
        if not cond:
            self.failed += 1


def check(addr, backend):
    c, k = Cam(addr), Checker()
    ns = "it-%d" % os.getpid()
    code, r, _, d = c.call("context_write", "namespace:%s,key:goal,value:find food" % ns)
    k.check("write text value: version 1", code == "OK" and r.get("version") == "1", (code, r, d))
    code, r, _, d = c.call("context_write",
                           "namespace:%s,key:goal,value:find water, then rest,expected_version:1" % ns)
    k.check("compare-and-set on the latest version: version 2", code == "OK" and r.get("version") == "2",
            (code, r, d))
    code, r, _, d = c.call("context_write", "namespace:%s,key:goal,value:x,expected_version:1" % ns)
    k.check("stale compare-and-set: ABORTED naming the latest", code == "ABORTED" and "latest is 2" in d,
            (code, d))
    code, r, _, d = c.call("context_write", "namespace:%s,key:goal,value:x,expected_version:0" % ns)
    k.check("create-only write of an existing key: ABORTED", code == "ABORTED", (code, d))
    code, r, data, d = c.call("context_read", "namespace:%s,key:goal" % ns)
    k.check("read latest: value in result and data", code == "OK" and r.get("version") == "2"
            and data == b"find water, then rest" and r.get("value_in") == "data", (code, r, data))
    code, r, data, d = c.call("context_read", "namespace:%s,key:goal,version:1" % ns)
    k.check("read version 1", code == "OK" and r.get("value") == "find food" and data == b"find food",
            (code, r))
    code, r, _, d = c.call("context_versions", "namespace:%s,key:goal" % ns)
    vs = r.get("versions", "").split(";")
    k.check("versions: 2, with timestamps and sizes",
            code == "OK" and r.get("count") == "2" and r.get("latest") == "2" and len(vs) == 2
            and vs[0].startswith("1:") and vs[1].endswith(":21"), (code, r))
    blob = bytes(range(256)) * 3
    code, r, _, d = c.call("context_write", "namespace:%s,key:blob" % ns, data=blob)
    k.check("write binary data", code == "OK" and r.get("size") == str(len(blob)), (code, r, d))
    code, r, data, d = c.call("context_read", "namespace:%s,key:blob" % ns)
    k.check("binary value reads back byte for byte", code == "OK" and data == blob, (code, len(data)))
    code, r, _, d = c.call("context_write", "namespace:%s,key:k,value:v" % ns, data=b"x")
    k.check("value and data both: INVALID_ARGUMENT", code == "INVALID_ARGUMENT", (code, d))
    code, r, _, d = c.call("context_write", "namespace:%s,value:v" % ns)
    k.check("no key: INVALID_ARGUMENT", code == "INVALID_ARGUMENT" and "'key'" in d, (code, d))
    code, r, _, d = c.call("context_write", "namespace:a:b,key:k,value:v")
    k.check("bad namespace: INVALID_ARGUMENT", code == "INVALID_ARGUMENT", (code, d))
    code, r, _, d = c.call("context_write", "namespace:%s,key:big" % ns, data=b"x" * 2049)
    k.check("value over CAM_MEMCTX_MAX_VALUE_BYTES: INVALID_ARGUMENT",
            code == "INVALID_ARGUMENT" and "2049 bytes" in d, (code, d))
    code, r, _, d = c.call("context_read", "namespace:%s,key:big" % ns)
    k.check("refused write left nothing", code == "NOT_FOUND", (code, d))
    full = "full-%d" % os.getpid()
    for i in range(4):
        c.call("context_write", "namespace:%s,key:k%d,value:v" % (full, i))
    code, r, _, d = c.call("context_write", "namespace:%s,key:k4,value:v" % full)
    k.check("key past CAM_MEMCTX_MAX_KEYS: RESOURCE_EXHAUSTED", code == "RESOURCE_EXHAUSTED", (code, d))
    code, r, _, d = c.call("context_write", "namespace:%s,key:k1,expected_version:x,value:v" % full)
    k.check("bad expected_version: INVALID_ARGUMENT", code == "INVALID_ARGUMENT", (code, d))
    code, r, _, d = c.call("context_read", "namespace:%s,key:k1,colour:red" % full)
    k.check("unknown payload key: INVALID_ARGUMENT", code == "INVALID_ARGUMENT", (code, d))

    code, r, _, d = c.call("context_snapshot", "namespace:%s" % ns)
    sid = r.get("snapshot_id", "")
    k.check("snapshot: id and key count", code == "OK" and len(sid) == 24 and r.get("keys") == "2",
            (code, r, d))
    c.call("context_write", "namespace:%s,key:goal,value:changed" % ns)
    c.call("context_delete", "namespace:%s,key:blob" % ns)
    c.call("context_write", "namespace:%s,key:extra,value:e" % ns)
    code, r, _, d = c.call("context_restore", "snapshot_id:%s" % sid)
    k.check("restore: namespace and keys", code == "OK" and r.get("namespace") == ns and r.get("keys") == "2",
            (code, r, d))
    _, r, data, _ = c.call("context_read", "namespace:%s,key:goal" % ns)
    _, _, blob2, _ = c.call("context_read", "namespace:%s,key:blob" % ns)
    code3, _, _, _ = c.call("context_read", "namespace:%s,key:extra" % ns)
    k.check("restored namespace is as it was", data == b"find water, then rest" and r.get("version") == "2"
            and blob2 == blob and code3 == "NOT_FOUND", (r, data, code3))
    code, r, _, d = c.call("context_write", "namespace:%s,key:goal,value:next" % ns)
    k.check("versions keep growing after a restore", code == "OK" and int(r.get("version", 0)) > 5, (code, r))
    code, r, _, d = c.call("context_restore", "snapshot_id:%s" % ("0" * 24))
    k.check("restore of an unknown snapshot: NOT_FOUND", code == "NOT_FOUND", (code, d))
    code, r, _, d = c.call("context_delete", "snapshot_id:%s" % sid)
    k.check("delete a snapshot", code == "OK", (code, d))
    code, r, _, d = c.call("context_delete", "namespace:%s,key:goal" % ns)
    k.check("delete a key: versions removed", code == "OK" and int(r.get("removed_versions", 0)) >= 3,
            (code, r, d))
    code, r, _, d = c.call("context_read", "namespace:%s,key:goal" % ns)
    k.check("deleted key: NOT_FOUND", code == "NOT_FOUND", (code, d))
    code, r, _, d = c.call("context_delete", "namespace:%s" % ns)
    k.check("delete a namespace", code == "OK", (code, d))
    return k.failed


def race(addr, streams, rounds):
    """Many streams (one channel each) do read-then-compare-and-set on one key."""
    k = Checker()
    ns = "race-%d" % os.getpid()
    wins, errors, lock = [], [], threading.Lock()

    def run():
        c = Cam(addr)
        for _ in range(rounds):
            code, r, _, d = c.call("context_read", "namespace:%s,key:n" % ns)
            exp = r.get("version", "0") if code == "OK" else "0"
            code, r, _, d = c.call("context_write",
                                   "namespace:%s,key:n,value:v,expected_version:%s" % (ns, exp))
            with lock:
                if code == "OK":
                    wins.append(int(r["version"]))
                elif code != "ABORTED":
                    errors.append((code, d))
    ts = [threading.Thread(target=run) for _ in range(streams)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    c = Cam(addr)
    _, r, _, _ = c.call("context_read", "namespace:%s,key:n" % ns)
    k.check("CAS race over %d streams: no errors but ABORTED" % streams, not errors, errors[:3])
    k.check("CAS race: every win has its own version, no gaps (%d wins)" % len(wins),
            sorted(wins) == list(range(1, len(wins) + 1)), sorted(wins)[:10])
    k.check("CAS race: latest version = wins", r.get("version") == str(len(wins)), (r, len(wins)))
    return k.failed


def value_for(tid, seq):
    body = "%d-%d-" % (tid, seq)
    return (body + hashlib.sha256(body.encode()).hexdigest() * 4).encode()


def load(addr, seconds, out, threads):
    """Each thread writes its own keys; acknowledged writes are logged."""
    end = time.time() + seconds
    lock = threading.Lock()
    counts = {}
    f = open(out, "w")

    def run(tid):
        c = Cam(addr)
        seq = 0
        n = {}
        while time.time() < end:
            seq += 1
            key = "t%d-k%d" % (tid, seq % 40)
            code, r, _, d = c.call("context_write", "namespace:load,key:%s" % key,
                                   data=value_for(tid, seq), timeout=3)
            n[code] = n.get(code, 0) + 1
            if code == "OK":
                with lock:
                    f.write("%s %s %d %d\n" % (key, r["version"], tid, seq))
                    f.flush()
            elif code != "UNAVAILABLE" and code != "DEADLINE_EXCEEDED":
                with lock:
                    f.write("# unexpected %s %s\n" % (code, d))
            if code != "OK":
                time.sleep(0.01)
        with lock:
            for k_, v in n.items():
                counts[k_] = counts.get(k_, 0) + v
    ts = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    f.close()
    print("load: " + ", ".join("%s %d" % kv for kv in sorted(counts.items())), flush=True)
    return 0


def verify(addr, path):
    k = Checker()
    c = Cam(addr)
    acked = bad = missing = unexpected = 0
    for line in open(path):
        if line.startswith("#"):
            unexpected += 1
            continue
        key, ver, tid, seq = line.split()
        acked += 1
        code, r, data, d = c.call("context_read", "namespace:load,key:%s,version:%s" % (key, ver))
        if code != "OK":
            missing += 1
            if missing < 5:
                print("    missing %s@%s: %s %s" % (key, ver, code, d))
        elif data != value_for(int(tid), int(seq)):
            bad += 1
    k.check("%d acknowledged writes, all readable" % acked, acked > 0 and missing == 0,
            "%d missing" % missing)
    k.check("no acknowledged write is corrupt", bad == 0, "%d corrupt" % bad)
    k.check("no answer other than OK, UNAVAILABLE, DEADLINE_EXCEEDED", unexpected == 0,
            "%d unexpected" % unexpected)
    return k.failed


def main():
    a = sys.argv[1:]
    if len(a) < 2:
        sys.exit(__doc__)
    if a[0] == "check":
        return 1 if check(a[1], a[2]) else 0
    if a[0] == "race":
        return 1 if race(a[1], int(a[2]), int(a[3])) else 0
    if a[0] == "load":
        return load(a[1], float(a[2]), a[3], int(a[4]))
    if a[0] == "verify":
        return 1 if verify(a[1], a[2]) else 0
    if a[0] == "call":
        code, r, data, d = Cam(a[1]).call(a[2], a[3] if len(a) > 3 else "")
        print(code, ",".join("%s:%s" % kv for kv in r.items()) if code == "OK" else d)
        return 0 if code == "OK" else 1
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
