#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Offline checks of the production overlays (k8s/overlays/production and
production-keda), as check_k8s.py does for k8s/: no cluster here, so the
objects are checked against each other and against the programs.

usage: check_k8s_fleet.py ROOT PRODUCTION.yaml KEDA.yaml KERNEL_HELP EXPORTER_HELP

The YAML files are `kubectl kustomize` of the two overlays; the help files
are `cam-kernel --help` and `cam-exporter --help`, so that every CAM_*
setting the manifests give is one the programs know.
Prints one "ok"/"FAIL" line per check and a count; exits 1 if any failed.
"""
import os
import re
import shlex
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_k8s as k  # noqa: E402

k.KNOWN_KINDS |= {("apps/v1", "StatefulSet"), ("v1", "PersistentVolumeClaim"), ("policy/v1", "PodDisruptionBudget"),
                  ("autoscaling/v2", "HorizontalPodAutoscaler"), ("keda.sh/v1alpha1", "ScaledObject")}
# A StatefulSet's spec is checked with the Deployment's fields plus its own.
k.FIELDS["deployment"] |= {"serviceName", "volumeClaimTemplates", "podManagementPolicy",
                           "updateStrategy", "persistentVolumeClaimRetentionPolicy", "ordinals"}
k.FIELDS["pod"] |= {"initContainers"}
# Made by the operator before applying (the overlay's Kustomization says
# how), with these keys.
EXTERNAL_SECRETS = {"cam-os-tokens": ["tokens"], "cam-os-redis": ["password"]}


def by_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def settings(help_text):
    return set(re.findall(r"\b(CAM_[A-Z0-9_]+)\b", help_text))


def selects(selector, pod_labels):
    return bool(selector) and all(pod_labels.get(a) == b for a, b in selector.items())


def pod_labels(d):
    return d["spec"]["template"]["metadata"].get("labels") or {}


def sleep_of(c):
    cmd = (((c.get("lifecycle") or {}).get("preStop") or {}).get("exec") or {}).get("command") or []
    return int(cmd[1]) if len(cmd) == 2 and cmd[0].endswith("sleep") else 0


def check_common(docs, label):
    k.check_objects(docs, label)
    external = [{"kind": "Secret", "metadata": {"name": n}, "data": dict.fromkeys(keys, "")}
                for n, keys in EXTERNAL_SECRETS.items()]
    for d in by_kind(docs, "Deployment") + by_kind(docs, "StatefulSet"):
        # A StatefulSet's claim templates are volumes of its pods.
        d2 = yaml.safe_load(yaml.safe_dump(d))
        pod = d2["spec"]["template"]["spec"]
        pod["volumes"] = (pod.get("volumes") or []) + [
            {"name": t["metadata"]["name"], "persistentVolumeClaim": {"claimName": t["metadata"]["name"]}}
            for t in d2["spec"].get("volumeClaimTemplates") or []]
        errs = k.check_deployment(d2, docs + external)
        k.check(not errs, f"{label}: {d['kind']}/{d['metadata']['name']}: fields, probes, ports, "
                "resources, non-root, read-only root", "; ".join(errs))
    for s in by_kind(docs, "Service"):
        errs = k.Errors()
        spec = s["spec"]
        errs.fields(spec, "service", f"Service/{s['metadata']['name']}")
        owners = [d for d in by_kind(docs, "Deployment") + by_kind(docs, "StatefulSet")
                  if selects(spec.get("selector"), pod_labels(d))]
        if len(owners) != 1:
            errs.append(f"selector {spec.get('selector')} matches {len(owners)} workloads")
        else:
            for p in spec.get("ports") or []:
                if not any(k.port_of(c, p.get("targetPort", p.get("port")))
                           for c in k.containers(owners[0]).values()):
                    errs.append(f"port {p.get('name')} targets no container port")
        k.check(not errs, f"{label}: Service/{s['metadata']['name']} selects one workload, ports "
                "target container ports", "; ".join(errs))


def check_production(root, docs, kernel_help, exporter_help, label):
    check_common(docs, label)
    dep = k.find(docs, "Deployment", "cam-os")
    spec, pod = dep["spec"], dep["spec"]["template"]["spec"]
    cs = k.containers(dep)
    ke, xe = k.env(cs["kernel"]), k.env(cs["exporter"])
    roll = (spec.get("strategy") or {}).get("rollingUpdate") or {}
    k.check(spec.get("replicas") == 3 and roll.get("maxUnavailable") == 0,
            f"{label}: Deployment of 3 replicas, rolling updates never below 3 ({roll})")

    given = lambda e: {n for n in e if n.startswith("CAM_")}  # noqa: E731
    unknown = sorted(given(ke) - settings(kernel_help)) + sorted(given(xe) - settings(exporter_help))
    k.check(not unknown, f"{label}: every CAM_* setting given is one cam-kernel/cam-exporter --help lists",
            str(unknown))

    # No anonymous callers: tokens from a Secret mounted where the setting points.
    vols = {v["name"]: v for v in pod.get("volumes") or []}
    tok = ke.get("CAM_AUTH_TOKENS_FILE") or ""
    mount = next((m for m in cs["kernel"].get("volumeMounts") or []
                  if tok.startswith(m["mountPath"].rstrip("/") + "/")), None)
    secret = (vols.get((mount or {}).get("name")) or {}).get("secret") or {}
    k.check("CAM_ALLOW_ANONYMOUS" not in ke and secret.get("secretName") == "cam-os-tokens" and
            not secret.get("optional") and os.path.basename(tok) == "tokens",
            f"{label}: no anonymous callers; tokens from Secret cam-os-tokens at {tok}")

    # Each kernel's data directory on the PersistentVolumeClaim, a folder per
    # pod (two kernels never share one: the second would be refused).
    dmount = next((m for m in cs["kernel"].get("volumeMounts") or []
                   if m["mountPath"] == "/var/lib/cam-os"), {})
    claim = ((vols.get(dmount.get("name")) or {}).get("persistentVolumeClaim") or {}).get("claimName")
    pvc = k.find(docs, "PersistentVolumeClaim", claim or "")
    pod_name = (next((e for e in cs["kernel"].get("env") or [] if e["name"] == "POD_NAME"), {})
                .get("valueFrom") or {}).get("fieldRef", {}).get("fieldPath")
    k.check(pvc and "ReadWriteMany" in pvc["spec"]["accessModes"] and
            dmount.get("subPathExpr") == "$(POD_NAME)" and pod_name == "metadata.name" and
            "CAM_DATA_DIR" in settings(kernel_help),
            f"{label}: the data directory /var/lib/cam-os on PVC {claim}, a folder per pod")

    # The drain fits the termination grace: preStop, then the shutdown grace, then exit.
    grace = int(ke.get("CAM_SHUTDOWN_GRACE_MS", "5000")) / 1000
    pre = sleep_of(cs["kernel"])
    tgp = pod.get("terminationGracePeriodSeconds", 30)
    k.check(pre >= 1 and sleep_of(cs["exporter"]) >= pre and pre + grace + 5 <= tgp,
            f"{label}: preStop {pre} s + drain {grace:g} s + 5 s margin <= terminationGracePeriodSeconds {tgp}")
    age, age_grace = int(ke.get("CAM_GRPC_MAX_CONNECTION_AGE_MS", "0")), \
        int(ke.get("CAM_GRPC_MAX_CONNECTION_AGE_GRACE_MS", "0"))
    k.check(age >= 60000 and 0 < age_grace <= age,
            f"{label}: connections turn over (max age {age} ms, grace {age_grace} ms)")

    tsc = {t.get("topologyKey"): t for t in pod.get("topologySpreadConstraints") or []}
    k.check(set(tsc) >= {"kubernetes.io/hostname", "topology.kubernetes.io/zone"} and all(
            t.get("maxSkew") == 1 and selects((t.get("labelSelector") or {}).get("matchLabels"), pod_labels(dep))
            for t in tsc.values()) and tsc["kubernetes.io/hostname"]["whenUnsatisfiable"] == "DoNotSchedule",
            f"{label}: spread across nodes (DoNotSchedule) and zones, selecting the pods")

    pdb = k.find(docs, "PodDisruptionBudget", "cam-os")
    ps = (pdb or {}).get("spec") or {}
    k.check(pdb and selects((ps.get("selector") or {}).get("matchLabels"), pod_labels(dep)) and
            (ps.get("maxUnavailable") == 1 or 0 < ps.get("minAvailable", 0) < spec["replicas"]),
            f"{label}: PodDisruptionBudget cam-os lets one pod go at a time ({ps})")

    head = k.find(docs, "Service", "cam-os-headless")
    hs = (head or {}).get("spec") or {}
    k.check(head and hs.get("clusterIP") == "None" and not hs.get("publishNotReadyAddresses") and
            [p.get("targetPort") for p in hs.get("ports", [])] == ["grpc"] and
            (k.find(docs, "Service", "cam-os")["spec"].get("type", "ClusterIP") == "ClusterIP"),
            f"{label}: headless cam-os-headless (ready pods, gRPC) beside the ClusterIP Service cam-os")

    # Redis with Sentinel: the kernels' sentinel list names the sentinel pods.
    sent = k.find(docs, "StatefulSet", "redis-sentinel")
    redis = k.find(docs, "StatefulSet", "redis")
    ssvc = k.find(docs, "Service", sent["spec"]["serviceName"]) if sent else None
    sport = k.port_of(k.containers(sent)["sentinel"], "sentinel") if sent else None
    want = {f"redis-sentinel-{i}.{sent['spec']['serviceName']}:{sport}" for i in range(sent["spec"]["replicas"])} \
        if sent else set()
    got = set((ke.get("CAM_REDIS_SENTINELS") or "").split(","))
    k.check(sent and redis and ssvc and ssvc["spec"].get("clusterIP") == "None" and got == want and
            sent["spec"]["replicas"] == 3 and redis["spec"]["replicas"] == 3,
            f"{label}: Redis (StatefulSet of 3) and 3 sentinels; CAM_REDIS_SENTINELS names every sentinel pod")
    scripts = k.find(docs, "ConfigMap", "redis-scripts")
    sconf = (scripts or {}).get("data", {}).get("sentinel-config.sh", "")
    m = re.search(r"sentinel monitor (\S+) \S+ (\d+) (\d+)", sconf)
    k.check(m and m.group(1) == ke.get("CAM_REDIS_MASTER_NAME") and
            int(m.group(2)) == k.port_of(k.containers(redis)["redis"], "redis") and int(m.group(3)) == 2,
            f"{label}: the sentinels monitor CAM_REDIS_MASTER_NAME={ke.get('CAM_REDIS_MASTER_NAME')} on the Redis port, quorum 2")
    acks = int(ke.get("CAM_REDIS_MIN_REPLICAS_ACK", "0"))
    k.check(1 <= acks <= redis["spec"]["replicas"] - 2,
            f"{label}: CAM_REDIS_MIN_REPLICAS_ACK={acks}: writes confirmed on a replica, and one replica may be lost")
    url = ke.get("CAM_REDIS_URL", "")
    pw = {e["name"]: e for e in cs["kernel"].get("env", [])}.get("REDIS_PASSWORD", {})
    k.check(url.startswith("redis://:$(REDIS_PASSWORD)@") and
            (pw.get("valueFrom") or {}).get("secretKeyRef", {}).get("name") == "cam-os-redis",
            f"{label}: the Redis password comes from Secret cam-os-redis, never a literal")
    for name in ("redis-config.sh", "sentinel-config.sh"):
        body = (scripts or {}).get("data", {}).get(name, "")
        try:
            shlex.split(body, comments=True)
            ok = body.startswith("#!/bin/sh") and "set -eu" in body
        except ValueError as e:
            ok = False
            name += f" ({e})"
        k.check(ok, f"{label}: {name} is a /bin/sh script with set -eu that tokenizes")
    return dep


def adapter_metric(root):
    with open(os.path.join(root, "k8s/overlays/production/prometheus-adapter.yaml")) as f:
        rules = yaml.safe_load(f)["rules"]
    return rules[0]


def check_autoscaling(root, prod, keda):
    rule = adapter_metric(root)
    hpa = k.find(prod, "HorizontalPodAutoscaler", "cam-os")
    hs = (hpa or {}).get("spec") or {}
    metric = ((hs.get("metrics") or [{}])[0].get("pods") or {})
    k.check(hpa and hs["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "cam-os"} and
            metric.get("metric", {}).get("name") == rule["name"]["as"] and
            metric.get("target", {}).get("type") == "AverageValue" and
            3 <= hs.get("minReplicas", 0) < hs.get("maxReplicas", 0),
            f"production: HPA on the per-pod metric {rule['name']['as']} that the prometheus-adapter rule serves")
    k.check(rule["resources"]["overrides"] == {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}} and
            "<<.LabelMatchers>>" in rule["metricsQuery"] and "<<.GroupBy>>" in rule["metricsQuery"],
            "production: the adapter rule maps the namespace and pod labels kubernetes_sd adds")
    so = k.find(keda, "ScaledObject", "cam-os")
    trig = ((so or {}).get("spec", {}).get("triggers") or [{}])[0]
    names = set(re.findall(r"cam_os_[a-z_]+", rule["metricsQuery"]))
    k.check(so and so["spec"]["scaleTargetRef"]["name"] == "cam-os" and trig.get("type") == "prometheus" and
            set(re.findall(r"cam_os_[a-z_]+", trig["metadata"]["query"])) == names and
            trig["metadata"]["serverAddress"] == "http://prometheus.cam-os.svc:9090" and
            not by_kind(keda, "HorizontalPodAutoscaler"),
            "production-keda: a KEDA ScaledObject on the same metrics instead of the HPA (none left)")
    k.check([d["metadata"]["name"] for d in prod if d["kind"] == "Deployment"] ==
            [d["metadata"]["name"] for d in keda if d["kind"] == "Deployment"],
            "production-keda: otherwise the production overlay")


def main():
    root, prod_path, keda_path, khelp, xhelp = sys.argv[1:6]
    prod, keda = k.load(prod_path), k.load(keda_path)
    kernel_help, exporter_help = open(khelp).read(), open(xhelp).read()
    try:
        check_production(root, prod, kernel_help, exporter_help, "production")
        check_common(keda, "production-keda")
        check_autoscaling(root, prod, keda)
    except (KeyError, TypeError, IndexError, AttributeError, ValueError) as e:
        k.check(False, "manifests have the expected shape", f"{type(e).__name__}: {e}")
    print(f"check_k8s_fleet: {k.passed} checks passed, {k.failed} failed")
    return 1 if k.failed else 0


if __name__ == "__main__":
    sys.exit(main())
