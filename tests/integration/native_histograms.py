#!/usr/bin/python3
"""The client side of tests/integration/test_native_histograms.sh.

  native_histograms.py feed ADDR NAME N SEED   emits N values from two
        lognormal modes (fixed seed) as NAME, type:histogram, native:true;
        prints JSON: true quantiles (nearest rank), count, sum
  native_histograms.py spread ADDR NAME        emits 321 values over 2^-20..2^20,
        8 per octave, into NAME: 321 schema-3 buckets, past the limit of 160,
        so the series halves its resolution
  native_histograms.py refusals ADDR           bad native payloads are refused;
        "ok"/"FAIL" lines
  native_histograms.py prom_call ADDR PAYLOAD  one emit_metric; prints CODE details
  native_histograms.py prom URL QUERY          prints the first value of an
        instant query (or "none")
  native_histograms.py quantiles URL NAME TRUTH_JSON
        compares Prometheus' histogram_quantile / histogram_count /
        histogram_sum of NAME with the truth; prints JSON with the errors

Every loop is bounded in count and time. SPDX-License-Identifier: Apache-2.0
"""
import json
import math
import os
import random
import sys
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

QS = (0.5, 0.9, 0.99, 0.999)


def values(n, seed):
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        if rnd.random() < 0.7:
            out.append(rnd.lognormvariate(math.log(0.002), 0.4))   # 2 ms mode
        else:
            out.append(rnd.lognormvariate(math.log(0.15), 0.3))    # 150 ms mode
    return out


def nearest_rank(sorted_v, q):
    return sorted_v[max(0, math.ceil(q * len(sorted_v)) - 1)]


def feed(addr, name, n, seed):
    from memctx_client import Cam  # grpcio, messages from reflection
    c = Cam(addr)
    v = values(n, seed)
    for x in v:
        code, _, _, d = c.call("emit_metric", "metric_name:%s,type:histogram,native:true,value:%r"
                               % (name, x))
        if code != "OK":
            print(json.dumps({"error": "%s %s" % (code, d)}))
            return 1
    s = sorted(v)
    print(json.dumps({"count": n, "sum": math.fsum(v),
                      "quantiles": {str(q): nearest_rank(s, q) for q in QS}}))
    return 0


def spread(addr, name):
    from memctx_client import Cam
    c = Cam(addr)
    for e in range(-160, 161):
        code, _, _, d = c.call("emit_metric", "metric_name:%s,type:histogram,native:true,value:%r"
                               % (name, 2.0 ** (e / 8) * 1.01))
        if code != "OK":
            print("FAIL %s %s" % (code, d))
            return 1
    print("ok")
    return 0


def refusals(addr):
    from memctx_client import Cam, Checker
    c, k = Cam(addr), Checker()
    for payload, want, why in (
            ("metric_name:nh_bad,type:histogram,native:maybe,value:1", "INVALID_ARGUMENT",
             "native must be true or false"),
            ("metric_name:nh_bad,native:true,value:1", "INVALID_ARGUMENT",
             "native:true is for type:histogram only"),
            ("metric_name:nh_bad,type:gauge,native:true,value:1", "INVALID_ARGUMENT",
             "native:true is for type:histogram only"),
            ("metric_name:nh_bad,type:histogram,value:nan", "INVALID_ARGUMENT",
             "not a finite decimal number")):
        code, _, _, d = c.call("emit_metric", payload)
        k.check("%s: %s" % (payload, want), code == want and why in d, (code, d))
    code, _, _, d = c.call("emit_metric", "metric_name:nh_classic,type:histogram,value:-0.5")
    k.check("a negative observation: INVALID_ARGUMENT", code == "INVALID_ARGUMENT" and
            "values >= 0" in d, (code, d))
    code, r, _, d = c.call("emit_metric", "metric_name:nh_classic,type:histogram,value:0.5")
    k.check("a classic histogram (no native key)", code == "OK" and
            r.get("type") == "histogram", (code, r, d))
    code, _, _, d = c.call("emit_metric", "metric_name:nh_classic,type:histogram,native:true,value:1")
    k.check("the same name with native:true: INVALID_ARGUMENT", code == "INVALID_ARGUMENT" and
            "native:false" in d, (code, d))
    code, _, _, d = c.call("emit_metric", "metric_name:nh_classic,value:1")
    k.check("the same name as a counter: INVALID_ARGUMENT", code == "INVALID_ARGUMENT" and
            "is a histogram" in d, (code, d))
    print("refusals: %d failed" % k.failed)
    return 1 if k.failed else 0


def query(url, q):
    u = url.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode({"query": q})
    with urllib.request.urlopen(u, timeout=10) as r:
        res = json.load(r)
    if res.get("status") != "success":
        raise RuntimeError("%s: %s" % (q, res.get("error")))
    return res["data"]["result"]


def first_value(url, q):
    r = query(url, q)
    return float(r[0]["value"][1]) if r else None


def quantiles(url, name, truth):
    truth = json.loads(truth)
    base = 2 ** (2 ** -3)  # schema 3
    out = {"bound": base - 1, "errors": {}, "ok": True}
    for q in QS:
        est = first_value(url, "histogram_quantile(%s, %s)" % (q, name))
        true = truth["quantiles"][str(q)]
        err = abs(est - true) / true if est is not None else None
        out["errors"][str(q)] = {"prometheus": est, "true": true,
                                 "relative_error": None if err is None else round(err, 5)}
        out["ok"] = out["ok"] and err is not None and err <= base - 1
    count = first_value(url, "histogram_count(%s)" % name)
    total = first_value(url, "histogram_sum(%s)" % name)
    out["count"] = count
    out["sum"] = total
    out["true_sum"] = truth["sum"]
    out["ok"] = out["ok"] and count == truth["count"] and total is not None and \
        math.isclose(total, truth["sum"], rel_tol=1e-12)
    print(json.dumps(out))
    return 0 if out["ok"] else 1


def main():
    cmd = sys.argv[1]
    if cmd == "feed":
        return feed(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    if cmd == "spread":
        return spread(sys.argv[2], sys.argv[3])
    if cmd == "refusals":
        return refusals(sys.argv[2])
    if cmd == "prom":
        v = first_value(sys.argv[2], sys.argv[3])
        print("none" if v is None else repr(v))
        return 0
    if cmd == "prom_call":  # one emit_metric: prints CODE and details
        from memctx_client import Cam
        code, _, _, d = Cam(sys.argv[2]).call("emit_metric", sys.argv[3])
        print(code, d)
        return 0
    if cmd == "quantiles":
        return quantiles(sys.argv[2], sys.argv[3], sys.argv[4])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
