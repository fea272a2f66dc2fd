#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A small OTLP/HTTP (JSON) and Zipkin v2 receiver for the tracing tests.

POST /v1/traces     OTLP ExportTraceServiceRequest, JSON encoding
POST /api/v2/spans  Zipkin v2 span list
GET  /spans         every span received so far, flattened to one shape:
                    {"format", "trace_id", "span_id", "parent_id", "name",
                     "kind", "start_ns"/"start_us", "end_ns"/"duration_us",
                     "attributes", "resource", "error"}
GET  /stats         {"requests": N, "refused": N}

--fail N answers the first N POSTs 503; --delay S sleeps S seconds before
answering each POST (a slow receiver).
"""
import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import time

LOCK = threading.Lock()
SPANS = []
STATS = {"requests": 0, "refused": 0}


def attrs(lst):
    return {a["key"]: list(a["value"].values())[0] for a in lst or []}


def take_otlp(body):
    out = []
    for rs in body.get("resourceSpans", []):
        res = attrs(rs.get("resource", {}).get("attributes"))
        for ss in rs.get("scopeSpans", []):
            for s in ss.get("spans", []):
                out.append({
                    "format": "otlp", "trace_id": s["traceId"], "span_id": s["spanId"],
                    "parent_id": s.get("parentSpanId", ""), "name": s["name"],
                    "kind": s.get("kind"), "start_ns": int(s["startTimeUnixNano"]),
                    "end_ns": int(s["endTimeUnixNano"]), "attributes": attrs(s.get("attributes")),
                    "resource": res, "error": s.get("status", {}).get("code") == 2})
    return out


def take_zipkin(body):
    out = []
    for s in body:
        out.append({
            "format": "zipkin", "trace_id": s["traceId"], "span_id": s["id"],
            "parent_id": s.get("parentId", ""), "name": s["name"], "kind": s.get("kind"),
            "start_us": s["timestamp"], "duration_us": s.get("duration", 0),
            "attributes": s.get("tags", {}),
            "resource": {"service.name": s.get("localEndpoint", {}).get("serviceName")},
            "error": "error" in s.get("tags", {})})
    return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, body=b"{}", ctype="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with LOCK:
            if self.path == "/spans":
                return self.reply(200, json.dumps(SPANS).encode())
            if self.path == "/stats":
                return self.reply(200, json.dumps(STATS).encode())
        self.reply(404)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n)
        if ARGS.delay:
            time.sleep(ARGS.delay)
        with LOCK:
            STATS["requests"] += 1
            if STATS["requests"] <= ARGS.fail:
                STATS["refused"] += 1
                return self.reply(503, b'{"error":"try later"}')
        if not self.headers.get("Content-Type", "").startswith("application/json"):
            return self.reply(415)
        try:
            body = json.loads(raw)
            spans = take_otlp(body) if self.path == "/v1/traces" else \
                take_zipkin(body) if self.path == "/api/v2/spans" else None
        except (ValueError, KeyError, TypeError) as e:
            return self.reply(400, json.dumps({"error": str(e)}).encode())
        if spans is None:
            return self.reply(404)
        with LOCK:
            SPANS.extend(spans)
        self.reply(200 if self.path == "/v1/traces" else 202)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("--fail", type=int, default=0)
    p.add_argument("--delay", type=float, default=0)
    ARGS = p.parse_args()
    ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler).serve_forever()
