#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Strict offline checks of the rendered Kubernetes manifests of CAM-OS.

usage: check_k8s.py ROOT POD.yaml SERVICEMONITOR.yaml MONITORING.yaml

Each YAML file is the output of `kubectl kustomize` on k8s/,
k8s/servicemonitor/ and k8s/monitoring/. No API server is at hand, so the
schema is checked here: only known apiVersion/kind pairs, only field names
the Kubernetes API defines (a typo such as `readinesProbe` would otherwise be
dropped silently by the server), required fields, and the references between
objects: probes and Services point at real container ports, volumes at
ConfigMaps and Secrets that exist, and the ConfigMaps hold the files under
monitoring/ byte for byte.

Prints one "ok"/"FAIL" line per check and a count; exits 1 if any failed.
"""
import os
import re
import sys

import yaml

NAMESPACE = "cam-os"
KNOWN_KINDS = {
    ("v1", "Namespace"), ("v1", "ServiceAccount"), ("v1", "Service"),
    ("v1", "ConfigMap"), ("v1", "Secret"), ("apps/v1", "Deployment"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("rbac.authorization.k8s.io/v1", "Role"), ("rbac.authorization.k8s.io/v1", "RoleBinding"),
}
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
PORT_NAME = re.compile(r"^(?=.*[a-z])[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")

# Field names the Kubernetes API defines at each level (core/v1, apps/v1).
FIELDS = {
    "object": {"apiVersion", "kind", "metadata", "spec", "data", "binaryData",
               "stringData", "type", "immutable", "automountServiceAccountToken",
               "imagePullSecrets", "secrets", "rules", "roleRef", "subjects"},
    "metadata": {"name", "namespace", "labels", "annotations"},
    "deployment": {"replicas", "selector", "template", "strategy", "minReadySeconds",
                   "revisionHistoryLimit", "progressDeadlineSeconds", "paused"},
    "template": {"metadata", "spec"},
    "pod": {"containers", "initContainers", "volumes", "serviceAccountName",
            "automountServiceAccountToken", "securityContext", "terminationGracePeriodSeconds",
            "nodeSelector", "affinity", "tolerations", "priorityClassName",
            "topologySpreadConstraints", "enableServiceLinks", "restartPolicy",
            "dnsPolicy", "hostname", "subdomain", "imagePullSecrets", "shareProcessNamespace"},
    "container": {"name", "image", "imagePullPolicy", "command", "args", "workingDir",
                  "env", "envFrom", "ports", "livenessProbe", "readinessProbe",
                  "startupProbe", "resources", "securityContext", "volumeMounts",
                  "lifecycle", "terminationMessagePath", "terminationMessagePolicy",
                  "stdin", "tty"},
    "port": {"name", "containerPort", "protocol", "hostPort", "hostIP"},
    "probe": {"exec", "httpGet", "tcpSocket", "grpc", "initialDelaySeconds",
              "periodSeconds", "timeoutSeconds", "failureThreshold", "successThreshold",
              "terminationGracePeriodSeconds"},
    "grpc": {"port", "service"},
    "httpGet": {"path", "port", "host", "scheme", "httpHeaders"},
    "resources": {"requests", "limits"},
    "csc": {"allowPrivilegeEscalation", "readOnlyRootFilesystem", "capabilities",
            "runAsNonRoot", "runAsUser", "runAsGroup", "privileged", "seccompProfile",
            "seLinuxOptions", "procMount", "windowsOptions"},
    "psc": {"runAsNonRoot", "runAsUser", "runAsGroup", "fsGroup", "fsGroupChangePolicy",
            "seccompProfile", "supplementalGroups", "sysctls", "seLinuxOptions"},
    "volume": {"name", "emptyDir", "configMap", "secret", "persistentVolumeClaim",
               "projected", "downwardAPI"},
    "volumeMount": {"name", "mountPath", "subPath", "readOnly", "mountPropagation",
                    "subPathExpr"},
    "env": {"name", "value", "valueFrom"},
    "service": {"type", "selector", "ports", "clusterIP", "publishNotReadyAddresses",
                "sessionAffinity", "externalTrafficPolicy", "internalTrafficPolicy",
                "ipFamilyPolicy"},
    "servicePort": {"name", "port", "targetPort", "protocol", "appProtocol", "nodePort"},
    "servicemonitor": {"jobLabel", "selector", "namespaceSelector", "endpoints",
                       "targetLabels", "podTargetLabels", "sampleLimit"},
    "smEndpoint": {"port", "targetPort", "path", "interval", "scrapeTimeout", "scheme",
                   "relabelings", "metricRelabelings", "honorLabels"},
}

passed = failed = 0


def check(ok, what, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"      ok   {what}")
    else:
        failed += 1
        print(f"      FAIL {what}" + (f": {detail}" if detail else ""))


def load(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def unknown(obj, level):
    return sorted(set(obj) - FIELDS[level]) if isinstance(obj, dict) else ["<not a map>"]


class Errors(list):
    """Collects problems of one check; `fields` reports unknown names."""

    def fields(self, obj, level, where):
        bad = unknown(obj, level)
        if bad:
            self.append(f"{where}: unknown field(s) {bad}")


def find(docs, kind, name=None, prefix=None):
    for d in docs:
        n = d["metadata"]["name"]
        if d["kind"] == kind and (n == name or (prefix and re.fullmatch(
                re.escape(prefix) + r"-[a-z0-9]{10}", n))):
            return d
    return None


def check_objects(docs, label):
    errs = Errors()
    seen = set()
    for d in docs:
        if not isinstance(d, dict):
            errs.append(f"not a map: {d!r:.60}")
            continue
        errs.fields(d, "object", d.get("kind", "?"))
        key = (d.get("apiVersion"), d.get("kind"))
        if key not in KNOWN_KINDS:
            errs.append(f"unknown apiVersion/kind {key}")
            continue
        md = d.get("metadata") or {}
        errs.fields(md, "metadata", f"{d['kind']} metadata")
        name = md.get("name", "")
        if not DNS_LABEL.match(name) or len(name) > 63:
            errs.append(f"{d['kind']} name {name!r} is not a DNS label")
        if d["kind"] != "Namespace" and md.get("namespace") != NAMESPACE:
            errs.append(f"{d['kind']}/{name} not in namespace {NAMESPACE}")
        for k, v in (md.get("labels") or {}).items():
            if not isinstance(v, str) or len(v) > 63:
                errs.append(f"{d['kind']}/{name} label {k}={v!r}")
        for k, v in (md.get("annotations") or {}).items():
            if not isinstance(v, str):
                errs.append(f"{d['kind']}/{name} annotation {k} is not a string")
        if (d["kind"], name) in seen:
            errs.append(f"{d['kind']}/{name} twice")
        seen.add((d["kind"], name))
        if d["kind"] in ("ConfigMap", "Secret"):
            for k in (d.get("data") or {}):
                if not CONFIG_KEY.match(k):
                    errs.append(f"{d['kind']}/{name} key {k!r}")
    check(not errs, f"{label}: every object has a known apiVersion/kind, "
          "a valid name, namespace cam-os and known fields", "; ".join(errs))


def port_of(container, ref):
    """The containerPort a probe or Service port refers to, or None."""
    for p in container.get("ports") or []:
        if ref == p.get("containerPort") or ref == p.get("name"):
            return p["containerPort"]
    return None


def check_probe(errs, c, kind, where):
    probe = c.get(kind)
    if probe is None:
        errs.append(f"{where}: no {kind}")
        return None
    errs.fields(probe, "probe", f"{where} {kind}")
    handlers = [h for h in ("exec", "httpGet", "tcpSocket", "grpc") if h in probe]
    if len(handlers) != 1:
        errs.append(f"{where} {kind}: {len(handlers)} handlers")
        return None
    h = handlers[0]
    spec = probe[h]
    if h == "grpc":
        errs.fields(spec, "grpc", f"{where} {kind}.grpc")
        if not isinstance(spec.get("port"), int):
            errs.append(f"{where} {kind}: a gRPC probe port must be a number")
    if h == "httpGet":
        errs.fields(spec, "httpGet", f"{where} {kind}.httpGet")
        if not str(spec.get("path", "")).startswith("/"):
            errs.append(f"{where} {kind}: path must start with /")
    if h in ("grpc", "httpGet", "tcpSocket"):
        if port_of(c, spec.get("port")) is None:
            errs.append(f"{where} {kind}: port {spec.get('port')!r} is no port of the container")
    for k in ("initialDelaySeconds", "periodSeconds", "timeoutSeconds",
              "failureThreshold", "successThreshold"):
        if k in probe and (not isinstance(probe[k], int) or probe[k] < 0):
            errs.append(f"{where} {kind}.{k} = {probe[k]!r}")
    return h, spec


def quantity(q, cpu):
    q = str(q)
    if cpu:
        return float(q[:-1]) / 1000 if q.endswith("m") else float(q)
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 1e3, "M": 1e6, "G": 1e9}
    for u, m in units.items():
        if q.endswith(u):
            return float(q[:-len(u)]) * m
    return float(q)


def check_container(errs, c, volumes, docs, where):
    errs.fields(c, "container", where)
    if not c.get("name") or not c.get("image"):
        errs.append(f"{where}: name and image are required")
    names = set()
    for p in c.get("ports") or []:
        errs.fields(p, "port", f"{where} port")
        if not isinstance(p.get("containerPort"), int) or not 0 < p["containerPort"] < 65536:
            errs.append(f"{where}: containerPort {p.get('containerPort')!r}")
        n = p.get("name")
        if n is not None and (not PORT_NAME.match(n) or len(n) > 15 or n in names):
            errs.append(f"{where}: port name {n!r}")
        names.add(n)
    for e in c.get("env") or []:
        errs.fields(e, "env", f"{where} env")
        if not ENV_NAME.match(e.get("name", "")):
            errs.append(f"{where}: env name {e.get('name')!r}")
        ref = (e.get("valueFrom") or {}).get("secretKeyRef")
        field = ((e.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
        if ref:
            s = find(docs, "Secret", ref["name"])
            if not s or ref["key"] not in (s.get("data") or {}):
                errs.append(f"{where}: env {e['name']} from missing secret {ref}")
        elif field is not None:
            if field not in ("metadata.name", "metadata.namespace", "metadata.uid",
                             "spec.nodeName", "status.podIP", "status.hostIP"):
                errs.append(f"{where}: env {e['name']} from unknown field {field!r}")
        elif not isinstance(e.get("value"), str):
            errs.append(f"{where}: env {e.get('name')} value must be a string")
    r = c.get("resources") or {}
    errs.fields(r, "resources", f"{where} resources")
    for res in ("cpu", "memory"):
        req, lim = (r.get("requests") or {}).get(res), (r.get("limits") or {}).get(res)
        if req is None or lim is None:
            errs.append(f"{where}: {res} request and limit required")
        elif quantity(req, res == "cpu") > quantity(lim, res == "cpu"):
            errs.append(f"{where}: {res} request {req} above limit {lim}")
    sc = c.get("securityContext") or {}
    errs.fields(sc, "csc", f"{where} securityContext")
    if sc.get("allowPrivilegeEscalation") is not False or sc.get("readOnlyRootFilesystem") is not True \
            or (sc.get("capabilities") or {}).get("drop") != ["ALL"] or sc.get("privileged"):
        errs.append(f"{where}: securityContext must forbid privilege escalation, "
                    "drop ALL capabilities and make the root filesystem read-only")
    mounts = set()
    for m in c.get("volumeMounts") or []:
        errs.fields(m, "volumeMount", f"{where} volumeMount")
        if m.get("name") not in volumes:
            errs.append(f"{where}: mount of unknown volume {m.get('name')!r}")
        if not str(m.get("mountPath", "")).startswith("/") or m["mountPath"] in mounts:
            errs.append(f"{where}: mountPath {m.get('mountPath')!r}")
        mounts.add(m.get("mountPath"))
        sub = m.get("subPath")
        if sub is not None:
            v = volumes.get(m.get("name")) or {}
            cm = find(docs, "ConfigMap", (v.get("configMap") or {}).get("name"))
            if not cm or sub not in (cm.get("data") or {}):
                errs.append(f"{where}: subPath {sub!r} not a key of the mounted ConfigMap")


def check_deployment(d, docs):
    """Returns the list of problems of one Deployment."""
    errs = Errors()
    name = d["metadata"]["name"]
    spec = d.get("spec") or {}
    errs.fields(spec, "deployment", f"Deployment/{name} spec")
    tmpl = spec.get("template") or {}
    errs.fields(tmpl, "template", f"Deployment/{name} template")
    sel = (spec.get("selector") or {}).get("matchLabels") or {}
    labels = (tmpl.get("metadata") or {}).get("labels") or {}
    if not sel or any(labels.get(k) != v for k, v in sel.items()):
        errs.append(f"Deployment/{name}: selector {sel} does not match the pod labels")
    pod = tmpl.get("spec") or {}
    errs.fields(pod, "pod", f"Deployment/{name} pod")
    psc = pod.get("securityContext") or {}
    errs.fields(psc, "psc", f"Deployment/{name} pod securityContext")
    if psc.get("runAsNonRoot") is not True or not psc.get("runAsUser"):
        errs.append(f"Deployment/{name}: pod must run as a non-root user")
    volumes = {}
    for v in pod.get("volumes") or []:
        errs.fields(v, "volume", f"Deployment/{name} volume")
        volumes[v.get("name")] = v
        cm, sec = v.get("configMap"), v.get("secret")
        if cm and not find(docs, "ConfigMap", cm.get("name")):
            errs.append(f"Deployment/{name}: volume {v['name']} wants missing ConfigMap {cm.get('name')}")
        if sec and not sec.get("optional") and not find(docs, "Secret", sec.get("secretName")):
            errs.append(f"Deployment/{name}: volume {v['name']} wants missing Secret")
    if not pod.get("containers"):
        errs.append(f"Deployment/{name}: no containers")
    for c in pod.get("containers") or []:
        where = f"Deployment/{name} container {c.get('name')}"
        check_container(errs, c, volumes, docs, where)
        for kind in ("livenessProbe", "readinessProbe"):
            check_probe(errs, c, kind, where)
        if "startupProbe" in c:
            check_probe(errs, c, "startupProbe", where)
    return errs


def containers(d):
    return {c["name"]: c for c in d["spec"]["template"]["spec"]["containers"]}


def env(c):
    return {e["name"]: e.get("value") for e in c.get("env") or []}


def check_service(s, docs):
    errs = Errors()
    spec = s.get("spec") or {}
    errs.fields(spec, "service", f"Service/{s['metadata']['name']}")
    sel = spec.get("selector") or {}
    pods = [d for d in docs if d["kind"] == "Deployment" and sel and all(
        (d["spec"]["template"]["metadata"].get("labels") or {}).get(k) == v for k, v in sel.items())]
    if len(pods) != 1:
        errs.append(f"Service/{s['metadata']['name']}: selector {sel} matches {len(pods)} Deployments")
        return errs
    for p in spec.get("ports") or []:
        errs.fields(p, "servicePort", f"Service/{s['metadata']['name']} port")
        if not any(port_of(c, p.get("targetPort", p.get("port"))) for c in containers(pods[0]).values()):
            errs.append(f"Service/{s['metadata']['name']}: port {p.get('name')} targets "
                        f"{p.get('targetPort')!r}, no container port")
    return errs


def check_pod(docs, sm_docs):
    check_objects(docs, "k8s/")
    dep = find(docs, "Deployment", "cam-os")
    check(dep is not None, "k8s/: Deployment cam-os")
    if dep is None:
        return
    for d in docs:
        if d["kind"] == "Deployment":
            errs = check_deployment(d, docs)
            check(not errs, f"k8s/: Deployment/{d['metadata']['name']}: fields, probes, "
                  "ports, resources, non-root, read-only root", "; ".join(errs))
    cs = containers(dep)
    check(set(cs) == {"kernel", "exporter"}, "k8s/: the pod runs kernel and exporter", str(sorted(cs)))
    k, x = cs.get("kernel", {}), cs.get("exporter", {})
    ke, xe = env(k), env(x)

    # The kernel listens beyond loopback: it needs tokens or the explicit
    # anonymous switch, or it refuses to start (kernel/main.c).
    listen = ke.get("CAM_GRPC_LISTEN", "")
    gport = int(listen.rsplit(":", 1)[-1]) if ":" in listen else None
    check(listen.startswith("0.0.0.0:") and (ke.get("CAM_ALLOW_ANONYMOUS") == "true" or
          "CAM_AUTH_TOKENS_FILE" in ke),
          f"kernel listens on {listen} with CAM_ALLOW_ANONYMOUS=true or tokens")
    probes = [check_probe(Errors(), k, p, "kernel") for p in ("livenessProbe", "readinessProbe")]
    check(all(p and p[0] == "grpc" and p[1]["port"] == gport == port_of(k, "grpc") for p in probes),
          f"kernel: gRPC liveness and readiness probes on its listening port {gport}")
    xport = int(xe.get("CAM_EXPORTER_LISTEN", ":0").rsplit(":", 1)[-1])
    lp = check_probe(Errors(), x, "livenessProbe", "exporter")
    rp = check_probe(Errors(), x, "readinessProbe", "exporter")
    check(lp and rp and lp[0] == rp[0] == "httpGet" and lp[1]["path"] == "/healthz" and
          rp[1]["path"] == "/readyz" and port_of(x, lp[1]["port"]) == port_of(x, rp[1]["port"]) == xport,
          f"exporter: /healthz liveness and /readyz readiness on its port {xport}")

    # One emptyDir holds the bus socket, mounted where CAM_BUS_ADDR points.
    bus = ke.get("CAM_BUS_ADDR", "")
    folder = os.path.dirname(bus[len("ipc://"):]) if bus.startswith("ipc://") else None
    vols = {v["name"]: v for v in dep["spec"]["template"]["spec"].get("volumes", [])}

    def bus_volume(c):
        for m in c.get("volumeMounts") or []:
            if m["mountPath"] == folder:
                return m["name"]
        return None
    bv = bus_volume(k)
    check(bus == xe.get("CAM_BUS_ADDR") and folder and bv and bv == bus_volume(x) and
          "emptyDir" in vols.get(bv, {}),
          f"kernel and exporter share {bus} on one emptyDir ({bv})")

    ann = dep["spec"]["template"]["metadata"].get("annotations") or {}
    svc = find(docs, "Service", "cam-os")
    sann = (svc or {}).get("metadata", {}).get("annotations") or {}
    check(ann.get("prometheus.io/scrape") == sann.get("prometheus.io/scrape") == "true" and
          ann.get("prometheus.io/port") == sann.get("prometheus.io/port") == str(xport) and
          ann.get("prometheus.io/path") == "/metrics",
          "pod and Service carry prometheus.io scrape annotations for the exporter port")
    for s in (d for d in docs if d["kind"] == "Service"):
        errs = check_service(s, docs)
        check(not errs, f"Service/{s['metadata']['name']}: ports target container ports", "; ".join(errs))
    sports = {p["port"]: p.get("name") for p in (svc or {}).get("spec", {}).get("ports", [])}
    check(set(sports) == {gport, xport}, f"Service cam-os exposes {gport} and {xport}", str(sports))

    check_objects(sm_docs, "k8s/servicemonitor/")
    sm = find(sm_docs, "ServiceMonitor", "cam-os")
    errs = Errors()
    if sm is None:
        errs.append("no ServiceMonitor cam-os")
    else:
        errs.fields(sm["spec"], "servicemonitor", "ServiceMonitor spec")
        sel = sm["spec"]["selector"]["matchLabels"]
        if any((svc["metadata"].get("labels") or {}).get(a) != b for a, b in sel.items()):
            errs.append(f"selector {sel} does not match Service cam-os")
        for e in sm["spec"]["endpoints"]:
            errs.fields(e, "smEndpoint", "ServiceMonitor endpoint")
            if e.get("port") not in sports.values():
                errs.append(f"endpoint port {e.get('port')!r} is no Service port name")
    check(not errs, "ServiceMonitor selects Service cam-os by labels and a named port", "; ".join(errs))


def read(root, rel):
    with open(os.path.join(root, rel)) as f:
        return f.read()


def check_monitoring(root, docs, pod_docs):
    check_objects(docs, "k8s/monitoring/")
    for d in docs:
        if d["kind"] == "Deployment":
            errs = check_deployment(d, docs)
            check(not errs, f"k8s/monitoring/: Deployment/{d['metadata']['name']}: fields, probes, "
                  "ports, resources, non-root, read-only root", "; ".join(errs))
        if d["kind"] == "Service":
            errs = check_service(d, docs)
            check(not errs, f"k8s/monitoring/: Service/{d['metadata']['name']}: ports target "
                  "container ports", "; ".join(errs))

    # The ConfigMaps are the files, byte for byte.
    want = {
        "prometheus-rules": {"alerts.yml": "monitoring/prometheus/rules/alerts.yml"},
        "alertmanager-config": {"alertmanager.yml": "monitoring/alertmanager/alertmanager.yml"},
        "grafana-datasources": {"cam-os.yml": "monitoring/grafana/provisioning/datasources/cam-os.yml"},
        "grafana-dashboard-providers": {"cam-os.yml": "monitoring/grafana/provisioning/dashboards/cam-os.yml"},
        "grafana-dashboards": {"cam_overview.json": "monitoring/grafana/dashboards/cam_overview.json"},
        "prometheus-config": {"prometheus.yml": "k8s/monitoring/prometheus.yml"},
    }
    cms = {}
    for prefix, files in want.items():
        cm = find(docs, "ConfigMap", prefix=prefix)
        cms[prefix] = cm
        data = (cm or {}).get("data") or {}
        same = cm is not None and set(data) == set(files) and all(
            data[k] == read(root, p) for k, p in files.items())
        check(same, f"ConfigMap {prefix} holds {', '.join(files.values())} unchanged")

    def mount(dep, cname, cm_prefix):
        cm = cms.get(cm_prefix)
        if not dep or not cm:
            return None
        pod = dep["spec"]["template"]["spec"]
        vol = [v["name"] for v in pod["volumes"] if (v.get("configMap") or {}).get("name") == cm["metadata"]["name"]]
        for c in pod["containers"]:
            for m in c.get("volumeMounts") or []:
                if c["name"] == cname and m["name"] in vol:
                    return m["mountPath"]
        return None

    prom = find(docs, "Deployment", "prometheus")
    am = find(docs, "Deployment", "alertmanager")
    graf = find(docs, "Deployment", "grafana")
    kprom = yaml.safe_load(read(root, "k8s/monitoring/prometheus.yml"))
    mprom = yaml.safe_load(read(root, "monitoring/prometheus/prometheus.yml"))
    rules_dir = mount(prom, "prometheus", "prometheus-rules")
    check(rules_dir and kprom["rule_files"] == [rules_dir + "/*.yml"],
          f"Prometheus loads its rules from where the rules ConfigMap is mounted ({rules_dir})")
    args = prom and prom["spec"]["template"]["spec"]["containers"][0].get("args") or []
    check(f"--config.file={mount(prom, 'prometheus', 'prometheus-config')}" in args,
          "Prometheus reads the prometheus-config ConfigMap")

    def job(cfg):
        return next((j for j in cfg.get("scrape_configs") or [] if j.get("job_name") == "cam-os"), {})
    kj, mj = job(kprom), job(mprom)
    check(kprom.get("global") == mprom.get("global") and kj and all(
          kj.get(k) == mj.get(k) for k in ("scrape_interval", "metrics_path", "scrape_timeout")),
          "k8s prometheus.yml keeps monitoring/prometheus/prometheus.yml's global settings and cam-os job")
    # kubernetes_sd: every annotated pod of cam-os on its port named like
    # the exporter's, with the RBAC that lets Prometheus list the pods.
    sds = kj.get("kubernetes_sd_configs") or []
    relabel = kj.get("relabel_configs") or []
    keeps = {tuple(r.get("source_labels") or []): r.get("regex") for r in relabel if r.get("action") == "keep"}
    targets_of = {r.get("target_label"): tuple(r.get("source_labels") or []) for r in relabel
                  if r.get("target_label")}
    dep = find(pod_docs, "Deployment", "cam-os")
    xport = [p for c in containers(dep).values() for p in c.get("ports") or []
             if p.get("containerPort") == 8080] if dep else []
    ann = (dep or {}).get("spec", {}).get("template", {}).get("metadata", {}).get("annotations") or {}
    check(len(sds) == 1 and sds[0].get("role") == "pod" and
          (sds[0].get("namespaces") or {}).get("names") == [NAMESPACE] and
          keeps.get(("__meta_kubernetes_pod_annotation_prometheus_io_scrape",)) == "true" ==
          ann.get("prometheus.io/scrape") and
          xport and keeps.get(("__meta_kubernetes_pod_container_port_name",)) == xport[0].get("name") and
          targets_of.get("namespace") == ("__meta_kubernetes_namespace",) and
          targets_of.get("pod") == ("__meta_kubernetes_pod_name",),
          "Prometheus finds every CAM-OS pod with kubernetes_sd (annotated pods, the exporter's port; "
          "namespace and pod labels)")
    sa = (prom or {}).get("spec", {}).get("template", {}).get("spec", {})
    role = find(docs, "Role", "prometheus-discovery")
    rb = find(docs, "RoleBinding", "prometheus-discovery")
    rules = (role or {}).get("rules") or []
    check(sa.get("serviceAccountName") == "prometheus" and sa.get("automountServiceAccountToken") is True and
          find(docs, "ServiceAccount", "prometheus") and
          any("pods" in r.get("resources", []) and {"list", "watch"} <= set(r.get("verbs", [])) for r in rules) and
          rb and rb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                    "name": "prometheus-discovery"} and
          rb["subjects"] == [{"kind": "ServiceAccount", "name": "prometheus", "namespace": NAMESPACE}],
          "Prometheus' service account may list and watch the pods of cam-os (Role, RoleBinding), nothing more")
    targets = [t for a in kprom["alerting"]["alertmanagers"] for s in a["static_configs"] for t in s["targets"]]
    asvc = find(docs, "Service", "alertmanager")
    check(asvc and targets == [f"alertmanager:{asvc['spec']['ports'][0]['port']}"],
          "Prometheus alerts the alertmanager Service")
    check(f"--config.file={mount(am, 'alertmanager', 'alertmanager-config')}" in
          (am and am["spec"]["template"]["spec"]["containers"][0].get("args") or []),
          "Alertmanager reads the alertmanager-config ConfigMap")
    amcfg = yaml.safe_load(read(root, "monitoring/alertmanager/alertmanager.yml"))
    url_files = [c.get("api_url_file") for r in amcfg.get("receivers") or []
                 for c in r.get("slack_configs") or [] if c.get("api_url_file")]
    am_mounts = {m["mountPath"]: m["name"] for c in (am or {}).get("spec", {}).get("template", {})
                 .get("spec", {}).get("containers", []) for m in c.get("volumeMounts") or []}
    check(all(am_mounts.get(os.path.dirname(u)) == "slack" for u in url_files),
          f"the Slack webhook file(s) {url_files} come from the optional alertmanager-slack Secret")

    providers = yaml.safe_load(read(root, "monitoring/grafana/provisioning/dashboards/cam-os.yml"))
    paths = [p["options"]["path"] for p in providers["providers"]]
    check(paths == [mount(graf, "grafana", "grafana-dashboards")],
          f"Grafana's dashboard provider path {paths} is where the dashboard is mounted")
    check(mount(graf, "grafana", "grafana-datasources") == "/etc/grafana/provisioning/datasources" and
          mount(graf, "grafana", "grafana-dashboard-providers") == "/etc/grafana/provisioning/dashboards",
          "Grafana provisioning folders are mounted where Grafana reads them")
    ds = yaml.safe_load(read(root, "monitoring/grafana/provisioning/datasources/cam-os.yml"))
    psvc = find(docs, "Service", "prometheus")
    check(psvc and [d["url"] for d in ds["datasources"]] ==
          [f"http://prometheus:{psvc['spec']['ports'][0]['port']}"],
          "Grafana's datasource URL is the prometheus Service")


def main():
    root, pod, sm, mon = sys.argv[1:5]
    pod_docs, sm_docs, mon_docs = load(pod), load(sm), load(mon)
    try:
        check_pod(pod_docs, sm_docs)
        check_monitoring(root, mon_docs, pod_docs)
    except (KeyError, TypeError, IndexError, AttributeError, ValueError) as e:
        check(False, "manifests have the expected shape", f"{type(e).__name__}: {e}")
    print(f"check_k8s: {passed} checks passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
