#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Checks the shipper configs of monitoring/logging/ that cannot run here
(Promtail, Alloy, Filebeat and its ingest pipeline, Splunk) against the
kernel's own log lines.

usage: check_logging.py ROOT JSON_LINES ECS_LINES [AUDIT_JSON AUDIT_ECS]
  JSON_LINES, ECS_LINES: a kernel's stderr with CAM_LOG_FORMAT=json and =ecs,
  after the same calls (caller ids shared between the two runs).
  AUDIT_JSON, AUDIT_ECS: the audit trails (CAM_AUDIT_LOG) of two kernels
  with CAM_LOG_FORMAT=json and =ecs after the same calls, in the same order
  (seal lines included when they have a TPM).

- Promtail and Alloy: level and component are the only labels taken from
  the line; caller_id, request_id, trace_id never are; the push URL is
  Loki's; timestamps from the line's timestamp field.
- Ingest pipeline: its processors, applied here as Elasticsearch documents
  them (date, remove, lowercase, rename, set with a mustache value, and the
  three painless scripts, each by its tag, with the same effect), turn every
  JSON line into the ECS line the kernel wrote for the same call.
- Splunk: TIME_PREFIX and TIME_FORMAT of cam_os:json and cam_os:ecs find and
  read the lines' timestamps; inputs.conf uses sourcetypes props.conf has.
- The audit trail, in each of them: an input of its own that reads the
  trail and its rotated files (audit.log*) and that no access-log input
  reads, landing apart (Loki stream {job="cam-os-audit", log_type="audit"},
  no field and no file name a label; index cam-os-audit; sourcetype
  cam_os:audit in index cam_os_audit, indexes.conf); nothing on its way
  that drops, samples or rewrites a line (no Promtail or Alloy stage but
  json, timestamp and label drop; no Filebeat parser or processor; no
  Splunk TRUNCATE, SEDCMD or TRANSFORMS); the line's own time read from
  JSON and ECS lines alike. The audit ingest pipeline, applied as
  Elasticsearch would (fields as paths into objects, a rename onto an
  existing field or through a value that is not an object an error), to
  the JSON trail as Filebeat sends it (the line in message) and as
  syslog-ng sends it (its fields with event.original), gives the ECS trail
  the other kernel wrote, with event.original the line byte for byte; ECS
  lines pass unchanged.
Prints one ok/FAIL line per check and a count; exits 1 if any failed.
"""
import configparser
import datetime
import fnmatch
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
    """The few painless conditions the pipelines use, on ctx (the top-level
    map: ctx.a and ctx['a.b'] read a key of it, as painless does)."""
    if expr is None:
        return True
    out = True
    for part in expr.split("&&"):
        m = re.match(r"^\s*ctx(?:\.(\w+)|\['([\w.@]+)'\]) (==|!=) null\s*$", part)
        if m:
            present = doc.get(m.group(1) or m.group(2)) is not None
            out &= present if m.group(3) == "!=" else not present
            continue
        m = re.match(r"^\s*ctx\.(\w+) instanceof String\s*$", part)
        if not m:
            raise ValueError(f"condition not understood: {expr}")
        out &= isinstance(doc.get(m.group(1)), str)
    return out


class Failed(Exception):
    pass


# Field paths as Elasticsearch's ingest processors take them: "a.b" is key b
# of the object under key a (not a key "a.b" of the document).
def path_get(doc, path):
    cur = doc
    for k in path.split("."):
        if not isinstance(cur, dict) or k not in cur:
            return None
        cur = cur[k]
    return cur


def path_has(doc, path):
    cur = doc
    for k in path.split("."):
        if not isinstance(cur, dict) or k not in cur:
            return False
        cur = cur[k]
    return True


def path_set(doc, path, value):
    cur, keys = doc, path.split(".")
    for k in keys[:-1]:
        if k not in cur:
            cur[k] = {}
        elif not isinstance(cur[k], dict):
            raise Failed(f"cannot set [{path}]: [{k}] is a {type(cur[k]).__name__}, not an object")
        cur = cur[k]
    cur[keys[-1]] = value


def path_remove(doc, path):
    keys = path.split(".")
    parent = path_get(doc, ".".join(keys[:-1])) if len(keys) > 1 else doc
    if not isinstance(parent, dict) or keys[-1] not in parent:
        raise Failed(f"field [{path}] not present")
    return parent.pop(keys[-1])


def flatten(doc, prefix=""):
    """The document as dotted names (what an index maps: a.b whether written
    {"a": {"b": ...}} or {"a.b": ...}); a name given twice is an error."""
    out = {}
    for k, v in doc.items():
        name = prefix + k
        items = flatten(v, name + ".").items() if isinstance(v, dict) and v else [(name, v)]
        for n, x in items:
            if n in out:
                raise Failed(f"[{n}] twice in the document")
            out[n] = x
    return out


SCRIPTS = {
    "latency_ms-to-event.duration": lambda d: d.update({"event.duration": round(float(d.pop("latency_ms")) * 1e6)}),
    "success-to-event.outcome": lambda d: d.update({"event.outcome": "success" if d.pop("success") else "failure"}),
}


def audit_event_to_ecs(d):
    """audit-ingest-pipeline.json, script "event-to-ecs" (what the kernel's
    format() writes under CAM_LOG_FORMAT=ecs)."""
    ev, verb = d.pop("event"), d.pop("verb", None)
    if ev == "seal":
        d["event.action"] = "seal"
        return
    d["event.kind"] = "event"
    d["event.category"] = ("database" if ev == "write" else "configuration" if ev in ("admin", "reload")
                           else "iam" if ev in ("auth", "start", "stop")
                           else ("authentication" if d.get("code") == "UNAUTHENTICATED" else "iam")
                           if ev == "deny" else "api" if ev == "call" else "host")
    a = d.get("authorized")
    d["event.type"] = "denied" if a is False else "allowed"
    d["event.action"] = verb if verb is not None else ev
    d["event.reason"] = ev
    if a is not None:
        d["event.outcome"] = "success" if a else "failure"


SCRIPTS["event-to-ecs"] = audit_event_to_ecs


def others_under_cam(doc, source):
    keep = set(re.search(r"def keep = \[([^\]]*)\]", source).group(1).replace("'", "").replace(" ", "").split(","))
    for k in [k for k in doc if not k.startswith("_") and not k.startswith("cam.") and k not in keep
              and doc[k] is not None and not isinstance(doc[k], dict)]:
        doc["cam." + k] = doc.pop(k)


def run_pipeline(pipeline, doc):
    """The pipeline's processors as Elasticsearch documents them; returns the
    document as dotted names, or raises Failed (the pipeline's on_failure)."""
    doc = json.loads(json.dumps(doc))
    for proc in pipeline["processors"]:
        (kind, p), = proc.items()
        if not cond(p.get("if"), doc):
            continue
        if kind == "date":
            path_set(doc, p["target_field"], path_get(doc, p["field"]))  # ISO8601 in, ISO8601 out
        elif kind == "remove":
            path_remove(doc, p["field"])
        elif kind == "lowercase":
            path_set(doc, p.get("target_field", p["field"]), path_get(doc, p["field"]).lower())
        elif kind == "rename":
            if not path_has(doc, p["field"]):
                if p.get("ignore_missing"):
                    continue
                raise Failed(f"field [{p['field']}] doesn't exist")
            if path_has(doc, p["target_field"]):
                raise Failed(f"field [{p['target_field']}] already exists")
            path_set(doc, p["target_field"], path_remove(doc, p["field"]))
        elif kind == "set":
            if p.get("override", True) or not path_has(doc, p["field"]):
                path_set(doc, p["field"], mustache(p["value"], doc))
        elif kind == "json" and p.get("add_to_root"):
            parsed = json.loads(path_get(doc, p["field"]))
            if not isinstance(parsed, dict):
                raise Failed("cannot add a non-object to the root")
            doc.update(parsed)
        elif kind == "script" and p["tag"] in SCRIPTS:
            SCRIPTS[p["tag"]](doc)
        elif kind == "script" and p["tag"] == "others-under-cam":
            others_under_cam(doc, p["source"])
        else:
            raise ValueError(f"processor not simulated: {kind} {p.get('tag')}")
    return flatten(doc)


def safe_run(pipeline, doc):
    try:
        return run_pipeline(pipeline, doc)
    except Failed as x:
        return {"on_failure": str(x)}


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
        try:
            got = run_pipeline(pipeline, dict(j, **{"service.name": "cam-kernel"}))
        except Failed as x:
            got = {"on_failure": str(x)}
        # What differs between two runs of the same call: time, ids (the
        # request's, and a traced call's own span), latency.
        for d in (got, e):
            for k in ("@timestamp", "event.id", "span.id", "event.duration"):
                d[k] = type(d.get(k)).__name__ if k in d else None
        if got != e:
            bad.append((got, e))
    check(pairs and not bad, f"ingest-pipeline.json turns the JSON lines of {len(pairs)} calls into the kernel's own ECS lines",
          json.dumps(bad[:1]))
    passthrough = [e for e in el if safe_run(pipeline, e) != e]
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


# ------------------------------------------------------------- audit trail

AUDIT_FILE = "/var/lib/cam-os/audit.log"
ROTATED = AUDIT_FILE + ".20261207T235642.489Z"
AUDIT_STREAM = {"job": "cam-os-audit", "log_type": "audit"}
# Promtail/Alloy stages that keep every line as it is (json and timestamp
# only read it; a label drop only drops a label).
LINE_SAFE_STAGES = {"json", "timestamp", "labeldrop"}


def reads_trail(glob):
    return fnmatch.fnmatch(AUDIT_FILE, glob) and fnmatch.fnmatch(ROTATED, glob)


def reads_any(glob):
    return fnmatch.fnmatch(AUDIT_FILE, glob) or fnmatch.fnmatch(ROTATED, glob)


def rfc3339(ts):
    return datetime.datetime.fromisoformat(ts.replace("Z", "+00:00"))


def jmes_field(expr):
    """The two JMESPath forms the configs use: name and "quoted name"."""
    return expr[1:-1] if expr.startswith('"') else expr


def line_times(stages_json, stage_sources, raws):
    """Whether the timestamp stages read each line's own time (one of the
    json expressions they take holds it, RFC3339 with milliseconds)."""
    for raw in raws:
        obj = json.loads(raw)
        want = rfc3339(obj.get("timestamp") or obj["@timestamp"])
        got = [rfc3339(obj[jmes_field(stages_json[src])]) for src in stage_sources
               if src in stages_json and jmes_field(stages_json[src]) in obj]
        if got != [want]:
            return False
    return bool(raws)


def promtail_audit(root, raws):
    with open(os.path.join(root, "monitoring/logging/loki/promtail.yml")) as f:
        cfg = yaml.safe_load(f)
    audit, access = [], []
    for sc in cfg["scrape_configs"]:
        paths = [t["labels"].get("__path__", "") for t in sc.get("static_configs", [])]
        paths += [r.get("replacement", "") for r in sc.get("relabel_configs", []) if r.get("target_label") == "__path__"]
        (audit if any(p.endswith("audit.log*") for p in paths) else access).append((sc, paths))
    check(len(audit) == 2, "promtail.yml: two jobs read the audit trail and its rotated files (the file, Kubernetes)",
          str([sc["job_name"] for sc, _ in audit]))
    check(not any(reads_any(p) for _, ps in access for p in ps) and
          all(reads_trail(p) for sc, ps in audit if "static_configs" in sc for p in ps),
          "promtail.yml: the audit job reads audit.log and audit.log.<time>; no access-log job reads either")
    for sc, _ in audit:
        name = sc["job_name"]
        labels = {}
        for t in sc.get("static_configs", []):
            labels.update({k: v for k, v in t["labels"].items() if not k.startswith("__")})
        for r in sc.get("relabel_configs", []):
            if r.get("target_label") and not r["target_label"].startswith("__"):
                labels[r["target_label"]] = r["replacement"] if not r.get("source_labels") else "<" + r["source_labels"][0] + ">"
        check({k: v for k, v in labels.items() if k in AUDIT_STREAM} == AUDIT_STREAM and
              ("host" in labels if "static_configs" in sc else "pod" in labels),
              f"promtail.yml {name}: stream job=cam-os-audit, log_type=audit and {'host' if 'static_configs' in sc else 'namespace, pod'}",
              str(labels))
        stages = sc.get("pipeline_stages") or []
        kinds = {k for st in stages for k in st}
        check(kinds <= LINE_SAFE_STAGES,
              f"promtail.yml {name}: no stage drops, samples, limits or rewrites a line (only {sorted(LINE_SAFE_STAGES)})",
              str(sorted(kinds)))
        dropped = [x for st in stages for x in st.get("labeldrop", [])]
        check("filename" in dropped and "labels" not in kinds,
              f"promtail.yml {name}: no field of the line is a label, the file name is dropped")
        exprs = {k: v for st in stages if "json" in st for k, v in st["json"]["expressions"].items()}
        sources = [st["timestamp"]["source"] for st in stages if "timestamp" in st]
        check(line_times(exprs, sources, raws),
              f"promtail.yml {name}: the entry's time is the line's own, JSON and ECS lines ({len(raws)})")


def alloy_audit(root, raws):
    with open(os.path.join(root, "monitoring/logging/loki/config.alloy")) as f:
        text = f.read()

    def block(kind, name):
        m = re.search(r'^%s "%s" \{\n(.*?)^\}' % (re.escape(kind), re.escape(name)), text, re.M | re.S)
        return m.group(1) if m else ""
    fm = block("local.file_match", "cam_os_audit")
    proc = block("loki.process", "cam_os_audit")
    globs = re.findall(r'"__path__"\s*=\s*"([^"]+)"', text)
    check(fm and '"job" = "cam-os-audit"' in fm and '"log_type" = "audit"' in fm and '"host" =' in fm and
          any(reads_trail(g) for g in re.findall(r'"__path__"\s*=\s*"([^"]+)"', fm)),
          "config.alloy: local.file_match cam_os_audit reads audit.log*, stream job=cam-os-audit, log_type=audit, host")
    check(not any(reads_any(g) for g in globs if g not in re.findall(r'"__path__"\s*=\s*"([^"]+)"', fm)),
          "config.alloy: no access-log source reads the audit trail")
    sources = re.findall(r'loki\.source\.file "(cam_os_audit\w*)" \{(.*?)\n\}', text, re.S)
    check(len(sources) == 2 and all(re.findall(r"forward_to\s*=\s*\[([^\]]*)\]", b) == ["loki.process.cam_os_audit.receiver"]
                                    for _, b in sources),
          "config.alloy: both audit sources (file, Kubernetes) go only through loki.process.cam_os_audit",
          str([n for n, _ in sources]))
    stages = set(re.findall(r"^\s*stage\.(\w+)", proc, re.M))
    check(proc and stages <= {"json", "timestamp", "label_drop"},
          "config.alloy: cam_os_audit has no stage that drops, samples or rewrites a line", str(sorted(stages)))
    check('values = ["filename"]' in proc and "stage.labels" not in proc,
          "config.alloy: no field of an audit line is a label, the file name is dropped")
    exprs = dict(re.findall(r'(\w+)\s*=\s*"((?:[^"\\]|\\.)*)"', re.search(r"expressions\s*=\s*\{([^}]*)\}", proc).group(1)))
    exprs = {k: v.replace('\\"', '"') for k, v in exprs.items()}
    srcs = re.findall(r'stage\.timestamp \{\s*source\s*=\s*"(\w+)"', proc)
    check(line_times(exprs, srcs, raws), f"config.alloy: the entry's time is the audit line's own ({len(raws)} lines)")


def audit_pairs(aj, ae):
    """The two kernels' records in the order written, seals apart: a seal is
    queued when the TPM has signed, and one asked for while another is
    being signed is not made, so how many there are and where they land
    differ between two kernels; seals are paired in order as far as both go."""
    def split(raws):
        seals = [r for r in raws if json.loads(r).get("event", json.loads(r).get("event.action")) == "seal"]
        return [r for r in raws if r not in seals], seals
    (jr, js), (er, es) = split(aj), split(ae)
    return list(zip(jr, er)) + list(zip(js, es)), len(jr) == len(er) and js and es, min(len(js), len(es))


VARY = ("@timestamp", "event.id", "source.address", "seq", "prev", "sealed", "lines", "tpm_clock",
        "tpm_reset_count", "tpm_restart_count", "tpm_safe", "signature")


def same_record(got, want):
    g, w = dict(got), dict(want)
    for d in (g, w):
        for k in VARY:
            if k in d:
                d[k] = type(d[k]).__name__
    return g == w


FILEBEAT_FIELDS = {"@timestamp": "2026-12-07T00:00:00.000Z", "log": {"offset": 0, "file": {"path": AUDIT_FILE}},
                   "input": {"type": "filestream"}, "tags": ["cam-os-audit"], "host": {"name": "node-1"},
                   "agent": {"type": "filebeat", "version": "8.11.0"}, "ecs": {"version": "8.0.0"}}


def filebeat_audit(root, aj, ae):
    with open(os.path.join(root, "monitoring/logging/elasticsearch/filebeat.yml")) as f:
        fb = yaml.safe_load(f)
    inputs = {i.get("id"): i for i in fb["filebeat.inputs"]}
    a = inputs.get("cam-os-audit", {})
    check(a.get("type") == "filestream" and any(reads_trail(p) for p in a.get("paths", [])),
          "filebeat.yml: input cam-os-audit (filestream, file identity by inode) reads audit.log and its rotations")
    check(a.get("index") == "cam-os-audit" and a.get("pipeline") == "cam-os-audit" and
          fb["output.elasticsearch"]["index"] != "cam-os-audit",
          "filebeat.yml: the audit input has its own index (cam-os-audit) and pipeline (cam-os-audit)")
    check(not a.get("parsers") and not a.get("processors") and "exclude_lines" not in a and "include_lines" not in a,
          "filebeat.yml: nothing on the audit input parses, drops or rewrites a line (it goes whole as message)")
    check(not any(reads_any(p) for i in fb["filebeat.inputs"] if i is not a for p in i.get("paths", [])),
          "filebeat.yml: no access-log input reads the audit trail")
    with open(os.path.join(root, "monitoring/logging/elasticsearch/audit-ingest-pipeline.json")) as f:
        pipeline = json.load(f)
    pairs, aligned, nseals = audit_pairs(aj, ae)
    check(aligned and pairs, f"the two kernels wrote the same records: {len(pairs)} pairs, {nseals} of them seals",
          f"{len(aj)} JSON lines, {len(ae)} ECS lines")
    fb_keys = set(flatten(FILEBEAT_FIELDS)) - {"@timestamp"}
    bad = {"filebeat": [], "syslog-ng": []}
    for jraw, eraw in pairs:
        j, e = json.loads(jraw), json.loads(eraw)
        want = dict(e, **{"event.original": jraw})
        got = safe_run(pipeline, dict(FILEBEAT_FIELDS, message=jraw))
        got = {k: v for k, v in got.items() if k not in fb_keys}
        if not same_record(got, want) or got.get("event.original") != jraw:
            bad["filebeat"].append((got, want))
        got = safe_run(pipeline, dict(j, **{"event.original": jraw, "host.name": "node-1"}))
        if not same_record(got, dict(want, **{"host.name": "node-1"})) or got.get("event.original") != jraw:
            bad["syslog-ng"].append((got, want))
    for how, b in bad.items():
        check(pairs and not b, f"audit-ingest-pipeline.json, the JSON trail as {how} sends it: the kernel's own "
              f"ECS records ({len(pairs)}), event.original the line byte for byte, seq and prev kept",
              json.dumps(b[:1])[:1500])
    passed_fb = [r for r in ae if {k: v for k, v in safe_run(pipeline, dict(FILEBEAT_FIELDS, message=r)).items()
                                   if k not in fb_keys and k != "@timestamp"} !=
                 {k: v for k, v in dict(json.loads(r), **{"event.original": r}).items() if k != "@timestamp"}]
    passed_sn = [r for r in ae if safe_run(pipeline, dict(json.loads(r), **{"event.original": r, "host.name": "n"})) !=
                 dict(json.loads(r), **{"event.original": r, "host.name": "n"})]
    check(ae and not passed_fb and not passed_sn,
          f"audit-ingest-pipeline.json leaves the ECS trail ({len(ae)} lines) as it is, event.original the line",
          str((passed_fb[:1], passed_sn[:1]))[:800])


def splunk_audit(root, raws):
    props = configparser.RawConfigParser(strict=False, interpolation=None)
    props.optionxform = str
    props.read(os.path.join(root, "monitoring/logging/splunk/props.conf"))
    s = props["cam_os:audit"] if props.has_section("cam_os:audit") else {}
    ok = bool(raws) and bool(s)
    for raw in raws if s else []:
        obj = json.loads(raw)
        want = datetime.datetime.strptime(obj.get("timestamp") or obj["@timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ")
        ok &= splunk_time(s["TIME_PREFIX"], s["TIME_FORMAT"], raw) == want
    check(ok, f"props.conf [cam_os:audit]: TIME_PREFIX/TIME_FORMAT read the time of {len(raws)} JSON and ECS audit lines to the millisecond")
    check(s and s.get("TRUNCATE") == "0" and s.get("SHOULD_LINEMERGE") == "false" and s.get("KV_MODE") == "json" and
          not any(k.startswith(("SEDCMD", "TRANSFORMS")) for k in s),
          "props.conf [cam_os:audit]: one event a line, never cut (TRUNCATE = 0), never rewritten (no SEDCMD, TRANSFORMS)")
    inputs = configparser.RawConfigParser(strict=False, interpolation=None)
    inputs.read(os.path.join(root, "monitoring/logging/splunk/inputs.conf"))
    audit = [x for x in inputs.sections() if inputs[x].get("sourcetype") == "cam_os:audit"]
    globs = {x: x.split("://", 1)[1] for x in inputs.sections() if x.startswith("monitor://")}
    check(audit and all(inputs[x].get("index") == "cam_os_audit" for x in audit) and
          reads_trail(globs.get(audit[0], "")) and inputs[audit[0]].get("disabled") == "false",
          "inputs.conf: the audit trail and its rotations, sourcetype cam_os:audit, index cam_os_audit", str(audit))
    check(not any(reads_any(g) for x, g in globs.items() if x not in audit),
          "inputs.conf: no access-log stanza reads the audit trail")
    indexes = configparser.RawConfigParser(strict=False, interpolation=None)
    indexes.read(os.path.join(root, "monitoring/logging/splunk/indexes.conf"))
    check(indexes.has_section("cam_os_audit") and indexes["cam_os_audit"].get("homePath"),
          "indexes.conf defines cam_os_audit")


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
    if len(sys.argv) > 5:
        with open(sys.argv[4]) as f:
            aj = [l.rstrip("\n") for l in f]
        with open(sys.argv[5]) as f:
            ae = [l.rstrip("\n") for l in f]
        promtail_audit(root, aj + ae)
        alloy_audit(root, aj + ae)
        filebeat_audit(root, aj, ae)
        splunk_audit(root, aj + ae)
    print(f"check_logging: {passed} checks passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
