#!/usr/bin/python3
"""Offline checks of monitoring/otel/: the OpenTelemetry Collector and
Grafana Alloy configs that receive CAM-OS's three OTLP signals. Neither
program is packaged by Debian or installable on the test machines, so
their configs are checked here for what would make them refuse to start or
drop a signal: every component a pipeline (or an Alloy reference) names is
defined, the OTLP receiver listens for HTTP on 4318 (what
CAM_OTLP_ENDPOINT=http://host:4318 reaches), and metrics, logs and traces
each have a path from that receiver to an exporter.

usage: check_otel.py [FOLDER]   (default monitoring/otel)

SPDX-License-Identifier: Apache-2.0
"""
import os
import re
import sys

import yaml

PASSED = FAILED = 0


def check(what, cond, detail=""):
    global PASSED, FAILED
    if cond:
        PASSED += 1
        print("  ok   " + what)
    else:
        FAILED += 1
        print("  FAIL " + what + (": " + detail if detail else ""))


def collector(path):
    c = yaml.safe_load(open(path))
    http = (((c.get("receivers") or {}).get("otlp") or {}).get("protocols") or {}).get("http") or {}
    check("collector: otlp receiver on HTTP :4318", str(http.get("endpoint", "")).endswith(":4318"))
    pipes = (c.get("service") or {}).get("pipelines") or {}
    for signal in ("metrics", "logs", "traces"):
        p = pipes.get(signal) or {}
        check("collector: a %s pipeline from the otlp receiver" % signal,
              "otlp" in (p.get("receivers") or []) and p.get("exporters"))
        for kind in ("receivers", "processors", "exporters"):
            missing = [n for n in p.get(kind) or [] if n not in (c.get(kind) or {})]
            check("collector: the %s of the %s pipeline are defined" % (kind, signal),
                  not missing, " ".join(missing))
    ext = (c.get("service") or {}).get("extensions") or []
    check("collector: service extensions defined",
          all(e in (c.get("extensions") or {}) for e in ext))
    metrics_exp = [(c.get("exporters") or {}).get(e) or {} for e in (pipes.get("metrics") or {}).get("exporters") or []]
    check("collector: metrics go to Prometheus' OTLP receiver (/api/v1/otlp)",
          any("/api/v1/otlp" in str(e.get("metrics_endpoint", e.get("endpoint", ""))) for e in metrics_exp))


BLOCK = re.compile(r'^([a-z_][a-z0-9_.]*)\s+"([^"]+)"\s*\{', re.M)
REF = re.compile(r'\b((?:otelcol|prometheus|loki)\.[a-z_.]+)\.([a-z0-9_]+)\.(input|receiver)\b')


def alloy(path):
    text = open(path).read()
    body = re.sub(r"//[^\n]*", "", text)
    check("alloy: braces balance", body.count("{") == body.count("}"))
    defined = {(m.group(1), m.group(2)) for m in BLOCK.finditer(body)}
    refs = {(m.group(1), m.group(2)) for m in REF.finditer(body)}
    missing = sorted("%s.%s" % r for r in refs - defined)
    check("alloy: every component referenced is defined (%d)" % len(refs), not missing, " ".join(missing))
    recv = re.search(r'otelcol\.receiver\.otlp\s+"[^"]+"\s*\{(.*?)\n\}', body, re.S)
    check("alloy: an otelcol.receiver.otlp listening for HTTP on :4318",
          recv and re.search(r'http\s*\{[^}]*endpoint\s*=\s*"[^"]*:4318"', recv.group(1)))
    for signal in ("metrics", "logs", "traces"):
        check("alloy: the receiver outputs %s" % signal,
              recv and re.search(r"\b%s\s*=\s*\[[^\]]+\]" % signal, recv.group(1)))
    for comp, want in (("otelcol.exporter.prometheus", "metrics"), ("otelcol.exporter.loki", "logs"),
                       ("otelcol.exporter.otlp", "traces")):
        check("alloy: %s is reached by the %s output" % (comp, want),
              re.search(r"\b%s\s*=\s*\[%s\." % (want, re.escape(comp)), body))
    unknown = [b for b, _ in defined if b.split(".")[0] not in ("otelcol", "prometheus", "loki")]
    check("alloy: only otelcol, prometheus and loki components", not unknown, " ".join(unknown))


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "monitoring/otel"
    collector(os.path.join(folder, "otelcol.yaml"))
    alloy(os.path.join(folder, "config.alloy"))
    print("otel configs: %d passed, %d failed" % (PASSED, FAILED))
    sys.exit(1 if FAILED else 0)


main()
