#!/usr/bin/env bash
# The production-cluster overlay (the kernels' store on a Redis Cluster)
# renders with `kubectl kustomize` and its objects hold together
# (check_k8s_cluster.py: Sentinel gone, CAM_REDIS_CLUSTER naming every
# Redis pod, the cluster bus port, the joining Job, every setting one
# cam-kernel --help lists). No Kubernetes runs here; test_memctx_cluster.sh
# runs the same kind of cluster for real on loopback.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/lib.sh"
KUBECTL=${KUBECTL:-kubectl}
command -v "$KUBECTL" >/dev/null || { not_ok "kubectl is installed (deps/debian.txt: kubernetes-client)"; finish; exit 1; }
render() {
  "$KUBECTL" kustomize "$ROOT/k8s/overlays/production-cluster" >"$TMP/cluster.yaml" 2>"$TMP/err" || { cat "$TMP/err"; return 1; }
  ! grep -vE "Warning: '(bases|patchesStrategicMerge)' is deprecated" "$TMP/err" | grep -q .
}
check "kubectl kustomize k8s/overlays/production-cluster renders" render
"$ROOT/$BUILD/cam-kernel" --help >"$TMP/kernel.help" 2>&1
check "check_k8s_cluster.py: Redis Cluster of 6, CAM_REDIS_CLUSTER, the Job, no Sentinel" \
  /usr/bin/python3 "$ROOT/tests/integration/check_k8s_cluster.py" "$TMP/cluster.yaml" "$TMP/kernel.help"
finish
