#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Offline checks of the production-cluster overlay (the kernels' store on
a Redis Cluster), as check_k8s_fleet.py does for the production overlays:
no Kubernetes here, so the objects are checked against each other and
against the programs.

usage: check_k8s_cluster.py CLUSTER.yaml KERNEL_HELP

CLUSTER.yaml is `kubectl kustomize k8s/overlays/production-cluster`,
KERNEL_HELP `cam-kernel --help`. Prints one "ok"/"FAIL" line per check and
a count; exits 1 if any failed.
"""
import os
import re
import shlex
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_k8s as k  # noqa: E402
import check_k8s_fleet as fleet  # noqa: E402

k.KNOWN_KINDS |= {("batch/v1", "Job")}


def sh_ok(body):
    try:
        shlex.split(body, comments=True)
    except ValueError:
        return False
    return body.startswith("#!/bin/sh") and "set -eu" in body


def check(docs, kernel_help):
    label = "production-cluster"
    fleet.check_common(docs, label)
    dep = k.find(docs, "Deployment", "cam-os")
    ke = k.env(k.containers(dep)["kernel"])
    rc = k.find(docs, "StatefulSet", "redis-cluster")
    svc = k.find(docs, "Service", rc["spec"]["serviceName"]) if rc else None
    port = k.port_of(k.containers(rc)["redis"], "redis") if rc else None
    bus = k.port_of(k.containers(rc)["redis"], "bus") if rc else None

    k.check(not any(d["kind"] == "StatefulSet" and d["metadata"]["name"] in ("redis", "redis-sentinel")
                    for d in docs) and "CAM_REDIS_SENTINELS" not in ke and "CAM_REDIS_MASTER_NAME" not in ke,
            f"{label}: nothing of Sentinel left (StatefulSets, CAM_REDIS_SENTINELS, CAM_REDIS_MASTER_NAME)")
    want = {f"redis-cluster-{i}.{rc['spec']['serviceName']}:{port}" for i in range(rc["spec"]["replicas"])} \
        if rc else set()
    got = set((ke.get("CAM_REDIS_CLUSTER") or "").split(","))
    k.check(rc and rc["spec"]["replicas"] == 6 and got == want,
            f"{label}: a StatefulSet of 6; CAM_REDIS_CLUSTER names every pod on the Redis port")
    k.check(svc and svc["spec"].get("clusterIP") == "None" and port == 6379 and bus == port + 10000 and
            {p.get("targetPort") for p in svc["spec"].get("ports", [])} == {"redis", "bus"},
            f"{label}: headless Service {rc and rc['spec']['serviceName']} with the Redis and cluster bus ports (+10000)")
    given = {n for n in ke if n.startswith("CAM_")}
    unknown = sorted(given - fleet.settings(kernel_help))
    k.check(not unknown and "CAM_REDIS_CLUSTER" in given,
            f"{label}: every CAM_* setting given is one cam-kernel --help lists", str(unknown))
    scripts = (k.find(docs, "ConfigMap", "redis-cluster-scripts") or {}).get("data", {})
    conf = scripts.get("redis-config.sh", "")
    k.check(sh_ok(conf) and all(s in conf for s in ("cluster-enabled yes", "cluster-config-file /data/",
                                                       "appendonly yes", "requirepass $REDIS_PASSWORD",
                                                       "masterauth $REDIS_PASSWORD")),
            f"{label}: every node cluster-enabled, nodes.conf and AOF on its claim, the password from the Secret")
    create = scripts.get("create-cluster.sh", "")
    loop = re.search(r"for i in ([0-9 ]+); do", create)
    k.check(sh_ok(create) and "--cluster-replicas 1" in create and loop and rc and
            [int(x) for x in loop.group(1).split()] == list(range(rc["spec"]["replicas"])) and
            "cluster_known_nodes" in create,
            f"{label}: the Job joins every pod once, a replica per master, and does nothing when joined")
    job = k.find(docs, "Job", "redis-cluster-create")
    jc = ((job or {}).get("spec", {}).get("template", {}).get("spec", {}).get("containers") or [{}])[0]
    jsc = jc.get("securityContext") or {}
    k.check(job and jc.get("command", [""])[-1] == "/scripts/create-cluster.sh" and
            job["spec"]["template"]["spec"].get("restartPolicy") in ("OnFailure", "Never") and
            jsc.get("readOnlyRootFilesystem") and jsc.get("allowPrivilegeEscalation") is False and
            (jc.get("resources") or {}).get("limits"),
            f"{label}: Job redis-cluster-create runs the script, non-root, read-only, with limits")
    acks = int(ke.get("CAM_REDIS_MIN_REPLICAS_ACK", "0"))
    k.check(acks == 1, f"{label}: CAM_REDIS_MIN_REPLICAS_ACK=1: a write is acknowledged once on the master's replica")
    url = ke.get("CAM_REDIS_URL", "")
    pw = {e["name"]: e for e in k.containers(dep)["kernel"].get("env", [])}.get("REDIS_PASSWORD", {})
    k.check(url.startswith("redis://:$(REDIS_PASSWORD)@") and url.endswith("/0") and
            (pw.get("valueFrom") or {}).get("secretKeyRef", {}).get("name") == "cam-os-redis",
            f"{label}: the password from Secret cam-os-redis (in the URL, database 0), never a literal")
    pdb = k.find(docs, "PodDisruptionBudget", "redis-cluster")
    k.check(pdb and pdb["spec"].get("maxUnavailable") == 1 and
            fleet.selects(pdb["spec"]["selector"]["matchLabels"], fleet.pod_labels(rc)),
            f"{label}: one Redis node disrupted at a time (PodDisruptionBudget redis-cluster)")


def main():
    docs = k.load(sys.argv[1])
    kernel_help = open(sys.argv[2]).read()
    try:
        check(docs, kernel_help)
    except (KeyError, TypeError, IndexError, AttributeError, ValueError) as e:
        k.check(False, "manifests have the expected shape", f"{type(e).__name__}: {e}")
    print(f"check_k8s_cluster: {k.passed} checks passed, {k.failed} failed")
    return 1 if k.failed else 0


if __name__ == "__main__":
    sys.exit(main())
