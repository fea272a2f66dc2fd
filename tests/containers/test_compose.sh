#!/usr/bin/env bash
# The compose quick start, up for real: `docker-compose -f
# docker-compose.test.yml up -d` as the seed writes it, by Debian's
# docker-compose against podman's Docker-compatible API (`podman system
# service`), with tests/containers/docker-compose.debian.yml on top (the
# upstream Prometheus and Alertmanager images cannot be pulled here, so
# they are built from Debian's packages; Grafana is left out).
#
# The stack publishes the fixed ports 50051, 8080, 9090 and 9093, so it is
# brought up in a network namespace of this test's own (unshare --net):
# nothing on the machine's ports is touched. The images are built first,
# outside it (their builds fetch Debian packages).
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
if [ "${1:-}" != --in-netns ]; then
  source "$(dirname "$0")/../integration/lib.sh"
  source "$(dirname "$0")/lib.sh"
  podman_setup
  check "debian:12 and debian:12-slim made with debootstrap + podman import (or kept from a run before)" base_images
  check "podman build of the Dockerfile as written (cam-os:0.1.0)" build_image
  check "Prometheus and Alertmanager images built from Debian's packages" build_monitoring_images
  echo "  note: Grafana is left out: its image cannot be pulled here and Debian has no package of it"
  sub_suite unshare --net "$0" --in-netns
  finish
  exit
fi

source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/lib.sh"
podman_setup
ip link set lo up
start podman-service podman system service --time=0 "unix://$TMP/podman.sock"
export DOCKER_HOST=unix://$TMP/podman.sock
wait_for 20 test -S "$TMP/podman.sock"
cd "$ROOT"
COMPOSE=(docker-compose -p "$TAG" -f docker-compose.test.yml -f tests/containers/docker-compose.debian.yml)
up() { timeout 300 "${COMPOSE[@]}" up -d >"$TMP/up.log" 2>&1 || { tail -20 "$TMP/up.log"; return 1; }; }
check "docker-compose -f docker-compose.test.yml -f tests/containers/docker-compose.debian.yml up -d" up
running() {
  [ "$(podman ps --filter "name=^${TAG}_" --format '{{.Names}}' | sed "s/^${TAG}_//; s/_1\$//" | sort | tr '\n' ' ')" = \
    "alertmanager exporter kernel prometheus " ] || { podman ps -a --filter "name=^${TAG}_"; return 1; }
}
check "kernel, exporter, Prometheus and Alertmanager running (Grafana not started)" running
same_netns() {
  local k
  k=$(podman inspect -f '{{.Id}}' "${TAG}_kernel_1")
  for s in exporter prometheus alertmanager; do
    [ "$(podman inspect -f '{{.HostConfig.NetworkMode}}' "${TAG}_${s}_1")" = "container:$k" ] || return 1
  done
}
check "exporter, Prometheus and Alertmanager share the kernel's network namespace" same_netns

ready() { curl -fsS --max-time 2 http://127.0.0.1:8080/readyz >/dev/null; }
check "the seed's port 8080: /readyz 200 (the exporter found the kernel through the volume)" wait_for 60 ready
r=$(/usr/bin/python3 "$ROOT/tests/integration/grpcurl.py" -plaintext -d '{"caller_id": "health-check"}' \
  localhost:50051 cam.SyscallService/HealthCheck 2>&1)
check "the seed's HealthCheck on localhost:50051: SERVING" grep -q '"status": "SERVING"' <<<"$r"

prom() { curl -fsS --max-time 5 "http://127.0.0.1:9090/api/v1/$1"; }
target_up() {
  prom targets | /usr/bin/python3 -c '
import json, sys
t = json.load(sys.stdin)["data"]["activeTargets"]
sys.exit(0 if any(x["labels"]["instance"] == "localhost:8080" and x["health"] == "up" for x in t) else 1)'
}
check "Prometheus (:9090) scrapes the exporter: target localhost:8080 up" wait_for 60 target_up
kernel_up() {
  prom 'query?query=cam_os_kernel_up' | /usr/bin/python3 -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
sys.exit(0 if r and r[0]["value"][1] == "1" else 1)'
}
check "cam_os_kernel_up 1 through Prometheus' query API" wait_for 30 kernel_up
rules() {
  prom rules | /usr/bin/python3 -c '
import json, sys
g = json.load(sys.stdin)["data"]["groups"]
names = {r["name"] for x in g for r in x["rules"]}
sys.exit(0 if "CamOSDown" in names else 1)'
}
check "Prometheus loaded monitoring/prometheus/rules/alerts.yml" rules
am_known() { grep -qF '"url":"http://localhost:9093/api/v2/alerts"' <<<"$(prom alertmanagers)"; }
check "Prometheus knows Alertmanager localhost:9093" wait_for 30 am_known
am() { curl -fsS --max-time 2 http://127.0.0.1:9093/-/ready >/dev/null && grep -qF '"config"' <<<"$(curl -fsS --max-time 2 http://127.0.0.1:9093/api/v2/status)"; }
check "Alertmanager (:9093) reachable and running monitoring/alertmanager/alertmanager.yml" wait_for 30 am

# podman's compat API removes the kernel (whose namespace the others use)
# first and refuses; a second `down` finishes the job.
down() {
  timeout 120 "${COMPOSE[@]}" down -v >"$TMP/down.log" 2>&1 || timeout 120 "${COMPOSE[@]}" down -v >>"$TMP/down.log" 2>&1
  [ -z "$(podman ps -aq --filter "name=^${TAG}_")" ] || { cat "$TMP/down.log"; return 1; }
}
check "docker-compose down -v removes the stack" down
finish
