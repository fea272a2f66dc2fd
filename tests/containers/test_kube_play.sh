#!/usr/bin/env bash
# The Kubernetes pod under a real engine: `podman kube play` runs
# k8s/cam-os.yaml, then the dev overlay as `kubectl kustomize` renders it,
# on the image tests/containers/lib.sh builds (cam-os:0.1.0). The only
# change made to the manifests (tests/containers/kube_ports.py) is a
# hostPort on 127.0.0.1 for the gRPC and metrics ports: podman publishes
# nothing else, having no Services.
#
# Checked: both containers run, as the manifest says (uid 10001, read-only
# root), sharing the bus socket through the emptyDir; the probes the
# manifest declares pass when run against the pod (grpc.health.v1 on
# :50051, /healthz and /readyz on :8080), and podman makes a healthcheck of
# the exporter's livenessProbe (it runs curl in the container, which the
# image lacks, so the test runs the probe itself); the seed's grpcurl commands answer
# through the published port; /metrics is served by the sidecar; a kernel
# that hangs is reported (cam_os_kernel_up 0, /readyz 503), and once killed
# podman restarts it (restartPolicy Always) and the exporter reports
# cam_os_kernel_up 1 for the new instance.
#
# What kube play does not model, and so stays checked offline
# (tests/integration/test_deploy_k8s.sh): Services (ClusterIP, the headless
# one), HPA, PDB, ServiceMonitor, the Namespace and ServiceAccount, the
# readiness and startup probes (podman 4.3 runs only livenessProbe, and
# not grpc ones), resource requests, and fsGroup.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/lib.sh"
podman_setup
KUBECTL=${KUBECTL:-kubectl}

check "debian:12 and debian:12-slim made with debootstrap + podman import (or kept from a run before)" base_images
check "podman build of the Dockerfile as written (cam-os:0.1.0)" build_image

grpcurl() { /usr/bin/python3 "$ROOT/tests/integration/grpcurl.py" -plaintext "$@"; }
out() { grep -q -- "$2" <<<"$1" || { echo "    got: $1"; return 1; }; }
seen() { grep -qF -- "$2" <<<"$(scrape "$1")"; }
http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$1$2"; }
http_is() { [ "$(http_code "$1" "$2")" = "$3" ]; }
grpc_probe() { out "$(grpcurl -d '{}' "127.0.0.1:$1" grpc.health.v1.Health/Check 2>&1)" '"status": "SERVING"'; }
ctr_pid() { podman inspect -f '{{.State.Pid}}' "$1"; }
restarts() { podman inspect -f '{{.RestartCount}}' "$1"; }

# play NAME MANIFEST: the whole pod through the published ports.
play() {
  local name=$1 manifest=$2 G X pod kern expo
  G=$(free_port); X=$(free_port)
  pod=$TAG-$name-pod-0; kern=$pod-kernel; expo=$pod-exporter
  /usr/bin/python3 "$ROOT/tests/containers/kube_ports.py" "$manifest" "$TMP/$name.yaml" \
    "$TAG-$name" grpc="$G" metrics="$X" || { not_ok "$name: ports published"; return; }
  check "$name: podman kube play" bash -c "podman kube play '$TMP/$name.yaml' >'$TMP/$name.play.log' 2>&1 || { cat '$TMP/$name.play.log'; exit 1; }"
  running() { [ "$(podman inspect -f '{{.State.Status}}' "$1" 2>/dev/null)" = running ]; }
  check "$name: both containers run" wait_for 30 bash -c "[ \"\$(podman inspect -f '{{.State.Status}}' $kern $expo | sort -u)\" = running ]"
  check "$name: the pod is ready: /readyz 200 (the exporter holds a fresh kernel snapshot)" wait_for 60 http_is "$X" /readyz 200
  check "$name: the kernel's gRPC probe (grpc.health.v1.Health/Check) SERVING" wait_for 20 grpc_probe "$G"
  check "$name: the exporter's HTTP probes: /healthz 200" http_is "$X" /healthz 200
  check "$name: both run as 10001 on a read-only root" bash -c \
    "for c in $kern $expo; do [ \"\$(podman exec \$c id -u)\" = 10001 ] && ! podman exec \$c sh -c 'echo x >/usr/local/x' 2>/dev/null || exit 1; done"
  check "$name: they share the bus socket through the emptyDir" bash -c \
    "podman exec $expo test -S /var/run/cam-os/bus.ipc && podman exec $kern test -S /var/run/cam-os/bus.ipc"
  check "$name: the exporter has the pod's name for the OTLP resource (CAM_K8S_POD_NAME, downward API)" \
    bash -c "[ -n \"\$(podman exec $expo printenv CAM_K8S_POD_NAME)\" ]"
  [ "$name" = manifest ] || { podman pod rm -f "$pod" >/dev/null 2>&1; return; }

  local r
  r=$(grpcurl "127.0.0.1:$G" list 2>&1)
  check "grpcurl list through the published port names cam.SyscallService" out "$r" '^cam.SyscallService$'
  r=$(grpcurl -d '{"caller_id": "health-check"}' "127.0.0.1:$G" cam.SyscallService/HealthCheck 2>&1)
  check "seed basic HealthCheck: SERVING" out "$r" '"status": "SERVING"'
  r=$(grpcurl -d '{"caller_id": "health-check", "detailed": true}' "127.0.0.1:$G" cam.SyscallService/HealthCheck 2>&1)
  check "seed detailed HealthCheck names the components" out "$r" '"name": "Driver Runtime"'
  r=$(grpcurl -d '{
  "verb": "emit_metric",
  "payload": "metric_name:custom_counter,value:1,labels:app=myapp,env=prod"
}' "127.0.0.1:$G" cam.SyscallService/Execute 2>&1)
  check "seed emit_metric succeeds" out "$r" '"success": true'
  r=$(grpcurl -d '{
  "verb": "emit_trace",
  "payload": "trace_id:abc123,span_id:def456,operation:syscall_execution"
}' "127.0.0.1:$G" cam.SyscallService/Execute 2>&1)
  check "seed emit_trace succeeds" out "$r" '"success": true'
  check '/metrics served by the sidecar: custom_counter{app="myapp",env="prod"} 1' \
    wait_for 10 seen "$X" 'custom_counter{app="myapp",env="prod"} 1'
  # podman 4.3 turns an httpGet livenessProbe into a healthcheck command
  # run inside the container (curl), and schedules it with systemd timers:
  # the image has no curl and this machine no systemd, so the probe itself
  # is run above, from outside, as the kubelet would.
  local hc
  hc=$(podman inspect -f '{{.Config.Healthcheck.Test}}' "$expo" 2>/dev/null)
  check "podman made a healthcheck of the exporter's livenessProbe" out "$hc" 'healthz'
  echo "  note: podman's healthcheck command: $hc (not run: the image has no curl, the machine no systemd)"

  # A hung kernel: the exporter stops serving its frozen numbers.
  local pid1 n0
  pid1=$(ctr_pid "$kern"); n0=$(restarts "$kern")
  # Never signal 0 or 1 (this test's process group, or init).
  [[ "$pid1" =~ ^[0-9]+$ ]] && [ "$pid1" -gt 1 ] ||
    { not_ok "the kernel container's process ($pid1)"; podman pod rm -f "$pod" >/dev/null 2>&1; return; }
  kill -STOP "$pid1"
  check "a hung kernel: the exporter reports cam_os_kernel_up 0" wait_for 15 seen "$X" 'cam_os_kernel_up 0'
  check "and /readyz 503, so the pod leaves the Service" http_is "$X" /readyz 503
  # Killed: podman restarts it (restartPolicy Always), a new instance.
  kill -KILL "$pid1"
  check "the killed kernel container is restarted" wait_for 30 bash -c \
    "[ \"\$(podman inspect -f '{{.RestartCount}}' $kern)\" -gt $n0 ] && [ \"\$(podman inspect -f '{{.State.Status}}' $kern)\" = running ]"
  check "the exporter reports cam_os_kernel_up 1 again" wait_for 30 seen "$X" 'cam_os_kernel_up 1'
  check "/readyz 200 again" wait_for 10 http_is "$X" /readyz 200
  check "the exporter saw a new kernel instance" wait_for 10 bash -c \
    "podman logs $expo 2>&1 | grep -q 'kernel restarted (new instance)'"
  check "the gRPC probe passes on the restarted kernel" wait_for 20 grpc_probe "$G"
  podman pod rm -f "$pod" >/dev/null 2>&1
}

play manifest "$ROOT/k8s/cam-os.yaml"
if "$KUBECTL" kustomize "$ROOT/k8s/overlays/dev" >"$TMP/dev-rendered.yaml" 2>"$TMP/kustomize.err"; then
  ok "kubectl kustomize k8s/overlays/dev renders"
  play dev "$TMP/dev-rendered.yaml"
else
  not_ok "kubectl kustomize k8s/overlays/dev renders"; cat "$TMP/kustomize.err"
fi
echo "  note: not modelled by kube play, checked offline by tests/integration/test_deploy_k8s.sh:" \
  "Services, HPA, PDB, ServiceMonitor, Namespace, ServiceAccount, readiness/startup probes, resources, fsGroup"
finish
