#!/usr/bin/env bash
# The image under a real container engine (podman with runc): the base
# images made with debootstrap, the Dockerfile built as written, then the
# image run as docker-compose.test.yml and k8s/cam-os.yaml run it (read-only
# root, uid 10001, every capability dropped, no-new-privileges, tmpfs /tmp)
# as two containers of one pod sharing the bus volume. Checked through the
# published ports: the seed's grpcurl commands (tests/integration/grpcurl.py,
# which learns everything by reflection), /metrics and /readyz; then each
# container killed and started again: nothing lost, each finds the other.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/lib.sh"
podman_setup

check "debian:12 and debian:12-slim made with debootstrap + podman import (or kept from a run before)" base_images
t0=$SECONDS
check "podman build of the Dockerfile as written" build_image
echo "  note: podman build took $((SECONDS - t0)) s"

G=$(free_port); X=$(free_port)
grpcurl() { /usr/bin/python3 "$ROOT/tests/integration/grpcurl.py" -plaintext "$@"; }
podman volume create "$TAG-bus" >/dev/null
podman volume create "$TAG-data" >/dev/null
podman pod create --name "$TAG-pod" -p "127.0.0.1:$G:50051" -p "127.0.0.1:$X:8080" >/dev/null
run_kernel() {
  podman run -d --pod "$TAG-pod" --name "$TAG-kernel" "${HARDENED[@]}" \
    -v "$TAG-bus:/var/run/cam-os" -v "$TAG-data:/var/lib/cam-os" \
    -e CAM_GRPC_LISTEN=0.0.0.0:50051 -e CAM_ALLOW_ANONYMOUS=true \
    "$IMAGE" /usr/local/bin/cam-kernel >/dev/null
}
run_exporter() {
  podman run -d --pod "$TAG-pod" --name "$TAG-exporter" "${HARDENED[@]}" \
    -v "$TAG-bus:/var/run/cam-os" "$IMAGE" /usr/local/bin/cam-exporter >/dev/null
}
# The exporter first: either may start first.
check "exporter container starts before the kernel" run_exporter
check "kernel container starts" run_kernel
ready() { curl -fsS --max-time 2 "http://127.0.0.1:$X/readyz" >/dev/null; }
check "/readyz 200 through the published port: each found the other" wait_for 30 ready

inspect_is() { [ "$(podman inspect -f "$2" "$1")" = "$3" ] || { podman inspect -f "$2" "$1"; return 1; }; }
for c in kernel exporter; do
  check "$c runs as 10001, read-only root, no capabilities, no-new-privileges" \
    bash -c "[ \"\$(podman exec $TAG-$c cat /proc/1/status | awk '/^Uid:/ {print \$2} /^CapEff:|^CapBnd:/ {print \$2} /^NoNewPrivs:/ {print \$2}' | tr '\n' ' ')\" = '10001 0000000000000000 0000000000000000 1 ' ] &&
             ! podman exec $TAG-$c sh -c 'echo x >/usr/local/x' 2>/dev/null &&
             podman exec $TAG-$c sh -c 'echo x >/tmp/x'"
done
check "kernel and exporter share the bus socket in the volume" \
  bash -c "podman exec $TAG-exporter test -S /var/run/cam-os/bus.ipc"

# The seed's commands, as written but for the port.
out() { grep -q -- "$2" <<<"$1" || { echo "    got: $1"; return 1; }; }
r=$(grpcurl "127.0.0.1:$G" list 2>&1)
check "grpcurl list: cam.SyscallService, health, reflection" out "$r" 'grpc.reflection.v1alpha.ServerReflection'
check "grpcurl list names cam.SyscallService" out "$r" '^cam.SyscallService$'
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
# A here-string, not a pipe into grep -q: with pipefail, curl cut off by
# grep's early exit would fail the check.
seen() { grep -qF -- "$1" <<<"$(scrape "$X")"; }
check '/metrics shows custom_counter{app="myapp",env="prod"} 1' wait_for 10 seen 'custom_counter{app="myapp",env="prod"} 1'
check "/metrics shows cam_os_kernel_up 1" wait_for 10 seen 'cam_os_kernel_up 1'

# Exporter killed: the kernel does not notice; pings made meanwhile are all
# there once it is back (snapshots are cumulative).
ping_n() {
  local i
  for ((i = 0; i < $1; i++)); do
    grpcurl -d '{"verb": "ping", "payload": "msg:hi"}' "127.0.0.1:$G" cam.SyscallService/Execute >/dev/null || return 1
  done
}
ping_n 3
check "cam_os_syscall_total{verb=\"ping\"} 3" wait_for 10 seen 'cam_os_syscall_total{verb="ping"} 3'
podman kill "$TAG-exporter" >/dev/null
check "kernel answers while the exporter is down" ping_n 4
check "exporter container starts again" bash -c "podman start $TAG-exporter >/dev/null"
check "after the exporter's restart: ping total 7, nothing lost" wait_for 30 seen 'cam_os_syscall_total{verb="ping"} 7'
# Kernel killed: the exporter stays up, says so, and finds the new kernel;
# the kernel's memory, in the data volume, is still there.
grpcurl -d '{"verb": "context_write", "payload": "namespace:agent-1,key:goal,value:find food"}' \
  "127.0.0.1:$G" cam.SyscallService/Execute >/dev/null 2>&1
check "the data directory is the volume: data.mdb in /var/lib/cam-os/store, mode 0700" \
  bash -c "podman exec $TAG-kernel test -s /var/lib/cam-os/store/data.mdb &&
           [ \"\$(podman exec $TAG-kernel stat -c %a /var/lib/cam-os)\" = 700 ]"
before=$(podman inspect -f '{{.State.Pid}}' "$TAG-exporter")
podman kill "$TAG-kernel" >/dev/null
notready() { ! curl -fsS --max-time 2 "http://127.0.0.1:$X/readyz" >/dev/null; }
check "kernel killed: /readyz fails and cam_os_kernel_up 0" \
  bash -c "$(declare -f notready seen scrape wait_for); X=$X; wait_for 30 notready && wait_for 10 seen 'cam_os_kernel_up 0'"
check "kernel container starts again" bash -c "podman start $TAG-kernel >/dev/null"
check "the exporter finds the new kernel: /readyz 200, cam_os_kernel_up 1" \
  bash -c "$(declare -f ready seen scrape wait_for); X=$X; wait_for 30 ready && wait_for 10 seen 'cam_os_kernel_up 1'"
check "the exporter itself never restarted" inspect_is "$TAG-exporter" '{{.State.Pid}}' "$before"
r=$(grpcurl -d '{"verb": "context_read", "payload": "namespace:agent-1,key:goal"}' \
  "127.0.0.1:$G" cam.SyscallService/Execute 2>&1)
check "memory written before the kill is read back after it (the data volume)" out "$r" 'value:find food'
check "both containers exit 0 on podman stop (SIGTERM)" \
  bash -c "podman stop -t 10 $TAG-kernel $TAG-exporter >/dev/null &&
           [ \"\$(podman inspect -f '{{.State.ExitCode}}' $TAG-kernel $TAG-exporter | tr '\n' ' ')\" = '0 0 ' ]"
finish
