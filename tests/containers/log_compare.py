#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Compares what a log receiver (log_receiver.py) accepted with the lines
the kernel wrote: every access line of the load (caller ids PREFIX-*)
arrived, once, with every field intact, in the shape of that store; every
line of the audit trail arrived in a destination of its own, byte for
byte; and neither kind of line landed in the other's destination.

usage: log_compare.py KIND KERNEL_LOG RECEIVER_OUTDIR PREFIX
       log_compare.py audit-KIND RECEIVER_OUTDIR TRAIL_OUT AUDIT_FILE...
  KIND loki:    each entry's line is the kernel's line byte for byte; labels
                exactly job, level, component (never caller_id, request_id,
                trace_id), equal to the line's; timestamp = the line's, in ns
  KIND es:      each document is the kernel's ECS line as an object
                (@timestamp, log.level, message, service.name, trace.id,
                event.duration in ns), through a create action on cam-os
  KIND splunk:  each event is the kernel's line as an object, time = the
                line's timestamp in epoch seconds, sourcetype cam_os:json
  Only the access destination is compared (stream job="cam-os", index
  cam-os, sourcetype cam_os:json); an audit line found there fails.

  audit-KIND: the trail's files, oldest first (rotated ones, then the
  current one), against the audit destination:
    audit-loki:    stream labels exactly {job="cam-os-audit", log_type="audit",
                   host=<this host>},
                   the entry's line = the audit line byte for byte, its time
                   the line's timestamp (or @timestamp) in ns
    audit-es:      a create on index cam-os-audit whose _id is the line's
                   SHA-256 (the next line's prev), pipeline _none, the
                   document = the line's fields + event.original = the line
                   + host.name
    audit-splunk:  sourcetype cam_os:audit, index cam_os_audit, source
                   cam-kernel:audit, host, "event" = the line as a string, "time"
                   = the line's time in epoch seconds
  Every line must arrive; no line of the audit destination may be anything
  but a line of the trail, and no audit line may be in the access
  destination. The trail put back together from what arrived (by seq, each
  line once) is written to TRAIL_OUT, for `cam-audit verify`. Duplicates
  are counted (a batch sent again after an outage may repeat lines: Loki
  drops an entry equal to one it has, Splunk keeps it) and fail only for
  es, whose _id makes a repeat impossible.

Prints one line: "KIND: N written, N arrived, N missing, N duplicated,
N altered, ..." and exits 1 unless nothing is missing or altered and no
request was refused. With --poll it only prints (for polling).
"""
import calendar
import hashlib
import json
import os
import socket
import sys
import time

HOST = socket.gethostname()  # syslog-ng's ${HOST} for lines of a local file


def epoch_ms(ts):
    t = time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")
    return calendar.timegm(t) * 1000 + int(ts[20:23])


def load(path):
    out = []
    if os.path.exists(path):
        with open(path) as f:
            out = [json.loads(line) for line in f if line.strip()]
    return out


def is_audit(obj):
    return isinstance(obj, dict) and "seq" in obj and "prev" in obj


def parse(raw):
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        return None


def access(kind, klog, outdir, prefix, poll):
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
    arrived, altered, leaked = {}, [], 0
    if kind == "loki":
        entries = [(e, json.loads(e["line"])) for e in load(os.path.join(outdir, "loki.jsonl"))
                   if e["labels"].get("job") == "cam-os"]
    elif kind == "es":
        entries = [(d, d["doc"]) for d in load(os.path.join(outdir, "elasticsearch.jsonl"))
                   if d["index"] == "cam-os"]
    else:
        entries = [(ev, ev["event"] if isinstance(ev["event"], dict) else parse(ev["event"]) or {})
                   for ev in load(os.path.join(outdir, "splunk.jsonl"))
                   if ev.get("sourcetype") == "cam_os:json"]
    for e, obj in entries:
        if is_audit(obj):
            leaked += 1
            continue
        c = obj.get(caller_key, "")
        if not c.startswith(prefix + "-"):
            continue
        arrived[c] = arrived.get(c, 0) + 1
        raw, want = written.get(c, (None, None))
        if kind == "loki":
            ok = (want is not None and e["line"] == raw and
                  e["labels"] == {"job": "cam-os", "level": want["level"], "component": want["component"]} and
                  int(e["ts"]) == epoch_ms(want["timestamp"]) * 1000000)
        elif kind == "es":
            ok = (obj == want and e["op"] == "create" and e["index"] == "cam-os" and
                  isinstance(obj.get("event.duration"), int) and obj.get("service.name") == "cam-kernel" and
                  obj.get("message", "").startswith("syscall ") and "@timestamp" in obj and
                  obj.get("log.level") in ("info", "warn"))
        else:
            ok = (want is not None and obj == want and isinstance(e["event"], dict) and
                  round(float(e["time"]) * 1000) == epoch_ms(want["timestamp"]))
        if not ok:
            altered.append(e)
    missing = sorted(set(written) - set(arrived))
    dup = sum(n - 1 for n in arrived.values())
    errors = load(os.path.join(outdir, "errors.jsonl"))
    print(f"{kind}: {len(written)} written, {len(arrived)} arrived, {len(missing)} missing, "
          f"{dup} duplicated, {len(altered)} altered, {leaked} audit lines among them, "
          f"{len(errors)} requests refused")
    if not poll:
        for a in altered[:3]:
            print("  altered:", json.dumps(a)[:600])
        for e in errors[:3]:
            print("  refused:", json.dumps(e)[:600])
        if missing:
            print("  missing:", ", ".join(missing[:10]))
    return 0 if written and not missing and not altered and not errors and not leaked else 1


def audit(kind, outdir, trail_out, files, poll):
    written = {}  # raw line -> its object
    order = []
    for path in files:
        with open(path) as f:
            for raw in f:
                raw = raw.rstrip("\n")
                written[raw] = json.loads(raw)
                order.append(raw)
    arrived, altered, foreign, leaked = {}, [], [], 0
    store = kind[len("audit-"):]
    if store == "loki":
        for e in load(os.path.join(outdir, "loki.jsonl")):
            audit_stream = e["labels"].get("log_type") == "audit" or e["labels"].get("job") == "cam-os-audit"
            if not audit_stream:
                leaked += is_audit(parse(e["line"]))
                continue
            if e["line"] not in written:
                foreign.append(e)
                continue
            want = written[e["line"]]
            ts = want.get("timestamp") or want.get("@timestamp")
            if (e["labels"] != {"job": "cam-os-audit", "log_type": "audit", "host": HOST} or
                    int(e["ts"]) != epoch_ms(ts) * 1000000):
                altered.append(e)
            arrived[e["line"]] = arrived.get(e["line"], 0) + 1
    elif store == "es":
        for d in load(os.path.join(outdir, "elasticsearch.jsonl")):
            raw = d["doc"].get("event.original")
            if d["index"] != "cam-os-audit":
                leaked += is_audit(d["doc"])
                continue
            if raw not in written:
                foreign.append(d)
                continue
            want = dict(written[raw], **{"event.original": raw, "host.name": HOST})
            if (d["doc"] != want or d["op"] != "create" or d["pipeline"] != "_none" or
                    d["id"] != hashlib.sha256(raw.encode()).hexdigest()):
                altered.append(d)
            arrived[raw] = arrived.get(raw, 0) + 1
    else:
        for ev in load(os.path.join(outdir, "splunk.jsonl")):
            raw = ev["event"] if isinstance(ev["event"], str) else json.dumps(ev["event"])
            if ev.get("sourcetype") != "cam_os:audit":
                leaked += is_audit(ev["event"] if isinstance(ev["event"], dict) else parse(ev["event"]))
                continue
            if raw not in written:
                foreign.append(ev)
                continue
            want = written[raw]
            ts = want.get("timestamp") or want.get("@timestamp")
            if (ev.get("index") != "cam_os_audit" or ev.get("source") != "cam-kernel:audit" or ev.get("host") != HOST or
                    round(float(ev["time"]) * 1000) != epoch_ms(ts)):
                altered.append(ev)
            arrived[raw] = arrived.get(raw, 0) + 1
    missing = [r for r in order if r not in arrived]
    dup = sum(n - 1 for n in arrived.values())
    errors = load(os.path.join(outdir, "errors.jsonl"))
    # The trail as a reader of the store would put it back together.
    lines = sorted(arrived, key=lambda r: written[r]["seq"])
    with open(trail_out, "w") as f:
        for r in lines:
            f.write(r + "\n")
    seqs = [written[r]["seq"] for r in order]
    print(f"{kind}: {len(order)} written in {len(files)} files (seq {min(seqs)}-{max(seqs)}), "
          f"{len(arrived)} arrived, {len(missing)} missing, {dup} duplicated, {len(altered)} altered, "
          f"{len(foreign)} not from the trail, {leaked} in the access destination, "
          f"{len(errors)} requests refused")
    if not poll:
        for a in altered[:3]:
            print("  altered:", json.dumps(a)[:600])
        for a in foreign[:3]:
            print("  not from the trail:", json.dumps(a)[:600])
        for e in errors[:3]:
            print("  refused:", json.dumps(e)[:600])
        for m in missing[:3]:
            print("  missing:", m[:300])
    bad = missing or altered or foreign or leaked or errors or (kind == "audit-es" and dup)
    return 0 if order and not bad else 1


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    poll = "--poll" in sys.argv
    if args[0].startswith("audit-"):
        return audit(args[0], args[1], args[2], args[3:], poll)
    kind, klog, outdir, prefix = args
    return access(kind, klog, outdir, prefix, poll)


if __name__ == "__main__":
    sys.exit(main())
