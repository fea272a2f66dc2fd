#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Checks the shipper configs of monitoring/logging/ that cannot run here
(Promtail, Alloy, Filebeat and its ingest pipeline, Splunk) against the
kernel's own log lines.

usage: check_logging.py ROOT JSON_LINES ECS_LINES
  JSON_LINES, ECS_LINES: a kernel's stderr with CAM_LOG_FORMAT=json and =ecs,
  after the same calls (caller ids shared between the two runs).

- Promtail and Alloy: level and component are the only labels taken from
  the line; caller_id, request_id, trace_id never are; the push URL is
  Loki's; timestamps from the line's timestamp field.
- Ingest pipeline: its processors, applied here as Elasticsearch documents
  them (date, remove, lowercase, rename, set with a mustache value, and the
  three painless scripts, each by its tag, with the same effect), turn every
  JSON line into the ECS line the kernel wrote for the same call.
- Splunk: TIME_PREFIX and TIME_FORMAT of cam_os:json and cam_os:ecs find and
  read the lines' timestamps; inputs.conf uses sourcetypes props.conf has.
Prints one ok/FAIL line per check and a count; exits 1 if any failed.
"""
import configparser
import datetime
import json
import os
import re
import sys

import yaml

passed = failed = 0
UNBOUNDED = ("caller_id", "request_id", "trace_id", "CAM_CALLER_ID", "CAM_REQUEST_ID", "CAM_TRACE_ID")


def check(ok, what, detail=""):
    global passed, failed
    passed, failed = (passed + 1, failed) if ok else (passed, failed + 1)
    print(("      ok   " if ok else "      FAIL ") + what + ("" if ok or not detail else f": {detail}"))


def lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.startswith("{")]


def promtail(root):
    with open(os.path.join(root, "monitoring/logging/loki/promtail.yml")) as f:
        cfg = yaml.safe_load(f)
    labels, json_ok, ts_ok = set(), True, True
    for sc in cfg["scrape_configs"]:
        stages = sc.get("pipeline_stages") or []
        for st in stages:
            if "labels" in st:
                labels |= set(st["labels"])
        exprs = [st["json"]["expressions"] for st in stages if "json" in st]
        json_ok &= bool(exprs)
        if "journal" not in sc:
            ts_ok &= any(st.get("timestamp", {}).get("source") == "timestamp" for st in stages)
    check(labels == {"level", "component"}, "promtail.yml: labels from the line are level and component only", str(labels))
    check(json_ok and ts_ok, "promtail.yml: every job parses the JSON; file and pod jobs take the line's timestamp")
    check(all(c["url"].endswith("/loki/api/v1/push") for c in cfg["clients"]), "promtail.yml: pushes to Loki's /loki/api/v1/push")


def alloy(root):
    with open(os.path.join(root, "monitoring/logging/loki/config.alloy")) as f:
        text = f.read()
    blocks = re.findall(r"stage\.labels\s*\{\s*values\s*=\s*\{([^}]*)\}", text)
    names = {n for b in blocks for n in re.findall(r"(\w+)\s*=", b)}
    check(blocks and names == {"level", "component"}, "config.alloy: stage.labels take level and component only", str(names))
    check(not any(u in b for b in blocks for u in UNBOUNDED), "config.alloy: caller_id, request_id, trace_id are never labels")
    check("/loki/api/v1/push" in text and text.count("{") == text.count("}"),
          "config.alloy: balanced blocks, pushes to /loki/api/v1/push")


def mustache(tpl, doc):
    return re.sub(r"\{\{\{(\w+)\}\}\}", lambda m: str(doc.get(m.group(1), "")), tpl)


def cond(expr, doc):
    """The few painless conditions the pipeline uses."""
    if expr is None:
        return True
    out = True
    for part in expr.split("&&"):
        m = re.match(r"^\s*ctx\.(\w+) (==|!=) null\s*$", part)
        if not m:
            raise ValueError(f"condition not understood: {expr}")
        present = doc.get(m.group(1)) is not None
        out &= present if m.group(2) == "!=" else not present
    return out


SCRIPTS = {
    "latency_ms-to-event.duration": lambda d: d.update({"event.duration": round(float(d.pop("latency_ms")) * 1e6)}),
    "success-to-event.outcome": lambda d: d.update({"event.outcome": "success" if d.pop("success") else "failure"}),
}


def others_under_cam(doc, source):
    keep = set(re.search(r"def keep = \[([^\]]*)\]", source).group(1).replace("'", "").replace(" ", "").split(","))
    for k in [k for k in doc if not k.startswith("_") and not k.startswith("cam.") and k not in keep]:
        doc["cam." + k] = doc.pop(k)


def run_pipeline(pipeline, doc):
    doc = dict(doc)
    for proc in pipeline["processors"]:
        (kind, p), = proc.items()
        if not cond(p.get("if"), doc):
            continue
        if kind == "date":
            doc[p["target_field"]] = doc[p["field"]]  # ISO8601 in, ISO8601 out
        elif kind == "remove":
            doc.pop(p["field"])
        elif kind == "lowercase":
            doc[p.get("target_field", p["field"])] = doc[p["field"]].lower()
        elif kind == "rename":
            if p["field"] in doc:
                doc[p["target_field"]] = doc.pop(p["field"])
            elif not p.get("ignore_missing"):
                raise KeyError(p["field"])
        elif kind == "set":
            if p.get("override", True) or p["field"] not in doc:
                doc[p["field"]] = mustache(p["value"], doc)
        elif kind == "script" and p["tag"] in SCRIPTS:
            SCRIPTS[p["tag"]](doc)
        elif kind == "script" and p["tag"] == "others-under-cam":
            others_under_cam(doc, p["source"])
        else:
            raise ValueError(f"processor not simulated: {kind} {p.get('tag')}")
    return doc


def filebeat(root, jl, el):
    with open(os.path.join(root, "monitoring/logging/elasticsearch/filebeat.yml")) as f:
        fb = yaml.safe_load(f)
    check(fb["output.elasticsearch"]["pipeline"] == "cam-os", "filebeat.yml: sends through the cam-os ingest pipeline")
    check(any(i.get("parsers") and i["parsers"][0].get("ndjson") is not None for i in fb["filebeat.inputs"]),
          "filebeat.yml: lines parsed as NDJSON")
    with open(os.path.join(root, "monitoring/logging/elasticsearch/ingest-pipeline.json")) as f:
        pipeline = json.load(f)
    ecs = {l["user.name"]: l for l in el if "user.name" in l}
    pairs = [(l, ecs[l["caller_id"]]) for l in jl if l.get("caller_id") in ecs]
    bad = []
    for j, e in pairs:
        got = run_pipeline(pipeline, dict(j, **{"service.name": "cam-kernel"}))
        # What differs between two runs of the same call: time, ids (the
        # request's, and a traced call's own span), latency.
        for d in (got, e):
            for k in ("@timestamp", "event.id", "span.id", "event.duration"):
                d[k] = type(d.get(k)).__name__ if k in d else None
        if got != e:
            bad.append((got, e))
    check(pairs and not bad, f"ingest-pipeline.json turns the JSON lines of {len(pairs)} calls into the kernel's own ECS lines",
          json.dumps(bad[:1]))
    passthrough = [e for e in el if run_pipeline(pipeline, e) != e]
    check(el and not passthrough, "ingest-pipeline.json leaves CAM_LOG_FORMAT=ecs lines as they are", json.dumps(passthrough[:1]))


def splunk_time(prefix, fmt, line):
    m = re.search(prefix, line)
    if not m:
        return None
    py = fmt.replace("%3N", "%f").replace("%Z", "Z")
    rest = line[m.end():m.end() + 30]
    for n in range(len(rest), 0, -1):
        try:
            return datetime.datetime.strptime(rest[:n], py)
        except ValueError:
            continue
    return None


def splunk(root, jraw, eraw):
    props = configparser.RawConfigParser(strict=False, interpolation=None)
    props.optionxform = str
    props.read(os.path.join(root, "monitoring/logging/splunk/props.conf"))
    for st, raws, key in (("cam_os:json", jraw, "timestamp"), ("cam_os:ecs", eraw, "@timestamp")):
        s = props[st]
        ok = bool(raws)
        for raw in raws:
            t = splunk_time(s["TIME_PREFIX"], s["TIME_FORMAT"], raw)
            want = datetime.datetime.strptime(json.loads(raw)[key], "%Y-%m-%dT%H:%M:%S.%fZ")
            ok &= t == want
        check(ok, f"props.conf [{st}]: TIME_PREFIX/TIME_FORMAT read the timestamp of {len(raws)} lines to the millisecond")
        check(s.get("KV_MODE") == "json" and s.get("SHOULD_LINEMERGE") == "false",
              f"props.conf [{st}]: one event a line, fields extracted as JSON")
    inputs = configparser.RawConfigParser(strict=False, interpolation=None)
    inputs.read(os.path.join(root, "monitoring/logging/splunk/inputs.conf"))
    used = {inputs[s]["sourcetype"] for s in inputs.sections()}
    check(used <= set(props.sections()), "inputs.conf: every sourcetype is defined in props.conf", str(used))


def main():
    root, jpath, epath = sys.argv[1:4]
    jl, el = lines(jpath), lines(epath)
    with open(jpath) as f:
        jraw = [l.rstrip("\n") for l in f if l.startswith("{")]
    with open(epath) as f:
        eraw = [l.rstrip("\n") for l in f if l.startswith("{")]
    promtail(root)
    alloy(root)
    filebeat(root, jl, el)
    splunk(root, jraw, eraw)
    print(f"check_logging: {passed} checks passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
