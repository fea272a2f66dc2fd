#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Compares what a log receiver (log_receiver.py) accepted with the lines
the kernel wrote: every access line of the load (caller ids PREFIX-*)
arrived, once, with every field intact, in the shape of that store.

usage: log_compare.py KIND KERNEL_LOG RECEIVER_OUTDIR PREFIX
  KIND loki:    each entry's line is the kernel's line byte for byte; labels
                exactly job, level, component (never caller_id, request_id,
                trace_id), equal to the line's; timestamp = the line's, in ns
  KIND es:      each document is the kernel's ECS line as an object
                (@timestamp, log.level, message, service.name, trace.id,
                event.duration in ns), through a create action on cam-os
  KIND splunk:  each event is the kernel's line as an object, time = the
                line's timestamp in epoch seconds, sourcetype cam_os:json
Prints one line: "KIND: N written, N arrived, N missing, N duplicated,
N altered" and exits 1 unless nothing is missing or altered and no
request was refused. With --quiet-missing-ok it only prints (for polling).
"""
import calendar
import json
import os
import sys
import time


def epoch_ms(ts):
    t = time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")
    return calendar.timegm(t) * 1000 + int(ts[20:23])


def load(path):
    out = []
    if os.path.exists(path):
        with open(path) as f:
            out = [json.loads(line) for line in f if line.strip()]
    return out


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    poll = "--poll" in sys.argv
    kind, klog, outdir, prefix = args
    caller_key = "user.name" if kind == "es" else "caller_id"
    written = {}
    with open(klog) as f:
        for raw in f:
            raw = raw.rstrip("\n")
            if not raw.startswith("{"):
                continue
            obj = json.loads(raw)
            c = obj.get(caller_key, "")
            if c.startswith(prefix + "-"):
                written[c] = (raw, obj)
    arrived, altered, seen = {}, [], 0
    if kind == "loki":
        for e in load(os.path.join(outdir, "loki.jsonl")):
            obj = json.loads(e["line"])
            c = obj.get("caller_id", "")
            if not c.startswith(prefix + "-"):
                continue
            seen += 1
            arrived[c] = arrived.get(c, 0) + 1
            raw, want = written.get(c, (None, None))
            ok = (e["line"] == raw and
                  e["labels"] == {"job": "cam-os", "level": want["level"], "component": want["component"]} and
                  int(e["ts"]) == epoch_ms(want["timestamp"]) * 1000000)
            if not ok:
                altered.append(e)
    elif kind == "es":
        for d in load(os.path.join(outdir, "elasticsearch.jsonl")):
            c = d["doc"].get("user.name", "")
            if not c.startswith(prefix + "-"):
                continue
            seen += 1
            arrived[c] = arrived.get(c, 0) + 1
            raw, want = written.get(c, (None, None))
            doc = d["doc"]
            ok = (doc == want and d["op"] == "create" and d["index"] == "cam-os" and
                  isinstance(doc.get("event.duration"), int) and doc.get("service.name") == "cam-kernel" and
                  doc.get("message", "").startswith("syscall ") and "@timestamp" in doc and
                  doc.get("log.level") in ("info", "warn"))
            if not ok:
                altered.append(d)
    else:
        for ev in load(os.path.join(outdir, "splunk.jsonl")):
            obj = ev["event"] if isinstance(ev["event"], dict) else {}
            c = obj.get("caller_id", "")
            if not c.startswith(prefix + "-"):
                continue
            seen += 1
            arrived[c] = arrived.get(c, 0) + 1
            raw, want = written.get(c, (None, None))
            ok = (obj == want and ev.get("sourcetype") == "cam_os:json" and
                  round(float(ev["time"]) * 1000) == epoch_ms(want["timestamp"]))
            if not ok:
                altered.append(ev)
    missing = sorted(set(written) - set(arrived))
    dup = sum(n - 1 for n in arrived.values())
    errors = load(os.path.join(outdir, "errors.jsonl"))
    print(f"{kind}: {len(written)} written, {len(arrived)} arrived, {len(missing)} missing, "
          f"{dup} duplicated, {len(altered)} altered, {len(errors)} requests refused")
    if not poll:
        for a in altered[:3]:
            print("  altered:", json.dumps(a)[:600])
        for e in errors[:3]:
            print("  refused:", json.dumps(e)[:600])
        if missing:
            print("  missing:", ", ".join(missing[:10]))
    return 0 if written and not missing and not altered and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
