#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""An independent client for the durable store's tests: writes under load
and checks afterwards that everything acknowledged is there.

Built on Debian's python3-grpcio; the messages come from the server's
reflection service (memctx_client.Cam), never from our own generated code.

usage: store_client.py load ADDR SECONDS OUT THREADS TAG
           THREADS writers, each on keys of its own in namespace "durable",
           binary values unique to (TAG, thread, sequence); every
           acknowledged write is appended to OUT (flushed at once) as
           "KEY VERSION TAG THREAD SEQ". Writers stop at SECONDS, or when
           the kernel is gone (UNAVAILABLE for a second).
       store_client.py fill ADDR SIZE MAX
           writes values of SIZE bytes to new keys of namespace "full" until
           one is refused (at most MAX); prints how many went in, then the
           refusal's code and message.
       store_client.py verify ADDR FILE...
           every write in the files reads back at its version with its
           exact bytes, and no version was acknowledged twice.
"""
import hashlib
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from memctx_client import Cam, Checker  # noqa: E402

NS = "durable"


def value_for(tag, tid, seq):
    """Bytes no other write has: binary, NUL and commas included."""
    head = ("%s/%d/%d," % (tag, tid, seq)).encode()
    return head + b"\x00\xff," + hashlib.sha256(head).digest() * 3


def load(addr, seconds, out, threads, tag):
    end = time.time() + seconds
    lock = threading.Lock()
    counts = {}
    f = open(out, "a")

    def run(tid):
        c = Cam(addr)
        seq, down_since, n = 0, None, {}
        while time.time() < end:
            seq += 1
            key = "%s-t%d-k%d" % (tag, tid, seq % 50)
            code, r, _, d = c.call("context_write", "namespace:%s,key:%s" % (NS, key),
                                   data=value_for(tag, tid, seq), timeout=3)
            n[code] = n.get(code, 0) + 1
            if code == "OK":
                down_since = None
                with lock:
                    f.write("%s %s %s %d %d\n" % (key, r["version"], tag, tid, seq))
                    f.flush()
                continue
            if code not in ("UNAVAILABLE", "DEADLINE_EXCEEDED"):
                with lock:
                    f.write("# unexpected %s %s\n" % (code, d))
                    f.flush()
            down_since = down_since or time.time()
            if time.time() - down_since > 1:
                break
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
    print("load %s: %s" % (tag, ", ".join("%s %d" % kv for kv in sorted(counts.items()))),
          flush=True)
    return 0


def verify(addr, paths):
    k = Checker()
    c = Cam(addr)
    acked = bad = missing = unexpected = 0
    versions = {}
    for path in paths:
        for line in open(path):
            if line.startswith("#"):
                unexpected += 1
                print("    " + line.strip())
                continue
            key, ver, tag, tid, seq = line.split()
            acked += 1
            versions.setdefault(ver, []).append(line.strip())
            code, r, data, d = c.call("context_read",
                                      "namespace:%s,key:%s,version:%s" % (NS, key, ver))
            if code != "OK":
                missing += 1
                if missing < 5:
                    print("    missing %s@%s: %s %s" % (key, ver, code, d))
            elif data != value_for(tag, int(tid), int(seq)):
                bad += 1
                if bad < 5:
                    print("    corrupt %s@%s" % (key, ver))
    twice = [v for v, lines in versions.items() if len(lines) > 1]
    for v in twice[:5]:
        print("    version %s acknowledged for %s" % (v, versions[v]))
    k.check("%d acknowledged writes, all read back at their versions" % acked,
            acked > 0 and missing == 0, "%d missing" % missing)
    k.check("every one with its exact bytes", bad == 0, "%d corrupt" % bad)
    k.check("no version number handed out twice", not twice, "%d twice" % len(twice))
    k.check("no answer other than OK, UNAVAILABLE, DEADLINE_EXCEEDED", unexpected == 0,
            "%d unexpected" % unexpected)
    return k.failed


def fill(addr, size, most):
    c = Cam(addr)
    for n in range(most):
        code, _, _, d = c.call("context_write", "namespace:full,key:k%d" % n, data=b"x" * size)
        if code != "OK":
            print(n, code, d)
            return 0
    print(most, "OK", "")
    return 0


def main():
    a = sys.argv[1:]
    if len(a) == 4 and a[0] == "fill":
        return fill(a[1], int(a[2]), int(a[3]))
    if len(a) >= 6 and a[0] == "load":
        return load(a[1], float(a[2]), a[3], int(a[4]), a[5])
    if len(a) >= 3 and a[0] == "verify":
        return 1 if verify(a[1], a[2:]) else 0
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
