#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Local stand-ins for the three log stores a shipper posts to, each checking
every request against the documented request format and recording what it
accepted, so a test can compare what arrived with what the kernel wrote.

usage: log_receiver.py OUTDIR LOKI_PORT ES_PORT HEC_PORT HEC_TOKEN

- Loki push API (POST /loki/api/v1/push, Content-Type application/json):
  {"streams":[{"stream":{LABEL:VALUE},"values":[["<unix ns>","<line>"],...]}]};
  label names [a-zA-Z_][a-zA-Z0-9_]*, string values, timestamps strings of
  digits; answers 204. Recorded in OUTDIR/loki.jsonl.
- Elasticsearch _bulk (POST /_bulk or /<index>/_bulk, Content-Type
  application/x-ndjson or application/json): newline-delimited pairs of an
  action line ({"index"|"create": {...}}) and a source document, the body
  ending with a newline; answers 200 with one item per action. A create
  with an _id the index already holds is refused for that item alone (409
  version_conflict_engine_exception, "errors":true), as Elasticsearch does,
  and not recorded again. Recorded in OUTDIR/elasticsearch.jsonl.
- Splunk HTTP Event Collector, event endpoint (POST /services/collector/event,
  "Authorization: Splunk <token>"): one or more JSON event objects one after
  another (no array), each with "event" (string or object) and optional
  "time" (epoch seconds, number or numeric string), "host", "source",
  "sourcetype", "index" (strings) and "fields" (flat object); answers
  {"text":"Success","code":0}, or Splunk's own error codes (2 token required,
  4 invalid token, 5 no data, 6 invalid data format, 12 event field is
  required, 13 event field cannot be blank). Recorded in OUTDIR/splunk.jsonl.

Every refused request is recorded in OUTDIR/errors.jsonl with the reason.
Records are appended and flushed at once, so a receiver killed and started
again (the outage a test makes) keeps what it had.
"""
import json
import os
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
lock = threading.Lock()
outdir = None
es_ids = set()  # (index, _id) of every document created, across restarts


def record(kind, items):
    with lock, open(os.path.join(outdir, kind + ".jsonl"), "a") as f:
        for it in items:
            f.write(json.dumps(it) + "\n")
        f.flush()


class Refused(Exception):
    def __init__(self, status, body):
        super().__init__(body)
        self.status, self.body = status, body


def loki(handler, body):
    ctype = handler.headers.get("Content-Type", "").split(";")[0].strip()
    if handler.path != "/loki/api/v1/push":
        raise Refused(404, "404 page not found")
    if ctype != "application/json":
        raise Refused(415, f"unsupported Content-Type {ctype!r} (this receiver checks JSON pushes)")
    try:
        doc = json.loads(body)
    except ValueError as e:
        raise Refused(400, f"not JSON: {e}")
    if not isinstance(doc, dict) or not isinstance(doc.get("streams"), list) or set(doc) != {"streams"}:
        raise Refused(400, 'body must be {"streams": [...]}')
    out = []
    for s in doc["streams"]:
        if not isinstance(s, dict) or not isinstance(s.get("stream"), dict) or not isinstance(s.get("values"), list):
            raise Refused(400, 'each stream needs "stream" (labels) and "values"')
        for k, v in s["stream"].items():
            if not LABEL.match(k) or not isinstance(v, str):
                raise Refused(400, f"bad label {k!r}={v!r}")
        for v in s["values"]:
            if not isinstance(v, list) or len(v) not in (2, 3) or not isinstance(v[0], str) \
                    or not v[0].isdigit() or not isinstance(v[1], str):
                raise Refused(400, f'each value is ["<unix ns>", "<line>"]: {v!r}')
            out.append({"labels": s["stream"], "ts": v[0], "line": v[1]})
    if not out:
        raise Refused(400, "no entries")
    record("loki", out)
    return 204, b"", "text/plain"


def bulk(handler, body):
    ctype = handler.headers.get("Content-Type", "").split(";")[0].strip()
    if not re.match(r"^(/[^/_][^/]*)?/_bulk$", handler.path.split("?")[0]):
        raise Refused(404, "no handler for " + handler.path)
    if ctype not in ("application/x-ndjson", "application/json"):
        raise Refused(406, f"Content-Type header [{ctype}] is not supported")
    text = body.decode("utf-8")
    if not text.endswith("\n"):
        raise Refused(400, "The bulk request must be terminated by a newline [\\n]")
    lines = [line for line in text.split("\n")[:-1]]
    docs, items, i, errors = [], [], 0, False
    while i < len(lines):
        try:
            action = json.loads(lines[i])
        except ValueError as e:
            raise Refused(400, f"action line {i + 1} is not JSON: {e}")
        if not isinstance(action, dict) or len(action) != 1 or next(iter(action)) not in ("index", "create"):
            raise Refused(400, f"line {i + 1}: expected an index or create action, got {lines[i]!r}")
        (op, meta), = action.items()
        index = (meta or {}).get("_index") or handler.path.split("/")[1]
        if not index or index == "_bulk":
            raise Refused(400, f"line {i + 1}: no _index in the action nor the path")
        if i + 1 >= len(lines):
            raise Refused(400, f"line {i + 1}: action without a source document")
        try:
            src = json.loads(lines[i + 1])
        except ValueError as e:
            raise Refused(400, f"source line {i + 2} is not JSON: {e}")
        if not isinstance(src, dict):
            raise Refused(400, f"source line {i + 2} is not an object")
        i += 2
        _id = (meta or {}).get("_id")
        with lock:
            dup = _id is not None and op == "create" and (index, _id) in es_ids
            if _id is not None:
                es_ids.add((index, _id))
        if dup:
            errors = True
            items.append({op: {"_index": index, "_id": _id, "status": 409, "error": {
                "type": "version_conflict_engine_exception",
                "reason": f"[{_id}]: version conflict, document already exists"}}})
            continue
        docs.append({"op": op, "index": index, "id": _id, "pipeline": (meta or {}).get("pipeline"), "doc": src})
        items.append({op: {"_index": index, "_id": _id or str(len(items)), "status": 201, "result": "created"}})
    if not items:
        raise Refused(400, "Validation Failed: 1: no requests added;")
    if docs:
        record("elasticsearch", docs)
    return 200, json.dumps({"took": 1, "errors": errors, "items": items}).encode(), "application/json"


def hec(handler, body, token):
    if handler.path.split("?")[0] not in ("/services/collector/event", "/services/collector/event/1.0",
                                          "/services/collector"):
        raise Refused(404, json.dumps({"text": "The requested URL was not found on this server.", "code": 404}))
    auth = handler.headers.get("Authorization", "")
    if not auth:
        raise Refused(401, json.dumps({"text": "Token is required", "code": 2}))
    if auth != "Splunk " + token:
        raise Refused(403, json.dumps({"text": "Invalid token", "code": 4}))
    text = body.decode("utf-8").strip()
    if not text:
        raise Refused(400, json.dumps({"text": "No data", "code": 5}))
    dec, pos, out = json.JSONDecoder(), 0, []
    while pos < len(text):
        try:
            ev, pos = dec.raw_decode(text, pos)
        except ValueError:
            raise Refused(400, json.dumps({"text": "Invalid data format", "code": 6, "invalid-event-number": len(out)}))
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if not isinstance(ev, dict) or "event" not in ev:
            raise Refused(400, json.dumps({"text": "Event field is required", "code": 12, "invalid-event-number": len(out)}))
        if ev["event"] in ("", None, {}):
            raise Refused(400, json.dumps({"text": "Event field cannot be blank", "code": 13, "invalid-event-number": len(out)}))
        t = ev.get("time")
        try:
            if t is not None:
                float(t)
        except (TypeError, ValueError):
            raise Refused(400, json.dumps({"text": "Error in handling indexed fields", "code": 15, "invalid-event-number": len(out)}))
        for k in ("host", "source", "sourcetype", "index"):
            if k in ev and not isinstance(ev[k], str):
                raise Refused(400, json.dumps({"text": f"Invalid {k}", "code": 6, "invalid-event-number": len(out)}))
        if "fields" in ev and (not isinstance(ev["fields"], dict) or
                               any(isinstance(v, dict) for v in ev["fields"].values())):
            raise Refused(400, json.dumps({"text": "Error in handling indexed fields", "code": 15, "invalid-event-number": len(out)}))
        out.append(ev)
    record("splunk", out)
    return 200, json.dumps({"text": "Success", "code": 0}).encode(), "application/json"


def make_handler(kind, token):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n)
            try:
                if kind == "loki":
                    status, out, ctype = loki(self, body)
                elif kind == "es":
                    status, out, ctype = bulk(self, body)
                else:
                    status, out, ctype = hec(self, body, token)
            except Refused as e:
                record("errors", [{"kind": kind, "path": self.path, "status": e.status, "reason": e.body}])
                status, out, ctype = e.status, e.body.encode(), "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def do_GET(self):
            out = b'{"version":{"number":"8.11.0"}}' if kind == "es" else b"ready"
            self.send_response(200)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)
    return Handler


def main():
    global outdir
    outdir, lport, eport, hport, token = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    try:  # a receiver started again knows what the one before it indexed
        with open(os.path.join(outdir, "elasticsearch.jsonl")) as f:
            for line in f:
                d = json.loads(line)
                if d.get("id") is not None:
                    es_ids.add((d["index"], d["id"]))
    except FileNotFoundError:
        pass
    servers = [ThreadingHTTPServer(("127.0.0.1", p), make_handler(k, token))
               for k, p in (("loki", lport), ("es", eport), ("hec", hport))]
    for s in servers[1:]:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    servers[0].serve_forever()


if __name__ == "__main__":
    main()
