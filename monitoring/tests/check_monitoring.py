#!/usr/bin/python3
"""Checks of the CAM-OS monitoring assets that promtool and amtool cannot do.

Run by tests/integration/test_monitoring.sh (python3 standard library plus
PyYAML, Debian's python3-yaml). Each mode prints one line per problem and
exits 1 if there was any:

  dashboard DASHBOARD.json
      Structure: importable into Grafana 10+ (schemaVersion >= 38, stable
      uid and title), a `datasource` variable of type datasource (query
      prometheus), every panel with a datasource of ${datasource}, a query
      and a unit, rates over $__rate_interval, histogram_quantile over
      sum by (le, ...)(rate(..._bucket[...])), the seed's five rows.
  rules ALERTS.yml RUNBOOKS.md
      The seed's five alerts are there, each with for:, severity, title,
      summary, description and a runbook_url whose anchor is a heading of
      docs/runbooks.md.
  live PROM_URL SCRAPE PENDING DASHBOARD.json ALERTS.yml [--require-data]
      Every PromQL expression of the dashboard (Grafana variables replaced)
      and of the rules is accepted by the live Prometheus at PROM_URL; every
      metric name it uses is in the live SCRAPE (exporter /metrics text) or
      in PENDING (names later issues add). With --require-data, each
      expression whose metrics all have series in SCRAPE returns data.
"""
import json
import re
import sys
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
DASHBOARD_UID = "cam-os-overview"
DASHBOARD_TITLE = "CAM-OS Overview"
# Series Prometheus makes itself for every target.
PROMETHEUS_SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped",
                        "scrape_series_added", "scrape_samples_post_metric_relabeling"}
GRAFANA_VARS = {"__rate_interval": "1m", "__interval": "15s", "__range": "5m",
                "job": ".*", "instance": ".*"}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool",
                "and", "or", "unless", "offset", "inf", "nan", "atan2", "start", "end"}
NO_DATA_PANELS = {"text", "row"}

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
    if rows != SEED_ROWS:
        problem("rows %r, expected %r" % (rows, SEED_ROWS))
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
    """Sample names with series in the scrape, and every family registered."""
    with_series, families = set(), set()
    with open(path) as f:
        for line in f:
            if line.startswith("# TYPE "):
                families.add(line.split()[2])
            elif line.strip() and not line.startswith("#"):
                with_series.add(re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0))
                m = re.match(r'cam_os_metrics_series_rejected_total\{family="([^"]+)"\}', line)
                if m:  # kernel families registered but maybe without series yet
                    families.add(m.group(1))
    return with_series, families


def expand(names_types):
    out = set()
    for name, typ in names_types:
        out.add(name)
        if typ in ("histogram", "summary"):
            out |= {name + "_bucket", name + "_sum", name + "_count"}
    return out


def read_pending(path):
    pending = []
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].split()
            if line:
                pending.append((line[0], line[1] if len(line) > 1 else ""))
    return pending


def query(prom, expr):
    url = prom.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        return json.load(e)


def check_live(prom, scrape, pending_path, dashboard, rules, require_data):
    with_series, families = read_scrape(scrape)
    histograms = set()
    with open(scrape) as f:
        for line in f:
            if line.startswith("# TYPE ") and line.split()[3] in ("histogram", "summary"):
                histograms.add(line.split()[2])
    exported = with_series | expand((f, "histogram" if f in histograms else "") for f in families)
    # Registered kernel families without series yet: their type is unknown
    # here, so accept the histogram suffixes of those too.
    exported |= {f + sfx for f in families for sfx in ("_bucket", "_sum", "_count")}
    pending = read_pending(pending_path)
    pending_names = expand(pending)
    for name, _ in pending:
        if name in families or name in with_series:
            print("  note: %s is listed as pending but is exported now: drop it from %s"
                  % (name, pending_path))
    with open(dashboard) as f:
        exprs = list(dashboard_queries(json.load(f)))
    exprs += [(w, e) for w, e, _ in rule_exprs(rules)]
    ok = nodata_ok = with_data = 0
    waiting = []
    for where, expr in exprs:
        q = substitute(expr)
        res = query(prom, q)
        if res.get("status") != "success":
            problem("%s: Prometheus refused %r: %s" % (where, q, res.get("error")))
            continue
        names = metric_names(q)
        unknown = names - exported - pending_names - PROMETHEUS_SYNTHETIC
        if unknown:
            problem("%s: unknown metric name(s) %s (typo, or add to %s with the issue)"
                    % (where, ", ".join(sorted(unknown)), pending_path))
            continue
        ok += 1
        live = names <= (with_series | PROMETHEUS_SYNTHETIC)
        if not live:
            waiting.append("%s [%s]" % (where, ", ".join(sorted(names - with_series - PROMETHEUS_SYNTHETIC))))
        if require_data and live and where.startswith(("panel", "annotation")):
            if res["data"]["result"]:
                with_data += 1
            elif where.startswith("annotation"):
                nodata_ok += 1  # restarts only: empty is right
            else:
                problem("%s: no data from %r though its metrics are exported" % (where, q))
    for w in waiting:
        print("  no series yet (data not required): " + w)
    print("  %d expressions valid with known metric names; %d panel queries over live metrics returned data"
          % (ok, with_data))
    return done()


def main(argv):
    if len(argv) >= 3 and argv[1] == "dashboard":
        return check_dashboard(argv[2])
    if len(argv) >= 4 and argv[1] == "rules":
        return check_rules(argv[2], argv[3])
    if len(argv) >= 7 and argv[1] == "live":
        return check_live(argv[2], argv[3], argv[4], argv[5], argv[6], "--require-data" in argv)
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
