#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Checks of the CAM-OS monitoring assets that promtool and amtool cannot do.

Run by tests/integration/test_monitoring.sh (python3 standard library plus
PyYAML, Debian's python3-yaml). Each mode prints one line per problem and
exits 1 if there was any:

  dashboard DASHBOARD.json
      Structure: importable into Grafana 10+ (schemaVersion >= 38, stable
      uid and title), a `datasource` variable of type datasource (query
      prometheus), every panel with a datasource of ${datasource}, a query
      and a unit, rates over $__rate_interval, histogram_quantile over
      sum by (le, ...)(rate(..._bucket[...])), the seed's five rows and Audit.
  rules ALERTS.yml RUNBOOKS.md
      The seed's five alerts are there, each with for:, severity, title,
      summary, description and a runbook_url whose anchor is a heading of
      docs/runbooks.md.
  live PROM_URL SCRAPE DASHBOARD.json ALERTS.yml [--require-data]
       [--data-timeout SECONDS]
      Every PromQL expression of the dashboard (Grafana variables replaced)
      and of the rules is accepted by the live Prometheus at PROM_URL, and
      every metric name it uses has series in the live SCRAPE (exporter
      /metrics text). With --require-data, every dashboard query returns
      data (a sample that is not NaN) other than 0, but for the few
      queries in ZERO_OK, which may be 0; a failure names the panel.
      Retried until --data-timeout (default 45 s).
"""
import json
import math
import re
import sys
import time
import urllib.parse
import urllib.request

import yaml

SEED_ALERTS = {  # alertname -> (seed title, runbook anchor)
    "CamOSDown": ("CAM-OS Down", "cam-os-down"),
    "HighSyscallLatency": ("High Syscall Latency", "high-syscall-latency"),
    "MemoryContextErrors": ("Memory Context Errors", "memory-context-errors"),
    "SecurityViolations": ("Security Violations", "security-violations"),
    "PerformanceDegradation": ("Performance Degradation", "performance-degradation"),
}
SEED_ROWS = ["System Health", "Performance", "Security", "Business", "Operational"]
# The dashboard's rows: the seed's five, and Audit (issue 27) after Security.
ROWS = ["System Health", "Performance", "Security", "Audit", "Business", "Operational"]
DASHBOARD_UID = "cam-os-overview"
DASHBOARD_TITLE = "CAM-OS Overview"
# Series Prometheus makes itself for every target.
PROMETHEUS_SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped",
                        "scrape_series_added", "scrape_samples_post_metric_relabeling"}
# Series of other exporters that rules may use where they exist (the rule
# is then written so that it says nothing without them).
OTHER_EXPORTERS = {"kube_deployment_spec_replicas"}  # kube-state-metrics, in Kubernetes
GRAFANA_VARS = {"__rate_interval": "1m", "__interval": "15s", "__range": "5m",
                "job": ".*", "instance": ".*"}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool",
                "and", "or", "unless", "offset", "inf", "nan", "atan2", "start", "end"}
NO_DATA_PANELS = {"text", "row"}
# Panel queries (title/refId) whose value is 0 on a working system: data
# is still required of them (a series at 0, not NaN), activity is not.
ZERO_OK = {
    "Scheduler queue size by class/A": "a gauge: the queues are empty between bursts",
    "Driver instances busy and invokes queued/A": "a gauge: no driver call runs while the queries run",
    "Driver instances busy and invokes queued/B": "a gauge: no driver call waits while the queries run",
    "gRPC connections and streams/B": "a gauge: no call is in flight while the queries run",
    "Series count/B": "series added by the last scrape: none once the load has stopped",
    "Log lines dropped/A": "the kernel's logger drops lines only when its ring overflows",
    "Log lines dropped/B": "the exporter's logger drops lines only when its ring overflows",
    "Bus: snapshots and errors/C": "bus send errors: none on a healthy bus",
    "Bus: snapshots and errors/D": "snapshot decode errors: none between matching builds",
    "Spans accepted and dropped/B": "span ring overwrites: none unless spans outpace the publisher",
    "Redis failovers and unconfirmed writes/A": "master changes: none without a Sentinel failover",
    "Redis failovers and unconfirmed writes/B": "unconfirmed writes: none without CAM_REDIS_MIN_REPLICAS_ACK",
    "Audit write failures/A": "records the audit trail could not take: none while it can be written",
    "Audit Log component/B": "degraded: 0 while the audit trail can be written",
}

problems = []


def problem(msg):
    problems.append(msg)
    print("  problem: " + msg)


def done():
    return 1 if problems else 0


# ---------------------------------------------------------------- dashboard

def all_panels(dash):
    for p in dash.get("panels", []):
        yield p
        for q in p.get("panels", []):  # collapsed rows keep their panels inside
            yield q


def dashboard_queries(dash):
    """(where, expr) for every PromQL expression in the dashboard."""
    for p in all_panels(dash):
        for t in p.get("targets", []):
            if t.get("expr"):
                yield "panel %r (%s)" % (p.get("title"), t.get("refId")), t["expr"]
    for a in dash.get("annotations", {}).get("list", []):
        if a.get("expr"):
            yield "annotation %r" % a.get("name"), a["expr"]


def substitute(expr):
    def repl(m):
        name = m.group(1) or m.group(2) or m.group(3)
        return GRAFANA_VARS.get(name, m.group(0))
    out = re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]", repl, expr)
    return out


def check_rate_intervals(where, expr):
    for fn, rng in re.findall(r"\b(rate|irate|increase)\s*\([^\[]*\[([^\]]*)\]", expr):
        allowed = ["$__rate_interval"] + (["$__range"] if fn == "increase" else [])
        if rng not in allowed:
            problem("%s: %s over [%s], not $__rate_interval" % (where, fn, rng))
    for m in re.finditer(r"histogram_quantile\s*\(", expr):
        inner = expr[m.end():]
        # Native buckets: over sum (by anything but le) of the histogram's
        # own rate, on a Prometheus with native histograms enabled.
        native = re.match(r"\s*[0-9.]+\s*,\s*sum(?:\s+by\s*\(([^)]*)\))?\s*\(\s*rate\((\w+)\{[^}]*\}\[\$__rate_interval\]\)\s*\)",
                          inner)
        if native and not native.group(2).endswith("_bucket"):
            if "le" in [x.strip() for x in (native.group(1) or "").split(",")]:
                problem("%s: native histogram_quantile sum by (%s) has le" % (where, native.group(1)))
            continue
        if not re.match(r"\s*[0-9.]+\s*,\s*sum\s+by\s*\(([^)]*)\)\s*\(\s*rate\(\w+_bucket\{[^}]*\}\[\$__rate_interval\]\)\s*\)",
                        inner):
            problem("%s: histogram_quantile not over sum by (le, ...)(rate(..._bucket[$__rate_interval]))" % where)
            continue
        by = re.match(r"\s*[0-9.]+\s*,\s*sum\s+by\s*\(([^)]*)\)", inner).group(1)
        if "le" not in [x.strip() for x in by.split(",")]:
            problem("%s: histogram_quantile sum by (%s) lacks le" % (where, by))


def check_dashboard(path):
    with open(path) as f:
        dash = json.load(f)
    if not isinstance(dash.get("schemaVersion"), int) or dash["schemaVersion"] < 38:
        problem("schemaVersion %r < 38 (Grafana 10)" % dash.get("schemaVersion"))
    if dash.get("uid") != DASHBOARD_UID:
        problem("uid %r, expected %r" % (dash.get("uid"), DASHBOARD_UID))
    if dash.get("title") != DASHBOARD_TITLE:
        problem("title %r, expected %r" % (dash.get("title"), DASHBOARD_TITLE))
    if dash.get("id") not in (None,):
        problem("dashboard has a fixed id (%r): imports would clash" % dash.get("id"))
    if "__inputs" in dash:
        problem("__inputs present: file provisioning would not substitute them; use ${datasource}")
    variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        problem("no template variable 'datasource' of type datasource with query prometheus")
    for name, v in variables.items():
        if v.get("type") == "query" and v.get("datasource", {}).get("uid") != "${datasource}":
            problem("variable %s: datasource is not ${datasource}" % name)
    rows = [p.get("title") for p in dash.get("panels", []) if p.get("type") == "row"]
    if rows != ROWS:
        problem("rows %r, expected %r (the seed's five and Audit)" % (rows, ROWS))
    ids, n = set(), 0
    for p in all_panels(dash):
        where = "panel %r" % p.get("title")
        if p.get("id") in ids:
            problem("%s: duplicate id %r" % (where, p.get("id")))
        ids.add(p.get("id"))
        if not p.get("title"):
            problem("panel id %r has no title" % p.get("id"))
        gp = p.get("gridPos", {})
        if not all(isinstance(gp.get(k), int) for k in "hwxy") or gp.get("x", 0) + gp.get("w", 0) > 24:
            problem("%s: bad gridPos %r" % (where, gp))
        if p.get("type") in NO_DATA_PANELS:
            continue
        n += 1
        if p.get("datasource", {}).get("uid") != "${datasource}":
            problem("%s: datasource %r is not ${datasource}" % (where, p.get("datasource")))
        targets = p.get("targets") or []
        if not targets or not all(t.get("expr", "").strip() for t in targets):
            problem("%s: a target without a query" % where)
        for t in targets:
            if t.get("datasource", {}).get("uid") != "${datasource}":
                problem("%s: target %s datasource is not ${datasource}" % (where, t.get("refId")))
            check_rate_intervals(where, t.get("expr", ""))
        if not p.get("fieldConfig", {}).get("defaults", {}).get("unit"):
            problem("%s: no unit" % where)
        if not p.get("description"):
            problem("%s: no description" % where)
    for where, expr in dashboard_queries(dash):
        left = substitute(expr)
        if "$" in left:
            problem("%s: unknown Grafana variable in %s" % (where, expr))
    print("  %d panels with queries checked" % n)
    return done()


# -------------------------------------------------------------------- rules

def github_anchor(heading):
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def rule_exprs(path):
    with open(path) as f:
        doc = yaml.safe_load(f)
    for g in doc["groups"]:
        for r in g["rules"]:
            name = r.get("alert") or r.get("record")
            yield "rule %s%s" % (name, "/" + r["labels"].get("severity", "") if r.get("labels") else ""), r["expr"], r


def check_rules(path, runbooks):
    with open(runbooks) as f:
        anchors = {github_anchor(m) for m in re.findall(r"^#+\s+(.*)$", f.read(), re.M)}
    seen = set()
    for where, expr, r in rule_exprs(path):
        if "alert" not in r:
            continue
        name = r["alert"]
        seen.add(name)
        url = r.get("annotations", {}).get("runbook_url", "")
        if "#" not in url or url.rsplit("#", 1)[1] not in anchors:
            problem("%s: runbook_url %r names no heading of docs/runbooks.md" % (where, url))
        if name not in SEED_ALERTS:
            continue
        title, anchor = SEED_ALERTS[name]
        if not r.get("for"):
            problem("%s: no for:" % where)
        if r.get("labels", {}).get("severity") not in ("critical", "warning", "info"):
            problem("%s: severity label missing or odd" % where)
        ann = r.get("annotations", {})
        for k in ("summary", "description", "runbook_url"):
            if not ann.get(k):
                problem("%s: no %s annotation" % (where, k))
        if ann.get("title") != title:
            problem("%s: title %r, expected the seed's %r" % (where, ann.get("title"), title))
        url = ann.get("runbook_url", "")
        if not url.endswith("docs/runbooks.md#" + anchor):
            problem("%s: runbook_url %r does not point at docs/runbooks.md#%s" % (where, url, anchor))
        if anchor not in anchors:
            problem("%s: docs/runbooks.md has no heading for #%s" % (where, anchor))
    for name in SEED_ALERTS:
        if name not in seen:
            problem("alert %s (%s) missing" % (name, SEED_ALERTS[name][0]))
    return done()


# --------------------------------------------------------------------- live

def metric_names(expr):
    """Metric names an expression selects (a lexical scan, enough for ours)."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)            # string literals
    s = re.sub(r"\{[^}]*\}", "", s)                           # label matchers
    s = re.sub(r"\[[^\]]*\]", "", s)                          # ranges, subqueries
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    names = set()
    for m in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?", s):
        word, call = m.group(1), m.group(2)
        if call or word.lower() in PROMQL_WORDS:
            continue
        names.add(word)
    return names


def read_scrape(path):
    """Sample names with series in the scrape (exporter /metrics text)."""
    with_series = set()
    with open(path) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                with_series.add(re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0))
    return with_series


def query(prom, expr):
    url = prom.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        return json.load(e)


def values(res):
    """The sample values of an instant-query answer, as floats."""
    r = res["data"]["result"]
    if res["data"]["resultType"] == "scalar":
        return [float(r[1])]
    return [float(x["value"][1]) for x in r]


def has_data(vals):
    return any(not math.isnan(v) for v in vals)


def check_live(prom, scrape, dashboard, rules, require_data, data_timeout):
    with_series = read_scrape(scrape)
    known = with_series | PROMETHEUS_SYNTHETIC | OTHER_EXPORTERS
    with open(dashboard) as f:
        dash = json.load(f)
    exprs = list(dashboard_queries(dash))
    exprs += [(w, e) for w, e, _ in rule_exprs(rules)]
    panel_of = {}  # where -> panel title, for the dashboard's queries
    for p in all_panels(dash):
        for t in p.get("targets", []):
            panel_of["panel %r (%s)" % (p.get("title"), t.get("refId"))] = p.get("title")
    ok = 0
    to_check = []  # (where, expr) of dashboard queries that must return data
    for where, expr in exprs:
        q = substitute(expr)
        res = query(prom, q)
        if res.get("status") != "success":
            problem("%s: Prometheus refused %r: %s" % (where, q, res.get("error")))
            continue
        names = metric_names(q)
        # A histogram's own name is a native-bucket query: known when its
        # classic _bucket series are, with data only on a Prometheus that
        # ingests native histograms (the classic twin query has it elsewhere).
        native = {n for n in names if n + "_bucket" in with_series}
        unknown = names - known - native
        if unknown:
            # Every metric the dashboard and rules name must have series in
            # the live scrape: no exceptions for "later" metrics any more.
            problem("%s: metric name(s) %s have no series in the live scrape (typo, or a "
                    "subsystem the test does not exercise)" % (where, ", ".join(sorted(unknown))))
            continue
        ok += 1
        if native and not all(has_data(values(query(prom, "count(%s)" % n))) for n in native):
            continue  # a classic Prometheus: no native series to show
        if require_data and where.startswith("panel"):
            to_check.append((where, q))
    # Every panel query returns data: at least one sample that is not NaN
    # (histogram_quantile over a window without observations is NaN), and
    # every panel shows activity (a value other than 0) unless a working
    # system legitimately shows 0 there (ZERO_OK). Counters seen for the
    # first time in the last scrape need one more scrape before a rate
    # exists, so this retries until data_timeout.
    deadline = time.monotonic() + data_timeout
    while True:
        found, zeros = [], []
        with_data = nonzero = 0
        for where, q in to_check:
            res = query(prom, q)
            vals = values(res) if res.get("status") == "success" else []
            title = panel_of.get(where, where)
            ref = where.rsplit("(", 1)[-1].rstrip(")")
            if not has_data(vals):
                found.append("panel %r: no data from query %s: %s" % (title, ref, q))
                continue
            with_data += 1
            if any(v and not math.isnan(v) for v in vals):
                nonzero += 1
            elif "%s/%s" % (title, ref) in ZERO_OK:
                zeros.append("%s/%s" % (title, ref))
            else:
                found.append("panel %r: query %s gives only zeros (its subsystem was not "
                             "exercised): %s" % (title, ref, q))
        if not found or time.monotonic() >= deadline:
            break
        time.sleep(1)
    for msg in found:
        problem(msg)
    for key in zeros:
        print("  0, as on any healthy system: %s (%s)" % (key, ZERO_OK[key]))
    print("  %d expressions valid with known metric names; %d of %d panel queries returned data, "
          "%d of them a value other than 0" % (ok, with_data, len(to_check), nonzero))
    return done()


def main(argv):
    if len(argv) >= 3 and argv[1] == "dashboard":
        return check_dashboard(argv[2])
    if len(argv) >= 4 and argv[1] == "rules":
        return check_rules(argv[2], argv[3])
    if len(argv) >= 6 and argv[1] == "live":
        timeout = 45.0
        if "--data-timeout" in argv:
            timeout = float(argv[argv.index("--data-timeout") + 1])
        return check_live(argv[2], argv[3], argv[4], argv[5], "--require-data" in argv, timeout)
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
