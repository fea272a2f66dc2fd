#!/usr/bin/env bash
# The Kubernetes manifests, offline (no cluster here): every kustomization
# renders with `kubectl kustomize`, the seed's deployment/kubernetes/ paths
# give the same objects as k8s/ (with -k, and with -f as the seed writes it),
# and check_k8s.py checks the rendered objects strictly.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/lib.sh"

KUBECTL=${KUBECTL:-kubectl}
if ! command -v "$KUBECTL" >/dev/null; then
  not_ok "kubectl not found (make deps installs Debian's kubernetes-client)"
  finish; exit
fi
cd "$ROOT"

# render FOLDER OUT: kubectl kustomize, with no message on stderr but
# newer kubectl's notes that `bases:` and `patchesStrategicMerge:` are
# deprecated (see k8s/monitoring/Kustomization).
render() {
  "$KUBECTL" kustomize "$1" >"$2" 2>"$2.err" || { cat "$2.err"; return 1; }
  ! grep -vE "Warning: '(bases|patchesStrategicMerge)' is deprecated" "$2.err" | grep -q . || { cat "$2.err"; return 1; }
  grep -q '^kind: ' "$2"
}
for d in k8s k8s/servicemonitor k8s/monitoring monitoring \
         deployment/kubernetes/operator deployment/kubernetes/monitoring \
         k8s/overlays/dev k8s/overlays/production k8s/overlays/production-keda; do
  check "kubectl kustomize $d renders" render "$d" "$TMP/$(echo "$d" | tr / _).yaml"
done
check "deployment/kubernetes/operator/ is k8s/ (same objects)" \
  cmp -s "$TMP/k8s.yaml" "$TMP/deployment_kubernetes_operator.yaml"
check "deployment/kubernetes/monitoring/ is k8s/monitoring/ (same objects)" \
  cmp -s "$TMP/k8s_monitoring.yaml" "$TMP/deployment_kubernetes_monitoring.yaml"

check "overlay dev is today's single pod (the objects of k8s/)" \
  cmp -s "$TMP/k8s.yaml" "$TMP/k8s_overlays_dev.yaml"
"$ROOT/$BUILD/cam-kernel" --help >"$TMP/kernel.help" 2>&1
"$ROOT/$BUILD/cam-exporter" --help >"$TMP/exporter.help" 2>&1
check "check_k8s_fleet.py: the production overlays (replicas, PDB, spread, tokens, drain, Sentinel, HPA, KEDA)" \
  /usr/bin/python3 "$ROOT/tests/integration/check_k8s_fleet.py" "$ROOT" \
    "$TMP/k8s_overlays_production.yaml" "$TMP/k8s_overlays_production-keda.yaml" \
    "$TMP/kernel.help" "$TMP/exporter.help"
check "check_k8s.py: rendered objects are valid and consistent" \
  /usr/bin/python3 "$ROOT/tests/integration/check_k8s.py" "$ROOT" \
    "$TMP/k8s.yaml" "$TMP/k8s_servicemonitor.yaml" "$TMP/k8s_monitoring.yaml"

# `kubectl apply -f DIR` reads DIR's *.yaml/*.yml/*.json files: list what it
# would send (label --local parses them as apply does, with no API server).
names() { "$KUBECTL" label --local -o name -f "$1" cam-os/test=1 2>&1 | sort; }
same_objects() {
  diff <(names "$1") <(names "$2") >"$TMP/names.diff" || { cat "$TMP/names.diff"; return 1; }
  [ -n "$(names "$1")" ]
}
check "kubectl apply -f k8s/ sends what -k does (Kustomization file skipped)" \
  same_objects k8s/ "$TMP/k8s.yaml"
check "seed step 1: kubectl apply -f deployment/kubernetes/operator/ sends the pod objects" \
  same_objects deployment/kubernetes/operator/ "$TMP/k8s.yaml"
check "make k8s-manifests renders deployment/kubernetes/monitoring/monitoring.yaml" \
  make -s k8s-manifests KUBECTL="$KUBECTL" 2>"$TMP/k8s-manifests.log"
check "seed step 2: kubectl apply -f deployment/kubernetes/monitoring/ sends the monitoring stack" \
  same_objects deployment/kubernetes/monitoring/ "$TMP/k8s_monitoring.yaml"

# The Kubernetes Prometheus config passes promtool with the real rules.
# Debian's Prometheus is built without Kubernetes discovery (its promtool
# does not know kubernetes_sd_configs), so that one block becomes a static
# target for promtool; check_k8s.py checks the block itself.
promcheck() {
  mkdir -p "$TMP/prom/rules" && cp monitoring/prometheus/rules/alerts.yml "$TMP/prom/rules/" &&
  /usr/bin/python3 - k8s/monitoring/prometheus.yml "$TMP/prom/prometheus.yml" "$TMP/prom/rules/" <<'PY' &&
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
c["rule_files"] = [sys.argv[3] + "*.yml"]
for j in c["scrape_configs"]:
    if j.pop("kubernetes_sd_configs", None) is not None:
        j["static_configs"] = [{"targets": ["cam-os-pod:8080"]}]
yaml.safe_dump(c, open(sys.argv[2], "w"))
PY
  promtool check config "$TMP/prom/prometheus.yml" >"$TMP/promtool.log" 2>&1 || { cat "$TMP/promtool.log"; return 1; }
}
check "promtool check config k8s/monitoring/prometheus.yml (with the rules)" promcheck

finish
